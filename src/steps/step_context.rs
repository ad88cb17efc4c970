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
}
