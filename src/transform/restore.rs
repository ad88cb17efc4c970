//! Putting a backup back: the one command that undoes a `replace` or `truncate` transform.
//! The table being replaced is itself kept as a backup first, so a restore can be undone the
//! same way.

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::data::{read_table, split_name};
use crate::db::{DbConnection, DbError};
use crate::transform::table_ddl::{
    Swap, copy_rows_over, free_backup_name, list_backups, recover_pending_backup, swap_in,
};
use crate::transform::table_names::in_schema_of;
use crate::transform::target_lock::try_lock;

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub table: String,
    /// The backup whose rows the table has now.
    pub from: String,
    /// The backup made of the table as it was before the restore, if it existed.
    pub previous: Option<String>,
    /// `rows` (the table kept, its rows replaced) or `table` (the backup renamed into place).
    pub method: &'static str,
}

/// Why a restore could not be done.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("`{table}` has no backup")]
    NoBackup { table: String },
    #[error("a run is copying into `{table}`: restore it once that copy has ended")]
    Busy { table: String },
    #[error("`{backup}` is not a backup of `{table}`; its backups: {backups}")]
    UnknownBackup {
        table: String,
        backup: String,
        backups: String,
    },
}

/// Restores `table` from `backup` (its newest backup when `None`).
///
/// When the table exists with the backup's columns, its rows are replaced in one transaction
/// and the table itself (grants, views, foreign keys pointing at it) stays; otherwise the
/// backup is renamed into place. Either way the current table is kept as a new backup.
pub async fn restore_backup(
    connection: &mut DbConnection,
    table: &str,
    backup: Option<&str>,
    cancel: &CancellationToken,
) -> Result<Restored, RestoreError> {
    // A copy into the table may be filling a backup, or swapping: never at the same time.
    if !try_lock(connection, table).await? {
        return Err(RestoreError::Busy {
            table: table.to_owned(),
        });
    }
    // A backup a killed run left half-named is one of the backups to choose from.
    recover_pending_backup(connection, table, cancel).await?;
    let backups = list_backups(connection, table).await?;
    let chosen = match backup {
        None => backups
            .first()
            .map(|(name, _)| name.clone())
            .ok_or_else(|| RestoreError::NoBackup {
                table: table.to_owned(),
            })?,
        Some(wanted) => {
            let qualified = in_schema_of(table, split_name(wanted).1);
            backups
                .iter()
                .find(|(name, _)| *name == qualified || name == wanted)
                .map(|(name, _)| name.clone())
                .ok_or_else(|| RestoreError::UnknownBackup {
                    table: table.to_owned(),
                    backup: wanted.to_owned(),
                    backups: if backups.is_empty() {
                        "none".to_owned()
                    } else {
                        backups
                            .iter()
                            .map(|(name, _)| format!("`{name}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                })?
        }
    };
    let previous = free_backup_name(connection, table).await?;
    let current = read_table(connection, table).await?;
    let saved = read_table(connection, &chosen).await?;
    // Rows can be copied back only between tables of the same columns and types.
    let columns_of = |schema: &crate::data::TableSchema| {
        let mut columns: Vec<(String, String)> = schema
            .columns
            .iter()
            .map(|column| (column.name.clone(), column.declared.to_ascii_lowercase()))
            .collect();
        columns.sort();
        columns
    };
    match (&current, &saved) {
        (Some(current), Some(saved)) if columns_of(current) == columns_of(saved) => {
            let names: Vec<String> = saved
                .columns
                .iter()
                .map(|column| column.name.clone())
                .collect();
            let previous =
                copy_rows_over(connection, &chosen, table, &names, Some(&previous), cancel).await?;
            Ok(Restored {
                table: table.to_owned(),
                from: chosen,
                previous,
                method: "rows",
            })
        }
        _ => {
            let exists = current.is_some();
            let suffix = chosen
                .len()
                .checked_sub(14)
                .map(|start| format!("_b{}", &chosen[start..]))
                .unwrap_or_default();
            swap_in(
                connection,
                &Swap {
                    incoming: &chosen,
                    incoming_index_suffix: &suffix,
                    target: table,
                    target_exists: exists,
                    backup: exists.then_some(previous.as_str()),
                    sqlite_indexes: &[],
                },
                cancel,
            )
            .await?;
            Ok(Restored {
                table: table.to_owned(),
                from: chosen,
                previous: exists.then_some(previous),
                method: "table",
            })
        }
    }
}
