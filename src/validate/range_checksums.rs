//! Narrowing a reconciliation down before reading rows: both sides count and hash their rows
//! over ranges of an integer key, and only the ranges whose count or hash differ are then
//! read and merged. Two tables that hold the same rows are compared without a row reaching
//! the merge; two that differ by a few rows cost a few ranges.
//!
//! A row's hash is the CRC-32 of the canonical text of its values (numbers with the larger of
//! the two sides' scales, instants as UTC `YYYY-MM-DD HH:MM:SS.ffffff`, texts after their
//! length, which of the values are NULL at the end), so that the same value stored as
//! `numeric(12,4)` on one server and `DECIMAL(18,6)` on the other hashes the same; a range's
//! hash is the exact sum of its rows' hashes. Each server writes the text; MySQL hashes and
//! sums it itself (`SUM(CRC32(...))`: no row leaves the server), PostgreSQL, which has no
//! CRC-32 and whose MD5 costs three times as much as writing the text, sends it through
//! `COPY` and pipewright hashes it. Equal hashes are trusted; a hash that differs only
//! because two engines spell an equal value differently (a float, a text in another
//! character set) costs a read of that range, never a wrong answer: the merge decides.

use crate::data::{CopyRows, LogicalType, SOURCE_ALIAS, copy_rows};
use crate::db::{Database, DbConnection, quote_identifier};
use crate::pipeline::Driver;
use crate::validate::check_sql::relation_of;
use crate::validate::checker::CheckError;
use crate::validate::reconcile::Subject;
use crate::validate::row_text::{RowText, Scratch};

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

/// The statements that find the key's bounds and hash the buckets of one table.
struct Statements {
    driver: Driver,
    relation: String,
    /// The key column, qualified.
    key: String,
    /// How a row's canonical text is written.
    text: RowText,
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

    /// The bucket of `width` keys from `low` a row falls in.
    fn bucket(&self, low: i64, width: i64) -> String {
        let (_, int, divide) = self.types();
        let key = &self.key;
        format!("CAST((CAST({key} AS {int}) - ({low})) {divide} {width} AS {int})")
    }

    /// MySQL, per bucket: the bucket, its rows, the sum of their hashes.
    fn bucket_sums(&self, low: i64, width: i64) -> String {
        let Self {
            key,
            relation,
            text,
            ..
        } = self;
        format!(
            "SELECT {}, CAST(COUNT(*) AS SIGNED), CAST(SUM(CRC32({})) AS SIGNED) \
             FROM {relation} WHERE {key} IS NOT NULL GROUP BY 1",
            self.bucket(low, width),
            text.mysql_sql()
        )
    }

    /// PostgreSQL, per row: its bucket and the fields of its text, for pipewright to
    /// write and hash.
    fn bucket_rows(&self, low: i64, width: i64) -> String {
        let Self {
            key,
            relation,
            text,
            ..
        } = self;
        format!(
            "COPY (SELECT {}, {} FROM {relation} WHERE {key} IS NOT NULL) TO STDOUT",
            self.bucket(low, width),
            text.postgres_fields()
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
        text: RowText::new(driver, &table.columns, &other.columns)?,
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
type Buckets = std::collections::BTreeMap<i64, (u64, u64)>;

/// Hashes the rows PostgreSQL sends as their bucket and the fields of their text.
struct BucketHasher {
    row_text: RowText,
    buckets: Buckets,
    scratch: Scratch,
    text: Vec<u8>,
    /// A line without a bucket: PostgreSQL sent something else than asked for.
    malformed: bool,
}

impl BucketHasher {
    fn new(row_text: RowText) -> Self {
        Self {
            row_text,
            buckets: Buckets::new(),
            scratch: Scratch::default(),
            text: Vec::new(),
            malformed: false,
        }
    }
}

impl CopyRows for BucketHasher {
    fn row(&mut self, line: &[u8]) {
        let Some(tab) = line.iter().position(|byte| *byte == b'\t') else {
            self.malformed = true;
            return;
        };
        let Some(bucket) = std::str::from_utf8(&line[..tab])
            .ok()
            .and_then(|bucket| bucket.parse::<i64>().ok())
        else {
            self.malformed = true;
            return;
        };
        self.text.clear();
        self.row_text
            .write(&line[tab + 1..], &mut self.scratch, &mut self.text);
        let (rows, sum) = self.buckets.entry(bucket).or_default();
        *rows += 1;
        *sum += u64::from(crc32fast::hash(&self.text));
    }
}

/// The rows and hash sums of `subject`'s buckets of `width` keys from `low`.
async fn bucket_sums(
    subject: &Subject<'_>,
    statements: &Statements,
    low: i64,
    width: i64,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Buckets, CheckError> {
    if statements.driver == Driver::Postgres {
        let mut connection = subject.database.acquire().await?;
        let hashed = copy_rows(
            &mut connection,
            &statements.bucket_rows(low, width),
            &format!("hashing the rows of {}", subject.name),
            BucketHasher::new(statements.text.clone()),
            cancel,
        )
        .await;
        return match hashed {
            Ok(hashed) if hashed.malformed => Err(CheckError::Invalid(format!(
                "PostgreSQL sent rows of {} without their key range",
                subject.name
            ))),
            Ok(hashed) => Ok(hashed.buckets),
            Err(crate::data::ReadError::Cancelled) => {
                connection.interrupt().await;
                Err(CheckError::Cancelled)
            }
            Err(error) => Err(error.into()),
        };
    }
    let rows = fetch::<(i64, i64, Option<i64>)>(
        &subject.database,
        statements.bucket_sums(low, width),
        cancel,
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|(bucket, count, sum)| {
            let count = u64::try_from(count).unwrap_or(0);
            (
                bucket,
                (
                    count,
                    sum.and_then(|sum| u64::try_from(sum).ok()).unwrap_or(0),
                ),
            )
        })
        .collect())
}

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
        bucket_sums(here, &mine, low, width, cancel),
        bucket_sums(there, &theirs, low, width, cancel),
    )?;
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
    use crate::data::Column;

    #[test]
    fn postgres_rows_are_hashed_like_mysql_hashes_them() {
        // MySQL's manual: `SELECT CRC32('MySQL')` is 3259397556.
        assert_eq!(crc32fast::hash(b"MySQL"), 3_259_397_556);
        let column = |name: &str, logical| Column {
            name: name.to_owned(),
            declared: String::new(),
            logical,
            nullable: false,
        };
        let columns = [
            column("id", LogicalType::Int { bytes: 8 }),
            column("name", LogicalType::Text { max_length: None }),
        ];
        let mut hasher =
            BucketHasher::new(RowText::new(Driver::Postgres, &columns, &columns).unwrap());
        hasher.row(b"0\t1\tMySQL");
        hasher.row(b"0\t2\ta\\tb");
        hasher.row(b"2\t3\t\\\\");
        assert!(!hasher.malformed);
        let crc = |text: &[u8]| u64::from(crc32fast::hash(text));
        assert_eq!(
            hasher.buckets,
            Buckets::from([
                (0, (2, crc(b"1,5,MySQL") + crc(b"2,3,a\tb"))),
                (2, (1, crc(b"3,1,\\"))),
            ])
        );
        hasher.row(b"no bucket");
        assert!(hasher.malformed);
    }
}
