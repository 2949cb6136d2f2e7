//! The development payment provider: a checkout page served by our own server with Pay / Fail
//! buttons that feed the same event path as Stripe webhooks. Refused in production.

use async_trait::async_trait;

use super::{CheckoutRequest, CheckoutSession, PaymentError, PaymentEvent, PaymentProvider, RefundRequest, WebhookError};

/// Path prefix of the local checkout page; the session id follows.
pub const DEV_CHECKOUT_PATH: &str = "/dev/checkout/";

/// The local fake provider.
#[derive(Debug, Clone)]
pub struct DevPaymentProvider {
    backend_url: String,
}

impl DevPaymentProvider {
    /// A provider whose checkout pages live under `backend_url`.
    pub fn new(backend_url: &str) -> Self {
        Self {
            backend_url: backend_url.trim_end_matches('/').to_owned(),
        }
    }
}

#[async_trait]
impl PaymentProvider for DevPaymentProvider {
    fn name(&self) -> &'static str {
        "dev"
    }

    async fn create_checkout(&self, _request: CheckoutRequest) -> Result<CheckoutSession, PaymentError> {
        let session_id = format!("dev_cs_{}", uuid::Uuid::new_v4().simple());
        Ok(CheckoutSession {
            url: format!("{}{DEV_CHECKOUT_PATH}{session_id}", self.backend_url),
            session_id,
        })
    }

    async fn refund(&self, _request: RefundRequest) -> Result<String, PaymentError> {
        Ok(format!("dev_re_{}", uuid::Uuid::new_v4().simple()))
    }

    async fn expire_checkout(&self, _session_id: &str, _idempotency_key: &str) -> Result<(), PaymentError> {
        // The development page asks the order itself whether it can still be paid.
        Ok(())
    }

    fn parse_webhook(&self, _payload: &[u8], _signature: Option<&str>) -> Result<Option<PaymentEvent>, WebhookError> {
        Err(WebhookError::BadSignature(
            "the development provider takes no webhooks; use the checkout page".into(),
        ))
    }
}
