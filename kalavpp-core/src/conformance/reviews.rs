//! `ReviewStore`: inserting (one review per product and user), lookups, the visible list newest
//! first, `has_bought` (paid and completed orders only), author edits, admin hiding and deletion
//! with their audit rows, and the product's and vendor's rating aggregates kept in step with every
//! change (visible reviews only, rounded half up to two decimals), also under concurrency.

use uuid::Uuid;

use crate::domain::{AuditFilter, Product, Review};
use crate::domain::{OrderStatus, PageRequest, ProductId, ReviewId, UserId, VendorId};
use crate::storage::Conflict;
use crate::storage::{Fulfilment, NewReview, Refund, ReviewEdit};

use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_reviews {
    ($callback:ident) => {
        $callback! {
            group: reviews,
            store: [
                insert_review_round_trips_and_rates_product_and_vendor,
                second_review_of_a_product_by_a_user_is_a_conflict,
                review_of_an_unknown_product_is_not_found,
                unknown_review_is_none_and_not_found_everywhere,
                list_product_reviews_shows_visible_reviews_newest_first,
                list_reviews_shows_every_review_newest_first_for_moderation,
                averages_follow_every_change_on_product_and_vendor,
                averages_round_half_up_to_two_decimals,
                has_bought_counts_paid_and_completed_orders_only,
                update_review_changes_only_given_fields_of_the_authors_review,
                hiding_and_unhiding_write_audit_rows_in_the_same_transaction,
                delete_review_with_and_without_audit,
                concurrent_reviews_keep_the_aggregates_exact,
            ],
            sql: [],
        }
    };
}

__conformance_reviews!(define_cases);

/// A review of `product` by `user_id` with `rating`, written now.
fn review(product: &Product, user_id: UserId, rating: i32) -> NewReview {
    NewReview {
        id: ReviewId::new(),
        product_id: product.id,
        user_id,
        rating,
        title: Some(format!("{rating} stars")),
        body: format!("A {rating}-star work."),
        at: now(),
    }
}

async fn write(store: &Db, record: NewReview) -> Review {
    store.insert_review(record).await.expect("insert review")
}

/// `(rating_avg, rating_count)` of a product now.
async fn product_rating(store: &Db, id: ProductId) -> (f64, i64) {
    let product = store.product_by_id(id).await.unwrap().expect("product");
    (product.rating_avg, product.rating_count)
}

/// `(rating_avg, rating_count)` of a vendor now.
async fn vendor_rating(store: &Db, id: VendorId) -> (f64, i64) {
    let vendor = store.vendor_by_id(id).await.unwrap().expect("vendor");
    (vendor.rating_avg, vendor.rating_count)
}

/// Ids of the visible reviews of a product, in the order listed.
async fn listed(store: &Db, product_id: ProductId) -> Vec<ReviewId> {
    let page = store
        .list_product_reviews(product_id, PageRequest::new(1, 100))
        .await
        .expect("list reviews");
    assert_eq!(page.total, page.items.len() as i64, "one page holds them all");
    page.items.into_iter().map(|r| r.id).collect()
}

/// `count` new customers `<prefix>-<n>@example.com`.
async fn customers(store: &Db, prefix: &str, count: usize) -> Vec<UserId> {
    let mut ids = Vec::new();
    for n in 0..count {
        ids.push(new_user(store, &format!("{prefix}-{n}@example.com")).await.id);
    }
    ids
}

fn edit(id: ReviewId, author_id: UserId) -> ReviewEdit {
    ReviewEdit {
        id,
        author_id,
        rating: None,
        title: None,
        body: None,
        at: now(),
    }
}

fn hide_audit(admin: UserId, id: ReviewId, hidden: bool) -> crate::storage::NewAudit {
    let action = if hidden { "review.hide" } else { "review.unhide" };
    let mut audit = audit_of(Some(admin), action, "review", id, now());
    audit.details = serde_json::json!({ "hidden": hidden });
    audit
}

pub async fn insert_review_round_trips_and_rates_product_and_vendor(store: Db) {
    let shop = shop(&store).await;
    let author = new_user_at(&store, "rita@example.com", "Rita Reviewer", now()).await;
    let at = now();
    let record = NewReview {
        title: Some("Naïve “quotes” 'and' \\ more".into()),
        body: "<script>alert(1)</script>\nSecond line — with ünïcödé and 'quotes' \\ %_".into(),
        at,
        ..review(&shop.print, author.id, 4)
    };
    let stored = write(&store, record.clone()).await;
    assert_eq!(
        stored,
        Review {
            id: record.id,
            product_id: shop.print.id,
            vendor_id: shop.alice.id,
            user_id: author.id,
            author_name: "Rita Reviewer".into(),
            rating: 4,
            title: record.title.clone(),
            body: record.body.clone(),
            hidden: false,
            created_at: at,
            updated_at: at,
        },
        "text is stored exactly as given; the vendor comes from the product"
    );
    assert_eq!(store.review_by_id(record.id).await.unwrap(), Some(stored));
    assert_eq!(product_rating(&store, shop.print.id).await, (4.0, 1));
    assert_eq!(vendor_rating(&store, shop.alice.id).await, (4.0, 1));
    assert_eq!(product_rating(&store, shop.ebook.id).await, (0.0, 0), "other products untouched");
    assert_eq!(vendor_rating(&store, shop.bruno.id).await, (0.0, 0), "other vendors untouched");

    // A review without a title.
    let untitled = write(
        &store,
        NewReview {
            title: None,
            ..review(&shop.vase, author.id, 5)
        },
    )
    .await;
    assert_eq!((untitled.title, untitled.vendor_id), (None, shop.bruno.id));
    assert_eq!(vendor_rating(&store, shop.bruno.id).await, (5.0, 1));
}

pub async fn second_review_of_a_product_by_a_user_is_a_conflict(store: Db) {
    let shop = shop(&store).await;
    let first = write(&store, review(&shop.print, shop.buyer.id, 5)).await;
    assert_conflict(
        store.insert_review(review(&shop.print, shop.buyer.id, 1)).await,
        Conflict::AlreadyReviewed,
    );
    assert_eq!(listed(&store, shop.print.id).await, vec![first.id]);
    assert_eq!(product_rating(&store, shop.print.id).await, (5.0, 1), "nothing changed");
    assert_eq!(vendor_rating(&store, shop.alice.id).await, (5.0, 1));

    // A hidden review still counts as the user's review of the product.
    store
        .set_review_hidden(first.id, true, hide_audit(shop.alice.user_id, first.id, true))
        .await
        .unwrap();
    assert_conflict(
        store.insert_review(review(&shop.print, shop.buyer.id, 3)).await,
        Conflict::AlreadyReviewed,
    );

    // The same user may review another product; another user the same product.
    write(&store, review(&shop.ebook, shop.buyer.id, 2)).await;
    let other = new_user(&store, "olga@example.com").await;
    write(&store, review(&shop.print, other.id, 3)).await;
    assert_eq!(product_rating(&store, shop.print.id).await, (3.0, 1));
    assert_eq!(vendor_rating(&store, shop.alice.id).await, (2.5, 2));
}

pub async fn review_of_an_unknown_product_is_not_found(store: Db) {
    let shop = shop(&store).await;
    let mut record = review(&shop.print, shop.buyer.id, 5);
    record.product_id = ProductId::new();
    assert_not_found(store.insert_review(record).await);
    assert_eq!(
        store
            .list_product_reviews(shop.print.id, PageRequest::default())
            .await
            .unwrap()
            .total,
        0
    );
}

pub async fn unknown_review_is_none_and_not_found_everywhere(store: Db) {
    let shop = shop(&store).await;
    let admin = new_user(&store, "ada@example.com").await;
    let unknown = ReviewId::new();
    assert_eq!(store.review_by_id(unknown).await.unwrap(), None);
    assert_not_found(store.update_review(edit(unknown, shop.buyer.id)).await);
    assert_not_found(store.set_review_hidden(unknown, true, hide_audit(admin.id, unknown, true)).await);
    let audit = audit_of(Some(admin.id), "review.delete", "review", unknown, now());
    assert_not_found(store.delete_review(unknown, Some(audit)).await);
    assert_not_found(store.delete_review(unknown, None).await);
    assert_eq!(
        audit_count(&store).await,
        2,
        "only the two vendor approvals of the shop are audited"
    );
    let empty = store.list_product_reviews(shop.print.id, PageRequest::default()).await.unwrap();
    assert_eq!((empty.items.len(), empty.page, empty.per_page, empty.total), (0, 1, 20, 0));
}

pub async fn list_product_reviews_shows_visible_reviews_newest_first(store: Db) {
    let shop = shop(&store).await;
    let users = customers(&store, "reader", 5).await;
    let base = now();
    // Ids chosen so that the tie between the last two is decided by id (larger first).
    let id = |n: u128| ReviewId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n));
    let at = [base - secs(40), base - secs(30), base - secs(20), base - secs(10), base - secs(10)];
    let mut written = Vec::new();
    for (n, user) in users.iter().enumerate() {
        let record = NewReview {
            id: id(n as u128 + 1),
            at: at[n],
            ..review(&shop.print, *user, 1 + n as i32)
        };
        written.push(write(&store, record).await);
    }
    // Another product's review is never listed here.
    write(&store, review(&shop.ebook, users[0], 5)).await;
    let ids: Vec<ReviewId> = written.iter().map(|r| r.id).collect();
    assert_eq!(listed(&store, shop.print.id).await, vec![ids[4], ids[3], ids[2], ids[1], ids[0]]);

    let admin = new_user(&store, "ada@example.com").await;
    store
        .set_review_hidden(ids[2], true, hide_audit(admin.id, ids[2], true))
        .await
        .unwrap();
    assert_eq!(
        listed(&store, shop.print.id).await,
        vec![ids[4], ids[3], ids[1], ids[0]],
        "hidden reviews are not listed"
    );
    assert_eq!(
        store.review_by_id(ids[2]).await.unwrap().map(|r| r.hidden),
        Some(true),
        "but can still be read by id"
    );

    let page = store.list_product_reviews(shop.print.id, PageRequest::new(2, 3)).await.unwrap();
    assert_eq!((page.page, page.per_page, page.total), (2, 3, 4));
    assert_eq!(page.items.iter().map(|r| r.id).collect::<Vec<_>>(), vec![ids[0]]);
    assert_eq!(page.items[0], written[0], "listed reviews are whole");
    let past = store.list_product_reviews(shop.print.id, PageRequest::new(3, 3)).await.unwrap();
    assert_eq!((past.items.len(), past.total), (0, 4));
    assert_eq!(listed(&store, shop.vase.id).await, Vec::<ReviewId>::new());
}

pub async fn averages_follow_every_change_on_product_and_vendor(store: Db) {
    let shop = shop(&store).await;
    let admin = new_user(&store, "ada@example.com").await;
    let users = customers(&store, "rater", 3).await;
    let five = write(&store, review(&shop.print, users[0], 5)).await;
    let four = write(&store, review(&shop.print, users[1], 4)).await;
    assert_eq!(product_rating(&store, shop.print.id).await, (4.5, 2));
    let on_ebook = write(&store, review(&shop.ebook, users[2], 2)).await;
    assert_eq!(product_rating(&store, shop.print.id).await, (4.5, 2));
    assert_eq!(product_rating(&store, shop.ebook.id).await, (2.0, 1));
    // The vendor's average is over all reviews of all its products: (5 + 4 + 2) / 3.
    assert_eq!(vendor_rating(&store, shop.alice.id).await, (3.67, 3));

    // Edit: 4 → 1.
    store
        .update_review(ReviewEdit {
            rating: Some(1),
            ..edit(four.id, users[1])
        })
        .await
        .unwrap();
    assert_eq!(product_rating(&store, shop.print.id).await, (3.0, 2));
    assert_eq!(vendor_rating(&store, shop.alice.id).await, (2.67, 3));

    // Hide the 5: only the 1 is left on the print.
    store
        .set_review_hidden(five.id, true, hide_audit(admin.id, five.id, true))
        .await
        .unwrap();
    assert_eq!(product_rating(&store, shop.print.id).await, (1.0, 1));
    assert_eq!(vendor_rating(&store, shop.alice.id).await, (1.5, 2));
    // Hiding again changes nothing.
    store
        .set_review_hidden(five.id, true, hide_audit(admin.id, five.id, true))
        .await
        .unwrap();
    assert_eq!(product_rating(&store, shop.print.id).await, (1.0, 1));

    // Editing a hidden review keeps it out of the averages.
    let edited = store
        .update_review(ReviewEdit {
            rating: Some(3),
            ..edit(five.id, users[0])
        })
        .await
        .unwrap();
    assert!(edited.hidden);
    assert_eq!(product_rating(&store, shop.print.id).await, (1.0, 1));

    // Unhide: back in, with its edited rating.
    store
        .set_review_hidden(five.id, false, hide_audit(admin.id, five.id, false))
        .await
        .unwrap();
    assert_eq!(product_rating(&store, shop.print.id).await, (2.0, 2));
    assert_eq!(vendor_rating(&store, shop.alice.id).await, (2.0, 3));

    // Delete, down to nothing: averages return to 0.
    store.delete_review(four.id, None).await.unwrap();
    assert_eq!(product_rating(&store, shop.print.id).await, (3.0, 1));
    assert_eq!(vendor_rating(&store, shop.alice.id).await, (2.5, 2));
    store.delete_review(five.id, None).await.unwrap();
    assert_eq!(product_rating(&store, shop.print.id).await, (0.0, 0));
    assert_eq!(vendor_rating(&store, shop.alice.id).await, (2.0, 1));
    store
        .set_review_hidden(on_ebook.id, true, hide_audit(admin.id, on_ebook.id, true))
        .await
        .unwrap();
    assert_eq!(product_rating(&store, shop.ebook.id).await, (0.0, 0), "only hidden reviews: 0");
    assert_eq!(vendor_rating(&store, shop.alice.id).await, (0.0, 0));
    assert_eq!(vendor_rating(&store, shop.bruno.id).await, (0.0, 0), "never touched");
    assert_eq!(product_rating(&store, shop.vase.id).await, (0.0, 0));
}

pub async fn averages_round_half_up_to_two_decimals(store: Db) {
    let shop = shop(&store).await;
    let users = customers(&store, "rounder", 8).await;
    // 33 / 8 = 4.125 exactly → 4.13 (half up, on both backends).
    for (user, rating) in users.iter().zip([5, 5, 4, 4, 4, 4, 4, 3]) {
        write(&store, review(&shop.vase, *user, rating)).await;
    }
    assert_eq!(product_rating(&store, shop.vase.id).await, (4.13, 8));
    assert_eq!(vendor_rating(&store, shop.bruno.id).await, (4.13, 8));
    // 14 / 3 = 4.666… → 4.67; 13 / 3 = 4.333… → 4.33.
    for (user, rating) in users.iter().zip([5, 5, 4]) {
        write(&store, review(&shop.print, *user, rating)).await;
    }
    assert_eq!(product_rating(&store, shop.print.id).await, (4.67, 3));
    for (user, rating) in users.iter().skip(3).zip([5, 4, 4]) {
        write(&store, review(&shop.ebook, *user, rating)).await;
    }
    assert_eq!(product_rating(&store, shop.ebook.id).await, (4.33, 3));
    // Alice: (14 + 13) / 6 = 4.5.
    assert_eq!(vendor_rating(&store, shop.alice.id).await, (4.5, 6));
}

pub async fn has_bought_counts_paid_and_completed_orders_only(store: Db) {
    let shop = shop(&store).await;
    let buyer = shop.buyer.id;
    let bought = |product: ProductId| {
        let store = store.clone();
        async move { store.has_bought(buyer, product).await.expect("has bought") }
    };
    assert!(!bought(shop.print.id).await, "no order at all");

    // Unpaid, then cancelled.
    let unpaid = place(&store, order_of(buyer, vec![line(&shop.print, 1, 1_000)])).await;
    assert!(!bought(shop.print.id).await, "pending_payment does not count");
    store.cancel_order(unpaid.id, buyer, now()).await.unwrap();
    assert!(!bought(shop.print.id).await, "cancelled does not count");

    // Paid: the print and the e-book, not the vase; not for another user.
    let paid = place(
        &store,
        order_of(buyer, vec![line(&shop.print, 1, 1_000), line(&shop.ebook, 1, 1_000)]),
    )
    .await;
    pay(&store, paid.id).await;
    assert!(bought(shop.print.id).await, "paid counts");
    assert!(bought(shop.ebook.id).await);
    assert!(!bought(shop.vase.id).await, "a product not in the order");
    let stranger = new_user(&store, "stranger@example.com").await;
    assert!(!store.has_bought(stranger.id, shop.print.id).await.unwrap(), "another user's order");

    // Completed (the print shipped) still counts.
    store
        .fulfil_item(Fulfilment {
            vendor_id: shop.alice.id,
            order_id: paid.id,
            item_id: paid.items[0].id,
            tracking_number: None,
            carrier: None,
            release_now: true,
            at: now(),
        })
        .await
        .unwrap();
    assert_eq!(order_now(&store, paid.id).await.status, OrderStatus::Completed);
    assert!(bought(shop.print.id).await, "completed counts");

    // Refunded does not.
    let at = now();
    store
        .refund_order(Refund {
            order_id: paid.id,
            refund_id: "re_1".into(),
            intent_id: None,
            audit: audit_of(None, "order.refund", "order", paid.id, at),
            email: None,
            at,
        })
        .await
        .unwrap();
    assert!(!bought(shop.print.id).await, "refunded does not count");
    assert!(!bought(shop.ebook.id).await);

    // Another paid order of the vase: only the vase.
    let vase = place(&store, order_of(buyer, vec![line(&shop.vase, 1, 1_000)])).await;
    pay(&store, vase.id).await;
    assert!(bought(shop.vase.id).await);
    assert!(!bought(shop.print.id).await);
}

pub async fn update_review_changes_only_given_fields_of_the_authors_review(store: Db) {
    let shop = shop(&store).await;
    let original = write(&store, review(&shop.print, shop.buyer.id, 2)).await;
    let other = new_user(&store, "olga@example.com").await;

    // Someone else's edit is NotFound and changes nothing.
    assert_not_found(
        store
            .update_review(ReviewEdit {
                rating: Some(5),
                ..edit(original.id, other.id)
            })
            .await,
    );
    assert_eq!(store.review_by_id(original.id).await.unwrap().as_ref(), Some(&original));

    // Only the body.
    let at = now() + secs(5);
    let body_only = store
        .update_review(ReviewEdit {
            body: Some("Better than I thought. <b>bold</b>".into()),
            at,
            ..edit(original.id, shop.buyer.id)
        })
        .await
        .unwrap();
    assert_eq!(
        body_only,
        Review {
            body: "Better than I thought. <b>bold</b>".into(),
            updated_at: at,
            ..original.clone()
        }
    );
    assert_eq!(product_rating(&store, shop.print.id).await, (2.0, 1));

    // Rating and a new title.
    let at = now() + secs(10);
    let rated = store
        .update_review(ReviewEdit {
            rating: Some(5),
            title: Some(Some("Superb".into())),
            at,
            ..edit(original.id, shop.buyer.id)
        })
        .await
        .unwrap();
    assert_eq!((rated.rating, rated.title.as_deref(), rated.updated_at), (5, Some("Superb"), at));
    assert_eq!(rated.body, body_only.body);
    assert_eq!(rated.created_at, original.created_at);
    assert_eq!(product_rating(&store, shop.print.id).await, (5.0, 1));
    assert_eq!(vendor_rating(&store, shop.alice.id).await, (5.0, 1));

    // `Some(None)` clears the title.
    let cleared = store
        .update_review(ReviewEdit {
            title: Some(None),
            ..edit(original.id, shop.buyer.id)
        })
        .await
        .unwrap();
    assert_eq!((cleared.title.as_deref(), cleared.rating), (None, 5));
    assert_eq!(store.review_by_id(original.id).await.unwrap(), Some(cleared));
}

pub async fn hiding_and_unhiding_write_audit_rows_in_the_same_transaction(store: Db) {
    let shop = shop(&store).await;
    let admin = new_user(&store, "ada@example.com").await;
    let stored = write(&store, review(&shop.print, shop.buyer.id, 4)).await;
    let before = audit_count(&store).await;

    let audit = hide_audit(admin.id, stored.id, true);
    let at = audit.at;
    let hidden = store.set_review_hidden(stored.id, true, audit.clone()).await.unwrap();
    assert_eq!(
        hidden,
        Review {
            hidden: true,
            updated_at: at,
            ..stored.clone()
        }
    );
    let rows = store
        .list_audit(
            &AuditFilter {
                action: Some("review.hide".into()),
                ..AuditFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(rows.total, 1);
    let row = &rows.items[0];
    assert_eq!(
        (row.id, row.actor_id, row.target_type.as_str(), row.target_id.clone(), row.at),
        (audit.id, Some(admin.id), "review", stored.id.to_string(), at)
    );
    assert_eq!(row.details, serde_json::json!({ "hidden": true }));

    let shown = store
        .set_review_hidden(stored.id, false, hide_audit(admin.id, stored.id, false))
        .await
        .unwrap();
    assert!(!shown.hidden);
    assert_eq!(audit_count(&store).await, before + 2);
    let unhides = store
        .list_audit(
            &AuditFilter {
                action: Some("review.unhide".into()),
                actor_id: Some(admin.id),
                ..AuditFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(unhides.total, 1);

    // An audit row whose id is taken fails the whole change: the review stays visible.
    let mut clash = hide_audit(admin.id, stored.id, true);
    clash.id = audit.id;
    assert!(store.set_review_hidden(stored.id, true, clash).await.is_err());
    assert!(!store.review_by_id(stored.id).await.unwrap().expect("review").hidden);
    assert_eq!(product_rating(&store, shop.print.id).await, (4.0, 1));
    assert_eq!(audit_count(&store).await, before + 2);
}

pub async fn delete_review_with_and_without_audit(store: Db) {
    let shop = shop(&store).await;
    let admin = new_user(&store, "ada@example.com").await;
    let other = new_user(&store, "olga@example.com").await;
    let by_buyer = write(&store, review(&shop.print, shop.buyer.id, 5)).await;
    let by_other = write(&store, review(&shop.print, other.id, 3)).await;
    let before = audit_count(&store).await;

    // The author's own deletion: no audit row.
    store.delete_review(by_buyer.id, None).await.unwrap();
    assert_eq!(store.review_by_id(by_buyer.id).await.unwrap(), None);
    assert_eq!(audit_count(&store).await, before);
    assert_eq!(product_rating(&store, shop.print.id).await, (3.0, 1));
    assert_not_found(store.delete_review(by_buyer.id, None).await);

    // An admin's deletion: audited with the deletion.
    let audit = audit_of(Some(admin.id), "review.delete", "review", by_other.id, now());
    store.delete_review(by_other.id, Some(audit.clone())).await.unwrap();
    assert_eq!(store.review_by_id(by_other.id).await.unwrap(), None);
    let rows = store
        .list_audit(
            &AuditFilter {
                action: Some("review.delete".into()),
                ..AuditFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(rows.total, 1);
    assert_eq!(
        (rows.items[0].id, rows.items[0].target_id.clone()),
        (audit.id, by_other.id.to_string())
    );
    assert_eq!(product_rating(&store, shop.print.id).await, (0.0, 0));
    assert_eq!(vendor_rating(&store, shop.alice.id).await, (0.0, 0));

    // A deleted review may be written again.
    write(&store, review(&shop.print, shop.buyer.id, 1)).await;
    assert_eq!(product_rating(&store, shop.print.id).await, (1.0, 1));
}

pub async fn concurrent_reviews_keep_the_aggregates_exact(store: Db) {
    let shop = shop(&store).await;
    let users = customers(&store, "crowd", 12).await;
    let admin = new_user(&store, "ada@example.com").await;
    // Twelve users review the print and the e-book (the same vendor) at once.
    let mut tasks = Vec::new();
    for (n, user) in users.iter().enumerate() {
        let store = store.clone();
        let product = if n % 2 == 0 { shop.print.clone() } else { shop.ebook.clone() };
        let user = *user;
        let rating = 1 + (n % 5) as i32;
        tasks.push(tokio::spawn(async move {
            store.insert_review(review(&product, user, rating)).await.expect("insert review")
        }));
    }
    let mut written = Vec::new();
    for task in tasks {
        written.push(task.await.expect("task"));
    }
    let aggregate = |reviews: &[&Review]| {
        let count = reviews.len() as i64;
        let sum: i64 = reviews.iter().map(|r| i64::from(r.rating)).sum();
        let avg = if count == 0 {
            0.0
        } else {
            ((200 * sum + count) / (2 * count)) as f64 / 100.0
        };
        (avg, count)
    };
    let print: Vec<&Review> = written.iter().filter(|r| r.product_id == shop.print.id).collect();
    let all: Vec<&Review> = written.iter().collect();
    assert_eq!(print.len(), 6);
    assert_eq!(product_rating(&store, shop.print.id).await, aggregate(&print));
    assert_eq!(vendor_rating(&store, shop.alice.id).await, aggregate(&all));

    // Hide half of them and delete a few others, all at once.
    let mut tasks = Vec::new();
    for (n, review) in written.iter().enumerate() {
        let store = store.clone();
        let id = review.id;
        let admin = admin.id;
        tasks.push(tokio::spawn(async move {
            match n % 3 {
                0 => store.set_review_hidden(id, true, hide_audit(admin, id, true)).await.map(|_| ()),
                1 => store.delete_review(id, None).await,
                _ => Ok(()),
            }
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("change applied");
    }
    let left: Vec<&Review> = written.iter().enumerate().filter(|(n, _)| n % 3 == 2).map(|(_, r)| r).collect();
    let print_left: Vec<&Review> = left.iter().copied().filter(|r| r.product_id == shop.print.id).collect();
    let ebook_left: Vec<&Review> = left.iter().copied().filter(|r| r.product_id == shop.ebook.id).collect();
    assert_eq!(product_rating(&store, shop.print.id).await, aggregate(&print_left));
    assert_eq!(product_rating(&store, shop.ebook.id).await, aggregate(&ebook_left));
    assert_eq!(vendor_rating(&store, shop.alice.id).await, aggregate(&left));
    assert_eq!(listed(&store, shop.print.id).await.len(), print_left.len());
}

pub async fn list_reviews_shows_every_review_newest_first_for_moderation(store: Db) {
    let empty = store.list_reviews(None, PageRequest::new(1, 10)).await.unwrap();
    assert_eq!((empty.items.len(), empty.total), (0, 0));
    let shop = shop(&store).await;
    let users = customers(&store, "critic", 3).await;
    let base = now();
    let id = |n: u128| ReviewId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n));
    // Across products; the last two tie on time and are ordered by id (larger first).
    let plan = [
        (&shop.print, base - secs(30)),
        (&shop.ebook, base - secs(10)),
        (&shop.vase, base - secs(10)),
    ];
    let mut written = Vec::new();
    for (n, (product, at)) in plan.into_iter().enumerate() {
        let record = NewReview {
            id: id(n as u128 + 1),
            at,
            ..review(product, users[n], 3)
        };
        written.push(write(&store, record).await);
    }
    let admin = new_user(&store, "ada@example.com").await;
    let hidden = store
        .set_review_hidden(written[1].id, true, hide_audit(admin.id, written[1].id, true))
        .await
        .unwrap();
    let ids = |page: crate::domain::Page<Review>| page.items.into_iter().map(|r| r.id).collect::<Vec<_>>();

    let all = store.list_reviews(None, PageRequest::new(1, 10)).await.unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(all.items[1], hidden, "listed reviews are whole, hidden flag included");
    assert_eq!(ids(all), vec![written[2].id, written[1].id, written[0].id]);
    let only_hidden = store.list_reviews(Some(true), PageRequest::new(1, 10)).await.unwrap();
    assert_eq!(only_hidden.total, 1);
    assert_eq!(ids(only_hidden), vec![written[1].id]);
    let visible = store.list_reviews(Some(false), PageRequest::new(1, 10)).await.unwrap();
    assert_eq!(visible.total, 2);
    assert_eq!(ids(visible), vec![written[2].id, written[0].id]);

    let second = store.list_reviews(None, PageRequest::new(2, 2)).await.unwrap();
    assert_eq!((second.page, second.per_page, second.total), (2, 2, 3));
    assert_eq!(ids(second), vec![written[0].id]);
}
