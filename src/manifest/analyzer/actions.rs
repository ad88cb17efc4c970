//! Analysis of the keys that belong to each step kind.

use super::analyzer::{Analyzer, PathKind};
use crate::manifest::manifest_error::source_span;
use crate::manifest::raw::{RawStep, RawWorkload};
use crate::manifest::suggestion::help_for_unknown;
use crate::manifest::{ManifestError, Span, Spanned};
use crate::pipeline::{
    BenchSpec, CommandProgram, CommandSpec, ConnectionName, MigrateSpec, SqlSource, SqlSpec,
    StepAction, StepKind,
};

/// The default history table of a `migrate` step.
pub const DEFAULT_HISTORY_TABLE: &str = "pipewright_migrations";
const WORKLOAD_KINDS: [&str; 3] = ["connect", "insert", "query"];
const INSERT_METHODS: [&str; 4] = ["row", "transaction", "batch", "bulk"];

impl Analyzer<'_> {
    pub(super) fn action(
        &mut self,
        kind: StepKind,
        path: &str,
        id_span: &Span,
        raw: &RawStep,
    ) -> Option<StepAction> {
        match kind {
            StepKind::Command => self.command(path, id_span, raw).map(StepAction::Command),
            StepKind::Sql => self.sql(path, id_span, raw).map(StepAction::Sql),
            StepKind::Migrate => self.migrate(path, id_span, raw).map(StepAction::Migrate),
            StepKind::Transform => self
                .transform(path, id_span, raw)
                .map(|spec| StepAction::Transform(Box::new(spec))),
            StepKind::Validate => self.validate(path, id_span, raw).map(StepAction::Validate),
            StepKind::Bench => self.bench(path, id_span, raw).map(StepAction::Bench),
        }
    }

    fn command(&mut self, path: &str, id_span: &Span, raw: &RawStep) -> Option<CommandSpec> {
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
                    path,
                    id_span.clone(),
                    Some("add `run = [\"program\", \"argument\"]`, or `shell = \"a script\"`"),
                );
                None
            }
            (Some(run), None) => self.argv(path, run),
            (None, Some(shell)) => {
                let script = self.interpolated(shell)?;
                if script.trim().is_empty() {
                    self.invalid(
                        shell.span(),
                        &format!("{path}.shell"),
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
                    &format!("{path}.env"),
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

    fn argv(&mut self, path: &str, run: &Spanned<Vec<Spanned<String>>>) -> Option<CommandProgram> {
        if run.get().is_empty() {
            self.invalid(
                run.span(),
                &format!("{path}.run"),
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
                &format!("{path}.run"),
                "the program name is empty",
                None,
            );
            return None;
        }
        Some(CommandProgram::Argv(argv))
    }

    pub(super) fn required_connection(
        &mut self,
        path: &str,
        id_span: &Span,
        connection: Option<&Spanned<String>>,
    ) -> Option<ConnectionName> {
        match connection {
            Some(name) => self.connection_ref(name),
            None => {
                self.missing(
                    "connection",
                    path,
                    id_span.clone(),
                    Some("name one of the `[connections]`"),
                );
                None
            }
        }
    }

    /// Exactly one of two alternative keys, such as `sql` and `file`.
    pub(super) fn one_of<'r>(
        &mut self,
        path: &str,
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
                    path,
                    id_span.clone(),
                    Some(&format!("set `{}` or `{}`", first.0, second.0)),
                );
                None
            }
        }
    }

    fn sql(&mut self, path: &str, id_span: &Span, raw: &RawStep) -> Option<SqlSpec> {
        let connection = self.required_connection(path, id_span, raw.connection.as_ref());
        let (is_inline, written) = self.one_of(
            path,
            id_span,
            ("sql", raw.sql.as_ref()),
            ("file", raw.file.as_ref()),
        )?;
        let source = if is_inline {
            SqlSource::Inline(written.get().clone())
        } else {
            SqlSource::File(self.path("file", written, PathKind::File)?)
        };
        // A step with nothing to run is a mistake in the manifest, found before any run.
        let driver = connection
            .as_ref()
            .map_or(crate::pipeline::Driver::Postgres, |name| {
                self.connections[name].driver
            });
        let text = match &source {
            SqlSource::Inline(sql) => Some(sql.clone()),
            SqlSource::File(file) => std::fs::read_to_string(file).ok(),
        };
        if let Some(text) = text
            && crate::db::split_statements(&text, driver).is_empty()
        {
            self.invalid(
                written.span(),
                &format!("{path}.{}", if is_inline { "sql" } else { "file" }),
                "there is no SQL statement to run",
                None,
            );
        }
        Some(SqlSpec {
            connection: connection?,
            source,
            transaction: raw.transaction.unwrap_or(true),
        })
    }

    fn migrate(&mut self, path: &str, id_span: &Span, raw: &RawStep) -> Option<MigrateSpec> {
        let connection = self.required_connection(path, id_span, raw.connection.as_ref());
        let dir = match &raw.dir {
            Some(dir) => self.path("dir", dir, PathKind::Directory),
            None => {
                self.missing(
                    "dir",
                    path,
                    id_span.clone(),
                    Some("the directory of migration files, such as `dir = \"../migrations\"`"),
                );
                None
            }
        };
        let dir = dir?;
        if let Err(errors) = crate::migrate::scan(&dir) {
            let span = raw
                .dir
                .as_ref()
                .map_or_else(|| id_span.clone(), Spanned::span);
            for error in errors {
                self.errors.push(ManifestError::InvalidValue {
                    key: format!("{path}.dir"),
                    message: error.to_string(),
                    span: source_span(&span),
                    help: Some(
                        "name migration files `<version>_<description>.sql`, each version once, with an optional `<version>_<description>.down.sql`".to_owned(),
                    ),
                });
            }
        }
        Some(MigrateSpec {
            connection: connection?,
            dir,
            history_table: raw.history_table.as_ref().map_or_else(
                || DEFAULT_HISTORY_TABLE.to_owned(),
                |name| name.get().clone(),
            ),
            out_of_order: raw.out_of_order.unwrap_or(false),
            lock_timeout: raw.lock_timeout.as_ref().map_or(
                crate::migrate::MigrateOptions::DEFAULT_LOCK_TIMEOUT,
                |timeout| timeout.get().get(),
            ),
        })
    }

    fn bench(&mut self, path: &str, id_span: &Span, raw: &RawStep) -> Option<BenchSpec> {
        let connection = self.required_connection(path, id_span, raw.connection.as_ref());
        let workload = match &raw.workload {
            Some(workload) => self.workload(&format!("{path}.workload"), workload),
            None => {
                self.missing(
                    "workload",
                    path,
                    id_span.clone(),
                    Some("for example `workload = { kind = \"connect\" }`"),
                );
                None
            }
        };
        if let Some(tolerance) = &raw.tolerance
            && !(tolerance.get().is_finite() && *tolerance.get() >= 0.0)
        {
            self.invalid(
                tolerance.span(),
                &format!("{path}.tolerance"),
                "a tolerance is a percentage of zero or more",
                Some("for example `tolerance = 20` lets a metric be up to 20% worse than its baseline"),
            );
        }
        let baseline = match &raw.baseline {
            Some(file) => Some(self.path("baseline", file, PathKind::MayNotExist)?),
            None => None,
        };
        Some(BenchSpec {
            connection: connection?,
            workload: workload?,
            baseline,
        })
    }

    fn workload(&mut self, path: &str, workload: &Spanned<RawWorkload>) -> Option<String> {
        for method in workload.get().methods.iter().flatten() {
            if !INSERT_METHODS.contains(&method.as_str()) {
                self.errors.push(ManifestError::InvalidValue {
                    key: format!("{path}.methods"),
                    message: format!("unknown insert method `{}`", method.as_str()),
                    span: source_span(&method.span()),
                    help: help_for_unknown(method.as_str(), INSERT_METHODS),
                });
            }
        }
        match &workload.get().kind {
            Some(kind) if WORKLOAD_KINDS.contains(&kind.as_str()) => Some(kind.get().clone()),
            Some(kind) => {
                self.errors.push(ManifestError::InvalidValue {
                    key: format!("{path}.kind"),
                    message: format!("unknown workload `{}`", kind.as_str()),
                    span: source_span(&kind.span()),
                    help: help_for_unknown(kind.as_str(), WORKLOAD_KINDS),
                });
                None
            }
            None => {
                self.missing("kind", path, workload.span(), None);
                None
            }
        }
    }
}
