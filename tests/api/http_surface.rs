//! What every route shares: health, OpenAPI, problem+json, limits, headers, CORS, rate limits.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, PASSWORD, TestApp, on_both_backends, read, spawn_app};

on_both_backends!(
    health_and_readiness,
    malformed_requests_get_problems,
    nul_characters_are_refused_everywhere,
    metrics_count_requests_by_route,
);

async fn health_and_readiness(app: TestApp) {
    let health = app.get("/healthz", None).await.expect(200);
    assert_eq!(health.body["status"], "ok");
    let ready = app.get("/readyz", None).await.expect(200);
    let backend = match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(ready.body["database"], backend);
}

async fn malformed_requests_get_problems(app: TestApp) {
    let url = app.url("/auth/register");
    let reply = read(
        app.client
            .post(&url)
            .header("content-type", "application/json")
            .body("{\"email\":")
            .send()
            .await
            .unwrap(),
    )
    .await;
    reply.expect_problem(400, "malformed_json");
    let reply = read(
        app.client
            .post(&url)
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    reply.expect_problem(400, "unsupported_content_type");
    let reply = read(app.client.post(&url).send().await.unwrap()).await;
    assert_eq!(reply.status.as_u16(), 400);
    let huge = format!("{{\"email\":\"a@b.io\",\"password\":\"{}\",\"name\":\"x\"}}", "x".repeat(1_100_000));
    let reply = read(
        app.client
            .post(&url)
            .header("content-type", "application/json")
            .body(huge)
            .send()
            .await
            .unwrap(),
    )
    .await;
    reply.expect_problem(413, "payload_too_large");
    app.get("/no/such/route", None).await.expect_problem(404, "not_found");
    let reply = read(app.client.delete(app.url("/auth/me")).send().await.unwrap()).await;
    reply.expect_problem(405, "method_not_allowed");
    app.post("/auth/login", None, json!({"email": "a@b.io"}))
        .await
        .expect_problem(422, "validation_failed");
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let app = spawn_app(Backend::Sqlite, &[]).await.unwrap();
    let doc = app.get("/api/v1/openapi.json", None).await.expect(200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc.body["paths"].as_object().unwrap();
    let expected = [
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/me", "get"),
        ("/api/v1/auth/me", "patch"),
        ("/api/v1/auth/password/forgot", "post"),
        ("/api/v1/auth/password/reset", "post"),
        ("/api/v1/admin/users", "get"),
        ("/api/v1/admin/users/{id}", "patch"),
        ("/api/v1/admin/emails", "get"),
        ("/api/v1/admin/audit-log", "get"),
        ("/api/v1/openapi.json", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ];
    for (path, method) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
    assert!(doc.body["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn security_headers_cors_and_compression() {
    let app = spawn_app(Backend::Sqlite, &[("CORS_ORIGIN", "http://shop.test,http://admin.test")])
        .await
        .unwrap();
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "http://admin.test")
        .send()
        .await
        .unwrap();
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(headers.contains_key("x-request-id"));
    assert_eq!(headers["access-control-allow-origin"], "http://admin.test");
    assert!(!headers.contains_key("strict-transport-security"), "no HSTS in development");

    let foreign = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "http://evil.test")
        .send()
        .await
        .unwrap();
    assert!(!foreign.headers().contains_key("access-control-allow-origin"));
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/auth/login"))
        .header("origin", "http://shop.test")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "http://shop.test");

    let doc = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(doc.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let app = spawn_app(
        Backend::Sqlite,
        &[("RATE_LIMIT_MAX_REQUESTS", "6"), ("AUTH_RATE_LIMIT_MAX_REQUESTS", "2")],
    )
    .await
    .unwrap();
    let body = json!({"email": "rae@example.com", "password": PASSWORD});
    app.post("/auth/login", None, body.clone()).await.expect(401);
    app.post("/auth/login", None, body.clone()).await.expect(401);
    let limited = app
        .post("/auth/login", None, body.clone())
        .await
        .expect_problem(429, "rate_limited");
    let retry: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "retry-after {retry}");
    // The general limit still has room for other routes ...
    app.get("/auth/me", None).await.expect(401);
    app.get("/auth/me", None).await.expect(401);
    app.get("/auth/me", None).await.expect(401);
    // ... until it runs out too, and health checks are never limited.
    let reply = app.get("/auth/me", None).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    for _ in 0..10 {
        app.get("/healthz", None).await.expect(200);
    }
}

#[tokio::test]
async fn the_edge_keeps_request_ids_varies_by_origin_and_limits_all_of_v1() {
    let app = spawn_app(
        Backend::Sqlite,
        &[("RATE_LIMIT_MAX_REQUESTS", "3"), ("CORS_ORIGIN", "http://shop.test")],
    )
    .await
    .unwrap();
    let get = |path: &str, id: Option<&str>| {
        let mut request = app.client.get(app.url(path)).header("origin", "http://shop.test");
        if let Some(id) = id {
            request = request.header("x-request-id", id);
        }
        request.send()
    };
    // A client's short id comes back; a long one is replaced by ours; every response varies by origin.
    let kept = get("/healthz", Some("trace-42")).await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "trace-42");
    assert!(
        kept.headers()
            .get_all("vary")
            .iter()
            .any(|v| v.to_str().unwrap().contains("origin"))
    );
    let long = "x".repeat(300);
    let replaced = get("/healthz", Some(&long)).await.unwrap();
    let ours = replaced.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(ours.len() < 40 && ours != long, "{ours}");
    // Unknown paths under /api/v1 count against the general limit, known ones too ...
    get("/api/v1/no-such-route", None).await.unwrap();
    get("/api/v1/another-unknown", None).await.unwrap();
    get("/products", None).await.unwrap();
    let limited = get("/products", None).await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    // ... the refusal is readable by the allowed origin (CORS wraps the limit) ...
    assert_eq!(limited.headers()["access-control-allow-origin"], "http://shop.test");
    assert!(limited.headers().contains_key("x-request-id"));
    assert_eq!(limited.headers()["x-content-type-options"], "nosniff");
    // Refusals at the edge never reach a route, and are counted as their own route.
    let (_, _, metrics) = scrape(&app, None).await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("http_requests_total") && l.contains("route=\"edge_refused\"") && l.contains("status=\"429\"")),
        "{metrics}"
    );
    // ... and the OpenAPI document, the Stripe webhook and health stay outside it.
    get("/api/v1/openapi.json", None).await.unwrap().error_for_status().unwrap();
    let webhook = app.client.post(app.url("/payments/webhook")).body("{}").send().await.unwrap();
    assert_ne!(webhook.status(), StatusCode::TOO_MANY_REQUESTS);
    get("/healthz", None).await.unwrap().error_for_status().unwrap();
}

#[tokio::test]
async fn forwarded_for_is_trusted_only_behind_a_proxy() {
    for (trust, second_status) in [("false", 429), ("true", 401)] {
        let app = spawn_app(Backend::Sqlite, &[("AUTH_RATE_LIMIT_MAX_REQUESTS", "1"), ("TRUST_PROXY", trust)])
            .await
            .unwrap();
        let login = |ip: &'static str| {
            app.client
                .post(app.url("/auth/login"))
                .header("x-forwarded-for", ip)
                .json(&json!({"email": "sam@example.com", "password": PASSWORD}))
                .send()
        };
        assert_eq!(login("203.0.113.1").await.unwrap().status().as_u16(), 401);
        assert_eq!(
            login("203.0.113.2").await.unwrap().status().as_u16(),
            second_status,
            "TRUST_PROXY={trust}"
        );
    }
}

/// PostgreSQL cannot store a NUL character; SQLite can. Either way a client sending one gets a 4xx
/// and nothing is stored, on every kind of input.
async fn nul_characters_are_refused_everywhere(app: TestApp) {
    let admin = app.admin().await;
    let user = app.register("nul@example.com").await;
    for path in ["/products/%00", "/vendors/a%00b", "/orders/%00"] {
        let reply = app.get(path, Some(&admin.access)).await;
        assert_eq!(reply.status.as_u16(), 404, "{path}: {}", reply.body);
    }
    for (path, field) in [
        ("/products?q=%00", "q"),
        ("/admin/users?q=a%00", "q"),
        ("/admin/audit-log?action=x%00", "action"),
        ("/admin/emails?template=%00&status=sent", "template"),
    ] {
        let reply = app.get(path, Some(&admin.access)).await.expect_problem(422, "validation_failed");
        assert_eq!(reply.fields(), vec![field], "{path}");
    }
    // Raw bodies: the JSON escape `\u0000` decodes to a NUL character.
    for (path, raw) in [
        ("/vendors/apply", r#"{"shop_name": "Nul\u0000Shop"}"#),
        (
            "/auth/register",
            r#"{"email": "x@example.com", "password": "long enough pass", "name": "a\u0000b"}"#,
        ),
    ] {
        let response = app
            .client
            .post(app.url(path))
            .bearer_auth(&user.access)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .expect("sent");
        let reply = read(response).await;
        assert_eq!(reply.status.as_u16(), 422, "{path}: {}", reply.body);
        assert_eq!(reply.fields(), vec!["body"], "{path}");
    }
    assert_eq!(
        app.get("/vendor/me", Some(&user.access)).await.status.as_u16(),
        404,
        "no application was stored"
    );
}

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String, String) {
    let mut request = app.client.get(format!("{}/metrics", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("scrape");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.expect("body"))
}

async fn metrics_count_requests_by_route(app: TestApp) {
    app.register("metric@example.com").await;
    for _ in 0..3 {
        app.get("/products", None).await.expect(200);
    }
    app.get(&format!("/products/{}", uuid::Uuid::new_v4()), None).await.expect(404);
    let (status, content_type, text) = scrape(&app, None).await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let line = |prefix: &str| text.lines().find(|l| l.starts_with(prefix)).map(str::to_owned);
    let listed = line("http_requests_total{method=\"GET\",route=\"/api/v1/products\",status=\"200\"}").unwrap_or_else(|| panic!("{text}"));
    assert!(listed.ends_with(" 3"), "{listed}");
    // Routes are labelled by their pattern, never by the id in the URL.
    assert!(
        line("http_requests_total{method=\"GET\",route=\"/api/v1/products/{id}\",status=\"404\"} 1").is_some(),
        "{text}"
    );
    assert!(text.contains("http_request_duration_seconds_bucket"), "a histogram: {text}");
    assert!(line("kalavpp_users{role=\"customer\"} 1").is_some(), "{text}");
    assert!(line("kalavpp_outbox_messages{status=").is_some(), "{text}");

    // With METRICS_TOKEN only its holder may read.
    let token = "metrics-token-0123456789";
    let guarded = crate::helpers::spawn_app(app.backend, &[("METRICS_TOKEN", token)])
        .await
        .expect("app");
    assert_eq!(scrape(&guarded, None).await.0, 401);
    assert_eq!(scrape(&guarded, Some("wrong-token-0123456789")).await.0, 401);
    assert_eq!(scrape(&guarded, Some(token)).await.0, 200);
}
