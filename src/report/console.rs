//! The terminal: whether to use colour and bars, and writing to stderr without tearing the
//! progress bars. One place decides, everything else asks.

use std::io::{IsTerminal as _, Write as _};
use std::sync::RwLock;

use indicatif::MultiProgress;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stderr is a terminal and `NO_COLOR`, `CLICOLOR=0` or `TERM=dumb` do not say
    /// otherwise (`CLICOLOR_FORCE=1` forces it).
    #[default]
    Auto,
    Always,
    Never,
}

/// `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProgressChoice {
    /// Bars on a terminal; plain lines without one, with `CI=true` or with `TERM=dumb`.
    #[default]
    Auto,
    /// Progress bars, one per running step and one for the run (plain lines when stderr is
    /// not a terminal).
    Bars,
    /// One line per step start and end, with durations.
    Plain,
    /// Nothing but errors.
    None,
}

/// What the run's progress looks like, once decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    Bars,
    Plain,
    None,
}

/// The decisions about stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Console {
    pub color: bool,
    pub progress: ProgressMode,
    /// Columns available for diagnostics.
    pub width: usize,
}

impl Console {
    /// Decides from the flags, the environment (through `env`) and whether stderr is a
    /// terminal.
    pub fn decide(
        color: ColorChoice,
        progress: ProgressChoice,
        quiet: bool,
        stderr_is_terminal: bool,
        env: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let set = |name: &str| env(name).is_some_and(|value| !value.is_empty());
        let dumb = env("TERM").is_some_and(|term| term == "dumb");
        let ci =
            env("CI").is_some_and(|value| !value.is_empty() && value != "false" && value != "0");
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                if set("NO_COLOR") {
                    false
                } else if env("CLICOLOR_FORCE")
                    .is_some_and(|value| !value.is_empty() && value != "0")
                {
                    true
                } else if env("CLICOLOR").is_some_and(|value| value == "0") || dumb {
                    false
                } else {
                    stderr_is_terminal
                }
            }
        };
        let progress = match (quiet, progress) {
            (true, _) | (false, ProgressChoice::None) => ProgressMode::None,
            // Bars cannot be drawn without a terminal; lines at least show what happened.
            (false, ProgressChoice::Bars) if !stderr_is_terminal => ProgressMode::Plain,
            (false, ProgressChoice::Bars) => ProgressMode::Bars,
            (false, ProgressChoice::Plain) => ProgressMode::Plain,
            (false, ProgressChoice::Auto) => {
                if stderr_is_terminal && !ci && !dumb {
                    ProgressMode::Bars
                } else {
                    ProgressMode::Plain
                }
            }
        };
        let width = env("COLUMNS")
            .and_then(|columns| columns.parse().ok())
            .unwrap_or(100);
        Self {
            color,
            progress,
            width,
        }
    }

    /// Decides for this process.
    pub fn detect(color: ColorChoice, progress: ProgressChoice, quiet: bool) -> Self {
        Self::decide(
            color,
            progress,
            quiet,
            std::io::stderr().is_terminal(),
            |name| std::env::var(name).ok(),
        )
    }
}

static ACTIVE_BARS: RwLock<Option<MultiProgress>> = RwLock::new(None);

/// Registers the bars currently drawn, so that other stderr output is written around them.
pub fn set_active_bars(bars: Option<MultiProgress>) {
    *ACTIVE_BARS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = bars;
}

/// Writes to stderr, suspending the progress bars if any are drawn.
pub fn write_stderr(bytes: &[u8]) {
    let bars = ACTIVE_BARS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let write = || {
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(bytes);
        let _ = stderr.flush();
    };
    match bars {
        Some(bars) => bars.suspend(write),
        None => write(),
    }
}

/// ANSI styles for the few words pipewright colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Success,
    Failure,
    Warning,
    Dim,
    Bold,
}

/// `text` in `style` when colour is on.
pub fn paint(text: &str, style: Style, color: bool) -> String {
    if !color {
        return text.to_owned();
    }
    let code = match style {
        Style::Success => "32",
        Style::Failure => "1;31",
        Style::Warning => "33",
        Style::Dim => "2",
        Style::Bold => "1",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(terminal: bool, pairs: &[(&str, &str)]) -> Console {
        let env = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        };
        Console::decide(
            ColorChoice::Auto,
            ProgressChoice::Auto,
            false,
            terminal,
            env,
        )
    }

    #[test]
    fn terminals_get_bars_and_colour() {
        let console = decide(true, &[]);
        assert!(console.color);
        assert_eq!(console.progress, ProgressMode::Bars);
    }

    #[test]
    fn pipes_ci_and_dumb_terminals_get_plain_lines() {
        assert_eq!(decide(false, &[]).progress, ProgressMode::Plain);
        assert!(!decide(false, &[]).color);
        assert_eq!(
            decide(true, &[("CI", "true")]).progress,
            ProgressMode::Plain
        );
        let dumb = decide(true, &[("TERM", "dumb")]);
        assert_eq!(dumb.progress, ProgressMode::Plain);
        assert!(!dumb.color);
        assert_eq!(
            decide(true, &[("CI", "false")]).progress,
            ProgressMode::Bars
        );
    }

    #[test]
    fn colour_variables_are_respected() {
        assert!(!decide(true, &[("NO_COLOR", "1")]).color);
        assert!(decide(true, &[("NO_COLOR", "")]).color);
        assert!(!decide(true, &[("CLICOLOR", "0")]).color);
        assert!(decide(false, &[("CLICOLOR_FORCE", "1")]).color);
        assert!(!decide(false, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).color);
    }

    #[test]
    fn quiet_and_explicit_choices_win() {
        let quiet = Console::decide(ColorChoice::Never, ProgressChoice::Bars, true, true, |_| {
            None
        });
        assert_eq!(quiet.progress, ProgressMode::None);
        assert!(!quiet.color);
        let no_terminal = Console::decide(
            ColorChoice::Auto,
            ProgressChoice::Bars,
            false,
            false,
            |_| None,
        );
        assert_eq!(no_terminal.progress, ProgressMode::Plain);
        let forced = Console::decide(
            ColorChoice::Always,
            ProgressChoice::Plain,
            false,
            false,
            |_| None,
        );
        assert_eq!(forced.progress, ProgressMode::Plain);
        assert!(forced.color);
    }
}
