//! Values in flight between two databases, and their canonical form: the same value read from
//! MySQL, PostgreSQL or SQLite has the same canonical text, which is what checksums hash.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

/// One value of one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    /// An exact decimal, as its text (`-12.3400`).
    Decimal(String),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    Date(NaiveDate),
    Time(NaiveTime),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    Json(serde_json::Value),
    Uuid(uuid::Uuid),
    /// A value the source holds but no type can: a MySQL zero date, text that is not the
    /// date its column says. A transform's lossy policy decides what becomes of it.
    Invalid {
        text: String,
        reason: &'static str,
    },
}

/// A row: one value per column, in column order.
pub type Row = Vec<Value>;

impl Value {
    /// The canonical text of the value, `None` for NULL. Numbers lose insignificant zeros,
    /// integral floats and decimals read the same (`2` for `2.0`, `2.00` and `2`), times are
    /// written to the microsecond in UTC, JSON with sorted keys, bytes in hex: equal values
    /// from different engines give equal text.
    pub fn canonical(&self) -> Option<String> {
        Some(match self {
            Self::Null => return None,
            Self::Bool(value) => if *value { "1" } else { "0" }.to_owned(),
            Self::Int(value) => value.to_string(),
            Self::UInt(value) => value.to_string(),
            Self::Decimal(text) => canonical_decimal(text),
            Self::Float(value) => canonical_float(*value),
            Self::Text(text) | Self::Invalid { text, .. } => text.clone(),
            Self::Bytes(bytes) => {
                let mut hex = String::with_capacity(bytes.len() * 2 + 2);
                hex.push_str("\\x");
                for byte in bytes {
                    let _ = write!(hex, "{byte:02x}");
                }
                hex
            }
            Self::Date(date) => date.format("%Y-%m-%d").to_string(),
            Self::Time(time) => time.format("%H:%M:%S%.6f").to_string(),
            Self::Timestamp(timestamp) => timestamp.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
            Self::TimestampTz(timestamp) => timestamp
                .naive_utc()
                .format("%Y-%m-%d %H:%M:%S%.6fZ")
                .to_string(),
            Self::Json(json) => canonical_json(json),
            Self::Uuid(uuid) => uuid.hyphenated().to_string(),
        })
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }
}

/// `-001.2300` → `-1.23`, `0.000` → `0`, `1e3` stays as written when it is not plain.
pub fn canonical_decimal(text: &str) -> String {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if !digits
        .bytes()
        .all(|byte| byte.is_ascii_digit() || byte == b'.')
        || digits.is_empty()
    {
        return text.to_owned();
    }
    let (integer, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let integer = integer.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    let mut canonical = String::with_capacity(digits.len() + 1);
    if integer.is_empty() && fraction.is_empty() {
        return "0".to_owned();
    }
    if negative {
        canonical.push('-');
    }
    canonical.push_str(if integer.is_empty() { "0" } else { integer });
    if !fraction.is_empty() {
        canonical.push('.');
        canonical.push_str(fraction);
    }
    canonical
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

fn canonical_json(value: &serde_json::Value) -> String {
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
                Value::Json(serde_json::json!({"b": 1, "a": [1, 2]})),
                Value::Json(serde_json::json!({"a": [1, 2], "b": 1})),
            ),
        ];
        for (left, right) in pairs {
            assert_eq!(left.canonical(), right.canonical(), "{left:?} vs {right:?}");
        }
        assert_ne!(
            Value::Text(String::new()).canonical(),
            Value::Null.canonical(),
            "empty is not NULL"
        );
        assert_ne!(
            Value::Decimal("1.5".into()).canonical(),
            Value::Decimal("1.05".into()).canonical()
        );
    }
}
