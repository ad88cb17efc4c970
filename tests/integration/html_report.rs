//! `--html`: the page a person opens after a run, checked as a browser shows it. Headless
//! Chromium loads the file and dumps its DOM: a timeline bar per step that ran, a graph node
//! per step, every check, the benchmark against its baseline, and the failed step's output
//! shown as text, never run as markup. Nothing is loaded from the network.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::common::{Pipewright, header};
use crate::servers::{Engine, TestDatabase};

const CHROMIUM: &str = "/usr/bin/chromium";

/// A hung browser fails the test instead of hanging it.
const BROWSER_TIMEOUT: Duration = Duration::from_mins(2);

fn manifest(database: &TestDatabase) -> String {
    format!(
        r#"{}
[connections.db]
url = "{}"

[steps.greet]
kind = "command"
run = ["echo", "hello"]

[steps.explode]
kind = "command"
shell = '''echo starting; echo '<script>alert(1)</script>'; echo '<script>document.body.setAttribute("data-pwned", "yes")</script>' >&2; exit 3'''

[steps.after_explode]
kind = "command"
after = ["explode"]
run = ["true"]

[steps.check_items]
kind = "validate"
after = ["greet"]
connection = "db"
table = "items"
checks = [
  {{ kind = "row_count", min = 1 }},
  {{ kind = "not_null", columns = ["name"], severity = "warn" }},
]

[steps.connect]
kind = "bench"
connection = "db"
workload = {{ kind = "connect", warmup = 1, iterations = 5 }}
baseline = "baselines/bench.json"
tolerance = 100000
"#,
        header("html-report", 2),
        database.url
    )
}

/// The browser, or `None` when it is not installed: the browser half of the test is then
/// skipped, unless `PIPEWRIGHT_TEST_REQUIRE_SERVERS` is set (CI), where it fails.
fn chromium() -> Option<&'static Path> {
    let path = Path::new(CHROMIUM);
    if path.exists() {
        return Some(path);
    }
    let required =
        std::env::var_os("PIPEWRIGHT_TEST_REQUIRE_SERVERS").is_some_and(|value| !value.is_empty());
    assert!(
        !required,
        "{CHROMIUM} is required (PIPEWRIGHT_TEST_REQUIRE_SERVERS is set) but missing: install Chromium to test the HTML report in a browser"
    );
    eprintln!("skipping the browser checks of the HTML report: {CHROMIUM} is not installed");
    None
}

/// Runs headless Chromium with `arguments`, in a profile of its own and with every host name
/// unresolvable, and returns what it printed.
fn headless(browser: &Path, arguments: &[&str]) -> Output {
    let profile = tempfile::tempdir().expect("a temporary directory");
    let child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(arguments)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", browser.display()));
    let pid = i32::try_from(child.id()).unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    let Ok(output) = receiver.recv_timeout(BROWSER_TIMEOUT) else {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        panic!("chromium did not finish within {BROWSER_TIMEOUT:?}");
    };
    let output = output.expect("chromium runs");
    assert!(
        output.status.success(),
        "chromium failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Every match of `pattern` in `text`, as `first=second` of its two groups.
fn pairs(text: &str, pattern: &str) -> Vec<String> {
    regex::Regex::new(pattern)
        .unwrap()
        .captures_iter(text)
        .map(|found| format!("{}={}", &found[1], &found[2]))
        .collect()
}

fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

/// What the file itself must hold, whatever reads it: escaped output, no network resource.
fn assert_self_contained_and_escaped(html: &str) {
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the failed step's output is in the page, escaped"
    );
    assert!(!html.contains("<script>alert(1)</script>"), "{html}");
    assert!(!html.contains("<script"), "the page needs no script");
    for resource in [
        r#"(?i)\b(src|href|xlink:href|action|poster)\s*=\s*["']?\s*(https?:)?//"#,
        r#"(?i)url\(\s*["']?\s*(https?:)?//"#,
        r"(?i)@import",
    ] {
        let found = regex::Regex::new(resource).unwrap().find(html);
        assert!(
            found.is_none(),
            "the page refers to an outside resource: {found:?}"
        );
    }
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
}

#[test]
fn the_html_report_shows_the_run_in_a_browser() {
    let database =
        TestDatabase::create(Engine::Sqlite, "html_report").expect("SQLite needs no server");
    database.execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, note TEXT); \
         INSERT INTO items VALUES (1, 'anvil', 'heavy'), (2, NULL, '<i>fragile</i>'), (3, 'hammer', NULL)",
    );
    let project = Pipewright::new().manifest(&manifest(&database));
    project
        .run_with(&["bench", "pipeline.toml", "--update-baseline"])
        .assert_code(0);
    assert!(project.path().join("baselines/bench.json").exists());

    let outcome = project.run_with(&[
        "run",
        "pipeline.toml",
        "--keep-going",
        "--html",
        "report.html",
    ]);
    outcome.assert_code(1);
    let html = outcome.read("report.html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_self_contained_and_escaped(&html);

    let Some(browser) = chromium() else {
        return;
    };
    let page = std::fs::canonicalize(outcome.directory.join("report.html")).unwrap();
    let url = format!("file://{}", page.display());
    let dom = String::from_utf8(headless(browser, &["--dump-dom", &url]).stdout).unwrap();
    assert!(dom.contains("<section id=\"timeline\">"), "{dom}");

    assert_eq!(
        sorted(pairs(
            &dom,
            r#"<rect class="bar" data-step="([^"]+)" data-status="([^"]+)""#
        )),
        [
            "check_items=succeeded",
            "connect=succeeded",
            "explode=failed",
            "greet=succeeded"
        ],
        "a timeline bar per step that ran"
    );
    assert!(
        dom.contains("<g class=\"skip\" data-step=\"after_explode\" data-status=\"skipped\">"),
        "the skipped step is a marker"
    );
    assert!(dom.contains("skipped: upstream step `explode` failed"));

    assert_eq!(
        sorted(pairs(
            &dom,
            r#"<g class="node" data-step="([^"]+)" data-status="([^"]+)""#
        )),
        [
            "after_explode=skipped",
            "check_items=succeeded",
            "connect=succeeded",
            "explode=failed",
            "greet=succeeded"
        ],
        "a graph node per step"
    );
    assert_eq!(
        dom.matches("<path class=\"edge\"").count(),
        2,
        "an arrow per dependency"
    );

    assert_eq!(
        pairs(
            &dom,
            r#"<tr class="check" data-step="check_items" data-check="([^"]+)" data-status="([^"]+)""#
        ),
        ["row_count=passed", "not_null(name)=warned"]
    );
    assert!(
        dom.contains("&lt;i&gt;fragile&lt;/i&gt;"),
        "the failing row is shown, escaped"
    );

    assert!(dom.contains("<svg class=\"bench-chart\" data-step=\"connect\""));
    assert!(
        dom.contains("<g class=\"metric\" data-metric=\"connect_ms\" data-verdict=\"pass\">"),
        "{dom}"
    );
    assert!(dom.contains("<table class=\"bench-table\" data-step=\"connect\">"));

    let log = dom
        .split("<article class=\"log\" id=\"log-explode\" data-step=\"explode\" data-status=\"failed\">")
        .nth(1)
        .expect("the failed step's log");
    let log = &log[..log.find("</article>").unwrap()];
    assert!(
        log.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{log}"
    );
    assert!(
        log.contains("setAttribute(\"data-pwned\", \"yes\")"),
        "{log}"
    );
    assert!(
        !dom.contains("<script"),
        "no script element reached the DOM"
    );
    assert!(
        !dom.contains("data-pwned=\"yes\""),
        "the step's output did not run"
    );
    assert!(dom.contains("id=\"run-status\" data-status=\"failed\""));

    let screenshots = tempfile::tempdir().unwrap();
    let screenshot = screenshots.path().join("report.png");
    headless(
        browser,
        &[
            &format!("--screenshot={}", screenshot.display()),
            "--window-size=1280,2000",
            &url,
        ],
    );
    let image = std::fs::read(&screenshot).expect("chromium wrote the screenshot");
    assert!(image.starts_with(b"\x89PNG"), "a PNG image");
    assert!(
        image.len() > 10 * 1024,
        "a screenshot of {} bytes shows next to nothing",
        image.len()
    );
}
