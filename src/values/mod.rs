//! Small value types that own their parsing.

mod human_duration;
mod log_level;
mod retry_policy;
mod tls_mode;

pub use human_duration::{DurationError, HumanDuration};
pub use log_level::{LogLevel, UnknownLogLevel};
pub use retry_policy::RetryPolicy;
pub use tls_mode::{TlsMode, UnknownTlsMode};
