use std::fmt;

use serde::Serialize;

/// A syntactically valid email address, trimmed and normalised to lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Validates and normalises `input`.
    pub fn parse(input: &str) -> Result<Self, String> {
        let email = input.trim().to_lowercase();
        if email.is_empty() {
            return Err("is required".into());
        }
        if email.len() > 254 {
            return Err("must be at most 254 characters".into());
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err("is not a valid email address".into());
        };
        let valid_local = !local.is_empty() && local.len() <= 64 && !local.starts_with('.') && !local.ends_with('.');
        let valid_domain = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .split('.')
                .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        let valid_chars = email
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@.!#$%&'*+/=?^_`{|}~-".contains(c))
            && email.matches('@').count() == 1;
        if valid_local && valid_domain && valid_chars {
            Ok(Self(email))
        } else {
            Err("is not a valid email address".into())
        }
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a value already validated (e.g. read back from storage).
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn normalises_case_and_whitespace() {
        assert_eq!(Email::parse("  Ann@Example.COM ").unwrap().as_str(), "ann@example.com");
    }

    #[test]
    fn refuses_malformed_addresses() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.io",
            "ann@x",
            "a b@x.io",
            "ann@@x.io",
            "ann@x..io",
            "ann@-x.io",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
