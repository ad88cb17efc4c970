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
    /// The run this outcome is from: the resumed run, or for a step that run left out (not
    /// selected, excluded, disabled) the last run before it that did not.
    pub run_id: String,
}

impl PreviousStep {
    pub fn succeeded(&self) -> bool {
        self.status == "succeeded" || self.reused
    }
}

/// A row of `step_runs` with its run: (run id, step id, status, fingerprint, skip reason).
pub type StepRunRow = (String, String, String, Option<String>, Option<String>);

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
                        run_id: run_id.clone(),
                    },
                ))
            })
            .collect();
        Ok(Self { run_id, steps })
    }

    /// From rows of `step_runs` of recent runs, newest run first: (run id, step id, status,
    /// fingerprint, skip reason). Each step's outcome is its newest one, except that a run
    /// which left the step out (not selected, excluded, disabled: it says nothing about the
    /// step) is looked through to the run before.
    pub fn from_rows(rows: Vec<StepRunRow>) -> Self {
        let reused = SkipReason::AlreadySucceeded.describe();
        let left_out = [
            SkipReason::NotSelected.describe(),
            SkipReason::Excluded.describe(),
            SkipReason::Disabled.describe(),
        ];
        let run_id = rows.first().map(|row| row.0.clone()).unwrap_or_default();
        let mut steps = HashMap::new();
        for (run, id, status, fingerprint, skip_reason) in rows {
            if steps.contains_key(&id)
                || skip_reason
                    .as_deref()
                    .is_some_and(|reason| left_out.contains(&reason))
            {
                continue;
            }
            let step = PreviousStep {
                status,
                fingerprint: fingerprint.unwrap_or_default(),
                reused: skip_reason.as_deref() == Some(reused),
                run_id: run,
            };
            steps.insert(id, step);
        }
        Self { run_id, steps }
    }
}
