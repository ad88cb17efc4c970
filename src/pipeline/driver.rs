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
