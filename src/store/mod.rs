//! The monitoring store: SEED.md's four tables plus run history, on SQLite (embedded by
//! default), PostgreSQL or MySQL/MariaDB, fed without ever blocking a step.

pub mod spill;
#[allow(clippy::module_inception)]
mod store;
mod store_record;
mod store_reporter;
mod store_schema;
pub mod store_sink;
mod store_target;

pub use store::{LogRow, RunRow, Store, StoreError};
pub use store_record::{AlertRecord, CheckRecord, LogRecord, MetricRecord, StoreRecord};
pub use store_reporter::StoreReporter;
pub use store_schema::{LATEST_VERSION, SchemaError};
pub use store_sink::{PendingWriter, StoreWriter, WriterStats};
pub use store_target::{EMBEDDED_STORE_FILE, StoreTarget, state_dir};
