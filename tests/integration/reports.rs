//! `--report` and `--junit`: versioned, complete, written even when the run fails.

use crate::common::{Pipewright, header};

#[test]
fn junit_has_one_case_per_step_with_failures_and_skips() {
    let manifest = format!(
        "{}\n[steps.ok]\nkind = \"command\"\nrun = [\"echo\", \"<fine & well>\"]\n\n[steps.bad]\nkind = \"command\"\nshell = \"echo 'broke: \\\"quote\\\"' >&2; exit 2\"\n\n[steps.never]\nkind = \"command\"\nrun = [\"true\"]\nafter = [\"bad\"]\n",
        header("junit", 1)
    );
    let outcome = Pipewright::new()
        .manifest(&manifest)
        .args([
            "run",
            "pipeline.toml",
            "--keep-going",
            "--junit",
            "out/junit.xml",
            "--report",
            "report.json",
        ])
        .run();
    outcome.assert_code(1);
    let xml = outcome.read("out/junit.xml");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert!(
        xml.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""),
        "{xml}"
    );
    assert!(xml.contains("<testcase name=\"ok\" classname=\"junit.command\""));
    assert!(xml.contains("&lt;fine &amp; well&gt;"), "{xml}");
    assert!(
        xml.contains("<failure message=\"`sh` exited with status 2\" type=\"failed\">"),
        "{xml}"
    );
    assert!(xml.contains("broke: &quot;quote&quot;"), "{xml}");
    assert!(
        xml.contains("<skipped message=\"upstream step `bad` failed\"/>"),
        "{xml}"
    );

    let report = outcome.report();
    assert_eq!(report["version"], 1);
    assert_eq!(report["pipeline"], "junit");
    assert_eq!(report["status"], "failed");
    assert!(report["run_id"].as_str().unwrap().len() == 36);
    let step = &report["steps"][0];
    for key in [
        "id",
        "kind",
        "status",
        "attempts",
        "started_at",
        "finished_at",
        "duration_ms",
        "fingerprint",
    ] {
        assert!(!step[key].is_null(), "step record lacks `{key}`: {step:#}");
    }
    assert!(step["fingerprint"].as_str().unwrap().starts_with("sha256:"));
}

#[test]
fn report_is_written_for_an_invalid_selection_never() {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}\n[steps.a]\nkind = \"command\"\nrun = [\"true\"]\n",
            header("x", 1)
        ))
        .args([
            "run",
            "pipeline.toml",
            "--select",
            "b",
            "--report",
            "report.json",
        ])
        .run();
    outcome.assert_code(2);
    assert!(
        !outcome.exists("report.json"),
        "nothing ran, so there is no run to report"
    );
}

#[test]
fn an_unwritable_report_is_a_tool_error() {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}\n[steps.a]\nkind = \"command\"\nrun = [\"true\"]\n",
            header("x", 1)
        ))
        .file("blocker", "a file where a directory should be")
        .args(["run", "pipeline.toml", "--report", "blocker/report.json"])
        .run();
    outcome.assert_code(70);
    assert!(
        outcome
            .stderr
            .contains("cannot write `blocker/report.json`"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn fingerprints_change_with_the_definition_and_not_the_layout() {
    let fingerprint = |manifest: &str| {
        let outcome = Pipewright::new()
            .manifest(manifest)
            .args(["run", "pipeline.toml", "--report", "report.json"])
            .run();
        outcome.assert_code(0);
        outcome.report()["steps"][0]["fingerprint"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let base = fingerprint(&format!(
        "{}\n[steps.a]\nkind = \"command\"\nrun = [\"true\"]\n",
        header("x", 1)
    ));
    let relaid = fingerprint(&format!(
        "{}\n# a comment\n[steps.a]\nrun = [ \"true\" ]\nkind = \"command\"\n",
        header("x", 1)
    ));
    let changed = fingerprint(&format!(
        "{}\n[steps.a]\nkind = \"command\"\nrun = [\"true\", \"x\"]\n",
        header("x", 1)
    ));
    let described = fingerprint(&format!(
        "{}\n[steps.a]\nkind = \"command\"\ndescription = \"new words\"\nrun = [\"true\"]\n",
        header("x", 1)
    ));
    // Each run happens in another temporary directory: equal fingerprints also show that the
    // checkout location does not count.
    assert_eq!(
        base, described,
        "a description does not change what a step does"
    );
    assert_eq!(base, relaid);
    assert_ne!(base, changed);
}
