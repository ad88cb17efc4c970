//! What a run will do: selection, order, waves and skip reasons.

#[allow(clippy::module_inception)]
mod plan;
mod previous_run;
mod selector;

pub use plan::{Decision, Plan, PlannedStep, Selection, SkipReason};
pub use previous_run::{PreviousRun, PreviousStep, StepRunRow};
pub use selector::{Selector, SelectorError, SelectorTarget};
