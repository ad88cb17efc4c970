//! `Plan`: which steps a run will execute, in which order, which together, and why the others
//! are skipped. `plan` prints it; `run` executes it.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::graph::StepGraph;
use crate::pipeline::{Pipeline, StepAction, StepId, StepKind};
use crate::plan::{PreviousRun, Selector, SelectorError};

/// Why a planned step will not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// `enabled = false` in the manifest.
    Disabled,
    /// `--select` was given and did not match the step.
    NotSelected,
    /// `--exclude` matched the step.
    Excluded,
    /// `run --resume`: it succeeded in the run being resumed, and neither its definition nor
    /// the files it reads changed since (the same fingerprint), nor does a step before it run.
    AlreadySucceeded,
}

impl SkipReason {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Disabled => "disabled in the manifest (`enabled = false`)",
            Self::NotSelected => "not selected by `--select`",
            Self::Excluded => "excluded by `--exclude`",
            Self::AlreadySucceeded => {
                "succeeded in the run it resumes, unchanged (the same fingerprint)"
            }
        }
    }
}

/// Run it, or skip it and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Run {
        /// 1-based: steps of the same wave can run together; a wave starts when the steps it
        /// waits for are done.
        wave: usize,
    },
    Skip {
        reason: SkipReason,
    },
}

/// One step of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    pub id: StepId,
    pub kind: StepKind,
    /// Planned steps this one waits for. Skipped dependencies are not waited for.
    pub waits_for: Vec<StepId>,
    #[serde(flatten)]
    pub decision: Decision,
    /// What the step will do, secrets redacted.
    pub summary: String,
    /// The SQL statements the step will run, for `sql` steps (never interpolated, so shown
    /// as written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<Vec<String>>,
    /// `run --resume`: why the step runs again, or is skipped, against the run it resumes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume: Option<String>,
    /// The step's fingerprint ([`StepSpec::fingerprint`](crate::pipeline::StepSpec::fingerprint)),
    /// computed once for the run report, the store and `--resume`. Not part of `plan`'s output.
    #[serde(skip)]
    pub fingerprint: String,
}

impl PlannedStep {
    pub fn runs(&self) -> bool {
        matches!(self.decision, Decision::Run { .. })
    }
}

/// Which steps to run: `--select` and `--exclude`.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub select: Vec<Selector>,
    pub exclude: Vec<Selector>,
}

/// Whether a step that would run is skipped by `run --resume`, and why it runs or not.
fn resume_decision(
    graph: &StepGraph,
    id: &StepId,
    fingerprint: &str,
    running: &HashMap<&StepId, usize>,
    previous: &PreviousRun,
) -> (bool, String) {
    if let Some(upstream) = graph
        .dependencies(id)
        .into_iter()
        .find(|dependency| running.contains_key(dependency))
    {
        return (false, format!("runs again: `{upstream}` before it runs"));
    }
    let Some(before) = previous.steps.get(id.as_str()) else {
        return (
            false,
            format!("runs: not reached in run {}", previous.run_id),
        );
    };
    let run = &before.run_id;
    if before.status == "skipped" && !before.reused {
        return (false, format!("runs: skipped in run {run}"));
    }
    if !before.succeeded() {
        return (
            false,
            format!(
                "runs again: {} in run {run}",
                before.status.replace('_', " ")
            ),
        );
    }
    if fingerprint != before.fingerprint {
        return (
            false,
            format!("runs again: its definition or a file it reads changed since run {run}"),
        );
    }
    (true, format!("skipped: succeeded in run {run}, unchanged"))
}

/// The plan of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub version: u32,
    pub pipeline: String,
    pub concurrency: usize,
    /// Steps in execution order: dependencies first, manifest order among equals.
    pub steps: Vec<PlannedStep>,
}

impl Plan {
    pub const FORMAT_VERSION: u32 = 1;

    pub fn new(
        pipeline: &Pipeline,
        graph: &StepGraph,
        selection: &Selection,
        concurrency: usize,
    ) -> Result<Self, SelectorError> {
        Self::resuming(pipeline, graph, selection, concurrency, None)
    }

    /// The plan of `run --resume`: like [`new`](Self::new), and a step that succeeded in
    /// `previous` with the same fingerprint is skipped, unless a step it depends on runs.
    pub fn resuming(
        pipeline: &Pipeline,
        graph: &StepGraph,
        selection: &Selection,
        concurrency: usize,
        previous: Option<&PreviousRun>,
    ) -> Result<Self, SelectorError> {
        let selected: Option<HashSet<StepId>> = if selection.select.is_empty() {
            None
        } else {
            let mut selected = HashSet::new();
            for selector in &selection.select {
                selected.extend(selector.matches(pipeline, graph)?);
            }
            Some(selected)
        };
        let mut excluded = HashSet::new();
        for selector in &selection.exclude {
            excluded.extend(selector.matches(pipeline, graph)?);
        }

        let mut waves: HashMap<&StepId, usize> = HashMap::new();
        let mut steps = Vec::with_capacity(graph.len());
        for id in graph.topological_order() {
            let step = pipeline.step(id);
            let skip = if excluded.contains(id) {
                Some(SkipReason::Excluded)
            } else if selected
                .as_ref()
                .is_some_and(|selected| !selected.contains(id))
            {
                Some(SkipReason::NotSelected)
            } else if !step.enabled {
                Some(SkipReason::Disabled)
            } else {
                None
            };
            // Once per step and run: it reads the files the step reads.
            let fingerprint = step.fingerprint(&pipeline.base_dir);
            let mut resume = None;
            let skip = match (skip, previous) {
                (None, Some(previous)) => {
                    let (reused, why) = resume_decision(graph, id, &fingerprint, &waves, previous);
                    resume = Some(why);
                    reused.then_some(SkipReason::AlreadySucceeded)
                }
                (skip, _) => skip,
            };
            let waits_for: Vec<StepId> = if skip.is_some() {
                Vec::new()
            } else {
                graph
                    .dependencies(id)
                    .into_iter()
                    .filter(|dependency| waves.contains_key(dependency))
                    .cloned()
                    .collect()
            };
            let decision = match skip {
                Some(reason) => Decision::Skip { reason },
                None => {
                    let wave = 1 + waits_for
                        .iter()
                        .map(|dependency| waves[dependency])
                        .max()
                        .unwrap_or(0);
                    waves.insert(id, wave);
                    Decision::Run { wave }
                }
            };
            let sql = match &step.action {
                StepAction::Sql(sql) => Some(
                    sql.statements(pipeline.connections[&sql.connection].driver)
                        .unwrap_or_else(|error| {
                            vec![format!("-- cannot read {}: {error}", sql.source.describe())]
                        }),
                ),
                // Each check and the statements it runs.
                StepAction::Validate(validate) => {
                    let driver = pipeline.connections[&validate.connection].driver;
                    Some(
                        validate
                            .checks
                            .iter()
                            .map(|check| {
                                format!(
                                    "-- check {} ({})\n{}",
                                    check.name,
                                    check.severity,
                                    crate::validate::check_statements(driver, validate, check)
                                        .join(";\n")
                                )
                            })
                            .collect(),
                    )
                }
                _ => None,
            };
            steps.push(PlannedStep {
                id: id.clone(),
                kind: step.kind(),
                waits_for,
                decision,
                summary: step.action.summary(),
                sql,
                resume,
                fingerprint,
            });
        }
        Ok(Self {
            version: Self::FORMAT_VERSION,
            pipeline: pipeline.name.clone(),
            concurrency,
            steps,
        })
    }

    pub fn running(&self) -> impl Iterator<Item = &PlannedStep> {
        self.steps.iter().filter(|step| step.runs())
    }

    /// The plan as people read it: waves of steps, then the skipped ones.
    pub fn render_text(&self) -> String {
        let running = self.running().count();
        let mut output = format!(
            "plan for `{}`: {running} of {} steps run, at most {} at a time\n",
            self.pipeline,
            self.steps.len(),
            self.concurrency
        );
        let width = self
            .steps
            .iter()
            .map(|step| step.id.as_str().len())
            .max()
            .unwrap_or(0);
        let waves = self
            .running()
            .filter_map(|step| match step.decision {
                Decision::Run { wave } => Some(wave),
                Decision::Skip { .. } => None,
            })
            .max()
            .unwrap_or(0);
        for wave in 1..=waves {
            let _ = write!(output, "\nwave {wave}\n");
            for step in self
                .steps
                .iter()
                .filter(|step| step.decision == Decision::Run { wave })
            {
                let _ = write!(
                    output,
                    "  {:width$}  {:<9}  {}",
                    step.id.as_str(),
                    step.kind.name(),
                    step.summary
                );
                if !step.waits_for.is_empty() {
                    let names: Vec<&str> = step.waits_for.iter().map(StepId::as_str).collect();
                    let _ = write!(output, "  (after {})", names.join(", "));
                }
                output.push('\n');
                for statement in step.sql.iter().flatten() {
                    let lines: Vec<&str> = statement.lines().collect();
                    for (index, line) in lines.iter().enumerate() {
                        let end = if index + 1 == lines.len() { ";" } else { "" };
                        let _ = writeln!(output, "      | {line}{end}");
                    }
                }
            }
        }
        let skipped: Vec<&PlannedStep> = self.steps.iter().filter(|step| !step.runs()).collect();
        if !skipped.is_empty() {
            output.push_str("\nskipped\n");
            for step in skipped {
                if let Decision::Skip { reason } = step.decision {
                    let _ = writeln!(
                        output,
                        "  {:width$}  {}",
                        step.id.as_str(),
                        reason.describe()
                    );
                }
            }
        }
        output
    }
}
