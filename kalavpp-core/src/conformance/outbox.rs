//! `OutboxStore`: queueing emails, the outbox list, and delivery: claims with leases, outcomes,
//! and concurrent claimers.

use std::collections::HashSet;

use crate::domain::{EmailFilter, OutboxEmail};
use crate::domain::{EmailId, PageRequest};
use crate::storage::{ClaimedEmail, NewEmail, StoreError};
use crate::storage::{Conflict, Table};

use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_outbox {
    ($callback:ident) => {
        $callback! {
            group: outbox,
            store: [
                enqueue_email_round_trips,
                duplicate_email_id_is_a_conflict,
                list_emails_filters_recipient_template_and_status,
                list_emails_paginates_newest_first,
                claim_takes_due_messages_oldest_first_up_to_the_limit,
                claim_reclaims_sending_messages_whose_lease_expired,
                sent_rescheduled_and_failed_messages_show_in_the_list,
                outcomes_apply_only_to_messages_being_sent,
                concurrent_claimers_take_disjoint_sets_covering_every_message,
            ],
            sql: [],
        }
    };
}

__conformance_outbox!(define_cases);

/// Ids of a list, in the order returned.
async fn listed(store: &Db, filter: EmailFilter) -> Vec<EmailId> {
    let page = store.list_emails(&filter, PageRequest::new(1, 100)).await.expect("list emails");
    assert_eq!(page.total, page.items.len() as i64, "one page holds them all");
    page.items.into_iter().map(|e| e.id).collect()
}

/// Queues a message to `recipient` with `template`, created `offset` seconds after `base`.
async fn queue(store: &Db, recipient: &str, template: &str, base: Timestamp, offset: i64) -> EmailId {
    let message = NewEmail {
        created_at: base + secs(offset),
        ..mail(recipient, template)
    };
    let id = message.id;
    store.enqueue_email(message).await.expect("enqueue email");
    id
}

pub async fn enqueue_email_round_trips(store: Db) {
    let message = NewEmail {
        subject: "Grüße — your order ✓".into(),
        body_text: "Line one\nLine two with 'quotes' and \"double quotes\"".into(),
        body_html: None,
        ..mail("ann@example.com", "order_confirmation")
    };
    store.enqueue_email(message.clone()).await.unwrap();
    let page = store.list_emails(&EmailFilter::default(), PageRequest::default()).await.unwrap();
    assert_eq!((page.page, page.per_page, page.total), (1, 20, 1));
    assert_eq!(
        page.items,
        vec![OutboxEmail {
            id: message.id,
            recipient: "ann@example.com".into(),
            template: "order_confirmation".into(),
            subject: "Grüße — your order ✓".into(),
            body_text: message.body_text.clone(),
            status: "queued".into(),
            attempts: 0,
            last_error: None,
            created_at: message.created_at,
            sent_at: None,
        }]
    );
}

pub async fn duplicate_email_id_is_a_conflict(store: Db) {
    let first = mail("ann@example.com", "welcome");
    store.enqueue_email(first.clone()).await.unwrap();
    let clash = NewEmail {
        id: first.id,
        ..mail("bob@example.com", "welcome")
    };
    match store.enqueue_email(clash).await {
        Err(StoreError::Conflict(what)) => assert_eq!(what, Conflict::DuplicateId(Table::Outbox)),
        other => panic!("expected Conflict(outbox.id), got {other:?}"),
    }
    let page = store.list_emails(&EmailFilter::default(), PageRequest::default()).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.items[0].recipient, "ann@example.com");
}

pub async fn list_emails_filters_recipient_template_and_status(store: Db) {
    let t = now();
    let ann_welcome = queue(&store, "ann@example.com", "welcome", t, 0).await;
    let ann_reset = queue(&store, "ann@example.com", "password_reset", t, 1).await;
    let bob_welcome = queue(&store, "bob@example.com", "welcome", t, 2).await;
    let bob_reset = queue(&store, "bob@example.com", "password_reset", t, 3).await;

    let filter = |recipient: Option<&str>, template: Option<&str>, status: Option<&str>| EmailFilter {
        recipient: recipient.map(Into::into),
        template: template.map(Into::into),
        status: status.map(Into::into),
    };
    assert_eq!(
        listed(&store, filter(None, None, None)).await,
        [bob_reset, bob_welcome, ann_reset, ann_welcome]
    );
    assert_eq!(
        listed(&store, filter(Some("ann@example.com"), None, None)).await,
        [ann_reset, ann_welcome]
    );
    assert_eq!(
        listed(&store, filter(None, Some("welcome"), None)).await,
        [bob_welcome, ann_welcome]
    );
    assert_eq!(
        listed(&store, filter(Some("bob@example.com"), Some("password_reset"), None)).await,
        [bob_reset]
    );
    assert_eq!(
        listed(&store, filter(None, None, Some("queued"))).await.len(),
        4,
        "new messages are queued"
    );
    assert!(listed(&store, filter(None, None, Some("sent"))).await.is_empty());
    assert!(listed(&store, filter(None, None, Some("failed"))).await.is_empty());
    assert!(
        listed(&store, filter(Some("ann@example.com"), Some("welcome"), Some("sent")))
            .await
            .is_empty()
    );
    // Filters are exact matches, not patterns or substrings.
    assert!(listed(&store, filter(Some("ann"), None, None)).await.is_empty());
    assert!(listed(&store, filter(Some("%"), None, None)).await.is_empty());
    assert!(listed(&store, filter(None, Some("WELCOME"), None)).await.is_empty());
    assert!(listed(&store, filter(Some("carol@example.com"), None, None)).await.is_empty());
}

pub async fn list_emails_paginates_newest_first(store: Db) {
    let empty = store.list_emails(&EmailFilter::default(), PageRequest::default()).await.unwrap();
    assert!(empty.items.is_empty());
    assert_eq!(empty.total, 0);

    let t = now();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(queue(&store, &format!("user{i}@example.com"), "welcome", t, i).await);
    }
    let page_of = |page: &crate::domain::Page<OutboxEmail>| page.items.iter().map(|e| e.id).collect::<Vec<_>>();

    let first = store.list_emails(&EmailFilter::default(), PageRequest::new(1, 2)).await.unwrap();
    assert_eq!((first.page, first.per_page, first.total), (1, 2, 5));
    assert_eq!(page_of(&first), [ids[4], ids[3]]);
    assert_eq!(first.items[0].created_at, t + secs(4));

    let second = store.list_emails(&EmailFilter::default(), PageRequest::new(2, 2)).await.unwrap();
    assert_eq!(page_of(&second), [ids[2], ids[1]]);
    assert_eq!(second.total, 5);

    let last = store.list_emails(&EmailFilter::default(), PageRequest::new(3, 2)).await.unwrap();
    assert_eq!(page_of(&last), [ids[0]]);

    let beyond = store.list_emails(&EmailFilter::default(), PageRequest::new(9, 2)).await.unwrap();
    assert!(beyond.items.is_empty());
    assert_eq!((beyond.page, beyond.total), (9, 5));

    let filtered = EmailFilter {
        recipient: Some("user1@example.com".into()),
        ..EmailFilter::default()
    };
    let one = store.list_emails(&filtered, PageRequest::new(1, 2)).await.unwrap();
    assert_eq!((page_of(&one), one.total), (vec![ids[1]], 1), "total counts matches only");

    // Messages queued in the same microsecond come in a stable order: greatest id first.
    let a = queue(&store, "same@example.com", "welcome", t, 10).await;
    let b = queue(&store, "same@example.com", "welcome", t, 10).await;
    let mut expected = vec![a, b];
    expected.sort_by(|x, y| y.cmp(x));
    let top = store.list_emails(&EmailFilter::default(), PageRequest::new(1, 2)).await.unwrap();
    assert_eq!(page_of(&top), expected);
}

/// The message `id` as listed.
async fn listed_one(store: &Db, id: EmailId) -> OutboxEmail {
    let page = store
        .list_emails(&EmailFilter::default(), PageRequest::new(1, 100))
        .await
        .expect("list emails");
    page.items.into_iter().find(|e| e.id == id).expect("the message is listed")
}

fn ids(claimed: &[ClaimedEmail]) -> Vec<EmailId> {
    claimed.iter().map(|c| c.id).collect()
}

pub async fn claim_takes_due_messages_oldest_first_up_to_the_limit(store: Db) {
    let t = now();
    // Queued out of creation order, so the order claimed is not just the order inserted.
    let third = queue(&store, "c@example.com", "welcome", t, 2).await;
    let first = queue(&store, "a@example.com", "password_reset", t, 0).await;
    let fourth = queue(&store, "d@example.com", "welcome", t, 3).await;
    let second = queue(&store, "b@example.com", "welcome", t, 1).await;
    let future = queue(&store, "later@example.com", "welcome", t, 100).await;

    assert!(
        store.claim_emails(t - secs(1), t + secs(60), 10).await.unwrap().is_empty(),
        "nothing due yet"
    );
    assert!(
        store.claim_emails(t + secs(10), t + secs(70), 0).await.unwrap().is_empty(),
        "limit 0 claims nothing"
    );

    let batch = store.claim_emails(t + secs(10), t + secs(70), 3).await.unwrap();
    assert_eq!(ids(&batch), [first, second, third], "oldest first, up to the limit");
    let claimed = &batch[0];
    assert_eq!(claimed.recipient, "a@example.com");
    assert_eq!(claimed.template, "password_reset");
    assert_eq!(claimed.subject, "password_reset for a@example.com");
    assert_eq!(claimed.body_text, "Hello a@example.com,\nthis is password_reset.");
    assert_eq!(claimed.body_html.as_deref(), Some("<p>Hello a@example.com</p>"));
    assert_eq!(claimed.attempts, 1);
    assert_eq!(claimed.created_at, t);

    // Due at exactly `now` counts; the future message stays queued.
    let rest = store.claim_emails(t + secs(3), t + secs(63), 3).await.unwrap();
    assert_eq!(ids(&rest), [fourth]);
    assert!(
        store.claim_emails(t + secs(10), t + secs(70), 3).await.unwrap().is_empty(),
        "all taken"
    );

    for id in [first, second, third, fourth] {
        let row = listed_one(&store, id).await;
        assert_eq!((row.status.as_str(), row.attempts, row.sent_at), ("sending", 1, None));
    }
    let row = listed_one(&store, future).await;
    assert_eq!((row.status.as_str(), row.attempts), ("queued", 0));
    let sending = EmailFilter {
        status: Some("sending".into()),
        ..EmailFilter::default()
    };
    assert_eq!(listed(&store, sending).await.len(), 4, "the list filters on `sending`");
}

pub async fn claim_reclaims_sending_messages_whose_lease_expired(store: Db) {
    let t = now();
    let id = queue(&store, "ann@example.com", "welcome", t, 0).await;
    let first = store.claim_emails(t + secs(1), t + secs(61), 10).await.unwrap();
    assert_eq!((ids(&first), first[0].attempts), (vec![id], 1));

    assert!(
        store.claim_emails(t + secs(60), t + secs(120), 10).await.unwrap().is_empty(),
        "the lease holds until it ends"
    );
    // The worker never reported back: once the lease is over, another claimer takes it.
    let again = store.claim_emails(t + secs(61), t + secs(121), 10).await.unwrap();
    assert_eq!((ids(&again), again[0].attempts), (vec![id], 2));
    assert!(
        store.claim_emails(t + secs(100), t + secs(160), 10).await.unwrap().is_empty(),
        "the new lease holds"
    );
    let row = listed_one(&store, id).await;
    assert_eq!((row.status.as_str(), row.attempts), ("sending", 2));

    // The first claimer comes back late: its outcome no longer counts.
    assert!(matches!(
        store.mark_email_sent(id, 1, t + secs(101)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.reschedule_email(id, 1, "late", t + secs(101)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.mark_email_failed(id, 1, "late", t + secs(101)).await,
        Err(StoreError::NotFound)
    ));
    // The second claimer's outcome is recorded normally.
    store.mark_email_sent(id, 2, t + secs(102)).await.unwrap();
    let row = listed_one(&store, id).await;
    assert_eq!((row.status.as_str(), row.attempts, row.sent_at), ("sent", 2, Some(t + secs(102))));
    assert!(
        store.claim_emails(t + secs(1000), t + secs(1060), 10).await.unwrap().is_empty(),
        "sent is final"
    );
}

pub async fn sent_rescheduled_and_failed_messages_show_in_the_list(store: Db) {
    let t = now();
    let delivered = queue(&store, "a@example.com", "welcome", t, 0).await;
    let retried = queue(&store, "b@example.com", "welcome", t, 0).await;
    let given_up = queue(&store, "c@example.com", "welcome", t, 0).await;
    assert_eq!(store.claim_emails(t + secs(1), t + secs(61), 10).await.unwrap().len(), 3);

    store.mark_email_sent(delivered, 1, t + secs(2)).await.unwrap();
    store
        .reschedule_email(retried, 1, "transient error (451): try again later", t + secs(100))
        .await
        .unwrap();
    store
        .mark_email_failed(given_up, 1, "permanent error (550): no such user", t + secs(3))
        .await
        .unwrap();

    let row = listed_one(&store, delivered).await;
    assert_eq!(
        (row.status.as_str(), row.attempts, row.last_error, row.sent_at),
        ("sent", 1, None, Some(t + secs(2)))
    );
    let row = listed_one(&store, retried).await;
    assert_eq!(
        (row.status.as_str(), row.attempts, row.last_error.as_deref(), row.sent_at),
        ("queued", 1, Some("transient error (451): try again later"), None)
    );
    let row = listed_one(&store, given_up).await;
    assert_eq!(
        (row.status.as_str(), row.attempts, row.last_error.as_deref(), row.sent_at),
        ("failed", 1, Some("permanent error (550): no such user"), None)
    );
    for (status, expected) in [("sent", delivered), ("queued", retried), ("failed", given_up)] {
        let filter = EmailFilter {
            status: Some(status.into()),
            ..EmailFilter::default()
        };
        assert_eq!(listed(&store, filter).await, [expected], "status filter {status}");
    }

    // The rescheduled message is due again at its time, not before; sent and failed never are.
    assert!(store.claim_emails(t + secs(99), t + secs(159), 10).await.unwrap().is_empty());
    let again = store.claim_emails(t + secs(100), t + secs(160), 10).await.unwrap();
    assert_eq!((ids(&again), again[0].attempts), (vec![retried], 2));
    store.mark_email_sent(retried, 2, t + secs(101)).await.unwrap();
    let row = listed_one(&store, retried).await;
    assert_eq!(
        (row.status.as_str(), row.attempts, row.sent_at, row.last_error.as_deref()),
        ("sent", 2, Some(t + secs(101)), Some("transient error (451): try again later")),
        "the last error stays visible after a later success"
    );
}

pub async fn outcomes_apply_only_to_messages_being_sent(store: Db) {
    let t = now();
    let unknown = EmailId::new();
    assert!(matches!(store.mark_email_sent(unknown, 1, t).await, Err(StoreError::NotFound)));
    assert!(matches!(
        store.reschedule_email(unknown, 1, "x", t).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.mark_email_failed(unknown, 1, "x", t).await,
        Err(StoreError::NotFound)
    ));

    // A queued message that nobody claimed cannot be marked.
    let queued = queue(&store, "a@example.com", "welcome", t, 0).await;
    assert!(matches!(store.mark_email_sent(queued, 0, t).await, Err(StoreError::NotFound)));
    assert!(matches!(
        store.mark_email_failed(queued, 0, "x", t).await,
        Err(StoreError::NotFound)
    ));
    let row = listed_one(&store, queued).await;
    assert_eq!((row.status.as_str(), row.attempts, row.last_error), ("queued", 0, None));

    // Once sent, a late failure report of another claimer changes nothing.
    store.claim_emails(t + secs(1), t + secs(61), 10).await.unwrap();
    store.mark_email_sent(queued, 1, t + secs(2)).await.unwrap();
    assert!(matches!(
        store.mark_email_failed(queued, 1, "late", t + secs(3)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.reschedule_email(queued, 1, "late", t + secs(3)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.mark_email_sent(queued, 1, t + secs(4)).await,
        Err(StoreError::NotFound)
    ));
    let row = listed_one(&store, queued).await;
    assert_eq!(
        (row.status.as_str(), row.sent_at, row.last_error),
        ("sent", Some(t + secs(2)), None)
    );
}

pub async fn concurrent_claimers_take_disjoint_sets_covering_every_message(store: Db) {
    const MESSAGES: usize = 60;
    const CLAIMERS: usize = 6;
    let t = now();
    let mut queued = HashSet::new();
    for i in 0..MESSAGES {
        queued.insert(queue(&store, &format!("user{i}@example.com"), "welcome", t, (i % 7) as i64).await);
    }
    let claimers: Vec<_> = (0..CLAIMERS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = store.claim_emails(t + secs(10), t + secs(70), 4).await.expect("claim emails");
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|c| (c.id, c.attempts)));
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut total = 0;
    for claimer in claimers {
        for (id, attempts) in claimer.await.expect("claimer task") {
            assert_eq!(attempts, 1, "no message is claimed twice");
            assert!(seen.insert(id), "{id} was claimed by two claimers");
            total += 1;
        }
    }
    assert_eq!(total, MESSAGES);
    assert_eq!(seen, queued, "every due message was claimed exactly once");
    assert!(store.claim_emails(t + secs(10), t + secs(70), 100).await.unwrap().is_empty());
    let page = store.list_emails(&EmailFilter::default(), PageRequest::new(1, 100)).await.unwrap();
    assert!(page.items.iter().all(|e| e.status == "sending" && e.attempts == 1));
}
