//! The email templates: askama, compiled into the library, one `.txt` and one `.html` per message
//! under `kalavpp-core/templates/email/` (the HTML ones extend `layout.html`). The HTML part is
//! auto-escaped, the text part is not. `crate::services::emails` fills the outbox rows from these.

use askama::Template;

/// The two bodies of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rendered {
    /// Plain-text body, ending with a newline.
    pub(crate) text: String,
    /// HTML body.
    pub(crate) html: String,
}

impl Rendered {
    fn of(text: &impl Template, html: &impl Template) -> Self {
        // The templates are checked at compile time and only format strings and numbers, so
        // rendering cannot fail in practice; should it, the message still goes out with a note.
        let render = |template: &dyn DynRender| {
            template.render_string().unwrap_or_else(|err| {
                tracing::error!(error = %err, "an email template failed to render");
                "This message could not be rendered; please contact us.".to_owned()
            })
        };
        let mut text = render(text);
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Self { text, html: render(html) }
    }
}

/// Object-safe rendering, so that [`Rendered::of`] renders both parts through one closure.
trait DynRender {
    fn render_string(&self) -> askama::Result<String>;
}

impl<T: Template> DynRender for T {
    fn render_string(&self) -> askama::Result<String> {
        self.render()
    }
}

/// Declares the text and HTML templates of a message data struct and its `render()`.
macro_rules! email_templates {
    ($data:ident, $text:ident = $text_path:tt, $html:ident = $html_path:tt) => {
        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            m: &'a $data,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            m: &'a $data,
        }

        impl $data {
            /// Renders the text and the HTML body.
            pub(crate) fn render(&self) -> Rendered {
                Rendered::of(&$text { m: self }, &$html { m: self })
            }
        }
    };
}

/// Welcome on registration.
pub(crate) struct Welcome {
    pub(crate) name: String,
    pub(crate) storefront_url: String,
}
email_templates!(Welcome, WelcomeText = "email/welcome.txt", WelcomeHtml = "email/welcome.html");

/// Password reset with its one-time link.
pub(crate) struct PasswordReset {
    pub(crate) name: String,
    pub(crate) link: String,
    pub(crate) token: String,
}
email_templates!(
    PasswordReset,
    PasswordResetText = "email/password_reset.txt",
    PasswordResetHtml = "email/password_reset.html"
);

/// One line of an order confirmation.
pub(crate) struct OrderLine {
    pub(crate) quantity: i64,
    pub(crate) title: String,
    /// Formatted line total.
    pub(crate) total: String,
}

/// Order confirmation.
pub(crate) struct OrderConfirmation {
    pub(crate) number: String,
    pub(crate) lines: Vec<OrderLine>,
    /// Formatted order total.
    pub(crate) total: String,
    /// Whether any line is a digital work (adds the download note).
    pub(crate) digital: bool,
    /// Whether any line is a physical work (adds the shipping note).
    pub(crate) physical: bool,
    pub(crate) order_url: String,
}
email_templates!(
    OrderConfirmation,
    OrderConfirmationText = "email/order_confirmation.txt",
    OrderConfirmationHtml = "email/order_confirmation.html"
);

/// A vendor application approved.
pub(crate) struct VendorApproved {
    pub(crate) shop_name: String,
    pub(crate) vendor_url: String,
}
email_templates!(
    VendorApproved,
    VendorApprovedText = "email/vendor_approved.txt",
    VendorApprovedHtml = "email/vendor_approved.html"
);

/// A vendor application turned down.
pub(crate) struct VendorRejected {
    pub(crate) shop_name: String,
    pub(crate) reason: String,
}
email_templates!(
    VendorRejected,
    VendorRejectedText = "email/vendor_rejected.txt",
    VendorRejectedHtml = "email/vendor_rejected.html"
);

/// A vendor suspended.
pub(crate) struct VendorSuspended {
    pub(crate) shop_name: String,
}
email_templates!(
    VendorSuspended,
    VendorSuspendedText = "email/vendor_suspended.txt",
    VendorSuspendedHtml = "email/vendor_suspended.html"
);

/// Payout requested.
pub(crate) struct PayoutRequested {
    pub(crate) shop_name: String,
    /// Formatted amount.
    pub(crate) amount: String,
}

/// Payout approved.
pub(crate) struct PayoutApproved {
    pub(crate) shop_name: String,
    /// Formatted amount.
    pub(crate) amount: String,
}

/// Payout sent, with its reference.
pub(crate) struct PayoutPaid {
    pub(crate) shop_name: String,
    /// Formatted amount.
    pub(crate) amount: String,
    pub(crate) reference: String,
}

/// Payout request turned down, with the reason.
pub(crate) struct PayoutRejected {
    pub(crate) shop_name: String,
    /// Formatted amount.
    pub(crate) amount: String,
    pub(crate) reason: String,
}

email_templates!(
    PayoutRequested,
    PayoutRequestedText = "email/payout_requested.txt",
    PayoutRequestedHtml = "email/payout_requested.html"
);
email_templates!(
    PayoutApproved,
    PayoutApprovedText = "email/payout_approved.txt",
    PayoutApprovedHtml = "email/payout_approved.html"
);
email_templates!(
    PayoutPaid,
    PayoutPaidText = "email/payout_paid.txt",
    PayoutPaidHtml = "email/payout_paid.html"
);
email_templates!(
    PayoutRejected,
    PayoutRejectedText = "email/payout_rejected.txt",
    PayoutRejectedHtml = "email/payout_rejected.html"
);

/// A payment the order could not take, being given back.
pub(crate) struct PaymentReturned {
    pub(crate) number: String,
    /// Formatted amount.
    pub(crate) amount: String,
    /// Why, in a few words.
    pub(crate) reason: String,
}
email_templates!(
    PaymentReturned,
    PaymentReturnedText = "email/payment_returned.txt",
    PaymentReturnedHtml = "email/payment_returned.html"
);

/// A refund issued.
pub(crate) struct RefundIssued {
    pub(crate) number: String,
    /// Formatted amount.
    pub(crate) amount: String,
}
email_templates!(
    RefundIssued,
    RefundIssuedText = "email/refund_issued.txt",
    RefundIssuedHtml = "email/refund_issued.html"
);
