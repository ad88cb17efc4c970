//! The validated pipeline model: what the analyzer produces and everything after it uses.

mod bench_spec;
mod command_spec;
mod connection_spec;
mod database_step_spec;
mod driver;
#[allow(clippy::module_inception)]
mod pipeline;
mod step_id;
mod step_kind;
mod step_spec;
mod transform_spec;
mod validate_spec;

pub use bench_spec::{
    BenchSpec, Better, InsertMethod, InsertWorkload, MetricDef, QueryWorkload, Tolerance, Workload,
};
pub use command_spec::{CommandProgram, CommandSpec};
pub use connection_spec::{ConnectionName, ConnectionSpec, ConnectionUrl};
pub use database_step_spec::{MigrateSpec, SqlSource, SqlSpec};
pub use driver::Driver;
pub use pipeline::{LoggingSpec, MonitoringSpec, Pipeline};
pub use step_id::StepId;
pub use step_kind::{COMMON_STEP_KEYS, StepKind, UnknownStepKind};
pub(crate) use step_spec::{PATH_KEYS, relative_path, rewrite_paths};
pub use step_spec::{StepAction, StepSpec, display_relative};
pub use transform_spec::{
    ColumnRule, LossyPolicy, SourceSpec, SourceTables, TargetSpec, TransformMode, TransformSpec,
};
pub use validate_spec::{
    Bound, CheckKind, CheckSpec, ExpectedColumn, OtherTable, Severity, ValidateSpec,
};
