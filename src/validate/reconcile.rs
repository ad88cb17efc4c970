//! `reconcile`: do two tables, on any two connections and engines, hold the same rows? Both
//! are read once, in key order (text keys in byte order, the same on every engine), and
//! merged: a key on one side only is missing from the other, a key on both whose values
//! differ is changed. Values are compared by their canonical text, so that the same value
//! written differently by two engines (a decimal and a float, `DATETIME(6)` and
//! `timestamp(3)`) is equal.

use std::cmp::Ordering;

use tokio::sync::mpsc;

use crate::data::{
    Column, LogicalType, Row, SOURCE_ALIAS, SourceQuery, Value, describe_query, read_batches,
    read_table,
};
use crate::db::quote_identifier;
use crate::pipeline::{CheckSpec, Driver, OtherTable};
use crate::validate::check_outcome::Differences;
use crate::validate::checker::{CheckError, Checker, Measure};

/// Rows per batch read from each side.
const BATCH: usize = 5_000;

/// The `ORDER BY` of a key, text in byte order whatever the column's collation.
fn key_order(driver: Driver, key: &[Column]) -> String {
    key.iter()
        .map(|column| {
            let name = format!("{SOURCE_ALIAS}.{}", quote_identifier(driver, &column.name));
            let text = matches!(
                column.logical,
                LogicalType::Text { .. } | LogicalType::Enum { .. } | LogicalType::Set { .. }
            );
            match (driver, text) {
                (Driver::Postgres, true) => format!("{name} COLLATE \"C\""),
                (Driver::MySql, true) => format!("{name} COLLATE utf8mb4_bin"),
                (Driver::Sqlite, true) => format!("{name} COLLATE BINARY"),
                (_, false) => name,
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A value's text for comparing two engines' rows: canonical, and an instant compared as its
/// UTC date and time (a zone-less column holds what a zoned one said in UTC).
fn comparable(value: &Value) -> Option<String> {
    match value {
        Value::TimestampTz(at) => Value::Timestamp(at.naive_utc()).canonical(),
        other => other.canonical(),
    }
}

/// Whether a column's values are text to the engine (SQLite keeps whatever it is given;
/// a `NUM` or `TEXT` column may hold dates).
fn is_text(logical: &LogicalType) -> bool {
    matches!(
        logical,
        LogicalType::Text { .. }
            | LogicalType::Other { .. }
            | LogicalType::Enum { .. }
            | LogicalType::Set { .. }
    )
}

/// For each column, the type of the other side's column when that one is typed (a date, a
/// number): a text value on this side is read as that type before comparing, so that
/// `2025-01-02 03:04:05` and the timestamp it writes compare equal (SQLite keeps whatever it
/// is given, whatever the column declares).
fn read_as(theirs: &[Column]) -> Vec<Option<LogicalType>> {
    theirs
        .iter()
        .map(|column| (!is_text(&column.logical)).then(|| column.logical.clone()))
        .collect()
}

/// The comparable texts of a row, text read as the other side's type where it has one.
fn texts(row: &Row, read_as: &[Option<LogicalType>], driver: Driver) -> Vec<Option<String>> {
    row.iter()
        .zip(read_as)
        .map(|(value, logical)| match (value, logical) {
            (Value::Text(_) | Value::Invalid { .. }, Some(logical)) => {
                crate::transform::coerce(value.clone(), logical, driver)
                    .map_or_else(|_| comparable(value), |typed| comparable(&typed))
            }
            _ => comparable(value),
        })
        .collect()
}

/// Whether a canonical text is a plain number.
fn as_number(text: &str) -> Option<(bool, &str, &str)> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (integer, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    (!integer.is_empty()
        && integer.bytes().all(|byte| byte.is_ascii_digit())
        && fraction.bytes().all(|byte| byte.is_ascii_digit()))
    .then_some((negative, integer, fraction))
}

/// Orders two canonical numbers (sign, integer digits, fraction digits) without losing
/// digits.
fn compare_numbers(left: (bool, &str, &str), right: (bool, &str, &str)) -> Ordering {
    fn magnitude(left: (&str, &str), right: (&str, &str)) -> Ordering {
        left.0
            .len()
            .cmp(&right.0.len())
            .then_with(|| left.0.cmp(right.0))
            .then_with(|| left.1.cmp(right.1))
    }
    match (left.0, right.0) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => magnitude((left.1, left.2), (right.1, right.2)),
        (true, true) => magnitude((right.1, right.2), (left.1, left.2)),
    }
}

/// Orders two keys the way both databases sorted them: numbers by value, everything else
/// (text, dates, times, UUIDs) by the bytes of its canonical text.
fn compare_keys(left: &[Option<String>], right: &[Option<String>]) -> Ordering {
    for (left, right) in left.iter().zip(right) {
        let ordering = match (left, right) {
            (Some(left), Some(right)) => match (as_number(left), as_number(right)) {
                (Some(left), Some(right)) => compare_numbers(left, right),
                _ => left.as_bytes().cmp(right.as_bytes()),
            },
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// One side of the merge: rows arriving in batches.
struct Side {
    receiver: mpsc::Receiver<Vec<Row>>,
    batch: std::vec::IntoIter<Row>,
    rows: u64,
}

impl Side {
    async fn next(&mut self) -> Option<Row> {
        loop {
            if let Some(row) = self.batch.next() {
                self.rows += 1;
                return Some(row);
            }
            self.batch = self.receiver.recv().await?.into_iter();
        }
    }
}

/// A difference, for the samples.
fn difference(
    kind: &str,
    key: &[Column],
    key_values: &[Option<String>],
    changed: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    for (column, value) in key.iter().zip(key_values) {
        object.insert(
            column.name.clone(),
            value
                .clone()
                .map_or(serde_json::Value::Null, serde_json::Value::String),
        );
    }
    object.insert("difference".to_owned(), kind.into());
    if !changed.is_empty() {
        object.insert("columns".to_owned(), serde_json::Value::Object(changed));
    }
    serde_json::Value::Object(object)
}

/// The columns `names` of `columns`, in that order, or an error naming what is missing.
fn pick(columns: &[Column], names: &[String], side: &str) -> Result<Vec<Column>, CheckError> {
    names
        .iter()
        .map(|name| {
            columns
                .iter()
                .find(|column| &column.name == name)
                .cloned()
                .ok_or_else(|| CheckError::Invalid(format!("`{name}` is not a column of {side}")))
        })
        .collect()
}

pub(crate) async fn reconcile(
    checker: &mut Checker<'_>,
    check: &CheckSpec,
    with: &OtherTable,
    key: &[String],
    columns: &[String],
) -> Result<Measure, CheckError> {
    let here_name = format!("`{}`", checker.spec.subject());
    let there_name = format!("`{}`.{}", with.connection, with.subject());
    let database = checker
        .step
        .database(&with.connection)
        .await
        .map_err(|error| CheckError::Invalid(crate::error_chain::error_chain(&error)))?;
    let mut other = database.acquire().await?;
    let there_columns = match (&with.table, &with.query) {
        (Some(table), _) => read_table(&mut other, table)
            .await?
            .map(|schema| schema.columns)
            .ok_or_else(|| CheckError::Invalid(format!("{there_name} does not exist")))?,
        (None, Some(query)) => describe_query(&mut other, query).await?,
        (None, None) => Vec::new(),
    };
    let compared: Vec<String> = if columns.is_empty() {
        checker
            .columns
            .iter()
            .map(|column| column.name.clone())
            .filter(|name| !key.contains(name))
            .collect()
    } else {
        columns
            .iter()
            .filter(|name| !key.contains(name))
            .cloned()
            .collect()
    };
    let wanted: Vec<String> = key.iter().chain(&compared).cloned().collect();
    let here_picked = pick(&checker.columns, &wanted, &here_name)?;
    let there_picked = pick(&there_columns, &wanted, &there_name)?;
    let here_key = &here_picked[..key.len()];
    let there_key = &there_picked[..key.len()];
    let not_null = |driver: Driver, key: &[Column]| {
        key.iter()
            .map(|column| {
                format!(
                    "{SOURCE_ALIAS}.{} IS NOT NULL",
                    quote_identifier(driver, &column.name)
                )
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let here_driver = checker.connection.driver();
    let there_driver = other.driver();
    let here_query = match (&checker.spec.table, &checker.spec.query) {
        (Some(table), _) => SourceQuery::table(here_driver, table, &here_picked),
        (None, Some(query)) => SourceQuery::query(here_driver, query, &here_picked),
        (None, None) => unreachable!("a validate step checks a table or a query"),
    }
    .filtered(not_null(here_driver, here_key))
    .ordered_by(key_order(here_driver, here_key));
    let there_query = match (&with.table, &with.query) {
        (Some(table), _) => SourceQuery::table(there_driver, table, &there_picked),
        (None, Some(query)) => SourceQuery::query(there_driver, query, &there_picked),
        (None, None) => unreachable!("checked when the manifest was read"),
    }
    .filtered(not_null(there_driver, there_key))
    .ordered_by(key_order(there_driver, there_key));

    let (here_sender, here_receiver) = mpsc::channel(2);
    let (there_sender, there_receiver) = mpsc::channel(2);
    let cancel = checker.step.cancel.clone();
    let here_connection = &mut *checker.connection;
    let here_reader = async {
        let result = read_batches(here_connection, &here_query, BATCH, &here_sender, &cancel).await;
        drop(here_sender);
        result
    };
    let there_reader = async {
        let result = read_batches(&mut other, &there_query, BATCH, &there_sender, &cancel).await;
        drop(there_sender);
        result
    };
    let key_length = key.len();
    let sample_limit = usize::try_from(check.samples).unwrap_or(usize::MAX);
    let key_columns = here_key.to_vec();
    let compared_names = compared.clone();
    let here_label = here_name.clone();
    let there_label = there_name.clone();
    let here_read_as = read_as(&there_picked);
    let there_read_as = read_as(&here_picked);
    let merging = async move {
        let mut here = Side {
            receiver: here_receiver,
            batch: Vec::new().into_iter(),
            rows: 0,
        };
        let mut there = Side {
            receiver: there_receiver,
            batch: Vec::new().into_iter(),
            rows: 0,
        };
        let mut differences = Differences::default();
        let mut samples = Vec::new();
        let here_texts = |row: &Row| texts(row, &here_read_as, here_driver);
        let there_texts = |row: &Row| texts(row, &there_read_as, there_driver);
        let mut left = here.next().await.map(|row| here_texts(&row));
        let mut right = there.next().await.map(|row| there_texts(&row));
        loop {
            let ordering = match (&left, &right) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(left), Some(right)) => {
                    compare_keys(&left[..key_length], &right[..key_length])
                }
            };
            match ordering {
                Ordering::Less => {
                    let row = left.take().expect("present");
                    differences.only_here += 1;
                    if samples.len() < sample_limit {
                        samples.push(difference(
                            &format!("only in {here_label}"),
                            &key_columns,
                            &row[..key_length],
                            serde_json::Map::new(),
                        ));
                    }
                    left = here.next().await.map(|row| here_texts(&row));
                }
                Ordering::Greater => {
                    let row = right.take().expect("present");
                    differences.only_there += 1;
                    if samples.len() < sample_limit {
                        samples.push(difference(
                            &format!("only in {there_label}"),
                            &key_columns,
                            &row[..key_length],
                            serde_json::Map::new(),
                        ));
                    }
                    right = there.next().await.map(|row| there_texts(&row));
                }
                Ordering::Equal => {
                    let (mine, theirs) = (
                        left.take().expect("present"),
                        right.take().expect("present"),
                    );
                    if mine != theirs {
                        differences.changed += 1;
                        if samples.len() < sample_limit {
                            let mut changed = serde_json::Map::new();
                            for (index, name) in compared_names.iter().enumerate() {
                                let (a, b) =
                                    (&mine[key_length + index], &theirs[key_length + index]);
                                if a != b {
                                    let text = |value: &Option<String>| {
                                        value.as_deref().map_or(serde_json::Value::Null, |text| {
                                            crate::transform::shorten(text).into()
                                        })
                                    };
                                    changed.insert(
                                        name.clone(),
                                        serde_json::json!({ "here": text(a), "there": text(b) }),
                                    );
                                }
                            }
                            samples.push(difference(
                                "changed",
                                &key_columns,
                                &mine[..key_length],
                                changed,
                            ));
                        }
                    }
                    left = here.next().await.map(|row| here_texts(&row));
                    right = there.next().await.map(|row| there_texts(&row));
                }
            }
        }
        // Whatever is left unread on one side after the other failed.
        while here.next().await.is_some() {}
        while there.next().await.is_some() {}
        (differences, samples, here.rows, there.rows)
    };
    let (here_result, there_result, (differences, samples, here_rows, there_rows)) =
        tokio::join!(here_reader, there_reader, merging);
    here_result?;
    there_result?;
    let total = differences.total();
    let message = if total == 0 {
        format!(
            "{here_rows} rows of {here_name} and {there_rows} of {there_name} hold the same keys and values ({} compared)",
            if compared.is_empty() {
                "keys".to_owned()
            } else {
                compared.join(", ")
            }
        )
    } else {
        format!(
            "{total} keys differ: {} only in {here_name}, {} only in {there_name}, {} changed ({here_rows} and {there_rows} rows read)",
            differences.only_here, differences.only_there, differences.changed
        )
    };
    Ok(Measure {
        rows_checked: Some(here_rows.max(there_rows)),
        failing_rows: Some(total),
        expected: Some(crate::values::approximate(check.max_failing_rows)),
        message,
        samples,
        differences: Some(differences),
        ..Measure::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(values: &[&str]) -> Vec<Option<String>> {
        values
            .iter()
            .map(|value| Some((*value).to_owned()))
            .collect()
    }

    #[test]
    fn keys_order_as_the_databases_sort_them() {
        assert_eq!(
            compare_keys(&key(&["9"]), &key(&["10"])),
            Ordering::Less,
            "numbers by value"
        );
        assert_eq!(
            compare_keys(&key(&["-2"]), &key(&["-10"])),
            Ordering::Greater
        );
        assert_eq!(
            compare_keys(&key(&["1.5"]), &key(&["1.25"])),
            Ordering::Greater
        );
        assert_eq!(
            compare_keys(&key(&["B"]), &key(&["a"])),
            Ordering::Less,
            "text by bytes"
        );
        assert_eq!(
            compare_keys(&key(&["2025-01-02"]), &key(&["2025-01-10"])),
            Ordering::Less
        );
        assert_eq!(
            compare_keys(&key(&["a", "2"]), &key(&["a", "10"])),
            Ordering::Less,
            "column by column"
        );
    }

    #[test]
    fn instants_compare_as_their_utc_time() {
        let at = chrono::NaiveDate::from_ymd_opt(2025, 1, 2)
            .unwrap()
            .and_hms_opt(3, 4, 5)
            .unwrap();
        assert_eq!(
            comparable(&Value::TimestampTz(at.and_utc())),
            comparable(&Value::Timestamp(at))
        );
        assert_eq!(
            comparable(&Value::Decimal("11.4300".into())),
            comparable(&Value::Float(11.43))
        );
    }
}
