//! The committed JSON Schema is the one the code generates.

use std::process::Command;

#[test]
fn committed_schema_is_up_to_date() {
    let output = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(output.status.success());
    let generated = String::from_utf8(output.stdout).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/pipeline.schema.json");
    let committed = std::fs::read_to_string(path).unwrap();
    assert!(
        generated == committed,
        "schemas/pipeline.schema.json is stale: run `cargo run -- schema > schemas/pipeline.schema.json` and commit it"
    );
}

#[test]
fn schema_is_draft_7_json() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/pipeline.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    let step_keys: Vec<&String> = schema["definitions"]["RawStep"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    for key in [
        "kind",
        "after",
        "tags",
        "enabled",
        "retries",
        "retry_backoff",
        "timeout",
        "run",
        "shell",
        "env",
        "workdir",
    ] {
        assert!(
            step_keys.iter().any(|known| *known == key),
            "schema lacks `{key}`"
        );
    }
}
