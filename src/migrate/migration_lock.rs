//! The migration lock: two pipewright processes migrating one database never both apply.
//! PostgreSQL takes a session advisory lock, MySQL `GET_LOCK`; both end with their
//! connection, so a killed process cannot leave a lock behind. SQLite locks each file's
//! transaction (`BEGIN IMMEDIATE`, waiting up to the lock timeout).

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::db::{Database, DbConnection, DbError, SqlValue};
use crate::migrate::MigrateError;
use crate::pipeline::Driver;

/// A connection that holds the migration lock of a history table. Unlock it with
/// [`LockedConnection::unlock`]; if it is dropped instead (an error, a panic, a cancelled
/// future), the connection is closed rather than returned to the pool, and the server
/// releases the lock with the session.
#[derive(Debug)]
pub struct LockedConnection {
    connection: Option<DbConnection>,
    name: String,
}

impl LockedConnection {
    /// Takes a connection and waits for the lock, up to `timeout`.
    pub async fn acquire(
        database: &Database,
        table: &str,
        timeout: Duration,
    ) -> Result<Self, MigrateError> {
        let mut connection = database.acquire().await?;
        // Whatever happens from here, a connection that may hold the lock is never reused.
        connection.close_on_drop();
        let name = match connection.driver() {
            Driver::Postgres => {
                let database_name: Vec<(String,)> = connection
                    .fetch_all("SELECT CAST(current_database() AS TEXT)", Vec::new())
                    .await?;
                let key = lock_key(&database_name[0].0, table);
                let deadline = Instant::now() + timeout;
                loop {
                    let taken: Vec<(bool,)> = connection
                        .fetch_all("SELECT pg_try_advisory_lock(?)", vec![key.into()])
                        .await?;
                    if taken[0].0 {
                        break;
                    }
                    if Instant::now() >= deadline {
                        return Err(lock_timeout(table, timeout));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                key.to_string()
            }
            Driver::MySql => {
                let database_name: Vec<(Option<String>,)> = connection
                    .fetch_all("SELECT DATABASE()", Vec::new())
                    .await?;
                let name = format!(
                    "pipewright:{}",
                    lock_key(database_name[0].0.as_deref().unwrap_or(""), table)
                );
                let seconds = i64::try_from(timeout.as_secs().max(1)).unwrap_or(i64::MAX);
                let taken: Vec<(Option<i64>,)> = connection
                    .fetch_all(
                        "SELECT GET_LOCK(?, ?)",
                        vec![name.clone().into(), seconds.into()],
                    )
                    .await?;
                if taken[0].0 != Some(1) {
                    return Err(lock_timeout(table, timeout));
                }
                name
            }
            Driver::Sqlite => {
                let milliseconds = timeout.as_millis();
                connection
                    .execute(&format!("PRAGMA busy_timeout = {milliseconds}"), Vec::new())
                    .await?;
                String::new()
            }
        };
        Ok(Self {
            connection: Some(connection),
            name,
        })
    }

    pub fn connection(&mut self) -> &mut DbConnection {
        self.connection.as_mut().expect("held until unlocked")
    }

    /// Releases the lock. The connection is closed afterwards either way: it carried
    /// session state.
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

fn lock_timeout(table: &str, timeout: Duration) -> MigrateError {
    MigrateError::LockTimeout {
        table: table.to_owned(),
        seconds: timeout.as_secs(),
    }
}

/// A stable 63-bit key for a database and history table, the same in every process.
fn lock_key(database: &str, table: &str) -> i64 {
    let digest = Sha256::digest(format!("pipewright migrate {database} {table}").as_bytes());
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
            lock_key("db", "pipewright_migrations"),
            lock_key("db", "pipewright_migrations")
        );
        assert_ne!(
            lock_key("db", "pipewright_migrations"),
            lock_key("other", "pipewright_migrations")
        );
        assert!(lock_key("db", "t") >= 0);
    }
}
