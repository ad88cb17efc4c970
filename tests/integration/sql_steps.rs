//! The `sql` step on SQLite, PostgreSQL and MariaDB: statements, transactions, rows, timeouts
//! that stop the query on the server.

use crate::common::{Pipewright, header};
use crate::servers::{Engine, TestDatabase, engine_test};

fn manifest(database: &TestDatabase, steps: &str) -> String {
    format!(
        "{}\n[connections.db]\nurl = \"{}\"\n{steps}",
        header("sql", 2),
        database.url
    )
}

fn run(database: &TestDatabase, steps: &str) -> crate::common::Outcome {
    Pipewright::new()
        .manifest(&manifest(database, steps))
        .args(["run", "pipeline.toml", "--report", "report.json"])
        .run()
}

engine_test!(statements_run_in_order_and_rows_are_counted, |database| {
    let outcome = run(
        database,
        r#"
[steps.schema]
kind = "sql"
connection = "db"
sql = "CREATE TABLE bars (symbol VARCHAR(16) PRIMARY KEY, note VARCHAR(100), close DECIMAL(12, 4))"

[steps.load]
kind = "sql"
connection = "db"
after = ["schema"]
sql = """
INSERT INTO bars VALUES ('600519', 'a; semicolon', 1488.00);
INSERT INTO bars VALUES ('000001', 'it''s quoted', 11.43), ('300750', '-- not a comment', 258.66);
"""

[steps.adjust]
kind = "sql"
connection = "db"
after = ["load"]
sql = "UPDATE bars SET close = close * 2 WHERE close < 1000"
"#,
    );
    outcome.assert_code(0);
    let report = outcome.report();
    assert_eq!(report["steps"][1]["id"], "load");
    assert_eq!(report["steps"][1]["rows"], 3);
    assert_eq!(report["steps"][2]["rows"], 2);
    assert_eq!(database.count("SELECT COUNT(*) FROM bars"), 3);
    let notes = database.strings("SELECT note FROM bars ORDER BY symbol");
    assert_eq!(notes[0].as_deref(), Some("it's quoted"));
    assert_eq!(notes[2].as_deref(), Some("a; semicolon"));
});

engine_test!(
    a_failing_statement_rolls_back_the_whole_transaction,
    |database| {
        database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)");
        let outcome = run(
            database,
            r#"
[steps.load]
kind = "sql"
connection = "db"
sql = "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); INSERT INTO no_such_table VALUES (3)"
"#,
        );
        outcome.assert_code(1);
        let error = outcome.report()["steps"][0]["error"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            error.starts_with("statement 3 of 3 failed: INSERT INTO no_such_table"),
            "{error}"
        );
        assert_eq!(
            database.count("SELECT COUNT(*) FROM t"),
            0,
            "nothing of the failed transaction remains"
        );
    }
);

engine_test!(
    without_a_transaction_committed_statements_stay,
    |database| {
        database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)");
        let outcome = run(
            database,
            r#"
[steps.load]
kind = "sql"
connection = "db"
transaction = false
sql = "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); INSERT INTO t VALUES (1)"
"#,
        );
        outcome.assert_code(1);
        assert!(
            outcome.report()["steps"][0]["error"]
                .as_str()
                .unwrap()
                .starts_with("statement 3 of 3 failed")
        );
        assert_eq!(database.count("SELECT COUNT(*) FROM t"), 2);
    }
);

engine_test!(sql_files_are_read_relative_to_the_manifest, |database| {
    let outcome = Pipewright::new()
        .manifest(&manifest(
            database,
            "\n[steps.file]\nkind = \"sql\"\nconnection = \"db\"\nfile = \"sql/setup.sql\"\n",
        ))
        .file(
            "sql/setup.sql",
            "CREATE TABLE from_file (id INTEGER);\nINSERT INTO from_file VALUES (1), (2);\n",
        )
        .args(["run", "pipeline.toml"])
        .run();
    outcome.assert_code(0);
    assert_eq!(database.count("SELECT COUNT(*) FROM from_file"), 2);
});

/// A query that runs until it is stopped, on each engine.
fn endless_query(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "SELECT pg_sleep(120)",
        Engine::MySql => "SELECT SLEEP(120)",
        Engine::Sqlite => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c"
        }
    }
}

engine_test!(a_timeout_stops_the_query_on_the_server, |database| {
    let outcome = run(
        database,
        &format!(
            "\n[steps.endless]\nkind = \"sql\"\nconnection = \"db\"\ntimeout = \"1s\"\nsql = \"{}\"\n",
            endless_query(database.engine)
        ),
    );
    outcome.assert_code(1);
    let report = outcome.report();
    assert_eq!(report["steps"][0]["status"], "timed_out", "{report:#}");
    // pipewright has exited: the statement must not still be running on the server.
    let still_running = match database.engine {
        Engine::Postgres => database.count(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()",
        ),
        Engine::MySql => database.count(
            "SELECT COUNT(*) FROM information_schema.processlist WHERE db = DATABASE() AND info LIKE '%SLEEP(120)%' AND id <> CONNECTION_ID()",
        ),
        // In-process: the interrupted statement ended with the process.
        Engine::Sqlite => 0,
    };
    assert_eq!(still_running, 0);
});

engine_test!(
    retries_do_not_repeat_committed_work_of_a_failed_transaction,
    |database| {
        database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)");
        // The second statement fails every time; the rolled-back first one never accumulates.
        let outcome = run(
            database,
            r#"
[steps.load]
kind = "sql"
connection = "db"
retries = 2
retry_backoff = "10ms"
sql = "INSERT INTO t VALUES (1); INSERT INTO t VALUES (1)"
"#,
        );
        outcome.assert_code(1);
        let attempts = outcome.report()["steps"][0]["attempts"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(
            attempts, 1,
            "a constraint violation is not transient: no retry"
        );
        assert_eq!(database.count("SELECT COUNT(*) FROM t"), 0);
    }
);

#[test]
fn postgres_dollar_quoted_bodies_keep_their_semicolons() {
    let Some(database) = TestDatabase::create(Engine::Postgres, "dollar_quotes") else {
        return;
    };
    let outcome = run(
        &database,
        r#"
[steps.function]
kind = "sql"
connection = "db"
sql = """
CREATE FUNCTION double_it(x integer) RETURNS integer AS $body$
BEGIN
  x := x * 2; RETURN x;
END;
$body$ LANGUAGE plpgsql;
CREATE TABLE answers AS SELECT double_it(21) AS answer;
"""
"#,
    );
    outcome.assert_code(0);
    assert_eq!(database.count("SELECT answer FROM answers"), 42);
}

#[test]
fn plan_shows_the_sql_each_step_would_run_without_connecting() {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}\n[connections.db]\nurl = \"postgres://nobody@203.0.113.1:1/none\"\n\n[steps.load]\nkind = \"sql\"\nconnection = \"db\"\nsql = \"\"\"\nDELETE FROM bars;\nINSERT INTO bars SELECT * FROM staging\n\"\"\"\n",
            header("plan", 1)
        ))
        .args(["plan", "pipeline.toml"])
        .run();
    outcome.assert_code(0);
    assert!(
        outcome.stdout.contains(
            "      | DELETE FROM bars;\n      | INSERT INTO bars SELECT * FROM staging;\n"
        ),
        "{}",
        outcome.stdout
    );
}

fn tls_run(database: &TestDatabase, tls: &str) -> crate::common::Outcome {
    Pipewright::new()
        .manifest(&format!(
            "{}\n[connections.db]\nurl = \"{}\"\ntls = \"{tls}\"\n\n[steps.q]\nkind = \"sql\"\nconnection = \"db\"\nsql = \"SELECT 1\"\n",
            header("tls", 1),
            database.url
        ))
        .args(["run", "pipeline.toml", "--report", "report.json"])
        .run()
}

#[test]
fn tls_is_used_when_required_and_certificates_are_checked_when_asked() {
    let Some(database) = TestDatabase::create(Engine::Postgres, "tls") else {
        return;
    };
    let encrypted = database.strings("SHOW ssl")[0].as_deref() == Some("on");
    if !encrypted {
        eprintln!("skipping: this PostgreSQL has no TLS");
        return;
    }
    tls_run(&database, "require").assert_code(0);
    // The server's certificate is self-signed: verification must fail, clearly.
    let outcome = tls_run(&database, "verify-full");
    outcome.assert_code(1);
    let error = outcome.report()["steps"][0]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(error.starts_with("cannot connect to `db`"), "{error}");
    assert!(
        error.to_lowercase().contains("certificate") || error.contains("tls"),
        "{error}"
    );
}

#[test]
fn tls_required_from_a_server_without_it_is_a_clear_error() {
    let Some(database) = TestDatabase::create(Engine::MySql, "tls") else {
        return;
    };
    if database.strings("SELECT @@have_ssl")[0].as_deref() != Some("DISABLED") {
        eprintln!("skipping: this MariaDB has TLS");
        return;
    }
    let outcome = tls_run(&database, "require");
    outcome.assert_code(1);
    let error = outcome.report()["steps"][0]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(error.starts_with("cannot connect to `db`"), "{error}");
}
