//! Dispatch from a step's action to the engine that runs it.

use crate::pipeline::{StepAction, StepSpec};
use crate::steps::{StepContext, StepError, StepOutput, run_command};

/// Runs one attempt of a step.
pub async fn execute(step: &StepSpec, context: &StepContext) -> Result<StepOutput, StepError> {
    match &step.action {
        StepAction::Command(command) => run_command(command, context).await,
        StepAction::Sql(_)
        | StepAction::Migrate(_)
        | StepAction::Transform(_)
        | StepAction::Validate(_)
        | StepAction::Bench(_) => Err(StepError::NotImplemented { kind: step.kind() }),
    }
}
