//! `pipewright migrate`: thin views of the migration engine the `migrate` step uses.

use std::fmt::Write as _;

use tokio_util::sync::CancellationToken;

use crate::cli::CliError;
use crate::cli::arguments::{
    ManifestArgs, MigrateAction, MigrateArgs, MigrateTargetArgs, PlanFormat,
};
use crate::cli::dispatch::print_stdout;
use crate::cli::manifest_input::load_manifest;
use crate::db::Database;
use crate::exit_code::ExitCode;
use crate::manifest::DEFAULT_HISTORY_TABLE;
use crate::migrate::{
    AppliedFile, MigrateError, MigrateOptions, MigrateProgress, MigrationState, Migrator,
    PlannedFile,
};
use crate::pipeline::{ConnectionSpec, Driver, StepAction};
use crate::report::console::write_stderr;

/// The database and options a command works on.
struct Target {
    connection: ConnectionSpec,
    options: MigrateOptions,
}

fn target(arguments: &MigrateTargetArgs) -> Result<Target, CliError> {
    if let (Some(dir), Some(url)) = (&arguments.dir, &arguments.url) {
        if let Some(manifest) = &arguments.manifest {
            tracing::warn!(
                "ignoring `{}`: `--dir` and `--url` name the migrations and the database",
                manifest.display()
            );
        }
        let url = &Driver::lowercase_scheme(url);
        let driver = url
            .split_once(':')
            .and_then(|(scheme, _)| Driver::from_scheme(scheme))
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "`--url {}` is not a connection URL (sqlite://, postgres://, mysql://)",
                    crate::secrets::redact_url(url)
                ))
            })?;
        for secret in crate::secrets::url_secrets(url) {
            crate::secrets::register_secret(secret);
        }
        return Ok(Target {
            connection: ConnectionSpec::new("migrate", driver, url.clone()),
            options: MigrateOptions {
                dir: dir.clone(),
                history_table: arguments
                    .history_table
                    .clone()
                    .unwrap_or_else(|| DEFAULT_HISTORY_TABLE.to_owned()),
                out_of_order: arguments.out_of_order,
                lock_timeout: arguments
                    .lock_timeout
                    .map_or(MigrateOptions::DEFAULT_LOCK_TIMEOUT, |timeout| {
                        timeout.get()
                    }),
            },
        });
    }
    let Some(manifest) = &arguments.manifest else {
        return Err(CliError::Usage(
            "name a manifest with a `migrate` step, or `--dir DIR --url URL`".to_owned(),
        ));
    };
    let loaded = load_manifest(&ManifestArgs {
        manifest: manifest.clone(),
        vars: arguments.vars.clone(),
        env_file: arguments.env_file.clone(),
    })?;
    let steps: Vec<_> = loaded
        .pipeline
        .steps
        .values()
        .filter_map(|step| match &step.action {
            StepAction::Migrate(spec) => Some((step.id.clone(), spec)),
            _ => None,
        })
        .collect();
    let names = || {
        steps
            .iter()
            .map(|(id, _)| format!("`{id}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (_, spec) = match (&arguments.step, steps.as_slice()) {
        (Some(wanted), _) => steps
            .iter()
            .find(|(id, _)| id.as_str() == wanted)
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "`{wanted}` is not a `migrate` step of {}; its migrate steps: {}",
                    manifest.display(),
                    names()
                ))
            })?,
        (None, [one]) => one,
        (None, []) => {
            return Err(CliError::Usage(format!(
                "{} has no `migrate` step",
                manifest.display()
            )));
        }
        (None, _) => {
            return Err(CliError::Usage(format!(
                "{} has several `migrate` steps ({}): choose one with `--step`",
                manifest.display(),
                names()
            )));
        }
    };
    let mut options = spec.options();
    if let Some(timeout) = arguments.lock_timeout {
        options.lock_timeout = timeout.get();
    }
    Ok(Target {
        connection: loaded.pipeline.connections[&spec.connection].clone(),
        options,
    })
}

/// Prints each file as the engine finishes it (nothing with `--quiet`).
struct Lines {
    quiet: bool,
}

impl MigrateProgress for Lines {
    fn file_started(&self, file: &str, _index: usize, _total: usize) {
        if !self.quiet {
            write_stderr(format!("running {file}\n").as_bytes());
        }
    }

    fn file_applied_elsewhere(&self, file: &str) {
        if !self.quiet {
            write_stderr(
                format!("   skipped {file}: another process applied it meanwhile\n").as_bytes(),
            );
        }
    }

    fn file_done(&self, applied: &AppliedFile) {
        if self.quiet {
            return;
        }
        let statements = applied.statements as usize;
        write_stderr(
            format!(
                "   done {} ({statements} {}, {}ms)\n",
                applied.file,
                plural(statements, "statement"),
                applied.duration_ms
            )
            .as_bytes(),
        );
    }
}

/// The exit code and message of an engine error.
fn migrate_failure(error: &MigrateError) -> (ExitCode, String) {
    let code = match error {
        MigrateError::LockTimeout { .. } => ExitCode::LockTimeout,
        MigrateError::Scan(_)
        | MigrateError::NoDownFile { .. }
        | MigrateError::NotApplied { .. } => ExitCode::Invalid,
        MigrateError::Cancelled { .. } => ExitCode::Interrupted,
        _ => ExitCode::StepFailed,
    };
    let mut text = format!("error: {}\n", crate::error_chain::error_chain(error));
    if let Some(help) = error.help() {
        let _ = writeln!(text, "  help: {help}");
    }
    (code, crate::secrets::redact(&text).into_owned())
}

/// Runs one `pipewright migrate` command.
pub(crate) fn migrate_command(arguments: &MigrateArgs, quiet: bool) -> Result<ExitCode, CliError> {
    let target_arguments = match &arguments.action {
        MigrateAction::Status(status) => &status.target,
        MigrateAction::Plan(plan) => plan,
        MigrateAction::Up(up) => &up.target,
        MigrateAction::Down(down) => &down.target,
        MigrateAction::Accept(accept) => &accept.target,
        MigrateAction::Baseline(baseline) => &baseline.target,
    };
    let target = target(target_arguments)?;
    let format = target_arguments.format;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    // Commands that only read never create a database or change a file's journal.
    let read_only = matches!(
        &arguments.action,
        MigrateAction::Status(_)
            | MigrateAction::Plan(_)
            | MigrateAction::Up(crate::cli::arguments::MigrateUpArgs { dry_run: true, .. })
    );
    let connection = if read_only && sqlite_file_missing(&target.connection) {
        // Nothing applied yet: an empty database in memory answers the same.
        ConnectionSpec::new("migrate", Driver::Sqlite, "sqlite::memory:".to_owned())
    } else {
        target.connection.clone()
    };
    let outcome = runtime.block_on(async {
        let database = if read_only {
            Database::connect_read_only(&connection, 2).await
        } else {
            Database::connect(&connection, 2).await
        }
        .map_err(MigrateError::from)?;
        let migrator = Migrator::new(&database, target.options.clone())?;
        let cancel = CancellationToken::new();
        let watcher = tokio::spawn(cancel_on_signal(cancel.clone()));
        let lines = Lines { quiet };
        let result = run_action(
            &arguments.action,
            &migrator,
            &target,
            format,
            &cancel,
            &lines,
        )
        .await;
        watcher.abort();
        database.close().await;
        result
    });
    match outcome {
        Ok((code, text)) => {
            print_stdout(&crate::secrets::redact(&text));
            Ok(code)
        }
        Err(error) => {
            let (code, text) = migrate_failure(&error);
            write_stderr(text.as_bytes());
            Ok(code)
        }
    }
}

/// Whether `connection` is a SQLite file that does not exist.
fn sqlite_file_missing(connection: &ConnectionSpec) -> bool {
    if connection.driver != Driver::Sqlite {
        return false;
    }
    let url = connection.url.expose();
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    !path.starts_with(':') && !std::path::Path::new(path).exists()
}

async fn cancel_on_signal(cancel: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    if let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        cancel.cancel();
    }
}

async fn run_action(
    action: &MigrateAction,
    migrator: &Migrator<'_>,
    target: &Target,
    format: PlanFormat,
    cancel: &CancellationToken,
    lines: &Lines,
) -> Result<(ExitCode, String), MigrateError> {
    let heading = format!(
        "migrations in `{}` on `{}` ({}), history table `{}`\n",
        migrator.dir().display(),
        target.connection.name,
        target.connection.url.redacted(),
        target.options.history_table
    );
    match action {
        MigrateAction::Status(arguments) => {
            let (status, rows) = migrator.status().await?;
            let problems = status.problems(migrator.files(), &rows, target.options.out_of_order);
            let code = if !arguments.detailed_exitcode {
                ExitCode::Success
            } else if !problems.is_empty() {
                ExitCode::StepFailed
            } else if status.pending_count() > 0 {
                ExitCode::PendingMigrations
            } else {
                ExitCode::Success
            };
            let text = match format {
                PlanFormat::Json => json(&serde_json::json!({
                    "directory": migrator.dir(),
                    "history_table": target.options.history_table,
                    "pending": status.pending_count(),
                    "problems": problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "migrations": status.entries,
                })),
                PlanFormat::Text => {
                    let mut text = heading;
                    text.push_str(&status_table(&status));
                    for problem in &problems {
                        let _ = write!(text, "\nproblem: {problem}\n  help: {}\n", problem.help());
                    }
                    text
                }
            };
            Ok((code, text))
        }
        MigrateAction::Plan(_)
        | MigrateAction::Up(crate::cli::arguments::MigrateUpArgs { dry_run: true, .. }) => {
            let planned = migrator.plan().await?;
            Ok((
                ExitCode::Success,
                match format {
                    PlanFormat::Json => json(&planned),
                    PlanFormat::Text => heading + &plan_text(&planned),
                },
            ))
        }
        MigrateAction::Up(_) => {
            let applied = migrator.up(cancel, lines).await?;
            Ok((
                ExitCode::Success,
                match format {
                    PlanFormat::Json => json(&applied),
                    PlanFormat::Text if applied.is_empty() => format!("{heading}up to date\n"),
                    PlanFormat::Text => format!(
                        "{heading}applied {} {}\n",
                        applied.len(),
                        plural(applied.len(), "file")
                    ),
                },
            ))
        }
        MigrateAction::Down(arguments) => {
            let reverted = migrator.down(arguments.to, cancel, lines).await?;
            Ok((
                ExitCode::Success,
                match format {
                    PlanFormat::Json => json(&reverted),
                    PlanFormat::Text => format!(
                        "{heading}reverted {} {}, down to version {}\n",
                        reverted.len(),
                        plural(reverted.len(), "file"),
                        arguments.to
                    ),
                },
            ))
        }
        MigrateAction::Accept(arguments) => {
            let accepted = migrator
                .accept(arguments.version, &arguments.reason)
                .await?;
            Ok((
                ExitCode::Success,
                match format {
                    PlanFormat::Json => json(&serde_json::json!({
                        "version": arguments.version,
                        "reason": arguments.reason,
                        "diff": accepted,
                    })),
                    PlanFormat::Text if accepted.is_empty() => format!(
                        "{heading}version {} is unchanged; the reason is recorded\n",
                        arguments.version
                    ),
                    PlanFormat::Text => format!(
                        "{heading}accepted version {} as it is on disk (reason recorded: {}):\n{accepted}",
                        arguments.version, arguments.reason
                    ),
                },
            ))
        }
        MigrateAction::Baseline(arguments) => {
            let recorded = migrator.baseline(arguments.to).await?;
            Ok((
                ExitCode::Success,
                match format {
                    PlanFormat::Json => json(&recorded),
                    PlanFormat::Text => format!(
                        "{heading}recorded {} {} as applied without running {}\n",
                        recorded.len(),
                        plural(recorded.len(), "version"),
                        if recorded.len() == 1 { "it" } else { "them" }
                    ),
                },
            ))
        }
    }
}

fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("a result serializes");
    text.push('\n');
    text
}

fn status_table(status: &crate::migrate::MigrationStatus) -> String {
    let mut text = format!(
        "  {:<14}  {:<22}  {:<23}  {}\n",
        "VERSION", "STATE", "APPLIED AT (UTC)", "FILE"
    );
    for entry in &status.entries {
        let state = match &entry.state {
            MigrationState::Applied if entry.accepted_reason.as_deref() == Some("baseline") => {
                "baseline".to_owned()
            }
            MigrationState::Applied if entry.accepted_reason.is_some() => {
                "applied (accepted)".to_owned()
            }
            MigrationState::Applied => "applied".to_owned(),
            MigrationState::Pending => "pending".to_owned(),
            MigrationState::PendingOutOfOrder => "pending, out of order".to_owned(),
            MigrationState::Changed { .. } => "CHANGED since applied".to_owned(),
            MigrationState::Missing => "MISSING file".to_owned(),
            MigrationState::Partial { applied, total } => format!("partial: {applied} of {total}"),
        };
        let applied = entry
            .applied_at
            .map(|at| at.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "  {:<14}  {state:<22}  {applied:<23}  {}",
            entry.version,
            entry.file.as_deref().unwrap_or(&entry.description)
        );
    }
    let count = |wanted: fn(&MigrationState) -> bool| {
        status
            .entries
            .iter()
            .filter(|entry| wanted(&entry.state))
            .count()
    };
    let _ = writeln!(
        text,
        "{} {}: {} applied, {} pending",
        status.entries.len(),
        plural(status.entries.len(), "version"),
        count(|state| matches!(state, MigrationState::Applied)),
        status.pending_count()
    );
    text.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn plan_text(planned: &[PlannedFile]) -> String {
    if planned.is_empty() {
        return "up to date: nothing to apply\n".to_owned();
    }
    let mut text = String::new();
    for file in planned {
        let mode = if file.transaction {
            "in one transaction"
        } else {
            "statement by statement"
        };
        let resume = if file.skip > 0 {
            format!(", continuing after statement {}", file.skip)
        } else {
            String::new()
        };
        let _ = writeln!(text, "\n{} ({mode}{resume}):", file.file);
        for statement in &file.statements {
            let lines: Vec<&str> = statement.lines().collect();
            for (index, line) in lines.iter().enumerate() {
                let end = if index + 1 == lines.len() { ";" } else { "" };
                let _ = writeln!(text, "  | {line}{end}");
            }
        }
    }
    text
}
