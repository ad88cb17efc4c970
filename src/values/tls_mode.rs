//! `tls` of a connection: whether and how the connection to a server is encrypted.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::manifest::suggestion::help_for_unknown;

/// The TLS modes libpq made familiar, mapped onto the MySQL ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsMode {
    /// Never encrypt.
    Disable,
    /// Encrypt when the server supports it.
    Prefer,
    /// Always encrypt; do not check the certificate.
    Require,
    /// Always encrypt; the certificate must be signed by a trusted authority.
    VerifyCa,
    /// As `verify-ca`, and the certificate must name the host.
    VerifyFull,
}

impl TlsMode {
    pub const ALL: [Self; 5] = [
        Self::Disable,
        Self::Prefer,
        Self::Require,
        Self::VerifyCa,
        Self::VerifyFull,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// An unknown TLS mode, with a suggestion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown TLS mode `{input}`{}", help.as_ref().map(|help| format!(": {help}")).unwrap_or_default())]
pub struct UnknownTlsMode {
    input: String,
    help: Option<String>,
}

impl FromStr for TlsMode {
    type Err = UnknownTlsMode;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.name() == input)
            .ok_or_else(|| UnknownTlsMode {
                input: input.to_owned(),
                help: help_for_unknown(input, Self::ALL.map(Self::name)),
            })
    }
}

impl<'de> Deserialize<'de> for TlsMode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for TlsMode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl JsonSchema for TlsMode {
    fn schema_name() -> Cow<'static, str> {
        "TlsMode".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "enum": ["disable", "prefer", "require", "verify-ca", "verify-full"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_typos_get_suggestions() {
        for mode in TlsMode::ALL {
            assert_eq!(mode.name().parse(), Ok(mode));
        }
        let error = "verify_full".parse::<TlsMode>().unwrap_err().to_string();
        assert_eq!(
            error,
            "unknown TLS mode `verify_full`: did you mean `verify-full`?"
        );
    }
}
