//! Baseline files and the comparison of a measurement with them. A baseline file holds one
//! entry per `bench` step and database engine (several steps may share a file, and a step
//! whose connection URL points at another engine in another environment has an entry per
//! engine), written with sorted keys and rounded values so that a changed baseline reads well
//! in a diff.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::bench::Measurement;
use crate::pipeline::{BenchSpec, Better, Workload};

/// The format version of baseline files.
pub const BASELINE_FORMAT: u32 = 1;

/// Read-modify-write of baseline and results files, one at a time: steps running at once may
/// share a file.
static FILE_LOCK: Mutex<()> = Mutex::new(());

/// A baseline file (and the results file of a run, which has the same shape).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BaselineFile {
    pub format: u32,
    /// By step id, then database engine (`sqlite`, `postgres`, `mysql`).
    pub steps: BTreeMap<String, BTreeMap<String, BaselineEntry>>,
}

/// What one `bench` step measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineEntry {
    pub workload: String,
    pub database_type: String,
    /// `insert`: rows per repetition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    pub iterations: u32,
    /// When it was measured (UTC, RFC 3339).
    pub measured_at: String,
    /// The version of pipewright that measured it.
    pub pipewright: String,
    /// Metric name to value: `_ms` are milliseconds (lower is better), `_per_sec` rates
    /// (higher is better).
    pub metrics: BTreeMap<String, f64>,
}

impl BaselineEntry {
    pub fn new(spec: &BenchSpec, database_type: &str, measurement: &Measurement) -> Self {
        Self {
            workload: spec.workload.name().to_owned(),
            database_type: database_type.to_owned(),
            rows: match &spec.workload {
                Workload::Insert(insert) => Some(insert.rows),
                _ => None,
            },
            iterations: spec.iterations,
            measured_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            pipewright: env!("CARGO_PKG_VERSION").to_owned(),
            metrics: measurement
                .metrics
                .iter()
                .map(|(name, value)| (name.clone(), round(*value)))
                .collect(),
        }
    }
}

/// Three decimals: a microsecond of a millisecond timing, beyond any real precision.
fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

impl BaselineFile {
    /// Reads a baseline file; `None` if there is none.
    pub fn read(path: &Path) -> Result<Option<Self>, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(format!("cannot read `{}`: {error}", path.display())),
        };
        let file: Self = serde_json::from_str(&text).map_err(|error| {
            format!(
                "`{}` is not a pipewright baseline file: {error}",
                path.display()
            )
        })?;
        if file.format != BASELINE_FORMAT {
            return Err(format!(
                "`{}` has baseline format {}; this pipewright reads format {BASELINE_FORMAT}",
                path.display(),
                file.format
            ));
        }
        Ok(Some(file))
    }

    /// The entry of `step` on `engine`, taken out of the file.
    pub fn take(&mut self, step: &str, engine: &str) -> Option<BaselineEntry> {
        self.steps.get_mut(step)?.remove(engine)
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a baseline serializes");
        text.push('\n');
        text
    }
}

/// Writes `entry` as step `step`'s on its engine in the file at `path`, keeping the other
/// entries.
pub fn record_baseline(path: &Path, step: &str, entry: BaselineEntry) -> Result<(), String> {
    record_baselines(path, [(step.to_owned(), entry)])
}

/// Writes each `(step, entry)` on its engine in the file at `path`, keeping the other entries:
/// one read and one write of the file, however many entries.
pub fn record_baselines(
    path: &Path,
    entries: impl IntoIterator<Item = (String, BaselineEntry)>,
) -> Result<(), String> {
    let _guard = FILE_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut file = BaselineFile::read(path)?.unwrap_or(BaselineFile {
        format: BASELINE_FORMAT,
        steps: BTreeMap::new(),
    });
    for (step, entry) in entries {
        file.steps
            .entry(step)
            .or_default()
            .insert(entry.database_type.clone(), entry);
    }
    if let Some(directory) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(directory)
            .map_err(|error| format!("cannot create `{}`: {error}", directory.display()))?;
    }
    crate::report::write_atomically(path, file.to_json().as_bytes())
        .map_err(|error| format!("cannot write `{}`: {error}", path.display()))
}

/// How a metric compares with its baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Gated, and within its tolerance (or better).
    Pass,
    /// Gated, and worse than its baseline by more than its tolerance.
    Regressed,
    /// Not gated: shown, never fails.
    Info,
    /// No baseline value to compare with.
    New,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Regressed => "REGRESSED",
            Self::Info => "info",
            Self::New => "new",
        }
    }
}

/// One metric of a `bench` step, now and in the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricReport {
    pub name: String,
    pub now: f64,
    pub baseline: Option<f64>,
    /// `(now - baseline) / baseline`, in percent.
    pub change_percent: Option<f64>,
    /// The tolerance, for a gated metric.
    pub tolerance_percent: Option<f64>,
    pub better: Better,
    pub verdict: Verdict,
}

/// What a `bench` step reports: in the run report (`details.bench`) and the results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub workload: String,
    pub connection: String,
    pub database_type: String,
    pub warmup: u32,
    pub iterations: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// The baseline file's path, resolved against the manifest's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// `--update-baseline` wrote this measurement into the baseline file.
    pub baseline_updated: bool,
    pub metrics: Vec<MetricReport>,
    /// What was measured, as a baseline entry (the results file is made of these).
    pub entry: BaselineEntry,
}

impl BenchReport {
    pub fn regressions(&self) -> impl Iterator<Item = &MetricReport> {
        self.metrics
            .iter()
            .filter(|metric| metric.verdict == Verdict::Regressed)
    }
}

/// Compares a step's measurement with its baseline entry on the same engine (if any), metric
/// by metric. A baseline of another workload or row count is not comparable: an error.
pub fn compare(
    spec: &BenchSpec,
    entry: &BaselineEntry,
    baseline: Option<&BaselineEntry>,
) -> Result<Vec<MetricReport>, String> {
    if let Some(baseline) = baseline {
        if baseline.workload != entry.workload {
            return Err(format!(
                "the baseline measured another workload (`{}`, now `{}`): the numbers do not compare; record a new one with `pipewright bench --update-baseline`",
                baseline.workload, entry.workload
            ));
        }
        if baseline.rows != entry.rows {
            return Err(format!(
                "the baseline inserted {} rows per repetition, this step {}: the numbers do not compare; record a new one with `pipewright bench --update-baseline`",
                baseline.rows.unwrap_or(0),
                entry.rows.unwrap_or(0)
            ));
        }
    }
    Ok(spec
        .workload
        .metrics()
        .into_iter()
        .filter_map(|metric| {
            let now = *entry.metrics.get(&metric.name)?;
            let then = baseline.and_then(|baseline| baseline.metrics.get(&metric.name).copied());
            let gated = spec.tolerance.gates(&metric);
            let tolerance = gated.then(|| spec.tolerance.for_metric(&metric.name));
            let change_percent = then
                .filter(|then| *then > 0.0)
                .map(|then| (now - then) / then * 100.0);
            let verdict = match (change_percent, tolerance) {
                (None, _) => Verdict::New,
                (Some(_), None) => Verdict::Info,
                (Some(change), Some(tolerance)) => {
                    // A rate that halved is as much worse as a time that doubled: 100%.
                    let worse_by = match (metric.better, then) {
                        (Better::Lower, _) => change,
                        (Better::Higher, Some(then)) if now > 0.0 => (then / now - 1.0) * 100.0,
                        (Better::Higher, _) => f64::INFINITY,
                    };
                    if worse_by > tolerance {
                        Verdict::Regressed
                    } else {
                        Verdict::Pass
                    }
                }
            };
            Some(MetricReport {
                name: metric.name,
                now,
                baseline: then,
                change_percent: change_percent.map(round),
                tolerance_percent: tolerance,
                better: metric.better,
                verdict,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{ConnectionName, QueryWorkload, Tolerance};

    fn spec(tolerance: Tolerance) -> BenchSpec {
        BenchSpec {
            connection: ConnectionName::new("db"),
            workload: Workload::Query(QueryWorkload {
                sql: "SELECT 1".into(),
                params: Vec::new(),
                params_range: None,
                clients: 1,
            }),
            warmup: 0,
            iterations: 10,
            baseline: None,
            tolerance,
        }
    }

    fn entry(metrics: &[(&str, f64)]) -> BaselineEntry {
        BaselineEntry {
            workload: "query".into(),
            database_type: "sqlite".into(),
            rows: None,
            iterations: 10,
            measured_at: String::new(),
            pipewright: String::new(),
            metrics: metrics
                .iter()
                .map(|(name, value)| ((*name).to_owned(), *value))
                .collect(),
        }
    }

    fn verdicts(reports: &[MetricReport]) -> Vec<(&str, Verdict)> {
        reports
            .iter()
            .map(|report| (report.name.as_str(), report.verdict))
            .collect()
    }

    #[test]
    fn gated_metrics_fail_beyond_their_tolerance_in_their_direction() {
        let tolerance = Tolerance {
            default: 20.0,
            metrics: [("query_max_ms".to_owned(), 50.0)].into(),
        };
        let then = entry(&[
            ("query_p50_ms", 10.0),
            ("query_p99_ms", 10.0),
            ("query_max_ms", 10.0),
            ("query_per_sec", 100.0),
        ]);
        let now = entry(&[
            ("query_p50_ms", 11.9),
            ("query_p99_ms", 40.0),
            ("query_max_ms", 16.0),
            ("query_per_sec", 80.0),
        ]);
        let reports = compare(&spec(tolerance), &now, Some(&then)).unwrap();
        assert_eq!(
            verdicts(&reports),
            [
                ("query_p50_ms", Verdict::Pass),
                ("query_p99_ms", Verdict::Info),
                ("query_max_ms", Verdict::Regressed),
                ("query_per_sec", Verdict::Regressed),
            ]
        );
        assert_eq!(reports[0].change_percent, Some(19.0));
    }

    #[test]
    fn faster_is_never_a_regression_and_missing_baselines_are_new() {
        let tolerance = Tolerance {
            default: 0.0,
            metrics: BTreeMap::new(),
        };
        let then = entry(&[("query_p50_ms", 10.0), ("query_per_sec", 100.0)]);
        let now = entry(&[("query_p50_ms", 5.0), ("query_per_sec", 200.0)]);
        let reports = compare(&spec(tolerance.clone()), &now, Some(&then)).unwrap();
        assert!(reports.iter().all(|report| report.verdict == Verdict::Pass));
        let reports = compare(&spec(tolerance), &now, None).unwrap();
        assert!(reports.iter().all(|report| report.verdict == Verdict::New));
    }

    #[test]
    fn baselines_of_another_workload_do_not_compare() {
        let tolerance = Tolerance {
            default: 20.0,
            metrics: BTreeMap::new(),
        };
        let mut then = entry(&[("query_p50_ms", 10.0)]);
        then.workload = "connect".into();
        let error = compare(&spec(tolerance), &entry(&[]), Some(&then)).unwrap_err();
        assert!(
            error.contains("another workload (`connect`, now `query`)"),
            "{error}"
        );
    }

    #[test]
    fn files_round_trip_with_sorted_keys() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("nested/baseline.json");
        record_baseline(&path, "b", entry(&[("query_p50_ms", 1.0)])).unwrap();
        record_baseline(
            &path,
            "a",
            entry(&[("query_per_sec", 2.0), ("query_max_ms", 3.0)]),
        )
        .unwrap();
        let mut elsewhere = entry(&[("query_p50_ms", 4.0)]);
        elsewhere.database_type = "postgres".into();
        record_baseline(&path, "b", elsewhere).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut file = BaselineFile::read(&path).unwrap().unwrap();
        assert_eq!(file.steps.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            file.steps["b"].keys().collect::<Vec<_>>(),
            ["postgres", "sqlite"]
        );
        assert!(
            text.find("query_max_ms").unwrap() < text.find("query_per_sec").unwrap(),
            "{text}"
        );
        assert_eq!(file.to_json(), text, "writing again changes nothing");
        assert_eq!(
            file.take("b", "postgres")
                .map(|entry| entry.metrics["query_p50_ms"]),
            Some(4.0)
        );
    }
}
