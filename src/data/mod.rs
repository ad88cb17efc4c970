//! Table data across engines: column types, values, catalogs, row streams and checksums.
//! Shared by transforms (copying) and validations (comparing).

mod catalog;
mod copy_checksum;
mod logical_type;
pub(crate) mod row_reader;
mod table_checksum;
mod value;

pub(crate) use catalog::same_table;
pub use catalog::{
    Column, IndexSpec, TableSchema, count_rows, describe_query, list_tables, read_table, split_name,
};
pub use copy_checksum::checksum_postgres_table;
pub(crate) use copy_checksum::{CopyRows, copy_rows, unescape_bytes};
pub use logical_type::LogicalType;
pub use row_reader::{
    ReadError, SOURCE_ALIAS, SourceQuery, checksum_query, checksum_table, read_batches,
    spawn_reader,
};
pub use table_checksum::{TableChecksum, row_hash};
pub(crate) use value::plain_decimal;
pub use value::{Row, Value, canonical_decimal, canonical_float, row_memory_size};
