//! Spill files: store records that could not reach the database, as JSON lines in the state
//! directory, replayed into the store by the next run and then deleted.

use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::fcntl::{Flock, FlockArg};

use crate::store::StoreRecord;

/// The directory of spill files inside a state directory.
pub fn spill_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("spill")
}

/// This process's spill file, created on the first record it has to keep, and locked
/// (`flock`) for as long as the process lives: a run replaying spill files skips the files of
/// runs still going.
#[derive(Debug)]
pub struct SpillFile {
    path: PathBuf,
    file: Mutex<Option<Flock<File>>>,
}

impl SpillFile {
    /// A spill file in `directory` for the store `store_key` names, named so that sorting
    /// names sorts files by creation.
    pub fn new(directory: &Path, store_key: &str) -> Self {
        let name = format!(
            "{store_key}-{}-{}.jsonl",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
            std::process::id()
        );
        Self {
            path: directory.join(name),
            file: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends records, one JSON line each, and flushes them to the file.
    pub fn append(&self, records: &[StoreRecord]) -> std::io::Result<()> {
        let mut guard = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() {
            if let Some(directory) = self.path.parent() {
                std::fs::create_dir_all(directory)?;
            }
            // Made under a name replays do not look at, locked, then given its name: a
            // replay never finds the file before its writer holds it.
            let fresh = self.path.with_extension("jsonl.new");
            let file = OpenOptions::new().create(true).append(true).open(&fresh)?;
            let locked = Flock::lock(file, FlockArg::LockExclusiveNonblock)
                .map_err(|(_, errno)| std::io::Error::from(errno))?;
            std::fs::rename(&fresh, &self.path)?;
            *guard = Some(locked);
        }
        let file = guard.as_mut().expect("opened above");
        let mut buffer = Vec::new();
        for record in records {
            serde_json::to_writer(&mut buffer, record).map_err(std::io::Error::other)?;
            buffer.push(b'\n');
        }
        file.write_all(&buffer)?;
        file.flush()
    }
}

/// The spill files in `directory` kept for the store `store_key` names, oldest first.
pub fn spill_files(directory: &Path, store_key: &str) -> Vec<PathBuf> {
    let prefix = format!("{store_key}-");
    let mut files: Vec<PathBuf> = std::fs::read_dir(directory)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| {
                    path.extension()
                        .is_some_and(|extension| extension == "jsonl")
                })
                .filter(|path| {
                    path.file_name()
                        .is_some_and(|name| name.to_string_lossy().starts_with(&prefix))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// A spill file no live process writes to, locked for replaying; `None` if a running
/// pipewright still holds it.
pub fn claim(path: &Path) -> Option<Flock<File>> {
    let file = File::open(path).ok()?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).ok()
}

/// The records of a spill file. A line that does not parse (the last line of a file whose
/// writer was killed mid-write) is skipped with a warning.
pub fn read_spill(path: &Path) -> Vec<StoreRecord> {
    let Ok(file) = File::open(path) else {
        return Vec::new();
    };
    let mut records = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(record) => records.push(record),
            Err(error) => tracing::warn!(
                target: "pipewright::store",
                "skipping line {} of spill file `{}`: {error}",
                index + 1,
                path.display()
            ),
        }
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MetricRecord;

    fn metric(operation: &str) -> StoreRecord {
        StoreRecord::Metric(MetricRecord {
            timestamp: chrono::Utc::now(),
            operation: operation.into(),
            duration_ms: 1.5,
            rows_affected: None,
            database_type: None,
            table_name: None,
            success: true,
            run_id: None,
            step_id: None,
        })
    }

    #[test]
    fn appends_and_reads_back_skipping_torn_lines() {
        let directory = tempfile::tempdir().unwrap();
        let spill = SpillFile::new(directory.path(), "store");
        spill.append(&[metric("a"), metric("b")]).unwrap();
        spill.append(&[metric("c")]).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(spill.path())
            .unwrap()
            .write_all(b"{\"record\":\"metr")
            .unwrap();
        let files = spill_files(directory.path(), "store");
        assert_eq!(files, [spill.path().to_path_buf()]);
        assert!(
            spill_files(directory.path(), "other").is_empty(),
            "files of another store"
        );
        assert!(claim(&files[0]).is_none(), "the writer still holds it");
        let records = read_spill(&files[0]);
        assert_eq!(records.len(), 3);
        assert_eq!(records[2], metric_named(&records[2], "c"));
    }

    fn metric_named(record: &StoreRecord, operation: &str) -> StoreRecord {
        let StoreRecord::Metric(metric) = record else {
            panic!()
        };
        assert_eq!(metric.operation, operation);
        record.clone()
    }
}
