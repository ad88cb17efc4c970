//! `DbConnection`: one connection taken from a pool for work that must stay on it — a
//! session lock and the statements it protects (migrations).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, MySql, Postgres, Sqlite};
use tokio_util::sync::CancellationToken;

use crate::db::database::{
    RowsAffected as _, acquire_error, bind_values, cancel_mysql, cancel_postgres, cancellable,
    interruptible, placeholders, preview,
};
use crate::db::{Database, DbError, SqlValue};
use crate::pipeline::Driver;

/// A connection of a pool, with what it takes to cancel its running statement.
#[derive(Debug)]
pub enum DbConnection {
    Sqlite {
        connection: PoolConnection<Sqlite>,
        interrupted: Arc<AtomicBool>,
    },
    Postgres {
        connection: PoolConnection<Postgres>,
        backend: i32,
        pool: sqlx::PgPool,
    },
    MySql {
        connection: PoolConnection<MySql>,
        id: u64,
        pool: sqlx::MySqlPool,
    },
}

impl Database {
    /// Takes one connection out of the pool until the returned value is dropped.
    pub async fn acquire(&self) -> Result<DbConnection, DbError> {
        match self {
            Self::Sqlite(pool) => {
                DbConnection::sqlite(pool.acquire().await.map_err(acquire_error)?).await
            }
            Self::Postgres(pool) => {
                DbConnection::postgres(pool, pool.acquire().await.map_err(acquire_error)?).await
            }
            Self::MySql(pool) => {
                DbConnection::mysql(pool, pool.acquire().await.map_err(acquire_error)?).await
            }
        }
    }

    /// An idle connection of the pool if there is one now, else `None`: never waits for a
    /// connection to be returned or opened (see [`Database::warm_up`]).
    pub async fn try_acquire_idle(&self) -> Result<Option<DbConnection>, DbError> {
        Ok(match self {
            Self::Sqlite(pool) => match pool.try_acquire() {
                Some(connection) => Some(DbConnection::sqlite(connection).await?),
                None => None,
            },
            Self::Postgres(pool) => match pool.try_acquire() {
                Some(connection) => Some(DbConnection::postgres(pool, connection).await?),
                None => None,
            },
            Self::MySql(pool) => match pool.try_acquire() {
                Some(connection) => Some(DbConnection::mysql(pool, connection).await?),
                None => None,
            },
        })
    }
}

impl DbConnection {
    async fn sqlite(mut connection: PoolConnection<Sqlite>) -> Result<Self, DbError> {
        let interrupted = interruptible(&mut connection).await?;
        Ok(Self::Sqlite {
            connection,
            interrupted,
        })
    }

    /// With the backend's process id, which a cancel request names.
    async fn postgres(
        pool: &sqlx::PgPool,
        mut connection: PoolConnection<Postgres>,
    ) -> Result<Self, DbError> {
        let backend = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *connection)
            .await
            .map_err(acquire_error)?;
        Ok(Self::Postgres {
            connection,
            backend,
            pool: pool.clone(),
        })
    }

    /// With the connection's id, which `KILL QUERY` names.
    async fn mysql(
        pool: &sqlx::MySqlPool,
        mut connection: PoolConnection<MySql>,
    ) -> Result<Self, DbError> {
        let id = sqlx::query_scalar("SELECT CONNECTION_ID()")
            .fetch_one(&mut *connection)
            .await
            .map_err(acquire_error)?;
        Ok(Self::MySql {
            connection,
            id,
            pool: pool.clone(),
        })
    }
}

/// Runs `$body` with `$connection` bound to the concrete connection of each engine.
macro_rules! on_connection {
    ($connection:expr, $bound:ident => $body:expr) => {
        match $connection {
            DbConnection::Sqlite {
                connection: $bound, ..
            } => $body,
            DbConnection::Postgres {
                connection: $bound, ..
            } => $body,
            DbConnection::MySql {
                connection: $bound, ..
            } => $body,
        }
    };
}

impl DbConnection {
    pub fn driver(&self) -> Driver {
        match self {
            Self::Sqlite { .. } => Driver::Sqlite,
            Self::Postgres { .. } => Driver::Postgres,
            Self::MySql { .. } => Driver::MySql,
        }
    }

    /// Runs a bookkeeping statement written with `?` placeholders; returns rows affected.
    pub async fn execute(&mut self, sql: &str, values: Vec<SqlValue>) -> Result<u64, DbError> {
        let sql = placeholders(self.driver(), sql);
        let context = format!("running `{}`", preview(&sql));
        on_connection!(self, connection => {
            bind_values!(sqlx::query(AssertSqlSafe(sql)), values)
                .execute(&mut **connection)
                .await
                .map(|result| result.rows())
                .map_err(|source| DbError::Query { context, source })
        })
    }

    /// Runs a query written with `?` placeholders and decodes every row as `T` (a tuple).
    pub async fn fetch_all<T>(
        &mut self,
        sql: &str,
        values: Vec<SqlValue>,
    ) -> Result<Vec<T>, DbError>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + for<'r> sqlx::FromRow<'r, sqlx::mysql::MySqlRow>
            + Send
            + Unpin,
    {
        let sql = placeholders(self.driver(), sql);
        let context = format!("running `{}`", preview(&sql));
        on_connection!(self, connection => {
            bind_values!(sqlx::query_as::<_, T>(AssertSqlSafe(sql)), values)
                .fetch_all(&mut **connection)
                .await
                .map_err(|source| DbError::Query { context, source })
        })
    }

    /// Runs one statement of a user's SQL; `cancel` stops it on the server.
    pub async fn run(
        &mut self,
        statement: &str,
        cancel: &CancellationToken,
    ) -> Result<u64, DbError> {
        let statement = statement.to_owned();
        let query_error = |source| DbError::Query {
            context: format!("running `{}`", preview(&statement)),
            source,
        };
        match self {
            Self::Sqlite {
                connection,
                interrupted,
            } => {
                let flag = Arc::clone(interrupted);
                let work = async {
                    sqlx::raw_sql(AssertSqlSafe(statement.clone()))
                        .execute(&mut **connection)
                        .await
                        .map(|result| result.rows())
                        .map_err(query_error)
                };
                let result =
                    cancellable(work, cancel, async { flag.store(true, Ordering::Relaxed) }).await;
                interrupted.store(false, Ordering::Relaxed);
                result
            }
            Self::Postgres {
                connection,
                backend,
                pool,
            } => {
                let backend = *backend;
                let work = async {
                    sqlx::raw_sql(AssertSqlSafe(statement.clone()))
                        .execute(&mut **connection)
                        .await
                        .map(|result| result.rows())
                        .map_err(query_error)
                };
                cancellable(work, cancel, cancel_postgres(pool, backend)).await
            }
            Self::MySql {
                connection,
                id,
                pool,
            } => {
                let id = *id;
                let work = async {
                    sqlx::raw_sql(AssertSqlSafe(statement.clone()))
                        .execute(&mut **connection)
                        .await
                        .map(|result| result.rows())
                        .map_err(query_error)
                };
                cancellable(work, cancel, cancel_mysql(pool, id)).await
            }
        }
    }

    /// Asks the server to stop what this connection runs (PostgreSQL's cancel request, MySQL's
    /// `KILL QUERY`, SQLite's interrupt), for work dropped mid-statement; the connection is
    /// then closed on drop, not reused.
    pub async fn interrupt(&mut self) {
        match self {
            Self::Sqlite { interrupted, .. } => interrupted.store(true, Ordering::Relaxed),
            Self::Postgres { backend, pool, .. } => cancel_postgres(pool, *backend).await,
            Self::MySql { id, pool, .. } => cancel_mysql(pool, *id).await,
        }
        self.close_on_drop();
    }

    /// Closes the connection when it is dropped instead of returning it to the pool: whatever
    /// session state it holds (a lock, an open transaction) ends with it on the server.
    pub fn close_on_drop(&mut self) {
        on_connection!(self, connection => connection.close_on_drop());
    }
}
