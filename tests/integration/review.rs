//! For reviewers and CI: the lock file and `check --locked`, `run --resume` after a failure and
//! after a kill, and GitHub Actions annotations, groups and the step summary.

use std::time::{Duration, Instant};

use crate::common::{Pipewright, header};
use crate::servers::TestDatabase;

fn locked_pipeline() -> Pipewright {
    Pipewright::new()
        .manifest(&format!(
            r#"{}
[connections.db]
url = "sqlite://db.sqlite"

[steps.schema]
kind = "migrate"
connection = "db"
dir = "migrations"

[steps.load]
kind = "sql"
after = ["schema"]
connection = "db"
file = "sql/load.sql"
"#,
            header("locked", 1)
        ))
        .file(
            "migrations/0001_bars.sql",
            "CREATE TABLE bars (id INTEGER PRIMARY KEY);\n",
        )
        .file("sql/load.sql", "INSERT INTO bars VALUES (1);\n")
}

#[test]
fn a_stale_lock_names_the_edited_migration() {
    let project = locked_pipeline();
    let missing = project.run_with(&["check", "pipeline.toml", "--locked"]);
    missing.assert_code(2);
    assert!(
        missing
            .stderr
            .contains("pipewright.lock` does not exist: run `pipewright lock`"),
        "{}",
        missing.stderr
    );

    let locked = project.run_with(&["lock", "pipeline.toml"]);
    locked.assert_code(0);
    assert!(
        locked.stdout.contains("locked 2 steps and 2 files"),
        "{}",
        locked.stdout
    );
    let lock = std::fs::read_to_string(project.path().join("pipewright.lock")).unwrap();
    assert!(
        lock.contains("path = \"migrations/0001_bars.sql\"\nstep = \"schema\"\nkind = \"migration\"\nchecksum = \"sha256-lf-v1:"),
        "{lock}"
    );
    project
        .run_with(&["check", "pipeline.toml", "--locked"])
        .assert_code(0);
    project.run_with(&["lock", "pipeline.toml"]).assert_code(0);
    assert_eq!(
        std::fs::read_to_string(project.path().join("pipewright.lock")).unwrap(),
        lock,
        "locking again changes nothing"
    );

    // Windows line ends are not an edit: the checksum is the history table's.
    std::fs::write(
        project.path().join("migrations/0001_bars.sql"),
        "CREATE TABLE bars (id INTEGER PRIMARY KEY);\r\n",
    )
    .unwrap();
    project
        .run_with(&["check", "pipeline.toml", "--locked"])
        .assert_code(0);

    // The edited-migration mistake, caught before any database sees it.
    std::fs::write(
        project.path().join("migrations/0001_bars.sql"),
        "CREATE TABLE bars (id INTEGER PRIMARY KEY, close REAL);\n",
    )
    .unwrap();
    std::fs::write(
        project.path().join("sql/load.sql"),
        "INSERT INTO bars VALUES (2);\n",
    )
    .unwrap();
    let stale = project.run_with(&["check", "pipeline.toml", "--locked"]);
    stale.assert_code(2);
    for expected in [
        "is stale: 2 changes since it was written",
        "migration `migrations/0001_bars.sql` (step `schema`) changed after it was locked",
        "add a new migration instead",
        "sql file `sql/load.sql` of step `load` changed",
        "run `pipewright lock`",
    ] {
        assert!(
            stale.stderr.contains(expected),
            "{expected}\n{}",
            stale.stderr
        );
    }
    // A new migration file and a changed step are reported too.
    project.run_with(&["lock", "pipeline.toml"]).assert_code(0);
    std::fs::write(
        project.path().join("migrations/0002_index.sql"),
        "CREATE INDEX bars_id ON bars (id);\n",
    )
    .unwrap();
    let manifest = std::fs::read_to_string(project.path().join("pipeline.toml")).unwrap();
    std::fs::write(
        project.path().join("pipeline.toml"),
        manifest.replace(
            "file = \"sql/load.sql\"",
            "file = \"sql/load.sql\"\ntransaction = false",
        ),
    )
    .unwrap();
    let stale = project.run_with(&["check", "pipeline.toml", "--locked"]);
    stale.assert_code(2);
    assert!(
        stale.stderr.contains("step `load` changed")
            && stale
                .stderr
                .contains("migration file `migrations/0002_index.sql` of step `schema` is new"),
        "{}",
        stale.stderr
    );
}

/// a -> b -> c, and d on its own; every command appends its name to `ran.log`, and `b` fails
/// unless `allow_b` exists.
fn resumable() -> Pipewright {
    Pipewright::new().manifest(&format!(
        r#"{}
[steps.a]
kind = "command"
shell = "echo a >> ran.log"

[steps.b]
kind = "command"
after = ["a"]
shell = "echo b >> ran.log; test -f allow_b"

[steps.c]
kind = "command"
after = ["b"]
shell = "echo c >> ran.log"

[steps.d]
kind = "command"
shell = "echo d >> ran.log"
"#,
        header("resumable", 1)
    ))
}

fn ran(project: &Pipewright) -> Vec<String> {
    let log = std::fs::read_to_string(project.path().join("ran.log")).unwrap_or_default();
    let ran = log.lines().map(str::to_owned).collect();
    std::fs::remove_file(project.path().join("ran.log")).ok();
    ran
}

fn resume_reasons(outcome: &crate::common::Outcome) -> Vec<(String, String)> {
    outcome.report()["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            (
                step["id"].as_str().unwrap().to_owned(),
                step["resume"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect()
}

#[test]
fn resume_runs_what_failed_or_was_not_reached_and_skips_what_succeeded() {
    let project = resumable();
    project
        .run_with(&["run", "pipeline.toml", "--report", "first.json"])
        .assert_code(1);
    assert_eq!(ran(&project), ["a", "b"], "fail-fast: c and d never ran");

    std::fs::write(project.path().join("allow_b"), "").unwrap();
    let resumed = project.run_with(&[
        "run",
        "pipeline.toml",
        "--resume",
        "--report",
        "report.json",
    ]);
    resumed.assert_code(0);
    assert_eq!(ran(&project), ["b", "c", "d"]);
    let reasons = resume_reasons(&resumed);
    assert!(
        reasons[0].1.starts_with("skipped: succeeded in run "),
        "{reasons:?}"
    );
    assert!(
        reasons[1].1.starts_with("runs again: failed in run "),
        "{reasons:?}"
    );
    assert_eq!(reasons[2].1, "runs again: `b` before it runs");
    assert!(
        reasons[3].1.starts_with("runs: skipped in run "),
        "{reasons:?}"
    );
    assert_eq!(
        resumed.report()["steps"][0]["skip"]["because"],
        "already_succeeded"
    );

    // Resuming a resumed run: everything succeeded, nothing runs.
    let again = project.run_with(&["run", "pipeline.toml", "--resume"]);
    again.assert_code(0);
    assert!(ran(&project).is_empty());

    // A changed step runs again, and what comes after it.
    let manifest = std::fs::read_to_string(project.path().join("pipeline.toml")).unwrap();
    std::fs::write(
        project.path().join("pipeline.toml"),
        manifest.replace("echo b >> ran.log;", "echo b >> ran.log; true;"),
    )
    .unwrap();
    let changed = project.run_with(&[
        "run",
        "pipeline.toml",
        "--resume",
        "--report",
        "report.json",
    ]);
    changed.assert_code(0);
    assert_eq!(ran(&project), ["b", "c"]);
    assert!(
        resume_reasons(&changed)[1]
            .1
            .starts_with("runs again: its definition or a file it reads changed since run "),
        "{:?}",
        resume_reasons(&changed)
    );

    // `--rerun-all` runs everything; `--resume-from` resumes the run of a report.
    project
        .run_with(&["run", "pipeline.toml", "--resume", "--rerun-all"])
        .assert_code(0);
    assert_eq!(ran(&project), ["a", "b", "c", "d"]);
    std::fs::remove_file(project.path().join("allow_b")).unwrap();
    project
        .run_with(&["run", "pipeline.toml", "--resume-from", "first.json"])
        .assert_code(1);
    assert_eq!(
        ran(&project),
        ["b"],
        "the first run's `a` succeeded, its `b` failed"
    );
}

#[test]
fn a_run_that_left_steps_out_does_not_make_them_run_again() {
    let project = resumable();
    let first = project.run_with(&["run", "pipeline.toml", "--report", "report.json"]);
    first.assert_code(1);
    let first_run = first.report()["run_id"].as_str().unwrap().to_owned();
    assert_eq!(ran(&project), ["a", "b"]);
    // Only `d`, in between: it says nothing about `a`, `b` and `c`.
    project
        .run_with(&["run", "pipeline.toml", "--select", "d"])
        .assert_code(0);
    assert_eq!(ran(&project), ["d"]);
    std::fs::write(project.path().join("allow_b"), "").unwrap();
    let resumed = project.run_with(&[
        "run",
        "pipeline.toml",
        "--resume",
        "--report",
        "report.json",
    ]);
    resumed.assert_code(0);
    assert_eq!(
        ran(&project),
        ["b", "c"],
        "`a` succeeded in the first run, `d` in the second"
    );
    let reasons = resume_reasons(&resumed);
    assert_eq!(
        reasons[0].1,
        format!("skipped: succeeded in run {first_run}, unchanged"),
        "named by the run it is judged by"
    );
    assert_eq!(
        reasons[1].1,
        format!("runs again: failed in run {first_run}")
    );
}

#[test]
fn resume_after_a_kill_skips_the_steps_that_finished() {
    let project = Pipewright::new()
        .manifest(&format!(
            r#"{}
[steps.a]
kind = "command"
shell = "echo a >> ran.log"

[steps.b]
kind = "command"
after = ["a"]
shell = "echo b >> ran.log; if [ -f slow ]; then sleep 60; fi"

[steps.c]
kind = "command"
after = ["b"]
shell = "echo c >> ran.log"
"#,
            header("killed", 1)
        ))
        .file("slow", "");
    let mut child = project
        .command()
        .args(["run", "pipeline.toml"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once `a` is recorded in the store and `b` has started.
    let store = project.path().join(".pipewright/monitoring.db");
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        assert!(Instant::now() < deadline, "step `a` was never recorded");
        let recorded = store.exists()
            && TestDatabase::sqlite_file(&store).try_count(
                "SELECT COUNT(*) FROM step_runs WHERE step_id = 'a' AND status = 'succeeded'",
            ) == Some(1);
        let started = std::fs::read_to_string(project.path().join("ran.log"))
            .is_ok_and(|log| log.contains('b'));
        if recorded && started {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    assert_eq!(ran(&project), ["a", "b"]);

    std::fs::remove_file(project.path().join("slow")).unwrap();
    let resumed = project.run_with(&[
        "run",
        "pipeline.toml",
        "--resume",
        "--report",
        "report.json",
    ]);
    resumed.assert_code(0);
    assert_eq!(ran(&project), ["b", "c"], "`a` finished before the kill");
    assert!(
        resume_reasons(&resumed)[1]
            .1
            .starts_with("runs: not reached in run "),
        "the killed step never ended: {:?}",
        resume_reasons(&resumed)
    );
}

#[test]
fn github_actions_get_groups_annotations_and_a_summary() {
    let database = TestDatabase::create(crate::servers::Engine::Sqlite, "annotations").unwrap();
    database.execute("CREATE TABLE bars (id INTEGER PRIMARY KEY, close REAL)");
    database.execute("INSERT INTO bars VALUES (1, -5), (2, 10)");
    let project = Pipewright::new()
        .manifest(&format!(
            r#"{}
[connections.db]
url = "{}"

[steps.say]
kind = "command"
shell = "echo 'hello'; echo '::warning::not a command of mine'"

[steps.broken]
kind = "command"
shell = "echo 'disk 100% full' >&2; exit 3"

[steps.check]
kind = "validate"
connection = "db"
table = "bars"
checks = [
  {{ kind = "not_null", columns = ["close"] }},
  {{ kind = "range", column = "close", min = 0, severity = "warn" }},
]
"#,
            header("annotated", 1),
            database.url
        ))
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", "summary.md");
    let outcome = project.run_with(&["run", "pipeline.toml", "--keep-going"]);
    outcome.assert_code(1);
    let stdout = &outcome.stdout;
    assert!(
        stdout.contains("::group::succeeded say (") && stdout.contains("\nhello\n"),
        "{stdout}"
    );
    // A step's own lines are fenced: the runner reads no command until the token.
    let fence = stdout
        .lines()
        .find_map(|line| line.strip_prefix("::stop-commands::"))
        .unwrap_or_else(|| panic!("no ::stop-commands:: around the output: {stdout}"));
    assert!(fence.len() >= 32, "an unguessable token: {fence}");
    let fenced = stdout
        .split(&format!("::stop-commands::{fence}\n"))
        .nth(1)
        .and_then(|rest| rest.split(&format!("::{fence}::\n")).next())
        .unwrap();
    assert_eq!(fenced, "hello\n::warning::not a command of mine\n");
    assert!(stdout.contains("::endgroup::"), "{stdout}");
    // The failing step at its `[steps.broken]` line (12), its message escaped.
    let broken = stdout
        .lines()
        .find(|line| line.starts_with("::error file=pipeline.toml,line=12,col="))
        .unwrap_or_else(|| panic!("no annotation of `broken`: {stdout}"));
    assert!(broken.contains("title=step broken failed::"), "{broken}");
    assert!(broken.contains("disk 100%25 full"), "{broken}");
    // The warned check at its own line (22), as a warning.
    assert!(
        stdout.lines().any(
            |line| line.starts_with("::warning file=pipeline.toml,line=22,col=")
                && line.contains("title=check range(close) of step check::")
        ),
        "{stdout}"
    );
    assert!(
        !outcome.stderr.contains("hello"),
        "output is grouped on stdout, not repeated"
    );
    let summary = outcome.read("summary.md");
    for expected in [
        "## pipewright: `annotated` failed",
        "| `broken` | command | $\\color{red}{\\textsf{failed}}$ |",
        "```mermaid",
        "class broken failed",
        "### Checks that did not pass",
    ] {
        assert!(summary.contains(expected), "{expected}\n{summary}");
    }

    // `--annotations none` turns it off even on GitHub.
    let quiet = project.run_with(&[
        "run",
        "pipeline.toml",
        "--keep-going",
        "--annotations",
        "none",
    ]);
    assert!(!quiet.stdout.contains("::group::"), "{}", quiet.stdout);
}

#[test]
fn fmt_rewrites_checks_and_never_touches_invalid_files() {
    let messy = "[steps.load]\nconnection=\"db\"   # the warehouse\nkind = \"sql\"\nsql = \"SELECT 1\"\n[pipeline]\nname = \"messy\"\n[connections.db]\nurl = \"sqlite://db.sqlite\"\n";
    let project = Pipewright::new()
        .file("messy.toml", messy)
        .file("broken.toml", "[pipeline\nname = 1\n");
    let check = project.run_with(&["fmt", "--check", "messy.toml"]);
    check.assert_code(1);
    assert_eq!(check.stdout, "messy.toml\n");
    assert_eq!(
        std::fs::read_to_string(project.path().join("messy.toml")).unwrap(),
        messy,
        "--check writes nothing"
    );
    project.run_with(&["fmt", "messy.toml"]).assert_code(0);
    let formatted = std::fs::read_to_string(project.path().join("messy.toml")).unwrap();
    assert_eq!(
        formatted,
        "[pipeline]\nname = \"messy\"\n\n[connections.db]\nurl = \"sqlite://db.sqlite\"\n\n[steps.load]\nkind = \"sql\"\nconnection = \"db\"   # the warehouse\nsql = \"SELECT 1\"\n"
    );
    project
        .run_with(&["fmt", "--check", "messy.toml"])
        .assert_code(0);
    project.run_with(&["check", "messy.toml"]).assert_code(0);

    let broken = project.run_with(&["fmt", "broken.toml", "messy.toml"]);
    broken.assert_code(2);
    assert!(
        broken.stderr.contains("broken.toml:1:"),
        "{}",
        broken.stderr
    );
    assert_eq!(
        std::fs::read_to_string(project.path().join("broken.toml")).unwrap(),
        "[pipeline\nname = 1\n"
    );
}

#[test]
fn diff_compares_two_files_or_a_git_revision() {
    let old = format!(
        "{}\n[connections.db]\nurl = \"sqlite://db.sqlite\"\n\n[steps.load]\nkind = \"sql\"\nconnection = \"db\"\nsql = \"SELECT 1\"\n\n[steps.report]\nkind = \"command\"\nafter = [\"load\"]\nrun = [\"true\"]\n",
        header("reviewed", 1)
    );
    let new = old.replace("SELECT 1", "SELECT 2");
    let project = Pipewright::new()
        .file("old.toml", &old)
        .file("pipeline.toml", &old);
    let git = |arguments: &[&str]| {
        let status = std::process::Command::new("git")
            .args(arguments)
            .current_dir(project.path())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .status()
            .unwrap();
        assert!(status.success(), "git {arguments:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "pipeline.toml"]);
    git(&["commit", "-qm", "first"]);
    std::fs::write(project.path().join("pipeline.toml"), &new).unwrap();

    let same = project.run_with(&["diff", "old.toml", "old.toml"]);
    same.assert_code(0);
    assert!(
        same.stdout.contains("no semantic changes"),
        "{}",
        same.stdout
    );

    let files = project.run_with(&["diff", "old.toml", "pipeline.toml", "--format", "json"]);
    files.assert_code(0);
    let json: serde_json::Value = serde_json::from_str(&files.stdout).unwrap();
    assert_eq!(
        json["affected"],
        serde_json::json!(["load", "report"]),
        "{json}"
    );

    let base = project.run_with(&["diff", "pipeline.toml", "--base", "HEAD"]);
    base.assert_code(0);
    assert!(
        base.stdout.contains("~ load") && base.stdout.contains("load, report"),
        "{}",
        base.stdout
    );
    let markdown = project.run_with(&[
        "diff",
        "pipeline.toml",
        "--base",
        "HEAD",
        "--format",
        "markdown",
    ]);
    assert!(
        markdown.stdout.contains("```mermaid"),
        "{}",
        markdown.stdout
    );

    let unknown = project.run_with(&["diff", "pipeline.toml", "--base", "no-such-revision"]);
    unknown.assert_code(2);
}
