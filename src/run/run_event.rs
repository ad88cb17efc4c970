//! Events: the facts a run produces (a step started, failed, was skipped). They feed progress
//! output, reports and run history; logs are a separate stream, for diagnosis.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::pipeline::{StepId, StepKind};
use crate::plan::SkipReason;
use crate::run::RunId;

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
    Skipped,
}

impl StepStatus {
    pub fn name(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
        }
    }

    /// The status in words: `timed out`, not `timed_out`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::TimedOut => "timed out",
            other => other.name(),
        }
    }

    /// Whether the step ran and did not succeed.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::TimedOut)
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub fn name(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Why a step did not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StepSkip {
    /// Decided by the plan: disabled, not selected or excluded.
    Planned { because: SkipReason },
    /// A step it depends on, directly or not, failed.
    UpstreamFailed { step: StepId },
    /// Another step failed and the run stopped starting new steps (fail-fast).
    RunStopped,
    /// The run was cancelled before the step started.
    Cancelled,
}

impl StepSkip {
    pub fn describe(&self) -> String {
        match self {
            Self::Planned { because } => because.describe().to_owned(),
            Self::UpstreamFailed { step } => format!("upstream step `{step}` failed"),
            Self::RunStopped => {
                "the run stopped after a failure (use `--keep-going` to run independent steps)"
                    .to_owned()
            }
            Self::Cancelled => "the run was cancelled".to_owned(),
        }
    }
}

/// One try at running a step.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// 1-based.
    pub number: u32,
    pub started_at: DateTime<Utc>,
    #[serde(
        serialize_with = "crate::run::serialize_millis",
        rename = "duration_ms"
    )]
    pub duration: Duration,
    pub status: StepStatus,
    pub error: Option<String>,
}

/// What kind of failure ended a step, when it failed: CI can tell a lock held by another
/// migration from a broken statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The step's own work failed.
    Step,
    /// Another process held the migration lock past the lock timeout.
    LockTimeout,
    /// A `bench` step measured a metric worse than its baseline beyond the tolerance.
    Regression,
}

/// Everything known about a finished step.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub status: StepStatus,
    pub attempts: Vec<Attempt>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// From the start of the first attempt to the end of the last, waits included.
    #[serde(
        serialize_with = "crate::run::serialize_millis",
        rename = "duration_ms"
    )]
    pub duration: Duration,
    /// The error of the last attempt.
    pub error: Option<String>,
    /// What kind of failure, when the step failed.
    pub failure: Option<FailureKind>,
    /// Rows the step read, wrote or checked, when it knows.
    pub rows: Option<u64>,
    /// The last lines the step printed (commands), for failure reports.
    pub output_tail: Vec<String>,
    /// What the step did, in its kind's own terms (a transform's tables, rows, checksums
    /// and backups).
    pub details: Option<serde_json::Value>,
}

/// Which of a process's output streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputStream {
    Stdout,
    Stderr,
}

impl OutputStream {
    pub fn name(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

/// A fact about a run, in the order it happened.
#[derive(Debug, Clone)]
pub enum RunEvent {
    RunStarted {
        run_id: RunId,
        pipeline: String,
        /// Steps planned to run.
        steps: usize,
        started_at: DateTime<Utc>,
    },
    StepStarted {
        id: StepId,
        kind: StepKind,
        attempt: u32,
        max_attempts: u32,
    },
    StepProgress {
        id: StepId,
        /// The part of the step the progress is about (a table of a transform), if any.
        part: Option<String>,
        done: u64,
        total: Option<u64>,
        unit: &'static str,
    },
    /// A line a step printed (a command's stdout or stderr), secrets redacted.
    StepOutput {
        id: StepId,
        stream: OutputStream,
        line: String,
    },
    StepRetrying {
        id: StepId,
        attempt: u32,
        max_attempts: u32,
        error: String,
        delay: Duration,
    },
    StepFinished {
        id: StepId,
        result: Box<StepResult>,
    },
    StepSkipped {
        id: StepId,
        skip: StepSkip,
    },
    /// Cancellation was requested (Ctrl-C, SIGTERM): running steps are being stopped.
    Cancelling,
    RunFinished {
        status: RunStatus,
        duration: Duration,
        counts: StepCounts,
    },
}

/// How many planned steps ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StepCounts {
    pub succeeded: usize,
    pub failed: usize,
    /// Stopped while running by a cancellation.
    pub cancelled: usize,
    /// Never started: skipped by the plan, after a failure, or by a cancellation.
    pub skipped: usize,
}
