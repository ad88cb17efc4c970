//! The store's own schema: versioned SQL files per dialect under `migrations/store/`, applied
//! in order, idempotently, so that two processes upgrading at once cannot break it.

use crate::db::{Database, DbError, SqlValue, quote_identifier, split_statements};
use crate::pipeline::Driver;

/// One version of the store's schema.
struct SchemaVersion {
    version: i64,
    description: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
    mysql: &'static str,
}

const VERSIONS: &[SchemaVersion] = &[
    SchemaVersion {
        version: 1,
        description: "monitoring tables",
        sqlite: include_str!("../../migrations/store/sqlite/0001_monitoring_tables.sql"),
        postgres: include_str!("../../migrations/store/postgres/0001_monitoring_tables.sql"),
        mysql: include_str!("../../migrations/store/mysql/0001_monitoring_tables.sql"),
    },
    SchemaVersion {
        version: 2,
        description: "run history",
        sqlite: include_str!("../../migrations/store/sqlite/0002_run_history.sql"),
        postgres: include_str!("../../migrations/store/postgres/0002_run_history.sql"),
        mysql: include_str!("../../migrations/store/mysql/0002_run_history.sql"),
    },
    SchemaVersion {
        version: 3,
        description: "wide row counts",
        sqlite: include_str!("../../migrations/store/sqlite/0003_wide_row_counts.sql"),
        postgres: include_str!("../../migrations/store/postgres/0003_wide_row_counts.sql"),
        mysql: include_str!("../../migrations/store/mysql/0003_wide_row_counts.sql"),
    },
    SchemaVersion {
        version: 4,
        description: "check details",
        sqlite: include_str!("../../migrations/store/sqlite/0004_check_details.sql"),
        postgres: include_str!("../../migrations/store/postgres/0004_check_details.sql"),
        mysql: include_str!("../../migrations/store/mysql/0004_check_details.sql"),
    },
    SchemaVersion {
        version: 5,
        description: "alert keys",
        sqlite: include_str!("../../migrations/store/sqlite/0005_alert_keys.sql"),
        postgres: include_str!("../../migrations/store/postgres/0005_alert_keys.sql"),
        mysql: include_str!("../../migrations/store/mysql/0005_alert_keys.sql"),
    },
];

/// The newest schema version this pipewright knows.
pub const LATEST_VERSION: i64 = 5;

/// Columns pipewright adds to monitoring tables created by others (SEED.md's own DDL has no
/// run or step), so an existing monitoring database can be adopted as it is.
const ADOPTED_COLUMNS: &[(&str, &str, &str)] = &[
    ("logs", "run_id", "VARCHAR(36)"),
    ("logs", "step_id", "VARCHAR(255)"),
    ("performance_metrics", "run_id", "VARCHAR(36)"),
    ("performance_metrics", "step_id", "VARCHAR(255)"),
    ("data_quality_checks", "run_id", "VARCHAR(36)"),
    ("data_quality_checks", "step_id", "VARCHAR(255)"),
    ("alerts", "run_id", "VARCHAR(36)"),
    ("alerts", "step_id", "VARCHAR(255)"),
];

/// Columns later schema versions add, by version.
const ADDED_COLUMNS: &[(i64, &str, &str, &str)] = &[
    (4, "data_quality_checks", "details", "TEXT"),
    (5, "alerts", "alert_key", "VARCHAR(64)"),
];

/// Why the store's schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(
        "the monitoring store is at schema version {found}, newer than this pipewright knows ({LATEST_VERSION}): upgrade pipewright"
    )]
    TooNew { found: i64 },
}

/// Applies every schema version the store lacks.
pub(crate) async fn upgrade(database: &Database) -> Result<(), SchemaError> {
    let driver = database.driver();
    let timestamp_type = if driver == Driver::MySql {
        "DATETIME(6)"
    } else {
        "TIMESTAMP"
    };
    database
        .execute(
            &format!(
                "CREATE TABLE IF NOT EXISTS pipewright_store_schema (version BIGINT PRIMARY KEY, description VARCHAR(200) NOT NULL, applied_at {timestamp_type} NOT NULL)"
            ),
            Vec::new(),
        )
        .await?;
    let applied: Vec<(i64,)> = database
        .fetch_all("SELECT version FROM pipewright_store_schema", Vec::new())
        .await?;
    let newest = applied.iter().map(|(version,)| *version).max().unwrap_or(0);
    if newest > LATEST_VERSION {
        return Err(SchemaError::TooNew { found: newest });
    }
    for version in VERSIONS.iter().filter(|version| version.version > newest) {
        let script = match driver {
            Driver::Sqlite => version.sqlite,
            Driver::Postgres => version.postgres,
            Driver::MySql => version.mysql,
        };
        for statement in split_statements(script, driver) {
            database.execute(&statement, Vec::new()).await?;
        }
        if version.version == 1 {
            add_missing_columns(database, ADOPTED_COLUMNS).await?;
        }
        let added: Vec<(&str, &str, &str)> = ADDED_COLUMNS
            .iter()
            .filter(|(added_in, ..)| *added_in == version.version)
            .map(|(_, table, column, column_type)| (*table, *column, *column_type))
            .collect();
        add_missing_columns(database, &added).await?;
        let insert = match driver {
            Driver::Sqlite => {
                "INSERT OR IGNORE INTO pipewright_store_schema (version, description, applied_at) VALUES (?, ?, ?)"
            }
            Driver::Postgres => {
                "INSERT INTO pipewright_store_schema (version, description, applied_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
            }
            Driver::MySql => {
                "INSERT IGNORE INTO pipewright_store_schema (version, description, applied_at) VALUES (?, ?, ?)"
            }
        };
        database
            .execute(
                insert,
                vec![
                    version.version.into(),
                    version.description.into(),
                    SqlValue::from(chrono::Utc::now().naive_utc()),
                ],
            )
            .await?;
    }
    Ok(())
}

/// Adds the columns a table lacks (`run_id` and `step_id` to monitoring tables created
/// without them, columns of later versions). Another process adding the same column at the
/// same time is not an error.
async fn add_missing_columns(
    database: &Database,
    columns: &[(&str, &str, &str)],
) -> Result<(), DbError> {
    let driver = database.driver();
    let columns_sql = match driver {
        Driver::Sqlite => "SELECT name FROM pragma_table_info(?)",
        Driver::Postgres => {
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?"
        }
        Driver::MySql => {
            "SELECT CAST(column_name AS CHAR) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?"
        }
    };
    for (table, column, column_type) in columns {
        let has_column = async || -> Result<bool, DbError> {
            let existing: Vec<(String,)> = database
                .fetch_all(columns_sql, vec![(*table).into()])
                .await?;
            Ok(existing
                .iter()
                .any(|(name,)| name.eq_ignore_ascii_case(column)))
        };
        if has_column().await? {
            continue;
        }
        tracing::debug!(target: "pipewright::store", "adding `{column}` to the `{table}` table");
        let added = database
            .execute(
                &format!(
                    "ALTER TABLE {} ADD COLUMN {} {column_type}",
                    quote_identifier(driver, table),
                    quote_identifier(driver, column)
                ),
                Vec::new(),
            )
            .await;
        if let Err(error) = added
            && !has_column().await?
        {
            return Err(error);
        }
    }
    Ok(())
}
