//! Analysis of a `validate` step: its table or query, and each check's keys for its kind.

use super::analyzer::Analyzer;
use crate::manifest::manifest_error::source_span;
use crate::manifest::raw::{RawCheck, RawEndpoint, RawStep};
use crate::manifest::suggestion::help_for_unknown;
use crate::manifest::{ManifestError, Span, Spanned};
use crate::pipeline::{
    Bound, CheckKind, CheckSpec, Driver, ExpectedColumn, OtherTable, Severity, ValidateSpec,
};

/// Failing rows shown per check when `samples` is not set.
const DEFAULT_SAMPLES: u64 = 5;

/// Keys every check takes.
const COMMON_KEYS: [&str; 6] = [
    "kind",
    "name",
    "severity",
    "max_failing_rows",
    "max_failing_ratio",
    "samples",
];

/// The keys of each kind, besides [`COMMON_KEYS`].
fn kind_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "row_count" => &["equals", "min", "max", "same_as", "tolerance"],
        "not_null" | "unique" => &["columns"],
        "accepted_values" => &["column", "values"],
        "range" => &["column", "min", "max", "inclusive"],
        "regex" => &["column", "pattern"],
        "freshness" => &["column", "max_age"],
        "relationship" => &["column", "references"],
        "sql" => &["sql", "min", "max"],
        "extension" => &["extension", "min_version"],
        "schema" => &["columns", "types"],
        "reconcile" => &["with", "key", "columns"],
        _ => &[],
    }
}

/// The keys a check sets, with where.
fn present_keys(check: &RawCheck) -> Vec<(&'static str, Option<Span>)> {
    vec![
        ("name", check.name.as_ref().map(Spanned::span)),
        ("column", check.column.as_ref().map(Spanned::span)),
        ("columns", check.columns.as_ref().map(Spanned::span)),
        ("min", check.min.as_ref().map(Spanned::span)),
        ("max", check.max.as_ref().map(Spanned::span)),
        ("equals", check.equals.as_ref().map(Spanned::span)),
        ("inclusive", check.inclusive.as_ref().map(Spanned::span)),
        ("values", check.values.as_ref().map(Spanned::span)),
        ("pattern", check.pattern.as_ref().map(Spanned::span)),
        ("max_age", check.max_age.as_ref().map(Spanned::span)),
        ("references", check.references.as_ref().map(Spanned::span)),
        ("same_as", check.same_as.as_ref().map(Spanned::span)),
        ("tolerance", check.tolerance.as_ref().map(Spanned::span)),
        ("sql", check.sql.as_ref().map(Spanned::span)),
        ("extension", check.extension.as_ref().map(Spanned::span)),
        ("min_version", check.min_version.as_ref().map(Spanned::span)),
        (
            "types",
            check
                .types
                .as_ref()
                .and_then(|types| types.values().next().map(Spanned::span)),
        ),
        ("with", check.with.as_ref().map(Spanned::span)),
        ("key", check.key.as_ref().map(Spanned::span)),
    ]
    .into_iter()
    .filter(|(_, span)| span.is_some())
    .collect()
}

/// A TOML value as a bound: a number or a text.
fn bound(value: &serde_json::Value) -> Option<Bound> {
    match value {
        serde_json::Value::Number(number) => number.as_f64().map(Bound::Number),
        serde_json::Value::String(text) => Some(Bound::Text(text.clone())),
        _ => None,
    }
}

impl Analyzer<'_> {
    pub(super) fn validate(
        &mut self,
        path: &str,
        id_span: &Span,
        raw: &RawStep,
    ) -> Option<ValidateSpec> {
        let connection = self.required_connection(path, id_span, raw.connection.as_ref());
        let target = self.one_of(
            path,
            id_span,
            ("table", raw.table.as_ref()),
            ("query", raw.query.as_ref()),
        );
        let driver = connection
            .as_ref()
            .map(|name| self.connections[name].driver);
        let mut checks = Vec::new();
        // The position in the manifest of each parsed check, for naming clashes.
        let mut positions = Vec::new();
        let mut valid = true;
        match &raw.checks {
            Some(list) if list.get().is_empty() => {
                self.invalid(
                    list.span(),
                    &format!("{path}.checks"),
                    "the list is empty",
                    Some("for example `checks = [{ kind = \"not_null\", columns = [\"id\"] }]`"),
                );
                valid = false;
            }
            Some(list) => {
                for (index, check) in list.get().iter().enumerate() {
                    let check_path = format!("{path}.checks[{index}]");
                    match self.check(&check_path, check, driver) {
                        Some(parsed) => {
                            if let Some(earlier) = checks
                                .iter()
                                .position(|other: &CheckSpec| other.name == parsed.name)
                                .map(|earlier| positions[earlier])
                            {
                                self.conflict(
                                    check.span(),
                                    format!(
                                        "checks {earlier} and {index} of `{path}` are both named `{}`",
                                        parsed.name
                                    ),
                                    "same name",
                                    "reports and alerts tell checks apart by name: give one a `name`",
                                );
                                valid = false;
                            }
                            checks.push(parsed);
                            positions.push(index);
                        }
                        None => valid = false,
                    }
                }
            }
            None => {
                self.missing(
                    "checks",
                    path,
                    id_span.clone(),
                    Some("for example `checks = [{ kind = \"not_null\", columns = [\"id\"] }]`"),
                );
                valid = false;
            }
        }
        let (is_table, target) = target?;
        if !valid {
            return None;
        }
        Some(ValidateSpec {
            connection: connection?,
            table: is_table.then(|| target.get().clone()),
            query: (!is_table).then(|| target.get().clone()),
            checks,
        })
    }

    /// Another table or query, on any connection.
    fn other_table(&mut self, path: &str, raw: &Spanned<RawEndpoint>) -> Option<OtherTable> {
        let inner = raw.get();
        let connection = self.required_connection(path, &raw.span(), inner.connection.as_ref());
        let (is_table, target) = self.one_of(
            path,
            &raw.span(),
            ("table", inner.table.as_ref()),
            ("query", inner.query.as_ref()),
        )?;
        Some(OtherTable {
            connection: connection?,
            table: is_table.then(|| target.get().clone()),
            query: (!is_table).then(|| target.get().clone()),
        })
    }

    /// A required key of a check.
    fn needed<'r, T>(
        &mut self,
        path: &str,
        check: &Spanned<RawCheck>,
        key: &str,
        value: Option<&'r T>,
        example: &str,
    ) -> Option<&'r T> {
        if value.is_none() {
            self.missing(key, path, check.span(), Some(example));
        }
        value
    }

    fn column_list(
        &mut self,
        path: &str,
        check: &Spanned<RawCheck>,
        key: &str,
        example: &str,
    ) -> Option<Vec<String>> {
        let list = match key {
            "key" => check.get().key.as_ref(),
            _ => check.get().columns.as_ref(),
        };
        let list = self.needed(path, check, key, list, example)?;
        if list.get().is_empty() {
            self.invalid(
                list.span(),
                &format!("{path}.{key}"),
                "the list is empty",
                Some(example),
            );
            return None;
        }
        Some(list.get().iter().map(|item| item.get().clone()).collect())
    }

    fn text_bound(
        &mut self,
        path: &str,
        key: &str,
        value: &Spanned<serde_json::Value>,
    ) -> Option<Bound> {
        let parsed = bound(value.get());
        if parsed.is_none() {
            self.invalid(
                value.span(),
                &format!("{path}.{key}"),
                "must be a number or a string",
                Some("a date or a time is written as a string: `min = \"2020-01-01\"`"),
            );
        }
        parsed
    }

    fn number_bound(
        &mut self,
        path: &str,
        key: &str,
        value: &Spanned<serde_json::Value>,
    ) -> Option<f64> {
        let parsed = value.get().as_f64();
        if parsed.is_none() {
            self.invalid(
                value.span(),
                &format!("{path}.{key}"),
                "must be a number",
                None,
            );
        }
        parsed
    }

    fn count_bound(
        &mut self,
        path: &str,
        key: &str,
        value: &Spanned<serde_json::Value>,
    ) -> Option<u64> {
        let parsed = value.get().as_u64();
        if parsed.is_none() {
            self.invalid(
                value.span(),
                &format!("{path}.{key}"),
                "must be a number of rows (a whole number, zero or more)",
                None,
            );
        }
        parsed
    }

    /// One check: its kind, the keys that kind takes, and their values.
    #[allow(clippy::too_many_lines)]
    fn check(
        &mut self,
        path: &str,
        check: &Spanned<RawCheck>,
        driver: Option<Driver>,
    ) -> Option<CheckSpec> {
        let inner = check.get();
        let kind_name = match &inner.kind {
            Some(kind) if CheckKind::NAMES.contains(&kind.as_str()) => kind.as_str().to_owned(),
            Some(kind) => {
                self.errors.push(ManifestError::InvalidValue {
                    key: format!("{path}.kind"),
                    message: format!("unknown check kind `{}`", kind.as_str()),
                    span: source_span(&kind.span()),
                    help: help_for_unknown(kind.as_str(), CheckKind::NAMES),
                });
                return None;
            }
            None => {
                self.missing(
                    "kind",
                    path,
                    check.span(),
                    Some(&format!(
                        "the kinds are {}",
                        CheckKind::NAMES.map(|name| format!("`{name}`")).join(", ")
                    )),
                );
                return None;
            }
        };
        let allowed = kind_keys(&kind_name);
        let mut valid = true;
        for (key, span) in present_keys(inner) {
            if key == "name" || allowed.contains(&key) {
                continue;
            }
            self.conflict(
                span.unwrap_or_else(|| check.span()),
                format!("`{key}` does not apply to a `{kind_name}` check in `{path}`"),
                "not for this kind",
                &format!(
                    "a `{kind_name}` check takes {}",
                    allowed
                        .iter()
                        .chain(COMMON_KEYS.iter().skip(1))
                        .map(|key| format!("`{key}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            valid = false;
        }
        let severity = match &inner.severity {
            Some(severity) => match Severity::parse(severity.as_str()) {
                Some(parsed) => parsed,
                None => {
                    self.errors.push(ManifestError::InvalidValue {
                        key: format!("{path}.severity"),
                        message: format!("unknown severity `{}`", severity.as_str()),
                        span: source_span(&severity.span()),
                        help: help_for_unknown(severity.as_str(), Severity::NAMES),
                    });
                    valid = false;
                    Severity::Error
                }
            },
            None => Severity::Error,
        };
        if let Some(ratio) = &inner.max_failing_ratio
            && !(0.0..=1.0).contains(ratio.get())
        {
            self.invalid(
                ratio.span(),
                &format!("{path}.max_failing_ratio"),
                "a ratio is between 0 and 1",
                Some("`max_failing_ratio = 0.001` allows one failing row in a thousand"),
            );
            valid = false;
        }
        let column = |analyzer: &mut Self, example: &str| -> Option<String> {
            analyzer
                .needed(path, check, "column", inner.column.as_ref(), example)
                .map(|column| column.get().clone())
        };
        let kind = match kind_name.as_str() {
            "row_count" => {
                let equals = inner.equals.as_ref().map(|equals| *equals.get());
                let min = match &inner.min {
                    Some(min) => Some(self.count_bound(path, "min", min)?),
                    None => None,
                };
                let max = match &inner.max {
                    Some(max) => Some(self.count_bound(path, "max", max)?),
                    None => None,
                };
                let same_as = match &inner.same_as {
                    Some(other) => Some(self.other_table(&format!("{path}.same_as"), other)?),
                    None => None,
                };
                if equals.is_none() && min.is_none() && max.is_none() && same_as.is_none() {
                    self.missing(
                        "equals",
                        path,
                        check.span(),
                        Some("a `row_count` check takes `equals`, `min` and/or `max`, or `same_as = { connection = \"...\", table = \"...\" }`"),
                    );
                    return None;
                }
                if let (Some(_), Some(span)) = (
                    equals,
                    inner.min.as_ref().or(inner.max.as_ref()).map(Spanned::span),
                ) {
                    self.conflict(
                        span,
                        format!("`equals` and `min`/`max` cannot both be set in `{path}`"),
                        "second bound",
                        "keep `equals` for an exact count, or `min` and `max` for a range",
                    );
                    return None;
                }
                if let (Some(_), Some(span)) =
                    (
                        &same_as,
                        inner.equals.as_ref().map(Spanned::span).or_else(|| {
                            inner.min.as_ref().or(inner.max.as_ref()).map(Spanned::span)
                        }),
                    )
                {
                    self.conflict(
                        span,
                        format!("`same_as` and `equals`/`min`/`max` cannot both be set in `{path}`"),
                        "second expectation",
                        "compare with another table (`same_as`, with `tolerance`) or with fixed numbers, in two checks",
                    );
                    return None;
                }
                if let (None, Some(tolerance)) = (&same_as, &inner.tolerance) {
                    self.conflict(
                        tolerance.span(),
                        format!("`tolerance` only applies with `same_as` in `{path}`"),
                        "without `same_as`",
                        "remove `tolerance`, or compare with another table through `same_as`",
                    );
                    return None;
                }
                CheckKind::RowCount {
                    equals,
                    min,
                    max,
                    same_as,
                    tolerance: inner
                        .tolerance
                        .as_ref()
                        .map_or(0, |tolerance| *tolerance.get()),
                }
            }
            "not_null" => CheckKind::NotNull {
                columns: self.column_list(
                    path,
                    check,
                    "columns",
                    "`columns = [\"symbol\", \"trade_date\"]`",
                )?,
            },
            "unique" => CheckKind::Unique {
                columns: self.column_list(
                    path,
                    check,
                    "columns",
                    "`columns = [\"symbol\", \"trade_date\"]`",
                )?,
            },
            "accepted_values" => {
                let column = column(self, "`column = \"status\"`");
                let values = self.needed(
                    path,
                    check,
                    "values",
                    inner.values.as_ref(),
                    "`values = [\"open\", \"closed\"]`",
                )?;
                if values.get().is_empty() {
                    self.invalid(
                        values.span(),
                        &format!("{path}.values"),
                        "the list is empty",
                        Some("`values = [\"open\", \"closed\"]`"),
                    );
                    return None;
                }
                let mut parsed = Vec::new();
                for value in values.get() {
                    parsed.push(self.text_bound(path, "values", value)?);
                }
                CheckKind::AcceptedValues {
                    column: column?,
                    values: parsed,
                }
            }
            "range" => {
                let column = column(self, "`column = \"close\"`");
                let min = match &inner.min {
                    Some(min) => Some(self.text_bound(path, "min", min)?),
                    None => None,
                };
                let max = match &inner.max {
                    Some(max) => Some(self.text_bound(path, "max", max)?),
                    None => None,
                };
                if min.is_none() && max.is_none() {
                    self.missing(
                        "min",
                        path,
                        check.span(),
                        Some("a `range` check takes `min`, `max` or both: `min = 0`"),
                    );
                    return None;
                }
                CheckKind::Range {
                    column: column?,
                    min,
                    max,
                    inclusive: inner
                        .inclusive
                        .as_ref()
                        .is_none_or(|inclusive| *inclusive.get()),
                }
            }
            "regex" => {
                let column = column(self, "`column = \"symbol\"`");
                let pattern = self.needed(
                    path,
                    check,
                    "pattern",
                    inner.pattern.as_ref(),
                    "`pattern = \"^[0-9]{6}$\"`",
                )?;
                if let Err(error) = regex::Regex::new(pattern.get()) {
                    self.invalid(
                        pattern.span(),
                        &format!("{path}.pattern"),
                        &format!("not a regular expression: {error}"),
                        None,
                    );
                    return None;
                }
                CheckKind::Regex {
                    column: column?,
                    pattern: pattern.get().clone(),
                }
            }
            "freshness" => {
                let column = column(self, "`column = \"loaded_at\"`");
                let max_age = self.needed(
                    path,
                    check,
                    "max_age",
                    inner.max_age.as_ref(),
                    "`max_age = \"1d\"`",
                )?;
                CheckKind::Freshness {
                    column: column?,
                    max_age: max_age.get().get(),
                }
            }
            "relationship" => {
                let column = column(self, "`column = \"symbol\"`")?;
                let references = self.needed(
                    path,
                    check,
                    "references",
                    inner.references.as_ref(),
                    "`references = { table = \"symbols\", column = \"symbol\" }`",
                )?;
                let table = self.needed(
                    &format!("{path}.references"),
                    check,
                    "table",
                    references.get().table.as_ref(),
                    "`references = { table = \"symbols\" }`",
                )?;
                CheckKind::Relationship {
                    to_table: table.get().clone(),
                    to_column: references
                        .get()
                        .column
                        .as_ref()
                        .map_or_else(|| column.clone(), |to| to.get().clone()),
                    column,
                }
            }
            "sql" => {
                let sql = self.needed(
                    path,
                    check,
                    "sql",
                    inner.sql.as_ref(),
                    "`sql = \"SELECT * FROM bars WHERE high < low\"` (the failing rows)",
                )?;
                let expect_min = match &inner.min {
                    Some(min) => Some(self.number_bound(path, "min", min)?),
                    None => None,
                };
                let expect_max = match &inner.max {
                    Some(max) => Some(self.number_bound(path, "max", max)?),
                    None => None,
                };
                CheckKind::Sql {
                    sql: sql.get().clone(),
                    expect_min,
                    expect_max,
                }
            }
            "extension" => {
                let name = self.needed(
                    path,
                    check,
                    "extension",
                    inner.extension.as_ref(),
                    "`extension = \"timescaledb\"`",
                )?;
                if let Some(driver) = driver
                    && driver != Driver::Postgres
                {
                    self.conflict(
                        check.span(),
                        format!(
                            "an `extension` check does not apply to {driver}, in `{path}`: extensions are PostgreSQL's"
                        ),
                        "not applicable",
                        "check PostgreSQL extensions on a PostgreSQL connection, or remove the check",
                    );
                    return None;
                }
                CheckKind::Extension {
                    name: name.get().clone(),
                    min_version: inner
                        .min_version
                        .as_ref()
                        .map(|version| version.get().clone()),
                }
            }
            "schema" => {
                let mut columns: Vec<ExpectedColumn> = inner
                    .columns
                    .iter()
                    .flat_map(|list| list.get().iter())
                    .map(|name| ExpectedColumn {
                        name: name.get().clone(),
                        family: None,
                    })
                    .collect();
                for (name, family) in inner.types.iter().flatten() {
                    if !ExpectedColumn::FAMILIES.contains(&family.as_str()) {
                        self.errors.push(ManifestError::InvalidValue {
                            key: format!("{path}.types.{name}"),
                            message: format!("unknown type kind `{}`", family.as_str()),
                            span: source_span(&family.span()),
                            help: help_for_unknown(family.as_str(), ExpectedColumn::FAMILIES),
                        });
                        valid = false;
                        continue;
                    }
                    match columns.iter_mut().find(|column| &column.name == name) {
                        Some(column) => column.family = Some(family.get().clone()),
                        None => columns.push(ExpectedColumn {
                            name: name.clone(),
                            family: Some(family.get().clone()),
                        }),
                    }
                }
                if columns.is_empty() {
                    self.missing(
                        "columns",
                        path,
                        check.span(),
                        Some("`columns = [\"id\", \"symbol\"]`, and `types = { close = \"decimal\" }` for their kinds"),
                    );
                    return None;
                }
                CheckKind::Schema { columns }
            }
            "reconcile" => {
                let with = self.needed(
                    path,
                    check,
                    "with",
                    inner.with.as_ref(),
                    "`with = { connection = \"legacy\", table = \"daily_bars\" }`",
                )?;
                let with = self.other_table(&format!("{path}.with"), with)?;
                let key = self.column_list(path, check, "key", "`key = [\"id\"]`")?;
                CheckKind::Reconcile {
                    with,
                    key,
                    columns: inner
                        .columns
                        .iter()
                        .flat_map(|list| list.get().iter())
                        .map(|column| column.get().clone())
                        .collect(),
                }
            }
            _ => unreachable!("the kind was checked above"),
        };
        if !valid {
            return None;
        }
        Some(CheckSpec {
            span: check.span(),
            name: inner
                .name
                .as_ref()
                .map_or_else(|| kind.default_name(), |name| name.get().clone()),
            kind,
            severity,
            max_failing_rows: inner
                .max_failing_rows
                .as_ref()
                .map_or(0, |rows| *rows.get()),
            max_failing_ratio: inner.max_failing_ratio.as_ref().map(|ratio| *ratio.get()),
            samples: inner
                .samples
                .as_ref()
                .map_or(DEFAULT_SAMPLES, |samples| *samples.get()),
        })
    }
}
