//! A full disk under the state directory (the embedded monitoring store, its spill files, the
//! log files), before a run or while it goes, and under the log directory alone. The steps
//! (on a SQLite database elsewhere) do not need that disk: the run goes on, its exit code is
//! the steps', and it says on stderr what it could not keep. It never panics and never
//! corrupts the store: once there is room again, `history` reads the store, it passes
//! `PRAGMA integrity_check`, and the next run succeeds and is recorded.
//!
//! Each test mounts a small tmpfs of its own (as root), and skips when that is not allowed,
//! unless `PIPEWRIGHT_TEST_REQUIRE_SERVERS` is set.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Outcome, Pipewright, header};
use crate::servers::TestDatabase;
use crate::servers_down::BrokenPromises;

/// How a full disk shows in an error: in the words of the system, and of SQLite.
const DISK_FULL: &[&str] = &["No space left on device", "disk is full"];

/// A small tmpfs mounted on a temporary directory of its own, unmounted when dropped.
#[derive(Debug)]
struct Tmpfs {
    mount_point: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts `size` (`256k`, `1m`) of tmpfs, or `None` (the test `test` is skipped) when this
    /// machine does not allow it and `PIPEWRIGHT_TEST_REQUIRE_SERVERS` is not set.
    fn mount(size: &str, test: &str) -> Option<Self> {
        let mount_point = tempfile::tempdir().expect("a temporary directory");
        let options = format!("size={size}");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options.as_str(), "tmpfs"])
            .arg(mount_point.path())
            .output();
        let problem = match mounted {
            Ok(output) if output.status.success() => return Some(Self { mount_point }),
            Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            Err(error) => error.to_string(),
        };
        let required = std::env::var_os("PIPEWRIGHT_TEST_REQUIRE_SERVERS")
            .is_some_and(|value| !value.is_empty());
        assert!(
            !required,
            "{test} needs a tmpfs (PIPEWRIGHT_TEST_REQUIRE_SERVERS is set), and mounting one failed: {problem}"
        );
        eprintln!("skipping {test}: cannot mount a tmpfs ({problem}); run the tests as root");
        None
    }

    /// Where the tmpfs is mounted.
    fn path(&self) -> &Path {
        self.mount_point.path()
    }

    /// The directory as a string, for arguments and manifests.
    fn text(&self) -> String {
        self.path().to_str().expect("a UTF-8 path").to_owned()
    }

    /// Fills the tmpfs with zeros until it has no room left; returns the file that holds them.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).expect("a file on the tmpfs");
        let block = [0_u8; 4096];
        let failure = loop {
            if let Err(error) = file.write_all(&block) {
                break error;
            }
        };
        assert_eq!(
            failure.kind(),
            std::io::ErrorKind::StorageFull,
            "cannot fill {}: {failure}",
            path.display()
        );
        let probe = self.path().join("probe");
        let room = std::fs::write(&probe, b"x");
        let _ = std::fs::remove_file(&probe);
        assert!(
            room.is_err(),
            "{} still has room after filling",
            self.path().display()
        );
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(self.path())
            .status()
            .is_ok_and(|status| status.success());
        if !unmounted {
            // Busy (a process left behind by a failed test): detach it now, gone when free.
            let _ = Command::new("umount").arg("-l").arg(self.path()).status();
        }
    }
}

/// A SQLite-only pipeline whose database is on the ordinary disk, next to the manifest:
/// writing a row, a command that prints, a query, then `more_steps`. `logging` is a
/// `[logging]` table, or nothing.
fn manifest(logging: &str, more_steps: &str) -> String {
    format!(
        r#"{}{logging}
[connections.data]
url = "sqlite://data.db"

[steps.load]
kind = "sql"
connection = "data"
sql = "CREATE TABLE IF NOT EXISTS loads (id INTEGER PRIMARY KEY, note TEXT); INSERT INTO loads (note) VALUES ('loaded')"

[steps.announce]
kind = "command"
after = ["load"]
shell = "echo announced; echo 'a line on stderr' >&2"

[steps.count]
kind = "sql"
after = ["announce"]
connection = "data"
sql = "SELECT COUNT(*) FROM loads"
{more_steps}"#,
        header("disk_full", 1)
    )
}

/// `pipewright run` with the state directory `state` and the run report (on the ordinary
/// disk) in `report`.
fn run(project: &Pipewright, state: &str, report: &str) -> Outcome {
    project.run_with(&[
        "run",
        "pipeline.toml",
        "--state-dir",
        state,
        "--report",
        report,
    ])
}

/// The run id in the run report `report` of the project, or an empty string without one.
fn run_id(project: &Pipewright, report: &str) -> String {
    std::fs::read_to_string(project.path().join(report))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|report| report["run_id"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The rows the pipeline's first step wrote: the steps really ran.
fn loaded_rows(project: &Pipewright) -> i64 {
    TestDatabase::sqlite_file(&project.path().join("data.db"))
        .try_count("SELECT COUNT(*) FROM loads")
        .unwrap_or(-1)
}

/// Whether one line of `text` holds every one of `all` and at least one of `any`.
fn line_with(text: &str, all: &[&str], any: &[&str]) -> bool {
    text.lines().any(|line| {
        all.iter().all(|part| line.contains(part)) && any.iter().any(|part| line.contains(part))
    })
}

/// pipewright never panics, whatever the disk: no exit code 101, no "panicked" on stderr.
fn check_no_panic(broken: &mut BrokenPromises, outcome: &Outcome, what: &str) {
    broken.check(
        outcome.code != 101 && !outcome.stderr.contains("panicked"),
        || format!("{what} panicked (exit code {})", outcome.code),
    );
}

/// `PRAGMA integrity_check` of the embedded store in `state` (`ok` for a sound store), or why
/// it could not run; `None` when there is no store file at all.
fn integrity(state: &Path) -> Option<String> {
    let path = state.join("monitoring.db");
    if !path.exists() {
        return None;
    }
    let store = TestDatabase::sqlite_file(&path);
    Some(
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.strings("PRAGMA integrity_check")
        }))
        .map_or_else(
            |_| "the store cannot be opened".to_owned(),
            |rows| rows.into_iter().flatten().collect::<Vec<_>>().join("; "),
        ),
    )
}

/// The runs `history` lists, as (run id, status); `None` if `history` fails.
fn recorded_runs(project: &Pipewright, state: &str) -> Option<Vec<(String, String)>> {
    let history = project.run_with(&[
        "history",
        "pipeline.toml",
        "--state-dir",
        state,
        "--format",
        "json",
        "-n",
        "100",
    ]);
    if history.code != 0 {
        return None;
    }
    let runs: serde_json::Value = serde_json::from_str(&history.stdout).ok()?;
    let runs = runs.as_array()?;
    Some(
        runs.iter()
            .map(|entry| {
                (
                    entry["run_id"].as_str().unwrap_or_default().to_owned(),
                    entry["status"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
    )
}

/// The status `runs` give `run_id`, if they list it.
fn status_of<'a>(runs: &'a [(String, String)], run_id: &str) -> Option<&'a str> {
    runs.iter()
        .find(|(id, _)| id == run_id)
        .map(|(_, status)| status.as_str())
}

/// The spill files left in `state`.
fn spill_files(state: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(state.join("spill")) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "jsonl")
        })
        .map(|path| path.display().to_string())
        .collect()
}

/// Once there is room again: `history` reads the store, which passes its integrity check, and
/// the next run (its report in `report`) succeeds, is recorded, and leaves no spill file.
/// Returns what the next run printed.
fn check_recovery(
    broken: &mut BrokenPromises,
    project: &Pipewright,
    disk: &Tmpfs,
    report: &str,
) -> Outcome {
    let state = disk.text();
    broken.check(recorded_runs(project, &state).is_some(), || {
        "`history` cannot read the store once there is room again".to_owned()
    });
    // No store file at all is no corruption: the run on a full disk may not have made one.
    let checked = integrity(disk.path());
    broken.check(
        checked.as_deref().is_none_or(|result| result == "ok"),
        || format!("after the full disk, the store's integrity check says: {checked:?}"),
    );
    let next = run(project, &state, report);
    check_no_panic(broken, &next, "the run after the disk had room again");
    broken.check(next.code == 0, || {
        format!(
            "the run after the disk had room again exited with {}:\n{}",
            next.code, next.stderr
        )
    });
    let next_id = run_id(project, report);
    let runs = recorded_runs(project, &state).unwrap_or_default();
    broken.check(status_of(&runs, &next_id) == Some("succeeded"), || {
        format!("`history` does not list the next run {next_id} as succeeded: {runs:?}")
    });
    let checked = integrity(disk.path());
    broken.check(checked.as_deref() == Some("ok"), || {
        format!("after the next run, the store's integrity check says: {checked:?}")
    });
    let left = spill_files(disk.path());
    broken.check(left.is_empty(), || {
        format!("spill files left after the next run: {}", left.join(", "))
    });
    next
}

/// What a run printed, for a failure message.
fn printed(what: &str, outcome: &Outcome) -> String {
    format!(
        "--- stderr of {what} (exit code {})\n{}\n",
        outcome.code, outcome.stderr
    )
}

/// The state directory is full before the run starts: the store cannot be opened nor its
/// records spilled, and the run says so; the steps, which do not need that disk, run and
/// succeed.
#[test]
fn a_full_state_directory_costs_the_records_not_the_run() {
    let Some(disk) = Tmpfs::mount(
        "256k",
        "a_full_state_directory_costs_the_records_not_the_run",
    ) else {
        return;
    };
    let project = Pipewright::new().manifest(&manifest("", ""));
    let filler = disk.fill();
    let full = run(&project, &disk.text(), "full.json");
    let mut broken = BrokenPromises::default();
    check_no_panic(&mut broken, &full, "the run on a full disk");
    broken.check(full.code == 0, || {
        format!(
            "the run on a full disk exited with {}, although every step could run",
            full.code
        )
    });
    broken.check(loaded_rows(&project) == 1, || {
        "the steps did not run on a full state directory".to_owned()
    });
    broken.check(
        line_with(&full.stderr, &["monitoring store"], DISK_FULL),
        || {
            "stderr does not say that the monitoring store cannot be written: the disk is full"
                .to_owned()
        },
    );
    let spill = disk.path().join("spill").display().to_string();
    broken.check(
        line_with(&full.stderr, &[spill.as_str()], DISK_FULL),
        || format!("stderr does not say that the records cannot be kept in `{spill}` either"),
    );

    std::fs::remove_file(&filler).expect("the filler goes");
    let next = check_recovery(&mut broken, &project, &disk, "next.json");
    broken.finish(&format!(
        "{}{}",
        printed("the run on a full disk", &full),
        printed("the next run", &next)
    ));
}

/// Steps that fill the state directory (`filler`) while the run goes, and then fail with two
/// retries (WARN and ERROR records for the full store), when `flag` exists.
fn filling_steps(flag: &Path, filler: &Path) -> String {
    let (flag, filler) = (flag.display(), filler.display());
    format!(
        r#"
[steps.fill]
kind = "command"
after = ["count"]
shell = "if [ -e '{flag}' ]; then cat /dev/zero > '{filler}' 2>/dev/null; fi; exit 0"

[steps.after_fill]
kind = "command"
after = ["fill"]
shell = "if [ -e '{flag}' ]; then echo 'upstream not ready' >&2; exit 3; fi"
retries = 2
retry_backoff = "10ms"
"#
    )
}

/// The disk fills in the middle of a run, once the store is open: the store's writes fail,
/// the run ends with its steps' exit code and says what it could not keep, and the store is
/// intact; the interrupted run is recorded as failed, or stderr said its records were lost.
#[test]
fn a_disk_that_fills_during_a_run_leaves_the_store_intact() {
    let Some(disk) = Tmpfs::mount(
        "1m",
        "a_disk_that_fills_during_a_run_leaves_the_store_intact",
    ) else {
        return;
    };
    let project = Pipewright::new();
    let flag = project.path().join("fill.flag");
    let filler = disk.path().join("filler");
    let project = project.manifest(&manifest("", &filling_steps(&flag, &filler)));
    let first = run(&project, &disk.text(), "first.json");
    assert_eq!(
        first.code, 0,
        "the first run, with room, must succeed:\n{}",
        first.stderr
    );

    std::fs::write(&flag, "").expect("the flag file");
    let interrupted = run(&project, &disk.text(), "filled.json");
    let mut broken = BrokenPromises::default();
    check_no_panic(&mut broken, &interrupted, "the run whose disk filled");
    broken.check(interrupted.code == 1, || {
        format!(
            "the run whose disk filled exited with {} instead of its steps' 1",
            interrupted.code
        )
    });
    broken.check(
        line_with(&interrupted.stderr, &["monitoring store"], DISK_FULL),
        || {
            "stderr does not say that the monitoring store failed because the disk is full"
                .to_owned()
        },
    );

    std::fs::remove_file(&flag).expect("the flag goes");
    let _ = std::fs::remove_file(&filler);
    let next = check_recovery(&mut broken, &project, &disk, "next.json");
    let runs = recorded_runs(&project, &disk.text()).unwrap_or_default();
    let (first_id, interrupted_id) = (
        run_id(&project, "first.json"),
        run_id(&project, "filled.json"),
    );
    broken.check(status_of(&runs, &first_id) == Some("succeeded"), || {
        format!("the first run is no longer recorded as succeeded: {runs:?}")
    });
    let interrupted_status = status_of(&runs, &interrupted_id);
    broken.check(
        interrupted_status == Some("failed") || interrupted.stderr.contains("lost"),
        || {
            format!(
                "the run whose disk filled is recorded as {interrupted_status:?}, not failed, and its stderr never said that records were lost"
            )
        },
    );
    broken.finish(&format!(
        "{}{}",
        printed("the run whose disk filled", &interrupted),
        printed("the next run", &next)
    ));
}

/// Whether a daily log file in `directory` mentions `run_id`.
fn daily_files_mention(directory: &Path, run_id: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let path = entry.path();
        path.extension().is_some_and(|extension| extension == "log")
            && entry
                .file_name()
                .to_string_lossy()
                .starts_with("pipewright")
            && std::fs::read_to_string(&path).is_ok_and(|text| text.contains(run_id))
    })
}

/// Only the log directory (`[logging] dir`) is full: the run goes on without the files and
/// says so, as it does for a log directory that cannot be created (docs/monitoring.md:
/// "An unusable log directory costs the files, not the run ... says so once on the console
/// (and in the `logs` table)"); once there is room, the files get the next run's lines.
#[test]
fn a_full_log_directory_is_reported_and_costs_only_the_files() {
    let Some(disk) = Tmpfs::mount(
        "256k",
        "a_full_log_directory_is_reported_and_costs_only_the_files",
    ) else {
        return;
    };
    let logs = disk.text();
    let project =
        Pipewright::new().manifest(&manifest(&format!("\n[logging]\ndir = \"{logs}\"\n"), ""));
    let filler = disk.fill();
    let full = project.run_with(&["run", "pipeline.toml", "--report", "full.json"]);
    let mut broken = BrokenPromises::default();
    check_no_panic(&mut broken, &full, "the run with a full log directory");
    broken.check(full.code == 0, || {
        format!(
            "the run with a full log directory exited with {}",
            full.code
        )
    });
    broken.check(loaded_rows(&project) == 1, || {
        "the steps did not run with a full log directory".to_owned()
    });
    broken.check(line_with(&full.stderr, &[logs.as_str()], DISK_FULL), || {
        format!(
            "stderr does not say that the log files in `{logs}` cannot be written (the disk is full): their lines are dropped without a word"
        )
    });
    let full_id = run_id(&project, "full.json");
    let store = TestDatabase::sqlite_file(&project.path().join(".pipewright/monitoring.db"));
    let warnings = store
        .try_count(&format!(
            "SELECT COUNT(*) FROM logs WHERE run_id = '{full_id}' AND level = 'WARN' AND instr(message, '{logs}') > 0"
        ))
        .unwrap_or(0);
    broken.check(warnings >= 1, || {
        format!(
            "the `logs` table has no WARN record of run {full_id} about the log directory `{logs}`"
        )
    });

    std::fs::remove_file(&filler).expect("the filler goes");
    let next = project.run_with(&["run", "pipeline.toml", "--report", "next.json"]);
    check_no_panic(
        &mut broken,
        &next,
        "the run after the log directory had room again",
    );
    broken.check(next.code == 0, || {
        format!(
            "the run after the log directory had room again exited with {}",
            next.code
        )
    });
    let next_id = run_id(&project, "next.json");
    broken.check(daily_files_mention(disk.path(), &next_id), || {
        format!("no daily log file in `{logs}` has the lines of the next run {next_id}")
    });
    broken.finish(&format!(
        "{}{}",
        printed("the run with a full log directory", &full),
        printed("the next run", &next)
    ));
}
