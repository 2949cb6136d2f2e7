//! What the admin panel's HTML tests share: a page read whole, a client without redirects or a
//! cookie store (cookies are passed by hand), and cookie parsing.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};

/// An HTML response read whole.
pub struct Html {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Html {
    pub fn location(&self) -> &str {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// The `name=value` of cookie `name` set by this response, with its attributes.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// The first CSRF token on the page.
    pub fn csrf(&self) -> String {
        let marker = r#"name="csrf" value=""#;
        let start = self.body.find(marker).unwrap_or_else(|| panic!("no CSRF field in {}", self.body)) + marker.len();
        self.body[start..].split('"').next().unwrap_or_default().to_owned()
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        self
    }

    #[track_caller]
    pub fn expect_html(self, status: u16) -> Self {
        let this = self.expect(status);
        let content_type = this.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(content_type.starts_with("text/html"), "HTML, not {content_type}: {}", this.body);
        this
    }

    #[track_caller]
    pub fn expect_redirect(self, to: &str) -> Self {
        assert_eq!(self.status.as_u16(), 303, "expected a 303; body: {}", self.body);
        assert_eq!(self.location(), to);
        self
    }

    #[track_caller]
    pub fn has(&self, needle: &str) -> &Self {
        assert!(self.body.contains(needle), "expected {needle:?} in {}", self.body);
        self
    }

    #[track_caller]
    pub fn lacks(&self, needle: &str) -> &Self {
        assert!(!self.body.contains(needle), "did not expect {needle:?} in {}", self.body);
        self
    }
}

/// The value part of a `Set-Cookie` header (`name=value; ...` → `value`).
pub fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

/// A browser-like client without redirects or a cookie store.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Reads a response whole.
pub async fn read(response: reqwest::Response) -> Html {
    Html {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.text().await.expect("body"),
    }
}
