//! `Store`: pipewright's monitoring database — logs, metrics, checks, alerts, run history.

use std::path::Path;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::db::{Database, DbError, SqlValue};
use crate::pipeline::Driver;
use crate::store::store_schema::{SchemaError, upgrade};
use crate::store::{StoreRecord, StoreTarget};
use crate::values::LogLevel;

/// An open, up-to-date monitoring store.
#[derive(Debug, Clone)]
pub struct Store {
    database: Database,
    target: StoreTarget,
}

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the monitoring store {store}")]
    Open {
        store: String,
        #[source]
        source: DbError,
    },
    #[error("cannot prepare the monitoring store {store}")]
    Schema {
        store: String,
        #[source]
        source: SchemaError,
    },
    #[error("cannot read the monitoring store {store}")]
    Read {
        store: String,
        #[source]
        source: DbError,
    },
}

/// `logs` columns as fetched: timestamp, level, module, step, message, exception.
type LogTuple = (
    NaiveDateTime,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
);

/// How many recent runs `run --resume` looks through for a step the last one left out.
const RESUME_LOOKBACK: u32 = 20;

/// A row of `pipewright history`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRow {
    pub run_id: String,
    pub pipeline: String,
    pub status: String,
    /// UTC, as stored.
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<f64>,
    pub steps_succeeded: Option<i64>,
    pub steps_failed: Option<i64>,
    pub steps_skipped: Option<i64>,
}

/// A row of `pipewright logs`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogRow {
    /// UTC, as stored.
    pub timestamp: DateTime<Utc>,
    pub level: String,
    pub module: Option<String>,
    pub step_id: Option<String>,
    pub message: String,
    /// The error of a failure, as SEED.md's `exception` column.
    pub exception: Option<String>,
}

impl Store {
    /// Connects to the store and brings its schema up to date.
    pub async fn open(target: &StoreTarget) -> Result<Self, StoreError> {
        let database = Database::connect(&target.connection, 4)
            .await
            .map_err(|source| StoreError::Open {
                store: target.describe(),
                source,
            })?;
        upgrade(&database)
            .await
            .map_err(|source| StoreError::Schema {
                store: target.describe(),
                source,
            })?;
        Ok(Self {
            database,
            target: target.clone(),
        })
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    pub fn describe(&self) -> String {
        self.target.describe()
    }

    /// Writes records in one transaction: all of them or none.
    pub async fn write(&self, records: &[StoreRecord]) -> Result<(), DbError> {
        let statements: Vec<(&str, Vec<SqlValue>)> = records
            .iter()
            .map(|record| record.statement(self.database.driver()))
            .collect();
        self.database
            .execute_in_transaction(statements)
            .await
            .map(drop)
    }

    /// The most recent runs, newest first, optionally of one pipeline.
    pub async fn recent_runs(
        &self,
        limit: u32,
        pipeline: Option<&str>,
    ) -> Result<Vec<RunRow>, StoreError> {
        type Row = (
            String,
            String,
            String,
            NaiveDateTime,
            Option<NaiveDateTime>,
            Option<f64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
        );
        let mut sql = String::from(
            "SELECT run_id, pipeline, status, started_at, finished_at, duration_ms, CAST(steps_succeeded AS BIGINT), CAST(steps_failed AS BIGINT), CAST(steps_skipped AS BIGINT) FROM pipeline_runs",
        );
        let mut values = Vec::new();
        if let Some(pipeline) = pipeline {
            sql.push_str(" WHERE pipeline = ?");
            values.push(pipeline.into());
        }
        sql.push_str(" ORDER BY started_at DESC, run_id DESC LIMIT ?");
        values.push(i64::from(limit).into());
        let sql = self.portable_casts(&sql);
        let rows: Vec<Row> = self
            .database
            .fetch_all(&sql, values)
            .await
            .map_err(|source| self.read_error(source))?;
        Ok(rows
            .into_iter()
            .map(|row| RunRow {
                run_id: row.0,
                pipeline: row.1,
                status: row.2,
                started_at: row.3.and_utc(),
                finished_at: row.4.map(|at| at.and_utc()),
                duration_ms: row.5,
                steps_succeeded: row.6,
                steps_failed: row.7,
                steps_skipped: row.8,
            })
            .collect())
    }

    /// The last run of `pipeline` and how each of its steps ended, for `run --resume`; `None`
    /// if the pipeline never ran.
    pub async fn last_run(
        &self,
        pipeline: &str,
    ) -> Result<Option<crate::plan::PreviousRun>, StoreError> {
        // A step the last run left out (not selected) is judged by the run before: a few runs
        // back is enough for a `--select` or a `pipewright bench` in between.
        let runs = self.recent_runs(RESUME_LOOKBACK, Some(pipeline)).await?;
        if runs.is_empty() {
            return Ok(None);
        }
        let mut rows = Vec::new();
        for run in &runs {
            let steps: Vec<(String, String, Option<String>, Option<String>)> = self
                .database
                .fetch_all(
                    "SELECT step_id, status, fingerprint, skip_reason FROM step_runs WHERE run_id = ?",
                    vec![run.run_id.clone().into()],
                )
                .await
                .map_err(|source| self.read_error(source))?;
            rows.extend(steps.into_iter().map(|(step, status, fingerprint, skip)| {
                (run.run_id.clone(), step, status, fingerprint, skip)
            }));
        }
        Ok(Some(crate::plan::PreviousRun::from_rows(rows)))
    }

    /// The full id of the run whose id starts with `prefix`, if exactly one does.
    pub async fn find_run(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let pattern = format!("{}%", prefix.replace(['%', '_'], ""));
        let rows: Vec<(String,)> = self
            .database
            .fetch_all(
                "SELECT run_id FROM pipeline_runs WHERE run_id LIKE ? ORDER BY run_id LIMIT 5",
                vec![pattern.into()],
            )
            .await
            .map_err(|source| self.read_error(source))?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// The log records of a run at `level` or more severe, optionally of one step, in order.
    pub async fn run_logs(
        &self,
        run_id: &str,
        level: LogLevel,
        step: Option<&str>,
    ) -> Result<Vec<LogRow>, StoreError> {
        let levels: Vec<String> = LogLevel::ALL
            .iter()
            .filter(|candidate| **candidate != LogLevel::Off && **candidate <= level)
            .map(|candidate| candidate.name().to_ascii_uppercase())
            .collect();
        let placeholders = vec!["?"; levels.len()].join(", ");
        let mut sql = format!(
            "SELECT timestamp, level, module, step_id, message, exception FROM logs WHERE run_id = ? AND level IN ({placeholders})"
        );
        let mut values: Vec<SqlValue> = vec![run_id.into()];
        values.extend(levels.into_iter().map(SqlValue::from));
        if let Some(step) = step {
            sql.push_str(" AND step_id = ?");
            values.push(step.into());
        }
        sql.push_str(" ORDER BY timestamp, id");
        let rows: Vec<LogTuple> = self
            .database
            .fetch_all(&sql, values)
            .await
            .map_err(|source| self.read_error(source))?;
        Ok(rows
            .into_iter()
            .map(
                |(timestamp, level, module, step_id, message, exception)| LogRow {
                    timestamp: timestamp.and_utc(),
                    level,
                    module,
                    step_id,
                    message,
                    exception,
                },
            )
            .collect())
    }

    /// Writes the records of every spill file of this store in `directory`, one file per
    /// transaction, and deletes each file once its records are stored. Files a running
    /// pipewright still writes are left alone. A runs or step row already stored (a file
    /// replayed twice) is skipped, not an error. A file the store refuses is renamed
    /// `.rejected` and reported; if the store fails, the rest waits for the next run.
    /// Returns how many rows the replayed records stored (rows already there not counted).
    pub async fn replay_spills(&self, directory: &Path) -> usize {
        let mut replayed = 0;
        for path in crate::store::spill::spill_files(directory, &self.target.key()) {
            let Some(_claim) = crate::store::spill::claim(&path) else {
                continue;
            };
            let records = crate::store::spill::read_spill(&path);
            if records.is_empty() {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            match self.write_replayed(&records).await {
                Ok(stored) => {
                    replayed += stored;
                    if let Err(error) = std::fs::remove_file(&path) {
                        tracing::warn!(target: "pipewright::store", "replayed `{}` but cannot delete it: {error}", path.display());
                    }
                }
                Err(error) if error.is_transient() => {
                    tracing::warn!(target: "pipewright::store", "cannot replay `{}` into {} now; the next run tries again: {}", path.display(), self.describe(), crate::error_chain::error_chain(&error));
                    break;
                }
                Err(error) => {
                    let rejected = path.with_extension("rejected");
                    let _ = std::fs::rename(&path, &rejected);
                    tracing::error!(
                        "{} refused the records kept in `{}`; they are in `{}` for a person to look at: {}",
                        self.describe(),
                        path.display(),
                        rejected.display(),
                        crate::error_chain::error_chain(&error)
                    );
                }
            }
        }
        replayed
    }

    /// Writes replayed records in one transaction; keyed rows already there are skipped.
    /// Returns the rows stored.
    async fn write_replayed(&self, records: &[StoreRecord]) -> Result<usize, DbError> {
        let driver = self.database.driver();
        let statements: Vec<(String, Vec<SqlValue>)> = records
            .iter()
            .map(|record| {
                let (sql, values) = record.statement(driver);
                let sql = if record.is_keyed() {
                    match driver {
                        Driver::Sqlite => sql.replacen("INSERT INTO", "INSERT OR IGNORE INTO", 1),
                        Driver::MySql => sql.replacen("INSERT INTO", "INSERT IGNORE INTO", 1),
                        Driver::Postgres => format!("{sql} ON CONFLICT DO NOTHING"),
                    }
                } else {
                    sql.to_owned()
                };
                (sql, values)
            })
            .collect();
        self.database
            .execute_in_transaction(
                statements
                    .iter()
                    .map(|(sql, values)| (sql.as_str(), values.clone()))
                    .collect(),
            )
            .await
            .map(|rows| usize::try_from(rows).unwrap_or(usize::MAX))
    }

    /// Opens a store for reading: nothing is created or upgraded. `None` when the store has
    /// no run history (an empty database, or an embedded file that does not exist).
    pub async fn open_for_reading(target: &StoreTarget) -> Result<Option<Self>, StoreError> {
        let url = target.connection.url.expose();
        if target.connection.driver == Driver::Sqlite {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or(path);
            if !path.starts_with(':') && !Path::new(path).exists() {
                return Ok(None);
            }
        }
        let database = Database::connect_read_only(&target.connection, 2)
            .await
            .map_err(|source| StoreError::Open {
                store: target.describe(),
                source,
            })?;
        let store = Self {
            database,
            target: target.clone(),
        };
        let mut connection = store
            .database
            .acquire()
            .await
            .map_err(|source| store.read_error(source))?;
        let has_history =
            crate::migrate::HistoryTable::new("pipeline_runs", store.database.driver())
                .exists(&mut connection)
                .await
                .map_err(|source| store.read_error(source))?;
        drop(connection);
        Ok(has_history.then_some(store))
    }

    fn read_error(&self, source: DbError) -> StoreError {
        StoreError::Read {
            store: self.describe(),
            source,
        }
    }

    /// `CAST(x AS BIGINT)` is `CAST(x AS SIGNED)` on MySQL.
    fn portable_casts(&self, sql: &str) -> String {
        if self.database.driver() == crate::pipeline::Driver::MySql {
            sql.replace(" AS BIGINT)", " AS SIGNED)")
        } else {
            sql.to_owned()
        }
    }
}
