//! Every check of the `validate` steps, one table per step, with the failing rows a check
//! sampled: the same fields as the run report's `details.checks` (docs/reports.md).

use std::fmt::Write as _;

use serde_json::Value;

use super::escape;
use crate::report::{RunRecord, StepRecord};

/// The check tables of a run, or a note when no `validate` step ran.
pub(super) fn render(record: &RunRecord) -> String {
    let mut html = String::new();
    for step in &record.steps {
        let Some(details) = step.details.as_ref() else {
            continue;
        };
        if let Some(checks) = details.get("checks").and_then(Value::as_array) {
            step_table(&mut html, step, details, checks);
        }
    }
    if html.is_empty() {
        return super::empty("No validate step ran.");
    }
    html
}

/// A text field of a check, empty when absent.
fn text<'a>(check: &'a Value, key: &str) -> &'a str {
    check.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn step_table(html: &mut String, step: &StepRecord, details: &Value, checks: &[Value]) {
    let id = escape(step.id.as_str());
    let subject = ["table", "query"]
        .iter()
        .find_map(|key| details.get(*key).and_then(Value::as_str))
        .map(|subject| format!(" on <code>{}</code>", escape(subject)))
        .unwrap_or_default();
    let _ = writeln!(
        html,
        "<article class=\"checks\" data-step=\"{id}\">\n<h3>{id}<span class=\"meta\">{subject} — {}</span></h3>\n\
         <table class=\"check-table\" data-step=\"{id}\">\n\
         <thead><tr><th>check</th><th>kind</th><th>severity</th><th>status</th><th>rows</th><th>message</th></tr></thead>\n<tbody>",
        escape(&tally(checks)),
    );
    for check in checks {
        row(html, &id, check);
    }
    html.push_str("</tbody>\n</table>\n</article>\n");
}

/// `1 passed, 1 warned`, in the order the statuses first appear.
fn tally(checks: &[Value]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for check in checks {
        let status = text(check, "status");
        match counts.iter_mut().find(|(name, _)| *name == status) {
            Some((_, count)) => *count += 1,
            None => counts.push((status, 1)),
        }
    }
    counts
        .iter()
        .map(|(status, count)| format!("{count} {status}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One check: `id` is the step's id, already escaped.
fn row(html: &mut String, id: &str, check: &Value) {
    let name = escape(text(check, "name"));
    let status = escape(text(check, "status"));
    let rows = match (
        check.get("failing_rows").and_then(Value::as_u64),
        check.get("rows_checked").and_then(Value::as_u64),
    ) {
        (Some(failing), Some(checked)) => format!("{failing} of {checked} failing"),
        (Some(failing), None) => format!("{failing} failing"),
        (None, Some(checked)) => format!("{checked} checked"),
        (None, None) => "-".to_owned(),
    };
    let _ = write!(
        html,
        "<tr class=\"check\" data-step=\"{id}\" data-check=\"{name}\" data-status=\"{status}\">\
         <td class=\"name\">{name}</td><td>{}</td><td>{}</td><td class=\"status\">{status}</td>\
         <td class=\"number\">{rows}</td><td class=\"message\">{}",
        escape(text(check, "kind")),
        escape(text(check, "severity")),
        escape(text(check, "message")),
    );
    differences(html, check);
    samples(html, check);
    html.push_str("</td></tr>\n");
}

/// What a `reconcile` check found different, when it ran.
fn differences(html: &mut String, check: &Value) {
    let Some(differences) = check.get("differences").filter(|value| value.is_object()) else {
        return;
    };
    let count = |key: &str| differences.get(key).and_then(Value::as_u64).unwrap_or(0);
    let _ = write!(
        html,
        "<div class=\"differences\">only here: {}, only there: {}, changed: {}</div>",
        count("only_here"),
        count("only_there"),
        count("changed"),
    );
}

/// The failing rows a check sampled: a table of their columns, or their JSON text when they
/// are not rows.
fn samples(html: &mut String, check: &Value) {
    let samples = check
        .get("samples")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if samples.is_empty() {
        return;
    }
    let _ = write!(
        html,
        "<details class=\"samples\" open><summary>{} failing {} (sample)</summary>",
        samples.len(),
        if samples.len() == 1 { "row" } else { "rows" }
    );
    if samples.iter().all(Value::is_object) {
        rows_table(html, samples);
    } else {
        let lines: Vec<String> = samples.iter().map(ToString::to_string).collect();
        let _ = write!(html, "<pre>{}</pre>", escape(&lines.join("\n")));
    }
    html.push_str("</details>");
}

/// Sampled rows as a table, columns in the order they first appear.
fn rows_table(html: &mut String, samples: &[Value]) {
    let mut columns: Vec<&str> = Vec::new();
    for sample in samples.iter().filter_map(Value::as_object) {
        for column in sample.keys() {
            if !columns.contains(&column.as_str()) {
                columns.push(column);
            }
        }
    }
    html.push_str("<table class=\"samples\"><thead><tr>");
    for column in &columns {
        let _ = write!(html, "<th>{}</th>", escape(column));
    }
    html.push_str("</tr></thead><tbody>");
    for sample in samples {
        html.push_str("<tr>");
        for column in &columns {
            match sample.get(*column) {
                Some(Value::String(value)) => {
                    let _ = write!(html, "<td>{}</td>", escape(value));
                }
                Some(Value::Null) | None => {
                    html.push_str("<td><span class=\"null\">NULL</span></td>");
                }
                Some(other) => {
                    let _ = write!(html, "<td>{}</td>", escape(&other.to_string()));
                }
            }
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
}
