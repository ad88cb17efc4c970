//! PostgreSQL's binary `COPY` format, for loading a staging table: each value is sent as the
//! server stores it (integers, dates and times as numbers, `numeric` in base-10000 digits), so
//! the server skips parsing text. Loading the benchmark's 1,000,000 daily bars from a file
//! took the server 0.8–1.2 s in binary against 1.6–1.9 s in text.
//!
//! A table is loaded in binary only when every column has a type this module encodes; any
//! other type (`json`, `interval`, an extension's type...) keeps the whole table in text,
//! which every type reads.

use chrono::{NaiveDate, NaiveTime, Timelike};

use crate::data::{Column, LogicalType, Value, plain_decimal};

/// The 11-byte signature, the flags (no OIDs) and the length of the header extension (none).
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The field count that ends the data.
const TRAILER: &[u8] = &[0xff, 0xff];

/// How a column's values are sent in binary: the server type's own external form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Bool,
    Int2,
    Int4,
    Int8,
    Numeric,
    Float4,
    Float8,
    /// `text`, `varchar`, `char`: the UTF-8 bytes.
    Text,
    Bytea,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Uuid,
}

impl Field {
    /// The binary form of a PostgreSQL column, if this module writes it.
    fn of(column: &Column) -> Option<Self> {
        let declared = column.declared.to_ascii_lowercase();
        // An array's binary form is an array's, not its element's (the catalog reads arrays
        // as `Other`; this holds whatever logical type a column is given).
        if declared.contains('[') {
            return None;
        }
        let base = declared.split('(').next().unwrap_or_default().trim();
        Some(match (&column.logical, base) {
            (LogicalType::Bool, _) => Self::Bool,
            (LogicalType::Int { bytes: 2 }, _) => Self::Int2,
            (LogicalType::Int { bytes: 4 }, _) => Self::Int4,
            (LogicalType::Int { bytes: 8 }, _) => Self::Int8,
            (LogicalType::Decimal { .. }, _) => Self::Numeric,
            (LogicalType::Float32, _) => Self::Float4,
            (LogicalType::Float64, _) => Self::Float8,
            (
                LogicalType::Text { .. },
                "text" | "character varying" | "varchar" | "character" | "char" | "bpchar",
            ) => Self::Text,
            (LogicalType::Binary { .. }, _) => Self::Bytea,
            (LogicalType::Date, _) => Self::Date,
            (LogicalType::Time { .. }, _) => Self::Time,
            (LogicalType::Timestamp { .. }, _) => Self::Timestamp,
            (LogicalType::TimestampTz { .. }, _) => Self::TimestampTz,
            (LogicalType::Uuid, _) => Self::Uuid,
            _ => return None,
        })
    }
}

/// The format of a `COPY ... FROM STDIN` into one table.
#[derive(Debug, Clone)]
pub(crate) enum CopyFormat {
    Text,
    Binary(BinaryEncoder),
}

impl CopyFormat {
    /// Binary when every one of `columns` (the target's, in the order sent) has a binary form
    /// here; text otherwise.
    pub(crate) fn for_columns(columns: &[Column]) -> Self {
        columns
            .iter()
            .map(Field::of)
            .collect::<Option<Vec<_>>>()
            .map_or(Self::Text, |fields| {
                Self::Binary(BinaryEncoder {
                    fields,
                    digits: Vec::new(),
                })
            })
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Binary(_) => "binary",
        }
    }

    /// What follows `COPY table (columns) FROM STDIN`.
    pub(crate) fn options(&self) -> &'static str {
        match self {
            Self::Text => "",
            Self::Binary(_) => " (FORMAT binary)",
        }
    }

    /// Sent before the first row.
    pub(crate) fn header(&self) -> &'static [u8] {
        match self {
            Self::Text => b"",
            Self::Binary(_) => HEADER,
        }
    }

    /// Sent after the last row.
    pub(crate) fn trailer(&self) -> &'static [u8] {
        match self {
            Self::Text => b"",
            Self::Binary(_) => TRAILER,
        }
    }

    /// Appends `row` to `out` in this format.
    pub(crate) fn encode_row(
        &mut self,
        row: &[Value],
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        match self {
            Self::Text => {
                crate::transform::row_writer::encode_copy_text_row(out, row);
                Ok(())
            }
            Self::Binary(encoder) => encoder.encode_row(row, out),
        }
    }
}

/// A value the binary form of its column cannot take: a bug of the conversion before it,
/// which hands every column values of its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {reason}")]
pub(crate) struct EncodeError {
    /// 1-based, in the order sent.
    pub column: usize,
    pub reason: String,
}

/// Writes rows in the binary format, the columns' fields decided once.
#[derive(Debug, Clone)]
pub(crate) struct BinaryEncoder {
    fields: Vec<Field>,
    /// Scratch for a `numeric`'s base-10000 digits.
    digits: Vec<i16>,
}

impl BinaryEncoder {
    fn encode_row(&mut self, row: &[Value], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let count = i16::try_from(self.fields.len()).unwrap_or(i16::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        for (index, (field, value)) in self.fields.iter().zip(row).enumerate() {
            write_field(out, &mut self.digits, *field, value).map_err(|reason| EncodeError {
                column: index + 1,
                reason,
            })?;
        }
        Ok(())
    }
}

/// One field: its length (-1 for NULL) and its bytes.
fn write_field(
    out: &mut Vec<u8>,
    digits: &mut Vec<i16>,
    field: Field,
    value: &Value,
) -> Result<(), String> {
    if value.is_null() {
        out.extend_from_slice(&(-1_i32).to_be_bytes());
        return Ok(());
    }
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    match (field, value) {
        (Field::Bool, Value::Bool(flag)) => out.push(u8::from(*flag)),
        (Field::Int2, Value::Int(number)) => out.extend_from_slice(
            &i16::try_from(*number)
                .map_err(|_| format!("{number} does not fit smallint"))?
                .to_be_bytes(),
        ),
        (Field::Int4, Value::Int(number)) => out.extend_from_slice(
            &i32::try_from(*number)
                .map_err(|_| format!("{number} does not fit integer"))?
                .to_be_bytes(),
        ),
        (Field::Int8, Value::Int(number)) => out.extend_from_slice(&number.to_be_bytes()),
        (Field::Numeric, Value::Decimal(text)) => write_numeric(out, digits, text)?,
        (Field::Numeric, Value::Int(number)) => {
            write_numeric(out, digits, itoa::Buffer::new().format(*number))?;
        }
        (Field::Float4, Value::Float(float)) => {
            // The conversion checked that the value fits a `real`.
            #[allow(clippy::cast_possible_truncation)]
            let single = *float as f32;
            out.extend_from_slice(&single.to_be_bytes());
        }
        (Field::Float8, Value::Float(float)) => out.extend_from_slice(&float.to_be_bytes()),
        (Field::Text, Value::Text(text)) => out.extend_from_slice(text.as_bytes()),
        (Field::Bytea, Value::Bytes(bytes)) => out.extend_from_slice(bytes),
        (Field::Date, Value::Date(date)) => out.extend_from_slice(
            &i32::try_from(days_since_2000(*date))
                .map_err(|_| format!("{date} is out of PostgreSQL's range"))?
                .to_be_bytes(),
        ),
        (Field::Time, Value::Time(time)) => {
            out.extend_from_slice(&micros_of_day(*time).to_be_bytes());
        }
        (Field::Timestamp, Value::Timestamp(timestamp)) => out.extend_from_slice(
            &micros_since_2000(timestamp.date(), timestamp.time())
                .ok_or_else(|| format!("{timestamp} is out of PostgreSQL's range"))?
                .to_be_bytes(),
        ),
        (Field::TimestampTz, Value::TimestampTz(instant)) => {
            let naive = instant.naive_utc();
            out.extend_from_slice(
                &micros_since_2000(naive.date(), naive.time())
                    .ok_or_else(|| format!("{instant} is out of PostgreSQL's range"))?
                    .to_be_bytes(),
            );
        }
        (Field::Uuid, Value::Uuid(uuid)) => out.extend_from_slice(uuid.as_bytes()),
        (field, value) => {
            return Err(format!(
                "a {} value cannot be sent as binary {field:?}",
                value.kind()
            ));
        }
    }
    let length = i32::try_from(out.len() - start - 4)
        .map_err(|_| "a value over 2 GiB cannot be sent".to_owned())?;
    out[start..start + 4].copy_from_slice(&length.to_be_bytes());
    Ok(())
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()
}

fn days_since_2000(date: NaiveDate) -> i64 {
    date.signed_duration_since(epoch()).num_days()
}

/// Microseconds since midnight, cut (not rounded) to the microsecond as the text form is; a
/// leap second's extra stays within its second.
fn micros_of_day(time: NaiveTime) -> i64 {
    i64::from(time.num_seconds_from_midnight()) * 1_000_000
        + i64::from((time.nanosecond() / 1_000).min(999_999))
}

fn micros_since_2000(date: NaiveDate, time: NaiveTime) -> Option<i64> {
    days_since_2000(date)
        .checked_mul(86_400_000_000)?
        .checked_add(micros_of_day(time))
}

/// A `numeric` from a plain decimal's text (`-12.5`, `0.0001`, `1524`): its base-10000 digits
/// with the weight of the first, the sign, and the display scale (the fraction's digits; the
/// column's type pads it to its own scale).
fn write_numeric(out: &mut Vec<u8>, digits: &mut Vec<i16>, text: &str) -> Result<(), String> {
    const POSITIVE: u16 = 0x0000;
    const NEGATIVE: u16 = 0x4000;
    const NAN: u16 = 0xC000;
    if text == "NaN" {
        for word in [0_u16, 0, NAN, 0] {
            out.extend_from_slice(&word.to_be_bytes());
        }
        return Ok(());
    }
    let Some((negative, integer, fraction)) = plain_decimal(text) else {
        return Err(format!("`{text}` is not a plain decimal"));
    };
    // The scale as written (`1.50` has 2): the fraction's trailing zeros are not digits sent,
    // but an unconstrained `numeric` keeps the scale it is given, as it does from text.
    let written = text
        .bytes()
        .position(|byte| byte == b'.')
        .map_or(0, |point| text.len() - point - 1);
    let scale = i16::try_from(written).map_err(|_| format!("`{text}` has too many decimals"))?;
    // Groups of four digits, aligned on the decimal point.
    digits.clear();
    let lead = integer.len() % 4;
    if lead > 0 {
        digits.push(group(&integer.as_bytes()[..lead]));
    }
    for chunk in integer.as_bytes()[lead..].chunks(4) {
        digits.push(group(chunk));
    }
    let integer_groups = digits.len();
    for chunk in fraction.as_bytes().chunks(4) {
        let mut padded = [b'0'; 4];
        padded[..chunk.len()].copy_from_slice(chunk);
        digits.push(group(&padded));
    }
    let mut weight = i64::try_from(integer_groups).unwrap_or(i64::MAX) - 1;
    let leading = digits.iter().take_while(|digit| **digit == 0).count();
    let trailing = digits[leading..]
        .iter()
        .rev()
        .take_while(|digit| **digit == 0)
        .count();
    let significant = &digits[leading..digits.len() - trailing];
    weight -= i64::try_from(leading).unwrap_or(0);
    let (weight, sign) = if significant.is_empty() {
        (0, POSITIVE)
    } else {
        (
            i16::try_from(weight).map_err(|_| format!("`{text}` is out of numeric's range"))?,
            if negative { NEGATIVE } else { POSITIVE },
        )
    };
    let count =
        i16::try_from(significant.len()).map_err(|_| format!("`{text}` has too many digits"))?;
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&scale.to_be_bytes());
    for digit in significant {
        out.extend_from_slice(&digit.to_be_bytes());
    }
    Ok(())
}

/// Up to four ASCII digits as a number below 10,000.
fn group(digits: &[u8]) -> i16 {
    digits
        .iter()
        .fold(0, |value, digit| value * 10 + i16::from(digit - b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `numeric`'s external form: (ndigits, weight, sign, dscale, digits).
    fn numeric(text: &str) -> (i16, i16, u16, i16, Vec<i16>) {
        let mut out = Vec::new();
        write_numeric(&mut out, &mut Vec::new(), text).unwrap();
        let word = |index: usize| [out[index * 2], out[index * 2 + 1]];
        let count = i16::from_be_bytes(word(0));
        (
            count,
            i16::from_be_bytes(word(1)),
            u16::from_be_bytes(word(2)),
            i16::from_be_bytes(word(3)),
            (0..usize::try_from(count).unwrap())
                .map(|index| i16::from_be_bytes(word(4 + index)))
                .collect(),
        )
    }

    #[test]
    fn numerics_are_base_10000_digits_around_the_point() {
        assert_eq!(numeric("1524"), (1, 0, 0, 0, vec![1524]));
        assert_eq!(numeric("12345.678"), (3, 1, 0, 3, vec![1, 2345, 6780]));
        assert_eq!(numeric("-0.5"), (1, -1, 0x4000, 1, vec![5000]));
        assert_eq!(numeric("0.00001"), (1, -2, 0, 5, vec![1000]));
        assert_eq!(numeric("100000000"), (1, 2, 0, 0, vec![1]));
        assert_eq!(numeric("0"), (0, 0, 0, 0, vec![]));
        assert_eq!(numeric("-0.000"), (0, 0, 0, 3, vec![]));
        assert_eq!(
            numeric("99999999999999.999999"),
            (6, 3, 0, 6, vec![99, 9999, 9999, 9999, 9999, 9900])
        );
        assert_eq!(numeric("NaN"), (0, 0, 0xC000, 0, vec![]));
        assert!(write_numeric(&mut Vec::new(), &mut Vec::new(), "1e5").is_err());
        assert!(write_numeric(&mut Vec::new(), &mut Vec::new(), ".").is_err());
    }

    #[test]
    fn dates_and_times_count_from_2000() {
        let date = |year, month, day| NaiveDate::from_ymd_opt(year, month, day).unwrap();
        assert_eq!(days_since_2000(date(2000, 1, 1)), 0);
        assert_eq!(days_since_2000(date(1999, 12, 31)), -1);
        assert_eq!(days_since_2000(date(2000, 3, 1)), 60);
        let time = NaiveTime::from_hms_micro_opt(0, 0, 1, 500).unwrap();
        assert_eq!(micros_of_day(time), 1_000_500);
        assert_eq!(
            micros_since_2000(date(1999, 12, 31), time),
            Some(-86_400_000_000 + 1_000_500)
        );
    }

    #[test]
    fn a_table_is_binary_only_when_every_column_is() {
        let column = |logical: LogicalType, declared: &str| Column {
            name: "c".to_owned(),
            logical,
            nullable: true,
            declared: declared.to_owned(),
        };
        let bars = [
            column(LogicalType::Int { bytes: 8 }, "bigint"),
            column(
                LogicalType::Text {
                    max_length: Some(16),
                },
                "character varying(16)",
            ),
            column(LogicalType::Date, "date"),
            column(
                LogicalType::Decimal {
                    precision: Some(12),
                    scale: Some(4),
                },
                "numeric(12,4)",
            ),
        ];
        let mut format = CopyFormat::for_columns(&bars);
        assert_eq!(format.options(), " (FORMAT binary)");
        let row = vec![
            Value::Int(7),
            Value::Text("600519".into()),
            Value::Date(NaiveDate::from_ymd_opt(2000, 1, 2).unwrap()),
            Value::Null,
        ];
        let mut data = Vec::new();
        format.encode_row(&row, &mut data).unwrap();
        let mut expected = vec![0, 4, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 6];
        expected.extend_from_slice(b"600519");
        expected.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(data, expected);
        // A value of another kind than its column's is refused, not sent wrong.
        let wrong = [
            Value::Text("7".into()),
            Value::Null,
            Value::Null,
            Value::Null,
        ];
        let error = format.encode_row(&wrong, &mut data).unwrap_err();
        assert_eq!(error.column, 1);

        let mut with_json = bars.to_vec();
        with_json.push(column(LogicalType::Json, "jsonb"));
        assert_eq!(CopyFormat::for_columns(&with_json).options(), "");
        let citext = [column(LogicalType::Text { max_length: None }, "citext")];
        assert_eq!(CopyFormat::for_columns(&citext).options(), "");
        let array = [column(
            LogicalType::Text {
                max_length: Some(16),
            },
            "character varying(16)[]",
        )];
        assert_eq!(CopyFormat::for_columns(&array).options(), "");
    }
}
