//! The `validate` step on SQLite, PostgreSQL and MariaDB: every check kind passing and
//! failing, with NULLs and unicode; thresholds and severities; the store's rows and alerts;
//! reconciliation between every pair of engines.

use crate::common::{Outcome, Pipewright, header};
use crate::servers::{Engine, TestDatabase, engine_test};

/// The daily bars with a reference table and an identical copy, in `engine`'s SQL.
fn bars(database: &TestDatabase) {
    let (timestamp, now) = match database.engine {
        Engine::Postgres => ("TIMESTAMP", "CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP)"),
        Engine::MySql => ("DATETIME(6)", "UTC_TIMESTAMP(6)"),
        Engine::Sqlite => ("TIMESTAMP", "datetime('now')"),
    };
    database.execute(&format!(
        "CREATE TABLE bars (id BIGINT PRIMARY KEY, symbol VARCHAR(16), trade_date DATE, close DECIMAL(12, 4), status VARCHAR(10), note VARCHAR(50), loaded_at {timestamp})"
    ));
    database.execute(&format!(
        "INSERT INTO bars VALUES (1, '600519', '2025-01-02', 1488.0, 'open', 'Kweichow 茅台', {now}), (2, '000001', '2025-01-02', 11.43, 'closed', NULL, {now}), (3, '300750', '2025-01-03', 258.66, 'open', '🙂', {now})"
    ));
    database.execute("CREATE TABLE symbols (symbol VARCHAR(16) PRIMARY KEY)");
    database.execute("INSERT INTO symbols VALUES ('600519'), ('000001'), ('300750')");
    database.execute(&format!(
        "CREATE TABLE bars_copy (id BIGINT PRIMARY KEY, symbol VARCHAR(16), trade_date DATE, close DECIMAL(12, 4), status VARCHAR(10), note VARCHAR(50), loaded_at {timestamp})"
    ));
    database.execute("INSERT INTO bars_copy SELECT * FROM bars");
}

const CHECKS: &str = r#"
[steps.check_bars]
kind = "validate"
connection = "db"
table = "bars"
checks = [
  { kind = "row_count", equals = 3 },
  { kind = "row_count", same_as = { connection = "db", table = "symbols" } },
  { kind = "not_null", columns = ["symbol", "trade_date"] },
  { kind = "unique", columns = ["symbol", "trade_date"] },
  { kind = "accepted_values", column = "status", values = ["open", "closed"] },
  { kind = "range", column = "close", min = 0, max = 10000 },
  { kind = "regex", column = "symbol", pattern = "^[0-9]{6}$" },
  { kind = "freshness", column = "loaded_at", max_age = "1h" },
  { kind = "relationship", column = "symbol", references = { table = "symbols" } },
  { kind = "sql", name = "no negative close", sql = "SELECT * FROM bars WHERE close < 0" },
  { kind = "sql", name = "highest close", sql = "SELECT MAX(close) FROM bars", max = 2000 },
  { kind = "schema", columns = ["id", "note"], types = { close = "decimal", trade_date = "date", symbol = "text" } },
  { kind = "reconcile", with = { connection = "db", table = "bars_copy" }, key = ["id"] },
]
"#;

fn run(database: &TestDatabase, steps: &str) -> Outcome {
    Pipewright::new()
        .manifest(&format!(
            "{}\n[connections.db]\nurl = \"{}\"\n{steps}",
            header("validations", 1),
            database.url
        ))
        .args([
            "run",
            "pipeline.toml",
            "--report",
            "report.json",
            "--junit",
            "junit.xml",
        ])
        .run()
}

/// The outcome of each check, by name: (status, failing rows).
fn statuses(outcome: &Outcome) -> Vec<(String, String, Option<u64>)> {
    outcome.report()["steps"][0]["details"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|check| {
            (
                check["name"].as_str().unwrap().to_owned(),
                check["status"].as_str().unwrap().to_owned(),
                check["failing_rows"].as_u64(),
            )
        })
        .collect()
}

fn status_of<'a>(
    statuses: &'a [(String, String, Option<u64>)],
    name: &str,
) -> (&'a str, Option<u64>) {
    let (_, status, failing) = statuses
        .iter()
        .find(|(check, _, _)| check == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {statuses:?}"));
    (status.as_str(), *failing)
}

engine_test!(
    every_check_passes_on_good_data_and_fails_on_bad,
    |database| {
        bars(database);
        let good = run(database, CHECKS);
        good.assert_code(0);
        let passed = statuses(&good);
        assert_eq!(passed.len(), 13);
        assert!(
            passed.iter().all(|(_, status, _)| status == "passed"),
            "{passed:?}"
        );
        let junit = good.read("junit.xml");
        assert!(
            junit.contains("tests=\"14\" failures=\"0\""),
            "the step and its 13 checks: {junit}"
        );
        assert!(
        junit.contains("<testcase name=\"not_null(symbol, trade_date)\" classname=\"validations.validate.check_bars\""),
        "{junit}"
    );
        assert!(
            junit.contains("<testcase name=\"check_bars\" classname=\"validations.validate\""),
            "{junit}"
        );

        // A NULL symbol, a duplicate key, a status, a negative close, a symbol that is neither six
        // digits nor known.
        database.execute("INSERT INTO bars (id, symbol, trade_date, close, status) VALUES (4, NULL, '2025-01-02', -5, 'weird'), (5, '000001', '2025-01-02', 12, 'open'), (6, 'ABC', '2025-01-04', 1, 'open')");
        let bad = run(database, CHECKS);
        bad.assert_code(1);
        let failed = statuses(&bad);
        assert_eq!(status_of(&failed, "row_count"), ("failed", None));
        assert_eq!(
            status_of(&failed, "row_count(same as db.symbols)").0,
            "failed"
        );
        assert_eq!(
            status_of(&failed, "not_null(symbol, trade_date)"),
            ("failed", Some(1))
        );
        assert_eq!(
            status_of(&failed, "unique(symbol, trade_date)"),
            ("failed", Some(2)),
            "rows 2 and 5 share a key; the NULL symbol is not a duplicate"
        );
        assert_eq!(
            status_of(&failed, "accepted_values(status)"),
            ("failed", Some(1))
        );
        assert_eq!(status_of(&failed, "range(close)"), ("failed", Some(1)));
        assert_eq!(status_of(&failed, "regex(symbol)"), ("failed", Some(1)));
        assert_eq!(status_of(&failed, "freshness(loaded_at)").0, "passed");
        assert_eq!(
            status_of(&failed, "relationship(symbol)"),
            ("failed", Some(1))
        );
        assert_eq!(status_of(&failed, "no negative close"), ("failed", Some(1)));
        assert_eq!(status_of(&failed, "highest close").0, "passed");
        assert_eq!(status_of(&failed, "schema").0, "passed");
        assert_eq!(
            status_of(&failed, "reconcile(with db.bars_copy)"),
            ("failed", Some(3))
        );
        let report = bad.report();
        let checks = report["steps"][0]["details"]["checks"].as_array().unwrap();
        let not_null = checks
            .iter()
            .find(|check| check["name"] == "not_null(symbol, trade_date)")
            .unwrap();
        assert_eq!(
            not_null["samples"][0]["id"], "4",
            "the failing row is shown"
        );
        assert_eq!(not_null["samples"][0]["symbol"], serde_json::Value::Null);
        assert!(
            bad.stderr.contains(
                "failed not_null(symbol, trade_date): 1 of 6 rows have NULL in (symbol, trade_date)"
            ),
            "{}",
            bad.stderr
        );
    }
);

engine_test!(warnings_and_thresholds_let_the_run_go_on, |database| {
    bars(database);
    database.execute("INSERT INTO bars (id, symbol) VALUES (7, NULL)");
    let outcome = run(
        database,
        r#"
[steps.check_bars]
kind = "validate"
connection = "db"
table = "bars"
checks = [
  { kind = "not_null", columns = ["symbol"], severity = "warn" },
  { kind = "not_null", name = "one NULL allowed", columns = ["symbol"], max_failing_rows = 1 },
  { kind = "not_null", name = "a quarter allowed", columns = ["trade_date"], max_failing_ratio = 0.25 },
]

[steps.after]
kind = "command"
run = ["true"]
after = ["check_bars"]
"#,
    );
    outcome.assert_code(0);
    let found = statuses(&outcome);
    assert_eq!(status_of(&found, "not_null(symbol)"), ("warned", Some(1)));
    assert_eq!(status_of(&found, "one NULL allowed"), ("passed", Some(1)));
    assert_eq!(status_of(&found, "a quarter allowed"), ("passed", Some(1)));
    assert_eq!(outcome.report()["steps"][1]["status"], "succeeded");
    let junit = outcome.read("junit.xml");
    assert!(
        junit.contains("failures=\"0\""),
        "a warning fails no test case: {junit}"
    );
    assert!(
        junit.contains("<system-out>warning: 1 of 4 rows have NULL in (symbol)"),
        "{junit}"
    );
});

engine_test!(failures_raise_one_alert_until_they_pass_again, |database| {
    bars(database);
    let steps = r#"
[steps.check_bars]
kind = "validate"
connection = "db"
table = "bars"
checks = [{ kind = "range", column = "close", max = 1000, severity = "warn" }]
"#;
    let project = Pipewright::new().manifest(&format!(
        "{}\n[connections.db]\nurl = \"{}\"\n{steps}",
        header("alerts", 1),
        database.url
    ));
    project.run_with(&["run", "pipeline.toml"]).assert_code(0);
    project.run_with(&["run", "pipeline.toml"]).assert_code(0);
    let store = TestDatabase::sqlite_file(&project.path().join(".pipewright/monitoring.db"));
    assert_eq!(
        store.count("SELECT COUNT(*) FROM data_quality_checks WHERE check_type = 'range' AND status = 'warned'"),
        2,
        "every run records its check"
    );
    assert_eq!(
        store.count("SELECT COUNT(*) FROM alerts WHERE resolved = FALSE"),
        1,
        "one alert while the check keeps failing"
    );
    let message = store.strings("SELECT message FROM alerts")[0]
        .clone()
        .unwrap();
    assert!(
        message.contains("range(close)") && message.contains("1 of 3 rows"),
        "{message}"
    );
    database.execute("UPDATE bars SET close = 999 WHERE close > 1000");
    project.run_with(&["run", "pipeline.toml"]).assert_code(0);
    assert_eq!(
        store.count("SELECT COUNT(*) FROM alerts WHERE resolved = FALSE"),
        0
    );
    assert_eq!(
        store.count("SELECT COUNT(*) FROM alerts WHERE resolved = TRUE"),
        1
    );
});

engine_test!(plan_shows_each_check_and_its_sql, |database| {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}\n[connections.db]\nurl = \"{}\"\n{CHECKS}",
            header("validations", 1),
            database.url
        ))
        .args(["plan", "pipeline.toml"])
        .run();
    outcome.assert_code(0);
    assert!(
        outcome
            .stdout
            .contains("-- check not_null(symbol, trade_date) (error)"),
        "{}",
        outcome.stdout
    );
    assert!(outcome.stdout.contains("IS NULL OR"), "{}", outcome.stdout);
});

#[test]
fn extensions_are_checked_on_postgres_and_refused_elsewhere() {
    let Some(database) = TestDatabase::create(Engine::Postgres, "extension") else {
        return;
    };
    database.execute("CREATE TABLE t (id INTEGER)");
    let outcome = run(
        &database,
        r#"
[steps.check]
kind = "validate"
connection = "db"
table = "t"
checks = [
  { kind = "extension", extension = "plpgsql", min_version = "1.0" },
  { kind = "extension", name = "too new", extension = "plpgsql", min_version = "99", severity = "warn" },
  { kind = "extension", name = "absent", extension = "timescaledb", severity = "warn" },
]
"#,
    );
    outcome.assert_code(0);
    let found = statuses(&outcome);
    assert_eq!(status_of(&found, "extension(plpgsql)").0, "passed");
    assert_eq!(status_of(&found, "too new").0, "warned");
    assert_eq!(status_of(&found, "absent").0, "warned");

    let sqlite = TestDatabase::create(Engine::Sqlite, "extension").unwrap();
    let refused = Pipewright::new()
        .manifest(&format!(
            "{}\n[connections.db]\nurl = \"{}\"\n\n[steps.check]\nkind = \"validate\"\nconnection = \"db\"\ntable = \"t\"\nchecks = [{{ kind = \"extension\", extension = \"timescaledb\" }}]\n",
            header("extension", 1),
            sqlite.url
        ))
        .args(["check", "pipeline.toml"])
        .run();
    refused.assert_code(2);
    assert!(
        refused
            .stderr
            .contains("an `extension` check does not apply to sqlite"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_check_that_cannot_run_fails_whatever_its_severity() {
    let database = TestDatabase::create(Engine::Sqlite, "broken_check").unwrap();
    bars(&database);
    let outcome = run(
        &database,
        r#"
[steps.check_bars]
kind = "validate"
connection = "db"
table = "bars"
checks = [{ kind = "not_null", columns = ["symbl"], severity = "warn" }]
"#,
    );
    outcome.assert_code(1);
    let found = statuses(&outcome);
    assert_eq!(status_of(&found, "not_null(symbl)").0, "failed");
    assert!(
        outcome
            .stderr
            .contains("could not run: `symbl` is not a column of `bars`; did you mean `symbol`?"),
        "{}",
        outcome.stderr
    );
}

/// `check`'s errors for the steps in `steps`, which must be refused.
fn refused(steps: &str) -> String {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}\n[connections.db]\nurl = \"sqlite://db.sqlite\"\n{steps}",
            header("refused", 1)
        ))
        .args(["check", "pipeline.toml"])
        .run();
    outcome.assert_code(2);
    outcome.stderr.clone()
}

#[test]
fn mistakes_in_checks_point_at_their_lines() {
    let stderr = refused(
        "\n[steps.check]\nkind = \"validate\"\nconnection = \"db\"\ntable = \"t\"\nchecks = [\n  { kind = \"not_null\", columns = [\"a\"], inclusive = false },\n]\n",
    );
    assert!(
        stderr.contains("`inclusive` does not apply to a `not_null` check"),
        "{stderr}"
    );
    let line = header("refused", 1).lines().count() + 10;
    assert!(
        stderr.contains(&format!("pipeline.toml:{line}:53]")),
        "the error points at `inclusive`, line {line}: {stderr}"
    );

    let stderr = refused(
        "\n[steps.check]\nkind = \"validate\"\nconnection = \"db\"\ntable = \"t\"\nchecks = [\n  { kind = \"row_count\", same_as = { connection = \"db\", table = \"u\" }, equals = 3 },\n]\n",
    );
    assert!(
        stderr.contains("`same_as` and `equals`/`min`/`max` cannot both be set"),
        "{stderr}"
    );

    let stderr = refused(
        "\n[steps.check]\nkind = \"validate\"\nconnection = \"db\"\ntable = \"t\"\nchecks = [\n  { kind = \"not_null\", columns = [\"a\"] },\n  { kind = \"not_null\" },\n  { kind = \"unique\", columns = [\"a\"], name = \"not_null(a)\" },\n]\n",
    );
    assert!(
        stderr.contains("checks 0 and 2 of `steps.check` are both named `not_null(a)`"),
        "positions are the manifest's, whatever failed in between: {stderr}"
    );
}

#[test]
fn keys_of_another_kind_are_refused_with_the_keys_that_apply() {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}\n[connections.db]\nurl = \"sqlite://db.sqlite\"\n\n[steps.check]\nkind = \"validate\"\nconnection = \"db\"\ntable = \"t\"\nchecks = [{{ kind = \"not_null\", columns = [\"a\"], pattern = \"x\" }}]\n",
            header("keys", 1)
        ))
        .args(["check", "pipeline.toml"])
        .run();
    outcome.assert_code(2);
    assert!(
        outcome
            .stderr
            .contains("`pattern` does not apply to a `not_null` check"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome
            .stderr
            .contains("a `not_null` check takes `columns`"),
        "{}",
        outcome.stderr
    );
}

/// The same bars on two engines, written the way each writes them.
fn reconcile_pair(source: &TestDatabase, other: &TestDatabase) -> Outcome {
    for database in [source, other] {
        let (price, stamp) = match database.engine {
            Engine::Postgres => ("DOUBLE PRECISION", "TIMESTAMP(3)"),
            Engine::MySql => ("DECIMAL(12, 4)", "DATETIME(6)"),
            Engine::Sqlite => ("REAL", "TIMESTAMP"),
        };
        database.execute(&format!(
            "CREATE TABLE bars (symbol VARCHAR(16), trade_date DATE, close {price}, note VARCHAR(40), seen {stamp}, PRIMARY KEY (symbol, trade_date))"
        ));
        database.execute("INSERT INTO bars VALUES ('000001', '2025-01-02', 11.43, 'é', '2025-01-02 03:04:05.120'), ('600519', '2025-01-02', 1488, NULL, '2025-01-02 03:04:05'), ('Zed', '2025-01-02', 0.5, '🙂', NULL), ('abc', '2025-01-03', 2, '', '2025-01-03 00:00:00')");
    }
    Pipewright::new()
        .manifest(&format!(
            "{}\n[connections.db]\nurl = \"{}\"\n\n[connections.other]\nurl = \"{}\"\n\n[steps.check]\nkind = \"validate\"\nconnection = \"db\"\ntable = \"bars\"\nchecks = [{{ kind = \"reconcile\", with = {{ connection = \"other\", table = \"bars\" }}, key = [\"symbol\", \"trade_date\"] }}]\n",
            header("reconcile", 1),
            source.url,
            other.url
        ))
        .args(["run", "pipeline.toml", "--report", "report.json"])
        .run()
}

fn reconcile_between(from: Engine, to: Engine) {
    let Some(source) = TestDatabase::create(from, "reconcile_source") else {
        return;
    };
    let Some(other) = TestDatabase::create(to, "reconcile_other") else {
        return;
    };
    let same = reconcile_pair(&source, &other);
    same.assert_code(0);
    // One changed value, one missing row, one extra row.
    other.execute("UPDATE bars SET close = 11.44 WHERE symbol = '000001'");
    other.execute("DELETE FROM bars WHERE symbol = 'Zed'");
    other.execute("INSERT INTO bars VALUES ('new', '2025-01-05', 1, NULL, NULL)");
    let project = Pipewright::new().manifest(&format!(
        "{}\n[connections.db]\nurl = \"{}\"\n\n[connections.other]\nurl = \"{}\"\n\n[steps.check]\nkind = \"validate\"\nconnection = \"db\"\ntable = \"bars\"\nchecks = [{{ kind = \"reconcile\", with = {{ connection = \"other\", table = \"bars\" }}, key = [\"symbol\", \"trade_date\"] }}]\n",
        header("reconcile", 1),
        source.url,
        other.url
    ));
    let differ = project.run_with(&["run", "pipeline.toml", "--report", "report.json"]);
    differ.assert_code(1);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project.path().join("report.json")).unwrap())
            .unwrap();
    let check = &report["steps"][0]["details"]["checks"][0];
    assert_eq!(
        check["differences"],
        serde_json::json!({ "only_here": 1, "only_there": 1, "changed": 1 }),
        "{check}"
    );
    let changed = check["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|sample| sample["difference"] == "changed")
        .unwrap();
    assert_eq!(changed["symbol"], "000001");
    assert_eq!(changed["columns"]["close"]["here"], "11.43");
    assert_eq!(changed["columns"]["close"]["there"], "11.44");
    assert!(
        changed["columns"].get("seen").is_none(),
        "the same time written with other precisions is equal: {changed}"
    );
}

#[test]
fn reconcile_postgres_with_mysql() {
    reconcile_between(Engine::Postgres, Engine::MySql);
}

#[test]
fn reconcile_mysql_with_sqlite() {
    reconcile_between(Engine::MySql, Engine::Sqlite);
}

#[test]
fn reconcile_sqlite_with_postgres() {
    reconcile_between(Engine::Sqlite, Engine::Postgres);
}

#[test]
fn reconcile_mysql_with_postgres() {
    reconcile_between(Engine::MySql, Engine::Postgres);
}

#[test]
fn reconcile_sqlite_with_mysql() {
    reconcile_between(Engine::Sqlite, Engine::MySql);
}

#[test]
fn reconcile_postgres_with_sqlite() {
    reconcile_between(Engine::Postgres, Engine::Sqlite);
}

/// Five thousand rows keyed by an integer, each engine's types spelling the same values
/// differently: `numeric(12,4)` and `DECIMAL(18,6)`, `TIMESTAMP(3)` and `DATETIME(6)`.
fn numbered(database: &TestDatabase) {
    let digits = |name: &str, top: u32| {
        format!(
            "(SELECT 0 AS d{} ) AS {name}",
            (1..top)
                .map(|digit| format!(" UNION ALL SELECT {digit}"))
                .collect::<Vec<_>>()
                .concat()
        )
    };
    let numbers = format!(
        "(SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 1 AS n FROM {}, {}, {}, {}) AS s",
        digits("a", 10),
        digits("b", 10),
        digits("c", 10),
        digits("e", 5)
    );
    let (columns, values) = match database.engine {
        Engine::Postgres => (
            "id BIGINT PRIMARY KEY, price NUMERIC(12, 4), day DATE, seen TIMESTAMP(3), note VARCHAR(40), open BOOLEAN",
            "n, n * 1.25, DATE '2025-01-01' + n, TIMESTAMP '2025-01-01 00:00:00.5' + n * INTERVAL '1 second', CASE WHEN n % 7 = 0 THEN NULL ELSE CONCAT('茅台 ', n) END, n % 2 = 0",
        ),
        _ => (
            "id BIGINT PRIMARY KEY, price DECIMAL(18, 6), day DATE, seen DATETIME(6), note VARCHAR(40), open BOOLEAN",
            "n, n * 1.25, DATE_ADD('2025-01-01', INTERVAL n DAY), TIMESTAMP('2025-01-01 00:00:00.5') + INTERVAL n SECOND, CASE WHEN n % 7 = 0 THEN NULL ELSE CONCAT('茅台 ', n) END, n % 2 = 0",
        ),
    };
    database.execute(&format!("CREATE TABLE numbered ({columns})"));
    database.execute(&format!(
        "INSERT INTO numbered SELECT {values} FROM {numbers}"
    ));
}

/// The reconciliation's check in the report, after a run between `source` and `other`.
fn reconcile_numbered(source: &TestDatabase, other: &TestDatabase, code: i32) -> serde_json::Value {
    reconcile_numbered_on(source, other, r#"["id"]"#, code)
}

/// The reconciliation's check on `key` (a TOML array) in the report.
fn reconcile_numbered_on(
    source: &TestDatabase,
    other: &TestDatabase,
    key: &str,
    code: i32,
) -> serde_json::Value {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}\n[connections.db]\nurl = \"{}\"\n\n[connections.other]\nurl = \"{}\"\n\n[steps.check]\nkind = \"validate\"\nconnection = \"db\"\ntable = \"numbered\"\nchecks = [{{ kind = \"reconcile\", with = {{ connection = \"other\", table = \"numbered\" }}, key = {key} }}]\n",
            header("narrow", 1),
            source.url,
            other.url
        ))
        .args(["run", "pipeline.toml", "--report", "report.json"])
        .run();
    outcome.assert_code(code);
    outcome.report()["steps"][0]["details"]["checks"][0].clone()
}

/// Two databases named after `name`, on `from` and `to`, each with the same `numbered`
/// table; `None` when an engine is not available.
fn numbered_pair(from: Engine, to: Engine, name: &str) -> Option<(TestDatabase, TestDatabase)> {
    let source = TestDatabase::create(from, &format!("{name}_source"))?;
    let other = TestDatabase::create(to, &format!("{name}_other"))?;
    numbered(&source);
    numbered(&other);
    Some((source, other))
}

fn reconcile_narrows_down(from: Engine, to: Engine) {
    let Some((source, other)) = numbered_pair(from, to, "narrow") else {
        return;
    };
    let same = reconcile_numbered(&source, &other, 0);
    let message = same["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "5000 rows of `numbered` and 5000 of `other`.numbered hold the same keys and values"
        ) && message.contains(
            "0 of 250 key ranges differed by count or checksum; only their 0 and 0 rows were read"
        ),
        "equal tables are compared without reading a row: {message}"
    );

    other.execute("UPDATE numbered SET price = 1.5 WHERE id = 1000");
    other.execute("UPDATE numbered SET note = NULL WHERE id = 2000");
    other.execute("DELETE FROM numbered WHERE id = 3000");
    source.execute("DELETE FROM numbered WHERE id = 4000");
    let differ = reconcile_numbered(&source, &other, 1);
    assert_eq!(
        differ["differences"],
        serde_json::json!({ "only_here": 1, "only_there": 1, "changed": 2 }),
        "{differ}"
    );
    let message = differ["message"].as_str().unwrap();
    assert!(
        message.contains(
            "4 of 250 key ranges differed by count or checksum; only their 79 and 79 rows were read"
        ),
        "only the ranges holding a difference are read: {message}"
    );
    let keys: Vec<&str> = differ["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sample| sample["id"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["1000", "2000", "3000", "4000"]);
    assert_eq!(differ["samples"][0]["columns"]["price"]["there"], "1.5");
}

/// A key of several columns, one of them a text: no key ranges, one checksum of each whole
/// table. Equal tables are compared without reading a row; a difference has both read whole.
fn reconcile_checksums_whole_tables_on_other_keys(from: Engine, to: Engine) {
    let Some((source, other)) = numbered_pair(from, to, "whole") else {
        return;
    };
    let key = r#"["note", "day"]"#;
    let same = reconcile_numbered_on(&source, &other, key, 0);
    let message = same["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "4286 rows of `numbered` and 4286 of `other`.numbered hold the same keys and values"
        ) && message.contains("both tables' counts and checksums agree; no row was read"),
        "equal tables are compared without reading a row: {message}"
    );

    other.execute("UPDATE numbered SET price = 1.5 WHERE id = 1000");
    other.execute("DELETE FROM numbered WHERE id = 3000");
    let differ = reconcile_numbered_on(&source, &other, key, 1);
    assert_eq!(
        differ["differences"],
        serde_json::json!({ "only_here": 1, "only_there": 0, "changed": 1 }),
        "{differ}"
    );
    let message = differ["message"].as_str().unwrap();
    assert!(
        message.contains("4286 and 4285 rows read; the tables' counts or checksums differed, so both were read whole"),
        "without key ranges, a difference has both tables read: {message}"
    );
}

#[test]
fn reconcile_checksums_whole_tables_on_other_keys_postgres_with_mysql() {
    reconcile_checksums_whole_tables_on_other_keys(Engine::Postgres, Engine::MySql);
}

#[test]
fn reconcile_checksums_whole_tables_on_other_keys_mysql_with_postgres() {
    reconcile_checksums_whole_tables_on_other_keys(Engine::MySql, Engine::Postgres);
}

#[test]
fn reconcile_checksums_whole_tables_on_other_keys_on_one_engine() {
    reconcile_checksums_whole_tables_on_other_keys(Engine::Postgres, Engine::Postgres);
    reconcile_checksums_whole_tables_on_other_keys(Engine::MySql, Engine::MySql);
}

/// A key of several columns whose first is an integer or a date is cut into ranges of that
/// column.
#[test]
fn reconcile_narrows_down_on_a_key_starting_with_an_integer_or_a_date() {
    for (case, (from, to, key)) in [
        (Engine::Postgres, Engine::MySql, r#"["id", "day"]"#),
        (Engine::MySql, Engine::Postgres, r#"["id", "day"]"#),
        (Engine::Postgres, Engine::MySql, r#"["day", "id"]"#),
        (Engine::MySql, Engine::Postgres, r#"["day", "id"]"#),
    ]
    .into_iter()
    .enumerate()
    {
        let Some((source, other)) = numbered_pair(from, to, &format!("ranged_{case}")) else {
            return;
        };
        let same = reconcile_numbered_on(&source, &other, key, 0);
        let message = same["message"].as_str().unwrap();
        assert!(
            message.contains(
                "0 of 250 key ranges differed by count or checksum; only their 0 and 0 rows were read"
            ),
            "{key}: {message}"
        );
        other.execute("UPDATE numbered SET price = 1.5 WHERE id = 1000");
        let differ = reconcile_numbered_on(&source, &other, key, 1);
        assert_eq!(
            differ["differences"],
            serde_json::json!({ "only_here": 0, "only_there": 0, "changed": 1 }),
            "{key}: {differ}"
        );
        let message = differ["message"].as_str().unwrap();
        assert!(
            message.contains(
                "1 of 250 key ranges differed by count or checksum; only their 20 and 20 rows were read"
            ),
            "{key}: only the range holding the difference is read: {message}"
        );
    }
}

#[test]
fn reconcile_narrows_down_postgres_with_mysql() {
    reconcile_narrows_down(Engine::Postgres, Engine::MySql);
}

#[test]
fn reconcile_narrows_down_mysql_with_postgres() {
    reconcile_narrows_down(Engine::MySql, Engine::Postgres);
}

#[test]
fn reconcile_narrows_down_on_one_engine() {
    reconcile_narrows_down(Engine::Postgres, Engine::Postgres);
    reconcile_narrows_down(Engine::MySql, Engine::MySql);
}

#[test]
fn text_keys_holding_numbers_merge_in_the_databases_order() {
    let database = TestDatabase::create(Engine::Sqlite, "text_keys").unwrap();
    database.execute("CREATE TABLE a (code TEXT PRIMARY KEY, v INTEGER)");
    database.execute("INSERT INTO a VALUES ('10', 1), ('9', 2)");
    database.execute("CREATE TABLE b (code TEXT PRIMARY KEY, v INTEGER)");
    database.execute("INSERT INTO b VALUES ('9', 2)");
    let outcome = run(
        &database,
        r#"
[steps.check]
kind = "validate"
connection = "db"
table = "a"
checks = [{ kind = "reconcile", with = { connection = "db", table = "b" }, key = ["code"] }]
"#,
    );
    outcome.assert_code(1);
    let check = &outcome.report()["steps"][0]["details"]["checks"][0];
    assert_eq!(
        check["differences"],
        serde_json::json!({ "only_here": 1, "only_there": 0, "changed": 0 }),
        "'10' sorts before '9' as text on both sides: {check}"
    );
}
