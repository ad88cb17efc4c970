//! pipewright's integration tests: the real binary, driven as a user would.

// Test helpers are `pub` for the modules of this binary, which is all a test crate has.
#![allow(unreachable_pub)]

mod bench_steps;
mod common;
mod connections;
mod html_report;
mod logging;
mod manifest_errors;
mod migrations;
mod pipelines;
mod plan_graph;
mod reports;
mod review;
mod scheduler;
mod schema;
mod servers;
mod sql_steps;
mod store;
mod transforms;
mod validations;
