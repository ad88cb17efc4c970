//! The `transform` step: plans every table from the source's catalog, then copies them one
//! after the other, reporting each.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::pipeline::TransformSpec;
use crate::steps::{StepContext, StepError, StepOutput};
use crate::transform::{
    CopyContext, TableReport, TransformError, connections_wanted, copy_table, plan_tables,
};

/// A digest of what a copy's rows depend on (not of its batch size or parallelism): a
/// checkpoint made by another definition cannot be resumed.
fn checkpoint_fingerprint(spec: &TransformSpec) -> String {
    let defining = serde_json::json!({
        "from": spec.from,
        "to": spec.to,
        "columns": spec.columns,
        "on_lossy": spec.on_lossy,
    });
    let digest = Sha256::digest(defining.to_string().as_bytes());
    crate::values::hex(&digest)
}

/// The `details` of the run report: one entry per table copied.
fn details(reports: &[TableReport]) -> serde_json::Value {
    serde_json::json!({ "tables": reports })
}

/// One line per table, as the run goes.
fn summary_line(report: &TableReport) -> String {
    let mut line = format!(
        "{} -> {}: {} rows in {:.2}s ({:.0} rows/s), {}",
        report.source,
        report.target,
        report.rows,
        report.duration.as_secs_f64(),
        report.rows_per_second,
        match report.verification {
            "passed" => "verified",
            _ => "not verified",
        }
    );
    if report.resumed_after.is_some() {
        let _ = write!(line, ", resumed after {} rows", report.resumed_rows);
    }
    for lossy in &report.lossy {
        let _ = write!(
            line,
            ", {} value(s) of `{}` set by on_lossy = \"{}\"",
            lossy.values,
            lossy.column,
            lossy.policy.name()
        );
    }
    if let Some(backup) = &report.backup {
        let _ = write!(line, ", previous table kept as `{backup}`");
    }
    line
}

/// Runs a `transform` step.
pub async fn run_transform(
    spec: &TransformSpec,
    context: &StepContext,
) -> Result<StepOutput, StepError> {
    let source = context.database(&spec.from.connection).await?;
    let target = context.database(&spec.to.connection).await?;
    let failed = |error: TransformError, reports: &[TableReport]| match error {
        TransformError::Cancelled | TransformError::Database(crate::db::DbError::Cancelled) => {
            StepError::Cancelled {
                output_tail: Vec::new(),
            }
        }
        error => StepError::Transform {
            error,
            details: (!reports.is_empty()).then(|| details(reports)),
        },
    };
    let planning = async {
        let mut connection = source.acquire().await.map_err(StepError::Database)?;
        plan_tables(&mut connection, spec, target.driver())
            .await
            .map_err(|error| failed(error, &[]))
    };
    // The connections a copy holds at once are opened while the step plans, not one by one
    // as the copy reaches for them.
    let (source_wanted, target_wanted) = connections_wanted(spec);
    let (plans, (), ()) = tokio::join!(
        planning,
        source.warm_up(source_wanted),
        target.warm_up(target_wanted)
    );
    let plans = plans?;
    let fingerprint = checkpoint_fingerprint(spec);
    let copy = CopyContext {
        spec,
        source: &source,
        target: &target,
        step: context,
        fingerprint: &fingerprint,
    };
    let mut reports: Vec<TableReport> = Vec::with_capacity(plans.len());
    for plan in &plans {
        tracing::debug!(
            source = %plan.label,
            target = %plan.target,
            mode = %spec.to.mode,
            "copying `{}` to `{}`",
            plan.label,
            plan.target
        );
        let report = copy_table(&copy, plan)
            .await
            .map_err(|error| failed(error, &reports))?;
        context.output_line(summary_line(&report));
        reports.push(report);
    }
    Ok(StepOutput {
        rows: Some(reports.iter().map(|report| report.rows).sum()),
        output_tail: reports.iter().map(summary_line).collect(),
        details: Some(details(&reports)),
    })
}
