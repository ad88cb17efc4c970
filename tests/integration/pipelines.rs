//! Every example in `pipelines/` is valid, plans, and points editors at the schema.

use std::path::PathBuf;
use std::process::Command;

fn examples() -> Vec<PathBuf> {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "toml")
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "pipelines/ has examples");
    files
}

fn pipewright(arguments: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(arguments)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn every_example_passes_check_and_plan() {
    for path in examples() {
        let path = path.to_str().unwrap();
        for command in ["check", "plan"] {
            let output = pipewright(&[command, path]);
            assert!(
                output.status.success(),
                "`pipewright {command} {path}` failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

#[test]
fn every_example_starts_with_a_schema_line() {
    for path in examples() {
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.lines().next(),
            Some("#:schema ../schemas/pipeline.schema.json"),
            "{} must start with the `#:schema` line",
            path.display()
        );
    }
}
