//! `pipewright run`: plan, check the plan can run, open the store and the log sinks, run with
//! reporters, write the reports.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::cli::CliError;
use crate::cli::arguments::RunArgs;
use crate::cli::manifest_input::{load_manifest, selection};
use crate::exit_code::ExitCode;
use crate::plan::Plan;
use crate::report::console::{Console, ProgressMode, write_stderr};
use crate::report::{
    BarsReporter, LinesReporter, Reporter, RunRecord, RunRecorder, SilentReporter, render_junit,
    write_atomically,
};
use crate::run::{RunEvent, RunId, RunOptions, RunStatus, RunSummary, Scheduler, StepStatus};
use crate::store::spill::{SpillFile, spill_dir};
use crate::store::{PendingWriter, Store, StoreReporter, StoreTarget, StoreWriter, state_dir};
use crate::values::LogLevel;

/// How long opening the monitoring store may take before the run goes on without it (its
/// records are spilled and replayed by the next run).
const STORE_OPEN_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs the pipeline named on the command line.
pub fn run_command(
    arguments: &RunArgs,
    console: &Console,
    quiet: bool,
    verbose: u8,
) -> Result<ExitCode, CliError> {
    run_pipeline(arguments, console, quiet, verbose, false)
}

/// `pipewright bench`: runs the `bench` steps and the steps they depend on (or what
/// `--select` names, among which the `bench` steps).
pub fn bench_command(
    arguments: &RunArgs,
    console: &Console,
    quiet: bool,
    verbose: u8,
) -> Result<ExitCode, CliError> {
    run_pipeline(arguments, console, quiet, verbose, true)
}

fn run_pipeline(
    arguments: &RunArgs,
    console: &Console,
    quiet: bool,
    verbose: u8,
    bench_only: bool,
) -> Result<ExitCode, CliError> {
    let loaded = load_manifest(&arguments.manifest)?;
    let selection = if bench_only {
        bench_selection(&loaded.pipeline, &arguments.selection)?
    } else {
        selection(&arguments.selection)?
    };
    let jobs = arguments
        .jobs
        .map_or(loaded.pipeline.concurrency, |jobs| jobs as usize);
    let state = state_dir(
        &loaded.pipeline.base_dir,
        arguments.state.state_dir.as_deref(),
    );
    let resume = arguments.resume || arguments.resume_from.is_some();
    let previous = if resume && !arguments.rerun_all {
        previous_run(arguments, &loaded.pipeline, &state)?
    } else {
        None
    };
    let plan = Plan::resuming(
        &loaded.pipeline,
        &loaded.graph,
        &selection,
        jobs,
        previous.as_ref(),
    )
    .map_err(|error| CliError::Usage(error.to_string()))?;

    let graph = loaded.graph;
    let pipeline = Arc::new(loaded.pipeline);
    let store_target = StoreTarget::for_pipeline(&pipeline, &state);
    // The sink is there before the first log record, so that none is lost.
    let pending_writer = PendingWriter::install(Arc::new(SpillFile::new(
        &spill_dir(&state),
        &store_target.key(),
    )));
    // `-q` and `-v` adjust the manifest's console level.
    let console_level = if quiet {
        LogLevel::Error
    } else {
        pipeline.logging.level.more_verbose(verbose)
    };
    let logging = crate::logging::init_run(
        &pipeline.logging,
        console_level,
        console.color,
        &state.join("logs"),
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let run_id = RunId::new();
    let mut recorder = RunRecorder::new(&pipeline, &plan);
    let mut store_reporter = StoreReporter::new(&pipeline, &plan, run_id);
    let github = crate::report::github_wanted(arguments.annotations.as_deref());
    let mut display: Box<dyn Reporter> = match console.progress {
        ProgressMode::Bars => Box::new(BarsReporter::new(console.color, verbose > 0)),
        ProgressMode::Plain if github => {
            Box::new(LinesReporter::new(console.color, verbose > 0).without_step_output())
        }
        ProgressMode::Plain => Box::new(LinesReporter::new(console.color, verbose > 0)),
        ProgressMode::None => Box::new(SilentReporter),
    };
    let mut annotations = github.then(|| crate::report::GithubReporter::new(Arc::clone(&pipeline)));
    let options = RunOptions {
        jobs,
        keep_going: arguments.keep_going,
        resume,
        update_baseline: arguments.update_baseline,
    };
    let span = tracing::info_span!("run", run_id = %run_id, pipeline = %pipeline.name);

    let summary: RunSummary = runtime.block_on(
        async {
            let writer = start_store_writer(&store_target, &state, pending_writer).await;
            logging.report_problems();
            let cancel = CancellationToken::new();
            let signals = tokio::spawn(watch_signals(cancel.clone()));
            let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<RunEvent>();
            let scheduler = Scheduler::new(Arc::clone(&pipeline), plan, options, sender)
                .with_run_id(run_id);
            let connections = scheduler.connections();
            let reporting = async {
                while let Some(event) = receiver.recv().await {
                    display.report(&event);
                    if let Some(annotations) = &mut annotations {
                        annotations.report(&event);
                    }
                    recorder.report(&event);
                    store_reporter.report(&event);
                }
            };
            let (summary, ()) = tokio::join!(scheduler.run(cancel), reporting);
            signals.abort();
            connections.close_all().await;
            let written = writer.finish().await;
            if written.spilled > 0 {
                tracing::warn!(
                    "{} records for the monitoring store were kept in `{}`; the next run stores them",
                    written.spilled,
                    spill_dir(&state).display()
                );
            }
            summary
        }
        .instrument(span),
    );
    drop(display);
    drop(annotations);

    let record = recorder.into_record();
    if console.progress == ProgressMode::None {
        print_failures(&record, console);
    }
    // Every report is written even if another cannot be; the first failure is returned.
    let benchmarks = finish_benchmarks(&record, &state, &pipeline.name, arguments, quiet);
    if github {
        append_step_summary(&record, &graph);
    }
    write_reports(arguments, &record, &pipeline, &graph)?;
    benchmarks?;
    let failures: Vec<crate::run::FailureKind> = record
        .steps
        .iter()
        .filter_map(|step| step.failure)
        .collect();
    let lock_timeout = failures.contains(&crate::run::FailureKind::LockTimeout);
    let regressions_only = !failures.is_empty()
        && failures
            .iter()
            .all(|failure| *failure == crate::run::FailureKind::Regression);
    Ok(match summary.status {
        RunStatus::Succeeded => ExitCode::Success,
        RunStatus::Failed if lock_timeout => ExitCode::LockTimeout,
        RunStatus::Failed if regressions_only => ExitCode::BenchRegression,
        RunStatus::Failed => ExitCode::StepFailed,
        RunStatus::Cancelled => ExitCode::Interrupted,
    })
}

/// Opens the monitoring store, replays what earlier runs could not store, and starts the
/// writer. A store that cannot be opened does not stop the run: its records are spilled.
async fn start_store_writer(
    target: &StoreTarget,
    state: &Path,
    pending: PendingWriter,
) -> StoreWriter {
    let spills = spill_dir(state);
    let store = match tokio::time::timeout(STORE_OPEN_TIMEOUT, Store::open(target)).await {
        Ok(Ok(store)) => Some(store),
        Ok(Err(error)) => {
            tracing::warn!(target: "pipewright::store", "{}; this run's records are kept in `{}` for the next run", crate::error_chain::error_chain(&error), spills.display());
            None
        }
        Err(_) => {
            tracing::warn!(target: "pipewright::store", "the monitoring store {} did not answer in {}s; this run's records are kept in `{}` for the next run", target.describe(), STORE_OPEN_TIMEOUT.as_secs(), spills.display());
            None
        }
    };
    if let Some(store) = &store {
        let replayed = store.replay_spills(&spills).await;
        if replayed > 0 {
            tracing::info!(target: "pipewright::store", "stored {replayed} records kept by earlier runs");
        }
    }
    pending.start(store)
}

/// The run `--resume` continues: the report of `--resume-from`, or the last run of the
/// pipeline in its monitoring store. `None` (every step runs) when the store has no run of it.
fn previous_run(
    arguments: &RunArgs,
    pipeline: &crate::pipeline::Pipeline,
    state: &Path,
) -> Result<Option<crate::plan::PreviousRun>, CliError> {
    if let Some(path) = &arguments.resume_from {
        let text = std::fs::read_to_string(path).map_err(|source| CliError::ReadFile {
            path: path.display().to_string(),
            source,
        })?;
        let report: serde_json::Value = serde_json::from_str(&text).map_err(|error| {
            CliError::Usage(format!("`{}` is not a run report: {error}", path.display()))
        })?;
        if report["pipeline"].as_str() != Some(pipeline.name.as_str()) {
            return Err(CliError::Usage(format!(
                "`{}` is a report of pipeline `{}`, not `{}`",
                path.display(),
                report["pipeline"].as_str().unwrap_or("?"),
                pipeline.name
            )));
        }
        return crate::plan::PreviousRun::from_report(&report)
            .map(Some)
            .map_err(|message| CliError::Usage(format!("`{}`: {message}", path.display())));
    }
    let target = StoreTarget::for_pipeline(pipeline, state);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let previous = runtime
        .block_on(async {
            let Some(store) = Store::open_for_reading(&target).await? else {
                return Ok(None);
            };
            let previous = store.last_run(&pipeline.name).await;
            store.database().close().await;
            previous
        })
        .map_err(|error| CliError::Store(Box::new(error)))?;
    if previous.is_none() {
        write_stderr(
            format!(
                "no earlier run of `{}` in {}: every step runs\n",
                pipeline.name,
                target.describe()
            )
            .as_bytes(),
        );
    }
    Ok(previous)
}

/// The `bench` steps with their ancestors (`+step`), unless `--select` names steps itself;
/// `--exclude` applies either way.
fn bench_selection(
    pipeline: &crate::pipeline::Pipeline,
    arguments: &crate::cli::arguments::SelectionArgs,
) -> Result<crate::plan::Selection, CliError> {
    if !arguments.select.is_empty() {
        return selection(arguments);
    }
    let select: Vec<String> = pipeline
        .steps
        .values()
        .filter(|step| step.kind() == crate::pipeline::StepKind::Bench)
        .map(|step| format!("+{}", step.id))
        .collect();
    if select.is_empty() {
        return Err(CliError::Usage(format!(
            "pipeline `{}` has no `bench` step; `pipewright bench` runs those (and what they depend on)",
            pipeline.name
        )));
    }
    selection(&crate::cli::arguments::SelectionArgs {
        select,
        exclude: arguments.exclude.clone(),
    })
}

/// First SIGINT or SIGTERM: cancel the run and let steps stop cleanly (SIGTERM to each command's
/// process group, a grace period, then SIGKILL; queries cancelled on their server). Second:
/// SIGKILL every command at once, so the run ends now and its reports are still written; if it
/// has not ended five seconds later, exit regardless.
async fn watch_signals(cancel: CancellationToken) {
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("cannot listen for Ctrl-C; the run cannot be cancelled cleanly");
        return;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    cancel.cancel();
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    write_stderr(b"interrupted again: killing running steps\n");
    crate::steps::kill_running_commands();
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(5));
        write_stderr(b"steps did not stop in time: exiting without waiting\n");
        std::process::exit(i32::from(ExitCode::Interrupted.code()));
    });
}

fn print_failures(record: &RunRecord, console: &Console) {
    for step in &record.steps {
        if let (Some(status), Some(error)) = (step.status, &step.error)
            && matches!(status, StepStatus::Failed | StepStatus::TimedOut)
        {
            let label = crate::report::console::paint(
                "error:",
                crate::report::console::Style::Failure,
                console.color,
            );
            let mut text = format!(
                "{label} step `{}` {}: {error}\n",
                step.id,
                status.describe()
            );
            for line in &step.output_tail {
                let _ = writeln!(text, "  | {line}");
            }
            write_stderr(text.as_bytes());
        }
    }
}

/// After a run with `bench` steps: their results into `<state>/bench/<pipeline>.json` (the
/// baseline format), the comparison table on stderr, and as Markdown if asked.
fn finish_benchmarks(
    record: &RunRecord,
    state: &Path,
    pipeline: &str,
    arguments: &RunArgs,
    quiet: bool,
) -> Result<(), CliError> {
    let reports = crate::report::bench_reports(record);
    if reports.is_empty() {
        return Ok(());
    }
    let results = state
        .join("bench")
        .join(format!("{}.json", file_name_of(pipeline)));
    let entries = reports
        .iter()
        .map(|(step, report)| (step.clone(), report.entry.clone()));
    if let Err(message) = crate::bench::record_baselines(&results, entries) {
        tracing::warn!("the benchmark results were not kept: {message}");
    }
    if !quiet {
        write_stderr(
            format!(
                "\nbenchmarks (all results in `{}`):\n{}",
                results.display(),
                crate::report::render_bench_text(&reports)
            )
            .as_bytes(),
        );
    }
    if let Some(path) = &arguments.bench_markdown {
        write_atomically(
            path,
            crate::report::render_bench_markdown(&reports).as_bytes(),
        )
        .map_err(|source| CliError::WriteFile {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

/// Appends the run's Markdown summary to `$GITHUB_STEP_SUMMARY`, when the runner set it.
fn append_step_summary(record: &RunRecord, graph: &crate::graph::StepGraph) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") else {
        return;
    };
    let summary = crate::report::render_step_summary(record, graph);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| std::io::Write::write_all(&mut file, summary.as_bytes()));
    if let Err(error) = written {
        tracing::warn!(
            "cannot append the run summary to `{}`: {error}",
            std::path::Path::new(&path).display()
        );
    }
}

/// A pipeline's name as a file name: letters, digits, `-` and `_`, the rest as `_`.
fn file_name_of(name: &str) -> String {
    name.chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || matches!(character, '-' | '_') {
                character
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes every requested report; if one cannot be written the others still are, and the
/// first failure is returned.
fn write_reports(
    arguments: &RunArgs,
    record: &RunRecord,
    pipeline: &crate::pipeline::Pipeline,
    graph: &crate::graph::StepGraph,
) -> Result<(), CliError> {
    let reports = [
        (arguments.report.as_deref(), record.to_json()),
        (arguments.junit.as_deref(), render_junit(record)),
        (
            arguments.html.as_deref(),
            arguments
                .html
                .as_ref()
                .map(|_| crate::report::render_html(record, pipeline, graph))
                .unwrap_or_default(),
        ),
    ];
    let mut first_error = None;
    for (path, contents) in reports {
        let Some(path) = path else { continue };
        if let Err(source) = write_atomically(path, contents.as_bytes()) {
            first_error.get_or_insert(CliError::WriteFile {
                path: path.display().to_string(),
                source,
            });
        }
    }
    first_error.map_or(Ok(()), Err)
}
