//! `pipewright run`: plan, check the plan can run, run it with reporters, write the reports.

use std::fmt::Write as _;
use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

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
use crate::run::{RunEvent, RunOptions, RunStatus, Scheduler, StepStatus};

/// Runs the pipeline named on the command line.
pub fn run_command(
    arguments: &RunArgs,
    console: &Console,
    verbose: bool,
) -> Result<ExitCode, CliError> {
    let loaded = load_manifest(&arguments.manifest)?;
    let selection = selection(&arguments.selection)?;
    let jobs = arguments
        .jobs
        .map_or(loaded.pipeline.concurrency, |jobs| jobs as usize);
    let plan = Plan::new(&loaded.pipeline, &loaded.graph, &selection, jobs)
        .map_err(|error| CliError::Usage(error.to_string()))?;
    refuse_unimplemented(&plan)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let pipeline = Arc::new(loaded.pipeline);
    let mut recorder = RunRecorder::new(&pipeline, &plan);
    let mut display: Box<dyn Reporter> = match console.progress {
        ProgressMode::Bars => Box::new(BarsReporter::new(console.color, verbose)),
        ProgressMode::Plain => Box::new(LinesReporter::new(console.color, verbose)),
        ProgressMode::None => Box::new(SilentReporter),
    };
    let options = RunOptions {
        jobs,
        keep_going: arguments.keep_going,
    };

    let summary = runtime.block_on(async {
        let cancel = CancellationToken::new();
        let signals = tokio::spawn(watch_signals(cancel.clone()));
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<RunEvent>();
        let scheduler = Scheduler::new(Arc::clone(&pipeline), plan, options, sender);
        let reporting = async {
            while let Some(event) = receiver.recv().await {
                display.report(&event);
                recorder.report(&event);
            }
        };
        let (summary, ()) = tokio::join!(scheduler.run(cancel), reporting);
        signals.abort();
        summary
    });
    drop(display);

    let record = recorder.into_record();
    if console.progress == ProgressMode::None {
        print_failures(&record, console);
    }
    write_reports(arguments, &record)?;
    Ok(match summary.status {
        RunStatus::Succeeded => ExitCode::Success,
        RunStatus::Failed => ExitCode::StepFailed,
        RunStatus::Cancelled => ExitCode::Interrupted,
    })
}

/// Stops before anything runs if a planned step's kind cannot be executed yet.
fn refuse_unimplemented(plan: &Plan) -> Result<(), CliError> {
    let blocked: Vec<String> = plan
        .running()
        .filter(|step| !step.kind.is_implemented())
        .map(|step| format!("`{}` ({})", step.id, step.kind))
        .collect();
    if blocked.is_empty() {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "this version of pipewright cannot run these steps yet: {}; nothing was run (`check` and `plan` accept them; leave them out with `--exclude`)",
        blocked.join(", ")
    )))
}

/// First SIGINT or SIGTERM: cancel the run and let steps stop cleanly (SIGTERM to each command's
/// process group, a grace period, then SIGKILL). Second: SIGKILL every command at once, so the
/// run ends now and its reports are still written; if it has not ended five seconds later,
/// exit regardless.
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
        std::thread::sleep(std::time::Duration::from_secs(5));
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
