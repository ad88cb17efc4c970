//! A row's canonical text for the range checksums of a reconciliation: the same text for
//! the same values on PostgreSQL and MySQL, whatever their declared types.
//!
//! The text is the row's items joined by `,`: integers and dates as they are, decimals with
//! the larger of the two sides' declared scales (`numeric(12,4)` on one side and
//! `DECIMAL(18,6)` on the other both write `11.430000`), instants as UTC `YYYY-MM-DD
//! HH:MM:SS.ffffff`, booleans as `1`/`0`, a text as its length in characters then the text.
//! A NULL writes no item, and the text ends with one `1` or `0` per nullable column saying
//! which values were NULL, so that no two rows write the same text.
//!
//! MySQL writes the text itself, in SQL (and hashes it there); for PostgreSQL, which would
//! spend more writing it than sending its fields, pipewright writes it from the fields
//! `COPY` sends. The integration tests hold the two side by side.

use crate::data::{Column, LogicalType, SOURCE_ALIAS, unescape_bytes};
use crate::db::quote_identifier;
use crate::pipeline::Driver;

/// How one column's values are written, so that two columns holding equal values on
/// PostgreSQL and MySQL write the same text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// An integer, or a decimal of the common scale, as the server writes it.
    Plain,
    /// A number written with exactly this many fraction digits.
    Scaled(u32),
    /// A number without trailing fraction zeros (a scale that is not declared on one side).
    Trimmed,
    /// Its length in characters, `,`, the text.
    Text,
    Date,
    /// Date and UTC time with six fraction digits.
    Timestamp,
    /// `1` or `0`.
    Bool,
}

/// The declared scale of a number column: 0 for an integer, `None` when it is not fixed.
fn scale(logical: &LogicalType) -> Option<u32> {
    match logical {
        LogicalType::Int { .. } | LogicalType::UInt { .. } => Some(0),
        LogicalType::Decimal { scale, .. } => *scale,
        _ => None,
    }
}

/// How `mine` is written so that it hashes like `theirs`; `None` for a pair no text makes
/// alike on both engines (a float, bytes, JSON, two different kinds).
fn format(mine: &LogicalType, theirs: &LogicalType) -> Option<Format> {
    use LogicalType::{Bool, Date, Decimal, Enum, Int, Text, Timestamp, TimestampTz, UInt};
    Some(match (mine, theirs) {
        (Int { .. } | UInt { .. }, Int { .. } | UInt { .. }) => Format::Plain,
        (Int { .. } | UInt { .. } | Decimal { .. }, Int { .. } | UInt { .. } | Decimal { .. }) => {
            match (scale(mine), scale(theirs)) {
                // MySQL writes at most 30 fraction digits.
                (Some(own), Some(other)) if own.max(other) <= 30 => {
                    if own >= other {
                        Format::Plain
                    } else {
                        Format::Scaled(other)
                    }
                }
                _ => Format::Trimmed,
            }
        }
        (Text { .. } | Enum { .. }, Text { .. } | Enum { .. }) => Format::Text,
        (Date, Date) => Format::Date,
        (Timestamp { .. } | TimestampTz { .. }, Timestamp { .. } | TimestampTz { .. }) => {
            Format::Timestamp
        }
        (Bool, Bool) => Format::Bool,
        _ => return None,
    })
}

/// One column of the text.
#[derive(Debug, Clone)]
struct Part {
    /// The column, qualified with the relation's alias.
    name: String,
    format: Format,
    /// Whether the text says if the value is NULL (the column is nullable on either side).
    null_flag: bool,
}

/// How the rows of one table are written, to hash like the rows of the other.
#[derive(Debug, Clone)]
pub(super) struct RowText {
    driver: Driver,
    parts: Vec<Part>,
}

impl RowText {
    /// The text of `columns` on `driver`, matched with the other side's `theirs`; `None` on
    /// SQLite, or when a column pair has no text both engines write alike.
    pub(super) fn new(driver: Driver, columns: &[Column], theirs: &[Column]) -> Option<Self> {
        if driver == Driver::Sqlite {
            return None;
        }
        let parts = columns
            .iter()
            .zip(theirs)
            .map(|(column, other)| {
                Some(Part {
                    name: format!("{SOURCE_ALIAS}.{}", quote_identifier(driver, &column.name)),
                    format: format(&column.logical, &other.logical)?,
                    null_flag: column.nullable || other.nullable,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self { driver, parts })
    }

    /// MySQL: the text as an SQL expression. A text in another character set than UTF-8
    /// hashes differently from PostgreSQL's: its ranges are read and compared, not trusted.
    /// Connections run in UTC, so a `TIMESTAMP` writes its UTC time.
    pub(super) fn mysql_sql(&self) -> String {
        let mut items = Vec::new();
        let mut nulls = Vec::new();
        for Part {
            name,
            format,
            null_flag,
        } in &self.parts
        {
            if *format == Format::Text {
                items.push(format!("CHAR_LENGTH({name})"));
            }
            items.push(mysql_item(name, *format));
            if *null_flag {
                nulls.push(format!("ISNULL({name})"));
            }
        }
        if !nulls.is_empty() {
            items.push(format!("CONCAT({})", nulls.join(", ")));
        }
        format!("CONCAT_WS(',', {})", items.join(", "))
    }

    /// PostgreSQL: the select list of the fields [`write`](Self::write) makes the text of.
    /// The values as `COPY` writes them, a text column as `text` (a `char(n)` without its
    /// padding, as MySQL reads it).
    pub(super) fn postgres_fields(&self) -> String {
        self.parts
            .iter()
            .map(|part| match part.format {
                Format::Text => format!("CAST({} AS TEXT)", part.name),
                _ => part.name.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Appends to `out` the text of a row PostgreSQL sent as `fields` (`COPY` text, the
    /// fields of [`postgres_fields`](Self::postgres_fields) joined by tabs). pipewright's
    /// connections run with `DateStyle` ISO and `TimeZone` UTC: dates come as
    /// `YYYY-MM-DD`, instants as `YYYY-MM-DD HH:MM:SS[.ffffff][+00]`. A value written some
    /// other way (a date BC, `infinity`, `NaN`) only makes its range differ, to be read.
    pub(super) fn write(&self, fields: &[u8], scratch: &mut Scratch, out: &mut Vec<u8>) {
        debug_assert_eq!(self.driver, Driver::Postgres);
        let Scratch { value, nulls } = scratch;
        nulls.clear();
        let mut first = true;
        let mut item = |out: &mut Vec<u8>| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
        };
        for (part, field) in self.parts.iter().zip(fields.split(|byte| *byte == b'\t')) {
            let null = field == b"\\N";
            if part.null_flag {
                nulls.push(if null { b'1' } else { b'0' });
            }
            if null {
                continue;
            }
            value.clear();
            unescape_bytes(field, value);
            item(out);
            match part.format {
                Format::Plain | Format::Date => out.extend_from_slice(value),
                Format::Scaled(scale) => write_scaled(value, scale, out),
                Format::Trimmed => write_trimmed(value, out),
                Format::Text => {
                    let characters = value.iter().filter(|byte| **byte & 0xc0 != 0x80).count();
                    out.extend_from_slice(itoa::Buffer::new().format(characters).as_bytes());
                    item(out);
                    out.extend_from_slice(value);
                }
                Format::Timestamp => write_timestamp(value, out),
                Format::Bool => out.push(match value.as_slice() {
                    b"t" => b'1',
                    b"f" => b'0',
                    _ => b'?',
                }),
            }
        }
        if !nulls.is_empty() {
            item(out);
            out.extend_from_slice(nulls);
        }
    }
}

/// Buffers [`RowText::write`] reuses from row to row.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    value: Vec<u8>,
    nulls: Vec<u8>,
}

/// MySQL: the item of column `name` written as `format` (after its length, for a text).
fn mysql_item(name: &str, format: Format) -> String {
    match format {
        Format::Plain | Format::Date | Format::Bool | Format::Text => name.to_owned(),
        Format::Scaled(scale) => format!("CAST({name} AS DECIMAL(65, {scale}))"),
        Format::Trimmed => {
            let text = format!("CAST({name} AS CHAR)");
            format!(
                "CASE WHEN LOCATE('.', {text}) > 0 \
                 THEN TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM {text})) ELSE {text} END"
            )
        }
        Format::Timestamp => format!("DATE_FORMAT({name}, '%Y-%m-%d %H:%i:%s.%f')"),
    }
}

/// A number with exactly `scale` fraction digits; its own are never more (its declared
/// scale is the smaller).
fn write_scaled(number: &[u8], scale: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(number);
    let digits = match number.iter().position(|byte| *byte == b'.') {
        Some(point) => number.len() - point - 1,
        None => {
            if scale > 0 {
                out.push(b'.');
            }
            0
        }
    };
    let wanted = usize::try_from(scale).unwrap_or(usize::MAX);
    out.resize(out.len() + wanted.saturating_sub(digits), b'0');
}

/// A number without trailing fraction zeros, nor a point left alone.
fn write_trimmed(number: &[u8], out: &mut Vec<u8>) {
    let mut end = number.len();
    if number.contains(&b'.') {
        while end > 0 && number[end - 1] == b'0' {
            end -= 1;
        }
        if end > 0 && number[end - 1] == b'.' {
            end -= 1;
        }
    }
    out.extend_from_slice(&number[..end]);
}

/// An instant with six fraction digits, without PostgreSQL's `+00` for UTC.
fn write_timestamp(instant: &[u8], out: &mut Vec<u8>) {
    let instant = instant.strip_suffix(b"+00").unwrap_or(instant);
    out.extend_from_slice(instant);
    // `YYYY-MM-DD HH:MM:SS` and, after the seconds, a point and up to six digits.
    let digits = match instant.iter().rposition(|byte| *byte == b'.') {
        Some(point) if instant.len() - point <= 7 => instant.len() - point - 1,
        _ => {
            out.push(b'.');
            0
        }
    };
    out.resize(out.len() + 6usize.saturating_sub(digits), b'0');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, logical: LogicalType, nullable: bool) -> Column {
        Column {
            name: name.to_owned(),
            declared: String::new(),
            logical,
            nullable,
        }
    }

    fn decimal(scale: Option<u32>) -> LogicalType {
        LogicalType::Decimal {
            precision: Some(18),
            scale,
        }
    }

    #[test]
    fn numbers_are_written_with_the_larger_declared_scale() {
        let int = LogicalType::Int { bytes: 8 };
        assert_eq!(format(&int, &int), Some(Format::Plain));
        assert_eq!(
            format(&decimal(Some(4)), &decimal(Some(6))),
            Some(Format::Scaled(6))
        );
        assert_eq!(
            format(&decimal(Some(6)), &decimal(Some(4))),
            Some(Format::Plain)
        );
        assert_eq!(format(&int, &decimal(Some(2))), Some(Format::Scaled(2)));
        assert_eq!(
            format(&decimal(None), &decimal(Some(2))),
            Some(Format::Trimmed)
        );
        assert_eq!(
            format(&decimal(Some(2)), &decimal(Some(31))),
            Some(Format::Trimmed)
        );
    }

    #[test]
    fn only_kinds_both_engines_write_alike_are_hashed() {
        let int = LogicalType::Int { bytes: 8 };
        assert_eq!(format(&LogicalType::Float64, &LogicalType::Float64), None);
        assert_eq!(
            format(&LogicalType::Date, &LogicalType::Timestamp { precision: 6 }),
            None
        );
        assert_eq!(
            format(
                &LogicalType::Text { max_length: None },
                &LogicalType::Enum { values: Vec::new() }
            ),
            Some(Format::Text)
        );
        let id = column("id", int, false);
        let ids = std::slice::from_ref(&id);
        assert!(RowText::new(Driver::Sqlite, ids, ids).is_none());
        let float = [column("id", LogicalType::Float64, false)];
        assert!(RowText::new(Driver::MySql, &float, &float).is_none());
    }

    /// A PostgreSQL table of every format, against a MySQL one: what MySQL is asked to
    /// write, and what pipewright writes from PostgreSQL's fields.
    fn both_sides() -> (RowText, RowText) {
        let postgres = [
            column("id", LogicalType::Int { bytes: 8 }, false),
            column("price", decimal(Some(4)), true),
            column("ratio", decimal(None), true),
            column("name", LogicalType::Text { max_length: None }, true),
            column("day", LogicalType::Date, false),
            column("seen", LogicalType::TimestampTz { precision: 6 }, false),
            column("open", LogicalType::Bool, false),
        ];
        let mysql = [
            column("id", LogicalType::UInt { bytes: 8 }, false),
            column("price", decimal(Some(6)), true),
            column("ratio", decimal(Some(2)), true),
            column("name", LogicalType::Enum { values: Vec::new() }, false),
            column("day", LogicalType::Date, false),
            column("seen", LogicalType::Timestamp { precision: 3 }, false),
            column("open", LogicalType::Bool, false),
        ];
        (
            RowText::new(Driver::Postgres, &postgres, &mysql).unwrap(),
            RowText::new(Driver::MySql, &mysql, &postgres).unwrap(),
        )
    }

    fn written(text: &RowText, fields: &[u8]) -> String {
        let mut out = Vec::new();
        text.write(fields, &mut Scratch::default(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn mysql_writes_the_text_in_sql() {
        let (_, mysql) = both_sides();
        let s = "pipewright_source";
        assert_eq!(
            mysql.mysql_sql(),
            format!(
                "CONCAT_WS(',', {s}.`id`, {s}.`price`, CASE WHEN LOCATE('.', CAST({s}.`ratio` AS CHAR)) > 0 \
                 THEN TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM CAST({s}.`ratio` AS CHAR))) ELSE CAST({s}.`ratio` AS CHAR) END, \
                 CHAR_LENGTH({s}.`name`), {s}.`name`, {s}.`day`, DATE_FORMAT({s}.`seen`, '%Y-%m-%d %H:%i:%s.%f'), {s}.`open`, \
                 CONCAT(ISNULL({s}.`price`), ISNULL({s}.`ratio`), ISNULL({s}.`name`)))"
            )
        );
    }

    #[test]
    fn pipewright_writes_postgresql_fields_as_mysql_writes_its_values() {
        let (postgres, _) = both_sides();
        let s = "pipewright_source";
        assert_eq!(
            postgres.postgres_fields(),
            format!(
                "{s}.\"id\", {s}.\"price\", {s}.\"ratio\", CAST({s}.\"name\" AS TEXT), {s}.\"day\", {s}.\"seen\", {s}.\"open\""
            )
        );
        // What MySQL's CONCAT_WS writes for the same values: DECIMAL(18,6) with six
        // digits, the ratio without trailing zeros, the length in characters.
        assert_eq!(
            written(
                &postgres,
                b"7\t-11.4300\t2.50\t\xe8\x8c\x85\xe5\x8f\xb0 a\\tb\t2025-01-02\t2025-01-02 03:04:05.5+00\tt"
            ),
            "7,-11.430000,2.5,6,茅台 a\tb,2025-01-02,2025-01-02 03:04:05.500000,1,000"
        );
        assert_eq!(
            written(
                &postgres,
                b"8\t\\N\t3.000\t\\N\t2025-01-02\t2025-01-02 03:04:05+00\tf"
            ),
            "8,3,2025-01-02,2025-01-02 03:04:05.000000,0,101"
        );
        assert_eq!(
            written(
                &postgres,
                b"9\t12\t0\t\t1999-12-31\t1999-12-31 23:59:59.123456+00\tf"
            ),
            "9,12.000000,0,0,,1999-12-31,1999-12-31 23:59:59.123456,0,000"
        );
    }
}
