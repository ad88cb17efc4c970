//! pipewright: a declarative pipeline runner for data engineers.
//!
//! The data flows one way: the command line becomes [`cli::Arguments`], the manifest text a
//! [`manifest::raw::RawPipeline`], then a validated [`pipeline::Pipeline`], a
//! [`graph::StepGraph`] and a [`plan::Plan`]; `check`, `plan` and `graph` stop there, `run`
//! hands the plan to the [`run::Scheduler`], whose events feed the [`report`] reporters.

pub mod bench;
pub mod cli;
pub mod data;
pub mod db;
pub mod error_chain;
pub mod exit_code;
pub mod graph;
pub mod lock_file;
pub mod logging;
pub mod manifest;
pub mod migrate;
pub mod pipeline;
pub mod plan;
pub mod report;
pub mod review;
pub mod run;
pub mod secrets;
pub mod steps;
pub mod store;
pub mod transform;
pub mod validate;
pub mod values;
