//! What the admin panel needs from a store: retrying a failed email (`OutboxStore::retry_email`)
//! and the moderation list of every product (`CatalogStore::list_all_products`).

use crate::domain::{AdminProductFilter, AuditFilter, EmailFilter, OutboxEmail, ProductQuery};
use crate::domain::{EmailId, PageRequest, ProductStatus, VendorStatus};
use crate::storage::StoreError;

use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_panel {
    ($callback:ident) => {
        $callback! {
            group: panel,
            store: [
                retry_email_requeues_a_failed_message_with_its_audit_row,
                retry_email_refuses_other_statuses_and_unknown_ids,
                retry_email_is_one_transaction_with_its_audit_row,
                list_all_products_sees_every_status_and_vendor_newest_first,
                list_all_products_filters_text_status_and_vendor,
                list_all_products_paginates,
            ],
            sql: [],
        }
    };
}

__conformance_panel!(define_cases);

async fn row(store: &Db, id: EmailId) -> OutboxEmail {
    let page = store
        .list_emails(&EmailFilter::default(), PageRequest::new(1, 100))
        .await
        .expect("list emails");
    page.items.into_iter().find(|e| e.id == id).expect("the message is listed")
}

/// Queues a message and lets it fail for good (one attempt).
async fn failed_email(store: &Db, recipient: &str) -> EmailId {
    let message = mail(recipient, "welcome");
    let id = message.id;
    store.enqueue_email(message).await.unwrap();
    let t = now();
    let claimed = store.claim_emails(t + secs(1), t + secs(60), 100).await.unwrap();
    let attempt = claimed.iter().find(|c| c.id == id).expect("claimed").attempts;
    store
        .mark_email_failed(id, attempt, "permanent error (550): no such user", t + secs(2))
        .await
        .unwrap();
    id
}

pub async fn retry_email_requeues_a_failed_message_with_its_audit_row(store: Db) {
    let admin = new_user(&store, "root@example.com").await;
    let failed = failed_email(&store, "fay@example.com").await;
    assert_eq!(row(&store, failed).await.status, "failed");

    let at = now() + secs(5);
    let audit = audit_of(Some(admin.id), "email.retry", "email", failed, at);
    assert!(store.retry_email(failed, audit, at).await.unwrap());
    let retried = row(&store, failed).await;
    assert_eq!(
        (retried.status.as_str(), retried.attempts, retried.last_error.as_deref()),
        ("queued", 0, Some("permanent error (550): no such user")),
        "queued with its attempts reset; the last error is kept"
    );
    let entries = store
        .list_audit(
            &AuditFilter {
                action: Some("email.retry".into()),
                ..AuditFilter::default()
            },
            PageRequest::new(1, 10),
        )
        .await
        .unwrap();
    assert_eq!(entries.total, 1);
    let entry = &entries.items[0];
    assert_eq!(
        (entry.actor_id, entry.target_type.as_str(), entry.target_id.clone()),
        (Some(admin.id), "email", failed.to_string())
    );

    // Due at once: not before `at`, claimed at it, as a first attempt again.
    assert!(store.claim_emails(at - secs(1), at + secs(60), 10).await.unwrap().is_empty());
    let claimed = store.claim_emails(at, at + secs(60), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|c| (c.id, c.attempts)).collect::<Vec<_>>(), [(failed, 1)]);
    store.mark_email_sent(failed, 1, at + secs(1)).await.unwrap();
    assert_eq!(row(&store, failed).await.status, "sent");
}

pub async fn retry_email_refuses_other_statuses_and_unknown_ids(store: Db) {
    let t = now();
    let queued = mail("q@example.com", "welcome");
    let queued_id = queued.id;
    store.enqueue_email(queued).await.unwrap();
    let failed = failed_email(&store, "f@example.com").await;
    // `queued` was claimed with the failed one; make it `sent`.
    store.mark_email_sent(queued_id, 1, t + secs(3)).await.unwrap();
    let sending = mail("s@example.com", "welcome");
    let sending_id = sending.id;
    store.enqueue_email(sending).await.unwrap();
    store.claim_emails(t + secs(10), t + secs(70), 10).await.unwrap();
    let waiting = mail("w@example.com", "welcome");
    let waiting_id = waiting.id;
    store.enqueue_email(waiting).await.unwrap();
    let audits = audit_count(&store).await;

    for (id, status) in [(queued_id, "sent"), (sending_id, "sending"), (waiting_id, "queued")] {
        let before = row(&store, id).await;
        assert_eq!(before.status, status);
        let audit = audit_of(None, "email.retry", "email", id, t);
        assert!(!store.retry_email(id, audit, t).await.unwrap(), "{status} is not retried");
        assert_eq!(row(&store, id).await, before, "{status}: unchanged");
    }
    let unknown = EmailId::new();
    assert!(matches!(
        store
            .retry_email(unknown, audit_of(None, "email.retry", "email", unknown, t), t)
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(audit_count(&store).await, audits, "no audit row for a refusal");

    // Retried once, it is queued: a second retry is refused too.
    assert!(
        store
            .retry_email(failed, audit_of(None, "email.retry", "email", failed, t), t)
            .await
            .unwrap()
    );
    assert!(
        !store
            .retry_email(failed, audit_of(None, "email.retry", "email", failed, t), t)
            .await
            .unwrap()
    );
    assert_eq!(audit_count(&store).await, audits + 1);
}

pub async fn retry_email_is_one_transaction_with_its_audit_row(store: Db) {
    let first = failed_email(&store, "a@example.com").await;
    let second = failed_email(&store, "b@example.com").await;
    let t = now();
    let audit = audit_of(None, "email.retry", "email", first, t);
    assert!(store.retry_email(first, audit.clone(), t).await.unwrap());
    // The same audit row id again: the audit insert fails, so the email must stay failed.
    let clash = store.retry_email(second, audit, t).await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    let unchanged = row(&store, second).await;
    assert_eq!((unchanged.status.as_str(), unchanged.attempts), ("failed", 1));
}

/// Four products, created a second apart in this order: `Blue Lagoon` (published) of Ana,
/// `Red Draft` (draft) of Ana, `Old Archive` (archived) of Ana, `Blue Hidden` (published) of a
/// pending shop.
struct Moderation {
    ana: crate::domain::VendorId,
    pending: crate::domain::VendorId,
    lagoon: crate::domain::ProductId,
    draft: crate::domain::ProductId,
    archive: crate::domain::ProductId,
    hidden: crate::domain::ProductId,
}

async fn moderation(store: &Db) -> Moderation {
    let ana = approved_vendor(store, "ana@example.com", "Ana Oils").await;
    let (_, pending) = applicant_at(store, "pat@example.com", "Pat Prints", now()).await;
    let t = now();
    let mut ids = Vec::new();
    for (i, (vendor, title, status)) in [
        (ana.id, "Blue Lagoon", ProductStatus::Published),
        (ana.id, "Red Draft", ProductStatus::Draft),
        (ana.id, "Old Archive", ProductStatus::Archived),
        (pending.id, "Blue Hidden", ProductStatus::Published),
    ]
    .into_iter()
    .enumerate()
    {
        let record = crate::storage::NewProduct {
            status,
            at: t + secs(i as i64),
            ..product(vendor, seeded::paintings(), title)
        };
        ids.push(add_product(store, record).await.id);
    }
    Moderation {
        ana: ana.id,
        pending: pending.id,
        lagoon: ids[0],
        draft: ids[1],
        archive: ids[2],
        hidden: ids[3],
    }
}

async fn all(store: &Db, filter: AdminProductFilter) -> Vec<crate::domain::ProductId> {
    let page = store
        .list_all_products(&filter, PageRequest::new(1, 100))
        .await
        .expect("list all products");
    assert_eq!(page.total, page.items.len() as i64, "the total counts the same rows");
    page.items.into_iter().map(|p| p.id).collect()
}

pub async fn list_all_products_sees_every_status_and_vendor_newest_first(store: Db) {
    let m = moderation(&store).await;
    store.add_product_image(image(m.draft, "draft-1"), 10).await.unwrap();
    assert_eq!(
        all(&store, AdminProductFilter::default()).await,
        [m.hidden, m.archive, m.draft, m.lagoon]
    );
    let page = store
        .list_all_products(&AdminProductFilter::default(), PageRequest::new(1, 100))
        .await
        .unwrap();
    let draft = page.items.iter().find(|p| p.id == m.draft).unwrap();
    assert_eq!(
        (draft.status, draft.vendor.id, draft.images.len()),
        (ProductStatus::Draft, m.ana, 1),
        "full products, images included"
    );
    let hidden = page.items.iter().find(|p| p.id == m.hidden).unwrap();
    assert_eq!(hidden.vendor.status, VendorStatus::Pending);

    // The public catalog sees only the published product of the approved shop.
    let public = store
        .list_products(&ProductQuery::default(), PageRequest::new(1, 100))
        .await
        .unwrap();
    assert_eq!(public.items.iter().map(|p| p.id).collect::<Vec<_>>(), [m.lagoon]);
}

pub async fn list_all_products_filters_text_status_and_vendor(store: Db) {
    let m = moderation(&store).await;
    let q = |text: &str| AdminProductFilter {
        q: Some(text.into()),
        ..AdminProductFilter::default()
    };
    assert_eq!(all(&store, q("blue")).await, [m.hidden, m.lagoon], "title, any vendor");
    assert_eq!(all(&store, q("  BLUE ")).await, [m.hidden, m.lagoon], "case-insensitive, trimmed");
    assert_eq!(all(&store, q("lagoon")).await, [m.lagoon]);
    assert_eq!(all(&store, q("red-draft")).await, [m.draft], "the slug");
    assert_eq!(all(&store, q("   ")).await.len(), 4, "a blank query is no filter");
    for wildcard in ["%", "_", "\\"] {
        assert!(all(&store, q(wildcard)).await.is_empty(), "{wildcard} is literal");
    }
    let status = |s: ProductStatus| AdminProductFilter {
        status: Some(s),
        ..AdminProductFilter::default()
    };
    assert_eq!(all(&store, status(ProductStatus::Draft)).await, [m.draft]);
    assert_eq!(all(&store, status(ProductStatus::Archived)).await, [m.archive]);
    assert_eq!(all(&store, status(ProductStatus::Published)).await, [m.hidden, m.lagoon]);
    let vendor = |v| AdminProductFilter {
        vendor_id: Some(v),
        ..AdminProductFilter::default()
    };
    assert_eq!(all(&store, vendor(m.ana)).await, [m.archive, m.draft, m.lagoon]);
    assert_eq!(all(&store, vendor(m.pending)).await, [m.hidden]);
    let combined = AdminProductFilter {
        q: Some("blue".into()),
        status: Some(ProductStatus::Published),
        vendor_id: Some(m.ana),
    };
    assert_eq!(all(&store, combined).await, [m.lagoon], "filters combine");
    assert!(
        all(&store, vendor(crate::domain::VendorId::new())).await.is_empty(),
        "an unknown vendor has none"
    );
}

pub async fn list_all_products_paginates(store: Db) {
    let m = moderation(&store).await;
    let filter = AdminProductFilter::default();
    let first = store.list_all_products(&filter, PageRequest::new(1, 3)).await.unwrap();
    let second = store.list_all_products(&filter, PageRequest::new(2, 3)).await.unwrap();
    let beyond = store.list_all_products(&filter, PageRequest::new(3, 3)).await.unwrap();
    assert_eq!((first.total, second.total, beyond.total), (4, 4, 4));
    assert_eq!(first.items.iter().map(|p| p.id).collect::<Vec<_>>(), [m.hidden, m.archive, m.draft]);
    assert_eq!(second.items.iter().map(|p| p.id).collect::<Vec<_>>(), [m.lagoon]);
    assert!(beyond.items.is_empty());
}
