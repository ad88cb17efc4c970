//! `--junit`: the run as `JUnit` XML, one test case per step, for CI test tabs.

use std::fmt::Write as _;

use crate::report::RunRecord;
use crate::run::StepStatus;

/// How a test case ended.
#[derive(Debug)]
enum Verdict {
    Passed,
    Failed {
        kind: &'static str,
        message: String,
        details: String,
    },
    Error {
        message: String,
    },
    Skipped {
        message: String,
    },
}

/// One test case: a step, or a check of a `validate` step.
#[derive(Debug)]
struct Case {
    name: String,
    classname: String,
    seconds: String,
    verdict: Verdict,
    output: Vec<String>,
}

/// The cases of a step: the step itself, and one per check of a `validate` step that ran.
fn cases(pipeline: &str, step: &crate::report::StepRecord) -> Vec<Case> {
    let mut cases = vec![step_case(pipeline, step)];
    cases.extend(check_cases(pipeline, step));
    cases
}

/// One case per check of a `validate` step that ran; none for other steps.
fn check_cases(pipeline: &str, step: &crate::report::StepRecord) -> Vec<Case> {
    let Some(checks) = step
        .details
        .as_ref()
        .and_then(|details| details.get("checks"))
        .and_then(serde_json::Value::as_array)
    else {
        return Vec::new();
    };
    checks
        .iter()
        .map(|check| {
            let text = |key: &str| {
                check
                    .get(key)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let message = text("message");
            let samples = check
                .get("samples")
                .and_then(serde_json::Value::as_array)
                .map(|samples| {
                    samples
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            let details = if samples.is_empty() {
                message.clone()
            } else {
                format!("{message}\n\nfailing rows:\n{samples}")
            };
            // A warning does not fail the run, so it does not fail the test case either:
            // it is passed, with the warning in its output.
            let (verdict, output) = match text("status").as_str() {
                "passed" => (Verdict::Passed, Vec::new()),
                "warned" => (Verdict::Passed, vec![format!("warning: {details}")]),
                _ => (
                    Verdict::Failed {
                        kind: "failed",
                        details,
                        message,
                    },
                    Vec::new(),
                ),
            };
            Case {
                name: text("name"),
                classname: format!("{pipeline}.validate.{}", step.id),
                seconds: format!(
                    "{:.3}",
                    check
                        .get("duration_ms")
                        .and_then(serde_json::Value::as_f64)
                        .unwrap_or_default()
                        / 1_000.0
                ),
                verdict,
                output,
            }
        })
        .collect()
}

/// The case of the step itself: its status, error and last output.
fn step_case(pipeline: &str, step: &crate::report::StepRecord) -> Case {
    let message = step.error.as_deref().unwrap_or_default();
    let verdict = match step.status {
        Some(StepStatus::Succeeded) => Verdict::Passed,
        Some(status @ (StepStatus::Failed | StepStatus::TimedOut)) => {
            let mut details = message.to_owned();
            if !step.output_tail.is_empty() {
                details.push_str("\n\nlast output:\n");
                details.push_str(&step.output_tail.join("\n"));
            }
            Verdict::Failed {
                kind: status.name(),
                message: first_line(message).to_owned(),
                details,
            }
        }
        Some(StepStatus::Cancelled) | None => Verdict::Error {
            message: if message.is_empty() {
                "cancelled".to_owned()
            } else {
                first_line(message).to_owned()
            },
        },
        Some(StepStatus::Skipped) => Verdict::Skipped {
            message: step
                .skip
                .as_ref()
                .map(crate::run::StepSkip::describe)
                .unwrap_or_default(),
        },
    };
    Case {
        name: step.id.to_string(),
        classname: format!("{pipeline}.{}", step.kind),
        seconds: seconds(step.duration),
        verdict,
        output: step.output_tail.clone(),
    }
}

/// Renders a run record as a `JUnit` XML document: one test case per step, and one per check
/// of the `validate` steps that ran.
pub fn render_junit(record: &RunRecord) -> String {
    let name = escape(&record.pipeline);
    let cases: Vec<Case> = record
        .steps
        .iter()
        .flat_map(|step| cases(&record.pipeline, step))
        .collect();
    let tests = cases.len();
    let failures = cases
        .iter()
        .filter(|case| matches!(case.verdict, Verdict::Failed { .. }))
        .count();
    let errors = cases
        .iter()
        .filter(|case| matches!(case.verdict, Verdict::Error { .. }))
        .count();
    let skipped = cases
        .iter()
        .filter(|case| matches!(case.verdict, Verdict::Skipped { .. }))
        .count();
    let time = seconds(record.duration);
    let timestamp = record
        .started_at
        .map(|at| at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default();

    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"pipewright\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time}\">"
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{name}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time}\" timestamp=\"{timestamp}\">"
    );
    if let Some(run_id) = record.run_id {
        let _ = writeln!(
            xml,
            "    <properties>\n      <property name=\"run_id\" value=\"{run_id}\"/>\n      <property name=\"manifest\" value=\"{}\"/>\n    </properties>",
            escape(&record.manifest)
        );
    }
    for case in &cases {
        let _ = write!(
            xml,
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
            escape(&case.name),
            escape(&case.classname),
            case.seconds
        );
        let body = match &case.verdict {
            Verdict::Passed => String::new(),
            Verdict::Failed {
                kind,
                message,
                details,
            } => format!(
                "      <failure message=\"{}\" type=\"{kind}\">{}</failure>\n",
                escape(first_line(message)),
                escape(details)
            ),
            Verdict::Error { message } => format!(
                "      <error message=\"{}\" type=\"cancelled\"/>\n",
                escape(message)
            ),
            Verdict::Skipped { message } => {
                format!("      <skipped message=\"{}\"/>\n", escape(message))
            }
        };
        let output = if case.output.is_empty() {
            String::new()
        } else {
            format!(
                "      <system-out>{}</system-out>\n",
                escape(&case.output.join("\n"))
            )
        };
        if body.is_empty() && output.is_empty() {
            xml.push_str("/>\n");
        } else {
            let _ = write!(xml, ">\n{body}{output}    </testcase>\n");
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    crate::secrets::redact(&xml).into_owned()
}

fn seconds(duration: std::time::Duration) -> String {
    format!("{:.3}", duration.as_secs_f64())
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// Escapes XML text and attribute values, dropping characters XML 1.0 cannot carry.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\n' => escaped.push_str("&#10;"),
            '\t' | '\r' => escaped.push(character),
            character if u32::from(character) < 0x20 => {}
            character => escaped.push(character),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            escape("a<b> & \"c\" 'd'\u{1}"),
            "a&lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;"
        );
        assert_eq!(escape("two\nlines"), "two&#10;lines");
    }
}
