//! The analyzer: resolves names, interpolates variables and checks every value.

mod actions;
#[allow(clippy::module_inception)]
mod analyzer;
mod steps;
mod transform;
mod validate;

pub use actions::DEFAULT_HISTORY_TABLE;
pub use analyzer::analyze;
pub use transform::{DEFAULT_BATCH_SIZE, DEFAULT_KEEP_BACKUPS};
