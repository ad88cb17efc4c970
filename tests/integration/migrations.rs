//! Migrations on SQLite, PostgreSQL and MariaDB: apply, re-apply, edited, missing and
//! out-of-order files, down, failures in the middle, the lock, dry runs.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Outcome, Pipewright, header};
use crate::servers::{Engine, TestDatabase, engine_test};

/// A manifest with one `migrate` step on the test database, and its migration files.
fn project(database: &TestDatabase, files: &[(&str, &str)], extra: &str) -> Pipewright {
    let mut builder = Pipewright::new().manifest(&format!(
        "{}\n[connections.db]\nurl = \"{}\"\n\n[steps.schema]\nkind = \"migrate\"\nconnection = \"db\"\ndir = \"migrations\"\n{extra}\n",
        header("migrations", 1),
        database.url
    ));
    for (name, text) in files {
        builder = builder.file(&format!("migrations/{name}"), text);
    }
    builder
}

fn history_versions(database: &TestDatabase) -> Vec<String> {
    database
        .strings("SELECT CAST(version AS CHAR(20)) FROM pipewright_migrations WHERE success = TRUE ORDER BY version")
        .into_iter()
        .flatten()
        .map(|version| version.trim().to_owned())
        .collect()
}

/// Whether the test database has a table of that name (a SQLite file that does not exist
/// has none).
fn table_exists(database: &TestDatabase, table: &str) -> bool {
    if database.engine == Engine::Sqlite
        && !std::path::Path::new(database.url.trim_start_matches("sqlite://")).exists()
    {
        return false;
    }
    let sql = match database.engine {
        Engine::Sqlite => {
            format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'")
        }
        Engine::Postgres => format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '{table}'"
        ),
        Engine::MySql => format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{table}'"
        ),
    };
    database.count(&sql) > 0
}

/// Runs `pipewright migrate ...` in an outcome's directory.
fn migrate(outcome: &Outcome, arguments: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .arg("migrate")
        .args(arguments)
        .current_dir(&outcome.directory)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(output: &[u8]) -> String {
    String::from_utf8_lossy(output).into_owned()
}

const TWO_FILES: [(&str, &str); 4] = [
    (
        "0001_create_bars.sql",
        "CREATE TABLE bars (symbol VARCHAR(16) PRIMARY KEY, note VARCHAR(100));\nINSERT INTO bars VALUES ('600519', 'semi;colon');\n",
    ),
    ("0001_create_bars.down.sql", "DROP TABLE bars;\n"),
    (
        "0002_create_days.sql",
        "CREATE TABLE days (day DATE PRIMARY KEY);\n",
    ),
    ("0002_create_days.down.sql", "DROP TABLE days;\n"),
];

engine_test!(applies_once_and_then_does_nothing, |database| {
    let first = project(database, &TWO_FILES, "")
        .args(["run", "pipeline.toml"])
        .run();
    first.assert_code(0);
    assert!(
        first
            .stderr
            .contains("applied 0001_create_bars.sql (2 statements"),
        "{}",
        first.stderr
    );
    assert_eq!(history_versions(database), ["1", "2"]);
    assert_eq!(database.count("SELECT COUNT(*) FROM bars"), 1);
    let again = migrate(&first, &["up", "pipeline.toml"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        text(&again.stdout).contains("up to date"),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(
        database.count("SELECT COUNT(*) FROM bars"),
        1,
        "nothing ran twice"
    );
    let status = migrate(
        &first,
        &[
            "status",
            "pipeline.toml",
            "--format",
            "json",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(status.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["migrations"][1]["state"], "applied");
    assert_eq!(json["pending"], 0);
});

engine_test!(
    an_edited_applied_file_is_an_error_with_a_diff_until_accepted,
    |database| {
        let first = project(database, &TWO_FILES, "")
            .args(["run", "pipeline.toml"])
            .run();
        first.assert_code(0);
        std::fs::write(
        first.directory.join("migrations/0001_create_bars.sql"),
        "CREATE TABLE bars (symbol VARCHAR(32) PRIMARY KEY, note VARCHAR(100));\nINSERT INTO bars VALUES ('600519', 'semi;colon');\n",
    )
    .unwrap();
        std::fs::write(
            first.directory.join("migrations/0003_more.sql"),
            "CREATE TABLE more (id INTEGER);\n",
        )
        .unwrap();
        let up = migrate(&first, &["up", "pipeline.toml"]);
        assert_eq!(up.status.code(), Some(1));
        let stderr = text(&up.stderr);
        assert!(
            stderr.contains("`0001_create_bars.sql` (version 1) was changed after it was applied"),
            "{stderr}"
        );
        assert!(
            stderr.contains("-CREATE TABLE bars (symbol VARCHAR(16) PRIMARY KEY"),
            "{stderr}"
        );
        assert!(
            stderr.contains("+CREATE TABLE bars (symbol VARCHAR(32) PRIMARY KEY"),
            "{stderr}"
        );
        assert!(stderr.contains("pipewright migrate accept 1"), "{stderr}");
        assert_eq!(
            history_versions(database),
            ["1", "2"],
            "nothing was applied, not even the new file"
        );

        let accepted = migrate(
            &first,
            &[
                "accept",
                "1",
                "pipeline.toml",
                "--reason",
                "widened on every server by hand",
            ],
        );
        assert!(accepted.status.success(), "{}", text(&accepted.stderr));
        assert!(text(&accepted.stdout).contains("+CREATE TABLE bars (symbol VARCHAR(32)"));
        assert_eq!(
            database.strings("SELECT accepted_reason FROM pipewright_migrations WHERE version = 1")
                [0]
            .as_deref(),
            Some("widened on every server by hand")
        );
        let up = migrate(&first, &["up", "pipeline.toml"]);
        assert!(up.status.success(), "{}", text(&up.stderr));
        assert_eq!(history_versions(database), ["1", "2", "3"]);
    }
);

engine_test!(
    a_missing_applied_file_and_an_out_of_order_file_are_errors,
    |database| {
        let first = project(database, &TWO_FILES, "")
            .args(["run", "pipeline.toml"])
            .run();
        first.assert_code(0);
        std::fs::remove_file(first.directory.join("migrations/0002_create_days.sql")).unwrap();
        std::fs::remove_file(first.directory.join("migrations/0002_create_days.down.sql")).unwrap();
        std::fs::write(
            first.directory.join("migrations/0000_early.sql"),
            "CREATE TABLE early (id INTEGER);\n",
        )
        .unwrap();
        let up = migrate(&first, &["up", "pipeline.toml"]);
        assert_eq!(up.status.code(), Some(1));
        let stderr = text(&up.stderr);
        assert!(stderr.contains("2 problems"), "{stderr}");
        assert!(
            stderr.contains(
                "version 2 (create days) was applied, but its file is not in the directory any more"
            ),
            "{stderr}"
        );
        assert!(stderr.contains("`0000_early.sql` (version 0) is pending but older than the newest applied version 2"), "{stderr}");
    }
);

engine_test!(out_of_order_files_apply_when_allowed, |database| {
    let first = project(database, &TWO_FILES, "out_of_order = true")
        .args(["run", "pipeline.toml"])
        .run();
    first.assert_code(0);
    std::fs::write(
        first.directory.join("migrations/0000_early.sql"),
        "CREATE TABLE early (id INTEGER);\n",
    )
    .unwrap();
    let up = migrate(&first, &["up", "pipeline.toml"]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    assert_eq!(history_versions(database), ["0", "1", "2"]);
});

engine_test!(down_reverts_to_a_version, |database| {
    let first = project(database, &TWO_FILES, "")
        .args(["run", "pipeline.toml"])
        .run();
    first.assert_code(0);
    let down = migrate(&first, &["down", "pipeline.toml", "--to", "1"]);
    assert!(down.status.success(), "{}", text(&down.stderr));
    assert_eq!(history_versions(database), ["1"]);
    assert!(!table_exists(database, "days"));
    let down = migrate(&first, &["down", "pipeline.toml", "--to", "0"]);
    assert!(down.status.success(), "{}", text(&down.stderr));
    assert!(history_versions(database).is_empty());
});

engine_test!(dry_runs_and_plans_write_nothing, |database| {
    let builder = project(database, &TWO_FILES, "").args(["check", "pipeline.toml"]);
    let outcome = builder.run();
    outcome.assert_code(0);
    for arguments in [
        vec!["plan", "pipeline.toml"],
        vec!["up", "pipeline.toml", "--dry-run"],
    ] {
        let output = migrate(&outcome, &arguments);
        assert!(output.status.success(), "{}", text(&output.stderr));
        let stdout = text(&output.stdout);
        assert!(stdout.contains("0001_create_bars.sql"), "{stdout}");
        assert!(
            stdout.contains("  | INSERT INTO bars VALUES ('600519', 'semi;colon');"),
            "{stdout}"
        );
    }
    let status = migrate(
        &outcome,
        &["status", "pipeline.toml", "--detailed-exitcode"],
    );
    assert_eq!(
        status.status.code(),
        Some(6),
        "pending migrations: {}",
        text(&status.stdout)
    );
    assert!(
        !table_exists(database, "pipewright_migrations"),
        "not even the history table was created"
    );
    if database.engine == Engine::Sqlite {
        assert!(
            !std::path::Path::new(database.url.trim_start_matches("sqlite://")).exists(),
            "not even the database file was created"
        );
    }
});

#[test]
fn postgres_and_sqlite_leave_nothing_of_a_failed_file() {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let Some(database) = TestDatabase::create(engine, "failed_file") else {
            continue;
        };
        let outcome = project(
            &database,
            &[
                ("0001_ok.sql", "CREATE TABLE ok (id INTEGER);\n"),
                ("0002_broken.sql", "CREATE TABLE half (id INTEGER);\nINSERT INTO half VALUES (1);\nINSERT INTO nowhere VALUES (2);\n"),
            ],
            "",
        )
        .args(["run", "pipeline.toml", "--report", "report.json"])
        .run();
        outcome.assert_code(1);
        let error = outcome.report()["steps"][0]["error"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(error.contains("file 0002_broken.sql failed at statement 3 of 3; its transaction was rolled back, nothing of it remains"), "{error}");
        assert_eq!(history_versions(&database), ["1"]);
        assert!(
            !table_exists(&database, "half"),
            "{}: the table of the failed file is gone",
            engine.name()
        );
    }
}

#[test]
fn mariadb_records_how_far_a_failed_file_got_and_resumes_there() {
    let Some(database) = TestDatabase::create(Engine::MySql, "ledger") else {
        return;
    };
    let outcome = project(
        &database,
        &[(
            "0001_steps.sql",
            "CREATE TABLE first (id INTEGER);\nCREATE TABLE second (id INTEGER);\nINSERT INTO nowhere VALUES (1);\nCREATE TABLE fourth (id INTEGER);\nINSERT INTO first VALUES (1);\n",
        )],
        "",
    )
    .args(["run", "pipeline.toml", "--report", "report.json"])
    .run();
    outcome.assert_code(1);
    let error = outcome.report()["steps"][0]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.starts_with("file 0001_steps.sql: 2 of 5 statements applied; statement 3 failed"),
        "{error}"
    );
    assert!(error.contains("fix statement 3 and run again"), "{error}");
    assert_eq!(
        database.count("SELECT statements_applied FROM pipewright_migrations WHERE version = 1"),
        2
    );

    // Editing a statement that ran is refused; fixing the failed one continues from it.
    std::fs::write(
        outcome.directory.join("migrations/0001_steps.sql"),
        "CREATE TABLE first (id BIGINT);\nCREATE TABLE second (id INTEGER);\nINSERT INTO first VALUES (0);\nCREATE TABLE fourth (id INTEGER);\nINSERT INTO first VALUES (1);\n",
    )
    .unwrap();
    let refused = migrate(&outcome, &["up", "pipeline.toml"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr)
            .contains("stopped after 2 of 5 statements, and its first 2 statements changed"),
        "{}",
        text(&refused.stderr)
    );
    std::fs::write(
        outcome.directory.join("migrations/0001_steps.sql"),
        "CREATE TABLE first (id INTEGER);\nCREATE TABLE second (id INTEGER);\nINSERT INTO first VALUES (0);\nCREATE TABLE fourth (id INTEGER);\nINSERT INTO first VALUES (1);\n",
    )
    .unwrap();
    let resumed = migrate(&outcome, &["up", "pipeline.toml"]);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    assert_eq!(history_versions(&database), ["1"]);
    assert_eq!(
        database.count("SELECT COUNT(*) FROM first"),
        2,
        "statements 1 and 2 did not run twice"
    );
}

#[test]
fn postgres_no_transaction_files_run_statement_by_statement() {
    let Some(database) = TestDatabase::create(Engine::Postgres, "no_transaction") else {
        return;
    };
    let outcome = project(
        &database,
        &[
            ("0001_table.sql", "CREATE TABLE bars (id INTEGER);\n"),
            (
                "0002_index.sql",
                "-- pipewright:no-transaction\nCREATE INDEX CONCURRENTLY bars_id ON bars (id);\n",
            ),
        ],
        "",
    )
    .args(["run", "pipeline.toml"])
    .run();
    outcome.assert_code(0);
    assert_eq!(
        database.count("SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'bars_id'"),
        1
    );
}

/// A file that holds the lock for a while: the statement sleeps on the server.
fn slow_file(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "SELECT pg_sleep(4);\nCREATE TABLE slow (id INTEGER);\n",
        Engine::MySql => "SELECT SLEEP(4);\nCREATE TABLE slow (id INTEGER);\n",
        Engine::Sqlite => unreachable!(),
    }
}

fn spawn_up(directory: &std::path::Path, lock_timeout: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args([
            "migrate",
            "up",
            "pipeline.toml",
            "--lock-timeout",
            lock_timeout,
        ])
        .current_dir(directory)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn lock_contention(engine: Engine) {
    let Some(database) = TestDatabase::create(engine, "lock") else {
        return;
    };
    let outcome = project(&database, &[("0001_slow.sql", slow_file(engine))], "")
        .args(["check", "pipeline.toml"])
        .run();
    outcome.assert_code(0);
    let mut holder = spawn_up(&outcome.directory, "1m");
    // Wait until the first process is inside the slow statement, so it holds the lock.
    let sleeping = match engine {
        Engine::Postgres => {
            "SELECT COUNT(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(4)%' AND datname = current_database()"
        }
        _ => {
            "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP(4)%' AND db = DATABASE()"
        }
    };
    let started = Instant::now();
    while database.count(sleeping) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the first migration never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let waiter = spawn_up(&outcome.directory, "1s")
        .wait_with_output()
        .unwrap();
    assert_eq!(
        waiter.status.code(),
        Some(4),
        "lock timeout: {}",
        text(&waiter.stderr)
    );
    assert!(
        text(&waiter.stderr).contains("another process holds the migration lock"),
        "{}",
        text(&waiter.stderr)
    );
    assert!(holder.wait().unwrap().success());
    assert_eq!(history_versions(&database), ["1"]);

    // Two at once with time to wait: both succeed, the file is applied once.
    std::fs::write(
        outcome.directory.join("migrations/0002_count.sql"),
        "CREATE TABLE applied_once (id INTEGER);\nINSERT INTO applied_once VALUES (1);\n",
    )
    .unwrap();
    let racers: Vec<Child> = (0..2).map(|_| spawn_up(&outcome.directory, "1m")).collect();
    for racer in racers {
        let output = racer.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", text(&output.stderr));
    }
    assert_eq!(database.count("SELECT COUNT(*) FROM applied_once"), 1);
}

#[test]
fn postgres_lock_contention_waits_or_fails_with_its_own_exit_code() {
    lock_contention(Engine::Postgres);
}

#[test]
fn mariadb_lock_contention_waits_or_fails_with_its_own_exit_code() {
    lock_contention(Engine::MySql);
}

#[test]
fn sqlite_concurrent_migrations_apply_each_file_once() {
    let Some(database) = TestDatabase::create(Engine::Sqlite, "sqlite_race") else {
        return;
    };
    let outcome = project(
        &database,
        &[
            (
                "0001_a.sql",
                "CREATE TABLE a (id INTEGER);\nINSERT INTO a VALUES (1);\n",
            ),
            (
                "0002_b.sql",
                "CREATE TABLE b (id INTEGER);\nINSERT INTO b VALUES (1);\n",
            ),
        ],
        "",
    )
    .args(["check", "pipeline.toml"])
    .run();
    let racers: Vec<Child> = (0..3)
        .map(|_| spawn_up(&outcome.directory, "30s"))
        .collect();
    for racer in racers {
        let output = racer.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", text(&output.stderr));
    }
    assert_eq!(database.count("SELECT COUNT(*) FROM a"), 1);
    assert_eq!(database.count("SELECT COUNT(*) FROM b"), 1);
}

#[test]
fn malformed_and_duplicate_file_names_are_manifest_errors() {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}\n[connections.db]\nurl = \"sqlite://x.db\"\n\n[steps.schema]\nkind = \"migrate\"\nconnection = \"db\"\ndir = \"migrations\"\n",
            header("names", 1)
        ))
        .file("migrations/0001_a.sql", "select 1;")
        .file("migrations/001_b.sql", "select 1;")
        .file("migrations/init.sql", "select 1;")
        .args(["check", "pipeline.toml"])
        .run();
    outcome.assert_code(2);
    assert!(
        outcome
            .stderr
            .contains("`0001_a.sql` and `001_b.sql` both have version 1"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome
            .stderr
            .contains("`init.sql` is not named `<version>_<description>.sql`"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("pipeline.toml:11:7"),
        "the error points at `dir`: {}",
        outcome.stderr
    );
}

#[test]
fn migrate_commands_work_on_a_directory_and_url_without_a_manifest() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::create_dir(directory.path().join("m")).unwrap();
    std::fs::write(
        directory.path().join("m/0001_t.sql"),
        "CREATE TABLE t (id INTEGER);\n",
    )
    .unwrap();
    let url = format!("sqlite://{}/db.sqlite", directory.path().display());
    let run = |arguments: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pipewright"))
            .arg("migrate")
            .args(arguments)
            .args(["--dir", "m", "--url", &url])
            .current_dir(directory.path())
            .output()
            .unwrap()
    };
    assert!(run(&["up"]).status.success());
    let status = run(&["status", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["migrations"][0]["state"], "applied");
    assert_eq!(json["history_table"], "pipewright_migrations");
}

#[test]
fn baseline_records_versions_as_applied_without_running_them() {
    let Some(database) = TestDatabase::create(Engine::Sqlite, "baseline") else {
        return;
    };
    // A database another tool created: the table exists, the history does not.
    database.execute("CREATE TABLE bars (symbol VARCHAR(16) PRIMARY KEY, note VARCHAR(100))");
    let outcome = project(&database, &TWO_FILES, "")
        .args(["check", "pipeline.toml"])
        .run();
    outcome.assert_code(0);
    let baseline = migrate(&outcome, &["baseline", "pipeline.toml", "--to", "1"]);
    assert!(baseline.status.success(), "{}", text(&baseline.stderr));
    assert_eq!(
        database.strings("SELECT accepted_reason FROM pipewright_migrations WHERE version = 1")[0]
            .as_deref(),
        Some("baseline")
    );
    let up = migrate(&outcome, &["up", "pipeline.toml"]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    assert_eq!(history_versions(&database), ["1", "2"]);
    assert_eq!(
        database.count("SELECT COUNT(*) FROM bars"),
        0,
        "the baselined file did not run"
    );
}

#[test]
fn sqlite_triggers_survive_statement_splitting() {
    let Some(database) = TestDatabase::create(Engine::Sqlite, "trigger") else {
        return;
    };
    let outcome = project(
        &database,
        &[(
            "0001_audit.sql",
            "CREATE TABLE bars (id INTEGER);\nCREATE TABLE audit (id INTEGER);\nCREATE TRIGGER bars_audit AFTER INSERT ON bars BEGIN\n  INSERT INTO audit VALUES (NEW.id);\nEND;\nINSERT INTO bars VALUES (7);\n",
        )],
        "",
    )
    .args(["run", "pipeline.toml"])
    .run();
    outcome.assert_code(0);
    assert_eq!(database.count("SELECT id FROM audit"), 7);
}

#[test]
fn ctrl_c_stops_a_wait_for_the_lock() {
    let Some(database) = TestDatabase::create(Engine::Postgres, "lock_cancel") else {
        return;
    };
    let outcome = project(
        &database,
        &[("0001_slow.sql", slow_file(Engine::Postgres))],
        "",
    )
    .args(["check", "pipeline.toml"])
    .run();
    let mut holder = spawn_up(&outcome.directory, "1m");
    let started = Instant::now();
    while database.count("SELECT COUNT(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(4)%' AND datname = current_database()") == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "the first migration never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let waiter = spawn_up(&outcome.directory, "1m");
    std::thread::sleep(Duration::from_millis(500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(waiter.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let output = waiter.wait_with_output().unwrap();
    // The waiter gives up as soon as it is interrupted, while the holder still sleeps.
    assert_eq!(output.status.code(), Some(130), "{}", text(&output.stderr));
    assert!(
        holder.try_wait().unwrap().is_none(),
        "the holder is still working"
    );
    assert!(holder.wait().unwrap().success());
}

/// A history table in another MySQL database: every file still runs in the connection's own.
#[test]
fn mysql_files_run_in_the_session_database_when_the_history_is_elsewhere() {
    let Some(database) = TestDatabase::create(Engine::MySql, "home_database") else {
        return;
    };
    let Some(ledger) = TestDatabase::create(Engine::MySql, "ledger_database") else {
        return;
    };
    let ledger_name = ledger.url.rsplit('/').next().unwrap().to_owned();
    let outcome = project(
        &database,
        &[
            ("0001_first.sql", "CREATE TABLE first (id INTEGER);\n"),
            ("0002_second.sql", "CREATE TABLE second (id INTEGER);\n"),
        ],
        &format!("history_table = \"{ledger_name}.pipewright_migrations\""),
    )
    .args(["run", "pipeline.toml"])
    .run();
    outcome.assert_code(0);
    assert!(table_exists(&database, "first"));
    assert!(
        table_exists(&database, "second"),
        "the second file ran at home too"
    );
    assert!(!table_exists(&ledger, "second"));
    assert_eq!(history_versions(&ledger), ["1", "2"]);
}

/// URL schemes are case-insensitive on the command line as in manifests.
#[test]
fn an_upper_case_scheme_on_the_command_line_names_the_same_file() {
    let project = Pipewright::new().file(
        "migrations/0001_first.sql",
        "CREATE TABLE first (id INTEGER);\n",
    );
    let up = project.run_with(&[
        "migrate",
        "up",
        "--dir",
        "migrations",
        "--url",
        "SQLITE://legacy.db",
    ]);
    up.assert_code(0);
    assert!(project.path().join("legacy.db").exists());
    assert!(
        !project.path().join("SQLITE:").exists(),
        "no directory named after the scheme"
    );
    let status = project.run_with(&[
        "migrate",
        "status",
        "--dir",
        "migrations",
        "--url",
        "SQLite://legacy.db",
    ]);
    status.assert_code(0);
    assert!(status.stdout.contains("applied"), "{}", status.stdout);
}

/// SQLite's lock is its write transaction, waited for between tries: Ctrl-C stops the wait.
#[test]
fn ctrl_c_stops_a_wait_for_the_sqlite_lock() {
    let database = TestDatabase::create(Engine::Sqlite, "sqlite_lock_cancel").unwrap();
    database.execute("PRAGMA journal_mode = WAL; CREATE TABLE placeholder (id INTEGER)");
    let outcome = project(
        &database,
        &[("0001_first.sql", "CREATE TABLE first (id INTEGER);\n")],
        "",
    )
    .args(["check", "pipeline.toml"])
    .run();
    // Another writer holds the database for longer than the test waits.
    let url = database.url.clone();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (held, holding) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        use sqlx::Connection as _;
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::raw_sql("BEGIN IMMEDIATE")
                    .execute(&mut connection)
                    .await
                    .unwrap();
                held.send(()).unwrap();
                let _ = released.recv_timeout(Duration::from_mins(1));
            });
    });
    holding.recv().unwrap();
    let waiter = spawn_up(&outcome.directory, "1m");
    std::thread::sleep(Duration::from_millis(800));
    let interrupted = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(waiter.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let output = waiter.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", text(&output.stderr));
    assert!(
        interrupted.elapsed() < Duration::from_secs(2),
        "stopped at once, not after SQLite's busy timeout: {:?}",
        interrupted.elapsed()
    );
    release.send(()).unwrap();
    holder.join().unwrap();
}
