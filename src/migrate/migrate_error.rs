//! Why migrating stopped, with what to do next.

use std::fmt::Write as _;
use std::time::Duration;

use crate::db::DbError;
use crate::migrate::{ScanError, ValidationProblem};
use crate::values::HumanDuration;

/// A failed migration command or step.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("the migration directory has problems:\n{}", list(.0))]
    Scan(Vec<ScanError>),

    #[error("{}: {}", if *.planning { "nothing would be applied" } else { "nothing was applied" }, describe_problems(.problems))]
    Invalid {
        problems: Vec<ValidationProblem>,
        /// `plan` or a dry run found them, not `up`.
        planning: bool,
    },

    #[error("another process holds the migration lock of `{table}`: gave up after {}", HumanDuration::new(*.after))]
    LockTimeout { table: String, after: Duration },

    #[error("file {file}: {applied} of {total} statements applied; statement {} failed", applied + 1)]
    Partial {
        file: String,
        applied: u32,
        total: u32,
        #[source]
        source: Box<DbError>,
    },

    #[error(
        "file {file} failed at statement {statement} of {total}; its transaction was rolled back, nothing of it remains"
    )]
    RolledBack {
        file: String,
        statement: u32,
        total: u32,
        #[source]
        source: Box<DbError>,
    },

    #[error("down file {file}: {applied} of {total} statements ran; statement {} failed", applied + 1)]
    DownPartial {
        file: String,
        applied: u32,
        total: u32,
        #[source]
        source: Box<DbError>,
    },

    #[error("cancelled{}", .during.as_ref().map(|file| format!(" during {file}")).unwrap_or_default())]
    Cancelled { during: Option<String> },

    #[error("cannot go down to version {target}: {} {} no down file ({})", .missing.len(), if .missing.len() == 1 { "version has" } else { "versions have" }, .missing.join(", "))]
    NoDownFile { target: u64, missing: Vec<String> },

    #[error("version {version} is not applied")]
    NotApplied { version: u64 },

    #[error(transparent)]
    Database(Box<DbError>),
}

impl From<DbError> for MigrateError {
    fn from(error: DbError) -> Self {
        Self::Database(Box::new(error))
    }
}

fn list(errors: &[ScanError]) -> String {
    errors
        .iter()
        .map(|error| format!("  - {error}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn describe_problems(problems: &[ValidationProblem]) -> String {
    let mut text = format!(
        "{} {}",
        problems.len(),
        if problems.len() == 1 {
            "problem"
        } else {
            "problems"
        }
    );
    for problem in problems {
        let _ = write!(text, "\n  - {problem}\n    help: {}", problem.help());
    }
    text
}

impl MigrateError {
    /// What to do next, for the failures that have an answer.
    pub fn help(&self) -> Option<String> {
        match self {
            Self::Partial { applied: 0, .. } => Some(
                "nothing of the file ran and nothing is recorded; fix the statement and run again"
                    .to_owned(),
            ),
            Self::Partial { applied, .. } => Some(format!(
                "the file runs statement by statement (MySQL commits DDL as it goes; a `no-transaction` file has no transaction): the first {applied} stay applied and are recorded; fix statement {} and run again, pipewright continues from there",
                applied + 1
            )),
            Self::RolledBack { .. } => Some("fix the statement and run again".to_owned()),
            Self::DownPartial { .. } => Some(
                "the statements before it stay done and the version is still recorded as applied; a down file keeps no ledger: make it safe to run again (`DROP ... IF EXISTS`), then run `down` again, which starts it from the top".to_owned(),
            ),
            Self::LockTimeout { .. } => Some(
                "wait for the other migration to finish, or raise `lock_timeout`; a lock ends with its holder's connection, so a killed pipewright leaves none behind once its last statement has ended on the server".to_owned(),
            ),
            _ => None,
        }
    }

    pub fn is_lock_timeout(&self) -> bool {
        matches!(self, Self::LockTimeout { .. })
    }
}
