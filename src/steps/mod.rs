//! The engines that execute steps, one per kind.

mod bench_step;
mod command_step;
mod execute;
mod migrate_step;
mod sql_step;
mod step_context;
mod step_error;
mod transform_step;
mod validate_step;

pub use bench_step::{format_metric, run_bench};
pub use command_step::{TERMINATION_GRACE, kill_running_commands, run_command};
pub use execute::{Engines, StepExecutor, StepFuture, execute};
pub use migrate_step::run_migrate;
pub use sql_step::run_sql;
pub use step_context::{StepContext, StepOutput};
pub use step_error::{StepError, lost_connection};
pub use transform_step::run_transform;
pub use validate_step::run_validate;
