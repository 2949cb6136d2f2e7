//! Accounts and authentication.
//!
//! [`Accounts`] is one service; its methods are grouped by area in the submodules.

mod password_reset;
mod profile;
mod registration;
mod sessions;

pub use profile::ProfileChanges;
pub use registration::Registration;
pub use sessions::AuthSession;

use crate::marketplace::Inner;

/// Account services; get one from [`crate::Marketplace::accounts`].
pub struct Accounts<'a> {
    inner: &'a Inner,
}

impl<'a> Accounts<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }
}
