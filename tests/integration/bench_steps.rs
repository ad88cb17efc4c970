//! The `bench` step on SQLite, PostgreSQL and MariaDB: every workload measures and records
//! its samples; a baseline comparison passes within tolerance and fails beyond it (on a query
//! deliberately slowed, not on timing assumptions); `--update-baseline` round-trips.

use crate::common::{Outcome, Pipewright, header};
use crate::servers::{Engine, TestDatabase, engine_test};

fn manifest(database: &TestDatabase, steps: &str) -> String {
    format!(
        "{}\n[connections.db]\nurl = \"{}\"\n{steps}",
        header("benchmarks", 1),
        database.url
    )
}

/// The bench report of the `index`-th step of a run report.
fn bench_of(outcome: &Outcome, index: usize) -> serde_json::Value {
    outcome.report()["steps"][index]["details"]["bench"].clone()
}

fn metric(bench: &serde_json::Value, name: &str) -> serde_json::Value {
    bench["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|metric| metric["name"] == name)
        .unwrap_or_else(|| panic!("no metric {name} in {bench}"))
        .clone()
}

engine_test!(
    every_workload_measures_and_records_its_samples,
    |database| {
        let steps = r#"
[steps.table]
kind = "sql"
connection = "db"
transaction = false
sql = "CREATE TABLE numbers (id BIGINT PRIMARY KEY, label VARCHAR(20)); INSERT INTO numbers VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four')"

[steps.connect]
kind = "bench"
connection = "db"
workload = { kind = "connect", warmup = 1, iterations = 3 }

[steps.insert]
kind = "bench"
connection = "db"
workload = { kind = "insert", rows = 50, batch_rows = 7, warmup = 0, iterations = 2 }

[steps.custom_insert]
kind = "bench"
connection = "db"
workload = { kind = "insert", rows = 20, methods = ["batch", "bulk"], table = "scratch", columns = { code = "VARCHAR(12)", amount = "DECIMAL(10,2)", seen = "TIMESTAMP", flag = "BOOLEAN", ratio = "DOUBLE PRECISION" }, warmup = 0, iterations = 1 }

[steps.query]
kind = "bench"
after = ["table"]
connection = "db"
workload = { kind = "query", sql = "SELECT id, label FROM numbers WHERE id >= ? ORDER BY id", params_range = { from = 1, to = 4 }, clients = 2, warmup = 2, iterations = 20 }
"#;
        let project = Pipewright::new().manifest(&manifest(database, steps));
        let outcome = project.run_with(&["run", "pipeline.toml", "--report", "report.json"]);
        outcome.assert_code(0);

        let connect = bench_of(&outcome, 1);
        assert_eq!(connect["database_type"], database.engine.name());
        assert!(metric(&connect, "connect_ms")["now"].as_f64().unwrap() > 0.0);
        let insert = bench_of(&outcome, 2);
        for method in ["row", "transaction", "batch", "bulk"] {
            let millis = metric(&insert, &format!("insert_{method}_ms"))["now"]
                .as_f64()
                .unwrap();
            let rate = metric(&insert, &format!("insert_{method}_rows_per_sec"))["now"]
                .as_f64()
                .unwrap();
            assert!(
                millis > 0.0 && rate > 0.0,
                "{method}: {millis} ms, {rate}/s"
            );
            assert!(
                (rate * millis / 1000.0 - 50.0).abs() < 0.5,
                "the rate is the rows over the median"
            );
        }
        let query = bench_of(&outcome, 4);
        let p50 = metric(&query, "query_p50_ms")["now"].as_f64().unwrap();
        let p99 = metric(&query, "query_p99_ms")["now"].as_f64().unwrap();
        let max = metric(&query, "query_max_ms")["now"].as_f64().unwrap();
        assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{query}");
        assert_eq!(metric(&query, "query_p50_ms")["verdict"], "new");
        assert_eq!(metric(&query, "query_max_ms")["verdict"], "new");

        // Every measured repetition is a row of `performance_metrics`; warm-ups are not.
        let store = TestDatabase::sqlite_file(&project.path().join(".pipewright/monitoring.db"));
        let samples = |operation: &str| {
            store.count(&format!(
            "SELECT COUNT(*) FROM performance_metrics WHERE operation = '{operation}' AND database_type = '{}' AND success",
            database.engine.name()
        ))
        };
        assert_eq!(samples("bench:connect"), 3);
        assert_eq!(samples("bench:insert:row"), 2);
        assert_eq!(samples("bench:insert:bulk"), 2 + 1);
        assert_eq!(samples("bench:query"), 20);
        assert_eq!(
        store.count("SELECT COUNT(*) FROM performance_metrics WHERE operation = 'bench:insert:batch' AND rows_affected = 50 AND table_name = 'pipewright_bench_insert'"),
        2
    );
        assert_eq!(
            store.count(
                "SELECT MIN(rows_affected) FROM performance_metrics WHERE operation = 'bench:query'"
            ),
            1,
            "the rows a query returned"
        );
        // The scratch tables are gone; the results of the run are kept.
        for table in ["pipewright_bench_insert", "scratch"] {
            assert_eq!(
                database.try_count(&format!("SELECT COUNT(*) FROM {table}")),
                None,
                "{table} was dropped"
            );
        }
        let results: serde_json::Value =
            serde_json::from_str(&outcome.read(".pipewright/bench/benchmarks.json")).unwrap();
        assert!(
            results["steps"]["query"][database.engine.name()]["metrics"]["query_per_sec"]
                .as_f64()
                .unwrap()
                > 0.0
        );
        assert!(
            outcome.stderr.contains("benchmarks (all results in"),
            "{}",
            outcome.stderr
        );
    }
);

/// A statement that takes about `millis` milliseconds on `engine`: the server sleeps
/// (PostgreSQL, MariaDB), or SQLite counts, proportionally.
fn slow_statement(engine: Engine, millis: u32) -> String {
    match engine {
        Engine::Postgres => format!("SELECT pg_sleep({})", f64::from(millis) / 1000.0),
        Engine::MySql => format!("SELECT SLEEP({})", f64::from(millis) / 1000.0),
        Engine::Sqlite => format!(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {}) SELECT COUNT(*) FROM c",
            millis * 5_000
        ),
    }
}

fn gated_query(database: &TestDatabase, millis: u32) -> String {
    manifest(
        database,
        &format!(
            r#"
[steps.slow]
kind = "bench"
connection = "db"
workload = {{ kind = "query", sql = "{}", warmup = 1, iterations = 5 }}
baseline = "baselines/bench.json"
tolerance = 100
"#,
            slow_statement(database.engine, millis)
        ),
    )
}

engine_test!(
    the_baseline_gate_passes_within_tolerance_and_fails_beyond,
    |database| {
        // Another step's entry, which updating this step's must keep as it is.
        let other = r#"{
  "format": 1,
  "steps": {
    "another": {
      "mysql": {
        "workload": "connect",
        "database_type": "mysql",
        "iterations": 3,
        "measured_at": "2026-01-01T00:00:00Z",
        "pipewright": "0.0.1",
        "metrics": {
          "connect_ms": 1.5
        }
      }
    }
  }
}
"#;
        let project = Pipewright::new()
            .manifest(&gated_query(database, 40))
            .file("baselines/bench.json", other);
        project
            .run_with(&["bench", "pipeline.toml", "--update-baseline"])
            .assert_code(0);
        let recorded: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(project.path().join("baselines/bench.json")).unwrap(),
        )
        .unwrap();
        let entry = &recorded["steps"]["slow"][database.engine.name()];
        assert_eq!(entry["workload"], "query");
        assert_eq!(entry["iterations"], 5);
        assert!(
            entry["metrics"]["query_p50_ms"].as_f64().unwrap() >= 10.0,
            "{entry}"
        );
        assert_eq!(
            recorded["steps"]["another"],
            serde_json::from_str::<serde_json::Value>(other).unwrap()["steps"]["another"],
            "other entries are kept"
        );

        // The same query again: within tolerance.
        let same = project.run_with(&[
            "bench",
            "pipeline.toml",
            "--report",
            "report.json",
            "--bench-markdown",
            "bench.md",
        ]);
        same.assert_code(0);
        let bench = bench_of(&same, 0);
        assert_eq!(metric(&bench, "query_p50_ms")["verdict"], "pass");
        assert_eq!(
            metric(&bench, "query_p99_ms")["verdict"],
            "info",
            "not gated"
        );
        assert!(
            same.read("bench.md")
                .contains("No regression beyond tolerance.")
        );

        // Five times slower: a regression, with its own exit code.
        std::fs::write(
            project.path().join("pipeline.toml"),
            gated_query(database, 200),
        )
        .unwrap();
        let slower = project.run_with(&[
            "bench",
            "pipeline.toml",
            "--report",
            "report.json",
            "--bench-markdown",
            "bench.md",
        ]);
        slower.assert_code(5);
        let bench = bench_of(&slower, 0);
        assert_eq!(metric(&bench, "query_p50_ms")["verdict"], "regressed");
        assert_eq!(metric(&bench, "query_per_sec")["verdict"], "regressed");
        assert!(
            metric(&bench, "query_p50_ms")["change_percent"]
                .as_f64()
                .unwrap()
                > 100.0
        );
        assert_eq!(slower.report()["steps"][0]["failure"], "regression");
        assert!(
            slower
                .stderr
                .contains("worse than the baseline beyond its tolerance: query_p50_ms")
                && slower.stderr.contains("pipewright bench --update-baseline"),
            "{}",
            slower.stderr
        );
        let markdown = slower.read("bench.md");
        assert!(
            markdown.contains("| slow | ") && markdown.contains("**REGRESSED (±100%)**"),
            "{markdown}"
        );

        // Accepting the slower query as the new baseline: the gate passes again.
        project
            .run_with(&["bench", "pipeline.toml", "--update-baseline"])
            .assert_code(0);
        project.run_with(&["bench", "pipeline.toml"]).assert_code(0);
    }
);

#[test]
fn bench_runs_only_bench_steps_and_what_they_need() {
    let database = TestDatabase::create(Engine::Sqlite, "bench_selection").unwrap();
    let steps = r#"
[steps.prepare]
kind = "command"
shell = "touch prepared"

[steps.unrelated]
kind = "command"
shell = "touch unrelated"

[steps.measure]
kind = "bench"
after = ["prepare"]
connection = "db"
workload = { kind = "connect", iterations = 2 }
"#;
    let project = Pipewright::new().manifest(&manifest(&database, steps));
    project.run_with(&["bench", "pipeline.toml"]).assert_code(0);
    assert!(project.path().join("prepared").exists());
    assert!(!project.path().join("unrelated").exists());
}

#[test]
fn mistakes_in_bench_steps_point_at_their_lines() {
    let steps = r#"
[steps.a]
kind = "bench"
connection = "db"
workload = { kind = "query", sql = "SELECT 1", rows = 10 }
tolerances = { query_p59_ms = 10 }

[steps.b]
kind = "bench"
connection = "db"
workload = { kind = "insert", methods = ["rows", "bulk"], columns = { id = "BIGINT", shape = "GEOMETRY" } }
tolerance = -5
"#;
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}\n[connections.db]\nurl = \"postgres://postgres@127.0.0.1:5432/never_opened\"\n{steps}",
            header("mistakes", 1)
        ))
        .args(["check", "pipeline.toml"])
        .run();
    outcome.assert_code(2);
    let stderr = outcome.stderr_normalized();
    for expected in [
        "`rows` belongs to `insert` workloads, not `query`",
        "this workload has no metric",
        "did you mean `query_p50_ms`",
        "unknown insert method `rows`",
        "did you mean `row`",
        "`GEOMETRY` on postgres",
        "a tolerance is a percentage of zero or more",
        "pipeline.toml:11:55",
        "pipeline.toml:12:31",
        "pipeline.toml:17:42",
        "pipeline.toml:17:94",
        "pipeline.toml:18:13",
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }
}
