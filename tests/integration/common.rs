//! A small builder that runs the real `pipewright` binary in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// One invocation of the CLI, set up step by step.
pub(crate) struct Pipewright {
    directory: tempfile::TempDir,
    arguments: Vec<String>,
    environment: Vec<(String, String)>,
}

/// What an invocation printed and returned.
pub(crate) struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub directory: PathBuf,
    /// Whether the directory goes with the outcome (a run of a builder that is gone).
    owns_directory: bool,
}

impl Pipewright {
    pub(crate) fn new() -> Self {
        Self {
            directory: tempfile::tempdir().expect("a temporary directory"),
            arguments: Vec::new(),
            environment: Vec::new(),
        }
    }

    /// Writes `pipeline.toml` in the directory.
    pub(crate) fn manifest(self, text: &str) -> Self {
        self.file("pipeline.toml", text)
    }

    pub(crate) fn file(self, path: &str, contents: &str) -> Self {
        let full = self.directory.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, contents).unwrap();
        self
    }

    pub(crate) fn args<I, S>(mut self, arguments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.arguments.extend(arguments.into_iter().map(Into::into));
        self
    }

    pub(crate) fn env(mut self, name: &str, value: &str) -> Self {
        self.environment.push((name.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn path(&self) -> &Path {
        self.directory.path()
    }

    /// The command, with a clean environment: no colour, no CI, plain progress.
    pub(crate) fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pipewright"));
        command
            .args(&self.arguments)
            .current_dir(self.directory.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.directory.path())
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100");
        for (name, value) in &self.environment {
            command.env(name, value);
        }
        command
    }

    pub(crate) fn run(self) -> Outcome {
        let output: Output = self.command().output().expect("pipewright runs");
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            directory: self.directory.keep(),
            owns_directory: true,
        }
    }

    /// Runs the binary in the same directory with `arguments` instead, keeping the builder
    /// (and its directory) for more runs.
    pub(crate) fn run_with(&self, arguments: &[&str]) -> Outcome {
        let command = self.command();
        let mut fresh = std::process::Command::new(command.get_program());
        fresh.args(arguments).current_dir(self.directory.path());
        fresh.env_clear();
        for (name, value) in command.get_envs() {
            if let Some(value) = value {
                fresh.env(name, value);
            }
        }
        let output = fresh.output().expect("pipewright runs");
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            directory: self.directory.path().to_path_buf(),
            owns_directory: false,
        }
    }
}

impl Outcome {
    pub(crate) fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "exit code {} instead of {expected}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    pub(crate) fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.directory.join(path)).unwrap_or_else(|error| {
            panic!("cannot read {path}: {error}\n--- stderr\n{}", self.stderr)
        })
    }

    pub(crate) fn exists(&self, path: &str) -> bool {
        self.directory.join(path).exists()
    }

    /// The run report, if the run wrote one to `report.json`.
    pub(crate) fn report(&self) -> serde_json::Value {
        serde_json::from_str(&self.read("report.json")).expect("the report is JSON")
    }

    /// stderr with run ids and durations replaced, for snapshots.
    pub(crate) fn stderr_normalized(&self) -> String {
        normalize(&self.stderr)
    }
}

impl Drop for Outcome {
    fn drop(&mut self) {
        if self.owns_directory {
            let _ = std::fs::remove_dir_all(&self.directory);
        }
    }
}

/// Replaces what changes from run to run: run ids, durations, timestamps.
pub(crate) fn normalize(text: &str) -> String {
    let patterns = [
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[RUN_ID]",
        ),
        (r"\b\d+(\.\d+)?(ms|s)\b", "[DURATION]"),
        (r"\b\d+m\d{2}s\b", "[DURATION]"),
        (
            r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?Z?",
            "[TIME]",
        ),
    ];
    let mut text = text.to_owned();
    for (pattern, replacement) in patterns {
        text = regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&text, replacement)
            .into_owned();
    }
    text
}

/// A `[pipeline]` header for manifests written in tests.
pub(crate) fn header(name: &str, concurrency: usize) -> String {
    format!("[pipeline]\nname = \"{name}\"\nconcurrency = {concurrency}\n")
}

/// Polls `probe` until it holds; fails the test after a minute.
pub fn wait_for(what: &str, mut probe: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !probe() {
        assert!(
            started.elapsed() < std::time::Duration::from_mins(1),
            "gave up waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
