//! Where the monitoring store is: the manifest's `[monitoring]` connection, or an embedded
//! SQLite file in the state directory.

use std::path::{Path, PathBuf};

use crate::pipeline::{ConnectionSpec, Driver, Pipeline};

/// The file name of the embedded store inside the state directory.
pub const EMBEDDED_STORE_FILE: &str = "monitoring.db";

/// Where pipewright keeps its state for a manifest: the embedded store, logs, spill files.
/// `--state-dir` and `PIPEWRIGHT_STATE_DIR` override the default, `.pipewright/` next to the
/// manifest.
pub fn state_dir(manifest_dir: &Path, flag: Option<&Path>) -> PathBuf {
    match flag {
        Some(path) => path.to_path_buf(),
        None => manifest_dir.join(".pipewright"),
    }
}

/// The connection the store lives on.
#[derive(Debug, Clone)]
pub struct StoreTarget {
    pub connection: ConnectionSpec,
    /// `true` for the embedded SQLite file, created on first use.
    pub embedded: bool,
}

impl StoreTarget {
    /// The store of `pipeline`: its `[monitoring]` connection, else `monitoring.db` in
    /// `state_dir`.
    pub fn for_pipeline(pipeline: &Pipeline, state_dir: &Path) -> Self {
        match &pipeline.monitoring.connection {
            Some(name) => Self {
                connection: pipeline.connections[name].clone(),
                embedded: false,
            },
            None => Self::embedded(state_dir),
        }
    }

    /// The embedded SQLite store in `state_dir`.
    pub fn embedded(state_dir: &Path) -> Self {
        let path = state_dir.join(EMBEDDED_STORE_FILE);
        Self {
            connection: ConnectionSpec::new(
                "monitoring",
                Driver::Sqlite,
                format!("sqlite://{}", path.display()),
            ),
            embedded: true,
        }
    }

    /// A store named by a URL on the command line (`--store`).
    pub fn from_url(url: &str) -> Option<Self> {
        let url = &crate::pipeline::Driver::lowercase_scheme(url);
        let scheme = url.split_once(':')?.0;
        let driver = Driver::from_scheme(scheme)?;
        for secret in crate::secrets::url_secrets(url) {
            crate::secrets::register_secret(secret);
        }
        Some(Self {
            connection: ConnectionSpec::new("store", driver, url.to_owned()),
            embedded: false,
        })
    }

    /// A short, stable name for the store, without its password: spill files carry it, so
    /// that records are replayed into the store they were meant for.
    pub fn key(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(self.connection.url.redacted().as_bytes());
        crate::values::hex(&digest[..6])
    }

    /// The store for messages: its connection's name and redacted URL.
    pub fn describe(&self) -> String {
        format!(
            "`{}` ({})",
            self.connection.name,
            self.connection.url.redacted()
        )
    }
}
