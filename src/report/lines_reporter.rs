//! Plain progress: one line per step start and end, for CI logs and pipes.

use crate::report::console::write_stderr;
use crate::report::{Reporter, step_lines};
use crate::run::{RunEvent, StepSkip};

/// Writes one line per event to stderr.
#[derive(Debug)]
pub struct LinesReporter {
    color: bool,
    /// Also show steps the plan skips (not selected, disabled).
    verbose: bool,
}

impl LinesReporter {
    pub fn new(color: bool, verbose: bool) -> Self {
        Self { color, verbose }
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
                Self::line(&step_lines::step_finished(id, result, color));
            }
            RunEvent::StepSkipped { id, skip } => {
                if self.verbose || !matches!(skip, StepSkip::Planned { .. }) {
                    Self::line(&step_lines::step_skipped(id, skip, color));
                }
            }
            RunEvent::StepOutput { id, line, .. } => {
                Self::line(&step_lines::step_output(id, line, color));
            }
            RunEvent::Cancelling => Self::line(&step_lines::cancelling(color)),
            RunEvent::RunFinished {
                status,
                duration,
                counts,
            } => Self::line(&step_lines::run_finished(
                *status, *duration, *counts, color,
            )),
            RunEvent::StepProgress { .. } => {}
        }
    }
}
