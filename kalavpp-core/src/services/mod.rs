//! Marketplace services: validate, check the actor, decide, then call one unit of work.

mod accounts;
mod admin;
mod emails;

pub use accounts::{Accounts, AuthSession, ProfileChanges, Registration};
pub use admin::{Administration, UserChanges};
