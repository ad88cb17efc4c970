//! `render_markdown`: a manifest diff as a pull-request comment. A summary line, tables of
//! the changes, text diffs folded away, and the new graph in Mermaid with what changed
//! coloured.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::graph::{GraphFormat, StepGraph, render_graph};
use crate::pipeline::{Pipeline, StepId};
use crate::review::key_change::{KeyChange, shown_value};
use crate::review::manifest_diff::ManifestDiff;

/// Mermaid classes of the steps in the graph, and how GitHub should draw them: added green,
/// changed or renamed amber, downstream of a change light blue.
const NODE_CLASSES: [(&str, &str); 3] = [
    ("added", "fill:#dafbe1,stroke:#1a7f37,color:#1f2328"),
    ("changed", "fill:#fff8c5,stroke:#9a6700,color:#1f2328"),
    ("affected", "fill:#ddf4ff,stroke:#0969da,color:#1f2328"),
];

/// The diff as Markdown for a pull-request comment, with the graph of the new version.
pub fn render_markdown(
    diff: &ManifestDiff,
    new_pipeline: &Pipeline,
    new_graph: &StepGraph,
) -> String {
    let mut output = format!("### Manifest changes: {}\n\n", code(&diff.name));
    if diff.is_empty() {
        output.push_str("No semantic changes.\n");
        return output;
    }
    let _ = writeln!(output, "**{}**", diff.summary());
    steps_table(&mut output, diff);
    connections_table(&mut output, diff);
    pipeline_table(&mut output, diff);
    dependencies_list(&mut output, diff);
    affected_list(&mut output, diff);
    text_diffs(&mut output, diff);
    graph_section(&mut output, diff, new_pipeline, new_graph);
    output
}

fn steps_table(output: &mut String, diff: &ManifestDiff) {
    let steps = &diff.steps;
    if steps.is_empty() {
        return;
    }
    output.push_str("\n#### Steps\n\n| | step | kind | what changed |\n|---|---|---|---|\n");
    for step in &steps.added {
        let summary = cell(&step.summary);
        row(
            output,
            &["added", &code(step.id.as_str()), step.kind.name(), &summary],
        );
    }
    for step in &steps.removed {
        let summary = cell(&step.summary);
        row(
            output,
            &[
                "removed",
                &code(step.id.as_str()),
                step.kind.name(),
                &summary,
            ],
        );
    }
    for rename in &steps.renamed {
        let names = format!(
            "{} → {}",
            code(rename.old_id.as_str()),
            code(rename.new_id.as_str())
        );
        let changes = if rename.changes.is_empty() {
            "the id only".to_owned()
        } else {
            changes_cell(&rename.changes)
        };
        row(output, &["renamed", &names, rename.kind.name(), &changes]);
    }
    for step in &steps.changed {
        let label = if step.runs_differently {
            "changed"
        } else {
            "description only"
        };
        let changes = changes_cell(&step.changes);
        row(
            output,
            &[label, &code(step.id.as_str()), step.kind.name(), &changes],
        );
    }
}

fn connections_table(output: &mut String, diff: &ManifestDiff) {
    let connections = &diff.connections;
    if connections.is_empty() {
        return;
    }
    output.push_str("\n#### Connections\n\n| | connection | what changed |\n|---|---|---|\n");
    for (label, listed) in [
        ("added", &connections.added),
        ("removed", &connections.removed),
    ] {
        for connection in listed {
            let url = format!("{} {}", connection.driver, code(&connection.url));
            row(output, &[label, &code(connection.name.as_str()), &url]);
        }
    }
    for connection in &connections.changed {
        let changes = changes_cell(&connection.changes);
        row(
            output,
            &["changed", &code(connection.name.as_str()), &changes],
        );
    }
}

fn pipeline_table(output: &mut String, diff: &ManifestDiff) {
    if diff.pipeline.is_empty() {
        return;
    }
    output.push_str("\n#### Pipeline settings\n\n| key | old | new |\n|---|---|---|\n");
    for change in &diff.pipeline {
        let old = code(&shown_value(change.old.as_ref()));
        let new = code(&shown_value(change.new.as_ref()));
        row(output, &[&code(&change.key), &old, &new]);
    }
}

fn dependencies_list(output: &mut String, diff: &ManifestDiff) {
    let dependencies = &diff.dependencies;
    if dependencies.is_empty() {
        return;
    }
    output.push_str("\n#### Dependencies\n\n");
    for edge in &dependencies.added {
        let _ = writeln!(output, "- added {}", code(&edge.to_string()));
    }
    for edge in &dependencies.removed {
        let _ = writeln!(output, "- removed {}", code(&edge.to_string()));
    }
}

fn affected_list(output: &mut String, diff: &ManifestDiff) {
    output.push_str("\n#### Will run differently\n\n");
    if diff.affected.is_empty() {
        output.push_str("No step of the new version runs differently.\n");
        return;
    }
    let names: Vec<String> = diff.affected.iter().map(|id| code(id.as_str())).collect();
    let _ = writeln!(output, "In run order: {}.", names.join(", "));
}

/// Each change to a text of several lines (SQL, a script, a description), folded.
fn text_diffs(output: &mut String, diff: &ManifestDiff) {
    let renamed = diff
        .steps
        .renamed
        .iter()
        .map(|rename| (&rename.new_id, &rename.changes));
    let changed = diff
        .steps
        .changed
        .iter()
        .map(|step| (&step.id, &step.changes));
    for (id, changes) in renamed.chain(changed) {
        for change in changes {
            let Some(text) = &change.text else {
                continue;
            };
            let fence = fence_for(&text.unified);
            let _ = write!(
                output,
                "\n<details><summary><code>{}</code> <code>{}</code>: +{} -{} lines</summary>\n\n{fence}diff\n{}{fence}\n\n</details>\n",
                html(id.as_str()),
                html(&change.key),
                text.inserted,
                text.deleted,
                text.unified
            );
        }
    }
}

fn graph_section(
    output: &mut String,
    diff: &ManifestDiff,
    new_pipeline: &Pipeline,
    new_graph: &StepGraph,
) {
    output.push_str(
        "\n#### Graph of the new version\n\nGreen: added. Amber: changed or renamed. Blue: runs differently because a step upstream changed.\n\n",
    );
    let _ = write!(
        output,
        "```mermaid\n{}```\n",
        highlighted_mermaid(diff, new_pipeline, new_graph)
    );
    if !diff.steps.removed.is_empty() {
        let names: Vec<String> = diff
            .steps
            .removed
            .iter()
            .map(|step| code(step.id.as_str()))
            .collect();
        let _ = writeln!(
            output,
            "\nRemoved, so not in the graph: {}.",
            names.join(", ")
        );
    }
}

/// `pipewright graph --format mermaid` of the new version, with a class on every added,
/// changed and downstream step, listed in manifest order.
fn highlighted_mermaid(diff: &ManifestDiff, pipeline: &Pipeline, graph: &StepGraph) -> String {
    let mut chart = render_graph(pipeline, graph, GraphFormat::Mermaid);
    let nodes = crate::graph::mermaid_ids(graph);
    let added: HashSet<&StepId> = diff.steps.added.iter().map(|step| &step.id).collect();
    let changed: HashSet<&StepId> = diff
        .steps
        .renamed
        .iter()
        .map(|rename| &rename.new_id)
        .chain(diff.steps.changed.iter().map(|step| &step.id))
        .collect();
    let affected: HashSet<&StepId> = diff.affected.iter().collect();
    let mut added_nodes: Vec<&str> = Vec::new();
    let mut changed_nodes: Vec<&str> = Vec::new();
    let mut downstream_nodes: Vec<&str> = Vec::new();
    for id in graph.ids() {
        let node = nodes[id].as_str();
        if added.contains(id) {
            added_nodes.push(node);
        } else if changed.contains(id) {
            changed_nodes.push(node);
        } else if affected.contains(id) {
            downstream_nodes.push(node);
        }
    }
    for ((class, style), members) in
        NODE_CLASSES
            .into_iter()
            .zip([added_nodes, changed_nodes, downstream_nodes])
    {
        if members.is_empty() {
            continue;
        }
        let _ = writeln!(chart, "    classDef {class} {style}");
        let _ = writeln!(chart, "    class {} {class}", members.join(","));
    }
    chart
}

/// Every change of a step or connection in one table cell, one per line.
fn changes_cell(changes: &[KeyChange]) -> String {
    changes
        .iter()
        .map(|change| {
            let mut shown = match &change.text {
                Some(text) => format!(
                    "{}: +{} -{} lines (diff below)",
                    code(&change.key),
                    text.inserted,
                    text.deleted
                ),
                None => format!(
                    "{}: {} → {}",
                    code(&change.key),
                    code(&shown_value(change.old.as_ref())),
                    code(&shown_value(change.new.as_ref()))
                ),
            };
            if let Some(note) = &change.note {
                let _ = write!(shown, " ({})", cell(note));
            }
            shown
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

fn row(output: &mut String, cells: &[&str]) {
    let _ = writeln!(output, "| {} |", cells.join(" | "));
}

/// `text` as inline code that a table cell cannot break: `|` escaped, backticks fenced.
fn code(text: &str) -> String {
    let text = text.replace('|', "\\|");
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

/// Plain text in a table cell: `|` escaped, no HTML, on one line.
fn cell(text: &str) -> String {
    html(text).replace('|', "\\|").replace('\n', "<br>")
}

fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A code fence longer than any run of backticks in `text`.
fn fence_for(text: &str) -> String {
    let longest = text
        .split(|character: char| character != '`')
        .map(str::len)
        .max()
        .unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}
