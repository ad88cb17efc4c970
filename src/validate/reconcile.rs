//! `reconcile`: do two tables, on any two connections and engines, hold the same rows? Both
//! are read once, in key order (text keys in byte order, the same on every engine), and
//! merged: a key on one side only is missing from the other, a key on both whose values
//! differ is changed. Values are compared by their canonical text, so that the same value
//! written differently by two engines (a decimal and a float, `DATETIME(6)` and
//! `timestamp(3)`) is equal.

use std::cmp::Ordering;

use tokio::sync::mpsc;

use crate::data::{
    Column, LogicalType, Row, SOURCE_ALIAS, SourceQuery, Value, describe_query, read_table,
    spawn_reader,
};
use crate::db::quote_identifier;
use crate::pipeline::{CheckSpec, Driver, OtherTable};
use crate::validate::check_outcome::Differences;
use crate::validate::checker::{CheckError, Checker, Measure};
use crate::validate::range_checksums::{Located, RangeColumn, differing_ranges, key_bounds};

/// Rows per batch read from each side.
const BATCH: usize = 5_000;

/// Past this many differing key ranges, reading both tables whole is cheaper than a query
/// per range.
const MAX_RANGES: usize = 32;

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
                // Whatever the column's character set: UTF-8's byte order, as elsewhere.
                (Driver::MySql, true) => {
                    format!("CONVERT({name} USING utf8mb4) COLLATE utf8mb4_bin")
                }
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

/// How one side's values are read for comparing: text read as the other side's type.
struct Reading<'a> {
    read_as: &'a [Option<LogicalType>],
    driver: Driver,
}

impl Reading<'_> {
    /// The comparable text of the value of column `index`.
    fn text(&self, value: &Value, index: usize) -> Option<String> {
        match (value, self.read_as.get(index).and_then(Option::as_ref)) {
            (Value::Text(_) | Value::Invalid { .. }, Some(logical)) => {
                crate::transform::coerce(value.clone(), logical, self.driver)
                    .map_or_else(|_| comparable(value), |typed| comparable(&typed))
            }
            _ => comparable(value),
        }
    }

    /// The comparable texts of values from column `first` on.
    fn texts(&self, values: &[Value], first: usize) -> Vec<Option<String>> {
        values
            .iter()
            .enumerate()
            .map(|(offset, value)| self.text(value, first + offset))
            .collect()
    }

    /// Whether two values of column `index` are the same value; equal values need no text.
    fn same(&self, mine: &Value, index: usize, theirs: &Value, other: &Self) -> bool {
        mine == theirs || self.text(mine, index) == other.text(theirs, index)
    }
}

/// Orders two keys as both databases sorted them, without making text of the usual keys.
fn compare_key_values(
    mine: &[Value],
    theirs: &[Value],
    here: &Reading<'_>,
    there: &Reading<'_>,
) -> Ordering {
    for (index, (left, right)) in mine.iter().zip(theirs).enumerate() {
        let ordering = match (left, right) {
            (Value::Int(left), Value::Int(right)) => left.cmp(right),
            (Value::UInt(left), Value::UInt(right)) => left.cmp(right),
            (Value::Text(left), Value::Text(right)) => left.as_bytes().cmp(right.as_bytes()),
            (Value::Date(left), Value::Date(right)) => left.cmp(right),
            (Value::Timestamp(left), Value::Timestamp(right)) => left.cmp(right),
            _ => compare_keys(&[here.text(left, index)], &[there.text(right, index)]),
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

/// One side of a reconciliation: where its rows are and how its values read.
pub(super) struct Subject<'a> {
    pub database: crate::db::Database,
    pub driver: Driver,
    pub table: Option<&'a str>,
    pub query: Option<&'a str>,
    /// Key columns, then compared columns.
    pub columns: Vec<Column>,
    pub name: String,
}

impl Subject<'_> {
    /// The rows with a key, in key order; within `[low, high)` of the first key column when
    /// given.
    fn query(&self, key_length: usize, only: Only<'_>) -> SourceQuery {
        let driver = self.driver;
        let key = &self.columns[..key_length];
        let not_null = key
            .iter()
            .map(|column| {
                format!(
                    "{SOURCE_ALIAS}.{} IS NOT NULL",
                    quote_identifier(driver, &column.name)
                )
            })
            .collect::<Vec<_>>()
            .join(" AND ");
        let query = match (self.table, self.query) {
            (Some(table), _) => SourceQuery::table(driver, table, &self.columns),
            (None, Some(query)) => SourceQuery::query(driver, query, &self.columns),
            (None, None) => unreachable!("checked when the manifest was read"),
        }
        .filtered(not_null)
        .ordered_by(key_order(driver, key));
        let Only::Ranges(ranges, column) = only else {
            return query;
        };
        let name = format!("{SOURCE_ALIAS}.{}", quote_identifier(driver, &key[0].name));
        let any = ranges
            .iter()
            .map(|(low, high)| {
                let low = column.value(driver, *low);
                match high {
                    Some(high) => {
                        let high = column.value(driver, *high);
                        format!("({name} >= {low} AND {name} < {high})")
                    }
                    None => format!("({name} >= {low})"),
                }
            })
            .collect::<Vec<_>>()
            .join(" OR ");
        query.filtered(format!("({any})"))
    }
}

/// Which rows a merge reads.
#[derive(Debug, Clone, Copy)]
enum Only<'a> {
    All,
    /// `[low, high)` ranges of the key's first column, as numbers of the column; `None` for
    /// a range open at the top.
    Ranges(&'a [(i64, Option<i64>)], RangeColumn),
}

/// What one merge found.
#[derive(Debug, Default)]
struct Merged {
    differences: Differences,
    samples: Vec<serde_json::Value>,
    here_rows: u64,
    there_rows: u64,
}

/// Reads both sides (each on its own connection and task) in key order and merges them.
async fn merge(
    here: &Subject<'_>,
    there: &Subject<'_>,
    key_length: usize,
    only: Only<'_>,
    sample_limit: usize,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Merged, CheckError> {
    let (here_receiver, here_reader) = spawn_reader(
        &here.database,
        here.query(key_length, only),
        BATCH,
        2,
        cancel,
    );
    let (there_receiver, there_reader) = spawn_reader(
        &there.database,
        there.query(key_length, only),
        BATCH,
        2,
        cancel,
    );
    let here_read_as = read_as(&there.columns);
    let there_read_as = read_as(&here.columns);
    let here_side = Reading {
        read_as: &here_read_as,
        driver: here.driver,
    };
    let there_side = Reading {
        read_as: &there_read_as,
        driver: there.driver,
    };
    let key_columns = &here.columns[..key_length];
    let mut mine_rows = Side {
        receiver: here_receiver,
        batch: Vec::new().into_iter(),
        rows: 0,
    };
    let mut their_rows = Side {
        receiver: there_receiver,
        batch: Vec::new().into_iter(),
        rows: 0,
    };
    let mut merged = Merged::default();
    let mut left = mine_rows.next().await;
    let mut right = their_rows.next().await;
    loop {
        let ordering = match (&left, &right) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(mine), Some(theirs)) => compare_key_values(
                &mine[..key_length],
                &theirs[..key_length],
                &here_side,
                &there_side,
            ),
        };
        match ordering {
            Ordering::Less => {
                let row = left.take().expect("present");
                merged.differences.only_here += 1;
                if merged.samples.len() < sample_limit {
                    merged.samples.push(difference(
                        &format!("only in {}", here.name),
                        key_columns,
                        &here_side.texts(&row[..key_length], 0),
                        serde_json::Map::new(),
                    ));
                }
                left = mine_rows.next().await;
            }
            Ordering::Greater => {
                let row = right.take().expect("present");
                merged.differences.only_there += 1;
                if merged.samples.len() < sample_limit {
                    merged.samples.push(difference(
                        &format!("only in {}", there.name),
                        key_columns,
                        &there_side.texts(&row[..key_length], 0),
                        serde_json::Map::new(),
                    ));
                }
                right = their_rows.next().await;
            }
            Ordering::Equal => {
                let (mine, theirs) = (
                    left.take().expect("present"),
                    right.take().expect("present"),
                );
                let differing: Vec<usize> = (key_length..mine.len())
                    .filter(|&index| {
                        !here_side.same(&mine[index], index, &theirs[index], &there_side)
                    })
                    .collect();
                if !differing.is_empty() {
                    merged.differences.changed += 1;
                    if merged.samples.len() < sample_limit {
                        let mut changed = serde_json::Map::new();
                        for index in differing {
                            let text = |value: Option<String>| {
                                value.map_or(serde_json::Value::Null, |text| {
                                    crate::transform::shorten(&text).into()
                                })
                            };
                            changed.insert(
                                here.columns[index].name.clone(),
                                serde_json::json!({
                                    "here": text(here_side.text(&mine[index], index)),
                                    "there": text(there_side.text(&theirs[index], index)),
                                }),
                            );
                        }
                        merged.samples.push(difference(
                            "changed",
                            key_columns,
                            &here_side.texts(&mine[..key_length], 0),
                            changed,
                        ));
                    }
                }
                left = mine_rows.next().await;
                right = their_rows.next().await;
            }
        }
    }
    merged.here_rows = mine_rows.rows;
    merged.there_rows = their_rows.rows;
    drop(mine_rows);
    drop(their_rows);
    let join = |result: Result<Result<u64, crate::data::ReadError>, tokio::task::JoinError>| {
        match result {
            Ok(read) => read.map(drop).map_err(CheckError::from),
            Err(join) => Err(CheckError::Invalid(format!("a reader stopped: {join}"))),
        }
    };
    join(here_reader.await)?;
    join(there_reader.await)?;
    Ok(merged)
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
    let there_database = checker
        .step
        .database(&with.connection)
        .await
        .map_err(|error| CheckError::Invalid(crate::error_chain::error_chain(&error)))?;
    let here_database = checker
        .step
        .database(&checker.spec.connection)
        .await
        .map_err(|error| CheckError::Invalid(crate::error_chain::error_chain(&error)))?;
    let cancel = checker.step.cancel.clone();
    let there_columns = async {
        let mut other = there_database.acquire().await?;
        match (&with.table, &with.query) {
            (Some(table), _) => read_table(&mut other, table)
                .await?
                .map(|schema| schema.columns)
                .ok_or_else(|| CheckError::Invalid(format!("{there_name} does not exist"))),
            (None, Some(query)) => Ok(describe_query(&mut other, query).await?),
            (None, None) => Ok(Vec::new()),
        }
    };
    // A key whose first column is an integer or a date here (the other side's is not known
    // yet) is cut into ranges of that column, between its bounds on both sides: they are asked for
    // meanwhile. SQLite has no checksums.
    let ranged_key = here_database.driver() != Driver::Sqlite
        && there_database.driver() != Driver::Sqlite
        && checker
            .columns
            .iter()
            .any(|column| column.name == key[0] && RangeColumn::ranges(&column.logical));
    let bounds = async {
        if !ranged_key {
            return None;
        }
        let here = Located {
            database: &here_database,
            table: checker.spec.table.as_deref(),
            query: checker.spec.query.as_deref(),
        };
        let there = Located {
            database: &there_database,
            table: with.table.as_deref(),
            query: with.query.as_deref(),
        };
        Some(key_bounds(here, there, &key[0], &cancel).await)
    };
    let (there_columns, bounds) = tokio::join!(there_columns, bounds);
    let there_columns = there_columns?;
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
    let here = Subject {
        driver: here_database.driver(),
        database: here_database,
        table: checker.spec.table.as_deref(),
        query: checker.spec.query.as_deref(),
        columns: pick(&checker.columns, &wanted, &here_name)?,
        name: here_name.clone(),
    };
    let there = Subject {
        driver: there_database.driver(),
        database: there_database,
        table: with.table.as_deref(),
        query: with.query.as_deref(),
        columns: pick(&there_columns, &wanted, &there_name)?,
        name: there_name.clone(),
    };
    let sample_limit = usize::try_from(check.samples).unwrap_or(usize::MAX);
    // Where both servers can hash rows, only the key ranges whose counts or hashes differ are
    // read; otherwise (or when most ranges differ) both tables are read whole.
    let narrowed = differing_ranges(&here, &there, key.len(), bounds, &cancel).await;
    if matches!(narrowed, Err(CheckError::Cancelled)) {
        return Err(CheckError::Cancelled);
    }
    let (merged, how) = match narrowed {
        Ok(Some(ranges))
            if (!ranges.whole || ranges.differing_buckets == 0)
                && ranges.differing.len() <= MAX_RANGES
                && ranges.differing_buckets * 2 <= ranges.buckets =>
        {
            // The differing ranges are read in one pass, each side with one statement.
            let mut total = if ranges.differing.is_empty() {
                Merged::default()
            } else {
                let only = Only::Ranges(&ranges.differing, ranges.column);
                merge(&here, &there, key.len(), only, sample_limit, &cancel).await?
            };
            let how = if ranges.whole {
                "both tables' counts and checksums agree; no row was read".to_owned()
            } else {
                format!(
                    "{} of {} key ranges differed by count or checksum; only their {} and {} rows were read",
                    ranges.differing_buckets, ranges.buckets, total.here_rows, total.there_rows,
                )
            };
            let (here_rows, there_rows) = (ranges.here_rows, ranges.there_rows);
            total.here_rows = here_rows;
            total.there_rows = there_rows;
            (total, how)
        }
        narrowed => {
            let why = match &narrowed {
                Ok(Some(ranges)) if ranges.whole => {
                    "; the tables' counts or checksums differed, so both were read whole".to_owned()
                }
                Ok(Some(ranges)) => format!(
                    "; {} of {} key ranges differed, so both were read whole",
                    ranges.differing_buckets, ranges.buckets
                ),
                Ok(None) => String::new(),
                Err(error) => {
                    tracing::debug!("range checksums failed, reading both tables: {error}");
                    format!("; range checksums failed ({error}), so both were read whole")
                }
            };
            let merged = merge(&here, &there, key.len(), Only::All, sample_limit, &cancel).await?;
            let how = format!(
                "{} and {} rows read{why}",
                merged.here_rows, merged.there_rows
            );
            (merged, how)
        }
    };
    let Merged {
        differences,
        samples,
        here_rows,
        there_rows,
    } = merged;
    let total = differences.total();
    let message = if total == 0 {
        format!(
            "{here_rows} rows of {here_name} and {there_rows} of {there_name} hold the same keys and values ({} compared; {how})",
            if compared.is_empty() {
                "keys".to_owned()
            } else {
                compared.join(", ")
            }
        )
    } else {
        format!(
            "{}: {} only in {here_name}, {} only in {there_name}, {} changed ({how})",
            if total == 1 {
                "1 key differs".to_owned()
            } else {
                format!("{total} keys differ")
            },
            differences.only_here,
            differences.only_there,
            differences.changed
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
