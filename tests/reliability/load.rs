//! Load: a pipeline of 2,000 steps with 64 running at once against PostgreSQL finishes without
//! exhausting the server's connections (the pool holds at most `concurrency + 1`), and
//! pipewright's memory stays flat while the steps go by.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::common::{Pipewright, header};
use crate::servers::{Engine, TestDatabase};
use crate::support;

const STEPS: usize = 2_000;
const CONCURRENCY: usize = 64;

/// 2,000 `sql` steps in 64 chains (each step after the one 64 before it), each sleeping a
/// little on the server so that 64 really run at once.
fn manifest(url: &str) -> String {
    let mut text = format!(
        "{}\n[connections.db]\nurl = \"{url}\"\n",
        header("load", CONCURRENCY)
    );
    for index in 0..STEPS {
        let _ = write!(
            text,
            "\n[steps.s{index:04}]\nkind = \"sql\"\nconnection = \"db\"\nsql = \"SELECT pg_sleep(0.005)\"\n"
        );
        if index >= CONCURRENCY {
            let _ = writeln!(text, "after = [\"s{:04}\"]", index - CONCURRENCY);
        }
    }
    text
}

/// The median of some samples.
fn median(samples: &mut [u64]) -> u64 {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or(0)
}

#[test]
fn two_thousand_steps_sixty_four_at_once() {
    let _servers = support::servers_shared();
    let Some(database) = TestDatabase::create(Engine::Postgres, "load") else {
        return;
    };
    let project = Pipewright::new().manifest(&manifest(&database.url));
    let started = Instant::now();
    // Progress goes to a file: a pipe nobody reads would fill up and stop the run.
    let stderr = std::fs::File::create(project.path().join("stderr.log")).unwrap();
    let mut child = project
        .command()
        .args(["run", "pipeline.toml", "--report", "report.json"])
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let pid = child.id();
    // Memory and the server's connections of the database, every 50 ms while it runs.
    let mut memory = Vec::new();
    let mut most_connections = 0;
    while child.try_wait().unwrap().is_none() {
        if let Some(kib) = support::status_kib(pid, "VmRSS") {
            memory.push(kib);
        }
        if let Some(connections) = database.try_count(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pipewright'",
        ) {
            most_connections = most_connections.max(connections);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = child.wait().unwrap();
    let elapsed = started.elapsed();
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(project.path().join("stderr.log")).unwrap_or_default()
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project.path().join("report.json")).unwrap())
            .unwrap();
    let succeeded = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|step| step["status"] == "succeeded")
        .count();
    assert_eq!(succeeded, STEPS);
    // The pool: the run's concurrency plus one; the count includes the test's own query.
    assert!(
        most_connections <= i64::try_from(CONCURRENCY).unwrap() + 2,
        "{most_connections} connections at once"
    );
    assert!(
        most_connections >= 2,
        "the steps ran at once: {most_connections}"
    );
    // Flat: the second half of the run holds no more than the first half, within 30%.
    assert!(memory.len() >= 8, "too few memory samples: {memory:?}");
    let half = memory.len() / 2;
    let (first, second) = memory.split_at_mut(half);
    let (first, second) = (median(first), median(second));
    let peak = memory.iter().copied().max().unwrap_or(0);
    eprintln!(
        "load: {STEPS} steps, {CONCURRENCY} at once, in {:.1}s; at most {most_connections} connections; resident memory median {first} KiB then {second} KiB, peak {peak} KiB",
        elapsed.as_secs_f64()
    );
    assert!(
        second * 10 <= first * 13,
        "memory grew: median {first} KiB in the first half, {second} KiB in the second"
    );
}
