//! Signed, expiring, counted download links for paid digital lines.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::Mac;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::auth::Actor;
use crate::domain::{OrderId, OrderItemId, ProductKind, UserId, now};
use crate::error::{Error, Result};
use crate::marketplace::Inner;
use crate::storage::{DownloadUse, NewDownloadLink};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How long after a counted download its `Range` continuations are free.
const RESUME_WINDOW: TimeDelta = TimeDelta::hours(1);

/// A download link handed to a buyer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DownloadLink {
    /// The order line.
    pub item_id: OrderItemId,
    /// The file name.
    pub filename: String,
    /// The signed token (use as `/downloads/{token}`).
    pub token: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// Downloads allowed.
    pub downloads_left: i32,
}

/// A granted download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadFile {
    /// File-store key.
    pub key: String,
    /// Download name.
    pub filename: String,
    /// Size in bytes.
    pub size_bytes: i64,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    /// Link id.
    l: uuid::Uuid,
    /// Order line.
    i: uuid::Uuid,
    /// Buyer.
    u: uuid::Uuid,
    /// Expiry (unix seconds).
    e: i64,
}

/// Download services; get one from [`crate::Marketplace::downloads`].
pub struct Downloads<'a> {
    inner: &'a Inner,
}

fn tampered() -> Error {
    Error::forbidden("invalid_download_token", "this download link is not valid")
}

impl<'a> Downloads<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }

    fn mac(&self) -> HmacSha256 {
        // A key of its own, derived from the refresh-token secret.
        let mut derive = <HmacSha256 as Mac>::new_from_slice(self.inner.config.tokens.refresh_secret.expose().as_bytes())
            .expect("HMAC accepts keys of any length");
        derive.update(b"kalavpp download links v1");
        let key = derive.finalize().into_bytes();
        <HmacSha256 as Mac>::new_from_slice(&key).expect("HMAC accepts keys of any length")
    }

    fn sign(&self, claims: &Claims) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    fn verify(&self, token: &str) -> Result<Claims> {
        let (payload, signature) = token.split_once('.').ok_or_else(tampered)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| tampered())?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature).map_err(|_| tampered())?;
        let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| tampered())?;
        serde_json::from_slice(&bytes).map_err(|_| tampered())
    }

    /// New links for every digital line (with an uploaded asset) of the actor's paid order. The
    /// download limit is per purchased line: each link shows (and carries) what is left of it,
    /// and earlier links of the line stop working.
    #[instrument(skip_all)]
    pub async fn links(&self, actor: &Actor, order_id: OrderId) -> Result<Vec<DownloadLink>> {
        let user = actor.require_user()?;
        let order = self.inner.store.order_by_id(order_id).await?.filter(|o| o.user_id == user);
        let order = order.ok_or_else(|| Error::not_found("order_not_found", "order not found"))?;
        if !order.status.is_sale() {
            return Err(Error::conflict(
                "order_not_paid",
                format!("downloads open once the order is paid (it is {})", order.status),
            ));
        }
        let at = now();
        let ttl = TimeDelta::from_std(self.inner.config.download_ttl).unwrap_or(TimeDelta::hours(24));
        let mut links = Vec::new();
        for item in order.items.iter().filter(|i| i.kind == ProductKind::Digital) {
            let Some(asset) = self.inner.store.product_asset(item.product_id).await? else {
                continue;
            };
            let link = NewDownloadLink {
                id: uuid::Uuid::new_v4(),
                order_item_id: item.id,
                user_id: user,
                expires_at: at + ttl,
                downloads: self.inner.config.download_limit,
                at,
            };
            // The line's remaining downloads carry over: a new link never resets the limit.
            let downloads_left = self.inner.store.create_download_link(link.clone()).await?;
            let claims = Claims {
                l: link.id,
                i: item.id.0,
                u: user.0,
                e: link.expires_at.timestamp(),
            };
            links.push(DownloadLink {
                item_id: item.id,
                filename: asset.filename,
                token: self.sign(&claims),
                expires_at: link.expires_at,
                downloads_left,
            });
        }
        Ok(links)
    }

    /// Counts one use of a link and returns the file. A tampered token is `Forbidden`; an
    /// expired or used-up one is `Gone`.
    #[instrument(skip_all)]
    pub async fn open(&self, token: &str) -> Result<DownloadFile> {
        self.open_counting(token, true).await
    }

    /// Checks a link like [`Downloads::open`] without counting a download (a `HEAD` request).
    #[instrument(skip_all)]
    pub async fn check(&self, token: &str) -> Result<DownloadFile> {
        self.open_counting(token, false).await
    }

    /// A `Range` request continuing a download: free within an hour of a download this link
    /// counted (even its last one), counted like a new download otherwise.
    #[instrument(skip_all)]
    pub async fn resume(&self, token: &str) -> Result<DownloadFile> {
        let claims = self.verify(token)?;
        let at = now();
        if claims.e > at.timestamp()
            && let DownloadUse::Granted {
                key, filename, size_bytes, ..
            } = self
                .inner
                .store
                .peek_download_link(claims.l, UserId(claims.u), at, Some(at - RESUME_WINDOW))
                .await?
        {
            return Ok(DownloadFile { key, filename, size_bytes });
        }
        self.open(token).await
    }

    async fn open_counting(&self, token: &str, count: bool) -> Result<DownloadFile> {
        let claims = self.verify(token)?;
        let at = now();
        if claims.e <= at.timestamp() {
            return Err(Error::Gone {
                code: "download_expired",
                message: "this download link has expired".into(),
            });
        }
        let used = if count {
            self.inner.store.use_download_link(claims.l, UserId(claims.u), at).await?
        } else {
            self.inner.store.peek_download_link(claims.l, UserId(claims.u), at, None).await?
        };
        match used {
            DownloadUse::Granted {
                key, filename, size_bytes, ..
            } => Ok(DownloadFile { key, filename, size_bytes }),
            DownloadUse::Expired => Err(Error::Gone {
                code: "download_expired",
                message: "this download link has expired".into(),
            }),
            DownloadUse::Exhausted => Err(Error::Gone {
                code: "download_exhausted",
                message: "this link has no downloads left".into(),
            }),
            DownloadUse::Unknown => Err(tampered()),
        }
    }
}
