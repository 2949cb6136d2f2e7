//! One writer connection and a few reader connections, each used on the blocking pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::Connection;
use tokio::sync::Mutex;

use crate::storage::{StoreError, StoreResult};

type Shared = Arc<Mutex<Connection>>;

#[derive(Clone)]
pub(crate) struct ConnectionPool {
    writer: Shared,
    readers: Arc<Vec<Shared>>,
    next_reader: Arc<AtomicUsize>,
}

impl ConnectionPool {
    pub(crate) fn new(writer: Connection, readers: Vec<Connection>) -> Self {
        Self {
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(readers.into_iter().map(|c| Arc::new(Mutex::new(c))).collect()),
            next_reader: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// One connection for everything (in-memory databases).
    pub(crate) fn single(conn: Connection) -> Self {
        let writer = Arc::new(Mutex::new(conn));
        Self {
            readers: Arc::new(vec![writer.clone()]),
            writer,
            next_reader: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Runs `work` on the writer connection (callers open `BEGIN IMMEDIATE` transactions).
    pub(crate) async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let guard = self.writer.clone().lock_owned().await;
        run_blocking(guard, work).await
    }

    /// Runs `work` on a free reader connection.
    pub(crate) async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let count = self.readers.len();
        let free = (0..count).find_map(|i| self.readers[(start + i) % count].clone().try_lock_owned().ok());
        let guard = match free {
            Some(guard) => guard,
            None => self.readers[start % count].clone().lock_owned().await,
        };
        run_blocking(guard, work).await
    }
}

async fn run_blocking<T, F>(mut guard: tokio::sync::OwnedMutexGuard<Connection>, work: F) -> StoreResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
{
    tokio::task::spawn_blocking(move || work(&mut guard))
        .await
        .map_err(|e| StoreError::Backend(format!("blocking task failed: {e}")))?
}
