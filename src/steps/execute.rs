//! Dispatch from a step's action to the engine that runs it.

use std::future::Future;
use std::pin::Pin;

use crate::pipeline::{StepAction, StepSpec};
use crate::steps::{
    StepContext, StepError, StepOutput, run_bench, run_command, run_migrate, run_sql,
    run_transform, run_validate,
};

/// A boxed step future, so executors can be trait objects.
pub type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<StepOutput, StepError>> + Send + 'a>>;

/// What the scheduler calls to run one attempt of a step. [`Engines`] is the real one; the
/// scheduler benchmark swaps in a no-op to measure the scheduler alone.
pub trait StepExecutor: Send + Sync + std::fmt::Debug {
    fn execute<'a>(&'a self, step: &'a StepSpec, context: &'a StepContext) -> StepFuture<'a>;
}

/// The engines of every step kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct Engines;

impl StepExecutor for Engines {
    fn execute<'a>(&'a self, step: &'a StepSpec, context: &'a StepContext) -> StepFuture<'a> {
        Box::pin(execute(step, context))
    }
}

/// Runs one attempt of a step. A lost connection is said as such, with the step's
/// connections named.
pub async fn execute(step: &StepSpec, context: &StepContext) -> Result<StepOutput, StepError> {
    run_action(step, context).await.map_err(|error| {
        let connections = step_connections(step);
        if connections.is_empty() || !crate::steps::lost_connection(&error) {
            return error;
        }
        StepError::ConnectionLost {
            connections: connections.join(" or "),
            error: Box::new(error),
        }
    })
}

/// The connections a step uses, as `` `name` ``.
fn step_connections(step: &StepSpec) -> Vec<String> {
    let mut names: Vec<String> = match &step.action {
        StepAction::Command(_) => Vec::new(),
        StepAction::Sql(sql) => vec![sql.connection.to_string()],
        StepAction::Migrate(migrate) => vec![migrate.connection.to_string()],
        StepAction::Transform(transform) => vec![
            transform.from.connection.to_string(),
            transform.to.connection.to_string(),
        ],
        StepAction::Validate(validate) => {
            let mut names = vec![validate.connection.to_string()];
            for check in &validate.checks {
                match &check.kind {
                    crate::pipeline::CheckKind::Reconcile { with: other, .. }
                    | crate::pipeline::CheckKind::RowCount {
                        same_as: Some(other),
                        ..
                    } => names.push(other.connection.to_string()),
                    _ => {}
                }
            }
            names
        }
        StepAction::Bench(bench) => vec![bench.connection.to_string()],
    };
    names.dedup();
    names.sort();
    names.dedup();
    names.into_iter().map(|name| format!("`{name}`")).collect()
}

async fn run_action(step: &StepSpec, context: &StepContext) -> Result<StepOutput, StepError> {
    match &step.action {
        StepAction::Command(command) => run_command(command, context).await,
        StepAction::Sql(sql) => run_sql(sql, context).await,
        StepAction::Migrate(migrate) => run_migrate(migrate, context).await,
        StepAction::Transform(transform) => run_transform(transform, context).await,
        StepAction::Validate(validate) => run_validate(validate, context).await,
        StepAction::Bench(bench) => run_bench(bench, context).await,
    }
}
