//! Writing rows in bulk, the fastest way each engine takes them: `COPY ... FROM STDIN` on
//! PostgreSQL, multi-row `INSERT` statements on MySQL (under the placeholder and packet
//! limits) and SQLite (prepared, cached, inside the caller's transaction).

use std::fmt::Write as _;
use std::io::Write as _;

use chrono::{Datelike as _, NaiveDate, NaiveTime, Timelike as _};
use sqlx::AssertSqlSafe;

use crate::data::{Row, Value};
use crate::db::{DbConnection, DbError, quote_identifier};
use crate::pipeline::Driver;

/// The most `?` one MySQL statement takes.
const MYSQL_MAX_PLACEHOLDERS: usize = 65_535;
/// The most `?` one SQLite statement takes (`SQLITE_MAX_VARIABLE_NUMBER` since 3.32).
const SQLITE_MAX_PLACEHOLDERS: usize = 32_766;
/// Rows per SQLite statement: beyond this, longer statements stop paying off.
const SQLITE_MAX_ROWS: usize = 500;

/// Where rows go and what happens on a key conflict.
#[derive(Debug, Clone)]
pub(crate) struct WriteTarget<'a> {
    pub table: &'a str,
    pub columns: &'a [String],
    /// Upsert on these columns: a row whose key exists updates it.
    pub upsert_key: Option<&'a [String]>,
    /// MySQL: the statement size the server accepts (`max_allowed_packet`).
    pub mysql_packet_limit: usize,
}

/// Writes `rows` (values already converted to the target's types) into the target; returns
/// how many the server took.
pub(crate) async fn write_rows(
    connection: &mut DbConnection,
    target: &WriteTarget<'_>,
    rows: &[Row],
) -> Result<u64, DbError> {
    if rows.is_empty() {
        return Ok(0);
    }
    match connection {
        DbConnection::Postgres { connection, .. } => {
            if target.upsert_key.is_some() {
                postgres_upsert(connection, target, rows).await
            } else {
                copy_into(connection, target.table, target.columns, rows).await
            }
        }
        DbConnection::MySql { connection, .. } => {
            let per_statement = (MYSQL_MAX_PLACEHOLDERS / target.columns.len().max(1)).max(1);
            let mut written = 0;
            let mut start = 0;
            while start < rows.len() {
                let mut end = (start + per_statement).min(rows.len());
                // Keep each statement under the packet limit, by the rows' encoded size.
                let mut size = 0;
                for (offset, row) in rows[start..end].iter().enumerate() {
                    size += row_size(row);
                    if size > target.mysql_packet_limit / 2 && offset > 0 {
                        end = start + offset;
                        break;
                    }
                }
                let sql = insert_sql(Driver::MySql, target, end - start);
                let mut query = sqlx::query(AssertSqlSafe(sql.clone()));
                for row in &rows[start..end] {
                    for value in row {
                        query = bind_mysql(query, value);
                    }
                }
                written += query
                    .execute(&mut **connection)
                    .await
                    .map_err(|source| write_error(target.table, source))?
                    .rows_affected();
                start = end;
            }
            Ok(written.min(rows.len() as u64))
        }
        DbConnection::Sqlite { connection, .. } => {
            let per_statement =
                (SQLITE_MAX_PLACEHOLDERS / target.columns.len().max(1)).clamp(1, SQLITE_MAX_ROWS);
            let mut written = 0;
            for chunk in rows.chunks(per_statement) {
                let sql = insert_sql(Driver::Sqlite, target, chunk.len());
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for row in chunk {
                    for value in row {
                        query = bind_sqlite(query, value);
                    }
                }
                written += query
                    .execute(&mut **connection)
                    .await
                    .map_err(|source| write_error(target.table, source))?
                    .rows_affected();
            }
            Ok(written)
        }
    }
}

fn write_error(table: &str, source: sqlx::Error) -> DbError {
    DbError::Query {
        context: format!("writing rows into `{table}`"),
        source,
    }
}

/// A rough size of a row in a statement, for the packet limit.
fn row_size(row: &Row) -> usize {
    row.iter()
        .map(|value| match value {
            Value::Text(text) | Value::Decimal(text) => text.len() + 8,
            Value::Bytes(bytes) => bytes.len() + 8,
            Value::Json(json) => json.to_string().len() + 8,
            _ => 16,
        })
        .sum()
}

/// `INSERT INTO t (a, b) VALUES (?, ?), (?, ?) ...` with the engine's upsert clause.
fn insert_sql(driver: Driver, target: &WriteTarget<'_>, rows: usize) -> String {
    let quote = |name: &str| quote_identifier(driver, name);
    let columns = target
        .columns
        .iter()
        .map(|column| quote(column))
        .collect::<Vec<_>>()
        .join(", ");
    let marks = format!("({})", vec!["?"; target.columns.len()].join(", "));
    let mut sql = String::with_capacity(64 + rows * (marks.len() + 2));
    let _ = write!(
        sql,
        "INSERT INTO {} ({columns}) VALUES ",
        quote(target.table)
    );
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&marks);
    }
    if let Some(key) = target.upsert_key {
        let updated: Vec<&String> = target
            .columns
            .iter()
            .filter(|column| !key.contains(column))
            .collect();
        match driver {
            Driver::MySql => {
                // With nothing but the key, an update that changes nothing keeps the row.
                let first_key = quote(&key[0]);
                let assignments = if updated.is_empty() {
                    format!("{first_key} = {first_key}")
                } else {
                    updated
                        .iter()
                        .map(|column| format!("{0} = VALUES({0})", quote(column)))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let _ = write!(sql, " ON DUPLICATE KEY UPDATE {assignments}");
            }
            Driver::Sqlite | Driver::Postgres => {
                let key_list = key
                    .iter()
                    .map(|column| quote(column))
                    .collect::<Vec<_>>()
                    .join(", ");
                if updated.is_empty() {
                    let _ = write!(sql, " ON CONFLICT ({key_list}) DO NOTHING");
                } else {
                    let assignments = updated
                        .iter()
                        .map(|column| format!("{0} = excluded.{0}", quote(column)))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let _ = write!(sql, " ON CONFLICT ({key_list}) DO UPDATE SET {assignments}");
                }
            }
        }
    }
    sql
}

pub(crate) type MySqlQuery<'q> = sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>;
pub(crate) type SqliteQuery<'q> =
    sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

pub(crate) fn bind_mysql<'q>(query: MySqlQuery<'q>, value: &Value) -> MySqlQuery<'q> {
    match value {
        Value::Null => query.bind(None::<String>),
        Value::Bool(flag) => query.bind(*flag),
        Value::Int(number) => query.bind(*number),
        Value::UInt(number) => query.bind(*number),
        Value::Float(float) => query.bind(*float),
        Value::Bytes(bytes) => query.bind(bytes.clone()),
        Value::Date(date) => query.bind(*date),
        Value::Time(time) => query.bind(*time),
        Value::Timestamp(timestamp) => query.bind(*timestamp),
        // DATETIME columns hold the instant's UTC time (the session's zone is UTC).
        Value::TimestampTz(timestamp) => query.bind(timestamp.naive_utc()),
        Value::Json(json) => query.bind(json.to_string()),
        Value::Uuid(uuid) => query.bind(uuid.hyphenated().to_string()),
        Value::Decimal(text) | Value::Text(text) | Value::Invalid { text, .. } => {
            query.bind(text.as_str().to_owned())
        }
    }
}

pub(crate) fn bind_sqlite<'q>(query: SqliteQuery<'q>, value: &Value) -> SqliteQuery<'q> {
    match value {
        Value::Null => query.bind(None::<String>),
        Value::Bool(flag) => query.bind(i64::from(*flag)),
        Value::Int(number) => query.bind(*number),
        Value::UInt(number) => match i64::try_from(*number) {
            Ok(number) => query.bind(number),
            // Beyond SQLite's integers: the digits as text.
            Err(_) => query.bind(number.to_string()),
        },
        Value::Float(float) => query.bind(*float),
        Value::Bytes(bytes) => query.bind(bytes.clone()),
        Value::Json(json) => query.bind(json.to_string()),
        // Dates, times and decimals as their canonical text: ISO 8601 (instants in UTC, with
        // `Z`), every digit. Keys are looked up by the same text.
        Value::TimestampTz(_)
        | Value::Decimal(_)
        | Value::Date(_)
        | Value::Time(_)
        | Value::Timestamp(_)
        | Value::Uuid(_) => query.bind(value.canonical()),
        Value::Text(text) | Value::Invalid { text, .. } => query.bind(text.as_str().to_owned()),
    }
}

/// `COPY table (columns) FROM STDIN` with the rows in PostgreSQL's text format.
async fn copy_into(
    connection: &mut sqlx::PgConnection,
    table: &str,
    columns: &[String],
    rows: &[Row],
) -> Result<u64, DbError> {
    let statement = copy_statement(table, columns, "");
    let data = encode_copy_text(rows);
    let mut copy = connection
        .copy_in_raw(&statement)
        .await
        .map_err(|source| write_error(table, source))?;
    copy.send(data)
        .await
        .map_err(|source| write_error(table, source))?;
    copy.finish()
        .await
        .map_err(|source| write_error(table, source))
}

/// A `COPY ... FROM STDIN` in progress on a PostgreSQL connection: batches are sent as they
/// are ready, and the server takes them as they come.
pub(crate) struct CopyStream<'c> {
    copy: sqlx::postgres::PgCopyIn<&'c mut sqlx::PgConnection>,
    table: String,
}

impl<'c> CopyStream<'c> {
    /// Starts `COPY table (columns) FROM STDIN` followed by `options` (the format).
    pub(crate) async fn begin(
        connection: &'c mut DbConnection,
        table: &str,
        columns: &[String],
        options: &str,
    ) -> Result<Self, DbError> {
        let DbConnection::Postgres { connection, .. } = connection else {
            return Err(DbError::Query {
                context: format!("`COPY` into `{table}` needs PostgreSQL"),
                source: sqlx::Error::Protocol("not a PostgreSQL connection".to_owned()),
            });
        };
        let copy = connection
            .copy_in_raw(&copy_statement(table, columns, options))
            .await
            .map_err(|source| write_error(table, source))?;
        Ok(Self {
            copy,
            table: table.to_owned(),
        })
    }

    pub(crate) async fn send(&mut self, data: Vec<u8>) -> Result<(), DbError> {
        self.copy
            .send(data)
            .await
            .map(|_| ())
            .map_err(|source| write_error(&self.table, source))
    }

    /// Ends the `COPY`: the rows are in.
    pub(crate) async fn finish(self) -> Result<u64, DbError> {
        let table = self.table;
        self.copy
            .finish()
            .await
            .map_err(|source| write_error(&table, source))
    }

    /// Abandons the `COPY`: the server discards every row it took.
    pub(crate) async fn abort(self) {
        let _ = self.copy.abort("pipewright stopped the copy").await;
    }
}

impl std::fmt::Debug for CopyStream<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "CopyStream({})", self.table)
    }
}

fn copy_statement(table: &str, columns: &[String], options: &str) -> String {
    let quote = |name: &str| quote_identifier(Driver::Postgres, name);
    format!(
        "COPY {} ({}) FROM STDIN{options}",
        quote(table),
        columns
            .iter()
            .map(|column| quote(column))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The name of the session's temporary table an upsert copies a batch into.
const UPSERT_BATCH_TABLE: &str = "pipewright_upsert_batch";

/// An upsert on PostgreSQL: the batch is copied into a temporary table, then merged with
/// `INSERT ... SELECT ... ON CONFLICT DO UPDATE`.
async fn postgres_upsert(
    connection: &mut sqlx::PgConnection,
    target: &WriteTarget<'_>,
    rows: &[Row],
) -> Result<u64, DbError> {
    let quote = |name: &str| quote_identifier(Driver::Postgres, name);
    let columns = target
        .columns
        .iter()
        .map(|column| quote(column))
        .collect::<Vec<_>>()
        .join(", ");
    // Made anew for each batch: the session may have upserted into another table before.
    let prepare = format!(
        "DROP TABLE IF EXISTS pg_temp.{batch}; CREATE TEMPORARY TABLE {batch} AS SELECT {columns} FROM {table} WITH NO DATA",
        batch = quote(UPSERT_BATCH_TABLE),
        table = quote(target.table),
    );
    sqlx::raw_sql(AssertSqlSafe(prepare))
        .execute(&mut *connection)
        .await
        .map_err(|source| write_error(target.table, source))?;
    copy_into(connection, UPSERT_BATCH_TABLE, target.columns, rows).await?;
    let merge = insert_sql(Driver::Postgres, target, 0).replacen(
        " VALUES ",
        &format!(" SELECT {columns} FROM {}", quote(UPSERT_BATCH_TABLE)),
        1,
    );
    let result = sqlx::raw_sql(AssertSqlSafe(merge))
        .execute(&mut *connection)
        .await
        .map_err(|source| write_error(target.table, source))?;
    Ok(result.rows_affected())
}

/// Rows in `COPY`'s text format: tab-separated, `\N` for NULL, backslash escapes.
pub fn encode_copy_text(rows: &[Row]) -> Vec<u8> {
    let mut data = Vec::with_capacity(rows.len() * 64);
    for row in rows {
        encode_copy_text_row(&mut data, row);
    }
    data
}

/// One row of [`encode_copy_text`], appended to `data`.
pub(crate) fn encode_copy_text_row(data: &mut Vec<u8>, row: &[Value]) {
    for (index, value) in row.iter().enumerate() {
        if index > 0 {
            data.push(b'\t');
        }
        encode_copy_value(data, value);
    }
    data.push(b'\n');
}

fn escape_copy_text(buffer: &mut Vec<u8>, text: &str) {
    for byte in text.bytes() {
        match byte {
            b'\\' => buffer.extend_from_slice(b"\\\\"),
            b'\t' => buffer.extend_from_slice(b"\\t"),
            b'\n' => buffer.extend_from_slice(b"\\n"),
            b'\r' => buffer.extend_from_slice(b"\\r"),
            other => buffer.push(other),
        }
    }
}

/// A date, optionally with a time of day and UTC's offset, as PostgreSQL reads it: years
/// BC end in ` BC` (year 0 is 1 BC).
fn write_postgres_datetime(
    buffer: &mut Vec<u8>,
    date: NaiveDate,
    time: Option<NaiveTime>,
    utc: bool,
) -> std::io::Result<()> {
    let year = date.year();
    let shown = if year <= 0 { 1 - year } else { year };
    write!(buffer, "{shown:04}-{:02}-{:02}", date.month(), date.day())?;
    if let Some(time) = time {
        buffer.push(b' ');
        write_postgres_time(buffer, time)?;
    }
    if utc {
        buffer.extend_from_slice(b"+00");
    }
    if year <= 0 {
        buffer.extend_from_slice(b" BC");
    }
    Ok(())
}

fn write_postgres_time(buffer: &mut Vec<u8>, time: NaiveTime) -> std::io::Result<()> {
    write!(
        buffer,
        "{:02}:{:02}:{:02}.{:06}",
        time.hour(),
        time.minute(),
        time.second(),
        (time.nanosecond() / 1_000).min(999_999)
    )
}

fn encode_copy_value(buffer: &mut Vec<u8>, value: &Value) {
    let _ = match value {
        Value::Null => {
            buffer.extend_from_slice(b"\\N");
            Ok(())
        }
        Value::Bool(flag) => {
            buffer.push(if *flag { b't' } else { b'f' });
            Ok(())
        }
        Value::Int(number) => {
            buffer.extend_from_slice(itoa::Buffer::new().format(*number).as_bytes());
            Ok(())
        }
        Value::UInt(number) => {
            buffer.extend_from_slice(itoa::Buffer::new().format(*number).as_bytes());
            Ok(())
        }
        Value::Float(float) if float.is_nan() => write!(buffer, "NaN"),
        Value::Float(float) if float.is_infinite() => {
            write!(
                buffer,
                "{}",
                if *float > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                }
            )
        }
        Value::Float(float) => write!(buffer, "{float}"),
        Value::Decimal(text) => {
            buffer.extend_from_slice(text.as_bytes());
            Ok(())
        }
        Value::Text(text) | Value::Invalid { text, .. } => {
            escape_copy_text(buffer, text);
            Ok(())
        }
        Value::Bytes(bytes) => {
            buffer.extend_from_slice(b"\\\\x");
            for byte in bytes {
                let _ = write!(buffer, "{byte:02x}");
            }
            Ok(())
        }
        Value::Date(date) => write_postgres_datetime(buffer, *date, None, false),
        Value::Time(time) => write_postgres_time(buffer, *time),
        Value::Timestamp(timestamp) => {
            write_postgres_datetime(buffer, timestamp.date(), Some(timestamp.time()), false)
        }
        Value::TimestampTz(timestamp) => {
            let naive = timestamp.naive_utc();
            write_postgres_datetime(buffer, naive.date(), Some(naive.time()), true)
        }
        Value::Json(json) => {
            escape_copy_text(buffer, &json.to_string());
            Ok(())
        }
        Value::Uuid(uuid) => write!(buffer, "{}", uuid.hyphenated()),
    };
}

/// `max_allowed_packet` of a MySQL session; a conservative default elsewhere.
pub(crate) async fn mysql_packet_limit(connection: &mut DbConnection) -> Result<usize, DbError> {
    if connection.driver() != Driver::MySql {
        return Ok(16 * 1024 * 1024);
    }
    let rows: Vec<(i64,)> = connection
        .fetch_all("SELECT CAST(@@max_allowed_packet AS SIGNED)", Vec::new())
        .await?;
    Ok(rows
        .first()
        .and_then(|(limit,)| usize::try_from(*limit).ok())
        .unwrap_or(4 * 1024 * 1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_would_end_a_field() {
        let rows = vec![vec![
            Value::Int(1),
            Value::Text("tab\there\nnew \\ line".into()),
            Value::Null,
            Value::Text("".into()),
            Value::Bytes(vec![0, 255]),
            Value::Bool(true),
            Value::Date(NaiveDate::from_ymd_opt(-44, 3, 15).unwrap()),
        ]];
        assert_eq!(
            String::from_utf8(encode_copy_text(&rows)).unwrap(),
            "1\ttab\\there\\nnew \\\\ line\t\\N\t\t\\\\x00ff\tt\t0045-03-15 BC\n"
        );
    }

    #[test]
    fn inserts_carry_the_engines_upsert_clause() {
        let columns = ["id".to_owned(), "close".to_owned()];
        let key = ["id".to_owned()];
        let target = WriteTarget {
            table: "bars",
            columns: &columns,
            upsert_key: Some(&key),
            mysql_packet_limit: 1 << 24,
        };
        assert_eq!(
            insert_sql(Driver::MySql, &target, 2),
            "INSERT INTO `bars` (`id`, `close`) VALUES (?, ?), (?, ?) ON DUPLICATE KEY UPDATE `close` = VALUES(`close`)"
        );
        assert_eq!(
            insert_sql(Driver::Sqlite, &target, 1),
            "INSERT INTO \"bars\" (\"id\", \"close\") VALUES (?, ?) ON CONFLICT (\"id\") DO UPDATE SET \"close\" = excluded.\"close\""
        );
    }
}
