//! `render_text`: a manifest diff for a terminal. One section per part of the manifest, one
//! line per change, marked `+` added, `-` removed, `→` renamed, `~` changed.

use std::fmt::Write as _;

use crate::pipeline::StepId;
use crate::review::key_change::{KeyChange, shown_value};
use crate::review::manifest_diff::ManifestDiff;

/// Lines of a text diff shown before the rest is elided; `--format json` has them all.
const MAX_DIFF_LINES: usize = 20;

/// The diff for a terminal, or `no semantic changes`.
pub fn render_text(diff: &ManifestDiff) -> String {
    if diff.is_empty() {
        return "no semantic changes\n".to_owned();
    }
    let mut output = format!("pipeline `{}`: {}\n", diff.name, diff.summary());
    pipeline_section(&mut output, diff);
    connections_section(&mut output, diff);
    steps_section(&mut output, diff);
    dependencies_section(&mut output, diff);
    if !diff.affected.is_empty() {
        let names: Vec<&str> = diff.affected.iter().map(StepId::as_str).collect();
        let _ = write!(
            output,
            "\nwill run differently, in order:\n  {}\n",
            names.join(", ")
        );
    }
    // Context lines of an empty line end with a space; no line ends with one.
    output
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn pipeline_section(output: &mut String, diff: &ManifestDiff) {
    if diff.pipeline.is_empty() {
        return;
    }
    output.push_str("\npipeline\n");
    for change in &diff.pipeline {
        write_key_change(output, change, "  ~ ");
    }
}

fn connections_section(output: &mut String, diff: &ManifestDiff) {
    let connections = &diff.connections;
    if connections.is_empty() {
        return;
    }
    output.push_str("\nconnections\n");
    for connection in &connections.added {
        let _ = writeln!(
            output,
            "  + {}  {}  {}",
            connection.name, connection.driver, connection.url
        );
    }
    for connection in &connections.removed {
        let _ = writeln!(
            output,
            "  - {}  {}  {}",
            connection.name, connection.driver, connection.url
        );
    }
    for connection in &connections.changed {
        let _ = writeln!(output, "  ~ {}", connection.name);
        for change in &connection.changes {
            write_key_change(output, change, "      ");
        }
    }
}

fn steps_section(output: &mut String, diff: &ManifestDiff) {
    let steps = &diff.steps;
    if steps.is_empty() {
        return;
    }
    output.push_str("\nsteps\n");
    for step in &steps.added {
        let _ = writeln!(output, "  + {}  {}  {}", step.id, step.kind, step.summary);
    }
    for step in &steps.removed {
        let _ = writeln!(output, "  - {}  {}  {}", step.id, step.kind, step.summary);
    }
    for rename in &steps.renamed {
        let _ = writeln!(
            output,
            "  → {} → {}  {}",
            rename.old_id, rename.new_id, rename.kind
        );
        for change in &rename.changes {
            write_key_change(output, change, "      ");
        }
    }
    for step in &steps.changed {
        let _ = write!(output, "  ~ {}  {}", step.id, step.kind);
        if !step.runs_differently {
            output.push_str("  (description only: runs as before)");
        }
        output.push('\n');
        for change in &step.changes {
            write_key_change(output, change, "      ");
        }
    }
}

fn dependencies_section(output: &mut String, diff: &ManifestDiff) {
    let dependencies = &diff.dependencies;
    if dependencies.is_empty() {
        return;
    }
    output.push_str("\ndependencies\n");
    for edge in &dependencies.added {
        let _ = writeln!(output, "  + {edge}");
    }
    for edge in &dependencies.removed {
        let _ = writeln!(output, "  - {edge}");
    }
}

/// `key: old → new`, or for text of several lines the count of lines and the diff itself.
fn write_key_change(output: &mut String, change: &KeyChange, prefix: &str) {
    if let Some(text) = &change.text {
        let _ = writeln!(
            output,
            "{prefix}{}: +{} -{} lines",
            change.key, text.inserted, text.deleted
        );
        let indent = " ".repeat(prefix.chars().count() + 2);
        let lines: Vec<&str> = text.unified.lines().collect();
        for line in lines.iter().take(MAX_DIFF_LINES) {
            let _ = writeln!(output, "{indent}{line}");
        }
        if lines.len() > MAX_DIFF_LINES {
            let _ = writeln!(
                output,
                "{indent}… {} more lines of diff",
                lines.len() - MAX_DIFF_LINES
            );
        }
        return;
    }
    let _ = write!(
        output,
        "{prefix}{}: {} → {}",
        change.key,
        shown_value(change.old.as_ref()),
        shown_value(change.new.as_ref())
    );
    if let Some(note) = &change.note {
        let _ = write!(output, "  ({note})");
    }
    output.push('\n');
}
