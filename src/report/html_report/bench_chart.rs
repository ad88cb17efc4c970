//! Each `bench` step against its baseline: a horizontal bar chart, a pair of bars per metric
//! (baseline, then this run) scaled to that metric alone, since milliseconds and rates share
//! no axis, and the same numbers as a table.

use std::fmt::Write as _;

use super::{as_f64, escape};
use crate::bench::{BenchReport, MetricReport, Verdict};
use crate::report::{RunRecord, bench_reports};
use crate::steps::format_metric;

const NAME_WIDTH: f64 = 230.0;
const BAR_WIDTH: f64 = 400.0;
/// Room right of a full bar for its value.
const VALUE_WIDTH: f64 = 110.0;
const CHANGE_WIDTH: f64 = 220.0;
const LEGEND_HEIGHT: f64 = 24.0;
const BAR_HEIGHT: f64 = 12.0;
const METRIC_HEIGHT: f64 = 38.0;

/// A chart and a table per `bench` step, or a note when none ran.
pub(super) fn render(record: &RunRecord) -> String {
    let reports = bench_reports(record);
    if reports.is_empty() {
        return super::empty("No bench step ran.");
    }
    let mut html = String::new();
    for (step, report) in &reports {
        let step = escape(step);
        let _ = writeln!(
            html,
            "<article class=\"bench\" data-step=\"{step}\">\n<h3>{step} <span class=\"meta\">{} on {} (connection <code>{}</code>), {} iterations after {} warm-up{}</span></h3>",
            escape(&report.workload),
            escape(&report.database_type),
            escape(&report.connection),
            report.iterations,
            report.warmup,
            if report.warmup == 1 { "" } else { "s" },
        );
        match (&report.baseline, report.baseline_updated) {
            (Some(baseline), true) => {
                let _ = writeln!(
                    html,
                    "<p class=\"meta\">This run recorded its measurement as the new baseline in <code>{}</code>.</p>",
                    escape(baseline)
                );
            }
            (None, _) => html.push_str(
                "<p class=\"meta\">No baseline file: the numbers are shown, not compared.</p>\n",
            ),
            (Some(_), false) => {}
        }
        chart(&mut html, &step, report);
        table(&mut html, &step, report);
        html.push_str("</article>\n");
    }
    html
}

/// The SVG chart of one step's metrics.
fn chart(html: &mut String, step: &str, report: &BenchReport) {
    let width = NAME_WIDTH + BAR_WIDTH + VALUE_WIDTH + CHANGE_WIDTH;
    let height = LEGEND_HEIGHT + METRIC_HEIGHT * as_f64(report.metrics.len()) + 4.0;
    let _ = writeln!(
        html,
        "<svg class=\"bench-chart\" data-step=\"{step}\" viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"Benchmark of {step} against its baseline\">\n\
         <g class=\"legend\"><rect class=\"legend-baseline\" x=\"{NAME_WIDTH:.0}\" y=\"4\" width=\"12\" height=\"12\"/><text x=\"{:.0}\" y=\"14\">baseline</text>\
         <rect class=\"legend-now\" x=\"{:.0}\" y=\"4\" width=\"12\" height=\"12\"/><text x=\"{:.0}\" y=\"14\">this run</text></g>",
        NAME_WIDTH + 18.0,
        NAME_WIDTH + 100.0,
        NAME_WIDTH + 118.0,
    );
    let mut top = LEGEND_HEIGHT;
    for metric in &report.metrics {
        metric_bars(html, metric, top);
        top += METRIC_HEIGHT;
    }
    html.push_str("</svg>\n");
}

/// One metric: its name, the baseline bar, this run's bar and the change.
fn metric_bars(html: &mut String, metric: &MetricReport, top: f64) {
    let name = escape(&metric.name);
    let largest = metric.baseline.unwrap_or(0.0).max(metric.now);
    let length = |value: f64| {
        if largest.is_finite() && largest > 0.0 && value > 0.0 {
            (value / largest * BAR_WIDTH).max(1.0)
        } else {
            0.0
        }
    };
    let baseline_top = top + 2.0;
    let now_top = baseline_top + BAR_HEIGHT + 2.0;
    let _ = writeln!(
        html,
        "<g class=\"metric\" data-metric=\"{name}\" data-verdict=\"{}\">\n\
         <text class=\"metric-name\" x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{name}</text>",
        verdict_key(metric.verdict),
        NAME_WIDTH - 8.0,
        now_top + 1.0,
    );
    let baseline_text = metric.baseline.map_or_else(
        || "no baseline".to_owned(),
        |value| format_metric(&metric.name, value),
    );
    bar(
        html,
        "baseline-bar",
        baseline_top,
        length(metric.baseline.unwrap_or(0.0)),
        &baseline_text,
    );
    let now_text = format_metric(&metric.name, metric.now);
    bar(html, "now-bar", now_top, length(metric.now), &now_text);
    let _ = writeln!(
        html,
        "<text class=\"change\" x=\"{:.0}\" y=\"{:.1}\">{}</text>\n</g>",
        NAME_WIDTH + BAR_WIDTH + VALUE_WIDTH,
        now_top + 1.0,
        escape(&change(metric)),
    );
}

/// A bar and its value, right of it.
fn bar(html: &mut String, class: &str, top: f64, length: f64, value: &str) {
    let value = escape(value);
    let _ = writeln!(
        html,
        "<rect class=\"{class}\" x=\"{NAME_WIDTH:.0}\" y=\"{top:.1}\" width=\"{length:.1}\" height=\"{BAR_HEIGHT:.0}\" rx=\"2\"><title>{value}</title></rect>\
         <text class=\"value\" x=\"{:.1}\" y=\"{:.1}\">{value}</text>",
        NAME_WIDTH + length + 6.0,
        top + BAR_HEIGHT - 2.0,
    );
}

/// `+12.3% · pass (±20%)`: the change and what it means.
fn change(metric: &MetricReport) -> String {
    let verdict = match (metric.verdict, metric.tolerance_percent) {
        (Verdict::Pass | Verdict::Regressed, Some(tolerance)) => {
            format!("{} (±{tolerance}%)", metric.verdict.name())
        }
        (verdict, _) => verdict.name().to_owned(),
    };
    match metric.change_percent {
        Some(change) => format!("{change:+.1}% · {verdict}"),
        None => verdict,
    }
}

/// The numbers of the chart, for reading and copying.
fn table(html: &mut String, step: &str, report: &BenchReport) {
    let _ = writeln!(
        html,
        "<table class=\"bench-table\" data-step=\"{step}\">\n<thead><tr><th>metric</th><th>baseline</th><th>this run</th><th>change</th><th>tolerance</th><th>verdict</th></tr></thead>\n<tbody>"
    );
    for metric in &report.metrics {
        let _ = writeln!(
            html,
            "<tr class=\"metric-row\" data-metric=\"{}\" data-verdict=\"{}\"><td>{}</td><td class=\"number\">{}</td><td class=\"number\">{}</td><td class=\"number\">{}</td><td class=\"number\">{}</td><td class=\"verdict\">{}</td></tr>",
            escape(&metric.name),
            verdict_key(metric.verdict),
            escape(&metric.name),
            metric.baseline.map_or_else(
                || "-".to_owned(),
                |value| format_metric(&metric.name, value)
            ),
            format_metric(&metric.name, metric.now),
            metric
                .change_percent
                .map_or_else(|| "-".to_owned(), |change| format!("{change:+.1}%")),
            metric
                .tolerance_percent
                .map_or_else(|| "-".to_owned(), |tolerance| format!("±{tolerance}%")),
            metric.verdict.name(),
        );
    }
    html.push_str("</tbody>\n</table>\n");
}

/// A verdict as `data-verdict` spells it: the serialized name, lowercase.
fn verdict_key(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "pass",
        Verdict::Regressed => "regressed",
        Verdict::Info => "info",
        Verdict::New => "new",
    }
}
