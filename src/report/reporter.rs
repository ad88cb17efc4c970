//! The consumers of run events.

use crate::run::RunEvent;

/// Something that turns run events into output: bars, lines, a report file, run history.
pub trait Reporter: Send {
    fn report(&mut self, event: &RunEvent);
}

/// A reporter that shows nothing (`--progress none`, `--quiet`): failures are still printed
/// by the command at the end.
#[derive(Debug, Default)]
pub struct SilentReporter;

impl Reporter for SilentReporter {
    fn report(&mut self, _event: &RunEvent) {}
}
