//! `--select` and `--exclude` expressions: `step`, `+step`, `step+`, `tag:name`.

use std::fmt;
use std::str::FromStr;

use crate::graph::StepGraph;
use crate::manifest::suggestion::help_for_unknown;
use crate::pipeline::{Pipeline, StepId};

/// What a selector matches before expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectorTarget {
    Step(String),
    Tag(String),
}

/// One selection expression. `+` before adds the matched steps' ancestors, `+` after their
/// descendants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub target: SelectorTarget,
    pub ancestors: bool,
    pub descendants: bool,
}

/// A selector that does not parse or matches nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("empty selector `{0}`: write `step`, `+step`, `step+` or `tag:name`")]
    Empty(String),
    #[error("unknown step `{name}` in selector `{selector}`{}", help_suffix(help.as_ref()))]
    UnknownStep {
        selector: String,
        name: String,
        help: Option<String>,
    },
    #[error("no step has tag `{tag}` (selector `{selector}`){}", help_suffix(help.as_ref()))]
    UnknownTag {
        selector: String,
        tag: String,
        help: Option<String>,
    },
}

fn help_suffix(help: Option<&String>) -> String {
    help.map(|help| format!(": {help}")).unwrap_or_default()
}

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim();
        let (ancestors, text) = match text.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (descendants, text) = match text.strip_suffix('+') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let target = match text.strip_prefix("tag:") {
            Some(tag) => SelectorTarget::Tag(tag.to_owned()),
            None => SelectorTarget::Step(text.to_owned()),
        };
        if matches!(&target, SelectorTarget::Step(name) | SelectorTarget::Tag(name) if name.is_empty())
        {
            return Err(SelectorError::Empty(input.to_owned()));
        }
        Ok(Self {
            target,
            ancestors,
            descendants,
        })
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ancestors {
            formatter.write_str("+")?;
        }
        match &self.target {
            SelectorTarget::Step(name) => formatter.write_str(name)?,
            SelectorTarget::Tag(tag) => write!(formatter, "tag:{tag}")?,
        }
        if self.descendants {
            formatter.write_str("+")?;
        }
        Ok(())
    }
}

impl Selector {
    /// Parses a command-line value, which may hold several selectors separated by commas or
    /// spaces.
    pub fn parse_list(input: &str) -> Result<Vec<Self>, SelectorError> {
        input
            .split([',', ' '])
            .filter(|part| !part.is_empty())
            .map(str::parse)
            .collect()
    }

    /// The steps this selector matches, expanded, in manifest order.
    pub fn matches(
        &self,
        pipeline: &Pipeline,
        graph: &StepGraph,
    ) -> Result<Vec<StepId>, SelectorError> {
        let roots: Vec<&StepId> = match &self.target {
            SelectorTarget::Step(name) => match pipeline.step_id(name) {
                Some(id) => vec![id],
                None => {
                    return Err(SelectorError::UnknownStep {
                        selector: self.to_string(),
                        name: name.clone(),
                        help: help_for_unknown(name, pipeline.steps.keys().map(StepId::as_str)),
                    });
                }
            },
            SelectorTarget::Tag(tag) => {
                let tagged: Vec<&StepId> = pipeline
                    .steps
                    .values()
                    .filter(|step| step.tags.iter().any(|known| known == tag))
                    .map(|step| &step.id)
                    .collect();
                if tagged.is_empty() {
                    let mut tags: Vec<&str> = pipeline
                        .steps
                        .values()
                        .flat_map(|step| step.tags.iter().map(String::as_str))
                        .collect();
                    tags.sort_unstable();
                    tags.dedup();
                    return Err(SelectorError::UnknownTag {
                        selector: self.to_string(),
                        tag: tag.clone(),
                        help: help_for_unknown(tag, tags.iter().copied()),
                    });
                }
                tagged
            }
        };
        let mut matched: Vec<StepId> = Vec::new();
        for root in roots {
            matched.push(root.clone());
            if self.ancestors {
                matched.extend(graph.ancestors(root).into_iter().cloned());
            }
            if self.descendants {
                matched.extend(graph.descendants(root).into_iter().cloned());
            }
        }
        matched.sort_by_key(|id| graph.position(id));
        matched.dedup();
        Ok(matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modifiers_and_tags() {
        let selector: Selector = "+load+".parse().unwrap();
        assert_eq!(selector.target, SelectorTarget::Step("load".into()));
        assert!(selector.ancestors && selector.descendants);
        let selector: Selector = "tag:nightly+".parse().unwrap();
        assert_eq!(selector.target, SelectorTarget::Tag("nightly".into()));
        assert!(!selector.ancestors && selector.descendants);
        assert_eq!(selector.to_string(), "tag:nightly+");
        assert!("+".parse::<Selector>().is_err());
        assert!("tag:".parse::<Selector>().is_err());
        let list = Selector::parse_list("a, b+ tag:x").unwrap();
        assert_eq!(list.len(), 3);
    }
}
