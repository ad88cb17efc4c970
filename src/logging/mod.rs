//! Logs (tracing): diagnosis, never progress. Five sinks, as SEED.md's team had them: the
//! console, a daily-rotated file, an error file, JSON lines, and the monitoring store's `logs`
//! table. Records that repeat a run event (a step failed, a retry) use [`EVENTS_TARGET`]; the
//! console leaves them out because the progress output already shows them.

mod console_writer;
mod log_record_layer;
mod redacting_writer;

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::filter::{EnvFilter, FilterFn, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer, Registry, fmt};

pub use console_writer::ConsoleWriter;
pub use log_record_layer::{DatabaseLayer, JsonLinesLayer};
pub use redacting_writer::Redacting;

use crate::pipeline::LoggingSpec;
use crate::values::LogLevel;

/// The target of log records that repeat a run event.
pub const EVENTS_TARGET: &str = "pipewright::events";

/// The timestamp of every line: date, time and milliseconds.
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.3f";

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Keeps the file writers flushing until the run ends; dropping it flushes every file.
#[derive(Debug, Default)]
#[allow(dead_code)] // `writers` is held for its `Drop`.
pub struct LoggingGuard {
    writers: Vec<WorkerGuard>,
    /// Where the log files are, when there are any.
    pub directory: Option<PathBuf>,
}

/// pipewright's records at `level`, other crates' at WARN; `PIPEWRIGHT_LOG` (an `EnvFilter`
/// directive such as `debug,sqlx=info`) overrides the console's filter.
fn targets(level: LogLevel) -> Targets {
    Targets::new()
        .with_target("pipewright", level.filter())
        .with_default(LevelFilter::WARN.min(level.filter()))
}

/// Events at `level` (as [`targets`]), and every span whatever its level: a sink that records
/// only errors still needs the `run` and `step` spans to know which run and step an error
/// belongs to.
fn sink_filter(level: LogLevel) -> FilterFn<impl Fn(&tracing::Metadata<'_>) -> bool> {
    let targets = targets(level);
    FilterFn::new(move |metadata| {
        metadata.is_span() || targets.would_enable(metadata.target(), metadata.level())
    })
}

fn console_layer(level: LogLevel, color: bool) -> BoxedLayer {
    let filter = std::env::var("PIPEWRIGHT_LOG")
        .ok()
        .and_then(|directives| EnvFilter::try_new(directives).ok());
    let layer = fmt::layer()
        .with_writer(ConsoleWriter)
        .with_ansi(color)
        .with_timer(fmt::time::ChronoLocal::new(TIME_FORMAT.to_owned()))
        .with_target(true)
        .with_line_number(true)
        .with_filter(FilterFn::new(|metadata| metadata.target() != EVENTS_TARGET));
    match filter {
        Some(filter) => layer.with_filter(filter).boxed(),
        None => layer.with_filter(targets(level)).boxed(),
    }
}

/// The console sink only, for commands that do not run a pipeline.
pub fn init_console(level: LogLevel, color: bool) {
    // A second initialisation (tests calling `main` twice) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(console_layer(level, color))
        .try_init();
}

/// Every sink of a run. A log directory that cannot be created costs the file sinks, not the
/// run: the problem is reported on the console and the run goes on.
pub fn init_run(
    spec: &LoggingSpec,
    console_level: LogLevel,
    color: bool,
    default_dir: &Path,
) -> LoggingGuard {
    let directory = spec
        .dir
        .clone()
        .unwrap_or_else(|| default_dir.to_path_buf());
    let mut guard = LoggingGuard::default();
    let mut layers: Vec<BoxedLayer> = vec![console_layer(console_level, color)];
    let mut problems = Vec::new();

    let files = [
        (
            spec.file_level,
            "pipewright",
            "log",
            spec.file_retention_days,
        ),
        (
            spec.error_level,
            "pipewright-error",
            "log",
            spec.error_retention_days,
        ),
        (
            spec.json_level,
            "pipewright",
            "jsonl",
            spec.json_retention_days,
        ),
    ];
    for (level, prefix, suffix, days) in files {
        if level == LogLevel::Off {
            continue;
        }
        let appender = match daily_file(&directory, prefix, suffix, days) {
            Ok(appender) => appender,
            Err(error) => {
                problems.push(format!(
                    "cannot write logs to `{}`: {error}",
                    directory.display()
                ));
                continue;
            }
        };
        // Lossless: under load the writer blocks instead of dropping lines.
        let (writer, writer_guard) = NonBlockingBuilder::default().lossy(false).finish(appender);
        guard.writers.push(writer_guard);
        guard.directory = Some(directory.clone());
        let layer: BoxedLayer = if suffix == "jsonl" {
            JsonLinesLayer::new(Redacting(writer))
                .with_filter(sink_filter(level))
                .boxed()
        } else {
            fmt::layer()
                .with_writer(Redacting(writer))
                .with_ansi(false)
                .with_timer(fmt::time::ChronoLocal::new(TIME_FORMAT.to_owned()))
                .with_target(true)
                .with_line_number(true)
                .with_filter(sink_filter(level))
                .boxed()
        };
        layers.push(layer);
    }
    if spec.database_level != LogLevel::Off {
        layers.push(
            DatabaseLayer
                .with_filter(sink_filter(spec.database_level))
                .boxed(),
        );
    }
    let _ = tracing_subscriber::registry().with(layers).try_init();
    for problem in problems {
        tracing::warn!("{problem}; the run goes on without these log files");
    }
    guard
}

fn daily_file(
    directory: &Path,
    prefix: &str,
    suffix: &str,
    days: u32,
) -> Result<RollingFileAppender, String> {
    std::fs::create_dir_all(directory).map_err(|error| error.to_string())?;
    RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(prefix)
        .filename_suffix(suffix)
        .max_log_files(usize::try_from(days).unwrap_or(usize::MAX))
        .build(directory)
        .map_err(|error| error.to_string())
}
