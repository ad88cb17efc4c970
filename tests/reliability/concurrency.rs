//! Two pipewright processes against one target at once. Two migrations of one directory: one
//! applies each file, the other waits for the lock and finds nothing to do, or gives up with
//! exit code 4 when its `lock_timeout` is short. Two `replace` copies of one table: the second
//! fails at once with a clear error, or, with `retries`, waits for the first; the target ends
//! as the source, with no staging table left.

use std::process::{Child, Stdio};
use std::time::Duration;

use crate::common::{Pipewright, header, wait_for};
use crate::servers::{Engine, TestDatabase};
use crate::support;

/// A process started by [`spawn`], once it ended.
#[derive(Debug)]
struct Finished {
    code: Option<i32>,
    /// stdout, then stderr.
    output: String,
}

/// Starts pipewright with `arguments` in the project's directory, its output piped.
fn spawn(project: &Pipewright, arguments: &[&str]) -> Child {
    project
        .command()
        .args(arguments)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a process of [`spawn`] to end.
fn finish(child: Child) -> Finished {
    let output = child.wait_with_output().unwrap();
    Finished {
        code: output.status.code(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// The report a run wrote to `path` in the project's directory.
fn report(project: &Pipewright, path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(project.path().join(path))
        .unwrap_or_else(|error| panic!("no report `{path}`: {error}"));
    serde_json::from_str(&text).unwrap()
}

/// The statuses the project's monitoring store holds for the run `run_id` (one, or none).
fn recorded_status(project: &Pipewright, run_id: &str) -> Vec<Option<String>> {
    let store = TestDatabase::sqlite_file(&project.path().join(".pipewright/monitoring.db"));
    store.strings(&format!(
        "SELECT status FROM pipeline_runs WHERE run_id = '{run_id}'"
    ))
}

/// Checks that the store recorded the run of the report at `path` with the report's status.
fn check_recorded(project: &Pipewright, path: &str) {
    let report = report(project, path);
    let run_id = report["run_id"].as_str().unwrap();
    let status = report["status"].as_str().unwrap();
    assert_eq!(
        recorded_status(project, run_id),
        [Some(status.to_owned())],
        "the store records run {run_id} ({path}) as {status}"
    );
}

// Migrations.

/// The migration files both processes apply; the second one holds the lock for a while.
fn migration_files(engine: Engine) -> [(&'static str, &'static str); 3] {
    let slow = match engine {
        Engine::Postgres => {
            "SELECT pg_sleep(3);\nCREATE TABLE slow_table (id INTEGER);\nINSERT INTO slow_table VALUES (1);\n"
        }
        Engine::MySql => {
            "SELECT SLEEP(3);\nCREATE TABLE slow_table (id INTEGER);\nINSERT INTO slow_table VALUES (1);\n"
        }
        // SQLite cannot sleep: a long computation holds its write lock instead (about three
        // seconds in a debug build).
        Engine::Sqlite => {
            "CREATE TABLE slow_table AS WITH RECURSIVE counter(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM counter WHERE n < 8000000) SELECT COUNT(*) AS id FROM counter;\n"
        }
    };
    [
        (
            "0001_first.sql",
            "CREATE TABLE first_table (id INTEGER);\nINSERT INTO first_table VALUES (1);\n",
        ),
        ("0002_slow.sql", slow),
        (
            "0003_third.sql",
            "CREATE TABLE third_table (id INTEGER);\nINSERT INTO third_table VALUES (1);\n",
        ),
    ]
}

/// A project with one `migrate` step on `database`, in two manifests: `pipeline.toml` waits
/// a minute for the lock, `impatient.toml` one second.
fn migration_project(database: &TestDatabase) -> Pipewright {
    let manifest = |lock_timeout: &str| {
        format!(
            "{}\n[connections.db]\nurl = \"{}\"\n\n[steps.schema]\nkind = \"migrate\"\nconnection = \"db\"\ndir = \"migrations\"\nlock_timeout = \"{lock_timeout}\"\n",
            header("migrations", 1),
            database.url
        )
    };
    let mut project = Pipewright::new()
        .file("pipeline.toml", &manifest("1m"))
        .file("impatient.toml", &manifest("1s"));
    for (name, text) in migration_files(database.engine) {
        project = project.file(&format!("migrations/{name}"), text);
    }
    project
}

/// How many times `output` says it applied `file`: `run` prints `schema | applied <file> (...)`,
/// `migrate up` prints `done <file> (...)`.
fn times_applied(output: &str, file: &str) -> usize {
    output.matches(&format!("applied {file} (")).count()
        + output.matches(&format!("done {file} (")).count()
}

/// Each file was applied once: one history row per version, each table there with its one row.
fn check_applied_once(database: &TestDatabase) {
    let versions: Vec<String> = database
        .strings(
            "SELECT CAST(version AS CHAR(20)) FROM pipewright_migrations WHERE success = TRUE ORDER BY version",
        )
        .into_iter()
        .flatten()
        .map(|version| version.trim().to_owned())
        .collect();
    assert_eq!(versions, ["1", "2", "3"], "one history row per version");
    for table in ["first_table", "slow_table", "third_table"] {
        assert_eq!(
            database.count(&format!("SELECT COUNT(*) FROM {table}")),
            1,
            "`{table}` was created and filled once"
        );
    }
}

/// Two migrations at once, one through a `migrate` step (`run`), one through `migrate up`:
/// both wait as long as needed, and each file is applied by exactly one of them.
fn two_migrations_at_once(engine: Engine) {
    let _servers = support::servers_shared();
    let Some(database) = TestDatabase::create(engine, "migrations_at_once") else {
        return;
    };
    let project = migration_project(&database);
    let step = spawn(&project, &["run", "pipeline.toml", "--report", "step.json"]);
    let command = spawn(&project, &["migrate", "up", "pipeline.toml"]);
    let step = finish(step);
    let command = finish(command);
    let both = format!(
        "--- run\n{}\n--- migrate up\n{}",
        step.output, command.output
    );
    assert_eq!(step.code, Some(0), "{both}");
    assert_eq!(command.code, Some(0), "{both}");
    for (file, _) in migration_files(engine) {
        assert_eq!(
            times_applied(&step.output, file) + times_applied(&command.output, file),
            1,
            "{file} is applied by one of the two\n{both}"
        );
    }
    for finished in [&step, &command] {
        let applied_nothing = migration_files(engine)
            .iter()
            .all(|(file, _)| times_applied(&finished.output, file) == 0);
        if applied_nothing {
            assert!(
                finished.output.contains("up to date"),
                "the one that waited finds nothing to do\n{both}"
            );
        }
    }
    check_applied_once(&database);
    check_recorded(&project, "step.json");
}

/// A second migration with a one-second `lock_timeout` while the first is in its slow file:
/// it gives up with exit code 4 and applies nothing; once the first is done, it finds nothing
/// to do.
fn an_impatient_migration_gives_up(engine: Engine) {
    let _servers = support::servers_shared();
    let Some(database) = TestDatabase::create(engine, "impatient_migration") else {
        return;
    };
    let project = migration_project(&database);
    let patient = spawn(
        &project,
        &["run", "pipeline.toml", "--report", "patient.json"],
    );
    // The first file is recorded: the patient run goes on to the slow one, holding the lock.
    wait_for("the first migration", || {
        database
            .try_count("SELECT COUNT(*) FROM pipewright_migrations WHERE version = 1")
            .is_some_and(|rows| rows == 1)
    });
    std::thread::sleep(Duration::from_millis(100));
    let impatient = finish(spawn(
        &project,
        &["run", "impatient.toml", "--report", "impatient.json"],
    ));
    let patient = finish(patient);
    let both = format!(
        "--- patient\n{}\n--- impatient\n{}",
        patient.output, impatient.output
    );
    assert_eq!(impatient.code, Some(4), "a lock timeout exits 4\n{both}");
    assert!(
        impatient.output.contains(
            "another process holds the migration lock of `pipewright_migrations`: gave up after 1s"
        ),
        "{both}"
    );
    for (file, _) in migration_files(engine) {
        assert_eq!(times_applied(&impatient.output, file), 0, "{both}");
    }
    let failed = report(&project, "impatient.json");
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["steps"][0]["failure"], "lock_timeout", "{failed}");

    assert_eq!(patient.code, Some(0), "{both}");
    for (file, _) in migration_files(engine) {
        assert_eq!(
            times_applied(&patient.output, file),
            1,
            "the patient run applies {file}\n{both}"
        );
    }
    check_applied_once(&database);

    // The lock is free again: the impatient manifest now finds nothing to do.
    let again = project.run_with(&["run", "impatient.toml"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("up to date: 3 migrations applied"),
        "{}",
        again.stderr
    );
    check_applied_once(&database);
    check_recorded(&project, "patient.json");
    check_recorded(&project, "impatient.json");
}

#[test]
fn two_migrations_at_once_on_postgres_apply_each_file_once() {
    two_migrations_at_once(Engine::Postgres);
}

#[test]
fn two_migrations_at_once_on_mariadb_apply_each_file_once() {
    two_migrations_at_once(Engine::MySql);
}

#[test]
fn two_migrations_at_once_on_sqlite_apply_each_file_once() {
    two_migrations_at_once(Engine::Sqlite);
}

#[test]
fn an_impatient_migration_on_postgres_exits_4() {
    an_impatient_migration_gives_up(Engine::Postgres);
}

#[test]
fn an_impatient_migration_on_mariadb_exits_4() {
    an_impatient_migration_gives_up(Engine::MySql);
}

#[test]
fn an_impatient_migration_on_sqlite_exits_4() {
    an_impatient_migration_gives_up(Engine::Sqlite);
}

// Two replaces of one table.

/// Rows of the source: the first copy takes long enough for the second to meet it.
const ROWS: u32 = 60_000;
/// How the second copy is told that the first holds the table.
const LOCKED: &str =
    "another run is copying into `numbers` on `target`; one copy writes a table at a time";

/// What two `replace` runs of one step left: the project they ran in, how each ended, and
/// the checksums of the target before them and of the source.
struct TwoReplaces {
    project: Pipewright,
    first: Finished,
    second: Finished,
    before: (u64, String),
    expected: (u64, String),
}

/// Runs two `replace` copies of `source`'s `numbers` onto `target`'s, one step in one project
/// (`extra` added to the step), the second started once the first loads its staging table and
/// so holds the table's lock; waits for both.
fn two_replaces(source: &TestDatabase, target: &TestDatabase, extra: &str) -> TwoReplaces {
    source.numbers_table("numbers", ROWS);
    target.numbers_table("numbers", 10);
    let before = target.checksum("numbers");
    let expected = source.checksum("numbers");
    let project = Pipewright::new().manifest(&format!(
        "{}\n[connections.source]\nurl = \"{}\"\n\n[connections.target]\nurl = \"{}\"\n\n[steps.copy]\nkind = \"transform\"\nfrom = {{ connection = \"source\", table = \"numbers\" }}\nto = {{ connection = \"target\", mode = \"replace\" }}\nbatch_size = 500\n{extra}",
        header("replaces", 1),
        source.url,
        target.url
    ));
    let first = spawn(
        &project,
        &["run", "pipeline.toml", "--report", "first.json"],
    );
    wait_for("the first copy's staging table", || {
        target
            .try_count("SELECT COUNT(*) FROM numbers__pw_staging")
            .is_some()
    });
    let second = finish(spawn(
        &project,
        &["run", "pipeline.toml", "--report", "second.json"],
    ));
    let first = finish(first);
    TwoReplaces {
        project,
        first,
        second,
        before,
        expected,
    }
}

impl TwoReplaces {
    /// What both runs printed, for assertion messages.
    fn both(&self) -> String {
        format!(
            "--- first\n{}\n--- second\n{}",
            self.first.output, self.second.output
        )
    }

    /// The backup the run of the report at `path` made.
    fn backup(&self, path: &str) -> String {
        let report = report(&self.project, path);
        report["steps"][0]["details"]["tables"][0]["backup"]
            .as_str()
            .unwrap_or_else(|| panic!("a backup in {path}: {report}"))
            .to_owned()
    }

    /// The first copy succeeded: the target is the source, its backup the table as it was,
    /// and no staging table is left.
    fn check_first_succeeded(&self, target: &TestDatabase) {
        assert_eq!(self.first.code, Some(0), "{}", self.both());
        assert_eq!(
            target.checksum("numbers"),
            self.expected,
            "the target is the source"
        );
        let backup = self.backup("first.json");
        assert_eq!(
            target.checksum(&backup),
            self.before,
            "the first copy's backup `{backup}` is the table as it was"
        );
        let tables = target.table_names();
        assert!(
            !tables.iter().any(|name| name.contains("__pw_staging")),
            "no staging table is left: {tables:?}"
        );
        check_recorded(&self.project, "first.json");
        check_recorded(&self.project, "second.json");
    }
}

/// Without retries, the second copy fails at once, before reading, and touches nothing.
fn a_second_replace_fails_at_once(engine: Engine) {
    let _servers = support::servers_shared();
    let Some(source) = TestDatabase::create(engine, "replace_twice_source") else {
        return;
    };
    let Some(target) = TestDatabase::create(engine, "replace_twice_target") else {
        return;
    };
    let replaces = two_replaces(&source, &target, "");
    let both = replaces.both();
    assert_eq!(replaces.second.code, Some(1), "{both}");
    assert!(replaces.second.output.contains(LOCKED), "{both}");
    let failed = report(&replaces.project, "second.json");
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(
        failed["steps"][0]["attempts"].as_array().map(Vec::len),
        Some(1),
        "{failed}"
    );
    assert!(
        failed["steps"][0]["error"]
            .as_str()
            .is_some_and(|error| error.contains(LOCKED)),
        "{failed}"
    );
    replaces.check_first_succeeded(&target);
    let backups = target
        .table_names()
        .into_iter()
        .filter(|name| name.contains("__pw_backup_"))
        .count();
    assert_eq!(backups, 1, "the second copy made no backup");
}

/// With `retries`, the second copy waits for the first and then replaces its copy, keeping it
/// as a backup next to the first copy's.
fn a_second_replace_with_retries_waits(engine: Engine) {
    let _servers = support::servers_shared();
    let Some(source) = TestDatabase::create(engine, "replace_retried_source") else {
        return;
    };
    let Some(target) = TestDatabase::create(engine, "replace_retried_target") else {
        return;
    };
    let replaces = two_replaces(
        &source,
        &target,
        "retries = 5\nretry_backoff = \"500ms\"\nkeep_backups = 2\n",
    );
    let both = replaces.both();
    assert_eq!(replaces.second.code, Some(0), "{both}");
    assert!(
        replaces
            .second
            .output
            .contains("retry  copy  attempt 1 of 6 failed"),
        "{both}"
    );
    assert!(replaces.second.output.contains(LOCKED), "{both}");
    let retried = report(&replaces.project, "second.json");
    let attempts = retried["steps"][0]["attempts"].as_array().unwrap();
    assert!(attempts.len() >= 2, "{retried}");
    assert_eq!(attempts[0]["status"], "failed", "{retried}");
    assert!(
        attempts[0]["error"]
            .as_str()
            .is_some_and(|error| error.contains(LOCKED)),
        "{retried}"
    );
    replaces.check_first_succeeded(&target);
    let backup = replaces.backup("second.json");
    assert_eq!(
        target.checksum(&backup),
        replaces.expected,
        "the second copy's backup `{backup}` is the first copy"
    );
}

#[test]
fn a_second_replace_into_postgres_fails_at_once() {
    a_second_replace_fails_at_once(Engine::Postgres);
}

#[test]
fn a_second_replace_into_mariadb_fails_at_once() {
    a_second_replace_fails_at_once(Engine::MySql);
}

#[test]
fn a_second_replace_into_postgres_with_retries_waits() {
    a_second_replace_with_retries_waits(Engine::Postgres);
}

#[test]
fn a_second_replace_into_mariadb_with_retries_waits() {
    a_second_replace_with_retries_waits(Engine::MySql);
}
