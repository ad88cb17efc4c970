//! Finding dependency cycles and naming every step in them.

use std::collections::{HashSet, VecDeque};

use petgraph::Direction;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};

/// One cycle: its nodes in order, first node repeated at the end, and the edge that closes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    pub nodes: Vec<NodeIndex>,
    pub closing_edge: EdgeIndex,
}

/// One concrete cycle per strongly connected component that has one, self-loops included.
/// Each cycle starts at the component's lowest node index (its first step in the manifest) and
/// is the shortest way back to it, so the output is deterministic.
pub fn find_cycles<N, E>(graph: &DiGraph<N, E>) -> Vec<Cycle> {
    let mut cycles: Vec<Cycle> = tarjan_scc(graph)
        .into_iter()
        .filter_map(|component| {
            let start = *component.iter().min()?;
            if component.len() == 1 {
                let edge = graph.find_edge(start, start)?;
                return Some(Cycle {
                    nodes: vec![start, start],
                    closing_edge: edge,
                });
            }
            let members: HashSet<NodeIndex> = component.into_iter().collect();
            shortest_cycle_through(graph, start, &members)
        })
        .collect();
    cycles.sort_by_key(|cycle| cycle.nodes[0]);
    cycles
}

fn shortest_cycle_through<N, E>(
    graph: &DiGraph<N, E>,
    start: NodeIndex,
    members: &HashSet<NodeIndex>,
) -> Option<Cycle> {
    let mut previous: Vec<Option<NodeIndex>> = vec![None; graph.node_count()];
    let mut queue = VecDeque::from([start]);
    let mut visited = HashSet::from([start]);
    while let Some(node) = queue.pop_front() {
        let mut successors: Vec<NodeIndex> = graph
            .neighbors_directed(node, Direction::Outgoing)
            .filter(|next| members.contains(next))
            .collect();
        successors.sort();
        for next in successors {
            if next == start {
                let mut nodes = vec![start, node];
                let mut cursor = node;
                while let Some(before) = previous[cursor.index()] {
                    nodes.push(before);
                    cursor = before;
                }
                nodes.reverse();
                let closing_edge = graph.find_edge(node, start)?;
                return Some(Cycle {
                    nodes,
                    closing_edge,
                });
            }
            if visited.insert(next) {
                previous[next.index()] = Some(node);
                queue.push_back(next);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(nodes: usize, edges: &[(u32, u32)]) -> DiGraph<(), ()> {
        let mut graph = DiGraph::new();
        for _ in 0..nodes {
            graph.add_node(());
        }
        graph.extend_with_edges(edges);
        graph
    }

    fn indices(cycle: &Cycle) -> Vec<usize> {
        cycle.nodes.iter().map(|node| node.index()).collect()
    }

    #[test]
    fn names_every_node_of_a_long_cycle() {
        let graph = graph(5, &[(0, 1), (1, 2), (2, 3), (3, 0), (3, 4)]);
        let cycles = find_cycles(&graph);
        assert_eq!(cycles.len(), 1);
        assert_eq!(indices(&cycles[0]), [0, 1, 2, 3, 0]);
        assert_eq!(
            graph.edge_endpoints(cycles[0].closing_edge),
            Some((3.into(), 0.into()))
        );
    }

    #[test]
    fn finds_each_independent_cycle_and_self_loops() {
        let graph = graph(6, &[(0, 1), (1, 0), (2, 2), (3, 4), (4, 5), (5, 3)]);
        let cycles: Vec<Vec<usize>> = find_cycles(&graph).iter().map(indices).collect();
        assert_eq!(cycles, [vec![0, 1, 0], vec![2, 2], vec![3, 4, 5, 3]]);
    }

    #[test]
    fn acyclic_graphs_have_none() {
        let graph = graph(4, &[(0, 1), (0, 2), (1, 3), (2, 3)]);
        assert!(find_cycles(&graph).is_empty());
    }
}
