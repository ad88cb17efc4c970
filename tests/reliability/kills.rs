//! SIGKILL in the middle of a `transform` into PostgreSQL and MariaDB, at a point each seed
//! chooses: a killed `replace` leaves the target as it was, a killed `append` or `upsert`
//! resumed with `run --resume` ends with exactly the source's rows, and the monitoring store
//! tells the killed run from the ones that finished. Every message names its seed;
//! `PIPEWRIGHT_RELIABILITY_SEED=N` runs seed `N` alone, to replay a failure.

use std::fs::File;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::common::{Outcome, Pipewright, header};
use crate::servers::{Engine, TestDatabase};
use crate::support::{self, Seeded};

/// Rows of the source table: enough batches for a kill to land in the middle of the copy.
const ROWS: u32 = 40_000;
/// Rows per batch of the killed run; each `append` or `upsert` batch commits a checkpoint.
const BATCH: u32 = 500;
/// What the killed run printed, in the project's directory.
const KILLED_LOG: &str = "killed.log";

/// The modes a killed copy is tried in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Replace,
    Append,
    Upsert,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Self::Replace => "replace",
            Self::Append => "append",
            Self::Upsert => "upsert",
        }
    }

    /// The step's `to`.
    fn target(self) -> &'static str {
        match self {
            Self::Replace => r#"{ connection = "target", mode = "replace" }"#,
            Self::Append => r#"{ connection = "target", mode = "append" }"#,
            Self::Upsert => r#"{ connection = "target", mode = "upsert", key = ["id"] }"#,
        }
    }
}

/// The seeds a test tries: `PIPEWRIGHT_RELIABILITY_SEED=N` replays seed `N` alone.
fn seeds() -> Vec<u64> {
    match std::env::var("PIPEWRIGHT_RELIABILITY_SEED") {
        Ok(seed) => vec![
            seed.trim()
                .parse()
                .expect("PIPEWRIGHT_RELIABILITY_SEED is a number"),
        ],
        Err(_) => (0..support::seed_count(2, 25)).collect(),
    }
}

/// One of `choices`, as the seed decides.
fn pick(random: &mut Seeded, choices: &[u32]) -> u32 {
    let count = u64::try_from(choices.len()).unwrap();
    choices[usize::try_from(random.below(count)).unwrap()]
}

/// A pipeline with one step, `copy`, that copies `numbers` from `source` to `target` in `mode`.
fn manifest(source: &TestDatabase, target: &TestDatabase, mode: Mode, batch_size: u32) -> String {
    format!(
        "{}\n[connections.source]\nurl = \"{}\"\n\n[connections.target]\nurl = \"{}\"\n\n[steps.copy]\nkind = \"transform\"\nfrom = {{ connection = \"source\", table = \"numbers\" }}\nto = {}\nbatch_size = {batch_size}\n",
        header("kills", 1),
        source.url,
        target.url,
        mode.target()
    )
}

/// Starts `pipewright run` in the project's directory; what it prints goes to [`KILLED_LOG`].
fn spawn_run(project: &Pipewright) -> Child {
    let log = File::create(project.path().join(KILLED_LOG)).unwrap();
    project
        .command()
        .args(["run", "pipeline.toml", "--progress", "none"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// What the killed run printed on stderr.
fn killed_log(project: &Pipewright) -> String {
    std::fs::read_to_string(project.path().join(KILLED_LOG)).unwrap_or_default()
}

/// Polls `probe` until it holds, for a minute at most.
fn wait_for(seed: u64, what: &str, mut probe: impl FnMut() -> bool) {
    let started = Instant::now();
    while !probe() {
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "seed {seed}: gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Polls `probe` until it holds while the run goes on; the run ending first fails the test.
fn wait_while_running(
    seed: u64,
    what: &str,
    child: &mut Child,
    project: &Pipewright,
    mut probe: impl FnMut() -> bool,
) {
    wait_for(seed, what, || {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "seed {seed}: the run ended ({status}) before {what}\n--- its stderr\n{}",
                killed_log(project)
            );
        }
        probe()
    });
}

/// Waits `delay`, then kills the run with SIGKILL; it must still be running until then.
fn kill_after(seed: u64, delay: Duration, child: &mut Child, project: &Pipewright) {
    std::thread::sleep(delay);
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, Signal::SIGKILL).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status
            .signal()
            .and_then(|number| Signal::try_from(number).ok()),
        Some(Signal::SIGKILL),
        "seed {seed}: the run ended ({status}) before the kill; the kill point is too late for this machine\n--- its stderr\n{}",
        killed_log(project)
    );
}

/// Waits until the server has ended the killed run's sessions on `database`: until then a
/// statement it sent may still be running there, and its lock held.
fn wait_for_sessions_to_end(seed: u64, database: &TestDatabase) {
    let sql = match database.engine {
        Engine::Postgres => {
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        }
        Engine::MySql => {
            "SELECT COUNT(*) FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()"
        }
        Engine::Sqlite => return,
    };
    wait_for(seed, "the killed run's sessions to end", || {
        database.count(sql) == 0
    });
}

/// A run as the monitoring store recorded it.
#[derive(Debug)]
struct RecordedRun {
    id: String,
    status: String,
    finished: bool,
    /// The status of its `copy` step; empty when no step row was written.
    step: String,
}

/// The project's runs in its monitoring store, oldest first.
fn recorded_runs(project: &Pipewright) -> Vec<RecordedRun> {
    let store = TestDatabase::sqlite_file(&project.path().join(".pipewright/monitoring.db"));
    store
        .strings(
            "SELECT r.run_id || '|' || r.status || '|' || (r.finished_at IS NOT NULL) || '|' || COALESCE(s.status, '') FROM pipeline_runs r LEFT JOIN step_runs s ON s.run_id = r.run_id AND s.step_id = 'copy' ORDER BY r.started_at, r.run_id",
        )
        .into_iter()
        .flatten()
        .map(|line| {
            let fields: Vec<&str> = line.split('|').collect();
            RecordedRun {
                id: fields[0].to_owned(),
                status: fields[1].to_owned(),
                finished: fields[2] == "1",
                step: fields[3].to_owned(),
            }
        })
        .collect()
}

/// The run id in the report a run wrote to `path`.
fn report_run_id(outcome: &Outcome, path: &str) -> String {
    let report: serde_json::Value = serde_json::from_str(&outcome.read(path)).unwrap();
    report["run_id"].as_str().unwrap().to_owned()
}

/// Checks the monitoring store: besides the runs in `finished` (run id, run status, step
/// status), exactly one run, the killed one, recorded first and still `running` with no step
/// finished; or, when `done_before_the_kill` (killed after its work was done), possibly
/// recorded as succeeded, never as failed. Returns the killed run's id.
fn check_history(
    seed: u64,
    project: &Pipewright,
    finished: &[(&str, &str, &str)],
    done_before_the_kill: bool,
) -> String {
    let runs = recorded_runs(project);
    assert_eq!(
        runs.len(),
        finished.len() + 1,
        "seed {seed}: the killed run and the {} after it are recorded: {runs:?}",
        finished.len()
    );
    for (id, status, step) in finished {
        let run = runs
            .iter()
            .find(|run| run.id == *id)
            .unwrap_or_else(|| panic!("seed {seed}: run {id} is not recorded: {runs:?}"));
        assert_eq!(
            (run.status.as_str(), run.finished, run.step.as_str()),
            (*status, true, *step),
            "seed {seed}: what the store says of run {id}: {runs:?}"
        );
    }
    let killed = &runs[0];
    assert!(
        finished.iter().all(|(id, _, _)| killed.id != *id),
        "seed {seed}: the killed run came first: {runs:?}"
    );
    let recorded = (
        killed.status.as_str(),
        killed.finished,
        killed.step.as_str(),
    );
    let possible: &[(&str, bool, &str)] = if done_before_the_kill {
        &[
            ("running", false, ""),
            ("running", false, "succeeded"),
            ("succeeded", true, "succeeded"),
        ]
    } else {
        &[("running", false, "")]
    };
    assert!(
        possible.contains(&recorded),
        "seed {seed}: the killed run is recorded as {recorded:?}, expected one of {possible:?}: {runs:?}"
    );
    killed.id.clone()
}

/// The source tables of a test, the same rows in SQLite and in the target's engine, with
/// their checksums; `None` when the server is not there.
fn sources(engine: Engine, test: &str) -> Option<Vec<(TestDatabase, (u64, String))>> {
    let mut sources = Vec::new();
    for source_engine in [Engine::Sqlite, engine] {
        let source = TestDatabase::create(source_engine, test)?;
        source.numbers_table("numbers", ROWS);
        let checksum = source.checksum("numbers");
        assert_eq!(checksum.0, u64::from(ROWS));
        sources.push((source, checksum));
    }
    Some(sources)
}

/// Kills a copy into `engine` in `mode` once per seed, from a source the seed picks (SQLite or
/// the same engine), into a database of its own, and checks what is left.
fn kill_and_recover(engine: Engine, mode: Mode) {
    let _servers = support::servers_shared();
    let test = format!("kill_{}", mode.name());
    let Some(sources) = sources(engine, &test) else {
        return;
    };
    for seed in seeds() {
        let mut random = Seeded::new(seed);
        let (source, checksum) = &sources[usize::try_from(random.below(2)).unwrap()];
        let Some(target) = TestDatabase::create(engine, &test) else {
            return;
        };
        eprintln!(
            "seed {seed}: {} from {} into {}",
            mode.name(),
            source.engine.name(),
            engine.name()
        );
        match mode {
            Mode::Replace => killed_replace(seed, &mut random, source, checksum, &target),
            Mode::Append | Mode::Upsert => {
                killed_batches(seed, &mut random, mode, source, checksum, &target);
            }
        }
    }
}

/// A `replace` killed at a point the seed chooses, up to half a second after its staging
/// table appears: while the rows load (on PostgreSQL one `COPY`, invisible until it ends; on
/// MySQL batch by batch), while they are verified and indexed, or (on a fast machine) after
/// the swap. Until the swap the target stays exactly as it was and the staging table stays;
/// after it the target is the new copy and the old table its backup; never anything between.
/// The next run drops the staging table and swaps the new copy in.
fn killed_replace(
    seed: u64,
    random: &mut Seeded,
    source: &TestDatabase,
    expected: &(u64, String),
    target: &TestDatabase,
) {
    let previous_rows = 1 + random.below(2_000);
    target.numbers_table("numbers", u32::try_from(previous_rows).unwrap());
    target.execute("UPDATE numbers SET label = 'before'");
    let before = target.checksum("numbers");
    let delay = Duration::from_millis(random.below(500));

    let project = Pipewright::new().manifest(&manifest(source, target, Mode::Replace, BATCH));
    let mut child = spawn_run(&project);
    wait_while_running(seed, "the staging table", &mut child, &project, || {
        target
            .try_count("SELECT COUNT(*) FROM numbers__pw_staging")
            .is_some()
    });
    kill_after(seed, delay, &mut child, &project);
    wait_for_sessions_to_end(seed, target);

    let tables = target.table_names();
    let backups: Vec<&String> = tables
        .iter()
        .filter(|name| name.contains("__pw_backup_"))
        .collect();
    // The swap renames the staging table: while it is there, the swap has not happened.
    let swapped = !tables.iter().any(|name| name == "numbers__pw_staging");
    eprintln!(
        "seed {seed}: killed {} ms after the staging table appeared, {} the swap",
        delay.as_millis(),
        if swapped { "after" } else { "before" }
    );
    if swapped {
        assert_eq!(
            &target.checksum("numbers"),
            expected,
            "seed {seed}: killed after the swap, the target is the new copy"
        );
        assert_eq!(
            backups.len(),
            1,
            "seed {seed}: killed after the swap, the old table is its backup: {tables:?}"
        );
        assert_eq!(
            target.checksum(backups[0]),
            before,
            "seed {seed}: the backup `{}` is the table as it was",
            backups[0]
        );
    } else {
        assert_eq!(
            target.checksum("numbers"),
            before,
            "seed {seed}: a killed replace leaves the target as it was"
        );
        assert!(
            backups.is_empty(),
            "seed {seed}: no backup was made: {tables:?}"
        );
    }

    // The next run, with a batch size of its own, drops the staging table and completes.
    let batch_size = pick(random, &[300, 500, 800]);
    std::fs::write(
        project.path().join("pipeline.toml"),
        manifest(source, target, Mode::Replace, batch_size),
    )
    .unwrap();
    let next = project.run_with(&["run", "pipeline.toml", "--report", "report.json"]);
    assert_eq!(
        next.code, 0,
        "seed {seed}: the run after the kill succeeds\n{}",
        next.stderr
    );
    assert_eq!(
        &target.checksum("numbers"),
        expected,
        "seed {seed}: the target holds the source's rows"
    );
    let tables = target.table_names();
    assert!(
        !tables.iter().any(|name| name.contains("__pw_staging")),
        "seed {seed}: no staging table is left: {tables:?}"
    );
    let report = next.report();
    let backup = report["steps"][0]["details"]["tables"][0]["backup"]
        .as_str()
        .unwrap_or_else(|| panic!("seed {seed}: the replaced table is kept: {report}"))
        .to_owned();
    let replaced = if swapped { expected } else { &before };
    assert_eq!(
        &target.checksum(&backup),
        replaced,
        "seed {seed}: the backup `{backup}` is the table the next run replaced"
    );

    let next_id = report_run_id(&next, "report.json");
    check_history(
        seed,
        &project,
        &[(next_id.as_str(), "succeeded", "succeeded")],
        swapped,
    );
}

/// The checkpoint a killed `append` or `upsert` left: rows copied, last key and run id.
fn checkpoint(seed: u64, target: &TestDatabase) -> Option<(i64, String, String)> {
    let rows = target.try_count("SELECT COUNT(*) FROM pipewright_transform_checkpoints")?;
    if rows == 0 {
        return None;
    }
    assert_eq!(
        rows, 1,
        "seed {seed}: one step, one target table, one checkpoint"
    );
    let text = |column: &str| {
        target.strings(&format!(
            "SELECT {column} FROM pipewright_transform_checkpoints"
        ))[0]
            .clone()
            .unwrap()
    };
    Some((
        target.count("SELECT MAX(rows_copied) FROM pipewright_transform_checkpoints"),
        text("last_key"),
        text("run_id"),
    ))
}

/// An `append` into an empty database, or an `upsert` into a table holding some of the
/// source's keys with other values, killed after a number of committed batches the seed
/// chooses (none: as soon as the checkpoint table is there) and up to 100 ms more. What was
/// committed has its checkpoint; a run without `--resume` refuses to copy those rows again;
/// `run --resume` ends with exactly the source's rows.
fn killed_batches(
    seed: u64,
    random: &mut Seeded,
    mode: Mode,
    source: &TestDatabase,
    expected: &(u64, String),
    target: &TestDatabase,
) {
    let prior = if mode == Mode::Upsert {
        let rows = 1_000 + random.below(5_000);
        target.numbers_table("numbers", u32::try_from(rows).unwrap());
        target.execute("UPDATE numbers SET label = 'old', amount = 0");
        i64::try_from(rows).unwrap()
    } else {
        0
    };
    // Somewhere in the first two thirds of the copy.
    let batches = random.below(u64::from(ROWS / BATCH) * 2 / 3);
    let committed = i64::try_from(batches * u64::from(BATCH)).unwrap();
    let delay = Duration::from_millis(random.below(100));

    let project = Pipewright::new().manifest(&manifest(source, target, mode, BATCH));
    let mut child = spawn_run(&project);
    wait_while_running(
        seed,
        &format!("{batches} committed batches"),
        &mut child,
        &project,
        || {
            target
                .try_count(
                    "SELECT COALESCE(MAX(rows_copied), 0) FROM pipewright_transform_checkpoints",
                )
                .is_some_and(|rows| rows >= committed)
        },
    );
    kill_after(seed, delay, &mut child, &project);
    wait_for_sessions_to_end(seed, target);

    let left = checkpoint(seed, target);
    let copied = left.as_ref().map_or(0, |(rows, _, _)| *rows);
    assert!(
        copied >= committed && copied < i64::from(ROWS),
        "seed {seed}: killed after {committed} rows and before the end: {copied}"
    );
    assert_eq!(
        copied % i64::from(BATCH),
        0,
        "seed {seed}: checkpoints fall between batches"
    );
    if let Some((_, last_key, _)) = &left {
        assert_eq!(
            last_key,
            &format!("[\"{copied}\"]"),
            "seed {seed}: the checkpoint's key is its last row's"
        );
    }
    let check_target = |when: &str| {
        if mode == Mode::Append {
            assert_eq!(
                target
                    .try_count("SELECT COUNT(*) FROM numbers")
                    .unwrap_or(0),
                copied,
                "seed {seed}, {when}: the rows committed are exactly those of the checkpoint"
            );
            return;
        }
        assert_eq!(
            target.count("SELECT COUNT(*) FROM numbers"),
            copied.max(prior),
            "seed {seed}, {when}: the rows up to the checkpoint are in, the others as they were"
        );
        assert_eq!(
            target.count(&format!(
                "SELECT COUNT(*) FROM numbers WHERE label = 'old' AND id <= {copied}"
            )),
            0,
            "seed {seed}, {when}: every row up to the checkpoint is updated"
        );
        assert_eq!(
            target.count("SELECT COUNT(*) FROM numbers WHERE label = 'old'"),
            prior - copied.min(prior),
            "seed {seed}, {when}: no row after the checkpoint is updated"
        );
    };
    check_target("after the kill");

    // Without `--resume`, a run that finds the checkpoint refuses to copy those rows again.
    let refused_id = left.as_ref().map(|_| {
        let refused = project.run_with(&["run", "pipeline.toml", "--report", "refused.json"]);
        assert_eq!(
            refused.code, 1,
            "seed {seed}: a checkpoint without `--resume` fails the step\n{}",
            refused.stderr
        );
        let message = format!(
            "left a checkpoint after key {copied} ({copied} rows copied); run with `--resume`"
        );
        assert!(
            refused.stderr.contains(&message),
            "seed {seed}: {message}\n{}",
            refused.stderr
        );
        check_target("after a run without `--resume`");
        report_run_id(&refused, "refused.json")
    });

    // `--resume`, with a batch size of its own, copies the rest.
    let batch_size = pick(random, &[300, 500, 800]);
    std::fs::write(
        project.path().join("pipeline.toml"),
        manifest(source, target, mode, batch_size),
    )
    .unwrap();
    let resumed = project.run_with(&[
        "run",
        "pipeline.toml",
        "--resume",
        "--report",
        "report.json",
    ]);
    assert_eq!(
        resumed.code, 0,
        "seed {seed}: the resumed run succeeds\n{}",
        resumed.stderr
    );
    let report = resumed.report();
    let table = &report["steps"][0]["details"]["tables"][0];
    assert_eq!(
        table["resumed_rows"], copied,
        "seed {seed}: resumed after the checkpoint: {table}"
    );
    assert_eq!(
        table["rows"],
        i64::from(ROWS) - copied,
        "seed {seed}: the resumed run copies the rest: {table}"
    );
    assert_eq!(
        target.count("SELECT COUNT(*) FROM numbers"),
        i64::from(ROWS),
        "seed {seed}: as many rows as the source"
    );
    assert_eq!(
        target.count("SELECT COUNT(DISTINCT id) FROM numbers"),
        i64::from(ROWS),
        "seed {seed}: no row twice"
    );
    assert_eq!(
        &target.checksum("numbers"),
        expected,
        "seed {seed}: exactly the source's rows"
    );
    assert_eq!(
        target.count("SELECT COUNT(*) FROM pipewright_transform_checkpoints"),
        0,
        "seed {seed}: a finished copy leaves no checkpoint"
    );

    // The history: the killed run never ended; the refused one failed; the resumed one
    // succeeded, and says why its step ran.
    let resumed_id = report_run_id(&resumed, "report.json");
    let mut finished = vec![(resumed_id.as_str(), "succeeded", "succeeded")];
    if let Some(refused_id) = &refused_id {
        finished.push((refused_id.as_str(), "failed", "failed"));
    }
    let killed_id = check_history(seed, &project, &finished, false);
    if let Some((_, _, checkpoint_run)) = &left {
        assert_eq!(
            checkpoint_run, &killed_id,
            "seed {seed}: the checkpoint names the killed run"
        );
    }
    let resume = report["steps"][0]["resume"].as_str().unwrap_or_default();
    let (phrase, previous) = match &refused_id {
        Some(refused_id) => ("runs again: failed in run ", refused_id),
        None => ("runs: not reached in run ", &killed_id),
    };
    let named = resume.strip_prefix(phrase).unwrap_or_else(|| {
        panic!("seed {seed}: the report says why the step ran: `{resume}`, expected `{phrase}...`")
    });
    assert!(
        !named.is_empty() && previous.starts_with(named),
        "seed {seed}: `{resume}` names run {previous}"
    );
}

#[test]
fn a_killed_replace_into_postgres_leaves_the_target_as_it_was() {
    kill_and_recover(Engine::Postgres, Mode::Replace);
}

#[test]
fn a_killed_replace_into_mariadb_leaves_the_target_as_it_was() {
    kill_and_recover(Engine::MySql, Mode::Replace);
}

#[test]
fn a_killed_append_into_postgres_resumes_to_exactly_the_source() {
    kill_and_recover(Engine::Postgres, Mode::Append);
}

#[test]
fn a_killed_append_into_mariadb_resumes_to_exactly_the_source() {
    kill_and_recover(Engine::MySql, Mode::Append);
}

#[test]
fn a_killed_upsert_into_postgres_resumes_to_exactly_the_source() {
    kill_and_recover(Engine::Postgres, Mode::Upsert);
}

#[test]
fn a_killed_upsert_into_mariadb_resumes_to_exactly_the_source() {
    kill_and_recover(Engine::MySql, Mode::Upsert);
}
