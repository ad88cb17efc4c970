//! Databases: pools for SQLite, PostgreSQL and MySQL/MariaDB, SQL scripts, errors.

mod connections;
mod database;
mod db_connection;
mod db_error;
mod dialect;
mod sql_script;
mod sql_value;

pub use connections::Connections;
pub use database::Database;
pub(crate) use database::{numbered_placeholders, placeholders, preview};
pub use db_connection::DbConnection;
pub use db_error::{DbError, is_busy, is_transient};
pub use dialect::quote_identifier;
pub use sql_script::{modifies_rows, split_statements};
pub use sql_value::SqlValue;
