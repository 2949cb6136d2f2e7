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
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::domain::{EmailFilter, OutboxEmail};
    use crate::domain::{EmailId, PageRequest};
    use crate::storage::NewEmail;
    use crate::storage::sqlite::{SqliteLocation, SqliteStore};

    /// Records what it is asked to send; fails the first `failures` sends.
    #[derive(Default)]
    struct FakeMailer {
        sent: Mutex<Vec<OutgoingEmail>>,
        failures: AtomicUsize,
        permanent: bool,
    }

    #[async_trait]
    impl Mailer for FakeMailer {
        async fn send(&self, message: &OutgoingEmail) -> Result<(), MailError> {
            if self.failures.load(Ordering::SeqCst) > 0 {
                self.failures.fetch_sub(1, Ordering::SeqCst);
                return Err(if self.permanent {
                    MailError::Invalid("no such mailbox".into())
                } else {
                    MailError::Delivery("transient error (451): try later".into())
                });
            }
            self.sent.lock().unwrap().push(message.clone());
            Ok(())
        }

        fn describe(&self) -> String {
            "fake".into()
        }
    }

    fn policy(max_attempts: u32, retry_base: Duration) -> OutboxPolicy {
        OutboxPolicy {
            poll_interval: Duration::from_millis(10),
            batch_size: 2,
            max_attempts,
            retry_base,
            retry_cap: Duration::from_hours(1),
            lease: Duration::from_mins(1),
        }
    }

    async fn setup(mailer: Arc<FakeMailer>, policy: OutboxPolicy) -> (Arc<SqliteStore>, OutboxWorker) {
        let store = Arc::new(SqliteStore::open(SqliteLocation::Memory, 1).await.unwrap());
        let worker = OutboxWorker::new(store.clone(), mailer, "shop@example.com", "KALAVPP", policy);
        (store, worker)
    }

    async fn queue(store: &SqliteStore, recipient: &str) -> EmailId {
        let id = EmailId::new();
        store
            .enqueue_email(NewEmail {
                id,
                recipient: recipient.into(),
                template: "welcome".into(),
                subject: format!("Hello {recipient}"),
                body_text: "text".into(),
                body_html: Some("<p>html</p>".into()),
                created_at: now(),
            })
            .await
            .unwrap();
        id
    }

    async fn email(store: &SqliteStore, id: EmailId) -> OutboxEmail {
        let page = store.list_emails(&EmailFilter::default(), PageRequest::new(1, 100)).await.unwrap();
        page.items.into_iter().find(|e| e.id == id).expect("the message is listed")
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let policy = policy(8, Duration::from_secs(30));
        assert_eq!(policy.retry_delay(1), Duration::from_secs(30));
        assert_eq!(policy.retry_delay(2), Duration::from_mins(1));
        assert_eq!(policy.retry_delay(4), Duration::from_mins(4));
        assert_eq!(policy.retry_delay(8), Duration::from_hours(1), "30 s × 128 is capped at an hour");
        assert_eq!(policy.retry_delay(500), Duration::from_hours(1));
        let defaults = OutboxPolicy::default();
        assert_eq!(
            (defaults.max_attempts, defaults.retry_base, defaults.poll_interval),
            (8, Duration::from_secs(30), Duration::from_secs(1))
        );
    }

    #[tokio::test]
    async fn sends_due_messages_in_batches_and_marks_them_sent() {
        let mailer = Arc::new(FakeMailer::default());
        let (store, worker) = setup(mailer.clone(), policy(3, Duration::from_secs(30))).await;
        let ids = [
            queue(&store, "a@example.com").await,
            queue(&store, "b@example.com").await,
            queue(&store, "c@example.com").await,
        ];
        let first = worker.run_once().await.unwrap();
        assert_eq!((first.claimed, first.sent), (2, 2), "batches of two");
        let second = worker.run_once().await.unwrap();
        assert_eq!((second.claimed, second.sent), (1, 1));
        assert_eq!(worker.run_once().await.unwrap(), DeliveryReport::default(), "nothing left");

        let sent = mailer.sent.lock().unwrap().clone();
        let recipients: Vec<_> = sent.iter().map(|m| m.to.as_str()).collect();
        assert_eq!(recipients, ["a@example.com", "b@example.com", "c@example.com"], "oldest first");
        assert_eq!(sent[0].from_address, "shop@example.com");
        assert_eq!(sent[0].from_name, "KALAVPP");
        assert_eq!(sent[0].html.as_deref(), Some("<p>html</p>"));
        for id in ids {
            let row = email(&store, id).await;
            assert_eq!((row.status.as_str(), row.attempts), ("sent", 1));
            assert!(row.sent_at.is_some());
        }
    }

    #[tokio::test]
    async fn failures_back_off_then_fail_for_good() {
        let mailer = Arc::new(FakeMailer {
            failures: AtomicUsize::new(usize::MAX),
            ..FakeMailer::default()
        });
        // A long base delay: after one failure nothing is due.
        let (store, worker) = setup(mailer.clone(), policy(3, Duration::from_hours(1))).await;
        let id = queue(&store, "a@example.com").await;
        assert_eq!(worker.run_once().await.unwrap().retried, 1);
        let row = email(&store, id).await;
        assert_eq!((row.status.as_str(), row.attempts), ("queued", 1));
        assert_eq!(row.last_error.as_deref(), Some("transient error (451): try later"));
        assert_eq!(worker.run_once().await.unwrap().claimed, 0, "not due before the backoff");

        // No delay: every run is another attempt, the third is the last.
        let (store, worker) = setup(mailer.clone(), policy(3, Duration::ZERO)).await;
        let id = queue(&store, "a@example.com").await;
        assert_eq!(worker.run_once().await.unwrap().retried, 1);
        assert_eq!(worker.run_once().await.unwrap().retried, 1);
        assert_eq!(worker.run_once().await.unwrap().failed, 1);
        assert_eq!(worker.run_once().await.unwrap().claimed, 0, "failed messages stay failed");
        let row = email(&store, id).await;
        assert_eq!((row.status.as_str(), row.attempts), ("failed", 3));
        assert!(row.last_error.unwrap().contains("451"));
        assert!(row.sent_at.is_none());
    }

    #[tokio::test]
    async fn a_recovered_mailer_delivers_the_retry() {
        let mailer = Arc::new(FakeMailer {
            failures: AtomicUsize::new(1),
            ..FakeMailer::default()
        });
        let (store, worker) = setup(mailer.clone(), policy(3, Duration::ZERO)).await;
        let id = queue(&store, "a@example.com").await;
        assert_eq!(worker.run_once().await.unwrap().retried, 1);
        assert_eq!(worker.run_once().await.unwrap().sent, 1);
        let row = email(&store, id).await;
        assert_eq!((row.status.as_str(), row.attempts), ("sent", 2));
        assert!(row.last_error.is_some(), "the earlier error stays visible");
    }

    #[tokio::test]
    async fn permanent_errors_fail_at_once() {
        let mailer = Arc::new(FakeMailer {
            failures: AtomicUsize::new(1),
            permanent: true,
            ..FakeMailer::default()
        });
        let (store, worker) = setup(mailer, policy(5, Duration::ZERO)).await;
        let id = queue(&store, "a@example.com").await;
        assert_eq!(worker.run_once().await.unwrap().failed, 1);
        let row = email(&store, id).await;
        assert_eq!((row.status.as_str(), row.attempts), ("failed", 1));
        assert_eq!(row.last_error.as_deref(), Some("invalid message: no such mailbox"));
    }

    #[tokio::test]
    async fn messages_reclaimed_too_often_after_crashes_fail_unsent() {
        let mailer = Arc::new(FakeMailer::default());
        let (store, worker) = setup(mailer.clone(), policy(2, Duration::ZERO)).await;
        let id = queue(&store, "a@example.com").await;
        // Two claims whose worker "crashed" (leases that expire at once).
        for _ in 0..2 {
            assert_eq!(store.claim_emails(now(), now(), 10).await.unwrap().len(), 1);
        }
        assert_eq!(worker.run_once().await.unwrap().failed, 1);
        assert!(mailer.sent.lock().unwrap().is_empty());
        let row = email(&store, id).await;
        assert_eq!((row.status.as_str(), row.attempts), ("failed", 3));
        assert!(row.last_error.unwrap().contains("gave up"));
    }

    #[tokio::test]
    async fn run_delivers_until_shutdown() {
        let mailer = Arc::new(FakeMailer::default());
        let (store, worker) = setup(mailer.clone(), policy(3, Duration::ZERO)).await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(async move {
            worker
                .run(async {
                    let _ = stopped.await;
                })
                .await;
        });
        let id = queue(&store, "a@example.com").await;
        for _ in 0..200 {
            if email(&store, id).await.status == "sent" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(email(&store, id).await.status, "sent");
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), running)
            .await
            .expect("the worker stops on shutdown")
            .unwrap();
    }
}
