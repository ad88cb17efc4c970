//! What a run will do: selection, order, waves and skip reasons.

#[allow(clippy::module_inception)]
mod plan;
mod selector;

pub use plan::{Decision, Plan, PlannedStep, Selection, SkipReason};
pub use selector::{Selector, SelectorError, SelectorTarget};
