//! Plain progress: one line per step start and end, for CI logs and pipes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::pipeline::StepId;
use crate::report::console::write_stderr;
use crate::report::step_lines::ProgressFigures;
use crate::report::{Reporter, step_lines};
use crate::run::{RunEvent, StepSkip};

/// How often a long step's progress is printed.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(10);

/// When a step (or a part of it) first and last reported progress, and how far it was then
/// (a resumed copy starts past zero: the rate counts from there).
#[derive(Debug, Clone, Copy)]
struct ProgressClock {
    first: Instant,
    first_done: u64,
    printed: Instant,
}

/// Writes one line per event to stderr, and a progress line every ten seconds for each
/// step (or table) that reports progress.
#[derive(Debug)]
pub struct LinesReporter {
    color: bool,
    /// Also show steps the plan skips (not selected, disabled).
    verbose: bool,
    /// Print the steps' output lines (GitHub Actions shows them grouped instead).
    step_output: bool,
    progress: HashMap<(StepId, Option<String>), ProgressClock>,
    interval: Duration,
}

impl LinesReporter {
    pub fn new(color: bool, verbose: bool) -> Self {
        Self {
            color,
            verbose,
            step_output: true,
            progress: HashMap::new(),
            interval: PROGRESS_INTERVAL,
        }
    }

    /// Leaves the steps' output lines to another reporter.
    #[must_use]
    pub fn without_step_output(mut self) -> Self {
        self.step_output = false;
        self
    }

    /// Prints progress at most once per `interval` (tests use a short one).
    #[must_use]
    pub fn with_progress_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    fn line(text: &str) {
        write_stderr(format!("{text}\n").as_bytes());
    }
}

impl Reporter for LinesReporter {
    fn report(&mut self, event: &RunEvent) {
        let color = self.color;
        match event {
            RunEvent::RunStarted {
                run_id,
                pipeline,
                steps,
                ..
            } => Self::line(&step_lines::run_started(
                pipeline,
                &run_id.to_string(),
                *steps,
                color,
            )),
            RunEvent::StepStarted {
                id,
                attempt,
                max_attempts,
                ..
            } => Self::line(&step_lines::step_started(
                id,
                *attempt,
                *max_attempts,
                color,
            )),
            RunEvent::StepRetrying {
                id,
                attempt,
                max_attempts,
                error,
                delay,
            } => Self::line(&step_lines::step_retrying(
                id,
                *attempt,
                *max_attempts,
                error,
                *delay,
                color,
            )),
            RunEvent::StepFinished { id, result } => {
                self.progress.retain(|(step, _), _| step != id);
                Self::line(&step_lines::step_finished(id, result, color));
            }
            RunEvent::StepSkipped { id, skip } => {
                if self.verbose || !matches!(skip, StepSkip::Planned { .. }) {
                    Self::line(&step_lines::step_skipped(id, skip, color));
                }
            }
            RunEvent::StepOutput { id, line, .. } => {
                if self.step_output {
                    Self::line(&step_lines::step_output(id, line, color));
                }
            }
            RunEvent::Cancelling => Self::line(&step_lines::cancelling(color)),
            RunEvent::RunFinished {
                status,
                duration,
                counts,
            } => Self::line(&step_lines::run_finished(
                *status, *duration, *counts, color,
            )),
            RunEvent::StepProgress {
                id,
                part,
                done,
                total,
                unit,
            } => {
                let now = Instant::now();
                let clock =
                    self.progress
                        .entry((id.clone(), part.clone()))
                        .or_insert(ProgressClock {
                            first: now,
                            first_done: *done,
                            printed: now,
                        });
                if now.duration_since(clock.printed) >= self.interval {
                    clock.printed = now;
                    let elapsed = now.duration_since(clock.first).as_secs_f64();
                    let figures = ProgressFigures {
                        done: *done,
                        total: *total,
                        unit,
                        rate: if elapsed > 0.0 {
                            crate::values::approximate(done.saturating_sub(clock.first_done))
                                / elapsed
                        } else {
                            0.0
                        },
                    };
                    Self::line(&step_lines::step_progress(
                        id,
                        part.as_deref(),
                        &figures,
                        color,
                    ));
                }
            }
        }
    }
}
