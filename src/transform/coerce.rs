//! Converting a value to the type of its target column, and saying when that loses
//! something: a number out of range, digits cut, text too long, a zero date. What happens then
//! is the column's [`LossyPolicy`].

use chrono::{DateTime, Datelike as _, NaiveDate, NaiveDateTime, NaiveTime, Timelike as _, Utc};
use compact_str::CompactString;

use crate::data::{LogicalType, Value, canonical_decimal, canonical_float, plain_decimal};
use crate::pipeline::Driver;

/// Why a value does not fit its target column, and the nearest value that does, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Lossy {
    pub reason: String,
    pub nearest: Option<Value>,
}

impl Lossy {
    fn new(reason: impl Into<String>, nearest: Option<Value>) -> Self {
        Self {
            reason: reason.into(),
            nearest,
        }
    }
}

/// `value` as the target column of type `target` on `driver` holds it, or why it cannot be.
pub fn coerce(value: Value, target: &LogicalType, driver: Driver) -> Result<Value, Lossy> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    match target {
        LogicalType::Bool => to_bool(&value),
        LogicalType::Int { bytes } => {
            let bits = u32::from(*bytes) * 8;
            let (min, max) = (-(1_i128 << (bits - 1)), (1_i128 << (bits - 1)) - 1);
            to_integer(&value, min, max, target).map(|number| integer_value(number, target))
        }
        LogicalType::UInt { bytes } => {
            let max = (1_i128 << (u32::from(*bytes) * 8)) - 1;
            to_integer(&value, 0, max, target).map(|number| integer_value(number, target))
        }
        LogicalType::Bit { bits } => {
            let max = (1_i128 << u32::from(*bits).min(64)) - 1;
            to_integer(&value, 0, max, target).map(|number| integer_value(number, target))
        }
        LogicalType::Decimal { precision, scale } => match value {
            Value::Decimal(text) => canonical_in_place(text, *precision, *scale)
                .map(Value::Decimal)
                .or_else(|text| to_decimal(&Value::Decimal(text), *precision, *scale, target)),
            other => to_decimal(&other, *precision, *scale, target),
        },
        LogicalType::Float32 | LogicalType::Float64 => to_float(&value, target, driver),
        LogicalType::Text { max_length } => {
            let text = to_text(value)?;
            fit_text(text, *max_length, driver)
        }
        LogicalType::Enum { values } => {
            let text = to_text(value)?;
            if values.iter().any(|value| value == text) {
                Ok(Value::Text(text))
            } else {
                Err(Lossy::new(
                    format!("`{text}` is not one of the column's values"),
                    None,
                ))
            }
        }
        LogicalType::Set { values } => {
            let text = to_text(value)?;
            match text
                .split(',')
                .filter(|member| !member.is_empty())
                .find(|member| !values.iter().any(|allowed| allowed == member))
            {
                None => Ok(Value::Text(text)),
                Some(member) => Err(Lossy::new(
                    format!("`{member}` is not one of the set's values"),
                    None,
                )),
            }
        }
        LogicalType::Other { .. } => to_text(value).map(Value::Text),
        LogicalType::Binary { max_length } => to_bytes(value, *max_length),
        LogicalType::Date => to_date(value, driver),
        LogicalType::Time { precision } => to_time(value, *precision),
        LogicalType::Timestamp { precision } => {
            to_timestamp(value, *precision, driver).map(Value::Timestamp)
        }
        LogicalType::TimestampTz { precision } => to_timestamp(value, *precision, driver)
            .map(|timestamp| Value::TimestampTz(timestamp.and_utc())),
        LogicalType::Json => to_json(value),
        LogicalType::Uuid => to_uuid(value),
    }
}

fn not_convertible(value: &Value, target: &LogicalType) -> Lossy {
    let shown = value.canonical().unwrap_or_default();
    Lossy::new(
        format!("`{}` cannot be read as {target}", shorten(&shown)),
        None,
    )
}

/// A value for a message: long text is cut.
pub(crate) fn shorten(text: &str) -> String {
    const LIMIT: usize = 60;
    if text.chars().count() <= LIMIT {
        text.to_owned()
    } else {
        let start: String = text.chars().take(LIMIT).collect();
        format!("{start}... ({} characters)", text.chars().count())
    }
}

fn invalid(text: &str, reason: &str) -> Lossy {
    Lossy::new(format!("`{}` is {reason}", shorten(text)), None)
}

fn to_bool(value: &Value) -> Result<Value, Lossy> {
    let parsed = match value {
        Value::Bool(value) => Some(*value),
        Value::Int(0) | Value::UInt(0) => Some(false),
        Value::Int(1) | Value::UInt(1) => Some(true),
        Value::Decimal(text) => match canonical_decimal(text).as_str() {
            "0" => Some(false),
            "1" => Some(true),
            _ => None,
        },
        Value::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" | "on" => Some(true),
            "false" | "f" | "no" | "n" | "0" | "off" => Some(false),
            _ => None,
        },
        _ => None,
    };
    parsed
        .map(Value::Bool)
        .ok_or_else(|| not_convertible(value, &LogicalType::Bool))
}

/// A decimal number as its parts: sign, integer digits without leading zeros, fraction
/// digits without trailing zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DecimalParts {
    negative: bool,
    integer: String,
    fraction: String,
}

impl DecimalParts {
    /// Plain decimal notation (`-12.50`, `.5`, `+3`), or exponent notation through `f64`
    /// only when the text has an exponent.
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (integer, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
        if (integer.is_empty() && fraction.is_empty())
            || !all_digits(integer)
            || !all_digits(fraction)
        {
            return None;
        }
        let integer = integer.trim_start_matches('0').to_owned();
        let fraction = fraction.trim_end_matches('0').to_owned();
        let zero = integer.is_empty() && fraction.is_empty();
        Some(Self {
            negative: negative && !zero,
            integer,
            fraction,
        })
    }

    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(number) => Self::parse(&number.to_string()),
            Value::UInt(number) => Self::parse(&number.to_string()),
            Value::Bool(flag) => Self::parse(if *flag { "1" } else { "0" }),
            Value::Decimal(text) | Value::Text(text) => Self::parse(text).or_else(|| {
                // `1e3`, `2.5E-4`: exponent notation is a number too.
                text.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|float| float.is_finite() && text.contains(['e', 'E']))
                    .and_then(|float| Self::parse(&format!("{float}")))
            }),
            Value::Float(float) if float.is_finite() => Self::parse(&format!("{float}")),
            _ => None,
        }
    }

    fn text(&self) -> String {
        let mut text = String::with_capacity(self.integer.len() + self.fraction.len() + 2);
        if self.negative {
            text.push('-');
        }
        text.push_str(if self.integer.is_empty() {
            "0"
        } else {
            &self.integer
        });
        if !self.fraction.is_empty() {
            text.push('.');
            text.push_str(&self.fraction);
        }
        text
    }

    /// Rounded half away from zero to `scale` fraction digits.
    fn rounded(&self, scale: usize) -> Self {
        if self.fraction.len() <= scale {
            return self.clone();
        }
        let round_up = self.fraction.as_bytes()[scale] >= b'5';
        let mut digits: Vec<u8> =
            format!("{}{}", self.integer, &self.fraction[..scale]).into_bytes();
        if round_up {
            let mut index = digits.len();
            loop {
                if index == 0 {
                    digits.insert(0, b'1');
                    break;
                }
                index -= 1;
                if digits[index] == b'9' {
                    digits[index] = b'0';
                } else {
                    digits[index] += 1;
                    break;
                }
            }
        }
        let split = digits.len() - scale;
        let text = String::from_utf8(digits).expect("ASCII digits");
        let sign = if self.negative { "-" } else { "" };
        Self::parse(&format!("{sign}{}.{}", &text[..split], &text[split..]))
            .expect("digits make a decimal")
    }

    /// The largest magnitude of `decimal(precision, scale)`, with this number's sign.
    fn extreme(&self, precision: usize, scale: usize) -> Self {
        let integer = "9".repeat(precision.saturating_sub(scale));
        let fraction = "9".repeat(scale);
        Self {
            negative: self.negative,
            integer,
            fraction,
        }
    }
}

/// The usual decimal from a source (`1524.0000`, `-0.5000`) made canonical by cutting its
/// trailing zeros in place, if it fits `decimal(precision, scale)`; anything else is given
/// back for the general path.
fn canonical_in_place(
    mut text: CompactString,
    precision: Option<u32>,
    scale: Option<u32>,
) -> Result<CompactString, CompactString> {
    let Some((negative, integer, fraction)) = plain_decimal(&text) else {
        return Err(text);
    };
    let scale = scale.unwrap_or(0) as usize;
    let fits = precision.is_none_or(|precision| {
        fraction.len() <= scale && integer.len() <= (precision as usize).saturating_sub(scale)
    });
    let unsigned = &text[usize::from(negative)..];
    let written = &unsigned[..unsigned
        .bytes()
        .position(|byte| byte == b'.')
        .unwrap_or(unsigned.len())];
    // The canonical text is a prefix of the text: no `+`, the integer part written without
    // leading zeros (or as one `0`), not a negative zero.
    let is_prefix = !text.starts_with('+')
        && ((!integer.is_empty() && written == integer) || (integer.is_empty() && written == "0"))
        && !(negative && integer.is_empty() && fraction.is_empty());
    if !fits || !is_prefix {
        return Err(text);
    }
    let keep = usize::from(negative)
        + written.len()
        + if fraction.is_empty() {
            0
        } else {
            1 + fraction.len()
        };
    text.truncate(keep);
    Ok(text)
}

fn to_integer(value: &Value, min: i128, max: i128, target: &LogicalType) -> Result<i128, Lossy> {
    let clamp = |number: i128| number.clamp(min, max);
    let out_of_range = |shown: String, nearest: i128| {
        Lossy::new(
            format!("`{shown}` is out of range for {target}"),
            Some(integer_value(nearest, target)),
        )
    };
    let number = match value {
        Value::Int(number) => i128::from(*number),
        Value::UInt(number) => i128::from(*number),
        Value::Bool(flag) => i128::from(*flag),
        Value::Float(float) if float.is_nan() => return Err(not_convertible(value, target)),
        _ => {
            let Some(parts) = DecimalParts::from_value(value) else {
                return Err(not_convertible(value, target));
            };
            let rounded = parts.rounded(0);
            let magnitude: Option<i128> = if rounded.integer.is_empty() {
                Some(0)
            } else {
                rounded.integer.parse().ok()
            };
            let nearest = match magnitude {
                Some(magnitude) if rounded.negative => clamp(-magnitude),
                Some(magnitude) => clamp(magnitude),
                None if rounded.negative => min,
                None => max,
            };
            if !parts.fraction.is_empty() {
                return Err(Lossy::new(
                    format!(
                        "`{}` has a fraction, which {target} cannot hold",
                        parts.text()
                    ),
                    Some(integer_value(nearest, target)),
                ));
            }
            match magnitude {
                Some(magnitude) => {
                    if rounded.negative {
                        -magnitude
                    } else {
                        magnitude
                    }
                }
                None => return Err(out_of_range(parts.text(), nearest)),
            }
        }
    };
    if number < min || number > max {
        return Err(out_of_range(number.to_string(), clamp(number)));
    }
    Ok(number)
}

/// An integer already within the target's range, as the target's kind of value.
fn integer_value(number: i128, target: &LogicalType) -> Value {
    match target {
        LogicalType::Int { .. } => Value::Int(i64::try_from(number).unwrap_or(if number < 0 {
            i64::MIN
        } else {
            i64::MAX
        })),
        _ => Value::UInt(u64::try_from(number).unwrap_or(if number < 0 { 0 } else { u64::MAX })),
    }
}

fn to_decimal(
    value: &Value,
    precision: Option<u32>,
    scale: Option<u32>,
    target: &LogicalType,
) -> Result<Value, Lossy> {
    if let Value::Float(float) = *value
        && float.is_infinite()
    {
        return Err(Lossy::new(
            format!("{} cannot be read as {target}", canonical_float(float)),
            precision.map(|precision| {
                let sign = if float < 0.0 { "-" } else { "" };
                let parts = DecimalParts::parse(&format!("{sign}1")).expect("a number");
                Value::Decimal(
                    parts
                        .extreme(precision as usize, scale.unwrap_or(0) as usize)
                        .text()
                        .into(),
                )
            }),
        ));
    }
    // The usual cases, a plain decimal (or a float, written shortest) that fits, without
    // building its parts.
    let mut shortest = ryu::Buffer::new();
    let plain = match value {
        Value::Decimal(text) => Some(text.as_str()),
        Value::Float(float) if float.is_finite() => Some(shortest.format_finite(*float)),
        _ => None,
    };
    if let Some(text) = plain
        && let Some((negative, integer, fraction)) = plain_decimal(text)
        && precision.is_none_or(|precision| {
            let scale = scale.unwrap_or(0) as usize;
            fraction.len() <= scale && integer.len() <= (precision as usize).saturating_sub(scale)
        })
    {
        let mut canonical = CompactString::with_capacity(integer.len() + fraction.len() + 3);
        if negative && !(integer.is_empty() && fraction.is_empty()) {
            canonical.push('-');
        }
        canonical.push_str(if integer.is_empty() { "0" } else { integer });
        if !fraction.is_empty() {
            canonical.push('.');
            canonical.push_str(fraction);
        }
        return Ok(Value::Decimal(canonical));
    }
    let Some(parts) = DecimalParts::from_value(value) else {
        return Err(not_convertible(value, target));
    };
    let Some(precision) = precision else {
        return Ok(Value::Decimal(parts.text().into()));
    };
    let (precision, scale) = (precision as usize, scale.unwrap_or(0) as usize);
    let fits = |parts: &DecimalParts| parts.integer.len() <= precision.saturating_sub(scale);
    let rounded = parts.rounded(scale);
    let nearest = if fits(&rounded) {
        rounded
    } else {
        parts.extreme(precision, scale)
    };
    if parts.fraction.len() > scale {
        return Err(Lossy::new(
            format!(
                "`{}` has more than {scale} decimal places, which {target} cannot hold",
                parts.text()
            ),
            Some(Value::Decimal(nearest.text().into())),
        ));
    }
    if !fits(&parts) {
        return Err(Lossy::new(
            format!("`{}` is out of range for {target}", parts.text()),
            Some(Value::Decimal(nearest.text().into())),
        ));
    }
    Ok(Value::Decimal(parts.text().into()))
}

// Every cast here is checked by converting back and comparing exactly.
#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::float_cmp
)]
fn to_float(value: &Value, target: &LogicalType, driver: Driver) -> Result<Value, Lossy> {
    let float = match value {
        Value::Float(float) => *float,
        Value::Bool(flag) => f64::from(u8::from(*flag)),
        Value::Int(number) => {
            let float = *number as f64;
            if float as i128 != i128::from(*number) {
                return Err(Lossy::new(
                    format!("{number} has more digits than a {target} holds"),
                    Some(Value::Float(float)),
                ));
            }
            float
        }
        Value::UInt(number) => {
            let float = *number as f64;
            if float as u128 != u128::from(*number) {
                return Err(Lossy::new(
                    format!("{number} has more digits than a {target} holds"),
                    Some(Value::Float(float)),
                ));
            }
            float
        }
        Value::Decimal(text) | Value::Text(text) => {
            let Ok(float) = text.trim().parse::<f64>() else {
                return Err(not_convertible(value, target));
            };
            if matches!(value, Value::Decimal(_))
                && float.is_finite()
                && canonical_float(float) != canonical_decimal(text)
            {
                return Err(Lossy::new(
                    format!(
                        "`{}` has more digits than a {target} holds",
                        canonical_decimal(text)
                    ),
                    Some(Value::Float(float)),
                ));
            }
            float
        }
        _ => return Err(not_convertible(value, target)),
    };
    if !float.is_finite() {
        // MySQL has no NaN or infinity; SQLite stores NaN as NULL.
        let holds = match driver {
            Driver::Postgres => true,
            Driver::Sqlite => !float.is_nan(),
            Driver::MySql => false,
        };
        if !holds {
            let nearest = (!float.is_nan()).then(|| {
                Value::Float(if float > 0.0 {
                    largest(target)
                } else {
                    -largest(target)
                })
            });
            return Err(Lossy::new(
                format!("{} cannot be stored in {driver}", canonical_float(float)),
                nearest,
            ));
        }
    }
    if *target == LogicalType::Float32 {
        let single = float as f32;
        if float.is_finite() && single.is_infinite() {
            return Err(Lossy::new(
                format!("{} is out of range for {target}", canonical_float(float)),
                Some(Value::Float(if float > 0.0 {
                    largest(target)
                } else {
                    -largest(target)
                })),
            ));
        }
        if float.is_finite() && f64::from(single) != float {
            return Err(Lossy::new(
                format!(
                    "{} has more digits than a {target} holds",
                    canonical_float(float)
                ),
                Some(Value::Float(f64::from(single))),
            ));
        }
        return Ok(Value::Float(f64::from(single)));
    }
    Ok(Value::Float(float))
}

fn largest(target: &LogicalType) -> f64 {
    if *target == LogicalType::Float32 {
        f64::from(f32::MAX)
    } else {
        f64::MAX
    }
}

/// The text of a value, for a text column. A value the source could not type (a zero date)
/// is its text, which a text column holds without loss.
fn to_text(value: Value) -> Result<CompactString, Lossy> {
    Ok(match value {
        Value::Text(text) | Value::Invalid { text, .. } => text,
        Value::Json(json) => json.to_string().into(),
        // `String` keeps the bytes' buffer, which a `CompactString` then takes over.
        Value::Bytes(bytes) => String::from_utf8(bytes)
            .map_err(|_| Lossy::new("binary data that is not UTF-8 text".to_owned(), None))?
            .into(),
        other => other.canonical().unwrap_or_default().into(),
    })
}

fn fit_text(text: CompactString, max_length: Option<u32>, driver: Driver) -> Result<Value, Lossy> {
    if driver == Driver::Postgres && text.contains('\0') {
        return Err(Lossy::new(
            format!(
                "`{}` contains a NUL character, which PostgreSQL text cannot hold",
                shorten(&text.replace('\0', "\\0"))
            ),
            Some(Value::Text(text.replace('\0', "").into())),
        ));
    }
    // A text of no more bytes than the limit has no more characters either.
    if let Some(limit) = max_length
        && text.len() > limit as usize
    {
        let length = text.chars().count();
        if length > limit as usize {
            let nearest: CompactString = text.chars().take(limit as usize).collect();
            return Err(Lossy::new(
                format!(
                    "`{}` is {length} characters long, more than the column's {limit}",
                    shorten(&text)
                ),
                Some(Value::Text(nearest)),
            ));
        }
    }
    Ok(Value::Text(text))
}

fn to_bytes(value: Value, max_length: Option<u32>) -> Result<Value, Lossy> {
    let bytes = match value {
        Value::Bytes(bytes) => bytes,
        Value::Uuid(uuid) => uuid.as_bytes().to_vec(),
        other => to_text(other)?.into_string().into_bytes(),
    };
    if let Some(limit) = max_length
        && bytes.len() > limit as usize
    {
        return Err(Lossy::new(
            format!("{} bytes are more than the column's {limit}", bytes.len()),
            Some(Value::Bytes(bytes[..limit as usize].to_vec())),
        ));
    }
    Ok(Value::Bytes(bytes))
}

/// The years a date column holds on `driver`: MySQL's `DATE` and `DATETIME` end at 9999, and
/// pipewright writes PostgreSQL's years BC and SQLite's as they are.
fn year_range(driver: Driver) -> Option<(i32, i32)> {
    match driver {
        Driver::MySql => Some((1, 9999)),
        Driver::Postgres => Some((-4712, 294_276)),
        Driver::Sqlite => None,
    }
}

fn check_year(date: NaiveDate, driver: Driver) -> Result<(), Lossy> {
    if let Some((first, last)) = year_range(driver)
        && !(first..=last).contains(&date.year())
    {
        let nearest = if date.year() < first {
            NaiveDate::from_ymd_opt(first, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(last, 12, 31)
        };
        return Err(Lossy::new(
            format!("{date} is outside the years {driver} holds"),
            nearest.map(Value::Date),
        ));
    }
    Ok(())
}

fn to_date(value: Value, driver: Driver) -> Result<Value, Lossy> {
    let date = match value {
        Value::Date(date) => date,
        Value::Timestamp(timestamp) => date_of(timestamp)?,
        Value::TimestampTz(timestamp) => date_of(timestamp.naive_utc())?,
        Value::Text(text) => match crate::data::row_reader::parse_date(&text) {
            Value::Date(date) => date,
            _ => return Err(invalid(&text, "not a date")),
        },
        Value::Invalid { text, reason } => return Err(invalid(&text, reason)),
        other => return Err(not_convertible(&other, &LogicalType::Date)),
    };
    check_year(date, driver)?;
    Ok(Value::Date(date))
}

fn date_of(timestamp: NaiveDateTime) -> Result<NaiveDate, Lossy> {
    if timestamp.time() == NaiveTime::MIN {
        Ok(timestamp.date())
    } else {
        Err(Lossy::new(
            format!("{timestamp} has a time of day, which a date cannot hold"),
            Some(Value::Date(timestamp.date())),
        ))
    }
}

/// Cuts fractional seconds to `precision` digits; `Err` with the cut value if that loses
/// something.
fn fit_fraction(nanos: u32, precision: u8) -> Result<u32, u32> {
    let unit = 10_u32.pow(9 - u32::from(precision.min(9)));
    let cut = nanos - nanos % unit;
    if cut == nanos { Ok(nanos) } else { Err(cut) }
}

fn to_time(value: Value, precision: u8) -> Result<Value, Lossy> {
    let time = match value {
        Value::Time(time) => time,
        Value::Text(text) => match crate::data::row_reader::parse_time(&text) {
            Value::Time(time) => time,
            _ => return Err(invalid(&text, "not a time of day")),
        },
        Value::Invalid { text, reason } => return Err(invalid(&text, reason)),
        other => {
            return Err(not_convertible(&other, &LogicalType::Time { precision }));
        }
    };
    match fit_fraction(time.nanosecond(), precision) {
        Ok(_) => Ok(Value::Time(time)),
        Err(cut) => Err(Lossy::new(
            format!("{time} has more fractional digits than time({precision}) holds"),
            time.with_nanosecond(cut).map(Value::Time),
        )),
    }
}

fn to_timestamp(value: Value, precision: u8, driver: Driver) -> Result<NaiveDateTime, Lossy> {
    let timestamp = match value {
        Value::Timestamp(timestamp) => timestamp,
        // An instant is written as its UTC date and time.
        Value::TimestampTz(timestamp) => timestamp.naive_utc(),
        Value::Date(date) => date.and_time(NaiveTime::MIN),
        Value::Int(seconds) => match DateTime::<Utc>::from_timestamp(seconds, 0) {
            Some(at) => at.naive_utc(),
            None => return Err(invalid(&seconds.to_string(), "not a time")),
        },
        Value::Text(text) => match crate::data::row_reader::parse_timestamp_tz(&text) {
            Value::TimestampTz(at) => at.naive_utc(),
            _ => return Err(invalid(&text, "not a date and time")),
        },
        Value::Invalid { text, reason } => return Err(invalid(&text, reason)),
        other => {
            return Err(not_convertible(
                &other,
                &LogicalType::Timestamp { precision },
            ));
        }
    };
    check_year(timestamp.date(), driver).map_err(|lossy| Lossy {
        reason: lossy.reason,
        nearest: lossy.nearest.and_then(|nearest| match nearest {
            Value::Date(date) if date.month() == 1 => {
                Some(Value::Timestamp(date.and_time(NaiveTime::MIN)))
            }
            Value::Date(date) => date
                .and_hms_micro_opt(23, 59, 59, 999_999)
                .map(Value::Timestamp),
            other => Some(other),
        }),
    })?;
    match fit_fraction(timestamp.nanosecond(), precision) {
        Ok(_) => Ok(timestamp),
        Err(cut) => Err(Lossy::new(
            format!("{timestamp} has more fractional digits than the column's {precision}"),
            timestamp.with_nanosecond(cut).map(Value::Timestamp),
        )),
    }
}

fn to_json(value: Value) -> Result<Value, Lossy> {
    Ok(Value::Json(Box::new(match value {
        Value::Json(json) => return Ok(Value::Json(json)),
        Value::Text(text) => match serde_json::from_str(&text) {
            Ok(json) => json,
            Err(_) => return Err(invalid(&text, "not JSON")),
        },
        Value::Bool(flag) => serde_json::Value::Bool(flag),
        Value::Int(number) => number.into(),
        Value::UInt(number) => number.into(),
        Value::Float(float) if float.is_finite() => float.into(),
        Value::Invalid { text, reason } => return Err(invalid(&text, reason)),
        other => serde_json::Value::String(other.canonical().unwrap_or_default()),
    })))
}

fn to_uuid(value: Value) -> Result<Value, Lossy> {
    match value {
        Value::Uuid(uuid) => Ok(Value::Uuid(uuid)),
        Value::Text(text) => uuid::Uuid::parse_str(text.trim())
            .map(Value::Uuid)
            .map_err(|_| invalid(&text, "not a UUID")),
        Value::Bytes(bytes) if bytes.len() == 16 => Ok(Value::Uuid(
            uuid::Uuid::from_slice(&bytes).expect("16 bytes make a UUID"),
        )),
        other => Err(not_convertible(&other, &LogicalType::Uuid)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decimal(precision: u32, scale: u32) -> LogicalType {
        LogicalType::Decimal {
            precision: Some(precision),
            scale: Some(scale),
        }
    }

    #[test]
    fn integers_fit_or_clamp_to_the_range() {
        let int8 = LogicalType::Int { bytes: 1 };
        assert_eq!(
            coerce(Value::Int(127), &int8, Driver::Postgres),
            Ok(Value::Int(127))
        );
        let lossy = coerce(Value::Int(300), &int8, Driver::Postgres).unwrap_err();
        assert_eq!(lossy.nearest, Some(Value::Int(127)));
        assert!(
            lossy.reason.contains("out of range for int8"),
            "{}",
            lossy.reason
        );
        let unsigned = LogicalType::UInt { bytes: 8 };
        assert_eq!(
            coerce(Value::UInt(u64::MAX), &unsigned, Driver::MySql),
            Ok(Value::UInt(u64::MAX))
        );
        let lossy = coerce(Value::Int(-1), &unsigned, Driver::MySql).unwrap_err();
        assert_eq!(lossy.nearest, Some(Value::UInt(0)));
        let bigint = LogicalType::Int { bytes: 8 };
        let lossy = coerce(Value::UInt(u64::MAX), &bigint, Driver::Postgres).unwrap_err();
        assert_eq!(lossy.nearest, Some(Value::Int(i64::MAX)));
        let lossy = coerce(Value::Decimal("2.5".into()), &bigint, Driver::Postgres).unwrap_err();
        assert_eq!(lossy.nearest, Some(Value::Int(3)));
        assert_eq!(
            coerce(Value::Text(" 42 ".into()), &bigint, Driver::Sqlite),
            Ok(Value::Int(42))
        );
        assert!(
            coerce(Value::Text("forty".into()), &bigint, Driver::Sqlite)
                .unwrap_err()
                .nearest
                .is_none()
        );
    }

    #[test]
    fn decimals_keep_every_digit_or_say_what_is_cut() {
        let money = decimal(12, 4);
        assert_eq!(
            coerce(
                Value::Decimal("00123.4500".into()),
                &money,
                Driver::Postgres
            ),
            Ok(Value::Decimal("123.45".into()))
        );
        let lossy = coerce(Value::Decimal("1.23456".into()), &money, Driver::Postgres).unwrap_err();
        assert_eq!(lossy.nearest, Some(Value::Decimal("1.2346".into())));
        let lossy = coerce(
            Value::Decimal("-99999999.99999".into()),
            &money,
            Driver::MySql,
        )
        .unwrap_err();
        assert_eq!(lossy.nearest, Some(Value::Decimal("-99999999.9999".into())));
        let lossy = coerce(Value::Decimal("123456789".into()), &money, Driver::MySql).unwrap_err();
        assert_eq!(lossy.nearest, Some(Value::Decimal("99999999.9999".into())));
        assert_eq!(
            coerce(Value::Float(11.43), &money, Driver::MySql),
            Ok(Value::Decimal("11.43".into()))
        );
        let wide = "123456789012345678901234567890.123456789";
        assert_eq!(
            coerce(
                Value::Decimal(wide.into()),
                &LogicalType::Decimal {
                    precision: None,
                    scale: None
                },
                Driver::Postgres
            ),
            Ok(Value::Decimal(wide.into()))
        );
        assert_eq!(
            coerce(Value::UInt(u64::MAX), &decimal(20, 0), Driver::Postgres),
            Ok(Value::Decimal(u64::MAX.to_string().into()))
        );
    }

    #[test]
    fn decimals_are_made_canonical_in_place_or_the_long_way_alike() {
        let money = decimal(12, 4);
        for text in [
            "1524.0000",
            "-0.5000",
            "0.0000",
            "-0.0000",
            ".5",
            "007",
            "+3.10",
            "12",
            "-12.3400",
            "99999999.99990",
            "1.23456",
        ] {
            let quick = coerce(Value::Decimal(text.into()), &money, Driver::Postgres);
            let long = to_decimal(&Value::Decimal(text.into()), Some(12), Some(4), &money);
            assert_eq!(quick, long, "{text}");
        }
    }

    #[test]
    fn floats_say_when_digits_are_lost() {
        let lossy = coerce(
            Value::Decimal("0.12345678901234567890".into()),
            &LogicalType::Float64,
            Driver::Postgres,
        )
        .unwrap_err();
        assert!(lossy.reason.contains("more digits"), "{}", lossy.reason);
        assert_eq!(
            coerce(
                Value::Decimal("1.5".into()),
                &LogicalType::Float64,
                Driver::Postgres
            ),
            Ok(Value::Float(1.5))
        );
        assert!(coerce(Value::Float(f64::NAN), &LogicalType::Float64, Driver::MySql).is_err());
        assert_eq!(
            coerce(
                Value::Float(f64::NAN),
                &LogicalType::Float64,
                Driver::Postgres
            )
            .map(|value| value.canonical()),
            Ok(Some("NaN".into()))
        );
        assert!(coerce(Value::Float(0.1), &LogicalType::Float32, Driver::Postgres).is_err());
        assert_eq!(
            coerce(Value::Float(0.5), &LogicalType::Float32, Driver::Postgres),
            Ok(Value::Float(0.5))
        );
    }

    #[test]
    fn text_is_cut_only_when_allowed() {
        let short = LogicalType::Text {
            max_length: Some(3),
        };
        assert_eq!(
            coerce(Value::Text("héé".into()), &short, Driver::MySql),
            Ok(Value::Text("héé".into())),
            "characters, not bytes"
        );
        let lossy = coerce(Value::Text("🙂🙂🙂🙂".into()), &short, Driver::MySql).unwrap_err();
        assert_eq!(lossy.nearest, Some(Value::Text("🙂🙂🙂".into())));
        let text = LogicalType::Text { max_length: None };
        assert!(coerce(Value::Text("a\0b".into()), &text, Driver::Postgres).is_err());
        assert_eq!(
            coerce(Value::Text("a\0b".into()), &text, Driver::Sqlite),
            Ok(Value::Text("a\0b".into()))
        );
        assert_eq!(
            coerce(
                Value::Invalid {
                    text: "0000-00-00".into(),
                    reason: "a zero date"
                },
                &text,
                Driver::Postgres
            ),
            Ok(Value::Text("0000-00-00".into())),
            "a text column holds a zero date as it was written"
        );
        assert_eq!(
            coerce(Value::Text("".into()), &text, Driver::Postgres),
            Ok(Value::Text("".into())),
            "empty stays empty, never NULL"
        );
    }

    #[test]
    fn zero_dates_have_no_nearest_value() {
        let lossy = coerce(
            Value::Invalid {
                text: "0000-00-00".into(),
                reason: "a zero date",
            },
            &LogicalType::Date,
            Driver::Postgres,
        )
        .unwrap_err();
        assert_eq!(lossy.reason, "`0000-00-00` is a zero date");
        assert_eq!(lossy.nearest, None);
    }

    #[test]
    fn dates_and_times_convert_between_kinds() {
        let date = NaiveDate::from_ymd_opt(2025, 3, 4).unwrap();
        let midnight = date.and_time(NaiveTime::MIN);
        assert_eq!(
            coerce(
                Value::Timestamp(midnight),
                &LogicalType::Date,
                Driver::MySql
            ),
            Ok(Value::Date(date))
        );
        let noon = date.and_hms_opt(12, 0, 0).unwrap();
        assert!(coerce(Value::Timestamp(noon), &LogicalType::Date, Driver::MySql).is_err());
        let zoned = coerce(
            Value::Timestamp(noon),
            &LogicalType::TimestampTz { precision: 6 },
            Driver::Postgres,
        );
        assert_eq!(zoned, Ok(Value::TimestampTz(noon.and_utc())));
        let precise = date.and_hms_micro_opt(1, 2, 3, 456_789).unwrap();
        let lossy = coerce(
            Value::Timestamp(precise),
            &LogicalType::Timestamp { precision: 3 },
            Driver::MySql,
        )
        .unwrap_err();
        assert_eq!(
            lossy.nearest,
            Some(Value::Timestamp(
                date.and_hms_micro_opt(1, 2, 3, 456_000).unwrap()
            ))
        );
        let ancient = NaiveDate::from_ymd_opt(-5, 1, 1).unwrap();
        assert!(coerce(Value::Date(ancient), &LogicalType::Date, Driver::MySql).is_err());
        assert!(coerce(Value::Date(ancient), &LogicalType::Date, Driver::Postgres).is_ok());
    }

    #[test]
    fn booleans_accept_only_zero_and_one() {
        assert_eq!(
            coerce(Value::Int(1), &LogicalType::Bool, Driver::Postgres),
            Ok(Value::Bool(true))
        );
        assert!(coerce(Value::Int(2), &LogicalType::Bool, Driver::Postgres).is_err());
        assert_eq!(
            coerce(
                Value::Text("f".into()),
                &LogicalType::Bool,
                Driver::Postgres
            ),
            Ok(Value::Bool(false))
        );
    }

    #[test]
    fn enums_and_sets_check_their_members() {
        let status = LogicalType::Enum {
            values: vec!["open".into(), "closed".into()],
        };
        assert!(coerce(Value::Text("open".into()), &status, Driver::MySql).is_ok());
        assert!(coerce(Value::Text("pending".into()), &status, Driver::MySql).is_err());
        let flags = LogicalType::Set {
            values: vec!["a".into(), "b".into()],
        };
        assert!(coerce(Value::Text("a,b".into()), &flags, Driver::MySql).is_ok());
        assert!(coerce(Value::Text("a,c".into()), &flags, Driver::MySql).is_err());
        assert!(coerce(Value::Text("".into()), &flags, Driver::MySql).is_ok());
    }
}
