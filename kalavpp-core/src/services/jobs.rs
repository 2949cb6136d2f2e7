//! Scheduled jobs that instances sharing one database take turns at (the scheduled backup).
//!
//! A job runs once per period in the whole deployment: the instance that claims the period holds
//! the job's lease until the period ends, and every other instance asking in that period is told
//! no. When the holder dies, the next instance to ask after the period took the job over.

use std::time::Duration;

use tracing::instrument;

use crate::domain::now;
use crate::error::{Error, Result};
use crate::marketplace::Inner;

/// Scheduled jobs: claim a period, give it back after a failed run.
pub struct Jobs<'a> {
    inner: &'a Inner,
}

impl<'a> Jobs<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }

    /// Claims the current `period` of job `name` for `instance` (a name unique per process).
    /// `true` means this instance runs the job now and nobody else does until the period ends;
    /// `false` means another instance ran it (or is running it) in this period.
    #[instrument(skip(self))]
    pub async fn claim(&self, name: &str, instance: &str, period: Duration) -> Result<bool> {
        let period = chrono::Duration::from_std(period).map_err(|_| Error::invalid("period", "is too long"))?;
        let at = now();
        Ok(self.inner.store.acquire_lease(name, instance, at, at + period).await?)
    }

    /// Gives the current period of job `name` back after a failed run, so that any instance may
    /// try again at its next check instead of waiting for the next period.
    #[instrument(skip(self))]
    pub async fn give_back(&self, name: &str, instance: &str) -> Result<()> {
        Ok(self.inner.store.release_lease(name, instance, now()).await?)
    }
}
