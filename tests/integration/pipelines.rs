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
fn every_example_is_formatted() {
    let mut arguments = vec!["fmt", "--check"];
    let paths: Vec<String> = examples()
        .iter()
        .map(|path| path.to_str().unwrap().to_owned())
        .collect();
    arguments.extend(paths.iter().map(String::as_str));
    let output = pipewright(&arguments);
    assert!(
        output.status.success(),
        "run `pipewright fmt pipelines/*.toml`; these would change:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
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

/// SEED.md's migration example, for real: MariaDB to PostgreSQL, twice (the second run
/// swaps in a new copy and keeps the first as a backup).
#[test]
fn the_daily_bars_migration_runs() {
    use crate::servers::{Engine, TestDatabase};
    let Some(legacy) = TestDatabase::create(Engine::MySql, "daily_bars_legacy") else {
        return;
    };
    let Some(warehouse) = TestDatabase::create(Engine::Postgres, "daily_bars_warehouse") else {
        return;
    };
    let example =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pipelines/daily_bars_migration.toml");
    let state = tempfile::tempdir().unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_pipewright"))
            .args([
                "run",
                example.to_str().unwrap(),
                "--progress",
                "plain",
                "--state-dir",
            ])
            .arg(state.path())
            .env("NO_COLOR", "1")
            .env("LEGACY_URL", &legacy.url)
            .env("WAREHOUSE_URL", &warehouse.url)
            .output()
            .unwrap()
    };
    for attempt in 1..=2 {
        let output = run();
        assert!(
            output.status.success(),
            "run {attempt} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(warehouse.count("SELECT COUNT(*) FROM daily_bars"), 5);
    assert_eq!(
        warehouse.count("SELECT COUNT(*) FROM daily_bars WHERE source_system = 'legacy-mysql' AND trading_day IS NOT NULL"),
        5
    );
    assert_eq!(
        warehouse.count("SELECT COUNT(*) FROM daily_bars WHERE suspended"),
        1,
        "tinyint(1) became a boolean"
    );
    assert_eq!(
        warehouse.count("SELECT COUNT(*) FROM daily_bars WHERE listed_on IS NULL"),
        1,
        "the zero date became NULL, by the column's policy"
    );
    assert_eq!(
        warehouse.count("SELECT COUNT(*) FROM daily_bars WHERE listed_on = DATE '2001-08-27'"),
        2
    );
    assert_eq!(warehouse.count("SELECT COUNT(*) FROM bar_counts"), 4);
    assert_eq!(
        warehouse
            .count("SELECT COUNT(*) FROM pg_tables WHERE tablename LIKE 'daily_bars__pw_backup_%'"),
        1
    );
}
