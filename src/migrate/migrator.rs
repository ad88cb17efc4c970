//! The migration engine. The `migrate` step and every `pipewright migrate` command are views
//! of this one engine: status, plan, up, down, accept, baseline.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::db::{Database, DbConnection, DbError};
use crate::migrate::{
    ChecksumAlgorithm, HistoryRow, HistoryTable, LockedConnection, MigrateError, MigrationFile,
    MigrationStatus, diff, scan, status,
};
use crate::pipeline::Driver;

/// How to migrate.
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    pub dir: PathBuf,
    pub history_table: String,
    pub out_of_order: bool,
    pub lock_timeout: Duration,
}

impl MigrateOptions {
    pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_mins(1);
}

/// A file applied (or reverted) by `up` (or `down`).
#[derive(Debug, Clone, Serialize)]
pub struct AppliedFile {
    pub version: u64,
    pub file: String,
    pub statements: u32,
    /// Statements skipped because an earlier, interrupted run applied them.
    pub resumed_from: u32,
    pub duration_ms: u64,
}

/// A file `up` would apply, and its statements: what `plan` and `--dry-run` print.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedFile {
    pub version: u64,
    pub file: String,
    pub transaction: bool,
    /// Statements already applied by an interrupted run, which will not run again.
    pub skip: u32,
    pub statements: Vec<String>,
}

/// What the engine tells its caller while it works.
pub trait MigrateProgress: Send + Sync {
    /// `file` (an up or a down file) starts; it is number `index` (0-based) of `total`.
    fn file_started(&self, _file: &str, _index: usize, _total: usize) {}
    fn file_done(&self, _applied: &AppliedFile) {}
    /// `file` turned out to be applied by another process while this one waited for the lock
    /// (SQLite, where each file's transaction is the lock): nothing was done.
    fn file_applied_elsewhere(&self, _file: &str) {}
}

/// Progress nobody watches.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl MigrateProgress for NoProgress {}

/// The engine, for one directory and one database.
#[derive(Debug)]
pub struct Migrator<'a> {
    database: &'a Database,
    options: MigrateOptions,
    files: Vec<MigrationFile>,
    history: HistoryTable,
}

impl<'a> Migrator<'a> {
    /// Reads the directory; a malformed or duplicate file name stops here.
    pub fn new(database: &'a Database, options: MigrateOptions) -> Result<Self, MigrateError> {
        let files = scan(&options.dir).map_err(MigrateError::Scan)?;
        let history = HistoryTable::new(&options.history_table, database.driver());
        Ok(Self {
            database,
            options,
            files,
            history,
        })
    }

    pub fn files(&self) -> &[MigrationFile] {
        &self.files
    }

    pub fn dir(&self) -> &Path {
        &self.options.dir
    }

    fn file(&self, version: u64) -> &MigrationFile {
        self.files
            .iter()
            .find(|file| file.version == version)
            .expect("status only lists versions of known files for application")
    }

    fn transactional(&self, no_transaction: bool) -> bool {
        self.database.driver() != Driver::MySql && !no_transaction
    }

    /// The state of every version. Reads only: a missing history table is an empty history.
    pub async fn status(&self) -> Result<(MigrationStatus, Vec<HistoryRow>), MigrateError> {
        let mut connection = self.database.acquire().await?;
        let rows = self.history.rows(&mut connection).await?;
        Ok((status(&self.files, &rows, self.database.driver()), rows))
    }

    /// What `up` would do, validated the same way. Writes nothing, not even the history
    /// table.
    pub async fn plan(&self) -> Result<Vec<PlannedFile>, MigrateError> {
        let (current, rows) = self.status().await?;
        let problems = current.problems(&self.files, &rows, self.options.out_of_order);
        if !problems.is_empty() {
            return Err(MigrateError::Invalid {
                problems,
                planning: true,
            });
        }
        Ok(current
            .to_apply()
            .into_iter()
            .map(|version| {
                let file = self.file(version);
                let skip = resume_point(&rows, version);
                PlannedFile {
                    version,
                    file: file.file_name(),
                    transaction: self.transactional(file.no_transaction),
                    skip,
                    statements: file
                        .statements(self.database.driver())
                        .into_iter()
                        .skip(skip as usize)
                        .collect(),
                }
            })
            .collect())
    }

    /// Takes the lock; the history table of the locked work is qualified with the schema or
    /// database it was in when the lock was taken.
    async fn lock(
        &self,
        cancel: &CancellationToken,
    ) -> Result<(LockedConnection, HistoryTable), MigrateError> {
        let lock = LockedConnection::acquire(
            self.database,
            self.history.name(),
            self.options.lock_timeout,
            cancel,
        )
        .await?;
        let history = HistoryTable::new(lock.history_table(), self.database.driver())
            .starting_in(lock.home_database());
        Ok((lock, history))
    }

    /// Applies every pending file, each in its own transaction where the database allows it,
    /// statement by statement with a recorded ledger where it does not.
    pub async fn up(
        &self,
        cancel: &CancellationToken,
        progress: &dyn MigrateProgress,
    ) -> Result<Vec<AppliedFile>, MigrateError> {
        let (mut lock, history) = self.lock(cancel).await?;
        let result = self
            .up_locked(lock.connection(), &history, cancel, progress)
            .await;
        lock.release(result).await
    }

    async fn up_locked(
        &self,
        connection: &mut DbConnection,
        history: &HistoryTable,
        cancel: &CancellationToken,
        progress: &dyn MigrateProgress,
    ) -> Result<Vec<AppliedFile>, MigrateError> {
        self.create_history(connection, history, cancel).await?;
        let rows = history.rows(connection).await?;
        let current = status(&self.files, &rows, self.database.driver());
        let problems = current.problems(&self.files, &rows, self.options.out_of_order);
        if !problems.is_empty() {
            return Err(MigrateError::Invalid {
                problems,
                planning: false,
            });
        }
        let versions = current.to_apply();
        let mut applied = Vec::with_capacity(versions.len());
        for (index, version) in versions.iter().enumerate() {
            let file = self.file(*version);
            if cancel.is_cancelled() {
                return Err(MigrateError::Cancelled { during: None });
            }
            progress.file_started(&file.file_name(), index, versions.len());
            let started = Instant::now();
            let resumed_from = resume_point(&rows, *version);
            let existing = rows.iter().any(|row| row.version == *version);
            let statements = if self.transactional(file.no_transaction) {
                let Some(statements) = self
                    .apply_in_transaction(connection, history, file, cancel)
                    .await?
                else {
                    progress.file_applied_elsewhere(&file.file_name());
                    continue;
                };
                statements
            } else {
                self.apply_statement_by_statement(
                    connection,
                    history,
                    file,
                    resumed_from,
                    existing,
                    cancel,
                )
                .await?
            };
            reset_session(connection, history).await?;
            let done = AppliedFile {
                version: *version,
                file: file.file_name(),
                statements,
                resumed_from,
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            };
            progress.file_done(&done);
            applied.push(done);
        }
        Ok(applied)
    }

    fn history_row(
        file: &MigrationFile,
        applied: u32,
        total: u32,
        success: bool,
        elapsed: Duration,
    ) -> HistoryRow {
        HistoryRow {
            version: file.version,
            description: file.description.clone(),
            checksum: file.checksum.clone(),
            checksum_algorithm: ChecksumAlgorithm::CURRENT.name().to_owned(),
            applied_at: chrono::Utc::now().naive_utc(),
            execution_ms: i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
            success,
            statements_applied: applied,
            statements_total: total,
            applied_sql: file.sql.clone(),
            accepted_reason: None,
        }
    }

    /// Creates the history table if it is not there. On SQLite the creation is a write that
    /// waits for another writer: it waits in a transaction taken like a file's, which
    /// `cancel` stops.
    async fn create_history(
        &self,
        connection: &mut DbConnection,
        history: &HistoryTable,
        cancel: &CancellationToken,
    ) -> Result<(), MigrateError> {
        if connection.driver() != Driver::Sqlite {
            history.create(connection).await?;
            return Ok(());
        }
        self.begin(connection, cancel).await?;
        if let Err(error) = history.create(connection).await {
            let _ = connection.execute("ROLLBACK", Vec::new()).await;
            return Err(error.into());
        }
        connection.execute("COMMIT", Vec::new()).await?;
        Ok(())
    }

    /// Starts a transaction; on SQLite an immediate one, which is the lock (waited for up to
    /// the lock timeout, stopped by `cancel`).
    async fn begin(
        &self,
        connection: &mut DbConnection,
        cancel: &CancellationToken,
    ) -> Result<(), MigrateError> {
        if connection.driver() == Driver::Sqlite {
            return crate::migrate::migration_lock::begin_immediate(
                connection,
                self.history.name(),
                self.options.lock_timeout,
                cancel,
            )
            .await;
        }
        connection.execute("BEGIN", Vec::new()).await?;
        Ok(())
    }

    /// One transaction: the statements and the history row, all or nothing.
    async fn apply_in_transaction(
        &self,
        connection: &mut DbConnection,
        history: &HistoryTable,
        file: &MigrationFile,
        cancel: &CancellationToken,
    ) -> Result<Option<u32>, MigrateError> {
        let statements = file.statements(self.database.driver());
        let total = u32::try_from(statements.len()).unwrap_or(u32::MAX);
        self.begin(connection, cancel).await?;
        let started = Instant::now();
        // Another process may have applied the file while this one waited (SQLite locks per
        // file): look again inside the transaction.
        let rows = history.rows(connection).await?;
        if rows
            .iter()
            .any(|row| row.version == file.version && row.success)
        {
            connection.execute("ROLLBACK", Vec::new()).await?;
            return Ok(None);
        }
        let exists = rows.iter().any(|row| row.version == file.version);
        for (index, statement) in statements.iter().enumerate() {
            if let Err(error) = connection.run(statement, cancel).await {
                let _ = connection.execute("ROLLBACK", Vec::new()).await;
                return Err(match error {
                    DbError::Cancelled => MigrateError::Cancelled {
                        during: Some(file.file_name()),
                    },
                    source => MigrateError::RolledBack {
                        file: file.file_name(),
                        statement: u32::try_from(index + 1).unwrap_or(u32::MAX),
                        total,
                        source: Box::new(source),
                    },
                });
            }
        }
        let row = Self::history_row(file, total, total, true, started.elapsed());
        if let Err(error) = history.record(connection, &row, exists).await {
            let _ = connection.execute("ROLLBACK", Vec::new()).await;
            return Err(error.into());
        }
        connection.execute("COMMIT", Vec::new()).await?;
        Ok(Some(total))
    }

    /// Statement by statement, each with its ledger update, resuming after what an earlier
    /// run applied. On MySQL every DDL statement commits by itself, so this is the honest way.
    /// The history row appears with the first statement that succeeds: a file that fails at
    /// its first statement leaves nothing recorded.
    async fn apply_statement_by_statement(
        &self,
        connection: &mut DbConnection,
        history: &HistoryTable,
        file: &MigrationFile,
        start: u32,
        mut exists: bool,
        cancel: &CancellationToken,
    ) -> Result<u32, MigrateError> {
        let statements = file.statements(self.database.driver());
        let total = u32::try_from(statements.len()).unwrap_or(u32::MAX);
        let started = Instant::now();
        for (index, statement) in statements.iter().enumerate().skip(start as usize) {
            let applied = u32::try_from(index).unwrap_or(u32::MAX);
            if cancel.is_cancelled() {
                return Err(MigrateError::Cancelled {
                    during: Some(file.file_name()),
                });
            }
            // On MySQL the statement and its ledger entry commit together when the statement
            // is not DDL; DDL commits by itself, and the ledger follows at once. Elsewhere this
            // mode exists for statements that cannot run in a transaction at all.
            let wrap = connection.driver() == Driver::MySql;
            if wrap {
                connection.execute("BEGIN", Vec::new()).await?;
            }
            match connection.run(statement, cancel).await {
                Ok(_) => {
                    if exists {
                        history
                            .record_progress(connection, file.version, applied + 1)
                            .await?;
                    } else {
                        let row =
                            Self::history_row(file, applied + 1, total, false, Duration::ZERO);
                        history.record(connection, &row, false).await?;
                        exists = true;
                    }
                    if wrap {
                        connection.execute("COMMIT", Vec::new()).await?;
                    }
                }
                Err(error) => {
                    if wrap {
                        let _ = connection.execute("ROLLBACK", Vec::new()).await;
                    }
                    return Err(match error {
                        DbError::Cancelled => MigrateError::Cancelled {
                            during: Some(file.file_name()),
                        },
                        source => MigrateError::Partial {
                            file: file.file_name(),
                            applied,
                            total,
                            source: Box::new(source),
                        },
                    });
                }
            }
        }
        let row = Self::history_row(file, total, total, true, started.elapsed());
        history.record(connection, &row, exists).await?;
        Ok(total - start)
    }

    /// Runs the down files of every applied version above `target`, newest first, and forgets
    /// those versions. Every down file must exist before anything runs.
    pub async fn down(
        &self,
        target: u64,
        cancel: &CancellationToken,
        progress: &dyn MigrateProgress,
    ) -> Result<Vec<AppliedFile>, MigrateError> {
        let (mut lock, history) = self.lock(cancel).await?;
        let result = self
            .down_locked(lock.connection(), &history, target, cancel, progress)
            .await;
        lock.release(result).await
    }

    async fn down_locked(
        &self,
        connection: &mut DbConnection,
        history: &HistoryTable,
        target: u64,
        cancel: &CancellationToken,
        progress: &dyn MigrateProgress,
    ) -> Result<Vec<AppliedFile>, MigrateError> {
        let rows = history.rows(connection).await?;
        let mut versions: Vec<u64> = rows
            .iter()
            .map(|row| row.version)
            .filter(|version| *version > target)
            .collect();
        versions.sort_unstable_by(|left, right| right.cmp(left));
        let missing: Vec<String> = versions
            .iter()
            .filter(|version| {
                self.files
                    .iter()
                    .find(|file| file.version == **version)
                    .and_then(|file| file.down.as_ref())
                    .is_none()
            })
            .map(u64::to_string)
            .collect();
        if !missing.is_empty() {
            return Err(MigrateError::NoDownFile { target, missing });
        }
        let mut reverted = Vec::new();
        for (index, version) in versions.iter().enumerate() {
            let file = self.file(*version);
            let down = file.down.as_ref().expect("checked above");
            let down_name = down
                .path
                .file_name()
                .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
            progress.file_started(&down_name, index, versions.len());
            let started = Instant::now();
            let statements = crate::db::split_statements(&down.sql, self.database.driver());
            let total = u32::try_from(statements.len()).unwrap_or(u32::MAX);
            let transactional = self.transactional(down.no_transaction);
            if transactional {
                self.begin(connection, cancel).await?;
            }
            for (position, statement) in statements.iter().enumerate() {
                if let Err(error) = connection.run(statement, cancel).await {
                    if transactional {
                        let _ = connection.execute("ROLLBACK", Vec::new()).await;
                    }
                    let applied = u32::try_from(position).unwrap_or(u32::MAX);
                    return Err(match error {
                        DbError::Cancelled => MigrateError::Cancelled {
                            during: Some(down_name),
                        },
                        source if transactional => MigrateError::RolledBack {
                            file: down_name,
                            statement: applied + 1,
                            total,
                            source: Box::new(source),
                        },
                        source => MigrateError::DownPartial {
                            file: down_name,
                            applied,
                            total,
                            source: Box::new(source),
                        },
                    });
                }
            }
            history.remove(connection, *version).await?;
            if transactional {
                connection.execute("COMMIT", Vec::new()).await?;
            }
            reset_session(connection, history).await?;
            let done = AppliedFile {
                version: *version,
                file: down_name,
                statements: total,
                resumed_from: 0,
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            };
            progress.file_done(&done);
            reverted.push(done);
        }
        Ok(reverted)
    }

    /// Records the file on disk as what version `version` applied, with a reason: the one,
    /// explicit way past an edited applied file. Returns the diff that was accepted.
    pub async fn accept(&self, version: u64, reason: &str) -> Result<String, MigrateError> {
        let (mut lock, history) = self.lock(&CancellationToken::new()).await?;
        let result = async {
            let connection = lock.connection();
            let rows = history.rows(connection).await?;
            let row = rows
                .iter()
                .find(|row| row.version == version && row.success)
                .ok_or(MigrateError::NotApplied { version })?;
            let file = self
                .files
                .iter()
                .find(|file| file.version == version)
                .ok_or(MigrateError::NotApplied { version })?;
            let accepted = diff(&row.applied_sql, &file.sql);
            history
                .accept(connection, version, &file.checksum, &file.sql, reason)
                .await?;
            Ok(accepted)
        }
        .await;
        lock.release(result).await
    }

    /// Records every file up to `target` as applied without running it: adopting a database
    /// that another tool migrated. The rows say `baseline` as their accepted reason.
    pub async fn baseline(&self, target: u64) -> Result<Vec<u64>, MigrateError> {
        let (mut lock, history) = self.lock(&CancellationToken::new()).await?;
        let result = async {
            let connection = lock.connection();
            self.create_history(connection, &history, &CancellationToken::new())
                .await?;
            let rows = history.rows(connection).await?;
            let mut recorded = Vec::new();
            for file in self.files.iter().filter(|file| file.version <= target) {
                if rows.iter().any(|row| row.version == file.version) {
                    continue;
                }
                let total = u32::try_from(file.statements(self.database.driver()).len())
                    .unwrap_or(u32::MAX);
                let mut row = Self::history_row(file, total, total, true, Duration::ZERO);
                row.accepted_reason = Some("baseline".to_owned());
                history.record(connection, &row, false).await?;
                recorded.push(file.version);
            }
            Ok(recorded)
        }
        .await;
        lock.release(result).await
    }
}

/// Undoes what a file may have changed in the session (`SET search_path`, `USE`), so the next
/// file starts where the first one did: in the session's own database, even when the history
/// table is in another.
async fn reset_session(
    connection: &mut DbConnection,
    history: &HistoryTable,
) -> Result<(), DbError> {
    match connection.driver() {
        Driver::Postgres => connection.execute("RESET ALL", Vec::new()).await.map(drop),
        Driver::MySql => match history.home_database() {
            Some(database) => connection
                .execute(
                    &format!(
                        "USE {}",
                        crate::db::quote_identifier(Driver::MySql, database)
                    ),
                    Vec::new(),
                )
                .await
                .map(drop),
            None => Ok(()),
        },
        Driver::Sqlite => Ok(()),
    }
}

/// Statements of `version` an interrupted statement-by-statement run already applied.
fn resume_point(rows: &[HistoryRow], version: u64) -> u32 {
    rows.iter()
        .find(|row| row.version == version && !row.success)
        .map_or(0, |row| row.statements_applied)
}
