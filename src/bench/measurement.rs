//! What a workload measured: its metrics and every timed sample.

use std::time::Duration;

use indexmap::IndexMap;

/// One measured repetition, a row of `performance_metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// `bench:connect`, `bench:insert:row`, `bench:query`, ...
    pub operation: String,
    pub duration: Duration,
    /// Rows inserted or returned.
    pub rows: Option<u64>,
}

/// The metrics of a workload, in the order the workload lists them, and its samples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measurement {
    pub metrics: IndexMap<String, f64>,
    pub samples: Vec<Sample>,
    /// Rows each repetition inserted, or the rows the query returned the last time.
    pub rows: Option<u64>,
}
