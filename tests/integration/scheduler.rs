//! The scheduler as a user sees it: parallelism, limits, fail-fast, keep-going, retries,
//! timeouts that kill, cancellation, selection. No test asserts on elapsed time: parallelism
//! is shown by steps that can only finish together.

use std::time::{Duration, Instant};

use crate::common::{Pipewright, header};

fn command_step(id: &str, shell: &str, extra: &str) -> String {
    format!("\n[steps.{id}]\nkind = \"command\"\nshell = '''{shell}'''\n{extra}\n")
}

/// Each step announces itself and waits until the other has too: they can only both finish
/// when they run at the same time.
fn rendezvous(concurrency: usize) -> String {
    let wait = |mine: &str, other: &str| {
        format!(
            "touch {mine}; i=0; while [ ! -e {other} ]; do i=$((i+1)); [ $i -gt 400 ] && exit 9; sleep 0.05; done"
        )
    };
    format!(
        "{}{}{}",
        header("rendezvous", concurrency),
        command_step(
            "left",
            &wait("left.ready", "right.ready"),
            "timeout = \"30s\""
        ),
        command_step(
            "right",
            &wait("right.ready", "left.ready"),
            "timeout = \"30s\""
        ),
    )
}

#[test]
fn ready_steps_really_run_in_parallel() {
    let outcome = Pipewright::new()
        .manifest(&rendezvous(2))
        .args(["run", "pipeline.toml", "--report", "report.json"])
        .run();
    outcome.assert_code(0);
    assert_eq!(outcome.report()["status"], "succeeded");
}

#[test]
fn jobs_limits_concurrency() {
    // With one job the rendezvous can never happen: the first step gives up.
    let outcome = Pipewright::new()
        .manifest(&rendezvous(2).replace("i -gt 400", "i -gt 20"))
        .args([
            "run",
            "pipeline.toml",
            "--jobs",
            "1",
            "--keep-going",
            "--report",
            "report.json",
        ])
        .run();
    outcome.assert_code(1);
    let report = outcome.report();
    assert_eq!(report["steps"][0]["status"], "failed", "{report:#}");
}

#[test]
fn never_more_steps_at_once_than_the_limit() {
    // Each step records how many steps are running while it runs.
    let body = "mkdir -p running; touch running/$PIPEWRIGHT_STEP_ID; ls running | wc -l >> counts; sleep 0.2; rm running/$PIPEWRIGHT_STEP_ID";
    let mut manifest = header("limit", 2);
    for id in ["a", "b", "c", "d", "e", "f"] {
        manifest.push_str(&command_step(id, body, ""));
    }
    let outcome = Pipewright::new()
        .manifest(&manifest)
        .args(["run", "pipeline.toml"])
        .run();
    outcome.assert_code(0);
    let counts: Vec<u32> = outcome
        .read("counts")
        .lines()
        .map(|line| line.trim().parse().unwrap())
        .collect();
    assert_eq!(counts.len(), 6);
    assert!(counts.iter().all(|count| *count <= 2), "{counts:?}");
}

fn failing_pipeline() -> String {
    format!(
        "{}{}{}{}",
        header("failing", 1),
        command_step("broken", "echo 'something went wrong' >&2; exit 3", ""),
        command_step("downstream", "touch downstream.ran", "after = [\"broken\"]"),
        command_step("independent", "touch independent.ran", ""),
    )
}

#[test]
fn fail_fast_stops_starting_steps_and_says_why() {
    let outcome = Pipewright::new()
        .manifest(&failing_pipeline())
        .args(["run", "pipeline.toml", "--report", "report.json"])
        .run();
    outcome.assert_code(1);
    assert!(!outcome.exists("downstream.ran"));
    assert!(!outcome.exists("independent.ran"));
    let report = outcome.report();
    assert_eq!(report["status"], "failed");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps[0]["status"], "failed");
    assert!(
        steps[0]["error"]
            .as_str()
            .unwrap()
            .contains("exited with status 3")
    );
    assert_eq!(steps[0]["output_tail"][0], "something went wrong");
    // Steps are reported in execution order: `downstream` became ready before `independent`.
    assert_eq!(steps[1]["id"], "downstream");
    assert_eq!(steps[1]["skip"]["reason"], "upstream_failed", "{report:#}");
    assert_eq!(steps[1]["skip"]["step"], "broken");
    assert_eq!(steps[2]["skip"]["reason"], "run_stopped");
    insta::assert_snapshot!("fail_fast_lines", outcome.stderr_normalized());
}

#[test]
fn keep_going_runs_what_does_not_depend_on_the_failure() {
    let outcome = Pipewright::new()
        .manifest(&failing_pipeline())
        .args([
            "run",
            "pipeline.toml",
            "--keep-going",
            "--report",
            "report.json",
        ])
        .run();
    outcome.assert_code(1);
    assert!(outcome.exists("independent.ran"));
    assert!(!outcome.exists("downstream.ran"));
}

#[test]
fn retries_until_success_and_records_every_attempt() {
    let flaky =
        "n=$(cat attempts 2>/dev/null || echo 0); n=$((n+1)); echo $n > attempts; [ $n -ge 3 ]";
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}{}",
            header("retries", 1),
            command_step("flaky", flaky, "retries = 3\nretry_backoff = \"10ms\"")
        ))
        .args(["run", "pipeline.toml", "--report", "report.json"])
        .run();
    outcome.assert_code(0);
    let report = outcome.report();
    let attempts = report["steps"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{report:#}");
    assert_eq!(attempts[0]["status"], "failed");
    assert_eq!(attempts[2]["status"], "succeeded");
    assert!(
        outcome.stderr.contains("attempt 1 of 4 failed"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn retries_are_bounded() {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}{}",
            header("retries", 1),
            command_step(
                "doomed",
                "echo x >> attempts; exit 1",
                "retries = 2\nretry_backoff = \"10ms\""
            )
        ))
        .args(["run", "pipeline.toml", "--report", "report.json"])
        .run();
    outcome.assert_code(1);
    assert_eq!(outcome.read("attempts").lines().count(), 3);
    assert_eq!(
        outcome.report()["steps"][0]["attempts"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn a_missing_program_is_not_retried() {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}\n[steps.typo]\nkind = \"command\"\nrun = [\"no-such-program-pipewright\"]\nretries = 5\n",
            header("missing", 1)
        ))
        .args(["run", "pipeline.toml", "--report", "report.json"])
        .run();
    outcome.assert_code(1);
    let report = outcome.report();
    assert_eq!(report["steps"][0]["attempts"].as_array().unwrap().len(), 1);
    let error = report["steps"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("cannot start `no-such-program-pipewright`: No such file"),
        "the cause is kept: {error}"
    );
}

fn is_alive(pid: &str) -> bool {
    std::path::Path::new(&format!("/proc/{}", pid.trim())).exists()
        && !std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn a_timeout_kills_the_whole_process_group() {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}{}",
            header("timeout", 1),
            command_step(
                "slow",
                "echo before the timeout; sleep 300 & echo $! > child.pid; wait",
                "timeout = \"1s\""
            )
        ))
        .args(["run", "pipeline.toml", "--report", "report.json"])
        .run();
    outcome.assert_code(1);
    let report = outcome.report();
    assert_eq!(report["steps"][0]["status"], "timed_out");
    assert!(
        report["steps"][0]["error"]
            .as_str()
            .unwrap()
            .contains("timed out after 1s")
    );
    assert_eq!(report["steps"][0]["output_tail"][0], "before the timeout");
    let child = outcome.read("child.pid");
    assert!(
        !is_alive(&child),
        "the step's background process {child} survived"
    );
}

#[test]
fn ctrl_c_cancels_running_steps_and_exits_130() {
    cancels_cleanly_on(nix::sys::signal::Signal::SIGINT);
}

#[test]
fn sigterm_cancels_like_ctrl_c() {
    cancels_cleanly_on(nix::sys::signal::Signal::SIGTERM);
}

fn cancels_cleanly_on(signal: nix::sys::signal::Signal) {
    let builder = Pipewright::new().manifest(&format!(
        "{}{}{}",
        header("cancel", 1),
        command_step("long", "sleep 300 & echo $! > child.pid; wait", ""),
        command_step("later", "touch later.ran", "after = [\"long\"]"),
    ));
    let builder = builder.args(["run", "pipeline.toml", "--report", "report.json"]);
    let directory = builder.path().to_path_buf();
    let mut child = builder
        .command()
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !directory.join("child.pid").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the step never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        signal,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(directory.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["status"], "cancelled");
    assert_eq!(report["steps"][0]["status"], "cancelled");
    assert_eq!(report["steps"][1]["skip"]["reason"], "cancelled");
    assert!(!directory.join("later.ran").exists());
    let pid = std::fs::read_to_string(directory.join("child.pid")).unwrap();
    assert!(
        !is_alive(&pid),
        "the step's process {pid} survived the cancellation"
    );
}

#[test]
fn selection_runs_only_the_selected_steps() {
    let mut manifest = header("select", 2);
    manifest.push_str(&command_step("a", "touch a.ran", ""));
    manifest.push_str(&command_step(
        "b",
        "touch b.ran",
        "after = [\"a\"]\ntags = [\"t\"]",
    ));
    manifest.push_str(&command_step("c", "touch c.ran", "after = [\"b\"]"));
    let outcome = Pipewright::new()
        .manifest(&manifest)
        .args([
            "run",
            "pipeline.toml",
            "--select",
            "tag:t+",
            "--exclude",
            "c",
        ])
        .run();
    outcome.assert_code(0);
    assert!(!outcome.exists("a.ran"));
    assert!(outcome.exists("b.ran"));
    assert!(!outcome.exists("c.ran"));
}

#[test]
fn quiet_runs_print_nothing_but_errors() {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}{}",
            header("quiet", 1),
            command_step("a", "echo visible", "")
        ))
        .args(["run", "pipeline.toml", "--quiet"])
        .run();
    outcome.assert_code(0);
    assert_eq!(outcome.stdout, "");
    assert_eq!(outcome.stderr, "");
    let outcome = Pipewright::new()
        .manifest(&failing_pipeline())
        .args(["run", "pipeline.toml", "-q"])
        .run();
    outcome.assert_code(1);
    assert!(
        outcome.stderr.starts_with("error: step `broken` failed"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn plain_progress_shows_output_and_a_summary() {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}{}{}",
            header("lines", 1),
            command_step("greet", "echo hello", ""),
            command_step("after_greet", "echo done", "after = [\"greet\"]")
        ))
        .env("CI", "true")
        .args(["run", "pipeline.toml"])
        .run();
    outcome.assert_code(0);
    insta::assert_snapshot!("plain_lines", outcome.stderr_normalized());
}

#[test]
fn a_second_ctrl_c_kills_steps_that_ignore_sigterm_and_still_writes_the_report() {
    let builder = Pipewright::new()
        .manifest(&format!(
            "{}{}",
            header("stubborn", 1),
            command_step(
                "stubborn",
                "trap '' TERM; sleep 300 & echo $! > child.pid; wait",
                ""
            ),
        ))
        .args(["run", "pipeline.toml", "--report", "report.json"]);
    let directory = builder.path().to_path_buf();
    let mut child = builder
        .command()
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !directory.join("child.pid").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the step never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(directory.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["status"], "cancelled");
    let sleeper = std::fs::read_to_string(directory.join("child.pid")).unwrap();
    assert!(
        !is_alive(&sleeper),
        "the stubborn process {sleeper} survived"
    );
}
