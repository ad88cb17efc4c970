//! Running a plan: the scheduler and the events it emits.

mod run_event;
mod run_id;
mod scheduler;

pub use run_event::{
    Attempt, FailureKind, OutputStream, RunEvent, RunStatus, StepCounts, StepResult, StepSkip,
    StepStatus,
};
pub use run_id::RunId;
pub use scheduler::{RunOptions, RunSummary, Scheduler};

/// Durations in reports are whole milliseconds, as in the monitoring tables.
pub(crate) fn serialize_millis<S: serde::Serializer>(
    duration: &std::time::Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}
