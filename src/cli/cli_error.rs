//! Errors of the command line, each knowing its exit code.

use std::error::Error as _;
use std::fmt::Write as _;

use crate::exit_code::ExitCode;
use crate::manifest::{InvalidManifest, ManifestLoadError};
use crate::report::console::Console;

/// Why a command did not complete.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Manifest(#[from] ManifestLoadError),

    #[error("{0}")]
    Usage(String),

    #[error("cannot write `{path}`")]
    WriteFile {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot read `{path}`")]
    ReadFile {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),

    #[error(transparent)]
    Store(Box<crate::store::StoreError>),
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Manifest(_) | Self::Usage(_) | Self::ReadFile { .. } => ExitCode::Invalid,
            Self::WriteFile { .. } | Self::Runtime(_) | Self::Store(_) => ExitCode::Internal,
        }
    }

    /// The error for stderr: manifest errors with snippets, others with their causes.
    pub fn render(&self, console: &Console) -> String {
        if let Self::Manifest(ManifestLoadError::Invalid(invalid)) = self {
            return render_invalid(invalid, console);
        }
        let mut text = format!(
            "{} {self}\n",
            crate::report::console::paint(
                "error:",
                crate::report::console::Style::Failure,
                console.color
            )
        );
        let mut cause = self.source();
        while let Some(error) = cause {
            // `transparent` variants repeat their inner message; do not print it twice.
            if error.to_string() != self.to_string() {
                let _ = writeln!(text, "  caused by: {error}");
            }
            cause = error.source();
        }
        crate::secrets::redact(&text).into_owned()
    }
}

fn render_invalid(invalid: &InvalidManifest, console: &Console) -> String {
    crate::secrets::redact(&invalid.render(console.color, console.width)).into_owned()
}
