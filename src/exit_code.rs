//! The process exit codes, all in one place (documented in docs/exit-codes.md).

/// What pipewright's exit status means. CI can tell a failed step from a broken invocation
/// from an interrupted run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Everything that was asked for succeeded.
    Success = 0,
    /// The run finished and at least one step failed or timed out.
    StepFailed = 1,
    /// The manifest is invalid, or the command line is: nothing was run.
    Invalid = 2,
    /// A migration could not take the migration lock: another process is migrating the same
    /// database and did not finish within the lock timeout.
    LockTimeout = 4,
    /// A `bench` step measured a regression: a metric worse than its baseline by more than
    /// its tolerance, and no other step failed.
    BenchRegression = 5,
    /// `migrate status --detailed-exitcode`: migrations are pending.
    PendingMigrations = 6,
    /// pipewright itself could not do its job: a report could not be written, the runtime
    /// could not start. Not a problem of the pipeline.
    Internal = 70,
    /// The run was cancelled by Ctrl-C (SIGINT) or SIGTERM.
    Interrupted = 130,
}

impl ExitCode {
    pub const ALL: [Self; 8] = [
        Self::Success,
        Self::StepFailed,
        Self::Invalid,
        Self::LockTimeout,
        Self::BenchRegression,
        Self::PendingMigrations,
        Self::Internal,
        Self::Interrupted,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        Self::from(code.code())
    }
}
