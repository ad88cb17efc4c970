//! Which database engine a connection URL names.

use std::fmt;

use serde::Serialize;

/// The database engines pipewright speaks to, each through its own sqlx driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    Sqlite,
    Postgres,
    MySql,
}

impl Driver {
    /// URL schemes and the driver each one selects.
    pub const SCHEMES: [(&'static str, Self); 5] = [
        ("sqlite", Self::Sqlite),
        ("postgres", Self::Postgres),
        ("postgresql", Self::Postgres),
        ("mysql", Self::MySql),
        ("mariadb", Self::MySql),
    ];

    /// `url` with its scheme in lower case: schemes are case-insensitive, the drivers are not
    /// (`SQLite://x.db` would be a directory named `SQLite:`).
    pub fn lowercase_scheme(url: &str) -> String {
        match url.split_once(':') {
            Some((scheme, rest)) => format!("{}:{rest}", scheme.to_ascii_lowercase()),
            None => url.to_owned(),
        }
    }

    pub fn from_scheme(scheme: &str) -> Option<Self> {
        Self::SCHEMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(scheme))
            .map(|(_, driver)| *driver)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
        }
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}
