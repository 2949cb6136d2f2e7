//! What an attacker tries against the auth routes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::helpers::{JWT_SECRET, PASSWORD, TestApp, on_both_backends, session_from};

on_both_backends!(
    role_in_the_register_body_is_refused,
    bad_registrations_get_field_errors,
    wrong_password_and_unknown_email_look_the_same,
    forged_and_tampered_access_tokens_are_refused,
    reused_refresh_token_revokes_the_family,
    suspended_users_are_locked_out,
);

async fn role_in_the_register_body_is_refused(app: TestApp) {
    let reply = app
        .post(
            "/auth/register",
            None,
            json!({"email": "eve@example.com", "password": PASSWORD, "name": "Eve", "role": "admin"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.fields(), vec!["role"]);
    // Nothing was created: the address is still free and gets a customer.
    let eve = app.register("eve@example.com").await;
    let me = app.get("/auth/me", Some(&eve.access)).await.expect(200);
    assert_eq!(me.body["role"], "customer");
    for smuggled in [json!({"status": "active"}), json!({"id": "01a217ba-ff35-76c9-bdb0-60e20e42ddc8"})] {
        let mut body = json!({"email": "eve2@example.com", "password": PASSWORD, "name": "Eve"});
        body.as_object_mut().unwrap().extend(smuggled.as_object().unwrap().clone());
        app.post("/auth/register", None, body)
            .await
            .expect_problem(422, "validation_failed");
    }
}

async fn bad_registrations_get_field_errors(app: TestApp) {
    let reply = app
        .post(
            "/auth/register",
            None,
            json!({"email": "not-an-email", "password": "short", "name": "   "}),
        )
        .await
        .expect_problem(422, "validation_failed");
    let mut fields = reply.fields();
    fields.sort();
    assert_eq!(fields, vec!["email", "name", "password"]);
    let long = "x".repeat(129);
    let reply = app
        .post(
            "/auth/register",
            None,
            json!({"email": "fay@example.com", "password": long, "name": "Fay"}),
        )
        .await;
    assert_eq!(reply.expect_problem(422, "validation_failed").fields(), vec!["password"]);
    let reply = app
        .post("/auth/register", None, json!({"email": "fay@example.com", "name": "Fay"}))
        .await;
    assert_eq!(reply.expect_problem(422, "validation_failed").fields(), vec!["password"]);
    let reply = app
        .post("/auth/register", None, json!({"email": 42, "password": PASSWORD, "name": "Fay"}))
        .await;
    assert_eq!(reply.expect_problem(422, "validation_failed").fields(), vec!["email"]);
    app.post("/auth/register", None, json!(["not", "an", "object"])).await.expect(422);
}

async fn wrong_password_and_unknown_email_look_the_same(app: TestApp) {
    app.register("gus@example.com").await;
    let wrong = app
        .login("gus@example.com", "not the password")
        .await
        .expect_problem(401, "invalid_credentials");
    let unknown = app
        .login("nobody@example.com", PASSWORD)
        .await
        .expect_problem(401, "invalid_credentials");
    assert_eq!(wrong.body, unknown.body);
    app.login("not an email", PASSWORD).await.expect_problem(401, "invalid_credentials");
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn sign(claims: &Value, secret: &str) -> String {
    encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

async fn forged_and_tampered_access_tokens_are_refused(app: TestApp) {
    let hal = app.register("hal@example.com").await;
    let admin = app.admin().await;
    let claims = claims_of(&hal.access);
    // Sanity: the real token works, and a token we sign the same way with the real key works too.
    app.get("/auth/me", Some(&hal.access)).await.expect(200);
    app.get("/auth/me", Some(&sign(&claims, JWT_SECRET))).await.expect(200);

    let mut as_admin = claims.clone();
    as_admin["role"] = json!("admin");
    as_admin["sub"] = json!(admin.id);
    let parts: Vec<&str> = hal.access.split('.').collect();
    let edited = format!("{}.{}.{}", parts[0], b64(&as_admin), parts[2]);
    let alg_none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&as_admin));
    let alg_none_signed = format!("{}.{}.{}", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&as_admin), parts[2]);
    let other_key = sign(&as_admin, "a-completely-different-secret-key-of-some-length");
    let hs512 = encode(
        &Header::new(Algorithm::HS512),
        &as_admin,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let mut wrong_type = claims.clone();
    wrong_type["typ"] = json!("refresh");
    let mut wrong_audience = claims.clone();
    wrong_audience["aud"] = json!("another-app");
    let mut wrong_issuer = claims.clone();
    wrong_issuer["iss"] = json!("someone-else");
    let mut expired = claims.clone();
    expired["exp"] = json!(1_000_000_000);
    expired["iat"] = json!(999_000_000);
    let mut unknown_user = claims.clone();
    unknown_user["sub"] = json!("01a217ba-ff35-76c9-bdb0-60e20e42ddc8");
    let forged = [
        ("edited claims", edited),
        ("alg none", alg_none),
        ("alg none with a signature", alg_none_signed),
        ("another key", other_key),
        ("HS512", hs512),
        ("typ refresh", sign(&wrong_type, JWT_SECRET)),
        ("wrong aud", sign(&wrong_audience, JWT_SECRET)),
        ("wrong iss", sign(&wrong_issuer, JWT_SECRET)),
        ("expired", sign(&expired, JWT_SECRET)),
        ("unknown user", sign(&unknown_user, JWT_SECRET)),
        ("refresh token as access token", hal.refresh.clone()),
        ("garbage", "abc.def.ghi".to_owned()),
    ];
    for (what, token) in forged {
        let reply = app.get("/auth/me", Some(&token)).await;
        assert_eq!(reply.status.as_u16(), 401, "{what} must be refused: {}", reply.body);
        assert_eq!(reply.headers.get("www-authenticate").unwrap(), "Bearer");
        let reply = app.get("/admin/users", Some(&token)).await;
        assert_eq!(reply.status.as_u16(), 401, "{what} must not reach admin routes: {}", reply.body);
    }
    // An access token is not a refresh token either.
    app.post("/auth/refresh", None, json!({"refresh_token": hal.access}))
        .await
        .expect(401);
    // Missing or malformed Authorization headers.
    app.get("/auth/me", None).await.expect_problem(401, "authentication_required");
    let reply = app
        .client
        .get(app.url("/auth/me"))
        .header("authorization", format!("Basic {}", hal.access))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 401);
}

async fn reused_refresh_token_revokes_the_family(app: TestApp) {
    let ida = app.register("ida@example.com").await;
    let next = session_from(
        &app.post("/auth/refresh", None, json!({"refresh_token": ida.refresh}))
            .await
            .expect(200)
            .body,
    );
    // A thief replays the old token: refused, and the whole family dies with it.
    app.post("/auth/refresh", None, json!({"refresh_token": ida.refresh}))
        .await
        .expect_problem(401, "refresh_token_reused");
    app.post("/auth/refresh", None, json!({"refresh_token": next.refresh}))
        .await
        .expect_problem(401, "invalid_refresh_token");
    // Another login still works.
    app.login("ida@example.com", PASSWORD).await.expect(200);
}

async fn suspended_users_are_locked_out(app: TestApp) {
    let jo = app.register("jo@example.com").await;
    let admin = app.admin().await;
    app.patch(
        &format!("/admin/users/{}", jo.id),
        Some(&admin.access),
        json!({"status": "suspended"}),
    )
    .await
    .expect(200);
    app.login("jo@example.com", PASSWORD).await.expect_problem(403, "account_suspended");
    // A wrong password still says nothing about the account.
    app.login("jo@example.com", "wrong password")
        .await
        .expect_problem(401, "invalid_credentials");
    app.post("/auth/refresh", None, json!({"refresh_token": jo.refresh}))
        .await
        .expect(401);
    app.get("/auth/me", Some(&jo.access)).await.expect_problem(403, "account_suspended");
    app.post("/auth/password/forgot", None, json!({"email": "jo@example.com"}))
        .await
        .expect(202);

    app.patch(&format!("/admin/users/{}", jo.id), Some(&admin.access), json!({"status": "active"}))
        .await
        .expect(200);
    app.login("jo@example.com", PASSWORD).await.expect(200);
}
