//! Passwords, tokens and the acting identity.

mod actor;
mod caps;
mod password;
mod random;
mod tokens;

pub use actor::Actor;
pub use caps::{AdminCap, VendorCap};
pub use password::PasswordHasher;
pub use random::{hash_token, random_token};
pub use tokens::{AccessClaims, IssuedTokens, TokenIssuer};
