//! All the problems found in one manifest, reported together.

use std::fmt::{self, Write as _};

use miette::{GraphicalReportHandler, GraphicalTheme, Report};

use crate::manifest::{ManifestError, SourceFile};

/// A manifest that failed to load or analyze, with every problem found in it.
#[derive(Debug, Clone)]
pub struct InvalidManifest {
    pub source: SourceFile,
    /// Sorted by position in the file.
    pub errors: Vec<ManifestError>,
}

impl InvalidManifest {
    pub fn new(source: SourceFile, mut errors: Vec<ManifestError>) -> Self {
        errors.sort_by_key(|error| (error.span().start, error.span().end));
        errors.dedup();
        Self { source, errors }
    }

    /// Renders every error with its snippet, then a one-line summary.
    pub fn render(&self, color: bool, width: usize) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(width)
            .with_links(false);
        let mut output = String::new();
        for error in &self.errors {
            let report = Report::new(error.clone()).with_source_code(self.source.named_source());
            if handler.render_report(&mut output, report.as_ref()).is_err() {
                // Rendering into a String cannot fail; keep the message if it somehow does.
                let _ = writeln!(output, "error: {error}");
            }
        }
        let _ = writeln!(output, "{self}");
        output
    }
}

impl fmt::Display for InvalidManifest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.errors.len();
        write!(
            formatter,
            "{} is invalid: {count} {}",
            self.source.path().display(),
            if count == 1 { "error" } else { "errors" }
        )
    }
}

impl std::error::Error for InvalidManifest {}
