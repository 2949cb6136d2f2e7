//! `DownloadStore`: download links of paid digital lines (count limit, expiry, ownership, the
//! order still paid, the file present), and the count under concurrency.

use uuid::Uuid;

use crate::domain::Order;
use crate::domain::{OrderItemId, ProductKind, UserId};
use crate::storage::{DownloadUse, NewDownloadLink, NewProduct, Refund};

use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_downloads {
    ($callback:ident) => {
        $callback! {
            group: downloads,
            store: [
                new_links_carry_the_lines_remaining_downloads_and_peeks_do_not_count,
                download_link_counts_down_to_exhausted,
                download_link_expires,
                download_link_of_someone_else_or_an_unpaid_order_is_unknown,
                download_link_without_a_file_is_unknown_and_not_counted,
                concurrent_downloads_never_exceed_the_limit,
            ],
            sql: [],
        }
    };
}

__conformance_downloads!(define_cases);

fn link(order_item_id: OrderItemId, user_id: UserId, downloads: i32, valid_for: i64) -> NewDownloadLink {
    let at = now();
    NewDownloadLink {
        id: Uuid::new_v4(),
        order_item_id,
        user_id,
        expires_at: at + secs(valid_for),
        downloads,
        at,
    }
}

/// A paid order of one e-book; returns it.
async fn ebook_order(store: &Db, shop: &Shop) -> Order {
    let order = place(store, order_of(shop.buyer.id, vec![line(&shop.ebook, 1, 1_000)])).await;
    pay(store, order.id).await;
    order_now(store, order.id).await
}

async fn granted(store: &Db, shop: &Shop, downloads_left: i32) -> DownloadUse {
    let asset = store.product_asset(shop.ebook.id).await.unwrap().expect("the e-book has an asset");
    DownloadUse::Granted {
        key: asset.key,
        filename: "night-guide.pdf".into(),
        size_bytes: 123_456,
        downloads_left,
    }
}

pub async fn download_link_counts_down_to_exhausted(store: Db) {
    let shop = shop(&store).await;
    let order = ebook_order(&store, &shop).await;
    let new = link(order.items[0].id, shop.buyer.id, 3, 86_400);
    let id = new.id;
    store.create_download_link(new).await.unwrap();
    for left in [2, 1, 0] {
        assert_eq!(
            store.use_download_link(id, shop.buyer.id, now()).await.unwrap(),
            granted(&store, &shop, left).await
        );
    }
    for _ in 0..2 {
        assert_eq!(
            store.use_download_link(id, shop.buyer.id, now()).await.unwrap(),
            DownloadUse::Exhausted
        );
    }
    // The limit is the line's: another link of the same line carries what is left (nothing).
    let second = link(order.items[0].id, shop.buyer.id, 1, 86_400);
    let second_id = second.id;
    assert_eq!(store.create_download_link(second).await.unwrap(), 0);
    assert_eq!(
        store.use_download_link(second_id, shop.buyer.id, now()).await.unwrap(),
        DownloadUse::Exhausted
    );
    let none = link(order.items[0].id, shop.buyer.id, 0, 86_400);
    let none_id = none.id;
    store.create_download_link(none).await.unwrap();
    assert_eq!(
        store.use_download_link(none_id, shop.buyer.id, now()).await.unwrap(),
        DownloadUse::Exhausted
    );
    // A duplicate link id is refused.
    assert!(
        store
            .create_download_link(NewDownloadLink {
                id,
                ..link(order.items[0].id, shop.buyer.id, 5, 60)
            })
            .await
            .is_err()
    );
    assert_eq!(
        store.use_download_link(id, shop.buyer.id, now()).await.unwrap(),
        DownloadUse::Exhausted
    );
}

pub async fn download_link_expires(store: Db) {
    let shop = shop(&store).await;
    let order = ebook_order(&store, &shop).await;
    let new = link(order.items[0].id, shop.buyer.id, 5, 3_600);
    let (id, expires_at) = (new.id, new.expires_at);
    store.create_download_link(new).await.unwrap();
    assert_eq!(
        store.use_download_link(id, shop.buyer.id, expires_at - secs(1)).await.unwrap(),
        granted(&store, &shop, 4).await
    );
    assert_eq!(
        store.use_download_link(id, shop.buyer.id, expires_at).await.unwrap(),
        DownloadUse::Expired,
        "at its expiry"
    );
    assert_eq!(
        store.use_download_link(id, shop.buyer.id, expires_at + secs(1)).await.unwrap(),
        DownloadUse::Expired
    );
    // Expired links are not counted: before the expiry the count went on from where it was.
    assert_eq!(
        store.use_download_link(id, shop.buyer.id, expires_at - secs(1)).await.unwrap(),
        granted(&store, &shop, 3).await
    );
    // Expiry is reported before exhaustion.
    let spent = link(order.items[0].id, shop.buyer.id, 0, -60);
    let spent_id = spent.id;
    store.create_download_link(spent).await.unwrap();
    assert_eq!(
        store.use_download_link(spent_id, shop.buyer.id, now()).await.unwrap(),
        DownloadUse::Expired
    );
}

pub async fn download_link_of_someone_else_or_an_unpaid_order_is_unknown(store: Db) {
    let shop = shop(&store).await;
    let order = ebook_order(&store, &shop).await;
    let new = link(order.items[0].id, shop.buyer.id, 2, 86_400);
    let id = new.id;
    store.create_download_link(new).await.unwrap();
    let other = new_user(&store, "other@example.com").await;
    assert_eq!(store.use_download_link(id, other.id, now()).await.unwrap(), DownloadUse::Unknown);
    assert_eq!(
        store.use_download_link(Uuid::new_v4(), shop.buyer.id, now()).await.unwrap(),
        DownloadUse::Unknown
    );
    assert_eq!(
        store.use_download_link(id, shop.buyer.id, now()).await.unwrap(),
        granted(&store, &shop, 1).await,
        "someone else's attempt was not counted"
    );

    // A link of an order that is not paid (yet) gives nothing.
    let unpaid = place(&store, order_of(shop.buyer.id, vec![line(&shop.ebook, 1, 1_000)])).await;
    let pending = link(unpaid.items[0].id, shop.buyer.id, 2, 86_400);
    let pending_id = pending.id;
    store.create_download_link(pending).await.unwrap();
    assert_eq!(
        store.use_download_link(pending_id, shop.buyer.id, now()).await.unwrap(),
        DownloadUse::Unknown
    );
    pay(&store, unpaid.id).await;
    assert_eq!(
        store.use_download_link(pending_id, shop.buyer.id, now()).await.unwrap(),
        granted(&store, &shop, 1).await,
        "paid now"
    );

    // Nor does a link of a refunded order.
    store
        .refund_order(Refund {
            order_id: order.id,
            refund_id: "re_1".into(),
            intent_id: None,
            audit: audit_of(None, "order.refund", "order", order.id, now()),
            email: None,
            at: now(),
        })
        .await
        .unwrap();
    assert_eq!(
        store.use_download_link(id, shop.buyer.id, now()).await.unwrap(),
        DownloadUse::Unknown
    );
    // A completed order's links work: the e-book with a shipped print.
    let mixed = place(
        &store,
        order_of(shop.buyer.id, vec![line(&shop.print, 1, 1_000), line(&shop.ebook, 1, 1_000)]),
    )
    .await;
    pay(&store, mixed.id).await;
    store
        .fulfil_item(crate::storage::Fulfilment {
            vendor_id: shop.alice.id,
            order_id: mixed.id,
            item_id: mixed.items[0].id,
            tracking_number: None,
            carrier: None,
            release_now: true,
            at: now(),
        })
        .await
        .unwrap();
    assert_eq!(order_now(&store, mixed.id).await.status, crate::domain::OrderStatus::Completed);
    let completed = link(mixed.items[1].id, shop.buyer.id, 1, 86_400);
    let completed_id = completed.id;
    store.create_download_link(completed).await.unwrap();
    assert_eq!(
        store.use_download_link(completed_id, shop.buyer.id, now()).await.unwrap(),
        granted(&store, &shop, 0).await
    );
}

pub async fn download_link_without_a_file_is_unknown_and_not_counted(store: Db) {
    let shop = shop(&store).await;
    let bare = add_product(
        &store,
        NewProduct {
            kind: ProductKind::Digital,
            stock: None,
            ..product(shop.alice.id, seeded::photography(), "Preset pack")
        },
    )
    .await;
    let order = place(&store, order_of(shop.buyer.id, vec![line(&bare, 1, 1_000)])).await;
    pay(&store, order.id).await;
    let new = link(order.items[0].id, shop.buyer.id, 2, 86_400);
    let id = new.id;
    store.create_download_link(new).await.unwrap();
    assert_eq!(
        store.use_download_link(id, shop.buyer.id, now()).await.unwrap(),
        DownloadUse::Unknown
    );
    assert_eq!(
        store.use_download_link(id, shop.buyer.id, now()).await.unwrap(),
        DownloadUse::Unknown
    );
    let file = asset(bare.id, "presets.zip");
    store.set_product_asset(file.clone()).await.unwrap();
    assert_eq!(
        store.use_download_link(id, shop.buyer.id, now()).await.unwrap(),
        DownloadUse::Granted {
            key: file.key,
            filename: "presets.zip".into(),
            size_bytes: 123_456,
            downloads_left: 1,
        },
        "the attempts without a file were not counted"
    );
}

pub async fn concurrent_downloads_never_exceed_the_limit(store: Db) {
    let shop = shop(&store).await;
    let order = ebook_order(&store, &shop).await;
    let new = link(order.items[0].id, shop.buyer.id, 3, 86_400);
    let id = new.id;
    store.create_download_link(new).await.unwrap();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            let barrier = barrier.clone();
            let buyer = shop.buyer.id;
            tokio::spawn(async move {
                barrier.wait().await;
                store.use_download_link(id, buyer, now()).await
            })
        })
        .collect();
    let mut left = Vec::new();
    let mut exhausted = 0;
    for task in tasks {
        match task.await.expect("task").expect("use download link") {
            DownloadUse::Granted { downloads_left, .. } => left.push(downloads_left),
            DownloadUse::Exhausted => exhausted += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    left.sort_unstable();
    assert_eq!(left, [0, 1, 2], "each download counted once");
    assert_eq!(exhausted, 7);
}

pub async fn new_links_carry_the_lines_remaining_downloads_and_peeks_do_not_count(store: Db) {
    let shop = shop(&store).await;
    let order = ebook_order(&store, &shop).await;
    let item = order.items[0].id;
    let first = link(item, shop.buyer.id, 5, 86_400);
    let first_id = first.id;
    assert_eq!(store.create_download_link(first).await.unwrap(), 5);
    assert_eq!(
        store.use_download_link(first_id, shop.buyer.id, now()).await.unwrap(),
        granted(&store, &shop, 4).await
    );
    // Peeking (HEAD, a Range continuation) shows the count without taking from it.
    for _ in 0..3 {
        assert_eq!(
            store.peek_download_link(first_id, shop.buyer.id, now(), None).await.unwrap(),
            granted(&store, &shop, 4).await
        );
    }
    // A continuation is free only after a download this link counted, even when none is left.
    let just_now = now() - secs(5);
    assert_eq!(
        store
            .peek_download_link(first_id, shop.buyer.id, now(), Some(just_now))
            .await
            .unwrap(),
        granted(&store, &shop, 4).await
    );
    assert_eq!(
        store
            .peek_download_link(first_id, shop.buyer.id, now(), Some(now() + secs(5)))
            .await
            .unwrap(),
        DownloadUse::Exhausted,
        "no counted download since then"
    );
    // Asking for links again: the new one carries 4, the old one stops.
    let again = link(item, shop.buyer.id, 5, 86_400);
    let again_id = again.id;
    assert_eq!(store.create_download_link(again).await.unwrap(), 4);
    assert_eq!(
        store.use_download_link(first_id, shop.buyer.id, now()).await.unwrap(),
        DownloadUse::Exhausted
    );
    assert_eq!(
        store.use_download_link(again_id, shop.buyer.id, now()).await.unwrap(),
        granted(&store, &shop, 3).await
    );
    // However often links are asked for, the line keeps at most five.
    for _ in 0..20 {
        store.create_download_link(link(item, shop.buyer.id, 5, 86_400)).await.unwrap();
    }
    let latest = link(item, shop.buyer.id, 5, 86_400);
    assert_eq!(store.create_download_link(latest).await.unwrap(), 3, "still three left");
    assert_eq!(
        store.peek_download_link(again_id, shop.buyer.id, now(), None).await.unwrap(),
        DownloadUse::Unknown,
        "pruned"
    );
}
