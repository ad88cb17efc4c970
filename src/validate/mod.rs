//! Data-quality validations: the checks of a `validate` step, run in the database where it
//! can (one aggregate query per check), by pipewright where it cannot (regular expressions on
//! SQLite, schemas, reconciliations between two connections).

mod check_outcome;
mod check_sql;
mod checker;
mod range_checksums;
mod reconcile;
mod row_text;

pub use check_outcome::{CheckOutcome, CheckStatus, Differences};
pub use check_sql::check_statements;
pub use checker::{CheckError, Checker, subject_columns};
