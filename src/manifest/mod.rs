//! Manifest text to a validated [`Pipeline`](crate::pipeline::Pipeline): load (TOML to raw
//! types), then analyze (names, variables, values, cycles), every error collected on the way.

mod analyzer;
mod env_file;
mod formatter;
mod garbage;
mod interpolation;
mod invalid_manifest;
pub mod json_schema;
mod key_path;
mod loader;
mod manifest_error;
pub mod raw;
mod source_file;
mod spanned;
pub mod suggestion;
mod variables;

use std::path::Path;

pub use analyzer::{DEFAULT_BATCH_SIZE, DEFAULT_HISTORY_TABLE, DEFAULT_KEEP_BACKUPS, analyze};
pub use env_file::{EnvFileError, parse_env_file};
pub use formatter::{FormatError, format_manifest};
pub use garbage::check_manifest_invariants;
pub use interpolation::{
    InterpolationError, InterpolationErrorKind, interpolate, is_variable_name,
};
pub use invalid_manifest::InvalidManifest;
pub use key_path::{KeyPath, PathSegment};
pub use loader::{Loaded, load};
pub use manifest_error::ManifestError;
pub use source_file::SourceFile;
pub use spanned::{Span, Spanned};
pub use variables::{Variables, VariablesBuilder};

use crate::pipeline::Pipeline;

/// Why a manifest could not become a pipeline.
#[derive(Debug, thiserror::Error)]
pub enum ManifestLoadError {
    #[error("cannot read manifest `{path}`")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Invalid(#[from] Box<InvalidManifest>),
}

/// Reads, loads and analyzes the manifest at `path`.
pub fn load_pipeline(path: &Path, variables: &Variables) -> Result<Pipeline, ManifestLoadError> {
    let source = SourceFile::read(path).map_err(|source| ManifestLoadError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_pipeline(&source, variables)
}

/// Loads and analyzes manifest text that is already in memory.
pub fn parse_pipeline(
    source: &SourceFile,
    variables: &Variables,
) -> Result<Pipeline, ManifestLoadError> {
    // An error quoting a line of the manifest must not show a password written in it.
    crate::secrets::register_url_secrets_in(source.text());
    let invalid = |errors| Box::new(InvalidManifest::new(source.clone(), errors));
    let loaded = load(source).map_err(invalid)?;
    let mut errors = loaded.errors;
    match analyze(source, loaded.raw, variables) {
        Ok(pipeline) if errors.is_empty() => return Ok(pipeline),
        Ok(_) => {}
        Err(analysis) => errors.extend(
            analysis
                .into_iter()
                .filter(|error| !is_consequence_of_removal(error, &loaded.removed)),
        ),
    }
    Err(invalid(errors).into())
}

/// A key the loader removed for having the wrong type is not also missing.
fn is_consequence_of_removal(error: &ManifestError, removed: &[KeyPath]) -> bool {
    let ManifestError::MissingKey { key, table, .. } = error else {
        return false;
    };
    removed.iter().any(|path| {
        path.split_last().is_some_and(|(parent, last)| {
            matches!(last, PathSegment::Key(name) if name == key)
                && loader::table_name(&parent) == *table
        })
    })
}
