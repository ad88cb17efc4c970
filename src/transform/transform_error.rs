//! Why a transform failed, with what to do about it.

use crate::data::ReadError;
use crate::db::DbError;

/// A failed transform. Every variant leaves the target as it was, except where it says
/// otherwise (batches of `append` and `upsert` committed before the failure stay, with their
/// checkpoint).
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error(transparent)]
    Database(#[from] DbError),

    #[error("reading `{table}`")]
    Read {
        table: String,
        #[source]
        source: Box<ReadError>,
    },

    #[error("reading back `{table}` to verify it")]
    ReadBack {
        table: String,
        #[source]
        source: Box<ReadError>,
    },

    #[error("table `{table}` does not exist on `{connection}`")]
    NoSuchTable {
        connection: String,
        table: String,
        /// A table of a similar name, if there is one.
        similar: Option<String>,
    },

    #[error("no table of `{connection}` matches {patterns}")]
    NoTables {
        connection: String,
        patterns: String,
    },

    #[error("another run is copying into `{table}` on `{connection}`")]
    TargetBusy { connection: String, table: String },

    #[error("`{table}` would be copied onto itself")]
    OntoItself { table: String },

    #[error(
        "the target table name `{table}` is longer than {engine} takes ({length}, at most {limit}): the engine would cut it, and two names could become one table"
    )]
    NameTooLong {
        table: String,
        length: usize,
        engine: &'static str,
        limit: usize,
    },

    #[error("the column rule `{rule}` names no column of {tables}")]
    UnknownColumnRule {
        rule: String,
        tables: String,
        /// A column of a similar name, if there is one.
        similar: Option<String>,
    },

    #[error("key column `{column}` is not a column of `{table}`")]
    UnknownKeyColumn { table: String, column: String },

    #[error("`{table}` already exists on `{connection}`, and mode `create` never overwrites")]
    TargetExists { connection: String, table: String },

    #[error("`{table}` on `{connection}` has no column {columns}")]
    MissingTargetColumns {
        connection: String,
        table: String,
        columns: String,
    },

    #[error("`{table}` on `{connection}` has no primary key or unique index on ({key})")]
    NoUpsertKey {
        connection: String,
        table: String,
        key: String,
    },

    #[error("{table}.{column} at {key}: {reason}")]
    Lossy {
        table: String,
        column: String,
        /// `id = 42`, or `row 1034` without a key.
        key: String,
        reason: String,
        /// The policy that made it an error.
        policy: &'static str,
    },

    #[error(
        "verification of `{table}` failed: {expected_rows} rows written with checksum {expected_checksum}, the target holds {actual_rows} with checksum {actual_checksum}"
    )]
    Mismatch {
        table: String,
        expected_rows: u64,
        actual_rows: u64,
        expected_checksum: String,
        actual_checksum: String,
    },

    #[error(
        "an interrupted copy into `{table}` left a checkpoint after key {key} ({rows} rows copied)"
    )]
    CheckpointExists {
        table: String,
        key: String,
        rows: u64,
    },

    #[error(
        "the checkpoint of `{table}` was made by a different definition of this step, which cannot be resumed"
    )]
    CheckpointChanged { table: String },

    #[error(
        "a row of `{table}` has NULL in its key ({key}), which a resume after a checkpoint would skip"
    )]
    NullKey { table: String, key: String },

    #[error("`parallel` needs an integer key to split into ranges; `{table}` is ordered by {key}")]
    NoRangeKey { table: String, key: String },

    #[error("cancelled")]
    Cancelled,

    #[error("pipewright failed while copying: {0}")]
    Internal(String),
}

impl TransformError {
    /// What to do about it, when there is something to say.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            Self::NoSuchTable {
                similar: Some(similar),
                ..
            } => format!("did you mean `{similar}`?"),
            Self::NoSuchTable { .. } => {
                "check the name, and the schema or database the connection points at".to_owned()
            }
            Self::NoTables { .. } => {
                "`include = [\"*\"]` lists every table; patterns match whole names".to_owned()
            }
            Self::UnknownColumnRule {
                similar: Some(similar),
                ..
            } => format!("did you mean `{similar}`? A new column needs `expression` or `value`"),
            Self::UnknownColumnRule { .. } => {
                "a rule names a source column; a new column needs `expression` or `value`"
                    .to_owned()
            }
            Self::TargetBusy { .. } => {
                "one copy writes a table at a time; run again when the other is done (it holds a lock of the server's until its session ends)".to_owned()
            }
            Self::NameTooLong { .. } => {
                "name a shorter target table with `to.table` (one table) or a prefix-free pattern".to_owned()
            }
            Self::OntoItself { .. } => {
                "name another target table (`to.table`), another schema (`to.schema`) or another connection".to_owned()
            }
            Self::UnknownKeyColumn { .. } => {
                "`from.key` lists source columns that order the rows".to_owned()
            }
            Self::TargetExists { .. } => {
                "use `mode = \"replace\"` to swap in a new copy (the old table is kept as a backup), or `truncate` to keep the table and replace its rows".to_owned()
            }
            Self::MissingTargetColumns { .. } => {
                "add the columns to the target, drop them with `columns.<name> = { drop = true }`, or rename them with `rename`".to_owned()
            }
            Self::NoUpsertKey { .. } => {
                "an upsert matches rows on a primary key or unique index of exactly the `key` columns".to_owned()
            }
            Self::Lossy { policy: "error", .. } => "the column's `on_lossy` is `error`; set `on_lossy = \"null\"` or `\"clamp\"` on the step or the column (`columns.<name>.on_lossy`) to allow it, or give the column a `type` that holds the value".to_owned(),
            Self::Lossy { .. } => "set `on_lossy = \"null\"` (on a column that allows NULL) or `\"clamp\"` (where a nearest value exists) on the column, or give it a `type` that holds the value".to_owned(),
            Self::Mismatch { .. } => {
                "the target was left as it was (or, for append and upsert, the batch was rolled back); the difference is recorded in `data_quality_checks`".to_owned()
            }
            Self::CheckpointExists { .. } => {
                "run with `--resume` to continue after that key without copying any row twice, or delete the rows copied so far and the checkpoint row in `pipewright_transform_checkpoints` to start over".to_owned()
            }
            Self::CheckpointChanged { .. } => {
                "undo the change to the step to resume, or delete the checkpoint row in `pipewright_transform_checkpoints` (and the rows copied so far) to start over".to_owned()
            }
            Self::NullKey { .. } => {
                "name key columns that are never NULL in `from.key` (batches are committed and resumed in key order)".to_owned()
            }
            Self::NoRangeKey { .. } => {
                "remove `parallel`, or set `from.key` to an integer column".to_owned()
            }
            _ => return None,
        })
    }

    /// Whether trying again may help: a lost connection, a deadlock, another run's copy.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::TargetBusy { .. } => true,
            Self::Database(error) => error.is_transient(),
            Self::Read { source, .. } | Self::ReadBack { source, .. } => match source.as_ref() {
                ReadError::Database(error) => error.is_transient(),
                _ => false,
            },
            _ => false,
        }
    }
}
