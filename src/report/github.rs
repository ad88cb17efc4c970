//! GitHub Actions output: a `::group::` per step holding its output, `::error` and
//! `::warning` annotations at the manifest line of each failing step or check, and a Markdown
//! summary (with the Mermaid graph, failures in red) for `$GITHUB_STEP_SUMMARY`.
//! Workflow commands go to stdout, where the runner reads them.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use crate::graph::StepGraph;
use crate::pipeline::{Pipeline, StepAction, StepId};
use crate::report::{Reporter, RunRecord};
use crate::run::{RunEvent, StepResult, StepStatus};

/// Whether to write GitHub workflow commands: `--annotations github`, or
/// `GITHUB_ACTIONS=true` unless `--annotations none`.
pub fn github_wanted(choice: Option<&str>) -> bool {
    match choice {
        Some(choice) => choice == "github",
        None => std::env::var("GITHUB_ACTIONS").is_ok_and(|value| value == "true"),
    }
}

/// `%`, CR and LF escaped, as the runner reads a command's message.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value (`file=`, `title=`): the message's escapes, and `:` and `,`.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// An annotation: `::error file=F,line=L,col=C,title=T::message`.
pub fn annotation(
    level: &str,
    file: &str,
    (line, column): (usize, usize),
    title: &str,
    message: &str,
) -> String {
    format!(
        "::{level} file={},line={line},col={column},title={}::{}",
        escape_property(file),
        escape_property(title),
        escape_data(message)
    )
}

/// The last lines of a failed step's output its annotation shows.
const ANNOTATED_OUTPUT_LINES: usize = 5;

/// Writes groups and annotations as steps finish.
#[derive(Debug)]
pub struct GithubReporter {
    pipeline: Arc<Pipeline>,
    /// The manifest's path as annotations name it: relative to the working directory (the
    /// repository's root in a workflow) when it is below it.
    file: String,
    output: HashMap<StepId, Vec<String>>,
}

impl GithubReporter {
    pub fn new(pipeline: Arc<Pipeline>) -> Self {
        // Relative to the repository's root (`GITHUB_WORKSPACE`, else the working directory),
        // both made absolute: `./p.toml` or `../p.toml` from a `working-directory:` would not
        // land on the pull request's diff.
        let path = pipeline.source.path();
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let root = std::env::var_os("GITHUB_WORKSPACE")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::current_dir().ok())
            .and_then(|root| std::fs::canonicalize(root).ok());
        let file = root
            .and_then(|root| absolute.strip_prefix(root).ok().map(Path::to_path_buf))
            .unwrap_or(absolute)
            .display()
            .to_string();
        Self {
            pipeline,
            file,
            output: HashMap::new(),
        }
    }

    fn position(&self, offset: usize) -> (usize, usize) {
        self.pipeline.source.line_col(offset)
    }

    /// The group of a finished step and the annotations of its failures.
    fn finished(&mut self, id: &StepId, result: &StepResult) -> String {
        let mut text = format!(
            "::group::{} {id} ({})\n",
            result.status.describe(),
            crate::report::step_lines::format_elapsed(result.duration)
        );
        let lines = self.output.remove(id).unwrap_or_default();
        if !lines.is_empty() {
            // The step's own lines are data: the runner stops reading workflow commands (`::`
            // and the legacy `##[...]`) until the token, which the step cannot guess.
            let token = uuid::Uuid::now_v7().simple().to_string();
            let _ = writeln!(text, "::stop-commands::{token}");
            for line in lines {
                text.push_str(&line);
                text.push('\n');
            }
            let _ = writeln!(text, "::{token}::");
        }
        text.push_str("::endgroup::\n");
        let step = self.pipeline.step(id);
        if matches!(result.status, StepStatus::Failed | StepStatus::TimedOut) {
            // The error, then the last lines the step printed: what a reviewer needs to see.
            let mut message = result.error.clone().unwrap_or_else(|| "failed".to_owned());
            let tail = &result.output_tail;
            for line in &tail[tail.len().saturating_sub(ANNOTATED_OUTPUT_LINES)..] {
                message.push('\n');
                message.push_str(line);
            }
            let _ = writeln!(
                text,
                "{}",
                annotation(
                    "error",
                    &self.file,
                    self.position(step.span.start),
                    &format!("step {id} {}", result.status.describe()),
                    &message,
                )
            );
        }
        if let (StepAction::Validate(validate), Some(details)) = (&step.action, &result.details) {
            for check in details["checks"].as_array().into_iter().flatten() {
                let level = match check["status"].as_str() {
                    Some("failed") => "error",
                    Some("warned") => "warning",
                    _ => continue,
                };
                let name = check["name"].as_str().unwrap_or_default();
                let span = validate
                    .checks
                    .iter()
                    .find(|spec| spec.name == name)
                    .map_or(step.span.start, |spec| spec.span.start);
                let _ = writeln!(
                    text,
                    "{}",
                    annotation(
                        level,
                        &self.file,
                        self.position(span),
                        &format!("check {name} of step {id}"),
                        check["message"].as_str().unwrap_or_default(),
                    )
                );
            }
        }
        text
    }
}

impl Reporter for GithubReporter {
    fn report(&mut self, event: &RunEvent) {
        match event {
            RunEvent::StepOutput { id, line, .. } => {
                self.output
                    .entry(id.clone())
                    .or_default()
                    .push(line.clone());
            }
            RunEvent::StepFinished { id, result } => {
                let text = self.finished(id, result);
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(text.as_bytes());
                let _ = stdout.flush();
            }
            _ => {}
        }
    }
}

/// The run as Markdown for `$GITHUB_STEP_SUMMARY`: the outcome, a table of steps (failures in
/// red), the graph in Mermaid with each step coloured by its status, failed checks, and the
/// benchmarks' comparison.
pub fn render_step_summary(record: &RunRecord, graph: &StepGraph) -> String {
    let mut text = format!(
        "## pipewright: `{}` {}\n\n",
        record.pipeline,
        record
            .status
            .map_or("did not finish", crate::run::RunStatus::name)
    );
    text.push_str("| step | kind | status | duration | |\n|---|---|---|---:|---|\n");
    for step in &record.steps {
        let status = match (step.status, &step.skip) {
            (Some(StepStatus::Failed | StepStatus::TimedOut), _) => format!(
                "$\\color{{red}}{{\\textsf{{{}}}}}$",
                step.status
                    .map_or("failed", StepStatus::describe)
                    .replace(' ', "\\ ")
            ),
            (Some(status), _) => status.describe().to_owned(),
            (None, _) => "not settled".to_owned(),
        };
        let note = match (&step.error, &step.skip) {
            (Some(error), _) => first_line(error),
            (None, Some(skip)) => skip.describe(),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            text,
            "| `{}` | {} | {status} | {} | {} |",
            step.id,
            step.kind,
            crate::report::step_lines::format_elapsed(step.duration),
            markdown_cell(&note)
        );
    }
    let nodes = crate::graph::mermaid_ids(graph);
    text.push_str("\n```mermaid\nflowchart LR\n");
    for id in graph.topological_order() {
        let _ = writeln!(text, "  {}[\"{}\"]", nodes[id], id);
    }
    for (from, to) in graph.edges() {
        let _ = writeln!(text, "  {} --> {}", nodes[from], nodes[to]);
    }
    text.push_str("  classDef succeeded fill:#d4edda,stroke:#2e7d32\n");
    text.push_str("  classDef failed fill:#f8d7da,stroke:#c62828,color:#c62828\n");
    text.push_str("  classDef skipped fill:#eeeeee,stroke:#9e9e9e\n");
    for step in &record.steps {
        let class = match step.status {
            Some(StepStatus::Succeeded) => "succeeded",
            Some(StepStatus::Failed | StepStatus::TimedOut | StepStatus::Cancelled) => "failed",
            _ => "skipped",
        };
        if let Some(node) = nodes.get(&step.id) {
            let _ = writeln!(text, "  class {node} {class}");
        }
    }
    text.push_str("```\n");
    let failed_checks: Vec<String> = record
        .steps
        .iter()
        .flat_map(|step| {
            step.details
                .iter()
                .flat_map(|details| details["checks"].as_array().into_iter().flatten())
                .filter(|check| check["status"] == "failed" || check["status"] == "warned")
                .map(move |check| {
                    format!(
                        "- `{}` {}: **{}** {}",
                        step.id,
                        check["name"].as_str().unwrap_or_default(),
                        check["status"].as_str().unwrap_or_default(),
                        markdown_cell(check["message"].as_str().unwrap_or_default())
                    )
                })
        })
        .collect();
    if !failed_checks.is_empty() {
        text.push_str("\n### Checks that did not pass\n\n");
        text.push_str(&failed_checks.join("\n"));
        text.push('\n');
    }
    let benchmarks = crate::report::bench_reports(record);
    if !benchmarks.is_empty() {
        text.push('\n');
        text.push_str(
            &crate::report::render_bench_markdown(&benchmarks).replacen("## ", "### ", 1),
        );
    }
    text
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

/// Text safe in a Markdown table cell: one line, `|` escaped.
fn markdown_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_properties_are_escaped() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(
            annotation(
                "error",
                "pipelines/a,b.toml",
                (3, 1),
                "step x: failed",
                "line 1\nline 2"
            ),
            "::error file=pipelines/a%2Cb.toml,line=3,col=1,title=step x%3A failed::line 1%0Aline 2"
        );
    }

    #[test]
    fn the_variable_or_the_flag_decides() {
        assert!(github_wanted(Some("github")));
        assert!(!github_wanted(Some("none")));
    }
}
