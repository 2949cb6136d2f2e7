//! The one error type of `kalavpp-core`.

use serde::Serialize;

use crate::storage::StoreError;

/// A problem with one input field, reported back to the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field name as the caller sent it (`email`, `price_cents`, ...).
    pub field: String,
    /// A short human-readable explanation.
    pub message: String,
}

impl FieldError {
    /// A field error for `field` with `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Everything a service call can fail with. Every variant carries a stable snake_case `code`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing does not exist, or the actor may not know that it exists.
    #[error("{message}")]
    NotFound {
        /// Stable machine code, e.g. `user_not_found`.
        code: &'static str,
        /// Human-readable detail.
        message: String,
    },
    /// No valid credentials were presented.
    #[error("{message}")]
    Unauthorized {
        /// Stable machine code, e.g. `invalid_credentials`.
        code: &'static str,
        /// Human-readable detail.
        message: String,
    },
    /// Valid credentials, but the actor may not do this.
    #[error("{message}")]
    Forbidden {
        /// Stable machine code, e.g. `admin_only`.
        code: &'static str,
        /// Human-readable detail.
        message: String,
    },
    /// The request clashes with the current state (duplicate, stale transition, out of stock).
    #[error("{message}")]
    Conflict {
        /// Stable machine code, e.g. `email_taken`.
        code: &'static str,
        /// Human-readable detail.
        message: String,
    },
    /// The upload is larger than allowed.
    #[error("{message}")]
    TooLarge {
        /// Stable machine code, e.g. `image_too_large`.
        code: &'static str,
        /// Human-readable detail.
        message: String,
    },
    /// The upload's content is not of an accepted type (whatever its name says).
    #[error("{message}")]
    UnsupportedMedia {
        /// Stable machine code, e.g. `unsupported_image_type`.
        code: &'static str,
        /// Human-readable detail.
        message: String,
    },
    /// The request could not be read at all (e.g. a webhook with a bad signature).
    #[error("{message}")]
    BadRequest {
        /// Stable machine code, e.g. `invalid_signature`.
        code: &'static str,
        /// Human-readable detail.
        message: String,
    },
    /// A resource is gone for good (an expired or used-up download link).
    #[error("{message}")]
    Gone {
        /// Stable machine code, e.g. `download_expired`.
        code: &'static str,
        /// Human-readable detail.
        message: String,
    },
    /// An outside service (the payment provider) failed; nothing was changed.
    #[error("{message}")]
    Upstream {
        /// Stable machine code, e.g. `payment_provider_unavailable`.
        code: &'static str,
        /// Human-readable detail.
        message: String,
    },
    /// One or more inputs are invalid.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// Something on our side failed; the detail is logged, never shown to callers.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result alias for service calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// `NotFound` with a code and message.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }
    /// `Unauthorized` with a code and message.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthorized {
            code,
            message: message.into(),
        }
    }
    /// `Forbidden` with a code and message.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            message: message.into(),
        }
    }
    /// `Conflict` with a code and message.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
    /// `Validation` for a single field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Conflict { code, .. }
            | Self::TooLarge { code, .. }
            | Self::UnsupportedMedia { code, .. }
            | Self::BadRequest { code, .. }
            | Self::Gone { code, .. }
            | Self::Upstream { code, .. } => code,
            Self::Validation(_) => "validation_failed",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::not_found("not_found", "not found"),
            // The static key only (`users.email`): never a value from a row, a path or the database.
            StoreError::Conflict(what) => Self::conflict("conflict", format!("conflicts with an existing {}", what.key())),
            StoreError::InvalidInput(_) => Self::BadRequest {
                code: "invalid_text",
                message: "the request holds text the database cannot store (e.g. a NUL character)".into(),
            },
            // Logged by the server with its whole cause chain; clients see a generic message.
            other => Self::Internal(report(&other)),
        }
    }
}

/// An error with its chain of causes, for logs: `outer: cause: root cause` (a cause whose text the
/// outer one already holds is skipped). Driver errors often say only "db error" or "error
/// connecting to server" and keep the reason (refused, unknown database, authentication) in a
/// source.
pub fn report(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        let more = inner.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = inner.source();
    }
    text
}

/// Collects field errors while validating a request, then fails once with all of them.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldError>);

impl Violations {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }
    /// Takes `Ok` values through and records `Err` messages against `field`.
    pub fn check<T>(&mut self, field: &str, result: std::result::Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.0.push(FieldError::new(field, message));
                None
            }
        }
    }
    /// Records a message against `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }
    /// `Err(Error::Validation)` when anything was recorded.
    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.0))
        }
    }
}
