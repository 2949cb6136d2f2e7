//! Dashboards and analytics: `StatsStore::vendor_sales`, `marketplace_totals` and `analytics`.

use chrono::{Duration, Utc};

use crate::domain::StatsWindow;
use crate::domain::{LedgerBucket, Money, PayoutId};
use crate::storage::{NewPayout, PaymentEventRecord, Refund};

use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_stats {
    ($callback:ident) => {
        $callback! {
            group: stats,
            store: [
                vendor_sales_count_paid_orders_and_agree_with_the_ledger,
                vendor_sales_of_a_vendor_without_sales_are_zero,
                marketplace_totals_count_everything_once,
                analytics_group_paid_orders_and_new_users_by_day,
            ],
            sql: [],
        }
    };
}

__conformance_stats!(define_cases);

fn today_window() -> StatsWindow {
    let start = Utc::now().date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    StatsWindow {
        from: start - Duration::days(29),
        to: start + Duration::days(1),
        top: 10,
    }
}

/// The shop with: the mixed order paid; a second order (one print) paid then refunded; a third
/// (one vase) left unpaid.
async fn busy_shop(store: &Db) -> Shop {
    let shop = shop(store).await;
    let paid = place(store, mixed_order(&shop)).await;
    pay(store, paid.id).await;
    let refunded = place(store, order_of(shop.buyer.id, vec![line(&shop.print, 1, 1_000)])).await;
    pay(store, refunded.id).await;
    let at = now();
    store
        .refund_order(Refund {
            order_id: refunded.id,
            refund_id: "re_1".into(),
            intent_id: None,
            audit: audit_of(None, "order.refund", "order", refunded.id, at),
            email: None,
            at,
        })
        .await
        .unwrap();
    place(store, order_of(shop.buyer.id, vec![line(&shop.vase, 1, 1_000)])).await;
    shop
}

pub async fn vendor_sales_count_paid_orders_and_agree_with_the_ledger(store: Db) {
    let shop = busy_shop(&store).await;
    let sales = store.vendor_sales(shop.alice.id, today_window()).await.unwrap();
    // Alice's part of the paid mixed order: 2 prints (24.68, commission 2.47) and 3 e-books
    // (29.97, commission 3.00); the refunded order and bruno's lines do not count.
    assert_eq!(sales.product_count, 2);
    assert_eq!(sales.order_count, 1);
    assert_eq!(sales.units_sold, 5);
    assert_eq!(sales.gross_sales, Money(5_465));
    assert_eq!(sales.commission, Money(547));
    assert_eq!(sales.net_earnings, Money(4_918));
    assert_eq!(sales.commission.cents() + sales.net_earnings.cents(), sales.gross_sales.cents());

    // The ledger tells the same story to the cent.
    let ledger = ledger_of(&store, shop.alice.id).await;
    let vendor_money: i64 = ledger
        .iter()
        .filter(|e| e.order_item_id.is_some() && e.bucket != LedgerBucket::Platform)
        .map(|e| e.amount.cents())
        .sum();
    let platform: i64 = ledger
        .iter()
        .filter(|e| e.bucket == LedgerBucket::Platform)
        .map(|e| e.amount.cents())
        .sum();
    assert_eq!(vendor_money, sales.net_earnings.cents());
    assert_eq!(platform, sales.commission.cents());

    assert_eq!(sales.by_day.len(), 1, "all sales were today");
    let today = &sales.by_day[0];
    assert_eq!(today.date, Utc::now().date_naive());
    assert_eq!((today.orders, today.gross, today.commission), (1, Money(5_465), Money(547)));

    let top: Vec<_> = sales.top_products.iter().map(|p| (p.product_id, p.units_sold, p.gross)).collect();
    assert_eq!(top, vec![(shop.ebook.id, 3, Money(2_997)), (shop.print.id, 2, Money(2_468))]);
    assert_eq!(sales.top_products[0].title, shop.ebook.title);
    assert_eq!(sales.top_products[0].vendor_id, shop.alice.id);

    // A window in the past holds no day, and `top` bounds the list.
    let past = StatsWindow {
        from: now() - Duration::days(90),
        to: now() - Duration::days(60),
        top: 1,
    };
    let old = store.vendor_sales(shop.alice.id, past).await.unwrap();
    assert!(old.by_day.is_empty());
    assert_eq!(old.top_products.len(), 1);
    assert_eq!(old.gross_sales, Money(5_465), "totals are all-time");
}

pub async fn vendor_sales_of_a_vendor_without_sales_are_zero(store: Db) {
    let shop = shop(&store).await;
    let sales = store.vendor_sales(shop.bruno.id, today_window()).await.unwrap();
    assert_eq!(sales.product_count, 1);
    assert_eq!((sales.order_count, sales.units_sold), (0, 0));
    assert_eq!(
        (sales.gross_sales, sales.commission, sales.net_earnings),
        (Money(0), Money(0), Money(0))
    );
    assert!(sales.by_day.is_empty() && sales.top_products.is_empty());
}

pub async fn marketplace_totals_count_everything_once(store: Db) {
    let shop = busy_shop(&store).await;
    let pending = applicant_at(&store, "carla@example.com", "Carla Glass", now()).await;
    let old_user = new_user_at(&store, "old@example.com", "Old Timer", now() - Duration::days(40)).await;
    let _ = (pending, old_user);
    store
        .request_payout(NewPayout {
            id: PayoutId::new(),
            vendor_id: shop.alice.id,
            amount: Money(1_000),
            currency: "usd".into(),
            email: None,
            at: now(),
        })
        .await
        .unwrap();

    let totals = store.marketplace_totals(now() - Duration::days(30)).await.unwrap();
    // alice, bruno (vendors), buyer, carla, old (customers).
    assert_eq!(totals.users_total, 5);
    assert_eq!((totals.customers, totals.vendors, totals.admins), (3, 2, 0));
    assert_eq!(totals.new_users, 4, "the 40-day-old account is not new");
    assert_eq!(
        (
            totals.vendors_pending,
            totals.vendors_approved,
            totals.vendors_rejected,
            totals.vendors_suspended
        ),
        (1, 2, 0, 0)
    );
    assert_eq!((totals.products_published, totals.products_total), (3, 3));
    assert_eq!(totals.orders_total, 3);
    assert_eq!(
        (
            totals.orders_paid,
            totals.orders_completed,
            totals.orders_pending_payment,
            totals.orders_refunded
        ),
        (1, 0, 1, 1)
    );
    // The mixed order: 24.68 + 45.67 + 29.97 = 100.32, commission 2.47 + 5.71 + 3.00 = 11.18.
    assert_eq!(totals.gmv, Money(10_032));
    assert_eq!(totals.commission, Money(1_118));
    assert_eq!(
        (totals.payouts_requested, totals.payouts_approved, totals.payouts_paid),
        (Money(1_000), Money(0), Money(0))
    );
}

pub async fn analytics_group_paid_orders_and_new_users_by_day(store: Db) {
    let shop = busy_shop(&store).await;
    // A payment event stamped yesterday (the event time is the paid time).
    let order = place(&store, order_of(shop.buyer.id, vec![line(&shop.vase, 1, 1_000)])).await;
    let yesterday = now() - Duration::days(1);
    let mut event = payment_event(order.id, crate::payments::PaymentEventKind::Succeeded, "evt_yesterday");
    event = PaymentEventRecord { at: yesterday, ..event };
    store.apply_payment_event(event).await.unwrap();

    let data = store.analytics(today_window()).await.unwrap();
    let days: Vec<_> = data.sales.iter().map(|d| (d.date, d.orders, d.gross, d.commission)).collect();
    assert_eq!(
        days,
        vec![
            (yesterday.date_naive(), 1, Money(4_567), Money(457)),
            (Utc::now().date_naive(), 1, Money(10_032), Money(1_118)),
        ]
    );
    assert_eq!(data.new_users, vec![(Utc::now().date_naive(), 3)]);

    // Alice 54.65, bruno 45.67 + 45.67.
    let vendors: Vec<_> = data
        .top_vendors
        .iter()
        .map(|v| (v.vendor_id, v.orders, v.units_sold, v.gross))
        .collect();
    assert_eq!(
        vendors,
        vec![(shop.bruno.id, 2, 2, Money(9_134)), (shop.alice.id, 1, 5, Money(5_465))]
    );
    assert_eq!(data.top_vendors[0].shop_name, "Bruno Ceramics");
    assert_eq!(data.top_vendors[0].commission, Money(571 + 457));
    let products: Vec<_> = data.top_products.iter().map(|p| (p.product_id, p.units_sold, p.gross)).collect();
    assert_eq!(
        products,
        vec![
            (shop.vase.id, 2, Money(9_134)),
            (shop.ebook.id, 3, Money(2_997)),
            (shop.print.id, 2, Money(2_468))
        ]
    );
    let categories: Vec<_> = data.top_categories.iter().map(|c| (c.category_id, c.units_sold, c.gross)).collect();
    assert_eq!(
        categories,
        vec![
            (seeded::ceramics(), 2, Money(9_134)),
            (seeded::photography(), 3, Money(2_997)),
            (seeded::prints(), 2, Money(2_468))
        ]
    );

    // Only today: yesterday's order drops out of every figure.
    let today = StatsWindow {
        from: Utc::now().date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc(),
        ..today_window()
    };
    let data = store.analytics(today).await.unwrap();
    assert_eq!(data.sales.len(), 1);
    assert_eq!(data.top_vendors[0].vendor_id, shop.alice.id);
    assert_eq!(data.top_vendors[1].gross, Money(4_567));
    // An empty window.
    let empty = StatsWindow {
        from: now() - Duration::days(400),
        to: now() - Duration::days(300),
        top: 10,
    };
    let data = store.analytics(empty).await.unwrap();
    assert!(data.sales.is_empty() && data.new_users.is_empty() && data.top_vendors.is_empty());
    assert!(data.top_products.is_empty() && data.top_categories.is_empty());
}
