//! Rows an `insert` benchmark writes: deterministic values of each column's type, different
//! from row to row, the first column a unique key.

use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, NaiveTime, Utc};

use crate::data::{LogicalType, Value};

/// The first day of generated dates and instants.
fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("2000-01-01 is a date")
}

/// `10^digits`, at most `10^9`.
fn power_of_ten(digits: u32) -> u64 {
    10_u64.pow(digits.min(9))
}

/// The value of row `row` (from 1) of a column of type `column_type`; the first column (`key`)
/// counts rows, the others spread their values. `None` for a type pipewright cannot make up.
pub fn generated_value(column_type: &LogicalType, row: u64, key: bool) -> Option<Value> {
    // Spread values over the type's range, the same for every run.
    let spread = row.wrapping_mul(7919);
    let signed = |limit: u64| -> i64 {
        let value = if key { row } else { spread % limit };
        i64::try_from(value).unwrap_or(i64::MAX)
    };
    Some(match column_type {
        LogicalType::Bool => Value::Bool(row.is_multiple_of(2)),
        LogicalType::Int { bytes } => Value::Int(signed(integer_limit(*bytes))),
        LogicalType::UInt { bytes } => Value::UInt(if key {
            row
        } else {
            spread % integer_limit(*bytes)
        }),
        LogicalType::Bit { bits } => Value::UInt(row % (1_u64 << u32::from((*bits).clamp(1, 63)))),
        LogicalType::Decimal { precision, scale } => {
            let scale = scale.unwrap_or(0);
            let integer_digits = precision.unwrap_or(18).saturating_sub(scale).max(1);
            let integer = if key {
                row
            } else {
                spread % power_of_ten(integer_digits)
            };
            if scale == 0 {
                Value::Decimal(integer.to_string().into())
            } else {
                let fraction = row.wrapping_mul(31) % power_of_ten(scale);
                let width = scale.min(9) as usize;
                let zeros = "0".repeat(scale.saturating_sub(9) as usize);
                Value::Decimal(format!("{integer}.{fraction:0width$}{zeros}").into())
            }
        }
        // Quarters are exact in binary: what is written is what is read back.
        LogicalType::Float32 | LogicalType::Float64 => {
            Value::Float(f64::from(u32::try_from(row % 1_000_000).unwrap_or(0)) * 0.25 + 0.5)
        }
        LogicalType::Text { max_length } => {
            let text = format!("S{row:07}");
            let limit = max_length.map_or(text.len(), |limit| limit as usize);
            Value::Text(text.chars().take(limit.max(1)).collect())
        }
        LogicalType::Binary { max_length } => {
            let bytes = row.to_be_bytes().to_vec();
            let limit = max_length.map_or(bytes.len(), |limit| limit as usize);
            Value::Bytes(bytes[bytes.len() - limit.clamp(1, bytes.len())..].to_vec())
        }
        LogicalType::Date => Value::Date(epoch() + ChronoDuration::days(signed(10_000))),
        LogicalType::Time { .. } => Value::Time(
            NaiveTime::from_num_seconds_from_midnight_opt(
                u32::try_from(row % 86_400).unwrap_or(0),
                0,
            )
            .unwrap_or_default(),
        ),
        LogicalType::Timestamp { .. } => Value::Timestamp(instant(row)),
        LogicalType::TimestampTz { .. } => Value::TimestampTz(
            DateTime::<Utc>::from_naive_utc_and_offset(instant(row), Utc),
        ),
        LogicalType::Json => Value::Json(Box::new(serde_json::json!({ "n": row }))),
        LogicalType::Uuid => Value::Uuid(uuid::Uuid::from_u128(u128::from(row))),
        LogicalType::Enum { values } | LogicalType::Set { values } => {
            if values.is_empty() {
                return None;
            }
            let position = usize::try_from(row % values.len() as u64).unwrap_or(0);
            Value::Text(values[position].as_str().into())
        }
        LogicalType::Other { .. } => return None,
    })
}

/// The largest value generated for a non-key integer column of `bytes` bytes.
fn integer_limit(bytes: u8) -> u64 {
    match bytes {
        1 => 100,
        2 => 30_000,
        3 | 4 => 2_000_000_000,
        _ => 1_000_000_000_000,
    }
}

/// `row` seconds after the epoch.
fn instant(row: u64) -> chrono::NaiveDateTime {
    epoch().and_time(NaiveTime::MIN)
        + ChronoDuration::seconds(i64::try_from(row).unwrap_or(i64::MAX / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_count_rows_and_other_columns_fit_their_type() {
        let int = LogicalType::Int { bytes: 8 };
        assert_eq!(generated_value(&int, 42, true), Some(Value::Int(42)));
        let small = LogicalType::Int { bytes: 2 };
        for row in 1..1000 {
            let Some(Value::Int(value)) = generated_value(&small, row, false) else {
                panic!("an integer");
            };
            assert!((0..30_000).contains(&value));
        }
        let decimal = LogicalType::Decimal {
            precision: Some(6),
            scale: Some(2),
        };
        let Some(Value::Decimal(text)) = generated_value(&decimal, 123_456, false) else {
            panic!("a decimal");
        };
        let (integer, fraction) = text.split_once('.').expect("a fraction");
        assert!(integer.len() <= 4 && fraction.len() == 2, "{text}");
        let text = LogicalType::Text {
            max_length: Some(3),
        };
        assert_eq!(
            generated_value(&text, 5, false),
            Some(Value::Text("S00".into()))
        );
        assert_eq!(
            generated_value(
                &LogicalType::Other {
                    name: "geometry".into()
                },
                1,
                false
            ),
            None
        );
    }
}
