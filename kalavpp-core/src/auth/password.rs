//! Password hashing with argon2id on a few threads of its own.
//!
//! A login flood must neither starve the rest of the server nor grow its memory: hashes run on
//! one dedicated thread per core (never on Tokio's workers or blocking pool), each thread owns
//! one argon2 memory buffer allocated once and reused for every hash, so a flood costs at most
//! `threads × m_cost` KiB (19 MiB each at the OWASP cost), and on Linux the threads run at the
//! lowest scheduling priority (`nice 19`), so requests that need the CPU briefly (a catalog page)
//! preempt a hash in progress, and logins take the CPU that is left. Waiting logins queue.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

use crate::config::HashCost;
use crate::domain::Password;
use crate::error::{Error, Result};

/// A job for a hashing thread: runs with the thread's own memory buffer.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The hashing threads of one hasher; they end when the last clone of the hasher is dropped.
struct HashingThreads {
    queue: Mutex<Option<Sender<Job>>>,
}

impl HashingThreads {
    fn start(threads: usize) -> Self {
        let (sender, receiver) = channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..threads {
            let receiver: Arc<Mutex<Receiver<Job>>> = receiver.clone();
            let spawned = std::thread::Builder::new().name(format!("kalavpp-argon2-{i}")).spawn(move || {
                lower_this_threads_priority();
                let mut memory: Vec<Block> = Vec::new();
                loop {
                    // The lock is held only while taking the next job, not while running it.
                    let Ok(Ok(job)) = receiver.lock().map(|queue| queue.recv()) else {
                        return;
                    };
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut memory))).is_err() {
                        tracing::error!("a password hash panicked");
                    }
                }
            });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "could not start a password hashing thread");
            }
        }
        Self {
            queue: Mutex::new(Some(sender)),
        }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = reply.send(work(memory));
        });
        self.queue
            .lock()
            .map_err(|_| Error::Internal("the password hashing queue is poisoned".into()))?
            .as_ref()
            .ok_or_else(|| Error::Internal("the password hasher is stopped".into()))?
            .send(job)
            .map_err(|_| Error::Internal("the password hashing threads stopped".into()))?;
        answer.await.map_err(|_| Error::Internal("a password hash panicked".into()))
    }
}

impl Drop for HashingThreads {
    fn drop(&mut self) {
        if let Ok(mut queue) = self.queue.lock() {
            queue.take();
        }
    }
}

/// `nice 19` for the calling thread (on Linux a thread has its own nice value).
#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    // `setpriority(PRIO_PROCESS, 0, …)`: the calling thread, on Linux.
    if let Err(err) = rustix::process::setpriority_process(None, 19) {
        tracing::debug!(error = %err, "could not lower the priority of a password hashing thread");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {}

/// Hashes and verifies passwords with argon2id on dedicated low-priority threads (one per core),
/// each reusing one memory buffer, so a login flood queues instead of starving everything else
/// and its memory is bounded by the number of threads.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    threads: Arc<HashingThreads>,
    dummy_hash: Arc<String>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher with the given cost, and one hashing thread per core.
    pub fn new(cost: HashCost) -> Self {
        let params = match cost {
            HashCost::Owasp => Params::new(19_456, 2, 1, None),
            HashCost::TestsOnly => Params::new(256, 1, 1, None),
        }
        .unwrap_or_default();
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let mut memory = Vec::new();
        let dummy_hash = hash_with(&params, b"timing-equaliser", &mut memory).unwrap_or_default();
        Self {
            params,
            threads: Arc::new(HashingThreads::start(cores)),
            dummy_hash: Arc::new(dummy_hash),
        }
    }

    /// The PHC string of a fresh salted argon2id hash of `password`.
    #[tracing::instrument(skip_all)]
    pub async fn hash(&self, password: &Password) -> Result<String> {
        let params = self.params.clone();
        let plain = password.expose().to_owned();
        self.threads
            .run(move |memory| hash_with(&params, plain.as_bytes(), memory))
            .await?
            .map_err(|e| Error::Internal(format!("hashing failed: {e}")))
    }

    /// Whether `password` matches `stored`. With `stored == None` a dummy hash is checked, so an
    /// unknown email costs as much time as a wrong password.
    #[tracing::instrument(skip_all)]
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool> {
        let known = stored.is_some();
        let stored = stored.map_or_else(|| self.dummy_hash.as_str().to_owned(), str::to_owned);
        let plain = password.to_owned();
        let matches = self
            .threads
            .run(move |memory| verify_with(plain.as_bytes(), &stored, memory))
            .await?;
        Ok(known && matches)
    }
}

/// The memory blocks argon2 needs for `params`, from `memory` (grown once, then reused).
fn blocks<'m>(params: &Params, memory: &'m mut Vec<Block>) -> &'m mut [Block] {
    let needed = params.block_count();
    if memory.len() < needed {
        memory.resize(needed, Block::new());
    }
    &mut memory[..needed]
}

/// A fresh salted argon2id hash of `plain` with `params`, as a PHC string.
fn hash_with(params: &Params, plain: &[u8], memory: &mut Vec<Block>) -> std::result::Result<String, String> {
    let salt = argon2::password_hash::generate_salt();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0_u8; Params::DEFAULT_OUTPUT_LEN];
    argon
        .hash_password_into_with_memory(plain, &salt, &mut out, blocks(params, memory))
        .map_err(|e| e.to_string())?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| e.to_string())?,
        salt: Some(Salt::new(&salt).map_err(|e| e.to_string())?),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(hash.to_string())
}

/// Whether `plain` matches the PHC string `stored` (its own algorithm, version and parameters);
/// `false` for anything unreadable.
fn verify_with(plain: &[u8], stored: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = hash.version.map_or(Ok(Version::default()), Version::try_from) else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let mut out = vec![0_u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    if argon
        .hash_password_into_with_memory(plain, salt, &mut out, blocks(&params, memory))
        .is_err()
    {
        return false;
    }
    // `Output`'s equality is constant-time.
    Output::new(&out).is_ok_and(|computed| &computed == expected)
}

#[cfg(test)]
mod tests {
    use argon2::PasswordVerifier as _;

    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let hasher = PasswordHasher::new(HashCost::TestsOnly);
        let password = Password::parse("correct horse battery").unwrap();
        let stored = hasher.hash(&password).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{stored}");
        assert!(hasher.verify("correct horse battery", Some(&stored)).await.unwrap());
        assert!(!hasher.verify("correct horse batterz", Some(&stored)).await.unwrap());
        assert!(!hasher.verify("correct horse battery", None).await.unwrap());
        assert!(!hasher.verify("correct horse battery", Some("not a hash")).await.unwrap());
        // Two hashes of one password differ (fresh salts).
        assert_ne!(stored, hasher.hash(&password).await.unwrap());
    }

    /// Our hashes are standard PHC strings: the argon2 crate's own verifier accepts them, and
    /// ours accepts the crate's (hashes written before this hasher existed, other parameters).
    #[tokio::test]
    async fn hashes_interoperate_with_the_argon2_crate() {
        let hasher = PasswordHasher::new(HashCost::TestsOnly);
        let stored = hasher.hash(&Password::parse("correct horse battery").unwrap()).await.unwrap();
        let parsed = PasswordHash::new(&stored).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse battery", &parsed).is_ok());

        let theirs = argon2::PasswordHasher::hash_password(
            &Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(512, 2, 1, None).unwrap()),
            b"older password",
        )
        .unwrap()
        .to_string();
        assert!(hasher.verify("older password", Some(&theirs)).await.unwrap());
        assert!(!hasher.verify("other password", Some(&theirs)).await.unwrap());
    }
}
