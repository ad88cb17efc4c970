//! Narrowing a reconciliation down before reading rows: both sides count and hash their rows
//! over ranges of the key's first column when it is an integer or a date (over the whole
//! table for any other key), and only the ranges whose count or hash differ are then read
//! and merged. Two tables that hold the same rows are compared without a row reaching the
//! merge; two that differ by a few rows cost a few ranges.
//!
//! A row's hash is the CRC-32 of its canonical text ([`RowText`]), so that the same value
//! stored as `numeric(12,4)` on one server and `DECIMAL(18,6)` on the other hashes the same;
//! a range's hash is the sum of its rows' hashes, modulo 2⁶³ on both sides. MySQL writes the
//! text, hashes and sums it in SQL (`SUM(CRC32(...))`: no row leaves the server); PostgreSQL,
//! which has no CRC-32 and whose MD5 costs more than sending the row, sends the fields
//! through `COPY` and pipewright writes the text from them and hashes it. Equal hashes are
//! trusted; a hash that differs only because two engines spell an equal value differently (a
//! text in another character set) costs a read of that range, never a wrong answer: the
//! merge decides.

use crate::data::{CopyRows, LogicalType, SOURCE_ALIAS, copy_rows};
use crate::db::{Database, DbConnection, quote_identifier};
use crate::pipeline::Driver;
use crate::validate::check_sql::relation_of;
use crate::validate::checker::CheckError;
use crate::validate::reconcile::Subject;
use crate::validate::row_text::{RowText, Scratch};

/// How many buckets the rows are hashed in: about 4,000 rows each for a million rows.
const BUCKETS: i128 = 256;

/// A key's first column whose values cut a table into ranges, as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RangeColumn {
    Integer,
    /// A date, as its number of days since 1970-01-01.
    Date,
}

impl RangeColumn {
    fn of(logical: &LogicalType) -> Option<Self> {
        match logical {
            LogicalType::Int { .. } | LogicalType::UInt { .. } => Some(Self::Integer),
            LogicalType::Date => Some(Self::Date),
            _ => None,
        }
    }

    /// Whether a column of this type, on both sides, cuts the tables into ranges.
    pub(super) fn ranges(logical: &LogicalType) -> bool {
        Self::of(logical).is_some()
    }

    /// The column `name` as a number, in SQL of `driver`.
    fn number(self, driver: Driver, name: &str) -> String {
        match (self, driver) {
            (Self::Integer, Driver::MySql) => format!("CAST({name} AS SIGNED)"),
            (Self::Integer, _) => format!("CAST({name} AS BIGINT)"),
            (Self::Date, Driver::MySql) => format!("DATEDIFF({name}, '1970-01-01')"),
            (Self::Date, _) => format!("({name} - DATE '1970-01-01')"),
        }
    }

    /// The number of a value the server wrote as text (`CAST(... AS TEXT)`).
    fn parse(self, text: &str) -> Option<i64> {
        match self {
            Self::Integer => text.parse().ok(),
            Self::Date => {
                let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
                Some((date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days())
            }
        }
    }

    /// The value of a number, as a constant of the column's type in SQL of `driver`: the
    /// servers fold it before comparing, so an index on the column serves.
    pub(super) fn value(self, driver: Driver, number: i64) -> String {
        match (self, driver) {
            (Self::Integer, _) => number.to_string(),
            (Self::Date, Driver::MySql) => format!("DATE_ADD('1970-01-01', INTERVAL {number} DAY)"),
            (Self::Date, _) => format!("(DATE '1970-01-01' + {number})"),
        }
    }
}

/// How rows fall in buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bucketing {
    /// `width` values of the key's first column, as numbers, from `low`: a bucket is a range
    /// of keys, read on its own when it differs.
    Range {
        column: RangeColumn,
        low: i64,
        width: i64,
        count: usize,
    },
    /// One bucket, the whole table: any other key, whose rows cannot be picked by a range.
    /// Equal tables are still compared without reading a row; a difference has both read
    /// whole.
    Whole,
}

/// The ranges of the key whose rows differ, and what the servers counted.
#[derive(Debug)]
pub(super) struct Ranges {
    /// `[low, high)` of the key's first column, as numbers of `column`; `None` for a range
    /// open at the top. Empty when the bucket is the whole table.
    pub differing: Vec<(i64, Option<i64>)>,
    pub column: RangeColumn,
    /// Differing buckets, before neighbours were joined into one range.
    pub differing_buckets: usize,
    pub buckets: usize,
    pub here_rows: u64,
    pub there_rows: u64,
    /// The bucket is the whole table: a difference means reading both tables whole.
    pub whole: bool,
}

/// The statements that find the key's bounds and hash the buckets of one table.
struct Statements {
    driver: Driver,
    relation: String,
    /// The key's columns, qualified.
    keys: Vec<String>,
    /// How a row's canonical text is written; the key's columns come first.
    text: RowText,
}

impl Statements {
    /// Rows whose key has no NULL: the others are not compared.
    fn keyed(&self) -> String {
        self.keys
            .iter()
            .map(|key| format!("{key} IS NOT NULL"))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// The range a row falls in; `None` for the whole table.
    fn bucket(&self, bucketing: Bucketing) -> Option<String> {
        let Bucketing::Range {
            column, low, width, ..
        } = bucketing
        else {
            return None;
        };
        let number = column.number(self.driver, &self.keys[0]);
        Some(match self.driver {
            Driver::MySql => format!("CAST(({number} - ({low})) DIV {width} AS SIGNED)"),
            _ => format!("CAST(({number} - ({low})) / {width} AS BIGINT)"),
        })
    }

    /// MySQL, per bucket: the bucket, its rows, the sum of their hashes. The whole table is
    /// bucket 0, and an empty one has no bucket.
    fn bucket_sums(&self, bucketing: Bucketing) -> String {
        let sums = format!(
            "CAST(COUNT(*) AS SIGNED), CAST(SUM(CRC32({})) % 9223372036854775808 AS SIGNED) \
             FROM {} WHERE {}",
            self.text.mysql_sql(),
            self.relation,
            self.keyed()
        );
        match self.bucket(bucketing) {
            Some(bucket) => format!("SELECT {bucket}, {sums} GROUP BY 1"),
            None => format!("SELECT 0, {sums} HAVING COUNT(*) > 0"),
        }
    }

    /// PostgreSQL, per row: its range (unless the bucket is the whole table) and the fields
    /// of its text, for pipewright to write and hash.
    fn bucket_rows(&self, bucketing: Bucketing) -> String {
        let bucket = self
            .bucket(bucketing)
            .map(|bucket| format!("{bucket}, "))
            .unwrap_or_default();
        format!(
            "COPY (SELECT {bucket}{} FROM {} WHERE {}) TO STDOUT",
            self.text.postgres_fields(),
            self.relation,
            self.keyed()
        )
    }
}

/// The statements for `table`, whose first `key_length` columns are the key, its values
/// written to hash like those of `other`.
fn statements(table: &Subject<'_>, other: &Subject<'_>, key_length: usize) -> Option<Statements> {
    let driver = table.driver;
    if key_length == 0 || key_length > table.columns.len() {
        return None;
    }
    Some(Statements {
        driver,
        relation: relation_of(driver, table.table, table.query, SOURCE_ALIAS),
        keys: table.columns[..key_length]
            .iter()
            .map(|key| format!("{SOURCE_ALIAS}.{}", quote_identifier(driver, &key.name)))
            .collect(),
        text: RowText::new(driver, &table.columns, &other.columns)?,
    })
}

/// What the key's first column is on both sides when its values cut the tables into ranges
/// (an integer or a date), whatever the key's other columns.
fn ranged_key(here: &Subject<'_>, there: &Subject<'_>) -> Option<RangeColumn> {
    let mine = RangeColumn::of(&here.columns.first()?.logical)?;
    let theirs = RangeColumn::of(&there.columns.first()?.logical)?;
    (mine == theirs).then_some(mine)
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

/// The sums of hashes are taken modulo 2⁶³: exact on MySQL (in `DECIMAL`), and an integer it
/// returns whatever the table's size.
const SUM_MASK: u64 = (1 << 63) - 1;

/// Per bucket: how many rows, and the sum of their hashes modulo 2⁶³.
type Buckets = std::collections::BTreeMap<i64, (u64, u64)>;

/// Hashes the rows PostgreSQL sends as their range and the fields of their text, or only
/// the fields when the bucket is the whole table.
struct BucketHasher {
    row_text: RowText,
    /// Each line starts with the row's range.
    ranges: bool,
    buckets: Buckets,
    scratch: Scratch,
    text: Vec<u8>,
    /// A line without a bucket: PostgreSQL sent something else than asked for.
    malformed: bool,
}

impl BucketHasher {
    fn new(row_text: RowText, ranges: bool) -> Self {
        Self {
            row_text,
            ranges,
            buckets: Buckets::new(),
            scratch: Scratch::default(),
            text: Vec::new(),
            malformed: false,
        }
    }
}

impl CopyRows for BucketHasher {
    fn row(&mut self, line: &[u8]) {
        self.text.clear();
        if !self.ranges {
            self.row_text.write(line, &mut self.scratch, &mut self.text);
            self.add(0);
            return;
        }
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
        self.row_text
            .write(&line[tab + 1..], &mut self.scratch, &mut self.text);
        self.add(bucket);
    }
}

impl BucketHasher {
    /// Counts the row just written in `bucket`.
    fn add(&mut self, bucket: i64) {
        let (rows, sum) = self.buckets.entry(bucket).or_default();
        *rows += 1;
        *sum = sum.wrapping_add(u64::from(crc32fast::hash(&self.text))) & SUM_MASK;
    }
}

/// The smallest and largest value of the key's first column on each side, as text.
pub(super) type KeyBounds = [(Option<String>, Option<String>); 2];

/// Where one side of a reconciliation reads from, for [`key_bounds`].
pub(super) struct Located<'a> {
    pub database: &'a Database,
    pub table: Option<&'a str>,
    pub query: Option<&'a str>,
}

/// The smallest and largest value of the column `key` on both sides, asked at the same
/// time. Started before the other side's columns are known, so that the checksums of a key
/// starting with an integer column need no round trip of their own.
pub(super) async fn key_bounds(
    here: Located<'_>,
    there: Located<'_>,
    key: &str,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<KeyBounds, CheckError> {
    let statement = |side: &Located<'_>| {
        let driver = side.database.driver();
        let text = if driver == Driver::MySql {
            "CHAR"
        } else {
            "TEXT"
        };
        let relation = relation_of(driver, side.table, side.query, SOURCE_ALIAS);
        let key = format!("{SOURCE_ALIAS}.{}", quote_identifier(driver, key));
        format!("SELECT CAST(MIN({key}) AS {text}), CAST(MAX({key}) AS {text}) FROM {relation}")
    };
    let (mine, theirs) = tokio::try_join!(
        fetch::<(Option<String>, Option<String>)>(here.database, statement(&here), cancel),
        fetch::<(Option<String>, Option<String>)>(there.database, statement(&there), cancel),
    )?;
    let first = |rows: Vec<(Option<String>, Option<String>)>| {
        rows.into_iter().next().unwrap_or((None, None))
    };
    Ok([first(mine), first(theirs)])
}

/// The rows and hash sums of `subject`'s buckets.
async fn bucket_sums(
    subject: &Subject<'_>,
    statements: &Statements,
    bucketing: Bucketing,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Buckets, CheckError> {
    if statements.driver == Driver::Postgres {
        let mut connection = subject.database.acquire().await?;
        let hashed = copy_rows(
            &mut connection,
            &statements.bucket_rows(bucketing),
            &format!("hashing the rows of {}", subject.name),
            BucketHasher::new(statements.text.clone(), bucketing != Bucketing::Whole),
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
        statements.bucket_sums(bucketing),
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

/// The key ranges whose rows differ between the two tables, found by both sides hashing
/// their rows in buckets: ranges of the key's first column when it is an integer (cut
/// between `bounds`, from [`key_bounds`]), the whole table for any other key. `None` when
/// they cannot (SQLite, a column of a kind without a canonical text on both engines). An
/// error (an old server, say) is for the caller to fall back on reading both tables.
pub(super) async fn differing_ranges(
    here: &Subject<'_>,
    there: &Subject<'_>,
    key_length: usize,
    bounds: Option<Result<KeyBounds, CheckError>>,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Option<Ranges>, CheckError> {
    let (Some(mine), Some(theirs)) = (
        statements(here, there, key_length),
        statements(there, here, key_length),
    ) else {
        return Ok(None);
    };
    let bucketing = match (bounds, ranged_key(here, there)) {
        (Some(bounds), Some(column)) => key_ranges(&bounds?, column),
        _ => None,
    }
    .unwrap_or(Bucketing::Whole);
    let (my_buckets, their_buckets) = tokio::try_join!(
        bucket_sums(here, &mine, bucketing, cancel),
        bucket_sums(there, &theirs, bucketing, cancel),
    )?;
    let rows = |buckets: &Buckets| buckets.values().map(|(count, _)| count).sum();
    let mut ranges = Ranges {
        differing: Vec::new(),
        column: match bucketing {
            Bucketing::Range { column, .. } => column,
            Bucketing::Whole => RangeColumn::Integer,
        },
        differing_buckets: 0,
        buckets: 0,
        here_rows: rows(&my_buckets),
        there_rows: rows(&their_buckets),
        whole: bucketing == Bucketing::Whole,
    };
    ranges.buckets = match bucketing {
        Bucketing::Range { count, .. } => count,
        Bucketing::Whole => 1,
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
        let Bucketing::Range { low, width, .. } = bucketing else {
            continue;
        };
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

/// Ranges of the key's first column: its span on both sides cut into at most [`BUCKETS`]
/// ranges of equal width. `None` when both tables are empty or a value is not a number
/// (beyond 64-bit integers, a MySQL zero date).
fn key_ranges(bounds: &KeyBounds, column: RangeColumn) -> Option<Bucketing> {
    let parse = |text: &Option<String>| text.as_deref().and_then(|text| column.parse(text));
    let mut low: Option<i64> = None;
    let mut high: Option<i64> = None;
    for (min, max) in bounds {
        if min.is_some() && parse(min).is_none() || max.is_some() && parse(max).is_none() {
            return None;
        }
        if let Some(min) = parse(min) {
            low = Some(low.map_or(min, |low| low.min(min)));
        }
        if let Some(max) = parse(max) {
            high = Some(high.map_or(max, |high| high.max(max)));
        }
    }
    let (Some(low), Some(high)) = (low, high) else {
        return None;
    };
    let span = i128::from(high) - i128::from(low) + 1;
    let width = i64::try_from((span + BUCKETS - 1) / BUCKETS).ok()?;
    let count = usize::try_from((span + i128::from(width) - 1) / i128::from(width)).ok()?;
    Some(Bucketing::Range {
        column,
        low,
        width,
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Column;

    fn column(name: &str, logical: LogicalType) -> Column {
        Column {
            name: name.to_owned(),
            declared: String::new(),
            logical,
            nullable: false,
        }
    }

    fn crc(text: &[u8]) -> u64 {
        u64::from(crc32fast::hash(text))
    }

    #[test]
    fn dates_are_ranged_as_days_since_1970() {
        let date = RangeColumn::Date;
        assert_eq!(date.parse("1970-01-02"), Some(1));
        assert_eq!(date.parse("1969-12-31"), Some(-1));
        assert_eq!(date.parse("0000-00-00"), None, "a MySQL zero date");
        assert_eq!(
            date.value(Driver::MySql, 1),
            "DATE_ADD('1970-01-01', INTERVAL 1 DAY)"
        );
        assert_eq!(date.value(Driver::Postgres, -1), "(DATE '1970-01-01' + -1)");
        assert_eq!(date.number(Driver::MySql, "d"), "DATEDIFF(d, '1970-01-01')");
        assert_eq!(
            date.number(Driver::Postgres, "d"),
            "(d - DATE '1970-01-01')"
        );
        assert_eq!(RangeColumn::Integer.parse("18446744073709551615"), None);
        assert_eq!(RangeColumn::Integer.value(Driver::MySql, -5), "-5");
        let bounds: KeyBounds = [
            (Some("2025-01-02".into()), Some("2025-01-11".into())),
            (Some("2025-01-01".into()), None),
        ];
        assert_eq!(
            key_ranges(&bounds, date),
            Some(Bucketing::Range {
                column: date,
                low: 20_089,
                width: 1,
                count: 11,
            })
        );
    }

    #[test]
    fn postgres_rows_are_hashed_like_mysql_hashes_them() {
        // MySQL's manual: `SELECT CRC32('MySQL')` is 3259397556.
        assert_eq!(crc32fast::hash(b"MySQL"), 3_259_397_556);
        let columns = [
            column("id", LogicalType::Int { bytes: 8 }),
            column("name", LogicalType::Text { max_length: None }),
        ];
        let row_text = RowText::new(Driver::Postgres, &columns, &columns).unwrap();
        let mut hasher = BucketHasher::new(row_text, true);
        hasher.row(b"0\t1\tMySQL");
        hasher.row(b"0\t2\ta\\tb");
        hasher.row(b"2\t3\t\\\\");
        assert!(!hasher.malformed);
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

    #[test]
    fn without_ranges_the_bucket_is_the_whole_table() {
        let columns = [
            column("name", LogicalType::Text { max_length: None }),
            column("id", LogicalType::Int { bytes: 8 }),
        ];
        let row_text = RowText::new(Driver::Postgres, &columns, &columns).unwrap();
        let mut hasher = BucketHasher::new(row_text, false);
        hasher.row(b"ab\t5");
        hasher.row(b"c\t6");
        assert_eq!(
            hasher.buckets,
            Buckets::from([(0, (2, crc(b"2,ab,5") + crc(b"1,c,6")))])
        );
        // Sums are taken modulo 2⁶³, as MySQL's `SUM(...) % 9223372036854775808`.
        hasher.buckets.insert(0, (2, SUM_MASK));
        hasher.row(b"ab\t5");
        assert_eq!(hasher.buckets[&0], (3, crc(b"2,ab,5") - 1));
    }
}
