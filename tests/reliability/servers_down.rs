//! The database server stops in the middle of a `migrate`, a `transform` and a `validate`, on
//! PostgreSQL and on MariaDB, with the monitoring store on the same server. The promise: a
//! clear error (exit code 1, the connection named, no panic), a clean state once the server is
//! back (no half-applied file, the target as it was, nothing left behind), a next run that
//! succeeds, and the log records made while the store was down kept in a spill file, then
//! replayed into the store's `logs` table by that next run.
//!
//! Each test holds the servers exclusively, stops one (as a crash would) while pipewright runs
//! in the background, waits for pipewright to end, and starts the server again on every path.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Outcome, Pipewright, header};
use crate::servers::{Engine, TestDatabase};
use crate::support;

/// Rows the transform copies: enough for the copy to take seconds in a debug build, so that
/// the server stops while batches are still going in.
const COPIED_ROWS: u32 = 300_000;

/// Words with which an error says that a connection went away or was refused, in pipewright's
/// words or the driver's (compared in lower case).
const LOST_OR_REFUSED: &[&str] = &[
    "lost",
    "refused",
    "closed",
    "reset",
    "broken pipe",
    "terminat",
    "shut",
    "eof",
    "gone away",
];

/// The promises a test found broken, collected so that the first one does not hide the
/// others: the test fails with all of them at the end.
#[derive(Debug, Default)]
pub struct BrokenPromises(Vec<String>);

impl BrokenPromises {
    /// Notes `promise` as broken unless it was `kept`.
    pub fn check(&mut self, kept: bool, promise: impl FnOnce() -> String) {
        if !kept {
            self.0.push(promise());
        }
    }

    /// Fails the test if a promise was broken, with `context` (what pipewright printed).
    pub fn finish(self, context: &str) {
        assert!(
            self.0.is_empty(),
            "{} broken:\n  - {}\n{context}",
            self.0.len(),
            self.0.join("\n  - ")
        );
    }
}

/// Starts the servers again when dropped, whatever happened: a failing assertion never leaves
/// a server down for the tests that follow.
#[derive(Debug)]
struct RestartOnDrop;

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A second panic while unwinding would abort the whole test binary.
            let _ = std::panic::catch_unwind(support::ensure_servers_running);
        } else {
            support::ensure_servers_running();
        }
    }
}

/// A `pipewright run` in the background, killed if the test ends before it does.
#[derive(Debug)]
struct Background {
    child: Child,
}

impl Background {
    /// Waits up to `limit` for the process to end; `None` if it is still running.
    fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("pipewright can be waited for") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a run printed and reported when its server was stopped under it.
#[derive(Debug)]
struct Interrupted {
    /// `None` when it had to be killed, or ended by a signal.
    code: Option<i32>,
    stderr: String,
    /// Its run report; `Null` if it wrote none.
    report: serde_json::Value,
}

impl Interrupted {
    /// The run's id, from its report.
    fn run_id(&self) -> Option<&str> {
        self.report["run_id"].as_str()
    }

    /// The error of the pipeline's only step, as the run report gives it.
    fn step_error(&self) -> &str {
        self.report["steps"][0]["error"]
            .as_str()
            .unwrap_or_default()
    }
}

/// Stops `engine`'s server as a crash would: its connections are cut at once.
fn stop_server(engine: Engine) {
    match engine {
        Engine::Postgres => support::stop_postgres(),
        Engine::MySql => support::stop_mariadb(),
        Engine::Sqlite => unreachable!("SQLite has no server to stop"),
    }
}

/// A database for the steps and another for the monitoring store, both on `engine`'s server;
/// `None` (the test is skipped) without the server.
fn databases(engine: Engine, test: &str) -> Option<(TestDatabase, TestDatabase)> {
    let target = TestDatabase::create(engine, test)?;
    let store = TestDatabase::create(engine, &format!("{test}_store"))?;
    Some((target, store))
}

/// A project whose steps use `target` (and the `connections` tables of `more`), with its
/// monitoring store in `store`.
fn new_project(target: &TestDatabase, store: &TestDatabase, more: &str, steps: &str) -> Pipewright {
    Pipewright::new().manifest(&format!(
        "{}\n[connections.target]\nurl = \"{}\"\n\n[connections.store]\nurl = \"{}\"\n{more}\n[monitoring]\nconnection = \"store\"\n{steps}",
        header("servers_down", 1),
        target.url,
        store.url
    ))
}

/// The statement that sleeps on `engine`'s server: the slow part the server is stopped in.
fn sleep_statement(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "SELECT pg_sleep(5)",
        _ => "SELECT SLEEP(5)",
    }
}

/// Whether another session runs a statement that matches `pattern` (SQL `LIKE`) on
/// `database` now.
fn running(database: &TestDatabase, pattern: &str) -> bool {
    let sql = match database.engine {
        Engine::Postgres => format!(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE '{pattern}'"
        ),
        _ => format!(
            "SELECT COUNT(*) FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID() AND info LIKE '{pattern}'"
        ),
    };
    database.try_count(&sql).is_some_and(|count| count > 0)
}

/// Whether `database` has a table named `table`.
fn has_table(database: &TestDatabase, table: &str) -> bool {
    database.table_names().iter().any(|name| name == table)
}

/// Runs the project's pipeline in the background, stops `engine`'s server once `busy` says
/// the step is in the middle of its slow part, waits for pipewright to end, and starts the
/// server again.
fn interrupt(
    project: &Pipewright,
    engine: Engine,
    busy: &dyn Fn() -> bool,
    broken: &mut BrokenPromises,
) -> Interrupted {
    let stderr_path = project.path().join("interrupted.stderr");
    let child = project
        .command()
        .args(["run", "pipeline.toml", "--report", "interrupted.json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&stderr_path).expect("a file for stderr"))
        .spawn()
        .expect("pipewright starts");
    let mut background = Background { child };
    let started = Instant::now();
    while !busy() {
        if let Some(status) = background.child.try_wait().expect("pipewright runs") {
            panic!(
                "pipewright ended ({status}) before the server could be stopped in the middle of its work:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "the step never reached its slow part:\n{}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    stop_server(engine);
    let status = background.wait(Duration::from_mins(1));
    broken.check(status.is_some(), || {
        "pipewright did not end within a minute of the server stopping (killed)".to_owned()
    });
    // Killed here if it still runs: the server must not come back under a hung run.
    drop(background);
    support::ensure_servers_running();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let report: serde_json::Value =
        std::fs::read_to_string(project.path().join("interrupted.json"))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
    broken.check(!report.is_null(), || {
        "the interrupted run wrote no run report".to_owned()
    });
    Interrupted {
        code: status.as_ref().and_then(ExitStatus::code),
        stderr,
        report,
    }
}

/// Whether one line of `text` names `connection` and says that it was lost or refused.
fn names_lost_connection(text: &str, connection: &str) -> bool {
    let name = format!("`{connection}`");
    text.lines().any(|line| {
        let lower = line.to_lowercase();
        line.contains(&name) && LOST_OR_REFUSED.iter().any(|word| lower.contains(word))
    })
}

/// A clear error: exit code 1 (a step failed, not pipewright), no panic, the step's failure
/// on stderr and in the report, and a line that names the connection whose server stopped and
/// says it was lost or refused.
fn check_clear_error(broken: &mut BrokenPromises, run: &Interrupted, step: &str) {
    broken.check(run.code == Some(1), || {
        format!(
            "exit code {:?} instead of 1 (a step failed; 70 is pipewright's own failure, 101 a panic, none a signal or a hang)",
            run.code
        )
    });
    broken.check(!run.stderr.contains("panicked"), || {
        "pipewright panicked".to_owned()
    });
    let failure = format!("FAIL  {step}  ");
    broken.check(
        run.stderr
            .lines()
            .any(|line| line.trim_start().starts_with(&failure)),
        || format!("no `FAIL  {step}` line on stderr"),
    );
    broken.check(run.report["steps"][0]["status"] == "failed", || {
        format!(
            "the run report says step `{step}` {}, not failed",
            run.report["steps"][0]["status"]
        )
    });
    broken.check(names_lost_connection(&run.stderr, "target"), || {
        format!(
            "no line of stderr names the connection `target` and says it was lost or refused; the step's error is: {}",
            run.step_error()
        )
    });
}

/// The spill files in the project's state directory.
fn spill_files(project: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(project.join(".pipewright").join("spill")) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "jsonl")
        })
        .collect()
}

/// Whether a spill file of the project holds the ERROR record of `step` in run `run_id`.
fn spilled_error(project: &Path, run_id: &str, step: &str) -> bool {
    spill_files(project).iter().any(|path| {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .any(|line| {
                serde_json::from_str::<serde_json::Value>(line).is_ok_and(|record| {
                    record["record"] == "log"
                        && record["level"] == "ERROR"
                        && record["run_id"] == run_id
                        && record["step_id"] == step
                })
            })
    })
}

/// While the server is back but before the next run: the interrupted run's ERROR record was
/// kept in a spill file, since the store (on the stopped server) could not take it.
fn check_spilled(broken: &mut BrokenPromises, project: &Pipewright, run: &Interrupted, step: &str) {
    let Some(run_id) = run.run_id() else { return };
    broken.check(spilled_error(project.path(), run_id, step), || {
        format!(
            "no spill file in `.pipewright/spill` holds the ERROR record of step `{step}` of run {run_id}"
        )
    });
}

/// After the next run: the interrupted run's records reached the store after all (its ERROR
/// record in `logs`, its run `failed`), and no spill file is left.
fn check_replayed(
    broken: &mut BrokenPromises,
    project: &Pipewright,
    store: &TestDatabase,
    run: &Interrupted,
    step: &str,
) {
    let Some(run_id) = run.run_id() else {
        broken.check(false, || {
            "without the interrupted run's id, its records cannot be looked for".to_owned()
        });
        return;
    };
    let errors = store
        .try_count(&format!(
            "SELECT COUNT(*) FROM logs WHERE run_id = '{run_id}' AND level = 'ERROR' AND step_id = '{step}' AND exception IS NOT NULL"
        ))
        .unwrap_or(0);
    broken.check(errors >= 1, || {
        format!(
            "the store's `logs` table holds no ERROR record of step `{step}` for the interrupted run {run_id}"
        )
    });
    let status = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.strings(&format!(
            "SELECT status FROM pipeline_runs WHERE run_id = '{run_id}'"
        ))
    }))
    .unwrap_or_default();
    broken.check(status == [Some("failed".to_owned())], || {
        format!(
            "`pipeline_runs` gives the interrupted run {run_id} the status {status:?}, not failed"
        )
    });
    let left: Vec<String> = spill_files(project.path())
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    broken.check(left.is_empty(), || {
        format!("spill files left after the next run: {}", left.join(", "))
    });
}

/// What the two runs printed, for a failure message.
fn printed(run: &Interrupted, next: &Outcome) -> String {
    format!(
        "--- stderr of the run whose server stopped (exit code {:?})\n{}\n--- stderr of the next run (exit code {})\n{}",
        run.code, run.stderr, next.code, next.stderr
    )
}

/// The state `migrate status --format json` gives `version`: `applied`, `pending`,
/// `partial: k of n`, ...
fn migration_state(project: &Pipewright, version: u64) -> String {
    let status = project.run_with(&["migrate", "status", "pipeline.toml", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap_or_default();
    let entry = json["migrations"]
        .as_array()
        .and_then(|migrations| migrations.iter().find(|entry| entry["version"] == version));
    match entry {
        Some(entry) if entry["state"] == "partial" => {
            format!("partial: {} of {}", entry["applied"], entry["total"])
        }
        Some(entry) => entry["state"].as_str().unwrap_or("no state").to_owned(),
        None => format!(
            "no version {version} (exit code {}: {})",
            status.code,
            status.stderr.trim()
        ),
    }
}

const MIGRATE_STEP: &str = r#"
[steps.schema]
kind = "migrate"
connection = "target"
dir = "migrations"
"#;

/// A migration directory whose second file sleeps between two statements: stopped there, it
/// leaves nothing on PostgreSQL (one transaction) and `partial: 1 of 3` on MariaDB (statement
/// by statement, with a ledger).
fn during_migrate(engine: Engine) {
    let _servers = support::servers_exclusive();
    support::ensure_servers_running();
    let Some((target, store)) = databases(engine, "down_migrate") else {
        return;
    };
    let _restart = RestartOnDrop;
    let sleep = sleep_statement(engine);
    let project = new_project(&target, &store, "", MIGRATE_STEP)
        .file(
            "migrations/0001_first.sql",
            "CREATE TABLE first_table (id INTEGER PRIMARY KEY);\nINSERT INTO first_table VALUES (1);\n",
        )
        .file(
            "migrations/0002_slow.sql",
            &format!(
                "CREATE TABLE second_table (id INTEGER);\n{sleep};\nCREATE TABLE third_table (id INTEGER);\n"
            ),
        );
    let mut broken = BrokenPromises::default();
    let run = interrupt(
        &project,
        engine,
        &|| running(&target, &format!("{sleep}%")),
        &mut broken,
    );
    check_clear_error(&mut broken, &run, "schema");
    broken.check(run.step_error().contains("0002_slow.sql"), || {
        format!(
            "the step's error does not name the file that was running, `0002_slow.sql`: {}",
            run.step_error()
        )
    });

    // What the history says matches what the database holds.
    broken.check(migration_state(&project, 1) == "applied", || {
        format!(
            "`migrate status` says version 1 is {}",
            migration_state(&project, 1)
        )
    });
    if engine == Engine::Postgres {
        broken.check(
            target.count("SELECT COUNT(*) FROM pipewright_migrations WHERE version = 2") == 0,
            || {
                "the history table has a row for the file whose transaction never committed"
                    .to_owned()
            },
        );
        broken.check(!has_table(&target, "second_table"), || {
            "`second_table`, created inside the interrupted file's transaction, exists".to_owned()
        });
        broken.check(migration_state(&project, 2) == "pending", || {
            format!(
                "`migrate status` says version 2 is {}",
                migration_state(&project, 2)
            )
        });
    } else {
        broken.check(
            run.step_error().contains("1 of 3 statements applied"),
            || {
                format!(
                    "the step's error does not say `1 of 3 statements applied`: {}",
                    run.step_error()
                )
            },
        );
        broken.check(
            has_table(&target, "second_table") && !has_table(&target, "third_table"),
            || {
                format!(
                    "statement 1 of 3 should be in the database and statement 3 not: {:?}",
                    target.table_names()
                )
            },
        );
        broken.check(migration_state(&project, 2) == "partial: 1 of 3", || {
            format!(
                "`migrate status` says version 2 is {}, while statement 1 of 3 ran",
                migration_state(&project, 2)
            )
        });
    }
    check_spilled(&mut broken, &project, &run, "schema");

    let next = project.run_with(&["run", "pipeline.toml", "--report", "next.json"]);
    broken.check(next.code == 0, || {
        format!("the next run exited with {}", next.code)
    });
    broken.check(
        migration_state(&project, 2) == "applied" && has_table(&target, "third_table"),
        || {
            format!(
                "after the next run, version 2 is {}",
                migration_state(&project, 2)
            )
        },
    );
    check_replayed(&mut broken, &project, &store, &run, "schema");
    broken.finish(&printed(&run, &next));
}

#[test]
fn postgres_stops_during_a_migrate() {
    during_migrate(Engine::Postgres);
}

#[test]
fn mariadb_stops_during_a_migrate() {
    during_migrate(Engine::MySql);
}

const COPY_STEP: &str = r#"
[steps.copy]
kind = "transform"
from = { connection = "source", table = "numbers" }
to = { connection = "target", mode = "replace" }
batch_size = 500
"#;

/// Whether the copy into `target` is loading its staging table now: on PostgreSQL its `COPY`
/// is running, on MariaDB the staging table has committed batches.
fn loading(target: &TestDatabase) -> bool {
    match target.engine {
        Engine::Postgres => running(target, "COPY %FROM STDIN%"),
        _ => {
            target
                .try_count(
                    "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'numbers__pw_staging'",
                )
                .is_some_and(|count| count > 0)
                && target
                    .try_count("SELECT COUNT(*) FROM numbers__pw_staging")
                    .is_some_and(|rows| rows > 0)
        }
    }
}

/// A `replace` from SQLite into the server, stopped while batches go into the staging table:
/// the target stays as it was, and the next run cleans up and copies everything.
fn during_transform(engine: Engine) {
    let _servers = support::servers_exclusive();
    support::ensure_servers_running();
    let Some((target, store)) = databases(engine, "down_transform") else {
        return;
    };
    let source =
        TestDatabase::create(Engine::Sqlite, "down_transform").expect("SQLite needs no server");
    let _restart = RestartOnDrop;
    source.numbers_table("numbers", COPIED_ROWS);
    target.numbers_table("numbers", 10);
    let before = target.checksum("numbers");
    let source_connection = format!("\n[connections.source]\nurl = \"{}\"\n", source.url);
    let project = new_project(&target, &store, &source_connection, COPY_STEP);
    let mut broken = BrokenPromises::default();
    let run = interrupt(&project, engine, &|| loading(&target), &mut broken);
    check_clear_error(&mut broken, &run, "copy");
    let after = target.checksum("numbers");
    broken.check(after == before, || {
        format!("the target changed: {before:?} before, {after:?} after the interrupted copy")
    });
    check_spilled(&mut broken, &project, &run, "copy");

    let next = project.run_with(&["run", "pipeline.toml", "--report", "next.json"]);
    broken.check(next.code == 0, || {
        format!("the next run exited with {}", next.code)
    });
    let (copied, expected) = (target.checksum("numbers"), source.checksum("numbers"));
    broken.check(copied == expected, || {
        format!("after the next run the target holds {copied:?}, the source {expected:?}")
    });
    let staging: Vec<String> = target
        .table_names()
        .into_iter()
        .filter(|name| name.contains("__pw_staging"))
        .collect();
    broken.check(staging.is_empty(), || {
        format!("staging tables left after the next run: {staging:?}")
    });
    check_replayed(&mut broken, &project, &store, &run, "copy");
    broken.finish(&printed(&run, &next));
}

#[test]
fn postgres_stops_during_a_transform() {
    during_transform(Engine::Postgres);
}

#[test]
fn mariadb_stops_during_a_transform() {
    during_transform(Engine::MySql);
}

/// A `validate` step whose only check is a slow `sql` check (its query sleeps on the server).
fn validate_step(engine: Engine) -> String {
    let slow = match engine {
        Engine::Postgres => "SELECT COUNT(*) AS n FROM numbers, pg_sleep(5)",
        _ => "SELECT COUNT(*) + SLEEP(5) AS n FROM numbers",
    };
    format!(
        "\n[steps.check]\nkind = \"validate\"\nconnection = \"target\"\ntable = \"numbers\"\nchecks = [\n  {{ kind = \"sql\", name = \"slow count\", sql = \"{slow}\", min = 1 }},\n]\n"
    )
}

/// A slow check, stopped while its query sleeps: nothing to clean up (the data and the tables
/// as they were), no alert left open once the next run's check passes.
fn during_validate(engine: Engine) {
    let _servers = support::servers_exclusive();
    support::ensure_servers_running();
    let Some((target, store)) = databases(engine, "down_validate") else {
        return;
    };
    let _restart = RestartOnDrop;
    target.numbers_table("numbers", 10);
    let (tables_before, data_before) = (target.table_names(), target.checksum("numbers"));
    let project = new_project(&target, &store, "", &validate_step(engine));
    let sleeping = match engine {
        Engine::Postgres => "%pg_sleep(5)%",
        _ => "%SLEEP(5)%",
    };
    let mut broken = BrokenPromises::default();
    let run = interrupt(
        &project,
        engine,
        &|| running(&target, sleeping),
        &mut broken,
    );
    check_clear_error(&mut broken, &run, "check");
    let (tables_after, data_after) = (target.table_names(), target.checksum("numbers"));
    broken.check(tables_after == tables_before && data_after == data_before, || {
        format!(
            "the interrupted validation changed the database: tables {tables_before:?} then {tables_after:?}, data {data_before:?} then {data_after:?}"
        )
    });
    check_spilled(&mut broken, &project, &run, "check");

    let next = project.run_with(&["run", "pipeline.toml", "--report", "next.json"]);
    broken.check(next.code == 0, || {
        format!("the next run exited with {}", next.code)
    });
    check_replayed(&mut broken, &project, &store, &run, "check");
    let open = store
        .try_count("SELECT COUNT(*) FROM alerts WHERE resolved = FALSE")
        .unwrap_or(-1);
    broken.check(open == 0, || {
        format!("{open} alerts are still open after the check passed again")
    });
    broken.finish(&printed(&run, &next));
}

#[test]
fn postgres_stops_during_a_validate() {
    during_validate(Engine::Postgres);
}

#[test]
fn mariadb_stops_during_a_validate() {
    during_validate(Engine::MySql);
}
