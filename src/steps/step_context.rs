//! What a running step gets from the scheduler.

use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::db::Connections;
use crate::pipeline::StepId;
use crate::run::{RunEvent, RunId};

/// The run a step belongs to, the way to report progress, and the token that stops it.
#[derive(Debug, Clone)]
pub struct StepContext {
    pub run_id: RunId,
    pub step_id: StepId,
    /// Cancelled on timeout or when the run is cancelled: the step must stop its work (kill
    /// its processes, cancel its queries) and return promptly.
    pub cancel: CancellationToken,
    pub events: UnboundedSender<RunEvent>,
    /// The pipeline's connections, opened on first use and shared by the steps.
    pub connections: Arc<Connections>,
    /// The pipeline's name: with the step id, what names a step's checkpoints.
    pub pipeline: Arc<str>,
    /// `run --resume`: continue interrupted copies from their checkpoints.
    pub resume: bool,
    /// `--update-baseline`: `bench` steps write their baselines instead of comparing.
    pub update_baseline: bool,
}

impl StepContext {
    /// The pool of a connection, opened on first use. Connecting (retries included) stops as
    /// soon as the step is cancelled or times out.
    pub async fn database(
        &self,
        name: &crate::pipeline::ConnectionName,
    ) -> Result<crate::db::Database, crate::steps::StepError> {
        tokio::select! {
            database = self.connections.get(name) => database.map_err(crate::steps::StepError::Database),
            () = self.cancel.cancelled() => Err(crate::steps::StepError::Cancelled { output_tail: Vec::new() }),
        }
    }

    /// Reports progress in some unit (`rows`, `files`); dropped silently if nobody listens.
    pub fn progress(&self, done: u64, total: Option<u64>, unit: &'static str) {
        let _ = self.events.send(RunEvent::StepProgress {
            id: self.step_id.clone(),
            part: None,
            done,
            total,
            unit,
        });
    }

    /// A line of the step's output (what it did), shown as the run goes and logged.
    pub fn output_line(&self, text: String) {
        tracing::debug!(step = %self.step_id, "{text}");
        let _ = self.events.send(RunEvent::StepOutput {
            id: self.step_id.clone(),
            stream: crate::run::OutputStream::Stdout,
            line: text,
        });
    }

    /// Reports progress of one part of the step (a table), shown on a line or bar of its own.
    pub fn part_progress(&self, part: &str, done: u64, total: Option<u64>, unit: &'static str) {
        let _ = self.events.send(RunEvent::StepProgress {
            id: self.step_id.clone(),
            part: Some(part.to_owned()),
            done,
            total,
            unit,
        });
    }
}

/// What a successful step reports back.
#[derive(Debug, Clone, Default)]
pub struct StepOutput {
    pub rows: Option<u64>,
    pub output_tail: Vec<String>,
    /// What the step did, for the run report.
    pub details: Option<serde_json::Value>,
}
