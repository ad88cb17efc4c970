//! The history table of a migrated database: what was applied, when, with which checksum, and
//! the SQL as it was, so an edited file can be shown as a diff.

use chrono::{NaiveDateTime, Utc};

use crate::db::{DbConnection, DbError, SqlValue, quote_identifier};
use crate::pipeline::Driver;

/// One row of the history table.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub version: u64,
    pub description: String,
    pub checksum: String,
    pub checksum_algorithm: String,
    pub applied_at: NaiveDateTime,
    pub execution_ms: i64,
    /// `false` while a file runs statement by statement, and after it failed part-way.
    pub success: bool,
    pub statements_applied: u32,
    pub statements_total: u32,
    /// The file's text when it was applied (or accepted).
    pub applied_sql: String,
    pub accepted_reason: Option<String>,
}

type RowTuple = (
    i64,
    String,
    String,
    String,
    NaiveDateTime,
    i64,
    bool,
    i64,
    i64,
    String,
    Option<String>,
);

/// The history table of one database.
#[derive(Debug, Clone)]
pub struct HistoryTable {
    name: String,
    driver: Driver,
    /// MySQL: the database a migration file starts in (the session's, not the history
    /// table's when that is in another one).
    home_database: Option<String>,
}

impl HistoryTable {
    pub fn new(name: &str, driver: Driver) -> Self {
        Self {
            name: name.to_owned(),
            driver,
            home_database: None,
        }
    }

    /// The same table, for files that start in `database` (MySQL).
    #[must_use]
    pub fn starting_in(mut self, database: Option<&str>) -> Self {
        self.home_database = database.map(str::to_owned);
        self
    }

    /// MySQL: the database each migration file starts in.
    pub fn home_database(&self) -> Option<&str> {
        self.home_database.as_deref()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn quoted(&self) -> String {
        quote_identifier(self.driver, &self.name)
    }

    /// Whether the table exists, without creating it.
    pub async fn exists(&self, connection: &mut DbConnection) -> Result<bool, DbError> {
        let (schema, table) = match self.name.split_once('.') {
            Some((schema, table)) => (Some(schema), table),
            None => (None, self.name.as_str()),
        };
        let rows: Vec<(String,)> = match self.driver {
            Driver::Sqlite => {
                connection
                    .fetch_all(
                        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?",
                        vec![table.into()],
                    )
                    .await?
            }
            Driver::Postgres => {
                let sql = if schema.is_some() {
                    "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?"
                } else {
                    "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?"
                };
                let mut values: Vec<SqlValue> = schema.map(SqlValue::from).into_iter().collect();
                values.push(table.into());
                connection.fetch_all(sql, values).await?
            }
            Driver::MySql => {
                let sql = if schema.is_some() {
                    "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?"
                } else {
                    "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
                };
                let mut values: Vec<SqlValue> = schema.map(SqlValue::from).into_iter().collect();
                values.push(table.into());
                connection.fetch_all(sql, values).await?
            }
        };
        Ok(!rows.is_empty())
    }

    /// Creates the table if it is not there.
    pub async fn create(&self, connection: &mut DbConnection) -> Result<(), DbError> {
        let (timestamp, text) = match self.driver {
            Driver::MySql => ("DATETIME(6)", "LONGTEXT"),
            Driver::Sqlite | Driver::Postgres => ("TIMESTAMP", "TEXT"),
        };
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} (
                version BIGINT PRIMARY KEY,
                description VARCHAR(255) NOT NULL,
                checksum VARCHAR(64) NOT NULL,
                checksum_algorithm VARCHAR(32) NOT NULL,
                applied_at {timestamp} NOT NULL,
                execution_ms BIGINT NOT NULL,
                success BOOLEAN NOT NULL,
                statements_applied BIGINT NOT NULL,
                statements_total BIGINT NOT NULL,
                applied_sql {text} NOT NULL,
                accepted_reason {text},
                accepted_at {timestamp} NULL
            )",
            self.quoted()
        );
        connection.execute(&sql, Vec::new()).await.map(drop)
    }

    /// Every row, by version; none if the table does not exist.
    pub async fn rows(&self, connection: &mut DbConnection) -> Result<Vec<HistoryRow>, DbError> {
        if !self.exists(connection).await? {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT version, description, checksum, checksum_algorithm, applied_at, execution_ms, success, statements_applied, statements_total, applied_sql, accepted_reason FROM {} ORDER BY version",
            self.quoted()
        );
        let rows: Vec<RowTuple> = connection.fetch_all(&sql, Vec::new()).await?;
        Ok(rows
            .into_iter()
            .map(|row| HistoryRow {
                version: u64::try_from(row.0).unwrap_or(0),
                description: row.1,
                checksum: row.2,
                checksum_algorithm: row.3,
                applied_at: row.4,
                execution_ms: row.5,
                success: row.6,
                statements_applied: u32::try_from(row.7).unwrap_or(0),
                statements_total: u32::try_from(row.8).unwrap_or(0),
                applied_sql: row.9,
                accepted_reason: row.10,
            })
            .collect())
    }

    /// Records a file as started (`success = false`, `applied` statements done) or finished.
    pub async fn record(
        &self,
        connection: &mut DbConnection,
        row: &HistoryRow,
        exists: bool,
    ) -> Result<(), DbError> {
        let now = Utc::now().naive_utc();
        if exists {
            let sql = format!(
                "UPDATE {} SET checksum = ?, checksum_algorithm = ?, applied_at = ?, execution_ms = ?, success = ?, statements_applied = ?, statements_total = ?, applied_sql = ? WHERE version = ?",
                self.quoted()
            );
            connection
                .execute(
                    &sql,
                    vec![
                        row.checksum.clone().into(),
                        row.checksum_algorithm.clone().into(),
                        now.into(),
                        row.execution_ms.into(),
                        row.success.into(),
                        i64::from(row.statements_applied).into(),
                        i64::from(row.statements_total).into(),
                        row.applied_sql.clone().into(),
                        version_value(row.version),
                    ],
                )
                .await
                .map(drop)
        } else {
            let sql = format!(
                "INSERT INTO {} (version, description, checksum, checksum_algorithm, applied_at, execution_ms, success, statements_applied, statements_total, applied_sql, accepted_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self.quoted()
            );
            connection
                .execute(
                    &sql,
                    vec![
                        version_value(row.version),
                        row.description.chars().take(255).collect::<String>().into(),
                        row.checksum.clone().into(),
                        row.checksum_algorithm.clone().into(),
                        now.into(),
                        row.execution_ms.into(),
                        row.success.into(),
                        i64::from(row.statements_applied).into(),
                        i64::from(row.statements_total).into(),
                        row.applied_sql.clone().into(),
                        row.accepted_reason.clone().into(),
                    ],
                )
                .await
                .map(drop)
        }
    }

    /// Records that a file's progress reached `applied` statements.
    pub async fn record_progress(
        &self,
        connection: &mut DbConnection,
        version: u64,
        applied: u32,
    ) -> Result<(), DbError> {
        let sql = format!(
            "UPDATE {} SET statements_applied = ? WHERE version = ?",
            self.quoted()
        );
        connection
            .execute(
                &sql,
                vec![i64::from(applied).into(), version_value(version)],
            )
            .await
            .map(drop)
    }

    /// Forgets a version (after its down file ran).
    pub async fn remove(&self, connection: &mut DbConnection, version: u64) -> Result<(), DbError> {
        let sql = format!("DELETE FROM {} WHERE version = ?", self.quoted());
        connection
            .execute(&sql, vec![version_value(version)])
            .await
            .map(drop)
    }

    /// Accepts the file on disk as what was applied, with the reason, recorded.
    pub async fn accept(
        &self,
        connection: &mut DbConnection,
        version: u64,
        checksum: &str,
        sql_text: &str,
        reason: &str,
    ) -> Result<(), DbError> {
        let sql = format!(
            "UPDATE {} SET checksum = ?, checksum_algorithm = ?, applied_sql = ?, accepted_reason = ?, accepted_at = ? WHERE version = ?",
            self.quoted()
        );
        connection
            .execute(
                &sql,
                vec![
                    checksum.into(),
                    crate::migrate::ChecksumAlgorithm::CURRENT.name().into(),
                    sql_text.into(),
                    reason.into(),
                    Utc::now().naive_utc().into(),
                    version_value(version),
                ],
            )
            .await
            .map(drop)
    }
}

fn version_value(version: u64) -> SqlValue {
    SqlValue::Int(Some(i64::try_from(version).unwrap_or(i64::MAX)))
}
