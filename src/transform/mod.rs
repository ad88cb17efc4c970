//! Table transforms: streaming copies between SQLite, PostgreSQL and MySQL/MariaDB, through
//! a staging table swapped in atomically (create, replace, truncate) or in committed,
//! checkpointed batches (append, upsert), verified by counts and checksums.

mod checkpoint;
mod coerce;
mod copy_binary;
mod copy_table;
mod restore;
mod row_converter;
mod row_writer;
mod table_ddl;
mod table_names;
mod table_plan;
mod target_lock;
mod transform_error;

pub use checkpoint::CHECKPOINT_TABLE;
pub(crate) use coerce::shorten;
pub use coerce::{Lossy, coerce};
pub use copy_table::{CopyContext, TableReport, connections_wanted, copy_table};
pub use restore::{RestoreError, Restored, restore_backup};
pub use row_converter::LossyCount;
pub use row_writer::encode_copy_text;
pub(crate) use row_writer::{WriteTarget, bind_mysql, bind_sqlite, mysql_packet_limit, write_rows};
pub use table_ddl::{Swap, list_backups, swap_in};
pub use table_names::{backup_table, staging_table};
pub(crate) use table_names::{derived_name, is_side_table};
pub use table_plan::{TablePlan, glob_matches, plan_tables};
pub use transform_error::TransformError;
