//! `CartStore`: server-side carts (add adds up, set, remove) and each line's current state.

use crate::domain::CartLine;
use crate::domain::{Money, ProductKind, ProductStatus, VendorStatus};
use crate::storage::{NewProduct, ProductUpdate};

use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cart {
    ($callback:ident) => {
        $callback! {
            group: cart,
            store: [
                add_to_cart_adds_up,
                cart_lines_show_current_state_oldest_first,
                carts_are_per_user,
                set_cart_quantity_sets_and_zero_removes,
                remove_from_cart_removes_one_line,
                cart_lines_flag_what_cannot_be_bought,
                add_to_cart_of_unknown_product_fails,
            ],
            sql: [],
        }
    };
}

__conformance_cart!(define_cases);

async fn lines(store: &Db, shop: &Shop) -> Vec<CartLine> {
    store.cart_lines(shop.buyer.id).await.expect("cart lines")
}

fn quantities(lines: &[CartLine]) -> Vec<(String, i64)> {
    lines.iter().map(|l| (l.slug.clone(), l.quantity)).collect()
}

pub async fn add_to_cart_adds_up(store: Db) {
    let shop = shop(&store).await;
    let first = now();
    assert_eq!(store.add_to_cart(shop.buyer.id, shop.print.id, 2, first).await.unwrap(), 2);
    assert_eq!(
        store.add_to_cart(shop.buyer.id, shop.print.id, 1, first + secs(5)).await.unwrap(),
        3
    );
    assert_eq!(
        store.add_to_cart(shop.buyer.id, shop.print.id, 2, first + secs(9)).await.unwrap(),
        5
    );
    let cart = lines(&store, &shop).await;
    assert_eq!(
        cart,
        [CartLine {
            product_id: shop.print.id,
            title: "Harbour at dawn".into(),
            slug: "harbour-at-dawn".into(),
            quantity: 5,
            unit_price: Money(1_234),
            vendor_id: shop.alice.id,
            kind: ProductKind::Physical,
            stock: Some(5),
            available: true,
            added_at: first,
        }],
        "one line; adding again adds to its quantity and keeps when it was first added"
    );
}

pub async fn cart_lines_show_current_state_oldest_first(store: Db) {
    let shop = shop(&store).await;
    let t0 = now();
    store.add_to_cart(shop.buyer.id, shop.vase.id, 1, t0 + secs(2)).await.unwrap();
    store.add_to_cart(shop.buyer.id, shop.ebook.id, 1, t0 + secs(1)).await.unwrap();
    store.add_to_cart(shop.buyer.id, shop.print.id, 2, t0).await.unwrap();
    assert_eq!(
        quantities(&lines(&store, &shop).await),
        [
            ("harbour-at-dawn".to_owned(), 2),
            ("night-photography-guide".to_owned(), 1),
            ("celadon-vase".to_owned(), 1)
        ],
        "oldest first"
    );
    // Prices and titles are the product's current ones, not the ones when added.
    store
        .update_product(ProductUpdate {
            id: shop.print.id,
            title: "Harbour at dusk".into(),
            description: shop.print.description.clone(),
            kind: shop.print.kind,
            price: Money(1_500),
            stock: Some(4),
            category_id: shop.print.category.id,
            status: ProductStatus::Published,
            tags: Vec::new(),
            at: now(),
            audit: None,
        })
        .await
        .unwrap();
    let cart = lines(&store, &shop).await;
    assert_eq!(cart[0].title, "Harbour at dusk");
    assert_eq!(cart[0].slug, "harbour-at-dawn");
    assert_eq!(cart[0].unit_price, Money(1_500));
    assert_eq!(cart[0].stock, Some(4));
    assert!(cart[0].available);
    let ebook = &cart[1];
    assert_eq!(
        (ebook.kind, ebook.stock, ebook.available, ebook.unit_price, ebook.vendor_id),
        (ProductKind::Digital, None, true, Money(999), shop.alice.id)
    );
    assert_eq!(ebook.added_at, t0 + secs(1));
    let vase = &cart[2];
    assert_eq!(
        (vase.vendor_id, vase.stock, vase.unit_price, vase.added_at),
        (shop.bruno.id, Some(3), Money(4_567), t0 + secs(2))
    );
}

pub async fn carts_are_per_user(store: Db) {
    let shop = shop(&store).await;
    let other = new_user(&store, "other@example.com").await;
    store.add_to_cart(shop.buyer.id, shop.print.id, 1, now()).await.unwrap();
    assert_eq!(store.add_to_cart(other.id, shop.print.id, 4, now()).await.unwrap(), 4);
    assert_eq!(quantities(&lines(&store, &shop).await), [("harbour-at-dawn".to_owned(), 1)]);
    let theirs = store.cart_lines(other.id).await.unwrap();
    assert_eq!(quantities(&theirs), [("harbour-at-dawn".to_owned(), 4)]);
    // Changing or removing one user's line leaves the other's alone.
    assert!(!store.set_cart_quantity(other.id, shop.vase.id, 2).await.unwrap());
    assert!(store.remove_from_cart(other.id, shop.print.id).await.unwrap());
    assert_eq!(quantities(&lines(&store, &shop).await), [("harbour-at-dawn".to_owned(), 1)]);
    assert!(store.cart_lines(other.id).await.unwrap().is_empty());
    let nobody = new_user(&store, "empty@example.com").await;
    assert!(store.cart_lines(nobody.id).await.unwrap().is_empty());
}

pub async fn set_cart_quantity_sets_and_zero_removes(store: Db) {
    let shop = shop(&store).await;
    store.add_to_cart(shop.buyer.id, shop.print.id, 1, now()).await.unwrap();
    store.add_to_cart(shop.buyer.id, shop.vase.id, 1, now() + secs(1)).await.unwrap();
    assert!(store.set_cart_quantity(shop.buyer.id, shop.print.id, 4).await.unwrap());
    assert_eq!(
        quantities(&lines(&store, &shop).await),
        [("harbour-at-dawn".to_owned(), 4), ("celadon-vase".to_owned(), 1)],
        "set replaces the quantity"
    );
    assert!(store.set_cart_quantity(shop.buyer.id, shop.print.id, 1).await.unwrap());
    assert_eq!(lines(&store, &shop).await[0].quantity, 1);
    assert!(
        store.set_cart_quantity(shop.buyer.id, shop.print.id, 0).await.unwrap(),
        "0 removes the line"
    );
    assert_eq!(quantities(&lines(&store, &shop).await), [("celadon-vase".to_owned(), 1)]);
    assert!(
        !store.set_cart_quantity(shop.buyer.id, shop.print.id, 3).await.unwrap(),
        "a missing line is not created"
    );
    assert!(!store.set_cart_quantity(shop.buyer.id, shop.print.id, 0).await.unwrap());
    assert!(!store.set_cart_quantity(shop.buyer.id, shop.ebook.id, 2).await.unwrap());
    assert_eq!(quantities(&lines(&store, &shop).await), [("celadon-vase".to_owned(), 1)]);
}

pub async fn remove_from_cart_removes_one_line(store: Db) {
    let shop = shop(&store).await;
    store.add_to_cart(shop.buyer.id, shop.print.id, 2, now()).await.unwrap();
    store.add_to_cart(shop.buyer.id, shop.ebook.id, 1, now() + secs(1)).await.unwrap();
    assert!(store.remove_from_cart(shop.buyer.id, shop.print.id).await.unwrap());
    assert_eq!(quantities(&lines(&store, &shop).await), [("night-photography-guide".to_owned(), 1)]);
    assert!(!store.remove_from_cart(shop.buyer.id, shop.print.id).await.unwrap(), "already gone");
    assert!(!store.remove_from_cart(shop.buyer.id, shop.vase.id).await.unwrap(), "never there");
    assert!(store.remove_from_cart(shop.buyer.id, shop.ebook.id).await.unwrap());
    assert!(lines(&store, &shop).await.is_empty());
    // Removed lines can be added again from scratch.
    assert_eq!(store.add_to_cart(shop.buyer.id, shop.print.id, 1, now()).await.unwrap(), 1);
}

pub async fn cart_lines_flag_what_cannot_be_bought(store: Db) {
    let shop = shop(&store).await;
    let draft = add_product(
        &store,
        NewProduct {
            status: ProductStatus::Draft,
            ..product(shop.alice.id, seeded::prints(), "Unfinished sketch")
        },
    )
    .await;
    let archived = add_product(
        &store,
        NewProduct {
            status: ProductStatus::Archived,
            ..product(shop.alice.id, seeded::prints(), "Old print")
        },
    )
    .await;
    let t0 = now();
    let cart = [
        (shop.print.id, 5, "stock equal to the quantity"),
        (shop.vase.id, 4, "stock below the quantity"),
        (shop.ebook.id, 1_000, "digital: no stock"),
        (draft.id, 1, "draft"),
        (archived.id, 1, "archived"),
    ];
    for (i, (product_id, quantity, _)) in cart.iter().enumerate() {
        store
            .add_to_cart(shop.buyer.id, *product_id, *quantity, t0 + secs(i as i64))
            .await
            .unwrap();
    }
    let available = |lines: &[CartLine]| lines.iter().map(|l| (l.product_id, l.available)).collect::<Vec<_>>();
    assert_eq!(
        available(&lines(&store, &shop).await),
        [
            (shop.print.id, true),
            (shop.vase.id, false),
            (shop.ebook.id, true),
            (draft.id, false),
            (archived.id, false)
        ]
    );
    // Lowering the wanted quantity to the stock makes the line available again.
    store.set_cart_quantity(shop.buyer.id, shop.vase.id, 3).await.unwrap();
    assert!(lines(&store, &shop).await[1].available);
    // A suspended vendor's products (physical and digital) cannot be bought.
    set_vendor_status(&store, shop.alice.id, VendorStatus::Suspended).await;
    assert_eq!(
        available(&lines(&store, &shop).await),
        [
            (shop.print.id, false),
            (shop.vase.id, true),
            (shop.ebook.id, false),
            (draft.id, false),
            (archived.id, false)
        ]
    );
    set_vendor_status(&store, shop.alice.id, VendorStatus::Approved).await;
    assert!(lines(&store, &shop).await[0].available, "approved again");
}

pub async fn add_to_cart_of_unknown_product_fails(store: Db) {
    let shop = shop(&store).await;
    let unknown = crate::domain::ProductId::new();
    assert!(store.add_to_cart(shop.buyer.id, unknown, 1, now()).await.is_err());
    assert!(lines(&store, &shop).await.is_empty());
}
