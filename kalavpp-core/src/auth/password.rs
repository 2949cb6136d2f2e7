use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::config::HashCost;
use crate::domain::Password;
use crate::error::{Error, Result};

/// Hashes and verifies passwords with argon2id on the blocking pool, at most one hash per core at
/// a time so a login flood queues instead of starving everything else.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
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
    /// A hasher with the given cost.
    pub fn new(cost: HashCost) -> Self {
        let params = match cost {
            HashCost::Owasp => Params::new(19_456, 2, 1, None),
            HashCost::TestsOnly => Params::new(256, 1, 1, None),
        }
        .unwrap_or_default();
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let dummy_hash = argon.hash_password(b"timing-equaliser").map(|h| h.to_string()).unwrap_or_default();
        Self {
            params,
            permits: Arc::new(Semaphore::new(cores)),
            dummy_hash: Arc::new(dummy_hash),
        }
    }

    fn argon(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// The PHC string of a fresh salted argon2id hash of `password`.
    #[tracing::instrument(skip_all)]
    pub async fn hash(&self, password: &Password) -> Result<String> {
        let _permit = self.permits.acquire().await.map_err(|e| Error::Internal(e.to_string()))?;
        let params = self.params.clone();
        let plain = password.expose().to_owned();
        tokio::task::spawn_blocking(move || {
            Self::argon(params)
                .hash_password(plain.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| Error::Internal(format!("hashing failed: {e}")))
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
    }

    /// Whether `password` matches `stored`. With `stored == None` a dummy hash is checked, so an
    /// unknown email costs as much time as a wrong password.
    #[tracing::instrument(skip_all)]
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool> {
        let _permit = self.permits.acquire().await.map_err(|e| Error::Internal(e.to_string()))?;
        let known = stored.is_some();
        let stored = stored.map_or_else(|| self.dummy_hash.as_str().to_owned(), str::to_owned);
        let plain = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&stored)
                .map(|parsed| Argon2::default().verify_password(plain.as_bytes(), &parsed).is_ok())
                .unwrap_or(false)
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
        Ok(known && matches)
    }
}
