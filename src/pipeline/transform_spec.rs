//! A validated `transform` step: where rows come from, where they go, how columns change,
//! and what happens to a value the target cannot hold.

use std::fmt;

use indexmap::IndexMap;
use serde::Serialize;

use crate::pipeline::ConnectionName;

/// A `transform` step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransformSpec {
    pub from: SourceSpec,
    pub to: TargetSpec,
    /// Rows per batch: the unit of reading, writing, committing (append, upsert) and
    /// progress.
    pub batch_size: u64,
    /// Key ranges copied at once (create, replace, truncate).
    pub parallel: u32,
    /// Compare counts and checksums of what was written with what the target holds.
    pub verify: bool,
    /// Backups of a replaced or truncated table kept per table; 0 makes none.
    pub keep_backups: u32,
    /// What a lossy value does, unless its column says otherwise.
    pub on_lossy: LossyPolicy,
    /// Per-column rules, by source column name (`column`) or `table.column`.
    pub columns: IndexMap<String, ColumnRule>,
}

/// What a transform reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceSpec {
    pub connection: ConnectionName,
    pub tables: SourceTables,
    /// Columns that order the rows for checkpoints and key ranges; the primary key when
    /// empty.
    pub key: Vec<String>,
}

/// One table, one query, a list of tables or the tables matching patterns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceTables {
    Table(String),
    Query(String),
    List(Vec<String>),
    Matching {
        schema: Option<String>,
        include: Vec<String>,
        exclude: Vec<String>,
    },
}

impl SourceTables {
    /// Whether the step copies one relation (a table or a query) rather than several.
    pub fn is_single(&self) -> bool {
        matches!(self, Self::Table(_) | Self::Query(_))
    }
}

/// Where a transform writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetSpec {
    pub connection: ConnectionName,
    /// The target table of a single source; `None` keeps each source table's name.
    pub table: Option<String>,
    /// The schema (PostgreSQL) or database (MySQL) the tables are written to, when several.
    pub schema: Option<String>,
    pub mode: TransformMode,
    /// The upsert key.
    pub key: Vec<String>,
}

/// How the rows meet what the target already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransformMode {
    /// A new table; fails if it exists.
    Create,
    /// A new table swapped in for the old one, which becomes a backup.
    Replace,
    /// Rows added to the table, batch by batch, resumable.
    Append,
    /// Rows inserted or updated on a key, batch by batch, resumable.
    Upsert,
    /// The table kept (grants, views, foreign keys), its rows replaced in one transaction.
    Truncate,
}

impl TransformMode {
    pub const NAMES: [&'static str; 5] = ["create", "replace", "append", "upsert", "truncate"];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "create" => Self::Create,
            "replace" => Self::Replace,
            "append" => Self::Append,
            "upsert" => Self::Upsert,
            "truncate" => Self::Truncate,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Replace => "replace",
            Self::Append => "append",
            Self::Upsert => "upsert",
            Self::Truncate => "truncate",
        }
    }

    /// Whether rows go through a staging table swapped in at the end (all or nothing), as
    /// opposed to batches committed one by one with a checkpoint.
    pub fn uses_staging(self) -> bool {
        matches!(self, Self::Create | Self::Replace | Self::Truncate)
    }
}

impl fmt::Display for TransformMode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// What becomes of a value the target column cannot hold as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LossyPolicy {
    /// Fail the step, naming table, column, key and value.
    #[default]
    Error,
    /// Write NULL instead.
    Null,
    /// Write the nearest value the column holds.
    Clamp,
}

impl LossyPolicy {
    pub const NAMES: [&'static str; 3] = ["error", "null", "clamp"];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "error" => Self::Error,
            "null" => Self::Null,
            "clamp" => Self::Clamp,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Null => "null",
            Self::Clamp => "clamp",
        }
    }
}

/// What a transform does with one column.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ColumnRule {
    /// The target column's name.
    pub rename: Option<String>,
    /// Not copied.
    pub drop: bool,
    /// The target column's type, in the target's SQL; values are converted to it.
    #[serde(rename = "type")]
    pub target_type: Option<String>,
    /// SQL evaluated on the source, in its dialect, for each row.
    pub expression: Option<String>,
    /// The same value in every row.
    pub value: Option<serde_json::Value>,
    /// The value written where the source has NULL.
    pub default: Option<serde_json::Value>,
    pub on_lossy: Option<LossyPolicy>,
}

impl ColumnRule {
    /// Whether the rule makes a column the source does not have.
    pub fn is_computed(&self) -> bool {
        self.expression.is_some() || self.value.is_some()
    }
}

impl TransformSpec {
    /// One line for plans and reports: `copy legacy.daily_bars to warehouse.daily_bars
    /// (replace)`.
    pub fn summary(&self) -> String {
        let source = match &self.from.tables {
            SourceTables::Table(table) => format!("`{}`.{table}", self.from.connection),
            SourceTables::Query(_) => format!("a query on `{}`", self.from.connection),
            SourceTables::List(tables) => {
                format!("{} tables of `{}`", tables.len(), self.from.connection)
            }
            SourceTables::Matching { include, .. } => format!(
                "tables matching {} on `{}`",
                include.join(", "),
                self.from.connection
            ),
        };
        let target = match &self.to.table {
            Some(table) => format!("`{}`.{table}", self.to.connection),
            None => format!("`{}`", self.to.connection),
        };
        format!("copy {source} to {target} ({})", self.to.mode)
    }
}
