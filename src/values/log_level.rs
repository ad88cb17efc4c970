//! A log level as written in a manifest or on the command line.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::manifest::suggestion::help_for_unknown;

/// The least severe level a log sink records; `off` turns the sink off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum LogLevel {
    Off,
    Error,
    Warn,
    #[default]
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub const ALL: [Self; 6] = [
        Self::Off,
        Self::Error,
        Self::Warn,
        Self::Info,
        Self::Debug,
        Self::Trace,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }

    /// The equivalent filter for `tracing`.
    pub fn filter(self) -> tracing::level_filters::LevelFilter {
        use tracing::level_filters::LevelFilter;
        match self {
            Self::Off => LevelFilter::OFF,
            Self::Error => LevelFilter::ERROR,
            Self::Warn => LevelFilter::WARN,
            Self::Info => LevelFilter::INFO,
            Self::Debug => LevelFilter::DEBUG,
            Self::Trace => LevelFilter::TRACE,
        }
    }

    /// One step more verbose (`-v`), saturating at `trace`.
    #[must_use]
    pub fn more_verbose(self, steps: u8) -> Self {
        let index = Self::ALL
            .iter()
            .position(|level| *level == self)
            .unwrap_or(3);
        Self::ALL[(index + usize::from(steps)).min(Self::ALL.len() - 1)]
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// An unknown log level, with a suggestion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log level `{input}`{}", help.as_ref().map(|help| format!(": {help}")).unwrap_or_default())]
pub struct UnknownLogLevel {
    input: String,
    help: Option<String>,
}

impl FromStr for LogLevel {
    type Err = UnknownLogLevel;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let normalized = input.to_ascii_lowercase();
        let normalized = if normalized == "warning" {
            "warn"
        } else {
            &normalized
        };
        Self::ALL
            .into_iter()
            .find(|level| level.name() == normalized)
            .ok_or_else(|| UnknownLogLevel {
                input: input.to_owned(),
                help: help_for_unknown(input, Self::ALL.map(Self::name)),
            })
    }
}

impl<'de> Deserialize<'de> for LogLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for LogLevel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl JsonSchema for LogLevel {
    fn schema_name() -> Cow<'static, str> {
        "LogLevel".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "enum": ["off", "error", "warn", "info", "debug", "trace"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_case_insensitively() {
        assert_eq!("WARN".parse(), Ok(LogLevel::Warn));
        assert_eq!("warning".parse(), Ok(LogLevel::Warn));
        assert_eq!("debug".parse(), Ok(LogLevel::Debug));
        let error = "debgu".parse::<LogLevel>().unwrap_err().to_string();
        assert_eq!(error, "unknown log level `debgu`: did you mean `debug`?");
    }

    #[test]
    fn verbosity_saturates() {
        assert_eq!(LogLevel::Info.more_verbose(1), LogLevel::Debug);
        assert_eq!(LogLevel::Info.more_verbose(9), LogLevel::Trace);
        assert_eq!(LogLevel::Error.more_verbose(0), LogLevel::Error);
    }
}
