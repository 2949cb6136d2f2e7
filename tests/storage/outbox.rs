//! `OutboxStore`: queueing emails and the outbox list.

use kalavpp_core::domain::{EmailId, PageRequest};
use kalavpp_core::storage::{EmailFilter, NewEmail, OutboxEmail, StoreError};

use crate::support::*;

conformance!(
    enqueue_email_round_trips,
    duplicate_email_id_is_a_conflict,
    list_emails_filters_recipient_template_and_status,
    list_emails_paginates_newest_first,
);

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

async fn enqueue_email_round_trips(store: Db) {
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

async fn duplicate_email_id_is_a_conflict(store: Db) {
    let first = mail("ann@example.com", "welcome");
    store.enqueue_email(first.clone()).await.unwrap();
    let clash = NewEmail {
        id: first.id,
        ..mail("bob@example.com", "welcome")
    };
    match store.enqueue_email(clash).await {
        Err(StoreError::Conflict(what)) => assert_eq!(what, "outbox.id"),
        other => panic!("expected Conflict(outbox.id), got {other:?}"),
    }
    let page = store.list_emails(&EmailFilter::default(), PageRequest::default()).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.items[0].recipient, "ann@example.com");
}

async fn list_emails_filters_recipient_template_and_status(store: Db) {
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

async fn list_emails_paginates_newest_first(store: Db) {
    let empty = store.list_emails(&EmailFilter::default(), PageRequest::default()).await.unwrap();
    assert!(empty.items.is_empty());
    assert_eq!(empty.total, 0);

    let t = now();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(queue(&store, &format!("user{i}@example.com"), "welcome", t, i).await);
    }
    let page_of = |page: &kalavpp_core::domain::Page<OutboxEmail>| page.items.iter().map(|e| e.id).collect::<Vec<_>>();

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
