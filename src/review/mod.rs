//! Reviewing a change to a manifest: the semantic diff `pipewright diff` prints, as text, as
//! Markdown for a pull request, or as JSON.

mod comparable;
mod diff_markdown;
mod diff_text;
mod key_change;
mod manifest_diff;

pub use diff_markdown::render_markdown;
pub use diff_text::render_text;
pub use key_change::{KeyChange, TextChange};
pub use manifest_diff::{
    ConnectionChange, ConnectionChanges, ConnectionSummary, DependencyChanges, DependencyEdge,
    ManifestDiff, StepChange, StepChanges, StepRename, StepSummary, diff_pipelines, render_json,
};
