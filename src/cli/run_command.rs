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
    let plan = Plan::new(&loaded.pipeline, &loaded.graph, &selection, jobs)
        .map_err(|error| CliError::Usage(error.to_string()))?;

    let pipeline = Arc::new(loaded.pipeline);
    let state = state_dir(&pipeline.base_dir, arguments.state.state_dir.as_deref());
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
    let _logging = crate::logging::init_run(
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
    let mut display: Box<dyn Reporter> = match console.progress {
        ProgressMode::Bars => Box::new(BarsReporter::new(console.color, verbose > 0)),
        ProgressMode::Plain => Box::new(LinesReporter::new(console.color, verbose > 0)),
        ProgressMode::None => Box::new(SilentReporter),
    };
    let options = RunOptions {
        jobs,
        keep_going: arguments.keep_going,
        resume: arguments.resume,
        update_baseline: arguments.update_baseline,
    };
    let span = tracing::info_span!("run", run_id = %run_id, pipeline = %pipeline.name);

    let summary: RunSummary = runtime.block_on(
        async {
            let writer = start_store_writer(&store_target, &state, pending_writer).await;
            let cancel = CancellationToken::new();
            let signals = tokio::spawn(watch_signals(cancel.clone()));
            let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<RunEvent>();
            let scheduler = Scheduler::new(Arc::clone(&pipeline), plan, options, sender)
                .with_run_id(run_id);
            let connections = scheduler.connections();
            let reporting = async {
                while let Some(event) = receiver.recv().await {
                    display.report(&event);
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

    let record = recorder.into_record();
    if console.progress == ProgressMode::None {
        print_failures(&record, console);
    }
    finish_benchmarks(&record, &state, &pipeline.name, arguments, quiet)?;
    write_reports(arguments, &record)?;
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
    for (step, report) in &reports {
        if let Err(message) = crate::bench::record_baseline(&results, step, report.entry.clone()) {
            tracing::warn!("the benchmark results were not kept: {message}");
            break;
        }
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
fn write_reports(arguments: &RunArgs, record: &RunRecord) -> Result<(), CliError> {
    let reports = [
        (arguments.report.as_deref(), record.to_json()),
        (arguments.junit.as_deref(), render_junit(record)),
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
