//! Several server processes on one PostgreSQL database (DESIGN rule 9): a catalog write on one
//! instance reaches the other's caches through `LISTEN/NOTIFY`, and their outbox workers never
//! send the same email twice.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::catalog_support::{approved_shop, text};
use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_at};
use crate::payment_support::physical;

/// A second instance beside `first`, on the same database.
async fn second_instance(first: &TestApp) -> TestApp {
    spawn_app_at(Backend::Postgres, &first.database_url, tempfile::tempdir().expect("temp dir"), &[]).await
}

/// Polls `check` until it holds or `limit` passes; returns whether it held.
async fn eventually(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_instance_reaches_the_caches_of_another() {
    let Some(a) = spawn_app(Backend::Postgres, &[]).await else {
        return;
    };
    let b = second_instance(&a).await;
    let admin = a.admin().await;
    let shop = approved_shop(&a, &admin, "ines@example.com", "Ines Inks").await;
    let work = physical(&a, &shop.user.access, "Harbour at dawn", 5_000, 2).await;
    let (id, slug) = (text(&work, "id"), text(&work, "slug"));

    // Instance B reads (and caches) the product and the list.
    for _ in 0..2 {
        assert_eq!(
            b.get(&format!("/products/{slug}"), None).await.expect(200).body["title"],
            "Harbour at dawn"
        );
        assert_eq!(b.get("/products", None).await.expect(200).body["total"], 1);
    }

    // Instance A changes it; B shows the change at once (well within its 5-minute cache TTL).
    a.patch(
        &format!("/products/{id}"),
        Some(&shop.user.access),
        json!({"title": "Harbour at dusk"}),
    )
    .await
    .expect(200);
    let renamed = eventually(Duration::from_secs(5), async || {
        b.get(&format!("/products/{slug}"), None).await.expect(200).body["title"] == "Harbour at dusk"
    })
    .await;
    assert!(renamed, "B's cache was invalidated by A's write");
    a.call(reqwest::Method::DELETE, &format!("/products/{id}"), Some(&shop.user.access), None)
        .await
        .expect(204);
    let gone = eventually(Duration::from_secs(5), async || {
        b.get("/products", None).await.expect(200).body["total"] == 0
    })
    .await;
    assert!(gone, "B's list follows A's archive");

    // And the other way round: a vendor suspended through B disappears from A's catalog.
    physical(&a, &shop.user.access, "Second work", 1_000, 1).await;
    assert!(
        eventually(
            Duration::from_secs(5),
            async || a.get("/products", None).await.expect(200).body["total"] == 1
        )
        .await
    );
    b.post(&format!("/admin/vendors/{}/suspend", shop.id), Some(&admin.access), json!({}))
        .await
        .expect(200);
    let hidden = eventually(Duration::from_secs(5), async || {
        a.get("/products", None).await.expect(200).body["total"] == 0
    })
    .await;
    assert!(hidden, "A's cache follows B's suspension");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_outbox_workers_never_send_one_email_twice() {
    let Some(a) = spawn_app(Backend::Postgres, &[("MAIL_POLL_INTERVAL_MS", "20")]).await else {
        return;
    };
    let b = spawn_app_at(
        Backend::Postgres,
        &a.database_url,
        tempfile::tempdir().expect("temp dir"),
        &[("MAIL_POLL_INTERVAL_MS", "20")],
    )
    .await;
    for i in 0..30 {
        let target = if i % 2 == 0 { &a } else { &b };
        target.register(&format!("user{i}@example.com")).await;
    }
    let admin = a.admin().await;
    let all_sent = eventually(Duration::from_secs(10), async || {
        let sent = a
            .get("/admin/emails?template=welcome&status=sent&per_page=100", Some(&admin.access))
            .await
            .expect(200);
        sent.body["total"] == 30
    })
    .await;
    assert!(all_sent, "every welcome email is delivered");
    let emails = a
        .get("/admin/emails?template=welcome&per_page=100", Some(&admin.access))
        .await
        .expect(200);
    for email in emails.body["items"].as_array().unwrap() {
        assert_eq!(email["attempts"], 1, "claimed once: {email}");
    }
}
