//! Progress bars on a terminal: one for the run, one per running step.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::pipeline::StepId;
use crate::report::console::set_active_bars;
use crate::report::{Reporter, step_lines};
use crate::run::{RunEvent, StepSkip};

/// Draws indicatif bars on stderr; finished steps are printed as lines above them.
#[derive(Debug)]
pub struct BarsReporter {
    color: bool,
    verbose: bool,
    multi: MultiProgress,
    overall: ProgressBar,
    steps: HashMap<StepId, ProgressBar>,
    /// A bar per part of a step (a table of a transform), with rate and time left, and when
    /// and where it started (a resumed copy starts past zero).
    parts: HashMap<(StepId, String), (ProgressBar, std::time::Instant, u64)>,
}

impl BarsReporter {
    pub fn new(color: bool, verbose: bool) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template("{prefix:>5} [{bar:30}] {pos}/{len} steps  {elapsed}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        overall.set_prefix("run");
        overall.enable_steady_tick(Duration::from_millis(200));
        set_active_bars(Some(multi.clone()));
        Self {
            color,
            verbose,
            multi,
            overall,
            steps: HashMap::new(),
            parts: HashMap::new(),
        }
    }

    /// The bar of a part, made on its first report; shows `done` of `total` with the rate
    /// since then and the time left at that rate.
    fn part_progress(
        &mut self,
        id: &StepId,
        part: &str,
        done: u64,
        total: Option<u64>,
        unit: &str,
    ) {
        let key = (id.clone(), part.to_owned());
        if !self.parts.contains_key(&key) {
            let anchor = self.steps.get(id).unwrap_or(&self.overall);
            let bar = self.multi.insert_after(anchor, ProgressBar::new(0));
            bar.set_style(
                ProgressStyle::with_template(
                    "    {prefix}  [{bar:25}] {human_pos}/~{human_len} {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(part.to_owned());
            self.parts
                .insert(key.clone(), (bar, std::time::Instant::now(), done));
        }
        let (bar, started, first_done) = &self.parts[&key];
        // A catalog's estimate can be short of the real count.
        let total = total.unwrap_or(0).max(done);
        bar.set_length(total);
        bar.set_position(done);
        let elapsed = started.elapsed().as_secs_f64();
        let rate = if elapsed > 0.5 {
            crate::values::approximate(done.saturating_sub(*first_done)) / elapsed
        } else {
            0.0
        };
        let mut message = unit.to_owned();
        if rate > 0.0 {
            let left = crate::values::approximate(total.saturating_sub(done)) / rate;
            message = format!(
                "{unit}  {:.0} {unit}/s  ETA {}",
                rate,
                step_lines::format_elapsed(Duration::from_secs_f64(left))
            );
        }
        bar.set_message(message);
    }

    fn println(&self, text: &str) {
        let _ = self.multi.println(text);
    }

    fn spinner(&self, id: &StepId) -> ProgressBar {
        let bar = self
            .multi
            .insert_before(&self.overall, ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix}  {msg}  {elapsed}")
                .expect("a valid template"),
        );
        bar.set_prefix(id.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }
}

impl Reporter for BarsReporter {
    fn report(&mut self, event: &RunEvent) {
        let color = self.color;
        match event {
            RunEvent::RunStarted {
                run_id,
                pipeline,
                steps,
                ..
            } => {
                self.overall.set_length(*steps as u64);
                self.println(&step_lines::run_started(
                    pipeline,
                    &run_id.to_string(),
                    *steps,
                    color,
                ));
            }
            RunEvent::StepStarted {
                id,
                kind,
                attempt,
                max_attempts,
            } => {
                if !self.steps.contains_key(id) {
                    let bar = self.spinner(id);
                    self.steps.insert(id.clone(), bar);
                }
                let bar = &self.steps[id];
                let attempt = if *attempt > 1 {
                    format!(" (attempt {attempt} of {max_attempts})")
                } else {
                    String::new()
                };
                bar.set_message(format!("{kind}{attempt}"));
            }
            RunEvent::StepProgress {
                id,
                part: Some(part),
                done,
                total,
                unit,
            } => {
                self.part_progress(id, part, *done, *total, unit);
            }
            RunEvent::StepProgress {
                id,
                part: None,
                done,
                total,
                unit,
            } => {
                if let Some(bar) = self.steps.get(id) {
                    match total {
                        Some(total) => bar.set_message(format!("{done}/{total} {unit}")),
                        None => bar.set_message(format!("{done} {unit}")),
                    }
                }
            }
            RunEvent::StepRetrying {
                id,
                attempt,
                max_attempts,
                error,
                delay,
            } => {
                if let Some(bar) = self.steps.get(id) {
                    bar.set_message(format!(
                        "retrying in {}",
                        step_lines::format_elapsed(*delay)
                    ));
                }
                self.println(&step_lines::step_retrying(
                    id,
                    *attempt,
                    *max_attempts,
                    error,
                    *delay,
                    color,
                ));
            }
            RunEvent::StepFinished { id, result } => {
                let finished: Vec<(StepId, String)> = self
                    .parts
                    .keys()
                    .filter(|(step, _)| step == id)
                    .cloned()
                    .collect();
                for key in finished {
                    if let Some((bar, _, _)) = self.parts.remove(&key) {
                        bar.finish_and_clear();
                        self.multi.remove(&bar);
                    }
                }
                if let Some(bar) = self.steps.remove(id) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                self.overall.inc(1);
                self.println(&step_lines::step_finished(id, result, color));
            }
            RunEvent::StepSkipped { id, skip } => {
                if !matches!(skip, StepSkip::Planned { .. }) {
                    self.overall.inc(1);
                }
                if self.verbose || !matches!(skip, StepSkip::Planned { .. }) {
                    self.println(&step_lines::step_skipped(id, skip, color));
                }
            }
            RunEvent::StepOutput { id, line, .. } => {
                self.println(&step_lines::step_output(id, line, color));
            }
            RunEvent::Cancelling => self.println(&step_lines::cancelling(color)),
            RunEvent::RunFinished {
                status,
                duration,
                counts,
            } => {
                self.overall.finish_and_clear();
                self.multi.remove(&self.overall);
                set_active_bars(None);
                crate::report::console::write_stderr(
                    format!(
                        "{}\n",
                        step_lines::run_finished(*status, *duration, *counts, color)
                    )
                    .as_bytes(),
                );
            }
        }
    }
}

impl Drop for BarsReporter {
    fn drop(&mut self) {
        set_active_bars(None);
    }
}
