//! [`OutboxWorker`]: claims due outbox messages, sends them, records the outcome.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use tracing::instrument;

use super::{MailError, Mailer, OutgoingEmail};
use crate::config::MailConfig;
use crate::domain::Timestamp;
use crate::domain::now;
use crate::storage::{ClaimedEmail, OutboxStore, StoreError};

/// Longest `last_error` kept in the outbox.
const MAX_ERROR_LEN: usize = 1000;

/// How the worker polls, batches and retries. [`OutboxPolicy::from_config`] takes the configurable
/// values from [`MailConfig`]; tests may use tiny delays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxPolicy {
    /// Pause between polls when the last batch was not full (`MAIL_POLL_INTERVAL_MS`).
    pub poll_interval: Duration,
    /// Messages claimed per batch.
    pub batch_size: u32,
    /// Attempts before a message is marked `failed` (`MAIL_MAX_ATTEMPTS`, at least 1).
    pub max_attempts: u32,
    /// Delay before the first retry; attempt `n` waits `retry_base × 2^(n−1)` (`MAIL_RETRY_BASE_MS`).
    pub retry_base: Duration,
    /// Longest delay between two attempts.
    pub retry_cap: Duration,
    /// How long a claim holds a message. A message still `sending` after its lease (its worker
    /// stopped) is claimed again; messages of a batch are not sent once the lease has run out.
    pub lease: Duration,
}

impl Default for OutboxPolicy {
    fn default() -> Self {
        Self::from_config(&MailConfig::default())
    }
}

impl OutboxPolicy {
    /// The policy of `config`: its poll interval, attempts and base delay; batches of 10, delays
    /// capped at one hour (or the base delay, if longer), leases of 10 minutes.
    pub fn from_config(config: &MailConfig) -> Self {
        Self {
            poll_interval: config.poll_interval,
            batch_size: 10,
            max_attempts: config.max_attempts.max(1),
            retry_base: config.retry_base,
            retry_cap: Duration::from_hours(1).max(config.retry_base),
            lease: Duration::from_mins(10),
        }
    }

    /// The delay after failed attempt number `attempt` (1-based): `retry_base × 2^(attempt−1)`,
    /// at most `retry_cap`.
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.retry_base.saturating_mul(1u32 << doublings).min(self.retry_cap)
    }
}

/// What one [`OutboxWorker::run_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Messages claimed.
    pub claimed: usize,
    /// Delivered and marked `sent`.
    pub sent: usize,
    /// Failed and put back in the queue for a later attempt.
    pub retried: usize,
    /// Failed for good (`failed`).
    pub failed: usize,
    /// Claimed but not attempted (the lease ran out first, or the outcome could not be recorded);
    /// they are claimed again once their lease expires.
    pub skipped: usize,
}

/// Delivers the outbox: claims due messages in batches, sends each through a [`Mailer`], marks it
/// `sent`, or reschedules it with exponential backoff, or — after `max_attempts`, or at once for a
/// message that can never be sent — marks it `failed` with the last error.
///
/// Delivery is at least once: a worker that stops between sending and recording the outcome
/// leaves the message `sending`, and it is sent again after its lease. Several workers (tasks or
/// servers sharing a PostgreSQL database) may run side by side; claims never overlap. Nothing is
/// global: build one per store.
#[derive(Clone)]
pub struct OutboxWorker {
    store: Arc<dyn OutboxStore>,
    mailer: Arc<dyn Mailer>,
    from_address: String,
    from_name: String,
    policy: OutboxPolicy,
}

impl std::fmt::Debug for OutboxWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxWorker")
            .field("mailer", &self.mailer.describe())
            .field("from_address", &self.from_address)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl OutboxWorker {
    /// A worker over `store` sending through `mailer` as `from_name <from_address>`.
    pub fn new(
        store: Arc<dyn OutboxStore>,
        mailer: Arc<dyn Mailer>,
        from_address: impl Into<String>,
        from_name: impl Into<String>,
        policy: OutboxPolicy,
    ) -> Self {
        Self {
            store,
            mailer,
            from_address: from_address.into(),
            from_name: from_name.into(),
            policy,
        }
    }

    /// A worker over the marketplace's store, with the sender and policy of its configuration.
    pub fn for_marketplace(market: &crate::Marketplace, mailer: Arc<dyn Mailer>) -> Self {
        let mail = &market.config().mail;
        let store: Arc<dyn OutboxStore> = market.backend().clone();
        Self::new(
            store,
            mailer,
            mail.from_address.clone(),
            mail.from_name.clone(),
            OutboxPolicy::from_config(mail),
        )
    }

    /// The policy in use.
    pub fn policy(&self) -> &OutboxPolicy {
        &self.policy
    }

    /// Claims one batch of due messages and delivers it. Fails only when the claim itself fails;
    /// problems recording an outcome are logged and the message is retried after its lease.
    #[instrument(skip(self), fields(mailer = %self.mailer.describe()))]
    pub async fn run_once(&self) -> Result<DeliveryReport, StoreError> {
        let started = now();
        let lease_until = started + delta(self.policy.lease);
        let batch = self
            .store
            .claim_emails(started, lease_until, i64::from(self.policy.batch_size))
            .await?;
        let mut report = DeliveryReport {
            claimed: batch.len(),
            ..DeliveryReport::default()
        };
        for message in batch {
            if now() >= lease_until {
                // Another worker may claim these now; do not race it.
                report.skipped += 1;
                continue;
            }
            self.deliver(message, lease_until, &mut report).await;
        }
        if report.claimed > 0 {
            tracing::info!(
                claimed = report.claimed,
                sent = report.sent,
                retried = report.retried,
                failed = report.failed,
                skipped = report.skipped,
                "outbox batch delivered"
            );
        }
        Ok(report)
    }

    /// Runs batches until `shutdown` resolves: a full batch is followed by the next at once,
    /// otherwise the worker waits `poll_interval`. A batch in progress is finished before
    /// stopping; failed claims (database down) are logged and retried at the next poll.
    #[instrument(skip_all, fields(mailer = %self.mailer.describe()))]
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        tracing::info!(poll_ms = self.policy.poll_interval.as_millis() as u64, "outbox worker started");
        loop {
            let full = match self.run_once().await {
                Ok(report) => report.claimed >= self.policy.batch_size as usize,
                Err(err) => {
                    tracing::warn!(error = %err, "claiming outbox messages failed");
                    false
                }
            };
            let pause = if full { Duration::ZERO } else { self.policy.poll_interval };
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!("outbox worker stopped");
    }

    /// Sends one claimed message and records the outcome.
    #[instrument(skip_all, fields(email_id = %message.id, template = %message.template, attempt = message.attempts))]
    async fn deliver(&self, message: ClaimedEmail, lease_until: Timestamp, report: &mut DeliveryReport) {
        let attempt = u32::try_from(message.attempts).unwrap_or(u32::MAX);
        if attempt > self.policy.max_attempts {
            // Only reclaims after a crash get here: the last regular attempt already decides.
            let error = format!(
                "gave up after {} claims without a recorded outcome (the worker stopped while sending)",
                message.attempts
            );
            self.record(&message, Outcome::Failed(error), report).await;
            return;
        }
        let outgoing = OutgoingEmail {
            id: message.id,
            from_address: self.from_address.clone(),
            from_name: self.from_name.clone(),
            to: message.recipient.clone(),
            subject: message.subject.clone(),
            text: message.body_text.clone(),
            html: message.body_html.clone(),
        };
        // A send must end inside the lease: past it another worker may claim the message again.
        let budget = (lease_until - now() - TimeDelta::seconds(5))
            .to_std()
            .unwrap_or_default()
            .max(Duration::from_secs(1));
        let sent = tokio::time::timeout(budget, self.mailer.send(&outgoing)).await.unwrap_or_else(|_| {
            Err(MailError::Delivery(format!(
                "no answer within {} s (the claim's lease)",
                budget.as_secs()
            )))
        });
        let outcome = match sent {
            Ok(()) => Outcome::Sent,
            Err(err) if err.is_permanent() || attempt >= self.policy.max_attempts => {
                tracing::warn!(error = %err, "email delivery failed for good");
                Outcome::Failed(truncate(&err))
            }
            Err(err) => {
                let delay = self.policy.retry_delay(attempt);
                tracing::warn!(error = %err, retry_in_ms = delay.as_millis() as u64, "email delivery failed; will retry");
                Outcome::Retry(truncate(&err), now() + delta(delay))
            }
        };
        self.record(&message, outcome, report).await;
    }

    async fn record(&self, message: &ClaimedEmail, outcome: Outcome, report: &mut DeliveryReport) {
        let (result, counter) = match outcome {
            Outcome::Sent => (
                self.store.mark_email_sent(message.id, message.attempts, now()).await,
                &mut report.sent,
            ),
            Outcome::Retry(error, at) => (
                self.store.reschedule_email(message.id, message.attempts, &error, at).await,
                &mut report.retried,
            ),
            Outcome::Failed(error) => (
                self.store.mark_email_failed(message.id, message.attempts, &error, now()).await,
                &mut report.failed,
            ),
        };
        match result {
            Ok(()) => *counter += 1,
            Err(err) => {
                report.skipped += 1;
                tracing::warn!(email_id = %message.id, error = %err, "recording an email delivery outcome failed");
            }
        }
    }
}

/// What happened to one message.
enum Outcome {
    Sent,
    Retry(String, Timestamp),
    Failed(String),
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::days(365))
}

fn truncate(err: &MailError) -> String {
    let mut text = err.to_string();
    if text.len() > MAX_ERROR_LEN {
        let mut end = MAX_ERROR_LEN;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(all(test, feature = "sqlite"))]
mod tests;
