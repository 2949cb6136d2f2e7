//! The text of the emails the account flows queue in the outbox.

use crate::domain::{EmailId, now};
use crate::storage::NewEmail;

/// Template name of the password-reset email; its body holds a one-time token.
pub const PASSWORD_RESET: &str = "password_reset";

/// The password-reset email with its link.
pub fn password_reset(recipient: &str, name: &str, frontend_url: &str, token: &str) -> NewEmail {
    let link = format!("{}/reset-password?token={token}", frontend_url.trim_end_matches('/'));
    NewEmail {
        id: EmailId::new(),
        recipient: recipient.to_owned(),
        template: PASSWORD_RESET.into(),
        subject: "Reset your KALAVPP password".into(),
        body_text: format!(
            "Hello {name},\n\nSomeone asked to reset the password of your KALAVPP account.\n\
             Open this link within one hour to choose a new one:\n\n{link}\n\n\
             Reset token: {token}\n\nIf it wasn't you, ignore this email; your password stays as it is.\n"
        ),
        body_html: None,
        created_at: now(),
    }
}

/// Template name of the vendor-approval email.
pub const VENDOR_APPROVED: &str = "vendor_approved";
/// Template name of the vendor-rejection email.
pub const VENDOR_REJECTED: &str = "vendor_rejected";
/// Template name of the vendor-suspension email.
pub const VENDOR_SUSPENDED: &str = "vendor_suspended";

fn email(recipient: &str, template: &str, subject: String, body_text: String) -> NewEmail {
    NewEmail {
        id: EmailId::new(),
        recipient: recipient.to_owned(),
        template: template.into(),
        subject,
        body_text,
        body_html: None,
        created_at: now(),
    }
}

/// Tells an applicant their shop is approved.
pub fn vendor_approved(recipient: &str, shop_name: &str, frontend_url: &str) -> NewEmail {
    email(
        recipient,
        VENDOR_APPROVED,
        format!("Your shop {shop_name} is approved"),
        format!(
            "Good news: your KALAVPP shop \"{shop_name}\" is approved.\n\nYou can now list your works: {}/vendor\n",
            frontend_url.trim_end_matches('/')
        ),
    )
}

/// Tells an applicant why their application was turned down.
pub fn vendor_rejected(recipient: &str, shop_name: &str, reason: &str) -> NewEmail {
    email(
        recipient,
        VENDOR_REJECTED,
        format!("Your shop application for {shop_name}"),
        format!(
            "Thank you for applying to sell on KALAVPP as \"{shop_name}\".\n\nWe cannot approve the application at this time.\nReason: {reason}\n\nYou may update your details and apply again.\n"
        ),
    )
}

/// Tells a vendor their shop was suspended.
pub fn vendor_suspended(recipient: &str, shop_name: &str) -> NewEmail {
    email(
        recipient,
        VENDOR_SUSPENDED,
        format!("Your shop {shop_name} is suspended"),
        format!("Your KALAVPP shop \"{shop_name}\" has been suspended; its works are hidden from the catalog.\nPlease contact us.\n"),
    )
}

/// Template name of the order confirmation.
pub const ORDER_CONFIRMATION: &str = "order_confirmation";
/// Template name of the refund notice.
pub const REFUND_ISSUED: &str = "refund_issued";

fn cents(amount: crate::domain::Money, currency: &str) -> String {
    let value = amount.cents();
    format!(
        "{}{}.{:02} {}",
        if value < 0 { "-" } else { "" },
        value.abs() / 100,
        value.abs() % 100,
        currency.to_uppercase()
    )
}

/// The order confirmation: lines, totals and a note about downloads.
pub fn order_confirmation(recipient: &str, order: &crate::storage::Order, frontend_url: &str) -> NewEmail {
    let mut body = format!("Thank you for your order {}.\n\n", order.number);
    for item in &order.items {
        body.push_str(&format!(
            "  {} × {} — {}\n",
            item.quantity,
            item.title,
            cents(item.line_total, &order.currency)
        ));
    }
    body.push_str(&format!("\nTotal paid: {}\n", cents(order.total, &order.currency)));
    if order.items.iter().any(|i| i.kind == crate::domain::ProductKind::Digital) {
        body.push_str(&format!(
            "\nYour digital works are ready: download them from your order page ({}/orders/{}).\n",
            frontend_url.trim_end_matches('/'),
            order.id
        ));
    }
    if order.items.iter().any(|i| i.kind == crate::domain::ProductKind::Physical) {
        body.push_str("\nThe artists will ship your physical works and send tracking details.\n");
    }
    email(recipient, ORDER_CONFIRMATION, format!("Your KALAVPP order {}", order.number), body)
}

/// The refund notice.
pub fn refund_issued(recipient: &str, order: &crate::storage::Order) -> NewEmail {
    email(
        recipient,
        REFUND_ISSUED,
        format!("Refund for order {}", order.number),
        format!(
            "Your order {} has been refunded: {} will be returned to your original payment method.\n",
            order.number,
            cents(order.total, &order.currency)
        ),
    )
}

/// Template name of the welcome email.
pub const WELCOME: &str = "welcome";

/// Welcomes a newly registered user.
pub fn welcome(recipient: &str, name: &str, frontend_url: &str) -> NewEmail {
    email(
        recipient,
        WELCOME,
        "Welcome to KALAVPP".into(),
        format!(
            "Hello {name},\n\nWelcome to KALAVPP, the marketplace for original art.\nStart browsing: {}\n",
            frontend_url.trim_end_matches('/')
        ),
    )
}

/// Template name of the payout-requested email.
pub const PAYOUT_REQUESTED: &str = "payout_requested";
/// Template name of the payout-approved email.
pub const PAYOUT_APPROVED: &str = "payout_approved";
/// Template name of the payout-paid email.
pub const PAYOUT_PAID: &str = "payout_paid";
/// Template name of the payout-rejected email.
pub const PAYOUT_REJECTED: &str = "payout_rejected";

/// Confirms a vendor's payout request.
pub fn payout_requested(recipient: &str, shop_name: &str, amount: crate::domain::Money, currency: &str) -> NewEmail {
    email(
        recipient,
        PAYOUT_REQUESTED,
        format!("Payout request of {}", cents(amount, currency)),
        format!(
            "We received the payout request of {} for \"{shop_name}\".\nThe amount is held from your available balance until an admin reviews it.\n",
            cents(amount, currency)
        ),
    )
}

/// Tells a vendor their payout was approved.
pub fn payout_approved(recipient: &str, shop_name: &str, amount: crate::domain::Money, currency: &str) -> NewEmail {
    email(
        recipient,
        PAYOUT_APPROVED,
        format!("Payout of {} approved", cents(amount, currency)),
        format!(
            "The payout of {} for \"{shop_name}\" is approved and will be sent shortly.\n",
            cents(amount, currency)
        ),
    )
}

/// Tells a vendor their payout was sent.
pub fn payout_paid(recipient: &str, shop_name: &str, amount: crate::domain::Money, currency: &str, reference: &str) -> NewEmail {
    email(
        recipient,
        PAYOUT_PAID,
        format!("Payout of {} sent", cents(amount, currency)),
        format!(
            "The payout of {} for \"{shop_name}\" has been sent.\nReference: {reference}\n",
            cents(amount, currency)
        ),
    )
}

/// Tells a vendor their payout request was turned down; the amount is available again.
pub fn payout_rejected(recipient: &str, shop_name: &str, amount: crate::domain::Money, currency: &str, reason: &str) -> NewEmail {
    email(
        recipient,
        PAYOUT_REJECTED,
        format!("Payout request of {} rejected", cents(amount, currency)),
        format!(
            "The payout request of {} for \"{shop_name}\" was not approved.\nReason: {reason}\n\nThe amount is back in your available balance.\n",
            cents(amount, currency)
        ),
    )
}
