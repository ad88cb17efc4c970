//! Checkpoints of `append` and `upsert` copies: the last key copied, kept in the target
//! database and written in the same transaction as the batch it follows, so that a batch and
//! its checkpoint are committed together or not at all. `--resume` reads it back and goes on
//! after that key.

use chrono::Utc;

use crate::db::{DbConnection, DbError, SqlValue};
use crate::pipeline::Driver;

/// The table of checkpoints, in the target's default schema.
pub const CHECKPOINT_TABLE: &str = "pipewright_transform_checkpoints";

/// Where an interrupted copy stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// The canonical text of each key column of the last row copied.
    pub last_key: Vec<String>,
    pub rows: u64,
    /// The definition of the step that made it (a digest).
    pub fingerprint: String,
    /// The run that made it: a retry in the same run resumes without `--resume`.
    pub run_id: String,
}

/// What a checkpoint belongs to.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointScope {
    pub pipeline: String,
    pub step: String,
    pub target: String,
}

impl CheckpointScope {
    fn values(&self) -> Vec<SqlValue> {
        vec![
            self.pipeline.clone().into(),
            self.step.clone().into(),
            self.target.clone().into(),
        ]
    }
}

/// Creates the checkpoint table if it does not exist.
pub(crate) async fn ensure_table(connection: &mut DbConnection) -> Result<(), DbError> {
    let timestamp = if connection.driver() == Driver::MySql {
        "DATETIME(6)"
    } else {
        "TIMESTAMP"
    };
    connection
        .execute(
            &format!(
                "CREATE TABLE IF NOT EXISTS {CHECKPOINT_TABLE} (pipeline VARCHAR(255) NOT NULL, step VARCHAR(255) NOT NULL, target_table VARCHAR(255) NOT NULL, last_key TEXT NOT NULL, rows_copied BIGINT NOT NULL, fingerprint VARCHAR(64) NOT NULL, run_id VARCHAR(36) NOT NULL, updated_at {timestamp} NOT NULL, PRIMARY KEY (pipeline, step, target_table))"
            ),
            Vec::new(),
        )
        .await
        .map(|_| ())
}

/// The checkpoint of `scope`, if an interrupted copy left one.
pub(crate) async fn read(
    connection: &mut DbConnection,
    scope: &CheckpointScope,
) -> Result<Option<Checkpoint>, DbError> {
    let rows: Vec<(String, i64, String, String)> = connection
        .fetch_all(
            &format!(
                "SELECT last_key, rows_copied, fingerprint, run_id FROM {CHECKPOINT_TABLE} WHERE pipeline = ? AND step = ? AND target_table = ?"
            ),
            scope.values(),
        )
        .await?;
    Ok(rows
        .into_iter()
        .next()
        .map(|(key, rows, fingerprint, run_id)| Checkpoint {
            last_key: serde_json::from_str(&key).unwrap_or_default(),
            rows: u64::try_from(rows).unwrap_or(0),
            fingerprint,
            run_id,
        }))
}

/// Records `checkpoint` for `scope`, inside the caller's transaction.
pub(crate) async fn write(
    connection: &mut DbConnection,
    scope: &CheckpointScope,
    checkpoint: &Checkpoint,
) -> Result<(), DbError> {
    clear(connection, scope).await?;
    let mut values = scope.values();
    values.extend([
        serde_json::to_string(&checkpoint.last_key)
            .unwrap_or_default()
            .into(),
        i64::try_from(checkpoint.rows).unwrap_or(i64::MAX).into(),
        checkpoint.fingerprint.clone().into(),
        checkpoint.run_id.clone().into(),
        Utc::now().naive_utc().into(),
    ]);
    connection
        .execute(
            &format!(
                "INSERT INTO {CHECKPOINT_TABLE} (pipeline, step, target_table, last_key, rows_copied, fingerprint, run_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            values,
        )
        .await
        .map(|_| ())
}

/// Removes the checkpoint of `scope`: the copy is complete.
pub(crate) async fn clear(
    connection: &mut DbConnection,
    scope: &CheckpointScope,
) -> Result<(), DbError> {
    connection
        .execute(
            &format!(
                "DELETE FROM {CHECKPOINT_TABLE} WHERE pipeline = ? AND step = ? AND target_table = ?"
            ),
            scope.values(),
        )
        .await
        .map(|_| ())
}
