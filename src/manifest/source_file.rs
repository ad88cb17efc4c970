//! The text of a manifest as read from disk, kept for spans and snippets.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::NamedSource;

/// A manifest file's path and full text. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SourceFile {
    path: PathBuf,
    text: Arc<str>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
        }
    }

    /// Reads a manifest from disk.
    pub fn read(path: &Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        Ok(Self::new(path, text))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The directory relative paths in the manifest are resolved against.
    pub fn base_dir(&self) -> &Path {
        match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        }
    }

    /// One-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |index| index + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// The source in the form miette renders snippets from.
    pub fn named_source(&self) -> NamedSource<Arc<str>> {
        NamedSource::new(self.path.display().to_string(), Arc::clone(&self.text))
            .with_language("toml")
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_lines_and_characters() {
        let source = SourceFile::new("a.toml", "ab\ncé d\n");
        assert_eq!(source.line_col(0), (1, 1));
        assert_eq!(source.line_col(3), (2, 1));
        // `d` comes after a two-byte character.
        assert_eq!(source.line_col(7), (2, 4));
        assert_eq!(source.line_col(1000), (3, 1));
    }

    #[test]
    fn base_dir_of_a_bare_file_name_is_the_current_directory() {
        assert_eq!(SourceFile::new("a.toml", "").base_dir(), Path::new("."));
        assert_eq!(
            SourceFile::new("pipelines/a.toml", "").base_dir(),
            Path::new("pipelines")
        );
    }
}
