//! The `validate` step: its checks run one after the other on the table (or query); each is
//! recorded in `data_quality_checks`, raises an alert when it fails (or resolves one when it
//! passes again), and is reported. A failing check of severity `error` fails the step.

use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::pipeline::ValidateSpec;
use crate::steps::{StepContext, StepError, StepOutput};
use crate::store::{AlertRecord, CheckRecord, StoreRecord, store_sink};
use crate::validate::{CheckOutcome, CheckStatus, Checker, subject_columns};

/// The key of a check's alerts: the same check of the same step of the same pipeline.
fn alert_key(context: &StepContext, check: &str) -> String {
    let digest =
        Sha256::digest(format!("{}\0{}\0{check}", context.pipeline, context.step_id).as_bytes());
    crate::values::hex(&digest[..16])
}

/// Writes a check's outcome to the store: its row of `data_quality_checks`, and the alert it
/// raises or resolves.
fn record(context: &StepContext, spec: &ValidateSpec, outcome: &CheckOutcome) {
    let now = Utc::now();
    store_sink::send(StoreRecord::Check(CheckRecord {
        timestamp: now,
        check_type: outcome.kind.to_owned(),
        table_name: Some(spec.subject().to_owned()),
        status: outcome.status.name().to_owned(),
        expected_value: outcome.expected,
        actual_value: outcome.actual,
        threshold: outcome.threshold,
        details: Some(format!("{}: {}", outcome.name, outcome.message)),
        run_id: Some(context.run_id.to_string()),
        step_id: Some(context.step_id.to_string()),
    }));
    let key = alert_key(context, &outcome.name);
    if outcome.passed() {
        store_sink::send(StoreRecord::ResolveAlert { alert_key: key });
    } else {
        store_sink::send(StoreRecord::Alert(AlertRecord {
            timestamp: now,
            alert_key: key,
            alert_type: "data_quality".to_owned(),
            severity: outcome.severity.name().to_owned(),
            source: format!("{}/{}", context.pipeline, context.step_id),
            message: format!(
                "check `{}` on `{}` ({} step `{}` of pipeline `{}`): {}",
                outcome.name,
                spec.subject(),
                if outcome.status == CheckStatus::Failed {
                    "failed, stopping"
                } else {
                    "failed, warning in"
                },
                context.step_id,
                context.pipeline,
                outcome.message
            ),
            run_id: Some(context.run_id.to_string()),
            step_id: Some(context.step_id.to_string()),
        }));
    }
}

/// One line per check, as the run goes.
fn line(outcome: &CheckOutcome) -> String {
    format!(
        "{:<6} {}: {}",
        outcome.status.name(),
        outcome.name,
        outcome.message
    )
}

/// Runs a `validate` step.
pub async fn run_validate(
    spec: &ValidateSpec,
    context: &StepContext,
) -> Result<StepOutput, StepError> {
    let database = context.database(&spec.connection).await?;
    let mut connection = database.acquire().await.map_err(StepError::Database)?;
    let columns = subject_columns(&mut connection, spec)
        .await
        .map_err(StepError::Database)?
        .ok_or_else(|| StepError::NoSuchTable {
            connection: spec.connection.to_string(),
            table: spec.subject().to_owned(),
        })?;
    let mut outcomes: Vec<CheckOutcome> = Vec::with_capacity(spec.checks.len());
    {
        let mut checker = Checker {
            spec,
            connection: &mut connection,
            step: context,
            columns,
        };
        for check in &spec.checks {
            let outcome = tokio::select! {
                outcome = checker.run(check) => outcome,
                () = context.cancel.cancelled() => {
                    checker.connection.interrupt().await;
                    return Err(StepError::Cancelled { output_tail: Vec::new() });
                }
            };
            record(context, spec, &outcome);
            context.output_line(line(&outcome));
            outcomes.push(outcome);
        }
    }
    let details = serde_json::json!({ "table": spec.subject(), "checks": outcomes });
    let failed: Vec<&CheckOutcome> = outcomes
        .iter()
        .filter(|outcome| outcome.status == CheckStatus::Failed)
        .collect();
    let output_tail = outcomes.iter().map(line).collect();
    if failed.is_empty() {
        return Ok(StepOutput {
            rows: outcomes
                .iter()
                .filter_map(|outcome| outcome.rows_checked)
                .max(),
            output_tail,
            details: Some(details),
        });
    }
    Err(StepError::ChecksFailed {
        failed: failed.len(),
        total: outcomes.len(),
        first: format!("{}: {}", failed[0].name, failed[0].message),
        details: Some(details),
        output_tail,
    })
}
