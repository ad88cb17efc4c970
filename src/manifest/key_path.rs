//! Where a value sits in a manifest, written the way TOML writes it: `steps.load.from`.

use std::fmt;

/// One step down into a TOML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// A path from the document root to a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(Vec<PathSegment>);

impl KeyPath {
    pub fn root() -> Self {
        Self::default()
    }

    pub fn segments(&self) -> &[PathSegment] {
        &self.0
    }

    #[must_use]
    pub fn key(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(PathSegment::Key(key.to_owned()));
        Self(segments)
    }

    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(PathSegment::Index(index));
        Self(segments)
    }

    pub fn push(&mut self, segment: PathSegment) {
        self.0.push(segment);
    }

    /// The path without its last segment, and that segment.
    pub fn split_last(&self) -> Option<(Self, &PathSegment)> {
        let (last, parent) = self.0.split_last()?;
        Some((Self(parent.to_vec()), last))
    }

    /// The dotted path, or an empty string for the root.
    pub fn to_string_or_empty(&self) -> String {
        if self.0.is_empty() {
            String::new()
        } else {
            self.to_string()
        }
    }

    /// The last key of the path, if the path ends with a key.
    pub fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(PathSegment::Key(key)) => Some(key),
            _ => None,
        }
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return formatter.write_str("(document root)");
        }
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                PathSegment::Key(key) => {
                    if position > 0 {
                        formatter.write_str(".")?;
                    }
                    write_key(formatter, key)?;
                }
                PathSegment::Index(index) => write!(formatter, "[{index}]")?,
            }
        }
        Ok(())
    }
}

fn write_key(formatter: &mut fmt::Formatter<'_>, key: &str) -> fmt::Result {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || matches!(character, '_' | '-'));
    if bare {
        formatter.write_str(key)
    } else {
        write!(formatter, "{key:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_toml_keys() {
        let path = KeyPath::root()
            .key("steps")
            .key("check bars")
            .key("checks")
            .index(2)
            .key("kind");
        assert_eq!(path.to_string(), r#"steps."check bars".checks[2].kind"#);
        assert_eq!(KeyPath::root().key("pipeline").to_string(), "pipeline");
    }
}
