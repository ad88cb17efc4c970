//! The migration lock: two pipewright processes migrating one database never both apply.
//! PostgreSQL takes a session advisory lock, MySQL `GET_LOCK`; both end with their
//! connection. SQLite locks each file's transaction (`BEGIN IMMEDIATE`, waiting up to the lock
//! timeout).

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::db::{Database, DbConnection, DbError, SqlValue};
use crate::migrate::MigrateError;
use crate::pipeline::Driver;

/// How often a waiting process asks for the lock again.
const POLL: Duration = Duration::from_millis(200);

/// A connection that holds the migration lock of a history table. Unlock it with
/// [`LockedConnection::unlock`]; if it is dropped instead (an error, a panic, a cancelled
/// future), the connection is closed rather than returned to the pool, and the server
/// releases the lock with the session.
#[derive(Debug)]
pub struct LockedConnection {
    connection: Option<DbConnection>,
    name: String,
    /// The history table, qualified with the schema (PostgreSQL) or database (MySQL) it was
    /// in when the lock was taken: a file that changes `search_path` or runs `USE` does not
    /// move it.
    history_table: String,
    /// MySQL: the session's database when the lock was taken, where each file starts.
    home_database: Option<String>,
}

impl LockedConnection {
    /// Takes a connection and waits for the lock, up to `timeout` or until `cancel` fires.
    pub async fn acquire(
        database: &Database,
        table: &str,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<Self, MigrateError> {
        let mut connection = database.acquire().await?;
        // Whatever happens from here, a connection that may hold the lock is never reused.
        connection.close_on_drop();
        let history_table = qualify(&mut connection, table).await?;
        let home_database = if connection.driver() == Driver::MySql {
            let current: Vec<(Option<String>,)> = connection
                .fetch_all("SELECT DATABASE()", Vec::new())
                .await?;
            current.into_iter().next().and_then(|(database,)| database)
        } else {
            None
        };
        let deadline = Instant::now() + timeout;
        let name = match connection.driver() {
            Driver::Postgres => {
                let database_name: Vec<(String,)> = connection
                    .fetch_all("SELECT CAST(current_database() AS TEXT)", Vec::new())
                    .await?;
                let key = lock_key(&format!("{}/{history_table}", database_name[0].0));
                loop {
                    let taken: Vec<(bool,)> = connection
                        .fetch_all("SELECT pg_try_advisory_lock(?)", vec![key.into()])
                        .await?;
                    if taken[0].0 {
                        break;
                    }
                    wait(deadline, cancel, table, timeout).await?;
                }
                key.to_string()
            }
            Driver::MySql => {
                let name = format!("pipewright:{}", lock_key(&history_table));
                loop {
                    let taken: Vec<(Option<i64>,)> = connection
                        .fetch_all("SELECT GET_LOCK(?, 0)", vec![name.clone().into()])
                        .await?;
                    if taken[0].0 == Some(1) {
                        break;
                    }
                    wait(deadline, cancel, table, timeout).await?;
                }
                name
            }
            Driver::Sqlite => {
                set_busy_timeout(&mut connection, timeout).await?;
                String::new()
            }
        };
        Ok(Self {
            connection: Some(connection),
            name,
            history_table,
            home_database,
        })
    }

    pub fn connection(&mut self) -> &mut DbConnection {
        self.connection.as_mut().expect("held until unlocked")
    }

    /// The history table, schema-qualified where the engine has schemas.
    pub fn history_table(&self) -> &str {
        &self.history_table
    }

    /// MySQL: the database the session was in when the lock was taken.
    pub fn home_database(&self) -> Option<&str> {
        self.home_database.as_deref()
    }

    /// Releases the lock. The connection is closed afterwards either way: it carried
    /// session state.
    /// Releases the lock after the work that held it: the work's own error wins over an
    /// error releasing (a lost connection fails both, and the first says what happened;
    /// the server drops the lock with the session anyway).
    pub async fn release<T>(self, result: Result<T, MigrateError>) -> Result<T, MigrateError> {
        let unlocked = self.unlock().await;
        let value = result?;
        unlocked?;
        Ok(value)
    }

    pub async fn unlock(mut self) -> Result<(), DbError> {
        let Some(mut connection) = self.connection.take() else {
            return Ok(());
        };
        match connection.driver() {
            Driver::Postgres => {
                let key: i64 = self.name.parse().unwrap_or_default();
                connection
                    .execute("SELECT pg_advisory_unlock(?)", vec![SqlValue::from(key)])
                    .await?;
            }
            Driver::MySql => {
                connection
                    .execute("SELECT RELEASE_LOCK(?)", vec![self.name.clone().into()])
                    .await?;
            }
            Driver::Sqlite => {}
        }
        Ok(())
    }
}

/// SQLite: `BEGIN IMMEDIATE`, the lock of one file's transaction, tried until `timeout` and
/// stopped by `cancel` between tries.
///
/// SQLite waits inside its busy handler, where nothing interrupts it: while it tries for the
/// lock, each try waits a short while and pipewright tries again, able to stop in between;
/// once in, the other statements wait up to the lock timeout as before.
pub(crate) async fn begin_immediate(
    connection: &mut DbConnection,
    table: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), MigrateError> {
    let deadline = Instant::now() + timeout;
    set_busy_timeout(connection, POLL.min(timeout)).await?;
    let began = loop {
        match connection.execute("BEGIN IMMEDIATE", Vec::new()).await {
            Ok(_) => break Ok(()),
            Err(error) if crate::db::is_busy(&error) => {
                if let Err(error) = wait(deadline, cancel, table, timeout).await {
                    break Err(error);
                }
            }
            Err(error) => break Err(error.into()),
        }
    };
    set_busy_timeout(connection, timeout).await?;
    began
}

/// How long SQLite waits for a lock before a statement fails as busy.
async fn set_busy_timeout(connection: &mut DbConnection, timeout: Duration) -> Result<(), DbError> {
    connection
        .execute(
            &format!("PRAGMA busy_timeout = {}", timeout.as_millis()),
            Vec::new(),
        )
        .await
        .map(drop)
}

/// Sleeps before the next try, or gives up: at the deadline, or when cancelled.
async fn wait(
    deadline: Instant,
    cancel: &CancellationToken,
    table: &str,
    timeout: Duration,
) -> Result<(), MigrateError> {
    if Instant::now() >= deadline {
        return Err(MigrateError::LockTimeout {
            table: table.to_owned(),
            after: timeout,
        });
    }
    tokio::select! {
        () = tokio::time::sleep(POLL) => Ok(()),
        () = cancel.cancelled() => Err(MigrateError::Cancelled { during: None }),
    }
}

/// The history table with the schema or database it resolves to now.
async fn qualify(connection: &mut DbConnection, table: &str) -> Result<String, DbError> {
    if table.contains('.') {
        return Ok(table.to_owned());
    }
    let scope: Vec<(Option<String>,)> = match connection.driver() {
        Driver::Postgres => {
            connection
                .fetch_all("SELECT CAST(current_schema() AS TEXT)", Vec::new())
                .await?
        }
        Driver::MySql => {
            connection
                .fetch_all("SELECT DATABASE()", Vec::new())
                .await?
        }
        Driver::Sqlite => return Ok(table.to_owned()),
    };
    Ok(match scope.first().and_then(|(scope,)| scope.clone()) {
        Some(scope) => format!("{scope}.{table}"),
        None => table.to_owned(),
    })
}

/// A stable 63-bit key for a qualified history table, the same in every process. PostgreSQL
/// advisory locks are per cluster, so the database's name is part of it.
fn lock_key(qualified_table: &str) -> i64 {
    let digest = Sha256::digest(format!("pipewright migrate {qualified_table}").as_bytes());
    let mut bytes = [0_u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes) & i64::MAX
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_are_stable_and_distinct() {
        assert_eq!(
            lock_key("public.pipewright_migrations"),
            lock_key("public.pipewright_migrations")
        );
        assert_ne!(
            lock_key("public.pipewright_migrations"),
            lock_key("other.pipewright_migrations")
        );
        assert!(lock_key("t") >= 0);
    }
}
