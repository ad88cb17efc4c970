//! `StepGraph`: the steps of a validated pipeline and their dependencies, in petgraph.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use indexmap::IndexMap;
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Bfs, Reversed};

use crate::pipeline::{Pipeline, StepId};

/// The dependency graph: an edge `a -> b` means `b` runs after `a`. Nodes are added in manifest
/// order, so a node's index is its position in the manifest, which breaks every tie and keeps
/// all orders deterministic.
#[derive(Debug, Clone)]
pub struct StepGraph {
    graph: DiGraph<StepId, ()>,
    nodes: IndexMap<StepId, NodeIndex>,
}

impl StepGraph {
    /// Builds the graph of a pipeline. The analyzer has already rejected cycles.
    pub fn new(pipeline: &Pipeline) -> Self {
        let mut graph = DiGraph::with_capacity(pipeline.steps.len(), pipeline.steps.len());
        let nodes: IndexMap<StepId, NodeIndex> = pipeline
            .steps
            .keys()
            .map(|id| (id.clone(), graph.add_node(id.clone())))
            .collect();
        for step in pipeline.steps.values() {
            for dependency in &step.after {
                graph.add_edge(nodes[dependency], nodes[&step.id], ());
            }
        }
        Self { graph, nodes }
    }

    /// Step ids in manifest order.
    pub fn ids(&self) -> impl Iterator<Item = &StepId> {
        self.nodes.keys()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The position of a step in the manifest.
    pub fn position(&self, id: &StepId) -> usize {
        self.nodes[id].index()
    }

    fn neighbors(&self, id: &StepId, direction: Direction) -> Vec<&StepId> {
        let mut found: Vec<NodeIndex> = self
            .graph
            .neighbors_directed(self.nodes[id], direction)
            .collect();
        found.sort();
        found.dedup();
        found.into_iter().map(|node| &self.graph[node]).collect()
    }

    /// Steps `id` runs after, directly, in manifest order.
    pub fn dependencies(&self, id: &StepId) -> Vec<&StepId> {
        self.neighbors(id, Direction::Incoming)
    }

    /// Steps that run after `id`, directly, in manifest order.
    pub fn dependents(&self, id: &StepId) -> Vec<&StepId> {
        self.neighbors(id, Direction::Outgoing)
    }

    /// Every step `id` transitively depends on, in manifest order, `id` excluded.
    pub fn ancestors(&self, id: &StepId) -> Vec<&StepId> {
        let reversed = Reversed(&self.graph);
        let mut search = Bfs::new(reversed, self.nodes[id]);
        self.collect_reachable(id, || search.next(reversed))
    }

    /// Every step that transitively depends on `id`, in manifest order, `id` excluded.
    pub fn descendants(&self, id: &StepId) -> Vec<&StepId> {
        let mut search = Bfs::new(&self.graph, self.nodes[id]);
        self.collect_reachable(id, || search.next(&self.graph))
    }

    fn collect_reachable(
        &self,
        start: &StepId,
        mut next: impl FnMut() -> Option<NodeIndex>,
    ) -> Vec<&StepId> {
        let start = self.nodes[start];
        let mut found = Vec::new();
        while let Some(node) = next() {
            if node != start {
                found.push(node);
            }
        }
        found.sort();
        found.into_iter().map(|node| &self.graph[node]).collect()
    }

    /// Every step, dependencies first; among steps that are ready together, manifest order.
    pub fn topological_order(&self) -> Vec<&StepId> {
        let mut waiting: Vec<usize> = self
            .graph
            .node_indices()
            .map(|node| {
                self.graph
                    .neighbors_directed(node, Direction::Incoming)
                    .count()
            })
            .collect();
        let mut ready: BinaryHeap<Reverse<NodeIndex>> = self
            .graph
            .node_indices()
            .filter(|node| waiting[node.index()] == 0)
            .map(Reverse)
            .collect();
        let mut order = Vec::with_capacity(self.len());
        while let Some(Reverse(node)) = ready.pop() {
            order.push(&self.graph[node]);
            for next in self.graph.neighbors_directed(node, Direction::Outgoing) {
                waiting[next.index()] -= 1;
                if waiting[next.index()] == 0 {
                    ready.push(Reverse(next));
                }
            }
        }
        debug_assert_eq!(order.len(), self.len(), "the analyzer rejects cycles");
        order
    }

    /// Every edge as `(dependency, dependent)`, ordered by dependent then dependency, in
    /// manifest order: the order graph renderings print them in.
    pub fn edges(&self) -> Vec<(&StepId, &StepId)> {
        let mut edges: Vec<(NodeIndex, NodeIndex)> = self
            .graph
            .raw_edges()
            .iter()
            .map(|edge| (edge.source(), edge.target()))
            .collect();
        edges.sort_by_key(|(from, to)| (*to, *from));
        edges
            .into_iter()
            .map(|(from, to)| (&self.graph[from], &self.graph[to]))
            .collect()
    }
}
