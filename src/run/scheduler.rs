//! The scheduler: runs a plan's steps as their dependencies finish, up to a concurrency limit,
//! with retries, timeouts, fail-fast or keep-going, and cancellation.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use tracing::Instrument as _;

use crate::db::Connections;
use crate::error_chain::error_chain;
use crate::pipeline::{Pipeline, StepId, StepSpec};
use crate::plan::{Decision, Plan};
use crate::run::{
    Attempt, FailureKind, RunEvent, RunId, RunStatus, StepCounts, StepResult, StepSkip, StepStatus,
};
use crate::steps::{Engines, StepContext, StepError, StepExecutor};

/// How a run behaves, beyond the plan.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Steps running at the same time, at least 1.
    pub jobs: usize,
    /// Keep starting steps that do not depend on a failed one.
    pub keep_going: bool,
    /// Continue interrupted transforms from their checkpoints.
    pub resume: bool,
    /// `bench` steps write their baselines instead of comparing with them.
    pub update_baseline: bool,
}

/// What a finished run amounts to.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_id: RunId,
    pub status: RunStatus,
    pub duration: Duration,
    pub counts: StepCounts,
}

/// Runs one plan. Events go to `events`; the scheduler never prints.
#[derive(Debug)]
pub struct Scheduler {
    pipeline: Arc<Pipeline>,
    plan: Plan,
    options: RunOptions,
    events: UnboundedSender<RunEvent>,
    run_id: RunId,
    executor: Arc<dyn StepExecutor>,
    connections: Arc<Connections>,
}

/// Per-step bookkeeping while the run goes.
#[derive(Debug)]
struct Progress {
    /// Position of each planned-to-run step in the plan, which orders the ready queue.
    position: HashMap<StepId, usize>,
    /// How many dependencies each waiting step still waits for.
    waiting_on: HashMap<StepId, usize>,
    /// Planned steps that wait for each step.
    dependents: HashMap<StepId, Vec<StepId>>,
    ready: BinaryHeap<Reverse<(usize, StepId)>>,
    /// Steps that have started, finished or been skipped.
    settled: HashSet<StepId>,
}

impl Scheduler {
    pub fn new(
        pipeline: Arc<Pipeline>,
        plan: Plan,
        options: RunOptions,
        events: UnboundedSender<RunEvent>,
    ) -> Self {
        let connections = Arc::new(
            Connections::new(pipeline.connections.clone(), options.jobs)
                .with_step_needs(step_connection_needs(&pipeline)),
        );
        Self {
            pipeline,
            plan,
            options,
            events,
            run_id: RunId::new(),
            executor: Arc::new(Engines),
            connections,
        }
    }

    /// Runs under a run id chosen by the caller (which has already named its logs after it).
    #[must_use]
    pub fn with_run_id(mut self, run_id: RunId) -> Self {
        self.run_id = run_id;
        self
    }

    /// The connections the steps use; the caller closes them after the run.
    pub fn connections(&self) -> Arc<Connections> {
        Arc::clone(&self.connections)
    }

    /// Runs steps with another executor (the scheduler benchmark uses a no-op).
    #[must_use]
    pub fn with_executor(mut self, executor: Arc<dyn StepExecutor>) -> Self {
        self.executor = executor;
        self
    }

    pub fn run_id(&self) -> RunId {
        self.run_id
    }

    fn emit(&self, event: RunEvent) {
        // A closed channel means nobody reports any more; the run itself goes on.
        let _ = self.events.send(event);
    }

    /// Runs the plan until every step has finished or been skipped. `cancel` stops the run:
    /// running steps are stopped, the others skipped, and the run ends `cancelled`.
    pub async fn run(self, cancel: CancellationToken) -> RunSummary {
        let started = Instant::now();
        let planned = self.plan.running().count();
        self.emit(RunEvent::RunStarted {
            run_id: self.run_id,
            pipeline: self.pipeline.name.clone(),
            steps: planned,
            started_at: Utc::now(),
        });
        for step in &self.plan.steps {
            if let Decision::Skip { reason } = step.decision {
                self.emit(RunEvent::StepSkipped {
                    id: step.id.clone(),
                    skip: StepSkip::Planned { because: reason },
                });
            }
        }

        let mut progress = self.progress();
        let mut tasks: JoinSet<(StepId, StepResult)> = JoinSet::new();
        let mut running: HashMap<tokio::task::Id, StepId> = HashMap::new();
        let mut counts = StepCounts::default();
        let mut stopping = false;
        let mut cancel_reported = false;
        let jobs = self.options.jobs.max(1);

        loop {
            while !stopping && !cancel.is_cancelled() && tasks.len() < jobs {
                let Some(Reverse((_, id))) = progress.ready.pop() else {
                    break;
                };
                progress.settled.insert(id.clone());
                let step = Arc::new(self.pipeline.step(&id).clone());
                let span = tracing::info_span!("step", step_id = %id);
                let handle = tasks.spawn(
                    run_step(
                        step,
                        Arc::clone(&self.executor),
                        StepContext {
                            run_id: self.run_id,
                            step_id: id.clone(),
                            cancel: cancel.child_token(),
                            events: self.events.clone(),
                            connections: Arc::clone(&self.connections),
                            pipeline: Arc::from(self.pipeline.name.as_str()),
                            resume: self.options.resume,
                            update_baseline: self.options.update_baseline,
                        },
                    )
                    .instrument(span),
                );
                running.insert(handle.id(), id);
            }
            if tasks.is_empty() {
                break;
            }
            let joined = tokio::select! {
                joined = tasks.join_next_with_id() => joined,
                () = cancel.cancelled(), if !cancel_reported => {
                    cancel_reported = true;
                    self.emit(RunEvent::Cancelling);
                    continue;
                }
            };
            let Some(joined) = joined else { break };
            let (id, result) = match joined {
                Ok((_, (id, result))) => (id, result),
                Err(error) => {
                    // A panic in a step is pipewright's bug; the run records it and goes on.
                    let id = running.remove(&error.id()).expect("every task is tracked");
                    (id, panicked_result(&error))
                }
            };
            let status = result.status;
            self.emit(RunEvent::StepFinished {
                id: id.clone(),
                result: Box::new(result),
            });
            if status == StepStatus::Succeeded {
                counts.succeeded += 1;
                progress.release_dependents(&id);
            } else if status == StepStatus::Cancelled {
                counts.cancelled += 1;
            } else {
                counts.failed += 1;
                stopping |= !self.options.keep_going;
                for skipped in progress.skip_descendants(&id) {
                    self.emit(RunEvent::StepSkipped {
                        id: skipped,
                        skip: StepSkip::UpstreamFailed { step: id.clone() },
                    });
                }
            }
        }

        let cancelled = cancel.is_cancelled();
        for step in self.plan.running() {
            if !progress.settled.contains(&step.id) {
                self.emit(RunEvent::StepSkipped {
                    id: step.id.clone(),
                    skip: if cancelled {
                        StepSkip::Cancelled
                    } else {
                        StepSkip::RunStopped
                    },
                });
            }
        }
        let status = if cancelled {
            RunStatus::Cancelled
        } else if counts.failed > 0 {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        counts.skipped =
            self.plan.steps.len() - counts.succeeded - counts.failed - counts.cancelled;
        let duration = started.elapsed();
        self.emit(RunEvent::RunFinished {
            status,
            duration,
            counts,
        });
        RunSummary {
            run_id: self.run_id,
            status,
            duration,
            counts,
        }
    }

    fn progress(&self) -> Progress {
        let mut progress = Progress {
            position: HashMap::new(),
            waiting_on: HashMap::new(),
            dependents: HashMap::new(),
            ready: BinaryHeap::new(),
            settled: HashSet::new(),
        };
        for (position, step) in self.plan.running().enumerate() {
            progress.position.insert(step.id.clone(), position);
            progress
                .waiting_on
                .insert(step.id.clone(), step.waits_for.len());
            for dependency in &step.waits_for {
                progress
                    .dependents
                    .entry(dependency.clone())
                    .or_default()
                    .push(step.id.clone());
            }
            if step.waits_for.is_empty() {
                progress.ready.push(Reverse((position, step.id.clone())));
            }
        }
        progress
    }
}

impl Progress {
    fn release_dependents(&mut self, id: &StepId) {
        for dependent in self.dependents.get(id).cloned().unwrap_or_default() {
            let waiting = self
                .waiting_on
                .get_mut(&dependent)
                .expect("dependents are planned steps");
            *waiting -= 1;
            if *waiting == 0 && !self.settled.contains(&dependent) {
                self.ready
                    .push(Reverse((self.position[&dependent], dependent)));
            }
        }
    }

    /// Marks every planned step downstream of `id` as settled; returns them in plan order.
    fn skip_descendants(&mut self, id: &StepId) -> Vec<StepId> {
        let mut stack = vec![id.clone()];
        let mut found = Vec::new();
        while let Some(current) = stack.pop() {
            for dependent in self.dependents.get(&current).cloned().unwrap_or_default() {
                if self.settled.insert(dependent.clone()) {
                    stack.push(dependent.clone());
                    found.push(dependent);
                }
            }
        }
        found.sort_by_key(|id| self.position[id]);
        found
    }
}

/// The most connections one step holds at once on each connection: a transform reads its
/// key ranges on a connection each and writes them on a connection each, besides the one that
/// runs the swap; verifying and building indexes take more
/// ([`crate::transform::connections_wanted`]).
fn step_connection_needs(pipeline: &Pipeline) -> HashMap<crate::pipeline::ConnectionName, u32> {
    let mut needs: HashMap<crate::pipeline::ConnectionName, u32> = HashMap::new();
    for step in pipeline.steps.values() {
        let mut step_needs: HashMap<&crate::pipeline::ConnectionName, u32> = HashMap::new();
        match &step.action {
            crate::pipeline::StepAction::Transform(transform) => {
                let (source, target) = crate::transform::connections_wanted(transform);
                *step_needs.entry(&transform.from.connection).or_default() += source;
                *step_needs.entry(&transform.to.connection).or_default() += target;
            }
            // A reconciliation reads both tables on connections of their own, next to the
            // checks' connection; `same_as` counts the other table on one of its own.
            crate::pipeline::StepAction::Validate(validate) => {
                for check in &validate.checks {
                    let (here, other, there) = match &check.kind {
                        crate::pipeline::CheckKind::Reconcile { with, .. } => (1, with, 1),
                        crate::pipeline::CheckKind::RowCount {
                            same_as: Some(other),
                            ..
                        } => (0, other, 1),
                        _ => continue,
                    };
                    let mut check_needs: HashMap<&crate::pipeline::ConnectionName, u32> =
                        HashMap::new();
                    // The checks' own connection.
                    *check_needs.entry(&validate.connection).or_default() += 1 + here;
                    *check_needs.entry(&other.connection).or_default() += there;
                    for (name, need) in check_needs {
                        let entry = step_needs.entry(name).or_default();
                        *entry = (*entry).max(need);
                    }
                }
            }
            // Each client of a query benchmark runs on a connection of its own.
            crate::pipeline::StepAction::Bench(bench) => {
                if let crate::pipeline::Workload::Query(query) = &bench.workload {
                    step_needs.insert(&bench.connection, query.clients);
                }
            }
            _ => {}
        }
        for (name, need) in step_needs {
            let entry = needs.entry(name.clone()).or_default();
            *entry = (*entry).max(need);
        }
    }
    needs
}

fn panicked_result(error: &tokio::task::JoinError) -> StepResult {
    let now = Utc::now();
    StepResult {
        status: StepStatus::Failed,
        attempts: Vec::new(),
        started_at: now,
        finished_at: now,
        duration: Duration::ZERO,
        error: Some(format!("pipewright failed while running the step: {error}")),
        failure: Some(FailureKind::Step),
        rows: None,
        output_tail: Vec::new(),
        details: None,
    }
}

/// Runs a step's attempts: timeouts, retries with backoff, cancellation.
async fn run_step(
    step: Arc<StepSpec>,
    executor: Arc<dyn StepExecutor>,
    context: StepContext,
) -> (StepId, StepResult) {
    let events = context.events.clone();
    let cancel = context.cancel.clone();
    let started_at = Utc::now();
    let started = Instant::now();
    let max_attempts = step.retry.max_attempts();
    let mut attempts = Vec::new();
    let mut number = 1;
    let outcome = loop {
        let _ = events.send(RunEvent::StepStarted {
            id: step.id.clone(),
            kind: step.kind(),
            attempt: number,
            max_attempts,
        });
        let attempt_started_at = Utc::now();
        let attempt_started = Instant::now();
        let result = attempt(&step, executor.as_ref(), &context).await;
        let status = match &result {
            Ok(_) => StepStatus::Succeeded,
            Err(StepError::TimedOut { .. }) => StepStatus::TimedOut,
            Err(StepError::Cancelled { .. }) => StepStatus::Cancelled,
            Err(_) => StepStatus::Failed,
        };
        attempts.push(Attempt {
            number,
            started_at: attempt_started_at,
            duration: attempt_started.elapsed(),
            status,
            error: result.as_ref().err().map(|error| error_chain(error)),
        });
        match result {
            Err(error)
                if error.is_transient() && number < max_attempts && !cancel.is_cancelled() =>
            {
                let delay = step.retry.delay(number, fastrand::f64());
                tracing::warn!(target: crate::logging::EVENTS_TARGET, step = %step.id, attempt = number, "attempt failed, retrying in {delay:?}: {error}");
                let _ = events.send(RunEvent::StepRetrying {
                    id: step.id.clone(),
                    attempt: number,
                    max_attempts,
                    error: error_chain(&error),
                    delay,
                });
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = cancel.cancelled() => {
                        let cancelled = StepError::Cancelled { output_tail: error.output_tail().to_vec() };
                        break (StepStatus::Cancelled, Err(cancelled));
                    }
                }
                number += 1;
            }
            result => break (status, result),
        }
    };
    let (status, result) = outcome;
    let (rows, output_tail, details, error, failure) = match result {
        Ok(output) => (output.rows, output.output_tail, output.details, None, None),
        Err(error) => (
            None,
            error.output_tail().to_vec(),
            error.details(),
            Some(error_chain(&error)),
            (status != StepStatus::Cancelled).then(|| error.failure_kind()),
        ),
    };
    if let Some(error) = &error {
        // The error is the record's `exception`, as the monitoring table has it.
        tracing::error!(target: crate::logging::EVENTS_TARGET, step = %step.id, error = %error, "step `{}` {}", step.id, status.describe());
    }
    (
        step.id.clone(),
        StepResult {
            status,
            attempts,
            started_at,
            finished_at: Utc::now(),
            duration: started.elapsed(),
            error,
            failure,
            rows,
            output_tail,
            details,
        },
    )
}

/// One attempt, stopped by its timeout or by the run's cancellation.
async fn attempt(
    step: &StepSpec,
    executor: &dyn StepExecutor,
    context: &StepContext,
) -> Result<crate::steps::StepOutput, StepError> {
    let token = context.cancel.child_token();
    let context = StepContext {
        cancel: token.clone(),
        ..context.clone()
    };
    let work = executor.execute(step, &context);
    tokio::pin!(work);
    let Some(timeout) = step.timeout else {
        return work.await;
    };
    tokio::select! {
        result = &mut work => result,
        () = tokio::time::sleep(timeout) => {
            // Ask the step to stop and wait until it has: the work must really end.
            token.cancel();
            let output_tail = match work.await {
                Err(error) => error.output_tail().to_vec(),
                Ok(output) => output.output_tail,
            };
            Err(StepError::TimedOut { after: timeout, output_tail })
        }
    }
}
