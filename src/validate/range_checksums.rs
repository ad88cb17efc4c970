//! Narrowing a reconciliation down before reading rows: each server counts and hashes its
//! own rows over ranges of an integer key, and only the ranges whose count or hash differ
//! are then read and merged. Two tables that hold the same rows are compared without a row
//! leaving either server; two that differ by a few rows cost a few ranges.
//!
//! A row's hash is the MD5 of the canonical text of its values (numbers with the larger of
//! the two sides' scales, instants as UTC `YYYY-MM-DD HH:MM:SS.ffffff`, texts after their
//! length, which of the values are NULL at the end), so that the same value stored as
//! `numeric(12,4)` on one server and `DECIMAL(18,6)` on the other hashes the same. A range's hash is the sum of its rows'
//! first 60 bits, exact on both servers. Equal hashes are trusted; a hash that differs only
//! because two engines spell an equal value differently (a float, a text in another
//! character set) costs a read of that range, never a wrong answer: the merge decides.

use crate::data::{Column, LogicalType, SOURCE_ALIAS};
use crate::db::{Database, DbConnection, quote_identifier};
use crate::pipeline::Driver;
use crate::validate::check_sql::relation_of;
use crate::validate::checker::CheckError;
use crate::validate::reconcile::Subject;

/// How many ranges the key's span is cut into: about 4,000 rows each for a million rows.
const BUCKETS: i128 = 256;

/// The ranges of the key whose rows differ, and what the servers counted.
#[derive(Debug)]
pub(super) struct Ranges {
    /// `[low, high)` of the key; `None` for a range open at the top.
    pub differing: Vec<(i64, Option<i64>)>,
    /// Differing buckets, before neighbours were joined into one range.
    pub differing_buckets: usize,
    pub buckets: usize,
    pub here_rows: u64,
    pub there_rows: u64,
}

/// How one column's values are written before hashing, so that two columns holding equal
/// values on PostgreSQL and MySQL write the same text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// An integer, or a decimal of the common scale, as the server writes it.
    Plain,
    /// A number written with exactly this many fraction digits.
    Scaled(u32),
    /// A number without trailing fraction zeros (a scale that is not declared on one side).
    Trimmed,
    /// Its length, `:`, the text.
    Text,
    Date,
    /// Date and UTC time with six fraction digits.
    Timestamp,
    /// `1` or `0`.
    Bool,
}

/// The declared scale of a number column: 0 for an integer, `None` when it is not fixed.
fn scale(logical: &LogicalType) -> Option<u32> {
    match logical {
        LogicalType::Int { .. } | LogicalType::UInt { .. } => Some(0),
        LogicalType::Decimal { scale, .. } => *scale,
        _ => None,
    }
}

/// How `mine` is written so that it hashes like `theirs`; `None` for a pair no text makes
/// alike on both engines (a float, bytes, JSON, two different kinds).
fn format(mine: &LogicalType, theirs: &LogicalType) -> Option<Format> {
    use LogicalType::{Bool, Date, Decimal, Enum, Int, Text, Timestamp, TimestampTz, UInt};
    Some(match (mine, theirs) {
        (Int { .. } | UInt { .. }, Int { .. } | UInt { .. }) => Format::Plain,
        (Int { .. } | UInt { .. } | Decimal { .. }, Int { .. } | UInt { .. } | Decimal { .. }) => {
            match (scale(mine), scale(theirs)) {
                // MySQL writes at most 30 fraction digits.
                (Some(own), Some(other)) if own.max(other) <= 30 => {
                    if own >= other {
                        Format::Plain
                    } else {
                        Format::Scaled(other)
                    }
                }
                _ => Format::Trimmed,
            }
        }
        (Text { .. } | Enum { .. }, Text { .. } | Enum { .. }) => Format::Text,
        (Date, Date) => Format::Date,
        (Timestamp { .. } | TimestampTz { .. }, Timestamp { .. } | TimestampTz { .. }) => {
            Format::Timestamp
        }
        (Bool, Bool) => Format::Bool,
        _ => return None,
    })
}

/// What a column's value adds to a row's text, written as `format` in SQL of `driver`: one
/// item, or two for a text (its length, then the text). Items are joined by `,`, and NULLs
/// leave no item (a row's text ends with which of its nullable columns are NULL), so that
/// no two rows write the same text.
fn items(driver: Driver, column: &Column, format: Format) -> Option<Vec<String>> {
    let name = format!("{SOURCE_ALIAS}.{}", quote_identifier(driver, &column.name));
    let tz = matches!(column.logical, LogicalType::TimestampTz { .. });
    let item = match (driver, format) {
        (Driver::Sqlite, _) => return None,
        // Both engines write integers and decimals (with their scale's digits) as they are;
        // MySQL its dates and `TINYINT(1)` too.
        (Driver::Postgres, Format::Plain)
        | (Driver::MySql, Format::Plain | Format::Date | Format::Bool) => name,
        (Driver::Postgres, Format::Scaled(scale)) => {
            format!("CAST({name} AS NUMERIC(1000, {scale}))")
        }
        (Driver::Postgres, Format::Trimmed) => format!("trim_scale({name})"),
        (Driver::Postgres, Format::Text) => {
            let text = format!("CAST({name} AS TEXT)");
            return Some(vec![format!("char_length({text})"), text]);
        }
        (Driver::Postgres, Format::Date) => format!("to_char({name}, 'YYYY-MM-DD')"),
        (Driver::Postgres, Format::Timestamp) if tz => {
            format!("to_char({name} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")
        }
        (Driver::Postgres, Format::Timestamp) => {
            format!("to_char({name}, 'YYYY-MM-DD HH24:MI:SS.US')")
        }
        (Driver::Postgres, Format::Bool) => format!("CAST({name} AS INTEGER)"),
        (Driver::MySql, Format::Scaled(scale)) => format!("CAST({name} AS DECIMAL(65, {scale}))"),
        (Driver::MySql, Format::Trimmed) => {
            let text = format!("CAST({name} AS CHAR)");
            format!(
                "CASE WHEN LOCATE('.', {text}) > 0 \
                 THEN TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM {text})) ELSE {text} END"
            )
        }
        // A text in another character set than UTF-8 hashes differently from PostgreSQL's:
        // its ranges are read and compared, not trusted.
        (Driver::MySql, Format::Text) => return Some(vec![format!("CHAR_LENGTH({name})"), name]),
        // Connections run in UTC: a `TIMESTAMP` reads as its UTC time.
        (Driver::MySql, Format::Timestamp) => {
            format!("DATE_FORMAT({name}, '%Y-%m-%d %H:%i:%s.%f')")
        }
    };
    Some(vec![item])
}

/// A row's hash: the first 60 bits of the MD5 of its canonical text, as an integer that sums
/// exactly.
fn row_hash(driver: Driver, columns: &[Column], theirs: &[Column]) -> Option<String> {
    let mut parts = Vec::new();
    let mut nulls = Vec::new();
    for (column, other) in columns.iter().zip(theirs) {
        parts.extend(items(
            driver,
            column,
            format(&column.logical, &other.logical)?,
        )?);
        if column.nullable || other.nullable {
            let name = format!("{SOURCE_ALIAS}.{}", quote_identifier(driver, &column.name));
            nulls.push(match driver {
                Driver::MySql => format!("ISNULL({name})"),
                _ => format!("CAST({name} IS NULL AS INTEGER)"),
            });
        }
    }
    if !nulls.is_empty() {
        parts.push(match driver {
            Driver::MySql => format!("CONCAT({})", nulls.join(", ")),
            _ => format!("concat({})", nulls.join(", ")),
        });
    }
    let text = parts.join(", ");
    Some(match driver {
        Driver::MySql => {
            format!("CAST(CONV(SUBSTRING(MD5(CONCAT_WS(',', {text})), 1, 15), 16, 10) AS UNSIGNED)")
        }
        _ => format!(
            "CAST(CAST('x' || substr(md5(concat_ws(',', {text})), 1, 15) AS BIT(60)) AS BIGINT)"
        ),
    })
}

/// The statements that find the key's bounds and hash the buckets of one table.
struct Statements {
    driver: Driver,
    relation: String,
    /// The key column, qualified.
    key: String,
    hash: String,
}

impl Statements {
    /// `(text, integer, integer division)` in the dialect.
    fn types(&self) -> (&'static str, &'static str, &'static str) {
        match self.driver {
            Driver::MySql => ("CHAR", "SIGNED", "DIV"),
            _ => ("TEXT", "BIGINT", "/"),
        }
    }

    /// The smallest and largest key.
    fn bounds(&self) -> String {
        let (text, ..) = self.types();
        let Self { key, relation, .. } = self;
        format!("SELECT CAST(MIN({key}) AS {text}), CAST(MAX({key}) AS {text}) FROM {relation}")
    }

    /// Per bucket of `width` keys from `low`: the bucket, its rows, the sum of their hashes.
    fn buckets(&self, low: i64, width: i64) -> String {
        let (text, int, divide) = self.types();
        let Self {
            key,
            relation,
            hash,
            ..
        } = self;
        format!(
            "SELECT CAST((CAST({key} AS {int}) - ({low})) {divide} {width} AS {int}), \
             CAST(COUNT(*) AS {int}), CAST(SUM({hash}) AS {text}) \
             FROM {relation} WHERE {key} IS NOT NULL GROUP BY 1"
        )
    }
}

/// The statements for `table`, whose values are written to hash like those of `other`.
fn statements(table: &Subject<'_>, other: &Subject<'_>) -> Option<Statements> {
    let driver = table.driver;
    let key = table.columns.first()?;
    if !matches!(
        key.logical,
        LogicalType::Int { .. } | LogicalType::UInt { .. }
    ) {
        return None;
    }
    Some(Statements {
        driver,
        relation: relation_of(driver, table.table, table.query, SOURCE_ALIAS),
        key: format!("{SOURCE_ALIAS}.{}", quote_identifier(driver, &key.name)),
        hash: row_hash(driver, &table.columns, &other.columns)?,
    })
}

/// Runs `sql` on a connection of its own; a cancelled run stops the statement on the server.
async fn fetch<T>(
    database: &Database,
    sql: String,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Vec<T>, CheckError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + for<'r> sqlx::FromRow<'r, sqlx::mysql::MySqlRow>
        + Send
        + Unpin,
{
    let mut connection: DbConnection = database.acquire().await?;
    let fetched = tokio::select! {
        rows = connection.fetch_all::<T>(&sql, Vec::new()) => Some(rows),
        () = cancel.cancelled() => None,
    };
    match fetched {
        Some(rows) => Ok(rows?),
        None => {
            connection.interrupt().await;
            Err(CheckError::Cancelled)
        }
    }
}

/// Per bucket: how many rows, and the sum of their hashes.
type Buckets = std::collections::BTreeMap<i64, (u64, Option<String>)>;

/// The key ranges whose rows differ between the two tables, found by each server hashing its
/// own rows; `None` when the servers cannot (SQLite, a key of several columns or not an
/// integer, a column of a kind without a canonical text on both engines) or both tables are
/// empty. An error (an old server without `trim_scale`, say) is for the caller to fall back on
/// reading both tables.
pub(super) async fn differing_ranges(
    here: &Subject<'_>,
    there: &Subject<'_>,
    key_length: usize,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Option<Ranges>, CheckError> {
    if key_length != 1 {
        return Ok(None);
    }
    let (Some(mine), Some(theirs)) = (statements(here, there), statements(there, here)) else {
        return Ok(None);
    };
    let (my_bounds, their_bounds) = tokio::try_join!(
        fetch::<(Option<String>, Option<String>)>(&here.database, mine.bounds(), cancel),
        fetch::<(Option<String>, Option<String>)>(&there.database, theirs.bounds(), cancel),
    )?;
    let parse = |text: &Option<String>| text.as_deref().and_then(|text| text.parse::<i64>().ok());
    let mut low: Option<i64> = None;
    let mut high: Option<i64> = None;
    for (min, max) in my_bounds.iter().chain(&their_bounds) {
        if min.is_some() && parse(min).is_none() || max.is_some() && parse(max).is_none() {
            // An unsigned key beyond the signed range.
            return Ok(None);
        }
        if let Some(min) = parse(min) {
            low = Some(low.map_or(min, |low| low.min(min)));
        }
        if let Some(max) = parse(max) {
            high = Some(high.map_or(max, |high| high.max(max)));
        }
    }
    let (Some(low), Some(high)) = (low, high) else {
        return Ok(None);
    };
    let span = i128::from(high) - i128::from(low) + 1;
    let Ok(width) = i64::try_from((span + BUCKETS - 1) / BUCKETS) else {
        return Ok(None);
    };
    let Ok(buckets) = usize::try_from((span + i128::from(width) - 1) / i128::from(width)) else {
        return Ok(None);
    };
    let (my_buckets, their_buckets) = tokio::try_join!(
        fetch::<(i64, i64, Option<String>)>(&here.database, mine.buckets(low, width), cancel),
        fetch::<(i64, i64, Option<String>)>(&there.database, theirs.buckets(low, width), cancel),
    )?;
    let collect = |rows: Vec<(i64, i64, Option<String>)>| -> Buckets {
        rows.into_iter()
            .map(|(bucket, count, sum)| (bucket, (u64::try_from(count).unwrap_or(0), sum)))
            .collect()
    };
    let (my_buckets, their_buckets) = (collect(my_buckets), collect(their_buckets));
    let rows = |buckets: &Buckets| buckets.values().map(|(count, _)| count).sum();
    let mut ranges = Ranges {
        differing: Vec::new(),
        differing_buckets: 0,
        buckets,
        here_rows: rows(&my_buckets),
        there_rows: rows(&their_buckets),
    };
    let every_bucket: std::collections::BTreeSet<i64> = my_buckets
        .keys()
        .chain(their_buckets.keys())
        .copied()
        .collect();
    let mut previous: Option<i64> = None;
    for bucket in every_bucket {
        if my_buckets.get(&bucket) == their_buckets.get(&bucket) {
            continue;
        }
        ranges.differing_buckets += 1;
        let start = i128::from(low) + i128::from(bucket) * i128::from(width);
        let end = i64::try_from(start + i128::from(width)).ok();
        let start = i64::try_from(start).unwrap_or(i64::MAX);
        match ranges.differing.last_mut() {
            // Neighbouring buckets are read as one range.
            Some((_, high)) if previous == Some(bucket - 1) => *high = end,
            _ => ranges.differing.push((start, end)),
        }
        previous = Some(bucket);
    }
    Ok(Some(ranges))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, logical: LogicalType) -> Column {
        Column {
            name: name.to_owned(),
            declared: String::new(),
            logical,
            nullable: true,
        }
    }

    fn decimal(scale: Option<u32>) -> LogicalType {
        LogicalType::Decimal {
            precision: Some(18),
            scale,
        }
    }

    #[test]
    fn numbers_are_written_with_the_larger_declared_scale() {
        let int = LogicalType::Int { bytes: 8 };
        assert_eq!(format(&int, &int), Some(Format::Plain));
        assert_eq!(
            format(&decimal(Some(4)), &decimal(Some(6))),
            Some(Format::Scaled(6))
        );
        assert_eq!(
            format(&decimal(Some(6)), &decimal(Some(4))),
            Some(Format::Plain)
        );
        assert_eq!(format(&int, &decimal(Some(2))), Some(Format::Scaled(2)));
        assert_eq!(
            format(&decimal(None), &decimal(Some(2))),
            Some(Format::Trimmed)
        );
        assert_eq!(
            format(&decimal(Some(2)), &decimal(Some(31))),
            Some(Format::Trimmed)
        );
    }

    #[test]
    fn only_kinds_both_engines_write_alike_are_hashed() {
        let int = LogicalType::Int { bytes: 8 };
        assert_eq!(format(&LogicalType::Float64, &LogicalType::Float64), None);
        assert_eq!(
            format(&LogicalType::Date, &LogicalType::Timestamp { precision: 6 }),
            None
        );
        assert_eq!(
            format(
                &LogicalType::Text { max_length: None },
                &LogicalType::Enum { values: Vec::new() }
            ),
            Some(Format::Text)
        );
        let id = column("id", int.clone());
        assert!(
            row_hash(
                Driver::Sqlite,
                std::slice::from_ref(&id),
                std::slice::from_ref(&id)
            )
            .is_none()
        );
        let mysql = row_hash(
            Driver::MySql,
            std::slice::from_ref(&id),
            &[column("id", decimal(Some(2)))],
        )
        .unwrap();
        assert!(
            mysql.contains("CAST(pipewright_source.`id` AS DECIMAL(65, 2))"),
            "{mysql}"
        );
        let postgres = row_hash(
            Driver::Postgres,
            &[id, column("name", LogicalType::Text { max_length: None })],
            &[
                column("id", int),
                column("name", LogicalType::Text { max_length: None }),
            ],
        )
        .unwrap();
        assert!(
            postgres.contains("md5(concat_ws(',', pipewright_source.\"id\", char_length(CAST(pipewright_source.\"name\" AS TEXT)), CAST(pipewright_source.\"name\" AS TEXT), concat(CAST(pipewright_source.\"id\" IS NULL AS INTEGER), CAST(pipewright_source.\"name\" IS NULL AS INTEGER))))"),
            "{postgres}"
        );
    }
}
