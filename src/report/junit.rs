//! `--junit`: the run as `JUnit` XML, one test case per step, for CI test tabs.

use std::fmt::Write as _;

use crate::report::RunRecord;
use crate::run::StepStatus;

/// Renders a run record as a `JUnit` XML document.
pub fn render_junit(record: &RunRecord) -> String {
    let tests = record.steps.len();
    let failures = record
        .steps
        .iter()
        .filter(|step| step.status.is_some_and(StepStatus::is_failure))
        .count();
    let errors = record
        .steps
        .iter()
        .filter(|step| matches!(step.status, Some(StepStatus::Cancelled) | None))
        .count();
    let skipped = record.count(StepStatus::Skipped);
    let time = seconds(record.duration);
    let timestamp = record
        .started_at
        .map(|at| at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default();
    let name = escape(&record.pipeline);

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
    for step in &record.steps {
        let _ = write!(
            xml,
            "    <testcase name=\"{}\" classname=\"{name}.{}\" time=\"{}\"",
            escape(step.id.as_str()),
            step.kind,
            seconds(step.duration)
        );
        let message = step.error.as_deref().unwrap_or_default();
        let body = match step.status {
            Some(StepStatus::Succeeded) => String::new(),
            Some(status @ (StepStatus::Failed | StepStatus::TimedOut)) => {
                // CI test tabs show the failure body: give it the last output too.
                let mut details = message.to_owned();
                if !step.output_tail.is_empty() {
                    details.push_str("\n\nlast output:\n");
                    details.push_str(&step.output_tail.join("\n"));
                }
                format!(
                    "      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
                    escape(first_line(message)),
                    status.name(),
                    escape(&details)
                )
            }
            Some(StepStatus::Cancelled) | None => format!(
                "      <error message=\"{}\" type=\"cancelled\"/>\n",
                escape(if message.is_empty() {
                    "cancelled"
                } else {
                    first_line(message)
                })
            ),
            Some(StepStatus::Skipped) => format!(
                "      <skipped message=\"{}\"/>\n",
                escape(
                    &step
                        .skip
                        .as_ref()
                        .map(crate::run::StepSkip::describe)
                        .unwrap_or_default()
                )
            ),
        };
        let output = if step.output_tail.is_empty() {
            String::new()
        } else {
            format!(
                "      <system-out>{}</system-out>\n",
                escape(&step.output_tail.join("\n"))
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
