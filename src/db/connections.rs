//! The pipeline's connections, each opened the first time a step needs it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use tokio::sync::OnceCell;

use crate::db::{Database, DbError};
use crate::pipeline::{ConnectionName, ConnectionSpec};

/// Opens each connection lazily, once, so that a run needs only the servers its selected steps
/// use, and shares the pool between the steps.
#[derive(Debug)]
pub struct Connections {
    specs: IndexMap<ConnectionName, ConnectionSpec>,
    pools: Mutex<HashMap<ConnectionName, Arc<OnceCell<Database>>>>,
    /// Pool size for connections that do not set `max_connections`.
    default_pool_size: u32,
    /// Connections a single step needs at once on some connections (a parallel transform),
    /// on top of what the run's concurrency needs.
    step_needs: HashMap<ConnectionName, u32>,
}

impl Connections {
    /// `concurrency` steps may use one connection each at the same time, plus one to spare
    /// (a step's bookkeeping next to its statement). Cancelling uses a connection of its own,
    /// outside the pool.
    pub fn new(specs: IndexMap<ConnectionName, ConnectionSpec>, concurrency: usize) -> Self {
        let default_pool_size = u32::try_from(concurrency)
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        Self {
            specs,
            pools: Mutex::new(HashMap::new()),
            default_pool_size,
            step_needs: HashMap::new(),
        }
    }

    /// Sizes the pools of connections that do not set `max_connections` for steps that use
    /// several connections at once: `needs` is the most one step takes of each.
    #[must_use]
    pub fn with_step_needs(mut self, needs: HashMap<ConnectionName, u32>) -> Self {
        self.step_needs = needs;
        self
    }

    pub fn spec(&self, name: &ConnectionName) -> &ConnectionSpec {
        &self.specs[name]
    }

    /// The pool of `name`, connecting on first use. Concurrent first uses wait for one attempt.
    pub async fn get(&self, name: &ConnectionName) -> Result<Database, DbError> {
        let cell = {
            let mut pools = self
                .pools
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(pools.entry(name.clone()).or_default())
        };
        let spec = &self.specs[name];
        let needed = self.step_needs.get(name).map_or(0, |need| {
            // The step's own connections, plus one for each other step running beside it.
            need.saturating_add(self.default_pool_size.saturating_sub(2))
        });
        let size = spec
            .max_connections
            .unwrap_or_else(|| self.default_pool_size.max(needed));
        cell.get_or_try_init(|| Database::connect(spec, size))
            .await
            .cloned()
    }

    /// Closes every pool that was opened.
    pub async fn close_all(&self) {
        let cells: Vec<Arc<OnceCell<Database>>> = self
            .pools
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for cell in cells {
            if let Some(database) = cell.get() {
                database.close().await;
            }
        }
    }
}
