//! The run a `run --resume` continues: what each of its steps ended as, and with which
//! fingerprint. Read from the monitoring store (the last run of the pipeline) or from a run
//! report.

use std::collections::HashMap;

use crate::plan::SkipReason;

/// How one step of the earlier run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousStep {
    /// `succeeded`, `failed`, `timed_out`, `cancelled`, `skipped`.
    pub status: String,
    pub fingerprint: String,
    /// Skipped because it had succeeded in the run before, unchanged: as good as succeeded
    /// for the next resume.
    pub reused: bool,
}

impl PreviousStep {
    pub fn succeeded(&self) -> bool {
        self.status == "succeeded" || self.reused
    }
}

/// The run being resumed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreviousRun {
    pub run_id: String,
    /// By step id; a step the run never settled (killed before it ended) is absent.
    pub steps: HashMap<String, PreviousStep>,
}

impl PreviousRun {
    /// From a run report (`--report` of the run being resumed).
    pub fn from_report(report: &serde_json::Value) -> Result<Self, String> {
        let run_id = report["run_id"]
            .as_str()
            .ok_or("the report has no `run_id`: is it a pipewright run report?")?
            .to_owned();
        let steps = report["steps"]
            .as_array()
            .ok_or("the report has no `steps`")?
            .iter()
            .filter_map(|step| {
                let id = step["id"].as_str()?.to_owned();
                let status = step["status"].as_str()?.to_owned();
                let reused = step["skip"]["because"] == "already_succeeded";
                Some((
                    id,
                    PreviousStep {
                        status,
                        fingerprint: step["fingerprint"].as_str().unwrap_or_default().to_owned(),
                        reused,
                    },
                ))
            })
            .collect();
        Ok(Self { run_id, steps })
    }

    /// From rows of `step_runs`: (step id, status, fingerprint, skip reason).
    pub fn from_rows(
        run_id: String,
        rows: Vec<(String, String, Option<String>, Option<String>)>,
    ) -> Self {
        let reused = SkipReason::AlreadySucceeded.describe();
        let steps = rows
            .into_iter()
            .map(|(id, status, fingerprint, skip_reason)| {
                (
                    id,
                    PreviousStep {
                        status,
                        fingerprint: fingerprint.unwrap_or_default(),
                        reused: skip_reason.as_deref() == Some(reused),
                    },
                )
            })
            .collect();
        Self { run_id, steps }
    }

    /// The run id as people read it: its first 8 characters.
    pub fn short_id(&self) -> &str {
        self.run_id.get(..8).unwrap_or(&self.run_id)
    }
}
