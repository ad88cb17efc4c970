//! Validated forms of the `sql` and `migrate` steps.

use std::path::PathBuf;

use serde::Serialize;

use crate::pipeline::ConnectionName;

/// Where a `sql` step's statements come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SqlSource {
    Inline(String),
    File(PathBuf),
}

impl SqlSource {
    /// "inline SQL" or the file's path, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Inline(_) => "the inline SQL".to_owned(),
            Self::File(path) => format!("`{}`", path.display()),
        }
    }
}

/// A `sql` step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqlSpec {
    pub connection: ConnectionName,
    pub source: SqlSource,
    pub transaction: bool,
}

impl SqlSpec {
    /// The statements the step runs on a `driver` database, read from its file if it has
    /// one. SQL text is never interpolated.
    pub fn statements(&self, driver: crate::pipeline::Driver) -> std::io::Result<Vec<String>> {
        let text = match &self.source {
            SqlSource::Inline(sql) => sql.clone(),
            SqlSource::File(path) => std::fs::read_to_string(path)?,
        };
        Ok(crate::db::split_statements(&text, driver))
    }
}

/// A `migrate` step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrateSpec {
    pub connection: ConnectionName,
    pub dir: PathBuf,
    pub history_table: String,
    pub out_of_order: bool,
    #[serde(serialize_with = "crate::run::serialize_millis")]
    pub lock_timeout: std::time::Duration,
}

impl MigrateSpec {
    /// The engine's options for this step.
    pub fn options(&self) -> crate::migrate::MigrateOptions {
        crate::migrate::MigrateOptions {
            dir: self.dir.clone(),
            history_table: self.history_table.clone(),
            out_of_order: self.out_of_order,
            lock_timeout: self.lock_timeout,
        }
    }
}
