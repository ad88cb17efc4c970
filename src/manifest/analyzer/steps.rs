//! Analysis of `[steps.<id>]` tables: ids, kinds, keys, dependencies and cycles.

use std::collections::HashSet;

use indexmap::IndexMap;
use petgraph::graph::{DiGraph, NodeIndex};

use super::analyzer::Analyzer;
use crate::graph::find_cycles;
use crate::manifest::manifest_error::source_span;
use crate::manifest::raw::{RawLocations, RawStep, StepLocation};
use crate::manifest::suggestion::{did_you_mean, help_for_unknown};
use crate::manifest::{ManifestError, Span, Spanned};
use crate::pipeline::{COMMON_STEP_KEYS, StepId, StepKind, StepSpec};
use crate::values::RetryPolicy;

impl Analyzer<'_> {
    /// Analyzes every step, then looks for cycles among the dependencies that resolved.
    pub(super) fn steps(
        &mut self,
        raw_steps: IndexMap<String, RawStep>,
        locations: &RawLocations,
    ) -> Option<IndexMap<StepId, StepSpec>> {
        let errors_before = self.errors.len();
        let names: Vec<String> = raw_steps.keys().cloned().collect();
        let mut graph: DiGraph<StepId, Span> = DiGraph::with_capacity(names.len(), names.len());
        let nodes: IndexMap<&str, NodeIndex> = names
            .iter()
            .map(|name| (name.as_str(), graph.add_node(StepId::new(name))))
            .collect();

        let mut steps = IndexMap::with_capacity(raw_steps.len());
        for (name, raw) in raw_steps {
            let location = locations.steps.get(&name).cloned().unwrap_or_default();
            if !StepId::is_valid_name(&name) {
                self.errors.push(ManifestError::InvalidName {
                    what: "step id",
                    name: name.clone(),
                    span: source_span(&location.id),
                });
            }
            let id = StepId::new(&name);
            let after = self.after(&id, &raw.after, &nodes);
            for (dependency, span) in &after {
                graph.add_edge(
                    nodes[dependency.as_str()],
                    nodes[name.as_str()],
                    span.clone(),
                );
            }
            let after = after
                .into_iter()
                .map(|(dependency, _)| dependency)
                .collect();
            if let Some(spec) = self.step(id.clone(), raw, &location, after) {
                steps.insert(id, spec);
            }
        }

        for cycle in find_cycles(&graph) {
            let names: Vec<&str> = cycle
                .nodes
                .iter()
                .map(|node| graph[*node].as_str())
                .collect();
            self.errors.push(ManifestError::Cycle {
                cycle: names.join(" -> "),
                span: source_span(&graph[cycle.closing_edge]),
            });
        }
        (self.errors.len() == errors_before).then_some(steps)
    }

    /// Resolves `after`, keeping the span of each entry for cycle errors.
    fn after(
        &mut self,
        id: &StepId,
        after: &[Spanned<String>],
        nodes: &IndexMap<&str, NodeIndex>,
    ) -> Vec<(StepId, Span)> {
        let mut seen = HashSet::new();
        let mut resolved = Vec::with_capacity(after.len());
        for dependency in after {
            let name = dependency.as_str();
            if name == id.as_str() {
                self.errors.push(ManifestError::SelfDependency {
                    step: name.to_owned(),
                    span: source_span(&dependency.span()),
                });
            } else if !nodes.contains_key(name) {
                self.errors.push(ManifestError::UnknownStep {
                    name: name.to_owned(),
                    step: id.to_string(),
                    span: source_span(&dependency.span()),
                    help: did_you_mean(name, nodes.keys().copied())
                        .map(|suggestion| format!("did you mean `{suggestion}`?")),
                });
            } else if !seen.insert(name) {
                self.errors.push(ManifestError::Duplicate {
                    name: name.to_owned(),
                    key: "after".to_owned(),
                    span: source_span(&dependency.span()),
                });
            } else {
                resolved.push((StepId::new(name), dependency.span()));
            }
        }
        resolved
    }

    fn step(
        &mut self,
        id: StepId,
        raw: RawStep,
        location: &StepLocation,
        after: Vec<StepId>,
    ) -> Option<StepSpec> {
        let path = format!("steps.{id}");
        let kind_names = StepKind::ALL.map(StepKind::name);
        let kind = match &raw.kind {
            None => {
                self.missing(
                    "kind",
                    &path,
                    location.id.clone(),
                    Some(&format!(
                        "add `kind = \"command\"`; the kinds are {}",
                        kind_names.map(|name| format!("`{name}`")).join(", ")
                    )),
                );
                return None;
            }
            Some(kind) => match kind.as_str().parse::<StepKind>() {
                Ok(parsed) => parsed,
                Err(_) => {
                    self.errors.push(ManifestError::UnknownStepKind {
                        kind: kind.get().clone(),
                        span: source_span(&kind.span()),
                        help: help_for_unknown(kind.as_str(), kind_names),
                    });
                    return None;
                }
            },
        };
        self.keys_for_kind(kind, location);
        let tags = self.tags(&raw.tags);
        let retry = RetryPolicy {
            retries: raw.retries.as_ref().map_or(0, |retries| *retries.get()),
            backoff: raw
                .retry_backoff
                .as_ref()
                .map_or(RetryPolicy::DEFAULT_BACKOFF, |backoff| backoff.get().get()),
        };
        let timeout = match &raw.timeout {
            Some(timeout) if timeout.get().get().is_zero() => {
                self.invalid(
                    timeout.span(),
                    &format!("steps.{id}.timeout"),
                    "a timeout must be longer than zero",
                    Some("leave `timeout` out for no time limit"),
                );
                None
            }
            Some(timeout) => Some(timeout.get().get()),
            None => None,
        };
        let action = self.action(kind, &path, &location.id, &raw)?;
        Some(StepSpec {
            id,
            description: raw.description,
            after,
            tags,
            enabled: raw.enabled.unwrap_or(true),
            retry,
            timeout,
            action,
            span: location.id.clone(),
        })
    }

    /// Reports keys written in the step's table that belong to other kinds.
    fn keys_for_kind(&mut self, kind: StepKind, location: &StepLocation) {
        let allowed: Vec<&str> = COMMON_STEP_KEYS
            .iter()
            .chain(kind.keys())
            .copied()
            .collect();
        for (key, span) in &location.keys {
            if allowed.contains(&key.as_str()) {
                continue;
            }
            let owners: Vec<String> = StepKind::ALL
                .iter()
                .filter(|other| other.keys().contains(&key.as_str()))
                .map(|other| format!("`{other}`"))
                .collect();
            if owners.is_empty() {
                // Not a step key at all: the loader has reported it as unknown.
                continue;
            }
            let help = Some(format!(
                "`{key}` belongs to {} steps; a `{kind}` step takes {}",
                owners.join(" and "),
                kind.keys()
                    .iter()
                    .map(|key| format!("`{key}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            self.errors.push(ManifestError::KeyNotForKind {
                key: key.clone(),
                kind: kind.to_string(),
                span: source_span(span),
                help,
            });
        }
    }

    fn tags(&mut self, tags: &[Spanned<String>]) -> Vec<String> {
        let mut resolved: Vec<String> = Vec::with_capacity(tags.len());
        for tag in tags {
            if !StepId::is_valid_name(tag.as_str()) {
                self.errors.push(ManifestError::InvalidName {
                    what: "tag",
                    name: tag.get().clone(),
                    span: source_span(&tag.span()),
                });
            } else if resolved.iter().any(|known| known == tag.as_str()) {
                self.errors.push(ManifestError::Duplicate {
                    name: tag.get().clone(),
                    key: "tags".to_owned(),
                    span: source_span(&tag.span()),
                });
            } else {
                resolved.push(tag.get().clone());
            }
        }
        resolved
    }
}
