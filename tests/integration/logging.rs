//! The five log sinks: what lands in the files, with run and step, nothing dropped, levels
//! configurable, and no secret anywhere.

use crate::common::{Pipewright, header};
use crate::servers::{Engine, TestDatabase};

fn log_files(outcome: &crate::common::Outcome, suffix: &str) -> String {
    let directory = outcome.directory.join(".pipewright/logs");
    let mut text = String::new();
    for entry in std::fs::read_dir(&directory).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(suffix) {
            text.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    text
}

#[test]
fn every_sink_tags_records_with_run_and_step() {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}\n[steps.noisy]\nkind = \"command\"\nshell = \"echo to the debug file; exit 4\"\n",
            header("tags", 1)
        ))
        .args(["run", "pipeline.toml", "--report", "report.json"])
        .run();
    outcome.assert_code(1);
    let run_id = outcome.report()["run_id"].as_str().unwrap().to_owned();

    let debug = log_files(&outcome, ".log");
    let output_line = debug
        .lines()
        .find(|line| line.contains("to the debug file") && line.contains("stream=\"stdout\""))
        .expect("command output is in the DEBUG file");
    assert!(
        output_line.contains(&format!("run{{run_id={run_id}")),
        "{output_line}"
    );
    assert!(output_line.contains("step{step_id=noisy}"), "{output_line}");
    assert!(
        regex::Regex::new(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} DEBUG ")
            .unwrap()
            .is_match(output_line),
        "time with milliseconds, then the level: {output_line}"
    );

    let errors: Vec<String> = std::fs::read_dir(outcome.directory.join(".pipewright/logs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("errors.")
        })
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("ERROR"), "{}", errors[0]);
    assert!(
        !errors[0].contains("DEBUG"),
        "only ERROR+ in the error file"
    );

    let json = log_files(&outcome, ".jsonl");
    let failure: serde_json::Value = json
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|record| record["level"] == "ERROR")
        .expect("the failure is in the JSON lines");
    assert_eq!(failure["run_id"], run_id.as_str());
    assert_eq!(failure["step_id"], "noisy");
    assert!(
        failure["exception"]
            .as_str()
            .is_some_and(|error| !error.is_empty()),
        "the step's error is the record's exception: {failure}"
    );
    assert!(
        failure["metadata"].get("error").is_none(),
        "and is not repeated in the metadata: {failure}"
    );
    assert!(
        json.lines().all(|line| !line.contains("\"DEBUG\"")),
        "JSON lines are INFO+"
    );
}

#[test]
fn file_sinks_keep_every_line_under_load() {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}\n[steps.flood]\nkind = \"command\"\nshell = \"i=0; while [ $i -lt 20000 ]; do echo flood-line-$i; i=$((i+1)); done\"\n",
            header("flood", 1)
        ))
        .args(["run", "pipeline.toml", "--progress", "none"])
        .run();
    outcome.assert_code(0);
    let debug = log_files(&outcome, ".log");
    let lines = debug
        .lines()
        .filter(|line| line.contains("flood-line-") && line.contains("stream=\"stdout\""))
        .count();
    assert_eq!(lines, 20_000);
    assert!(debug.contains("flood-line-19999"));
}

#[test]
fn sink_levels_and_directory_come_from_the_manifest() {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}\n[logging]\ndir = \"my-logs\"\nfile_level = \"off\"\njson_level = \"warn\"\nerror_level = \"off\"\n\n[steps.a]\nkind = \"command\"\nrun = [\"true\"]\n",
            header("levels", 1)
        ))
        .args(["run", "pipeline.toml"])
        .run();
    outcome.assert_code(0);
    let files: Vec<String> = std::fs::read_dir(outcome.directory.join("my-logs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 1, "only the JSON lines file: {files:?}");
    assert!(
        std::path::Path::new(&files[0])
            .extension()
            .is_some_and(|extension| extension == "jsonl")
    );
    assert!(!outcome.exists(".pipewright/logs"));
}

#[test]
fn an_unusable_log_directory_costs_the_files_not_the_run() {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}\n[logging]\ndir = \"blocked/logs\"\n\n[steps.a]\nkind = \"command\"\nrun = [\"true\"]\n",
            header("blocked", 1)
        ))
        .file("blocked", "a file where a directory should be")
        .args(["run", "pipeline.toml"])
        .run();
    outcome.assert_code(0);
    assert!(
        outcome.stderr.contains("cannot write logs to"),
        "{}",
        outcome.stderr
    );
}

/// The password of this test's connection URL. It must appear nowhere pipewright writes.
const PASSWORD: &str = "Sekr3t-pw-7f4c9a";

#[test]
fn a_password_appears_in_no_output_of_any_kind() {
    let Some(database) = TestDatabase::create(Engine::Postgres, "secrets") else {
        return;
    };
    // PostgreSQL here trusts local connections, so any password in the URL is accepted.
    let url = database
        .url
        .replacen("postgres@", &format!("postgres:{PASSWORD}@"), 1);
    assert!(url.contains(PASSWORD));
    let manifest = format!(
        r#"{}
[connections.warehouse]
url = "${{WAREHOUSE_URL}}"

[connections.dead]
url = "postgres://postgres:{PASSWORD}@127.0.0.1:1/none"
connect_timeout = "2s"

[monitoring]
connection = "warehouse"

[steps.query]
kind = "sql"
connection = "warehouse"
sql = "SELECT 1"

[steps.broken]
kind = "sql"
connection = "warehouse"
after = ["query"]
sql = "SELECT * FROM no_such_table"

[steps.unreachable]
kind = "sql"
connection = "dead"
sql = "SELECT 1"

[steps.printer]
kind = "command"
shell = "echo url=$WAREHOUSE_URL password=$DB_PASSWORD >&2; exit 1"
env = {{ DB_PASSWORD = "${{DB_PASSWORD}}" }}
"#,
        header("secrets", 4)
    );
    let run = |arguments: &[&str]| {
        Pipewright::new()
            .manifest(&manifest)
            .env("WAREHOUSE_URL", &url)
            .env("DB_PASSWORD", PASSWORD)
            .args(arguments.iter().copied())
            .run()
    };
    let outcome = run(&[
        "run",
        "pipeline.toml",
        "--keep-going",
        "-v",
        "--report",
        "report.json",
        "--junit",
        "junit.xml",
    ]);
    outcome.assert_code(1);
    let mut everything = vec![
        ("run stdout", outcome.stdout.clone()),
        ("run stderr", outcome.stderr.clone()),
        ("report", outcome.read("report.json")),
        ("junit", outcome.read("junit.xml")),
    ];
    for entry in std::fs::read_dir(outcome.directory.join(".pipewright/logs")).unwrap() {
        let path = entry.unwrap().path();
        everything.push(("log file", std::fs::read_to_string(&path).unwrap()));
    }
    let logs_table = database.strings("SELECT CONCAT(message, ' ', COALESCE(exception, ''), ' ', CAST(metadata AS TEXT)) FROM logs");
    assert!(
        !logs_table.is_empty(),
        "the failures were logged to the store"
    );
    everything.push(("logs table", format!("{logs_table:?}")));
    let step_errors = database.strings("SELECT COALESCE(error, '') FROM step_runs");
    everything.push(("step_runs", format!("{step_errors:?}")));
    for command in [
        vec!["plan", "pipeline.toml", "--format", "json"],
        vec!["plan", "pipeline.toml"],
        vec!["check", "pipeline.toml"],
        vec!["graph", "pipeline.toml"],
        vec!["history", "pipeline.toml", "--format", "json"],
    ] {
        let other = run(&command);
        everything.push(("command stdout", other.stdout.clone()));
        everything.push(("command stderr", other.stderr.clone()));
    }
    // An error message that names the connection.
    let failing = run(&[
        "history",
        "--store",
        &format!("postgres://postgres:{PASSWORD}@127.0.0.1:1/none"),
    ]);
    everything.push(("error message", failing.stderr.clone()));
    assert!(
        failing.stderr.contains("****"),
        "the URL is shown redacted: {}",
        failing.stderr
    );

    for (what, text) in &everything {
        assert!(
            !text.contains(PASSWORD),
            "the password appears in the {what}:\n{text}"
        );
    }
    assert!(
        outcome.stderr.contains("password=****"),
        "the command's output is scrubbed: {}",
        outcome.stderr
    );
}
