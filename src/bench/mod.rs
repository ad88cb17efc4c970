//! The engine of `bench` steps: workloads that time a connection (connect, insert, query),
//! and the baseline file a measurement is compared with.

mod baseline;
mod generated_rows;
mod measurement;
mod samples;
mod workloads;

pub use baseline::{
    BASELINE_FORMAT, BaselineEntry, BaselineFile, BenchReport, MetricReport, Verdict, compare,
    record_baseline, record_baselines,
};
pub use generated_rows::generated_value;
pub use measurement::{Measurement, Sample};
pub use samples::Timings;
pub use workloads::{BenchError, measure_connect, measure_insert, measure_query};
