//! Analysis of the keys that belong to each step kind.

use super::analyzer::{Analyzer, PathKind};
use crate::manifest::manifest_error::source_span;
use crate::manifest::raw::{RawEndpoint, RawStep};
use crate::manifest::suggestion::help_for_unknown;
use crate::manifest::{ManifestError, Span, Spanned};
use crate::pipeline::{
    BenchSpec, CommandProgram, CommandSpec, ConnectionName, EndpointSpec, MigrateSpec, SqlSource,
    SqlSpec, StepAction, StepKind, TransformSpec, ValidateSpec,
};

/// The default history table of a `migrate` step.
pub const DEFAULT_HISTORY_TABLE: &str = "pipewright_migrations";
/// Rows per batch of a `transform` step when `batch_size` is not set.
pub const DEFAULT_BATCH_SIZE: u64 = 10_000;

const TRANSFORM_MODES: [&str; 5] = ["create", "replace", "append", "upsert", "truncate"];
const CHECK_KINDS: [&str; 12] = [
    "row_count",
    "not_null",
    "unique",
    "accepted_values",
    "range",
    "regex",
    "freshness",
    "relationship",
    "sql",
    "extension",
    "schema",
    "reconcile",
];
const WORKLOAD_KINDS: [&str; 3] = ["connect", "insert", "query"];

impl Analyzer<'_> {
    pub(super) fn action(
        &mut self,
        kind: StepKind,
        table: &str,
        id_span: &Span,
        raw: &RawStep,
    ) -> Option<StepAction> {
        match kind {
            StepKind::Command => self.command(table, id_span, raw).map(StepAction::Command),
            StepKind::Sql => self.sql(table, id_span, raw).map(StepAction::Sql),
            StepKind::Migrate => self.migrate(table, id_span, raw).map(StepAction::Migrate),
            StepKind::Transform => self
                .transform(table, id_span, raw)
                .map(StepAction::Transform),
            StepKind::Validate => self.validate(table, id_span, raw).map(StepAction::Validate),
            StepKind::Bench => self.bench(table, id_span, raw).map(StepAction::Bench),
        }
    }

    fn command(&mut self, table: &str, id_span: &Span, raw: &RawStep) -> Option<CommandSpec> {
        let program = match (&raw.run, &raw.shell) {
            (Some(_), Some(shell)) => {
                self.conflict(
                    shell.span(),
                    "`run` and `shell` cannot both be set".to_owned(),
                    "second program",
                    "use `run` for a program and its arguments, or `shell` for a script",
                );
                None
            }
            (None, None) => {
                self.missing(
                    "run",
                    table,
                    id_span.clone(),
                    Some("add `run = [\"program\", \"argument\"]`, or `shell = \"a script\"`"),
                );
                None
            }
            (Some(run), None) => self.argv(table, run),
            (None, Some(shell)) => {
                let script = self.interpolated(shell)?;
                if script.trim().is_empty() {
                    self.invalid(
                        shell.span(),
                        &format!("{table}.shell"),
                        "the script is empty",
                        None,
                    );
                    None
                } else {
                    Some(CommandProgram::Shell(script))
                }
            }
        };
        let mut env = Vec::new();
        for (name, value) in raw.env.iter().flatten() {
            if name.is_empty() || name.contains(['=', '\0']) {
                self.invalid(
                    value.span(),
                    &format!("{table}.env"),
                    &format!("`{name}` cannot be an environment variable name"),
                    None,
                );
            } else if let Some(value) = self.interpolated(value) {
                env.push((name.clone(), value));
            }
        }
        let workdir = match &raw.workdir {
            Some(workdir) => self.path("workdir", workdir, PathKind::Directory)?,
            None => self.base_dir().to_path_buf(),
        };
        Some(CommandSpec {
            program: program?,
            env,
            workdir,
        })
    }

    fn argv(&mut self, table: &str, run: &Spanned<Vec<Spanned<String>>>) -> Option<CommandProgram> {
        if run.get().is_empty() {
            self.invalid(
                run.span(),
                &format!("{table}.run"),
                "the array is empty",
                Some("name the program first: `run = [\"program\", \"argument\"]`"),
            );
            return None;
        }
        let mut argv = Vec::with_capacity(run.get().len());
        for argument in run.get() {
            argv.push(self.interpolated(argument));
        }
        let argv: Vec<String> = argv.into_iter().collect::<Option<_>>()?;
        if argv[0].trim().is_empty() {
            self.invalid(
                run.get()[0].span(),
                &format!("{table}.run"),
                "the program name is empty",
                None,
            );
            return None;
        }
        Some(CommandProgram::Argv(argv))
    }

    fn required_connection(
        &mut self,
        table: &str,
        id_span: &Span,
        connection: Option<&Spanned<String>>,
    ) -> Option<ConnectionName> {
        match connection {
            Some(name) => self.connection_ref(name),
            None => {
                self.missing(
                    "connection",
                    table,
                    id_span.clone(),
                    Some("name one of `[connections]`"),
                );
                None
            }
        }
    }

    /// Exactly one of two alternative keys, such as `sql` and `file`.
    fn one_of<'r>(
        &mut self,
        table: &str,
        id_span: &Span,
        first: (&str, Option<&'r Spanned<String>>),
        second: (&str, Option<&'r Spanned<String>>),
    ) -> Option<(bool, &'r Spanned<String>)> {
        match (first.1, second.1) {
            (Some(value), None) => Some((true, value)),
            (None, Some(value)) => Some((false, value)),
            (Some(_), Some(value)) => {
                self.conflict(
                    value.span(),
                    format!("`{}` and `{}` cannot both be set", first.0, second.0),
                    "second one",
                    &format!("keep either `{}` or `{}`", first.0, second.0),
                );
                None
            }
            (None, None) => {
                self.missing(
                    first.0,
                    table,
                    id_span.clone(),
                    Some(&format!("set `{}` or `{}`", first.0, second.0)),
                );
                None
            }
        }
    }

    fn sql(&mut self, table: &str, id_span: &Span, raw: &RawStep) -> Option<SqlSpec> {
        let connection = self.required_connection(table, id_span, raw.connection.as_ref());
        let source = match self.one_of(
            table,
            id_span,
            ("sql", raw.sql.as_ref()),
            ("file", raw.file.as_ref()),
        )? {
            (true, sql) => SqlSource::Inline(sql.get().clone()),
            (false, file) => SqlSource::File(self.path("file", file, PathKind::File)?),
        };
        Some(SqlSpec {
            connection: connection?,
            source,
            transaction: raw.transaction.unwrap_or(true),
        })
    }

    fn migrate(&mut self, table: &str, id_span: &Span, raw: &RawStep) -> Option<MigrateSpec> {
        let connection = self.required_connection(table, id_span, raw.connection.as_ref());
        let dir = match &raw.dir {
            Some(dir) => self.path("dir", dir, PathKind::Directory),
            None => {
                self.missing(
                    "dir",
                    table,
                    id_span.clone(),
                    Some("the directory of migration files, such as `dir = \"../migrations\"`"),
                );
                None
            }
        };
        Some(MigrateSpec {
            connection: connection?,
            dir: dir?,
            history_table: raw.history_table.as_ref().map_or_else(
                || DEFAULT_HISTORY_TABLE.to_owned(),
                |name| name.get().clone(),
            ),
            out_of_order: raw.out_of_order.unwrap_or(false),
        })
    }

    fn endpoint(
        &mut self,
        table: &str,
        key: &str,
        raw: &Spanned<RawEndpoint>,
    ) -> Option<EndpointSpec> {
        let inner = raw.get();
        let table = format!("{table}.{key}");
        let connection = self.required_connection(&table, &raw.span(), inner.connection.as_ref());
        if let Some(mode) = &inner.mode
            && !TRANSFORM_MODES.contains(&mode.as_str())
        {
            self.errors.push(ManifestError::InvalidValue {
                key: format!("{table}.mode"),
                message: format!("unknown mode `{}`", mode.as_str()),
                span: source_span(&mode.span()),
                help: help_for_unknown(mode.as_str(), TRANSFORM_MODES),
            });
        }
        Some(EndpointSpec {
            connection: connection?,
            table: inner.table.as_ref().map(|name| name.get().clone()),
            query: inner.query.as_ref().map(|query| query.get().clone()),
            mode: inner.mode.as_ref().map(|mode| mode.get().clone()),
            key: inner
                .key
                .iter()
                .flatten()
                .map(|column| column.get().clone())
                .collect(),
        })
    }

    fn transform(&mut self, table: &str, id_span: &Span, raw: &RawStep) -> Option<TransformSpec> {
        let endpoint =
            |analyzer: &mut Self, key: &str, value: Option<&Spanned<RawEndpoint>>| match value {
                Some(value) => analyzer.endpoint(table, key, value),
                None => {
                    analyzer.missing(
                        key,
                        table,
                        id_span.clone(),
                        Some(
                            "for example `{ connection = \"warehouse\", table = \"daily_bars\" }`",
                        ),
                    );
                    None
                }
            };
        let from = endpoint(self, "from", raw.from.as_ref());
        let to = endpoint(self, "to", raw.to.as_ref());
        let batch_size = match &raw.batch_size {
            Some(size) if *size.get() == 0 => {
                self.invalid(
                    size.span(),
                    &format!("{table}.batch_size"),
                    "must be at least 1",
                    None,
                );
                None
            }
            Some(size) => Some(*size.get()),
            None => Some(DEFAULT_BATCH_SIZE),
        };
        Some(TransformSpec {
            from: from?,
            to: to?,
            batch_size: batch_size?,
        })
    }

    fn validate(&mut self, table: &str, id_span: &Span, raw: &RawStep) -> Option<ValidateSpec> {
        let connection = self.required_connection(table, id_span, raw.connection.as_ref());
        let target = self.one_of(
            table,
            id_span,
            ("table", raw.table.as_ref()),
            ("query", raw.query.as_ref()),
        );
        let mut checks = Vec::new();
        match &raw.checks {
            Some(list) if list.get().is_empty() => {
                self.invalid(
                    list.span(),
                    &format!("{table}.checks"),
                    "the list is empty",
                    None,
                );
            }
            Some(list) => {
                for check in list.get() {
                    match &check.get().kind {
                        Some(kind) if CHECK_KINDS.contains(&kind.as_str()) => {
                            checks.push(kind.get().clone());
                        }
                        Some(kind) => self.errors.push(ManifestError::InvalidValue {
                            key: format!("{table}.checks.kind"),
                            message: format!("unknown check kind `{}`", kind.as_str()),
                            span: source_span(&kind.span()),
                            help: help_for_unknown(kind.as_str(), CHECK_KINDS),
                        }),
                        None => {
                            self.missing("kind", &format!("{table}.checks"), check.span(), None);
                        }
                    }
                }
            }
            None => self.missing(
                "checks",
                table,
                id_span.clone(),
                Some("for example `checks = [{ kind = \"not_null\", columns = [\"id\"] }]`"),
            ),
        }
        let (is_table, target) = target?;
        Some(ValidateSpec {
            connection: connection?,
            table: is_table.then(|| target.get().clone()),
            query: (!is_table).then(|| target.get().clone()),
            checks,
        })
    }

    fn bench(&mut self, table: &str, id_span: &Span, raw: &RawStep) -> Option<BenchSpec> {
        let connection = self.required_connection(table, id_span, raw.connection.as_ref());
        let workload = match &raw.workload {
            Some(workload) => match &workload.get().kind {
                Some(kind) if WORKLOAD_KINDS.contains(&kind.as_str()) => Some(kind.get().clone()),
                Some(kind) => {
                    self.errors.push(ManifestError::InvalidValue {
                        key: format!("{table}.workload.kind"),
                        message: format!("unknown workload `{}`", kind.as_str()),
                        span: source_span(&kind.span()),
                        help: help_for_unknown(kind.as_str(), WORKLOAD_KINDS),
                    });
                    None
                }
                None => {
                    self.missing("kind", &format!("{table}.workload"), workload.span(), None);
                    None
                }
            },
            None => {
                self.missing(
                    "workload",
                    table,
                    id_span.clone(),
                    Some("for example `workload = { kind = \"connect\" }`"),
                );
                None
            }
        };
        let baseline = match &raw.baseline {
            Some(path) => Some(self.path("baseline", path, PathKind::MayNotExist)?),
            None => None,
        };
        Some(BenchSpec {
            connection: connection?,
            workload: workload?,
            baseline,
        })
    }
}
