//! The statements that make, swap and back up tables, per engine. A swap is atomic: a
//! transaction of renames on PostgreSQL and SQLite, one `RENAME TABLE` on MySQL.

use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::join_all;
use tokio_util::sync::CancellationToken;

use crate::data::{IndexSpec, list_tables, read_table, split_name};
use crate::db::{Database, DbConnection, DbError, quote_identifier};
use crate::pipeline::Driver;
use crate::transform::table_names::{
    backup_table, backup_time, derived_name, in_schema_of, pending_backup_table,
};

/// The suffix of the index names of a staging table on PostgreSQL, where index names are
/// unique per schema: the swap renames them to their final names.
pub(crate) const STAGING_INDEX_SUFFIX: &str = "__pws";

/// A column of a table pipewright creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDefinition {
    pub name: String,
    pub ddl: String,
    pub nullable: bool,
}

/// A table pipewright creates: columns, primary key, secondary indexes (final names).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableDefinition {
    pub columns: Vec<ColumnDefinition>,
    pub primary_key: Vec<String>,
    pub indexes: Vec<IndexSpec>,
    /// MySQL: the collation of the new table (`utf8mb4_bin` compares text as PostgreSQL and
    /// SQLite do); `None` keeps the database's default.
    pub mysql_collation: Option<String>,
}

fn column_list(driver: Driver, columns: &[String]) -> String {
    columns
        .iter()
        .map(|column| quote_identifier(driver, column))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The name of an index on `table` in an engine where index names are unique per schema.
pub(crate) fn index_name(driver: Driver, table: &str, index: &str) -> String {
    let (_, table) = split_name(table);
    match driver {
        Driver::MySql => index.to_owned(),
        Driver::Postgres | Driver::Sqlite if index.starts_with(table) => index.to_owned(),
        Driver::Postgres | Driver::Sqlite => derived_name(&format!("{table}_{index}"), ""),
    }
}

/// The primary key's name on PostgreSQL, as PostgreSQL itself would name it.
pub(crate) fn primary_key_name(table: &str) -> String {
    derived_name(split_name(table).1, "_pkey")
}

/// `CREATE TABLE`; the primary key is declared inline when `with_primary_key` (SQLite and
/// MySQL always need it there; PostgreSQL adds it after a bulk load, which is faster).
pub(crate) fn create_table_sql(
    driver: Driver,
    name: &str,
    definition: &TableDefinition,
    with_primary_key: bool,
) -> String {
    let mut parts: Vec<String> = definition
        .columns
        .iter()
        .map(|column| {
            format!(
                "{} {}{}",
                quote_identifier(driver, &column.name),
                column.ddl,
                if column.nullable { "" } else { " NOT NULL" }
            )
        })
        .collect();
    if with_primary_key && !definition.primary_key.is_empty() {
        parts.push(format!(
            "PRIMARY KEY ({})",
            column_list(driver, &definition.primary_key)
        ));
    }
    let mut sql = format!(
        "CREATE TABLE {} ({})",
        quote_identifier(driver, name),
        parts.join(", ")
    );
    if driver == Driver::MySql {
        sql.push_str(" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
        if let Some(collation) = &definition.mysql_collation {
            sql.push_str(" COLLATE=");
            sql.push_str(collation);
        }
    }
    sql
}

/// `CREATE [UNIQUE] INDEX` on `table` under `name`.
pub(crate) fn create_index_sql(
    driver: Driver,
    table: &str,
    name: &str,
    index: &IndexSpec,
) -> String {
    format!(
        "CREATE {}INDEX {} ON {} ({})",
        if index.unique { "UNIQUE " } else { "" },
        quote_identifier(driver, name),
        quote_identifier(driver, table),
        column_list(driver, &index.columns)
    )
}

/// Builds what a freshly loaded staging table still lacks, once its rows are in: the primary
/// key's index (PostgreSQL) and the secondary indexes (PostgreSQL, MySQL; SQLite builds them
/// in the swap, where their final names are free). Indexes built after a load are faster
/// than indexes maintained row by row. Readers of the table are not blocked meanwhile (the
/// verification reads it at the same time); [`attach_primary_key`] then makes the key's index
/// the primary key.
///
/// PostgreSQL builds up to [`INDEX_BUILDERS`] indexes at once: `connection` and the idle
/// connections `database`'s pool has now (never waiting for one). `CREATE INDEX` takes a
/// `SHARE` lock, which other builds share, and each build sorts on a core of its own. MySQL
/// adds them all in one `ALTER TABLE`, which builds them in one pass over the rows.
pub(crate) async fn build_indexes(
    connection: &mut DbConnection,
    database: &Database,
    staging: &str,
    target: &str,
    definition: &TableDefinition,
    cancel: &CancellationToken,
) -> Result<(), DbError> {
    let driver = connection.driver();
    match driver {
        Driver::Postgres => {
            let mut statements = Vec::with_capacity(definition.indexes.len() + 1);
            if !definition.primary_key.is_empty() {
                let key = IndexSpec {
                    name: String::new(),
                    unique: true,
                    columns: definition.primary_key.clone(),
                };
                let name = derived_name(&primary_key_name(target), STAGING_INDEX_SUFFIX);
                statements.push(create_index_sql(driver, staging, &name, &key));
            }
            for index in &definition.indexes {
                let name = derived_name(&index.name, STAGING_INDEX_SUFFIX);
                statements.push(create_index_sql(driver, staging, &name, index));
            }
            let mut helpers = Vec::new();
            while helpers.len() + 1 < statements.len().min(INDEX_BUILDERS as usize) {
                match database.try_acquire_idle().await? {
                    Some(helper) => helpers.push(helper),
                    None => break,
                }
            }
            tracing::debug!(
                table = staging,
                indexes = statements.len(),
                builders = helpers.len() + 1,
                "building indexes"
            );
            let next = AtomicUsize::new(0);
            let results = join_all(
                std::iter::once(connection)
                    .chain(helpers.iter_mut())
                    .map(|builder| run_queue(builder, &statements, &next, cancel)),
            )
            .await;
            // Every build has ended (none is dropped halfway): the first failure is the error.
            results.into_iter().collect::<Result<(), DbError>>()?;
        }
        Driver::MySql if !definition.indexes.is_empty() => {
            let additions = definition
                .indexes
                .iter()
                .map(|index| {
                    format!(
                        "ADD {}INDEX {} ({})",
                        if index.unique { "UNIQUE " } else { "" },
                        quote_identifier(driver, &index.name),
                        column_list(driver, &index.columns)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            connection
                .run(
                    &format!(
                        "ALTER TABLE {} {additions}",
                        quote_identifier(driver, staging)
                    ),
                    cancel,
                )
                .await?;
        }
        Driver::MySql | Driver::Sqlite => {}
    }
    Ok(())
}

/// Index builds a PostgreSQL staging table runs at once.
pub(crate) const INDEX_BUILDERS: u32 = 2;

/// Runs the statements of a shared queue on `connection`, taking the next one not yet taken,
/// until none is left or one fails.
async fn run_queue(
    connection: &mut DbConnection,
    statements: &[String],
    next: &AtomicUsize,
    cancel: &CancellationToken,
) -> Result<(), DbError> {
    while let Some(statement) = statements.get(next.fetch_add(1, Ordering::Relaxed)) {
        connection.run(statement, cancel).await?;
    }
    Ok(())
}

/// PostgreSQL: makes the unique index [`build_indexes`] made on the key columns the table's
/// primary key (a moment's lock: the index exists already). The columns become NOT NULL.
pub(crate) async fn attach_primary_key(
    connection: &mut DbConnection,
    staging: &str,
    target: &str,
    definition: &TableDefinition,
    cancel: &CancellationToken,
) -> Result<(), DbError> {
    if connection.driver() != Driver::Postgres || definition.primary_key.is_empty() {
        return Ok(());
    }
    let name = derived_name(&primary_key_name(target), STAGING_INDEX_SUFFIX);
    let quote = |name: &str| quote_identifier(Driver::Postgres, name);
    connection
        .run(
            &format!(
                "ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY USING INDEX {}",
                quote(staging),
                quote(&name),
                quote(&name)
            ),
            cancel,
        )
        .await
        .map(|_| ())
}

/// The columns of `table` a statement may write: all but the generated ones.
pub(crate) async fn insertable_columns(
    connection: &mut DbConnection,
    table: &str,
) -> Result<Vec<String>, DbError> {
    let rows: Vec<(String,)> = match connection.driver() {
        Driver::Postgres => {
            connection
                .fetch_all(
                    "SELECT CAST(attname AS TEXT) FROM pg_attribute WHERE attrelid = to_regclass(?) AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
                    vec![quote_identifier(Driver::Postgres, table).into()],
                )
                .await?
        }
        Driver::MySql => {
            let (schema, name) = split_name(table);
            connection
                .fetch_all(
                    "SELECT CAST(column_name AS CHAR) FROM information_schema.columns WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ? AND extra NOT LIKE '%GENERATED%' ORDER BY ordinal_position",
                    vec![crate::db::SqlValue::Text(schema.map(str::to_owned)), name.into()],
                )
                .await?
        }
        Driver::Sqlite => {
            connection
                .fetch_all(
                    "SELECT name FROM pragma_table_xinfo(?) WHERE hidden = 0 ORDER BY cid",
                    vec![table.into()],
                )
                .await?
        }
    };
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

/// Runs `statements` in one transaction; on failure it is rolled back and the error returned.
pub(crate) async fn in_transaction(
    connection: &mut DbConnection,
    statements: &[String],
    cancel: &CancellationToken,
) -> Result<(), DbError> {
    connection.run("BEGIN", cancel).await?;
    for statement in statements {
        if let Err(error) = connection.run(statement, cancel).await {
            let _ = connection.run("ROLLBACK", &CancellationToken::new()).await;
            return Err(error);
        }
    }
    if let Err(error) = connection.run("COMMIT", cancel).await {
        let _ = connection.run("ROLLBACK", &CancellationToken::new()).await;
        return Err(error);
    }
    Ok(())
}

/// The names of every index of a PostgreSQL table, its primary key's included.
async fn postgres_indexes(
    connection: &mut DbConnection,
    table: &str,
) -> Result<Vec<String>, DbError> {
    let rows: Vec<(String,)> = connection
        .fetch_all(
            "SELECT CAST(c.relname AS TEXT) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = to_regclass(?) ORDER BY c.relname",
            vec![quote_identifier(Driver::Postgres, table).into()],
        )
        .await?;
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

/// The names of the secondary indexes of a SQLite table (not those of its constraints).
async fn sqlite_indexes(
    connection: &mut DbConnection,
    table: &str,
) -> Result<Vec<String>, DbError> {
    let rows: Vec<(String,)> = connection
        .fetch_all(
            "SELECT name FROM pragma_index_list(?) WHERE origin = 'c' ORDER BY name",
            vec![table.into()],
        )
        .await?;
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

/// What a swap puts in place of the target.
#[derive(Debug, Clone)]
pub struct Swap<'a> {
    /// The table that becomes the target: a loaded staging table, or a backup being restored.
    pub incoming: &'a str,
    /// The suffix the incoming table's index names carry and lose in the swap (PostgreSQL).
    pub incoming_index_suffix: &'a str,
    pub target: &'a str,
    /// Whether the target exists now.
    pub target_exists: bool,
    /// What the old target becomes; `None` drops it.
    pub backup: Option<&'a str>,
    /// SQLite: the secondary indexes the new target gets, built in the swap.
    pub sqlite_indexes: &'a [IndexSpec],
}

/// Puts `incoming` in place of the target at once: readers see the old table or the new one,
/// never a mix, and a failure leaves the old one where it was.
pub async fn swap_in(
    connection: &mut DbConnection,
    swap: &Swap<'_>,
    cancel: &CancellationToken,
) -> Result<(), DbError> {
    let driver = connection.driver();
    let quote = |name: &str| quote_identifier(driver, name);
    let bare = |name: &str| split_name(name).1.to_owned();
    let stamp_suffix = |backup: &str| {
        let bare_backup = bare(backup);
        format!("_b{}", &bare_backup[bare_backup.len().saturating_sub(14)..])
    };
    match driver {
        Driver::MySql => {
            let mut renames = Vec::new();
            let mut drop = None;
            if swap.target_exists {
                let old = match swap.backup {
                    Some(backup) => backup.to_owned(),
                    None => {
                        let doomed = in_schema_of(
                            swap.target,
                            &derived_name(&bare(swap.target), "__pw_old"),
                        );
                        drop = Some(doomed.clone());
                        doomed
                    }
                };
                renames.push(format!("{} TO {}", quote(swap.target), quote(&old)));
            }
            renames.push(format!(
                "{} TO {}",
                quote(swap.incoming),
                quote(swap.target)
            ));
            connection
                .run(&format!("RENAME TABLE {}", renames.join(", ")), cancel)
                .await?;
            // The swap is done: a table that cannot be dropped (a foreign key points at it)
            // stays, and says so.
            if let Some(doomed) = drop
                && let Err(error) = connection
                    .run(&format!("DROP TABLE IF EXISTS {}", quote(&doomed)), cancel)
                    .await
            {
                tracing::warn!(
                    "the new `{}` is in place, but the old table, renamed `{doomed}`, could not be dropped: {}",
                    swap.target,
                    crate::error_chain::error_chain(&error)
                );
            }
            Ok(())
        }
        Driver::Postgres => {
            let mut statements = Vec::new();
            let old_indexes = if swap.target_exists {
                postgres_indexes(connection, swap.target).await?
            } else {
                Vec::new()
            };
            let incoming_indexes = postgres_indexes(connection, swap.incoming).await?;
            if swap.target_exists {
                match swap.backup {
                    Some(backup) => {
                        statements.push(format!(
                            "ALTER TABLE {} RENAME TO {}",
                            quote(swap.target),
                            quote(&bare(backup))
                        ));
                        let suffix = stamp_suffix(backup);
                        for index in &old_indexes {
                            statements.push(format!(
                                "ALTER INDEX {} RENAME TO {}",
                                quote(&in_schema_of(swap.target, index)),
                                quote(&derived_name(index, &suffix))
                            ));
                        }
                    }
                    None => statements.push(format!("DROP TABLE {}", quote(swap.target))),
                }
            }
            statements.push(format!(
                "ALTER TABLE {} RENAME TO {}",
                quote(swap.incoming),
                quote(&bare(swap.target))
            ));
            for index in &incoming_indexes {
                if let Some(final_name) = index.strip_suffix(swap.incoming_index_suffix)
                    && !swap.incoming_index_suffix.is_empty()
                {
                    statements.push(format!(
                        "ALTER INDEX {} RENAME TO {}",
                        quote(&in_schema_of(swap.target, index)),
                        quote(final_name)
                    ));
                }
            }
            in_transaction(connection, &statements, cancel).await
        }
        Driver::Sqlite => {
            let mut statements = Vec::new();
            if swap.target_exists {
                let old_indexes = sqlite_indexes(connection, swap.target).await?;
                match swap.backup {
                    Some(backup) => {
                        statements.push(format!(
                            "ALTER TABLE {} RENAME TO {}",
                            quote(swap.target),
                            quote(&bare(backup))
                        ));
                        // Index names are unique per database: the backup gives its own up
                        // to the new table.
                        for index in &old_indexes {
                            statements.push(format!(
                                "DROP INDEX {}",
                                quote(&in_schema_of(swap.target, index))
                            ));
                        }
                    }
                    None => statements.push(format!("DROP TABLE {}", quote(swap.target))),
                }
            }
            statements.push(format!(
                "ALTER TABLE {} RENAME TO {}",
                quote(swap.incoming),
                quote(&bare(swap.target))
            ));
            for index in swap.sqlite_indexes {
                statements.push(create_index_sql(driver, swap.target, &index.name, index));
            }
            in_transaction(connection, &statements, cancel).await
        }
    }
}

/// Replaces the target's rows with the staging table's in one transaction, keeping the table
/// itself (grants, views, foreign keys, triggers), then drops the staging table. The backup,
/// if any, is a copy made first; returns the name it is under ([`copy_rows_over`]).
pub(crate) async fn replace_rows(
    connection: &mut DbConnection,
    staging: &str,
    target: &str,
    columns: &[String],
    backup: Option<&str>,
    cancel: &CancellationToken,
) -> Result<Option<String>, DbError> {
    let kept = copy_rows_over(connection, staging, target, columns, backup, cancel).await?;
    drop_table(connection, staging, cancel).await?;
    Ok(kept)
}

/// Replaces the target's rows with `source`'s in one transaction, after copying the target
/// to `backup` if given. `source` stays. Returns the name the backup is under: `backup`, or
/// on MySQL the pending name when the rename after the commit failed (the next run names it).
pub(crate) async fn copy_rows_over(
    connection: &mut DbConnection,
    source: &str,
    target: &str,
    columns: &[String],
    backup: Option<&str>,
    cancel: &CancellationToken,
) -> Result<Option<String>, DbError> {
    let driver = connection.driver();
    let quote = |name: &str| quote_identifier(driver, name);
    // Generated columns compute themselves: they are never written.
    let insertable = insertable_columns(connection, target).await?;
    let written: Vec<String> = columns
        .iter()
        .filter(|column| insertable.contains(column))
        .cloned()
        .collect();
    let list = column_list(driver, &written);
    let mut statements = Vec::new();
    if let Some(backup) = backup {
        // The backup has the table's columns, types, NOT NULLs and primary key (on MySQL its
        // whole definition), so that restoring it copies rows back as they were.
        let schema = read_table(connection, target)
            .await?
            .ok_or_else(|| DbError::Query {
                context: format!("`{target}` disappeared before its backup"),
                source: sqlx::Error::RowNotFound,
            })?;
        let definition = TableDefinition {
            columns: schema
                .columns
                .iter()
                .map(|column| ColumnDefinition {
                    name: column.name.clone(),
                    ddl: column.declared.clone(),
                    nullable: column.nullable,
                })
                .collect(),
            primary_key: schema.primary_key.clone(),
            indexes: Vec::new(),
            mysql_collation: None,
        };
        if driver == Driver::MySql {
            // MySQL copies a table's definition whole (collations included); DDL commits
            // there, so the table is made before the transaction, under a name that is not a
            // backup's until the rows are in: a kill before the commit must not leave an
            // empty table passing for a backup. One a killed run left was dealt with first
            // ([`recover_pending_backup`]).
            let pending = pending_backup_table(target);
            connection
                .run(
                    &format!("CREATE TABLE {} LIKE {}", quote(&pending), quote(target)),
                    cancel,
                )
                .await?;
        } else {
            let create = create_table_sql(driver, backup, &definition, true);
            statements.push(create);
        }
        let every = column_list(driver, &insertable);
        let filled = if driver == Driver::MySql {
            pending_backup_table(target)
        } else {
            backup.to_owned()
        };
        statements.push(format!(
            "INSERT INTO {} ({every}) SELECT {every} FROM {}",
            quote(&filled),
            quote(target)
        ));
    }
    statements.push(format!("DELETE FROM {}", quote(target)));
    statements.push(format!(
        "INSERT INTO {} ({list}) SELECT {list} FROM {}",
        quote(target),
        quote(source)
    ));
    let replaced = in_transaction(connection, &statements, cancel).await;
    let (Driver::MySql, Some(backup)) = (driver, backup) else {
        return replaced.map(|()| backup.map(str::to_owned));
    };
    let pending = pending_backup_table(target);
    if let Err(error) = replaced {
        // Made before the transaction, it holds nothing: it must not pass for a backup.
        let _ = drop_table(connection, &pending, &CancellationToken::new()).await;
        return Err(error);
    }
    match rename_table(connection, &pending, backup, &CancellationToken::new()).await {
        Ok(()) => Ok(Some(backup.to_owned())),
        Err(error) => {
            // The rows are replaced and their backup is whole: the next run names it.
            tracing::warn!(
                table = target,
                "the rows of `{target}` are replaced, but their backup could not be named `{backup}` yet (it stays as `{pending}` until the next run of the step, or `restore`): {}",
                crate::error_chain::error_chain(&error)
            );
            Ok(Some(pending))
        }
    }
}

/// MySQL: the backup a killed `truncate` (or `restore`) was filling. With rows it is whole
/// (its rows were committed with the target's new ones, and only the rename was missed): it
/// becomes a backup, named for now. Empty, the kill came before the commit (or the table was
/// empty): it is dropped.
pub(crate) async fn recover_pending_backup(
    connection: &mut DbConnection,
    target: &str,
    cancel: &CancellationToken,
) -> Result<(), DbError> {
    let pending = pending_backup_table(target);
    if connection.driver() != Driver::MySql || read_table(connection, &pending).await?.is_none() {
        return Ok(());
    }
    // One row tells; counting a large backup would read it all.
    let any: Vec<(i64,)> = connection
        .fetch_all(
            &format!(
                "SELECT 1 FROM {} LIMIT 1",
                quote_identifier(Driver::MySql, &pending)
            ),
            Vec::new(),
        )
        .await?;
    if any.is_empty() {
        return drop_table(connection, &pending, cancel).await;
    }
    let backup = free_backup_name(connection, target).await?;
    rename_table(connection, &pending, &backup, cancel).await?;
    tracing::warn!(
        table = target,
        "a copy killed after replacing the rows of `{target}` left their backup unnamed: kept as `{backup}`"
    );
    Ok(())
}

async fn rename_table(
    connection: &mut DbConnection,
    from: &str,
    to: &str,
    cancel: &CancellationToken,
) -> Result<(), DbError> {
    let driver = connection.driver();
    connection
        .run(
            &format!(
                "RENAME TABLE {} TO {}",
                quote_identifier(driver, from),
                quote_identifier(driver, to)
            ),
            cancel,
        )
        .await
        .map(|_| ())
}

pub(crate) async fn drop_table(
    connection: &mut DbConnection,
    table: &str,
    cancel: &CancellationToken,
) -> Result<(), DbError> {
    let driver = connection.driver();
    connection
        .run(
            &format!("DROP TABLE IF EXISTS {}", quote_identifier(driver, table)),
            cancel,
        )
        .await
        .map(|_| ())
}

/// The backups of `target`, newest first, as (qualified name, time made).
pub async fn list_backups(
    connection: &mut DbConnection,
    target: &str,
) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>, DbError> {
    let (schema, _) = split_name(target);
    let schema = if connection.driver() == Driver::Sqlite {
        None
    } else {
        schema
    };
    let mut backups: Vec<(String, chrono::DateTime<chrono::Utc>)> = list_tables(connection, schema)
        .await?
        .into_iter()
        .filter_map(|name| backup_time(target, &name).map(|at| (in_schema_of(target, &name), at)))
        .collect();
    backups.sort_by_key(|backup| std::cmp::Reverse(backup.1));
    Ok(backups)
}

/// A name for a new backup of `target`, made now, that no backup has yet (two copies within
/// one second get names a second apart).
pub(crate) async fn free_backup_name(
    connection: &mut DbConnection,
    target: &str,
) -> Result<String, DbError> {
    let taken = list_backups(connection, target).await?;
    let mut at = chrono::Utc::now();
    let mut name = backup_table(target, at);
    while taken.iter().any(|(backup, _)| *backup == name) {
        at += chrono::Duration::seconds(1);
        name = backup_table(target, at);
    }
    Ok(name)
}

/// Drops the backups of `target` beyond the newest `keep`; returns the dropped names.
pub(crate) async fn prune_backups(
    connection: &mut DbConnection,
    target: &str,
    keep: usize,
    cancel: &CancellationToken,
) -> Result<Vec<String>, DbError> {
    let mut dropped = Vec::new();
    for (name, _) in list_backups(connection, target)
        .await?
        .into_iter()
        .skip(keep)
    {
        // One that cannot go (a view depends on it) does not keep the others.
        match drop_table(connection, &name, cancel).await {
            Ok(()) => dropped.push(name),
            Err(error) => tracing::warn!(
                "backup `{name}` could not be dropped: {}",
                crate::error_chain::error_chain(&error)
            ),
        }
    }
    Ok(dropped)
}
