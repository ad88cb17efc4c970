//! Run history and step metrics from run events: `pipeline_runs`, `step_runs` and a
//! `performance_metrics` row for every step that ran, as SEED.md's timing decorator wrote.

use std::collections::HashMap;

use chrono::Utc;

use crate::pipeline::{Pipeline, StepAction, StepId};
use crate::plan::Plan;
use crate::report::Reporter;
use crate::run::{RunEvent, RunId, StepStatus};
use crate::store::{MetricRecord, StoreRecord, store_sink};

/// What the store records about a step besides its result.
#[derive(Debug, Clone)]
struct StepFacts {
    kind: String,
    fingerprint: String,
    database_type: Option<String>,
    table_name: Option<String>,
}

/// Sends run history and metrics to the store writer.
#[derive(Debug)]
pub struct StoreReporter {
    run_id: String,
    pipeline: String,
    manifest: String,
    steps: HashMap<StepId, StepFacts>,
}

impl StoreReporter {
    pub fn new(pipeline: &Pipeline, plan: &Plan, run_id: RunId) -> Self {
        let steps = plan
            .steps
            .iter()
            .map(|planned| {
                let step = pipeline.step(&planned.id);
                let connection = match &step.action {
                    StepAction::Command(_) => None,
                    StepAction::Sql(sql) => Some(&sql.connection),
                    StepAction::Migrate(migrate) => Some(&migrate.connection),
                    StepAction::Transform(transform) => Some(&transform.to.connection),
                    StepAction::Validate(validate) => Some(&validate.connection),
                    StepAction::Bench(bench) => Some(&bench.connection),
                };
                let table_name = match &step.action {
                    StepAction::Transform(transform) => transform.to.table.clone(),
                    StepAction::Validate(validate) => validate.table.clone(),
                    _ => None,
                };
                let facts = StepFacts {
                    kind: step.kind().to_string(),
                    fingerprint: planned.fingerprint.clone(),
                    database_type: connection
                        .map(|name| pipeline.connections[name].driver.to_string()),
                    table_name,
                };
                (planned.id.clone(), facts)
            })
            .collect();
        Self {
            run_id: run_id.to_string(),
            pipeline: pipeline.name.clone(),
            manifest: pipeline.source.path().display().to_string(),
            steps,
        }
    }
}

impl Reporter for StoreReporter {
    fn report(&mut self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted {
                steps, started_at, ..
            } => store_sink::send(StoreRecord::RunStarted {
                run_id: self.run_id.clone(),
                pipeline: self.pipeline.clone(),
                manifest: self.manifest.clone(),
                started_at: *started_at,
                steps_total: i64::try_from(*steps).unwrap_or(i64::MAX),
            }),
            RunEvent::StepFinished { id, result } => {
                let Some(facts) = self.steps.get(id) else {
                    return;
                };
                let duration_ms = result.duration.as_secs_f64() * 1_000.0;
                let rows = result
                    .rows
                    .map(|rows| i64::try_from(rows).unwrap_or(i64::MAX));
                store_sink::send(StoreRecord::StepFinished {
                    run_id: self.run_id.clone(),
                    step_id: id.to_string(),
                    kind: facts.kind.clone(),
                    status: result.status.name().to_owned(),
                    attempts: i64::try_from(result.attempts.len()).unwrap_or(i64::MAX),
                    started_at: Some(result.started_at),
                    finished_at: Some(result.finished_at),
                    duration_ms,
                    rows_affected: rows,
                    error: result.error.clone(),
                    skip_reason: None,
                    fingerprint: facts.fingerprint.clone(),
                });
                store_sink::send(StoreRecord::Metric(MetricRecord {
                    timestamp: result.finished_at,
                    operation: id.to_string(),
                    duration_ms,
                    rows_affected: rows,
                    database_type: facts.database_type.clone(),
                    table_name: facts.table_name.clone(),
                    success: result.status == StepStatus::Succeeded,
                    run_id: Some(self.run_id.clone()),
                    step_id: Some(id.to_string()),
                }));
            }
            RunEvent::StepSkipped { id, skip } => {
                let Some(facts) = self.steps.get(id) else {
                    return;
                };
                store_sink::send(StoreRecord::StepFinished {
                    run_id: self.run_id.clone(),
                    step_id: id.to_string(),
                    kind: facts.kind.clone(),
                    status: StepStatus::Skipped.name().to_owned(),
                    attempts: 0,
                    started_at: None,
                    finished_at: None,
                    duration_ms: 0.0,
                    rows_affected: None,
                    error: None,
                    skip_reason: Some(skip.describe()),
                    fingerprint: facts.fingerprint.clone(),
                });
            }
            RunEvent::RunFinished {
                status,
                duration,
                counts,
            } => {
                let count = |value: usize| i64::try_from(value).unwrap_or(i64::MAX);
                store_sink::send(StoreRecord::RunFinished {
                    run_id: self.run_id.clone(),
                    status: status.name().to_owned(),
                    finished_at: Utc::now(),
                    duration_ms: duration.as_secs_f64() * 1_000.0,
                    succeeded: count(counts.succeeded),
                    failed: count(counts.failed),
                    cancelled: count(counts.cancelled),
                    skipped: count(counts.skipped),
                });
            }
            RunEvent::StepStarted { .. }
            | RunEvent::StepProgress { .. }
            | RunEvent::StepOutput { .. }
            | RunEvent::StepRetrying { .. }
            | RunEvent::Cancelling => {}
        }
    }
}
