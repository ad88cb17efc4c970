//! A validated `[connections.<name>]` table.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::pipeline::Driver;
use crate::secrets::redact_url;
use crate::values::TlsMode;

/// The name of a connection that is known to exist in its pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ConnectionName(Arc<str>);

impl ConnectionName {
    pub(crate) fn new(name: &str) -> Self {
        Self(Arc::from(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for ConnectionName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// A connection URL after interpolation. It may hold a password, so it never prints itself:
/// `Display`, `Debug` and `Serialize` all show the redacted form.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionUrl(String);

impl ConnectionUrl {
    pub fn new(url: String) -> Self {
        Self(url)
    }

    /// The URL with its password. Only for handing to a database driver.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Display for ConnectionUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.redacted())
    }
}

impl fmt::Debug for ConnectionUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "ConnectionUrl({})", self.redacted())
    }
}

impl Serialize for ConnectionUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

/// A database connection of the pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionSpec {
    pub name: ConnectionName,
    pub driver: Driver,
    pub url: ConnectionUrl,
    pub description: Option<String>,
    /// `None`: sized by the run (its concurrency plus one, more for parallel transforms).
    pub max_connections: Option<u32>,
    #[serde(serialize_with = "crate::run::serialize_millis")]
    pub connect_timeout: Duration,
    #[serde(serialize_with = "crate::run::serialize_millis")]
    pub acquire_timeout: Duration,
    /// `None`: what the URL says, else the driver's default (`prefer`).
    pub tls: Option<TlsMode>,
}

impl ConnectionSpec {
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

    /// A connection with default settings, for stores and tests that are not in a manifest.
    pub fn new(name: &str, driver: Driver, url: String) -> Self {
        Self {
            name: ConnectionName::new(name),
            driver,
            url: ConnectionUrl::new(url),
            description: None,
            max_connections: None,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            acquire_timeout: Self::DEFAULT_ACQUIRE_TIMEOUT,
            tls: None,
        }
    }
}
