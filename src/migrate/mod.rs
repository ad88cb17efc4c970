//! Schema migrations: versioned SQL files, a history table with pinned checksums, a lock, one
//! transaction per file where the database allows it and an honest ledger where it does not.

mod checksum;
mod history;
mod migrate_error;
mod migration_file;
mod migration_lock;
mod migration_status;
mod migrator;

pub use checksum::ChecksumAlgorithm;
pub use history::{HistoryRow, HistoryTable};
pub use migrate_error::MigrateError;
pub use migration_file::{DownFile, MigrationFile, NO_TRANSACTION_MARKER, ScanError, scan};
pub use migration_lock::LockedConnection;
pub use migration_status::{
    MigrationEntry, MigrationState, MigrationStatus, ValidationProblem, diff, status,
};
pub use migrator::{
    AppliedFile, MigrateOptions, MigrateProgress, Migrator, NoProgress, PlannedFile,
};
