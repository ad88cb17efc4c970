//! pipewright's reliability suite: tests that break things on purpose (kill the process, stop
//! the database server, run two processes at once, fill the disk, feed garbage and hostile
//! names, load the scheduler, look for secrets) and check the promise: a clear error, and
//! nothing lost. Short variants run with `cargo test`; `PIPEWRIGHT_RELIABILITY_LONG=1` runs
//! the long ones (more seeds, more iterations). See docs/reliability.md.

// Test helpers are `pub` for the modules of this binary, which is all a test crate has.
#![allow(unreachable_pub)]

// The integration suite's helpers; this binary uses part of them.
#[allow(dead_code, unused_imports, unused_macros)]
#[path = "../integration/common.rs"]
mod common;
#[allow(dead_code, unused_imports, unused_macros)]
#[path = "../integration/servers.rs"]
mod servers;

mod concurrency;
mod disk_full;
mod garbage;
mod hostile;
mod kills;
mod load;
mod secrets;
mod servers_down;
mod support;
mod wide_rows;
