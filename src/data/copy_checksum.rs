//! The checksum of a PostgreSQL table read through `COPY ... TO STDOUT`: the server writes its
//! text format at full speed and each field's canonical text is made from it directly, with
//! no row decoding in between. It gives the same checksum as reading [`Value`]s and hashing
//! their canonical text (the tests hold the two side by side), at a fraction of the cost: a
//! copy is verified by reading everything it wrote back.
//!
//! [`Value`]: crate::data::Value

use futures_util::TryStreamExt as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::data::row_reader::{parse_date, parse_time, parse_timestamp_tz};
use crate::data::table_checksum::RowHasher;
use crate::data::value::{canonical_json, write_canonical_decimal, write_date, write_time};
use crate::data::{Column, LogicalType, ReadError, TableChecksum, Value};
use crate::db::{DbConnection, DbError, quote_identifier};
use crate::pipeline::Driver;

/// The size of the chunks of `COPY` text handed to the thread that parses them.
const CHUNK: usize = 256 * 1024;

/// What takes the rows of `COPY ... TO STDOUT` text, one line at a time, on a thread of its
/// own.
pub(crate) trait CopyRows: Send + 'static {
    /// One row: its line, without the newline (fields split by tabs, `\N` for NULL,
    /// backslash escapes as [`unescape_bytes`] undoes them).
    fn row(&mut self, line: &[u8]);
}

/// Runs `sql`, a `COPY (...) TO STDOUT` in text format, on `connection` and hands each row
/// to `rows` on a blocking thread while the next chunks arrive; `rows` back once the server
/// has sent everything. `context` names what is read in errors.
pub(crate) async fn copy_rows<R: CopyRows>(
    connection: &mut DbConnection,
    sql: &str,
    context: &str,
    rows: R,
    cancel: &CancellationToken,
) -> Result<R, ReadError> {
    let failed = |source| {
        ReadError::Database(DbError::Query {
            context: context.to_owned(),
            source,
        })
    };
    let DbConnection::Postgres { connection, .. } = connection else {
        return Err(failed(sqlx::Error::Protocol(
            "COPY needs a PostgreSQL connection".to_owned(),
        )));
    };
    let (sender, mut receiver) = mpsc::channel::<Vec<u8>>(8);
    let parsing = tokio::task::spawn_blocking(move || {
        let mut lines = Lines {
            rows,
            pending: Vec::new(),
        };
        while let Some(chunk) = receiver.blocking_recv() {
            lines.feed(&chunk);
        }
        lines.finish()
    });
    let mut stream = connection.copy_out_raw(sql).await.map_err(failed)?;
    // PostgreSQL sends a message per row: they are gathered into large chunks, so that the
    // parsing thread wakes once per chunk, not once per row.
    let read: Result<(), ReadError> = async {
        let mut buffer = Vec::with_capacity(CHUNK + 4096);
        loop {
            let chunk = tokio::select! {
                chunk = stream.try_next() => chunk.map_err(failed)?,
                () = cancel.cancelled() => return Err(ReadError::Cancelled),
            };
            let Some(chunk) = chunk else {
                if !buffer.is_empty() {
                    let _ = sender.send(buffer).await;
                }
                return Ok(());
            };
            buffer.extend_from_slice(&chunk);
            if buffer.len() >= CHUNK {
                let full = std::mem::replace(&mut buffer, Vec::with_capacity(CHUNK + 4096));
                if sender.send(full).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
    .await;
    drop(stream);
    drop(sender);
    let rows = parsing.await.map_err(|join| ReadError::Decode {
        column: String::new(),
        logical: LogicalType::Other {
            name: "COPY".to_owned(),
        },
        message: format!("reading the rows stopped: {join}"),
    })?;
    read?;
    Ok(rows)
}

/// `COPY` text as it arrives in chunks, cut into its lines.
struct Lines<R> {
    rows: R,
    /// The start of a line whose end has not arrived yet.
    pending: Vec<u8>,
}

impl<R: CopyRows> Lines<R> {
    fn feed(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        if !self.pending.is_empty() {
            let Some(end) = rest.iter().position(|byte| *byte == b'\n') else {
                self.pending.extend_from_slice(rest);
                return;
            };
            self.pending.extend_from_slice(&rest[..end]);
            let line = std::mem::take(&mut self.pending);
            self.rows.row(&line);
            rest = &rest[end + 1..];
        }
        while let Some(end) = rest.iter().position(|byte| *byte == b'\n') {
            self.rows.row(&rest[..end]);
            rest = &rest[end + 1..];
        }
        self.pending.extend_from_slice(rest);
    }

    fn finish(mut self) -> R {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.rows.row(&line);
        }
        self.rows
    }
}

/// The count and checksum of `columns` of `table` on PostgreSQL, read with `COPY`.
pub async fn checksum_postgres_table(
    connection: &mut DbConnection,
    table: &str,
    columns: &[Column],
    cancel: &CancellationToken,
) -> Result<TableChecksum, ReadError> {
    let list = columns
        .iter()
        .map(|column| quote_identifier(Driver::Postgres, &column.name))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "COPY (SELECT {list} FROM {}) TO STDOUT",
        quote_identifier(Driver::Postgres, table)
    );
    let types: Vec<LogicalType> = columns
        .iter()
        .map(|column| column.logical.clone())
        .collect();
    let hasher = copy_rows(
        connection,
        &sql,
        &format!("reading `{table}` with COPY"),
        CopyTextHasher::new(types),
        cancel,
    )
    .await?;
    Ok(hasher.checksum)
}

/// Hashes each row of `COPY` text: the canonical text of each field, as its column's type
/// reads.
struct CopyTextHasher {
    types: Vec<LogicalType>,
    checksum: TableChecksum,
    field: String,
    canonical: String,
    hasher: RowHasher,
}

impl CopyTextHasher {
    fn new(types: Vec<LogicalType>) -> Self {
        Self {
            types,
            checksum: TableChecksum::default(),
            field: String::new(),
            canonical: String::new(),
            hasher: RowHasher::default(),
        }
    }
}

impl CopyRows for CopyTextHasher {
    fn row(&mut self, line: &[u8]) {
        let hasher = &mut self.hasher;
        for (index, field) in line.split(|byte| *byte == b'\t').enumerate() {
            if field == b"\\N" {
                hasher.null();
                continue;
            }
            unescape(field, &mut self.field);
            self.canonical.clear();
            let logical = self
                .types
                .get(index)
                .unwrap_or(&LogicalType::Text { max_length: None });
            canonical_from_text(logical, &self.field, &mut self.canonical);
            hasher.value(&self.canonical);
        }
        self.checksum.rows += 1;
        self.checksum.sum = self.checksum.sum.wrapping_add(hasher.finish());
    }
}

/// A field of `COPY` text without its backslash escapes, as text.
fn unescape(field: &[u8], out: &mut String) {
    out.clear();
    // Valid UTF-8 (what the server sends) is taken as it is; `from_utf8_lossy` only for the
    // rest, it is slower on the common case.
    let push = |out: &mut String, bytes: &[u8]| match std::str::from_utf8(bytes) {
        Ok(text) => out.push_str(text),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    };
    if !field.contains(&b'\\') {
        push(out, field);
        return;
    }
    let mut bytes = Vec::with_capacity(field.len());
    unescape_bytes(field, &mut bytes);
    push(out, &bytes);
}

/// A field of `COPY` text without its backslash escapes, appended to `out`: the bytes the
/// server holds.
pub(crate) fn unescape_bytes(field: &[u8], out: &mut Vec<u8>) {
    let mut index = 0;
    while index < field.len() {
        let byte = field[index];
        index += 1;
        if byte != b'\\' || index == field.len() {
            out.push(byte);
            continue;
        }
        let escaped = field[index];
        index += 1;
        match escaped {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut value = u32::from(escaped - b'0');
                for _ in 0..2 {
                    match field.get(index) {
                        Some(digit @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(digit - b'0');
                            index += 1;
                        }
                        _ => break,
                    }
                }
                out.push(u8::try_from(value & 0xff).unwrap_or_default());
            }
            other => out.push(other),
        }
    }
}

/// The canonical text of a value PostgreSQL wrote as `text` in a column of type `logical`,
/// appended to `out`: the same as [`Value::write_canonical`] of the value the row reader
/// would have decoded.
fn canonical_from_text(logical: &LogicalType, text: &str, out: &mut String) {
    let value = match logical {
        LogicalType::Bool => {
            out.push(if text == "t" { '1' } else { '0' });
            return;
        }
        LogicalType::Decimal { .. } => {
            write_canonical_decimal(text, out);
            return;
        }
        LogicalType::Float32 => match text.parse::<f32>() {
            Ok(float) => Value::Float(f64::from(float)),
            Err(_) => return out.push_str(text),
        },
        LogicalType::Float64 => match text.parse::<f64>() {
            Ok(float) => Value::Float(float),
            Err(_) => return out.push_str(text),
        },
        LogicalType::Date => {
            if let Some(date) = postgres_date(text) {
                write_date(date, out);
            } else {
                out.push_str(text);
            }
            return;
        }
        LogicalType::Time { .. } => match parse_time(text) {
            Value::Time(time) => {
                write_time(time, out);
                return;
            }
            _ => return out.push_str(text),
        },
        LogicalType::Timestamp { .. } => {
            let (body, bc) = split_era(text);
            match crate::data::row_reader::parse_timestamp(body) {
                Value::Timestamp(timestamp) => Value::Timestamp(if bc {
                    before_christ(timestamp.date()).and_time(timestamp.time())
                } else {
                    timestamp
                }),
                _ => return out.push_str(text),
            }
        }
        LogicalType::TimestampTz { .. } => {
            let (body, bc) = split_era(text);
            match parse_timestamp_tz(body) {
                Value::TimestampTz(at) if bc => {
                    let naive = at.naive_utc();
                    Value::TimestampTz(before_christ(naive.date()).and_time(naive.time()).and_utc())
                }
                Value::TimestampTz(at) => Value::TimestampTz(at),
                _ => return out.push_str(text),
            }
        }
        LogicalType::Json => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(json) => {
                out.push_str(&canonical_json(&json));
                return;
            }
            Err(_) => return out.push_str(text),
        },
        // Integers, text, bytes (`\x...`, lower-case hex), UUIDs and the types read as text
        // are written by PostgreSQL as their canonical text already.
        _ => {
            out.push_str(text);
            return;
        }
    };
    value.write_canonical(out);
}

/// `text` without a trailing ` BC`, and whether it had one.
fn split_era(text: &str) -> (&str, bool) {
    match text.strip_suffix(" BC") {
        Some(body) => (body, true),
        None => (text, false),
    }
}

/// The date PostgreSQL wrote as year `y` BC: year `1 - y` of the proleptic calendar.
fn before_christ(date: chrono::NaiveDate) -> chrono::NaiveDate {
    use chrono::Datelike as _;
    date.with_year(1 - date.year()).unwrap_or(date)
}

/// A date as PostgreSQL writes it: `YYYY-MM-DD`, more year digits after 9999, ` BC` before
/// year 1.
fn postgres_date(text: &str) -> Option<chrono::NaiveDate> {
    let (body, bc) = split_era(text);
    let date = match parse_date(body) {
        Value::Date(date) => date,
        _ => {
            let mut parts = body.splitn(3, '-');
            let year: i32 = parts.next()?.parse().ok()?;
            let month: u32 = parts.next()?.parse().ok()?;
            let day: u32 = parts.next()?.parse().ok()?;
            chrono::NaiveDate::from_ymd_opt(year, month, day)?
        }
    };
    Some(if bc { before_christ(date) } else { date })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    /// The text PostgreSQL writes for a value, and the value the row reader decodes.
    #[allow(clippy::needless_pass_by_value)]
    fn agrees(logical: LogicalType, text: &str, value: Value) {
        let mut from_text = String::new();
        canonical_from_text(&logical, text, &mut from_text);
        assert_eq!(Some(from_text), value.canonical(), "{logical} `{text}`");
    }

    #[test]
    fn copy_text_gives_the_canonical_text_of_the_value() {
        agrees(LogicalType::Bool, "t", Value::Bool(true));
        agrees(
            LogicalType::Int { bytes: 8 },
            "-9223372036854775808",
            Value::Int(i64::MIN),
        );
        let money = LogicalType::Decimal {
            precision: Some(12),
            scale: Some(4),
        };
        agrees(
            money.clone(),
            "1488.0000",
            Value::Decimal("1488.0000".into()),
        );
        agrees(money, "-0.5000", Value::Decimal("-0.5000".into()));
        agrees(
            LogicalType::Float32,
            "0.1",
            Value::Float(f64::from(0.1_f32)),
        );
        agrees(LogicalType::Float64, "0.1", Value::Float(0.1));
        agrees(
            LogicalType::Float64,
            "-Infinity",
            Value::Float(f64::NEG_INFINITY),
        );
        agrees(LogicalType::Float64, "1e-300", Value::Float(1e-300));
        let date = NaiveDate::from_ymd_opt(2025, 1, 2).unwrap();
        agrees(LogicalType::Date, "2025-01-02", Value::Date(date));
        agrees(
            LogicalType::Date,
            "0045-03-15 BC",
            Value::Date(NaiveDate::from_ymd_opt(-44, 3, 15).unwrap()),
        );
        agrees(
            LogicalType::Date,
            "12345-01-01",
            Value::Date(NaiveDate::from_ymd_opt(12_345, 1, 1).unwrap()),
        );
        let noon = date.and_hms_micro_opt(12, 0, 0, 500_000).unwrap();
        agrees(
            LogicalType::Timestamp { precision: 6 },
            "2025-01-02 12:00:00.5",
            Value::Timestamp(noon),
        );
        agrees(
            LogicalType::TimestampTz { precision: 6 },
            "2025-01-02 12:00:00.5+00",
            Value::TimestampTz(noon.and_utc()),
        );
        agrees(
            LogicalType::Time { precision: 6 },
            "23:59:59.999999",
            Value::Time(chrono::NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap()),
        );
        agrees(
            LogicalType::Json,
            r#"{"b": [1, 2], "a": "é"}"#,
            Value::Json(Box::new(serde_json::json!({"a": "é", "b": [1, 2]}))),
        );
        agrees(
            LogicalType::Binary { max_length: None },
            "\\x00ff",
            Value::Bytes(vec![0, 255]),
        );
        agrees(
            LogicalType::Text { max_length: None },
            "",
            Value::Text("".into()),
        );
    }

    #[test]
    fn escapes_and_chunks_are_undone() {
        let mut field = String::new();
        unescape(b"tab\\there\\nnew \\\\ line \\101", &mut field);
        assert_eq!(field, "tab\there\nnew \\ line A");
        let lines = || Lines {
            rows: CopyTextHasher::new(vec![
                LogicalType::Int { bytes: 8 },
                LogicalType::Text { max_length: None },
            ]),
            pending: Vec::new(),
        };
        let data = b"1\ta\\tb\n2\t\\N\n3\t\n";
        let mut whole = lines();
        whole.feed(data);
        let mut pieces = lines();
        for piece in data.chunks(3) {
            pieces.feed(piece);
        }
        let mut expected = TableChecksum::default();
        expected.add(&[Value::Int(1), Value::Text("a\tb".into())]);
        expected.add(&[Value::Int(2), Value::Null]);
        expected.add(&[Value::Int(3), Value::Text("".into())]);
        assert_eq!(whole.finish().checksum, expected);
        assert_eq!(pieces.finish().checksum, expected);
    }
}
