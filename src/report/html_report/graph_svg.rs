//! The step graph in SVG, left to right: a step's column (its layer) is the longest path to
//! it from a step without dependencies, so every arrow points right. Within a column, steps
//! sit near the steps they depend on; ties keep manifest order, so the picture is the same
//! for the same manifest.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{as_f64, escape, shorten, status_name};
use crate::graph::StepGraph;
use crate::pipeline::{Pipeline, StepId};
use crate::report::step_lines::format_elapsed;
use crate::report::{RunRecord, StepRecord};

const NODE_WIDTH: f64 = 170.0;
const NODE_HEIGHT: f64 = 42.0;
const LAYER_GAP: f64 = 60.0;
const ROW_GAP: f64 = 16.0;
const MARGIN: f64 = 8.0;
/// Characters of a step id that fit in a node.
const NODE_CHARACTERS: usize = 24;

/// A point of the drawing, in SVG user units.
#[derive(Debug, Clone, Copy)]
struct Point {
    x: f64,
    y: f64,
}

/// The graph of the pipeline, each node coloured by how its step ended in this run.
pub(super) fn render(record: &RunRecord, pipeline: &Pipeline, graph: &StepGraph) -> String {
    if graph.is_empty() {
        return super::empty("The pipeline has no steps.");
    }
    let layers = layers(graph);
    let tallest = layers.iter().map(Vec::len).max().unwrap_or(0);
    let width = 2.0 * MARGIN + as_f64(layers.len()) * (NODE_WIDTH + LAYER_GAP) - LAYER_GAP;
    let height = 2.0 * MARGIN + as_f64(tallest) * (NODE_HEIGHT + ROW_GAP) - ROW_GAP;

    let mut corners: HashMap<&StepId, Point> = HashMap::new();
    for (layer, ids) in layers.iter().enumerate() {
        let x = MARGIN + as_f64(layer) * (NODE_WIDTH + LAYER_GAP);
        // Shorter columns are centred on the tallest.
        let offset = as_f64(tallest - ids.len()) * (NODE_HEIGHT + ROW_GAP) / 2.0;
        for (row, id) in ids.iter().enumerate() {
            let y = MARGIN + offset + as_f64(row) * (NODE_HEIGHT + ROW_GAP);
            corners.insert(*id, Point { x, y });
        }
    }

    let mut svg = format!(
        "<svg class=\"graph\" viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"Graph of the pipeline's steps\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\">\
         <path class=\"arrowhead\" d=\"M0 0L10 5L0 10z\"/></marker></defs>\n"
    );
    for (from, to) in graph.edges() {
        if let (Some(start), Some(end)) = (corners.get(from), corners.get(to)) {
            edge(&mut svg, from, to, *start, *end);
        }
    }
    let steps: HashMap<&str, &StepRecord> = record
        .steps
        .iter()
        .map(|step| (step.id.as_str(), step))
        .collect();
    for (layer, ids) in layers.iter().enumerate() {
        for id in ids {
            if let Some(corner) = corners.get(id) {
                let step = steps.get(id.as_str()).copied();
                node(&mut svg, pipeline, id, step, layer, *corner);
            }
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// The steps by layer, each layer ordered to keep arrows short.
fn layers(graph: &StepGraph) -> Vec<Vec<&StepId>> {
    let mut layer_of: HashMap<&StepId, usize> = HashMap::new();
    let mut layers: Vec<Vec<&StepId>> = Vec::new();
    for id in graph.topological_order() {
        let layer = graph
            .dependencies(id)
            .iter()
            .filter_map(|dependency| layer_of.get(dependency))
            .map(|layer| layer + 1)
            .max()
            .unwrap_or(0);
        layer_of.insert(id, layer);
        if layers.len() <= layer {
            layers.resize_with(layer + 1, Vec::new);
        }
        layers[layer].push(id);
    }
    order_rows(graph, &mut layers);
    layers
}

/// Orders each layer by the mean row of each step's dependencies (the barycenter
/// heuristic, one pass), then by manifest position. Means are compared as fractions, so no
/// rounding can make the order vary.
fn order_rows<'graph>(graph: &'graph StepGraph, layers: &mut [Vec<&'graph StepId>]) {
    let mut row_of: HashMap<&'graph StepId, usize> = HashMap::new();
    for layer in layers {
        let mut keyed: Vec<(usize, usize, &'graph StepId)> = layer
            .iter()
            .map(|id| {
                let (sum, count) = graph
                    .dependencies(id)
                    .iter()
                    .filter_map(|dependency| row_of.get(dependency))
                    .fold((0_usize, 0_usize), |(sum, count), row| {
                        (sum + row, count + 1)
                    });
                (sum, count, *id)
            })
            .collect();
        keyed.sort_by(
            |(left_sum, left_count, left), (right_sum, right_count, right)| {
                (left_sum * right_count)
                    .cmp(&(right_sum * left_count))
                    .then_with(|| graph.position(left).cmp(&graph.position(right)))
            },
        );
        *layer = keyed.into_iter().map(|(_, _, id)| id).collect();
        for (row, id) in layer.iter().enumerate() {
            row_of.insert(*id, row);
        }
    }
}

/// An arrow from the middle of the right side of `from` to the middle of the left side of
/// `to`, as an S-curve.
fn edge(svg: &mut String, from: &StepId, to: &StepId, source: Point, target: Point) {
    let tail = Point {
        x: source.x + NODE_WIDTH,
        y: source.y + NODE_HEIGHT / 2.0,
    };
    let head = Point {
        x: target.x,
        y: target.y + NODE_HEIGHT / 2.0,
    };
    let bend = (head.x - tail.x) / 2.0;
    let _ = writeln!(
        svg,
        "<path class=\"edge\" data-from=\"{}\" data-to=\"{}\" d=\"M{:.1} {:.1}C{:.1} {:.1} {:.1} {:.1} {:.1} {:.1}\" marker-end=\"url(#arrow)\"/>",
        escape(from.as_str()),
        escape(to.as_str()),
        tail.x,
        tail.y,
        tail.x + bend,
        tail.y,
        head.x - bend,
        head.y,
        head.x,
        head.y,
    );
}

/// A step as a rounded box: its id, then its kind and how long it took.
fn node(
    svg: &mut String,
    pipeline: &Pipeline,
    id: &StepId,
    step: Option<&StepRecord>,
    layer: usize,
    Point { x, y }: Point,
) {
    let spec = pipeline.steps.get(id.as_str());
    let status = status_name(step.and_then(|step| step.status));
    let kind = spec.map_or("", |spec| spec.kind().name());
    let detail = match step {
        Some(step) if step.started_at.is_some() => {
            format!("{kind} · {}", format_elapsed(step.duration))
        }
        _ => format!("{kind} · {status}"),
    };
    let mut title = format!("{} ({kind}): {status}", id.as_str());
    if let Some(description) = spec.and_then(|spec| spec.description.as_deref()) {
        let _ = write!(title, "\n{description}");
    }
    let center = x + NODE_WIDTH / 2.0;
    let _ = writeln!(
        svg,
        "<g class=\"node\" data-step=\"{id}\" data-status=\"{status}\" data-layer=\"{layer}\" data-kind=\"{kind}\">\
         <title>{}</title>\
         <rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{NODE_WIDTH:.0}\" height=\"{NODE_HEIGHT:.0}\" rx=\"8\"/>\
         <text x=\"{center:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
         <text class=\"detail\" x=\"{center:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></g>",
        escape(&title),
        y + 17.0,
        escape(&shorten(id.as_str(), NODE_CHARACTERS)),
        y + 33.0,
        escape(&detail),
        id = escape(id.as_str()),
    );
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::manifest::{SourceFile, Variables, parse_pipeline};

    /// A pipeline of command steps: (id, the ids it runs after, space-separated).
    fn graph(steps: &[(&str, &str)]) -> StepGraph {
        let mut text = String::from("[pipeline]\nname = \"layers\"\n");
        for (id, after) in steps {
            let after: Vec<String> = after
                .split_whitespace()
                .map(|id| format!("\"{id}\""))
                .collect();
            let _ = write!(
                text,
                "\n[steps.{id}]\nkind = \"command\"\nrun = [\"true\"]\nafter = [{}]\n",
                after.join(", ")
            );
        }
        let pipeline =
            parse_pipeline(&SourceFile::new("layers.toml", text), &Variables::default()).unwrap();
        StepGraph::new(&pipeline)
    }

    fn names(layers: &[Vec<&StepId>]) -> Vec<Vec<String>> {
        layers
            .iter()
            .map(|layer| layer.iter().map(|id| id.as_str().to_owned()).collect())
            .collect()
    }

    #[test]
    fn a_layer_is_the_longest_path_from_a_root() {
        let graph = graph(&[("a", ""), ("b", "a"), ("c", "b"), ("d", "a c"), ("e", "")]);
        assert_eq!(
            names(&layers(&graph)),
            [vec!["a", "e"], vec!["b"], vec!["c"], vec!["d"]]
        );
    }

    #[test]
    fn steps_sit_near_their_dependencies() {
        // `y` is in the manifest before `x`, but `x` depends on the first root.
        let graph = graph(&[
            ("first", ""),
            ("second", ""),
            ("y", "second"),
            ("x", "first"),
        ]);
        assert_eq!(
            names(&layers(&graph)),
            [vec!["first", "second"], vec!["x", "y"]]
        );
    }
}
