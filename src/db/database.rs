//! `Database`: a connection pool to one of the three engines, with per-driver code where
//! types and cancellation differ (the `Any` driver cannot carry real column types).

use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use log::LevelFilter;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlSslMode};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Connection as _};
use tokio_util::sync::CancellationToken;

use crate::db::{DbError, SqlValue};
use crate::pipeline::{ConnectionSpec, Driver};
use crate::values::{RetryPolicy, TlsMode};

/// A pool of connections to one database.
#[derive(Debug, Clone)]
pub enum Database {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    MySql(MySqlPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of each engine.
#[allow(unused_macros)]
macro_rules! dispatch {
    ($database:expr, $pool:ident => $body:expr) => {
        match $database {
            Database::Sqlite($pool) => $body,
            Database::Postgres($pool) => $body,
            Database::MySql($pool) => $body,
        }
    };
}

/// Binds [`SqlValue`]s to a query, each with its type, whatever the engine.
macro_rules! bind_values {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for value in $values {
            query = match value {
                SqlValue::Int(value) => query.bind(value),
                SqlValue::Float(value) => query.bind(value),
                SqlValue::Text(value) => query.bind(value),
                SqlValue::Bool(value) => query.bind(value),
                SqlValue::Timestamp(value) => query.bind(value),
                SqlValue::Json(value) => query.bind(value.map(sqlx::types::Json)),
            };
        }
        query
    }};
}
pub(crate) use bind_values;

/// How connecting is retried: transient failures only (refused, reset, timed out, too many
/// connections, server starting).
const CONNECT_RETRY: RetryPolicy = RetryPolicy {
    retries: 2,
    backoff: Duration::from_millis(500),
};

/// How long asking a server to cancel may take: a server that does not answer must not hold
/// up a timeout or a Ctrl-C (the statement's connection is dropped after [`CANCEL_GRACE`]
/// anyway).
const CANCEL_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Asks PostgreSQL to cancel what `backend` runs, on a connection of its own: the pool may
/// have none to spare (`max_connections = 1`).
pub(crate) async fn cancel_postgres(pool: &PgPool, backend: i32) {
    use sqlx::ConnectOptions as _;
    let options = pool.connect_options();
    if let Ok(Ok(mut connection)) =
        tokio::time::timeout(CANCEL_CONNECT_TIMEOUT, options.connect()).await
    {
        let _ = sqlx::query("SELECT pg_cancel_backend($1)")
            .bind(backend)
            .execute(&mut connection)
            .await;
        let _ = connection.close().await;
    }
}

/// Asks MySQL to stop the statement of connection `id`, on a connection of its own.
pub(crate) async fn cancel_mysql(pool: &MySqlPool, id: u64) {
    use sqlx::ConnectOptions as _;
    let options = pool.connect_options();
    if let Ok(Ok(mut connection)) =
        tokio::time::timeout(CANCEL_CONNECT_TIMEOUT, options.connect()).await
    {
        // An integer from the server: nothing of the user's is in this statement.
        let _ = sqlx::raw_sql(AssertSqlSafe(format!("KILL QUERY {id}")))
            .execute(&mut connection)
            .await;
        let _ = connection.close().await;
    }
}

/// Opens and closes one connection.
async fn check_connection<O>(options: &O) -> Result<(), sqlx::Error>
where
    O: sqlx::ConnectOptions,
    O::Connection: Sized,
{
    let connection = options.connect().await?;
    connection.close().await
}

/// How long a cancelled statement gets to notice before its connection is dropped.
const CANCEL_GRACE: Duration = Duration::from_secs(10);

/// Rows sqlx reads ahead of a SQLite query's consumer (its default is 50).
const SQLITE_ROW_BUFFER: usize = 16;

fn connect_error(spec: &ConnectionSpec, source: sqlx::Error) -> DbError {
    DbError::Connect {
        connection: spec.name.to_string(),
        url: spec.url.redacted(),
        attempts: 1,
        source,
    }
}

/// Runs `connecting`, or fails with a timeout after the connection's connect timeout.
async fn within_connect_timeout<T>(
    spec: &ConnectionSpec,
    connecting: impl Future<Output = Result<T, DbError>>,
) -> Result<T, DbError> {
    tokio::time::timeout(spec.connect_timeout, connecting)
        .await
        .unwrap_or_else(|_| {
            Err(DbError::ConnectTimeout {
                connection: spec.name.to_string(),
                after: spec.connect_timeout,
            })
        })
}

/// How to open a connection to each engine, from a connection's spec.
enum EngineOptions {
    Sqlite(SqliteConnectOptions),
    Postgres(PgConnectOptions),
    MySql(MySqlConnectOptions),
}

impl EngineOptions {
    /// The options of `spec`'s URL. A SQLite file opened to write is created with its
    /// directory, in WAL mode; opened `read_only`, it is neither created nor switched to WAL.
    fn new(spec: &ConnectionSpec, read_only: bool) -> Result<Self, DbError> {
        let url = spec.url.expose();
        let connect_error = |source| connect_error(spec, source);
        Ok(match spec.driver {
            Driver::Sqlite => {
                // sqlx buffers up to 50 rows ahead of the reader by default: 50 MB of
                // 1 MB blobs. 16 bounds a wide table's buffer without slowing narrow ones.
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(connect_error)?
                    .row_buffer_size(SQLITE_ROW_BUFFER);
                let options = if read_only {
                    options.read_only(true).create_if_missing(false)
                } else {
                    let options = options
                        .create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal);
                    let directory = options
                        .get_filename()
                        .parent()
                        .map(std::path::Path::to_path_buf);
                    if let Some(directory) =
                        directory.filter(|directory| !directory.as_os_str().is_empty())
                    {
                        std::fs::create_dir_all(&directory).map_err(|source| {
                            DbError::SqliteDirectory {
                                path: options.get_filename().display().to_string(),
                                source,
                            }
                        })?;
                    }
                    options
                };
                Self::Sqlite(quiet(
                    options
                        .busy_timeout(Duration::from_secs(5))
                        .foreign_keys(true),
                ))
            }
            Driver::Postgres => {
                let mut options = PgConnectOptions::from_str(url)
                    .map_err(connect_error)?
                    .application_name("pipewright");
                if let Some(tls) = spec.tls {
                    options = options.ssl_mode(postgres_tls(tls));
                }
                Self::Postgres(quiet(options))
            }
            Driver::MySql => {
                let mut options = MySqlConnectOptions::from_str(&mysql_url(url))
                    .map_err(connect_error)?
                    .charset("utf8mb4")
                    .timezone(Some("+00:00".to_owned()));
                if let Some(tls) = spec.tls {
                    options = options.ssl_mode(mysql_tls(tls));
                }
                Self::MySql(quiet(options))
            }
        })
    }

    /// Opens and closes one connection, so that an unreachable server or a wrong password is
    /// reported at once (a pool would keep retrying until its acquire timeout).
    async fn check(&self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(options) => check_connection(options).await,
            Self::Postgres(options) => check_connection(options).await,
            Self::MySql(options) => check_connection(options).await,
        }
    }

    /// Opens one connection, runs `SELECT 1` and closes it.
    async fn ping(&self) -> Result<(), sqlx::Error> {
        use sqlx::ConnectOptions as _;
        match self {
            Self::Sqlite(options) => {
                let mut connection = options.connect().await?;
                sqlx::query("SELECT 1").execute(&mut connection).await?;
                connection.close().await
            }
            Self::Postgres(options) => {
                let mut connection = options.connect().await?;
                sqlx::query("SELECT 1").execute(&mut connection).await?;
                connection.close().await
            }
            Self::MySql(options) => {
                let mut connection = options.connect().await?;
                sqlx::query("SELECT 1").execute(&mut connection).await?;
                connection.close().await
            }
        }
    }
}

impl Database {
    /// Opens a pool of at most `max_connections` and checks that one connection works.
    pub async fn connect(spec: &ConnectionSpec, max_connections: u32) -> Result<Self, DbError> {
        Self::connect_with(spec, max_connections, false).await
    }

    /// Opens a pool that only reads: a SQLite file is opened read-only, neither created nor
    /// switched to WAL. (Servers are read by what is run on them.)
    pub async fn connect_read_only(
        spec: &ConnectionSpec,
        max_connections: u32,
    ) -> Result<Self, DbError> {
        Self::connect_with(spec, max_connections, true).await
    }

    async fn connect_with(
        spec: &ConnectionSpec,
        max_connections: u32,
        read_only: bool,
    ) -> Result<Self, DbError> {
        let mut attempt = 1;
        loop {
            match Self::connect_once(spec, max_connections, read_only).await {
                Ok(database) => return Ok(database),
                Err(error) if error.is_transient() && attempt < CONNECT_RETRY.max_attempts() => {
                    let delay = CONNECT_RETRY.delay(attempt, fastrand::f64());
                    tracing::warn!(connection = %spec.name, attempt, "cannot connect, retrying in {delay:?}: {}", crate::error_chain::error_chain(&error));
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(DbError::Connect {
                    connection,
                    url,
                    source,
                    ..
                }) => {
                    return Err(DbError::Connect {
                        connection,
                        url,
                        attempts: attempt,
                        source,
                    });
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn connect_once(
        spec: &ConnectionSpec,
        max_connections: u32,
        read_only: bool,
    ) -> Result<Self, DbError> {
        let connecting = async {
            let options = EngineOptions::new(spec, read_only)?;
            let database = match &options {
                EngineOptions::Sqlite(options) => Self::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(max_connections)
                        .acquire_timeout(spec.acquire_timeout)
                        .connect_lazy_with(options.clone()),
                ),
                EngineOptions::Postgres(options) => Self::Postgres(
                    PgPoolOptions::new()
                        .max_connections(max_connections)
                        .acquire_timeout(spec.acquire_timeout)
                        .connect_lazy_with(options.clone()),
                ),
                EngineOptions::MySql(options) => Self::MySql(
                    MySqlPoolOptions::new()
                        .max_connections(max_connections)
                        .acquire_timeout(spec.acquire_timeout)
                        .connect_lazy_with(options.clone()),
                ),
            };
            // The pool opens the connection its first user will take while the check runs
            // (each costs round trips and, on a server that offers it, a TLS handshake); it
            // is given up if the check fails, so a wrong address or password is still
            // reported at once rather than retried until the acquire timeout. Both count
            // against `max_connections`: with 1, the pool waits for its first user.
            let warming = (max_connections > 1).then(|| {
                let database = database.clone();
                tokio::spawn(async move { database.warm_up(1).await })
            });
            if let Err(source) = options.check().await {
                if let Some(warming) = warming {
                    warming.abort();
                }
                return Err(connect_error(spec, source));
            }
            Ok(database)
        };
        within_connect_timeout(spec, connecting).await
    }

    /// Opens a new connection outside any pool, runs `SELECT 1` on it and closes it: what a
    /// client pays to start talking to the database (the `connect` benchmark). Not retried.
    pub async fn probe(spec: &ConnectionSpec) -> Result<(), DbError> {
        within_connect_timeout(spec, async {
            let options = EngineOptions::new(spec, false)?;
            options
                .ping()
                .await
                .map_err(|source| connect_error(spec, source))
        })
        .await
    }

    pub fn driver(&self) -> Driver {
        match self {
            Self::Sqlite(_) => Driver::Sqlite,
            Self::Postgres(_) => Driver::Postgres,
            Self::MySql(_) => Driver::MySql,
        }
    }

    /// The most connections the pool opens.
    pub fn max_connections(&self) -> u32 {
        dispatch!(self, pool => pool.options().get_max_connections())
    }

    /// Opens up to `count` connections of a server's pool at once and leaves them idle in it,
    /// for work that will hold several at a time: opened when first needed, one after another,
    /// each would cost its own round trips (and TLS handshake) on the way. Best effort: a
    /// connection that cannot be opened now is reported by the work that needs it. SQLite's
    /// connections are opened in-process and need no warming.
    pub async fn warm_up(&self, count: u32) {
        /// Takes `count` connections of `pool` at once and gives them back idle.
        async fn open<DB: sqlx::Database>(
            pool: &sqlx::Pool<DB>,
            count: u32,
        ) -> Option<sqlx::Error> {
            join_all((0..count).map(|_| pool.acquire()))
                .await
                .into_iter()
                .find_map(Result::err)
        }
        let count = count.min(self.max_connections());
        let failed = match self {
            Self::Sqlite(_) => return,
            Self::Postgres(pool) => open(pool, count).await,
            Self::MySql(pool) => open(pool, count).await,
        };
        if let Some(error) = failed {
            tracing::debug!("could not open {count} connections ahead of time: {error}");
        }
    }

    /// Runs one bookkeeping statement written with `?` placeholders; returns rows affected.
    pub async fn execute(&self, sql: &str, values: Vec<SqlValue>) -> Result<u64, DbError> {
        let sql = self.placeholders(sql);
        let context = || format!("running `{}`", preview(&sql));
        dispatch!(self, pool => {
            let query = bind_values!(sqlx::query(AssertSqlSafe(sql.clone())), values);
            query
                .execute(pool)
                .await
                .map(|result| result.rows_affected())
                .map_err(|source| DbError::Query { context: context(), source })
        })
    }

    /// Runs several bookkeeping statements in one transaction: all of them or none. Returns
    /// the rows they affected.
    pub async fn execute_in_transaction(
        &self,
        statements: Vec<(&str, Vec<SqlValue>)>,
    ) -> Result<u64, DbError> {
        let statements: Vec<(String, Vec<SqlValue>)> = statements
            .into_iter()
            .map(|(sql, values)| (self.placeholders(sql), values))
            .collect();
        let failure = |context: &str| {
            let context = context.to_owned();
            move |source| DbError::Query { context, source }
        };
        dispatch!(self, pool => {
            let mut transaction = pool.begin().await.map_err(failure("starting a transaction"))?;
            let mut affected = 0;
            for (sql, values) in statements {
                let context = format!("running `{}`", preview(&sql));
                affected += bind_values!(sqlx::query(AssertSqlSafe(sql)), values)
                    .execute(&mut *transaction)
                    .await
                    .map_err(|source| DbError::Query { context, source })?
                    .rows_affected();
            }
            transaction.commit().await.map_err(failure("committing"))?;
            Ok(affected)
        })
    }

    /// Runs a query written with `?` placeholders and decodes every row as `T` (a tuple).
    pub async fn fetch_all<T>(&self, sql: &str, values: Vec<SqlValue>) -> Result<Vec<T>, DbError>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + for<'r> sqlx::FromRow<'r, sqlx::mysql::MySqlRow>
            + Send
            + Unpin,
    {
        let sql = self.placeholders(sql);
        let context = || format!("running `{}`", preview(&sql));
        dispatch!(self, pool => {
            let query = bind_values!(sqlx::query_as::<_, T>(AssertSqlSafe(sql.clone())), values);
            query
                .fetch_all(pool)
                .await
                .map_err(|source| DbError::Query { context: context(), source })
        })
    }

    /// Runs a user's statements in order, in one transaction when `transaction` is set, and
    /// returns the rows they affected. When `cancel` fires, the running statement is cancelled
    /// on the server (`pg_cancel_backend`, `KILL QUERY`, SQLite's interrupt) and the
    /// transaction rolled back.
    pub async fn run_statements(
        &self,
        statements: &[String],
        transaction: bool,
        cancel: &CancellationToken,
    ) -> Result<u64, DbError> {
        match self {
            Self::Postgres(pool) => {
                let mut connection = acquire_cancellable(pool, cancel).await?;
                let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                    .fetch_one(&mut *connection)
                    .await
                    .map_err(acquire_error)?;
                let work =
                    execute_statements::<sqlx::Postgres>(&mut connection, statements, transaction);
                cancellable(work, cancel, cancel_postgres(pool, backend)).await
            }
            Self::MySql(pool) => {
                let mut connection = acquire_cancellable(pool, cancel).await?;
                let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
                    .fetch_one(&mut *connection)
                    .await
                    .map_err(acquire_error)?;
                let work =
                    execute_statements::<sqlx::MySql>(&mut connection, statements, transaction);
                cancellable(work, cancel, cancel_mysql(pool, id)).await
            }
            Self::Sqlite(pool) => {
                let mut connection = acquire_cancellable(pool, cancel).await?;
                let interrupted = interruptible(&mut connection).await?;
                let work =
                    execute_statements::<sqlx::Sqlite>(&mut connection, statements, transaction);
                let result = cancellable(work, cancel, async {
                    interrupted.store(true, Ordering::Relaxed);
                })
                .await;
                if let Ok(mut handle) = connection.lock_handle().await {
                    handle.remove_progress_handler();
                }
                result
            }
        }
    }

    /// Closes every connection of the pool.
    pub async fn close(&self) {
        dispatch!(self, pool => pool.close().await);
    }

    /// `?` placeholders as the engine writes them (`$1`, `$2`, ... on PostgreSQL).
    fn placeholders(&self, sql: &str) -> String {
        placeholders(self.driver(), sql)
    }
}

/// `?` placeholders as `driver` writes them (`$1`, `$2`, ... on PostgreSQL).
pub(crate) fn placeholders(driver: Driver, sql: &str) -> String {
    if driver != Driver::Postgres {
        return sql.to_owned();
    }
    numbered_placeholders(sql)
}

/// `?` placeholders numbered for PostgreSQL (`$1`, `$2`, ...), outside quoted names, string
/// literals and comments: a `?` in a table's name or in a value stays what it is.
pub(crate) fn numbered_placeholders(sql: &str) -> String {
    let mut output = String::with_capacity(sql.len() + 8);
    let mut number = 0;
    let mut characters = sql.chars().peekable();
    while let Some(character) = characters.next() {
        output.push(character);
        match character {
            '\'' | '"' => {
                for inner in characters.by_ref() {
                    output.push(inner);
                    if inner == character {
                        break;
                    }
                }
            }
            '-' if characters.peek() == Some(&'-') => {
                for inner in characters.by_ref() {
                    output.push(inner);
                    if inner == '\n' {
                        break;
                    }
                }
            }
            '/' if characters.peek() == Some(&'*') => {
                let mut previous = ' ';
                for inner in characters.by_ref() {
                    output.push(inner);
                    if previous == '*' && inner == '/' {
                        break;
                    }
                    previous = inner;
                }
            }
            '?' => {
                number += 1;
                output.pop();
                output.push('$');
                output.push_str(&number.to_string());
            }
            _ => {}
        }
    }
    output
}

/// Per-engine access to rows affected, which sqlx has no trait for.
pub(crate) trait RowsAffected {
    fn rows(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::mysql::MySqlQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

async fn execute_statements<DB>(
    connection: &mut DB::Connection,
    statements: &[String],
    transaction: bool,
) -> Result<u64, DbError>
where
    DB: sqlx::Database,
    DB::QueryResult: RowsAffected,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    let total = statements.len();
    let statement_error = |index: usize, statement: &str| {
        let preview = preview(statement);
        move |source| DbError::Statement {
            index: index + 1,
            total,
            preview,
            source,
        }
    };
    let mut rows = 0;
    if transaction {
        let mut transaction = connection.begin().await.map_err(|source| DbError::Query {
            context: "starting a transaction".to_owned(),
            source,
        })?;
        for (index, statement) in statements.iter().enumerate() {
            let result = sqlx::raw_sql(AssertSqlSafe(statement.clone()))
                .execute(&mut *transaction)
                .await
                .map_err(statement_error(index, statement))?;
            if crate::db::modifies_rows(statement) {
                rows += result.rows();
            }
        }
        transaction
            .commit()
            .await
            .map_err(|source| DbError::Query {
                context: "committing".to_owned(),
                source,
            })?;
    } else {
        for (index, statement) in statements.iter().enumerate() {
            let result = sqlx::raw_sql(AssertSqlSafe(statement.clone()))
                .execute(&mut *connection)
                .await
                .map_err(statement_error(index, statement))?;
            if crate::db::modifies_rows(statement) {
                rows += result.rows();
            }
        }
    }
    Ok(rows)
}

/// Runs `work`; if `cancel` fires first, runs `stop` (which asks the server to stop the
/// statement) and waits, a bounded time, for `work` to notice and roll back.
pub(crate) async fn cancellable<T>(
    work: impl Future<Output = Result<T, DbError>>,
    cancel: &CancellationToken,
    stop: impl Future<Output = ()>,
) -> Result<T, DbError> {
    tokio::pin!(work);
    tokio::select! {
        result = &mut work => result,
        () = cancel.cancelled() => {
            stop.await;
            let _ = tokio::time::timeout(CANCEL_GRACE, &mut work).await;
            Err(DbError::Cancelled)
        }
    }
}

/// A connection from the pool, or `Cancelled` if the step is stopped while waiting for one.
async fn acquire_cancellable<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    cancel: &CancellationToken,
) -> Result<sqlx::pool::PoolConnection<DB>, DbError> {
    tokio::select! {
        connection = pool.acquire() => connection.map_err(acquire_error),
        () = cancel.cancelled() => Err(DbError::Cancelled),
    }
}

/// Lets the statements of a SQLite connection be interrupted: once the returned flag is set,
/// SQLite stops the running statement at its next progress check.
pub(crate) async fn interruptible(
    connection: &mut sqlx::pool::PoolConnection<sqlx::Sqlite>,
) -> Result<Arc<AtomicBool>, DbError> {
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&interrupted);
    connection
        .lock_handle()
        .await
        .map_err(acquire_error)?
        .set_progress_handler(1_000, move || !flag.load(Ordering::Relaxed));
    Ok(interrupted)
}

pub(crate) fn acquire_error(source: sqlx::Error) -> DbError {
    DbError::Query {
        context: "getting a connection".to_owned(),
        source,
    }
}

/// The start of a statement on one line, for messages; leading comment lines are skipped.
pub(crate) fn preview(statement: &str) -> String {
    let code = statement
        .lines()
        .skip_while(|line| {
            let line = line.trim();
            line.is_empty() || line.starts_with("--")
        })
        .collect::<Vec<_>>()
        .join(" ");
    let code = if code.is_empty() {
        statement.to_owned()
    } else {
        code
    };
    let single_line: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
    if single_line.chars().count() > 80 {
        let cut: String = single_line.chars().take(77).collect();
        format!("{cut}...")
    } else {
        single_line
    }
}

/// sqlx logs every statement at INFO and slow ones at WARN; for pipewright those are debug
/// details (the database log sink leaves sqlx's records out altogether).
fn quiet<O: sqlx::ConnectOptions>(options: O) -> O {
    options
        .log_statements(LevelFilter::Trace)
        .log_slow_statements(LevelFilter::Debug, Duration::from_secs(1))
}

/// `mariadb://` is pipewright's alias for `mysql://`.
fn mysql_url(url: &str) -> String {
    match url.strip_prefix("mariadb://") {
        Some(rest) => format!("mysql://{rest}"),
        None => url.to_owned(),
    }
}

fn postgres_tls(mode: TlsMode) -> PgSslMode {
    match mode {
        TlsMode::Disable => PgSslMode::Disable,
        TlsMode::Prefer => PgSslMode::Prefer,
        TlsMode::Require => PgSslMode::Require,
        TlsMode::VerifyCa => PgSslMode::VerifyCa,
        TlsMode::VerifyFull => PgSslMode::VerifyFull,
    }
}

fn mysql_tls(mode: TlsMode) -> MySqlSslMode {
    match mode {
        TlsMode::Disable => MySqlSslMode::Disabled,
        TlsMode::Prefer => MySqlSslMode::Preferred,
        TlsMode::Require => MySqlSslMode::Required,
        TlsMode::VerifyCa => MySqlSslMode::VerifyCa,
        TlsMode::VerifyFull => MySqlSslMode::VerifyIdentity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quotes_and_comments() {
        assert_eq!(
            numbered_placeholders(
                "SELECT '?', \"a?\" FROM t -- why?\nWHERE a = ? /* ? */ AND b BETWEEN ? AND ?"
            ),
            "SELECT '?', \"a?\" FROM t -- why?\nWHERE a = $1 /* ? */ AND b BETWEEN $2 AND $3"
        );
        assert_eq!(numbered_placeholders("WHERE id = $1"), "WHERE id = $1");
        assert_eq!(
            placeholders(Driver::MySql, "SELECT ? FROM `a?`"),
            "SELECT ? FROM `a?`"
        );
    }

    #[test]
    fn previews_are_one_short_line() {
        assert_eq!(preview("select\n  1,\n  2"), "select 1, 2");
        let long = "x".repeat(200);
        assert_eq!(preview(&long).chars().count(), 80);
    }

    #[test]
    fn mariadb_urls_are_mysql_urls() {
        assert_eq!(mysql_url("mariadb://root@h/db"), "mysql://root@h/db");
        assert_eq!(mysql_url("mysql://root@h/db"), "mysql://root@h/db");
    }
}
