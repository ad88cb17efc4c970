//! Turning run events into output: bars or lines on stderr, the JSON run report, `JUnit` XML.

mod atomic_file;
mod bars_reporter;
mod bench_table;
pub mod console;
mod github;
mod html_report;
mod junit;
mod lines_reporter;
mod reporter;
mod run_record;
pub mod step_lines;

pub use atomic_file::write_atomically;
pub use bars_reporter::BarsReporter;
pub use bench_table::{bench_reports, render_bench_markdown, render_bench_text};
pub use github::{
    GithubReporter, annotation, escape_data, escape_property, github_wanted, render_step_summary,
};
pub use html_report::render_html;
pub use junit::render_junit;
pub use lines_reporter::LinesReporter;
pub use reporter::{Reporter, SilentReporter};
pub use run_record::{RunRecord, RunRecorder, StepRecord};
