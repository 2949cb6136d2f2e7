//! Unit tests of the outbox worker against a SQLite store and a fake mailer: batches, backoff,
//! permanent failures, reclaimed messages and shutdown.

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
