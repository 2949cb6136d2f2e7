//! Fixtures of the conformance suite, glob-imported by every group: small record builders, the
//! categories every store seeds, and assertions shared by the behaviours. Crate-internal: the
//! cases are the public surface.

use chrono::TimeDelta;
use uuid::Uuid;

pub use crate::domain::Timestamp;
use crate::domain::{
    self, AuditId, CategoryId, Email, EmailId, ImageId, Money, OrderId, OrderItemId, PageRequest, ProductId, ProductKind, ProductStatus,
    Role, SessionFamilyId, User, UserId, UserName, UserStatus, VendorId, VendorStatus,
};
use crate::domain::{
    AuditFilter, Balance, EmailFilter, EventOutcome, LedgerEntry, Order, OrderFilter, Product, ProductAsset, ProductImage, Vendor,
};
use crate::payments::PaymentEventKind;
use crate::storage::Conflict;
use crate::storage::{
    AdminUserChange, NewAudit, NewEmail, NewOrder, NewOrderItem, NewProduct, NewRefreshToken, NewUser, NewVendor, PaymentEventRecord,
    RefreshOutcome, RotatedToken, StoreError, VendorDecision,
};

pub use crate::conformance::Db;

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

/// The current time at the precision both backends store.
pub fn now() -> Timestamp {
    domain::now()
}

pub fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

pub fn email(text: &str) -> Email {
    Email::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

pub fn name(text: &str) -> UserName {
    UserName::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// A new customer account: the name is the email's local part, created now.
pub fn user(address: &str) -> NewUser {
    let local = address.split('@').next().unwrap_or(address);
    NewUser {
        id: UserId::new(),
        email: email(address),
        name: name(local),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$hash-of-{local}"),
        role: Role::Customer,
        created_at: now(),
        welcome_email: None,
    }
}

/// Inserts [`user`]`(address)`.
pub async fn new_user(store: &Db, address: &str) -> User {
    store.insert_user(user(address)).await.expect("insert user")
}

/// Inserts a customer with a given name and creation time.
pub async fn new_user_at(store: &Db, address: &str, display_name: &str, created_at: Timestamp) -> User {
    let record = NewUser {
        name: name(display_name),
        created_at,
        ..user(address)
    };
    store.insert_user(record).await.expect("insert user")
}

/// A random refresh-token hash.
pub fn token() -> String {
    format!("rt-{}", Uuid::new_v4().simple())
}

/// The first token of a login session that ends in a day.
pub fn refresh_token(user_id: UserId) -> NewRefreshToken {
    let issued_at = now();
    NewRefreshToken {
        id: Uuid::now_v7(),
        family: SessionFamilyId::new(),
        user_id,
        token_hash: token(),
        issued_at,
        expires_at: issued_at + TimeDelta::days(1),
        idle_expires_at: None,
    }
}

/// A login session: its family and its current refresh-token hash.
#[derive(Debug, Clone)]
pub struct Login {
    pub family: SessionFamilyId,
    pub token: String,
}

/// Starts a login session for `user_id`.
pub async fn login(store: &Db, user_id: UserId) -> Login {
    let record = refresh_token(user_id);
    let login = Login {
        family: record.family,
        token: record.token_hash.clone(),
    };
    store.insert_refresh_token(record).await.expect("insert refresh token");
    login
}

/// A replacement token for a rotation at `at`.
pub fn rotated_at(at: Timestamp) -> RotatedToken {
    RotatedToken {
        id: Uuid::now_v7(),
        token_hash: token(),
        at,
    }
}

/// Presents `presented` now; returns the outcome and the hash of the replacement offered.
pub async fn refresh(store: &Db, presented: &str) -> (RefreshOutcome, String) {
    refresh_at(store, presented, now()).await
}

/// Presents `presented` at `at`; returns the outcome and the hash of the replacement offered.
pub async fn refresh_at(store: &Db, presented: &str, at: Timestamp) -> (RefreshOutcome, String) {
    let next = rotated_at(at);
    let next_hash = next.token_hash.clone();
    let outcome = store.rotate_refresh_token(presented, next).await.expect("rotate refresh token");
    (outcome, next_hash)
}

/// An outbox message created now.
pub fn mail(recipient: &str, template: &str) -> NewEmail {
    NewEmail {
        id: EmailId::new(),
        recipient: recipient.to_owned(),
        template: template.to_owned(),
        subject: format!("{template} for {recipient}"),
        body_text: format!("Hello {recipient},\nthis is {template}."),
        body_html: Some(format!("<p>Hello {recipient}</p>")),
        created_at: now(),
    }
}

/// An audit row about user `target`.
pub fn audit_row(actor_id: Option<UserId>, action: &str, target: UserId, at: Timestamp) -> NewAudit {
    NewAudit {
        id: AuditId::new(),
        at,
        actor_id,
        action: action.to_owned(),
        target_type: "user".to_owned(),
        target_id: target.to_string(),
        details: serde_json::json!({ "action": action }),
    }
}

/// An admin change of `target` by `actor` at `at`, with an audit row of action `user.update`.
pub fn admin_change(
    actor: Option<UserId>,
    target: UserId,
    status: Option<UserStatus>,
    role: Option<Role>,
    at: Timestamp,
) -> AdminUserChange {
    AdminUserChange {
        user_id: target,
        status,
        role,
        audit: audit_row(actor, "user.update", target, at),
    }
}

// ---------------------------------------------------------------------------------------------
// Vendors and catalog
// ---------------------------------------------------------------------------------------------

/// Ids of categories seeded by migration V2 (the same on both backends).
pub mod seeded {
    use crate::domain::CategoryId;

    fn id(text: &str) -> CategoryId {
        CategoryId::parse(text).expect("a seeded category id")
    }
    pub fn paintings() -> CategoryId {
        id("01900000-0000-7000-8000-000000000001")
    }
    pub fn oil_paintings() -> CategoryId {
        id("01900000-0000-7000-8000-000000000002")
    }
    pub fn acrylic_paintings() -> CategoryId {
        id("01900000-0000-7000-8000-000000000003")
    }
    pub fn watercolour_paintings() -> CategoryId {
        id("01900000-0000-7000-8000-000000000004")
    }
    pub fn prints() -> CategoryId {
        id("01900000-0000-7000-8000-000000000005")
    }
    pub fn photography() -> CategoryId {
        id("01900000-0000-7000-8000-000000000006")
    }
    pub fn ceramics() -> CategoryId {
        id("01900000-0000-7000-8000-00000000000b")
    }
}

/// An audit row about any target.
pub fn audit_of(actor_id: Option<UserId>, action: &str, target_type: &str, target_id: impl ToString, at: Timestamp) -> NewAudit {
    NewAudit {
        id: AuditId::new(),
        at,
        actor_id,
        action: action.to_owned(),
        target_type: target_type.to_owned(),
        target_id: target_id.to_string(),
        details: serde_json::json!({ "action": action }),
    }
}

/// A vendor application of `user_id` for `shop_name` (slug made from it), now, without details.
pub fn application(user_id: UserId, shop_name: &str) -> NewVendor {
    NewVendor {
        id: VendorId::new(),
        user_id,
        slug: domain::slugify(shop_name),
        shop_name: shop_name.to_owned(),
        bio: None,
        payout_details: None,
        at: now(),
    }
}

/// A new customer `address` who applied with `shop_name` at `at` (still `pending`).
pub async fn applicant_at(store: &Db, address: &str, shop_name: &str, at: Timestamp) -> (User, Vendor) {
    let owner = new_user(store, address).await;
    let vendor = store
        .insert_vendor(NewVendor {
            at,
            ..application(owner.id, shop_name)
        })
        .await
        .expect("insert vendor");
    (owner, vendor)
}

/// A decision moving `vendor_id` from `from` to `to`, audited as `vendor.<to>` by nobody, without
/// email, role grant, reason or commission change.
pub fn decision(vendor_id: VendorId, from: &[VendorStatus], to: Option<VendorStatus>, at: Timestamp) -> VendorDecision {
    let verb = to.map_or("update", VendorStatus::as_str);
    VendorDecision {
        vendor_id,
        from: from.to_vec(),
        to,
        rejection_reason: None,
        commission_bps: None,
        grant_vendor_role: false,
        audit: audit_of(None, &format!("vendor.{verb}"), "vendor", vendor_id, at),
        email: None,
    }
}

/// Approves a pending vendor (granting the role), as an admin would.
pub async fn approve(store: &Db, vendor_id: VendorId) -> Vendor {
    let mut approval = decision(vendor_id, &[VendorStatus::Pending], Some(VendorStatus::Approved), now());
    approval.grant_vendor_role = true;
    store.decide_vendor(approval).await.expect("approve vendor")
}

/// Moves a vendor between statuses without checking where it was.
pub async fn set_vendor_status(store: &Db, vendor_id: VendorId, to: VendorStatus) -> Vendor {
    let any = [
        VendorStatus::Pending,
        VendorStatus::Approved,
        VendorStatus::Rejected,
        VendorStatus::Suspended,
    ];
    store
        .decide_vendor(decision(vendor_id, &any, Some(to), now()))
        .await
        .expect("set vendor status")
}

/// A new approved vendor whose owner is the customer `address`.
pub async fn approved_vendor(store: &Db, address: &str, shop_name: &str) -> Vendor {
    let (_, vendor) = applicant_at(store, address, shop_name, now()).await;
    approve(store, vendor.id).await
}

/// A published physical product (stock 5, 10.00) of `vendor_id` in `category_id`, slug made from
/// the title, created now, with a short description and no tags.
pub fn product(vendor_id: VendorId, category_id: CategoryId, title: &str) -> NewProduct {
    NewProduct {
        id: ProductId::new(),
        vendor_id,
        category_id,
        slug: domain::slugify(title),
        title: title.to_owned(),
        description: format!("About {title}."),
        kind: ProductKind::Physical,
        price: Money(1_000),
        stock: Some(5),
        status: ProductStatus::Published,
        tags: Vec::new(),
        at: now(),
    }
}

/// Inserts `record`.
pub async fn add_product(store: &Db, record: NewProduct) -> Product {
    store.insert_product(record).await.expect("insert product")
}

/// An image of `product_id` stored under `key` (its position is chosen by the store).
pub fn image(product_id: ProductId, key: &str) -> ProductImage {
    ProductImage {
        id: ImageId::new(),
        product_id,
        position: -1,
        key: format!("images/{key}.webp"),
        thumb_key: format!("images/{key}.thumb.webp"),
        width: 1200,
        height: 800,
        created_at: now(),
    }
}

/// A digital asset of `product_id` named `filename`.
pub fn asset(product_id: ProductId, filename: &str) -> ProductAsset {
    ProductAsset {
        product_id,
        filename: filename.to_owned(),
        key: format!("assets/{}", Uuid::new_v4().simple()),
        size_bytes: 123_456,
        sha256: format!("{:0>64}", filename.len()),
        created_at: now(),
    }
}

/// Asserts that `result` is `Conflict(what)`.
#[track_caller]
pub fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, what: Conflict) {
    match result {
        Err(StoreError::Conflict(clash)) => assert_eq!(clash, what),
        other => panic!("expected Conflict({what:?}), got {other:?}"),
    }
}

/// Asserts that `result` is `NotFound`.
#[track_caller]
pub fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

/// How many audit rows there are.
pub async fn audit_count(store: &Db) -> i64 {
    store
        .list_audit(&AuditFilter::default(), PageRequest::new(1, 1))
        .await
        .expect("list audit")
        .total
}

/// How many emails are queued.
pub async fn email_count(store: &Db) -> i64 {
    store
        .list_emails(&EmailFilter::default(), PageRequest::new(1, 1))
        .await
        .expect("list emails")
        .total
}

// ---------------------------------------------------------------------------------------------
// Carts, orders, payments
// ---------------------------------------------------------------------------------------------

/// A marketplace to buy from: two approved vendors, three products (prices chosen so that
/// commissions round) and a buyer.
pub struct Shop {
    pub buyer: User,
    /// Sells `print` and `ebook`.
    pub alice: Vendor,
    /// Sells `vase`.
    pub bruno: Vendor,
    /// Physical, 12.34, stock 5.
    pub print: Product,
    /// Physical, 45.67, stock 3.
    pub vase: Product,
    /// Digital, 9.99, with an asset.
    pub ebook: Product,
}

/// Sets up a [`Shop`].
pub async fn shop(store: &Db) -> Shop {
    let alice = approved_vendor(store, "alice@example.com", "Alice Prints").await;
    let bruno = approved_vendor(store, "bruno@example.com", "Bruno Ceramics").await;
    let print = add_product(
        store,
        NewProduct {
            price: Money(1_234),
            stock: Some(5),
            ..product(alice.id, seeded::prints(), "Harbour at dawn")
        },
    )
    .await;
    let vase = add_product(
        store,
        NewProduct {
            price: Money(4_567),
            stock: Some(3),
            ..product(bruno.id, seeded::ceramics(), "Celadon vase")
        },
    )
    .await;
    let ebook = add_product(
        store,
        NewProduct {
            kind: ProductKind::Digital,
            price: Money(999),
            stock: None,
            ..product(alice.id, seeded::photography(), "Night photography guide")
        },
    )
    .await;
    store
        .set_product_asset(asset(ebook.id, "night-guide.pdf"))
        .await
        .expect("set asset");
    let buyer = new_user(store, "buyer@example.com").await;
    Shop {
        buyer,
        alice,
        bruno,
        print,
        vase,
        ebook,
    }
}

/// A line of `quantity` × `product` at its current price with `commission_bps`, commission
/// rounded like the services do.
pub fn line(product: &Product, quantity: i64, commission_bps: i32) -> NewOrderItem {
    let line_total = Money(product.price.cents() * quantity);
    let commission = line_total.share_bps(u32::try_from(commission_bps).expect("non-negative bps"));
    NewOrderItem {
        id: OrderItemId::new(),
        product_id: product.id,
        vendor_id: product.vendor.id,
        title: product.title.clone(),
        kind: product.kind,
        quantity,
        unit_price: product.price,
        line_total,
        commission_bps,
        commission,
        vendor_net: Money(line_total.cents() - commission.cents()),
    }
}

/// A new order of `buyer` for `items`, created now, with a unique number, totals summed from the
/// lines and a shipping address when any line is physical.
pub fn order_of(buyer: UserId, items: Vec<NewOrderItem>) -> NewOrder {
    let subtotal = Money(items.iter().map(|i| i.line_total.cents()).sum());
    let commission = Money(items.iter().map(|i| i.commission.cents()).sum());
    let physical = items.iter().any(|i| i.kind == ProductKind::Physical);
    NewOrder {
        id: OrderId::new(),
        number: format!("KV-{}", &Uuid::new_v4().simple().to_string()[..10]),
        user_id: buyer,
        currency: "usd".to_owned(),
        items,
        subtotal,
        total: subtotal,
        commission,
        shipping_address: physical.then(|| {
            serde_json::json!({
                "name": "Bea Buyer", "line1": "1 Harbour Road", "city": "Porto", "postal_code": "4000-001", "country": "PT"
            })
        }),
        payment_provider: "dev".to_owned(),
        take_from_cart: false,
        max_unpaid: None,
        checkout_intent: None,
        at: now(),
    }
}

/// Places `order`, panicking on failure.
pub async fn place(store: &Db, order: NewOrder) -> Order {
    store.place_order(order).await.expect("place order")
}

/// A provider event of `kind` for `order_id` with id `event_id`, now, with a payment intent
/// `pi_<event_id>` and (for `Succeeded`) a confirmation email to the buyer.
pub fn payment_event(order_id: OrderId, kind: PaymentEventKind, event_id: &str) -> PaymentEventRecord {
    PaymentEventRecord {
        event_id: event_id.to_owned(),
        kind,
        order_id,
        payment_intent_id: Some(format!("pi_{event_id}")),
        confirmation: (kind == PaymentEventKind::Succeeded).then(|| mail("buyer@example.com", "order_paid")),
        late_payment: None,
        digital_credit_pending: false,
        at: now(),
    }
}

/// Pays `order_id` with a fresh event id; returns the event id.
pub async fn pay(store: &Db, order_id: OrderId) -> String {
    let event_id = format!("evt_{}", Uuid::new_v4().simple());
    let outcome = store
        .apply_payment_event(payment_event(order_id, PaymentEventKind::Succeeded, &event_id))
        .await
        .expect("apply payment");
    assert_eq!(outcome, EventOutcome::Applied, "the payment applies");
    event_id
}

/// The stock of a product now.
pub async fn stock_of(store: &Db, id: ProductId) -> Option<i64> {
    store.product_by_id(id).await.expect("read product").expect("product exists").stock
}

/// The sales count of a product now.
pub async fn sales_of(store: &Db, id: ProductId) -> i64 {
    store
        .product_by_id(id)
        .await
        .expect("read product")
        .expect("product exists")
        .sales_count
}

/// An order now (it must exist).
pub async fn order_now(store: &Db, id: OrderId) -> Order {
    store.order_by_id(id).await.expect("read order").expect("order exists")
}

/// A vendor's balances.
pub async fn balance_of(store: &Db, vendor_id: VendorId) -> Balance {
    store.vendor_balance(vendor_id).await.expect("vendor balance")
}

/// Every ledger entry of a vendor, newest first.
pub async fn ledger_of(store: &Db, vendor_id: VendorId) -> Vec<LedgerEntry> {
    let page = store
        .ledger_entries(vendor_id, PageRequest::new(1, 100))
        .await
        .expect("ledger entries");
    assert_eq!(page.total, page.items.len() as i64, "one page holds them all");
    page.items
}

/// Every order (all buyers), newest first.
pub async fn all_orders(store: &Db) -> Vec<Order> {
    let page = store
        .list_orders(&OrderFilter::default(), PageRequest::new(1, 100))
        .await
        .expect("list orders");
    assert_eq!(page.total, page.items.len() as i64, "one page holds them all");
    page.items
}

/// Everything a payment event, a fulfilment or a refund may change, to check that a refused or
/// replayed one changed nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct World {
    pub orders: Vec<Order>,
    pub balances: Vec<Balance>,
    pub ledgers: Vec<Vec<LedgerEntry>>,
    pub stock: Vec<Option<i64>>,
    pub sales: Vec<i64>,
    pub emails: i64,
    pub audit: i64,
}

/// The [`World`] of a [`Shop`] now.
pub async fn world(store: &Db, shop: &Shop) -> World {
    let mut world = World {
        orders: all_orders(store).await,
        balances: Vec::new(),
        ledgers: Vec::new(),
        stock: Vec::new(),
        sales: Vec::new(),
        emails: email_count(store).await,
        audit: audit_count(store).await,
    };
    for vendor in [shop.alice.id, shop.bruno.id] {
        world.balances.push(balance_of(store, vendor).await);
        world.ledgers.push(ledger_of(store, vendor).await);
    }
    for product in [shop.print.id, shop.vase.id, shop.ebook.id] {
        world.stock.push(stock_of(store, product).await);
        world.sales.push(sales_of(store, product).await);
    }
    world
}

/// The order most payment tests use: 2 prints at 10 %, a vase at 12.5 % and 3 e-books at 10 %,
/// whose commissions all round (2.468 → 2.47, 5.70875 → 5.71, 2.997 → 3.00).
pub fn mixed_order(shop: &Shop) -> NewOrder {
    order_of(
        shop.buyer.id,
        vec![line(&shop.print, 2, 1_000), line(&shop.vase, 1, 1_250), line(&shop.ebook, 3, 1_000)],
    )
}
