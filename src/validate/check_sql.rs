//! The SQL of each check, per engine: one aggregate query over the checked table (or query)
//! counting its rows and its failing rows, and the condition a failing row meets (for
//! samples). Values from the manifest are written as literals, quoted for the engine, so
//! that `plan` shows the statements exactly as they run.

use crate::data::SOURCE_ALIAS;
use crate::db::quote_identifier;
use crate::pipeline::{Bound, CheckKind, CheckSpec, Driver, ValidateSpec};

/// The relation a check reads, aliased [`SOURCE_ALIAS`].
pub(crate) fn relation(driver: Driver, spec: &ValidateSpec) -> String {
    relation_of(
        driver,
        spec.table.as_deref(),
        spec.query.as_deref(),
        SOURCE_ALIAS,
    )
}

/// A table or a query as a relation named `alias`.
pub(crate) fn relation_of(
    driver: Driver,
    table: Option<&str>,
    query: Option<&str>,
    alias: &str,
) -> String {
    match (table, query) {
        (Some(table), _) => format!("{} AS {alias}", quote_identifier(driver, table)),
        (None, Some(query)) => format!(
            "({}) AS {alias}",
            crate::data::row_reader::query_text(query)
        ),
        (None, None) => String::new(),
    }
}

/// A column of the checked relation, qualified.
pub(crate) fn column(driver: Driver, name: &str) -> String {
    format!("{SOURCE_ALIAS}.{}", quote_identifier(driver, name))
}

/// A manifest value as an SQL literal of `driver`.
pub(crate) fn literal(driver: Driver, bound: &Bound) -> String {
    match bound {
        Bound::Number(number) => {
            if number.fract() == 0.0 && number.abs() < 1e15 {
                format!("{number:.0}")
            } else {
                format!("{number}")
            }
        }
        Bound::Text(text) => {
            let mut escaped = text.replace('\'', "''");
            // MySQL reads backslashes in strings as escapes.
            if driver == Driver::MySql {
                escaped = escaped.replace('\\', "\\\\");
            }
            format!("'{escaped}'")
        }
    }
}

/// `BIGINT` as each engine casts to it.
fn integer(driver: Driver) -> &'static str {
    if driver == Driver::MySql {
        "SIGNED"
    } else {
        "BIGINT"
    }
}

/// The condition a failing row of a row-level check meets, if the database can tell (a
/// regular expression on SQLite is evaluated by pipewright).
/// `groups` is the checked relation as the `unique` check's subquery reads it.
fn failing_condition(driver: Driver, check: &CheckSpec, groups: &str) -> Option<String> {
    let quote = |name: &str| quote_identifier(driver, name);
    Some(match &check.kind {
        CheckKind::NotNull { columns } => columns
            .iter()
            .map(|name| format!("{} IS NULL", column(driver, name)))
            .collect::<Vec<_>>()
            .join(" OR "),
        CheckKind::AcceptedValues {
            column: name,
            values,
        } => {
            let list = values
                .iter()
                .map(|value| literal(driver, value))
                .collect::<Vec<_>>()
                .join(", ");
            let column = column(driver, name);
            format!("{column} IS NOT NULL AND {column} NOT IN ({list})")
        }
        CheckKind::Range {
            column: name,
            min,
            max,
            inclusive,
        } => {
            let column = column(driver, name);
            let (below, above) = if *inclusive { ("<", ">") } else { ("<=", ">=") };
            let mut outside = Vec::new();
            if let Some(min) = min {
                outside.push(format!("{column} {below} {}", literal(driver, min)));
            }
            if let Some(max) = max {
                outside.push(format!("{column} {above} {}", literal(driver, max)));
            }
            format!("{column} IS NOT NULL AND ({})", outside.join(" OR "))
        }
        CheckKind::Regex {
            column: name,
            pattern,
        } => {
            let column = column(driver, name);
            let pattern = literal(driver, &Bound::Text(pattern.clone()));
            match driver {
                Driver::Postgres => {
                    format!("{column} IS NOT NULL AND NOT (CAST({column} AS TEXT) ~ {pattern})")
                }
                // A binary collation: REGEXP is case-sensitive as on the other engines.
                Driver::MySql => format!(
                    "{column} IS NOT NULL AND NOT (CAST({column} AS CHAR) COLLATE utf8mb4_bin REGEXP {pattern})"
                ),
                Driver::Sqlite => return None,
            }
        }
        CheckKind::Relationship {
            column: name,
            to_table,
            to_column,
        } => {
            let column = column(driver, name);
            format!(
                "{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {} AS pipewright_reference WHERE pipewright_reference.{} = {column})",
                quote(to_table),
                quote(to_column)
            )
        }
        CheckKind::Unique { columns } => {
            let list = columns
                .iter()
                .map(|name| column(driver, name))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "({list}) IN (SELECT {} FROM {} WHERE {} GROUP BY {} HAVING COUNT(*) > 1)",
                group_columns(driver, columns),
                groups,
                not_null(driver, columns, "pipewright_groups"),
                group_columns(driver, columns)
            )
        }
        _ => return None,
    })
}

fn group_columns(driver: Driver, columns: &[String]) -> String {
    columns
        .iter()
        .map(|name| format!("pipewright_groups.{}", quote_identifier(driver, name)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn not_null(driver: Driver, columns: &[String], alias: &str) -> String {
    columns
        .iter()
        .map(|name| format!("{alias}.{} IS NOT NULL", quote_identifier(driver, name)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The failing condition with the relations it names filled in.
pub(crate) fn condition_for(
    driver: Driver,
    spec: &ValidateSpec,
    check: &CheckSpec,
) -> Option<String> {
    // The relation goes in as an argument, never by replacing a marker in the finished text:
    // a value or a quoted name could hold the marker.
    let groups = relation_of(
        driver,
        spec.table.as_deref(),
        spec.query.as_deref(),
        "pipewright_groups",
    );
    failing_condition(driver, check, &groups)
}

/// The aggregate query of a row-level check: the rows checked and the rows failing.
pub(crate) fn count_sql(driver: Driver, spec: &ValidateSpec, check: &CheckSpec) -> Option<String> {
    let relation = relation(driver, spec);
    let int = integer(driver);
    if let CheckKind::Unique { columns } = &check.kind {
        return Some(format!(
            "SELECT CAST(COUNT(*) AS {int}), CAST((SELECT COALESCE(SUM(pipewright_duplicates.n), 0) FROM (SELECT COUNT(*) AS n FROM {} WHERE {} GROUP BY {} HAVING COUNT(*) > 1) AS pipewright_duplicates) AS {int}) FROM {relation}",
            relation_of(
                driver,
                spec.table.as_deref(),
                spec.query.as_deref(),
                "pipewright_groups"
            ),
            not_null(driver, columns, "pipewright_groups"),
            group_columns(driver, columns),
        ));
    }
    let condition = condition_for(driver, spec, check)?;
    Some(format!(
        "SELECT CAST(COUNT(*) AS {int}), CAST(COALESCE(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END), 0) AS {int}) FROM {relation}"
    ))
}

/// The statements a check runs, for `plan`; `None` when pipewright computes it (a schema,
/// a reconciliation, a regular expression on SQLite).
pub fn check_statements(driver: Driver, spec: &ValidateSpec, check: &CheckSpec) -> Vec<String> {
    let relation = relation(driver, spec);
    let int = integer(driver);
    match &check.kind {
        CheckKind::RowCount { same_as, .. } => {
            let mut statements = vec![format!("SELECT CAST(COUNT(*) AS {int}) FROM {relation}")];
            if let Some(other) = same_as {
                statements.push(format!(
                    "-- on `{}`: SELECT COUNT(*) FROM {}",
                    other.connection,
                    other.subject()
                ));
            }
            statements
        }
        CheckKind::Freshness { column: name, .. } => vec![format!(
            "SELECT CAST(MAX({}) AS {}) FROM {relation}",
            column(driver, name),
            if driver == Driver::MySql {
                "CHAR"
            } else {
                "TEXT"
            }
        )],
        CheckKind::Sql {
            sql,
            expect_min,
            expect_max,
        } => {
            if expect_min.is_some() || expect_max.is_some() {
                vec![sql.trim().to_owned()]
            } else {
                vec![format!(
                    "SELECT CAST(COUNT(*) AS {int}) FROM ({}) AS pipewright_failing",
                    crate::data::row_reader::query_text(sql)
                )]
            }
        }
        CheckKind::Extension { .. } => {
            vec!["SELECT CAST(extversion AS TEXT) FROM pg_extension WHERE extname = ?".to_owned()]
        }
        CheckKind::Schema { .. } => vec!["-- the table's columns, from the catalog".to_owned()],
        CheckKind::Reconcile { with, key, .. } => vec![format!(
            "-- both tables read in the order of ({}), compared row by row by pipewright: {} and `{}`.{}",
            key.join(", "),
            spec.subject(),
            with.connection,
            with.subject()
        )],
        CheckKind::Regex { .. } if driver == Driver::Sqlite => vec![format!(
            "SELECT ... FROM {relation} -- each value matched by pipewright (SQLite has no regular expressions)"
        )],
        _ => count_sql(driver, spec, check).into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{ConnectionName, Severity};

    fn spec(check: CheckKind) -> (ValidateSpec, CheckSpec) {
        let check = CheckSpec {
            name: check.default_name(),
            kind: check,
            severity: Severity::Error,
            max_failing_rows: 0,
            max_failing_ratio: None,
            samples: 5,
            span: 0..0,
        };
        (
            ValidateSpec {
                connection: ConnectionName::new("db"),
                table: Some("bars".to_owned()),
                query: None,
                checks: vec![check.clone()],
            },
            check,
        )
    }

    #[test]
    fn literals_are_quoted_for_each_engine() {
        let text = Bound::Text("it's a \\ path".to_owned());
        assert_eq!(literal(Driver::Postgres, &text), "'it''s a \\ path'");
        assert_eq!(literal(Driver::MySql, &text), "'it''s a \\\\ path'");
        assert_eq!(literal(Driver::Sqlite, &Bound::Number(3.0)), "3");
        assert_eq!(literal(Driver::Sqlite, &Bound::Number(0.5)), "0.5");
    }

    #[test]
    fn one_aggregate_query_counts_rows_and_failures() {
        let (validate, check) = spec(CheckKind::Range {
            column: "close".to_owned(),
            min: Some(Bound::Number(0.0)),
            max: None,
            inclusive: true,
        });
        assert_eq!(
            count_sql(Driver::Postgres, &validate, &check).unwrap(),
            "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN pipewright_source.\"close\" IS NOT NULL AND (pipewright_source.\"close\" < 0) THEN 1 ELSE 0 END), 0) AS BIGINT) FROM \"bars\" AS pipewright_source"
        );
        let (validate, check) = spec(CheckKind::Unique {
            columns: vec!["symbol".to_owned(), "day".to_owned()],
        });
        let sql = count_sql(Driver::MySql, &validate, &check).unwrap();
        assert!(
            sql.contains(
                "GROUP BY pipewright_groups.`symbol`, pipewright_groups.`day` HAVING COUNT(*) > 1"
            ),
            "{sql}"
        );
        let condition = condition_for(Driver::MySql, &validate, &check).unwrap();
        assert!(
            condition.contains("FROM `bars` AS pipewright_groups"),
            "{condition}"
        );
    }
}
