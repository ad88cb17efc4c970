//! Reading rows as [`Value`]s, streamed in batches: never a whole table in memory.
//!
//! Columns are selected with per-engine expressions where the driver's own decoding would lose
//! something: decimals as text (every digit), MySQL dates as text (zero dates), JSON as text,
//! types pipewright does not know as text.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use compact_str::ToCompactString as _;
use futures_util::TryStreamExt as _;
use sqlx::{AssertSqlSafe, Row as _, ValueRef as _};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::data::{Column, LogicalType, Row, TableChecksum, Value, row_memory_size};
use crate::db::{DbConnection, DbError, quote_identifier};
use crate::pipeline::Driver;

/// A query that reads rows: the columns it returns, where from, in which order.
#[derive(Debug, Clone)]
pub struct SourceQuery {
    driver: Driver,
    pub columns: Vec<Column>,
    /// `"table" AS pipewright_source` or `(query) AS pipewright_source`.
    relation: String,
    conditions: Vec<String>,
    order_by: Option<String>,
    limit: Option<u64>,
    /// The canonical text of the key values the conditions' `?` compare with (a resume
    /// point).
    pub parameters: Vec<String>,
}

/// The alias of the relation read from: key columns are qualified with it so that `WHERE`
/// and `ORDER BY` always mean the stored column, never a select-list expression of the same
/// name (PostgreSQL and MySQL resolve a bare name to the output column first).
pub const SOURCE_ALIAS: &str = "pipewright_source";

/// MySQL's spatial types: read as their well-known text.
const MYSQL_SPATIAL: [&str; 8] = [
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
];

/// Whether a MySQL column of this declared type is read as the well-known text of its
/// geometry (which no other engine's column, nor a MySQL geometry column, takes as it is).
pub(crate) fn is_mysql_spatial(declared: &str) -> bool {
    let base = declared.trim().to_ascii_lowercase();
    MYSQL_SPATIAL.contains(&base.split('(').next().unwrap_or_default().trim())
}

/// What a source column is read as, when the plain column would lose something.
fn select_expression(driver: Driver, column: &Column) -> String {
    let name = format!("{SOURCE_ALIAS}.{}", quote_identifier(driver, &column.name));
    if driver == Driver::MySql {
        let declared = column.declared.trim().to_ascii_lowercase();
        // sqlx refuses `YEAR` as any integer; the server converts it.
        if declared.starts_with("year") {
            return format!("CAST({name} AS SIGNED)");
        }
        if is_mysql_spatial(&declared) {
            return format!("ST_AsText({name})");
        }
    }
    match (driver, &column.logical) {
        (Driver::Postgres, LogicalType::Decimal { .. } | LogicalType::Other { .. }) => {
            format!("CAST({name} AS TEXT)")
        }
        (
            Driver::MySql,
            LogicalType::Decimal { .. }
            | LogicalType::Date
            | LogicalType::Time { .. }
            | LogicalType::Timestamp { .. }
            | LogicalType::TimestampTz { .. }
            | LogicalType::Json
            | LogicalType::Other { .. },
        ) => format!("CAST({name} AS CHAR)"),
        (Driver::MySql, LogicalType::Bit { .. }) => format!("CAST({name} AS UNSIGNED)"),
        _ => name,
    }
}

/// The placeholder of a key value bound as text, cast to the key column's type where the
/// engine would otherwise compare text with a number.
fn key_placeholder(driver: Driver, column: &Column) -> String {
    match (driver, &column.logical) {
        (Driver::Postgres, _) => format!("CAST(? AS {})", column.declared),
        (Driver::MySql, LogicalType::Int { .. } | LogicalType::Bool) => "CAST(? AS SIGNED)".into(),
        (Driver::MySql, LogicalType::UInt { .. } | LogicalType::Bit { .. }) => {
            "CAST(? AS UNSIGNED)".into()
        }
        (Driver::Sqlite, LogicalType::Int { .. } | LogicalType::Bool) => {
            "CAST(? AS INTEGER)".into()
        }
        (Driver::Sqlite, LogicalType::Float32 | LogicalType::Float64) => "CAST(? AS REAL)".into(),
        // Bytes travel as their canonical `\x...` text.
        (Driver::MySql, LogicalType::Binary { .. }) => "UNHEX(SUBSTRING(?, 3))".into(),
        (Driver::Sqlite, LogicalType::Binary { .. }) => "unhex(substr(?, 3))".into(),
        _ => "?".into(),
    }
}

impl SourceQuery {
    /// Every row of `table`, as `columns`.
    pub fn table(driver: Driver, table: &str, columns: &[Column]) -> Self {
        let relation = format!("{} AS {SOURCE_ALIAS}", quote_identifier(driver, table));
        Self::from_relation(driver, relation, columns)
    }

    /// Every row a query returns, its columns as [`describe_query`](crate::data::describe_query)
    /// reported them.
    pub fn query(driver: Driver, query: &str, columns: &[Column]) -> Self {
        let relation = format!("({}) AS {SOURCE_ALIAS}", query_text(query));
        Self::from_relation(driver, relation, columns)
    }

    fn from_relation(driver: Driver, relation: String, columns: &[Column]) -> Self {
        Self {
            driver,
            columns: columns.to_vec(),
            relation,
            conditions: Vec::new(),
            order_by: None,
            limit: None,
            parameters: Vec::new(),
        }
    }

    /// The statement, with `?` placeholders.
    pub fn sql(&self) -> String {
        let list = self
            .columns
            .iter()
            .map(|column| select_expression(self.driver, column))
            .collect::<Vec<_>>()
            .join(", ");
        let mut sql = format!("SELECT {list} FROM {}", self.relation);
        if !self.conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&self.conditions.join(" AND "));
        }
        if let Some(order) = &self.order_by {
            sql.push_str(" ORDER BY ");
            sql.push_str(order);
        }
        if let Some(limit) = self.limit {
            sql.push_str(" LIMIT ");
            sql.push_str(itoa::Buffer::new().format(limit));
        }
        sql
    }

    fn qualified(&self, column: &Column) -> String {
        format!(
            "{SOURCE_ALIAS}.{}",
            quote_identifier(self.driver, &column.name)
        )
    }

    /// Reads in the order of `key` (columns of the relation), after `after` when given: the
    /// keyset pagination that resumes a copy. `after` holds canonical texts, one per column.
    #[must_use]
    pub fn in_key_order(mut self, key: &[Column], after: Option<Vec<String>>) -> Self {
        if key.is_empty() {
            return self;
        }
        let names = key
            .iter()
            .map(|column| self.qualified(column))
            .collect::<Vec<_>>()
            .join(", ");
        if let Some(values) = after {
            let marks = key
                .iter()
                .map(|column| key_placeholder(self.driver, column))
                .collect::<Vec<_>>()
                .join(", ");
            self.conditions.push(format!("({names}) > ({marks})"));
            self.parameters = values;
        }
        self.order_by = Some(names);
        self
    }

    /// Restricts to the rows where `condition` holds: SQL written against the relation's
    /// columns qualified with [`SOURCE_ALIAS`], without parameters.
    #[must_use]
    pub fn filtered(mut self, condition: String) -> Self {
        self.conditions.push(condition);
        self
    }

    /// At most `rows` rows.
    #[must_use]
    pub fn limited(mut self, rows: u64) -> Self {
        self.limit = Some(rows);
        self
    }

    /// Orders by `order` (SQL), for reading two relations in step.
    #[must_use]
    pub fn ordered_by(mut self, order: String) -> Self {
        self.order_by = Some(order);
        self
    }

    /// Restricts to the rows whose `key` is one of `keys` (canonical texts, one per key
    /// column): reading back a batch just written.
    #[must_use]
    pub fn with_keys(mut self, key: &[Column], keys: &[Vec<String>]) -> Self {
        let names = key
            .iter()
            .map(|column| self.qualified(column))
            .collect::<Vec<_>>()
            .join(", ");
        let tuple = format!(
            "({})",
            key.iter()
                .map(|column| key_placeholder(self.driver, column))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let tuples = vec![tuple; keys.len()].join(", ");
        self.conditions.push(format!("({names}) IN ({tuples})"));
        self.parameters
            .extend(keys.iter().flat_map(|values| values.iter().cloned()));
        self
    }

    /// Restricts to rows whose integer `column` is in `[low, high)` (an open end is `None`):
    /// one range of a parallel copy. The range open at the low end also takes the rows whose
    /// `column` is NULL, so that the ranges together hold every row.
    #[must_use]
    pub fn in_range(mut self, column: &Column, low: Option<i64>, high: Option<i64>) -> Self {
        let name = self.qualified(column);
        match (low, high) {
            (None, None) => {}
            (None, Some(high)) => self
                .conditions
                .push(format!("({name} < {high} OR {name} IS NULL)")),
            (Some(low), None) => self.conditions.push(format!("{name} >= {low}")),
            (Some(low), Some(high)) => self
                .conditions
                .push(format!("{name} >= {low} AND {name} < {high}")),
        }
        self
    }
}

/// A query's text without its final `;`, to nest it.
pub(crate) fn query_text(query: &str) -> &str {
    query.trim().trim_end_matches(';').trim_end()
}

/// Why reading stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("cannot read column `{column}` as {logical}: {message}")]
    Decode {
        column: String,
        logical: LogicalType,
        message: String,
    },
    #[error("the writer stopped")]
    WriterGone,
    #[error("cancelled")]
    Cancelled,
}

/// The count and checksum of the rows `query` returns, read in batches.
pub async fn checksum_query(
    connection: &mut DbConnection,
    query: &SourceQuery,
    cancel: &CancellationToken,
) -> Result<TableChecksum, ReadError> {
    const BATCH: usize = 5_000;
    let (sender, mut receiver) = mpsc::channel::<Vec<Row>>(2);
    // Hashing is the heavier half: it runs on a thread of its own while rows are read.
    let summing = tokio::task::spawn_blocking(move || {
        let mut checksum = TableChecksum::default();
        while let Some(rows) = receiver.blocking_recv() {
            for row in &rows {
                checksum.add(row);
            }
        }
        checksum
    });
    let read = read_batches(connection, query, BATCH, &sender, cancel).await;
    drop(sender);
    let checksum = summing.await.map_err(|join| ReadError::Decode {
        column: String::new(),
        logical: LogicalType::Other {
            name: "checksum".to_owned(),
        },
        message: format!("the checksum stopped: {join}"),
    })?;
    read?;
    Ok(checksum)
}

/// The count and checksum of a whole table, read with its catalog's column types; `None` if
/// the table does not exist. Tables of the same rows on different engines have the same
/// checksum.
pub async fn checksum_table(
    connection: &mut DbConnection,
    table: &str,
    cancel: &CancellationToken,
) -> Result<Option<TableChecksum>, ReadError> {
    let Some(schema) = crate::data::read_table(connection, table).await? else {
        return Ok(None);
    };
    let query = SourceQuery::table(connection.driver(), table, &schema.columns);
    checksum_query(connection, &query, cancel).await.map(Some)
}

/// Starts reading `query` on a connection of its own, in a task of its own, into a channel
/// of `channel` batches: the reader works on another thread than whoever consumes the rows.
pub fn spawn_reader(
    database: &crate::db::Database,
    query: SourceQuery,
    batch_size: usize,
    channel: usize,
    cancel: &CancellationToken,
) -> (
    mpsc::Receiver<Vec<Row>>,
    tokio::task::JoinHandle<Result<u64, ReadError>>,
) {
    let (sender, receiver) = mpsc::channel(channel);
    let database = database.clone();
    let cancel = cancel.clone();
    let handle = tokio::spawn(async move {
        let mut connection = database.acquire().await?;
        let result = read_batches(&mut connection, &query, batch_size, &sender, &cancel).await;
        if result.is_err() {
            // A result set read halfway must not go back to the pool.
            connection.close_on_drop();
        }
        result
    });
    (receiver, handle)
}

/// The most memory the values of one batch take (by [`Value::memory_size`]), whatever its
/// row count: a batch of wide rows ends early. With the batches a copy holds at once (about
/// seven: being read, two waiting, being converted, two encoded, being written), this keeps
/// a copy of 1 MB blobs within tens of megabytes, as one of narrow rows.
pub(crate) const BATCH_BYTES: usize = 4 << 20;

/// Streams the rows of `query` to `sender` in batches of `batch_size` rows, or fewer when
/// they reach [`BATCH_BYTES`]; returns how many rows were read. The channel's bound is the
/// memory bound: the reader waits for the writer.
pub async fn read_batches(
    connection: &mut DbConnection,
    query: &SourceQuery,
    batch_size: usize,
    sender: &mpsc::Sender<Vec<Row>>,
    cancel: &CancellationToken,
) -> Result<u64, ReadError> {
    let driver = connection.driver();
    let sql = crate::db::placeholders(driver, &query.sql());
    let columns = &query.columns;
    let mut rows = 0_u64;
    // A large `batch_size` of narrow rows grows its vector; it is not reserved up front.
    let capacity = batch_size.min(1 << 14);
    let mut batch = Vec::with_capacity(capacity);
    let mut batch_bytes = 0;
    macro_rules! stream {
        ($connection:expr, $decode:ident) => {{
            let mut statement = sqlx::query(AssertSqlSafe(sql.clone()));
            for parameter in &query.parameters {
                statement = statement.bind(parameter.clone());
            }
            let mut stream = statement.fetch(&mut **$connection);
            loop {
                let next = tokio::select! {
                    next = stream.try_next() => next,
                    () = cancel.cancelled() => return Err(ReadError::Cancelled),
                };
                let Some(row) = next.map_err(|source| DbError::Query {
                    context: format!("reading `{}`", crate::db::preview(&sql)),
                    source,
                })?
                else {
                    break;
                };
                let row = $decode(&row, columns)?;
                batch_bytes += row_memory_size(&row);
                batch.push(row);
                rows += 1;
                if batch.len() == batch_size || batch_bytes >= BATCH_BYTES {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(capacity));
                    batch_bytes = 0;
                    sender.send(full).await.map_err(|_| ReadError::WriterGone)?;
                }
            }
        }};
    }
    match connection {
        DbConnection::Postgres { connection, .. } => stream!(connection, decode_postgres),
        DbConnection::MySql { connection, .. } => stream!(connection, decode_mysql),
        DbConnection::Sqlite { connection, .. } => stream!(connection, decode_sqlite),
    }
    if !batch.is_empty() {
        sender
            .send(batch)
            .await
            .map_err(|_| ReadError::WriterGone)?;
    }
    Ok(rows)
}

fn decode_error(column: &Column, error: impl std::fmt::Display) -> ReadError {
    ReadError::Decode {
        column: column.name.clone(),
        logical: column.logical.clone(),
        message: error.to_string(),
    }
}

/// The column's type is known from the catalog (and the select expressions make it so), so
/// values are decoded without sqlx's per-value type check, which costs more than the
/// decoding itself; the decoders still reject malformed values.
fn decode_postgres(row: &sqlx::postgres::PgRow, columns: &[Column]) -> Result<Row, ReadError> {
    let mut values = Vec::with_capacity(columns.len());
    for (index, column) in columns.iter().enumerate() {
        let error = |error: sqlx::Error| decode_error(column, error);
        let value = match &column.logical {
            LogicalType::Bool => row
                .try_get_unchecked::<Option<bool>, _>(index)
                .map_err(error)?
                .map(Value::Bool),
            LogicalType::Int { bytes: 1 | 2 } => row
                .try_get_unchecked::<Option<i16>, _>(index)
                .map_err(error)?
                .map(|value| Value::Int(value.into())),
            LogicalType::Int { bytes: 4 } => row
                .try_get_unchecked::<Option<i32>, _>(index)
                .map_err(error)?
                .map(|value| Value::Int(value.into())),
            LogicalType::Int { .. } | LogicalType::UInt { .. } | LogicalType::Bit { .. } => row
                .try_get_unchecked::<Option<i64>, _>(index)
                .map_err(error)?
                .map(Value::Int),
            LogicalType::Decimal { .. } => row
                .try_get_unchecked::<Option<&str>, _>(index)
                .map_err(error)?
                .map(|text| Value::Decimal(text.into())),
            LogicalType::Float32 => row
                .try_get_unchecked::<Option<f32>, _>(index)
                .map_err(error)?
                .map(|value| Value::Float(value.into())),
            LogicalType::Float64 => row
                .try_get_unchecked::<Option<f64>, _>(index)
                .map_err(error)?
                .map(Value::Float),
            LogicalType::Text { .. }
            | LogicalType::Enum { .. }
            | LogicalType::Set { .. }
            | LogicalType::Other { .. } => row
                .try_get_unchecked::<Option<&str>, _>(index)
                .map_err(error)?
                .map(|text| Value::Text(text.into())),
            LogicalType::Binary { .. } => row
                .try_get_unchecked::<Option<Vec<u8>>, _>(index)
                .map_err(error)?
                .map(Value::Bytes),
            LogicalType::Date => row
                .try_get_unchecked::<Option<NaiveDate>, _>(index)
                .map_err(error)?
                .map(Value::Date),
            LogicalType::Time { .. } => row
                .try_get_unchecked::<Option<NaiveTime>, _>(index)
                .map_err(error)?
                .map(Value::Time),
            LogicalType::Timestamp { .. } => row
                .try_get_unchecked::<Option<NaiveDateTime>, _>(index)
                .map_err(error)?
                .map(Value::Timestamp),
            LogicalType::TimestampTz { .. } => row
                .try_get_unchecked::<Option<DateTime<Utc>>, _>(index)
                .map_err(error)?
                .map(Value::TimestampTz),
            LogicalType::Json => row
                .try_get_unchecked::<Option<serde_json::Value>, _>(index)
                .map_err(error)?
                .map(|json| Value::Json(Box::new(json))),
            LogicalType::Uuid => row
                .try_get_unchecked::<Option<uuid::Uuid>, _>(index)
                .map_err(error)?
                .map(Value::Uuid),
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(values)
}

fn decode_mysql(row: &sqlx::mysql::MySqlRow, columns: &[Column]) -> Result<Row, ReadError> {
    let mut values = Vec::with_capacity(columns.len());
    for (index, column) in columns.iter().enumerate() {
        let error = |error: sqlx::Error| decode_error(column, error);
        // Borrowed from the row: parsed, or copied into an inline `CompactString`.
        let borrowed = || {
            row.try_get_unchecked::<Option<&str>, _>(index)
                .map_err(error)
        };
        let value = match &column.logical {
            // `tinyint(1)` holds -128 to 127: the target's type decides whether it is a
            // boolean, and a 2 is not silently `true`.
            LogicalType::Bool | LogicalType::Int { .. } => row
                .try_get_unchecked::<Option<i64>, _>(index)
                .map_err(error)?
                .map(Value::Int),
            LogicalType::UInt { .. } | LogicalType::Bit { .. } => row
                .try_get_unchecked::<Option<u64>, _>(index)
                .map_err(error)?
                .map(Value::UInt),
            LogicalType::Decimal { .. } => borrowed()?.map(|text| Value::Decimal(text.into())),
            LogicalType::Float32 => row
                .try_get_unchecked::<Option<f32>, _>(index)
                .map_err(error)?
                .map(|value| Value::Float(value.into())),
            LogicalType::Float64 => row
                .try_get_unchecked::<Option<f64>, _>(index)
                .map_err(error)?
                .map(Value::Float),
            LogicalType::Text { .. }
            | LogicalType::Enum { .. }
            | LogicalType::Set { .. }
            | LogicalType::Other { .. }
            | LogicalType::Uuid => borrowed()?.map(|text| Value::Text(text.into())),
            LogicalType::Binary { .. } => row
                .try_get_unchecked::<Option<Vec<u8>>, _>(index)
                .map_err(error)?
                .map(Value::Bytes),
            LogicalType::Date => borrowed()?.map(parse_date),
            LogicalType::Time { .. } => borrowed()?.map(parse_time),
            LogicalType::Timestamp { .. } => borrowed()?.map(parse_timestamp),
            // MySQL returns a TIMESTAMP in the session's zone, which pipewright sets to UTC.
            LogicalType::TimestampTz { .. } => {
                borrowed()?.map(|text| match parse_timestamp(text) {
                    Value::Timestamp(timestamp) => Value::TimestampTz(timestamp.and_utc()),
                    other => other,
                })
            }
            LogicalType::Json => borrowed()?.map(parse_json),
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(values)
}

fn decode_sqlite(row: &sqlx::sqlite::SqliteRow, columns: &[Column]) -> Result<Row, ReadError> {
    let mut values = Vec::with_capacity(columns.len());
    for (index, column) in columns.iter().enumerate() {
        let error = |error: sqlx::Error| decode_error(column, error);
        let raw = row.try_get_raw(index).map_err(error)?;
        if raw.is_null() {
            values.push(Value::Null);
            continue;
        }
        // SQLite stores what it was given: the storage class decides how to read it.
        let info = raw.type_info();
        let value = match sqlx::TypeInfo::name(&*info) {
            "INTEGER" => {
                let integer: i64 = row.try_get_unchecked(index).map_err(error)?;
                match &column.logical {
                    LogicalType::Bool => Value::Bool(integer != 0),
                    LogicalType::Decimal { .. } => Value::Decimal(integer.to_compact_string()),
                    LogicalType::Float32 | LogicalType::Float64 => integer_as_float(integer),
                    LogicalType::Text { .. } => Value::Text(integer.to_compact_string()),
                    LogicalType::Timestamp { .. } | LogicalType::TimestampTz { .. } => {
                        DateTime::from_timestamp(integer, 0).map_or_else(
                            || invalid(&integer.to_string(), "not a time"),
                            Value::TimestampTz,
                        )
                    }
                    _ => Value::Int(integer),
                }
            }
            "REAL" => {
                let real: f64 = row.try_get_unchecked(index).map_err(error)?;
                match &column.logical {
                    LogicalType::Text { .. } => {
                        Value::Text(crate::data::canonical_float(real).into())
                    }
                    _ => Value::Float(real),
                }
            }
            "BLOB" => {
                let bytes: Vec<u8> = row.try_get_unchecked(index).map_err(error)?;
                match &column.logical {
                    LogicalType::Uuid if bytes.len() == 16 => {
                        Value::Uuid(uuid::Uuid::from_slice(&bytes).unwrap_or_default())
                    }
                    LogicalType::Text { .. } => String::from_utf8(bytes).map_or_else(
                        |error| Value::Bytes(error.into_bytes()),
                        |text| Value::Text(text.into()),
                    ),
                    _ => Value::Bytes(bytes),
                }
            }
            _ => {
                let text: String = row.try_get_unchecked(index).map_err(error)?;
                match &column.logical {
                    LogicalType::Date => parse_date(&text),
                    LogicalType::Time { .. } => parse_time(&text),
                    LogicalType::Timestamp { .. } => parse_timestamp(&text),
                    LogicalType::TimestampTz { .. } => parse_timestamp_tz(&text),
                    LogicalType::Json => parse_json(&text),
                    LogicalType::Uuid => uuid::Uuid::parse_str(&text)
                        .map_or_else(|_| invalid(&text, "not a UUID"), Value::Uuid),
                    // SQLite stores text in a decimal column as it is: a number is a decimal,
                    // anything else stays text (below).
                    LogicalType::Decimal { .. } if is_plain_number(&text) => {
                        Value::Decimal(text.into())
                    }
                    LogicalType::Bool => match text.to_ascii_lowercase().as_str() {
                        "true" | "t" | "1" => Value::Bool(true),
                        "false" | "f" | "0" => Value::Bool(false),
                        _ => invalid(&text, "not a boolean"),
                    },
                    _ => Value::Text(text.into()),
                }
            }
        };
        values.push(value);
    }
    Ok(values)
}

/// An integer SQLite stored in a float column: its float, which is exact up to 2^53, as the
/// column's type says it is.
#[allow(clippy::cast_precision_loss)]
fn integer_as_float(integer: i64) -> Value {
    Value::Float(integer as f64)
}

/// `-12.50`, `7`: digits, a sign, one point.
fn is_plain_number(text: &str) -> bool {
    let digits = text.trim().trim_start_matches(['-', '+']);
    let (integer, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    !(integer.is_empty() && fraction.is_empty())
        && integer.bytes().all(|byte| byte.is_ascii_digit())
        && fraction.bytes().all(|byte| byte.is_ascii_digit())
}

fn invalid(text: &str, reason: &'static str) -> Value {
    Value::Invalid {
        text: text.into(),
        reason,
    }
}

/// `YYYY-MM-DD`; MySQL's zero dates (`0000-00-00`, `2025-00-10`) are invalid values.
/// The number the ASCII digits of `bytes` write, if they are all digits.
fn number(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 9 {
        return None;
    }
    bytes.iter().try_fold(0_u32, |value, byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + u32::from(byte - b'0'))
    })
}

/// `YYYY-MM-DD` without chrono's general parser (the common case, read millions of times).
fn quick_date(bytes: &[u8]) -> Option<NaiveDate> {
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(
        i32::try_from(number(&bytes[..4])?).ok()?,
        number(&bytes[5..7])?,
        number(&bytes[8..10])?,
    )
}

/// `HH:MM:SS` with an optional fraction of up to 9 digits.
fn quick_time(bytes: &[u8]) -> Option<NaiveTime> {
    if bytes.len() < 8 || bytes[2] != b':' || bytes[5] != b':' {
        return None;
    }
    let nanos = match &bytes[8..] {
        [] => 0,
        [b'.', fraction @ ..] if !fraction.is_empty() => {
            number(fraction)? * 10_u32.pow(9 - u32::try_from(fraction.len()).ok()?)
        }
        _ => return None,
    };
    NaiveTime::from_hms_nano_opt(
        number(&bytes[..2])?,
        number(&bytes[3..5])?,
        number(&bytes[6..8])?,
        nanos,
    )
}

/// A date and time separated by a space or `T`.
fn quick_timestamp(bytes: &[u8]) -> Option<NaiveDateTime> {
    if bytes.len() < 19 || !matches!(bytes[10], b' ' | b'T') {
        return None;
    }
    Some(quick_date(&bytes[..10])?.and_time(quick_time(&bytes[11..])?))
}

pub(crate) fn parse_date(text: &str) -> Value {
    if let Some(date) = quick_date(text.as_bytes()) {
        return Value::Date(date);
    }
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_or_else(
        |_| {
            invalid(
                text,
                if text.starts_with("0000") {
                    "a zero date"
                } else {
                    "not a date"
                },
            )
        },
        Value::Date,
    )
}

pub(crate) fn parse_time(text: &str) -> Value {
    if let Some(time) = quick_time(text.as_bytes()) {
        return Value::Time(time);
    }
    NaiveTime::parse_from_str(text.trim(), "%H:%M:%S%.f")
        .map_or_else(|_| invalid(text, "not a time of day"), Value::Time)
}

pub(crate) fn parse_timestamp(text: &str) -> Value {
    if let Some(timestamp) = quick_timestamp(text.as_bytes()) {
        return Value::Timestamp(timestamp);
    }
    let trimmed = text.trim();
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(timestamp) = NaiveDateTime::parse_from_str(trimmed, format) {
            return Value::Timestamp(timestamp);
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        return Value::Timestamp(date.and_time(NaiveTime::MIN));
    }
    invalid(
        text,
        if trimmed.starts_with("0000") {
            "a zero date"
        } else {
            "not a date and time"
        },
    )
}

pub(crate) fn parse_timestamp_tz(text: &str) -> Value {
    let trimmed = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(trimmed) {
        return Value::TimestampTz(at.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M:%S%.fZ",
    ] {
        if let Ok(at) = DateTime::parse_from_str(trimmed, format) {
            return Value::TimestampTz(at.with_timezone(&Utc));
        }
    }
    match parse_timestamp(trimmed) {
        Value::Timestamp(naive) => Value::TimestampTz(naive.and_utc()),
        other => other,
    }
}

fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).map_or_else(
        |_| invalid(text, "not JSON"),
        |json| Value::Json(Box::new(json)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, logical: LogicalType) -> Column {
        Column {
            name: name.to_owned(),
            logical,
            nullable: true,
            declared: String::new(),
        }
    }

    #[test]
    fn selects_lossless_expressions_per_engine() {
        let columns = [
            column(
                "close",
                LogicalType::Decimal {
                    precision: Some(12),
                    scale: Some(4),
                },
            ),
            column("day", LogicalType::Date),
            column("id", LogicalType::Int { bytes: 8 }),
        ];
        let mysql = SourceQuery::table(Driver::MySql, "bars", &columns)
            .in_key_order(&columns[2..], Some(vec!["5".into()]));
        assert_eq!(
            mysql.sql(),
            "SELECT CAST(pipewright_source.`close` AS CHAR), CAST(pipewright_source.`day` AS CHAR), pipewright_source.`id` FROM `bars` AS pipewright_source WHERE (pipewright_source.`id`) > (CAST(? AS SIGNED)) ORDER BY pipewright_source.`id`"
        );
        assert_eq!(mysql.parameters, ["5"]);
        let postgres = SourceQuery::query(Driver::Postgres, "select * from x;\n", &columns)
            .in_range(&columns[2], Some(10), None);
        let first = SourceQuery::table(Driver::Sqlite, "t", &columns[2..]).in_range(
            &columns[2],
            None,
            Some(10),
        );
        assert!(
            first.sql().ends_with(
                "WHERE (pipewright_source.\"id\" < 10 OR pipewright_source.\"id\" IS NULL)"
            ),
            "the first range takes the NULL keys: {}",
            first.sql()
        );
        assert_eq!(
            postgres.sql(),
            "SELECT CAST(pipewright_source.\"close\" AS TEXT), pipewright_source.\"day\", pipewright_source.\"id\" FROM (select * from x) AS pipewright_source WHERE pipewright_source.\"id\" >= 10"
        );
    }

    #[test]
    fn the_quick_parsers_agree_with_chrono() {
        for text in [
            "2025-01-02",
            "0001-12-31",
            "9999-12-31",
            "2024-02-29",
            "2025-02-29",
            "2025-13-01",
            "2025-1-02",
            " 2025-01-02",
        ] {
            let chrono = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok();
            assert_eq!(
                parse_date(text),
                chrono.map_or_else(|| parse_date(text), Value::Date),
                "{text}"
            );
            if let Some(quick) = quick_date(text.as_bytes()) {
                assert_eq!(Some(quick), chrono, "{text}");
            }
        }
        for text in [
            "12:34:56",
            "12:34:56.5",
            "12:34:56.123456",
            "23:59:59.999999999",
            "24:00:00",
            "1:02:03",
            "12:34:56.",
        ] {
            let chrono = NaiveTime::parse_from_str(text, "%H:%M:%S%.f").ok();
            assert_eq!(quick_time(text.as_bytes()).or(chrono), chrono, "{text}");
        }
        assert_eq!(
            parse_timestamp("2025-01-02T03:04:05.25"),
            Value::Timestamp(
                NaiveDate::from_ymd_opt(2025, 1, 2)
                    .unwrap()
                    .and_hms_milli_opt(3, 4, 5, 250)
                    .unwrap()
            )
        );
    }

    #[test]
    fn zero_dates_are_invalid_values_not_errors() {
        assert_eq!(
            parse_date("0000-00-00"),
            Value::Invalid {
                text: "0000-00-00".into(),
                reason: "a zero date"
            }
        );
        assert!(matches!(
            parse_timestamp("0000-00-00 00:00:00"),
            Value::Invalid {
                reason: "a zero date",
                ..
            }
        ));
        assert_eq!(
            parse_date("2025-01-02"),
            Value::Date(NaiveDate::from_ymd_opt(2025, 1, 2).unwrap())
        );
        assert!(matches!(
            parse_timestamp_tz("2025-01-02 03:04:05+00:00"),
            Value::TimestampTz(_)
        ));
        assert!(matches!(
            parse_timestamp_tz("2025-01-02T03:04:05Z"),
            Value::TimestampTz(_)
        ));
    }
}
