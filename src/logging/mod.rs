//! Logs (tracing): diagnosis, never progress. Records that mirror run events (a step failed,
//! a retry) use [`EVENTS_TARGET`]; the console leaves them out because the progress output
//! already shows them.

mod console_writer;

use tracing_subscriber::filter::{EnvFilter, FilterFn, LevelFilter};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer as _, fmt};

pub use console_writer::ConsoleWriter;

use crate::values::LogLevel;

/// The target of log records that repeat a run event.
pub const EVENTS_TARGET: &str = "pipewright::events";

/// Installs the console sink at `level` for pipewright's own records (other crates: `warn`).
/// `PIPEWRIGHT_LOG` (an `EnvFilter` directive such as `debug,sqlx=info`) overrides the level.
pub fn init(level: LogLevel, color: bool) {
    let filter = std::env::var("PIPEWRIGHT_LOG")
        .ok()
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| {
            EnvFilter::default()
                .add_directive(LevelFilter::WARN.into())
                .add_directive(
                    format!("pipewright={}", level.name())
                        .parse()
                        .expect("a valid directive"),
                )
        });
    let console = fmt::layer()
        .with_writer(ConsoleWriter)
        .with_ansi(color)
        .with_timer(fmt::time::ChronoLocal::new(
            "%Y-%m-%d %H:%M:%S%.3f".to_owned(),
        ))
        .with_target(true)
        .with_line_number(true)
        .with_filter(filter)
        .with_filter(FilterFn::new(|metadata| metadata.target() != EVENTS_TARGET));
    // A second initialisation (tests calling `main` twice) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(console).try_init();
}
