//! The three workloads of a `bench` step. Each runs its warm-up repetitions, then its measured
//! ones, and reports the metrics its [`Workload::metrics`](crate::pipeline::Workload::metrics)
//! names, with every measured sample.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt as _;
use sqlx::AssertSqlSafe;
use tokio_util::sync::CancellationToken;

use crate::bench::generated_rows::generated_value;
use crate::bench::{Measurement, Sample, Timings};
use crate::data::{LogicalType, Row, Value, count_rows, read_table};
use crate::db::{Database, DbConnection, DbError, quote_identifier};
use crate::pipeline::{ConnectionSpec, Driver, InsertMethod, InsertWorkload, QueryWorkload};
use crate::transform::{WriteTarget, bind_mysql, bind_sqlite, mysql_packet_limit, write_rows};

/// Why a workload stopped.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Database(#[from] DbError),
    /// The workload cannot run as written (a scratch table that exists, a type pipewright
    /// cannot generate values of, rows that did not all arrive).
    #[error("{0}")]
    Invalid(String),
    #[error("cancelled")]
    Cancelled,
}

/// Rows generated at a time: the generation is not timed, and memory stays bounded whatever
/// the number of rows.
const CHUNK_ROWS: u64 = 10_000;

/// `connect`: open a new connection, run `SELECT 1`, close it.
pub async fn measure_connect(
    spec: &ConnectionSpec,
    warmup: u32,
    iterations: u32,
    cancel: &CancellationToken,
) -> Result<Measurement, BenchError> {
    let mut durations = Vec::with_capacity(iterations as usize);
    for repetition in 0..warmup + iterations {
        if cancel.is_cancelled() {
            return Err(BenchError::Cancelled);
        }
        let started = Instant::now();
        Database::probe(spec).await?;
        if repetition >= warmup {
            durations.push(started.elapsed());
        }
    }
    let timings = Timings::new(&durations);
    let mut measurement = Measurement {
        samples: durations
            .iter()
            .map(|duration| Sample {
                operation: "bench:connect".to_owned(),
                duration: *duration,
                rows: None,
            })
            .collect(),
        ..Measurement::default()
    };
    measurement
        .metrics
        .insert("connect_ms".to_owned(), timings.median());
    measurement
        .metrics
        .insert("connect_min_ms".to_owned(), timings.min());
    measurement
        .metrics
        .insert("connect_max_ms".to_owned(), timings.max());
    Ok(measurement)
}

/// `insert`: for each method, `warmup + iterations` times: create the scratch table (not
/// timed), insert the rows (timed), check they all arrived (not timed). The table is dropped
/// at the end, whatever happened.
pub async fn measure_insert(
    database: &Database,
    workload: &InsertWorkload,
    warmup: u32,
    iterations: u32,
    cancel: &CancellationToken,
    progress: &(dyn Fn(String) + Send + Sync),
) -> Result<Measurement, BenchError> {
    let mut connection = database.acquire().await?;
    let driver = connection.driver();
    let table = InsertTable::new(driver, workload)?;
    if read_table(&mut connection, &workload.table)
        .await?
        .is_some()
    {
        if !workload.default_table {
            return Err(BenchError::Invalid(format!(
                "table `{}` exists; an insert benchmark creates and drops a table of its own: name one that does not exist, or leave `table` out for `pipewright_bench_<step>`",
                workload.table
            )));
        }
        // A leftover of a run that was killed: the default name is pipewright's own.
        connection.run(&table.drop_sql, cancel).await?;
    }
    let packet_limit = if driver == Driver::MySql {
        mysql_packet_limit(&mut connection).await?
    } else {
        0
    };
    let result = async {
        let mut measurement = Measurement {
            rows: Some(workload.rows),
            ..Measurement::default()
        };
        for method in &workload.methods {
            let mut durations = Vec::with_capacity(iterations as usize);
            for repetition in 0..warmup + iterations {
                if cancel.is_cancelled() {
                    return Err(BenchError::Cancelled);
                }
                connection.run(&table.drop_sql, cancel).await?;
                connection.run(&table.create_sql, cancel).await?;
                let elapsed = table
                    .insert(&mut connection, *method, workload, packet_limit, cancel)
                    .await?;
                let arrived = count_rows(&mut connection, &workload.table).await?;
                if arrived != workload.rows {
                    return Err(BenchError::Invalid(format!(
                        "method `{}` inserted {} rows but `{}` holds {arrived}",
                        method.name(),
                        workload.rows,
                        workload.table
                    )));
                }
                if repetition >= warmup {
                    durations.push(elapsed);
                    measurement.samples.push(Sample {
                        operation: format!("bench:insert:{}", method.name()),
                        duration: elapsed,
                        rows: Some(workload.rows),
                    });
                }
            }
            let median = Timings::new(&durations).median();
            progress(format!(
                "{:<11} {} rows in {median:.1} ms (median of {iterations})",
                method.name(),
                workload.rows
            ));
            measurement
                .metrics
                .insert(format!("insert_{}_ms", method.name()), median);
            #[allow(clippy::cast_precision_loss)]
            let rows_per_sec = if median > 0.0 {
                workload.rows as f64 / (median / 1000.0)
            } else {
                0.0
            };
            measurement.metrics.insert(
                format!("insert_{}_rows_per_sec", method.name()),
                rows_per_sec,
            );
        }
        Ok(measurement)
    }
    .await;
    if let Err(error) = connection
        .run(&table.drop_sql, &CancellationToken::new())
        .await
    {
        tracing::warn!(
            "could not drop the scratch table `{}`: {}",
            workload.table,
            crate::error_chain::error_chain(&error)
        );
    }
    result
}

/// The scratch table of an `insert` workload and the statements that fill it.
struct InsertTable {
    driver: Driver,
    types: Vec<LogicalType>,
    columns: Vec<String>,
    create_sql: String,
    drop_sql: String,
    /// `INSERT INTO t (...) VALUES ` and one row's placeholders.
    insert_head: String,
    row_marks: Vec<String>,
}

impl InsertTable {
    fn new(driver: Driver, workload: &InsertWorkload) -> Result<Self, BenchError> {
        let quote = |name: &str| quote_identifier(driver, name);
        let table = quote(&workload.table);
        let mut types = Vec::new();
        let mut definitions = Vec::new();
        for (index, (name, declared)) in workload.columns.iter().enumerate() {
            let column_type = LogicalType::parse(driver, declared);
            if generated_value(&column_type, 1, index == 0).is_none() {
                return Err(BenchError::Invalid(format!(
                    "pipewright cannot generate values of type `{declared}` (column `{name}`)"
                )));
            }
            types.push(column_type);
            definitions.push(format!("{} {declared} NOT NULL", quote(name)));
        }
        let columns: Vec<String> = workload
            .columns
            .iter()
            .map(|(name, _)| name.clone())
            .collect();
        let create_sql = format!(
            "CREATE TABLE {table} ({}, PRIMARY KEY ({}))",
            definitions.join(", "),
            quote(&columns[0])
        );
        let insert_head = format!(
            "INSERT INTO {table} ({}) VALUES ",
            columns
                .iter()
                .map(|column| quote(column))
                .collect::<Vec<_>>()
                .join(", ")
        );
        // PostgreSQL types parameters: a decimal, bound as its text, is cast to its column's
        // type. Everything else is bound with a type the column takes as it is.
        let row_marks = workload
            .columns
            .iter()
            .zip(&types)
            .map(|((_, declared), column_type)| match (driver, column_type) {
                (Driver::Postgres, LogicalType::Decimal { .. }) => format!("CAST(? AS {declared})"),
                _ => "?".to_owned(),
            })
            .collect();
        Ok(Self {
            driver,
            types,
            columns,
            create_sql,
            drop_sql: format!("DROP TABLE IF EXISTS {table}"),
            insert_head,
            row_marks,
        })
    }

    /// `INSERT` of `rows` rows, with the engine's placeholders.
    fn insert_sql(&self, rows: usize) -> String {
        let marks = format!("({})", self.row_marks.join(", "));
        let mut sql = self.insert_head.clone();
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&marks);
        }
        crate::db::placeholders(self.driver, &sql)
    }

    fn generate(&self, first: u64, last: u64) -> Vec<Row> {
        (first..=last)
            .map(|row| {
                self.types
                    .iter()
                    .enumerate()
                    .map(|(index, column_type)| {
                        generated_value(column_type, row, index == 0).unwrap_or(Value::Null)
                    })
                    .collect()
            })
            .collect()
    }

    /// Writes one chunk of rows by `method`: `statements` are the one-row and the batch
    /// `INSERT` and the batch's rows.
    async fn write_chunk(
        &self,
        connection: &mut DbConnection,
        method: InsertMethod,
        rows: &[Row],
        (single, batch, batch_rows): (&str, &str, usize),
        target: &WriteTarget<'_>,
    ) -> Result<(), DbError> {
        match method {
            InsertMethod::Row | InsertMethod::Transaction => {
                for row in rows {
                    execute_rows(connection, single, std::slice::from_ref(row)).await?;
                }
            }
            InsertMethod::Batch => {
                for chunk in rows.chunks(batch_rows) {
                    if chunk.len() == batch_rows {
                        execute_rows(connection, batch, chunk).await?;
                    } else {
                        execute_rows(connection, &self.insert_sql(chunk.len()), chunk).await?;
                    }
                }
            }
            InsertMethod::Bulk => {
                write_rows(connection, target, rows).await?;
            }
        }
        Ok(())
    }

    /// Inserts the workload's rows by `method`; returns the time the writing took (the
    /// generation of the rows not included).
    async fn insert(
        &self,
        connection: &mut DbConnection,
        method: InsertMethod,
        workload: &InsertWorkload,
        packet_limit: usize,
        cancel: &CancellationToken,
    ) -> Result<Duration, BenchError> {
        let single = self.insert_sql(1);
        let batch_rows = workload.batch_rows as usize;
        let batch = self.insert_sql(batch_rows);
        let target = WriteTarget {
            table: &workload.table,
            columns: &self.columns,
            upsert_key: None,
            mysql_packet_limit: packet_limit,
        };
        let transaction = method != InsertMethod::Row;
        let mut timed = Duration::ZERO;
        if transaction {
            let started = Instant::now();
            connection.run("BEGIN", cancel).await?;
            timed += started.elapsed();
        }
        let mut first = 1;
        while first <= workload.rows {
            if cancel.is_cancelled() {
                if transaction {
                    let _ = connection.run("ROLLBACK", &CancellationToken::new()).await;
                }
                return Err(BenchError::Cancelled);
            }
            let last = (first + CHUNK_ROWS - 1).min(workload.rows);
            let rows = self.generate(first, last);
            let started = Instant::now();
            // A timeout or Ctrl-C stops the statement on the server, not after the chunk.
            let written = tokio::select! {
                written = self.write_chunk(connection, method, &rows, (&single, &batch, batch_rows), &target) => written,
                () = cancel.cancelled() => {
                    connection.interrupt().await;
                    return Err(BenchError::Cancelled);
                }
            };
            if let Err(error) = written {
                if transaction {
                    let _ = connection.run("ROLLBACK", &CancellationToken::new()).await;
                }
                return Err(error.into());
            }
            timed += started.elapsed();
            first = last + 1;
        }
        if transaction {
            let started = Instant::now();
            connection.run("COMMIT", cancel).await?;
            timed += started.elapsed();
        }
        Ok(timed)
    }
}

/// Runs one `INSERT` with the values of `rows` bound in order.
async fn execute_rows(
    connection: &mut DbConnection,
    sql: &str,
    rows: &[Row],
) -> Result<(), DbError> {
    let error = |source| DbError::Query {
        context: format!("running `{}`", crate::db::preview(sql)),
        source,
    };
    let values = rows.iter().flatten();
    match connection {
        DbConnection::Postgres { connection, .. } => {
            let mut query = sqlx::query(AssertSqlSafe(sql.to_owned()));
            for value in values {
                query = bind_postgres(query, value);
            }
            query.execute(&mut **connection).await.map_err(error)?;
        }
        DbConnection::MySql { connection, .. } => {
            let mut query = sqlx::query(AssertSqlSafe(sql.to_owned()));
            for value in values {
                query = bind_mysql(query, value);
            }
            query.execute(&mut **connection).await.map_err(error)?;
        }
        DbConnection::Sqlite { connection, .. } => {
            let mut query = sqlx::query(AssertSqlSafe(sql.to_owned()));
            for value in values {
                query = bind_sqlite(query, value);
            }
            query.execute(&mut **connection).await.map_err(error)?;
        }
    }
    Ok(())
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Binds a generated value with a type its PostgreSQL column takes (decimals as text, cast by
/// the statement).
fn bind_postgres<'q>(query: PgQuery<'q>, value: &Value) -> PgQuery<'q> {
    match value {
        Value::Null => query.bind(None::<String>),
        Value::Bool(flag) => query.bind(*flag),
        Value::Int(number) => query.bind(*number),
        Value::UInt(number) => query.bind(i64::try_from(*number).unwrap_or(i64::MAX)),
        Value::Float(float) => query.bind(*float),
        Value::Bytes(bytes) => query.bind(bytes.clone()),
        Value::Date(date) => query.bind(*date),
        Value::Time(time) => query.bind(*time),
        Value::Timestamp(timestamp) => query.bind(*timestamp),
        Value::TimestampTz(timestamp) => query.bind(*timestamp),
        Value::Json(json) => query.bind(sqlx::types::Json(json.clone())),
        Value::Uuid(uuid) => query.bind(*uuid),
        Value::Decimal(text) | Value::Text(text) | Value::Invalid { text, .. } => {
            query.bind(text.as_str().to_owned())
        }
    }
}

/// `query`: the statement run `iterations` times in all by `clients` tasks at once, each on a
/// connection of its own, after `warmup` unmeasured runs per client.
pub async fn measure_query(
    database: &Database,
    workload: &QueryWorkload,
    warmup: u32,
    iterations: u32,
    cancel: &CancellationToken,
) -> Result<Measurement, BenchError> {
    let clients = workload.clients.max(1);
    let mut workload = workload.clone();
    if database.driver() == Driver::Postgres {
        workload.sql = crate::db::numbered_placeholders(&workload.sql);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(clients as usize));
    let workload = Arc::new(workload);
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..clients {
        let database = database.clone();
        let workload = Arc::clone(&workload);
        let barrier = Arc::clone(&barrier);
        let cancel = cancel.clone();
        tasks.spawn(async move {
            let mut connection = database.acquire().await?;
            for repetition in 0..warmup {
                let params = workload.params_for(u64::from(repetition));
                run_query(&mut connection, &workload.sql, &params, &cancel).await?;
            }
            barrier.wait().await;
            let started = Instant::now();
            let mut executions = Vec::new();
            let mut index = client;
            while index < iterations {
                let params = workload.params_for(u64::from(index));
                let began = Instant::now();
                let rows = run_query(&mut connection, &workload.sql, &params, &cancel).await?;
                executions.push((began.elapsed(), rows));
                index += clients;
            }
            Ok::<_, BenchError>((started, Instant::now(), executions))
        });
    }
    let mut executions: Vec<(Duration, u64)> = Vec::with_capacity(iterations as usize);
    let mut first_start: Option<Instant> = None;
    let mut last_end: Option<Instant> = None;
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok((started, ended, client_executions))) => {
                first_start = Some(first_start.map_or(started, |first| first.min(started)));
                last_end = Some(last_end.map_or(ended, |last| last.max(ended)));
                executions.extend(client_executions);
            }
            Ok(Err(error)) => {
                // One client failed: the others are waiting at the barrier or running; stop
                // them all.
                tasks.abort_all();
                failure.get_or_insert(error);
            }
            Err(join) if join.is_cancelled() => {}
            Err(join) => {
                failure.get_or_insert(BenchError::Invalid(format!(
                    "a query client stopped: {join}"
                )));
            }
        }
    }
    if let Some(error) = failure {
        return Err(error);
    }
    let durations: Vec<Duration> = executions.iter().map(|(duration, _)| *duration).collect();
    let timings = Timings::new(&durations);
    let wall = match (first_start, last_end) {
        (Some(start), Some(end)) => end.duration_since(start).as_secs_f64(),
        _ => 0.0,
    };
    let mut measurement = Measurement {
        rows: executions.last().map(|(_, rows)| *rows),
        samples: executions
            .iter()
            .map(|(duration, rows)| Sample {
                operation: "bench:query".to_owned(),
                duration: *duration,
                rows: Some(*rows),
            })
            .collect(),
        ..Measurement::default()
    };
    let metrics = &mut measurement.metrics;
    metrics.insert("query_p50_ms".to_owned(), timings.median());
    metrics.insert("query_min_ms".to_owned(), timings.min());
    metrics.insert("query_p95_ms".to_owned(), timings.percentile(95.0));
    metrics.insert("query_p99_ms".to_owned(), timings.percentile(99.0));
    metrics.insert("query_max_ms".to_owned(), timings.max());
    #[allow(clippy::cast_precision_loss)]
    let per_second = if wall > 0.0 {
        timings.len() as f64 / wall
    } else {
        0.0
    };
    metrics.insert("query_per_sec".to_owned(), per_second);
    Ok(measurement)
}

/// Runs the statement once with `params`, reading (and counting) every row it returns;
/// cancelled on the server when `cancel` fires.
async fn run_query(
    connection: &mut DbConnection,
    sql: &str,
    params: &[serde_json::Value],
    cancel: &CancellationToken,
) -> Result<u64, BenchError> {
    let result = tokio::select! {
        result = fetch_counting(connection, sql, params) => result,
        () = cancel.cancelled() => {
            connection.interrupt().await;
            return Err(BenchError::Cancelled);
        }
    };
    Ok(result?)
}

/// Binds a parameter of the manifest (a string, a number, a boolean) to a query of any engine.
macro_rules! bind_param {
    ($query:expr, $value:expr) => {{
        let query = $query;
        match $value {
            serde_json::Value::Bool(flag) => query.bind(*flag),
            serde_json::Value::Number(number) => match number.as_i64() {
                Some(integer) => query.bind(integer),
                None => query.bind(number.as_f64().unwrap_or(0.0)),
            },
            serde_json::Value::String(text) => query.bind(text.clone()),
            _ => query.bind(None::<String>),
        }
    }};
}

/// Runs a query on one engine's connection and counts the rows it returns.
macro_rules! count_fetched {
    ($connection:expr, $sql:expr, $params:expr, $error:expr) => {{
        let mut query = sqlx::query(AssertSqlSafe($sql.to_owned()));
        for value in $params {
            query = bind_param!(query, value);
        }
        let mut stream = query.fetch(&mut **$connection);
        let mut rows = 0;
        while stream.try_next().await.map_err($error)?.is_some() {
            rows += 1;
        }
        rows
    }};
}

async fn fetch_counting(
    connection: &mut DbConnection,
    sql: &str,
    params: &[serde_json::Value],
) -> Result<u64, DbError> {
    let error = |source| DbError::Query {
        context: format!("running `{}`", crate::db::preview(sql)),
        source,
    };
    Ok(match connection {
        DbConnection::Postgres { connection, .. } => count_fetched!(connection, sql, params, error),
        DbConnection::MySql { connection, .. } => count_fetched!(connection, sql, params, error),
        DbConnection::Sqlite { connection, .. } => count_fetched!(connection, sql, params, error),
    })
}
