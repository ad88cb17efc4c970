//! The `bench` step: measures its workload, records every sample in `performance_metrics`,
//! and compares the medians with its baseline (or, with `--update-baseline`, writes them
//! there). A gated metric worse than its baseline beyond its tolerance fails the step.

use chrono::Utc;

use crate::bench::{
    BaselineEntry, BaselineFile, BenchError, BenchReport, Measurement, MetricReport, Verdict,
    compare, measure_connect, measure_insert, measure_query, record_baseline,
};
use crate::pipeline::{BenchSpec, Workload};
use crate::steps::{StepContext, StepError, StepOutput};
use crate::store::{MetricRecord, StoreRecord, store_sink};

/// Runs a `bench` step.
pub async fn run_bench(spec: &BenchSpec, context: &StepContext) -> Result<StepOutput, StepError> {
    let connection = context.connections.spec(&spec.connection);
    let database_type = connection.driver.name();
    let measured = match &spec.workload {
        Workload::Connect => {
            measure_connect(connection, spec.warmup, spec.iterations, &context.cancel).await
        }
        Workload::Insert(insert) => {
            let database = context.database(&spec.connection).await?;
            let progress = |line: String| context.output_line(line);
            measure_insert(
                &database,
                insert,
                spec.warmup,
                spec.iterations,
                &context.cancel,
                &progress,
            )
            .await
        }
        Workload::Query(query) => {
            let database = context.database(&spec.connection).await?;
            measure_query(
                &database,
                query,
                spec.warmup,
                spec.iterations,
                &context.cancel,
            )
            .await
        }
    };
    let measurement = measured.map_err(|error| match error {
        BenchError::Database(error) => StepError::Database(error),
        BenchError::Invalid(message) => StepError::Bench(message),
        BenchError::Cancelled => StepError::Cancelled {
            output_tail: Vec::new(),
        },
    })?;
    record_samples(context, spec, database_type, &measurement);

    let entry = BaselineEntry::new(spec, database_type, &measurement);
    let step = context.step_id.as_str();
    let baseline = match (&spec.baseline, context.update_baseline) {
        (Some(path), false) => BaselineFile::read(path)
            .map_err(StepError::Bench)?
            .and_then(|mut file| file.take(step, database_type)),
        _ => None,
    };
    if let (Some(path), false, None) = (&spec.baseline, context.update_baseline, &baseline) {
        tracing::warn!(
            step = %context.step_id,
            "`{}` holds no baseline for step `{step}` on {database_type}: nothing to compare with; record one with `pipewright bench --update-baseline`",
            path.display()
        );
    }
    let metrics = compare(spec, &entry, baseline.as_ref()).map_err(|message| {
        StepError::Bench(format!(
            "{}: {message}",
            spec.baseline
                .as_ref()
                .map_or_else(String::new, |path| format!("`{}`", path.display()))
        ))
    })?;
    let baseline_updated = match (&spec.baseline, context.update_baseline) {
        (Some(path), true) => {
            record_baseline(path, step, entry.clone()).map_err(StepError::Bench)?;
            context.output_line(format!("baseline written to `{}`", path.display()));
            true
        }
        (None, true) => {
            tracing::warn!(
                step = %context.step_id,
                "step `{step}` has no `baseline` file: --update-baseline has nothing to write"
            );
            false
        }
        (_, false) => false,
    };
    let report = BenchReport {
        workload: spec.workload.name().to_owned(),
        connection: spec.connection.to_string(),
        database_type: database_type.to_owned(),
        warmup: spec.warmup,
        iterations: spec.iterations,
        rows: entry.rows,
        baseline: spec
            .baseline
            .as_ref()
            .map(|path| path.display().to_string()),
        baseline_updated,
        metrics,
        entry,
    };
    let output_tail: Vec<String> = report.metrics.iter().map(line).collect();
    for text in &output_tail {
        context.output_line(text.clone());
    }
    let regressions: Vec<String> = report.regressions().map(describe_regression).collect();
    let details = Some(serde_json::json!({ "bench": report }));
    if regressions.is_empty() {
        return Ok(StepOutput {
            rows: measurement.rows,
            output_tail,
            details,
        });
    }
    Err(StepError::Regression {
        regressions,
        details,
        output_tail,
    })
}

/// A row of `performance_metrics` per measured repetition.
fn record_samples(
    context: &StepContext,
    spec: &BenchSpec,
    database_type: &str,
    measurement: &Measurement,
) {
    let table = match &spec.workload {
        Workload::Insert(insert) => Some(insert.table.clone()),
        _ => None,
    };
    for sample in &measurement.samples {
        store_sink::send(StoreRecord::Metric(MetricRecord {
            timestamp: Utc::now(),
            operation: sample.operation.clone(),
            duration_ms: sample.duration.as_secs_f64() * 1000.0,
            rows_affected: sample.rows.and_then(|rows| i64::try_from(rows).ok()),
            database_type: Some(database_type.to_owned()),
            table_name: table.clone(),
            success: true,
            run_id: Some(context.run_id.to_string()),
            step_id: Some(context.step_id.to_string()),
        }));
    }
}

/// A value with its unit: milliseconds, or a rate.
pub fn format_metric(name: &str, value: f64) -> String {
    if name.ends_with("_per_sec") {
        format!("{value:.1}/s")
    } else {
        format!("{value:.3} ms")
    }
}

/// `query_p50_ms  1.234 ms  (baseline 1.100 ms, +12.2%, tolerance 20%: pass)`.
fn line(metric: &MetricReport) -> String {
    let now = format_metric(&metric.name, metric.now);
    match (metric.baseline, metric.change_percent) {
        (Some(baseline), Some(change)) => format!(
            "{:<32} {now:>14}  (baseline {}, {change:+.1}%{})",
            metric.name,
            format_metric(&metric.name, baseline),
            match (metric.verdict, metric.tolerance_percent) {
                (Verdict::Regressed | Verdict::Pass, Some(tolerance)) => {
                    format!(", tolerance {tolerance}%: {}", metric.verdict.name())
                }
                _ => String::new(),
            }
        ),
        _ => format!("{:<32} {now:>14}", metric.name),
    }
}

fn describe_regression(metric: &MetricReport) -> String {
    format!(
        "{} {} -> {} ({:+.1}%, tolerance {}%)",
        metric.name,
        format_metric(&metric.name, metric.baseline.unwrap_or_default()),
        format_metric(&metric.name, metric.now),
        metric.change_percent.unwrap_or_default(),
        metric.tolerance_percent.unwrap_or_default()
    )
}
