//! Why a step attempt failed, and whether trying again can help.

use std::time::Duration;

use crate::db::DbError;
use crate::migrate::MigrateError;
use crate::run::FailureKind;
use crate::values::HumanDuration;

/// A failed attempt at a step.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("cannot start `{program}`")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error("`{program}` {status}")]
    Exited {
        program: String,
        /// "exited with status 3" or "was killed by signal SIGKILL".
        status: String,
        output_tail: Vec<String>,
    },

    #[error("timed out after {}", HumanDuration::new(*.after))]
    TimedOut {
        after: Duration,
        output_tail: Vec<String>,
    },

    #[error("cancelled")]
    Cancelled { output_tail: Vec<String> },

    #[error("lost track of the step's process")]
    Io(#[source] std::io::Error),

    #[error(transparent)]
    Database(DbError),

    #[error("{}", migrate_message(.0))]
    Migrate(MigrateError),

    #[error("{origin} holds no SQL statement")]
    NoStatements { origin: String },

    #[error("cannot read {path}")]
    ReadFile {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{}", transform_message(.error))]
    Transform {
        error: crate::transform::TransformError,
        /// What the step did before it failed (tables copied, backups made).
        details: Option<serde_json::Value>,
    },

    #[error("table `{table}` does not exist on `{connection}`")]
    NoSuchTable { connection: String, table: String },

    #[error("{failed} of {total} checks failed; first {first}")]
    ChecksFailed {
        failed: usize,
        total: usize,
        first: String,
        details: Option<serde_json::Value>,
        output_tail: Vec<String>,
    },

    #[error("{}", regression_message(.regressions))]
    Regression {
        /// `metric: baseline -> now (+x% > tolerance y%)`, for each regressed metric.
        regressions: Vec<String>,
        details: Option<serde_json::Value>,
        output_tail: Vec<String>,
    },

    #[error("cannot write {path}")]
    WriteFile {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}")]
    Bench(String),

    /// The server went away (stopped, restarted, the network dropped) while the step used it.
    #[error("lost the connection to {connections}: {}", crate::error_chain::error_chain(error.as_ref()))]
    ConnectionLost {
        /// `` `target` ``, or `` `source` or `target` `` for a step that uses several.
        connections: String,
        /// What the step was doing when it lost it (not a `#[source]`: its text is already
        /// in the message).
        error: Box<StepError>,
    },

    #[error("pipewright failed while running the step: {0}")]
    Internal(String),
}

fn regression_message(regressions: &[String]) -> String {
    format!(
        "{} worse than the baseline beyond its tolerance: {}; if the change is intended, record it with `pipewright bench --update-baseline`",
        if regressions.len() == 1 {
            "1 metric is".to_owned()
        } else {
            format!("{} metrics are", regressions.len())
        },
        regressions.join("; ")
    )
}

/// The transform's error with its causes, then what to do about it.
fn transform_message(error: &crate::transform::TransformError) -> String {
    let chain = crate::error_chain::error_chain(error);
    match error.help() {
        Some(help) => format!("{chain}; {help}"),
        None => chain,
    }
}

/// The engine's error with its causes, then what to do about it.
fn migrate_message(error: &MigrateError) -> String {
    let chain = crate::error_chain::error_chain(error);
    match error.help() {
        Some(help) => format!("{chain}; {help}"),
        None => chain,
    }
}

impl StepError {
    /// The kind of failure, for exit codes that tell CI more than "a step failed".
    pub fn failure_kind(&self) -> FailureKind {
        match self {
            Self::ConnectionLost { error, .. } => error.failure_kind(),
            Self::Migrate(error) if error.is_lock_timeout() => FailureKind::LockTimeout,
            Self::Regression { .. } => FailureKind::Regression,
            _ => FailureKind::Step,
        }
    }

    /// Whether a retry may succeed. Failures of the step's own work (a non-zero exit, a
    /// timeout) and transient database errors (a lost connection, a deadlock, a server out of
    /// connections) are retried when the manifest asks for retries; failures that will not
    /// change by themselves (a missing program, a syntax error, a constraint violation,
    /// cancellation) are not.
    pub fn is_transient(&self) -> bool {
        match self {
            // A lost connection may be back by the next attempt (a server restarting).
            Self::ConnectionLost { .. }
            | Self::Exited { .. }
            | Self::TimedOut { .. }
            | Self::Io(_) => true,
            Self::Database(error) => error.is_transient(),
            // Another migration held the lock: it may be done by the next attempt.
            Self::Migrate(error) => error.is_lock_timeout(),
            Self::Transform { error, .. } => error.is_transient(),
            _ => false,
        }
    }

    /// What the step did before it failed, when its kind reports it.
    pub fn details(&self) -> Option<serde_json::Value> {
        match self {
            Self::ConnectionLost { error, .. } => error.details(),
            Self::Transform { details, .. }
            | Self::ChecksFailed { details, .. }
            | Self::Regression { details, .. } => details.clone(),
            _ => None,
        }
    }

    /// The last lines of output, if the error carries them.
    pub fn output_tail(&self) -> &[String] {
        match self {
            Self::ConnectionLost { error, .. } => error.output_tail(),
            Self::Exited { output_tail, .. }
            | Self::TimedOut { output_tail, .. }
            | Self::ChecksFailed { output_tail, .. }
            | Self::Regression { output_tail, .. }
            | Self::Cancelled { output_tail } => output_tail,
            _ => &[],
        }
    }

    /// The same error with the step's last lines of output.
    #[must_use]
    pub fn with_output_tail(mut self, tail: Vec<String>) -> Self {
        if let Self::Exited { output_tail, .. }
        | Self::TimedOut { output_tail, .. }
        | Self::Cancelled { output_tail } = &mut self
        {
            *output_tail = tail;
        }
        self
    }
}

/// Whether a step failed because the server dropped its connection (a stopped server, a
/// network cut) while the step was using it, rather than because of the work itself. The
/// engines carry the driver's error as text in places (a check that could not run), so the
/// driver's own wording for a broken connection is what is looked for; a connection that
/// could not be opened says so already.
pub fn lost_connection(error: &StepError) -> bool {
    let text = crate::error_chain::error_chain(error);
    text.contains("error communicating with database") && !text.contains("cannot connect to")
}
