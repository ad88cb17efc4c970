//! `RunRecord`: everything a run did, built from its events; the content of `--report` and
//! `--junit`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::Serialize;

use crate::pipeline::{Pipeline, StepId, StepKind};
use crate::plan::Plan;
use crate::report::Reporter;
use crate::run::{Attempt, RunEvent, RunId, RunStatus, StepSkip, StepStatus};

/// The run report, format version 1 (documented in docs/reports.md).
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub version: u32,
    pub run_id: Option<RunId>,
    pub pipeline: String,
    pub manifest: String,
    /// `None` until the run has finished.
    pub status: Option<RunStatus>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(
        serialize_with = "crate::run::serialize_millis",
        rename = "duration_ms"
    )]
    pub duration: Duration,
    pub steps: Vec<StepRecord>,
}

/// One step of the run report.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub id: StepId,
    pub kind: StepKind,
    /// `None` if the run ended before the step was settled (it cannot happen after a normal
    /// end, cancellation included).
    pub status: Option<StepStatus>,
    /// Why the step was skipped.
    pub skip: Option<StepSkip>,
    pub attempts: Vec<Attempt>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(
        serialize_with = "crate::run::serialize_millis",
        rename = "duration_ms"
    )]
    pub duration: Duration,
    pub rows: Option<u64>,
    pub error: Option<String>,
    /// What kind of failure, when the step failed.
    pub failure: Option<crate::run::FailureKind>,
    /// The last lines the step printed.
    pub output_tail: Vec<String>,
    /// What the step did, in its kind's terms: a transform's tables (docs/transforms.md).
    pub details: Option<serde_json::Value>,
    /// Digest of the step's resolved definition and of the files it reads.
    pub fingerprint: String,
    /// `run --resume`: why the step ran again or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume: Option<String>,
}

impl RunRecord {
    pub const FORMAT_VERSION: u32 = 1;

    pub fn count(&self, status: StepStatus) -> usize {
        self.steps
            .iter()
            .filter(|step| step.status == Some(status))
            .count()
    }

    /// The report as pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a run record serializes");
        text.push('\n');
        crate::secrets::redact(&text).into_owned()
    }
}

/// Builds a [`RunRecord`] from events.
#[derive(Debug)]
pub struct RunRecorder {
    record: RunRecord,
    index: IndexMap<StepId, usize>,
}

impl RunRecorder {
    pub fn new(pipeline: &Pipeline, plan: &Plan) -> Self {
        let steps: Vec<StepRecord> = plan
            .steps
            .iter()
            .map(|planned| StepRecord {
                id: planned.id.clone(),
                kind: planned.kind,
                status: None,
                skip: None,
                attempts: Vec::new(),
                started_at: None,
                finished_at: None,
                duration: Duration::ZERO,
                rows: None,
                error: None,
                failure: None,
                output_tail: Vec::new(),
                details: None,
                fingerprint: planned.fingerprint.clone(),
                resume: planned.resume.clone(),
            })
            .collect();
        let index = steps
            .iter()
            .enumerate()
            .map(|(position, step)| (step.id.clone(), position))
            .collect();
        Self {
            record: RunRecord {
                version: RunRecord::FORMAT_VERSION,
                run_id: None,
                pipeline: pipeline.name.clone(),
                manifest: pipeline.source.path().display().to_string(),
                status: None,
                started_at: None,
                finished_at: None,
                duration: Duration::ZERO,
                steps,
            },
            index,
        }
    }

    pub fn record(&self) -> &RunRecord {
        &self.record
    }

    pub fn into_record(self) -> RunRecord {
        self.record
    }

    fn step(&mut self, id: &StepId) -> Option<&mut StepRecord> {
        let position = *self.index.get(id)?;
        self.record.steps.get_mut(position)
    }
}

impl Reporter for RunRecorder {
    fn report(&mut self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted {
                run_id, started_at, ..
            } => {
                self.record.run_id = Some(*run_id);
                self.record.started_at = Some(*started_at);
            }
            RunEvent::StepFinished { id, result } => {
                if let Some(step) = self.step(id) {
                    step.status = Some(result.status);
                    step.attempts.clone_from(&result.attempts);
                    step.started_at = Some(result.started_at);
                    step.finished_at = Some(result.finished_at);
                    step.duration = result.duration;
                    step.rows = result.rows;
                    step.error.clone_from(&result.error);
                    step.failure = result.failure;
                    step.output_tail.clone_from(&result.output_tail);
                    step.details.clone_from(&result.details);
                }
            }
            RunEvent::StepSkipped { id, skip } => {
                if let Some(step) = self.step(id) {
                    step.status = Some(StepStatus::Skipped);
                    step.skip = Some(skip.clone());
                }
            }
            RunEvent::RunFinished {
                status, duration, ..
            } => {
                self.record.status = Some(*status);
                self.record.duration = *duration;
                self.record.finished_at = Some(Utc::now());
            }
            RunEvent::StepStarted { .. }
            | RunEvent::StepProgress { .. }
            | RunEvent::StepOutput { .. }
            | RunEvent::StepRetrying { .. }
            | RunEvent::Cancelling => {}
        }
    }
}
