//! The timeline: a Gantt chart of the run in SVG, one row per step in start order, each bar
//! from the step's start to its end measured from the start of the run. Steps that never
//! started follow as markers with the reason they were skipped.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{as_f64, escape, shorten, status_name};
use crate::report::step_lines::format_elapsed;
use crate::report::{RunRecord, StepRecord};
use crate::run::{StepSkip, StepStatus};

const LABEL_WIDTH: f64 = 190.0;
const CHART_WIDTH: f64 = 620.0;
/// Room right of the chart for the duration of a bar that ends at the end of the run.
const TEXT_WIDTH: f64 = 150.0;
const AXIS_HEIGHT: f64 = 28.0;
const ROW_HEIGHT: f64 = 26.0;
const BAR_HEIGHT: f64 = 16.0;
/// A step of a millisecond still shows.
const MIN_BAR_WIDTH: f64 = 2.0;
/// Characters of a step id that fit in the label column.
const LABEL_CHARACTERS: usize = 26;

/// A step that started, placed in seconds from the start of the run.
#[derive(Debug)]
struct Placed<'a> {
    step: &'a StepRecord,
    start: f64,
    end: f64,
}

/// The timeline of a run, or a note when it had no steps.
pub(super) fn render(record: &RunRecord) -> String {
    if record.steps.is_empty() {
        return super::empty("The run had no steps.");
    }
    let origin = origin(record);
    let mut placed: Vec<Placed<'_>> = Vec::new();
    let mut not_started: Vec<&StepRecord> = Vec::new();
    for step in &record.steps {
        match (origin, step.started_at) {
            (Some(origin), Some(started_at)) => placed.push(place(step, origin, started_at)),
            _ => not_started.push(step),
        }
    }
    // A stable sort: steps that started together keep the record's (plan) order.
    placed.sort_by(|left, right| left.start.total_cmp(&right.start));

    let span = placed
        .iter()
        .map(|step| step.end)
        .fold(record.duration.as_secs_f64(), f64::max);
    let interval = tick_interval(span);
    let extent = (span / interval).ceil().max(1.0) * interval;
    let scale = CHART_WIDTH / extent;

    let rows = placed.len() + not_started.len();
    let width = LABEL_WIDTH + CHART_WIDTH + TEXT_WIDTH;
    let height = AXIS_HEIGHT + ROW_HEIGHT * as_f64(rows) + 4.0;
    let mut svg = format!(
        "<svg class=\"timeline\" viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"Timeline of the run's steps\">\n"
    );
    stripes(&mut svg, rows);
    axis(&mut svg, interval, extent, scale, height);
    let mut top = AXIS_HEIGHT;
    for started in &placed {
        bar(&mut svg, started, scale, top);
        top += ROW_HEIGHT;
    }
    for step in not_started {
        marker(&mut svg, step, top);
        top += ROW_HEIGHT;
    }
    svg.push_str("</svg>\n");
    svg
}

/// When the run started: the run's own start, or its first step's if that is earlier (or
/// the run's start is unknown).
fn origin(record: &RunRecord) -> Option<DateTime<Utc>> {
    let first_step = record.steps.iter().filter_map(|step| step.started_at).min();
    match (record.started_at, first_step) {
        (Some(run), Some(step)) => Some(run.min(step)),
        (run, step) => run.or(step),
    }
}

fn place(step: &StepRecord, origin: DateTime<Utc>, started_at: DateTime<Utc>) -> Placed<'_> {
    let start = seconds_between(origin, started_at);
    let end = step.finished_at.map_or_else(
        || start + step.duration.as_secs_f64(),
        |finished_at| seconds_between(origin, finished_at),
    );
    Placed {
        step,
        start,
        end: end.max(start),
    }
}

/// Seconds from `earlier` to `later`; zero if `later` is not later.
fn seconds_between(earlier: DateTime<Utc>, later: DateTime<Utc>) -> f64 {
    later
        .signed_duration_since(earlier)
        .to_std()
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

/// A round interval between ticks (1, 2 or 5 times a power of ten seconds) that gives at
/// most about seven ticks over `span` seconds.
fn tick_interval(span: f64) -> f64 {
    if !span.is_finite() || span <= 0.0 {
        return 1.0;
    }
    let rough = span / 6.0;
    let magnitude = 10.0_f64.powf(rough.log10().floor());
    let normalized = rough / magnitude;
    let round = if normalized <= 1.0 {
        1.0
    } else if normalized <= 2.0 {
        2.0
    } else if normalized <= 5.0 {
        5.0
    } else {
        10.0
    };
    round * magnitude
}

/// A tick's time, with as many digits as the interval needs. The thresholds are a little
/// below the powers of ten they stand for: a computed interval may miss one by a rounding.
fn tick_label(seconds: f64, interval: f64) -> String {
    if interval >= 0.999 {
        format!("{seconds:.0}s")
    } else if interval >= 0.0999 {
        format!("{seconds:.1}s")
    } else if interval >= 0.000_999 {
        format!("{:.0}ms", seconds * 1_000.0)
    } else {
        format!("{:.3}ms", seconds * 1_000.0)
    }
}

/// Tick labels above the chart and light vertical lines down through the rows.
fn axis(svg: &mut String, interval: f64, extent: f64, scale: f64, height: f64) {
    svg.push_str("<g class=\"axis\">\n");
    let ticks = (0_u32..=100)
        .map(|index| f64::from(index) * interval)
        .take_while(|tick| *tick <= extent * (1.0 + 1e-9));
    for tick in ticks {
        let x = LABEL_WIDTH + tick * scale;
        let _ = writeln!(
            svg,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{height:.1}\"/>\
             <text class=\"tick\" x=\"{x:.1}\" y=\"{label:.1}\" text-anchor=\"middle\">{}</text>",
            tick_label(tick, interval),
            top = AXIS_HEIGHT - 6.0,
            label = AXIS_HEIGHT - 11.0,
        );
    }
    svg.push_str("</g>\n");
}

/// Every other row shaded, under the grid, so that a bar is easy to follow to its label.
fn stripes(svg: &mut String, rows: usize) {
    for row in (1..rows).step_by(2) {
        let _ = writeln!(
            svg,
            "<rect class=\"stripe\" x=\"0\" y=\"{:.1}\" width=\"{:.0}\" height=\"{ROW_HEIGHT:.0}\"/>",
            AXIS_HEIGHT + ROW_HEIGHT * as_f64(row),
            LABEL_WIDTH + CHART_WIDTH + TEXT_WIDTH
        );
    }
}

/// The step id at the left of a row.
fn label(svg: &mut String, step: &StepRecord, top: f64) {
    let _ = writeln!(
        svg,
        "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\"><title>{id} ({kind})</title>{}</text>",
        LABEL_WIDTH - 8.0,
        top + ROW_HEIGHT / 2.0 + 4.0,
        escape(&shorten(step.id.as_str(), LABEL_CHARACTERS)),
        id = escape(step.id.as_str()),
        kind = step.kind,
    );
}

/// A step that ran: its bar, coloured by status, and its duration. A bar of a step that did
/// not succeed links to its log.
fn bar(svg: &mut String, placed: &Placed<'_>, scale: f64, top: f64) {
    let step = placed.step;
    let id = escape(step.id.as_str());
    let status = status_name(step.status);
    let x = LABEL_WIDTH + placed.start * scale;
    let width = ((placed.end - placed.start) * scale).max(MIN_BAR_WIDTH);
    let mut text = format_elapsed(step.duration);
    if step.attempts.len() > 1 {
        let _ = write!(text, " ({} attempts)", step.attempts.len());
    }
    let has_log = super::shows_log(step);
    let _ = writeln!(svg, "<g class=\"row\" data-step=\"{id}\">");
    label(svg, step, top);
    if has_log {
        let _ = write!(svg, "<a href=\"#log-{id}\">");
    }
    let _ = write!(
        svg,
        "<rect class=\"bar\" data-step=\"{id}\" data-status=\"{status}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{BAR_HEIGHT:.0}\" rx=\"3\">\
         <title>{id}: {} after {text}</title></rect>",
        top + (ROW_HEIGHT - BAR_HEIGHT) / 2.0,
        step.status.map_or("not settled", StepStatus::describe),
    );
    if has_log {
        svg.push_str("</a>");
    }
    let _ = writeln!(
        svg,
        "\n<text class=\"duration\" x=\"{:.1}\" y=\"{:.1}\">{text}</text>\n</g>",
        x + width + 6.0,
        top + ROW_HEIGHT / 2.0 + 4.0,
    );
}

/// A step that never started: a diamond at the start of the chart and why it did not run.
fn marker(svg: &mut String, step: &StepRecord, top: f64) {
    let id = escape(step.id.as_str());
    let status = status_name(step.status);
    let reason = match (&step.skip, step.status) {
        (Some(skip), _) => format!("skipped: {}", StepSkip::describe(skip)),
        (None, Some(settled)) => settled.describe().to_owned(),
        (None, None) => "not settled: the run ended before it".to_owned(),
    };
    let middle = top + ROW_HEIGHT / 2.0;
    let _ = writeln!(svg, "<g class=\"row\" data-step=\"{id}\">");
    label(svg, step, top);
    let _ = writeln!(
        svg,
        "<g class=\"skip\" data-step=\"{id}\" data-status=\"{status}\">\
         <path d=\"M{:.1} {:.1}l6 6l-6 6l-6 -6z\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>\n</g>",
        LABEL_WIDTH + 6.0,
        middle - 6.0,
        LABEL_WIDTH + 18.0,
        middle + 4.0,
        escape(&reason),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_few() {
        for (span, expected) in [
            (2.45, 0.5),
            (6.0, 1.0),
            (7.0, 2.0),
            (100.0, 20.0),
            (0.004, 0.001),
            (0.0, 1.0),
        ] {
            let interval = tick_interval(span);
            assert!(
                (interval - expected).abs() < expected * 1e-9,
                "{span}: {interval}"
            );
        }
        assert_eq!(tick_label(1.5, 0.5), "1.5s");
        assert_eq!(tick_label(20.0, 5.0), "20s");
        assert_eq!(tick_label(0.002, 0.001), "2ms");
    }
}
