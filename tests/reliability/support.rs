//! What the reliability tests share: long or short variants, seeds, and the database servers,
//! which some tests stop and start again (the others wait meanwhile).

use std::process::Command;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// `PIPEWRIGHT_RELIABILITY_LONG=1`: more seeds and iterations.
pub fn long() -> bool {
    std::env::var_os("PIPEWRIGHT_RELIABILITY_LONG").is_some_and(|value| !value.is_empty())
}

/// How many seeds a randomised test tries: `short` normally, `long` in the long variant.
pub fn seed_count(short: u64, long_count: u64) -> u64 {
    if long() { long_count } else { short }
}

/// A small deterministic generator (SplitMix64): the same seed gives the same test.
#[derive(Debug, Clone)]
pub struct Seeded(u64);

impl Seeded {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut value = self.0;
        value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        value ^ (value >> 31)
    }

    /// A number in `range` (inclusive start, exclusive end).
    pub fn below(&mut self, end: u64) -> u64 {
        self.next_u64() % end.max(1)
    }
}

/// Tests that use a server hold this shared; tests that stop a server hold it exclusively.
static SERVERS: RwLock<()> = RwLock::new(());

/// For a test that uses the servers without stopping them.
pub fn servers_shared() -> RwLockReadGuard<'static, ()> {
    SERVERS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// For a test that stops and starts a server: no other test of this binary uses one meanwhile.
pub fn servers_exclusive() -> RwLockWriteGuard<'static, ()> {
    SERVERS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn run(program: &str, arguments: &[&str]) -> bool {
    Command::new(program)
        .args(arguments)
        .status()
        .is_ok_and(|status| status.success())
}

fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_mins(1);
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within a minute"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn postgres_cluster() -> String {
    std::fs::read_dir("/etc/postgresql")
        .ok()
        .and_then(|mut entries| entries.next())
        .and_then(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .expect("a PostgreSQL cluster under /etc/postgresql")
}

fn postgres_ready() -> bool {
    run("pg_isready", &["-h", "127.0.0.1", "-p", "5432", "-q"])
}

fn mariadb_ready() -> bool {
    run(
        "mariadb-admin",
        &["-h", "127.0.0.1", "-P", "3306", "-u", "root", "ping"],
    )
}

/// Stops PostgreSQL at once (`immediate`: connections are cut, as in a crash).
pub fn stop_postgres() {
    let cluster = postgres_cluster();
    assert!(
        run(
            "pg_ctlcluster",
            &[
                "--skip-systemctl-redirect",
                &cluster,
                "main",
                "stop",
                "-m",
                "immediate"
            ]
        ),
        "cannot stop PostgreSQL"
    );
    wait_until("PostgreSQL stopping", || !postgres_ready());
}

pub fn start_postgres() {
    let cluster = postgres_cluster();
    run(
        "pg_ctlcluster",
        &["--skip-systemctl-redirect", &cluster, "main", "start"],
    );
    wait_until("PostgreSQL starting", postgres_ready);
}

/// Stops MariaDB (the server process is killed: connections are cut, as in a crash).
pub fn stop_mariadb() {
    run("pkill", &["-KILL", "-x", "mariadbd"]);
    wait_until("MariaDB stopping", || !mariadb_ready());
}

pub fn start_mariadb() {
    run(
        "start-stop-daemon",
        &[
            "--start",
            "--oknodo",
            "--background",
            "--exec",
            "/usr/sbin/mariadbd",
        ],
    );
    wait_until("MariaDB starting", mariadb_ready);
}

/// Starts whichever server is down: a failed test must not leave the next ones without.
pub fn ensure_servers_running() {
    if !postgres_ready() {
        start_postgres();
    }
    if !mariadb_ready() {
        start_mariadb();
    }
}

/// A memory figure of a live process from `/proc/<pid>/status` (`VmRSS`, `VmHWM`...), in KiB.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}
