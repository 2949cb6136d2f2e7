//! The emails the marketplace queues in the outbox: one constructor per message, each filling the
//! subject and both bodies (plain text and auto-escaped HTML) from the askama templates in
//! `kalavpp-core/templates/email/` (see `crate::mail`).

use crate::domain::Order;
use crate::domain::{EmailId, Money, ProductKind, now};
use crate::mail::templates::{self, Rendered};
use crate::storage::NewEmail;

/// Template name of the password-reset email; its body holds a one-time token.
pub const PASSWORD_RESET: &str = "password_reset";
/// Template name of the vendor-approval email.
pub const VENDOR_APPROVED: &str = "vendor_approved";
/// Template name of the vendor-rejection email.
pub const VENDOR_REJECTED: &str = "vendor_rejected";
/// Template name of the vendor-suspension email.
pub const VENDOR_SUSPENDED: &str = "vendor_suspended";
/// Template name of the order confirmation.
pub const ORDER_CONFIRMATION: &str = "order_confirmation";
/// Template name of the refund notice.
pub const REFUND_ISSUED: &str = "refund_issued";
/// Template name of the notice that a payment the order could not take is being given back.
pub const PAYMENT_RETURNED: &str = "payment_returned";
/// Template name of the welcome email.
pub const WELCOME: &str = "welcome";
/// Template name of the payout-requested email.
pub const PAYOUT_REQUESTED: &str = "payout_requested";
/// Template name of the payout-approved email.
pub const PAYOUT_APPROVED: &str = "payout_approved";
/// Template name of the payout-paid email.
pub const PAYOUT_PAID: &str = "payout_paid";
/// Template name of the payout-rejected email.
pub const PAYOUT_REJECTED: &str = "payout_rejected";

fn email(recipient: &str, template: &str, subject: String, body: Rendered) -> NewEmail {
    NewEmail {
        id: EmailId::new(),
        recipient: recipient.to_owned(),
        template: template.into(),
        subject,
        body_text: body.text,
        body_html: Some(body.html),
        created_at: now(),
    }
}

fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// `12.34 USD`, `-0.05 EUR`.
fn cents(amount: Money, currency: &str) -> String {
    let value = amount.cents();
    format!(
        "{}{}.{:02} {}",
        if value < 0 { "-" } else { "" },
        value.abs() / 100,
        value.abs() % 100,
        currency.to_uppercase()
    )
}

/// The password-reset email with its link.
pub fn password_reset(recipient: &str, name: &str, frontend_url: &str, token: &str) -> NewEmail {
    let body = templates::PasswordReset {
        name: name.to_owned(),
        link: format!("{}/reset-password?token={token}", base(frontend_url)),
        token: token.to_owned(),
    }
    .render();
    email(recipient, PASSWORD_RESET, "Reset your KALAVPP password".into(), body)
}

/// Tells an applicant their shop is approved.
pub fn vendor_approved(recipient: &str, shop_name: &str, frontend_url: &str) -> NewEmail {
    let body = templates::VendorApproved {
        shop_name: shop_name.to_owned(),
        vendor_url: format!("{}/studio", base(frontend_url)),
    }
    .render();
    email(recipient, VENDOR_APPROVED, format!("Your shop {shop_name} is approved"), body)
}

/// Tells an applicant why their application was turned down.
pub fn vendor_rejected(recipient: &str, shop_name: &str, reason: &str) -> NewEmail {
    let body = templates::VendorRejected {
        shop_name: shop_name.to_owned(),
        reason: reason.to_owned(),
    }
    .render();
    email(recipient, VENDOR_REJECTED, format!("Your shop application for {shop_name}"), body)
}

/// Tells a vendor their shop was suspended.
pub fn vendor_suspended(recipient: &str, shop_name: &str) -> NewEmail {
    let body = templates::VendorSuspended {
        shop_name: shop_name.to_owned(),
    }
    .render();
    email(recipient, VENDOR_SUSPENDED, format!("Your shop {shop_name} is suspended"), body)
}

/// The order confirmation: lines, quantities, line totals, the total, a note about downloads when
/// digital lines exist and about shipping when physical lines exist.
pub fn order_confirmation(recipient: &str, order: &Order, frontend_url: &str) -> NewEmail {
    let body = templates::OrderConfirmation {
        number: order.number.clone(),
        lines: order
            .items
            .iter()
            .map(|item| templates::OrderLine {
                quantity: item.quantity,
                title: item.title.clone(),
                total: cents(item.line_total, &order.currency),
            })
            .collect(),
        total: cents(order.total, &order.currency),
        digital: order.items.iter().any(|i| i.kind == ProductKind::Digital),
        physical: order.items.iter().any(|i| i.kind == ProductKind::Physical),
        order_url: format!("{}/orders/{}", base(frontend_url), order.id),
    }
    .render();
    email(recipient, ORDER_CONFIRMATION, format!("Your KALAVPP order {}", order.number), body)
}

/// The refund notice.
pub fn refund_issued(recipient: &str, order: &Order) -> NewEmail {
    let body = templates::RefundIssued {
        number: order.number.clone(),
        amount: cents(order.total, &order.currency),
    }
    .render();
    email(recipient, REFUND_ISSUED, format!("Refund for order {}", order.number), body)
}

/// Tells the buyer a payment the order could not take is being returned in full.
pub fn payment_returned(recipient: &str, order: &Order, amount: Money, reason: &str) -> NewEmail {
    let body = templates::PaymentReturned {
        number: order.number.clone(),
        amount: cents(amount, &order.currency),
        reason: reason.to_owned(),
    }
    .render();
    email(
        recipient,
        PAYMENT_RETURNED,
        format!("Your payment for order {} is being returned", order.number),
        body,
    )
}

/// Welcomes a newly registered user.
pub fn welcome(recipient: &str, name: &str, frontend_url: &str) -> NewEmail {
    let body = templates::Welcome {
        name: name.to_owned(),
        storefront_url: base(frontend_url).to_owned(),
    }
    .render();
    email(recipient, WELCOME, "Welcome to KALAVPP".into(), body)
}

/// Confirms a vendor's payout request.
pub fn payout_requested(recipient: &str, shop_name: &str, amount: Money, currency: &str) -> NewEmail {
    let body = templates::PayoutRequested {
        shop_name: shop_name.to_owned(),
        amount: cents(amount, currency),
    }
    .render();
    email(
        recipient,
        PAYOUT_REQUESTED,
        format!("Payout request of {}", cents(amount, currency)),
        body,
    )
}

/// Tells a vendor their payout was approved.
pub fn payout_approved(recipient: &str, shop_name: &str, amount: Money, currency: &str) -> NewEmail {
    let body = templates::PayoutApproved {
        shop_name: shop_name.to_owned(),
        amount: cents(amount, currency),
    }
    .render();
    email(
        recipient,
        PAYOUT_APPROVED,
        format!("Payout of {} approved", cents(amount, currency)),
        body,
    )
}

/// Tells a vendor their payout was sent.
pub fn payout_paid(recipient: &str, shop_name: &str, amount: Money, currency: &str, reference: &str) -> NewEmail {
    let body = templates::PayoutPaid {
        shop_name: shop_name.to_owned(),
        amount: cents(amount, currency),
        reference: reference.to_owned(),
    }
    .render();
    email(recipient, PAYOUT_PAID, format!("Payout of {} sent", cents(amount, currency)), body)
}

/// Tells a vendor their payout request was turned down; the amount is available again.
pub fn payout_rejected(recipient: &str, shop_name: &str, amount: Money, currency: &str, reason: &str) -> NewEmail {
    let body = templates::PayoutRejected {
        shop_name: shop_name.to_owned(),
        amount: cents(amount, currency),
        reason: reason.to_owned(),
    }
    .render();
    email(
        recipient,
        PAYOUT_REJECTED,
        format!("Payout request of {} rejected", cents(amount, currency)),
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OrderItem;
    use crate::domain::{FulfilmentStatus, OrderId, OrderItemId, OrderStatus, ProductId, UserId, VendorId};

    fn item(title: &str, kind: ProductKind, quantity: i64, unit: i64) -> OrderItem {
        OrderItem {
            id: OrderItemId::new(),
            product_id: ProductId::new(),
            vendor_id: VendorId::new(),
            title: title.into(),
            kind,
            quantity,
            unit_price: Money(unit),
            line_total: Money(unit * quantity),
            commission_bps: 1000,
            commission: Money(unit * quantity / 10),
            vendor_net: Money(unit * quantity - unit * quantity / 10),
            fulfilment_status: FulfilmentStatus::Unfulfilled,
            tracking_number: None,
            carrier: None,
            shipped_at: None,
        }
    }

    fn order(items: Vec<OrderItem>) -> Order {
        let total = Money(items.iter().map(|i| i.line_total.cents()).sum());
        Order {
            id: OrderId::new(),
            number: "KV-20261126-7QK3PZ".into(),
            user_id: UserId::new(),
            status: OrderStatus::Paid,
            currency: "usd".into(),
            subtotal: total,
            total,
            commission: Money(0),
            shipping_address: None,
            payment_provider: "dev".into(),
            payment_session_id: None,
            payment_intent_id: None,
            refund_id: None,
            items,
            created_at: now(),
            updated_at: now(),
            paid_at: Some(now()),
        }
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let message = vendor_approved("v@example.com", "<b>x</b> & 'co'", "https://shop.example.com/");
        let html = message.body_html.expect("an HTML part");
        assert!(html.contains("&#60;b&#62;x&#60;/b&#62; &#38; &#39;co&#39;"), "{html}");
        assert!(!html.contains("<b>x</b>"), "{html}");
        assert!(html.contains("href=\"https://shop.example.com/studio\""), "{html}");
        assert!(
            message.body_text.contains("\"<b>x</b> & 'co'\" is approved"),
            "{}",
            message.body_text
        );
        assert_eq!(message.subject, "Your shop <b>x</b> & 'co' is approved");
        assert_eq!(message.template, VENDOR_APPROVED);
    }

    #[test]
    fn order_confirmation_lists_lines_and_notes() {
        let mixed = order(vec![
            item("Harbour at dawn", ProductKind::Physical, 2, 1_234),
            item("Night photography guide", ProductKind::Digital, 1, 999),
        ]);
        let message = order_confirmation("ann@example.com", &mixed, "https://shop.example.com");
        assert_eq!(
            message.body_text,
            format!(
                "Thank you for your order KV-20261126-7QK3PZ.\n\n  2 × Harbour at dawn — 24.68 USD\n  1 × Night photography guide — 9.99 USD\n\n\
                 Total paid: 34.67 USD\n\nYour digital works are ready: download them from your order page \
                 (https://shop.example.com/orders/{}).\n\nThe artists will ship your physical works and send tracking details.\n",
                mixed.id
            )
        );
        let html = message.body_html.unwrap();
        for needle in ["Harbour at dawn", "24.68 USD", "34.67 USD", "download them", "will ship"] {
            assert!(html.contains(needle), "{needle} missing from {html}");
        }

        let digital_only = order(vec![item("Guide", ProductKind::Digital, 1, 500)]);
        let message = order_confirmation("ann@example.com", &digital_only, "https://shop.example.com");
        assert!(message.body_text.contains("download them"));
        assert!(!message.body_text.contains("ship"));
        assert!(!message.body_html.unwrap().contains("will ship"));

        let physical_only = order(vec![item("Vase", ProductKind::Physical, 3, 4_567)]);
        let message = order_confirmation("ann@example.com", &physical_only, "https://shop.example.com");
        assert!(message.body_text.contains("  3 × Vase — 137.01 USD"));
        assert!(!message.body_text.contains("download"));
        assert!(message.body_text.contains("will ship"));
    }

    #[test]
    fn every_message_has_both_parts() {
        let paid = order(vec![item("Print", ProductKind::Physical, 1, 100)]);
        let messages = [
            welcome("a@example.com", "Ann", "https://shop.example.com"),
            password_reset("a@example.com", "Ann", "https://shop.example.com/", "tok123"),
            order_confirmation("a@example.com", &paid, "https://shop.example.com"),
            vendor_approved("a@example.com", "Shop", "https://shop.example.com"),
            vendor_rejected("a@example.com", "Shop", "No photos"),
            vendor_suspended("a@example.com", "Shop"),
            payout_requested("a@example.com", "Shop", Money(12_345), "eur"),
            payout_approved("a@example.com", "Shop", Money(12_345), "eur"),
            payout_paid("a@example.com", "Shop", Money(12_345), "eur", "TRX-42"),
            payout_rejected("a@example.com", "Shop", Money(12_345), "eur", "Bank details missing"),
            refund_issued("a@example.com", &paid),
        ];
        for message in &messages {
            let html = message.body_html.as_deref().unwrap_or_default();
            assert!(html.starts_with("<!DOCTYPE html>"), "{}: {html}", message.template);
            assert!(message.body_text.ends_with('\n'), "{}", message.template);
            assert!(!message.body_text.contains("{{"), "{}", message.template);
        }
        let reset = &messages[1];
        assert!(reset.body_text.contains("https://shop.example.com/reset-password?token=tok123\n"));
        assert!(
            reset
                .body_html
                .as_deref()
                .unwrap()
                .contains("https://shop.example.com/reset-password?token=tok123")
        );
        assert!(messages[4].body_text.contains("Reason: No photos"));
        assert!(messages[6].body_text.contains("123.45 EUR"));
        assert!(messages[8].body_text.contains("Reference: TRX-42"));
        assert!(messages[8].body_html.as_deref().unwrap().contains("TRX-42"));
        assert!(messages[9].body_text.contains("Reason: Bank details missing"));
        assert!(messages[10].body_text.contains("1.00 USD will be returned"));
        assert_eq!(
            messages[0].body_text,
            "Hello Ann,\n\nWelcome to KALAVPP, the marketplace for original art.\nStart browsing: https://shop.example.com\n"
        );
    }
}
