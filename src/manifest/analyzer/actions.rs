//! Analysis of the keys that belong to each step kind.

use super::analyzer::{Analyzer, PathKind};
use crate::data::LogicalType;
use crate::manifest::manifest_error::source_span;
use crate::manifest::raw::{RawStep, RawWorkload};
use crate::manifest::suggestion::help_for_unknown;
use crate::manifest::{ManifestError, Span, Spanned};
use crate::pipeline::{
    BenchSpec, CommandProgram, CommandSpec, ConnectionName, Driver, InsertMethod, InsertWorkload,
    MigrateSpec, QueryWorkload, SqlSource, SqlSpec, StepAction, StepKind, Tolerance, Workload,
};
use crate::transform::derived_name;

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
        let driver = connection
            .as_ref()
            .map(|name| self.connections[name].driver);
        let max_connections = connection
            .as_ref()
            .and_then(|name| self.connections[name].max_connections);
        let step_id = path.strip_prefix("steps.").unwrap_or(path);
        let workload = match &raw.workload {
            Some(workload) => self.workload(
                &format!("{path}.workload"),
                workload,
                step_id,
                driver,
                max_connections,
            ),
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
        let tolerance = self.tolerance(path, raw, workload.as_ref().map(|(workload, ..)| workload));
        let baseline = match &raw.baseline {
            Some(file) => Some(self.path("baseline", file, PathKind::MayNotExist)?),
            None => None,
        };
        let (workload, warmup, iterations) = workload?;
        Some(BenchSpec {
            connection: connection?,
            workload,
            warmup,
            iterations,
            baseline,
            tolerance: tolerance?,
        })
    }

    /// `tolerance` and `tolerances`: percentages of zero or more, for metrics the workload has.
    fn tolerance(
        &mut self,
        path: &str,
        raw: &RawStep,
        workload: Option<&Workload>,
    ) -> Option<Tolerance> {
        let mut valid = true;
        let default = match &raw.tolerance {
            Some(value) => {
                let percent = self.percent(value, &format!("{path}.tolerance"));
                valid &= percent.is_some();
                percent.unwrap_or(Tolerance::DEFAULT_PERCENT)
            }
            None => Tolerance::DEFAULT_PERCENT,
        };
        let mut metrics = std::collections::BTreeMap::new();
        let names: Vec<String> = workload
            .map(|workload| {
                workload
                    .metrics()
                    .into_iter()
                    .map(|metric| metric.name)
                    .collect()
            })
            .unwrap_or_default();
        for (name, value) in raw.tolerances.iter().flatten() {
            let key = format!("{path}.tolerances.{name}");
            match self.percent(value, &key) {
                Some(number) => {
                    metrics.insert(name.clone(), number);
                }
                None => valid = false,
            }
            if workload.is_some() && !names.contains(name) {
                self.errors.push(ManifestError::InvalidValue {
                    key,
                    message: format!("this workload has no metric `{name}`"),
                    span: source_span(&value.span()),
                    help: help_for_unknown(name, names.iter().map(String::as_str))
                        .or_else(|| Some(format!("its metrics are {}", names.join(", ")))),
                });
                valid = false;
            }
        }
        valid.then_some(Tolerance { default, metrics })
    }

    /// A tolerance: a percentage of zero or more.
    fn percent(&mut self, value: &Spanned<f64>, key: &str) -> Option<f64> {
        let number = *value.get();
        if number.is_finite() && number >= 0.0 {
            return Some(number);
        }
        self.invalid(
            value.span(),
            key,
            "a tolerance is a percentage of zero or more",
            Some("for example `tolerance = 20` lets a metric be up to 20% worse than its baseline"),
        );
        None
    }

    /// The workload, with its (warm-up, measured) repetitions.
    fn workload(
        &mut self,
        path: &str,
        workload: &Spanned<RawWorkload>,
        step_id: &str,
        driver: Option<Driver>,
        max_connections: Option<u32>,
    ) -> Option<(Workload, u32, u32)> {
        let raw = workload.get();
        let kind = match &raw.kind {
            Some(kind) if WORKLOAD_KINDS.contains(&kind.as_str()) => kind.as_str(),
            Some(kind) => {
                self.errors.push(ManifestError::InvalidValue {
                    key: format!("{path}.kind"),
                    message: format!("unknown workload `{}`", kind.as_str()),
                    span: source_span(&kind.span()),
                    help: help_for_unknown(kind.as_str(), WORKLOAD_KINDS),
                });
                return None;
            }
            None => {
                self.missing(
                    "kind",
                    path,
                    workload.span(),
                    Some("`connect`, `insert` or `query`"),
                );
                return None;
            }
        };
        // Keys of another workload kind are mistakes, not options.
        let foreign: [(&str, Option<Span>, &str); 9] = [
            ("rows", raw.rows.as_ref().map(Spanned::span), "insert"),
            (
                "methods",
                raw.methods
                    .as_ref()
                    .and_then(|methods| methods.first())
                    .map(Spanned::span),
                "insert",
            ),
            ("table", raw.table.as_ref().map(Spanned::span), "insert"),
            ("columns", raw.columns.as_ref().map(Spanned::span), "insert"),
            (
                "batch_rows",
                raw.batch_rows.as_ref().map(Spanned::span),
                "insert",
            ),
            ("sql", raw.sql.as_ref().map(Spanned::span), "query"),
            ("params", raw.params.as_ref().map(Spanned::span), "query"),
            (
                "params_range",
                raw.params_range.as_ref().map(Spanned::span),
                "query",
            ),
            ("clients", raw.clients.as_ref().map(Spanned::span), "query"),
        ];
        // A mistake here is reported, and the workload still checked further (its metrics
        // for `tolerances`): the manifest is invalid either way.
        for (key, span, owner) in foreign {
            if let Some(span) = span
                && owner != kind
            {
                self.invalid(
                    span,
                    &format!("{path}.{key}"),
                    &format!("`{key}` belongs to `{owner}` workloads, not `{kind}`"),
                    Some(&format!("remove it, or set `kind = \"{owner}\"`")),
                );
            }
        }
        let (default_warmup, default_iterations) = Workload::default_repetitions(kind);
        let warmup = raw
            .warmup
            .as_ref()
            .map_or(default_warmup, |value| *value.get());
        let iterations = match &raw.iterations {
            Some(value) if *value.get() == 0 => {
                self.invalid(
                    value.span(),
                    &format!("{path}.iterations"),
                    "a benchmark needs at least one measured iteration",
                    Some("leave `iterations` out for the default, or set it to 1 or more"),
                );
                0
            }
            Some(value) => *value.get(),
            None => default_iterations,
        };
        let workload = match kind {
            "insert" => self
                .insert_workload(path, raw, step_id, driver)
                .map(Workload::Insert),
            "query" => self
                .query_workload(path, workload, max_connections)
                .map(Workload::Query),
            _ => Some(Workload::Connect),
        };
        Some((workload?, warmup, iterations))
    }

    fn insert_workload(
        &mut self,
        path: &str,
        raw: &RawWorkload,
        step_id: &str,
        driver: Option<Driver>,
    ) -> Option<InsertWorkload> {
        let mut valid = true;
        let mut methods = Vec::new();
        for method in raw.methods.iter().flatten() {
            match InsertMethod::parse(method.as_str()) {
                Some(parsed) if methods.contains(&parsed) => {
                    self.invalid(
                        method.span(),
                        &format!("{path}.methods"),
                        &format!("method `{}` is listed twice", method.as_str()),
                        Some("list each method once"),
                    );
                    valid = false;
                }
                Some(parsed) => methods.push(parsed),
                None => {
                    self.errors.push(ManifestError::InvalidValue {
                        key: format!("{path}.methods"),
                        message: format!("unknown insert method `{}`", method.as_str()),
                        span: source_span(&method.span()),
                        help: help_for_unknown(method.as_str(), INSERT_METHODS),
                    });
                    valid = false;
                }
            }
        }
        if raw.methods.is_none() {
            methods = InsertMethod::ALL.to_vec();
        } else if methods.is_empty() && valid {
            self.invalid(
                raw.kind.as_ref().map_or(0..0, Spanned::span),
                &format!("{path}.methods"),
                "an insert workload needs at least one method",
                Some("leave `methods` out for all four: `row`, `transaction`, `batch`, `bulk`"),
            );
            valid = false;
        }
        let columns = match &raw.columns {
            None => InsertWorkload::daily_bars_columns(),
            Some(columns) if columns.get().is_empty() => {
                self.invalid(
                    columns.span(),
                    &format!("{path}.columns"),
                    "the scratch table needs at least one column",
                    Some("for example `columns = { id = \"BIGINT\", name = \"VARCHAR(40)\" }`; leave `columns` out for the daily-bars shape"),
                );
                valid = false;
                Vec::new()
            }
            Some(columns) => {
                let mut parsed = Vec::new();
                for (name, declared) in columns.get() {
                    if let Some(driver) = driver
                        && let LogicalType::Other { .. } =
                            LogicalType::parse(driver, declared.as_str())
                    {
                        self.invalid(
                            declared.span(),
                            &format!("{path}.columns.{name}"),
                            &format!("pipewright cannot generate values of type `{}` on {}", declared.as_str(), driver.name()),
                            Some("use an integer, decimal, float, text, binary, boolean, date, time, timestamp, JSON or UUID type"),
                        );
                        valid = false;
                    }
                    parsed.push((name.clone(), declared.get().clone()));
                }
                parsed
            }
        };
        let (table, default_table) = match &raw.table {
            Some(table) => (table.get().clone(), false),
            None => (default_bench_table(step_id), true),
        };
        let rows = raw.rows.as_ref().map_or(1000, |rows| *rows.get());
        let batch_rows = raw.batch_rows.as_ref().map_or(100, |value| *value.get());
        if let Some(driver) = driver {
            valid &= self.batch_fits(path, raw, driver, batch_rows, columns.len());
        }
        for (key, value, span) in [
            ("rows", rows, raw.rows.as_ref().map(Spanned::span)),
            (
                "batch_rows",
                u64::from(batch_rows),
                raw.batch_rows.as_ref().map(Spanned::span),
            ),
        ] {
            if value == 0 {
                self.invalid(
                    span.unwrap_or(0..0),
                    &format!("{path}.{key}"),
                    &format!("`{key}` must be 1 or more"),
                    None,
                );
                valid = false;
            }
        }
        valid.then_some(InsertWorkload {
            rows,
            methods,
            table,
            default_table,
            columns,
            batch_rows,
        })
    }

    /// Whether a `batch` statement of `batch_rows` rows stays under the engine's parameter
    /// limit.
    fn batch_fits(
        &mut self,
        path: &str,
        raw: &RawWorkload,
        driver: Driver,
        batch_rows: u32,
        columns: usize,
    ) -> bool {
        let limit: u64 = if driver == Driver::Sqlite {
            32_766
        } else {
            65_535
        };
        let columns = u64::try_from(columns.max(1)).unwrap_or(u64::MAX);
        let parameters = u64::from(batch_rows).saturating_mul(columns);
        if parameters <= limit {
            return true;
        }
        self.invalid(
            raw.batch_rows.as_ref().map_or(0..0, Spanned::span),
            &format!("{path}.batch_rows"),
            &format!(
                "{batch_rows} rows of {columns} columns make {parameters} parameters in one statement; {driver} takes at most {limit}"
            ),
            Some(&format!(
                "at most {} rows per statement for these columns",
                limit / columns
            )),
        );
        false
    }

    fn query_workload(
        &mut self,
        path: &str,
        workload: &Spanned<RawWorkload>,
        max_connections: Option<u32>,
    ) -> Option<QueryWorkload> {
        let raw = workload.get();
        let mut valid = true;
        let sql = match &raw.sql {
            Some(sql) if sql.as_str().trim().is_empty() => {
                self.invalid(
                    sql.span(),
                    &format!("{path}.sql"),
                    "the statement is empty",
                    None,
                );
                None
            }
            Some(sql) => Some(sql.get().clone()),
            None => {
                self.missing(
                    "sql",
                    path,
                    workload.span(),
                    Some("for example `sql = \"SELECT * FROM daily_bars WHERE id = ?\"`"),
                );
                None
            }
        };
        let mut params = Vec::new();
        if let Some(list) = &raw.params {
            if raw.params_range.is_some() {
                self.conflict(
                    list.span(),
                    "`params` and `params_range` cannot both be set".to_owned(),
                    "second source of parameters",
                    "use `params` for listed values, or `params_range` for a range of integers",
                );
                valid = false;
            }
            if list.get().is_empty() {
                self.invalid(
                    list.span(),
                    &format!("{path}.params"),
                    "`params` is empty",
                    Some("list at least one value, or leave `params` out for a statement without placeholders"),
                );
                valid = false;
            }
            for value in list.get() {
                let set = match value {
                    serde_json::Value::Array(values) => values.clone(),
                    other => vec![other.clone()],
                };
                if set
                    .iter()
                    .any(|value| value.is_array() || value.is_object())
                {
                    self.invalid(
                        list.span(),
                        &format!("{path}.params"),
                        "a parameter is a string, a number or a boolean",
                        Some("write `params = [1, 2]` for one placeholder, `params = [[1, \"a\"], [2, \"b\"]]` for two"),
                    );
                    valid = false;
                    break;
                }
                params.push(set);
            }
        }
        let params_range = match &raw.params_range {
            Some(range) => match (range.get().from, range.get().to) {
                (Some(from), Some(to)) => Some((from, to)),
                _ => {
                    self.missing(
                        if range.get().from.is_none() {
                            "from"
                        } else {
                            "to"
                        },
                        &format!("{path}.params_range"),
                        range.span(),
                        Some("for example `params_range = { from = 1, to = 1000 }`"),
                    );
                    valid = false;
                    None
                }
            },
            None => None,
        };
        let clients = raw.clients.as_ref().map_or(1, |clients| *clients.get());
        if let (Some(value), Some(limit)) = (&raw.clients, max_connections)
            && *value.get() > limit
        {
            self.invalid(
                value.span(),
                &format!("{path}.clients"),
                &format!(
                    "{clients} clients need {clients} connections at once; the connection's `max_connections` is {limit}"
                ),
                Some("lower `clients`, or raise the connection's `max_connections`"),
            );
            valid = false;
        }
        if let Some(value) = &raw.clients
            && !(1..=64).contains(value.get())
        {
            self.invalid(
                value.span(),
                &format!("{path}.clients"),
                "`clients` is between 1 and 64",
                None,
            );
            valid = false;
        }
        let sql = sql?;
        valid.then_some(QueryWorkload {
            sql,
            params,
            params_range,
            clients,
        })
    }
}

/// `pipewright_bench_<step id>`, in lower case (MySQL and SQLite compare table names without
/// case); an id with capitals gets a hash of itself, so that `Load` and `load` differ.
fn default_bench_table(step_id: &str) -> String {
    use sha2::Digest as _;
    let lower = step_id.to_lowercase();
    if lower == step_id {
        return derived_name(&format!("pipewright_bench_{step_id}"), "");
    }
    let digest = sha2::Sha256::digest(step_id.as_bytes());
    derived_name(
        &format!("pipewright_bench_{lower}"),
        &format!("_{}", crate::values::hex(&digest[..3])),
    )
}
