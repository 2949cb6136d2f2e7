//! Email delivery end to end: the real server sends its outbox to an SMTP server on loopback
//! (`smtp_sink`), on SQLite and PostgreSQL. Welcome and password-reset emails arrive with the
//! configured sender and both parts; a refusing server makes the worker retry and give up with
//! the error recorded, and a recovered server still gets the other messages.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp};
use crate::smtp_sink::{Mode, SmtpSink, with_smtp_sink};

const FROM: &str = "shop@kalavpp.test";
const FROM_NAME: &str = "KALAVPP Test";
const FRONTEND: &str = "https://shop.kalavpp.test";

with_smtp_sink!(
    welcome_email_is_delivered_over_smtp,
    password_reset_email_carries_the_link,
    refused_messages_are_retried_then_failed_and_a_recovered_server_gets_the_rest,
);

fn mail_settings(smtp_url: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("SMTP_URL", smtp_url),
        ("EMAIL_FROM", FROM),
        ("EMAIL_FROM_NAME", FROM_NAME),
        ("FRONTEND_URL", FRONTEND),
        ("MAIL_POLL_INTERVAL_MS", "50"),
        ("MAIL_MAX_ATTEMPTS", "3"),
        ("MAIL_RETRY_BASE_MS", "50"),
    ]
}

/// The outbox row of the `template` message to `recipient` once its status is `status`
/// (waits up to 15 s).
async fn outbox_row(app: &TestApp, admin: &str, recipient: &str, template: &str, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        let page = app
            .get(&format!("/admin/emails?recipient={recipient}&template={template}"), Some(admin))
            .await
            .expect(200)
            .body;
        assert!(
            page["total"].as_i64().unwrap_or_default() <= 1,
            "one {template} to {recipient}: {page}"
        );
        last = page["items"][0].clone();
        if last["status"] == status {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the {template} email to {recipient} never became {status}; last seen: {last}");
}

async fn welcome_email_is_delivered_over_smtp(app: TestApp, sink: SmtpSink) {
    let admin = app.admin().await;
    app.register("ann@example.com").await;

    let message = sink.wait_for("ann@example.com", "Welcome to KALAVPP").await;
    assert_eq!(message.mail_from, FROM, "envelope sender");
    assert_eq!(message.rcpt_to, ["ann@example.com"], "envelope recipient");
    assert_eq!(message.header("From").unwrap(), format!("\"{FROM_NAME}\" <{FROM}>"));
    assert_eq!(message.header("To").unwrap(), "ann@example.com");
    assert_eq!(message.header("Subject").unwrap(), "Welcome to KALAVPP");
    let content_type = message.header("Content-Type").unwrap();
    assert!(content_type.starts_with("multipart/alternative"), "{content_type}");
    let text = message.part("text/plain").expect("a text part");
    assert!(text.contains("Hello ann,"), "{text}");
    assert!(text.contains(&format!("Start browsing: {FRONTEND}")), "{text}");
    let html = message.part("text/html").expect("an HTML part");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("<p>Hello ann,</p>"), "{html}");
    assert!(html.contains(&format!("href=\"{FRONTEND}\"")), "{html}");

    // The outbox records the delivery.
    let row = outbox_row(&app, &admin.access, "ann@example.com", "welcome", "sent").await;
    assert_eq!(row["attempts"], 1, "{row}");
    assert!(row["sent_at"].is_string(), "{row}");
    assert!(row["last_error"].is_null(), "{row}");
    let id = row["id"].as_str().unwrap();
    let message_id = message.header("Message-ID").unwrap();
    assert_eq!(message_id, format!("<{id}@kalavpp.test>"), "the outbox id names the message");

    // Administrators made with create-admin get no welcome email; one message per registration.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1, "{:?}", sink.messages());
}

async fn password_reset_email_carries_the_link(app: TestApp, sink: SmtpSink) {
    app.register("dee@example.com").await;
    sink.wait_for("dee@example.com", "Welcome").await;
    app.post("/auth/password/forgot", None, json!({"email": "dee@example.com"}))
        .await
        .expect(202);

    let message = sink.wait_for("dee@example.com", "Reset your KALAVPP password").await;
    let text = message.part("text/plain").expect("a text part");
    let prefix = format!("{FRONTEND}/reset-password?token=");
    let token = text
        .lines()
        .find_map(|line| line.trim().strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("a reset link in {text}"))
        .to_owned();
    assert!(token.len() >= 32, "{token}");
    let html = message.part("text/html").expect("an HTML part");
    assert!(html.contains(&format!("href=\"{prefix}{token}\"")), "{html}");

    app.post(
        "/auth/password/reset",
        None,
        json!({"token": token, "new_password": "a brand new secret"}),
    )
    .await
    .expect(204);
    app.login("dee@example.com", PASSWORD)
        .await
        .expect_problem(401, "invalid_credentials");
    app.login("dee@example.com", "a brand new secret").await.expect(200);
}

async fn refused_messages_are_retried_then_failed_and_a_recovered_server_gets_the_rest(app: TestApp, sink: SmtpSink) {
    let admin = app.admin().await;

    // A server that says "try later": three attempts with backoff, then `failed`.
    sink.set_mode(Mode::Refuse(451));
    app.register("fay@example.com").await;
    let row = outbox_row(&app, &admin.access, "fay@example.com", "welcome", "failed").await;
    assert_eq!(row["attempts"], 3, "{row}");
    assert!(row["sent_at"].is_null(), "{row}");
    let error = row["last_error"].as_str().expect("last_error");
    assert!(error.contains("451"), "{error}");
    assert_eq!(sink.refusals_of("fay@example.com"), 3, "one delivery attempt per retry");

    // A server that says "no such user" is retried the same way (a 5xx can be a passing
    // misconfiguration), and its reply is what the outbox keeps.
    sink.set_mode(Mode::Refuse(550));
    app.register("gil@example.com").await;
    let row = outbox_row(&app, &admin.access, "gil@example.com", "welcome", "failed").await;
    assert_eq!(row["attempts"], 3, "{row}");
    assert!(row["last_error"].as_str().unwrap().contains("550"), "{row}");

    // Recovered: the next messages go through; the failed ones stay failed.
    sink.set_mode(Mode::Accept);
    app.register("hal@example.com").await;
    sink.wait_for("hal@example.com", "Welcome to KALAVPP").await;
    let row = outbox_row(&app, &admin.access, "hal@example.com", "welcome", "sent").await;
    assert_eq!(row["attempts"], 1, "{row}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.messages_to("fay@example.com").is_empty());
    assert!(sink.messages_to("gil@example.com").is_empty());
    let failed = app.get("/admin/emails?status=failed", Some(&admin.access)).await.expect(200).body;
    assert_eq!(failed["total"], 2, "{failed}");
}
