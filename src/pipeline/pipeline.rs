//! `Pipeline`: a manifest after analysis, every name resolved and every value checked.

use indexmap::IndexMap;
use serde::Serialize;

use crate::manifest::SourceFile;
use crate::pipeline::{ConnectionName, ConnectionSpec, StepId, StepSpec};
use crate::values::LogLevel;

/// A validated pipeline. Steps are kept in manifest order.
#[derive(Debug, Clone, Serialize)]
pub struct Pipeline {
    pub name: String,
    pub description: Option<String>,
    /// How many steps may run at once.
    pub concurrency: usize,
    pub connections: IndexMap<ConnectionName, ConnectionSpec>,
    pub monitoring: MonitoringSpec,
    pub logging: LoggingSpec,
    pub steps: IndexMap<StepId, StepSpec>,
    #[serde(skip)]
    pub source: SourceFile,
    /// The manifest's directory, absolute.
    #[serde(skip)]
    pub base_dir: std::path::PathBuf,
}

/// `[monitoring]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MonitoringSpec {
    pub connection: Option<ConnectionName>,
}

/// `[logging]`: the level of each sink and how long files are kept.
#[derive(Debug, Clone, Serialize)]
pub struct LoggingSpec {
    pub level: LogLevel,
    /// `None`: `logs/` in the state directory.
    pub dir: Option<std::path::PathBuf>,
    pub file_level: LogLevel,
    pub file_retention_days: u32,
    pub error_level: LogLevel,
    pub error_retention_days: u32,
    pub json_level: LogLevel,
    pub json_retention_days: u32,
    pub database_level: LogLevel,
}

impl Default for LoggingSpec {
    /// SEED.md's set-up: console INFO+, daily file DEBUG+ kept 7 days, error file ERROR+ kept
    /// 30 days, JSON lines INFO+, database WARN+.
    fn default() -> Self {
        Self {
            level: LogLevel::Info,
            dir: None,
            file_level: LogLevel::Debug,
            file_retention_days: 7,
            error_level: LogLevel::Error,
            error_retention_days: 30,
            json_level: LogLevel::Info,
            json_retention_days: 7,
            database_level: LogLevel::Warn,
        }
    }
}

impl Pipeline {
    /// The concurrency when `[pipeline]` does not set one: enough for a few independent
    /// database steps, and the same on every machine so that plans do not vary.
    pub const DEFAULT_CONCURRENCY: usize = 4;

    pub fn step(&self, id: &StepId) -> &StepSpec {
        &self.steps[id]
    }

    /// The id of the step named `name`, if there is one.
    pub fn step_id(&self, name: &str) -> Option<&StepId> {
        self.steps.get_key_value(name).map(|(id, _)| id)
    }
}
