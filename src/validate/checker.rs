//! Running the checks of a `validate` step: each in the database where it can (one aggregate
//! query), with a sample of failing rows when it fails.

use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::data::{
    Column, LogicalType, ReadError, Row, SourceQuery, Value, describe_query, read_batches,
    read_table,
};
use crate::db::{DbConnection, DbError};
use crate::pipeline::{
    CheckKind, CheckSpec, Driver, ExpectedColumn, OtherTable, Severity, ValidateSpec,
};
use crate::steps::StepContext;
use crate::validate::check_outcome::{CheckOutcome, CheckStatus, Differences};
use crate::validate::check_sql::{check_statements, column, condition_for, count_sql};

/// What a check measured, before it is judged.
#[derive(Debug, Default)]
pub(crate) struct Measure {
    pub(crate) rows_checked: Option<u64>,
    pub(crate) failing_rows: Option<u64>,
    pub(crate) expected: Option<f64>,
    pub(crate) actual: Option<f64>,
    /// For checks that are not about failing rows: whether the measure is right.
    pub(crate) holds: Option<bool>,
    pub(crate) message: String,
    pub(crate) samples: Vec<serde_json::Value>,
    pub(crate) differences: Option<Differences>,
}

/// Why a check could not be run (a missing column, a database error): it fails, saying so.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{0}")]
    Invalid(String),
    #[error("cancelled")]
    Cancelled,
}

/// The checked table's (or query's) columns, for samples, schema checks and column names in
/// errors; `None` if the table does not exist.
pub async fn subject_columns(
    connection: &mut DbConnection,
    spec: &ValidateSpec,
) -> Result<Option<Vec<Column>>, DbError> {
    match (&spec.table, &spec.query) {
        (Some(table), _) => Ok(read_table(connection, table)
            .await?
            .map(|schema| schema.columns)),
        (None, Some(query)) => Ok(Some(describe_query(connection, query).await?)),
        (None, None) => Ok(None),
    }
}

/// Runs the checks of a step.
pub struct Checker<'a> {
    pub spec: &'a ValidateSpec,
    pub connection: &'a mut DbConnection,
    pub step: &'a StepContext,
    pub columns: Vec<Column>,
}

impl std::fmt::Debug for Checker<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "Checker({})", self.spec.subject())
    }
}

/// A sample row: its columns and their canonical text (long text shortened).
fn sample(columns: &[Column], row: &Row) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    for (column, value) in columns.iter().zip(row) {
        object.insert(
            column.name.clone(),
            value.canonical().map_or(serde_json::Value::Null, |text| {
                serde_json::Value::String(crate::transform::shorten(&text))
            }),
        );
    }
    serde_json::Value::Object(object)
}

/// The rows of `query`, all of them (checks read a handful: samples, one value).
async fn read_rows(
    connection: &mut DbConnection,
    query: &SourceQuery,
    cancel: &CancellationToken,
) -> Result<Vec<Row>, ReadError> {
    let (sender, mut receiver) = mpsc::channel(4);
    let reading = async {
        let result = read_batches(connection, query, 1_000, &sender, cancel).await;
        drop(sender);
        result
    };
    let collecting = async {
        let mut rows = Vec::new();
        while let Some(batch) = receiver.recv().await {
            rows.extend(batch);
        }
        rows
    };
    let (read, rows) = tokio::join!(reading, collecting);
    read?;
    Ok(rows)
}

impl Checker<'_> {
    fn driver(&self) -> Driver {
        self.connection.driver()
    }

    /// The relation's query over every column (for samples).
    fn rows_query(&self) -> SourceQuery {
        match (&self.spec.table, &self.spec.query) {
            (Some(table), _) => SourceQuery::table(self.driver(), table, &self.columns),
            (None, Some(query)) => SourceQuery::query(self.driver(), query, &self.columns),
            (None, None) => unreachable!("a validate step checks a table or a query"),
        }
    }

    /// `name` must be a column of the checked relation.
    fn known_column(&self, name: &str) -> Result<(), CheckError> {
        if self.columns.iter().any(|column| column.name == name) {
            return Ok(());
        }
        let names: Vec<&str> = self
            .columns
            .iter()
            .map(|column| column.name.as_str())
            .collect();
        let hint = crate::manifest::suggestion::did_you_mean(name, names.iter().copied())
            .map(|similar| format!("; did you mean `{similar}`?"))
            .unwrap_or_default();
        Err(CheckError::Invalid(format!(
            "`{name}` is not a column of `{}`{hint}",
            self.spec.subject()
        )))
    }

    /// Runs one check and judges it.
    pub async fn run(&mut self, check: &CheckSpec) -> CheckOutcome {
        let started = Instant::now();
        let statements = check_statements(self.driver(), self.spec, check);
        let measured = self.measure(check).await;
        let mut broken = false;
        let (measure, status) = match measured {
            Ok(measure) => {
                let holds = measure.holds.unwrap_or_else(|| {
                    let failing = measure.failing_rows.unwrap_or(0);
                    let rows = measure.rows_checked.unwrap_or(0);
                    failing <= check.max_failing_rows
                        || check.max_failing_ratio.is_some_and(|ratio| {
                            rows > 0
                                && crate::values::approximate(failing)
                                    / crate::values::approximate(rows)
                                    <= ratio
                        })
                });
                (measure, holds)
            }
            Err(error) => {
                broken = true;
                (
                    Measure {
                        message: format!(
                            "could not run: {}",
                            crate::error_chain::error_chain(&error)
                        ),
                        ..Measure::default()
                    },
                    false,
                )
            }
        };
        let status = match (status, check.severity) {
            (true, _) => CheckStatus::Passed,
            // A check that cannot run (a misspelled column, a query the server refuses) is a
            // mistake to fix, whatever its severity: a warning would repeat it run after run.
            (false, _) if broken => CheckStatus::Failed,
            (false, Severity::Error) => CheckStatus::Failed,
            (false, Severity::Warn) => CheckStatus::Warned,
        };
        let threshold = measure
            .failing_rows
            .map(|_| crate::values::approximate(check.max_failing_rows));
        CheckOutcome {
            name: check.name.clone(),
            kind: check.kind.name(),
            severity: check.severity,
            status,
            message: crate::secrets::redact(&measure.message).into_owned(),
            rows_checked: measure.rows_checked,
            failing_rows: measure.failing_rows,
            expected: measure.expected,
            actual: measure
                .actual
                .or_else(|| measure.failing_rows.map(crate::values::approximate)),
            threshold,
            samples: if status == CheckStatus::Passed {
                Vec::new()
            } else {
                measure.samples
            },
            sql: statements,
            duration: started.elapsed(),
            differences: measure.differences,
        }
    }

    async fn measure(&mut self, check: &CheckSpec) -> Result<Measure, CheckError> {
        let driver = self.driver();
        match &check.kind {
            CheckKind::RowCount {
                equals,
                min,
                max,
                same_as,
                tolerance,
            } => {
                self.row_count(*equals, *min, *max, same_as.as_ref(), *tolerance)
                    .await
            }
            CheckKind::NotNull { columns } | CheckKind::Unique { columns } => {
                for name in columns {
                    self.known_column(name)?;
                }
                let what = if matches!(check.kind, CheckKind::NotNull { .. }) {
                    format!("have NULL in ({})", columns.join(", "))
                } else {
                    format!("share their ({}) with another row", columns.join(", "))
                };
                self.failing_rows(check, &what).await
            }
            CheckKind::AcceptedValues {
                column: name,
                values,
            } => {
                self.known_column(name)?;
                let list = values
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                self.failing_rows(check, &format!("have `{name}` outside [{list}]"))
                    .await
            }
            CheckKind::Range {
                column: name,
                min,
                max,
                inclusive,
            } => {
                self.known_column(name)?;
                let (open, close) = if *inclusive { ("[", "]") } else { ("(", ")") };
                let bounds = format!(
                    "{open}{}, {}{close}",
                    min.as_ref()
                        .map_or_else(|| "…".to_owned(), ToString::to_string),
                    max.as_ref()
                        .map_or_else(|| "…".to_owned(), ToString::to_string)
                );
                self.failing_rows(check, &format!("have `{name}` outside {bounds}"))
                    .await
            }
            CheckKind::Regex {
                column: name,
                pattern,
            } => {
                self.known_column(name)?;
                let what = format!("have `{name}` not matching `{pattern}`");
                if driver == Driver::Sqlite {
                    self.regex_by_pipewright(check, name, pattern, &what).await
                } else {
                    self.failing_rows(check, &what).await
                }
            }
            CheckKind::Relationship {
                column: name,
                to_table,
                to_column,
            } => {
                self.known_column(name)?;
                self.failing_rows(
                    check,
                    &format!("have `{name}` missing from `{to_table}.{to_column}`"),
                )
                .await
            }
            CheckKind::Freshness {
                column: name,
                max_age,
            } => {
                self.known_column(name)?;
                self.freshness(name, *max_age).await
            }
            CheckKind::Sql {
                sql,
                expect_min,
                expect_max,
            } => self.sql(check, sql, *expect_min, *expect_max).await,
            CheckKind::Extension { name, min_version } => {
                self.extension(name, min_version.as_deref()).await
            }
            CheckKind::Schema { columns } => Ok(self.schema(columns)),
            CheckKind::Reconcile { with, key, columns } => {
                // Boxed: its two sides' futures are the largest of a step's.
                Box::pin(crate::validate::reconcile::reconcile(
                    self, check, with, key, columns,
                ))
                .await
            }
        }
    }

    /// A row-level check: its aggregate query, then samples if it fails.
    async fn failing_rows(&mut self, check: &CheckSpec, what: &str) -> Result<Measure, CheckError> {
        let driver = self.driver();
        let sql = count_sql(driver, self.spec, check)
            .ok_or_else(|| CheckError::Invalid("no query for this check".to_owned()))?;
        let counts: Vec<(i64, i64)> = self.connection.fetch_all(&sql, Vec::new()).await?;
        let (rows, failing) = counts.first().copied().unwrap_or((0, 0));
        let (rows, failing) = (
            u64::try_from(rows).unwrap_or(0),
            u64::try_from(failing).unwrap_or(0),
        );
        let mut samples = Vec::new();
        if failing > check.max_failing_rows
            && check.samples > 0
            && let Some(condition) = condition_for(driver, self.spec, check)
        {
            let query = self.rows_query().filtered(condition).limited(check.samples);
            samples = read_rows(self.connection, &query, &self.step.cancel)
                .await?
                .iter()
                .map(|row| sample(&self.columns, row))
                .collect();
        }
        Ok(Measure {
            rows_checked: Some(rows),
            failing_rows: Some(failing),
            expected: Some(crate::values::approximate(check.max_failing_rows)),
            message: format!(
                "{failing} of {rows} {} {what}",
                if rows == 1 { "row" } else { "rows" }
            ),
            samples,
            ..Measure::default()
        })
    }

    /// A regular expression on SQLite, which has none: every non-NULL value matched here.
    async fn regex_by_pipewright(
        &mut self,
        check: &CheckSpec,
        name: &str,
        pattern: &str,
        what: &str,
    ) -> Result<Measure, CheckError> {
        let regex = regex::Regex::new(pattern)
            .map_err(|error| CheckError::Invalid(format!("`{pattern}`: {error}")))?;
        let position = self
            .columns
            .iter()
            .position(|column| column.name == name)
            .unwrap_or_default();
        let query = self
            .rows_query()
            .filtered(format!("{} IS NOT NULL", column(Driver::Sqlite, name)));
        let (sender, mut receiver) = mpsc::channel::<Vec<Row>>(2);
        let columns = self.columns.clone();
        let limit = usize::try_from(check.samples).unwrap_or(usize::MAX);
        let matching = async move {
            let (mut rows, mut failing, mut samples) = (0_u64, 0_u64, Vec::new());
            while let Some(batch) = receiver.recv().await {
                for row in batch {
                    rows += 1;
                    let text = row[position].canonical().unwrap_or_default();
                    if !regex.is_match(&text) {
                        failing += 1;
                        if samples.len() < limit {
                            samples.push(sample(&columns, &row));
                        }
                    }
                }
            }
            (rows, failing, samples)
        };
        let cancel = self.step.cancel.clone();
        let reading = async {
            let result = read_batches(self.connection, &query, 5_000, &sender, &cancel).await;
            drop(sender);
            result
        };
        let (read, (rows, failing, samples)) = tokio::join!(reading, matching);
        read?;
        let total = self.count().await.unwrap_or(rows);
        Ok(Measure {
            rows_checked: Some(total),
            failing_rows: Some(failing),
            expected: Some(crate::values::approximate(check.max_failing_rows)),
            message: format!("{failing} of {total} rows {what}"),
            samples,
            ..Measure::default()
        })
    }

    async fn count(&mut self) -> Result<u64, CheckError> {
        let relation = crate::validate::check_sql::relation(self.driver(), self.spec);
        let int = if self.driver() == Driver::MySql {
            "SIGNED"
        } else {
            "BIGINT"
        };
        let rows: Vec<(i64,)> = self
            .connection
            .fetch_all(
                &format!("SELECT CAST(COUNT(*) AS {int}) FROM {relation}"),
                Vec::new(),
            )
            .await?;
        Ok(rows
            .first()
            .map_or(0, |(count,)| u64::try_from(*count).unwrap_or(0)))
    }

    async fn row_count(
        &mut self,
        equals: Option<u64>,
        min: Option<u64>,
        max: Option<u64>,
        same_as: Option<&OtherTable>,
        tolerance: u64,
    ) -> Result<Measure, CheckError> {
        let rows = self.count().await?;
        let mut measure = Measure {
            rows_checked: Some(rows),
            actual: Some(crate::values::approximate(rows)),
            ..Measure::default()
        };
        if let Some(other) = same_as {
            let database = self
                .step
                .database(&other.connection)
                .await
                .map_err(|error| CheckError::Invalid(crate::error_chain::error_chain(&error)))?;
            let mut connection = database.acquire().await?;
            let relation = crate::validate::check_sql::relation_of(
                connection.driver(),
                other.table.as_deref(),
                other.query.as_deref(),
                "pipewright_other",
            );
            let int = if connection.driver() == Driver::MySql {
                "SIGNED"
            } else {
                "BIGINT"
            };
            let counted: Vec<(i64,)> = connection
                .fetch_all(
                    &format!("SELECT CAST(COUNT(*) AS {int}) FROM {relation}"),
                    Vec::new(),
                )
                .await?;
            let theirs = counted
                .first()
                .map_or(0, |(count,)| u64::try_from(*count).unwrap_or(0));
            measure.expected = Some(crate::values::approximate(theirs));
            measure.holds = Some(rows.abs_diff(theirs) <= tolerance);
            measure.message = format!(
                "{rows} rows; `{}`.{} has {theirs}{}",
                other.connection,
                other.subject(),
                if tolerance > 0 {
                    format!(" (a difference of {tolerance} allowed)")
                } else {
                    String::new()
                }
            );
            return Ok(measure);
        }
        let holds = equals.is_none_or(|equals| rows == equals)
            && min.is_none_or(|min| rows >= min)
            && max.is_none_or(|max| rows <= max);
        measure.expected = equals.or(min).or(max).map(crate::values::approximate);
        measure.holds = Some(holds);
        measure.message = match (equals, min, max) {
            (Some(equals), _, _) => format!("{rows} rows, expected {equals}"),
            (None, Some(min), Some(max)) => format!("{rows} rows, expected {min} to {max}"),
            (None, Some(min), None) => format!("{rows} rows, expected at least {min}"),
            (None, None, Some(max)) => format!("{rows} rows, expected at most {max}"),
            (None, None, None) => format!("{rows} rows"),
        };
        Ok(measure)
    }

    async fn freshness(&mut self, name: &str, max_age: Duration) -> Result<Measure, CheckError> {
        let relation = crate::validate::check_sql::relation(self.driver(), self.spec);
        let text = if self.driver() == Driver::MySql {
            "CHAR"
        } else {
            "TEXT"
        };
        let newest: Vec<(Option<String>,)> = self
            .connection
            .fetch_all(
                &format!(
                    "SELECT CAST(MAX({}) AS {text}) FROM {relation}",
                    column(self.driver(), name)
                ),
                Vec::new(),
            )
            .await?;
        let allowed = crate::values::HumanDuration::new(max_age);
        let Some(newest) = newest.into_iter().next().and_then(|(value,)| value) else {
            return Ok(Measure {
                holds: Some(false),
                message: format!(
                    "`{name}` has no value: nothing is fresh (at most {allowed} old allowed)"
                ),
                ..Measure::default()
            });
        };
        let Value::TimestampTz(at) = crate::data::row_reader::parse_timestamp_tz(&newest) else {
            return Err(CheckError::Invalid(format!(
                "the newest `{name}`, `{newest}`, is not a date or a time"
            )));
        };
        let age = (Utc::now() - at).to_std().unwrap_or_default();
        Ok(Measure {
            holds: Some(age <= max_age),
            expected: Some(max_age.as_secs_f64()),
            actual: Some(age.as_secs_f64()),
            message: format!(
                "the newest `{name}` is {newest}, {} old (at most {allowed} allowed)",
                crate::values::HumanDuration::new(Duration::from_secs(age.as_secs()))
            ),
            ..Measure::default()
        })
    }

    async fn sql(
        &mut self,
        check: &CheckSpec,
        sql: &str,
        expect_min: Option<f64>,
        expect_max: Option<f64>,
    ) -> Result<Measure, CheckError> {
        let columns = describe_query(self.connection, sql).await?;
        let query = SourceQuery::query(self.driver(), sql, &columns);
        if expect_min.is_some() || expect_max.is_some() {
            let rows = read_rows(self.connection, &query.limited(1), &self.step.cancel).await?;
            let value = rows
                .first()
                .and_then(|row| row.first())
                .and_then(Value::canonical)
                .and_then(|text| text.parse::<f64>().ok());
            let Some(value) = value else {
                return Err(CheckError::Invalid(
                    "the query returned no number (its first column of its first row)".to_owned(),
                ));
            };
            let holds = expect_min.is_none_or(|min| value >= min)
                && expect_max.is_none_or(|max| value <= max);
            let bounds = match (expect_min, expect_max) {
                (Some(min), Some(max)) => format!("between {min} and {max}"),
                (Some(min), None) => format!("at least {min}"),
                (None, Some(max)) => format!("at most {max}"),
                (None, None) => String::new(),
            };
            return Ok(Measure {
                holds: Some(holds),
                actual: Some(value),
                expected: expect_max.or(expect_min),
                message: format!("the query returned {value}, expected {bounds}"),
                ..Measure::default()
            });
        }
        let int = if self.driver() == Driver::MySql {
            "SIGNED"
        } else {
            "BIGINT"
        };
        let counted: Vec<(i64,)> = self
            .connection
            .fetch_all(
                &format!(
                    "SELECT CAST(COUNT(*) AS {int}) FROM ({}) AS pipewright_failing",
                    crate::data::row_reader::query_text(sql)
                ),
                Vec::new(),
            )
            .await?;
        let failing = counted
            .first()
            .map_or(0, |(count,)| u64::try_from(*count).unwrap_or(0));
        let samples = if failing > check.max_failing_rows && check.samples > 0 {
            read_rows(
                self.connection,
                &query.limited(check.samples),
                &self.step.cancel,
            )
            .await?
            .iter()
            .map(|row| sample(&columns, row))
            .collect()
        } else {
            Vec::new()
        };
        Ok(Measure {
            failing_rows: Some(failing),
            expected: Some(crate::values::approximate(check.max_failing_rows)),
            message: format!(
                "the query returned {failing} failing {}",
                if failing == 1 { "row" } else { "rows" }
            ),
            samples,
            ..Measure::default()
        })
    }

    async fn extension(
        &mut self,
        name: &str,
        min_version: Option<&str>,
    ) -> Result<Measure, CheckError> {
        if self.driver() != Driver::Postgres {
            return Err(CheckError::Invalid(format!(
                "extensions are PostgreSQL's; this connection is {}",
                self.driver()
            )));
        }
        let installed: Vec<(String,)> = self
            .connection
            .fetch_all(
                "SELECT CAST(extversion AS TEXT) FROM pg_extension WHERE extname = ?",
                vec![name.into()],
            )
            .await?;
        let Some((version,)) = installed.into_iter().next() else {
            return Ok(Measure {
                holds: Some(false),
                message: format!("extension `{name}` is not installed"),
                ..Measure::default()
            });
        };
        let holds = min_version.is_none_or(|min| version_at_least(&version, min));
        Ok(Measure {
            holds: Some(holds),
            message: match min_version {
                Some(min) => {
                    format!("extension `{name}` is version {version} (at least {min} required)")
                }
                None => format!("extension `{name}` is version {version}"),
            },
            ..Measure::default()
        })
    }

    fn schema(&self, expected: &[ExpectedColumn]) -> Measure {
        let mut problems = Vec::new();
        for column in expected {
            match self
                .columns
                .iter()
                .find(|actual| actual.name == column.name)
            {
                None => problems.push(format!("no column `{}`", column.name)),
                Some(actual) => {
                    if let Some(family) = &column.family {
                        let found = family_of(&actual.logical);
                        if found != family {
                            problems.push(format!(
                                "`{}` is {found} ({}), not {family}",
                                column.name, actual.declared
                            ));
                        }
                    }
                }
            }
        }
        Measure {
            holds: Some(problems.is_empty()),
            failing_rows: None,
            message: if problems.is_empty() {
                format!("the {} expected columns are there", expected.len())
            } else {
                problems.join("; ")
            },
            ..Measure::default()
        }
    }
}

/// The type kind of a column, as `schema` checks name them.
pub(crate) fn family_of(logical: &LogicalType) -> &'static str {
    match logical {
        LogicalType::Bool => "boolean",
        LogicalType::Int { .. } | LogicalType::UInt { .. } | LogicalType::Bit { .. } => "integer",
        LogicalType::Decimal { .. } => "decimal",
        LogicalType::Float32 | LogicalType::Float64 => "float",
        LogicalType::Text { .. }
        | LogicalType::Enum { .. }
        | LogicalType::Set { .. }
        | LogicalType::Other { .. } => "text",
        LogicalType::Binary { .. } => "binary",
        LogicalType::Date => "date",
        LogicalType::Time { .. } => "time",
        LogicalType::Timestamp { .. } | LogicalType::TimestampTz { .. } => "timestamp",
        LogicalType::Json => "json",
        LogicalType::Uuid => "uuid",
    }
}

/// `2.22.1` against `2.22`: dotted numbers compared part by part (text parts as text).
pub(crate) fn version_at_least(version: &str, minimum: &str) -> bool {
    let parts = |text: &str| -> Vec<(u64, String)> {
        text.split(['.', '-'])
            .map(|part| {
                let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
                (digits.parse().unwrap_or(0), part[digits.len()..].to_owned())
            })
            .collect()
    };
    let (found, wanted) = (parts(version), parts(minimum));
    for index in 0..found.len().max(wanted.len()) {
        let left = found.get(index).cloned().unwrap_or((0, String::new()));
        let right = wanted.get(index).cloned().unwrap_or((0, String::new()));
        match left.cmp(&right) {
            std::cmp::Ordering::Equal => {}
            ordering => return ordering == std::cmp::Ordering::Greater,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_part_by_part() {
        assert!(version_at_least("2.22.1", "2.22"));
        assert!(version_at_least("2.22", "2.22"));
        assert!(!version_at_least("2.9.3", "2.22"));
        assert!(version_at_least("10.0", "9.6"));
        assert!(!version_at_least("1.0", "1.0.1"));
    }
}
