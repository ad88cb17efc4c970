//! The command line, as clap parses it. Nothing here is resolved yet.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::graph::GraphFormat;
use crate::report::console::{ColorChoice, ProgressChoice};

/// A declarative pipeline runner: migrations, transforms, validations, benchmarks, SQL and
/// commands, from one TOML file.
#[derive(Debug, Parser)]
#[command(
    name = "pipewright",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Arguments {
    #[command(subcommand)]
    pub command: Command,

    /// More detail on stderr: `-v` for debug logs and every skipped step, `-vv` for traces.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Print nothing but errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// When to use colour on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t,
        env = "PIPEWRIGHT_COLOR"
    )]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a manifest without touching any database.
    Check(CheckArgs),
    /// Rewrite manifests in the canonical layout (comments kept), or with `--check` list the
    /// files that would change.
    Fmt(FmtArgs),
    /// A semantic diff of two versions of a manifest: steps added, removed, renamed and
    /// changed, dependencies, connections (URLs redacted), and the steps that will re-run.
    Diff(DiffArgs),
    /// Write `pipewright.lock` next to the manifest: the checksums of its steps and of every
    /// file they read (migrations, SQL files, baselines), for `check --locked`.
    Lock(LockArgs),
    /// Show what a run would do: order, steps that run together, skipped steps and why.
    Plan(PlanArgs),
    /// Print the step graph as text, Mermaid or DOT.
    Graph(GraphArgs),
    /// Print the JSON Schema of manifests, for editor completion.
    Schema,
    /// Run a pipeline.
    Run(RunArgs),
    /// Run a pipeline's `bench` steps (and the steps they depend on) and compare them with
    /// their baselines, or record new baselines with `--update-baseline`.
    Bench(RunArgs),
    /// Recent runs recorded in the monitoring store.
    History(HistoryArgs),
    /// The log records of a run, from the monitoring store's `logs` table.
    Logs(LogsArgs),
    /// Schema migrations: the engine of `migrate` steps, one command at a time.
    Migrate(MigrateArgs),
    /// The backups transforms kept of the tables they replaced or truncated.
    Backups(BackupsArgs),
    /// Put a table's backup back in its place (the table as it is now becomes a backup).
    Restore(RestoreArgs),
}

#[derive(Debug, Args)]
pub struct BackupsArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,

    /// The connection to look on (default: every connection a `transform` writes to).
    #[arg(long, value_name = "NAME")]
    pub connection: Option<String>,

    /// Only the backups of this table.
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,

    /// The table to restore (`schema.table` for another schema or database).
    #[arg(value_name = "TABLE")]
    pub table: String,

    /// The connection the table is on (default: the one connection `transform` steps write
    /// to).
    #[arg(long, value_name = "NAME")]
    pub connection: Option<String>,

    /// The backup to restore, as `backups` lists it (default: the newest).
    #[arg(long, value_name = "BACKUP")]
    pub backup: Option<String>,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(subcommand)]
    pub action: MigrateAction,
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Every version and its state: applied, pending, changed, missing, partial.
    Status(MigrateStatusArgs),
    /// The SQL `up` would run. Writes nothing, not even the history table.
    Plan(MigrateTargetArgs),
    /// Apply pending migrations.
    Up(MigrateUpArgs),
    /// Revert applied migrations above a version, newest first, with their `.down.sql` files.
    Down(MigrateDownArgs),
    /// Accept an edited, already-applied file as it is now; the reason is recorded.
    Accept(MigrateAcceptArgs),
    /// Record files up to a version as applied without running them (adopting a database
    /// another tool migrated).
    Baseline(MigrateBaselineArgs),
}

/// Which migrations and which database: a manifest's `migrate` step, or a directory and a URL.
#[derive(Debug, Args)]
pub struct MigrateTargetArgs {
    /// The pipeline manifest whose `migrate` step to use.
    #[arg(value_name = "MANIFEST", env = "PIPEWRIGHT_MANIFEST")]
    pub manifest: Option<PathBuf>,

    /// The `migrate` step, when the manifest has several.
    #[arg(long, value_name = "STEP")]
    pub step: Option<String>,

    /// A directory of migration files (instead of a manifest; wins over
    /// `PIPEWRIGHT_MANIFEST`).
    #[arg(long, value_name = "DIR", requires = "url")]
    pub dir: Option<PathBuf>,

    /// The database to migrate (with `--dir`).
    #[arg(
        long,
        value_name = "URL",
        requires = "dir",
        env = "PIPEWRIGHT_MIGRATE_URL"
    )]
    pub url: Option<String>,

    /// The history table (with `--dir`; default `pipewright_migrations`; a manifest's step
    /// names its own).
    #[arg(long, value_name = "TABLE", requires = "dir")]
    pub history_table: Option<String>,

    /// How long to wait for another migration of the same database (default: the step's
    /// `lock_timeout`, else 1m).
    #[arg(long, value_name = "DURATION")]
    pub lock_timeout: Option<crate::values::HumanDuration>,

    /// Allow pending versions older than the newest applied one (with `--dir`; a manifest's
    /// step says `out_of_order` itself).
    #[arg(long, requires = "dir")]
    pub out_of_order: bool,

    /// Set a variable for `${KEY}` interpolation in the manifest.
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,

    /// Read variables from a `KEY=VALUE` file. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,

    /// Text for people, JSON for programs.
    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
}

#[derive(Debug, Args)]
pub struct MigrateStatusArgs {
    #[command(flatten)]
    pub target: MigrateTargetArgs,

    /// Exit 6 when migrations are pending and 1 when there are problems (changed, missing,
    /// out-of-order files), for CI gates.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Args)]
pub struct MigrateUpArgs {
    #[command(flatten)]
    pub target: MigrateTargetArgs,

    /// Print the SQL that would run and write nothing (the same as `migrate plan`).
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct MigrateDownArgs {
    #[command(flatten)]
    pub target: MigrateTargetArgs,

    /// The version to go down to; it stays applied (`--to 0` reverts every version above 0).
    #[arg(long, value_name = "VERSION")]
    pub to: u64,
}

#[derive(Debug, Args)]
pub struct MigrateAcceptArgs {
    /// The applied version whose file changed.
    #[arg(value_name = "VERSION", id = "accepted_version")]
    pub version: u64,

    #[command(flatten)]
    pub target: MigrateTargetArgs,

    /// Why the change is fine; recorded in the history table.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct MigrateBaselineArgs {
    #[command(flatten)]
    pub target: MigrateTargetArgs,

    /// Record every file up to this version as applied.
    #[arg(long, value_name = "VERSION")]
    pub to: u64,
}

/// Where the state directory is.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// The state directory: the embedded monitoring store, log files and spill files
    /// (default: `.pipewright/` next to the manifest).
    #[arg(long, value_name = "DIR", env = "PIPEWRIGHT_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

/// Which monitoring store to read: the manifest's, or one named directly.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Read this store instead of the manifest's (a connection URL; passwords are redacted).
    #[arg(long, value_name = "URL", env = "PIPEWRIGHT_STORE")]
    pub store: Option<String>,

    #[command(flatten)]
    pub state: StateArgs,

    /// Set a variable for `${KEY}` interpolation in the manifest.
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,

    /// Read variables from a `KEY=VALUE` file. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,

    /// Text for people, JSON for programs.
    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The pipeline manifest whose store to read (or `--store`, or `--state-dir`).
    #[arg(value_name = "MANIFEST", env = "PIPEWRIGHT_MANIFEST")]
    pub manifest: Option<PathBuf>,

    /// How many runs to show, newest first.
    #[arg(long, short = 'n', default_value_t = 20, value_name = "N")]
    pub limit: u32,

    /// Only runs of this pipeline (default: the manifest's pipeline, or every pipeline).
    #[arg(long, value_name = "NAME")]
    pub pipeline: Option<String>,

    /// Runs of every pipeline in the store, even with a manifest.
    #[arg(long, conflicts_with = "pipeline")]
    pub all: bool,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The run's id, or the start of it (as `history` prints it).
    #[arg(value_name = "RUN_ID")]
    pub run_id: String,

    /// The pipeline manifest whose store to read (or `--store`, or `--state-dir`).
    #[arg(value_name = "MANIFEST", env = "PIPEWRIGHT_MANIFEST")]
    pub manifest: Option<PathBuf>,

    /// The least severe level to show (the store keeps WARN+ unless `[logging]
    /// database_level` says otherwise).
    #[arg(long, value_name = "LEVEL", default_value = "trace")]
    pub level: crate::values::LogLevel,

    /// Only records of this step.
    #[arg(long, value_name = "STEP")]
    pub step: Option<String>,

    #[command(flatten)]
    pub store: StoreArgs,
}

/// Where the manifest is and what its `${VAR}`s resolve to.
#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// The pipeline manifest (TOML).
    #[arg(value_name = "MANIFEST", env = "PIPEWRIGHT_MANIFEST")]
    pub manifest: PathBuf,

    /// Set a variable for `${KEY}` interpolation; wins over the environment and `[vars]`.
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,

    /// Read variables from a `KEY=VALUE` file; the environment wins over it. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
}

/// `--select` and `--exclude`.
#[derive(Debug, Args)]
pub struct SelectionArgs {
    /// Run only these steps: `step`, `+step` (with its ancestors), `step+` (with its
    /// descendants), `tag:name`. Repeatable, or comma-separated.
    #[arg(long, short = 's', value_name = "SELECTOR")]
    pub select: Vec<String>,

    /// Leave these steps out (same syntax as `--select`).
    #[arg(long, value_name = "SELECTOR")]
    pub exclude: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,

    /// Also fail when `pipewright.lock` (next to the manifest) is missing or stale: a step,
    /// a migration file, an SQL file or a baseline changed since `pipewright lock`.
    #[arg(long)]
    pub locked: bool,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// The manifests to format.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Write nothing: print the files that would change and exit with 1 if there are any.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// `OLD NEW`, two manifests; or `NEW` alone with `--base`.
    #[arg(value_name = "MANIFEST", required = true, num_args = 1..=2)]
    pub manifests: Vec<PathBuf>,

    /// Compare with the same manifest at this git revision (`main`, `origin/main`, `HEAD~1`).
    #[arg(long, value_name = "GIT_REV")]
    pub base: Option<String>,

    /// Output format: `text` for a terminal, `markdown` for a pull request comment (with a
    /// Mermaid graph), `json`.
    #[arg(long, value_enum, default_value_t)]
    pub format: DiffFormat,

    /// Set a variable for `${KEY}` interpolation in both versions.
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,

    /// Read variables from a `KEY=VALUE` file, for both versions. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
}

/// How `diff` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum DiffFormat {
    #[default]
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
}

/// How `plan` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum PlanFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,

    #[command(flatten)]
    pub selection: SelectionArgs,

    /// Steps at the same time (default: the pipeline's `concurrency`).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,

    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,

    #[arg(long, value_enum, default_value_t)]
    pub format: GraphFormat,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,

    #[command(flatten)]
    pub selection: SelectionArgs,

    /// Steps at the same time (default: the pipeline's `concurrency`).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,

    /// After a failure, keep running the steps that do not depend on it.
    #[arg(long, short = 'k')]
    pub keep_going: bool,

    /// Resume the last run of this pipeline (from the monitoring store): skip the steps that
    /// succeeded in it unchanged (same fingerprint) and run the failed, cancelled and
    /// never-reached ones; continue interrupted `append` and `upsert` transforms from their
    /// checkpoints instead of refusing to start them again.
    #[arg(long)]
    pub resume: bool,

    /// Resume the run of this report (`--report` of an earlier run) instead of the last one
    /// in the store. Implies `--resume`.
    #[arg(long, value_name = "FILE")]
    pub resume_from: Option<PathBuf>,

    /// With `--resume`: run every step again (checkpoints of interrupted transforms are
    /// still continued).
    #[arg(long)]
    pub rerun_all: bool,

    /// How progress is shown on stderr.
    #[arg(long, value_enum, default_value_t, env = "PIPEWRIGHT_PROGRESS")]
    pub progress: ProgressChoice,

    /// Write the run report (JSON) to this file, even when the run fails or is cancelled.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Write a `JUnit` XML report (one test case per step) to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Write a self-contained HTML report to this file: a timeline of the steps, the graph,
    /// every check, every benchmark against its baseline, the logs of failing steps.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// GitHub workflow commands on stdout: a group per step and an annotation at the
    /// manifest line of each failing step or check (default: `github` when
    /// `GITHUB_ACTIONS=true`). The run's Markdown summary goes to `$GITHUB_STEP_SUMMARY`.
    #[arg(long, value_name = "FORMAT", value_parser = ["github", "none"])]
    pub annotations: Option<String>,

    /// `bench` steps write what they measured into their baseline files instead of
    /// comparing with them (a regression does not fail the step).
    #[arg(long)]
    pub update_baseline: bool,

    /// Write the `bench` steps' comparison with their baselines as Markdown to this file.
    #[arg(long, value_name = "FILE")]
    pub bench_markdown: Option<PathBuf>,

    #[command(flatten)]
    pub state: StateArgs,
}
