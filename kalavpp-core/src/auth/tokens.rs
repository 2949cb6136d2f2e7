use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::TokenConfig;
use crate::domain::{Role, SessionFamilyId, UserId};
use crate::error::{Error, Result};

use super::random::random_token;

const ACCESS_TYPE: &str = "access";

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user id.
    pub sub: String,
    /// The role at issue time (the current role is re-read on every request).
    pub role: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Token type, always `access`.
    pub typ: String,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Expires at (unix seconds).
    pub exp: i64,
    /// The login session (refresh-token family) this token was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// What a successful login or refresh hands back.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    /// JWT access token.
    pub access_token: String,
    /// Opaque refresh token (only its hash is stored).
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// Signs and checks access tokens; makes and hashes refresh tokens.
#[derive(Clone)]
pub struct TokenIssuer {
    config: TokenConfig,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer").field("config", &self.config).finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// An issuer for the given settings. The algorithm is pinned to HS256.
    pub fn new(config: TokenConfig) -> Self {
        let secret = config.access_secret.expose().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.required_spec_claims = ["exp", "iat", "iss", "aud", "sub"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<HashSet<_>>();
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            config,
        }
    }

    /// Lifetime of a login session.
    pub fn refresh_ttl(&self) -> Duration {
        self.config.refresh_ttl
    }

    /// Signs an access token for `user` in login session `session`.
    pub fn access_token(&self, user: UserId, role: Role, session: SessionFamilyId, now: DateTime<Utc>) -> Result<(String, u64)> {
        let ttl = self.config.access_ttl.as_secs();
        let claims = AccessClaims {
            sub: user.to_string(),
            role: role.as_str().to_owned(),
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            typ: ACCESS_TYPE.to_owned(),
            iat: now.timestamp(),
            exp: now.timestamp() + i64::try_from(ttl).unwrap_or(i64::MAX / 2),
            sid: Some(session.to_string()),
        };
        let token =
            encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|e| Error::Internal(format!("signing failed: {e}")))?;
        Ok((token, ttl))
    }

    /// Checks signature, algorithm, `iss`, `aud`, `typ` and expiry; returns the user and session.
    pub fn verify_access(&self, token: &str) -> Result<(UserId, Option<SessionFamilyId>)> {
        let invalid = || Error::unauthorized("invalid_token", "the access token is invalid or expired");
        let data = decode::<AccessClaims>(token, &self.decoding, &self.validation).map_err(|_| invalid())?;
        let claims = data.claims;
        if claims.typ != ACCESS_TYPE {
            return Err(invalid());
        }
        let user = UserId::parse(&claims.sub).ok_or_else(invalid)?;
        let session = claims.sid.as_deref().and_then(SessionFamilyId::parse);
        Ok((user, session))
    }

    /// A new opaque refresh token.
    pub fn new_refresh_token(&self) -> String {
        format!("rt_{}", random_token(32))
    }

    /// The keyed hash under which a refresh token is stored (HMAC-SHA256 with `JWT_REFRESH_SECRET`).
    ///
    /// # Panics
    /// Never: HMAC accepts keys of any length.
    pub fn refresh_token_hash(&self, token: &str) -> String {
        use hmac::Mac;
        let mut mac =
            <Hmac256 as Mac>::new_from_slice(self.config.refresh_secret.expose().as_bytes()).expect("HMAC accepts keys of any length");
        mac.update(token.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A fresh id for a refresh-token row.
    pub fn new_refresh_id() -> Uuid {
        Uuid::now_v7()
    }
}

type Hmac256 = hmac::Hmac<sha2::Sha256>;
