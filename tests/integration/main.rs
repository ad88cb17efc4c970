//! pipewright's integration tests: the real binary, driven as a user would.

mod common;
mod manifest_errors;
mod pipelines;
mod plan_graph;
mod reports;
mod scheduler;
mod schema;
