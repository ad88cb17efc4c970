//! Hostile names and values through `transform` and `validate` on SQLite, PostgreSQL and
//! MariaDB, and between them: table, column and index names with double quotes, backticks,
//! single quotes, semicolons, `--`, spaces, accents, Chinese, an emoji (where the engines allow
//! one), reserved words and mixed case; values with quotes, backslashes, statement ends,
//! comments, the placeholders of other drivers, control characters, unicode and 120,000
//! characters. Every copy must arrive value for value, every check must pass (or fail on the
//! hostile rows exactly, naming them as they are), and no table may appear or disappear but
//! the ones pipewright says it made: identifiers are quoted and values bound or escaped, never
//! spliced into SQL. Names with a `.` are left out: pipewright documents them as `schema.table`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::common::{Outcome, Pipewright, header};
use crate::servers::{Engine, TestDatabase};
use crate::support::servers_shared;

/// The table copied: a double quote, a backtick, single quotes, a semicolon, `--` and spaces.
const TABLE: &str = "we\"ird `tab` 'n'; --x";
/// The table a `relationship` check refers to: a reserved word.
const REFERENCE: &str = "select";
/// Where each source copies [`TABLE`] within its own database.
const WITHIN: &str = "Copy \"of\" `t` 'x';--";
/// An index of [`TABLE`], which the copies bring along.
const INDEX: &str = "idx \"i\" `j` 'k';";
/// The column the transform renames, and the name it gets on the target.
const RENAMED: (&str, &str) = ("we\"ird", "re\"named `x` 'y' ;--");
/// The value that would end a statement and drop a table if it were spliced into SQL.
const DROP: &str = "'; DROP TABLE x; --";
/// Control characters (no NUL): tab, newline, carriage return, bell, an ANSI colour, DEL, SOH.
const CONTROL: &str = "tab\tnl\nret\rbell\u{7}esc\u{1b}[31mdel\u{7f}\u{1}end";
/// The rows of [`TABLE`]: one per hostile value.
const ROWS: u64 = 14;
/// The checks of each validate step of [`hostile_copy`].
const CHECKS: usize = 10;

/// What a column of [`TABLE`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The primary key.
    Key,
    /// Any text, the 120,000 characters included.
    Text,
    /// Text of at most 200 characters (the long value becomes `long`).
    Short,
    Integer,
    Decimal,
}

/// MySQL refuses characters outside the Basic Multilingual Plane in names.
fn allows_emoji(engine: Engine) -> bool {
    engine != Engine::MySql
}

/// The columns of [`TABLE`]: reserved words, mixed case, the quote of every engine, a
/// semicolon, `--`, a space, accents, Chinese and, if `emoji`, an emoji.
fn columns(emoji: bool) -> Vec<(&'static str, Kind)> {
    let mut columns = vec![
        ("select", Kind::Key),
        ("order", Kind::Text),
        ("group", Kind::Short),
        ("table", Kind::Integer),
        ("from", Kind::Decimal),
        ("MixedCase", Kind::Text),
        (RENAMED.0, Kind::Text),
        ("back`tick", Kind::Text),
        ("it's", Kind::Text),
        ("semi;colon", Kind::Text),
        ("dash--dash", Kind::Text),
        ("with space", Kind::Text),
        ("prix_é", Kind::Decimal),
        ("价格", Kind::Integer),
    ];
    if emoji {
        columns.push(("🙂", Kind::Text));
    }
    columns
}

/// The SQL type of a column of `kind` on `engine`.
fn sql_type(engine: Engine, kind: Kind) -> &'static str {
    match (kind, engine) {
        (Kind::Key, _) => "BIGINT NOT NULL",
        (Kind::Text, Engine::MySql) => "LONGTEXT",
        (Kind::Text, _) => "TEXT",
        (Kind::Short, _) => "VARCHAR(200)",
        (Kind::Integer, _) => "INTEGER",
        (Kind::Decimal, _) => "DECIMAL(12, 2)",
    }
}

/// 120,000 characters of quotes, backslashes, semicolons and backticks.
fn long_value() -> String {
    "x'\"\\;`".repeat(20_000)
}

/// Text no statement may be built from: quotes, backslashes, statement ends, comments, the
/// placeholders and variables of other drivers and shells, control characters, unicode (a
/// right-to-left override included), the empty string and [`long_value`].
fn hostile_values() -> Vec<String> {
    let mut values: Vec<String> = [
        "it's",
        "\"double\"",
        r#"back\slash \\ \' \""#,
        "semi;colon;",
        DROP,
        "\"; DROP TABLE x; --",
        "`); DROP TABLE x; --",
        CONTROL,
        "héllo wörld 价格 🙂 \u{202e}rtl",
        "$1 $$ $tag$ %_* :name @var",
        "/* c */ -- d # e",
        "${HOME} $${X}",
        "",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    values.push(long_value());
    values
}

/// One value of a row, as the test writes it in SQL.
#[derive(Debug, Clone)]
enum Cell {
    Text(String),
    Number(String),
}

/// `name` quoted as an identifier of `engine`, by the test itself.
fn quote(engine: Engine, name: &str) -> String {
    match engine {
        Engine::MySql => format!("`{}`", name.replace('`', "``")),
        Engine::Postgres | Engine::Sqlite => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// `cell` as a literal of `engine`'s SQL (MySQL reads backslashes as escapes).
fn literal(engine: Engine, cell: &Cell) -> String {
    match cell {
        Cell::Number(number) => number.clone(),
        Cell::Text(text) => {
            let mut escaped = text.replace('\'', "''");
            if engine == Engine::MySql {
                escaped = escaped.replace('\\', "\\\\");
            }
            format!("'{escaped}'")
        }
    }
}

/// The rows of [`TABLE`]: row `n` holds the `n`th hostile value in every text column. The
/// decimals are never whole, so that no engine's notation of `3.00` matters.
fn rows(emoji: bool) -> Vec<Vec<Cell>> {
    hostile_values()
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            let number = index + 1;
            let short = if value.chars().count() <= 200 {
                value.clone()
            } else {
                "long".to_owned()
            };
            columns(emoji)
                .iter()
                .map(|(_, kind)| match kind {
                    Kind::Key => Cell::Number(number.to_string()),
                    Kind::Text => Cell::Text(value.clone()),
                    Kind::Short => Cell::Text(short.clone()),
                    Kind::Integer => Cell::Number((number * 7).to_string()),
                    Kind::Decimal => Cell::Number(format!("{number}.25")),
                })
                .collect()
        })
        .collect()
}

/// The statements that make [`TABLE`] (with [`INDEX`]) and [`REFERENCE`] on `engine`.
fn corpus(engine: Engine, emoji: bool) -> String {
    let q = |name: &str| quote(engine, name);
    let definitions = columns(emoji)
        .iter()
        .map(|(name, kind)| format!("{} {}", q(name), sql_type(engine, *kind)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut statements = vec![
        format!(
            "CREATE TABLE {} ({definitions}, PRIMARY KEY ({}))",
            q(TABLE),
            q("select")
        ),
        format!("CREATE INDEX {} ON {} ({})", q(INDEX), q(TABLE), q("group")),
    ];
    for row in rows(emoji) {
        let values = row
            .iter()
            .map(|cell| literal(engine, cell))
            .collect::<Vec<_>>()
            .join(", ");
        statements.push(format!("INSERT INTO {} VALUES ({values})", q(TABLE)));
    }
    statements.push(format!(
        "CREATE TABLE {} ({} INTEGER NOT NULL PRIMARY KEY, {} {})",
        q(REFERENCE),
        q("group"),
        q("order"),
        sql_type(engine, Kind::Text)
    ));
    for (index, value) in hostile_values().into_iter().enumerate() {
        statements.push(format!(
            "INSERT INTO {} VALUES ({}, {})",
            q(REFERENCE),
            index + 1,
            literal(engine, &Cell::Text(value))
        ));
    }
    statements.join(";\n")
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\u{0}'..='\u{1f}' | '\u{7f}' => {
                let _ = write!(quoted, "\\u{:04x}", u32::from(character));
            }
            _ => quoted.push(character),
        }
    }
    quoted.push('"');
    quoted
}

/// `names` as a TOML array of strings.
fn toml_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let items = names.into_iter().map(toml_string).collect::<Vec<_>>();
    format!("[{}]", items.join(", "))
}

/// The `[connections]` of a manifest: `source` and `target`.
fn connections(source: &TestDatabase, target: &TestDatabase) -> String {
    format!(
        "[connections.source]\nurl = {}\n\n[connections.target]\nurl = {}\n",
        toml_string(&source.url),
        toml_string(&target.url)
    )
}

/// The checks of a validate step on [`TABLE`]: `other` is the other side's connection,
/// `renamed` the name the renamed column has on this side. Every one passes on the corpus.
fn checks(other: &str, renamed: &str, emoji: bool) -> String {
    let values = hostile_values();
    let compared = columns(emoji)
        .into_iter()
        .filter(|(name, kind)| *kind != Kind::Key && *name != RENAMED.0)
        .map(|(name, _)| name)
        .collect::<Vec<_>>();
    let table = toml_string(TABLE);
    format!(
        r#"checks = [
  {{ kind = "not_null", columns = {not_null} }},
  {{ kind = "unique", columns = {key} }},
  {{ kind = "unique", columns = {pair} }},
  {{ kind = "accepted_values", column = {quoted}, values = {values} }},
  {{ kind = "range", column = {from}, min = 0, max = 100 }},
  {{ kind = "range", column = {price}, min = 0, max = 100 }},
  {{ kind = "regex", column = {semicolon}, pattern = {pattern} }},
  {{ kind = "relationship", column = {mixed}, references = {{ table = {reference}, column = {order} }} }},
  {{ kind = "row_count", same_as = {{ connection = "{other}", table = {table} }} }},
  {{ kind = "reconcile", with = {{ connection = "{other}", table = {table} }}, key = {key}, columns = {compared} }},
]
"#,
        not_null = toml_list(["select", "order", renamed]),
        key = toml_list(["select"]),
        pair = toml_list(["group", "MixedCase"]),
        quoted = toml_string("it's"),
        values = toml_list(values.iter().map(String::as_str)),
        from = toml_string("from"),
        price = toml_string("价格"),
        semicolon = toml_string("semi;colon"),
        // Any text: characters other than a quote, quotes, backslashes.
        pattern = toml_string(r"^([^']|'|\\)*$"),
        mixed = toml_string("MixedCase"),
        reference = toml_string(REFERENCE),
        order = toml_string("order"),
        compared = toml_list(compared),
    )
}

/// The manifest of [`hostile_copy`]: [`TABLE`] (a column renamed) and [`REFERENCE`] copied
/// to the target, [`TABLE`] copied to [`WITHIN`] in the source's own database, then the
/// checks on both sides.
fn copy_manifest(source: &TestDatabase, target: &TestDatabase, mode: &str, emoji: bool) -> String {
    let table = toml_string(TABLE);
    format!(
        r#"{header}
{connections}
[steps.copy_main]
kind = "transform"
from = {{ connection = "source", table = {table} }}
to = {{ connection = "target", mode = "{mode}" }}
batch_size = 4
columns = {{ {renamed_from} = {{ rename = {renamed_to} }} }}

[steps.copy_reference]
kind = "transform"
after = ["copy_main"]
from = {{ connection = "source", table = {reference} }}
to = {{ connection = "target", mode = "{mode}" }}

[steps.copy_within]
kind = "transform"
after = ["copy_reference"]
from = {{ connection = "source", table = {table} }}
to = {{ connection = "source", table = {within}, mode = "{mode}" }}

[steps.check_target]
kind = "validate"
after = ["copy_within"]
connection = "target"
table = {table}
{target_checks}
[steps.check_source]
kind = "validate"
after = ["check_target"]
connection = "source"
table = {table}
{source_checks}"#,
        header = header("hostile", 1),
        connections = connections(source, target),
        renamed_from = toml_string(RENAMED.0),
        renamed_to = toml_string(RENAMED.1),
        reference = toml_string(REFERENCE),
        within = toml_string(WITHIN),
        target_checks = checks("source", RENAMED.1, emoji),
        source_checks = checks("target", RENAMED.0, emoji),
    )
}

/// Runs `manifest` in a directory of its own, with a run report.
fn run(manifest: &str) -> Outcome {
    Pipewright::new()
        .manifest(manifest)
        .args(["run", "pipeline.toml", "--report", "report.json"])
        .run()
}

/// At most 400 characters of `text`: the corpus makes messages of 120,000.
fn cut(text: &str) -> String {
    text.chars().take(400).collect()
}

/// The report's entry of step `id`.
fn step<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["steps"]
        .as_array()
        .expect("the report lists its steps")
        .iter()
        .find(|step| step["id"] == id)
        .unwrap_or_else(|| panic!("no step `{id}` in the report"))
}

/// The checks of validate step `id`: (name, status, the start of the message).
fn checks_of(report: &serde_json::Value, id: &str) -> Vec<(String, String, String)> {
    step(report, id)["details"]["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("step `{id}` reports no checks"))
        .iter()
        .map(|check| {
            (
                check["name"].as_str().map(cut).unwrap_or_default(),
                check["status"].as_str().unwrap_or_default().to_owned(),
                check["message"].as_str().map(cut).unwrap_or_default(),
            )
        })
        .collect()
}

/// Asserts that every step succeeded and every check passed; the report.
fn assert_all_passed(outcome: &Outcome) -> serde_json::Value {
    let report = outcome.report();
    let mut problems = Vec::new();
    for entry in report["steps"]
        .as_array()
        .expect("the report lists its steps")
    {
        if entry["status"] != "succeeded" {
            problems.push(format!(
                "step {} {}: {}",
                entry["id"],
                entry["status"],
                entry["error"].as_str().map(cut).unwrap_or_default()
            ));
        }
    }
    for id in ["check_target", "check_source"] {
        if step(&report, id)["details"]["checks"].as_array().is_none() {
            problems.push(format!("{id}: no checks reported"));
            continue;
        }
        let checks = checks_of(&report, id);
        if checks.len() != CHECKS {
            problems.push(format!("{id}: {} checks instead of {CHECKS}", checks.len()));
        }
        problems.extend(
            checks
                .into_iter()
                .filter(|(_, status, _)| status != "passed")
                .map(|check| format!("{id}: {check:?}")),
        );
    }
    assert!(
        outcome.code == 0 && problems.is_empty(),
        "exit code {}: {problems:#?}\n--- stderr (start)\n{}",
        outcome.code,
        cut(&outcome.stderr)
    );
    report
}

/// The backup step `id` made of the table it replaced.
fn backup(report: &serde_json::Value, id: &str) -> String {
    step(report, id)["details"]["tables"][0]["backup"]
        .as_str()
        .unwrap_or_else(|| panic!("step `{id}` made no backup"))
        .to_owned()
}

/// The tables of `database`.
fn tables(database: &TestDatabase) -> BTreeSet<String> {
    database.table_names().into_iter().collect()
}

/// `before` with `added`.
fn with(before: &BTreeSet<String>, added: &[&str]) -> BTreeSet<String> {
    let mut tables = before.clone();
    tables.extend(added.iter().map(|name| (*name).to_owned()));
    tables
}

/// The corpus from `from` to `to` with `create`, then again with `replace`: every copy
/// arrives value for value (checksums), every check passes on both sides, and the only
/// tables that appear are the targets and the backups the report names.
fn hostile_copy(from: Engine, to: Engine) {
    let _servers = servers_shared();
    let Some(source) = TestDatabase::create(from, "hostile_copy") else {
        return;
    };
    let Some(target) = TestDatabase::create(to, "hostile_copy") else {
        return;
    };
    let emoji = allows_emoji(from) && allows_emoji(to);
    source.execute(&corpus(from, emoji));
    // A SQLite target is a file made on first use: make it, to list its tables.
    target.execute("SELECT 1");
    let (source_before, target_before) = (tables(&source), tables(&target));
    let expected = source.checksum(TABLE);
    assert_eq!(expected.0, ROWS);
    let reference = source.checksum(REFERENCE);

    let created = run(&copy_manifest(&source, &target, "create", emoji));
    let report = assert_all_passed(&created);
    let main = &step(&report, "copy_main")["details"]["tables"][0];
    assert_eq!(main["verification"], "passed");
    assert_eq!(main["checksum"], expected.1.as_str());
    assert_eq!(target.checksum(TABLE), expected, "value for value");
    assert_eq!(target.checksum(REFERENCE), reference);
    assert_eq!(source.checksum(WITHIN), expected);
    assert_eq!(source.checksum(TABLE), expected, "the source is untouched");
    assert_eq!(tables(&target), with(&target_before, &[TABLE, REFERENCE]));
    assert_eq!(tables(&source), with(&source_before, &[WITHIN]));

    let replaced = run(&copy_manifest(&source, &target, "replace", emoji));
    let report = assert_all_passed(&replaced);
    let (main_backup, reference_backup, within_backup) = (
        backup(&report, "copy_main"),
        backup(&report, "copy_reference"),
        backup(&report, "copy_within"),
    );
    assert_eq!(target.checksum(TABLE), expected);
    assert_eq!(target.checksum(&main_backup), expected);
    assert_eq!(target.checksum(REFERENCE), reference);
    assert_eq!(source.checksum(WITHIN), expected);
    assert_eq!(source.checksum(&within_backup), expected);
    assert_eq!(source.checksum(TABLE), expected, "the source is untouched");
    assert_eq!(
        tables(&target),
        with(
            &target_before,
            &[
                TABLE,
                REFERENCE,
                main_backup.as_str(),
                reference_backup.as_str()
            ]
        )
    );
    assert_eq!(
        tables(&source),
        with(&source_before, &[WITHIN, within_backup.as_str()])
    );
}

/// The corpus in every direction, same-engine copies included.
mod copies {
    use super::{Engine, hostile_copy};

    #[test]
    fn sqlite_to_sqlite() {
        hostile_copy(Engine::Sqlite, Engine::Sqlite);
    }

    #[test]
    fn sqlite_to_postgres() {
        hostile_copy(Engine::Sqlite, Engine::Postgres);
    }

    #[test]
    fn sqlite_to_mysql() {
        hostile_copy(Engine::Sqlite, Engine::MySql);
    }

    #[test]
    fn postgres_to_sqlite() {
        hostile_copy(Engine::Postgres, Engine::Sqlite);
    }

    #[test]
    fn postgres_to_postgres() {
        hostile_copy(Engine::Postgres, Engine::Postgres);
    }

    #[test]
    fn postgres_to_mysql() {
        hostile_copy(Engine::Postgres, Engine::MySql);
    }

    #[test]
    fn mysql_to_sqlite() {
        hostile_copy(Engine::MySql, Engine::Sqlite);
    }

    #[test]
    fn mysql_to_postgres() {
        hostile_copy(Engine::MySql, Engine::Postgres);
    }

    #[test]
    fn mysql_to_mysql() {
        hostile_copy(Engine::MySql, Engine::MySql);
    }
}

/// An `accepted_values` check that leaves out two hostile values fails on exactly their rows,
/// and its samples show them as they are stored.
fn failing_check_shows_hostile_values(engine: Engine) {
    let _servers = servers_shared();
    let Some(database) = TestDatabase::create(engine, "hostile_failing") else {
        return;
    };
    database.execute(&corpus(engine, allows_emoji(engine)));
    let before = tables(&database);
    let expected = database.checksum(TABLE);
    let missing = [DROP, CONTROL];
    let allowed = hostile_values()
        .into_iter()
        .filter(|value| !missing.contains(&value.as_str()))
        .collect::<Vec<_>>();
    let manifest = format!(
        "{}\n[connections.db]\nurl = {}\n\n[steps.check]\nkind = \"validate\"\nconnection = \"db\"\ntable = {}\nchecks = [\n  {{ kind = \"accepted_values\", column = {}, values = {}, samples = 10 }},\n]\n",
        header("hostile_failing", 1),
        toml_string(&database.url),
        toml_string(TABLE),
        toml_string("it's"),
        toml_list(allowed.iter().map(String::as_str)),
    );
    let outcome = Pipewright::new()
        .manifest(&manifest)
        .args([
            "run",
            "pipeline.toml",
            "--report",
            "report.json",
            "--junit",
            "junit.xml",
        ])
        .run();
    assert_eq!(outcome.code, 1, "{}", cut(&outcome.stderr));
    let report = outcome.report();
    let check = &step(&report, "check")["details"]["checks"][0];
    assert_eq!(check["status"], "failed");
    assert_eq!(check["failing_rows"], 2);
    let message = check["message"].as_str().expect("a message");
    assert!(
        message.starts_with("2 of 14 rows have `it's` outside [it's, \"double\", "),
        "{}",
        cut(message)
    );
    assert!(
        message.contains(r#"back\slash \\ \' \""#),
        "the accepted values are shown as written: {}",
        cut(message)
    );
    let samples = check["samples"]
        .as_array()
        .expect("samples of the failing rows")
        .iter()
        .map(|sample| sample["it's"].as_str().expect("the value, as text"))
        .collect::<BTreeSet<_>>();
    assert_eq!(samples, BTreeSet::from(missing), "the values arrive intact");
    assert!(
        outcome
            .stderr
            .contains("failed accepted_values(it's): 2 of 14 rows"),
        "{}",
        cut(&outcome.stderr)
    );
    assert!(
        outcome.read("junit.xml").contains("DROP TABLE x; --"),
        "the JUnit failure shows the failing row"
    );
    assert_eq!(tables(&database), before, "no table dropped or made");
    assert_eq!(database.checksum(TABLE), expected);
}

mod failing_check {
    use super::{Engine, failing_check_shows_hostile_values};

    #[test]
    fn sqlite() {
        failing_check_shows_hostile_values(Engine::Sqlite);
    }

    #[test]
    fn postgres() {
        failing_check_shows_hostile_values(Engine::Postgres);
    }

    #[test]
    fn mysql() {
        failing_check_shows_hostile_values(Engine::MySql);
    }
}

/// A `?` in a table name, a column name and a value: a placeholder to a driver that numbers
/// its parameters (`$1` on PostgreSQL), text inside quotes to every engine. Checks and a copy
/// within the database must treat it as text.
fn question_marks(engine: Engine) {
    let _servers = servers_shared();
    let Some(database) = TestDatabase::create(engine, "hostile_question") else {
        return;
    };
    let q = |name: &str| quote(engine, name);
    database.execute(&format!(
        "CREATE TABLE {} ({} INTEGER NOT NULL PRIMARY KEY, {} VARCHAR(20));\nINSERT INTO {} VALUES (1, 'a?b'), (2, '?'), (3, '$1')",
        q("what?"),
        q("id"),
        q("why?"),
        q("what?")
    ));
    let before = tables(&database);
    let outcome = run(&format!(
        r#"{}
[connections.db]
url = {}

[steps.check]
kind = "validate"
connection = "db"
table = "what?"
checks = [
  {{ kind = "not_null", columns = ["why?"] }},
  {{ kind = "unique", columns = ["why?"] }},
  {{ kind = "accepted_values", column = "why?", values = ["a?b", "?", "$1"] }},
  {{ kind = "regex", column = "why?", pattern = "^(a\\?b|\\?|\\$1)$" }},
]

[steps.copy]
kind = "transform"
from = {{ connection = "db", table = "what?" }}
to = {{ connection = "db", table = "where?", mode = "replace" }}
"#,
        header("hostile_question", 1),
        toml_string(&database.url)
    ));
    let report = outcome.report();
    let checks = checks_of(&report, "check");
    assert!(
        outcome.code == 0 && checks.iter().all(|(_, status, _)| status == "passed"),
        "exit code {}: {checks:#?}\n{}",
        outcome.code,
        cut(&outcome.stderr)
    );
    // Read without pipewright, whose checksum would meet the same `?`.
    let copied = database.strings(&format!(
        "SELECT {} FROM {} ORDER BY {}",
        q("why?"),
        q("where?"),
        q("id")
    ));
    assert_eq!(
        copied,
        ["a?b", "?", "$1"].map(|value| Some(value.to_owned()))
    );
    assert_eq!(tables(&database), with(&before, &["where?"]));
}

mod question_mark {
    use super::{Engine, question_marks};

    #[test]
    fn sqlite() {
        question_marks(Engine::Sqlite);
    }

    #[test]
    fn postgres() {
        question_marks(Engine::Postgres);
    }

    #[test]
    fn mysql() {
        question_marks(Engine::MySql);
    }
}

/// `{groups}`, a marker some SQL templates fill in, as a column name and as a value: text
/// like any other.
fn template_markers(engine: Engine) {
    let _servers = servers_shared();
    let Some(database) = TestDatabase::create(engine, "hostile_template") else {
        return;
    };
    let q = |name: &str| quote(engine, name);
    // `code` holds the marker as a value; the column `{groups}` is named after it.
    database.execute(&format!(
        "CREATE TABLE {} ({} INTEGER NOT NULL PRIMARY KEY, {} VARCHAR(20), {} VARCHAR(20));\nINSERT INTO {} VALUES (1, '{{groups}}', '{{groups}}'), (2, 'plain', 'plain')",
        q("marks"),
        q("id"),
        q("code"),
        q("{groups}"),
        q("marks")
    ));
    let before = tables(&database);
    let outcome = run(&format!(
        r#"{}
[connections.db]
url = {}

[steps.check]
kind = "validate"
connection = "db"
table = "marks"
checks = [
  {{ kind = "accepted_values", column = "code", values = ["{{groups}}", "plain"] }},
  {{ kind = "not_null", columns = ["{{groups}}"] }},
  {{ kind = "unique", columns = ["{{groups}}"] }},
  {{ kind = "accepted_values", column = "{{groups}}", values = ["{{groups}}", "plain"] }},
  {{ kind = "regex", column = "{{groups}}", pattern = "^(\\{{groups\\}}|plain)$" }},
]
"#,
        header("hostile_template", 1),
        toml_string(&database.url)
    ));
    let report = outcome.report();
    let checks = checks_of(&report, "check");
    assert!(
        outcome.code == 0 && checks.iter().all(|(_, status, _)| status == "passed"),
        "exit code {}: {checks:#?}",
        outcome.code
    );
    assert_eq!(tables(&database), before);
}

mod template_marker {
    use super::{Engine, template_markers};

    #[test]
    fn sqlite() {
        template_markers(Engine::Sqlite);
    }

    #[test]
    fn postgres() {
        template_markers(Engine::Postgres);
    }

    #[test]
    fn mysql() {
        template_markers(Engine::MySql);
    }
}

/// MySQL `ENUM` and `SET` members with backslashes, quotes, a semicolon and a comma, copied
/// to `to`: the members are read from the catalog (where MySQL writes `\\` for a backslash)
/// and, on a MySQL target, written into `ENUM(...)` again.
fn mysql_enum_members(to: Engine) {
    let _servers = servers_shared();
    let Some(source) = TestDatabase::create(Engine::MySql, "hostile_enum") else {
        return;
    };
    let Some(target) = TestDatabase::create(to, "hostile_enum") else {
        return;
    };
    source.execute(
        r#"CREATE TABLE `en"um` (id INT PRIMARY KEY, e ENUM('back\\slash', 'it''s', 'semi;colon', 'com,ma', '"dq"', 'x\\''y'), s SET('a\\b', 'c''d', 'e;f'));
INSERT INTO `en"um` VALUES (1, 'back\\slash', 'a\\b'), (2, 'it''s', 'c''d'), (3, 'x\\''y', 'a\\b,c''d,e;f'), (4, 'com,ma', ''), (5, '"dq"', NULL), (6, 'semi;colon', 'e;f')"#,
    );
    let expected = source.checksum("en\"um");
    assert_eq!(expected.0, 6);
    let outcome = run(&format!(
        r#"{}
{}
[steps.copy]
kind = "transform"
from = {{ connection = "source", table = "en\"um" }}
to = {{ connection = "target", mode = "replace" }}
"#,
        header("hostile_enum", 1),
        connections(&source, &target)
    ));
    outcome.assert_code(0);
    assert_eq!(target.checksum("en\"um"), expected);
    let text = if to == Engine::Postgres {
        "TEXT"
    } else {
        "CHAR"
    };
    let members = target.strings(&format!(
        "SELECT CAST(e AS {text}) FROM {} ORDER BY id",
        quote(to, "en\"um")
    ));
    assert_eq!(
        members,
        [
            "back\\slash",
            "it's",
            "x\\'y",
            "com,ma",
            "\"dq\"",
            "semi;colon"
        ]
        .map(|member| Some(member.to_owned())),
    );
}

mod enum_members {
    use super::{Engine, mysql_enum_members};

    #[test]
    fn into_mysql() {
        mysql_enum_members(Engine::MySql);
    }

    #[test]
    fn into_postgres() {
        mysql_enum_members(Engine::Postgres);
    }

    #[test]
    fn into_sqlite() {
        mysql_enum_members(Engine::Sqlite);
    }
}

/// A column rule's `value` and `default` are values: a statement end, a comment, a
/// backslash, a `?` and `{groups}` arrive as text in a new column and in place of a NULL.
fn constants_and_defaults(from: Engine, to: Engine) {
    let _servers = servers_shared();
    let Some(source) = TestDatabase::create(from, "hostile_constants") else {
        return;
    };
    let Some(target) = TestDatabase::create(to, "hostile_constants") else {
        return;
    };
    source.execute("CREATE TABLE cv (id INTEGER NOT NULL PRIMARY KEY, n VARCHAR(40));\nINSERT INTO cv VALUES (1, NULL), (2, 'x')");
    let default = "'; DROP TABLE cv; -- \\ ?";
    let constant = "x'); DROP TABLE cv; -- \\ ? {groups} $1";
    let column = "new`'\"col";
    let outcome = run(&format!(
        r#"{}
{}
[steps.copy]
kind = "transform"
from = {{ connection = "source", table = "cv" }}
to = {{ connection = "target", mode = "replace" }}
columns = {{ n = {{ default = {} }}, {} = {{ value = {} }} }}
"#,
        header("hostile_constants", 1),
        connections(&source, &target),
        toml_string(default),
        toml_string(column),
        toml_string(constant)
    ));
    outcome.assert_code(0);
    let read = |sql: &str| {
        target
            .strings(sql)
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
    };
    assert_eq!(read("SELECT n FROM cv ORDER BY id"), [default, "x"]);
    assert_eq!(
        read(&format!("SELECT {} FROM cv ORDER BY id", quote(to, column))),
        [constant, constant]
    );
    assert_eq!(tables(&target), BTreeSet::from(["cv".to_owned()]));
    assert_eq!(source.checksum("cv").0, 2, "the source is untouched");
}

mod constants {
    use super::{Engine, constants_and_defaults};

    #[test]
    fn postgres_to_mysql() {
        constants_and_defaults(Engine::Postgres, Engine::MySql);
    }

    #[test]
    fn mysql_to_sqlite() {
        constants_and_defaults(Engine::MySql, Engine::Sqlite);
    }

    #[test]
    fn sqlite_to_postgres() {
        constants_and_defaults(Engine::Sqlite, Engine::Postgres);
    }
}

/// Names at each engine's limit (62 bytes on PostgreSQL, 64 characters on MySQL), with
/// quotes in them: the staging tables and backups, whose names are longer, are cut and
/// hashed, and three replaces in a row keep one backup.
fn names_at_the_limit(engine: Engine, to: Engine) {
    let _servers = servers_shared();
    let Some(source) = TestDatabase::create(engine, "hostile_long") else {
        return;
    };
    let Some(target) = TestDatabase::create(to, "hostile_long") else {
        return;
    };
    // 62 bytes in 37 characters on PostgreSQL and SQLite; 64 characters (74 bytes) on MySQL,
    // whose file names hold no more.
    let (table, column) = if engine == Engine::MySql {
        (
            format!("M`\"'; {}{}", "é".repeat(10), "x".repeat(48)),
            format!("C`\"'; {}{}", "é".repeat(10), "y".repeat(48)),
        )
    } else {
        (
            format!("T\"`'; {}{}", "é".repeat(25), "x".repeat(6)),
            format!("C\"`'; {}{}", "é".repeat(25), "y".repeat(6)),
        )
    };
    let q = |name: &str| quote(engine, name);
    source.execute(&format!(
        "CREATE TABLE {} ({} INTEGER NOT NULL PRIMARY KEY, v VARCHAR(10));\nCREATE INDEX {} ON {} (v);\nINSERT INTO {} VALUES (1, 'a'), (2, 'b')",
        q(&table),
        q(&column),
        q(&"I".repeat(60)),
        q(&table),
        q(&table)
    ));
    let expected = source.checksum(&table);
    let manifest = format!(
        r#"{}
{}
[steps.copy]
kind = "transform"
from = {{ connection = "source", table = {} }}
to = {{ connection = "target", mode = "replace" }}
"#,
        header("hostile_long", 1),
        connections(&source, &target),
        toml_string(&table)
    );
    for attempt in 0..3 {
        if attempt > 0 {
            // Backups are named by the second they were made in.
            std::thread::sleep(std::time::Duration::from_millis(1100));
        }
        run(&manifest).assert_code(0);
        assert_eq!(target.checksum(&table), expected);
    }
    let names = tables(&target);
    assert_eq!(names.len(), 2, "the table and one backup: {names:?}");
    assert!(names.contains(&table), "{names:?}");
}

mod long_names {
    use super::{Engine, names_at_the_limit};

    #[test]
    fn postgres_to_postgres() {
        names_at_the_limit(Engine::Postgres, Engine::Postgres);
    }

    #[test]
    fn postgres_to_mysql() {
        names_at_the_limit(Engine::Postgres, Engine::MySql);
    }

    #[test]
    fn mysql_to_mysql() {
        names_at_the_limit(Engine::MySql, Engine::MySql);
    }

    #[test]
    fn mysql_to_sqlite() {
        names_at_the_limit(Engine::MySql, Engine::Sqlite);
    }
}

/// Two MySQL tables whose 64-character names differ only in the last one: PostgreSQL keeps
/// 63 bytes of a name. Whatever pipewright does about it, every table its report says it
/// wrote must be on the target under that name, with its own rows; the run must not
/// report two copies while one table replaced the other.
#[test]
fn names_too_long_for_postgres_are_not_merged() {
    let _servers = servers_shared();
    let Some(source) = TestDatabase::create(Engine::MySql, "hostile_too_long") else {
        return;
    };
    let Some(target) = TestDatabase::create(Engine::Postgres, "hostile_too_long") else {
        return;
    };
    let first = format!("{}a", "t".repeat(63));
    let second = format!("{}b", "t".repeat(63));
    source.execute(&format!(
        "CREATE TABLE {first} (id INT PRIMARY KEY, v TEXT);\nCREATE TABLE {second} (id INT PRIMARY KEY, v TEXT);\nINSERT INTO {first} VALUES (1, 'first');\nINSERT INTO {second} VALUES (2, 'second')"
    ));
    let outcome = run(&format!(
        r#"{}
{}
[steps.copy]
kind = "transform"
from = {{ connection = "source", tables = ["{first}", "{second}"] }}
to = {{ connection = "target", mode = "replace" }}
"#,
        header("hostile_too_long", 1),
        connections(&source, &target)
    ));
    let report = outcome.report();
    let names = tables(&target);
    for copied in step(&report, "copy")["details"]["tables"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = copied["target"].as_str().expect("a target name");
        assert!(
            names.contains(name),
            "the report says `{name}` was written, the target holds {names:?}\n{}",
            outcome.stderr
        );
        let source_name = copied["source"].as_str().expect("a source name");
        assert_eq!(target.checksum(name), source.checksum(source_name));
    }
}
