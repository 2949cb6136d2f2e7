//! The seed's account flows: register, sign in, refresh, sign out, profile, password reset.

use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, on_both_backends, session_from};

on_both_backends!(
    register_login_and_me,
    refresh_rotates_and_logout_ends_the_session,
    profile_rename_and_password_change,
    password_reset_by_email,
);

async fn register_login_and_me(app: TestApp) {
    let reply = app
        .post(
            "/auth/register",
            None,
            json!({"email": "  Ann.Artist@Example.COM ", "password": PASSWORD, "name": " Ann "}),
        )
        .await
        .expect(201);
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 900);
    assert_eq!(reply.body["user"]["email"], "ann.artist@example.com");
    assert_eq!(reply.body["user"]["name"], "Ann");
    assert_eq!(reply.body["user"]["role"], "customer");
    assert_eq!(reply.body["user"]["status"], "active");
    assert!(reply.body["user"].get("password_hash").is_none());
    let registered = session_from(&reply.body);

    let me = app.get("/auth/me", Some(&registered.access)).await.expect(200);
    assert_eq!(me.body["id"], registered.id.as_str());
    assert_eq!(me.body["email"], "ann.artist@example.com");

    // Login is case-insensitive on the email and hands out a new session.
    let login = app.login("ANN.ARTIST@example.com", PASSWORD).await.expect(200);
    let signed_in = session_from(&login.body);
    assert_eq!(signed_in.id, registered.id);
    assert_ne!(signed_in.refresh, registered.refresh);

    // The same email in another case is taken.
    app.post(
        "/auth/register",
        None,
        json!({"email": "ann.artist@EXAMPLE.com", "password": PASSWORD, "name": "Other"}),
    )
    .await
    .expect_problem(409, "email_taken");
}

async fn refresh_rotates_and_logout_ends_the_session(app: TestApp) {
    let first = app.register("bea@example.com").await;
    let rotated = app
        .post("/auth/refresh", None, json!({"refresh_token": first.refresh}))
        .await
        .expect(200);
    let second = session_from(&rotated.body);
    assert_ne!(second.refresh, first.refresh);
    app.get("/auth/me", Some(&second.access)).await.expect(200);

    // The rotated token keeps working once more (it is the current one) ...
    let third = session_from(
        &app.post("/auth/refresh", None, json!({"refresh_token": second.refresh}))
            .await
            .expect(200)
            .body,
    );

    // ... and logout ends the session: the current refresh token stops working.
    app.post("/auth/logout", None, json!({"refresh_token": third.refresh}))
        .await
        .expect(204);
    app.post("/auth/refresh", None, json!({"refresh_token": third.refresh}))
        .await
        .expect_problem(401, "invalid_refresh_token");

    // Logging out with an unknown token is harmless.
    app.post("/auth/logout", None, json!({"refresh_token": "rt_unknown"}))
        .await
        .expect(204);
    // Other sessions are untouched.
    let other = session_from(&app.login("bea@example.com", PASSWORD).await.expect(200).body);
    app.post("/auth/refresh", None, json!({"refresh_token": other.refresh}))
        .await
        .expect(200);
}

async fn profile_rename_and_password_change(app: TestApp) {
    let laptop = app.register("cai@example.com").await;
    let phone = session_from(&app.login("cai@example.com", PASSWORD).await.expect(200).body);

    let renamed = app
        .patch("/auth/me", Some(&laptop.access), json!({"name": "Cai the Potter"}))
        .await
        .expect(200);
    assert_eq!(renamed.body["name"], "Cai the Potter");

    let missing_current = app
        .patch("/auth/me", Some(&laptop.access), json!({"new_password": "a new password"}))
        .await;
    assert_eq!(
        missing_current.expect_problem(422, "validation_failed").fields(),
        vec!["current_password"]
    );
    let wrong_current = app
        .patch(
            "/auth/me",
            Some(&laptop.access),
            json!({"current_password": "not my password", "new_password": "a new password"}),
        )
        .await;
    assert_eq!(
        wrong_current.expect_problem(422, "validation_failed").fields(),
        vec!["current_password"]
    );
    let too_short = app
        .patch(
            "/auth/me",
            Some(&laptop.access),
            json!({"current_password": PASSWORD, "new_password": "short"}),
        )
        .await;
    assert_eq!(too_short.expect_problem(422, "validation_failed").fields(), vec!["new_password"]);
    app.patch("/auth/me", Some(&laptop.access), json!({"role": "admin"}))
        .await
        .expect_problem(422, "validation_failed");

    app.patch(
        "/auth/me",
        Some(&laptop.access),
        json!({"current_password": PASSWORD, "new_password": "a new password"}),
    )
    .await
    .expect(200);
    // The other session is signed out; this one stays.
    app.post("/auth/refresh", None, json!({"refresh_token": phone.refresh}))
        .await
        .expect(401);
    app.post("/auth/refresh", None, json!({"refresh_token": laptop.refresh}))
        .await
        .expect(200);
    app.login("cai@example.com", PASSWORD)
        .await
        .expect_problem(401, "invalid_credentials");
    app.login("cai@example.com", "a new password").await.expect(200);
    let me = app.get("/auth/me", Some(&laptop.access)).await.expect(200);
    assert_eq!(me.body["role"], "customer");
}

async fn password_reset_by_email(app: TestApp) {
    let dee = app.register("dee@example.com").await;
    let admin = app.admin().await;

    // Known and unknown addresses get the same answer.
    app.post("/auth/password/forgot", None, json!({"email": "nobody@example.com"}))
        .await
        .expect(202);
    app.post("/auth/password/forgot", None, json!({"email": "not an email"}))
        .await
        .expect(202);
    app.post("/auth/password/forgot", None, json!({"email": "DEE@example.com"}))
        .await
        .expect(202);

    let emails = app
        .get("/admin/emails?template=password_reset", Some(&admin.access))
        .await
        .expect(200);
    let items = emails.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "only the known address gets an email: {}", emails.body);
    let email = &items[0];
    assert_eq!(email["recipient"], "dee@example.com");
    assert_eq!(email["template"], "password_reset");
    // The outbox worker (logging mailer in development) may already have delivered it.
    assert!(matches!(email["status"].as_str(), Some("queued" | "sending" | "sent")), "{email}");
    assert!(email["subject"].as_str().unwrap().contains("Reset"));
    let body = email["body_text"].as_str().unwrap();
    let token = body
        .split("token=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("token in the link");

    app.post(
        "/auth/password/reset",
        None,
        json!({"token": "forged", "new_password": "brand new secret"}),
    )
    .await
    .expect_problem(422, "validation_failed");
    app.post("/auth/password/reset", None, json!({"token": token, "new_password": "short"}))
        .await
        .expect_problem(422, "validation_failed");
    app.post(
        "/auth/password/reset",
        None,
        json!({"token": token, "new_password": "brand new secret"}),
    )
    .await
    .expect(204);
    // Single use.
    app.post(
        "/auth/password/reset",
        None,
        json!({"token": token, "new_password": "another secret"}),
    )
    .await
    .expect_problem(422, "validation_failed");
    // Every session was signed out; the new password works, the old one does not.
    app.post("/auth/refresh", None, json!({"refresh_token": dee.refresh}))
        .await
        .expect(401);
    app.login("dee@example.com", PASSWORD).await.expect(401);
    app.login("dee@example.com", "brand new secret").await.expect(200);
}
