//! The dependency graph of a pipeline's steps, and its renderings.

mod cycles;
mod graph_format;
mod step_graph;

pub use cycles::{Cycle, find_cycles};
pub use graph_format::{GraphFormat, mermaid_ids, render_graph};
pub use step_graph::StepGraph;
