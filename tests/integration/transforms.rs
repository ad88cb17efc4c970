//! The `transform` step in every direction between SQLite, PostgreSQL and MariaDB, on data
//! chosen to break copies: NULLs everywhere, empty strings, unicode, long text, every byte,
//! extreme numbers, the edges of the calendar; plus MySQL's own oddities, the modes, kills,
//! resumes, verification and restores.

use std::process::{Child, Stdio};

use crate::common::{Outcome, Pipewright, header, wait_for};
use crate::servers::{Engine, TestDatabase};

/// A table of awkward values, in `engine`'s SQL. SQLite stores a `DECIMAL` as a float, so
/// its decimals keep to 15 significant digits.
fn awkward_table(engine: Engine) -> String {
    let every_byte = pipewright::values::hex(&(0..=255_u8).collect::<Vec<u8>>());
    let unicode = "héllo wörld — 你好 🙂";
    match engine {
        Engine::Postgres => format!(
            r#"
CREATE TABLE awkward (id BIGINT PRIMARY KEY, i INTEGER, b BIGINT, amount NUMERIC(20, 6), f DOUBLE PRECISION, t TEXT, v VARCHAR(10), bin BYTEA, d DATE, tm TIME(6), ts TIMESTAMP(6), flag BOOLEAN, doc JSONB);
CREATE INDEX awkward_day ON awkward (d);
INSERT INTO awkward (id) VALUES (1);
INSERT INTO awkward VALUES (2, -2147483648, -9223372036854775808, -99999999999999.999999, -1.7976931348623157e308, '', '', ''::bytea, '1000-01-01', '00:00:00', '1000-01-01 00:00:00', false, '{{}}');
INSERT INTO awkward VALUES (3, 2147483647, 9223372036854775807, 99999999999999.999999, 0.1, '{unicode}' || chr(9) || 'tab' || chr(10) || 'nl ' || chr(92) || ' backslash '' quote', '🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂', decode('{every_byte}', 'hex'), '9999-12-31', '23:59:59.999999', '9999-12-31 23:59:59.999999', true, '{{"b": [1, 2, {{"c": null}}], "a": "é"}}');
INSERT INTO awkward VALUES (4, 0, 0, 0.000001, 1e-300, repeat('x', 100000), 'a', decode('00', 'hex'), '2000-02-29', '12:00:00.5', '2000-02-29 12:00:00.5', true, '[1, "two", 3.5]');
"#
        ),
        Engine::MySql => format!(
            r#"
CREATE TABLE awkward (id BIGINT PRIMARY KEY, i INT, b BIGINT, amount DECIMAL(20, 6), f DOUBLE, t LONGTEXT, v VARCHAR(10), bin LONGBLOB, d DATE, tm TIME(6), ts DATETIME(6), flag TINYINT(1), doc JSON, INDEX awkward_day (d)) CHARACTER SET utf8mb4;
INSERT INTO awkward (id) VALUES (1);
INSERT INTO awkward VALUES (2, -2147483648, -9223372036854775808, -99999999999999.999999, -1.7976931348623157e308, '', '', X'', '1000-01-01', '00:00:00', '1000-01-01 00:00:00', 0, '{{}}');
INSERT INTO awkward VALUES (3, 2147483647, 9223372036854775807, 99999999999999.999999, 0.1, CONCAT('{unicode}', CHAR(9), 'tab', CHAR(10), 'nl ', CHAR(92), ' backslash '' quote'), '🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂', X'{every_byte}', '9999-12-31', '23:59:59.999999', '9999-12-31 23:59:59.999999', 1, '{{"b": [1, 2, {{"c": null}}], "a": "é"}}');
INSERT INTO awkward VALUES (4, 0, 0, 0.000001, 1e-300, REPEAT('x', 100000), 'a', X'00', '2000-02-29', '12:00:00.5', '2000-02-29 12:00:00.5', 1, '[1, "two", 3.5]');
"#
        ),
        Engine::Sqlite => format!(
            r#"
CREATE TABLE awkward (id BIGINT PRIMARY KEY, i INT, b BIGINT, amount DECIMAL(20, 6), f DOUBLE, t TEXT, v VARCHAR(10), bin BLOB, d DATE, tm TIME, ts TIMESTAMP, flag BOOLEAN, doc JSON);
CREATE INDEX awkward_day ON awkward (d);
INSERT INTO awkward (id) VALUES (1);
INSERT INTO awkward VALUES (2, -2147483648, -9223372036854775808, -99999999.123456, -1.7976931348623157e308, '', '', X'', '1000-01-01', '00:00:00', '1000-01-01 00:00:00', 0, '{{}}');
INSERT INTO awkward VALUES (3, 2147483647, 9223372036854775807, 99999999.123456, 0.1, '{unicode}' || char(9) || 'tab' || char(10) || 'nl ' || char(92) || ' backslash '' quote', '🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂', X'{every_byte}', '9999-12-31', '23:59:59.999999', '9999-12-31 23:59:59.999999', 1, '{{"b": [1, 2, {{"c": null}}], "a": "é"}}');
INSERT INTO awkward VALUES (4, 0, 0, 0.000001, 1e-300, replace(hex(zeroblob(50000)), '00', 'xy'), 'a', X'00', '2000-02-29', '12:00:00.5', '2000-02-29 12:00:00.5', 1, '[1, "two", 3.5]');
"#
        ),
    }
}

fn manifest(source: &TestDatabase, target: &TestDatabase, steps: &str) -> String {
    format!(
        "{}\n[connections.source]\nurl = \"{}\"\n\n[connections.target]\nurl = \"{}\"\n{steps}",
        header("transforms", 1),
        source.url,
        target.url
    )
}

fn run(source: &TestDatabase, target: &TestDatabase, steps: &str, extra: &[&str]) -> Outcome {
    Pipewright::new()
        .manifest(&manifest(source, target, steps))
        .args(["run", "pipeline.toml", "--report", "report.json"])
        .args(extra.iter().copied())
        .run()
}

/// [`run`] with the transform's debug lines on stderr (the COPY format, the index builders).
fn run_logged(source: &TestDatabase, target: &TestDatabase, steps: &str) -> Outcome {
    Pipewright::new()
        .manifest(&manifest(source, target, steps))
        .env("PIPEWRIGHT_LOG", "pipewright::transform=debug")
        .args(["run", "pipeline.toml", "--report", "report.json"])
        .run()
}

/// The report's entry for the first table of the first step.
fn table_report(outcome: &Outcome) -> serde_json::Value {
    outcome.report()["steps"][0]["details"]["tables"][0].clone()
}

/// One test per direction between the three engines: `name::sqlite_to_postgres` and so on,
/// each with a source and a target database of its own.
macro_rules! direction_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body(source: &TestDatabase, target: &TestDatabase) {
                let run: fn(&TestDatabase, &TestDatabase) = $body;
                run(source, target);
            }

            fn pair(from: Engine, to: Engine) {
                let test = stringify!($name);
                let Some(source) = TestDatabase::create(from, test) else {
                    return;
                };
                let Some(target) = TestDatabase::create(to, test) else {
                    return;
                };
                body(&source, &target);
            }

            #[test]
            fn sqlite_to_sqlite() {
                pair(Engine::Sqlite, Engine::Sqlite);
            }
            #[test]
            fn sqlite_to_postgres() {
                pair(Engine::Sqlite, Engine::Postgres);
            }
            #[test]
            fn sqlite_to_mysql() {
                pair(Engine::Sqlite, Engine::MySql);
            }
            #[test]
            fn postgres_to_sqlite() {
                pair(Engine::Postgres, Engine::Sqlite);
            }
            #[test]
            fn postgres_to_postgres() {
                pair(Engine::Postgres, Engine::Postgres);
            }
            #[test]
            fn postgres_to_mysql() {
                pair(Engine::Postgres, Engine::MySql);
            }
            #[test]
            fn mysql_to_sqlite() {
                pair(Engine::MySql, Engine::Sqlite);
            }
            #[test]
            fn mysql_to_postgres() {
                pair(Engine::MySql, Engine::Postgres);
            }
            #[test]
            fn mysql_to_mysql() {
                pair(Engine::MySql, Engine::MySql);
            }
        }
    };
}

const REPLACE_AWKWARD: &str = r#"
[steps.copy]
kind = "transform"
from = { connection = "source", table = "awkward" }
to = { connection = "target", mode = "replace" }
batch_size = 3
"#;

direction_test!(awkward_values_arrive_exactly, |source, target| {
    source.execute(&awkward_table(source.engine));
    let outcome = run(source, target, REPLACE_AWKWARD, &[]);
    outcome.assert_code(0);
    let report = table_report(&outcome);
    assert_eq!(report["rows"], 4);
    assert_eq!(report["verification"], "passed");
    assert_eq!(report["created"], true);
    let (rows, checksum) = source.checksum("awkward");
    assert_eq!(rows, 4);
    assert_eq!(
        target.checksum("awkward"),
        (rows, checksum.clone()),
        "the target holds what the source holds, value for value"
    );
    assert_eq!(report["checksum"], checksum.as_str());
    // Empty is not NULL, on the way there.
    assert_eq!(
        target.count("SELECT COUNT(*) FROM awkward WHERE t = '' AND v = ''"),
        1
    );
    assert_eq!(
        target.count("SELECT COUNT(*) FROM awkward WHERE t IS NULL AND bin IS NULL"),
        1
    );
    // The secondary index came along.
    let indexes = match target.engine {
        Engine::Postgres => target
            .strings("SELECT CAST(indexname AS TEXT) FROM pg_indexes WHERE tablename = 'awkward' ORDER BY 1"),
        Engine::MySql => target.strings(
            "SELECT DISTINCT CAST(index_name AS CHAR) FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'awkward' ORDER BY 1",
        ),
        Engine::Sqlite => target.strings(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'awkward' AND sql IS NOT NULL ORDER BY 1",
        ),
    };
    assert!(
        indexes
            .iter()
            .flatten()
            .any(|name| name.ends_with("awkward_day")),
        "{indexes:?}"
    );

    // Again: the new copy is swapped in, the old table kept as a backup.
    let again = run(source, target, REPLACE_AWKWARD, &[]);
    again.assert_code(0);
    let report = table_report(&again);
    let backup = report["backup"]
        .as_str()
        .expect("a backup was made")
        .to_owned();
    assert!(backup.starts_with("awkward__pw_backup_"), "{backup}");
    assert_eq!(target.checksum(&backup), (rows, checksum.clone()));
    assert_eq!(target.checksum("awkward"), (rows, checksum));
});

/// Without its JSON column, the awkward table has only types PostgreSQL takes in binary
/// `COPY`: every value arrives exactly, from every engine.
#[test]
fn awkward_values_arrive_exactly_through_binary_copy() {
    for engine in [Engine::Sqlite, Engine::Postgres, Engine::MySql] {
        let Some(source) = TestDatabase::create(engine, "binary_copy") else {
            continue;
        };
        let Some(target) = TestDatabase::create(Engine::Postgres, "binary_copy") else {
            return;
        };
        source.execute(&awkward_table(engine));
        source.execute("ALTER TABLE awkward DROP COLUMN doc");
        let outcome = run_logged(&source, &target, REPLACE_AWKWARD);
        outcome.assert_code(0);
        assert!(
            outcome.stderr.contains("format=\"binary\""),
            "{}: {}",
            engine.name(),
            outcome.stderr
        );
        assert_eq!(table_report(&outcome)["verification"], "passed");
        assert_eq!(
            target.checksum("awkward"),
            source.checksum("awkward"),
            "{}",
            engine.name()
        );
        assert_eq!(
            target.strings("SELECT CAST(amount AS TEXT) FROM awkward ORDER BY id"),
            [
                None,
                Some("-99999999999999.999999"),
                Some("99999999999999.999999"),
                Some("0.000001"),
            ]
            .map(|text| text.map(|text| {
                // SQLite keeps its decimals to 15 significant digits.
                if engine == Engine::Sqlite {
                    text.replace("99999999999999.999999", "99999999.123456")
                } else {
                    text.to_owned()
                }
            }))
        );
    }
}

/// MySQL's own types, into the other engines.
fn mysql_oddities() -> &'static str {
    r"
CREATE TABLE odd (id INT UNSIGNED PRIMARY KEY, small TINYINT UNSIGNED, huge BIGINT UNSIGNED, flag TINYINT(1), status ENUM('open', 'closed'), tags SET('a', 'b', 'c'), bits BIT(8), wide BIT(64), made DATE, stamp DATETIME, doc JSON, season YEAR, spot POINT) CHARACTER SET utf8mb4;
SET SESSION sql_mode = '';
INSERT INTO odd VALUES (4294967295, 255, 18446744073709551615, 1, 'open', 'a,c', b'10101010', b'1111111111111111111111111111111111111111111111111111111111111111', '2025-01-02', '2025-01-02 03:04:05', '{}', 2025, ST_GeomFromText('POINT(1 2)'));
INSERT INTO odd VALUES (1, 0, 0, 0, 'closed', '', b'0', b'0', '0000-00-00', '0000-00-00 00:00:00', NULL, 1901, NULL);
INSERT INTO odd VALUES (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"
}

fn mysql_odd_pair(target: Engine, test: &str) -> Option<(TestDatabase, TestDatabase)> {
    let source = TestDatabase::create(Engine::MySql, test)?;
    let target = TestDatabase::create(target, test)?;
    source.execute(mysql_oddities());
    Some((source, target))
}

const COPY_ODD: &str = r#"
[steps.copy]
kind = "transform"
from = { connection = "source", table = "odd" }
to = { connection = "target", mode = "create" }
"#;

fn zero_dates_are_refused_until_a_policy_allows_them(target: Engine) {
    let Some((source, target)) = mysql_odd_pair(target, "zero_dates") else {
        return;
    };
    let refused = run(&source, &target, COPY_ODD, &[]);
    refused.assert_code(1);
    let error = refused.report()["steps"][0]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.contains("odd.made at id = 1: `0000-00-00` is a zero date"),
        "{error}"
    );
    assert!(error.contains("on_lossy"), "{error}");
    assert!(
        target.table_names().is_empty(),
        "nothing was left behind: {:?}",
        target.table_names()
    );

    let allowed = run(
        &source,
        &target,
        &format!("{COPY_ODD}on_lossy = \"null\"\n"),
        &[],
    );
    allowed.assert_code(0);
    let report = table_report(&allowed);
    assert_eq!(report["rows"], 3);
    let lossy = report["lossy"].as_array().unwrap();
    assert_eq!(lossy.len(), 2, "{lossy:?}");
    assert_eq!(
        target.count("SELECT COUNT(*) FROM odd WHERE made IS NULL AND stamp IS NULL"),
        2
    );
    let text = |sql: &str| target.strings(sql)[0].clone().unwrap_or_default();
    let huge = text("SELECT CAST(huge AS TEXT) FROM odd WHERE id = 4294967295");
    assert_eq!(huge, "18446744073709551615", "unsigned maxima survive");
    assert_eq!(
        text("SELECT CAST(id AS TEXT) FROM odd WHERE small = 255"),
        "4294967295"
    );
    assert_eq!(text("SELECT status FROM odd WHERE id = 1"), "closed");
    assert_eq!(text("SELECT tags FROM odd WHERE id = 4294967295"), "a,c");
    assert_eq!(
        text("SELECT CAST(bits AS TEXT) FROM odd WHERE id = 4294967295"),
        "170"
    );
    assert_eq!(
        text("SELECT CAST(wide AS TEXT) FROM odd WHERE id = 4294967295"),
        "18446744073709551615",
        "BIT(64) holds 64 bits, more than a signed BIGINT"
    );
    let flag = text("SELECT CAST(flag AS TEXT) FROM odd WHERE id = 4294967295");
    assert!(
        flag == "true" || flag == "1",
        "tinyint(1) is a boolean: {flag}"
    );
    assert_eq!(
        text("SELECT CAST(season AS TEXT) FROM odd WHERE id = 4294967295"),
        "2025"
    );
    assert_eq!(
        text("SELECT spot FROM odd WHERE id = 4294967295"),
        "POINT(1 2)",
        "geometry as its well-known text"
    );
}

#[test]
fn mysql_zero_dates_into_postgres() {
    zero_dates_are_refused_until_a_policy_allows_them(Engine::Postgres);
}

#[test]
fn mysql_zero_dates_into_sqlite() {
    zero_dates_are_refused_until_a_policy_allows_them(Engine::Sqlite);
}

/// MySQL commits DDL on its own, so a `truncate` fills the target's backup under a pending
/// name and renames it once the rows are in. What a killed run leaves under that name: rows
/// (killed after the commit, before the rename) become a backup; an empty table (killed before
/// the commit) is dropped, and never passes for a backup.
#[test]
fn a_pending_mysql_backup_is_kept_only_when_it_is_whole() {
    let Some(source) = TestDatabase::create(Engine::Sqlite, "pending_backup") else {
        return;
    };
    let Some(target) = TestDatabase::create(Engine::MySql, "pending_backup") else {
        return;
    };
    source.numbers_table("numbers", 10);
    target.numbers_table("numbers", 3);
    let truncate = r#"
[steps.copy]
kind = "transform"
from = { connection = "source", table = "numbers" }
to = { connection = "target", mode = "truncate" }
keep_backups = 5
"#;
    let backups = || {
        target.strings(
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE 'numbers\\_\\_pw\\_backup\\_%' ORDER BY 1",
        )
    };
    let pending = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'numbers__pw_backing_up'";

    // Killed after the commit: the pending table holds the rows the target had.
    target.execute(
        "CREATE TABLE numbers__pw_backing_up LIKE numbers; INSERT INTO numbers__pw_backing_up SELECT * FROM numbers",
    );
    let outcome = run(&source, &target, truncate, &[]);
    outcome.assert_code(0);
    assert_eq!(target.count("SELECT COUNT(*) FROM numbers"), 10);
    assert_eq!(target.count(pending), 0, "no pending table is left");
    let kept = backups();
    assert_eq!(
        kept.len(),
        2,
        "the recovered backup and this run's: {kept:?}"
    );
    for backup in kept.iter().flatten() {
        assert_eq!(
            target.count(&format!("SELECT COUNT(*) FROM `{backup}`")),
            3,
            "{backup} holds the three rows the target had"
        );
    }

    // Killed before the commit: the pending table is empty, and is no backup.
    target.execute("CREATE TABLE numbers__pw_backing_up LIKE numbers");
    let outcome = run(&source, &target, truncate, &[]);
    outcome.assert_code(0);
    assert_eq!(target.count(pending), 0, "no pending table is left");
    let kept = backups();
    assert_eq!(kept.len(), 3, "only this run's backup was added: {kept:?}");
    assert!(
        kept.iter()
            .flatten()
            .all(|backup| target.count(&format!("SELECT COUNT(*) FROM `{backup}`")) > 0),
        "no empty backup: {kept:?}"
    );
}

#[test]
fn a_tinyint_that_is_not_a_boolean_is_lossy() {
    let Some((source, target)) = mysql_odd_pair(Engine::Postgres, "tinyint_two") else {
        return;
    };
    source.execute("UPDATE odd SET flag = 2 WHERE id = 1");
    let outcome = run(
        &source,
        &target,
        &format!(
            "{COPY_ODD}[steps.copy.columns]\nmade = {{ on_lossy = \"null\" }}\nstamp = {{ on_lossy = \"null\" }}\n"
        ),
        &[],
    );
    outcome.assert_code(1);
    let error = outcome.report()["steps"][0]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.contains("odd.flag at id = 1: `2` cannot be read as boolean"),
        "{error}"
    );
}

fn spawn(source: &TestDatabase, target: &TestDatabase, steps: &str) -> (Pipewright, Child) {
    let project = Pipewright::new()
        .manifest(&manifest(source, target, steps))
        .args(["run", "pipeline.toml", "--progress", "none"]);
    let child = project
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (project, child)
}

fn kill(mut child: Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
}

const APPEND_NUMBERS: &str = r#"
[steps.copy]
kind = "transform"
from = { connection = "source", table = "numbers" }
to = { connection = "target", mode = "append" }
batch_size = 500
"#;

direction_test!(
    a_killed_append_resumes_without_duplicates,
    |source, target| {
        source.numbers_table("numbers", 60_000);
        let (project, child) = spawn(source, target, APPEND_NUMBERS);
        // Killed once some batches are committed, with their checkpoint.
        wait_for("a checkpoint", || {
            target
                .try_count("SELECT COUNT(*) FROM pipewright_transform_checkpoints")
                .is_some_and(|count| count > 0)
        });
        kill(child);
        let copied = target.count("SELECT COUNT(*) FROM numbers");
        let checkpoint =
            target.count("SELECT MAX(rows_copied) FROM pipewright_transform_checkpoints");
        assert_eq!(
            copied, checkpoint,
            "every committed batch has its checkpoint"
        );
        assert!(copied < 60_000, "killed before the end: {copied}");

        // Without `--resume`, the interrupted copy is not started again over itself.
        let refused = project.run_with(&["run", "pipeline.toml", "--report", "report.json"]);
        refused.assert_code(1);
        assert!(refused.stderr.contains("--resume"), "{}", refused.stderr);
        assert_eq!(target.count("SELECT COUNT(*) FROM numbers"), copied);

        let resumed = project.run_with(&[
            "run",
            "pipeline.toml",
            "--resume",
            "--report",
            "report.json",
        ]);
        resumed.assert_code(0);
        let report = table_report(&resumed);
        assert_eq!(report["resumed_rows"], copied);
        assert_eq!(report["rows"], 60_000 - copied);
        assert_eq!(target.count("SELECT COUNT(*) FROM numbers"), 60_000);
        assert_eq!(
            target.count("SELECT COUNT(DISTINCT id) FROM numbers"),
            60_000
        );
        assert_eq!(source.checksum("numbers"), target.checksum("numbers"));
        assert_eq!(
            target.count("SELECT COUNT(*) FROM pipewright_transform_checkpoints"),
            0,
            "a finished copy leaves no checkpoint"
        );
    }
);

const REPLACE_NUMBERS: &str = r#"
[steps.copy]
kind = "transform"
from = { connection = "source", table = "numbers" }
to = { connection = "target", mode = "replace" }
batch_size = 500
"#;

direction_test!(
    a_killed_replace_leaves_the_target_as_it_was,
    |source, target| {
        source.numbers_table("numbers", 60_000);
        target.numbers_table("numbers", 10);
        let before = target.checksum("numbers");
        let (_project, child) = spawn(source, target, REPLACE_NUMBERS);
        wait_for("rows in the staging table", || {
            target
                .try_count("SELECT COUNT(*) FROM numbers__pw_staging")
                .is_some_and(|count| count > 1_000)
        });
        kill(child);
        assert_eq!(
            target.checksum("numbers"),
            before,
            "the target is untouched"
        );

        // The next run cleans up and completes.
        let outcome = run(source, target, REPLACE_NUMBERS, &[]);
        outcome.assert_code(0);
        assert_eq!(target.checksum("numbers"), source.checksum("numbers"));
        let tables = target.table_names();
        assert!(
            !tables.iter().any(|name| name.contains("__pw_staging")),
            "{tables:?}"
        );
    }
);

/// One test per engine with one database that is both source and target.
macro_rules! same_database_test {
    ($name:ident, $body:expr) => {
        crate::servers::engine_test!($name, |database| {
            let run: fn(&TestDatabase) = $body;
            run(database);
        });
    };
}

fn copy_step(mode: &str, extra: &str) -> String {
    format!(
        "\n[steps.copy]\nkind = \"transform\"\nfrom = {{ connection = \"source\", table = \"numbers\" }}\nto = {{ connection = \"target\", table = \"copied\", mode = \"{mode}\" }}\n{extra}"
    )
}

same_database_test!(create_never_overwrites, |database| {
    database.numbers_table("numbers", 20);
    database.numbers_table("copied", 3);
    let before = database.checksum("copied");
    let outcome = run(database, database, &copy_step("create", ""), &[]);
    outcome.assert_code(1);
    assert!(
        outcome
            .stderr
            .contains("`copied` already exists on `target`, and mode `create` never overwrites"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("mode = \\\"replace\\\"")
            || outcome.stderr.contains("mode = \"replace\""),
        "{}",
        outcome.stderr
    );
    assert_eq!(database.checksum("copied"), before);
});

same_database_test!(
    truncate_keeps_the_table_and_what_depends_on_it,
    |database| {
        database.numbers_table("numbers", 50);
        database.numbers_table("copied", 5);
        database.execute("CREATE VIEW copied_view AS SELECT id, label FROM copied");
        let outcome = run(database, database, &copy_step("truncate", ""), &[]);
        outcome.assert_code(0);
        let report = table_report(&outcome);
        assert_eq!(report["created"], false);
        assert_eq!(
            database.count("SELECT COUNT(*) FROM copied_view"),
            50,
            "the view sees the new rows"
        );
        let backup = report["backup"].as_str().unwrap().to_owned();
        assert_eq!(database.count(&format!("SELECT COUNT(*) FROM {backup}")), 5);
        assert_eq!(database.checksum("copied"), database.checksum("numbers"));
    }
);

same_database_test!(upsert_updates_and_inserts_on_the_key, |database| {
    database.numbers_table("numbers", 20);
    database.numbers_table("copied", 10);
    database.execute("UPDATE copied SET label = 'old'; DELETE FROM numbers WHERE id < 5");
    let step =
        copy_step("upsert", "").replace("mode = \"upsert\"", "mode = \"upsert\", key = [\"id\"]");
    for attempt in 1..=2 {
        let outcome = run(database, database, &step, &[]);
        outcome.assert_code(0);
        assert_eq!(table_report(&outcome)["rows"], 16, "attempt {attempt}");
    }
    assert_eq!(database.count("SELECT COUNT(*) FROM copied"), 20);
    assert_eq!(
        database.count("SELECT COUNT(*) FROM copied WHERE label = 'old'"),
        4,
        "rows 1 to 4 are not in the source"
    );
    assert_eq!(
        database.count("SELECT COUNT(*) FROM copied WHERE label = 'row 7'"),
        1
    );
});

same_database_test!(an_upsert_needs_a_unique_key_on_the_target, |database| {
    database.numbers_table("numbers", 5);
    database.execute("CREATE TABLE copied (id BIGINT, label VARCHAR(40), amount DECIMAL(12, 2))");
    let step =
        copy_step("upsert", "").replace("mode = \"upsert\"", "mode = \"upsert\", key = [\"id\"]");
    let outcome = run(database, database, &step, &[]);
    outcome.assert_code(1);
    assert!(
        outcome
            .stderr
            .contains("has no primary key or unique index on (id)"),
        "{}",
        outcome.stderr
    );
});

/// A trigger that changes what is written: the copy's verification must notice.
fn tampering_trigger(database: &TestDatabase) {
    let sql = match database.engine {
        Engine::Postgres => {
            "CREATE FUNCTION tamper() RETURNS trigger AS $$ BEGIN NEW.label := NEW.label || '!'; RETURN NEW; END $$ LANGUAGE plpgsql; CREATE TRIGGER tamper BEFORE INSERT ON copied FOR EACH ROW EXECUTE FUNCTION tamper()"
        }
        Engine::MySql => {
            "CREATE TRIGGER tamper BEFORE INSERT ON copied FOR EACH ROW SET NEW.label = CONCAT(NEW.label, '!')"
        }
        Engine::Sqlite => {
            "CREATE TRIGGER tamper AFTER INSERT ON copied BEGIN UPDATE copied SET label = label || '!' WHERE id = NEW.id; END"
        }
    };
    database.execute(sql);
}

same_database_test!(
    a_batch_that_does_not_read_back_as_written_is_rolled_back,
    |database| {
        database.numbers_table("numbers", 30);
        database.numbers_table("copied", 1);
        database.execute("DELETE FROM copied");
        tampering_trigger(database);
        let outcome = run(
            database,
            database,
            &copy_step("append", "batch_size = 10\n"),
            &[],
        );
        outcome.assert_code(1);
        assert!(
            outcome
                .stderr
                .contains("verification of `copied` failed: 10 rows written with checksum"),
            "{}",
            outcome.stderr
        );
        assert_eq!(
            database.count("SELECT COUNT(*) FROM copied"),
            0,
            "the failed batch was rolled back"
        );
        let store = TestDatabase::sqlite_file(&outcome.directory.join(".pipewright/monitoring.db"));
        assert_eq!(
            store.strings(
                "SELECT status FROM data_quality_checks WHERE check_type = 'transform_checksum'"
            ),
            vec![Some("failed".to_owned())]
        );
    }
);

same_database_test!(column_rules_rename_drop_compute_and_convert, |database| {
    database.numbers_table("numbers", 12);
    database.execute("UPDATE numbers SET amount = NULL WHERE id = 3");
    let upper = if database.engine == Engine::Sqlite {
        "upper(label)"
    } else {
        "UPPER(label)"
    };
    let extra = format!(
        r#"
[steps.copy.columns]
label = {{ rename = "name", expression = "{upper}" }}
amount = {{ type = "DECIMAL(12, 1)", on_lossy = "clamp", default = 0 }}
batch = {{ value = 7 }}
doubled = {{ expression = "id * 2", type = "BIGINT" }}
"#
    );
    let outcome = run(database, database, &copy_step("create", &extra), &[]);
    outcome.assert_code(0);
    let report = table_report(&outcome);
    assert_eq!(report["rows"], 12);
    assert_eq!(report["lossy"][0]["column"], "amount");
    assert_eq!(report["lossy"][0]["policy"], "clamp");
    assert_eq!(
        database.count(
            "SELECT COUNT(*) FROM copied WHERE name = 'ROW 5' AND doubled = 10 AND batch = 7"
        ),
        1
    );
    assert_eq!(
        database
            .strings("SELECT CAST(amount AS CHAR(20)) FROM copied WHERE id = 3")
            .len(),
        1
    );
    assert_eq!(
        database.count("SELECT COUNT(*) FROM copied WHERE id = 3 AND amount = 0"),
        1,
        "NULL became the default"
    );
    assert_eq!(
        database.count("SELECT COUNT(*) FROM copied WHERE id = 1 AND amount = 1.3"),
        1,
        "1.25 rounded to one place"
    );
});

same_database_test!(
    a_rule_for_no_column_is_an_error_with_a_suggestion,
    |database| {
        database.numbers_table("numbers", 2);
        let outcome = run(
            database,
            database,
            &copy_step(
                "create",
                "[steps.copy.columns]\nlabl = { rename = \"name\" }\n",
            ),
            &[],
        );
        outcome.assert_code(1);
        assert!(
            outcome
                .stderr
                .contains("the column rule `labl` names no column of `numbers`"),
            "{}",
            outcome.stderr
        );
        assert!(
            outcome.stderr.contains("did you mean `label`?"),
            "{}",
            outcome.stderr
        );
    }
);

same_database_test!(patterns_choose_the_tables, |database| {
    database.numbers_table("sales_2024", 3);
    database.numbers_table("sales_2025", 4);
    database.numbers_table("sales_tmp", 5);
    database.numbers_table("other", 6);
    let schema = match database.engine {
        Engine::Postgres => "archive",
        Engine::MySql | Engine::Sqlite => "",
    };
    let target = if schema.is_empty() {
        // MySQL and SQLite: a table name prefix is not a mode; copy into the same database under
        // the same names would copy onto themselves, so go through another database.
        None
    } else {
        database.execute(&format!("CREATE SCHEMA {schema}"));
        Some(schema)
    };
    let Some(schema) = target else {
        let other = TestDatabase::create(database.engine, "patterns_target").unwrap();
        let outcome = run(
            database,
            &other,
            "\n[steps.copy]\nkind = \"transform\"\nfrom = { connection = \"source\", include = [\"sales_*\"], exclude = [\"*_tmp\"] }\nto = { connection = \"target\", mode = \"replace\" }\n",
            &[],
        );
        outcome.assert_code(0);
        let tables: Vec<String> = outcome.report()["steps"][0]["details"]["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|table| table["target"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(tables, ["sales_2024", "sales_2025"]);
        assert_eq!(other.count("SELECT COUNT(*) FROM sales_2025"), 4);
        return;
    };
    let outcome = run(
        database,
        database,
        &format!(
            "\n[steps.copy]\nkind = \"transform\"\nfrom = {{ connection = \"source\", include = [\"sales_*\"], exclude = [\"*_tmp\"] }}\nto = {{ connection = \"target\", schema = \"{schema}\", mode = \"replace\" }}\n"
        ),
        &[],
    );
    outcome.assert_code(0);
    assert_eq!(database.count("SELECT COUNT(*) FROM archive.sales_2024"), 3);
    assert_eq!(database.count("SELECT COUNT(*) FROM archive.sales_2025"), 4);
    assert_eq!(
        database.count("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'archive'"),
        2
    );
});

/// Instants with a zone and UUIDs, at MySQL's `TIMESTAMP` edges, in `engine`'s SQL: the same
/// instants (one written an hour east of UTC) and UUIDs in every engine.
fn zoned_table(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => {
            "CREATE TABLE zoned (id BIGINT PRIMARY KEY, tz TIMESTAMPTZ(6), u UUID);
             INSERT INTO zoned (id) VALUES (1);
             INSERT INTO zoned VALUES (2, '1970-01-01 00:00:01+00', '00000000-0000-0000-0000-000000000000');
             INSERT INTO zoned VALUES (3, '2038-01-19 03:14:07.999999+00', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF');
             INSERT INTO zoned VALUES (4, '2000-02-29 13:00:00.5+01', '123e4567-e89b-12d3-a456-426614174000');"
        }
        // A `TIMESTAMP` is written in the session's zone: UTC here, as pipewright reads it.
        Engine::MySql => {
            "SET time_zone = '+00:00';
             CREATE TABLE zoned (id BIGINT PRIMARY KEY, tz TIMESTAMP(6) NULL, u UUID);
             INSERT INTO zoned (id) VALUES (1);
             INSERT INTO zoned VALUES (2, '1970-01-01 00:00:01', '00000000-0000-0000-0000-000000000000');
             INSERT INTO zoned VALUES (3, '2038-01-19 03:14:07.999999', 'ffffffff-ffff-ffff-ffff-ffffffffffff');
             INSERT INTO zoned VALUES (4, '2000-02-29 12:00:00.5', '123e4567-e89b-12d3-a456-426614174000');"
        }
        Engine::Sqlite => {
            "CREATE TABLE zoned (id BIGINT PRIMARY KEY, tz TIMESTAMPTZ, u UUID);
             INSERT INTO zoned (id) VALUES (1);
             INSERT INTO zoned VALUES (2, '1970-01-01T00:00:01Z', '00000000-0000-0000-0000-000000000000');
             INSERT INTO zoned VALUES (3, '2038-01-19 03:14:07.999999+00:00', 'ffffffff-ffff-ffff-ffff-ffffffffffff');
             INSERT INTO zoned VALUES (4, '2000-02-29 13:00:00.5+01:00', '123e4567-e89b-12d3-a456-426614174000');"
        }
    }
}

direction_test!(
    zoned_instants_and_uuids_arrive_as_the_same_values,
    |source, target| {
        source.execute(zoned_table(source.engine));
        let outcome = run(
            source,
            target,
            r#"
[steps.copy]
kind = "transform"
from = { connection = "source", table = "zoned" }
to = { connection = "target", mode = "create" }
"#,
            &[],
        );
        outcome.assert_code(0);
        assert_eq!(table_report(&outcome)["verification"], "passed");
        // Each target's own reading of the instant in UTC, to the microsecond, and the UUID.
        let read = match target.engine {
            Engine::Postgres => {
                "SELECT to_char(tz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || ' ' || u::text FROM zoned ORDER BY id"
            }
            // `DATETIME(6)` holding UTC, the UUID as `CHAR(36)`.
            Engine::MySql => {
                "SELECT CONCAT(DATE_FORMAT(tz, '%Y-%m-%d %H:%i:%s.%f'), ' ', u) FROM zoned ORDER BY id"
            }
            Engine::Sqlite => "SELECT replace(tz, 'Z', '') || ' ' || u FROM zoned ORDER BY id",
        };
        assert_eq!(
            target.strings(read),
            [
                None,
                Some("1970-01-01 00:00:01.000000 00000000-0000-0000-0000-000000000000".to_owned()),
                Some("2038-01-19 03:14:07.999999 ffffffff-ffff-ffff-ffff-ffffffffffff".to_owned()),
                Some("2000-02-29 12:00:00.500000 123e4567-e89b-12d3-a456-426614174000".to_owned()),
            ]
        );
    }
);

direction_test!(parallel_ranges_copy_the_same_rows, |source, target| {
    source.numbers_table("numbers", 30_000);
    let outcome = run(
        source,
        target,
        &REPLACE_NUMBERS.replace("batch_size = 500", "batch_size = 2000\nparallel = 3"),
        &[],
    );
    outcome.assert_code(0);
    let report = table_report(&outcome);
    let expected = if target.engine == Engine::Sqlite {
        1
    } else {
        3
    };
    assert_eq!(
        report["parallel"], expected,
        "SQLite takes one writer at a time"
    );
    assert_eq!(target.checksum("numbers"), source.checksum("numbers"));
});

same_database_test!(restore_puts_the_previous_table_back, |database| {
    database.numbers_table("numbers", 10);
    let project =
        Pipewright::new().manifest(&manifest(database, database, &copy_step("replace", "")));
    project.run_with(&["run", "pipeline.toml"]).assert_code(0);
    let first = database.checksum("copied");
    database.execute("DELETE FROM numbers WHERE id > 4");
    project.run_with(&["run", "pipeline.toml"]).assert_code(0);
    assert_eq!(database.count("SELECT COUNT(*) FROM copied"), 4);

    let listed = project.run_with(&["backups", "pipeline.toml"]);
    listed.assert_code(0);
    assert!(
        listed.stdout.contains("target  copied  copied__pw_backup_"),
        "{}",
        listed.stdout
    );

    let restored = project.run_with(&["restore", "pipeline.toml", "copied"]);
    restored.assert_code(0);
    assert!(
        restored
            .stdout
            .starts_with("restored `copied` on `target` from `copied__pw_backup_"),
        "{}",
        restored.stdout
    );
    assert_eq!(database.checksum("copied"), first);

    let unknown = project.run_with(&["restore", "pipeline.toml", "copied", "--backup", "nope"]);
    unknown.assert_code(2);
    assert!(
        unknown
            .stderr
            .contains("`nope` is not a backup of `copied`"),
        "{}",
        unknown.stderr
    );
});

/// `restore` takes the table's copy lock: while another session holds it (a run copying into
/// the table), it refuses with exit code 4 and changes nothing; once free, it restores.
#[test]
fn restore_refuses_while_a_copy_holds_the_table() {
    use sha2::Digest as _;
    use sqlx::Connection as _;
    let Some(database) = TestDatabase::create(Engine::Postgres, "restore_locked") else {
        return;
    };
    database.numbers_table("numbers", 10);
    let project =
        Pipewright::new().manifest(&manifest(&database, &database, &copy_step("replace", "")));
    for _ in 0..2 {
        project.run_with(&["run", "pipeline.toml"]).assert_code(0);
    }
    // The lock a transform into `copied` takes (src/transform/target_lock.rs).
    let name = database
        .url
        .split('?')
        .next()
        .and_then(|base| base.rsplit('/').next())
        .unwrap()
        .to_owned();
    let digest = sha2::Sha256::digest(format!("pipewright transform {name}/copied"));
    let key = i64::from_be_bytes(digest[..8].try_into().unwrap()) & i64::MAX;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut holder = runtime
        .block_on(sqlx::PgConnection::connect(&database.url))
        .unwrap();
    runtime
        .block_on(
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(key)
                .execute(&mut holder),
        )
        .unwrap();
    let before = database.checksum("copied");
    let refused = project.run_with(&["restore", "pipeline.toml", "copied"]);
    refused.assert_code(4);
    assert!(
        refused
            .stderr
            .contains("a run is copying into `copied`: restore it once that copy has ended"),
        "{}",
        refused.stderr
    );
    assert_eq!(database.checksum("copied"), before, "nothing changed");
    runtime.block_on(holder.close()).unwrap();
    project
        .run_with(&["restore", "pipeline.toml", "copied"])
        .assert_code(0);
}

direction_test!(
    parallel_ranges_keep_rows_whose_key_is_null,
    |source, target| {
        source.numbers_table("numbers", 1_000);
        source.execute("CREATE TABLE bucketed (id BIGINT PRIMARY KEY, bucket INTEGER)");
        source.execute("INSERT INTO bucketed SELECT id, CASE WHEN id % 10 = 0 THEN NULL ELSE id END FROM numbers");
        let outcome = run(
            source,
            target,
            "\n[steps.copy]\nkind = \"transform\"\nfrom = { connection = \"source\", table = \"bucketed\", key = [\"bucket\"] }\nto = { connection = \"target\", mode = \"replace\" }\nparallel = 2\n",
            &[],
        );
        outcome.assert_code(0);
        assert_eq!(target.count("SELECT COUNT(*) FROM bucketed"), 1_000);
        assert_eq!(
            target.count("SELECT COUNT(*) FROM bucketed WHERE bucket IS NULL"),
            100
        );
    }
);

same_database_test!(
    a_key_that_is_not_unique_resumes_without_losing_rows,
    |database| {
        database
            .execute("CREATE TABLE grouped (grp VARCHAR(1) NOT NULL, label VARCHAR(10) NOT NULL)");
        database.execute("INSERT INTO grouped VALUES ('a', 'a1'), ('a', 'a2'), ('a', 'a3'), ('b', 'b1'), ('b', 'b2'), ('c', 'c1'), ('c', 'toolong'), ('c', 'c3'), ('d', 'd1')");
        database
            .execute("CREATE TABLE landed (grp VARCHAR(1) NOT NULL, label VARCHAR(5) NOT NULL)");
        let step = "\n[steps.copy]\nkind = \"transform\"\nfrom = { connection = \"source\", table = \"grouped\", key = [\"grp\"] }\nto = { connection = \"target\", table = \"landed\", mode = \"append\" }\nbatch_size = 2\nverify = false\n";
        let project = Pipewright::new().manifest(&manifest(database, database, step));
        // The value that does not fit stops the copy after some batches are in.
        let failed = project.run_with(&["run", "pipeline.toml"]);
        failed.assert_code(1);
        assert!(
            failed.stderr.contains("landed.label at grp = c"),
            "{}",
            failed.stderr
        );
        let landed = database.count("SELECT COUNT(*) FROM landed");
        assert!(landed > 0 && landed < 9, "{landed}");
        database.execute("UPDATE grouped SET label = 'c2' WHERE label = 'toolong'");
        project
            .run_with(&["run", "pipeline.toml", "--resume"])
            .assert_code(0);
        assert_eq!(
            database.count("SELECT COUNT(*) FROM landed"),
            9,
            "every row, once"
        );
        assert_eq!(
            database.count("SELECT COUNT(DISTINCT label) FROM landed"),
            9
        );
    }
);

#[test]
fn sqlite_partial_indexes_are_not_copied() {
    let Some(source) = TestDatabase::create(Engine::Sqlite, "partial_index") else {
        return;
    };
    let Some(target) = TestDatabase::create(Engine::Postgres, "partial_index") else {
        return;
    };
    source.execute("CREATE TABLE tickets (id INTEGER PRIMARY KEY, code TEXT, open BOOLEAN); CREATE UNIQUE INDEX tickets_open_code ON tickets (code) WHERE open; INSERT INTO tickets VALUES (1, 'x', 1), (2, 'x', 0), (3, 'x', 0)");
    let outcome = run(
        &source,
        &target,
        "\n[steps.copy]\nkind = \"transform\"\nfrom = { connection = \"source\", table = \"tickets\" }\nto = { connection = \"target\", mode = \"create\" }\n",
        &[],
    );
    outcome.assert_code(0);
    assert_eq!(target.count("SELECT COUNT(*) FROM tickets"), 3);
}

/// PostgreSQL builds a new table's indexes two at a time, on the staging table's connection
/// and an idle one of the pool, while the verification reads the rows on a third; a queue
/// hands each index to one builder.
#[test]
fn postgres_builds_indexes_two_at_a_time_each_once() {
    let Some(source) = TestDatabase::create(Engine::MySql, "index_builders") else {
        return;
    };
    let Some(target) = TestDatabase::create(Engine::Postgres, "index_builders") else {
        return;
    };
    source.execute("CREATE TABLE bars (id BIGINT PRIMARY KEY, symbol VARCHAR(16) NOT NULL, day DATE NOT NULL, price DECIMAL(12, 4), volume BIGINT, UNIQUE KEY bars_symbol_day (symbol, day), KEY bars_day (day), KEY bars_price (price))");
    source.execute("INSERT INTO bars SELECT seq, CONCAT('S', seq % 50), DATE_ADD('2020-01-01', INTERVAL seq DIV 50 DAY), seq * 1.5, seq * 100 FROM seq_1_to_5000");
    let outcome = run_logged(
        &source,
        &target,
        "\n[steps.copy]\nkind = \"transform\"\nfrom = { connection = \"source\", table = \"bars\" }\nto = { connection = \"target\", mode = \"create\" }\n",
    );
    outcome.assert_code(0);
    assert!(
        outcome.stderr.contains("indexes=4 builders=2"),
        "{}",
        outcome.stderr
    );
    assert_eq!(
        target.strings(
            "SELECT CAST(indexname AS TEXT) || CASE WHEN indexdef LIKE 'CREATE UNIQUE%' THEN ' unique' ELSE '' END FROM pg_indexes WHERE tablename = 'bars' ORDER BY 1"
        ),
        ["bars_day", "bars_pkey unique", "bars_price", "bars_symbol_day unique"]
            .map(|name| Some(name.to_owned()))
    );
    assert_eq!(
        target.count(
            "SELECT COUNT(*) FROM pg_constraint WHERE conrelid = 'bars'::regclass AND contype = 'p'"
        ),
        1
    );
    assert_eq!(target.checksum("bars"), source.checksum("bars"));
    assert_eq!(table_report(&outcome)["verification"], "passed");
}

same_database_test!(a_key_that_may_be_null_is_copied_in_one_commit, |database| {
    database.numbers_table("numbers", 100);
    database.execute("CREATE TABLE bucketed (id BIGINT PRIMARY KEY, bucket INTEGER)");
    database.execute(
        "INSERT INTO bucketed SELECT id, CASE WHEN id % 10 = 0 THEN NULL ELSE id END FROM numbers",
    );
    let outcome = run(
        database,
        database,
        "\n[steps.copy]\nkind = \"transform\"\nfrom = { connection = \"source\", table = \"bucketed\", key = [\"bucket\"] }\nto = { connection = \"target\", table = \"landed\", mode = \"append\" }\nbatch_size = 7\n",
        &["-v"],
    );
    outcome.assert_code(0);
    assert!(outcome.stderr.contains("may be NULL"), "{}", outcome.stderr);
    assert_eq!(database.count("SELECT COUNT(*) FROM landed"), 100);
    assert_eq!(
        database.count("SELECT COUNT(*) FROM landed WHERE bucket IS NULL"),
        10
    );
});

/// PostgreSQL arrays are copied as their text (`{a,b}`), never as their element's type: a
/// table with one is loaded with text `COPY`, and its arrays arrive whole.
#[test]
fn postgres_truncate_into_an_array_column_loads_in_text() {
    let Some(database) = TestDatabase::create(Engine::Postgres, "truncate_array") else {
        return;
    };
    database.execute("CREATE TABLE source_tags (id BIGINT PRIMARY KEY, tags VARCHAR(16)[]); INSERT INTO source_tags VALUES (1, '{a,b}'), (2, NULL), (3, '{}')");
    database.execute("CREATE TABLE tags (id BIGINT PRIMARY KEY, tags VARCHAR(16)[]); INSERT INTO tags VALUES (9, '{z}')");
    let outcome = run_logged(
        &database,
        &database,
        "\n[steps.copy]\nkind = \"transform\"\nfrom = { connection = \"source\", table = \"source_tags\" }\nto = { connection = \"target\", table = \"tags\", mode = \"truncate\" }\n",
    );
    outcome.assert_code(0);
    assert!(
        outcome.stderr.contains("format=\"text\""),
        "{}",
        outcome.stderr
    );
    assert_eq!(
        database.strings("SELECT CAST(tags[2] AS TEXT) FROM tags ORDER BY id"),
        [Some("b".to_owned()), None, None]
    );
    assert_eq!(
        database.count("SELECT COUNT(*) FROM tags WHERE cardinality(tags) = 0"),
        1
    );

    // Into a new table, the array keeps its type (the same engine takes the declared type).
    let created = run(
        &database,
        &database,
        "\n[steps.copy]\nkind = \"transform\"\nfrom = { connection = \"source\", table = \"source_tags\" }\nto = { connection = \"target\", table = \"tags_copy\", mode = \"create\" }\n",
        &[],
    );
    created.assert_code(0);
    assert_eq!(table_report(&created)["verification"], "passed");
    assert_eq!(
        database.strings("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'tags_copy'::regclass AND attname = 'tags'"),
        [Some("character varying(16)[]".to_owned())]
    );
    assert_eq!(
        database.checksum("tags_copy"),
        database.checksum("source_tags")
    );
}

#[test]
fn mysql_truncate_backups_keep_the_collation() {
    let Some(database) = TestDatabase::create(Engine::MySql, "truncate_collation") else {
        return;
    };
    database.execute("CREATE TABLE source_codes (code VARCHAR(8) PRIMARY KEY) COLLATE utf8mb4_bin; INSERT INTO source_codes VALUES ('a'), ('A'), ('b')");
    database.execute("CREATE TABLE codes (code VARCHAR(8) PRIMARY KEY) COLLATE utf8mb4_bin; INSERT INTO codes VALUES ('x'), ('X')");
    let outcome = run(
        &database,
        &database,
        "\n[steps.copy]\nkind = \"transform\"\nfrom = { connection = \"source\", table = \"source_codes\" }\nto = { connection = \"target\", table = \"codes\", mode = \"truncate\" }\n",
        &[],
    );
    outcome.assert_code(0);
    assert_eq!(database.count("SELECT COUNT(*) FROM codes"), 3);
    let backup = table_report(&outcome)["backup"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        database.count(&format!("SELECT COUNT(*) FROM {backup}")),
        2,
        "`x` and `X` both kept"
    );
}
