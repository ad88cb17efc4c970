//! The entry point: parse the command line, decide about the terminal, run one command.

use std::io::Write as _;

use clap::Parser as _;

use crate::cli::arguments::{Arguments, Command, GraphArgs, PlanArgs, PlanFormat};
use crate::cli::history_command::{history_command, logs_command};
use crate::cli::manifest_input::{load_manifest, selection};
use crate::cli::{CliError, run_command};
use crate::exit_code::ExitCode;
use crate::graph::render_graph;
use crate::manifest::json_schema::pipeline_schema_text;
use crate::plan::Plan;
use crate::report::console::{Console, ProgressChoice};
use crate::values::LogLevel;

/// Runs pipewright with the process's arguments and returns its exit code. A panic is a bug
/// of pipewright: it is reported without secrets and ends with the internal-error code.
pub fn main() -> std::process::ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|location| format!(" at {}:{}", location.file(), location.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        crate::report::console::write_stderr(
            crate::secrets::redact(&format!(
                "pipewright hit a bug{location}: {message}\nplease report it with the command you ran\n"
            ))
            .as_bytes(),
        );
    }));
    match std::panic::catch_unwind(run) {
        Ok(code) => code,
        Err(_) => ExitCode::Internal.into(),
    }
}

fn run() -> std::process::ExitCode {
    let arguments = Arguments::parse();
    let progress = match &arguments.command {
        Command::Run(run) | Command::Bench(run) => run.progress,
        _ => ProgressChoice::Auto,
    };
    let console = Console::detect(arguments.color, progress, arguments.quiet);
    let level = if arguments.quiet {
        LogLevel::Error
    } else {
        LogLevel::Info.more_verbose(arguments.verbose)
    };
    // `run` installs every log sink once it knows the manifest's `[logging]`.
    if !matches!(arguments.command, Command::Run(_) | Command::Bench(_)) {
        crate::logging::init_console(level, console.color);
    }

    let result = match &arguments.command {
        Command::Lock(lock) => lock_command(lock),
        Command::Fmt(fmt) => fmt_command(fmt),
        Command::Diff(diff) => crate::cli::diff_command::diff_command(diff),
        Command::Check(check) => load_manifest(&check.manifest).and_then(|loaded| {
            if check.locked {
                check_lock(&loaded.pipeline)?;
            }
            let connections = loaded.pipeline.connections.len();
            print_stdout(&format!(
                "{}: ok (pipeline `{}`, {} {}, {connections} {})\n",
                check.manifest.manifest.display(),
                loaded.pipeline.name,
                loaded.graph.len(),
                if loaded.graph.len() == 1 {
                    "step"
                } else {
                    "steps"
                },
                if connections == 1 {
                    "connection"
                } else {
                    "connections"
                }
            ));
            Ok(ExitCode::Success)
        }),
        Command::Plan(plan) => plan_command(plan),
        Command::Graph(graph) => graph_command(graph),
        Command::Schema => {
            print_stdout(&pipeline_schema_text());
            Ok(ExitCode::Success)
        }
        Command::Run(run) => run_command(run, &console, arguments.quiet, arguments.verbose),
        Command::Bench(run) => {
            crate::cli::bench_command(run, &console, arguments.quiet, arguments.verbose)
        }
        Command::History(history) => history_command(history),
        Command::Logs(logs) => logs_command(logs),
        Command::Migrate(migrate) => {
            crate::cli::migrate_command::migrate_command(migrate, arguments.quiet)
        }
        Command::Backups(backups) => crate::cli::backup_command::backups_command(backups),
        Command::Restore(restore) => crate::cli::backup_command::restore_command(restore),
    };
    match result {
        Ok(code) => code.into(),
        Err(error) => {
            crate::report::console::write_stderr(error.render(&console).as_bytes());
            error.exit_code().into()
        }
    }
}

/// Writes a command's result to stdout. A closed pipe (`pipewright plan | head`) is not an
/// error worth reporting.
pub(crate) fn print_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

fn plan_command(arguments: &PlanArgs) -> Result<ExitCode, CliError> {
    let loaded = load_manifest(&arguments.manifest)?;
    let selection = selection(&arguments.selection)?;
    let jobs = arguments
        .jobs
        .map_or(loaded.pipeline.concurrency, |jobs| jobs as usize);
    let plan = Plan::new(&loaded.pipeline, &loaded.graph, &selection, jobs)
        .map_err(|error| CliError::Usage(error.to_string()))?;
    let text = match arguments.format {
        PlanFormat::Text => plan.render_text(),
        PlanFormat::Json => {
            let mut json = serde_json::to_string_pretty(&plan).expect("a plan serializes");
            json.push('\n');
            json
        }
    };
    print_stdout(&crate::secrets::redact(&text));
    Ok(ExitCode::Success)
}

fn graph_command(arguments: &GraphArgs) -> Result<ExitCode, CliError> {
    let loaded = load_manifest(&arguments.manifest)?;
    print_stdout(&render_graph(
        &loaded.pipeline,
        &loaded.graph,
        arguments.format,
    ));
    Ok(ExitCode::Success)
}

/// `pipewright lock`: writes `pipewright.lock` next to the manifest.
fn lock_command(arguments: &crate::cli::arguments::LockArgs) -> Result<ExitCode, CliError> {
    let loaded = load_manifest(&arguments.manifest)?;
    let lock = crate::lock_file::LockFile::of(&loaded.pipeline);
    let path = crate::lock_file::LockFile::path_for(&loaded.pipeline);
    crate::report::write_atomically(&path, lock.to_toml().as_bytes()).map_err(|source| {
        CliError::WriteFile {
            path: path.display().to_string(),
            source,
        }
    })?;
    print_stdout(&format!(
        "{}: locked {} steps and {} files\n",
        path.display(),
        lock.steps.len(),
        lock.files.len()
    ));
    Ok(ExitCode::Success)
}

/// `check --locked`: the lock file exists and matches the pipeline as it is on disk.
fn check_lock(pipeline: &crate::pipeline::Pipeline) -> Result<(), CliError> {
    let path = crate::lock_file::LockFile::path_for(pipeline);
    let locked = crate::lock_file::LockFile::read(&path)
        .map_err(CliError::Usage)?
        .ok_or_else(|| {
            CliError::Usage(format!(
                "`{}` does not exist: run `pipewright lock` and commit it",
                path.display()
            ))
        })?;
    let changes = crate::lock_file::LockFile::of(pipeline).changes_since(&locked);
    if changes.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = changes
        .iter()
        .map(|change| format!("  - {}", change.describe()))
        .collect();
    Err(CliError::Usage(format!(
        "`{}` is stale: {} {} since it was written:\n{}\nreview the changes, then run `pipewright lock` and commit the lock file",
        path.display(),
        changes.len(),
        if changes.len() == 1 {
            "change"
        } else {
            "changes"
        },
        lines.join("\n")
    )))
}

/// `pipewright fmt`: rewrites each manifest in the canonical layout, or with `--check` lists
/// those that would change. A file that is not valid TOML is never rewritten.
fn fmt_command(arguments: &crate::cli::arguments::FmtArgs) -> Result<ExitCode, CliError> {
    let mut changed = Vec::new();
    let mut invalid = Vec::new();
    for path in &arguments.files {
        let source = std::fs::read_to_string(path).map_err(|source| CliError::ReadFile {
            path: path.display().to_string(),
            source,
        })?;
        let formatted = match crate::manifest::format_manifest(&source) {
            Ok(formatted) => formatted,
            Err(error) => {
                invalid.push(match error.line {
                    Some(line) => format!("{}:{line}: {error}", path.display()),
                    None => format!("{}: {error}", path.display()),
                });
                continue;
            }
        };
        if formatted == source {
            continue;
        }
        if !arguments.check {
            crate::report::write_atomically(path, formatted.as_bytes()).map_err(|source| {
                CliError::WriteFile {
                    path: path.display().to_string(),
                    source,
                }
            })?;
        }
        changed.push(path.display().to_string());
    }
    for path in &changed {
        print_stdout(&format!("{path}\n"));
    }
    if !invalid.is_empty() {
        return Err(CliError::Usage(format!(
            "{} not formatted:\n  {}",
            if invalid.len() == 1 {
                "1 file was"
            } else {
                "some files were"
            },
            invalid.join("\n  ")
        )));
    }
    Ok(if arguments.check && !changed.is_empty() {
        ExitCode::StepFailed
    } else {
        ExitCode::Success
    })
}
