//! The graph as text, Mermaid or DOT, in a stable order so that diffs stay small.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::str::FromStr;

use crate::graph::StepGraph;
use crate::pipeline::{Pipeline, StepId};

/// How `pipewright graph` prints the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum GraphFormat {
    /// One line per step with its kind and dependencies, dependencies first.
    #[default]
    Text,
    /// A Mermaid flowchart, for Markdown (GitHub renders it in PR comments).
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

impl FromStr for GraphFormat {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        <Self as clap::ValueEnum>::from_str(input, false)
    }
}

/// Renders the graph of `pipeline` in `format`.
pub fn render_graph(pipeline: &Pipeline, graph: &StepGraph, format: GraphFormat) -> String {
    match format {
        GraphFormat::Text => text(pipeline, graph),
        GraphFormat::Mermaid => mermaid(pipeline, graph),
        GraphFormat::Dot => dot(pipeline, graph),
    }
}

fn text(pipeline: &Pipeline, graph: &StepGraph) -> String {
    let order = graph.topological_order();
    let width = order.iter().map(|id| id.as_str().len()).max().unwrap_or(0);
    let mut output = format!("{} ({} steps)\n", pipeline.name, graph.len());
    for id in order {
        let step = pipeline.step(id);
        let _ = write!(
            output,
            "  {:width$}  {:<9}",
            id.as_str(),
            step.kind().name()
        );
        let dependencies = graph.dependencies(id);
        if !dependencies.is_empty() {
            let names: Vec<&str> = dependencies.iter().map(|id| id.as_str()).collect();
            let _ = write!(output, "  after {}", names.join(", "));
        }
        if !step.enabled {
            output.push_str("  (disabled)");
        }
        output.push('\n');
    }
    // No trailing spaces, whatever the columns.
    output
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The Mermaid node id of each step. Mermaid ids cannot contain `-`, so it becomes `_`; an id
/// that is then taken (`a-b` and `a_b`, or a real `a_b_2`) gets the next free number, so that
/// no two steps ever share a node. Every Mermaid chart of pipewright uses these.
pub fn mermaid_ids(graph: &StepGraph) -> HashMap<&StepId, String> {
    let mut used: std::collections::HashSet<String> = graph
        .ids()
        .map(|id| id.as_str().to_owned())
        .filter(|id| !id.contains('-'))
        .collect();
    graph
        .ids()
        .map(|id| {
            if !id.as_str().contains('-') {
                return (id, id.as_str().to_owned());
            }
            let base = id.as_str().replace('-', "_");
            let mut node = base.clone();
            let mut number = 1;
            while !used.insert(node.clone()) {
                number += 1;
                node = format!("{base}_{number}");
            }
            (id, node)
        })
        .collect()
}

fn mermaid(pipeline: &Pipeline, graph: &StepGraph) -> String {
    let ids = mermaid_ids(graph);
    let mut output = String::from("flowchart TD\n");
    for id in graph.ids() {
        let step = pipeline.step(id);
        let _ = writeln!(
            output,
            "    {}[\"{}<br/><small>{}</small>\"]",
            ids[id],
            id,
            step.kind().name()
        );
    }
    for (from, to) in graph.edges() {
        let _ = writeln!(output, "    {} --> {}", ids[from], ids[to]);
    }
    let disabled: Vec<&str> = graph
        .ids()
        .filter(|id| !pipeline.step(id).enabled)
        .map(|id| ids[id].as_str())
        .collect();
    if !disabled.is_empty() {
        output.push_str("    classDef disabled stroke-dasharray: 5 5,color:#888\n");
        let _ = writeln!(output, "    class {} disabled", disabled.join(","));
    }
    output
}

fn dot(pipeline: &Pipeline, graph: &StepGraph) -> String {
    let escape = |text: &str| text.replace('\\', "\\\\").replace('"', "\\\"");
    let quote = |text: &str| format!("\"{}\"", escape(text));
    let mut output = format!(
        "digraph {} {{\n    rankdir=LR;\n    node [shape=box, fontname=\"sans-serif\"];\n",
        quote(&pipeline.name)
    );
    for id in graph.ids() {
        let step = pipeline.step(id);
        let style = if step.enabled { "" } else { ", style=dashed" };
        let _ = writeln!(
            output,
            "    {} [label=\"{}\\n{}\"{style}];",
            quote(id.as_str()),
            escape(id.as_str()),
            step.kind().name()
        );
    }
    for (from, to) in graph.edges() {
        let _ = writeln!(
            output,
            "    {} -> {};",
            quote(from.as_str()),
            quote(to.as_str())
        );
    }
    output.push_str("}\n");
    output
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{SourceFile, Variables, parse_pipeline};

    #[test]
    fn mermaid_ids_never_collide() {
        let mut text = String::from("[pipeline]\nname = \"ids\"\n");
        for id in ["a-b", "a_b", "a_b_2", "x--y", "x__y"] {
            let _ = write!(
                text,
                "\n[steps.{id}]\nkind = \"command\"\nrun = [\"true\"]\n"
            );
        }
        let pipeline =
            parse_pipeline(&SourceFile::new("ids.toml", text), &Variables::default()).unwrap();
        let graph = StepGraph::new(&pipeline);
        let ids = mermaid_ids(&graph);
        let mut nodes: Vec<&String> = ids.values().collect();
        nodes.sort();
        nodes.dedup();
        assert_eq!(nodes.len(), 5, "{ids:?}");
        assert!(nodes.iter().all(|node| !node.contains('-')), "{ids:?}");
        assert_eq!(
            ids.iter().find(|(id, _)| id.as_str() == "a_b").unwrap().1,
            "a_b"
        );
    }
}
