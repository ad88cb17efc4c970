//! Analysis of a `transform` step: its source, its target, its column rules.

use indexmap::IndexMap;

use super::analyzer::Analyzer;
use crate::manifest::manifest_error::source_span;
use crate::manifest::raw::{RawColumnRule, RawSource, RawStep, RawTarget};
use crate::manifest::suggestion::help_for_unknown;
use crate::manifest::{ManifestError, Span, Spanned};
use crate::pipeline::{
    ColumnRule, LossyPolicy, SourceSpec, SourceTables, TargetSpec, TransformMode, TransformSpec,
};

/// Rows per batch of a `transform` step when `batch_size` is not set.
pub const DEFAULT_BATCH_SIZE: u64 = 10_000;
/// Backups kept per table when `keep_backups` is not set.
pub const DEFAULT_KEEP_BACKUPS: u32 = 1;
/// The most key ranges a transform copies at once.
const MAX_PARALLEL: u32 = 64;

impl Analyzer<'_> {
    pub(super) fn transform(
        &mut self,
        path: &str,
        id_span: &Span,
        raw: &RawStep,
    ) -> Option<TransformSpec> {
        let from = match &raw.from {
            Some(from) => self.source(&format!("{path}.from"), from),
            None => {
                self.missing(
                    "from",
                    path,
                    id_span.clone(),
                    Some(
                        "for example `from = { connection = \"legacy\", table = \"daily_bars\" }`",
                    ),
                );
                None
            }
        };
        let to = match &raw.to {
            Some(to) => self.target(&format!("{path}.to"), to, from.as_ref()),
            None => {
                self.missing(
                    "to",
                    path,
                    id_span.clone(),
                    Some("for example `to = { connection = \"warehouse\", mode = \"replace\" }`"),
                );
                None
            }
        };
        let batch_size = match &raw.batch_size {
            Some(size) if *size.get() == 0 => {
                self.invalid(
                    size.span(),
                    &format!("{path}.batch_size"),
                    "must be at least 1",
                    Some("10000 rows per batch suits most tables"),
                );
                None
            }
            Some(size) => Some(*size.get()),
            None => Some(DEFAULT_BATCH_SIZE),
        };
        let parallel = self.parallel(path, raw, to.as_ref());
        let on_lossy = match &raw.on_lossy {
            Some(policy) => self.lossy_policy(&format!("{path}.on_lossy"), policy),
            None => Some(LossyPolicy::default()),
        };
        let columns = self.column_rules(path, raw.columns.as_ref());
        let (from, to) = (from?, to?);
        if from.connection == to.connection
            && let Some(connection) = self.connections.get(&from.connection)
            && let (SourceTables::Table(source), Some(target)) = (&from.tables, &to.table)
            && crate::data::same_table(
                connection.driver,
                source,
                &to.schema
                    .as_ref()
                    .map_or_else(|| target.clone(), |schema| format!("{schema}.{target}")),
            )
            && let Some(span) = raw.to.as_ref().map(Spanned::span)
        {
            self.conflict(
                span,
                format!("`{path}` copies `{source}` onto itself"),
                "same connection and table as `from`",
                "name another target table (`to.table`), schema (`to.schema`) or connection",
            );
            return None;
        }
        Some(TransformSpec {
            from,
            to,
            batch_size: batch_size?,
            parallel: parallel?,
            verify: raw.verify.unwrap_or(true),
            keep_backups: raw
                .keep_backups
                .as_ref()
                .map_or(DEFAULT_KEEP_BACKUPS, |keep| *keep.get()),
            on_lossy: on_lossy?,
            columns: columns?,
        })
    }

    fn source(&mut self, path: &str, raw: &Spanned<RawSource>) -> Option<SourceSpec> {
        let inner = raw.get();
        let connection = self.required_connection(path, &raw.span(), inner.connection.as_ref());
        let mut given: Vec<(&str, Span)> = Vec::new();
        if let Some(table) = &inner.table {
            given.push(("table", table.span()));
        }
        if let Some(query) = &inner.query {
            given.push(("query", query.span()));
        }
        if let Some(tables) = &inner.tables {
            given.push(("tables", tables.span()));
        }
        if let Some(include) = &inner.include {
            given.push(("include", include.span()));
        }
        let names = |spans: &[(&str, Span)]| {
            spans
                .iter()
                .map(|(key, _)| format!("`{key}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if given.len() > 1 {
            self.conflict(
                given[1].1.clone(),
                format!("{} cannot be combined in `{path}`", names(&given)),
                "second one",
                "a source is one `table`, one `query`, a list of `tables`, or `include` patterns",
            );
            return None;
        }
        let pattern_only = |key: &str, span: Option<Span>, analyzer: &mut Self| {
            if let Some(span) = span
                && inner.include.is_none()
            {
                analyzer.conflict(
                    span,
                    format!("`{key}` only applies with `include` in `{path}`"),
                    "without `include`",
                    "list the tables with `include = [\"*\"]`, or remove this key",
                );
            }
        };
        pattern_only(
            "exclude",
            inner
                .exclude
                .as_ref()
                .and_then(|list| list.first())
                .map(Spanned::span),
            self,
        );
        pattern_only("schema", inner.schema.as_ref().map(Spanned::span), self);
        let strings = |list: &[Spanned<String>]| -> Vec<String> {
            list.iter().map(|item| item.get().clone()).collect()
        };
        let tables = if let Some(table) = &inner.table {
            SourceTables::Table(table.get().clone())
        } else if let Some(query) = &inner.query {
            SourceTables::Query(query.get().clone())
        } else if let Some(tables) = &inner.tables {
            if tables.get().is_empty() {
                self.invalid(
                    tables.span(),
                    &format!("{path}.tables"),
                    "the list is empty",
                    Some("name at least one table, or use `include = [\"*\"]`"),
                );
                return None;
            }
            SourceTables::List(strings(tables.get()))
        } else if let Some(include) = &inner.include {
            if include.get().is_empty() {
                self.invalid(
                    include.span(),
                    &format!("{path}.include"),
                    "the list is empty",
                    Some("`include = [\"*\"]` copies every table"),
                );
                return None;
            }
            SourceTables::Matching {
                schema: inner.schema.as_ref().map(|schema| schema.get().clone()),
                include: strings(include.get()),
                exclude: strings(inner.exclude.as_deref().unwrap_or_default()),
            }
        } else {
            self.missing(
                "table",
                path,
                raw.span(),
                Some("set one of `table`, `query`, `tables` or `include`"),
            );
            return None;
        };
        Some(SourceSpec {
            connection: connection?,
            tables,
            key: strings(inner.key.as_deref().unwrap_or_default()),
        })
    }

    fn target(
        &mut self,
        path: &str,
        raw: &Spanned<RawTarget>,
        source: Option<&SourceSpec>,
    ) -> Option<TargetSpec> {
        let inner = raw.get();
        let connection = self.required_connection(path, &raw.span(), inner.connection.as_ref());
        let mode = match &inner.mode {
            Some(mode) => match TransformMode::parse(mode.as_str()) {
                Some(mode) => Some(mode),
                None => {
                    self.errors.push(ManifestError::InvalidValue {
                        key: format!("{path}.mode"),
                        message: format!("unknown mode `{}`", mode.as_str()),
                        span: source_span(&mode.span()),
                        help: help_for_unknown(mode.as_str(), TransformMode::NAMES),
                    });
                    None
                }
            },
            None => Some(TransformMode::Create),
        };
        let key: Vec<String> = inner
            .key
            .iter()
            .flatten()
            .map(|column| column.get().clone())
            .collect();
        match (mode, key.is_empty()) {
            (Some(TransformMode::Upsert), true) => self.missing(
                "key",
                path,
                raw.span(),
                Some("an upsert needs the key columns: `key = [\"id\"]`"),
            ),
            (Some(TransformMode::Upsert) | None, false) | (_, true) => {}
            (Some(_), false) => self.conflict(
                inner
                    .key
                    .as_ref()
                    .and_then(|key| key.first())
                    .map_or(raw.span(), Spanned::span),
                "`key` is only used by `mode = \"upsert\"`".to_owned(),
                "not used",
                "remove `key`, or set `mode = \"upsert\"`",
            ),
        }
        let single = source.is_none_or(|source| source.tables.is_single());
        let table = match (&inner.table, source.map(|source| &source.tables)) {
            (Some(table), _) if !single => {
                self.conflict(
                    table.span(),
                    format!("`{path}.table` names one table, but several are copied"),
                    "one name for several tables",
                    "each table keeps its name; `schema` puts them all in another schema",
                );
                None
            }
            (Some(table), _) => Some(table.get().clone()),
            (None, Some(SourceTables::Table(source))) => {
                Some(crate::data::split_name(source).1.to_owned())
            }
            (None, Some(SourceTables::Query(_))) => {
                self.missing(
                    "table",
                    path,
                    raw.span(),
                    Some("the rows of a query need a table to go to: `table = \"...\"`"),
                );
                None
            }
            (None, _) => None,
        };
        Some(TargetSpec {
            connection: connection?,
            table,
            schema: inner.schema.as_ref().map(|schema| schema.get().clone()),
            mode: mode?,
            key,
        })
    }

    fn parallel(&mut self, path: &str, raw: &RawStep, to: Option<&TargetSpec>) -> Option<u32> {
        let Some(parallel) = &raw.parallel else {
            return Some(1);
        };
        let value = *parallel.get();
        if !(1..=MAX_PARALLEL).contains(&value) {
            self.invalid(
                parallel.span(),
                &format!("{path}.parallel"),
                &format!("must be between 1 and {MAX_PARALLEL}"),
                Some("one range per core of the slower database is a good start"),
            );
            return None;
        }
        if value > 1
            && let Some(to) = to
            && !to.mode.uses_staging()
        {
            self.conflict(
                parallel.span(),
                format!(
                    "`parallel` does not apply to `mode = \"{}\"` in `{path}`",
                    to.mode
                ),
                "not with this mode",
                "append and upsert commit batches in key order so that `--resume` can continue; \
                 parallel ranges apply to `create`, `replace` and `truncate`",
            );
            return None;
        }
        Some(value)
    }

    fn lossy_policy(&mut self, key: &str, policy: &Spanned<String>) -> Option<LossyPolicy> {
        let parsed = LossyPolicy::parse(policy.as_str());
        if parsed.is_none() {
            self.errors.push(ManifestError::InvalidValue {
                key: key.to_owned(),
                message: format!("unknown policy `{}`", policy.as_str()),
                span: source_span(&policy.span()),
                help: help_for_unknown(policy.as_str(), LossyPolicy::NAMES),
            });
        }
        parsed
    }

    fn column_rules(
        &mut self,
        path: &str,
        raw: Option<&IndexMap<String, Spanned<RawColumnRule>>>,
    ) -> Option<IndexMap<String, ColumnRule>> {
        let mut rules = IndexMap::new();
        let mut valid = true;
        for (name, rule) in raw.into_iter().flatten() {
            match self.column_rule(&format!("{path}.columns.{name}"), rule) {
                Some(parsed) => {
                    rules.insert(name.clone(), parsed);
                }
                None => valid = false,
            }
        }
        valid.then_some(rules)
    }

    fn column_rule(&mut self, path: &str, raw: &Spanned<RawColumnRule>) -> Option<ColumnRule> {
        let inner = raw.get();
        let mut valid = true;
        let drop = inner.drop.unwrap_or(false);
        let others: Vec<(&str, Option<Span>)> = vec![
            ("rename", inner.rename.as_ref().map(Spanned::span)),
            ("type", inner.target_type.as_ref().map(Spanned::span)),
            ("expression", inner.expression.as_ref().map(Spanned::span)),
            ("value", inner.value.as_ref().map(Spanned::span)),
            ("default", inner.default.as_ref().map(Spanned::span)),
            ("on_lossy", inner.on_lossy.as_ref().map(Spanned::span)),
        ];
        if drop {
            for (key, span) in &others {
                if let Some(span) = span {
                    self.conflict(
                        span.clone(),
                        format!("`{key}` has no effect on a dropped column in `{path}`"),
                        "the column is dropped",
                        &format!("remove `{key}`, or `drop = true`"),
                    );
                    valid = false;
                }
            }
        }
        if let (Some(_), Some(value)) = (&inner.expression, &inner.value) {
            self.conflict(
                value.span(),
                format!("`expression` and `value` cannot both be set in `{path}`"),
                "second one",
                "a column is computed by SQL (`expression`) or is a constant (`value`)",
            );
            valid = false;
        }
        if let (Some(_), Some(default)) = (&inner.value, &inner.default) {
            self.conflict(
                default.span(),
                format!("`default` has no effect next to `value` in `{path}`"),
                "never used",
                "a constant is never NULL: remove `default`",
            );
            valid = false;
        }
        for (key, value) in [("value", &inner.value), ("default", &inner.default)] {
            if let Some(value) = value
                && (value.get().is_object() || value.get().is_array())
            {
                self.invalid(
                    value.span(),
                    &format!("{path}.{key}"),
                    "must be a string, a number or a boolean",
                    Some("write a date or a JSON document as a string"),
                );
                valid = false;
            }
        }
        for (key, text) in [
            ("rename", &inner.rename),
            ("type", &inner.target_type),
            ("expression", &inner.expression),
        ] {
            if let Some(text) = text
                && text.get().trim().is_empty()
            {
                self.invalid(text.span(), &format!("{path}.{key}"), "is empty", None);
                valid = false;
            }
        }
        let on_lossy = match &inner.on_lossy {
            Some(policy) => Some(self.lossy_policy(&format!("{path}.on_lossy"), policy)?),
            None => None,
        };
        valid.then(|| ColumnRule {
            rename: inner.rename.as_ref().map(|name| name.get().clone()),
            drop,
            target_type: inner.target_type.as_ref().map(|name| name.get().clone()),
            expression: inner.expression.as_ref().map(|sql| sql.get().clone()),
            value: inner.value.as_ref().map(|value| value.get().clone()),
            default: inner.default.as_ref().map(|value| value.get().clone()),
            on_lossy,
        })
    }
}
