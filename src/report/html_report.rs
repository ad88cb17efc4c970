//! `--html`: the run as one self-contained HTML page — a header, a timeline of the steps, the
//! step graph, every check, every benchmark against its baseline and the logs of the failed
//! steps. Everything is inline (CSS, SVG, no script), so the file opens offline, as a CI
//! artifact or an attachment, and shows the same with JavaScript disabled.

mod bench_chart;
mod check_tables;
mod graph_svg;
mod timeline;

use std::fmt::Write as _;

use crate::graph::StepGraph;
use crate::pipeline::Pipeline;
use crate::report::step_lines::format_elapsed;
use crate::report::{RunRecord, StepRecord};
use crate::run::{RunStatus, StepStatus};

/// The page's only styles. Colours come from `data-status` and `data-verdict` attributes
/// through two custom properties, so the SVG marks, badges and rows of one status always
/// agree and tests query the same attributes the styles use.
const STYLESHEET: &str = r#"body{margin:0 auto;max-width:1120px;padding:24px;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2328;background:#fff}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:32px 0 8px;padding-bottom:4px;border-bottom:1px solid #d0d7de}
h3{font-size:15px;margin:20px 0 6px}
nav a{margin-right:14px;color:#0969da;text-decoration:none}
code,pre,table.samples{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12px}
pre{margin:6px 0;padding:10px;background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;white-space:pre-wrap;overflow-wrap:anywhere}
pre.error{border-color:var(--color);background:var(--tint)}
dl.summary{display:flex;flex-wrap:wrap;gap:8px 28px;margin:12px 0}
dt{font-size:12px;color:#656d76}
dd{margin:0;font-weight:600}
.meta,.empty,.description{color:#656d76;font-weight:normal}
.badge{display:inline-block;padding:0 8px;border-radius:10px;background:var(--color);color:#fff;font-size:12px;font-weight:600}
table{width:100%;border-collapse:collapse;margin:6px 0}
th,td{padding:4px 8px;border-bottom:1px solid #d0d7de;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-size:12px}
td.number{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.status,td.verdict{color:var(--color);font-weight:600}
tr.check[data-status=failed],tr.check[data-status=warned],tr.metric-row[data-verdict=regressed]{background:var(--tint)}
table.samples td,table.samples th{padding:2px 6px}
.null{color:#8c959f;font-style:italic}
svg{display:block;max-width:100%;height:auto;margin:6px 0}
svg text{font-size:12px;fill:#1f2328}
svg line.grid{stroke:#d0d7de}
svg rect.stripe{fill:#f6f8fa}
rect.bar{fill:var(--color)}
g.skip path{fill:var(--color)}
g.skip text{fill:#656d76;font-style:italic}
g.node rect{fill:var(--tint);stroke:var(--color);stroke-width:1.5}
g.node text.detail{fill:#656d76;font-size:11px}
path.edge{fill:none;stroke:#8c959f;stroke-width:1.5}
path.arrowhead{fill:#8c959f}
rect.baseline-bar,rect.legend-baseline{fill:#afb8c1}
rect.now-bar,rect.legend-now{fill:#0969da}
g.metric[data-verdict=regressed] rect.now-bar{fill:#cf222e}
g.metric[data-verdict=regressed] text.change{fill:#cf222e;font-weight:600}
[data-status=succeeded],[data-status=passed],[data-verdict=pass]{--color:#1a7f37;--tint:#dafbe1}
[data-status=failed],[data-verdict=regressed]{--color:#cf222e;--tint:#ffebe9}
[data-status=timed_out],[data-status=cancelled],[data-status=warned]{--color:#bc4c00;--tint:#fff1e5}
[data-status=skipped],[data-status=unsettled],[data-status=unfinished],[data-verdict=info],[data-verdict=new]{--color:#6e7781;--tint:#f6f8fa}
"#;

/// Nothing may be fetched or run: even if some text escaped escaping, a browser would refuse
/// to load or execute it.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'";

/// Renders a run record as a self-contained HTML page. The same record, pipeline and graph
/// always give the same bytes.
pub fn render_html(record: &RunRecord, pipeline: &Pipeline, graph: &StepGraph) -> String {
    let mut html = String::with_capacity(32 * 1024);
    let _ = writeln!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_SECURITY_POLICY}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"pipewright {}\">\n\
         <title>{} — pipewright run</title>\n<style>\n{STYLESHEET}</style>\n</head>",
        env!("CARGO_PKG_VERSION"),
        escape(&record.pipeline)
    );
    let _ = writeln!(
        html,
        "<body data-pipeline=\"{}\" data-run-status=\"{}\">",
        escape(&record.pipeline),
        run_status_name(record.status)
    );
    html.push_str(&header(record, pipeline));
    let sections = [
        ("timeline", "Timeline", timeline::render(record)),
        ("graph", "Graph", graph_svg::render(record, pipeline, graph)),
        ("checks", "Checks", check_tables::render(record)),
        ("benchmarks", "Benchmarks", bench_chart::render(record)),
        ("logs", "Logs of failed steps", logs(record)),
    ];
    html.push_str("<nav>");
    for (id, heading, _) in &sections {
        let _ = write!(html, "<a href=\"#{id}\">{heading}</a>");
    }
    html.push_str("</nav>\n");
    for (id, heading, body) in &sections {
        let _ = writeln!(
            html,
            "<section id=\"{id}\">\n<h2>{heading}</h2>\n{body}</section>"
        );
    }
    html.push_str("</body>\n</html>\n");
    crate::secrets::redact(&html).into_owned()
}

/// The pipeline, the run's id, status, start, duration and step counts.
fn header(record: &RunRecord, pipeline: &Pipeline) -> String {
    let mut html = format!("<header>\n<h1>{}</h1>\n", escape(&record.pipeline));
    if let Some(description) = &pipeline.description {
        let _ = writeln!(html, "<p class=\"description\">{}</p>", escape(description));
    }
    let status = run_status_name(record.status);
    let run_id = record
        .run_id
        .map_or_else(|| "-".to_owned(), |run_id| run_id.to_string());
    let started = record.started_at.map_or_else(
        || "-".to_owned(),
        |at| {
            format!(
                "<time datetime=\"{}\">{}</time>",
                at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                at.format("%Y-%m-%d %H:%M:%S UTC")
            )
        },
    );
    html.push_str("<dl class=\"summary\">\n");
    let mut item = |term: &str, value: &str| {
        let _ = writeln!(html, "<div><dt>{term}</dt><dd>{value}</dd></div>");
    };
    item(
        "Status",
        &format!(
            "<span class=\"badge\" id=\"run-status\" data-status=\"{status}\">{status}</span>"
        ),
    );
    item(
        "Run",
        &format!("<code id=\"run-id\">{}</code>", escape(&run_id)),
    );
    item("Started", &started);
    item("Duration", &format_elapsed(record.duration));
    item("Steps", &step_counts(record));
    item(
        "Manifest",
        &format!("<code>{}</code>", escape(&record.manifest)),
    );
    html.push_str("</dl>\n</header>\n");
    html
}

/// `5 steps: 3 succeeded, 1 failed, 1 skipped`, each count marked with its status.
fn step_counts(record: &RunRecord) -> String {
    let total = record.steps.len();
    let mut text = format!("{total} {}", if total == 1 { "step" } else { "steps" });
    let statuses = [
        StepStatus::Succeeded,
        StepStatus::Failed,
        StepStatus::TimedOut,
        StepStatus::Cancelled,
        StepStatus::Skipped,
    ];
    let mut counts: Vec<(&str, &str, usize)> = statuses
        .into_iter()
        .map(|status| (status.name(), status.describe(), record.count(status)))
        .collect();
    let unsettled = record
        .steps
        .iter()
        .filter(|step| step.status.is_none())
        .count();
    counts.push(("unsettled", "not settled", unsettled));
    let mut separator = ": ";
    for (name, words, count) in counts {
        if count > 0 {
            let _ = write!(
                text,
                "{separator}<span class=\"count\" data-count=\"{name}\">{count} {words}</span>"
            );
            separator = ", ";
        }
    }
    text
}

/// The error and last output of every step that failed, timed out or was cancelled.
fn logs(record: &RunRecord) -> String {
    let mut html = String::new();
    for step in record.steps.iter().filter(|step| shows_log(step)) {
        let status = status_name(step.status);
        let _ = writeln!(
            html,
            "<article class=\"log\" id=\"log-{id}\" data-step=\"{id}\" data-status=\"{status}\">\n\
             <h3>{id} <span class=\"badge\" data-status=\"{status}\">{words}</span> \
             <span class=\"meta\">{kind}, after {elapsed}</span></h3>",
            id = escape(step.id.as_str()),
            words = step.status.map_or("not settled", StepStatus::describe),
            kind = step.kind,
            elapsed = format_elapsed(step.duration),
        );
        if let Some(error) = &step.error {
            let _ = writeln!(html, "<pre class=\"error\">{}</pre>", escape(error));
        }
        if step.attempts.len() > 1 {
            html.push_str("<ol class=\"attempts\">\n");
            for attempt in &step.attempts {
                let _ = writeln!(
                    html,
                    "<li data-status=\"{}\">attempt {}: {} after {}{}</li>",
                    attempt.status.name(),
                    attempt.number,
                    attempt.status.describe(),
                    format_elapsed(attempt.duration),
                    attempt
                        .error
                        .as_deref()
                        .map(|error| format!(": {}", escape(first_line(error))))
                        .unwrap_or_default()
                );
            }
            html.push_str("</ol>\n");
        }
        if !step.output_tail.is_empty() {
            let _ = writeln!(
                html,
                "<p>Last output:</p>\n<pre class=\"output\">{}</pre>",
                escape(&step.output_tail.join("\n"))
            );
        }
        html.push_str("</article>\n");
    }
    if html.is_empty() {
        return empty("No step failed.");
    }
    html
}

/// Whether the logs section shows the step: it ran and did not succeed.
fn shows_log(step: &StepRecord) -> bool {
    matches!(
        step.status,
        Some(StepStatus::Failed | StepStatus::TimedOut | StepStatus::Cancelled)
    )
}

/// A step's status as the page's `data-status` attributes spell it.
fn status_name(status: Option<StepStatus>) -> &'static str {
    status.map_or("unsettled", StepStatus::name)
}

fn run_status_name(status: Option<RunStatus>) -> &'static str {
    status.map_or("unfinished", RunStatus::name)
}

/// What a section shows when it has nothing to show.
fn empty(text: &str) -> String {
    format!("<p class=\"empty\">{}</p>\n", escape(text))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// At most `limit` characters, with an ellipsis when cut: labels inside fixed-size SVG boxes.
fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(limit.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// A count as a coordinate factor. Counts here are steps, layers and metrics, far below
/// `u32::MAX`.
fn as_f64(count: usize) -> f64 {
    u32::try_from(count).map_or(f64::from(u32::MAX), f64::from)
}

/// Escapes text for HTML element content and quoted attribute values. Control characters
/// (terminal colour codes in a command's output) are dropped: they mean nothing on a page.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            '\t' | '\n' | '\r' => escaped.push(character),
            character if character.is_control() => {}
            character => escaped.push(character),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{DateTime, TimeDelta, Utc};

    use super::*;
    use crate::bench::{BaselineEntry, BenchReport, MetricReport, Verdict};
    use crate::manifest::{SourceFile, Variables, parse_pipeline};
    use crate::pipeline::{Better, StepId};
    use crate::plan::{Plan, Selection};
    use crate::report::{Reporter, RunRecorder};
    use crate::run::{Attempt, RunEvent, RunId, StepResult, StepSkip};

    const MANIFEST: &str = r#"[pipeline]
name = "nightly"
description = "Loads <the> bars & checks them"

[connections.db]
url = "sqlite::memory:"

[steps.extract]
kind = "command"
run = ["true"]

[steps.load]
kind = "command"
shell = "exit 3"
after = ["extract"]

[steps.publish]
kind = "command"
run = ["true"]
after = ["load"]

[steps.check_items]
kind = "validate"
after = ["extract"]
connection = "db"
table = "items"
checks = [
  { kind = "row_count", min = 1 },
  { kind = "not_null", columns = ["name"], severity = "warn" },
]

[steps.connect]
kind = "bench"
connection = "db"
workload = { kind = "connect" }
"#;

    const HOSTILE: &str = "<script>alert(1)</script>";

    fn pipeline() -> (Pipeline, StepGraph) {
        let pipeline = parse_pipeline(
            &SourceFile::new("nightly.toml", MANIFEST),
            &Variables::default(),
        )
        .unwrap();
        let graph = StepGraph::new(&pipeline);
        (pipeline, graph)
    }

    fn at(millis: i64) -> DateTime<Utc> {
        "2025-01-02T03:04:05Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::milliseconds(millis)
    }

    fn finished(id: &str, status: StepStatus, from: i64, to: i64) -> RunEvent {
        let duration = Duration::from_millis(u64::try_from(to - from).unwrap());
        let failed = status.is_failure();
        RunEvent::StepFinished {
            id: StepId::new(id),
            result: Box::new(StepResult {
                status,
                attempts: vec![Attempt {
                    number: 1,
                    started_at: at(from),
                    duration,
                    status,
                    error: None,
                }],
                started_at: at(from),
                finished_at: at(to),
                duration,
                error: failed.then(|| format!("`sh` exited with status 3 \"{HOSTILE}\" & more")),
                failure: None,
                rows: None,
                output_tail: if failed {
                    vec!["starting load".to_owned(), HOSTILE.to_owned()]
                } else {
                    Vec::new()
                },
                details: None,
            }),
        }
    }

    fn checks() -> serde_json::Value {
        serde_json::json!({
            "table": "items",
            "checks": [
                {
                    "name": "row_count", "kind": "row_count", "severity": "error",
                    "status": "passed", "message": "3 rows", "rows_checked": 3,
                    "failing_rows": null, "samples": []
                },
                {
                    "name": "not_null(name)", "kind": "not_null", "severity": "warn",
                    "status": "warned", "message": "1 of 3 rows have NULL in (name)",
                    "rows_checked": 3, "failing_rows": 1,
                    "samples": [{ "id": "2", "name": null, "note": "<b onmouseover=x>" }]
                }
            ]
        })
    }

    fn bench() -> serde_json::Value {
        let metric = |name: &str, now: f64, baseline: f64, verdict: Verdict| MetricReport {
            name: name.to_owned(),
            now,
            baseline: Some(baseline),
            change_percent: Some((now - baseline) / baseline * 100.0),
            tolerance_percent: Some(20.0),
            better: Better::Lower,
            verdict,
        };
        let report = BenchReport {
            workload: "connect".to_owned(),
            connection: "db".to_owned(),
            database_type: "sqlite".to_owned(),
            warmup: 1,
            iterations: 10,
            rows: None,
            baseline: Some("baseline.json".to_owned()),
            baseline_updated: false,
            metrics: vec![
                metric("connect_ms", 0.5, 0.25, Verdict::Regressed),
                metric("connect_p99_ms", 0.75, 0.5, Verdict::Info),
            ],
            entry: BaselineEntry {
                workload: "connect".to_owned(),
                database_type: "sqlite".to_owned(),
                rows: None,
                iterations: 10,
                measured_at: "2025-01-02T03:04:05Z".to_owned(),
                pipewright: "0.1.0".to_owned(),
                metrics: std::collections::BTreeMap::new(),
            },
        };
        serde_json::json!({ "bench": report })
    }

    /// A finished run of [`MANIFEST`]: `load` failed, so `publish` was skipped.
    fn record(pipeline: &Pipeline, graph: &StepGraph) -> RunRecord {
        let plan = Plan::new(pipeline, graph, &Selection::default(), 4).unwrap();
        let mut recorder = RunRecorder::new(pipeline, &plan);
        let events = [
            RunEvent::RunStarted {
                run_id: RunId::new(),
                pipeline: "nightly".to_owned(),
                steps: 5,
                started_at: at(0),
            },
            finished("connect", StepStatus::Succeeded, 5, 180),
            finished("extract", StepStatus::Succeeded, 10, 1_210),
            finished("check_items", StepStatus::Succeeded, 1_220, 1_500),
            finished("load", StepStatus::Failed, 1_230, 2_400),
            RunEvent::StepSkipped {
                id: StepId::new("publish"),
                skip: StepSkip::UpstreamFailed {
                    step: StepId::new("load"),
                },
            },
            RunEvent::RunFinished {
                status: RunStatus::Failed,
                duration: Duration::from_millis(2_450),
                counts: crate::run::StepCounts::default(),
            },
        ];
        for event in &events {
            recorder.report(event);
        }
        let mut record = recorder.into_record();
        for step in &mut record.steps {
            match step.id.as_str() {
                "check_items" => step.details = Some(checks()),
                "connect" => step.details = Some(bench()),
                _ => {}
            }
        }
        record
    }

    fn rendered() -> String {
        let (pipeline, graph) = pipeline();
        render_html(&record(&pipeline, &graph), &pipeline, &graph)
    }

    #[test]
    fn escapes_markup_quotes_and_control_characters() {
        assert_eq!(
            escape("a<b> & \"c\" 'd'\u{1b}[31m\n"),
            "a&lt;b&gt; &amp; &quot;c&quot; &#39;d&#39;[31m\n"
        );
    }

    #[test]
    fn hostile_output_is_escaped_everywhere() {
        let html = rendered();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b onmouseover"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&lt;b onmouseover=x&gt;"));
        assert!(html.contains("Loads &lt;the&gt; bars &amp; checks them"));
        assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    }

    #[test]
    fn a_failed_step_shows_its_error_and_last_output() {
        let html = rendered();
        let log = html
            .split(
                "<article class=\"log\" id=\"log-load\" data-step=\"load\" data-status=\"failed\">",
            )
            .nth(1)
            .expect("a log for the failed step");
        let log = &log[..log.find("</article>").unwrap()];
        assert!(
            log.contains("<pre class=\"error\">`sh` exited with status 3 &quot;&lt;script&gt;")
        );
        assert!(log.contains("<pre class=\"output\">starting load\n&lt;script&gt;"));
        assert_eq!(html.matches("<article class=\"log\"").count(), 1);
    }

    #[test]
    fn the_timeline_has_a_bar_per_step_that_ran_in_start_order() {
        let html = rendered();
        let bars: Vec<&str> = html
            .match_indices("<rect class=\"bar\" data-step=\"")
            .map(|(index, found)| {
                let rest = &html[index + found.len()..];
                &rest[..rest.find('"').unwrap()]
            })
            .collect();
        assert_eq!(bars, ["connect", "extract", "check_items", "load"]);
        assert!(html.contains("<rect class=\"bar\" data-step=\"load\" data-status=\"failed\""));
        assert!(html.contains("<g class=\"skip\" data-step=\"publish\" data-status=\"skipped\">"));
        assert!(html.contains("skipped: upstream step `load` failed"));
    }

    #[test]
    fn the_graph_has_a_node_per_step_and_an_arrow_per_edge() {
        let html = rendered();
        assert_eq!(html.matches("<g class=\"node\"").count(), 5);
        assert_eq!(html.matches("<path class=\"edge\"").count(), 3);
        assert!(html.contains("<g class=\"node\" data-step=\"publish\" data-status=\"skipped\""));
        assert!(
            html.contains("data-step=\"check_items\" data-status=\"succeeded\" data-layer=\"1\"")
        );
        assert!(html.contains("data-step=\"publish\" data-status=\"skipped\" data-layer=\"2\""));
    }

    #[test]
    fn checks_and_benchmarks_are_shown_with_their_outcome() {
        let html = rendered();
        assert_eq!(html.matches("<tr class=\"check\"").count(), 2);
        assert!(html.contains("data-check=\"not_null(name)\" data-status=\"warned\""));
        assert!(html.contains("<span class=\"null\">NULL</span>"));
        assert!(html.contains("<svg class=\"bench-chart\" data-step=\"connect\""));
        assert!(html.contains(
            "<g class=\"metric\" data-metric=\"connect_ms\" data-verdict=\"regressed\">"
        ));
        assert!(html.contains("+100.0%"));
    }

    #[test]
    fn the_same_run_renders_the_same_bytes() {
        let (pipeline, graph) = pipeline();
        let first = record(&pipeline, &graph);
        let mut second = record(&pipeline, &graph);
        second.run_id = first.run_id;
        assert_eq!(
            render_html(&first, &pipeline, &graph),
            render_html(&second, &pipeline, &graph)
        );
    }

    #[test]
    fn an_empty_run_still_renders_every_section() {
        let (pipeline, graph) = pipeline();
        let plan = Plan::new(&pipeline, &graph, &Selection::default(), 4).unwrap();
        let record = RunRecorder::new(&pipeline, &plan).into_record();
        let html = render_html(&record, &pipeline, &graph);
        for id in ["timeline", "graph", "checks", "benchmarks", "logs"] {
            assert!(html.contains(&format!("<section id=\"{id}\">")), "{id}");
        }
        assert!(html.contains("data-run-status=\"unfinished\""));
        assert!(!html.contains("<rect class=\"bar\""));
    }
}
