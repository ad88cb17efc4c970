//! The analyzer: resolves names, interpolates variables and checks every value.

mod actions;
#[allow(clippy::module_inception)]
mod analyzer;
mod steps;

pub use actions::{DEFAULT_BATCH_SIZE, DEFAULT_HISTORY_TABLE};
pub use analyzer::analyze;
