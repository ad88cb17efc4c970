//! The lines people read while a run goes: the same words for plain output and above the bars.

use std::fmt::Write as _;
use std::time::Duration;

use crate::pipeline::StepId;
use crate::report::console::{Style, paint};
use crate::run::{RunStatus, StepCounts, StepResult, StepSkip, StepStatus};
use crate::values::approximate;

/// A duration the way a person reads it: `45ms`, `1.20s`, `2m03s`, `1h02m`.
pub fn format_elapsed(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1_000 {
        format!("{millis}ms")
    } else if millis < 60_000 {
        format!("{:.2}s", duration.as_secs_f64())
    } else if millis < 3_600_000 {
        format!("{}m{:02}s", millis / 60_000, (millis / 1_000) % 60)
    } else {
        format!("{}h{:02}m", millis / 3_600_000, (millis / 60_000) % 60)
    }
}

/// The status word in a fixed-width column, so step ids line up.
fn word(text: &str, style: Style, color: bool) -> String {
    paint(&format!("{text:>5}"), style, color)
}

pub fn run_started(pipeline: &str, run_id: &str, steps: usize, color: bool) -> String {
    format!(
        "{} `{pipeline}`: {steps} {} to run (run {run_id})",
        paint("run", Style::Bold, color),
        if steps == 1 { "step" } else { "steps" }
    )
}

pub fn step_started(id: &StepId, attempt: u32, max_attempts: u32, color: bool) -> String {
    let mut line = format!("{}  {id}", word("start", Style::Dim, color));
    if attempt > 1 {
        let _ = write!(line, " (attempt {attempt} of {max_attempts})");
    }
    line
}

pub fn step_retrying(
    id: &StepId,
    attempt: u32,
    max_attempts: u32,
    error: &str,
    delay: Duration,
    color: bool,
) -> String {
    format!(
        "{}  {id}  attempt {attempt} of {max_attempts} failed, next in {}: {}",
        word("retry", Style::Warning, color),
        format_elapsed(delay),
        error.lines().next().unwrap_or_default()
    )
}

pub fn step_finished(id: &StepId, result: &StepResult, color: bool) -> String {
    let (text, style) = match result.status {
        StepStatus::Succeeded => ("ok", Style::Success),
        StepStatus::Failed => ("FAIL", Style::Failure),
        StepStatus::TimedOut => ("TIME", Style::Failure),
        StepStatus::Cancelled => ("stop", Style::Warning),
        StepStatus::Skipped => ("skip", Style::Warning),
    };
    let mut line = format!(
        "{}  {id}  {}",
        word(text, style, color),
        format_elapsed(result.duration)
    );
    if let Some(rows) = result.rows {
        let _ = write!(line, "  {rows} rows");
    }
    if result.attempts.len() > 1 {
        let _ = write!(line, "  ({} attempts)", result.attempts.len());
    }
    if let Some(error) = &result.error {
        let mut lines = error.lines();
        let _ = write!(line, "  {}", lines.next().unwrap_or_default());
        for detail in lines {
            let _ = write!(line, "\n       {} {detail}", paint("|", Style::Dim, color));
        }
    }
    line
}

/// A line a step printed, prefixed with the step's id so that parallel output stays readable.
/// Progress of a step (or of one part of it, a table), for plain output: counts, rate and
/// time left when the total is known.
pub fn step_progress(
    id: &StepId,
    part: Option<&str>,
    progress: &ProgressFigures,
    color: bool,
) -> String {
    let mut line = format!("{}  {id}", word("...", Style::Dim, color));
    if let Some(part) = part {
        let _ = write!(line, " {part}");
    }
    let _ = write!(line, ": {} {}", progress.done, progress.unit);
    if let Some(total) = progress.total {
        let percent = if total == 0 {
            100.0
        } else {
            approximate(progress.done) * 100.0 / approximate(total)
        };
        let _ = write!(line, " of ~{total} ({percent:.0}%)");
    }
    if progress.rate > 0.0 {
        let _ = write!(line, ", {:.0} {}/s", progress.rate, progress.unit);
        if let Some(total) = progress.total
            && total > progress.done
        {
            let left = Duration::from_secs_f64(approximate(total - progress.done) / progress.rate);
            let _ = write!(line, ", about {} left", format_elapsed(left));
        }
    }
    line
}

/// What a progress line says.
#[derive(Debug, Clone, Copy)]
pub struct ProgressFigures {
    pub done: u64,
    pub total: Option<u64>,
    pub unit: &'static str,
    /// Per second, since the first report.
    pub rate: f64,
}

pub fn step_output(id: &StepId, line: &str, color: bool) -> String {
    format!("{} {line}", paint(&format!("{id:>5} |"), Style::Dim, color))
}

pub fn step_skipped(id: &StepId, skip: &StepSkip, color: bool) -> String {
    format!(
        "{}  {id}  {}",
        word("skip", Style::Warning, color),
        skip.describe()
    )
}

pub fn cancelling(color: bool) -> String {
    format!(
        "{}  cancelling: stopping running steps (press Ctrl-C again to kill them at once)",
        word("stop", Style::Warning, color)
    )
}

pub fn run_finished(
    status: RunStatus,
    duration: Duration,
    counts: StepCounts,
    color: bool,
) -> String {
    let style = match status {
        RunStatus::Succeeded => Style::Success,
        RunStatus::Failed => Style::Failure,
        RunStatus::Cancelled => Style::Warning,
    };
    let mut line = format!(
        "{} {} in {}: {} succeeded, {} failed",
        paint("run", Style::Bold, color),
        paint(status.name(), style, color),
        format_elapsed(duration),
        counts.succeeded,
        counts.failed,
    );
    if counts.cancelled > 0 {
        let _ = write!(line, ", {} cancelled", counts.cancelled);
    }
    let _ = write!(line, ", {} skipped", counts.skipped);
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_times_read_naturally() {
        for (millis, expected) in [
            (0, "0ms"),
            (45, "45ms"),
            (1_200, "1.20s"),
            (59_994, "59.99s"),
            (123_000, "2m03s"),
            (3_720_000, "1h02m"),
        ] {
            assert_eq!(format_elapsed(Duration::from_millis(millis)), expected);
        }
    }

    #[test]
    fn progress_lines_give_counts_rate_and_time_left() {
        let id = StepId::new("copy_bars");
        let line = step_progress(
            &id,
            Some("daily_bars"),
            &ProgressFigures {
                done: 250_000,
                total: Some(1_000_000),
                unit: "rows",
                rate: 50_000.0,
            },
            false,
        );
        assert_eq!(
            line,
            "  ...  copy_bars daily_bars: 250000 rows of ~1000000 (25%), 50000 rows/s, about 15.00s left"
        );
        let unknown = step_progress(
            &id,
            None,
            &ProgressFigures {
                done: 10,
                total: None,
                unit: "rows",
                rate: 0.0,
            },
            false,
        );
        assert_eq!(unknown, "  ...  copy_bars: 10 rows");
    }
}
