//! A known password in every connection URL of a full run, on PostgreSQL and MariaDB, and a
//! token in a variable whose name says it is secret: neither appears in anything pipewright
//! prints or writes. The run has steps of every kind (migrate, sql, a transform between the
//! two servers, a validate step with a failing check, benches, a failing command, a connection
//! that cannot be opened) and fails; then every other command reads what it left. The password
//! is written URL-encoded (`%40` for `@`), and neither that form nor the decoded one may
//! appear. Every output looked at must also be non-empty, so that the test really looked.

use std::fmt::Write as _;
use std::path::Path;

use sqlx::{AssertSqlSafe, Connection as _};

use crate::common::{Outcome, Pipewright, header};
use crate::servers::{Engine, TestDatabase};
use crate::support::servers_shared;

/// The password, as the URLs write it (`%40` is `@`).
const PASSWORD_IN_URL: &str = "S3cr3t-p%40ss-7fq";
/// The password itself, as the servers know it.
const PASSWORD: &str = "S3cr3t-p@ss-7fq";
/// The password of the second version of the manifest, for `diff`, as written and decoded.
const NEW_PASSWORD_IN_URL: &str = "N3w-s3cr3t%21-9kd";
const NEW_PASSWORD: &str = "N3w-s3cr3t!-9kd";
/// The value of a variable whose name says it is secret.
const TOKEN: &str = "tok-9Qz-secret-v4l";
/// What must appear nowhere.
const SECRETS: [&str; 5] = [
    PASSWORD_IN_URL,
    PASSWORD,
    NEW_PASSWORD_IN_URL,
    NEW_PASSWORD,
    TOKEN,
];

/// A PostgreSQL role and a MariaDB user that log in with [`PASSWORD`], dropped at the end
/// (before the test databases, which hold what the role owns).
#[derive(Debug)]
struct Login {
    name: String,
    /// The PostgreSQL test database, as the administrator.
    postgres: String,
    /// The MariaDB test database, as the administrator.
    mysql: String,
}

impl Login {
    fn create(postgres: &TestDatabase, mysql: &TestDatabase) -> Self {
        let login = Self {
            name: format!("pw_secret_{}", std::process::id()),
            postgres: postgres.url.clone(),
            mysql: mysql.url.clone(),
        };
        // PostgreSQL trusts connections from 127.0.0.1 here, so the password is not checked
        // there; what matters is that it is in the URL. MariaDB checks it.
        postgres.execute(&format!(
            "CREATE ROLE {} LOGIN PASSWORD '{PASSWORD}'",
            login.name
        ));
        postgres.execute(&format!("GRANT ALL ON SCHEMA public TO {}", login.name));
        mysql.execute(&format!(
            "CREATE USER '{}'@'%' IDENTIFIED BY '{PASSWORD}'",
            login.name
        ));
        mysql.execute(&format!(
            "GRANT ALL ON `{}`.* TO '{}'@'%'",
            database_name(&mysql.url),
            login.name
        ));
        login
    }

    /// `url` with this login and `password` (as a URL writes it) instead of its own user.
    fn url(&self, url: &str, password: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let host = rest.split_once('@').map_or(rest, |(_, host)| host);
        format!("{scheme}://{}:{password}@{host}", self.name)
    }
}

impl Drop for Login {
    fn drop(&mut self) {
        // Never panic here: the test may be failing already.
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async {
            if let Ok(mut connection) = sqlx::PgConnection::connect(&self.postgres).await {
                for statement in [
                    format!("DROP OWNED BY {}", self.name),
                    format!("DROP ROLE IF EXISTS {}", self.name),
                ] {
                    let _ = sqlx::raw_sql(AssertSqlSafe(statement))
                        .execute(&mut connection)
                        .await;
                }
                let _ = connection.close().await;
            }
            if let Ok(mut connection) = sqlx::MySqlConnection::connect(&self.mysql).await {
                let _ = sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP USER IF EXISTS '{}'@'%'",
                    self.name
                )))
                .execute(&mut connection)
                .await;
                let _ = connection.close().await;
            }
        });
    }
}

/// The database a server URL names.
fn database_name(url: &str) -> &str {
    let path = url.rsplit('/').next().unwrap_or_default();
    path.split('?').next().unwrap_or_default()
}

/// Everything the test read, by where it came from.
#[derive(Debug, Default)]
struct Outputs(Vec<(String, String)>);

impl Outputs {
    /// Keeps `text`, which must not be empty: an empty output proves nothing.
    fn add(&mut self, what: &str, text: &str) {
        assert!(
            !text.trim().is_empty(),
            "{what} is empty: the test looked at nothing"
        );
        self.0.push((what.to_owned(), text.to_owned()));
    }

    /// Keeps `text`, which may be empty (a table nothing was written to).
    fn add_maybe_empty(&mut self, what: &str, text: &str) {
        self.0.push((what.to_owned(), text.to_owned()));
    }

    /// Keeps both streams of a command, of which at least one printed something.
    fn command(&mut self, what: &str, outcome: &Outcome) {
        assert!(
            !(outcome.stdout.trim().is_empty() && outcome.stderr.trim().is_empty()),
            "{what} printed nothing (exit code {})",
            outcome.code
        );
        self.add_maybe_empty(&format!("{what}: stdout"), &outcome.stdout);
        self.add_maybe_empty(&format!("{what}: stderr"), &outcome.stderr);
    }

    /// Keeps the file at `path`, which must exist and not be empty.
    fn file(&mut self, what: &str, path: &Path) {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|error| panic!("cannot read {what} at {}: {error}", path.display()));
        self.add(what, &text);
    }

    /// Asserts that no secret appears in anything kept.
    fn assert_free_of_secrets(&self) {
        for (what, text) in &self.0 {
            for secret in SECRETS {
                if let Some(at) = text.find(secret) {
                    let start = text.floor_char_boundary(at.saturating_sub(300));
                    let end = text.ceil_char_boundary((at + secret.len() + 300).min(text.len()));
                    panic!(
                        "`{secret}` appears in the {what}:\n...{}...",
                        &text[start..end]
                    );
                }
            }
        }
    }
}

/// The text of every column of every row of every table of `database`, by table.
fn dump(database: &TestDatabase) -> Vec<(String, String)> {
    let (tables, text) = match database.engine {
        Engine::Postgres => (
            "SELECT CAST(tablename AS TEXT) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            "TEXT",
        ),
        Engine::MySql => (
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1",
            "CHAR",
        ),
        Engine::Sqlite => (
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1",
            "TEXT",
        ),
    };
    let quote = |name: &str| match database.engine {
        Engine::MySql => format!("`{}`", name.replace('`', "``")),
        Engine::Postgres | Engine::Sqlite => format!("\"{}\"", name.replace('"', "\"\"")),
    };
    let mut dumped = Vec::new();
    for table in database.strings(tables).into_iter().flatten() {
        let literal = table.replace('\'', "''");
        let columns = database.strings(&match database.engine {
            Engine::Postgres => format!(
                "SELECT CAST(column_name AS TEXT) FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{literal}' ORDER BY ordinal_position"
            ),
            Engine::MySql => format!(
                "SELECT CAST(column_name AS CHAR) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = '{literal}' ORDER BY ordinal_position"
            ),
            Engine::Sqlite => format!("SELECT name FROM pragma_table_info('{literal}')"),
        });
        let mut values = Vec::new();
        for column in columns.into_iter().flatten() {
            values.extend(
                database
                    .strings(&format!(
                        "SELECT CAST({} AS {text}) FROM {}",
                        quote(&column),
                        quote(&table)
                    ))
                    .into_iter()
                    .flatten(),
            );
        }
        dumped.push((table, values.join("\n")));
    }
    dumped
}

/// The pipeline of the full run: every URL holds the password.
fn manifest(warehouse: &str, legacy: &str, dead: &str) -> String {
    format!(
        r#"{header}
[connections.warehouse]
url = "{warehouse}"

[connections.legacy]
url = "{legacy}"

[connections.dead]
url = "{dead}"
connect_timeout = "1s"

[monitoring]
connection = "warehouse"

[logging]
file_level = "trace"
json_level = "trace"
database_level = "debug"

[steps.schema]
kind = "migrate"
connection = "legacy"
dir = "migrations"

[steps.seed]
kind = "sql"
connection = "legacy"
after = ["schema"]
sql = "INSERT INTO bars VALUES (1, '600519', 'open'), (2, '000001', 'weird')"

[steps.copy]
kind = "transform"
after = ["seed"]
from = {{ connection = "legacy", table = "bars" }}
to = {{ connection = "warehouse", mode = "replace" }}

[steps.check]
kind = "validate"
after = ["copy"]
connection = "warehouse"
table = "bars"
checks = [
  {{ kind = "accepted_values", column = "status", values = ["open", "closed"] }},
  {{ kind = "row_count", same_as = {{ connection = "legacy", table = "bars" }} }},
]

[steps.broken]
kind = "sql"
connection = "warehouse"
after = ["copy"]
sql = "SELECT '{PASSWORD_IN_URL}' AS quoted FROM no_such_table"

[steps.speed_legacy]
kind = "bench"
connection = "legacy"
workload = {{ kind = "connect", iterations = 2, warmup = 0 }}
baseline = "baseline.json"

[steps.speed_warehouse]
kind = "bench"
connection = "warehouse"
workload = {{ kind = "connect", iterations = 2, warmup = 0 }}
baseline = "baseline.json"

[steps.leak]
kind = "command"
shell = "echo \"token=$API_TOKEN\"; echo \"url=$LEGACY_URL\" >&2; exit 3"
env = {{ API_TOKEN = "${{PW_API_TOKEN}}", LEGACY_URL = "{legacy}" }}

[steps.unreachable]
kind = "sql"
connection = "dead"
sql = "SELECT 1"
"#,
        header = header("secrets", 2),
    )
}

/// The log files of a run: the daily file, the error file and the JSON lines.
fn log_files(directory: &Path, outputs: &mut Outputs) {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(directory.join(".pipewright/logs")).expect("a log directory") {
        let path = entry.expect("a log file").path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        outputs.file(&format!("log file {name}"), &path);
        names.push(name);
    }
    for (prefix, suffix) in [
        ("pipewright.", ".log"),
        ("errors.", ".log"),
        ("pipewright.", ".jsonl"),
    ] {
        assert!(
            names
                .iter()
                .any(|name| name.starts_with(prefix) && name.ends_with(suffix)),
            "no {prefix}*{suffix} among {names:?}"
        );
    }
}

#[test]
fn a_password_appears_in_no_output_of_a_full_run() {
    let _servers = servers_shared();
    let Some(warehouse) = TestDatabase::create(Engine::Postgres, "secrets_full") else {
        return;
    };
    let Some(legacy) = TestDatabase::create(Engine::MySql, "secrets_full") else {
        return;
    };
    // Declared after the databases: dropped before them.
    let login = Login::create(&warehouse, &legacy);
    let warehouse_url = login.url(&warehouse.url, PASSWORD_IN_URL);
    let legacy_url = login.url(&legacy.url, PASSWORD_IN_URL);
    let dead_url = login.url("postgres://x@127.0.0.1:1/none", PASSWORD_IN_URL);
    let pipeline = manifest(&warehouse_url, &legacy_url, &dead_url);
    // The second version: other passwords and another host.
    let changed = manifest(
        &login
            .url(&warehouse.url, NEW_PASSWORD_IN_URL)
            .replace("@127.0.0.1:", "@localhost:"),
        &login
            .url(&legacy.url, NEW_PASSWORD_IN_URL)
            .replace("@127.0.0.1:", "@localhost:"),
        &login.url("postgres://x@localhost:1/none", NEW_PASSWORD_IN_URL),
    );
    assert!(pipeline.contains(PASSWORD_IN_URL) && changed.contains(NEW_PASSWORD_IN_URL));
    let dead_store = format!(
        "{}\n[connections.store]\nurl = \"{dead_url}\"\nconnect_timeout = \"1s\"\n\n[connections.legacy]\nurl = \"{legacy_url}\"\n\n[monitoring]\nconnection = \"store\"\n\n[steps.broken]\nkind = \"sql\"\nconnection = \"legacy\"\nsql = \"SELECT * FROM no_such_table\"\n",
        header("secrets_spill", 1)
    );
    let pipewright = Pipewright::new()
        .manifest(&pipeline)
        .file("new.toml", &changed)
        .file("spill/pipeline.toml", &dead_store)
        .file(
            "migrations/0001_bars.sql",
            "CREATE TABLE bars (id BIGINT PRIMARY KEY, symbol VARCHAR(16) NOT NULL, status VARCHAR(10));\n",
        )
        .env("PW_API_TOKEN", TOKEN)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", "summary.md");
    let mut outputs = Outputs::default();

    let run = pipewright.run_with(&[
        "run",
        "pipeline.toml",
        "--keep-going",
        "-v",
        "--report",
        "report.json",
        "--junit",
        "junit.xml",
        "--html",
        "report.html",
        "--bench-markdown",
        "bench.md",
    ]);
    run.assert_code(1);
    outputs.add("run stdout", &run.stdout);
    outputs.add("run stderr", &run.stderr);
    assert!(
        run.stdout.contains("token=****") && run.stdout.contains("::error "),
        "the command's output and the annotations are on stdout, scrubbed:\n{}",
        run.stdout
    );
    assert!(
        run.stderr.contains(":****@127.0.0.1:1/none"),
        "the connection failure shows the URL redacted:\n{}",
        run.stderr
    );
    let report = run.report();
    let run_id = report["run_id"].as_str().expect("a run id").to_owned();
    let status = |id: &str| {
        report["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|step| step["id"] == id)
            .map(|step| step["status"].as_str().unwrap_or_default().to_owned())
    };
    for (id, expected) in [
        ("schema", "succeeded"),
        ("seed", "succeeded"),
        ("copy", "succeeded"),
        ("check", "failed"),
        ("broken", "failed"),
        ("speed_legacy", "succeeded"),
        ("speed_warehouse", "succeeded"),
        ("leak", "failed"),
        ("unreachable", "failed"),
    ] {
        assert_eq!(status(id).as_deref(), Some(expected), "step `{id}`");
    }
    let directory = run.directory.clone();
    for (what, path) in [
        ("run report", "report.json"),
        ("JUnit file", "junit.xml"),
        ("HTML report", "report.html"),
        ("bench Markdown", "bench.md"),
        ("GitHub step summary", "summary.md"),
        ("bench results file", ".pipewright/bench/secrets.json"),
    ] {
        outputs.file(what, &directory.join(path));
    }
    log_files(&directory, &mut outputs);

    // The monitoring store, every table; and what the steps left on MariaDB.
    let store = dump(&warehouse);
    let names = store
        .iter()
        .map(|(table, _)| table.as_str())
        .collect::<Vec<_>>();
    for table in [
        "logs",
        "step_runs",
        "pipeline_runs",
        "performance_metrics",
        "data_quality_checks",
        "alerts",
        "pipewright_store_schema",
    ] {
        assert!(
            names.contains(&table),
            "no store table `{table}` in {names:?}"
        );
    }
    for (table, text) in &store {
        let what = format!("store table `{table}`");
        match table.as_str() {
            "logs" => {
                assert!(
                    text.contains("token=****"),
                    "the command's output reached the logs table, scrubbed"
                );
                outputs.add(&what, text);
            }
            "step_runs"
            | "pipeline_runs"
            | "performance_metrics"
            | "data_quality_checks"
            | "alerts" => outputs.add(&what, text),
            _ => outputs.add_maybe_empty(&what, text),
        }
    }
    for (table, text) in dump(&legacy) {
        outputs.add_maybe_empty(&format!("MariaDB table `{table}`"), &text);
    }

    // Every other command.
    for arguments in [
        vec!["plan", "pipeline.toml"],
        vec!["plan", "pipeline.toml", "--format", "json"],
        vec!["check", "pipeline.toml"],
        vec!["graph", "pipeline.toml"],
        vec!["lock", "pipeline.toml"],
        vec!["check", "pipeline.toml", "--locked"],
        vec!["history", "pipeline.toml"],
        vec!["history", "pipeline.toml", "--format", "json"],
        vec!["logs", run_id.as_str(), "pipeline.toml"],
        vec!["logs", run_id.as_str(), "pipeline.toml", "--format", "json"],
        vec!["migrate", "status", "pipeline.toml"],
        vec!["diff", "pipeline.toml", "new.toml"],
        vec!["diff", "pipeline.toml", "new.toml", "--format", "markdown"],
        vec!["diff", "pipeline.toml", "new.toml", "--format", "json"],
    ] {
        let outcome = pipewright.run_with(&arguments);
        let what = arguments.join(" ");
        assert_eq!(
            outcome.code, 0,
            "{what}:\n{}{}",
            outcome.stdout, outcome.stderr
        );
        outputs.command(&what, &outcome);
        if arguments[0] == "diff" {
            assert!(
                outcome.stdout.contains("****") && outcome.stdout.contains("localhost"),
                "{what} shows the URLs, redacted:\n{}",
                outcome.stdout
            );
        }
    }
    outputs.file("lock file", &directory.join("pipewright.lock"));

    // Connection failures outside a run: a store and a database that are not there.
    let dead_mysql = login.url("mysql://x@127.0.0.1:1/none", PASSWORD_IN_URL);
    for arguments in [
        vec!["history", "--store", dead_url.as_str()],
        vec![
            "migrate",
            "status",
            "--dir",
            "migrations",
            "--url",
            dead_mysql.as_str(),
        ],
    ] {
        let outcome = pipewright.run_with(&arguments);
        let what = format!("{} {}", arguments[0], arguments[1]);
        assert_ne!(outcome.code, 0, "{what} fails");
        assert!(
            outcome.stderr.contains(":****@127.0.0.1:1/none"),
            "{what} shows the URL redacted:\n{}",
            outcome.stderr
        );
        outputs.command(&what, &outcome);
    }

    // A run whose monitoring store is down: its records go to a spill file.
    let spilled = pipewright.run_with(&["run", "spill/pipeline.toml"]);
    spilled.assert_code(1);
    assert!(
        spilled.stderr.contains("cannot open the monitoring store"),
        "{}",
        spilled.stderr
    );
    outputs.command("run with the store down", &spilled);
    let spill = directory.join("spill/.pipewright/spill");
    let mut spill_files = 0;
    for entry in std::fs::read_dir(&spill).expect("a spill directory") {
        outputs.file("spill file", &entry.expect("a spill file").path());
        spill_files += 1;
    }
    assert!(spill_files > 0, "no spill file in {}", spill.display());

    outputs.assert_free_of_secrets();
}

/// Passwords with a `/`, a `#` or a `?` written as they are (not percent-encoded), as
/// generated passwords often have: the URL does not parse, and the error that says so must
/// not show the password either.
#[test]
fn a_password_with_url_delimiters_is_redacted_too() {
    let _servers = servers_shared();
    let passwords = ["S3cr3t/slash-7fq", "S3cr3t#hash-7fq", "S3cr3t?query-7fq"];
    let mut manifest = header("delimiters", 1);
    for (index, password) in passwords.iter().enumerate() {
        let _ = write!(
            manifest,
            "\n[connections.c{index}]\nurl = \"postgres://pw:{password}@127.0.0.1:5432/none\"\nconnect_timeout = \"1s\"\n\n[steps.s{index}]\nkind = \"sql\"\nconnection = \"c{index}\"\nsql = \"SELECT 1\"\n"
        );
    }
    let outcome = Pipewright::new()
        .manifest(&manifest)
        .args([
            "run",
            "pipeline.toml",
            "--keep-going",
            "--report",
            "report.json",
        ])
        .run();
    // The run fails (1), or `check` refuses the URLs (2); either way it names them.
    assert!(
        [1, 2].contains(&outcome.code) && outcome.stderr.contains("`c0`"),
        "exit code {}: {}",
        outcome.code,
        outcome.stderr
    );
    let mut outputs = vec![
        ("run stdout".to_owned(), outcome.stdout.clone()),
        ("run stderr".to_owned(), outcome.stderr.clone()),
    ];
    if outcome.exists("report.json") {
        outputs.push(("run report".to_owned(), outcome.read("report.json")));
    }
    let logs = outcome.directory.join(".pipewright/logs");
    for entry in std::fs::read_dir(&logs).into_iter().flatten() {
        let path = entry.expect("a log file").path();
        outputs.push((
            format!("log file {}", path.display()),
            std::fs::read_to_string(&path).expect("a readable log file"),
        ));
    }
    let store = outcome.directory.join(".pipewright/monitoring.db");
    if store.exists() {
        for (table, text) in dump(&TestDatabase::sqlite_file(&store)) {
            outputs.push((format!("store table `{table}`"), text));
        }
    }
    for (what, text) in &outputs {
        for password in passwords {
            assert!(
                !text.contains(password),
                "`{password}` appears in the {what}:\n{text}"
            );
        }
    }
}

/// A manifest that is not even TOML: the error quotes the lines around the mistake, and a
/// connection URL there must be shown without its password, as for any other manifest error.
#[test]
fn a_syntax_error_next_to_a_url_does_not_show_its_password() {
    let url = format!("postgres://etl:{PASSWORD_IN_URL}@127.0.0.1:5432/warehouse");
    for (what, manifest) in [
        (
            "an unterminated string",
            format!("[pipeline]\nname = \"t\"\n\n[connections.warehouse]\nurl = \"{url}\n"),
        ),
        (
            "a duplicate key",
            format!(
                "[pipeline]\nname = \"t\"\n\n[connections.warehouse]\nurl = \"{url}\"\nurl = \"{url}\"\n"
            ),
        ),
    ] {
        for command in ["check", "plan", "run"] {
            let outcome = Pipewright::new()
                .manifest(&manifest)
                .args([command, "pipeline.toml"])
                .run();
            assert_eq!(outcome.code, 2, "{what}, {command}: {}", outcome.stderr);
            assert!(
                outcome.stderr.contains("invalid TOML"),
                "{what}, {command}: {}",
                outcome.stderr
            );
            for secret in [PASSWORD_IN_URL, PASSWORD] {
                assert!(
                    !outcome.stderr.contains(secret) && !outcome.stdout.contains(secret),
                    "{what}: `{command}` shows `{secret}`:\n{}",
                    outcome.stderr
                );
            }
        }
    }
}
