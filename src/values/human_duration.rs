//! Durations as people write them in a manifest: `250ms`, `30s`, `5m`, `1h30m`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative duration written as one or more `<integer><unit>` parts, largest unit first,
/// with units `ms`, `s`, `m`, `h` and `d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(Duration);

impl HumanDuration {
    pub const fn new(duration: Duration) -> Self {
        Self(duration)
    }

    pub const fn get(self) -> Duration {
        self.0
    }
}

impl From<HumanDuration> for Duration {
    fn from(value: HumanDuration) -> Self {
        value.0
    }
}

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{input}`: {reason}")]
pub struct DurationError {
    input: String,
    reason: &'static str,
}

const UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

impl FromStr for HumanDuration {
    type Err = DurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let error = |reason| DurationError {
            input: input.to_owned(),
            reason,
        };
        let text = input.trim();
        if text.is_empty() {
            return Err(error("expected a number and a unit, such as `30s` or `5m`"));
        }
        if text == "0" {
            return Ok(Self(Duration::ZERO));
        }
        let mut rest = text;
        let mut total_ms: u64 = 0;
        let mut previous_unit_ms = u64::MAX;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(error("expected a number before each unit, such as `1h30m`"));
            }
            let number: u64 = rest[..digits]
                .parse()
                .map_err(|_| error("the number is too large"))?;
            rest = &rest[digits..];
            let unit_length = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit = &rest[..unit_length];
            let Some(&(_, unit_ms)) = UNITS.iter().find(|(name, _)| *name == unit) else {
                return Err(error(if unit.is_empty() {
                    "missing unit: use `ms`, `s`, `m`, `h` or `d`"
                } else {
                    "unknown unit: use `ms`, `s`, `m`, `h` or `d`"
                }));
            };
            if unit_ms >= previous_unit_ms {
                return Err(error(
                    "write each unit once, largest first, such as `1h30m`",
                ));
            }
            previous_unit_ms = unit_ms;
            total_ms = number
                .checked_mul(unit_ms)
                .and_then(|part| total_ms.checked_add(part))
                .ok_or_else(|| error("the duration is too large"))?;
            rest = &rest[unit_length..];
        }
        Ok(Self(Duration::from_millis(total_ms)))
    }
}

impl fmt::Display for HumanDuration {
    /// The canonical form: the largest units first, zero parts left out (`1h30m`, `250ms`, `0s`).
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut remaining = u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX);
        if remaining == 0 {
            return formatter.write_str("0s");
        }
        for (unit, unit_ms) in UNITS {
            let count = remaining / unit_ms;
            if count > 0 {
                write!(formatter, "{count}{unit}")?;
                remaining -= count * unit_ms;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl JsonSchema for HumanDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration such as `250ms`, `30s`, `5m`, `1h30m` or `1d`.",
            "pattern": "^(0|([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)$",
            "examples": ["30s", "5m", "1h30m"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_canonical_forms() {
        for (input, millis, canonical) in [
            ("0", 0, "0s"),
            ("250ms", 250, "250ms"),
            ("30s", 30_000, "30s"),
            ("90s", 90_000, "1m30s"),
            ("5m", 300_000, "5m"),
            ("1h30m", 5_400_000, "1h30m"),
            ("1d", 86_400_000, "1d"),
            ("2m500ms", 120_500, "2m500ms"),
            (" 10s ", 10_000, "10s"),
        ] {
            let duration: HumanDuration = input.parse().unwrap();
            assert_eq!(duration.get(), Duration::from_millis(millis), "{input}");
            assert_eq!(duration.to_string(), canonical, "{input}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for (input, reason) in [
            ("", "expected a number and a unit"),
            ("10", "missing unit"),
            ("10 s", "missing unit"),
            ("5min", "unknown unit"),
            ("m5", "expected a number before each unit"),
            ("30m1h", "largest first"),
            ("1s1s", "largest first"),
            ("-1s", "expected a number before each unit"),
            ("99999999999999999999s", "too large"),
        ] {
            let error = input.parse::<HumanDuration>().unwrap_err().to_string();
            assert!(error.contains(reason), "{input}: {error}");
        }
    }
}
