//! `StepId`: the id of a step that is known to exist in its pipeline.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// A step's id. Only the analyzer creates ids, after checking that the step exists, so holding
/// a `StepId` means the step is in the pipeline. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct StepId(Arc<str>);

impl StepId {
    pub(crate) fn new(id: &str) -> Self {
        Self(Arc::from(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `name` may be a step id, a connection name or a tag: letters, digits, `_` and
    /// `-`, starting with a letter or `_`. This keeps ids free of the characters selectors use
    /// (`+`, `:`, `,`) and readable in Mermaid and DOT output.
    pub fn is_valid_name(name: &str) -> bool {
        let mut characters = name.chars();
        characters
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
            && characters.all(|character| {
                character.is_ascii_alphanumeric() || matches!(character, '_' | '-')
            })
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for StepId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        for name in ["load", "copy_bars", "a-b", "_x", "step2"] {
            assert!(StepId::is_valid_name(name), "{name}");
        }
        for name in ["", "2step", "a+b", "tag:x", "a b", "a.b", "é"] {
            assert!(!StepId::is_valid_name(name), "{name}");
        }
    }
}
