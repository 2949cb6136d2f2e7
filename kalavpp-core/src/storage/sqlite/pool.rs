//! One writer connection and a few reader connections, each owned by a dedicated thread that
//! runs queued jobs back to back. Jobs reach the threads over a channel and answer over a
//! oneshot, so consecutive writes never wait for the async scheduler in between.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::storage::{StoreError, StoreResult};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Threads sharing one job queue, each with its own connection.
struct Workers {
    queue: Mutex<Option<Sender<Job>>>,
}

impl Workers {
    fn start(name: &str, connections: Vec<Connection>) -> Self {
        let (sender, receiver) = channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for (i, mut conn) in connections.into_iter().enumerate() {
            let receiver: Arc<Mutex<Receiver<Job>>> = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("kalavpp-sqlite-{name}-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while taking the next job, not while running it.
                        let job = match receiver.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            // A panicking job must not take the connection's thread down with it.
                            Ok(job) => {
                                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut conn))).is_err() {
                                    tracing::error!("a SQLite job panicked");
                                }
                            }
                            Err(_) => return,
                        }
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "could not start a SQLite worker thread");
            }
        }
        Self {
            queue: Mutex::new(Some(sender)),
        }
    }

    async fn run<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(work(conn));
        });
        let sent = self
            .queue
            .lock()
            .map_err(|_| StoreError::Backend("SQLite worker queue poisoned".into()))?
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("SQLite store is closed".into()))?
            .send(job);
        sent.map_err(|_| StoreError::Unavailable("SQLite worker threads stopped".into()))?;
        answer.await.map_err(|_| StoreError::Backend("a SQLite job panicked".into()))?
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // Dropping the sender ends the threads once the queue is drained.
        if let Ok(mut queue) = self.queue.lock() {
            queue.take();
        }
    }
}

#[derive(Clone)]
pub(crate) struct ConnectionPool {
    writer: Arc<Workers>,
    readers: Arc<Workers>,
}

impl ConnectionPool {
    pub(crate) fn new(writer: Connection, readers: Vec<Connection>) -> Self {
        Self {
            writer: Arc::new(Workers::start("writer", vec![writer])),
            readers: Arc::new(Workers::start("reader", readers)),
        }
    }

    /// One connection for everything (in-memory databases).
    pub(crate) fn single(conn: Connection) -> Self {
        let writer = Arc::new(Workers::start("single", vec![conn]));
        Self {
            readers: writer.clone(),
            writer,
        }
    }

    /// Runs `work` on the writer connection (callers open `BEGIN IMMEDIATE` transactions).
    pub(crate) async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        self.writer.run(work).await
    }

    /// Runs `work` on the next free reader connection.
    pub(crate) async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        self.readers.run(work).await
    }
}
