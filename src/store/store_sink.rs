//! The way records reach the store without ever blocking a step: a bounded channel to a
//! background writer that batches inserts. A record that does not fit in the channel, or
//! arrives when the store cannot take it, goes to the spill file instead: nothing is lost.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinHandle;

use crate::store::spill::SpillFile;
use crate::store::{Store, StoreRecord};

/// Records waiting for the writer before new ones go straight to the spill file.
const CHANNEL_CAPACITY: usize = 10_000;
/// Records per insert transaction.
const BATCH_SIZE: usize = 256;
/// A write that takes longer than this counts as failed: its batch is spilled and the rest of
/// the run spills too, so that finishing a run never waits on a dead store.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where records go: the writer's channel while it runs, and always the spill file.
#[derive(Debug)]
struct Sink {
    sender: Option<mpsc::Sender<StoreRecord>>,
    spill: Arc<SpillFile>,
}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

/// Hands a record to the store writer, or to the spill file when the writer cannot take it
/// now. Never blocks on the database; without an installed sink (commands other than `run`)
/// the record is dropped.
pub fn send(record: StoreRecord) {
    let sink = SINK
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(sink) = sink.as_ref() else { return };
    let record = match &sink.sender {
        Some(sender) => match sender.try_send(record) {
            Ok(()) => return,
            Err(TrySendError::Full(record) | TrySendError::Closed(record)) => record,
        },
        None => record,
    };
    if let Err(error) = sink.spill.append(&[record]) {
        // Nothing else can keep it: say so on stderr, bypassing the log sinks that led here.
        eprintln!(
            "pipewright: cannot write spill file `{}`: {error}",
            sink.spill.path().display()
        );
    }
}

/// What the writer did, for the end of the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub stored: usize,
    pub spilled: usize,
}

/// The sink of a run before its writer starts: records wait in the channel while the store
/// is being opened, so that nothing logged early is lost.
#[derive(Debug)]
pub struct PendingWriter {
    receiver: mpsc::Receiver<StoreRecord>,
    spill: Arc<SpillFile>,
}

impl PendingWriter {
    /// Installs the sink: from now on records are kept.
    pub fn install(spill: Arc<SpillFile>) -> Self {
        let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        *SINK
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Sink {
            sender: Some(sender),
            spill: Arc::clone(&spill),
        });
        Self { receiver, spill }
    }

    /// Starts writing. `store` is `None` when the store could not be opened: every record is
    /// spilled for the next run to replay.
    pub fn start(self, store: Option<Store>) -> StoreWriter {
        StoreWriter {
            handle: tokio::spawn(write_records(self.receiver, store, self.spill)),
        }
    }
}

/// The background writer of a run.
#[derive(Debug)]
pub struct StoreWriter {
    handle: JoinHandle<WriterStats>,
}

impl StoreWriter {
    /// Closes the channel and waits until every record is stored or spilled. Records sent
    /// afterwards go to the spill file.
    pub async fn finish(self) -> WriterStats {
        if let Some(sink) = SINK
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_mut()
        {
            sink.sender = None;
        }
        self.handle.await.unwrap_or_default()
    }
}

async fn write_records(
    mut receiver: mpsc::Receiver<StoreRecord>,
    mut store: Option<Store>,
    spill: Arc<SpillFile>,
) -> WriterStats {
    let mut stats = WriterStats::default();
    let mut batch = Vec::with_capacity(BATCH_SIZE);
    while receiver.recv_many(&mut batch, BATCH_SIZE).await > 0 {
        let written = match &store {
            Some(target) => match tokio::time::timeout(WRITE_TIMEOUT, target.write(&batch)).await {
                Ok(Ok(())) => true,
                Ok(Err(error)) => {
                    tracing::warn!(target: "pipewright::store", "the monitoring store {} failed; records go to `{}` and will be replayed by the next run: {}", target.describe(), spill.path().display(), crate::error_chain::error_chain(&error));
                    false
                }
                Err(_) => {
                    tracing::warn!(target: "pipewright::store", "the monitoring store {} did not answer in {}s; records go to `{}` and will be replayed by the next run", target.describe(), WRITE_TIMEOUT.as_secs(), spill.path().display());
                    false
                }
            },
            None => false,
        };
        if written {
            stats.stored += batch.len();
        } else {
            store = None;
            match spill.append(&batch) {
                Ok(()) => stats.spilled += batch.len(),
                Err(error) => eprintln!(
                    "pipewright: cannot write spill file `{}`: {error}; {} records lost",
                    spill.path().display(),
                    batch.len()
                ),
            }
        }
        batch.clear();
    }
    stats
}
