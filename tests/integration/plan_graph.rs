//! `plan` and `graph`: order, waves, selection and the three graph formats.

use crate::common::{Pipewright, header};

/// extract -> (clean, enrich) -> load, plus an independent, disabled `audit` and a `docs` step.
fn diamond() -> String {
    format!(
        r#"{}
[steps.extract]
kind = "command"
run = ["echo", "extract"]
tags = ["nightly"]

[steps.clean]
kind = "command"
run = ["echo", "clean"]
after = ["extract"]

[steps.enrich]
kind = "command"
shell = "echo enrich"
after = ["extract"]
tags = ["nightly"]

[steps.load]
kind = "command"
run = ["echo", "load"]
after = ["clean", "enrich"]

[steps.audit]
kind = "command"
run = ["echo", "audit"]
enabled = false

[steps.docs]
kind = "command"
run = ["echo", "docs"]
"#,
        header("diamond", 2)
    )
}

fn pipewright(arguments: &[&str]) -> crate::common::Outcome {
    Pipewright::new()
        .manifest(&diamond())
        .args(arguments.iter().copied())
        .run()
}

#[test]
fn plan_shows_waves_and_skip_reasons() {
    let outcome = pipewright(&["plan", "pipeline.toml"]);
    outcome.assert_code(0);
    insta::assert_snapshot!("plan_text", outcome.stdout);
}

#[test]
fn plan_json_is_machine_readable() {
    let outcome = pipewright(&[
        "plan",
        "pipeline.toml",
        "--format",
        "json",
        "--select",
        "enrich+",
    ]);
    outcome.assert_code(0);
    let plan: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    let decisions: Vec<(String, String)> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            (
                step["id"].as_str().unwrap().to_owned(),
                step["reason"].as_str().unwrap_or("run").to_owned(),
            )
        })
        .collect();
    let expected = [
        ("extract", "not_selected"),
        ("clean", "not_selected"),
        ("enrich", "run"),
        ("load", "run"),
        ("audit", "not_selected"),
        ("docs", "not_selected"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(id, reason)| ((*id).to_owned(), (*reason).to_owned()))
        .collect();
    let mut sorted = decisions.clone();
    sorted.sort();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(sorted, expected_sorted);
    assert_eq!(plan["version"], 1);
    assert_eq!(plan["steps"][3]["wave"], 2, "{plan:#}");
}

fn selected(arguments: &[&str]) -> Vec<String> {
    let mut full = vec!["plan", "pipeline.toml", "--format", "json"];
    full.extend_from_slice(arguments);
    let outcome = pipewright(&full);
    outcome.assert_code(0);
    let plan: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|step| step["decision"] == "run")
        .map(|step| step["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn selectors_pick_ancestors_descendants_and_tags() {
    assert_eq!(
        selected(&["--select", "+load"]),
        ["extract", "clean", "enrich", "load"]
    );
    assert_eq!(
        selected(&["--select", "extract+"]),
        ["extract", "clean", "enrich", "load"]
    );
    assert_eq!(selected(&["--select", "clean"]), ["clean"]);
    assert_eq!(
        selected(&["--select", "tag:nightly"]),
        ["extract", "enrich"]
    );
    assert_eq!(selected(&["--select", "clean,docs"]), ["clean", "docs"]);
    assert_eq!(
        selected(&["--exclude", "enrich+"]),
        ["extract", "clean", "docs"],
        "excluded steps and their descendants are left out"
    );
    assert_eq!(
        selected(&["--select", "+load", "--exclude", "extract"]),
        ["clean", "enrich", "load"]
    );
    assert_eq!(
        selected(&["--select", "audit"]),
        Vec::<String>::new(),
        "disabled stays disabled"
    );
}

#[test]
fn unknown_selectors_are_usage_errors_with_suggestions() {
    let outcome = pipewright(&["plan", "pipeline.toml", "--select", "lod+"]);
    outcome.assert_code(2);
    assert!(
        outcome
            .stderr
            .contains("unknown step `lod` in selector `lod+`: did you mean `load`?"),
        "{}",
        outcome.stderr
    );
    let outcome = pipewright(&["plan", "pipeline.toml", "--select", "tag:nightl"]);
    outcome.assert_code(2);
    assert!(
        outcome.stderr.contains("did you mean `nightly`?"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn graph_formats_are_stable() {
    for format in ["text", "mermaid", "dot"] {
        let outcome = pipewright(&["graph", "pipeline.toml", "--format", format]);
        outcome.assert_code(0);
        insta::assert_snapshot!(format!("graph_{format}"), outcome.stdout);
    }
}

#[test]
fn check_touches_nothing_and_says_ok() {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}\n[connections.remote]\nurl = \"postgres://nobody@203.0.113.1:1/none\"\n\n[steps.q]\nkind = \"sql\"\nconnection = \"remote\"\nsql = \"select 1\"\n",
            header("offline", 1)
        ))
        .args(["check", "pipeline.toml"])
        .run();
    outcome.assert_code(0);
    assert_eq!(
        outcome.stdout,
        "pipeline.toml: ok (pipeline `offline`, 1 step, 1 connection)\n"
    );
}
