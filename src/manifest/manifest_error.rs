//! Everything that can be wrong with a manifest, each pointing at the text.

use miette::{Diagnostic, SourceSpan};

use crate::manifest::spanned::Span;

/// One problem in a manifest. Messages are lowercase fragments; the label says what is wrong
/// at the span and the help says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Diagnostic)]
pub enum ManifestError {
    #[error("invalid TOML: {message}")]
    #[diagnostic(code(manifest::syntax))]
    Syntax {
        message: String,
        #[label("here")]
        span: SourceSpan,
    },

    #[error("unknown key `{key}` in {table}")]
    #[diagnostic(code(manifest::unknown_key))]
    UnknownKey {
        key: String,
        table: String,
        #[label("unknown key")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("key `{key}` does not apply to a `{kind}` step")]
    #[diagnostic(code(manifest::key_not_for_kind))]
    KeyNotForKind {
        key: String,
        kind: String,
        #[label("not a `{kind}` key")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("invalid value for `{key}`: {message}")]
    #[diagnostic(code(manifest::invalid_value))]
    InvalidValue {
        key: String,
        message: String,
        #[label("here")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("missing key `{key}` in {table}")]
    #[diagnostic(code(manifest::missing_key))]
    MissingKey {
        key: String,
        table: String,
        #[label("this table needs `{key}`")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("unknown step kind `{kind}`")]
    #[diagnostic(code(manifest::unknown_kind))]
    UnknownStepKind {
        kind: String,
        #[label("not a step kind")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("unknown step `{name}` in `after` of step `{step}`")]
    #[diagnostic(code(manifest::unknown_step))]
    UnknownStep {
        name: String,
        step: String,
        #[label("no step has this id")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("unknown connection `{name}`")]
    #[diagnostic(code(manifest::unknown_connection))]
    UnknownConnection {
        name: String,
        #[label("no `[connections.{name}]` table")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("step `{step}` runs after itself")]
    #[diagnostic(
        code(manifest::self_dependency),
        help("remove `{step}` from its own `after` list")
    )]
    SelfDependency {
        step: String,
        #[label("a step cannot wait for itself")]
        span: SourceSpan,
    },

    #[error("dependency cycle: {cycle}")]
    #[diagnostic(
        code(manifest::cycle),
        help("steps in a cycle can never start: remove one of the `after` entries of the cycle")
    )]
    Cycle {
        cycle: String,
        #[label("this `after` entry closes the cycle")]
        span: SourceSpan,
    },

    #[error("`{key}` points at `{path}`, which does not exist")]
    #[diagnostic(code(manifest::missing_path))]
    MissingPath {
        key: String,
        path: String,
        #[label("not found")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("variable `{name}` is not set")]
    #[diagnostic(code(manifest::unset_variable))]
    UnsetVariable {
        name: String,
        #[label("used here")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("invalid interpolation: {message}")]
    #[diagnostic(code(manifest::interpolation))]
    InvalidInterpolation {
        message: String,
        #[label("here")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("invalid {what} `{name}`")]
    #[diagnostic(
        code(manifest::invalid_name),
        help("use letters, digits, `_` and `-`, starting with a letter or `_`")
    )]
    InvalidName {
        what: &'static str,
        name: String,
        #[label("not a valid {what}")]
        span: SourceSpan,
    },

    #[error("{message}")]
    #[diagnostic(code(manifest::conflict))]
    Conflict {
        message: String,
        #[label("{label}")]
        span: SourceSpan,
        label: String,
        #[help]
        help: Option<String>,
    },

    #[error("`{name}` appears twice in `{key}`")]
    #[diagnostic(code(manifest::duplicate), help("remove the second one"))]
    Duplicate {
        name: String,
        key: String,
        #[label("already listed")]
        span: SourceSpan,
    },

    #[error("invalid URL for connection `{connection}`: {message}")]
    #[diagnostic(code(manifest::invalid_url))]
    InvalidUrl {
        connection: String,
        message: String,
        #[label("here")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },
}

impl ManifestError {
    /// The byte range of the manifest text the error points at.
    pub fn span(&self) -> Span {
        let span = match self {
            Self::Syntax { span, .. }
            | Self::UnknownKey { span, .. }
            | Self::KeyNotForKind { span, .. }
            | Self::InvalidValue { span, .. }
            | Self::MissingKey { span, .. }
            | Self::UnknownStepKind { span, .. }
            | Self::UnknownStep { span, .. }
            | Self::UnknownConnection { span, .. }
            | Self::SelfDependency { span, .. }
            | Self::Cycle { span, .. }
            | Self::MissingPath { span, .. }
            | Self::UnsetVariable { span, .. }
            | Self::InvalidInterpolation { span, .. }
            | Self::InvalidName { span, .. }
            | Self::Conflict { span, .. }
            | Self::Duplicate { span, .. }
            | Self::InvalidUrl { span, .. } => span,
        };
        span.offset()..span.offset() + span.len()
    }
}

/// Converts a byte range into miette's span type.
pub(crate) fn source_span(span: &Span) -> SourceSpan {
    SourceSpan::new(span.start.into(), span.end.saturating_sub(span.start))
}
