//! What one check found, as the run report, `data_quality_checks`, alerts and JUnit show it.

use std::time::Duration;

use serde::Serialize;

use crate::pipeline::Severity;

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Passed,
    /// Failed, with severity `error`: the step fails.
    Failed,
    /// Failed, with severity `warn`: recorded and alerted, the run goes on.
    Warned,
}

impl CheckStatus {
    pub fn name(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Warned => "warned",
        }
    }
}

/// The rows two reconciled tables disagree on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Differences {
    /// Keys of the checked table missing from the other.
    pub only_here: u64,
    /// Keys of the other table missing from the checked one.
    pub only_there: u64,
    /// Keys in both whose rows differ.
    pub changed: u64,
}

impl Differences {
    pub fn total(&self) -> u64 {
        self.only_here + self.only_there + self.changed
    }
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOutcome {
    pub name: String,
    pub kind: &'static str,
    pub severity: Severity,
    pub status: CheckStatus,
    /// What was found, for a person.
    pub message: String,
    /// Rows the check looked at.
    pub rows_checked: Option<u64>,
    /// Rows that failed it.
    pub failing_rows: Option<u64>,
    /// The values `data_quality_checks` keeps: what was expected, what was measured, what
    /// was allowed.
    pub expected: Option<f64>,
    pub actual: Option<f64>,
    pub threshold: Option<f64>,
    /// Up to `samples` failing rows, column by column (canonical text).
    pub samples: Vec<serde_json::Value>,
    /// The statements the check ran.
    pub sql: Vec<String>,
    #[serde(
        rename = "duration_ms",
        serialize_with = "crate::run::serialize_millis"
    )]
    pub duration: Duration,
    /// `reconcile`: what differs.
    pub differences: Option<Differences>,
}

impl CheckOutcome {
    pub fn passed(&self) -> bool {
        self.status == CheckStatus::Passed
    }
}
