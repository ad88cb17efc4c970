//! Copying one table: read and write at the same time through a bounded channel, convert
//! each row, count and checksum what is written, verify, then swap in (create, replace,
//! truncate) or commit batch by batch with a checkpoint (append, upsert).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::Utc;
use futures_util::future::try_join_all;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::data::{
    Column, ReadError, Row, SourceQuery, TableChecksum, TableSchema, checksum_postgres_table,
    checksum_query, read_table,
};
use crate::db::{Database, DbConnection, DbError};
use crate::pipeline::{Driver, TransformMode, TransformSpec};
use crate::steps::StepContext;
use crate::store::{CheckRecord, MetricRecord, StoreRecord, store_sink};
use crate::transform::TransformError;
use crate::transform::checkpoint::{self, Checkpoint, CheckpointScope};
use crate::transform::copy_binary::CopyFormat;
use crate::transform::row_converter::{LossyCount, RowConverter};
use crate::transform::row_writer::{CopyStream, WriteTarget, mysql_packet_limit, write_rows};
use crate::transform::table_ddl::{
    INDEX_BUILDERS, STAGING_INDEX_SUFFIX, Swap, TableDefinition, attach_primary_key, build_indexes,
    create_index_sql, create_table_sql, drop_table, free_backup_name, prune_backups,
    recover_pending_backup, replace_rows, swap_in,
};
use crate::transform::table_names::staging_table;
use crate::transform::table_plan::{Relation, TablePlan};
use crate::transform::target_lock::try_lock;
use crate::values::approximate;

/// Batches in flight between the reader and the writer: with the batch size, the bound on
/// the rows a copy holds in memory.
const CHANNEL_BATCHES: usize = 2;
/// Keys per statement when a batch is read back to verify it.
const VERIFY_KEYS_PER_QUERY: usize = 2_000;

/// What a copy of one table did, for the run report.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub source: String,
    pub target: String,
    pub mode: TransformMode,
    /// Rows written by this run.
    pub rows: u64,
    #[serde(
        rename = "duration_ms",
        serialize_with = "crate::run::serialize_millis"
    )]
    pub duration: std::time::Duration,
    pub rows_per_second: f64,
    /// `passed`, or `off` when the step sets `verify = false`.
    pub verification: &'static str,
    /// The order-independent checksum of the rows written (hex), when verified.
    pub checksum: Option<String>,
    /// Whether pipewright created the table (as opposed to writing into an existing one).
    pub created: bool,
    /// The backup of the table this copy replaced, if one was made.
    pub backup: Option<String>,
    /// Older backups dropped by the retention setting.
    pub dropped_backups: Vec<String>,
    /// Values a lossy policy changed.
    pub lossy: Vec<LossyCount>,
    /// The key a resumed copy continued after, and the rows copied before it.
    pub resumed_after: Option<Vec<String>>,
    pub resumed_rows: u64,
    /// Key ranges copied at once.
    pub parallel: u32,
}

/// What a copy needs besides its plan.
#[derive(Debug, Clone)]
pub struct CopyContext<'a> {
    pub spec: &'a TransformSpec,
    pub source: &'a Database,
    pub target: &'a Database,
    pub step: &'a StepContext,
    /// A digest of the step's definition, kept with checkpoints.
    pub fingerprint: &'a str,
}

impl CopyContext<'_> {
    fn cancel(&self) -> &CancellationToken {
        &self.step.cancel
    }

    fn check(
        &self,
        table: &str,
        kind: &str,
        passed: bool,
        expected: f64,
        actual: f64,
        details: String,
    ) {
        store_sink::send(StoreRecord::Check(CheckRecord {
            timestamp: Utc::now(),
            check_type: kind.to_owned(),
            table_name: Some(table.to_owned()),
            status: if passed { "passed" } else { "failed" }.to_owned(),
            expected_value: Some(expected),
            actual_value: Some(actual),
            threshold: None,
            details: Some(details),
            run_id: Some(self.step.run_id.to_string()),
            step_id: Some(self.step.step_id.to_string()),
        }));
    }
}

/// The target's columns in the order of the plan's outputs; missing ones are an error.
fn target_columns(
    context: &CopyContext<'_>,
    plan: &TablePlan,
    table: &str,
    schema: &TableSchema,
) -> Result<Vec<Column>, TransformError> {
    let mut columns = Vec::with_capacity(plan.outputs.len());
    let mut missing = Vec::new();
    for output in &plan.outputs {
        match schema
            .columns
            .iter()
            .find(|column| column.name == output.name)
        {
            Some(column) => columns.push(column.clone()),
            None => missing.push(format!("`{}`", output.name)),
        }
    }
    if !missing.is_empty() {
        return Err(TransformError::MissingTargetColumns {
            connection: context.spec.to.connection.to_string(),
            table: table.to_owned(),
            columns: missing.join(", "),
        });
    }
    Ok(columns)
}

/// The catalog entry of a table that must exist (it was just created, or was found).
async fn existing_table(
    connection: &mut DbConnection,
    table: &str,
) -> Result<TableSchema, TransformError> {
    read_table(connection, table).await?.ok_or_else(|| {
        TransformError::Database(DbError::Query {
            context: format!("`{table}` disappeared while it was being written"),
            source: sqlx::Error::RowNotFound,
        })
    })
}

fn read_error(plan: &TablePlan, error: ReadError) -> TransformError {
    match error {
        ReadError::Cancelled => TransformError::Cancelled,
        source => TransformError::Read {
            table: plan.label.clone(),
            source: Box::new(source),
        },
    }
}

fn read_back_error(plan: &TablePlan, error: ReadError) -> TransformError {
    match error {
        ReadError::Cancelled => TransformError::Cancelled,
        source => TransformError::ReadBack {
            table: plan.target.clone(),
            source: Box::new(source),
        },
    }
}

/// The source query of `plan`, optionally in key order after `after`.
fn source_query(driver: Driver, plan: &TablePlan) -> SourceQuery {
    match &plan.relation {
        Relation::Table(table) => SourceQuery::table(driver, table, &plan.read_columns),
        Relation::Query(query) => SourceQuery::query(driver, query, &plan.read_columns),
    }
}

/// Starts reading `query` on a connection of its own, in a task of its own, into a channel
/// of `CHANNEL_BATCHES` batches.
fn spawn_reader(
    source: &Database,
    query: SourceQuery,
    batch_size: usize,
    cancel: &CancellationToken,
) -> (
    mpsc::Receiver<Vec<Row>>,
    tokio::task::JoinHandle<Result<u64, ReadError>>,
) {
    crate::data::spawn_reader(source, query, batch_size, CHANNEL_BATCHES, cancel)
}

/// Waits for a reader; a writer that stopped early explains the failure better than the
/// reader's "the writer stopped".
async fn join_reader(
    plan: &TablePlan,
    handle: tokio::task::JoinHandle<Result<u64, ReadError>>,
) -> Result<u64, TransformError> {
    match handle.await {
        Ok(Ok(rows)) => Ok(rows),
        Ok(Err(error)) => Err(read_error(plan, error)),
        Err(join) => Err(TransformError::Database(DbError::Query {
            context: format!("the reader of `{}` stopped: {join}", plan.label),
            source: sqlx::Error::WorkerCrashed,
        })),
    }
}

/// The connections a copy of one table holds at once, on the source and on the target: a
/// reader and a writer per key range; besides, in the staging modes, the verification's reader
/// and a second index builder while the first builds on the writer's connection.
pub fn connections_wanted(spec: &TransformSpec) -> (u32, u32) {
    let ranges = spec.parallel.max(1);
    let finishing = if spec.to.mode.uses_staging() {
        1 + u32::from(spec.verify) + (INDEX_BUILDERS - 1)
    } else {
        1 + u32::from(spec.verify)
    };
    (ranges, (ranges + u32::from(ranges > 1)).max(finishing))
}

/// Copies one table as its mode says.
pub async fn copy_table(
    context: &CopyContext<'_>,
    plan: &TablePlan,
) -> Result<TableReport, TransformError> {
    let started = Instant::now();
    let mut target = context.target.acquire().await?;
    if !try_lock(&mut target, &plan.target).await? {
        return Err(TransformError::TargetBusy {
            connection: context.spec.to.connection.to_string(),
            table: plan.target.clone(),
        });
    }
    let existing = read_table(&mut target, &plan.target).await?;
    let mode = context.spec.to.mode;
    if mode == TransformMode::Create && existing.is_some() {
        return Err(TransformError::TargetExists {
            connection: context.spec.to.connection.to_string(),
            table: plan.target.clone(),
        });
    }
    let mut report = if mode.uses_staging() {
        copy_through_staging(context, plan, &mut target, existing).await?
    } else {
        copy_in_batches(context, plan, &mut target, existing).await?
    };
    report.duration = started.elapsed();
    report.rows_per_second =
        crate::values::approximate(report.rows) / report.duration.as_secs_f64().max(1e-9);
    store_sink::send(StoreRecord::Metric(MetricRecord {
        timestamp: Utc::now(),
        operation: format!("transform {}", plan.label),
        duration_ms: report.duration.as_secs_f64() * 1_000.0,
        rows_affected: Some(i64::try_from(report.rows).unwrap_or(i64::MAX)),
        database_type: Some(target.driver().to_string()),
        table_name: Some(plan.target.clone()),
        success: true,
        run_id: Some(context.step.run_id.to_string()),
        step_id: Some(context.step.step_id.to_string()),
    }));
    Ok(report)
}

/// Create, replace, truncate: load a staging table, verify it, swap it in.
async fn copy_through_staging(
    context: &CopyContext<'_>,
    plan: &TablePlan,
    target: &mut DbConnection,
    existing: Option<TableSchema>,
) -> Result<TableReport, TransformError> {
    let cancel = context.cancel();
    let driver = target.driver();
    let mode = context.spec.to.mode;
    let staging = staging_table(&plan.target);
    // A staging table left by a killed run is never anyone's data; a backup it was filling
    // is kept if it is whole.
    drop_table(target, &staging, cancel).await?;
    recover_pending_backup(target, &plan.target, cancel).await?;
    // Truncate keeps the existing table: the staging copy takes its columns as they are.
    let keep_table = mode == TransformMode::Truncate && existing.is_some();
    let definition = match (&existing, keep_table) {
        (Some(schema), true) => {
            let columns = target_columns(context, plan, &plan.target, schema)?;
            TableDefinition {
                columns: columns
                    .iter()
                    .map(|column| crate::transform::table_ddl::ColumnDefinition {
                        name: column.name.clone(),
                        ddl: column.declared.clone(),
                        nullable: column.nullable,
                    })
                    .collect(),
                ..TableDefinition::default()
            }
        }
        _ => plan.definition.clone(),
    };
    target
        .run(
            &create_table_sql(driver, &staging, &definition, driver != Driver::Postgres),
            cancel,
        )
        .await?;
    let phase = Instant::now();
    let result = load_staging(context, plan, target, &staging).await;
    tracing::debug!(table = %plan.target, elapsed_ms = phase.elapsed().as_millis(), "staging table loaded");
    let (checksum, lossy, parallel) = match result {
        Ok(loaded) => loaded,
        Err(error) => {
            let _ = drop_table(target, &staging, &CancellationToken::new()).await;
            return Err(error);
        }
    };
    // The indexes are built while the verification reads the table on another connection,
    // taken first: index builds beside the first use only the connections left idle.
    let staged = existing_table(target, &staging).await?;
    let columns = target_columns(context, plan, &staging, &staged)?;
    let reader = if context.spec.verify {
        Some(context.target.acquire().await)
    } else {
        None
    };
    let building = async {
        if keep_table {
            return Ok(());
        }
        build_indexes(
            target,
            context.target,
            &staging,
            &plan.target,
            &definition,
            cancel,
        )
        .await?;
        attach_primary_key(target, &staging, &plan.target, &definition, cancel).await
    };
    let verifying = async {
        match reader {
            Some(Ok(mut reader)) => {
                verify_table(context, plan, &mut reader, &staging, &columns, checksum).await
            }
            Some(Err(error)) => Err(error.into()),
            None => Ok(()),
        }
    };
    let (built, verified) = tokio::join!(building, verifying);
    tracing::debug!(table = %plan.target, elapsed_ms = phase.elapsed().as_millis(), "indexes built and verified");
    if let Err(error) = verified.and(built.map_err(TransformError::from)) {
        let _ = drop_table(target, &staging, &CancellationToken::new()).await;
        return Err(error);
    }
    let keep = context.spec.keep_backups as usize;
    let backup = if existing.is_some() && keep > 0 {
        Some(free_backup_name(target, &plan.target).await?)
    } else {
        None
    };
    let swapped = if keep_table {
        let names: Vec<String> = columns.iter().map(|column| column.name.clone()).collect();
        replace_rows(
            target,
            &staging,
            &plan.target,
            &names,
            backup.as_deref(),
            cancel,
        )
        .await
    } else {
        let sqlite_indexes = if driver == Driver::Sqlite {
            definition.indexes.clone()
        } else {
            Vec::new()
        };
        swap_in(
            target,
            &Swap {
                incoming: &staging,
                incoming_index_suffix: STAGING_INDEX_SUFFIX,
                target: &plan.target,
                target_exists: existing.is_some(),
                backup: backup.as_deref(),
                sqlite_indexes: &sqlite_indexes,
            },
            cancel,
        )
        .await
        .map(|()| backup)
    };
    let backup = match swapped {
        Ok(kept) => kept,
        Err(error) => {
            let _ = drop_table(target, &staging, &CancellationToken::new()).await;
            return Err(error.into());
        }
    };
    // The copy is in place: pruning old backups can no longer fail it. With
    // `keep_backups = 0` no backup is made, and none made before is dropped.
    let dropped_backups = if existing.is_some() && keep > 0 {
        match prune_backups(target, &plan.target, keep, cancel).await {
            Ok(dropped) => dropped,
            Err(error) => {
                tracing::warn!(
                    table = %plan.target,
                    "the copy is in place, but older backups could not be dropped: {}",
                    crate::error_chain::error_chain(&error)
                );
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    Ok(TableReport {
        source: plan.label.clone(),
        target: plan.target.clone(),
        mode,
        rows: checksum.rows,
        duration: std::time::Duration::ZERO,
        rows_per_second: 0.0,
        verification: if context.spec.verify { "passed" } else { "off" },
        checksum: context
            .spec
            .verify
            .then(|| format!("{:032x}", checksum.sum)),
        created: !keep_table,
        backup,
        dropped_backups,
        lossy,
        resumed_after: None,
        resumed_rows: 0,
        parallel,
    })
}

/// Loads every row into the staging table, in parallel key ranges when asked; returns what
/// was written.
async fn load_staging(
    context: &CopyContext<'_>,
    plan: &TablePlan,
    target: &mut DbConnection,
    staging: &str,
) -> Result<(TableChecksum, Vec<LossyCount>, u32), TransformError> {
    let driver = target.driver();
    let staged = existing_table(target, staging).await?;
    let columns = target_columns(context, plan, staging, &staged)?;
    let names: Vec<String> = columns.iter().map(|column| column.name.clone()).collect();
    let packet_limit = mysql_packet_limit(target).await?;
    let converter = RowConverter::new(
        plan,
        columns
            .iter()
            .map(|column| column.logical.clone())
            .collect(),
        columns.iter().map(|column| column.nullable).collect(),
        driver,
    );
    let write = WriteTarget {
        table: staging,
        columns: &names,
        upsert_key: None,
        mysql_packet_limit: packet_limit,
    };
    let format = (driver == Driver::Postgres).then(|| CopyFormat::for_columns(&columns));
    if let Some(format) = &format {
        tracing::debug!(table = staging, format = format.name(), "loading with COPY");
    }
    let base = source_query(context.source.driver(), plan);
    // SQLite takes one writer at a time: ranges would only wait for each other.
    let parallel = if driver == Driver::Sqlite {
        1
    } else {
        context.spec.parallel.min(connections_for_ranges(context))
    };
    let ranges = if parallel > 1 {
        key_ranges(context, plan, parallel).await?
    } else {
        vec![(None, None)]
    };
    let done = Arc::new(AtomicU64::new(0));
    if ranges.len() == 1 {
        let range = Range {
            query: base,
            converter,
            format,
        };
        let (checksum, converter) = load_range(context, plan, target, &write, range, &done).await?;
        return Ok((checksum, converter.lossy_counts(), 1));
    }
    let key_column = plan.key_columns().remove(0);
    let mut connections = Vec::with_capacity(ranges.len());
    for _ in &ranges {
        connections.push(context.target.acquire().await?);
    }
    let work = ranges
        .iter()
        .zip(connections.iter_mut())
        .map(|((low, high), connection)| {
            let range = Range {
                query: base.clone().in_range(&key_column, *low, *high),
                converter: converter.clone(),
                format: format.clone(),
            };
            let write = write.clone();
            let done = Arc::clone(&done);
            async move { load_range(context, plan, connection, &write, range, &done).await }
        });
    let results = try_join_all(work).await?;
    let mut total = TableChecksum::default();
    let mut merged = converter;
    for (checksum, part) in &results {
        total = total.merge(*checksum);
        merged.absorb(part);
    }
    Ok((
        total,
        merged.lossy_counts(),
        u32::try_from(ranges.len()).unwrap_or(u32::MAX),
    ))
}

/// How many ranges the pools can serve at once: a reader on the source and a writer on the
/// target each, besides the connection that holds the staging table. A `max_connections`
/// below what `parallel` asks for lowers it, with a warning.
fn connections_for_ranges(context: &CopyContext<'_>) -> u32 {
    let target = context.target.max_connections().saturating_sub(1);
    let fit = if context.spec.from.connection == context.spec.to.connection {
        target / 2
    } else {
        target.min(context.source.max_connections())
    }
    .max(1);
    if fit < context.spec.parallel {
        tracing::warn!(
            "`parallel = {}` needs more connections than the pools allow: copying {fit} {} at once (raise `max_connections` for more)",
            context.spec.parallel,
            if fit == 1 { "range" } else { "ranges" }
        );
    }
    fit
}

/// Splits the first key column's values into `parts` ranges of equal width.
async fn key_ranges(
    context: &CopyContext<'_>,
    plan: &TablePlan,
    parts: u32,
) -> Result<Vec<(Option<i64>, Option<i64>)>, TransformError> {
    let key = plan.key_columns();
    let integer = key.first().is_some_and(|column| {
        matches!(
            column.logical,
            crate::data::LogicalType::Int { .. } | crate::data::LogicalType::UInt { bytes: 1..=4 }
        )
    });
    if !integer {
        return Err(TransformError::NoRangeKey {
            table: plan.label.clone(),
            key: if key.is_empty() {
                "nothing (it has no primary key)".to_owned()
            } else {
                key.iter()
                    .map(|column| format!("`{}` ({})", column.name, column.logical))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        });
    }
    let driver = context.source.driver();
    let column = crate::db::quote_identifier(driver, &key[0].name);
    let relation = match &plan.relation {
        Relation::Table(table) => crate::db::quote_identifier(driver, table),
        Relation::Query(query) => format!(
            "({}) AS pipewright_source",
            crate::data::row_reader::query_text(query)
        ),
    };
    let mut connection = context.source.acquire().await?;
    let bounds: Vec<(Option<i64>, Option<i64>)> = connection
        .fetch_all(
            &format!("SELECT CAST(MIN({column}) AS {cast}), CAST(MAX({column}) AS {cast}) FROM {relation}", cast = if driver == Driver::MySql { "SIGNED" } else { "BIGINT" }),
            Vec::new(),
        )
        .await?;
    let Some((Some(low), Some(high))) = bounds.first().copied() else {
        return Ok(vec![(None, None)]);
    };
    let width = ((i128::from(high) - i128::from(low)) / i128::from(parts)).max(1);
    let mut ranges = Vec::new();
    for part in 0..i128::from(parts) {
        let start = i128::from(low) + part * width;
        if start > i128::from(high) {
            break;
        }
        let lower = (part > 0).then(|| i64::try_from(start).unwrap_or(i64::MAX));
        let upper = (part + 1 < i128::from(parts))
            .then(|| i64::try_from(start + width).unwrap_or(i64::MAX))
            .filter(|upper| i128::from(*upper) <= i128::from(high));
        ranges.push((lower, upper));
        if upper.is_none() {
            break;
        }
    }
    Ok(ranges)
}

/// A batch ready for the target: encoded for `COPY` (PostgreSQL), or rows to insert.
#[derive(Debug)]
enum ReadyBatch {
    Copy { data: Vec<u8>, rows: usize },
    Rows(Vec<Row>),
}

/// What the converter hands back: the checksum of what it converted and its lossy counts;
/// `None` if it stopped because the writer went away.
type Converted = Option<(TableChecksum, RowConverter)>;

/// Converts batches as they arrive, on a thread of its own (it is the CPU-bound stage):
/// checksums them and, for PostgreSQL, encodes them for `COPY` in `format`.
fn convert_batches(
    mut batches: mpsc::Receiver<Vec<Row>>,
    ready: &mpsc::Sender<ReadyBatch>,
    mut converter: RowConverter,
    verify: bool,
    mut format: Option<CopyFormat>,
    table: &str,
) -> Result<Converted, TransformError> {
    let mut checksum = TableChecksum::default();
    let mut number = 0_u64;
    // For COPY each row is encoded as soon as it is converted, into one reused row.
    let mut target_row = Row::new();
    let mut capacity = 0;
    while let Some(batch) = batches.blocking_recv() {
        let rows = batch.len();
        let batch = match &mut format {
            Some(format) => {
                let mut data = Vec::with_capacity(capacity);
                for row in batch {
                    number += 1;
                    converter.convert_into(row, number, &mut target_row)?;
                    tally(&mut checksum, &target_row, verify);
                    format.encode_row(&target_row, &mut data).map_err(|error| {
                        TransformError::Internal(format!(
                            "a row for `{table}` could not be encoded for COPY: {error}"
                        ))
                    })?;
                }
                // The next batch is about as large: one allocation each.
                capacity = data.len() + data.len() / 8;
                ReadyBatch::Copy { data, rows }
            }
            None => {
                let mut target_rows = Vec::with_capacity(rows);
                for row in batch {
                    number += 1;
                    let row = converter.convert(row, number)?;
                    tally(&mut checksum, &row, verify);
                    target_rows.push(row);
                }
                ReadyBatch::Rows(target_rows)
            }
        };
        if ready.blocking_send(batch).is_err() {
            return Ok(None);
        }
    }
    Ok(Some((checksum, converter)))
}

/// Counts a written row, and hashes it when the copy is verified.
fn tally(checksum: &mut TableChecksum, row: &Row, verify: bool) {
    if verify {
        checksum.add(row);
    } else {
        checksum.rows += 1;
    }
}

/// The reading and converting stages of a load, running while the writer writes.
struct Stages<'a> {
    plan: &'a TablePlan,
    converting: tokio::task::JoinHandle<Result<Converted, TransformError>>,
    reader: tokio::task::JoinHandle<Result<u64, ReadError>>,
}

impl Stages<'_> {
    /// Waits for both stages once the writer has stopped (`sent`): the load may be committed
    /// only if all three ended well. The stage that failed on its own says why; the others
    /// only saw it stop.
    async fn finish(
        self,
        sent: Result<(), TransformError>,
    ) -> Result<(TableChecksum, RowConverter), TransformError> {
        let converted = match self.converting.await {
            Ok(result) => result,
            Err(join) => Err(TransformError::Internal(format!(
                "the converter stopped: {join}"
            ))),
        };
        let read = join_reader(self.plan, self.reader).await;
        match (sent, converted, read) {
            (Ok(()), Ok(Some(converted)), Ok(_)) => Ok(converted),
            (_, Err(error), _) | (Err(error), _, _) | (_, _, Err(error)) => Err(error),
            (Ok(()), Ok(None), Ok(_)) => Err(TransformError::Internal(
                "the writer stopped without an error".to_owned(),
            )),
        }
    }
}

/// One range of a staging load (or the whole source): what it reads, and how its rows are
/// converted and, for PostgreSQL, encoded for `COPY`.
struct Range {
    query: SourceQuery,
    converter: RowConverter,
    format: Option<CopyFormat>,
}

/// Reads one range (or the whole source) and writes it into the staging table: three stages
/// at once (read, convert, write) with two batches between each. PostgreSQL takes the whole
/// range in one `COPY`; MySQL commits per batch, SQLite once (nobody else reads a staging
/// table). The write is committed only when reading and converting ended well.
async fn load_range(
    context: &CopyContext<'_>,
    plan: &TablePlan,
    connection: &mut DbConnection,
    write: &WriteTarget<'_>,
    range: Range,
    done: &AtomicU64,
) -> Result<(TableChecksum, RowConverter), TransformError> {
    let Range {
        query,
        converter,
        format,
    } = range;
    let cancel = context.cancel();
    let batch_size = usize::try_from(context.spec.batch_size).unwrap_or(usize::MAX);
    let (batches, reader) = spawn_reader(context.source, query, batch_size, cancel);
    let (ready_sender, mut ready) = mpsc::channel::<ReadyBatch>(CHANNEL_BATCHES);
    let verify = context.spec.verify;
    let copy = format
        .as_ref()
        .map(|format| (format.options(), format.header(), format.trailer()));
    let table = write.table.to_owned();
    let converting = tokio::task::spawn_blocking(move || {
        convert_batches(batches, &ready_sender, converter, verify, format, &table)
    });
    let stages = Stages {
        plan,
        converting,
        reader,
    };
    let progress = |rows: usize| {
        let total = done.fetch_add(rows as u64, Ordering::Relaxed) + rows as u64;
        context
            .step
            .part_progress(&plan.label, total, plan.row_estimate, "rows");
    };
    let result = if let Some(copy) = copy {
        write_copy_stream(
            connection, write, copy, &mut ready, stages, cancel, &progress,
        )
        .await
    } else {
        write_row_batches(connection, write, &mut ready, stages, cancel, &progress).await
    };
    if matches!(result, Err(TransformError::Cancelled)) {
        connection.close_on_drop();
    }
    result
}

/// The next batch, or the writer's cancellation.
async fn next_ready(
    ready: &mut mpsc::Receiver<ReadyBatch>,
    cancel: &CancellationToken,
) -> Result<Option<ReadyBatch>, TransformError> {
    tokio::select! {
        batch = ready.recv() => Ok(batch),
        () = cancel.cancelled() => Err(TransformError::Cancelled),
    }
}

/// PostgreSQL: one `COPY` for the whole range, finished only if every stage ended well.
async fn write_copy_stream(
    connection: &mut DbConnection,
    write: &WriteTarget<'_>,
    (options, header, trailer): (&str, &[u8], &[u8]),
    ready: &mut mpsc::Receiver<ReadyBatch>,
    stages: Stages<'_>,
    cancel: &CancellationToken,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(TableChecksum, RowConverter), TransformError> {
    let mut copy = CopyStream::begin(connection, write.table, write.columns, options).await?;
    let sent = async {
        if !header.is_empty() {
            copy.send(header.to_vec()).await?;
        }
        while let Some(batch) = next_ready(ready, cancel).await? {
            if let ReadyBatch::Copy { data, rows } = batch {
                copy.send(data).await?;
                progress(rows);
            }
        }
        Ok(())
    }
    .await;
    ready.close();
    match stages.finish(sent).await {
        Ok(converted) => {
            if !trailer.is_empty() {
                copy.send(trailer.to_vec()).await?;
            }
            copy.finish().await?;
            Ok(converted)
        }
        Err(error) => {
            copy.abort().await;
            Err(error)
        }
    }
}

/// MySQL and SQLite: multi-row inserts per batch.
async fn write_row_batches(
    connection: &mut DbConnection,
    write: &WriteTarget<'_>,
    ready: &mut mpsc::Receiver<ReadyBatch>,
    stages: Stages<'_>,
    cancel: &CancellationToken,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(TableChecksum, RowConverter), TransformError> {
    let per_batch = connection.driver() == Driver::MySql;
    let sent = async {
        if !per_batch {
            connection.run("BEGIN", cancel).await?;
        }
        while let Some(batch) = next_ready(ready, cancel).await? {
            if let ReadyBatch::Rows(rows) = batch {
                if per_batch {
                    connection.run("BEGIN", cancel).await?;
                }
                write_rows(connection, write, &rows).await?;
                if per_batch {
                    connection.run("COMMIT", cancel).await?;
                }
                progress(rows.len());
            }
        }
        Ok(())
    }
    .await;
    ready.close();
    match stages.finish(sent).await {
        Ok(converted) => {
            if !per_batch {
                connection.run("COMMIT", cancel).await?;
            }
            Ok(converted)
        }
        Err(error) => {
            let _ = connection.run("ROLLBACK", &CancellationToken::new()).await;
            Err(error)
        }
    }
}

/// Compares what was written with what `table` holds: counts, then checksums. Both results
/// go to `data_quality_checks`.
async fn verify_table(
    context: &CopyContext<'_>,
    plan: &TablePlan,
    connection: &mut DbConnection,
    table: &str,
    columns: &[Column],
    written: TableChecksum,
) -> Result<(), TransformError> {
    if !context.spec.verify {
        return Ok(());
    }
    // PostgreSQL writes its COPY text far faster than rows are decoded.
    let held = if connection.driver() == Driver::Postgres {
        checksum_postgres_table(connection, table, columns, context.cancel()).await
    } else {
        let query = SourceQuery::table(connection.driver(), table, columns);
        checksum_query(connection, &query, context.cancel()).await
    }
    .map_err(|error| read_back_error(plan, error))?;
    compare(context, plan, written, held)
}

/// Records and judges one comparison.
fn compare(
    context: &CopyContext<'_>,
    plan: &TablePlan,
    written: TableChecksum,
    held: TableChecksum,
) -> Result<(), TransformError> {
    record_checks(context, plan, written, held);
    judge(plan, written, held)
}

/// A comparison that is recorded only when it fails: one batch of many, whose passing
/// comparisons are recorded once for the whole copy.
fn compare_quietly(
    context: &CopyContext<'_>,
    plan: &TablePlan,
    written: TableChecksum,
    held: TableChecksum,
) -> Result<(), TransformError> {
    if written != held {
        record_checks(context, plan, written, held);
    }
    judge(plan, written, held)
}

/// The two rows of `data_quality_checks` a comparison makes.
fn record_checks(
    context: &CopyContext<'_>,
    plan: &TablePlan,
    written: TableChecksum,
    held: TableChecksum,
) {
    context.check(
        &plan.target,
        "transform_row_count",
        written.rows == held.rows,
        approximate(written.rows),
        approximate(held.rows),
        format!("{} rows written, {} in the target", written.rows, held.rows),
    );
    context.check(
        &plan.target,
        "transform_checksum",
        written == held,
        approximate(written.rows),
        approximate(held.rows),
        format!(
            "checksum written {:032x}, in the target {:032x}",
            written.sum, held.sum
        ),
    );
}

fn judge(
    plan: &TablePlan,
    written: TableChecksum,
    held: TableChecksum,
) -> Result<(), TransformError> {
    if written == held {
        Ok(())
    } else {
        Err(TransformError::Mismatch {
            table: plan.target.clone(),
            expected_rows: written.rows,
            actual_rows: held.rows,
            expected_checksum: format!("{:032x}", written.sum),
            actual_checksum: format!("{:032x}", held.sum),
        })
    }
}

/// The columns of the target's primary key, or of a unique index, when they are all written:
/// what identifies a written row to read it back.
fn identifying_key(
    schema: &TableSchema,
    plan: &TablePlan,
    wanted: &[String],
) -> Option<Vec<String>> {
    let written = plan.output_names();
    let mut candidates: Vec<&Vec<String>> = Vec::new();
    if !schema.primary_key.is_empty() {
        candidates.push(&schema.primary_key);
    }
    candidates.extend(
        schema
            .indexes
            .iter()
            .filter(|index| index.unique)
            .map(|index| &index.columns),
    );
    if !wanted.is_empty() {
        // An upsert must match on exactly its key.
        let mut sorted_wanted = wanted.to_vec();
        sorted_wanted.sort();
        return candidates
            .into_iter()
            .find(|columns| {
                let mut sorted = (*columns).clone();
                sorted.sort();
                sorted == sorted_wanted
            })
            .map(|_| wanted.to_vec());
    }
    candidates
        .into_iter()
        .find(|columns| columns.iter().all(|column| written.contains(column)))
        .cloned()
}

/// Append and upsert: batches committed one by one, each with its checkpoint, each verified
/// by reading it back before it commits.
async fn copy_in_batches(
    context: &CopyContext<'_>,
    plan: &TablePlan,
    target: &mut DbConnection,
    existing: Option<TableSchema>,
) -> Result<TableReport, TransformError> {
    let cancel = context.cancel();
    let driver = target.driver();
    let mode = context.spec.to.mode;
    let created = existing.is_none();
    let schema = match existing {
        Some(schema) => schema,
        None => {
            target
                .run(
                    &create_table_sql(driver, &plan.target, &plan.definition, true),
                    cancel,
                )
                .await?;
            for index in &plan.definition.indexes {
                target
                    .run(
                        &create_index_sql(driver, &plan.target, &index.name, index),
                        cancel,
                    )
                    .await?;
            }
            existing_table(target, &plan.target).await?
        }
    };
    let columns = target_columns(context, plan, &plan.target, &schema)?;
    let names: Vec<String> = columns.iter().map(|column| column.name.clone()).collect();
    let upsert_key = (mode == TransformMode::Upsert).then(|| context.spec.to.key.clone());
    let identifying = identifying_key(&schema, plan, upsert_key.as_deref().unwrap_or_default());
    if mode == TransformMode::Upsert && identifying.is_none() {
        return Err(TransformError::NoUpsertKey {
            connection: context.spec.to.connection.to_string(),
            table: plan.target.clone(),
            key: context.spec.to.key.join(", "),
        });
    }
    let key_positions: Vec<usize> = identifying
        .iter()
        .flatten()
        .filter_map(|column| names.iter().position(|name| name == column))
        .collect();
    let key_columns: Vec<Column> = key_positions
        .iter()
        .map(|&index| columns[index].clone())
        .collect();

    let scope = CheckpointScope {
        pipeline: context.step.pipeline.to_string(),
        step: context.step.step_id.to_string(),
        target: plan.target.clone(),
    };
    // Batches commit one by one when the source has a key to order and resume by, and the
    // target a key to read each batch back by; otherwise the copy is one transaction,
    // verified by the change in the whole table's checksum.
    let verify = context.spec.verify;
    let resumable =
        !plan.read_key.is_empty() && !plan.key_nullable && (!verify || !key_columns.is_empty());
    let run_id = context.step.run_id.to_string();
    let mut resumed: Option<Checkpoint> = None;
    if resumable {
        checkpoint::ensure_table(target).await?;
        if let Some(found) = checkpoint::read(target, &scope).await? {
            if found.fingerprint != context.fingerprint {
                return Err(TransformError::CheckpointChanged {
                    table: plan.target.clone(),
                });
            }
            // A retry within the run goes on from the checkpoint of the attempt before it.
            if !context.step.resume && found.run_id != run_id {
                return Err(TransformError::CheckpointExists {
                    table: plan.target.clone(),
                    key: found.last_key.join(", "),
                    rows: found.rows,
                });
            }
            tracing::info!(
                table = %plan.target,
                after = %found.last_key.join(", "),
                rows = found.rows,
                "resuming the copy after its checkpoint"
            );
            resumed = Some(found);
        }
    } else if plan.key_nullable {
        tracing::info!(
            table = %plan.label,
            "the key of `{}` may be NULL, and a resume after a key skips NULLs: the copy commits once, at the end",
            plan.label
        );
    } else if plan.read_key.is_empty() {
        tracing::info!(
            table = %plan.label,
            "`{}` has no key to checkpoint on: the copy commits once, at the end; `from.key` names columns that order the rows and lets it commit batch by batch",
            plan.label
        );
    } else {
        tracing::info!(
            table = %plan.target,
            "`{}` has no primary key or unique index to read batches back by: the copy commits once, at the end, verified by the change in the table's checksum",
            plan.target
        );
    }

    let query = source_query(context.source.driver(), plan).in_key_order(
        &plan.key_columns(),
        resumed.as_ref().map(|found| found.last_key.clone()),
    );
    let batch_size = usize::try_from(context.spec.batch_size).unwrap_or(usize::MAX);
    let packet_limit = mysql_packet_limit(target).await?;
    let write = WriteTarget {
        table: &plan.target,
        columns: &names,
        upsert_key: upsert_key.as_deref(),
        mysql_packet_limit: packet_limit,
    };
    let mut converter = RowConverter::new(
        plan,
        columns
            .iter()
            .map(|column| column.logical.clone())
            .collect(),
        columns.iter().map(|column| column.nullable).collect(),
        driver,
    );
    // Without a key to read batches back by, an append is verified by the change in the
    // whole table's checksum, inside the one transaction.
    let whole_table = verify && key_columns.is_empty();
    let (mut receiver, reader) = spawn_reader(context.source, query, batch_size, cancel);
    let previous_rows = resumed.as_ref().map_or(0, |found| found.rows);
    // SQLite: take the write lock at the start, not on the first write after a read (which
    // another writer's transaction would make fail at once).
    let begin = if driver == Driver::Sqlite {
        "BEGIN IMMEDIATE"
    } else {
        "BEGIN"
    };
    let mut total = TableChecksum::default();
    let writing = async {
        let mut before = TableChecksum::default();
        if !resumable {
            target.run(begin, cancel).await?;
            if whole_table {
                before = table_checksum(context, plan, target, &columns).await?;
            }
        }
        let mut number = previous_rows;
        let mut carried: Vec<Row> = Vec::new();
        let mut read_back_total = TableChecksum::default();
        loop {
            let batch = tokio::select! {
                batch = receiver.recv() => batch,
                () = cancel.cancelled() => return Err(TransformError::Cancelled),
            };
            let finished = batch.is_none();
            let mut batch = match batch {
                Some(batch) if carried.is_empty() => batch,
                Some(batch) => {
                    carried.extend(batch);
                    std::mem::take(&mut carried)
                }
                None if carried.is_empty() => break,
                None => std::mem::take(&mut carried),
            };
            // A checkpoint says every row up to its key is in. Rows sharing the batch's last
            // key wait for the next batch (the key need not be unique), unless none follow.
            if resumable && !finished && !plan.key_is_unique {
                carried = hold_back_last_key(&converter, &mut batch);
                if batch.is_empty() {
                    // One key for the whole batch: it grows with the next one.
                    continue;
                }
            }
            // A resume reads the rows after the checkpoint's key, which NULLs never are.
            if resumable && batch.iter().any(|row| converter.has_null_key(row)) {
                return Err(TransformError::NullKey {
                    table: plan.label.clone(),
                    key: plan
                        .key_columns()
                        .iter()
                        .map(|column| column.name.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            let last_key = batch.last().map(|row| converter.key_of(row));
            let mut rows = Vec::with_capacity(batch.len());
            let mut batch_checksum = TableChecksum::default();
            for row in batch {
                number += 1;
                let target_row = converter.convert(row, number)?;
                tally(&mut batch_checksum, &target_row, verify);
                rows.push(target_row);
            }
            if resumable {
                target.run(begin, cancel).await?;
            }
            write_rows(target, &write, &rows).await?;
            if verify && !key_columns.is_empty() {
                let held = read_back(
                    context,
                    plan,
                    target,
                    &columns,
                    &key_columns,
                    &key_positions,
                    &rows,
                )
                .await?;
                compare_quietly(context, plan, batch_checksum, held)?;
                read_back_total = read_back_total.merge(held);
            }
            total = total.merge(batch_checksum);
            if resumable && let Some(last_key) = last_key {
                checkpoint::write(
                    target,
                    &scope,
                    &Checkpoint {
                        last_key,
                        rows: previous_rows + total.rows,
                        fingerprint: context.fingerprint.to_owned(),
                        run_id: run_id.clone(),
                    },
                )
                .await?;
                target.run("COMMIT", cancel).await?;
            }
            context.step.part_progress(
                &plan.label,
                previous_rows + total.rows,
                plan.row_estimate,
                "rows",
            );
        }
        if !resumable {
            if whole_table {
                let after = table_checksum(context, plan, target, &columns).await?;
                let added = TableChecksum {
                    rows: after.rows.saturating_sub(before.rows),
                    sum: after.sum.wrapping_sub(before.sum),
                };
                compare(context, plan, total, added)?;
            }
            target.run("COMMIT", cancel).await?;
        }
        // Every batch read back as written: one record for the copy.
        if verify && !whole_table {
            record_checks(context, plan, total, read_back_total);
        }
        Ok::<(), TransformError>(())
    };
    if let Err(error) = writing.await {
        drop(receiver);
        let _ = reader.await;
        let _ = target.run("ROLLBACK", &CancellationToken::new()).await;
        if matches!(error, TransformError::Cancelled) {
            target.close_on_drop();
        }
        return Err(error);
    }
    join_reader(plan, reader).await?;
    if resumable {
        checkpoint::clear(target, &scope).await?;
    }
    Ok(TableReport {
        source: plan.label.clone(),
        target: plan.target.clone(),
        mode,
        rows: total.rows,
        duration: std::time::Duration::ZERO,
        rows_per_second: 0.0,
        verification: if verify { "passed" } else { "off" },
        checksum: verify.then(|| format!("{:032x}", total.sum)),
        created,
        backup: None,
        dropped_backups: Vec::new(),
        lossy: converter.lossy_counts(),
        resumed_after: resumed.as_ref().map(|found| found.last_key.clone()),
        resumed_rows: previous_rows,
        parallel: 1,
    })
}

/// Takes the rows at the end of `batch` whose key is the batch's last key out of it: they go
/// with the next batch, so that a checkpoint never falls among rows of one key.
fn hold_back_last_key(converter: &RowConverter, batch: &mut Vec<Row>) -> Vec<Row> {
    let Some(last) = batch.last().map(|row| converter.key_of(row)) else {
        return Vec::new();
    };
    let keep = batch
        .iter()
        .rposition(|row| converter.key_of(row) != last)
        .map_or(0, |position| position + 1);
    batch.split_off(keep)
}

/// The checksum of a whole target table.
async fn table_checksum(
    context: &CopyContext<'_>,
    plan: &TablePlan,
    connection: &mut DbConnection,
    columns: &[Column],
) -> Result<TableChecksum, TransformError> {
    let query = SourceQuery::table(connection.driver(), &plan.target, columns);
    checksum_query(connection, &query, context.cancel())
        .await
        .map_err(|error| read_back_error(plan, error))
}

/// Reads back the rows of a batch by their key, inside the batch's transaction.
async fn read_back(
    context: &CopyContext<'_>,
    plan: &TablePlan,
    connection: &mut DbConnection,
    columns: &[Column],
    key_columns: &[Column],
    key_positions: &[usize],
    rows: &[Row],
) -> Result<TableChecksum, TransformError> {
    let mut held = TableChecksum::default();
    for chunk in rows.chunks(VERIFY_KEYS_PER_QUERY / key_columns.len().max(1)) {
        let keys: Vec<Vec<String>> = chunk
            .iter()
            .map(|row| {
                key_positions
                    .iter()
                    .map(|&index| row[index].canonical().unwrap_or_default())
                    .collect()
            })
            .collect();
        let query = SourceQuery::table(connection.driver(), &plan.target, columns)
            .with_keys(key_columns, &keys);
        let part = checksum_query(connection, &query, context.cancel())
            .await
            .map_err(|error| read_back_error(plan, error))?;
        held = held.merge(part);
    }
    Ok(held)
}
