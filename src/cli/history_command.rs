//! `pipewright history` and `pipewright logs`: reading run history from the monitoring store.

use std::fmt::Write as _;
use std::path::Path;

use crate::cli::CliError;
use crate::cli::arguments::{HistoryArgs, LogsArgs, ManifestArgs, PlanFormat, StoreArgs};
use crate::cli::manifest_input::load_manifest;
use crate::exit_code::ExitCode;
use crate::report::step_lines::format_elapsed;
use crate::store::{LogRow, RunRow, Store, StoreError, StoreTarget, state_dir};

/// The store to read, and the pipeline's name when a manifest named it.
struct Source {
    target: StoreTarget,
    pipeline: Option<String>,
}

fn source(manifest: Option<&Path>, arguments: &StoreArgs) -> Result<Source, CliError> {
    if let Some(url) = &arguments.store {
        let target = StoreTarget::from_url(url).ok_or_else(|| {
            CliError::Usage(format!(
                "`--store {}` is not a connection URL (sqlite://, postgres://, mysql://)",
                crate::secrets::redact_url(url)
            ))
        })?;
        return Ok(Source {
            target,
            pipeline: None,
        });
    }
    if let Some(manifest) = manifest {
        let loaded = load_manifest(&ManifestArgs {
            manifest: manifest.to_path_buf(),
            vars: arguments.vars.clone(),
            env_file: arguments.env_file.clone(),
        })?;
        let state = state_dir(
            &loaded.pipeline.base_dir,
            arguments.state.state_dir.as_deref(),
        );
        return Ok(Source {
            target: StoreTarget::for_pipeline(&loaded.pipeline, &state),
            pipeline: Some(loaded.pipeline.name),
        });
    }
    if let Some(state) = &arguments.state.state_dir {
        return Ok(Source {
            target: StoreTarget::embedded(state),
            pipeline: None,
        });
    }
    Err(CliError::Usage(
        "name a manifest, `--store URL` or `--state-dir DIR` to say which monitoring store to read"
            .to_owned(),
    ))
}

/// Runs `read` on the opened store, in a runtime of its own: the pool lives and dies with it.
/// `None` when the store has no run history yet.
fn with_store<T>(
    target: &StoreTarget,
    read: impl AsyncFnOnce(&Store) -> Result<T, StoreError>,
) -> Result<Option<T>, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime
        .block_on(async {
            let Some(store) = Store::open_for_reading(target).await? else {
                return Ok(None);
            };
            let result = read(&store).await;
            store.database().close().await;
            result.map(Some)
        })
        .map_err(|error| CliError::Store(Box::new(error)))
}

pub(crate) fn history_command(arguments: &HistoryArgs) -> Result<ExitCode, CliError> {
    let source = source(arguments.manifest.as_deref(), &arguments.store)?;
    let pipeline = if arguments.all {
        None
    } else {
        arguments.pipeline.clone().or(source.pipeline)
    };
    let runs = with_store(&source.target, async |store| {
        store
            .recent_runs(arguments.limit, pipeline.as_deref())
            .await
    })?
    .unwrap_or_default();
    let text = match arguments.store.format {
        PlanFormat::Json => json(&runs),
        PlanFormat::Text if runs.is_empty() => format!(
            "no runs recorded in {}{}\n",
            source.target.describe(),
            pipeline
                .map(|name| format!(" for pipeline `{name}`"))
                .unwrap_or_default()
        ),
        PlanFormat::Text => runs_table(&runs),
    };
    crate::cli::dispatch::print_stdout(&text);
    Ok(ExitCode::Success)
}

/// What `logs` found for a run id.
enum RunLogs {
    Found(Vec<LogRow>),
    NoSuchRun,
    Ambiguous(Vec<String>),
}

pub(crate) fn logs_command(arguments: &LogsArgs) -> Result<ExitCode, CliError> {
    let source = source(arguments.manifest.as_deref(), &arguments.store)?;
    let found = with_store(&source.target, async |store| {
        let matches = store.find_run(&arguments.run_id).await?;
        Ok(match matches.as_slice() {
            [one] => RunLogs::Found(
                store
                    .run_logs(one, arguments.level, arguments.step.as_deref())
                    .await?,
            ),
            [] => RunLogs::NoSuchRun,
            several => RunLogs::Ambiguous(several.to_vec()),
        })
    })?;
    let rows = match found {
        None => {
            return Err(CliError::Usage(format!(
                "no runs recorded yet in {}",
                source.target.describe()
            )));
        }
        Some(RunLogs::Found(rows)) => rows,
        Some(RunLogs::NoSuchRun) => {
            return Err(CliError::Usage(format!(
                "no run `{}` in {}; `pipewright history` lists the runs",
                arguments.run_id,
                source.target.describe()
            )));
        }
        Some(RunLogs::Ambiguous(several)) => {
            return Err(CliError::Usage(format!(
                "`{}` is the start of several run ids ({}): give more of it",
                arguments.run_id,
                several.join(", ")
            )));
        }
    };
    let text = match arguments.store.format {
        PlanFormat::Json => json(&rows),
        PlanFormat::Text => logs_text(&rows),
    };
    crate::cli::dispatch::print_stdout(&text);
    Ok(ExitCode::Success)
}

fn json<T: serde::Serialize>(rows: &T) -> String {
    let mut text = serde_json::to_string_pretty(rows).expect("rows serialize");
    text.push('\n');
    crate::secrets::redact(&text).into_owned()
}

fn runs_table(runs: &[RunRow]) -> String {
    let width = runs
        .iter()
        .map(|run| run.pipeline.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut text = format!(
        "{:<36}  {:<width$}  {:<9}  {:<23}  {:>9}  {:>3}  {:>6}  {:>7}\n",
        "RUN", "PIPELINE", "STATUS", "STARTED (UTC)", "DURATION", "OK", "FAILED", "SKIPPED"
    );
    for run in runs {
        let duration = run.duration_ms.map_or_else(
            || "-".to_owned(),
            |millis| {
                format_elapsed(std::time::Duration::from_secs_f64(
                    millis.max(0.0) / 1_000.0,
                ))
            },
        );
        let count =
            |value: Option<i64>| value.map_or_else(|| "-".to_owned(), |value| value.to_string());
        let _ = writeln!(
            text,
            "{:<36}  {:<width$}  {:<9}  {:<23}  {:>9}  {:>3}  {:>6}  {:>7}",
            run.run_id,
            run.pipeline,
            run.status,
            run.started_at.format("%Y-%m-%d %H:%M:%S%.3f"),
            duration,
            count(run.steps_succeeded),
            count(run.steps_failed),
            count(run.steps_skipped),
        );
    }
    text
}

fn logs_text(rows: &[LogRow]) -> String {
    let mut text = String::new();
    for row in rows {
        let _ = writeln!(
            text,
            "{}  {:<5}  {}  {}: {}",
            row.timestamp.format("%Y-%m-%d %H:%M:%S%.3fZ"),
            row.level,
            row.step_id.as_deref().unwrap_or("-"),
            row.module.as_deref().unwrap_or("-"),
            row.message
        );
        for line in row.exception.iter().flat_map(|exception| exception.lines()) {
            let _ = writeln!(text, "    | {line}");
        }
    }
    crate::secrets::redact(&text).into_owned()
}
