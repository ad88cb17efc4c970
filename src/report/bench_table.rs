//! The comparison of a run's `bench` steps with their baselines, as a table: plain text at
//! the end of the run, Markdown for a pull request.

use std::fmt::Write as _;

use crate::bench::{BenchReport, Verdict};
use crate::report::RunRecord;
use crate::steps::format_metric;

/// The `bench` reports of a run's steps, by step id, in run order.
pub fn bench_reports(record: &RunRecord) -> Vec<(String, BenchReport)> {
    record
        .steps
        .iter()
        .filter_map(|step| {
            let report = step.details.as_ref()?.get("bench")?;
            let report: BenchReport = serde_json::from_value(report.clone()).ok()?;
            Some((step.id.to_string(), report))
        })
        .collect()
}

const HEADER: [&str; 7] = [
    "step", "engine", "metric", "baseline", "now", "change", "verdict",
];

fn rows(reports: &[(String, BenchReport)]) -> Vec<[String; 7]> {
    let mut rows = Vec::new();
    for (step, report) in reports {
        for metric in &report.metrics {
            let verdict = match (metric.verdict, metric.tolerance_percent) {
                (Verdict::Pass | Verdict::Regressed, Some(tolerance)) => {
                    format!("{} (±{tolerance}%)", metric.verdict.name())
                }
                _ => metric.verdict.name().to_owned(),
            };
            rows.push([
                step.clone(),
                report.database_type.clone(),
                metric.name.clone(),
                metric.baseline.map_or_else(
                    || "-".to_owned(),
                    |value| format_metric(&metric.name, value),
                ),
                format_metric(&metric.name, metric.now),
                metric
                    .change_percent
                    .map_or_else(|| "-".to_owned(), |change| format!("{change:+.1}%")),
                verdict,
            ]);
        }
    }
    rows
}

/// An aligned plain-text table.
pub fn render_bench_text(reports: &[(String, BenchReport)]) -> String {
    let rows = rows(reports);
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let mut write_row = |cells: &[&str]| {
        let mut line = String::new();
        for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
            // Names left, numbers right.
            if (3..=5).contains(&index) {
                let _ = write!(line, "{cell:>width$}  ");
            } else {
                let _ = write!(line, "{cell:<width$}  ");
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    };
    write_row(&HEADER);
    for row in &rows {
        write_row(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    text
}

/// A Markdown table, for a pull request comment or a CI summary.
pub fn render_bench_markdown(reports: &[(String, BenchReport)]) -> String {
    let mut text = String::from("## Benchmarks\n\n");
    let regressions = reports
        .iter()
        .flat_map(|(_, report)| report.regressions())
        .count();
    let _ = writeln!(
        text,
        "{}\n",
        if regressions == 0 {
            "No regression beyond tolerance.".to_owned()
        } else {
            format!("**{regressions} metric(s) regressed beyond their tolerance.**")
        }
    );
    let _ = writeln!(text, "| {} |", HEADER.join(" | "));
    let _ = writeln!(text, "|---|---|---|---:|---:|---:|---|");
    for row in rows(reports) {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(index, cell)| {
                let cell = cell.replace('|', "\\|");
                if index == 6 && cell.starts_with("REGRESSED") {
                    format!("**{cell}**")
                } else {
                    cell
                }
            })
            .collect();
        let _ = writeln!(text, "| {} |", cells.join(" | "));
    }
    text
}
