//! The panel's read-only pages: dashboard, vendors, payouts, users, orders, audit log, emails.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use kalavpp_core::domain::{AuditFilter, EmailFilter, OrderFilter, UserFilter, VendorFilter};
use kalavpp_core::domain::{OrderId, OrderStatus, PayoutStatus, Role, UserStatus, VendorStatus};
use kalavpp_core::{Error, FieldError};

use super::{Chrome, Pager, PanelAdmin, PanelError, PanelResult, field, money, outcome, page_request, query_map, render, when};
use crate::app::AppState;

fn chrome(admin: &PanelAdmin, query: &HashMap<String, String>, section: &'static str) -> Chrome {
    Chrome {
        name: admin.name.clone(),
        csrf: admin.csrf.clone(),
        done: outcome(query),
        section,
    }
}

/// Parses an optional filter with `parse`; `422` naming `key` when it does not parse.
fn filter<T>(query: &HashMap<String, String>, key: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<Option<T>, PanelError> {
    field(query, key)
        .map(|text| parse(text).map_err(|message| PanelError(Error::Validation(vec![FieldError::new(key, message)]))))
        .transpose()
}

/// A vendor id filter.
fn vendor_id(text: &str) -> Result<kalavpp_core::domain::VendorId, String> {
    kalavpp_core::domain::VendorId::parse(text).ok_or_else(|| "must be a vendor id".to_owned())
}

/// A time filter shown back in its date input.
fn day(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|t| t.date_naive().to_string()).unwrap_or_default()
}

/// One `<option>` of a filter.
struct Opt {
    value: &'static str,
    selected: bool,
}

fn options(all: &[&'static str], current: &str) -> Vec<Opt> {
    all.iter()
        .map(|value| Opt {
            value,
            selected: *value == current,
        })
        .collect()
}

// ---- dashboard ----

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    cards: Vec<(&'static str, Vec<(&'static str, String)>)>,
    figures: super::analytics::Figures,
    pending_vendors: i64,
}

/// `GET /admin`: the marketplace figures, and charts of the last 30 days.
pub async fn dashboard(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let t = state.market.stats().marketplace(&admin.actor).await?;
    let currency = state.market.config().currency.clone();
    let m = |cents: i64| money(cents, &currency);
    let cards = vec![
        (
            "Users",
            vec![
                ("Total", t.users_total.to_string()),
                ("Customers", t.customers.to_string()),
                ("Vendors", t.vendors.to_string()),
                ("Admins", t.admins.to_string()),
                ("New in the last 30 days", t.new_users.to_string()),
            ],
        ),
        (
            "Vendors",
            vec![
                ("Pending", t.vendors_pending.to_string()),
                ("Approved", t.vendors_approved.to_string()),
                ("Rejected", t.vendors_rejected.to_string()),
                ("Suspended", t.vendors_suspended.to_string()),
            ],
        ),
        (
            "Products",
            vec![
                ("Published", t.products_published.to_string()),
                ("Total", t.products_total.to_string()),
            ],
        ),
        (
            "Orders",
            vec![
                ("Total", t.orders_total.to_string()),
                ("Paid", t.orders_paid.to_string()),
                ("Completed", t.orders_completed.to_string()),
                ("Pending payment", t.orders_pending_payment.to_string()),
                ("Refunded", t.orders_refunded.to_string()),
            ],
        ),
        (
            "Money",
            vec![
                ("Gross merchandise value", m(t.gmv.cents())),
                ("Commission", m(t.commission.cents())),
                ("Payouts requested", m(t.payouts_requested.cents())),
                ("Payouts approved", m(t.payouts_approved.cents())),
                ("Payouts paid", m(t.payouts_paid.cents())),
            ],
        ),
    ];
    render(&DashboardPage {
        chrome: chrome(&admin, &query, "dashboard"),
        cards,
        figures: super::analytics::dashboard_figures(&state, &admin.actor).await?,
        pending_vendors: t.vendors_pending,
    })
}

// ---- vendors ----

struct VendorRow {
    id: String,
    shop_name: String,
    slug: String,
    status: &'static str,
    rejection_reason: String,
    products: i64,
    applied: String,
    /// The override as a form value (`12.50`), blank for the marketplace default.
    commission: String,
    /// What applies, e.g. `12.50 %` or `10.00 % (default)`.
    commission_shown: String,
}

#[derive(Template)]
#[template(path = "admin/vendors.html")]
struct VendorsPage {
    chrome: Chrome,
    statuses: Vec<Opt>,
    rows: Vec<VendorRow>,
    pager: Pager,
}

/// `GET /admin/vendors?status=&page=`.
pub async fn vendors(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let status = filter(&query, "status", VendorStatus::parse)?;
    let page = state
        .market
        .vendors()
        .list_all(&admin.actor, VendorFilter { status }, page_request(&query)?)
        .await?;
    let status = status
        .map(kalavpp_core::domain::VendorStatus::as_str)
        .unwrap_or_default()
        .to_owned();
    let pager = Pager::new("/admin/vendors", &[("status", &status)], &page);
    let default_bps = i64::from(state.market.config().commission_bps);
    let rows = page
        .items
        .into_iter()
        .map(|v| VendorRow {
            id: v.id.to_string(),
            shop_name: v.shop_name,
            slug: v.slug,
            status: v.status.as_str(),
            rejection_reason: v.rejection_reason.unwrap_or_default(),
            products: v.product_count,
            applied: when(&v.created_at),
            commission: v
                .commission_bps
                .map(|bps| super::commission::bps_to_percent(i64::from(bps)).trim_end_matches(" %").to_owned())
                .unwrap_or_default(),
            commission_shown: v.commission_bps.map_or_else(
                || format!("{} (default)", super::commission::bps_to_percent(default_bps)),
                |bps| super::commission::bps_to_percent(i64::from(bps)),
            ),
        })
        .collect();
    render(&VendorsPage {
        chrome: chrome(&admin, &query, "vendors"),
        statuses: options(&["pending", "approved", "rejected", "suspended"], &status),
        rows,
        pager,
    })
}

// ---- payouts ----

struct PayoutRow {
    id: String,
    vendor_id: String,
    /// The shop's name and where to send the money (its private payout details).
    shop: String,
    pay_to: String,
    amount: String,
    status: &'static str,
    requested: String,
    note: String,
}

#[derive(Template)]
#[template(path = "admin/payouts.html")]
struct PayoutsPage {
    chrome: Chrome,
    vendor: String,
    statuses: Vec<Opt>,
    rows: Vec<PayoutRow>,
    pager: Pager,
}

/// `GET /admin/payouts?status=&vendor=&page=`.
pub async fn payouts(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let status = filter(&query, "status", PayoutStatus::parse)?;
    let vendor = filter(&query, "vendor", vendor_id)?;
    let page = state
        .market
        .payouts()
        .list(&admin.actor, status, vendor, page_request(&query)?)
        .await?;
    let status = status
        .map(kalavpp_core::domain::PayoutStatus::as_str)
        .unwrap_or_default()
        .to_owned();
    let vendor = vendor.map(|v| v.to_string()).unwrap_or_default();
    let pager = Pager::new("/admin/payouts", &[("status", &status), ("vendor", &vendor)], &page);
    // The shops on this page (at most one page of them), with their payout details.
    let mut shops: HashMap<kalavpp_core::domain::VendorId, (String, String)> = HashMap::new();
    for payout in &page.items {
        if let std::collections::hash_map::Entry::Vacant(slot) = shops.entry(payout.vendor_id) {
            let vendor = state.market.vendors().for_admin(&admin.actor, payout.vendor_id).await?;
            let pay_to = match &vendor.payout_details {
                Some(serde_json::Value::String(text)) => text.clone(),
                Some(details) => serde_json::to_string_pretty(details).unwrap_or_default(),
                None => String::new(),
            };
            slot.insert((vendor.shop_name, pay_to));
        }
    }
    let rows = page
        .items
        .into_iter()
        .map(|p| PayoutRow {
            id: p.id.to_string(),
            vendor_id: p.vendor_id.to_string(),
            shop: shops.get(&p.vendor_id).map(|s| s.0.clone()).unwrap_or_default(),
            pay_to: shops.get(&p.vendor_id).map(|s| s.1.clone()).unwrap_or_default(),
            amount: money(p.amount.cents(), &p.currency),
            status: p.status.as_str(),
            requested: when(&p.requested_at),
            note: p
                .reference
                .map(|r| format!("reference: {r}"))
                .or(p.rejection_reason.map(|r| format!("rejected: {r}")))
                .unwrap_or_default(),
        })
        .collect();
    render(&PayoutsPage {
        chrome: chrome(&admin, &query, "payouts"),
        vendor,
        statuses: options(&["requested", "approved", "paid", "rejected"], &status),
        rows,
        pager,
    })
}

// ---- users ----

struct UserRow {
    id: String,
    name: String,
    email: String,
    role: &'static str,
    status: &'static str,
    created: String,
    is_me: bool,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    chrome: Chrome,
    q: String,
    roles: Vec<Opt>,
    statuses: Vec<Opt>,
    rows: Vec<UserRow>,
    pager: Pager,
}

/// `GET /admin/users?q=&role=&status=&page=`.
pub async fn users(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let role = filter(&query, "role", Role::parse)?;
    let status = filter(&query, "status", UserStatus::parse)?;
    let q = field(&query, "q").map(str::to_owned);
    let user_filter = UserFilter {
        q: q.clone(),
        role,
        status,
    };
    let page = state
        .market
        .admin()
        .list_users(&admin.actor, user_filter, page_request(&query)?)
        .await?;
    let (q, role, status) = (
        q.unwrap_or_default(),
        role.map(kalavpp_core::domain::Role::as_str).unwrap_or_default().to_owned(),
        status.map(kalavpp_core::domain::UserStatus::as_str).unwrap_or_default().to_owned(),
    );
    let pager = Pager::new("/admin/users", &[("q", &q), ("role", &role), ("status", &status)], &page);
    let me = admin.actor.user_id();
    let rows = page
        .items
        .into_iter()
        .map(|u| UserRow {
            is_me: Some(u.id) == me,
            id: u.id.to_string(),
            name: u.name,
            email: u.email,
            role: u.role.as_str(),
            status: u.status.as_str(),
            created: when(&u.created_at),
        })
        .collect();
    render(&UsersPage {
        chrome: chrome(&admin, &query, "users"),
        roles: options(&["customer", "vendor", "admin"], &role),
        statuses: options(&["active", "suspended"], &status),
        q,
        rows,
        pager,
    })
}

// ---- orders ----

struct OrderRow {
    id: String,
    number: String,
    status: &'static str,
    total: String,
    items: usize,
    created: String,
}

#[derive(Template)]
#[template(path = "admin/orders.html")]
struct OrdersPage {
    chrome: Chrome,
    vendor: String,
    from: String,
    to: String,
    statuses: Vec<Opt>,
    rows: Vec<OrderRow>,
    pager: Pager,
}

/// `GET /admin/orders?status=&vendor=&from=&to=&page=` (`vendor`: orders with lines of that
/// shop; `from` / `to`: placed on or between those `YYYY-MM-DD` days, UTC).
pub async fn orders(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let status = filter(&query, "status", OrderStatus::parse)?;
    let vendor = filter(&query, "vendor", vendor_id)?;
    let from = filter(&query, "from", |t| crate::api::admin::parse_time(t, false))?;
    let to = filter(&query, "to", |t| crate::api::admin::parse_time(t, true))?;
    let order_filter = OrderFilter {
        status,
        vendor_id: vendor,
        from,
        to,
        ..OrderFilter::default()
    };
    let page = state
        .market
        .orders()
        .list_all(&admin.actor, order_filter, page_request(&query)?)
        .await?;
    let status = status.map(kalavpp_core::domain::OrderStatus::as_str).unwrap_or_default().to_owned();
    let vendor = vendor.map(|v| v.to_string()).unwrap_or_default();
    let (from, to) = (day(from), day(to));
    let pager = Pager::new(
        "/admin/orders",
        &[("status", &status), ("vendor", &vendor), ("from", &from), ("to", &to)],
        &page,
    );
    let rows = page
        .items
        .into_iter()
        .map(|o| OrderRow {
            id: o.id.to_string(),
            number: o.number,
            status: o.status.as_str(),
            total: money(o.total.cents(), &o.currency),
            items: o.items.len(),
            created: when(&o.created_at),
        })
        .collect();
    render(&OrdersPage {
        chrome: chrome(&admin, &query, "orders"),
        vendor,
        from,
        to,
        statuses: options(
            &[
                "pending_payment",
                "paid",
                "completed",
                "payment_failed",
                "cancelled",
                "expired",
                "refunded",
            ],
            &status,
        ),
        rows,
        pager,
    })
}

struct ItemRow {
    title: String,
    kind: &'static str,
    vendor_id: String,
    quantity: i64,
    unit_price: String,
    line_total: String,
    commission: String,
    fulfilment: &'static str,
}

struct ActionRow {
    kind: &'static str,
    status: &'static str,
    amount: String,
    result: String,
    attempts: i32,
    error: String,
    at: String,
}

#[derive(Template)]
#[template(path = "admin/order.html")]
struct OrderPage {
    chrome: Chrome,
    actions: Vec<ActionRow>,
    id: String,
    number: String,
    status: &'static str,
    buyer: String,
    items: Vec<ItemRow>,
    subtotal: String,
    total: String,
    commission: String,
    shipping: String,
    created: String,
    paid: String,
    refundable: bool,
}

/// `GET /admin/orders/{id}`.
pub async fn order(State(state): State<AppState>, admin: PanelAdmin, Path(id): Path<String>, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let id = OrderId::parse(&id).ok_or_else(|| Error::not_found("order_not_found", "order not found"))?;
    let o = state.market.orders().get(&admin.actor, id).await?;
    let currency = o.currency.clone();
    let actions = state
        .market
        .orders()
        .payment_actions(&admin.actor, id)
        .await?
        .iter()
        .map(|a| ActionRow {
            kind: match a.kind {
                kalavpp_core::domain::IntentKind::CreateSession => "open checkout session",
                kalavpp_core::domain::IntentKind::ExpireSession => "expire checkout session",
                kalavpp_core::domain::IntentKind::Refund => "refund",
                kalavpp_core::domain::IntentKind::AutoRefund => "automatic refund (payment the order could not take)",
            },
            status: a.status.as_str(),
            amount: if a.amount_cents > 0 {
                money(a.amount_cents, &currency)
            } else {
                String::new()
            },
            result: a.result_id.clone().unwrap_or_default(),
            attempts: a.attempts,
            error: a.last_error.clone().unwrap_or_default(),
            at: when(&a.updated_at),
        })
        .collect();
    let items = o
        .items
        .iter()
        .map(|i| ItemRow {
            title: i.title.clone(),
            kind: i.kind.as_str(),
            vendor_id: i.vendor_id.to_string(),
            quantity: i.quantity,
            unit_price: money(i.unit_price.cents(), &currency),
            line_total: money(i.line_total.cents(), &currency),
            commission: money(i.commission.cents(), &currency),
            fulfilment: i.fulfilment_status.as_str(),
        })
        .collect();
    render(&OrderPage {
        chrome: chrome(&admin, &query, "orders"),
        actions,
        id: o.id.to_string(),
        number: o.number.clone(),
        status: o.status.as_str(),
        buyer: o.user_id.to_string(),
        items,
        subtotal: money(o.subtotal.cents(), &currency),
        total: money(o.total.cents(), &currency),
        commission: money(o.commission.cents(), &currency),
        shipping: o
            .shipping_address
            .as_ref()
            .map(|a| serde_json::to_string_pretty(a).unwrap_or_default())
            .unwrap_or_default(),
        created: when(&o.created_at),
        paid: o.paid_at.as_ref().map(when).unwrap_or_default(),
        refundable: matches!(o.status, OrderStatus::Paid | OrderStatus::Completed),
    })
}

// ---- audit log ----

struct AuditRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    details: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    chrome: Chrome,
    action: String,
    actor: String,
    from: String,
    to: String,
    rows: Vec<AuditRow>,
    pager: Pager,
}

/// `GET /admin/audit?action=&actor=&from=&to=&page=` (`actor`: a user id; `from` / `to`:
/// `YYYY-MM-DD` days, UTC, both included).
pub async fn audit(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let action = field(&query, "action").map(str::to_owned);
    let actor = filter(&query, "actor", |t| {
        kalavpp_core::domain::UserId::parse(t).ok_or_else(|| "must be a user id".to_owned())
    })?;
    let from = filter(&query, "from", |t| crate::api::admin::parse_time(t, false))?;
    let to = filter(&query, "to", |t| crate::api::admin::parse_time(t, true))?;
    let audit_filter = AuditFilter {
        action: action.clone(),
        actor_id: actor,
        from,
        to,
    };
    let page = state
        .market
        .admin()
        .list_audit(&admin.actor, audit_filter, page_request(&query)?)
        .await?;
    let action = action.unwrap_or_default();
    let actor = actor.map(|a| a.to_string()).unwrap_or_default();
    let (from, to) = (day(from), day(to));
    let pager = Pager::new(
        "/admin/audit",
        &[("action", &action), ("actor", &actor), ("from", &from), ("to", &to)],
        &page,
    );
    let rows = page
        .items
        .into_iter()
        .map(|e| AuditRow {
            at: when(&e.at),
            actor: e.actor_id.map_or_else(|| "system".to_owned(), |id| id.to_string()),
            action: e.action,
            target: format!("{} {}", e.target_type, e.target_id),
            details: e.details.to_string(),
        })
        .collect();
    render(&AuditPage {
        chrome: chrome(&admin, &query, "audit"),
        action,
        actor,
        from,
        to,
        rows,
        pager,
    })
}

// ---- emails ----

struct EmailRow {
    id: String,
    created: String,
    recipient: String,
    template: String,
    subject: String,
    status: String,
    attempts: i32,
    last_error: String,
    sent: String,
}

#[derive(Template)]
#[template(path = "admin/emails.html")]
struct EmailsPage {
    chrome: Chrome,
    statuses: Vec<Opt>,
    rows: Vec<EmailRow>,
    pager: Pager,
}

/// `GET /admin/emails?status=&page=`: the outbox. Bodies are not shown (they may carry one-time
/// tokens such as password-reset links).
pub async fn emails(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let statuses = ["queued", "sending", "sent", "failed"];
    let status = filter(&query, "status", |s| {
        statuses
            .contains(&s)
            .then(|| s.to_owned())
            .ok_or_else(|| format!("must be one of {}", statuses.join(", ")))
    })?;
    let email_filter = EmailFilter {
        status: status.clone(),
        ..EmailFilter::default()
    };
    let page = state
        .market
        .admin()
        .list_emails(&admin.actor, email_filter, page_request(&query)?)
        .await?;
    let status = status.unwrap_or_default();
    let pager = Pager::new("/admin/emails", &[("status", &status)], &page);
    let rows = page
        .items
        .into_iter()
        .map(|e| EmailRow {
            id: e.id.to_string(),
            created: when(&e.created_at),
            recipient: e.recipient,
            template: e.template,
            subject: e.subject,
            status: e.status,
            attempts: e.attempts,
            last_error: e.last_error.unwrap_or_default(),
            sent: e.sent_at.as_ref().map(when).unwrap_or_default(),
        })
        .collect();
    render(&EmailsPage {
        chrome: chrome(&admin, &query, "emails"),
        statuses: options(&statuses, &status),
        rows,
        pager,
    })
}

// ---- reviews ----

struct ReviewRow {
    id: String,
    product_id: String,
    author: String,
    rating: i32,
    title: String,
    body: String,
    hidden: bool,
    written: String,
}

#[derive(Template)]
#[template(path = "admin/reviews.html")]
struct ReviewsPage {
    chrome: Chrome,
    shown: Vec<Opt>,
    rows: Vec<ReviewRow>,
    pager: Pager,
}

/// `GET /admin/reviews?shown=all|hidden|visible&page=`: every review, for moderation.
pub async fn reviews(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let hidden = filter(&query, "shown", |s| match s {
        "hidden" => Ok(Some(true)),
        "visible" => Ok(Some(false)),
        "all" => Ok(None),
        _ => Err("must be one of all, hidden, visible".to_owned()),
    })?
    .flatten();
    let page = state.market.reviews().list_all(&admin.actor, hidden, page_request(&query)?).await?;
    let shown = match hidden {
        Some(true) => "hidden",
        Some(false) => "visible",
        None => "",
    };
    let pager = Pager::new("/admin/reviews", &[("shown", shown)], &page);
    let rows = page
        .items
        .into_iter()
        .map(|r| ReviewRow {
            id: r.id.to_string(),
            product_id: r.product_id.to_string(),
            author: r.author_name,
            rating: r.rating,
            title: r.title.unwrap_or_default(),
            body: r.body,
            hidden: r.hidden,
            written: when(&r.created_at),
        })
        .collect();
    render(&ReviewsPage {
        chrome: chrome(&admin, &query, "reviews"),
        shown: options(&["hidden", "visible"], shown),
        rows,
        pager,
    })
}
