//! One copy into a table at a time: two runs writing the same target would drop each other's
//! staging table or share a checkpoint. The lock is a session lock of the server
//! (PostgreSQL's advisory locks, MySQL's `GET_LOCK`) taken without waiting; it ends with the
//! session, so a killed run never leaves it behind. SQLite takes one writer at a time by
//! itself.

use sha2::{Digest, Sha256};

use crate::db::{DbConnection, DbError, SqlValue};
use crate::pipeline::Driver;

/// The lock's name for `table` (with the database's own name: PostgreSQL's locks are per
/// cluster, MySQL's per server).
fn lock_name(database: &str, table: &str) -> String {
    format!("pipewright transform {database}/{table}")
}

fn postgres_key(name: &str) -> i64 {
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0_u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes) & i64::MAX
}

/// Takes the lock of `table` on `connection`; `false` if another session holds it. Once
/// taken, the connection is closed instead of going back to the pool, so the lock cannot
/// outlive the copy on a pooled session.
pub(crate) async fn try_lock(connection: &mut DbConnection, table: &str) -> Result<bool, DbError> {
    match connection.driver() {
        Driver::Postgres => {
            let database: Vec<(String,)> = connection
                .fetch_all("SELECT CAST(current_database() AS TEXT)", Vec::new())
                .await?;
            let key = postgres_key(&lock_name(&database[0].0, table));
            connection.close_on_drop();
            let taken: Vec<(bool,)> = connection
                .fetch_all("SELECT pg_try_advisory_lock(?)", vec![SqlValue::from(key)])
                .await?;
            Ok(taken[0].0)
        }
        Driver::MySql => {
            let database: Vec<(Option<String>,)> = connection
                .fetch_all("SELECT CAST(DATABASE() AS CHAR)", Vec::new())
                .await?;
            let database = database[0].0.clone().unwrap_or_default();
            // MySQL's lock names are at most 64 characters.
            let name = format!(
                "pipewright:{}",
                crate::values::hex(&Sha256::digest(lock_name(&database, table).as_bytes())[..16])
            );
            connection.close_on_drop();
            let taken: Vec<(Option<i64>,)> = connection
                .fetch_all("SELECT GET_LOCK(?, 0)", vec![name.into()])
                .await?;
            Ok(taken[0].0 == Some(1))
        }
        Driver::Sqlite => Ok(true),
    }
}
