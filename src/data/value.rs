//! Values in flight between two databases, and their canonical form: the same value read from
//! MySQL, PostgreSQL or SQLite has the same canonical text, which is what checksums hash.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike as _, NaiveDate, NaiveDateTime, NaiveTime, Timelike as _, Utc};
use compact_str::CompactString;

/// One value of one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    /// An exact decimal, as its text (`-12.3400`). Texts of up to 24 bytes are held inline,
    /// without an allocation: most decimals and short strings, a few per row of every table.
    Decimal(CompactString),
    Float(f64),
    Text(CompactString),
    Bytes(Vec<u8>),
    Date(NaiveDate),
    Time(NaiveTime),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    /// Boxed: a JSON value is 64 bytes, which every value of every row would otherwise take.
    Json(Box<serde_json::Value>),
    Uuid(uuid::Uuid),
    /// A value the source holds but no type can: a MySQL zero date, text that is not the
    /// date its column says. A transform's lossy policy decides what becomes of it.
    Invalid {
        text: CompactString,
        reason: &'static str,
    },
}

/// A row: one value per column, in column order.
pub type Row = Vec<Value>;

/// [`Value::memory_size`] of a whole row.
pub fn row_memory_size(row: &[Value]) -> usize {
    std::mem::size_of::<Row>() + row.iter().map(Value::memory_size).sum::<usize>()
}

fn json_memory_size(json: &serde_json::Value) -> usize {
    std::mem::size_of::<serde_json::Value>()
        + match json {
            serde_json::Value::String(text) => text.len(),
            serde_json::Value::Array(items) => items.iter().map(json_memory_size).sum(),
            serde_json::Value::Object(members) => members
                .iter()
                .map(|(key, value)| {
                    std::mem::size_of::<String>() + key.len() + json_memory_size(value)
                })
                .sum(),
            _ => 0,
        }
}

impl Value {
    /// About how much memory the value takes: its own size and what it points to (for JSON,
    /// its nodes, keys and texts, not the map's hashing overhead). Readers
    /// cut their batches by it, so that wide rows (blobs, long texts, large JSON documents)
    /// bound memory as narrow ones do.
    pub fn memory_size(&self) -> usize {
        std::mem::size_of::<Self>()
            + match self {
                Self::Decimal(text) | Self::Text(text) | Self::Invalid { text, .. }
                    if text.is_heap_allocated() =>
                {
                    text.len()
                }
                Self::Bytes(bytes) => bytes.len(),
                Self::Json(json) => json_memory_size(json),
                _ => 0,
            }
    }

    /// The canonical text of the value, `None` for NULL. Numbers lose insignificant zeros,
    /// integral floats and decimals read the same (`2` for `2.0`, `2.00` and `2`), times are
    /// written to the microsecond in UTC, JSON with sorted keys, bytes in hex: equal values
    /// from different engines give equal text.
    pub fn canonical(&self) -> Option<String> {
        let mut text = String::new();
        self.write_canonical(&mut text).then_some(text)
    }

    /// Appends the canonical text of the value to `out`; `false` (and nothing written) for
    /// NULL. The allocation-free form of [`canonical`](Self::canonical), for checksums.
    pub fn write_canonical(&self, out: &mut String) -> bool {
        match self {
            Self::Null => return false,
            Self::Bool(value) => out.push(if *value { '1' } else { '0' }),
            Self::Int(value) => out.push_str(itoa::Buffer::new().format(*value)),
            Self::UInt(value) => out.push_str(itoa::Buffer::new().format(*value)),
            Self::Decimal(text) => write_canonical_decimal(text, out),
            Self::Float(value) => out.push_str(&canonical_float(*value)),
            Self::Text(text) | Self::Invalid { text, .. } => out.push_str(text),
            Self::Bytes(bytes) => {
                out.reserve(bytes.len() * 2 + 2);
                out.push_str("\\x");
                for byte in bytes {
                    let _ = write!(out, "{byte:02x}");
                }
            }
            Self::Date(date) => write_date(*date, out),
            Self::Time(time) => write_time(*time, out),
            Self::Timestamp(timestamp) => {
                write_date(timestamp.date(), out);
                out.push(' ');
                write_time(timestamp.time(), out);
            }
            Self::TimestampTz(timestamp) => {
                let naive = timestamp.naive_utc();
                write_date(naive.date(), out);
                out.push(' ');
                write_time(naive.time(), out);
                out.push('Z');
            }
            Self::Json(json) => out.push_str(&canonical_json(json)),
            Self::Uuid(uuid) => {
                let _ = write!(out, "{}", uuid.hyphenated());
            }
        }
        true
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// What kind of value this is, for messages (never the value itself).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Null => "NULL",
            Self::Bool(_) => "boolean",
            Self::Int(_) => "integer",
            Self::UInt(_) => "unsigned integer",
            Self::Decimal(_) => "decimal",
            Self::Float(_) => "float",
            Self::Text(_) => "text",
            Self::Bytes(_) => "binary",
            Self::Date(_) => "date",
            Self::Time(_) => "time",
            Self::Timestamp(_) => "timestamp",
            Self::TimestampTz(_) => "timestamp with time zone",
            Self::Json(_) => "JSON",
            Self::Uuid(_) => "UUID",
            Self::Invalid { .. } => "invalid",
        }
    }
}

/// `YYYY-MM-DD`, with a sign before years outside 0 to 9999 (as ISO 8601 writes them).
pub(crate) fn write_date(date: NaiveDate, out: &mut String) {
    let year = date.year();
    if (0..=9999).contains(&year) {
        push_digits(out, year.unsigned_abs(), 4);
    } else {
        // Beyond four digits ISO 8601 signs the year; rare enough for `write!`.
        let _ = if year < 0 {
            write!(out, "-{:04}", -year)
        } else {
            write!(out, "+{year}")
        };
    }
    out.push('-');
    push_digits(out, date.month(), 2);
    out.push('-');
    push_digits(out, date.day(), 2);
}

/// `HH:MM:SS.ffffff`, to the microsecond (a leap second's extra is kept in the fraction).
pub(crate) fn write_time(time: NaiveTime, out: &mut String) {
    push_digits(out, time.hour(), 2);
    out.push(':');
    push_digits(out, time.minute(), 2);
    out.push(':');
    push_digits(out, time.second(), 2);
    out.push('.');
    push_digits(out, (time.nanosecond() / 1_000).min(999_999), 6);
}

/// The last `width` decimal digits of `number`, zero-padded: the hot path of dates and times
/// in every checksum, without `fmt`'s machinery.
fn push_digits(out: &mut String, mut number: u32, width: usize) {
    let mut digits = [b'0'; 10];
    for digit in digits[..width].iter_mut().rev() {
        *digit = b'0' + (number % 10) as u8;
        number /= 10;
    }
    out.push_str(std::str::from_utf8(&digits[..width]).expect("ASCII digits"));
}

/// [`canonical_decimal`] appended to `out`.
pub(crate) fn write_canonical_decimal(text: &str, out: &mut String) {
    let trimmed = text.trim();
    let Some((negative, integer, fraction)) = plain_decimal(trimmed) else {
        out.push_str(trimmed);
        return;
    };
    if integer.is_empty() && fraction.is_empty() {
        out.push('0');
        return;
    }
    if negative {
        out.push('-');
    }
    out.push_str(if integer.is_empty() { "0" } else { integer });
    if !fraction.is_empty() {
        out.push('.');
        out.push_str(fraction);
    }
}

/// The digits of an unsigned decimal (`001.2300`) split at its point: the integer digits
/// without leading zeros and the fraction digits without trailing zeros (`1`, `23`).
/// Byte-wise, in simple passes the compiler vectorises (a single pass with a `match` per
/// byte measured a third slower): it runs for every decimal a copy converts or verifies.
fn significant_digits(digits: &str) -> (&str, &str) {
    let (integer, fraction) = match digits.bytes().position(|byte| byte == b'.') {
        Some(point) => (&digits[..point], &digits[point + 1..]),
        None => (digits, ""),
    };
    let leading = integer.bytes().take_while(|byte| *byte == b'0').count();
    let trailing = fraction
        .bytes()
        .rev()
        .take_while(|byte| *byte == b'0')
        .count();
    (&integer[leading..], &fraction[..fraction.len() - trailing])
}

/// A plain decimal's sign, integer digits without leading zeros and fraction digits without
/// trailing zeros, borrowed from `text` (`-001.2300` → `-`, `1`, `23`); `None` if it is not
/// plain.
pub(crate) fn plain_decimal(text: &str) -> Option<(bool, &str, &str)> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let mut points = 0;
    let plain = digits.bytes().all(|byte| {
        points += usize::from(byte == b'.');
        byte.is_ascii_digit() || byte == b'.'
    });
    if !plain || points > 1 || digits.len() == points {
        return None;
    }
    let (integer, fraction) = significant_digits(digits);
    Some((negative, integer, fraction))
}

/// `-001.2300` → `-1.23`, `0.000` → `0`, `1e3` stays as written when it is not plain.
pub fn canonical_decimal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    write_canonical_decimal(text, &mut out);
    out
}

/// The shortest text that reads back as the same `f64`, in plain notation for the usual
/// magnitudes, so that `2.0` (a float) and `2` (a decimal or an integer) agree.
pub fn canonical_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if value == 0.0 {
        return "0".to_owned();
    }
    let shortest = format!("{value}");
    if shortest.contains('e') || shortest.contains('E') {
        return shortest;
    }
    canonical_decimal(&shortest)
}

pub(crate) fn canonical_json(value: &serde_json::Value) -> String {
    fn sorted(value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
                entries.sort_by(|left, right| left.0.cmp(right.0));
                serde_json::Value::Object(
                    entries
                        .into_iter()
                        .map(|(key, value)| (key.clone(), sorted(value)))
                        .collect(),
                )
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(sorted).collect())
            }
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decimals_drop_leading_and_trailing_zeros_only() {
        for (digits, expected) in [
            ("001.2300", ("1", "23")),
            ("100.001", ("100", "001")),
            ("0.000", ("", "")),
            (".50", ("", "5")),
            ("", ("", "")),
        ] {
            assert_eq!(significant_digits(digits), expected, "{digits}");
        }
        for (text, expected) in [
            ("001.2300", Some((false, "1", "23"))),
            ("-100.001", Some((true, "100", "001"))),
            ("+0.000", Some((false, "", ""))),
            ("000", Some((false, "", ""))),
            ("1500", Some((false, "1500", ""))),
            ("-.50", Some((true, "", "5"))),
            ("7.", Some((false, "7", ""))),
            ("10.20", Some((false, "10", "2"))),
            ("", None),
            (".", None),
            ("-", None),
            ("1.2.3", None),
            ("1e3", None),
            (" 1", None),
            ("--1", None),
        ] {
            assert_eq!(plain_decimal(text), expected, "{text}");
        }
        for (text, canonical) in [
            ("-001.2300", "-1.23"),
            ("+0.000", "0"),
            ("-0.0", "0"),
            ("1524.0000", "1524"),
            ("1e3", "1e3"),
            (" 12.50 ", "12.5"),
            ("1.2.3", "1.2.3"),
        ] {
            assert_eq!(canonical_decimal(text), canonical, "{text}");
        }
    }

    #[test]
    fn a_value_takes_forty_bytes_and_counts_what_it_holds() {
        // Every value of every row in flight takes this much: a large variant is boxed.
        assert_eq!(std::mem::size_of::<Value>(), 40);
        assert_eq!(Value::Null.memory_size(), 40);
        assert_eq!(
            Value::Text("inline, 24 bytes at most".into()).memory_size(),
            40
        );
        assert_eq!(Value::Text("x".repeat(100).into()).memory_size(), 140);
        assert_eq!(Value::Bytes(vec![0; 1 << 20]).memory_size(), 40 + (1 << 20));
        let json = Value::Json(Box::new(serde_json::json!({"key": "value"})));
        assert!(json.memory_size() > 40 + 3 + 5, "{}", json.memory_size());
        assert_eq!(
            row_memory_size(&[Value::Null, Value::Int(1)]),
            std::mem::size_of::<Row>() + 80
        );
    }

    #[test]
    fn dates_and_times_are_written_as_iso_8601() {
        for (year, expected) in [
            (2025, "2025-03-04"),
            (7, "0007-03-04"),
            (0, "0000-03-04"),
            (9_999, "9999-03-04"),
            (-44, "-0044-03-04"),
            (10_000, "+10000-03-04"),
            (12_345, "+12345-03-04"),
        ] {
            let date = NaiveDate::from_ymd_opt(year, 3, 4).unwrap();
            assert_eq!(Value::Date(date).canonical().unwrap(), expected);
            assert_eq!(
                date.format("%Y-%m-%d").to_string(),
                expected,
                "as chrono writes it"
            );
        }
        let time = NaiveTime::from_hms_nano_opt(1, 2, 3, 456_789_999).unwrap();
        assert_eq!(Value::Time(time).canonical().unwrap(), "01:02:03.456789");
        let midnight = NaiveTime::MIN;
        assert_eq!(
            Value::Time(midnight).canonical().unwrap(),
            "00:00:00.000000"
        );
        let leap = NaiveTime::from_hms_nano_opt(23, 59, 59, 1_999_999_999).unwrap();
        assert_eq!(Value::Time(leap).canonical().unwrap(), "23:59:59.999999");
        let at = NaiveDate::from_ymd_opt(2025, 1, 2)
            .unwrap()
            .and_time(time)
            .and_utc();
        assert_eq!(
            Value::TimestampTz(at).canonical().unwrap(),
            "2025-01-02 01:02:03.456789Z"
        );
    }

    #[test]
    fn equal_values_from_different_engines_have_equal_canonical_text() {
        let pairs = [
            (Value::Decimal("1488.0000".into()), Value::Float(1488.0)),
            (Value::Decimal("11.43".into()), Value::Float(11.43)),
            (Value::Decimal("-0.50".into()), Value::Decimal("-.5".into())),
            (Value::Decimal("0.000".into()), Value::Int(0)),
            (Value::Int(42), Value::UInt(42)),
            (Value::Decimal("42".into()), Value::Int(42)),
            (
                Value::Timestamp(
                    NaiveDate::from_ymd_opt(2025, 1, 2)
                        .unwrap()
                        .and_hms_opt(3, 4, 5)
                        .unwrap(),
                ),
                Value::Timestamp(
                    NaiveDate::from_ymd_opt(2025, 1, 2)
                        .unwrap()
                        .and_hms_micro_opt(3, 4, 5, 0)
                        .unwrap(),
                ),
            ),
            (
                Value::Json(Box::new(serde_json::json!({"b": 1, "a": [1, 2]}))),
                Value::Json(Box::new(serde_json::json!({"a": [1, 2], "b": 1}))),
            ),
        ];
        for (left, right) in pairs {
            assert_eq!(left.canonical(), right.canonical(), "{left:?} vs {right:?}");
        }
        assert_ne!(
            Value::Text(CompactString::default()).canonical(),
            Value::Null.canonical(),
            "empty is not NULL"
        );
        assert_ne!(
            Value::Decimal("1.5".into()).canonical(),
            Value::Decimal("1.05".into()).canonical()
        );
    }
}
