//! The database URL of an installation (`DATABASE_URL`): parsed into a SQLite location or a
//! PostgreSQL URL, and never shown with its password.

use std::fmt;
use std::path::PathBuf;

/// The database of an installation (`DATABASE_URL`), parsed once: a SQLite location or a
/// PostgreSQL URL. `Debug` and `Display` never show a PostgreSQL password
/// (`postgres://user:***@host:port/db?…`).
///
/// Accepted forms: `sqlite::memory:` (or `sqlite://:memory:`), `sqlite://path`, `sqlite:path`
/// (a `?…` suffix of a SQLite URL is ignored), `postgres://…` and `postgresql://…` with the
/// parameters libpq and tokio-postgres know (`sslmode=`, `user=`, `password=`, …). Anything else
/// is refused by [`DatabaseUrl::parse`] with a [`DatabaseUrlError`] that never repeats the URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite database: a file or a private in-memory database.
    Sqlite(SqliteLocation),
    /// A PostgreSQL database.
    Postgres(PostgresUrl),
}

/// Where a SQLite database lives (parsed from a URL by [`DatabaseUrl`]). Defined here rather than
/// in `storage::sqlite` (which re-exports it) so that URLs parse in builds without the `sqlite`
/// feature too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteLocation {
    /// A private in-memory database (one connection serves reads and writes).
    Memory,
    /// A database file.
    File(PathBuf),
}

/// Why a text is not a [`DatabaseUrl`]. The messages name the problem, never the URL (which may
/// hold a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DatabaseUrlError {
    /// The text is empty.
    #[error("is empty; {USE}")]
    Empty,
    /// The text does not start with a `scheme:`.
    #[error("has no scheme; {USE}")]
    NoScheme,
    /// A scheme other than `sqlite:`, `postgres:` or `postgresql:` (holds the scheme only).
    #[error("`{0}:` is not a supported scheme; {USE}")]
    UnknownScheme(String),
    /// A `sqlite:` URL without a path.
    #[error("names no SQLite file; use sqlite://<path> or sqlite::memory:")]
    EmptySqlitePath,
    /// A `postgres://` URL the driver cannot read (holds the driver's reason, which names the
    /// offending option, not its value).
    #[error("is not a valid PostgreSQL URL: {0}")]
    InvalidPostgres(String),
}

const USE: &str = "use sqlite://<path>, sqlite::memory: or postgres://user@host/database";

impl DatabaseUrl {
    /// Parses a database URL (the accepted forms are listed on [`DatabaseUrl`]).
    pub fn parse(text: &str) -> Result<Self, DatabaseUrlError> {
        if text.trim().is_empty() {
            return Err(DatabaseUrlError::Empty);
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            // Without the `postgres` feature there is no driver to check the options with; such a
            // URL still parses, and opening it fails with a clear error.
            #[cfg(feature = "postgres")]
            crate::storage::postgres::validate_url(text).map_err(DatabaseUrlError::InvalidPostgres)?;
            return Ok(Self::Postgres(PostgresUrl(text.to_owned())));
        }
        if let Some(rest) = text.strip_prefix("sqlite:") {
            if rest == ":memory:" || rest == "//:memory:" {
                return Ok(Self::Sqlite(SqliteLocation::Memory));
            }
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split('?').next().unwrap_or(path);
            return match path {
                "" => Err(DatabaseUrlError::EmptySqlitePath),
                ":memory:" => Ok(Self::Sqlite(SqliteLocation::Memory)),
                path => Ok(Self::Sqlite(SqliteLocation::File(PathBuf::from(path)))),
            };
        }
        match text.split_once(':') {
            Some((scheme, _))
                if !scheme.is_empty()
                    && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                    && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                Err(DatabaseUrlError::UnknownScheme(scheme.to_owned()))
            }
            _ => Err(DatabaseUrlError::NoScheme),
        }
    }

    /// A private in-memory SQLite database (`sqlite::memory:`).
    pub fn memory() -> Self {
        Self::Sqlite(SqliteLocation::Memory)
    }

    /// A SQLite database file (`sqlite://path`).
    pub fn sqlite_file(path: impl Into<PathBuf>) -> Self {
        Self::Sqlite(SqliteLocation::File(path.into()))
    }

    /// Whether this names a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// The URL with any password replaced by `***` (the same text as `Display`).
    pub fn redacted(&self) -> String {
        self.to_string()
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = DatabaseUrlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl From<SqliteLocation> for DatabaseUrl {
    fn from(location: SqliteLocation) -> Self {
        Self::Sqlite(location)
    }
}

impl From<PostgresUrl> for DatabaseUrl {
    fn from(url: PostgresUrl) -> Self {
        Self::Postgres(url)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(SqliteLocation::Memory) => f.write_str("sqlite::memory:"),
            Self::Sqlite(SqliteLocation::File(path)) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => fmt::Display::fmt(url, f),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// A `postgres://` (or `postgresql://`) URL whose `Debug` and `Display` never show the password
/// (of the authority or of a `password=` parameter): `postgres://user:***@host:port/db?…`.
/// Made by [`DatabaseUrl::parse`].
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    /// The full URL, password included; call only where the connection is made.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_url_password(&self.0)
    }

    /// The URL without the password of its authority, and that password (percent-decoded), so a
    /// tool such as `pg_dump` can get it through `PGPASSWORD` instead of its command line (where
    /// every local user could read it).
    pub fn split_password(&self) -> (String, Option<String>) {
        let url = &self.0;
        let Some(scheme_end) = url.find("://") else {
            return (url.clone(), None);
        };
        let start = scheme_end + 3;
        let authority_end = url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i);
        let Some(at) = url[start..authority_end].rfind('@') else {
            return (url.clone(), None);
        };
        let userinfo = &url[start..start + at];
        let Some(colon) = userinfo.find(':') else {
            return (url.clone(), None);
        };
        let password = percent_decode(&userinfo[colon + 1..]);
        let without = format!("{}{}", &url[..start + colon], &url[start + at..]);
        (without, Some(password))
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({})", self.redacted())
    }
}

/// Decodes `%XX` escapes (invalid ones are kept as they are).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Replaces the password of `scheme://user:password@host...` and of `password=` query or
/// key-value parameters with `***`.
pub fn redact_url_password(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..].find(['/', '?', '#']).map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest_start + colon + 1..rest_start + at, "***");
            }
        }
    }
    let lower = out.to_ascii_lowercase();
    if let Some(pos) = lower.find("password=") {
        let value_start = pos + "password=".len();
        let value_end = out[value_start..].find(['&', ' ', ';']).map_or(out.len(), |i| value_start + i);
        out.replace_range(value_start..value_end, "***");
    }
    out
}

#[cfg(test)]
mod database_url_tests {
    use std::path::PathBuf;

    use super::{DatabaseUrl, DatabaseUrlError, SqliteLocation};

    fn parse(text: &str) -> Result<DatabaseUrl, DatabaseUrlError> {
        text.parse()
    }

    fn file(path: &str) -> DatabaseUrl {
        DatabaseUrl::Sqlite(SqliteLocation::File(PathBuf::from(path)))
    }

    #[test]
    fn sqlite_forms_are_accepted() {
        assert_eq!(parse("sqlite::memory:"), Ok(DatabaseUrl::memory()));
        assert_eq!(parse("sqlite://:memory:"), Ok(DatabaseUrl::memory()));
        assert_eq!(parse("sqlite://data/kalavpp.db"), Ok(file("data/kalavpp.db")));
        assert_eq!(
            parse("sqlite:///var/lib/kalavpp/kalavpp.db"),
            Ok(file("/var/lib/kalavpp/kalavpp.db"))
        );
        assert_eq!(parse("sqlite:data/kalavpp.db"), Ok(file("data/kalavpp.db")));
        assert_eq!(parse("sqlite://data/kalavpp.db?mode=rwc"), Ok(file("data/kalavpp.db")));
        assert_eq!(DatabaseUrl::sqlite_file("a.db"), file("a.db"));
        assert!(!parse("sqlite://a.db").unwrap().is_postgres());
    }

    #[test]
    fn postgres_forms_are_accepted() {
        for text in [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgresql://postgres@127.0.0.1:5432/test",
            "postgres://shop:s3cr%40t@db.example:5432/kalavpp?sslmode=require",
            "postgres://shop:pw@db.example/kalavpp?sslmode=verify-full",
            "postgres://db/kalavpp?user=shop&password=hunter2&application_name=kalavpp",
            "postgres:///kalavpp?host=/var/run/postgresql",
        ] {
            match parse(text) {
                Ok(DatabaseUrl::Postgres(url)) => assert_eq!(url.expose(), text),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn other_forms_are_refused_with_a_clear_reason() {
        assert_eq!(parse(""), Err(DatabaseUrlError::Empty));
        assert_eq!(parse("  "), Err(DatabaseUrlError::Empty));
        assert_eq!(parse("sqlite:"), Err(DatabaseUrlError::EmptySqlitePath));
        assert_eq!(parse("sqlite://"), Err(DatabaseUrlError::EmptySqlitePath));
        assert_eq!(parse("sqlite://?mode=rwc"), Err(DatabaseUrlError::EmptySqlitePath));
        assert_eq!(
            parse("mysql://root:pw@db/shop"),
            Err(DatabaseUrlError::UnknownScheme("mysql".into()))
        );
        assert_eq!(parse("redis://cache"), Err(DatabaseUrlError::UnknownScheme("redis".into())));
        assert_eq!(parse("kalavpp.db"), Err(DatabaseUrlError::NoScheme));
        assert_eq!(parse("/var/lib/kalavpp.db"), Err(DatabaseUrlError::NoScheme));
        // The PostgreSQL options are checked by the driver, so only with the `postgres` feature.
        #[cfg(feature = "postgres")]
        assert!(matches!(
            parse("postgres://shop:hunter2@db/kalavpp?port=notaport"),
            Err(DatabaseUrlError::InvalidPostgres(_))
        ));
        #[cfg(feature = "postgres")]
        assert!(matches!(
            parse("postgres://shop:hunter2@db/kalavpp?no_such_option=1"),
            Err(DatabaseUrlError::InvalidPostgres(_))
        ));
        // The reasons name the problem, never the URL or its password.
        let mut refused = vec!["mysql://root:hunter2@db/shop", "root:hunter2@db"];
        if cfg!(feature = "postgres") {
            refused.extend([
                "postgres://shop:hunter2@db/kalavpp?port=hunter2x",
                "postgres://shop:hunter2@db/kalavpp?hunter2=1",
            ]);
        }
        for text in refused {
            let shown = parse(text).unwrap_err().to_string();
            assert!(!shown.contains("hunter2x") && !shown.contains(":hunter2@"), "{text}: {shown}");
            assert!(!shown.is_empty());
        }
        assert!(parse("ftp://x").unwrap_err().to_string().contains("sqlite://<path>"));
    }

    #[test]
    fn passwords_never_show() {
        let url = parse("postgres://shop:s3cr%40t@db.example:5432/kalavpp?sslmode=require").unwrap();
        for shown in [format!("{url:?}"), url.to_string(), url.redacted()] {
            assert!(!shown.contains("s3cr"), "{shown}");
            assert!(
                shown.contains("postgres://shop:***@db.example:5432/kalavpp?sslmode=require"),
                "{shown}"
            );
        }
        let DatabaseUrl::Postgres(inner) = &url else { panic!("{url:?}") };
        for shown in [format!("{inner:?}"), inner.to_string()] {
            assert!(!shown.contains("s3cr"), "{shown}");
        }
        assert_eq!(
            inner.split_password(),
            (
                "postgres://shop@db.example:5432/kalavpp?sslmode=require".to_owned(),
                Some("s3cr@t".to_owned())
            )
        );
        let kv = parse("postgres://db/kalavpp?user=shop&password=hunter2&application_name=x").unwrap();
        assert!(!format!("{kv:?}").contains("hunter2"));
        assert!(!kv.to_string().contains("hunter2"));
        assert_eq!(parse("sqlite://data/kalavpp.db").unwrap().to_string(), "sqlite://data/kalavpp.db");
        assert_eq!(parse("sqlite:data/kalavpp.db").unwrap().to_string(), "sqlite://data/kalavpp.db");
        assert_eq!(parse("sqlite::memory:").unwrap().to_string(), "sqlite::memory:");
        assert_eq!(
            parse("postgres://postgres@127.0.0.1/test").unwrap().to_string(),
            "postgres://postgres@127.0.0.1/test"
        );
        // A whole Config in Debug keeps it hidden too.
        let config = crate::config::Config::for_development(url);
        assert!(!format!("{config:?}").contains("s3cr"));
    }
}
