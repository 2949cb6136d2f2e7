//! One writer connection and a few reader connections, each owned by a dedicated thread that
//! runs queued jobs back to back. Jobs reach the threads over a channel and answer over a
//! oneshot, so consecutive writes never wait for the async scheduler in between.
//!
//! **Group commit.** The writer runs the write jobs waiting in its queue inside one transaction,
//! each job in its own savepoint: a job that fails (or panics) rolls back only its own savepoint,
//! and every caller is answered only after the one `COMMIT` of the group returned, i.e. once the
//! group is durable (`synchronous=FULL`). Under load one fsync then covers many writes; a lone
//! write is its own group and waits for nobody.

use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::storage::{StoreError, StoreResult};

/// At most this many writes share one commit, so the first caller of a group waits for a
/// bounded number of others.
const MAX_GROUP_JOBS: usize = 128;
/// A group stops taking new writes this long after it began.
const MAX_GROUP_TIME: Duration = Duration::from_millis(10);

/// How a group's commit ended, as told to each of its jobs: `Err` carries why nothing of the
/// group was kept.
type Outcome<'a> = Result<(), &'a str>;

/// Answers a write's caller once its group's outcome is known.
type Answer = Box<dyn FnOnce(Outcome<'_>) + Send>;

/// What a write job reports after running: whether its savepoint is to be kept, and how to answer.
struct Ran {
    keep: bool,
    answer: Answer,
}

enum Job {
    /// Runs on its own, outside any group (reads).
    Alone(Box<dyn FnOnce(&mut Connection) + Send>),
    /// Runs inside the writer's group transaction, in a savepoint of its own.
    Write(Box<dyn FnOnce(&mut Connection) -> Ran + Send>),
}

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
                .spawn(move || serve(&mut conn, &receiver));
            if let Err(err) = spawned {
                tracing::error!(error = %err, "could not start a SQLite worker thread");
            }
        }
        Self {
            queue: Mutex::new(Some(sender)),
        }
    }

    fn send(&self, job: Job) -> StoreResult<()> {
        let sent = self
            .queue
            .lock()
            .map_err(|_| StoreError::backend("SQLite worker queue poisoned"))?
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("SQLite store is closed".into()))?
            .send(job);
        sent.map_err(|_| StoreError::Unavailable("SQLite worker threads stopped".into()))
    }

    async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Alone(Box::new(move |conn| {
            let _ = reply.send(work(conn));
        })))?;
        answer.await.map_err(|_| StoreError::backend("a SQLite job panicked"))?
    }

    async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Write(Box::new(move |conn| {
            let result = work(conn);
            Ran {
                keep: result.is_ok(),
                answer: Box::new(move |outcome| {
                    let result = match outcome {
                        Ok(()) => result,
                        // The job's own error says more than the group's.
                        Err(why) => result.and_then(|_| Err(StoreError::Unavailable(format!("the write was not committed: {why}")))),
                    };
                    let _ = reply.send(result);
                }),
            }
        })))?;
        answer.await.map_err(|_| StoreError::backend("a SQLite job panicked"))?
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

/// A worker thread: takes jobs until the queue closes.
fn serve(conn: &mut Connection, receiver: &Mutex<Receiver<Job>>) {
    let mut waiting: Option<Job> = None;
    loop {
        let job = match waiting.take() {
            Some(job) => job,
            // The lock is held only while taking the next job, not while running it.
            None => match receiver.lock().map(|queue| queue.recv()) {
                Ok(Ok(job)) => job,
                _ => return,
            },
        };
        match job {
            Job::Alone(work) => {
                // A panicking job must not take the connection's thread down with it.
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(conn))).is_err() {
                    tracing::error!("a SQLite job panicked");
                }
            }
            Job::Write(first) => waiting = run_group(conn, first, receiver),
        }
    }
}

/// Runs `first` and the writes queued behind it as one group; returns the job that ended the
/// group without belonging to it (a read), if any.
fn run_group(conn: &mut Connection, first: Box<dyn FnOnce(&mut Connection) -> Ran + Send>, receiver: &Mutex<Receiver<Job>>) -> Option<Job> {
    let began = Instant::now();
    let mut grouped = conn.execute_batch("BEGIN IMMEDIATE").is_ok();
    let mut answers: Vec<Answer> = Vec::new();
    let mut next = Some(first);
    let mut left_over = None;
    while let Some(work) = next.take() {
        if let Some(answer) = run_in_savepoint(conn, work) {
            answers.push(answer);
        }
        if grouped && conn.is_autocommit() {
            // SQLite ended the transaction itself (an I/O error, a full disk): nothing of the
            // group so far is kept, and its callers are told so.
            for answer in answers.drain(..) {
                answer(Err("the transaction was rolled back by the database"));
            }
            grouped = conn.execute_batch("BEGIN IMMEDIATE").is_ok();
        }
        if !grouped || answers.len() >= MAX_GROUP_JOBS || began.elapsed() >= MAX_GROUP_TIME {
            break;
        }
        match receiver.lock().map(|queue| queue.try_recv()) {
            Ok(Ok(Job::Write(work))) => next = Some(work),
            Ok(Ok(other)) => left_over = Some(other),
            Ok(Err(TryRecvError::Empty | TryRecvError::Disconnected)) | Err(_) => {}
        }
    }
    let outcome = if grouped {
        match conn.execute_batch("COMMIT") {
            Ok(()) => Ok(()),
            Err(err) => {
                tracing::error!(error = %err, jobs = answers.len(), "a SQLite group commit failed");
                let _ = conn.execute_batch("ROLLBACK");
                Err(err.to_string())
            }
        }
    } else {
        // No group transaction could be opened: each job ran (and committed) on its own.
        Ok(())
    };
    for answer in answers {
        answer(outcome.as_ref().copied().map_err(String::as_str));
    }
    left_over
}

/// Runs one write in its own savepoint, rolled back when the job fails or panics; returns how to
/// answer its caller (`None` after a panic: the caller then learns it from the dropped reply).
fn run_in_savepoint(conn: &mut Connection, work: Box<dyn FnOnce(&mut Connection) -> Ran + Send>) -> Option<Answer> {
    if let Err(err) = conn.execute_batch("SAVEPOINT kalavpp_job") {
        tracing::error!(error = %err, "could not open a savepoint for a SQLite write");
    }
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(conn)));
    let keep = matches!(&ran, Ok(ran) if ran.keep);
    if !keep && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK TO kalavpp_job");
    }
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("RELEASE kalavpp_job");
    }
    match ran {
        Ok(ran) => Some(ran.answer),
        Err(_) => {
            tracing::error!("a SQLite job panicked");
            None
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

    /// One connection for everything (in-memory databases): reads run between the groups.
    pub(crate) fn single(conn: Connection) -> Self {
        let writer = Arc::new(Workers::start("single", vec![conn]));
        Self {
            readers: writer.clone(),
            writer,
        }
    }

    /// Runs `work` on the writer connection inside the current group transaction (callers open
    /// savepoints, never transactions, for their own atomic units). `work`'s effects are undone
    /// when it returns an error; the answer comes once the group is committed.
    pub(crate) async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        self.writer.write(work).await
    }

    /// Runs `work` on the next free reader connection.
    pub(crate) async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        self.readers.read(work).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Conflict;

    fn pool() -> (tempfile::TempDir, ConnectionPool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("group.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);")
            .unwrap();
        let reader = Connection::open(&path).unwrap();
        (dir, ConnectionPool::new(writer, vec![reader]))
    }

    async fn keys(pool: &ConnectionPool) -> Vec<i64> {
        pool.read(|conn| {
            let mut stmt = conn.prepare("SELECT k FROM t ORDER BY k").unwrap();
            Ok(stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect())
        })
        .await
        .unwrap()
    }

    /// Many writes queued at once: the failing ones (an error after a first insert, a
    /// constraint violation, a panic) leave nothing behind, every other one is kept, and each
    /// caller hears its own outcome.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_failing_job_in_a_group_does_not_undo_the_others() {
        let (_dir, pool) = pool();
        // Hold the writer so that everything below queues up and runs as one group.
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let blocker = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.write(move |_| {
                    hold.recv().ok();
                    Ok(())
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut calls = Vec::new();
        for k in 0..30_i64 {
            let pool = pool.clone();
            calls.push(tokio::spawn(async move {
                pool.write(move |conn| {
                    conn.execute("INSERT INTO t (k, v) VALUES (?1, 'x')", [k])
                        .map_err(super::super::map_err)?;
                    match k % 10 {
                        // Fails after a first write of its own: that write must be undone.
                        3 => {
                            conn.execute("INSERT INTO t (k, v) VALUES (?1, 'y')", [k + 1000])
                                .map_err(super::super::map_err)?;
                            Err(StoreError::Conflict(Conflict::OrderNumberTaken))
                        }
                        // A constraint violation inside the job.
                        5 => conn
                            .execute("INSERT INTO t (k, v) VALUES (?1, 'dup')", [k])
                            .map(|_| ())
                            .map_err(super::super::map_err),
                        7 => panic!("a job that panics"),
                        _ => Ok(()),
                    }
                })
                .await
            }));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        let mut kept = Vec::new();
        for (k, call) in (0..30_i64).zip(calls) {
            let result = call.await.unwrap();
            match k % 10 {
                3 => assert!(matches!(result, Err(StoreError::Conflict(_))), "{k}: {result:?}"),
                // `t.k` is no table of the migrations: an unmapped unique violation is a backend error.
                5 => assert!(
                    matches!(&result, Err(StoreError::Backend { message, .. }) if message.contains("t.k")),
                    "{k}: {result:?}"
                ),
                7 => assert!(matches!(result, Err(StoreError::Backend { .. })), "{k}: {result:?}"),
                _ => {
                    assert!(result.is_ok(), "{k}: {result:?}");
                    kept.push(k);
                }
            }
        }
        assert_eq!(keys(&pool).await, kept);
    }

    /// A caller is answered only after its group's commit: what it wrote is visible to a reader
    /// connection the moment it is answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_is_committed_before_its_caller_is_answered() {
        let (_dir, pool) = pool();
        let mut calls = Vec::new();
        for k in 0..200_i64 {
            let pool = pool.clone();
            calls.push(tokio::spawn(async move {
                pool.write(move |conn| {
                    conn.execute("INSERT INTO t (k, v) VALUES (?1, 'x')", [k])
                        .map_err(super::super::map_err)
                })
                .await
                .unwrap();
                let seen: i64 = pool
                    .read(move |conn| {
                        conn.query_row("SELECT count(*) FROM t WHERE k = ?1", [k], |r| r.get(0))
                            .map_err(super::super::map_err)
                    })
                    .await
                    .unwrap();
                assert_eq!(seen, 1, "row {k} not visible after its write was answered");
            }));
        }
        for call in calls {
            call.await.unwrap();
        }
        assert_eq!(keys(&pool).await.len(), 200);
    }
}
