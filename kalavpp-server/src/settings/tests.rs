//! Unit tests of the settings: defaults, each problem reported, secrets never shown.

use kalavpp_core::config::MailConfig;

use super::values::parse_duration;
use super::*;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn durations() {
    assert_eq!(parse_duration("15m"), Some(Duration::from_mins(15)));
    assert_eq!(parse_duration("7d"), Some(Duration::from_hours(7 * 24)));
    assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("0"), None);
    assert_eq!(parse_duration("ten"), None);
}

#[test]
fn backup_schedule_settings() {
    let dev = |extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("JWT_SECRET", "a".repeat(40)),
            ("JWT_REFRESH_SECRET", "b".repeat(40)),
            ("KALAVPP_DATA_DIR", "/srv/kv".into()),
        ];
        pairs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        load(&pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(), false)
    };
    assert_eq!(dev(&[]).unwrap().backups, None);
    let schedule = dev(&[("BACKUP_INTERVAL", "6h")]).unwrap().backups.unwrap();
    assert_eq!(
        schedule,
        BackupSchedule {
            interval: Duration::from_hours(6),
            keep: DEFAULT_BACKUP_KEEP,
            dir: PathBuf::from("/srv/kv/backups")
        }
    );
    let custom = dev(&[("BACKUP_INTERVAL", "1d"), ("BACKUP_KEEP", "3"), ("BACKUP_DIR", "/var/backups/kv")]).unwrap();
    assert_eq!(
        custom.backups.as_ref().map(|b| (b.keep, b.dir.clone())),
        Some((3, PathBuf::from("/var/backups/kv")))
    );
    for (extra, name) in [
        (&[("BACKUP_INTERVAL", "often")][..], "BACKUP_INTERVAL"),
        (&[("BACKUP_INTERVAL", "1d"), ("BACKUP_KEEP", "0")][..], "BACKUP_KEEP"),
        (&[("BACKUP_KEEP", "3")][..], "BACKUP_KEEP"),
        (&[("BACKUP_DIR", "/tmp/b")][..], "BACKUP_DIR"),
        (
            &[("BACKUP_INTERVAL", "1h"), ("DATABASE_URL", "sqlite::memory:")][..],
            "BACKUP_INTERVAL",
        ),
    ] {
        let problems = dev(extra).unwrap_err();
        assert!(problems.iter().any(|p| p.starts_with(name)), "{extra:?}: {problems:?}");
    }
}

#[test]
fn production_lists_every_problem() {
    let problems = load(
        &vars(&[
            ("NODE_ENV", "production"),
            ("JWT_SECRET", "CHANGE-TO-STRONG-RANDOM-STRING-64-CHARS"),
        ]),
        true,
    )
    .unwrap_err();
    let text = problems.join("\n");
    for name in ["JWT_SECRET", "JWT_REFRESH_SECRET", "CORS_ORIGIN", "BACKEND_URL"] {
        assert!(problems.iter().any(|p| p.starts_with(name)), "{name} missing from {text}");
    }
}

#[test]
fn production_accepts_strong_settings() {
    let settings = load(
        &vars(&[
            ("KALAVPP_ENV", "production"),
            ("JWT_SECRET", &"a".repeat(40)),
            ("JWT_REFRESH_SECRET", &"b".repeat(40)),
            ("CORS_ORIGIN", "https://shop.example.com, https://admin.example.com"),
            ("BACKEND_URL", "https://api.example.com"),
            ("STRIPE_SECRET_KEY", "sk_test_abcdefghijklmnopqrstuvwxyz"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_abcdefghijklmnopqrstuvwxyz"),
            ("METRICS_TOKEN", "metrics-token-0123456789"),
        ]),
        true,
    )
    .unwrap();
    assert_eq!(settings.cors_origins, vec!["https://shop.example.com", "https://admin.example.com"]);
    assert_eq!(settings.rate_limit_max, 100);
    assert_eq!(settings.auth_rate_limit_max, 20);
}

fn dev(pairs: &[(&str, &str)]) -> Result<Settings, Vec<String>> {
    let mut all = vec![("JWT_SECRET", "a".repeat(40)), ("JWT_REFRESH_SECRET", "b".repeat(40))];
    all.extend(pairs.iter().map(|(k, v)| (*k, (*v).to_owned())));
    load(&all.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(), false)
}

#[test]
fn mail_defaults_log_only() {
    let mail = dev(&[]).unwrap().core.mail;
    assert_eq!(mail, MailConfig::default());
    assert!(mail.smtp_url.is_none());
    assert_eq!(
        (mail.from_address.as_str(), mail.from_name.as_str()),
        ("no-reply@localhost", "KALAVPP")
    );
    assert_eq!(mail.poll_interval, Duration::from_secs(1));
}

#[test]
fn mail_settings_are_read() {
    let mail = dev(&[
        ("SMTP_URL", "smtp://127.0.0.1:2525"),
        ("SENDGRID_API_KEY", "SG.ignored-when-smtp-url-is-set"),
        ("EMAIL_FROM", "shop@example.com"),
        ("EMAIL_FROM_NAME", "Art Shop"),
        ("MAIL_POLL_INTERVAL_MS", "50"),
        ("MAIL_MAX_ATTEMPTS", "3"),
        ("MAIL_RETRY_BASE_MS", "20"),
    ])
    .unwrap()
    .core
    .mail;
    assert_eq!(mail.smtp_url.as_ref().map(Secret::expose), Some("smtp://127.0.0.1:2525"));
    assert_eq!(
        (mail.from_address.as_str(), mail.from_name.as_str()),
        ("shop@example.com", "Art Shop")
    );
    assert_eq!(
        (mail.poll_interval, mail.max_attempts, mail.retry_base),
        (Duration::from_millis(50), 3, Duration::from_millis(20))
    );

    let sendgrid = dev(&[("SENDGRID_API_KEY", "SG.abc.def")]).unwrap();
    let url = sendgrid.core.mail.smtp_url.clone().unwrap();
    assert_eq!(url.expose(), "smtps://apikey:SG.abc.def@smtp.sendgrid.net:465");
    assert!(!format!("{sendgrid:?}").contains("SG.abc.def"), "the key never shows in Debug");
}

#[test]
fn bad_mail_settings_are_each_reported_without_secrets() {
    let problems = dev(&[
        ("SMTP_URL", "http://user:hunter2@mail.example.com"),
        ("EMAIL_FROM", "not an address"),
        ("EMAIL_FROM_NAME", "Two\nlines"),
        ("MAIL_POLL_INTERVAL_MS", "0"),
        ("MAIL_MAX_ATTEMPTS", "many"),
        ("MAIL_RETRY_BASE_MS", "-5"),
    ])
    .unwrap_err();
    for name in [
        "SMTP_URL",
        "EMAIL_FROM:",
        "EMAIL_FROM_NAME",
        "MAIL_POLL_INTERVAL_MS",
        "MAIL_MAX_ATTEMPTS",
        "MAIL_RETRY_BASE_MS",
    ] {
        assert!(problems.iter().any(|p| p.starts_with(name)), "{name} missing from {problems:?}");
    }
    assert!(!problems.join("\n").contains("hunter2"), "{problems:?}");
    let placeholder = dev(&[("SENDGRID_API_KEY", "your_sendgrid_api_key")]).unwrap_err();
    assert!(placeholder[0].starts_with("SENDGRID_API_KEY"), "{placeholder:?}");
    assert!(!placeholder[0].contains("your_sendgrid_api_key"));
}

#[test]
fn production_without_smtp_still_starts_but_a_localhost_sender_with_smtp_does_not() {
    let strong = [
        ("KALAVPP_ENV", "production"),
        ("CORS_ORIGIN", "https://shop.example.com"),
        ("BACKEND_URL", "https://api.example.com"),
        ("STRIPE_SECRET_KEY", "sk_test_abcdefghijklmnopqrstuvwxyz"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_abcdefghijklmnopqrstuvwxyz"),
        ("METRICS_TOKEN", "metrics-token-0123456789"),
    ];
    assert!(dev(&strong).is_ok(), "mail only logged is allowed (with a warning at start)");
    let mut with_smtp = strong.to_vec();
    with_smtp.push(("SMTP_URL", "smtps://u:p@smtp.example.com"));
    let problems = dev(&with_smtp).unwrap_err();
    assert!(problems.iter().any(|p| p.starts_with("EMAIL_FROM")), "{problems:?}");
    with_smtp.push(("EMAIL_FROM", "shop@example.com"));
    assert!(dev(&with_smtp).is_ok());
}

#[test]
fn bad_numbers_are_reported() {
    let problems = load(
        &vars(&[
            ("PORT", "http"),
            ("JWT_SECRET", &"a".repeat(40)),
            ("JWT_REFRESH_SECRET", &"b".repeat(40)),
        ]),
        false,
    )
    .unwrap_err();
    assert!(problems[0].starts_with("PORT"));
}

#[test]
fn production_needs_a_metrics_token_and_stripe_sessions_last_at_least_30_minutes() {
    let strong = [
        ("KALAVPP_ENV", "production"),
        ("CORS_ORIGIN", "https://shop.example.com"),
        ("BACKEND_URL", "https://api.example.com"),
        ("STRIPE_SECRET_KEY", "sk_test_abcdefghijklmnopqrstuvwxyz"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_abcdefghijklmnopqrstuvwxyz"),
        ("CHECKOUT_EXPIRY_MINUTES", "10"),
    ];
    let problems = dev(&strong).unwrap_err();
    assert!(problems.iter().any(|p| p.starts_with("METRICS_TOKEN")), "{problems:?}");
    let mut with_token = strong.to_vec();
    with_token.push(("METRICS_TOKEN", "metrics-token-0123456789"));
    let settings = dev(&with_token).unwrap();
    assert_eq!(settings.core.checkout_ttl, Duration::from_mins(31));
    assert!(
        settings.notes.iter().any(|n| n.starts_with("CHECKOUT_EXPIRY_MINUTES")),
        "{:?}",
        settings.notes
    );
    // The development provider keeps short reservations as asked.
    let short = dev(&[("CHECKOUT_EXPIRY_MINUTES", "10")]).unwrap();
    assert_eq!(short.core.checkout_ttl, Duration::from_mins(10));
    assert!(short.notes.is_empty());
    assert_eq!(short.core.max_unpaid_orders, 5);
    assert_eq!(dev(&[("MAX_UNPAID_ORDERS", "0")]).unwrap().core.max_unpaid_orders, 0);
    assert!(dev(&[("MAX_UNPAID_ORDERS", "lots")]).is_err());
}

#[test]
fn database_urls_are_parsed_once_with_one_clear_problem() {
    assert_eq!(
        dev(&[]).unwrap().core.database_url,
        DatabaseUrl::sqlite_file(PathBuf::from("./data").join("kalavpp.db"))
    );
    assert_eq!(
        dev(&[("DATABASE_URL", "sqlite:shop.db")]).unwrap().core.database_url,
        DatabaseUrl::sqlite_file("shop.db")
    );
    assert!(
        dev(&[("DATABASE_URL", "postgresql://shop@db/kalavpp?sslmode=require")])
            .unwrap()
            .core
            .database_url
            .is_postgres()
    );
    for refused in [
        "mysql://root:hunter2@db/shop",
        "sqlite://",
        "shop.db",
        "postgres://shop:hunter2@db/kalavpp?port=x",
    ] {
        let problems = dev(&[("DATABASE_URL", refused)]).unwrap_err();
        let problem = problems
            .iter()
            .find(|p| p.starts_with("DATABASE_URL: "))
            .unwrap_or_else(|| panic!("{refused}: {problems:?}"));
        assert!(!problem.contains("hunter2"), "{problem}");
    }
}

#[test]
fn the_database_password_never_shows() {
    let settings = dev(&[("DATABASE_URL", "postgres://shop:hunter2@db.internal:5432/kalavpp")]).unwrap();
    assert!(!format!("{settings:?}").contains("hunter2"));
    assert!(!format!("{:?}", settings.core).contains("hunter2"));
    match &settings.core.database_url {
        DatabaseUrl::Postgres(url) => assert_eq!(url.expose(), "postgres://shop:hunter2@db.internal:5432/kalavpp"),
        other @ DatabaseUrl::Sqlite(_) => panic!("{other:?}"),
    }
}
