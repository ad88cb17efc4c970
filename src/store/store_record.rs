//! What pipewright writes to its monitoring store, as data: the same records go to the
//! database, or to a spill file when the database cannot take them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::SqlValue;

/// One row (or row update) for the monitoring store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum StoreRecord {
    Log(LogRecord),
    RunStarted {
        run_id: String,
        pipeline: String,
        manifest: String,
        started_at: DateTime<Utc>,
        steps_total: i64,
    },
    StepFinished {
        run_id: String,
        step_id: String,
        kind: String,
        status: String,
        attempts: i64,
        started_at: Option<DateTime<Utc>>,
        finished_at: Option<DateTime<Utc>>,
        duration_ms: f64,
        rows_affected: Option<i64>,
        error: Option<String>,
        skip_reason: Option<String>,
        fingerprint: String,
    },
    Metric(MetricRecord),
    Check(CheckRecord),
    /// A failure raised as an alert, unless an alert of the same key is still unresolved.
    Alert(AlertRecord),
    /// The condition of an alert is over: its unresolved alerts are resolved.
    ResolveAlert {
        alert_key: String,
    },
    RunFinished {
        run_id: String,
        status: String,
        finished_at: DateTime<Utc>,
        duration_ms: f64,
        succeeded: i64,
        failed: i64,
        cancelled: i64,
        skipped: i64,
    },
}

/// A row of `logs` (SEED.md's columns, plus the run and step).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    pub timestamp: DateTime<Utc>,
    pub level: String,
    pub module: Option<String>,
    pub function: Option<String>,
    pub message: String,
    pub exception: Option<String>,
    pub metadata: serde_json::Value,
    pub run_id: Option<String>,
    pub step_id: Option<String>,
}

/// A row of `performance_metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRecord {
    pub timestamp: DateTime<Utc>,
    pub operation: String,
    pub duration_ms: f64,
    pub rows_affected: Option<i64>,
    pub database_type: Option<String>,
    pub table_name: Option<String>,
    pub success: bool,
    pub run_id: Option<String>,
    pub step_id: Option<String>,
}

/// A row of `data_quality_checks`: one check's outcome (a transform's verification, a
/// validation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRecord {
    pub timestamp: DateTime<Utc>,
    pub check_type: String,
    pub table_name: Option<String>,
    /// `passed`, `failed` or `warned`.
    pub status: String,
    pub expected_value: Option<f64>,
    pub actual_value: Option<f64>,
    pub threshold: Option<f64>,
    /// What was compared and what differed, for people.
    pub details: Option<String>,
    pub run_id: Option<String>,
    pub step_id: Option<String>,
}

/// A row of `alerts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub timestamp: DateTime<Utc>,
    /// What raised it: the same check of the same step keeps one key.
    pub alert_key: String,
    pub alert_type: String,
    pub severity: String,
    pub source: String,
    pub message: String,
    pub run_id: Option<String>,
    pub step_id: Option<String>,
}

/// Cuts `text` to `limit` characters so that a long value never fails an insert into a
/// `VARCHAR(limit)` column (MySQL in strict mode refuses it).
fn fit(text: Option<&str>, limit: usize) -> SqlValue {
    SqlValue::Text(text.map(|text| text.chars().take(limit).collect()))
}

impl StoreRecord {
    /// Whether the record inserts a row with a key (a run, a step of a run): replaying it
    /// twice must not fail.
    pub fn is_keyed(&self) -> bool {
        matches!(self, Self::RunStarted { .. } | Self::StepFinished { .. })
    }

    /// The statement (with `?` placeholders) and values that store the record in a
    /// `driver` database.
    pub fn statement(&self, driver: crate::pipeline::Driver) -> (&'static str, Vec<SqlValue>) {
        match self {
            Self::Alert(alert) => (
                // One unresolved alert per key: a check that keeps failing does not raise one
                // per run. MySQL needs `FROM DUAL` to filter a row of constants.
                if driver == crate::pipeline::Driver::MySql {
                    "INSERT INTO alerts (timestamp, alert_type, severity, source, message, resolved, run_id, step_id, alert_key) SELECT ?, ?, ?, ?, ?, FALSE, ?, ?, ? FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM alerts WHERE alert_key = ? AND resolved = FALSE)"
                } else {
                    "INSERT INTO alerts (timestamp, alert_type, severity, source, message, resolved, run_id, step_id, alert_key) SELECT ?, ?, ?, ?, ?, FALSE, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM alerts WHERE alert_key = ? AND resolved = FALSE)"
                },
                vec![
                    alert.timestamp.naive_utc().into(),
                    fit(Some(&alert.alert_type), 50),
                    fit(Some(&alert.severity), 20),
                    fit(Some(&alert.source), 100),
                    alert.message.clone().into(),
                    fit(alert.run_id.as_deref(), 36),
                    fit(alert.step_id.as_deref(), 255),
                    fit(Some(&alert.alert_key), 64),
                    fit(Some(&alert.alert_key), 64),
                ],
            ),
            Self::ResolveAlert { alert_key } => (
                "UPDATE alerts SET resolved = TRUE WHERE alert_key = ? AND resolved = FALSE",
                vec![fit(Some(alert_key), 64)],
            ),
            Self::Log(log) => (
                "INSERT INTO logs (timestamp, level, module, function, message, exception, metadata, run_id, step_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    log.timestamp.naive_utc().into(),
                    fit(Some(&log.level), 10),
                    fit(log.module.as_deref(), 100),
                    fit(log.function.as_deref(), 100),
                    log.message.clone().into(),
                    log.exception.clone().into(),
                    log.metadata.clone().into(),
                    fit(log.run_id.as_deref(), 36),
                    fit(log.step_id.as_deref(), 255),
                ],
            ),
            Self::RunStarted {
                run_id,
                pipeline,
                manifest,
                started_at,
                steps_total,
            } => (
                "INSERT INTO pipeline_runs (run_id, pipeline, manifest, status, started_at, steps_total) VALUES (?, ?, ?, 'running', ?, ?)",
                vec![
                    run_id.clone().into(),
                    fit(Some(pipeline), 255),
                    manifest.clone().into(),
                    started_at.naive_utc().into(),
                    (*steps_total).into(),
                ],
            ),
            Self::StepFinished {
                run_id,
                step_id,
                kind,
                status,
                attempts,
                started_at,
                finished_at,
                duration_ms,
                rows_affected,
                error,
                skip_reason,
                fingerprint,
            } => (
                "INSERT INTO step_runs (run_id, step_id, kind, status, attempts, started_at, finished_at, duration_ms, rows_affected, error, skip_reason, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    run_id.clone().into(),
                    fit(Some(step_id), 255),
                    kind.clone().into(),
                    status.clone().into(),
                    (*attempts).into(),
                    started_at.map(|at| at.naive_utc()).into(),
                    finished_at.map(|at| at.naive_utc()).into(),
                    (*duration_ms).into(),
                    (*rows_affected).into(),
                    error.clone().into(),
                    skip_reason.clone().into(),
                    fingerprint.clone().into(),
                ],
            ),
            Self::Metric(metric) => (
                "INSERT INTO performance_metrics (timestamp, operation, duration_ms, rows_affected, database_type, table_name, success, run_id, step_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    metric.timestamp.naive_utc().into(),
                    fit(Some(&metric.operation), 100),
                    metric.duration_ms.into(),
                    metric.rows_affected.into(),
                    fit(metric.database_type.as_deref(), 20),
                    fit(metric.table_name.as_deref(), 100),
                    metric.success.into(),
                    fit(metric.run_id.as_deref(), 36),
                    fit(metric.step_id.as_deref(), 255),
                ],
            ),
            Self::Check(check) => (
                "INSERT INTO data_quality_checks (timestamp, check_type, table_name, status, expected_value, actual_value, threshold, details, run_id, step_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    check.timestamp.naive_utc().into(),
                    fit(Some(&check.check_type), 50),
                    fit(check.table_name.as_deref(), 100),
                    fit(Some(&check.status), 20),
                    check.expected_value.into(),
                    check.actual_value.into(),
                    check.threshold.into(),
                    check.details.clone().into(),
                    fit(check.run_id.as_deref(), 36),
                    fit(check.step_id.as_deref(), 255),
                ],
            ),
            Self::RunFinished {
                run_id,
                status,
                finished_at,
                duration_ms,
                succeeded,
                failed,
                cancelled,
                skipped,
            } => (
                "UPDATE pipeline_runs SET status = ?, finished_at = ?, duration_ms = ?, steps_succeeded = ?, steps_failed = ?, steps_cancelled = ?, steps_skipped = ? WHERE run_id = ?",
                vec![
                    status.clone().into(),
                    finished_at.naive_utc().into(),
                    (*duration_ms).into(),
                    (*succeeded).into(),
                    (*failed).into(),
                    (*cancelled).into(),
                    (*skipped).into(),
                    run_id.clone().into(),
                ],
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_spill_json_and_fit_their_columns() {
        let record = StoreRecord::Log(LogRecord {
            timestamp: Utc::now(),
            level: "WARN".into(),
            module: Some("m".repeat(300)),
            function: None,
            message: "disk is slow".into(),
            exception: None,
            metadata: serde_json::json!({ "line": 3 }),
            run_id: Some("r".into()),
            step_id: None,
        });
        let line = serde_json::to_string(&record).unwrap();
        assert!(line.starts_with("{\"record\":\"log\""));
        assert_eq!(serde_json::from_str::<StoreRecord>(&line).unwrap(), record);
        let (sql, values) = record.statement(crate::pipeline::Driver::Sqlite);
        assert_eq!(sql.matches('?').count(), values.len());
        assert_eq!(values[2], SqlValue::Text(Some("m".repeat(100))));
    }
}
