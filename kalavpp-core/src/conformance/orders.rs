//! `OrderStore` without payments: placing orders (stock reservation, snapshots, the cart emptied,
//! all or nothing, the stock race), payment sessions, lists, cancelling and expiring.

use std::collections::HashSet;

use crate::domain::{EventOutcome, Order, OrderFilter, OrderItem};
use crate::domain::{FulfilmentStatus, Money, OrderId, OrderStatus, PageRequest, ProductKind, ProductStatus, UserId, VendorStatus};
use crate::payments::PaymentEventKind;
use crate::storage::{Conflict, HasStatus, Table};
use crate::storage::{NewOrder, NewProduct, ProductUpdate, StoreError};

use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_orders {
    ($callback:ident) => {
        $callback! {
            group: orders,
            store: [
                place_order_reserves_stock_snapshots_lines_and_empties_the_cart,
                place_order_out_of_stock_changes_nothing,
                place_order_refuses_products_no_longer_for_sale,
                place_order_with_a_taken_number_changes_nothing,
                stock_race_for_the_last_unit_has_one_winner,
                stock_race_for_the_last_units_never_oversells,
                attach_payment_session_and_find_orders_by_payment_ref,
                list_orders_filters,
                list_orders_paginates_newest_first,
                cancel_order_releases_stock_for_the_owner_only,
                expire_orders_expires_old_unpaid_orders_only,
            ],
            sql: [],
        }
    };
}

__conformance_orders!(define_cases);

/// Puts `items` of `order` into the buyer's cart (as the service does before checkout).
async fn fill_cart(store: &Db, order: &NewOrder) {
    for item in &order.items {
        store
            .add_to_cart(order.user_id, item.product_id, item.quantity, now())
            .await
            .unwrap();
    }
}

pub async fn place_order_reserves_stock_snapshots_lines_and_empties_the_cart(store: Db) {
    let shop = shop(&store).await;
    let order = order_of(
        shop.buyer.id,
        vec![line(&shop.print, 2, 1_000), line(&shop.vase, 1, 1_250), line(&shop.ebook, 3, 1_000)],
    );
    // 2 × 12.34 = 24.68 → 10 % = 2.468 → 2.47; 45.67 → 12.5 % = 5.70875 → 5.71; 3 × 9.99 = 29.97 → 3.00 (2.997).
    let expected_money = [(2_468, 247, 2_221), (4_567, 571, 3_996), (2_997, 300, 2_697)];
    for (item, (total, commission, net)) in order.items.iter().zip(expected_money) {
        assert_eq!(
            (item.line_total, item.commission, item.vendor_net),
            (Money(total), Money(commission), Money(net))
        );
    }
    assert_eq!((order.subtotal, order.commission), (Money(10_032), Money(1_118)));
    fill_cart(&store, &order).await;
    let other = new_user(&store, "other@example.com").await;
    store.add_to_cart(other.id, shop.print.id, 1, now()).await.unwrap();

    let placed = place(&store, order.clone()).await;
    let expected = Order {
        id: order.id,
        number: order.number.clone(),
        user_id: shop.buyer.id,
        status: OrderStatus::PendingPayment,
        currency: "usd".into(),
        subtotal: Money(10_032),
        total: Money(10_032),
        commission: Money(1_118),
        shipping_address: order.shipping_address.clone(),
        payment_provider: "dev".into(),
        payment_session_id: None,
        payment_intent_id: None,
        refund_id: None,
        items: order
            .items
            .iter()
            .map(|i| OrderItem {
                id: i.id,
                product_id: i.product_id,
                vendor_id: i.vendor_id,
                title: i.title.clone(),
                kind: i.kind,
                quantity: i.quantity,
                unit_price: i.unit_price,
                line_total: i.line_total,
                commission_bps: i.commission_bps,
                commission: i.commission,
                vendor_net: i.vendor_net,
                fulfilment_status: FulfilmentStatus::Unfulfilled,
                tracking_number: None,
                carrier: None,
                shipped_at: None,
            })
            .collect(),
        created_at: order.at,
        updated_at: order.at,
        paid_at: None,
    };
    assert_eq!(placed, expected);
    assert_eq!(
        placed.shipping_address.as_ref().unwrap()["city"],
        "Porto",
        "the address round-trips as JSON"
    );
    for item in &placed.items {
        assert_eq!(item.commission.cents() + item.vendor_net.cents(), item.line_total.cents());
        assert_eq!(item.unit_price.cents() * item.quantity, item.line_total.cents());
    }
    assert_eq!(
        placed.items.iter().map(|i| i.line_total.cents()).sum::<i64>(),
        placed.subtotal.cents()
    );
    assert_eq!(
        placed.items.iter().map(|i| i.commission.cents()).sum::<i64>(),
        placed.commission.cents()
    );
    assert_eq!(order_now(&store, order.id).await, expected, "read back the same");

    assert_eq!(stock_of(&store, shop.print.id).await, Some(3));
    assert_eq!(stock_of(&store, shop.vase.id).await, Some(2));
    assert_eq!(stock_of(&store, shop.ebook.id).await, None, "digital: unlimited");
    assert!(
        store.cart_lines(shop.buyer.id).await.unwrap().is_empty(),
        "the buyer's cart is emptied"
    );
    assert_eq!(store.cart_lines(other.id).await.unwrap().len(), 1, "nobody else's");
    assert_eq!(sales_of(&store, shop.print.id).await, 0, "sold only when paid");

    // The lines keep their snapshot when the product changes later.
    store
        .update_product(ProductUpdate {
            id: shop.print.id,
            title: "Renamed".into(),
            description: "New".into(),
            kind: ProductKind::Physical,
            price: Money(9_999),
            stock: Some(3),
            category_id: shop.print.category.id,
            status: ProductStatus::Archived,
            tags: Vec::new(),
            at: now(),
            audit: None,
        })
        .await
        .unwrap();
    assert_eq!(order_now(&store, order.id).await, expected);

    // A digital-only order needs no address.
    let digital = order_of(shop.buyer.id, vec![line(&shop.ebook, 1, 0)]);
    assert_eq!(digital.shipping_address, None);
    let placed = place(&store, digital.clone()).await;
    assert_eq!(placed.shipping_address, None);
    assert_eq!((placed.commission, placed.items[0].vendor_net), (Money(0), Money(999)));
    assert_eq!(store.order_by_id(OrderId::new()).await.unwrap(), None);
}

pub async fn place_order_out_of_stock_changes_nothing(store: Db) {
    let shop = shop(&store).await;
    // The first line can be reserved, the second cannot: the first is rolled back.
    let order = order_of(shop.buyer.id, vec![line(&shop.print, 2, 1_000), line(&shop.vase, 4, 1_000)]);
    fill_cart(&store, &order).await;
    assert_conflict(store.place_order(order.clone()).await, Conflict::OutOfStock);
    assert_eq!(stock_of(&store, shop.print.id).await, Some(5));
    assert_eq!(stock_of(&store, shop.vase.id).await, Some(3));
    assert_eq!(store.cart_lines(shop.buyer.id).await.unwrap().len(), 2, "the cart is kept");
    assert_eq!(store.order_by_id(order.id).await.unwrap(), None);
    assert!(all_orders(&store).await.is_empty());
    // The same order with what is left succeeds, down to a stock of zero.
    let exact = order_of(shop.buyer.id, vec![line(&shop.print, 5, 1_000), line(&shop.vase, 3, 1_000)]);
    place(&store, exact).await;
    assert_eq!(stock_of(&store, shop.print.id).await, Some(0));
    assert_eq!(stock_of(&store, shop.vase.id).await, Some(0));
    assert_conflict(
        store.place_order(order_of(shop.buyer.id, vec![line(&shop.print, 1, 1_000)])).await,
        Conflict::OutOfStock,
    );
    assert_eq!(stock_of(&store, shop.print.id).await, Some(0), "never negative");
    assert_eq!(all_orders(&store).await.len(), 1);
}

pub async fn place_order_refuses_products_no_longer_for_sale(store: Db) {
    let shop = shop(&store).await;
    let draft = add_product(
        &store,
        NewProduct {
            status: ProductStatus::Draft,
            ..product(shop.bruno.id, seeded::ceramics(), "Draft bowl")
        },
    )
    .await;
    let archived_ebook = add_product(
        &store,
        NewProduct {
            status: ProductStatus::Archived,
            kind: ProductKind::Digital,
            stock: None,
            ..product(shop.bruno.id, seeded::photography(), "Archived guide")
        },
    )
    .await;
    for (what, product) in [("draft physical", &draft), ("archived digital", &archived_ebook)] {
        let order = order_of(shop.buyer.id, vec![line(&shop.print, 1, 1_000), line(product, 1, 1_000)]);
        fill_cart(&store, &order).await;
        match store.place_order(order).await {
            Err(StoreError::Conflict(clash)) => assert_eq!(clash, Conflict::OutOfStock, "{what}"),
            other => panic!("{what}: expected Conflict(stock), got {other:?}"),
        }
        assert_eq!(stock_of(&store, shop.print.id).await, Some(5), "{what}");
    }
    // A suspended vendor's products, physical or digital.
    set_vendor_status(&store, shop.alice.id, VendorStatus::Suspended).await;
    for product in [&shop.print, &shop.ebook] {
        let order = order_of(shop.buyer.id, vec![line(&shop.vase, 1, 1_000), line(product, 1, 1_000)]);
        assert_conflict(store.place_order(order).await, Conflict::OutOfStock);
    }
    assert_eq!(stock_of(&store, shop.vase.id).await, Some(3));
    assert_eq!(stock_of(&store, shop.print.id).await, Some(5));
    assert!(all_orders(&store).await.is_empty());
    set_vendor_status(&store, shop.alice.id, VendorStatus::Approved).await;
    place(
        &store,
        order_of(shop.buyer.id, vec![line(&shop.print, 1, 1_000), line(&shop.ebook, 1, 1_000)]),
    )
    .await;
    assert_eq!(stock_of(&store, shop.print.id).await, Some(4));
}

pub async fn place_order_with_a_taken_number_changes_nothing(store: Db) {
    let shop = shop(&store).await;
    let first = order_of(shop.buyer.id, vec![line(&shop.print, 1, 1_000)]);
    place(&store, first.clone()).await;
    let other = new_user(&store, "other@example.com").await;
    let clash = NewOrder {
        number: first.number.clone(),
        ..order_of(other.id, vec![line(&shop.vase, 2, 1_000), line(&shop.print, 1, 1_000)])
    };
    fill_cart(&store, &clash).await;
    assert_conflict(store.place_order(clash.clone()).await, Conflict::OrderNumberTaken);
    assert_eq!(stock_of(&store, shop.print.id).await, Some(4), "only the first order's unit");
    assert_eq!(stock_of(&store, shop.vase.id).await, Some(3));
    assert_eq!(store.cart_lines(other.id).await.unwrap().len(), 2);
    assert_eq!(store.order_by_id(clash.id).await.unwrap(), None);
    assert_eq!(all_orders(&store).await.len(), 1);
    // The same id twice is a clash too.
    let same_id = NewOrder {
        id: first.id,
        ..order_of(other.id, vec![line(&shop.vase, 1, 1_000)])
    };
    assert_conflict(store.place_order(same_id).await, Conflict::DuplicateId(Table::Orders));
    assert_eq!(stock_of(&store, shop.vase.id).await, Some(3));
}

/// `buyers` customers race, each with an order of one `scarce` unit plus one `plenty` unit;
/// returns how many won. Losers must get `Conflict("stock")`.
async fn race(store: &Db, shop: &Shop, scarce: &crate::domain::Product, buyers: usize) -> usize {
    let plenty = add_product(
        store,
        NewProduct {
            stock: Some(1_000),
            ..product(shop.bruno.id, seeded::ceramics(), &format!("Plenty of cups {}", scarce.slug))
        },
    )
    .await;
    let mut orders = Vec::new();
    for i in 0..buyers {
        let buyer = new_user(store, &format!("racer{i}@example.com")).await;
        let order = order_of(buyer.id, vec![line(&plenty, 1, 1_000), line(scarce, 1, 1_000)]);
        fill_cart(store, &order).await;
        orders.push(order);
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(buyers));
    let tasks: Vec<_> = orders
        .into_iter()
        .map(|order| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let buyer = order.user_id;
                (buyer, store.place_order(order).await)
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        let (buyer, result) = task.await.expect("task");
        match result {
            Ok(order) => {
                winners += 1;
                assert_eq!(order.status, OrderStatus::PendingPayment);
                assert!(store.cart_lines(buyer).await.unwrap().is_empty());
            }
            Err(StoreError::Conflict(clash)) => {
                assert_eq!(clash, Conflict::OutOfStock);
                assert_eq!(store.cart_lines(buyer).await.unwrap().len(), 2, "a loser keeps the cart");
            }
            Err(other) => panic!("unexpected error in the race: {other:?}"),
        }
    }
    assert_eq!(
        stock_of(store, plenty.id).await,
        Some(1_000 - winners as i64),
        "losers' reservations of the other line are rolled back"
    );
    winners
}

pub async fn stock_race_for_the_last_unit_has_one_winner(store: Db) {
    let shop = shop(&store).await;
    let last = add_product(
        &store,
        NewProduct {
            stock: Some(1),
            ..product(shop.alice.id, seeded::prints(), "The only original")
        },
    )
    .await;
    assert_eq!(race(&store, &shop, &last, 8).await, 1, "exactly one checkout wins");
    assert_eq!(stock_of(&store, last.id).await, Some(0));
    assert_eq!(all_orders(&store).await.len(), 1);
}

pub async fn stock_race_for_the_last_units_never_oversells(store: Db) {
    let shop = shop(&store).await;
    assert_eq!(race(&store, &shop, &shop.vase, 8).await, 3, "as many winners as units");
    assert_eq!(stock_of(&store, shop.vase.id).await, Some(0), "never negative");
    let orders = all_orders(&store).await;
    assert_eq!(orders.len(), 3);
    let sold: i64 = orders
        .iter()
        .flat_map(|o| &o.items)
        .filter(|i| i.product_id == shop.vase.id)
        .map(|i| i.quantity)
        .sum();
    assert_eq!(sold, 3);
}

pub async fn attach_payment_session_and_find_orders_by_payment_ref(store: Db) {
    let shop = shop(&store).await;
    let first = place(&store, order_of(shop.buyer.id, vec![line(&shop.print, 1, 1_000)])).await;
    let second = place(&store, order_of(shop.buyer.id, vec![line(&shop.ebook, 1, 1_000)])).await;
    assert_eq!(store.order_by_payment_ref(Some("cs_1"), None).await.unwrap(), None);
    store.attach_payment_session(first.id, "cs_1").await.unwrap();
    let found = store.order_by_payment_ref(Some("cs_1"), None).await.unwrap().expect("by session");
    assert_eq!(found.id, first.id);
    assert_eq!(found.payment_session_id.as_deref(), Some("cs_1"));
    assert_eq!(found.items.len(), 1, "with its lines");
    // A session belongs to one order.
    assert_conflict(store.attach_payment_session(second.id, "cs_1").await, Conflict::PaymentSessionTaken);
    assert_eq!(order_now(&store, second.id).await.payment_session_id, None);
    // A new session replaces the old one.
    store.attach_payment_session(first.id, "cs_2").await.unwrap();
    assert_eq!(store.order_by_payment_ref(Some("cs_1"), None).await.unwrap(), None);
    assert_eq!(store.order_by_payment_ref(Some("cs_2"), None).await.unwrap().unwrap().id, first.id);
    store.attach_payment_session(second.id, "cs_1").await.unwrap();
    assert_eq!(store.order_by_payment_ref(Some("cs_1"), None).await.unwrap().unwrap().id, second.id);
    assert_not_found(store.attach_payment_session(OrderId::new(), "cs_3").await);

    // The payment intent is remembered from the payment event.
    let event = payment_event(first.id, PaymentEventKind::Succeeded, "evt_ref");
    assert_eq!(store.apply_payment_event(event).await.unwrap(), EventOutcome::Applied);
    let by_intent = store
        .order_by_payment_ref(None, Some("pi_evt_ref"))
        .await
        .unwrap()
        .expect("by intent");
    assert_eq!(by_intent.id, first.id);
    assert_eq!(by_intent.payment_intent_id.as_deref(), Some("pi_evt_ref"));
    assert_eq!(by_intent.status, OrderStatus::Paid);
    // Either reference finds it; unknown ones find nothing.
    assert_eq!(
        store
            .order_by_payment_ref(Some("cs_unknown"), Some("pi_evt_ref"))
            .await
            .unwrap()
            .unwrap()
            .id,
        first.id
    );
    assert_eq!(
        store
            .order_by_payment_ref(Some("cs_2"), Some("pi_unknown"))
            .await
            .unwrap()
            .unwrap()
            .id,
        first.id
    );
    assert_eq!(store.order_by_payment_ref(None, Some("pi_unknown")).await.unwrap(), None);
    assert_eq!(store.order_by_payment_ref(None, None).await.unwrap(), None);
}

fn ids(orders: &[Order]) -> Vec<OrderId> {
    orders.iter().map(|o| o.id).collect()
}

async fn list(store: &Db, filter: OrderFilter) -> Vec<Order> {
    let page = store.list_orders(&filter, PageRequest::new(1, 100)).await.expect("list orders");
    assert_eq!(page.total, page.items.len() as i64);
    page.items
}

pub async fn list_orders_filters(store: Db) {
    let shop = shop(&store).await;
    let other = new_user(&store, "other@example.com").await;
    let t0 = now() - secs(3_600);
    let at = |n: i64| t0 + secs(n * 60);
    let placed_at = |buyer: UserId, items, minute: i64| NewOrder {
        at: at(minute),
        ..order_of(buyer, items)
    };
    // o1: alice only; o2: alice and bruno; o3: bruno only (other buyer); o4: alice (paid).
    let o1 = place(&store, placed_at(shop.buyer.id, vec![line(&shop.print, 1, 1_000)], 0)).await;
    let o2 = place(
        &store,
        placed_at(
            shop.buyer.id,
            vec![line(&shop.ebook, 1, 1_000), line(&shop.vase, 1, 1_000), line(&shop.print, 1, 1_000)],
            1,
        ),
    )
    .await;
    let o3 = place(&store, placed_at(other.id, vec![line(&shop.vase, 1, 1_000)], 2)).await;
    let o4 = place(&store, placed_at(other.id, vec![line(&shop.ebook, 2, 1_000)], 3)).await;
    pay(&store, o4.id).await;

    assert_eq!(
        ids(&list(&store, OrderFilter::default()).await),
        [o4.id, o3.id, o2.id, o1.id],
        "newest first"
    );
    let mine = list(
        &store,
        OrderFilter {
            user_id: Some(shop.buyer.id),
            ..OrderFilter::default()
        },
    )
    .await;
    assert_eq!(ids(&mine), [o2.id, o1.id]);
    assert_eq!(mine[0].items.len(), 3, "a buyer's view holds every line");

    // A vendor's view: orders with its lines, and only those lines.
    let bruno = list(
        &store,
        OrderFilter {
            vendor_id: Some(shop.bruno.id),
            ..OrderFilter::default()
        },
    )
    .await;
    assert_eq!(ids(&bruno), [o3.id, o2.id]);
    for order in &bruno {
        assert!(order.items.iter().all(|i| i.vendor_id == shop.bruno.id));
    }
    assert_eq!(bruno[1].items.iter().map(|i| i.product_id).collect::<Vec<_>>(), [shop.vase.id]);
    assert_eq!(bruno[1].subtotal, o2.subtotal, "the order's own totals are unchanged");
    let alice = list(
        &store,
        OrderFilter {
            vendor_id: Some(shop.alice.id),
            ..OrderFilter::default()
        },
    )
    .await;
    assert_eq!(ids(&alice), [o4.id, o2.id, o1.id]);
    assert_eq!(
        alice[1].items.iter().map(|i| i.product_id).collect::<Vec<_>>(),
        [shop.ebook.id, shop.print.id],
        "in line order"
    );
    let nobody = approved_vendor(&store, "carla@example.com", "Carla Glass").await;
    assert!(
        list(
            &store,
            OrderFilter {
                vendor_id: Some(nobody.id),
                ..OrderFilter::default()
            }
        )
        .await
        .is_empty()
    );

    let status = |status| OrderFilter {
        status: Some(status),
        ..OrderFilter::default()
    };
    // o4 is all digital: delivered, so completed, as soon as it is paid.
    assert_eq!(ids(&list(&store, status(OrderStatus::Completed)).await), [o4.id]);
    assert!(list(&store, status(OrderStatus::Paid)).await.is_empty());
    assert_eq!(ids(&list(&store, status(OrderStatus::PendingPayment)).await), [o3.id, o2.id, o1.id]);
    assert!(list(&store, status(OrderStatus::Refunded)).await.is_empty());

    // from / to are inclusive.
    let range = |from: Option<i64>, to: Option<i64>| OrderFilter {
        from: from.map(at),
        to: to.map(at),
        ..OrderFilter::default()
    };
    assert_eq!(ids(&list(&store, range(Some(1), None)).await), [o4.id, o3.id, o2.id]);
    assert_eq!(ids(&list(&store, range(None, Some(1))).await), [o2.id, o1.id]);
    assert_eq!(ids(&list(&store, range(Some(1), Some(2))).await), [o3.id, o2.id]);
    assert!(list(&store, range(Some(4), None)).await.is_empty());

    // Filters combine.
    let combined = OrderFilter {
        user_id: Some(other.id),
        vendor_id: Some(shop.alice.id),
        status: Some(OrderStatus::Completed),
        from: Some(at(3)),
        to: Some(at(3)),
    };
    assert_eq!(ids(&list(&store, combined.clone()).await), [o4.id]);
    let none = OrderFilter {
        status: Some(OrderStatus::PendingPayment),
        ..combined
    };
    assert!(list(&store, none).await.is_empty());
}

pub async fn list_orders_paginates_newest_first(store: Db) {
    let shop = shop(&store).await;
    let t0 = now() - secs(3_600);
    let mut placed = Vec::new();
    for minute in 0..5 {
        let order = NewOrder {
            at: t0 + secs(minute * 60),
            ..order_of(shop.buyer.id, vec![line(&shop.ebook, 1, 1_000)])
        };
        placed.push(place(&store, order).await.id);
    }
    placed.reverse();
    let mut seen = Vec::new();
    for page_number in 1..=3 {
        let page = store
            .list_orders(&OrderFilter::default(), PageRequest::new(page_number, 2))
            .await
            .unwrap();
        assert_eq!((page.total, page.page, page.per_page), (5, page_number, 2));
        assert_eq!(page.items.len(), if page_number == 3 { 1 } else { 2 });
        assert!(page.items.iter().all(|o| o.items.len() == 1), "lines loaded on every page");
        seen.extend(ids(&page.items));
    }
    assert_eq!(seen, placed);
    let beyond = store.list_orders(&OrderFilter::default(), PageRequest::new(4, 2)).await.unwrap();
    assert_eq!((beyond.items.len(), beyond.total), (0, 5));
}

pub async fn cancel_order_releases_stock_for_the_owner_only(store: Db) {
    let shop = shop(&store).await;
    let other = new_user(&store, "other@example.com").await;
    let order = place(
        &store,
        order_of(
            shop.buyer.id,
            vec![line(&shop.print, 2, 1_000), line(&shop.ebook, 1, 1_000), line(&shop.vase, 3, 1_000)],
        ),
    )
    .await;
    assert_eq!(
        (stock_of(&store, shop.print.id).await, stock_of(&store, shop.vase.id).await),
        (Some(3), Some(0))
    );
    assert_not_found(store.cancel_order(order.id, other.id, now()).await);
    assert_not_found(store.cancel_order(OrderId::new(), shop.buyer.id, now()).await);
    assert_eq!(order_now(&store, order.id).await.status, OrderStatus::PendingPayment);
    assert_eq!(stock_of(&store, shop.print.id).await, Some(3));

    let at = now() + secs(30);
    let cancelled = store.cancel_order(order.id, shop.buyer.id, at).await.unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!((cancelled.updated_at, cancelled.created_at), (at, order.created_at));
    assert_eq!(cancelled.items, order.items);
    assert_eq!(order_now(&store, order.id).await, cancelled);
    assert_eq!(stock_of(&store, shop.print.id).await, Some(5), "stock released");
    assert_eq!(stock_of(&store, shop.vase.id).await, Some(3));
    assert_conflict(
        store.cancel_order(order.id, shop.buyer.id, now()).await,
        Conflict::StaleStatus(HasStatus::Order),
    );
    assert_eq!(stock_of(&store, shop.print.id).await, Some(5), "released once");

    // A paid order cannot be cancelled.
    let paid = place(&store, order_of(shop.buyer.id, vec![line(&shop.print, 1, 1_000)])).await;
    pay(&store, paid.id).await;
    assert_conflict(
        store.cancel_order(paid.id, shop.buyer.id, now()).await,
        Conflict::StaleStatus(HasStatus::Order),
    );
    assert_eq!(order_now(&store, paid.id).await.status, OrderStatus::Paid);
    assert_eq!(stock_of(&store, shop.print.id).await, Some(4));
    // Neither can one whose payment failed (it waits for a retry or expiry).
    let failed = place(&store, order_of(shop.buyer.id, vec![line(&shop.vase, 1, 1_000)])).await;
    let event = payment_event(failed.id, PaymentEventKind::Failed, "evt_failed");
    store.apply_payment_event(event).await.unwrap();
    assert_conflict(
        store.cancel_order(failed.id, shop.buyer.id, now()).await,
        Conflict::StaleStatus(HasStatus::Order),
    );
    assert_eq!(stock_of(&store, shop.vase.id).await, Some(2));
}

pub async fn expire_orders_expires_old_unpaid_orders_only(store: Db) {
    let shop = shop(&store).await;
    let cutoff = now() - secs(3_600);
    let placed_at = |items, at| NewOrder {
        at,
        ..order_of(shop.buyer.id, items)
    };
    let old_pending = place(
        &store,
        placed_at(vec![line(&shop.print, 1, 1_000), line(&shop.ebook, 1, 1_000)], cutoff - secs(60)),
    )
    .await;
    let old_failed = place(&store, placed_at(vec![line(&shop.vase, 2, 1_000)], cutoff - secs(120))).await;
    store
        .apply_payment_event(payment_event(old_failed.id, PaymentEventKind::Failed, "evt_f"))
        .await
        .unwrap();
    let old_paid = place(&store, placed_at(vec![line(&shop.print, 1, 1_000)], cutoff - secs(180))).await;
    pay(&store, old_paid.id).await;
    let old_cancelled = place(&store, placed_at(vec![line(&shop.print, 1, 1_000)], cutoff - secs(240))).await;
    store.cancel_order(old_cancelled.id, shop.buyer.id, now()).await.unwrap();
    let at_cutoff = place(&store, placed_at(vec![line(&shop.print, 1, 1_000)], cutoff)).await;
    let recent = place(&store, placed_at(vec![line(&shop.vase, 1, 1_000)], now())).await;
    assert_eq!(stock_of(&store, shop.print.id).await, Some(2));
    assert_eq!(stock_of(&store, shop.vase.id).await, Some(0));

    let at = now();
    let expired: HashSet<OrderId> = store.expire_orders(cutoff, at).await.unwrap().into_iter().collect();
    assert_eq!(expired, HashSet::from([old_pending.id, old_failed.id]));
    for id in [old_pending.id, old_failed.id] {
        let order = order_now(&store, id).await;
        assert_eq!((order.status, order.updated_at), (OrderStatus::Expired, at));
    }
    assert_eq!(stock_of(&store, shop.print.id).await, Some(3), "old_pending's unit released");
    assert_eq!(stock_of(&store, shop.vase.id).await, Some(2), "old_failed's two units released");
    assert_eq!(order_now(&store, old_paid.id).await.status, OrderStatus::Paid);
    assert_eq!(order_now(&store, old_cancelled.id).await.status, OrderStatus::Cancelled);
    assert_eq!(
        order_now(&store, at_cutoff.id).await.status,
        OrderStatus::PendingPayment,
        "created at the cutoff, not before it"
    );
    assert_eq!(order_now(&store, recent.id).await.status, OrderStatus::PendingPayment);

    assert!(store.expire_orders(cutoff, now()).await.unwrap().is_empty(), "nothing twice");
    assert_eq!(stock_of(&store, shop.print.id).await, Some(3));
    // A later sweep takes the rest of the unpaid ones.
    let later: HashSet<OrderId> = store.expire_orders(now() + secs(1), now()).await.unwrap().into_iter().collect();
    assert_eq!(later, HashSet::from([at_cutoff.id, recent.id]));
    assert_eq!(stock_of(&store, shop.print.id).await, Some(4));
    assert_eq!(stock_of(&store, shop.vase.id).await, Some(3));
    assert_eq!(stock_of(&store, shop.ebook.id).await, None);
}
