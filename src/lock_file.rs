//! `pipewright.lock`: the checksums of a resolved manifest and of every file it references
//! (migration files, SQL files, baselines), written by `pipewright lock` and compared by
//! `pipewright check --locked`. An edited migration file is caught in review, before any
//! database sees it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::migrate::ChecksumAlgorithm;
use crate::pipeline::{Pipeline, StepAction};

/// The lock file's name, next to the manifest.
pub const LOCK_FILE_NAME: &str = "pipewright.lock";

/// The format version of lock files.
const LOCK_VERSION: u32 = 1;

/// What a referenced file is to the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// A file of a `migrate` step's directory: its checksum is the one the history table
    /// records (CRLF and a BOM do not count).
    Migration,
    /// An `sql` step's `file`.
    Sql,
    /// A `bench` step's baseline.
    Baseline,
}

impl FileKind {
    fn name(self) -> &'static str {
        match self {
            Self::Migration => "migration",
            Self::Sql => "sql",
            Self::Baseline => "baseline",
        }
    }
}

/// One referenced file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LockedFile {
    /// Relative to the manifest's directory, with `/`.
    pub path: String,
    /// The step that reads it.
    pub step: String,
    pub kind: FileKind,
    /// `sha256:<hex>`, or `sha256-lf-v1:<hex>` for migration files; `missing` for a file that
    /// does not exist yet (a baseline not recorded).
    pub checksum: String,
}

/// The content of `pipewright.lock`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LockFile {
    pub version: u32,
    pub pipeline: String,
    /// A digest of the pipeline's name and concurrency, its connections' names, and every
    /// step's definition.
    pub manifest: String,
    /// Step id to the digest of its resolved definition.
    pub steps: BTreeMap<String, String>,
    #[serde(default)]
    pub files: Vec<LockedFile>,
}

impl LockFile {
    /// The lock of `pipeline` as it is now on disk.
    pub fn of(pipeline: &Pipeline) -> Self {
        let base = &pipeline.base_dir;
        let steps: BTreeMap<String, String> = pipeline
            .steps
            .values()
            .map(|step| (step.id.to_string(), step.definition_digest(base)))
            .collect();
        let mut files = Vec::new();
        for step in pipeline.steps.values() {
            let kind = match &step.action {
                StepAction::Migrate(_) => FileKind::Migration,
                StepAction::Sql(_) => FileKind::Sql,
                _ => FileKind::Baseline,
            };
            for path in step.read_files() {
                files.push(LockedFile {
                    path: relative(&path, base),
                    step: step.id.to_string(),
                    kind,
                    checksum: file_checksum(&path, kind),
                });
            }
        }
        files.sort_by(|left, right| (&left.path, &left.step).cmp(&(&right.path, &right.step)));
        let mut settings = format!("{}\0{}\0", pipeline.name, pipeline.concurrency);
        // Names only: a connection's URL, and with it its engine, differs between environments.
        for connection in pipeline.connections.values() {
            let _ = write!(settings, "{}\0", connection.name);
        }
        for (id, digest) in &steps {
            let _ = write!(settings, "{id}={digest}\0");
        }
        Self {
            version: LOCK_VERSION,
            pipeline: pipeline.name.clone(),
            manifest: format!(
                "sha256:{}",
                crate::values::hex(&Sha256::digest(settings.as_bytes()))
            ),
            steps,
            files,
        }
    }

    /// The lock file of a manifest: `pipewright.lock` in its directory.
    pub fn path_for(pipeline: &Pipeline) -> PathBuf {
        pipeline.base_dir.join(LOCK_FILE_NAME)
    }

    /// Reads a lock file; `Ok(None)` when there is none.
    pub fn read(path: &Path) -> Result<Option<Self>, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(format!("cannot read `{}`: {error}", path.display())),
        };
        let lock: Self = toml::from_str(&text).map_err(|error| {
            format!(
                "`{}` is not a pipewright lock file: {error}",
                path.display()
            )
        })?;
        if lock.version != LOCK_VERSION {
            return Err(format!(
                "`{}` is lock format {}; this pipewright writes format {LOCK_VERSION}: run `pipewright lock`",
                path.display(),
                lock.version
            ));
        }
        Ok(Some(lock))
    }

    /// The file's text: TOML, one value per line, sorted, for reviewable diffs.
    pub fn to_toml(&self) -> String {
        let mut text = String::from(
            "# pipewright.lock: written by `pipewright lock`, compared by `pipewright check --locked`.\n# Commit it with the pipeline. Connection URLs are not locked: they differ between environments.\n",
        );
        let _ = writeln!(text, "version = {}", self.version);
        let _ = writeln!(text, "pipeline = {}", quoted(&self.pipeline));
        let _ = writeln!(text, "manifest = {}", quoted(&self.manifest));
        text.push_str("\n[steps]\n");
        for (id, digest) in &self.steps {
            let _ = writeln!(text, "{} = {}", quoted(id), quoted(digest));
        }
        for file in &self.files {
            let _ = write!(
                text,
                "\n[[files]]\npath = {}\nstep = {}\nkind = {}\nchecksum = {}\n",
                quoted(&file.path),
                quoted(&file.step),
                quoted(file.kind.name()),
                quoted(&file.checksum)
            );
        }
        text
    }

    /// What changed from `locked` (the committed lock) to `self` (the pipeline now), one
    /// line each; empty when the lock is current.
    pub fn changes_since(&self, locked: &Self) -> Vec<Change> {
        let mut changes = Vec::new();
        if self.pipeline != locked.pipeline {
            changes.push(Change::Other(format!(
                "the pipeline is `{}`, the lock is of `{}`",
                self.pipeline, locked.pipeline
            )));
        }
        for (id, digest) in &self.steps {
            match locked.steps.get(id) {
                None => changes.push(Change::Other(format!("step `{id}` was added"))),
                Some(before) if before != digest => {
                    changes.push(Change::Other(format!("step `{id}` changed")));
                }
                Some(_) => {}
            }
        }
        for id in locked
            .steps
            .keys()
            .filter(|id| !self.steps.contains_key(*id))
        {
            changes.push(Change::Other(format!("step `{id}` was removed")));
        }
        let key = |file: &LockedFile| (file.path.clone(), file.step.clone());
        let now: BTreeMap<_, _> = self.files.iter().map(|file| (key(file), file)).collect();
        let before: BTreeMap<_, _> = locked.files.iter().map(|file| (key(file), file)).collect();
        for (key, file) in &now {
            match before.get(key) {
                None => changes.push(Change::Other(format!(
                    "{} file `{}` of step `{}` is new",
                    file.kind.name(),
                    file.path,
                    file.step
                ))),
                Some(locked_file) if locked_file.checksum != file.checksum => {
                    changes.push(if file.kind == FileKind::Migration {
                        Change::EditedMigration {
                            path: file.path.clone(),
                            step: file.step.clone(),
                        }
                    } else {
                        Change::Other(format!(
                            "{} file `{}` of step `{}` changed",
                            file.kind.name(),
                            file.path,
                            file.step
                        ))
                    });
                }
                Some(_) => {}
            }
        }
        for (key, file) in &before {
            if !now.contains_key(key) {
                changes.push(if file.kind == FileKind::Migration {
                    Change::RemovedMigration {
                        path: file.path.clone(),
                        step: file.step.clone(),
                    }
                } else {
                    Change::Other(format!(
                        "{} file `{}` of step `{}` was removed",
                        file.kind.name(),
                        file.path,
                        file.step
                    ))
                });
            }
        }
        if changes.is_empty() && self.manifest != locked.manifest {
            changes.push(Change::Other(
                "the pipeline's settings or connections changed".to_owned(),
            ));
        }
        changes
    }
}

/// One difference between a lock file and the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A locked migration file whose content changed: if it was applied anywhere, that
    /// database's history no longer matches it.
    EditedMigration { path: String, step: String },
    /// A locked migration file that is gone.
    RemovedMigration { path: String, step: String },
    /// Anything else: a step added, changed or removed, another file changed.
    Other(String),
}

impl Change {
    pub fn describe(&self) -> String {
        match self {
            Self::EditedMigration { path, step } if path.ends_with(".down.sql") => format!(
                "down migration `{path}` (step `{step}`) changed after it was locked: it runs when `pipewright migrate down` reverts its version"
            ),
            Self::EditedMigration { path, step } => format!(
                "migration `{path}` (step `{step}`) changed after it was locked: a database that applied it will refuse it as edited; add a new migration instead, or accept the edit with `pipewright migrate accept` where it was applied"
            ),
            Self::RemovedMigration { path, step } => format!(
                "migration `{path}` (step `{step}`) was removed after it was locked: a database that applied it will report it missing"
            ),
            Self::Other(text) => text.clone(),
        }
    }
}

/// A TOML basic string.
fn quoted(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            control if control.is_control() => {
                let _ = write!(quoted, "\\u{:04X}", u32::from(control));
            }
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

/// `path` relative to the manifest's directory, with `/`.
fn relative(path: &Path, base: &Path) -> String {
    crate::pipeline::display_relative(path, base)
        .trim_start_matches("./")
        .replace('\\', "/")
}

fn file_checksum(path: &Path, kind: FileKind) -> String {
    match (std::fs::read(path), kind) {
        (Err(_), _) => "missing".to_owned(),
        (Ok(content), FileKind::Migration) => {
            let algorithm = ChecksumAlgorithm::CURRENT;
            format!(
                "{}:{}",
                algorithm.name(),
                algorithm.checksum(&String::from_utf8_lossy(&content))
            )
        }
        (Ok(content), _) => format!("sha256:{}", crate::values::hex(&Sha256::digest(&content))),
    }
}
