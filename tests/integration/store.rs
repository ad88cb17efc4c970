//! The monitoring store: run history, metrics and WARN+ logs on each engine, `history` and
//! `logs`, and no record lost when the store is down.

use crate::common::{Pipewright, header};
use crate::servers::{TestDatabase, engine_test};

/// A pipeline with a flaky step (one WARN record for its retry), a good SQL step and a failing
/// one, whose store is the `store` connection.
fn monitored_pipeline(store_url: &str) -> String {
    format!(
        r#"{}
[connections.store]
url = "{store_url}"

[monitoring]
connection = "store"

[steps.flaky]
kind = "command"
shell = "if [ -e tried ]; then echo fine; else touch tried; exit 1; fi"
retries = 1
retry_backoff = "10ms"

[steps.count]
kind = "sql"
connection = "store"
after = ["flaky"]
sql = "SELECT 1"

[steps.broken]
kind = "sql"
connection = "store"
after = ["count"]
sql = "SELECT * FROM no_such_table"
"#,
        header("monitored", 1)
    )
}

engine_test!(run_history_metrics_and_logs_reach_the_store, |database| {
    let outcome = Pipewright::new()
        .manifest(&monitored_pipeline(&database.url))
        .args(["run", "pipeline.toml", "--report", "report.json"])
        .run();
    outcome.assert_code(1);
    let run_id = outcome.report()["run_id"].as_str().unwrap().to_owned();

    assert_eq!(database.count("SELECT COUNT(*) FROM pipeline_runs"), 1);
    assert_eq!(
        database.strings("SELECT status FROM pipeline_runs")[0].as_deref(),
        Some("failed")
    );
    assert_eq!(database.count("SELECT COUNT(*) FROM step_runs"), 3);
    assert_eq!(
        database.count("SELECT attempts FROM step_runs WHERE step_id = 'flaky'"),
        2
    );
    assert_eq!(
        database.count("SELECT COUNT(*) FROM performance_metrics"),
        3,
        "one row per step"
    );
    assert_eq!(
        database.count("SELECT COUNT(*) FROM performance_metrics WHERE success = FALSE"),
        1
    );
    assert_eq!(
        database.strings("SELECT database_type FROM performance_metrics WHERE operation = 'count'")
            [0]
        .as_deref(),
        Some(if database.engine == crate::servers::Engine::MySql {
            "mysql"
        } else {
            database.engine.name()
        })
    );
    let levels = database.strings(&format!(
        "SELECT level FROM logs WHERE run_id = '{run_id}' ORDER BY id"
    ));
    assert_eq!(
        levels,
        [Some("WARN".to_owned()), Some("ERROR".to_owned())],
        "the retry and the failure"
    );
    assert_eq!(
        database.strings("SELECT step_id FROM logs WHERE level = 'ERROR'")[0].as_deref(),
        Some("broken")
    );
    assert_eq!(
        database.count("SELECT COUNT(*) FROM logs WHERE module LIKE 'sqlx%'"),
        0,
        "sqlx's own records stay out"
    );

    let history = Pipewright::new()
        .manifest(&monitored_pipeline(&database.url))
        .args(["history", "pipeline.toml", "--format", "json"])
        .run();
    history.assert_code(0);
    let runs: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    assert_eq!(runs[0]["run_id"], run_id.as_str());
    assert_eq!(runs[0]["steps_failed"], 1);

    let logs = Pipewright::new()
        .manifest(&monitored_pipeline(&database.url))
        .args(["logs", &run_id[..13], "pipeline.toml", "--level", "error"])
        .run();
    logs.assert_code(0);
    let records: Vec<&str> = logs
        .stdout
        .lines()
        .filter(|line| !line.starts_with("    |"))
        .collect();
    assert_eq!(records.len(), 1, "{}", logs.stdout);
    assert!(
        logs.stdout.contains("    | statement 1 of 1 failed"),
        "the error is shown as the exception: {}",
        logs.stdout
    );
    assert!(logs.stdout.contains("ERROR  broken"), "{}", logs.stdout);
});

engine_test!(
    an_existing_seed_monitoring_database_is_adopted,
    |database| {
        // SEED.md's own DDL, without run or step columns.
        let (id, metadata) = match database.engine {
            crate::servers::Engine::Sqlite => ("id INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT"),
            crate::servers::Engine::Postgres => ("id SERIAL PRIMARY KEY", "JSONB"),
            crate::servers::Engine::MySql => ("id BIGINT AUTO_INCREMENT PRIMARY KEY", "JSON"),
        };
        database.execute(&format!(
        "CREATE TABLE logs ({id}, timestamp TIMESTAMP NOT NULL, level VARCHAR(10), module VARCHAR(100), function VARCHAR(100), message TEXT, exception TEXT, metadata {metadata})"
    ));
        let outcome = Pipewright::new()
            .manifest(&monitored_pipeline(&database.url))
            .args(["run", "pipeline.toml"])
            .run();
        outcome.assert_code(1);
        assert_eq!(
            database.count("SELECT COUNT(*) FROM logs WHERE step_id = 'broken'"),
            1
        );
    }
);

#[test]
fn history_reads_the_embedded_store_next_to_the_manifest() {
    let builder = Pipewright::new().manifest(&format!(
        "{}\n[steps.a]\nkind = \"command\"\nrun = [\"true\"]\n",
        header("embedded", 1)
    ));
    let directory = builder.path().to_path_buf();
    let first = builder
        .args(["run", "pipeline.toml", "--report", "report.json"])
        .run();
    first.assert_code(0);
    assert!(first.exists(".pipewright/monitoring.db"));
    let history = std::process::Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["history", "--state-dir"])
        .arg(first.directory.join(".pipewright"))
        .output()
        .unwrap();
    assert!(history.status.success());
    let text = String::from_utf8(history.stdout).unwrap();
    assert!(text.starts_with("RUN "), "{text}");
    assert!(
        text.contains(first.report()["run_id"].as_str().unwrap()),
        "{text}"
    );
    assert!(text.contains("embedded  succeeded"), "{text}");
    drop(directory);
}

#[test]
fn history_of_a_pipeline_that_never_ran_says_so() {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}\n[steps.a]\nkind = \"command\"\nrun = [\"true\"]\n",
            header("fresh", 1)
        ))
        .args(["history", "pipeline.toml"])
        .run();
    outcome.assert_code(0);
    assert!(
        outcome
            .stdout
            .starts_with("no runs recorded in `monitoring`"),
        "{}",
        outcome.stdout
    );
    assert!(
        !outcome.exists(".pipewright/monitoring.db"),
        "reading creates nothing"
    );
}

#[test]
fn a_dead_store_loses_no_record_and_the_next_run_replays_them() {
    let manifest = format!(
        r#"{}
[connections.store]
url = "sqlite://state/store.db"

[monitoring]
connection = "store"

[steps.flaky]
kind = "command"
shell = "if [ -e tried ]; then echo fine; else touch tried; exit 1; fi"
retries = 1
retry_backoff = "10ms"
"#,
        header("dead_store", 1)
    );
    // A file where the store's directory should be: the store cannot open for the whole run.
    let builder = Pipewright::new()
        .manifest(&manifest)
        .file("state", "not a directory")
        .args(["run", "pipeline.toml", "--report", "report.json"]);
    let directory = builder.path().to_path_buf();
    let first = builder.command().output().unwrap();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(
        first.status.code(),
        Some(0),
        "the run itself succeeds: {stderr}"
    );
    assert!(
        stderr.contains("cannot open the monitoring store"),
        "{stderr}"
    );
    let spills: Vec<_> = std::fs::read_dir(directory.join(".pipewright/spill"))
        .unwrap()
        .collect();
    assert_eq!(
        spills.len(),
        1,
        "the run's records are kept in one spill file"
    );
    let first_report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(directory.join("report.json")).unwrap())
            .unwrap();
    let first_run = first_report["run_id"].as_str().unwrap().to_owned();

    // A copy of the file, as if a replay had died before deleting it: replaying it again
    // must not duplicate the run. And a file some other pipewright still writes (locked):
    // it must be left alone.
    let spill = spills[0].as_ref().unwrap().path();
    let name = spill.file_name().unwrap().to_string_lossy().into_owned();
    let key = name.split('-').next().unwrap().to_owned();
    let duplicate = directory.join(format!(
        ".pipewright/spill/{key}-99990101T000000.000000Z-1.jsonl"
    ));
    let live = directory.join(format!(
        ".pipewright/spill/{key}-99990101T000001.000000Z-2.jsonl"
    ));
    std::fs::copy(&spill, &duplicate).unwrap();
    std::fs::copy(&spill, &live).unwrap();
    let held = nix::fcntl::Flock::lock(
        std::fs::File::open(&live).unwrap(),
        nix::fcntl::FlockArg::LockExclusiveNonblock,
    )
    .unwrap();

    // The store is back: the next run replays the first run's records into it.
    std::fs::remove_file(directory.join("state")).unwrap();
    std::fs::remove_file(directory.join("tried")).unwrap();
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["run", "pipeline.toml"])
        .current_dir(&directory)
        .output()
        .unwrap();
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let left: Vec<String> = std::fs::read_dir(directory.join(".pipewright/spill"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        left,
        [live.file_name().unwrap().to_string_lossy().into_owned()],
        "replayed files are deleted, the live one stays"
    );
    drop(held);

    let database = TestDatabase::sqlite_file(&directory.join("state/store.db"));
    assert_eq!(database.count("SELECT COUNT(*) FROM pipeline_runs"), 2);
    assert_eq!(
        database.count(&format!(
            "SELECT COUNT(*) FROM logs WHERE run_id = '{first_run}' AND level = 'WARN' AND message LIKE 'attempt failed, retrying%'"
        )),
        2,
        "the first run's retry warning reached the logs table, once from each copy of the file: \
         rows without a key are not deduplicated (documented)"
    );
    assert_eq!(
        database.count(&format!(
            "SELECT COUNT(*) FROM step_runs WHERE run_id = '{first_run}'"
        )),
        1
    );
    assert_eq!(
        database.strings(&format!(
            "SELECT status FROM pipeline_runs WHERE run_id = '{first_run}'"
        ))[0]
            .as_deref(),
        Some("succeeded")
    );
    drop(builder);
}
