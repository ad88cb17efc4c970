//! The serde mirror of a manifest. These types exist only to be deserialized (and to generate
//! the JSON Schema); the analyzer turns them into the validated `pipeline` types and nothing
//! after it touches them.
//!
//! Every key is optional here, even the required ones: the analyzer reports a missing key with
//! a span and a suggestion, which serde cannot, and one missing key must not hide other errors.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::manifest::spanned::{Span, Spanned};
use crate::pipeline::StepKind;
use crate::values::{HumanDuration, LogLevel, TlsMode};

/// A pipewright pipeline (manifest format 1).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(title = "pipewright pipeline", extend("$id" = "https://pipewright.dev/schemas/pipeline.schema.json"))]
pub struct RawPipeline {
    /// The pipeline's name and defaults.
    #[schemars(required)]
    pub pipeline: Option<RawPipelineSection>,
    /// Database connections, by name.
    #[serde(default)]
    pub connections: IndexMap<String, RawConnection>,
    /// Where run history, metrics, check results and alerts are stored.
    pub monitoring: Option<RawMonitoring>,
    /// Console and file logging.
    pub logging: Option<RawLogging>,
    /// Variables for `${NAME}` interpolation, overridden by `--var`, the environment and
    /// `--env-file`.
    #[serde(default)]
    pub vars: IndexMap<String, Spanned<String>>,
    /// The steps, by id.
    #[serde(default)]
    pub steps: IndexMap<String, RawStep>,
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) locations: RawLocations,
}

/// Spans the loader reads from the TOML tree because serde cannot carry them on map keys.
#[derive(Debug, Default)]
pub(crate) struct RawLocations {
    /// The `[pipeline]` header, or the start of the file when there is none.
    pub(crate) pipeline_header: Span,
    /// Span of each connection name, by name.
    pub(crate) connection_names: IndexMap<String, Span>,
    /// Span of each step id and the keys written in its table, by id.
    pub(crate) steps: IndexMap<String, StepLocation>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct StepLocation {
    pub(crate) id: Span,
    pub(crate) keys: Vec<(String, Span)>,
}

/// `[pipeline]`
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct RawPipelineSection {
    /// The pipeline's name, shown in reports and recorded in run history.
    #[schemars(required)]
    pub name: Option<Spanned<String>>,
    /// What the pipeline is for.
    pub description: Option<String>,
    /// How many steps may run at the same time (default 4). `--jobs` overrides it.
    #[schemars(range(min = 1))]
    pub concurrency: Option<Spanned<u32>>,
    /// The manifest format version. Only `1` exists.
    #[schemars(range(min = 1, max = 1))]
    pub format: Option<Spanned<u32>>,
}

/// `[connections.<name>]`
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct RawConnection {
    /// `sqlite://path/to/file.db`, `postgres://user@host:5432/db`, `mysql://user@host/db`.
    /// Supports `${VAR}` interpolation; keep passwords in the environment.
    #[schemars(required)]
    pub url: Option<Spanned<String>>,
    /// What the connection is for.
    pub description: Option<String>,
    /// The most connections pipewright opens to this database at once (default: the run's
    /// concurrency plus one, more for a `transform` with `parallel` ranges).
    #[schemars(range(min = 1))]
    pub max_connections: Option<Spanned<u32>>,
    /// How long to wait for a new connection, including the TLS handshake (default `10s`).
    pub connect_timeout: Option<Spanned<HumanDuration>>,
    /// How long a step waits for a free connection from the pool (default `30s`).
    pub acquire_timeout: Option<Spanned<HumanDuration>>,
    /// TLS for PostgreSQL and MySQL: `disable`, `prefer`, `require`, `verify-ca`,
    /// `verify-full` (default: what the URL says, else `prefer`).
    pub tls: Option<Spanned<TlsMode>>,
}

/// `[monitoring]`
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct RawMonitoring {
    /// The connection that stores run history, metrics, checks, alerts and WARN+ logs.
    pub connection: Option<Spanned<String>>,
}

/// `[logging]`: five sinks, as SEED.md's team set them up. Every level accepts `off`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct RawLogging {
    /// The least severe level shown on the console (default `info`). `-v` and `-q` override it.
    pub level: Option<Spanned<LogLevel>>,
    /// The directory of the log files, relative to the manifest (default: `logs/` in the
    /// state directory, `.pipewright/logs`).
    pub dir: Option<Spanned<String>>,
    /// The daily-rotated log file `pipewright.YYYY-MM-DD.log` (default `debug`).
    pub file_level: Option<Spanned<LogLevel>>,
    /// Days of log files kept (default 7).
    #[schemars(range(min = 1))]
    pub file_retention_days: Option<Spanned<u32>>,
    /// The error file `errors.YYYY-MM-DD.log` (default `error`).
    pub error_level: Option<Spanned<LogLevel>>,
    /// Days of error files kept (default 30).
    #[schemars(range(min = 1))]
    pub error_retention_days: Option<Spanned<u32>>,
    /// The JSON-lines file `pipewright.YYYY-MM-DD.jsonl` (default `info`).
    pub json_level: Option<Spanned<LogLevel>>,
    /// Days of JSON-lines files kept (default 7).
    #[schemars(range(min = 1))]
    pub json_retention_days: Option<Spanned<u32>>,
    /// The `logs` table of the monitoring store (default `warn`).
    pub database_level: Option<Spanned<LogLevel>>,
}

/// `[steps.<id>]`: one table for every kind, the `kind` key says which keys apply.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct RawStep {
    /// What the step does.
    #[schemars(required)]
    #[schemars(with = "StepKind")]
    pub kind: Option<Spanned<String>>,
    /// A sentence for people reading the pipeline.
    pub description: Option<String>,
    /// Steps that must succeed before this one starts.
    #[serde(default)]
    pub after: Vec<Spanned<String>>,
    /// Labels for `--select tag:<name>`.
    #[serde(default)]
    pub tags: Vec<Spanned<String>>,
    /// `false` skips the step; steps after it still run (default `true`).
    pub enabled: Option<bool>,
    /// Extra attempts after a failure (default 0).
    pub retries: Option<Spanned<u32>>,
    /// Base wait before the first retry, doubled for each further retry, with jitter
    /// (default `1s`).
    pub retry_backoff: Option<Spanned<HumanDuration>>,
    /// Stop the step after this long: its process group is killed, its query cancelled.
    pub timeout: Option<Spanned<HumanDuration>>,

    /// `command`: the program and its arguments, run without a shell.
    pub run: Option<Spanned<Vec<Spanned<String>>>>,
    /// `command`: a script run by `sh -c`.
    pub shell: Option<Spanned<String>>,
    /// `command`: environment variables for the process, on top of pipewright's own.
    pub env: Option<IndexMap<String, Spanned<String>>>,
    /// `command`: the working directory, relative to the manifest (default: the manifest's
    /// directory).
    pub workdir: Option<Spanned<String>>,

    /// `sql`, `migrate`, `validate`, `bench`: the connection the step works on.
    pub connection: Option<Spanned<String>>,
    /// `sql`: statements to run, separated by `;`. Never interpolated.
    pub sql: Option<Spanned<String>>,
    /// `sql`: a file of statements, relative to the manifest.
    pub file: Option<Spanned<String>>,
    /// `sql`: run all statements in one transaction (default `true`).
    pub transaction: Option<bool>,

    /// `migrate`: the directory of versioned migration files, relative to the manifest.
    pub dir: Option<Spanned<String>>,
    /// `migrate`: the table recording applied migrations.
    pub history_table: Option<Spanned<String>>,
    /// `migrate`: allow applying a version older than the newest applied one.
    pub out_of_order: Option<bool>,
    /// `migrate`: how long to wait for another migration of the same database to finish
    /// (default `1m`).
    pub lock_timeout: Option<Spanned<HumanDuration>>,

    /// `transform`: where rows are read from.
    pub from: Option<Spanned<RawSource>>,
    /// `transform`: where rows are written to.
    pub to: Option<Spanned<RawTarget>>,
    /// `transform`: rows per batch, the unit of writing, committing and progress (default
    /// 10000).
    #[schemars(range(min = 1))]
    pub batch_size: Option<Spanned<u64>>,
    /// `transform`: key ranges copied at once, each on its own connections (default 1;
    /// modes `create`, `replace` and `truncate`).
    #[schemars(range(min = 1, max = 64))]
    pub parallel: Option<Spanned<u32>>,
    /// `transform`: compare row counts and checksums of the target with what was written
    /// (default `true`).
    pub verify: Option<bool>,
    /// `transform`: backups of a replaced or truncated table kept per table; 0 makes none
    /// (default 1).
    pub keep_backups: Option<Spanned<u32>>,
    /// `transform`: what a value the target cannot hold does: `error` (the default), `null`
    /// or `clamp`.
    #[schemars(with = "Option<LossyPolicyName>")]
    pub on_lossy: Option<Spanned<String>>,
    /// `transform`: rules per column, by source column name (or `table.column`).
    pub columns: Option<IndexMap<String, Spanned<RawColumnRule>>>,

    /// `validate`: the table to check.
    pub table: Option<Spanned<String>>,
    /// `validate`: a query whose result is checked instead of a table. Never interpolated.
    pub query: Option<Spanned<String>>,
    /// `validate`: the checks to run.
    pub checks: Option<Spanned<Vec<Spanned<RawCheck>>>>,

    /// `bench`: what to measure.
    pub workload: Option<Spanned<RawWorkload>>,
    /// `bench`: the baseline JSON file to compare with (and that `--update-baseline`
    /// writes), relative to the manifest. Several steps may share one file.
    pub baseline: Option<Spanned<String>>,
    /// `bench`: how much worse than the baseline a gated metric may be, in percent
    /// (default 20).
    pub tolerance: Option<Spanned<f64>>,
    /// `bench`: tolerances of single metrics, in percent, by metric name
    /// (`{ query_p99_ms = 50 }`); a metric named here is gated even if it is not by default.
    pub tolerances: Option<IndexMap<String, Spanned<f64>>>,
}

/// A table or query on a connection: the other side of a comparison.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct RawEndpoint {
    /// The connection's name.
    #[schemars(required)]
    pub connection: Option<Spanned<String>>,
    /// A table name.
    pub table: Option<Spanned<String>>,
    /// A query. Never interpolated.
    pub query: Option<Spanned<String>>,
}

/// What a `transform` reads: one of `table`, `query`, `tables`, or `include` patterns.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct RawSource {
    /// The connection's name.
    #[schemars(required)]
    pub connection: Option<Spanned<String>>,
    /// One table (`schema.table` for another schema or database).
    pub table: Option<Spanned<String>>,
    /// A query, in the source's SQL. Never interpolated.
    pub query: Option<Spanned<String>>,
    /// Several tables, each copied to a table of the same name.
    pub tables: Option<Spanned<Vec<Spanned<String>>>>,
    /// Every table whose name matches one of these patterns (`*` any text, `?` one
    /// character); `["*"]` for all.
    pub include: Option<Spanned<Vec<Spanned<String>>>>,
    /// Tables left out of `include`.
    pub exclude: Option<Vec<Spanned<String>>>,
    /// The schema (PostgreSQL) or database (MySQL) `include` lists (default: the
    /// connection's own).
    pub schema: Option<Spanned<String>>,
    /// Columns ordering the rows, for checkpoints and key ranges (default: the primary key).
    pub key: Option<Vec<Spanned<String>>>,
}

/// Where a `transform` writes.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct RawTarget {
    /// The connection's name.
    #[schemars(required)]
    pub connection: Option<Spanned<String>>,
    /// The target table (default: the source table's name).
    pub table: Option<Spanned<String>>,
    /// The schema (PostgreSQL) or database (MySQL) the tables are written to (default: the
    /// connection's own).
    pub schema: Option<Spanned<String>>,
    /// `create` (the default), `replace`, `append`, `upsert` or `truncate`.
    #[schemars(with = "Option<TransformModeName>")]
    pub mode: Option<Spanned<String>>,
    /// For `mode = "upsert"`: the key columns, as the target names them.
    pub key: Option<Vec<Spanned<String>>>,
}

/// The modes of a transform target, for the schema.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum TransformModeName {
    Create,
    Replace,
    Append,
    Upsert,
    Truncate,
}

/// The lossy-value policies, for the schema.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum LossyPolicyName {
    Error,
    Null,
    Clamp,
}

/// What a `transform` does with one column. A key that is not a source column makes a new
/// column, from `expression` or `value`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct RawColumnRule {
    /// The target column's name.
    pub rename: Option<Spanned<String>>,
    /// `true` leaves the column out.
    pub drop: Option<bool>,
    /// The target column's type, in the target's SQL (`"NUMERIC(12, 2)"`); values are
    /// converted to it.
    #[serde(rename = "type")]
    pub target_type: Option<Spanned<String>>,
    /// SQL evaluated on the source for each row, in the source's dialect. Never
    /// interpolated.
    pub expression: Option<Spanned<String>>,
    /// The same value in every row.
    pub value: Option<Spanned<serde_json::Value>>,
    /// The value written where the source has NULL.
    pub default: Option<Spanned<serde_json::Value>>,
    /// This column's lossy-value policy: `error`, `null` or `clamp`.
    #[schemars(with = "Option<LossyPolicyName>")]
    pub on_lossy: Option<Spanned<String>>,
}

/// One data-quality check of a `validate` step (docs/validations.md has every kind).
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct RawCheck {
    /// `row_count`, `not_null`, `unique`, `accepted_values`, `range`, `regex`, `freshness`,
    /// `relationship`, `sql`, `extension`, `schema` or `reconcile`.
    #[schemars(required)]
    #[schemars(with = "Option<CheckKindName>")]
    pub kind: Option<Spanned<String>>,
    /// A name for reports and alerts (default: the kind and its columns).
    pub name: Option<Spanned<String>>,
    /// The column a check applies to.
    pub column: Option<Spanned<String>>,
    /// The columns a check applies to (`not_null`, `unique`, `schema`; `reconcile`: the
    /// columns compared).
    pub columns: Option<Spanned<Vec<Spanned<String>>>>,
    /// Lower bound: rows (`row_count`), the column's smallest value (`range`), the query's
    /// number (`sql`). A number, or a text such as a date.
    pub min: Option<Spanned<serde_json::Value>>,
    /// Upper bound, as `min`.
    pub max: Option<Spanned<serde_json::Value>>,
    /// `row_count`: exactly this many rows.
    pub equals: Option<Spanned<u64>>,
    /// `range`: whether `min` and `max` themselves are allowed (default `true`).
    pub inclusive: Option<Spanned<bool>>,
    /// `accepted_values`: the allowed values.
    pub values: Option<Spanned<Vec<Spanned<serde_json::Value>>>>,
    /// `regex`: the pattern every value matches (the database's dialect on PostgreSQL and
    /// MySQL, Rust's on SQLite).
    pub pattern: Option<Spanned<String>>,
    /// `freshness`: how old the newest value may be (`6h`, `3d`).
    pub max_age: Option<Spanned<HumanDuration>>,
    /// `relationship`: the table and column holding every allowed value, on the same
    /// connection.
    pub references: Option<Spanned<RawReference>>,
    /// `row_count`: the same number of rows as another table, on any connection.
    pub same_as: Option<Spanned<RawEndpoint>>,
    /// `row_count` with `same_as`: rows the counts may differ by (default 0).
    pub tolerance: Option<Spanned<u64>>,
    /// `sql`: a query returning the failing rows, or one number checked against `min` and
    /// `max`. Never interpolated.
    pub sql: Option<Spanned<String>>,
    /// `extension`: the PostgreSQL extension that must be installed.
    pub extension: Option<Spanned<String>>,
    /// `extension`: its lowest accepted version (`2.22`).
    pub min_version: Option<Spanned<String>>,
    /// `schema`: the expected type kind of some columns: `integer`, `decimal`, `float`,
    /// `text`, `boolean`, `date`, `time`, `timestamp`, `binary`, `json`, `uuid`.
    pub types: Option<IndexMap<String, Spanned<String>>>,
    /// `reconcile`: the other table, on any connection.
    pub with: Option<Spanned<RawEndpoint>>,
    /// `reconcile`: the columns that identify a row in both tables.
    pub key: Option<Spanned<Vec<Spanned<String>>>>,
    /// `error` stops downstream steps, `warn` records and continues (default `error`).
    #[schemars(with = "Option<SeverityName>")]
    pub severity: Option<Spanned<String>>,
    /// Failing rows allowed before the check fails (default 0).
    pub max_failing_rows: Option<Spanned<u64>>,
    /// Failing rows allowed, as a share of the rows checked (`0.001`).
    pub max_failing_ratio: Option<Spanned<f64>>,
    /// Failing rows shown in the run report (default 5; 0 for none).
    pub samples: Option<Spanned<u64>>,
}

/// `relationship`: where the allowed values are.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct RawReference {
    /// A table on the same connection.
    #[schemars(required)]
    pub table: Option<Spanned<String>>,
    /// Its column (default: the checked column's name).
    pub column: Option<Spanned<String>>,
}

/// The kinds of check, for the schema.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum CheckKindName {
    RowCount,
    NotNull,
    Unique,
    AcceptedValues,
    Range,
    Regex,
    Freshness,
    Relationship,
    Sql,
    Extension,
    Schema,
    Reconcile,
}

/// The severities of a check, for the schema.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum SeverityName {
    Error,
    Warn,
}

/// What a `bench` step measures.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct RawWorkload {
    /// `connect`, `insert` or `query`.
    #[schemars(required)]
    pub kind: Option<Spanned<String>>,
    /// `insert`: how many rows each iteration inserts (default 1000).
    #[schemars(range(min = 1))]
    pub rows: Option<Spanned<u64>>,
    /// `insert`: `row`, `transaction`, `batch`, `bulk` (default: all four).
    pub methods: Option<Vec<Spanned<String>>>,
    /// `insert`: the scratch table, created and dropped by the step (default
    /// `pipewright_bench_<step id>`). A table named here must not exist.
    pub table: Option<Spanned<String>>,
    /// `insert`: the scratch table's columns, name to type in the connection's SQL; the first
    /// is the primary key (default: the daily-bars shape of SEED.md).
    pub columns: Option<Spanned<IndexMap<String, Spanned<String>>>>,
    /// `insert`: rows per statement of the `batch` method (default 100).
    #[schemars(range(min = 1))]
    pub batch_rows: Option<Spanned<u32>>,
    /// `query`: the statement to time. Parameters are `?` on every engine (pipewright numbers
    /// them for PostgreSQL), or PostgreSQL's own `$1`. Never interpolated.
    pub sql: Option<Spanned<String>>,
    /// `query`: parameters, used in turn: a value per execution, or an array of values for a
    /// statement with several placeholders.
    pub params: Option<Spanned<Vec<serde_json::Value>>>,
    /// `query`: integer parameters from `from` to `to`, used in turn.
    pub params_range: Option<Spanned<RawParamsRange>>,
    /// `query`: client tasks running the statement at once, each on its own connection
    /// (default 1).
    #[schemars(range(min = 1, max = 64))]
    pub clients: Option<Spanned<u32>>,
    /// Unmeasured repetitions first (default: connect 1, insert 1, query 10).
    pub warmup: Option<Spanned<u32>>,
    /// Measured repetitions (default: connect 10, insert 3, query 100).
    #[schemars(range(min = 1))]
    pub iterations: Option<Spanned<u32>>,
}

/// Integer parameters of a `query` workload, from `from` to `to` inclusive.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct RawParamsRange {
    #[schemars(required)]
    pub from: Option<i64>,
    #[schemars(required)]
    pub to: Option<i64>,
}
