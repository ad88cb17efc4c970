//! Logs (tracing): diagnosis, never progress. Five sinks, as SEED.md's team had them: the
//! console, a daily-rotated file, an error file, JSON lines, and the monitoring store's `logs`
//! table. Records that repeat a run event (a step failed, a retry) use [`EVENTS_TARGET`]; the
//! console leaves them out because the progress output already shows them.

mod console_writer;
mod level_gate;
mod log_record_layer;
mod redacting_writer;

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::filter::{FilterFn, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer, Registry, fmt};

pub use console_writer::ConsoleWriter;
pub use level_gate::LevelGate;
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
    /// Log files that cannot be written, said by [`report_problems`](Self::report_problems)
    /// once the run's span is entered, so that the warning carries the run id to the `logs`
    /// table.
    problems: Vec<String>,
}

/// pipewright's records at `level`, other crates' at WARN (or less, if `level` is less).
fn targets(level: LogLevel) -> Targets {
    Targets::new()
        .with_target("pipewright", level.filter())
        .with_default(LevelFilter::WARN.min(level.filter()))
}

/// The console's filter: `PIPEWRIGHT_LOG` (targets and levels, such as
/// `debug,sqlx=info`) when set, otherwise [`targets`] at `level`.
fn console_targets(level: LogLevel) -> Targets {
    let Ok(directives) = std::env::var("PIPEWRIGHT_LOG") else {
        return targets(level);
    };
    match directives.parse::<Targets>() {
        Ok(parsed) => parsed,
        Err(error) => {
            crate::report::console::write_stderr(
                format!("pipewright: ignoring PIPEWRIGHT_LOG=`{directives}`: {error}\n").as_bytes(),
            );
            targets(level)
        }
    }
}

/// The most verbose level `targets` lets through, for any target.
fn loudest(targets: &Targets) -> LevelFilter {
    targets
        .iter()
        .map(|(_, level)| level)
        .chain(targets.default_level())
        .max()
        .unwrap_or(LevelFilter::OFF)
}

fn console_layer(targets: Targets, color: bool) -> BoxedLayer {
    let layer = fmt::layer()
        .with_writer(ConsoleWriter)
        .with_ansi(color)
        .with_timer(fmt::time::ChronoLocal::new(TIME_FORMAT.to_owned()))
        .with_target(true)
        .with_line_number(true);
    LevelGate::new(layer, targets)
        .skipping(EVENTS_TARGET)
        .boxed()
}

/// Every span, and the events of the most verbose level any sink wants: other events are not
/// even built. Spans always pass, so every record knows its run and step.
fn most_verbose(
    levels: &[LevelFilter],
) -> FilterFn<impl Fn(&tracing::Metadata<'_>) -> bool + use<>> {
    let maximum = levels.iter().copied().max().unwrap_or(LevelFilter::OFF);
    FilterFn::new(move |metadata| metadata.is_span() || maximum >= *metadata.level())
}

/// The console sink only, for commands that do not run a pipeline.
pub fn init_console(level: LogLevel, color: bool) {
    // Read once: a `PIPEWRIGHT_LOG` that does not parse is reported once.
    let console = console_targets(level);
    let maximum = most_verbose(&[loudest(&console), level.filter()]);
    // A second initialisation (tests calling `main` twice) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(vec![console_layer(console, color)])
        .with(maximum)
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
    // Read once: a `PIPEWRIGHT_LOG` that does not parse is reported once.
    let console = console_targets(console_level);
    let mut levels = vec![loudest(&console), console_level.filter()];
    let mut layers: Vec<BoxedLayer> = vec![console_layer(console, color)];
    let mut problems = Vec::new();

    let files = [
        (
            spec.file_level,
            "pipewright",
            "log",
            spec.file_retention_days,
        ),
        (spec.error_level, "errors", "log", spec.error_retention_days),
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
                let problem = format!("cannot write logs to `{}`: {error}", directory.display());
                if !problems.contains(&problem) {
                    problems.push(problem);
                }
                continue;
            }
        };
        // Lossless: under load the writer blocks instead of dropping lines.
        let (writer, writer_guard) = NonBlockingBuilder::default().lossy(false).finish(appender);
        guard.writers.push(writer_guard);
        guard.directory = Some(directory.clone());
        let layer: BoxedLayer = if suffix == "jsonl" {
            LevelGate::new(JsonLinesLayer::new(Redacting(writer)), targets(level)).boxed()
        } else {
            let format = fmt::layer()
                .with_writer(Redacting(writer))
                .with_ansi(false)
                .with_timer(fmt::time::ChronoLocal::new(TIME_FORMAT.to_owned()))
                .with_target(true)
                .with_line_number(true);
            LevelGate::new(format, targets(level)).boxed()
        };
        levels.push(level.filter());
        layers.push(layer);
    }
    if spec.database_level != LogLevel::Off {
        levels.push(spec.database_level.filter());
        layers.push(LevelGate::new(DatabaseLayer, targets(spec.database_level)).boxed());
    }
    let _ = tracing_subscriber::registry()
        .with(layers)
        .with(most_verbose(&levels))
        .try_init();
    guard.problems = problems;
    guard
}

/// Writes and removes a block in `directory`: a full disk or a read-only directory is found
/// now and said, rather than lines vanishing later (the file writer cannot report them).
fn probe_writable(directory: &Path) -> std::io::Result<()> {
    use std::io::Write as _;
    let probe = directory.join(format!(".pipewright-probe-{}", std::process::id()));
    let written = std::fs::File::create(&probe).and_then(|mut file| {
        file.write_all(&[b'\n'; 4096])?;
        file.sync_all()
    });
    let _ = std::fs::remove_file(&probe);
    written
}

fn daily_file(
    directory: &Path,
    prefix: &str,
    suffix: &str,
    days: u32,
) -> Result<RollingFileAppender, String> {
    std::fs::create_dir_all(directory).map_err(|error| error.to_string())?;
    probe_writable(directory).map_err(|error| error.to_string())?;
    RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(prefix)
        .filename_suffix(suffix)
        .max_log_files(usize::try_from(days).unwrap_or(usize::MAX))
        .build(directory)
        .map_err(|error| error.to_string())
}

impl LoggingGuard {
    /// Warns of the log files that cannot be written (console, JSON lines, `logs` table).
    pub fn report_problems(&self) {
        for problem in &self.problems {
            tracing::warn!("{problem}; the run goes on without these log files");
        }
    }
}
