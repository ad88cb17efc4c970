//! Small value types that own their parsing.

mod human_duration;
mod log_level;
mod retry_policy;
mod tls_mode;

pub use human_duration::{DurationError, HumanDuration};
pub use log_level::{LogLevel, UnknownLogLevel};
pub use retry_policy::RetryPolicy;
pub use tls_mode::{TlsMode, UnknownTlsMode};

/// A count as a float, for rates and percentages: the digits a count beyond 2^53 loses do
/// not matter there.
#[allow(clippy::cast_precision_loss)]
pub fn approximate(count: u64) -> f64 {
    count as f64
}

/// Bytes as lower-case hexadecimal: digests in names, fingerprints and checksums.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut text, byte| {
            let _ = write!(text, "{byte:02x}");
            text
        })
}
