//! What a database says about a table: columns and their types, primary key, indexes, an
//! estimate of its rows. One query set per engine.

use serde::Serialize;

use crate::data::LogicalType;
use crate::db::{DbConnection, DbError, SqlValue, quote_identifier};
use crate::pipeline::Driver;

/// A column as its table declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    pub name: String,
    pub logical: LogicalType,
    pub nullable: bool,
    /// The type as the source catalog writes it.
    pub declared: String,
}

/// A secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexSpec {
    pub name: String,
    pub unique: bool,
    pub columns: Vec<String>,
}

/// A table's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableSchema {
    pub name: String,
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    pub indexes: Vec<IndexSpec>,
    /// The catalog's estimate of the row count, when it has one.
    pub row_estimate: Option<u64>,
}

/// `schema.table` as (schema, table), or (None, table).
pub fn split_name(name: &str) -> (Option<&str>, &str) {
    match name.rsplit_once('.') {
        Some((schema, table)) => (Some(schema), table),
        None => (None, name),
    }
}

/// Whether two names written in a step are the same table of one connection on `driver`:
/// the same name in the same schema, SQLite's `main` being no schema (elsewhere `main` is a
/// schema like another).
pub(crate) fn same_table(driver: Driver, left: &str, right: &str) -> bool {
    let normal = |name| {
        let (schema, table) = split_name(name);
        (
            schema.filter(|schema| driver != Driver::Sqlite || *schema != "main"),
            table,
        )
    };
    normal(left) == normal(right)
}

type NameRow = (String,);

/// The name of the temporary object a query is described through.
const DESCRIBE_NAME: &str = "pipewright_describe";

/// The columns a query returns, with their types as precise as the engine tells: the query
/// becomes a temporary view (PostgreSQL, SQLite) or an empty temporary table (MySQL), whose
/// catalog entry is read like a table's and then dropped.
pub async fn describe_query(
    connection: &mut DbConnection,
    query: &str,
) -> Result<Vec<Column>, DbError> {
    let driver = connection.driver();
    let query = crate::data::row_reader::query_text(query);
    let name = quote_identifier(driver, DESCRIBE_NAME);
    let columns = match driver {
        Driver::Postgres | Driver::Sqlite => {
            connection
                .execute(&format!("DROP VIEW IF EXISTS {name}"), Vec::new())
                .await?;
            connection
                .execute(
                    &format!("CREATE TEMPORARY VIEW {name} AS {query}"),
                    Vec::new(),
                )
                .await?;
            let schema = if driver == Driver::Postgres {
                read_postgres(connection, &format!("pg_temp.{DESCRIBE_NAME}")).await
            } else {
                read_sqlite(connection, DESCRIBE_NAME).await
            };
            connection
                .execute(&format!("DROP VIEW IF EXISTS {name}"), Vec::new())
                .await?;
            schema?.map(|schema| schema.columns).unwrap_or_default()
        }
        Driver::MySql => {
            connection
                .execute(
                    &format!("DROP TEMPORARY TABLE IF EXISTS {name}"),
                    Vec::new(),
                )
                .await?;
            connection
                .execute(
                    &format!("CREATE TEMPORARY TABLE {name} AS SELECT * FROM ({query}) AS pipewright_source LIMIT 0"),
                    Vec::new(),
                )
                .await?;
            let shown = show_columns(connection, &name).await;
            connection
                .execute(
                    &format!("DROP TEMPORARY TABLE IF EXISTS {name}"),
                    Vec::new(),
                )
                .await?;
            shown?
        }
    };
    Ok(columns)
}

/// `SHOW COLUMNS` of a MySQL table: unlike `information_schema`, it sees temporary tables.
async fn show_columns(connection: &mut DbConnection, name: &str) -> Result<Vec<Column>, DbError> {
    let DbConnection::MySql { connection, .. } = connection else {
        return Ok(Vec::new());
    };
    let sql = format!("SHOW COLUMNS FROM {name}");
    let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
        .fetch_all(&mut **connection)
        .await
        .map_err(|source| DbError::Query {
            context: format!("running `{sql}`"),
            source,
        })?;
    let mut columns = Vec::with_capacity(rows.len());
    for row in rows {
        use sqlx::Row as _;
        let text = |index: usize| -> Result<String, DbError> {
            row.try_get::<String, _>(index)
                .or_else(|_| {
                    row.try_get::<Vec<u8>, _>(index)
                        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                })
                .map_err(|source| DbError::Query {
                    context: format!("reading `{sql}`"),
                    source,
                })
        };
        let declared = text(1)?;
        columns.push(Column {
            name: text(0)?,
            logical: LogicalType::parse(Driver::MySql, &declared),
            nullable: text(2)? == "YES",
            declared,
        });
    }
    Ok(columns)
}

/// Reads a table's shape; `None` if the table does not exist.
pub async fn read_table(
    connection: &mut DbConnection,
    name: &str,
) -> Result<Option<TableSchema>, DbError> {
    let schema = match connection.driver() {
        Driver::Postgres => read_postgres(connection, name).await?,
        Driver::MySql => read_mysql(connection, name).await?,
        Driver::Sqlite => read_sqlite(connection, name).await?,
    };
    Ok(schema)
}

/// Every table of the connection's current schema (or of `schema`), sorted.
pub async fn list_tables(
    connection: &mut DbConnection,
    schema: Option<&str>,
) -> Result<Vec<String>, DbError> {
    let rows: Vec<NameRow> = match connection.driver() {
        Driver::Postgres => {
            connection
                .fetch_all(
                    "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = COALESCE(?, current_schema()) AND table_type = 'BASE TABLE' ORDER BY table_name",
                    vec![SqlValue::Text(schema.map(str::to_owned))],
                )
                .await?
        }
        Driver::MySql => {
            connection
                .fetch_all(
                    "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = COALESCE(?, DATABASE()) AND table_type = 'BASE TABLE' ORDER BY table_name",
                    vec![SqlValue::Text(schema.map(str::to_owned))],
                )
                .await?
        }
        Driver::Sqlite => {
            connection
                .fetch_all(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                    Vec::new(),
                )
                .await?
        }
    };
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

async fn read_postgres(
    connection: &mut DbConnection,
    name: &str,
) -> Result<Option<TableSchema>, DbError> {
    let qualified = quote_identifier(Driver::Postgres, name);
    let columns: Vec<(String, String, bool)> = connection
        .fetch_all(
            "SELECT CAST(a.attname AS TEXT), format_type(a.atttypid, a.atttypmod), NOT a.attnotnull FROM pg_attribute a WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            vec![qualified.clone().into()],
        )
        .await?;
    if columns.is_empty() {
        return Ok(None);
    }
    let primary_key: Vec<NameRow> = connection
        .fetch_all(
            "SELECT CAST(a.attname AS TEXT) FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE i.indrelid = to_regclass(?) AND i.indisprimary ORDER BY k.position",
            vec![qualified.clone().into()],
        )
        .await?;
    let index_rows: Vec<(String, bool, String)> = connection
        .fetch_all(
            "SELECT CAST(c.relname AS TEXT), i.indisunique, CAST(a.attname AS TEXT) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE i.indrelid = to_regclass(?) AND NOT i.indisprimary AND i.indexprs IS NULL AND i.indpred IS NULL ORDER BY c.relname, k.position",
            vec![qualified.clone().into()],
        )
        .await?;
    let estimate: Vec<(i64,)> = connection
        .fetch_all(
            "SELECT CAST(reltuples AS BIGINT) FROM pg_class WHERE oid = to_regclass(?)",
            vec![qualified.into()],
        )
        .await?;
    Ok(Some(TableSchema {
        name: name.to_owned(),
        columns: columns
            .into_iter()
            .map(|(column, declared, nullable)| Column {
                logical: LogicalType::parse(Driver::Postgres, &declared),
                name: column,
                nullable,
                declared,
            })
            .collect(),
        primary_key: primary_key.into_iter().map(|(column,)| column).collect(),
        indexes: group_indexes(index_rows),
        row_estimate: estimate
            .first()
            .and_then(|(rows,)| u64::try_from(*rows).ok()),
    }))
}

async fn read_mysql(
    connection: &mut DbConnection,
    name: &str,
) -> Result<Option<TableSchema>, DbError> {
    let (schema, table) = split_name(name);
    let scope = || vec![SqlValue::Text(schema.map(str::to_owned)), table.into()];
    let columns: Vec<(String, String, String)> = connection
        .fetch_all(
            "SELECT CAST(column_name AS CHAR), CAST(column_type AS CHAR), CAST(is_nullable AS CHAR) FROM information_schema.columns WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ? ORDER BY ordinal_position",
            scope(),
        )
        .await?;
    if columns.is_empty() {
        return Ok(None);
    }
    let statistics: Vec<(String, i64, String)> = connection
        .fetch_all(
            "SELECT CAST(index_name AS CHAR), CAST(non_unique AS SIGNED), CAST(column_name AS CHAR) FROM information_schema.statistics WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ? ORDER BY index_name, seq_in_index",
            scope(),
        )
        .await?;
    let estimate: Vec<(Option<i64>,)> = connection
        .fetch_all(
            "SELECT CAST(table_rows AS SIGNED) FROM information_schema.tables WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ?",
            scope(),
        )
        .await?;
    // MariaDB's JSON is LONGTEXT checked by `json_valid`: the check says what it holds.
    let checks: Vec<(String,)> = connection
        .fetch_all(
            "SELECT CAST(check_clause AS CHAR) FROM information_schema.check_constraints WHERE constraint_schema = COALESCE(?, DATABASE()) AND table_name = ?",
            scope(),
        )
        .await
        .unwrap_or_default();
    let is_json = |column: &str| {
        checks
            .iter()
            .any(|(clause,)| clause.replace(' ', "") == format!("json_valid(`{column}`)"))
    };
    let primary_key = statistics
        .iter()
        .filter(|(index, _, _)| index == "PRIMARY")
        .map(|(_, _, column)| column.clone())
        .collect();
    let index_rows = statistics
        .into_iter()
        .filter(|(index, _, _)| index != "PRIMARY")
        .map(|(index, non_unique, column)| (index, non_unique == 0, column))
        .collect();
    Ok(Some(TableSchema {
        name: name.to_owned(),
        columns: columns
            .into_iter()
            .map(|(column, declared, nullable)| Column {
                logical: if is_json(&column) {
                    LogicalType::Json
                } else {
                    LogicalType::parse(Driver::MySql, &declared)
                },
                name: column,
                nullable: nullable == "YES",
                declared,
            })
            .collect(),
        primary_key,
        indexes: group_indexes(index_rows),
        row_estimate: estimate
            .first()
            .and_then(|(rows,)| rows.and_then(|rows| u64::try_from(rows).ok())),
    }))
}

async fn read_sqlite(
    connection: &mut DbConnection,
    name: &str,
) -> Result<Option<TableSchema>, DbError> {
    let columns: Vec<(String, String, i64, i64)> = connection
        .fetch_all(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?) ORDER BY cid",
            vec![name.into()],
        )
        .await?;
    if columns.is_empty() {
        return Ok(None);
    }
    let mut keyed: Vec<(i64, String)> = columns
        .iter()
        .filter(|(_, _, _, position)| *position > 0)
        .map(|(column, _, _, position)| (*position, column.clone()))
        .collect();
    keyed.sort();
    let index_list: Vec<(String, i64, String, i64)> = connection
        .fetch_all(
            "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?) ORDER BY name",
            vec![name.into()],
        )
        .await?;
    let mut index_rows = Vec::new();
    for (index, unique, origin, partial) in index_list {
        // A partial index is not copied (as on PostgreSQL): built whole, a partial unique
        // index could refuse the rows.
        if origin == "pk" || partial != 0 {
            continue;
        }
        let index_columns: Vec<(Option<String>,)> = connection
            .fetch_all(
                "SELECT name FROM pragma_index_info(?) ORDER BY seqno",
                vec![index.clone().into()],
            )
            .await?;
        // An expression index has no column name: it is not copied.
        if index_columns.iter().any(|(column,)| column.is_none()) {
            continue;
        }
        for (column,) in index_columns {
            index_rows.push((index.clone(), unique != 0, column.unwrap_or_default()));
        }
    }
    Ok(Some(TableSchema {
        name: name.to_owned(),
        columns: columns
            .into_iter()
            .map(|(column, declared, not_null, position)| Column {
                logical: LogicalType::parse(Driver::Sqlite, &declared),
                name: column,
                // A primary key column is NOT NULL on the other engines (SQLite alone lets one
                // hold NULL): the target is made so, and a NULL key fails the copy.
                nullable: not_null == 0 && position == 0,
                declared,
            })
            .collect(),
        primary_key: keyed.into_iter().map(|(_, column)| column).collect(),
        indexes: group_indexes(index_rows),
        // SQLite keeps no count: counting is a full scan, done only when asked
        // (`count_rows`).
        row_estimate: None,
    }))
}

/// The exact number of rows of a table (a full scan on most engines).
pub async fn count_rows(connection: &mut DbConnection, table: &str) -> Result<u64, DbError> {
    let driver = connection.driver();
    let rows: Vec<(i64,)> = connection
        .fetch_all(
            &format!("SELECT COUNT(*) FROM {}", quote_identifier(driver, table)),
            Vec::new(),
        )
        .await?;
    Ok(rows
        .first()
        .map_or(0, |(count,)| u64::try_from(*count).unwrap_or(0)))
}

/// Rows of (index, unique, column) in order, as indexes.
fn group_indexes(rows: Vec<(String, bool, String)>) -> Vec<IndexSpec> {
    let mut indexes: Vec<IndexSpec> = Vec::new();
    for (name, unique, column) in rows {
        match indexes.last_mut() {
            Some(index) if index.name == name => index.columns.push(column),
            _ => indexes.push(IndexSpec {
                name,
                unique,
                columns: vec![column],
            }),
        }
    }
    indexes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_rows_group_by_name_in_order() {
        let rows = vec![
            ("a".to_owned(), true, "x".to_owned()),
            ("a".to_owned(), true, "y".to_owned()),
            ("b".to_owned(), false, "z".to_owned()),
        ];
        let indexes = group_indexes(rows);
        assert_eq!(indexes.len(), 2);
        assert_eq!(indexes[0].columns, ["x", "y"]);
        assert!(!indexes[1].unique);
        assert_eq!(split_name("public.bars"), (Some("public"), "bars"));
    }
}
