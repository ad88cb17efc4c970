//! A validated `validate` step: the table (or query) checked, and each check with its
//! severity and thresholds.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::pipeline::ConnectionName;

/// A `validate` step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidateSpec {
    pub connection: ConnectionName,
    pub table: Option<String>,
    pub query: Option<String>,
    pub checks: Vec<CheckSpec>,
}

impl ValidateSpec {
    /// What is checked, for messages: the table, or `query`.
    pub fn subject(&self) -> &str {
        self.table.as_deref().unwrap_or("query")
    }
}

/// What a failing check does to the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The step fails and the steps after it do not run.
    #[default]
    Error,
    /// The failure is recorded (and alerted); the step and the run go on.
    Warn,
}

impl Severity {
    pub const NAMES: [&'static str; 2] = ["error", "warn"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "error" => Some(Self::Error),
            "warn" => Some(Self::Warn),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// One check of a `validate` step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckSpec {
    /// A name for reports and alerts: the manifest's `name`, or one made from the kind and
    /// its columns (`not_null(symbol, trade_date)`).
    pub name: String,
    pub kind: CheckKind,
    pub severity: Severity,
    /// Failing rows allowed (default 0).
    pub max_failing_rows: u64,
    /// Failing rows allowed, as a share of the rows checked.
    pub max_failing_ratio: Option<f64>,
    /// Failing rows kept as samples in the run report (default 5).
    pub samples: u64,
    /// Where the check is written in the manifest, for CI annotations.
    #[serde(skip)]
    pub span: crate::manifest::Span,
}

/// Another table (or query) on any connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherTable {
    pub connection: ConnectionName,
    pub table: Option<String>,
    pub query: Option<String>,
}

impl OtherTable {
    /// The table, or `query`, for messages.
    pub fn subject(&self) -> &str {
        self.table.as_deref().unwrap_or("query")
    }
}

/// A bound of a `range` or of a number a check measures: a number, or a text the column is
/// compared with (a date).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Bound {
    Number(f64),
    Text(String),
}

impl fmt::Display for Bound {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(number) => write!(formatter, "{number}"),
            Self::Text(text) => write!(formatter, "{text}"),
        }
    }
}

/// The column a `schema` check expects, with its kind of type when given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectedColumn {
    pub name: String,
    /// `integer`, `decimal`, `float`, `text`, `boolean`, `date`, `time`, `timestamp`,
    /// `binary`, `json` or `uuid`.
    #[serde(rename = "type")]
    pub family: Option<String>,
}

impl ExpectedColumn {
    /// The type kinds a `schema` check knows.
    pub const FAMILIES: [&'static str; 11] = [
        "integer",
        "decimal",
        "float",
        "text",
        "boolean",
        "date",
        "time",
        "timestamp",
        "binary",
        "json",
        "uuid",
    ];
}

/// The kinds of check, with what each needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckKind {
    RowCount {
        equals: Option<u64>,
        min: Option<u64>,
        max: Option<u64>,
        same_as: Option<OtherTable>,
        /// Rows the two counts may differ by, with `same_as`.
        tolerance: u64,
    },
    NotNull {
        columns: Vec<String>,
    },
    Unique {
        columns: Vec<String>,
    },
    AcceptedValues {
        column: String,
        values: Vec<Bound>,
    },
    Range {
        column: String,
        min: Option<Bound>,
        max: Option<Bound>,
        /// Whether the bounds themselves are allowed (default `true`).
        inclusive: bool,
    },
    Regex {
        column: String,
        pattern: String,
    },
    Freshness {
        column: String,
        #[serde(serialize_with = "crate::run::serialize_millis")]
        max_age: Duration,
    },
    Relationship {
        column: String,
        /// The table (on the same connection) whose column holds every allowed value.
        to_table: String,
        to_column: String,
    },
    Sql {
        sql: String,
        /// The single number the query returns must be in these bounds; without, every row
        /// the query returns is a failing row.
        expect_min: Option<f64>,
        expect_max: Option<f64>,
    },
    Extension {
        name: String,
        min_version: Option<String>,
    },
    Schema {
        columns: Vec<ExpectedColumn>,
    },
    Reconcile {
        with: OtherTable,
        key: Vec<String>,
        /// The columns compared (default: every column of the checked table).
        columns: Vec<String>,
    },
}

impl CheckKind {
    pub const NAMES: [&'static str; 12] = [
        "row_count",
        "not_null",
        "unique",
        "accepted_values",
        "range",
        "regex",
        "freshness",
        "relationship",
        "sql",
        "extension",
        "schema",
        "reconcile",
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Self::RowCount { .. } => "row_count",
            Self::NotNull { .. } => "not_null",
            Self::Unique { .. } => "unique",
            Self::AcceptedValues { .. } => "accepted_values",
            Self::Range { .. } => "range",
            Self::Regex { .. } => "regex",
            Self::Freshness { .. } => "freshness",
            Self::Relationship { .. } => "relationship",
            Self::Sql { .. } => "sql",
            Self::Extension { .. } => "extension",
            Self::Schema { .. } => "schema",
            Self::Reconcile { .. } => "reconcile",
        }
    }

    /// The default name of a check: its kind and what it applies to.
    pub fn default_name(&self) -> String {
        let kind = self.name();
        match self {
            Self::NotNull { columns } | Self::Unique { columns } => {
                format!("{kind}({})", columns.join(", "))
            }
            Self::AcceptedValues { column, .. }
            | Self::Range { column, .. }
            | Self::Regex { column, .. }
            | Self::Freshness { column, .. }
            | Self::Relationship { column, .. } => format!("{kind}({column})"),
            Self::Extension { name, .. } => format!("{kind}({name})"),
            Self::RowCount {
                same_as: Some(other),
                ..
            } => format!("{kind}(same as {}.{})", other.connection, other.subject()),
            Self::Reconcile { with, .. } => {
                format!("{kind}(with {}.{})", with.connection, with.subject())
            }
            _ => kind.to_owned(),
        }
    }
}
