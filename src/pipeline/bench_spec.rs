//! A `bench` step: what it measures, how often, and what it is compared with.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::pipeline::ConnectionName;

/// A `bench` step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchSpec {
    pub connection: ConnectionName,
    pub workload: Workload,
    /// Unmeasured repetitions before the measured ones.
    pub warmup: u32,
    /// Measured repetitions: their median is what the baseline compares.
    pub iterations: u32,
    pub baseline: Option<PathBuf>,
    pub tolerance: Tolerance,
}

/// What a `bench` step measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Workload {
    /// Open a new connection and run a trivial query.
    Connect,
    /// Insert generated rows into a scratch table, by each method.
    Insert(InsertWorkload),
    /// Run a statement many times.
    Query(QueryWorkload),
}

impl Workload {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Insert(_) => "insert",
            Self::Query(_) => "query",
        }
    }

    /// The default numbers of (warm-up, measured) repetitions.
    pub fn default_repetitions(kind: &str) -> (u32, u32) {
        match kind {
            "insert" => (1, 3),
            "query" => (10, 100),
            _ => (1, 10),
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// An `insert` workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InsertWorkload {
    pub rows: u64,
    pub methods: Vec<InsertMethod>,
    /// The scratch table.
    pub table: String,
    /// Whether `table` is pipewright's own default name: a leftover of a killed run under
    /// that name is dropped, while a table the manifest names must not exist.
    pub default_table: bool,
    /// Column names and their types in the connection's SQL; the first is the primary key.
    pub columns: Vec<(String, String)>,
    /// Rows per statement of the `batch` method.
    pub batch_rows: u32,
}

impl InsertWorkload {
    /// The daily-bars table of SEED.md, in types every engine takes.
    pub fn daily_bars_columns() -> Vec<(String, String)> {
        [
            ("id", "BIGINT"),
            ("symbol", "VARCHAR(16)"),
            ("trade_date", "DATE"),
            ("open", "DECIMAL(12,4)"),
            ("high", "DECIMAL(12,4)"),
            ("low", "DECIMAL(12,4)"),
            ("close", "DECIMAL(12,4)"),
            ("volume", "BIGINT"),
            ("amount", "DECIMAL(20,4)"),
        ]
        .into_iter()
        .map(|(name, ddl)| (name.to_owned(), ddl.to_owned()))
        .collect()
    }
}

/// How an `insert` workload writes its rows: each method changes one thing from the one
/// before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InsertMethod {
    /// One `INSERT` per row, each committed on its own (SEED.md's baseline).
    Row,
    /// One `INSERT` per row, all in one transaction.
    Transaction,
    /// Multi-row `INSERT` statements of `batch_rows` rows, in one transaction.
    Batch,
    /// The engine's fastest path, as transforms write: `COPY` on PostgreSQL, statements as
    /// large as the server takes on MySQL, prepared 500-row statements on SQLite; in one
    /// transaction.
    Bulk,
}

impl InsertMethod {
    pub const ALL: [Self; 4] = [Self::Row, Self::Transaction, Self::Batch, Self::Bulk];

    pub fn name(self) -> &'static str {
        match self {
            Self::Row => "row",
            Self::Transaction => "transaction",
            Self::Batch => "batch",
            Self::Bulk => "bulk",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|method| method.name() == name)
    }
}

/// A `query` workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryWorkload {
    /// The statement, with the engine's own placeholders. Never interpolated.
    pub sql: String,
    /// Parameter sets used in turn, one per execution; empty for a statement without any.
    pub params: Vec<Vec<serde_json::Value>>,
    /// Integer parameters from and to, used in turn (instead of `params`).
    pub params_range: Option<(i64, i64)>,
    /// Client tasks at once, each on its own connection.
    pub clients: u32,
}

impl QueryWorkload {
    /// The parameters of the `index`-th execution.
    pub fn params_for(&self, index: u64) -> Vec<serde_json::Value> {
        if let Some((from, to)) = self.params_range {
            // The whole range of i64 has one value more than u64 counts: saturate.
            let span = to.abs_diff(from).saturating_add(1);
            let offset = index % span;
            let value = if to >= from {
                from.saturating_add_unsigned(offset)
            } else {
                from.saturating_sub_unsigned(offset)
            };
            return vec![serde_json::Value::from(value)];
        }
        if self.params.is_empty() {
            return Vec::new();
        }
        let position = usize::try_from(index % self.params.len() as u64).unwrap_or(0);
        self.params[position].clone()
    }
}

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Lower,
    Higher,
}

/// A metric a workload reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricDef {
    pub name: String,
    pub better: Better,
    /// Compared with the baseline by default. Gated metrics are medians (or derived from
    /// all the samples), never a single sample such as a maximum.
    pub gated: bool,
}

impl MetricDef {
    fn new(name: impl Into<String>, better: Better, gated: bool) -> Self {
        Self {
            name: name.into(),
            better,
            gated,
        }
    }
}

impl Workload {
    /// The metrics this workload reports, in the order they are shown.
    pub fn metrics(&self) -> Vec<MetricDef> {
        match self {
            Self::Connect => vec![
                MetricDef::new("connect_ms", Better::Lower, true),
                MetricDef::new("connect_min_ms", Better::Lower, false),
                MetricDef::new("connect_max_ms", Better::Lower, false),
            ],
            Self::Insert(insert) => insert
                .methods
                .iter()
                .flat_map(|method| {
                    [
                        MetricDef::new(format!("insert_{}_ms", method.name()), Better::Lower, true),
                        MetricDef::new(
                            format!("insert_{}_rows_per_sec", method.name()),
                            Better::Higher,
                            false,
                        ),
                    ]
                })
                .collect(),
            Self::Query(_) => vec![
                MetricDef::new("query_p50_ms", Better::Lower, true),
                MetricDef::new("query_min_ms", Better::Lower, false),
                MetricDef::new("query_p95_ms", Better::Lower, false),
                MetricDef::new("query_p99_ms", Better::Lower, false),
                MetricDef::new("query_max_ms", Better::Lower, false),
                MetricDef::new("query_per_sec", Better::Higher, true),
            ],
        }
    }
}

/// How much worse than its baseline a metric may be, in percent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tolerance {
    pub default: f64,
    /// Tolerances of single metrics; a metric named here is gated even if it is not by
    /// default.
    pub metrics: BTreeMap<String, f64>,
}

impl Tolerance {
    /// The default tolerance: medians of timings on a shared machine move by 10% without
    /// anything having changed.
    pub const DEFAULT_PERCENT: f64 = 20.0;

    /// Whether a metric is compared with its baseline.
    pub fn gates(&self, metric: &MetricDef) -> bool {
        metric.gated || self.metrics.contains_key(&metric.name)
    }

    pub fn for_metric(&self, metric: &str) -> f64 {
        self.metrics.get(metric).copied().unwrap_or(self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(params: Vec<Vec<serde_json::Value>>, range: Option<(i64, i64)>) -> QueryWorkload {
        QueryWorkload {
            sql: String::new(),
            params,
            params_range: range,
            clients: 1,
        }
    }

    #[test]
    fn parameters_are_used_in_turn() {
        let ranged = query(Vec::new(), Some((5, 7)));
        let drawn: Vec<Vec<serde_json::Value>> =
            (0..4).map(|index| ranged.params_for(index)).collect();
        let expected: Vec<Vec<serde_json::Value>> = [5, 6, 7, 5]
            .iter()
            .map(|value| vec![(*value).into()])
            .collect();
        assert_eq!(drawn, expected);
        let everything = query(Vec::new(), Some((i64::MIN, i64::MAX)));
        assert_eq!(
            everything.params_for(3),
            [serde_json::Value::from(i64::MIN + 3)]
        );
        let down = query(Vec::new(), Some((2, 1)));
        assert_eq!(down.params_for(1), [serde_json::Value::from(1)]);
        let listed = query(vec![vec!["a".into()], vec!["b".into()]], None);
        assert_eq!(listed.params_for(3), [serde_json::Value::from("b")]);
        assert!(query(Vec::new(), None).params_for(9).is_empty());
    }
}
