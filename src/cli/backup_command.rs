//! `pipewright backups` and `pipewright restore`: the backups `transform` steps keep, and
//! the one command that puts one back.

use std::fmt::Write as _;

use tokio_util::sync::CancellationToken;

use crate::cli::CliError;
use crate::cli::arguments::{BackupsArgs, PlanFormat, RestoreArgs};
use crate::cli::dispatch::print_stdout;
use crate::cli::manifest_input::load_manifest;
use crate::data::list_tables;
use crate::db::{Database, DbError};
use crate::exit_code::ExitCode;
use crate::pipeline::{ConnectionSpec, Pipeline, StepAction};
use crate::report::console::write_stderr;
use crate::transform::{RestoreError, is_side_table, list_backups, restore_backup};

/// The connections to look at: the one named, or those `transform` steps write to.
fn connections<'a>(
    pipeline: &'a Pipeline,
    named: Option<&str>,
) -> Result<Vec<&'a ConnectionSpec>, CliError> {
    if let Some(name) = named {
        return pipeline
            .connections
            .values()
            .find(|spec| spec.name.as_str() == name)
            .map(|spec| vec![spec])
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "`{name}` is not a connection of {}; its connections: {}",
                    pipeline.source.path().display(),
                    pipeline
                        .connections
                        .keys()
                        .map(|name| format!("`{name}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            });
    }
    let mut targets: Vec<&ConnectionSpec> = Vec::new();
    for step in pipeline.steps.values() {
        if let StepAction::Transform(transform) = &step.action {
            let spec = &pipeline.connections[&transform.to.connection];
            if !targets.iter().any(|known| known.name == spec.name) {
                targets.push(spec);
            }
        }
    }
    if targets.is_empty() {
        return Err(CliError::Usage(format!(
            "{} has no `transform` step: name the connection with `--connection`",
            pipeline.source.path().display()
        )));
    }
    Ok(targets)
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

/// One backup, as listed.
#[derive(Debug, serde::Serialize)]
struct BackupRow {
    connection: String,
    table: String,
    backup: String,
    made_at: chrono::DateTime<chrono::Utc>,
}

fn database_failure(connection: &str, error: &DbError) -> ExitCode {
    write_stderr(
        crate::secrets::redact(&format!(
            "error: on `{connection}`: {}\n",
            crate::error_chain::error_chain(error)
        ))
        .as_bytes(),
    );
    ExitCode::StepFailed
}

/// Lists the backups on the target connections.
pub(crate) fn backups_command(arguments: &BackupsArgs) -> Result<ExitCode, CliError> {
    let loaded = load_manifest(&arguments.manifest)?;
    let specs = connections(&loaded.pipeline, arguments.connection.as_deref())?;
    let runtime = runtime()?;
    let mut rows = Vec::new();
    for spec in specs {
        let found: Result<Vec<BackupRow>, DbError> = runtime.block_on(async {
            let database = Database::connect_read_only(spec, 1).await?;
            let mut connection = database.acquire().await?;
            // Every table's backups (a long name's backups carry a shortened name with a
            // hash, found from the table's own name).
            let tables = match &arguments.table {
                Some(table) => vec![table.clone()],
                None => list_tables(&mut connection, None)
                    .await?
                    .into_iter()
                    .filter(|name| !is_side_table(name))
                    .collect(),
            };
            let mut rows: Vec<BackupRow> = Vec::new();
            let mut seen = Vec::new();
            for table in tables {
                if seen.contains(&table) {
                    continue;
                }
                for (backup, made_at) in list_backups(&mut connection, &table).await? {
                    rows.push(BackupRow {
                        connection: spec.name.to_string(),
                        table: table.clone(),
                        backup,
                        made_at,
                    });
                }
                seen.push(table);
            }
            // Backups of tables that are gone (dropped, renamed): listed under the name
            // their own name starts with.
            if arguments.table.is_none() {
                for name in list_tables(&mut connection, None).await? {
                    if let Some((table, _)) = name.split_once("__pw_backup_")
                        && !rows.iter().any(|row| row.backup == name)
                        && let Some((backup, made_at)) = list_backups(&mut connection, table)
                            .await?
                            .into_iter()
                            .find(|(backup, _)| *backup == name)
                    {
                        rows.push(BackupRow {
                            connection: spec.name.to_string(),
                            table: table.to_owned(),
                            backup,
                            made_at,
                        });
                    }
                }
            }
            drop(connection);
            database.close().await;
            Ok(rows)
        });
        match found {
            Ok(found) => rows.extend(found),
            Err(error) => return Ok(database_failure(spec.name.as_str(), &error)),
        }
    }
    let text = match arguments.format {
        PlanFormat::Json => {
            let mut json = serde_json::to_string_pretty(&rows).expect("backups serialize");
            json.push('\n');
            json
        }
        PlanFormat::Text if rows.is_empty() => "no backups\n".to_owned(),
        PlanFormat::Text => {
            let mut text = String::new();
            for row in &rows {
                let _ = writeln!(
                    text,
                    "{}  {}  {}  {}",
                    row.connection,
                    row.table,
                    row.backup,
                    row.made_at.format("%Y-%m-%d %H:%M:%SZ")
                );
            }
            text
        }
    };
    print_stdout(&text);
    Ok(ExitCode::Success)
}

/// Restores one table from a backup.
pub(crate) fn restore_command(arguments: &RestoreArgs) -> Result<ExitCode, CliError> {
    let loaded = load_manifest(&arguments.manifest)?;
    let specs = connections(&loaded.pipeline, arguments.connection.as_deref())?;
    let spec = match specs.as_slice() {
        [one] => *one,
        several => {
            return Err(CliError::Usage(format!(
                "transforms write to several connections ({}): choose one with `--connection`",
                several
                    .iter()
                    .map(|spec| format!("`{}`", spec.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    let runtime = runtime()?;
    let outcome = runtime.block_on(async {
        let database = Database::connect(spec, 2).await?;
        let mut connection = database.acquire().await?;
        let restored = restore_backup(
            &mut connection,
            &arguments.table,
            arguments.backup.as_deref(),
            &CancellationToken::new(),
        )
        .await;
        drop(connection);
        database.close().await;
        restored
    });
    match outcome {
        Ok(restored) => {
            let mut text = format!(
                "restored `{}` on `{}` from `{}`",
                restored.table, spec.name, restored.from
            );
            if let Some(previous) = &restored.previous {
                let _ = write!(text, "; the table as it was is kept as `{previous}`");
            }
            text.push('\n');
            print_stdout(&text);
            Ok(ExitCode::Success)
        }
        Err(RestoreError::Database(error)) => Ok(database_failure(spec.name.as_str(), &error)),
        Err(error @ RestoreError::Busy { .. }) => {
            write_stderr(format!("error: {error}\n").as_bytes());
            Ok(ExitCode::LockTimeout)
        }
        Err(error) => {
            write_stderr(format!("error: {error}\n").as_bytes());
            Ok(ExitCode::Invalid)
        }
    }
}
