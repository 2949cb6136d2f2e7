//! The OpenAPI document (`/api/v1/openapi.json`) and the docs page (`/api/docs`): errors as
//! problem+json, bounds and enums, bearer security per route, and a docs page that loads nothing
//! from the internet. `.ci/schemathesis` fuzzes the server against the same document.

use serde_json::Value;

use crate::helpers::{Backend, spawn_app};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push((path.clone(), method.to_owned(), op.clone()));
            }
        }
    }
    out
}

fn is_problem(response: &Value) -> bool {
    response["content"]["application/problem+json"]["schema"]["$ref"] == "#/components/schemas/Problem"
}

#[tokio::test]
async fn every_error_is_a_documented_problem_and_every_route_has_its_statuses() {
    let app = spawn_app(Backend::Sqlite, &[]).await.unwrap();
    let raw = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(raw.headers()["content-type"], "application/json");
    let doc: Value = serde_json::from_str(&raw.text().await.unwrap()).expect("the document is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["components"]["schemas"]["Problem"]["properties"]["code"].is_object());

    let operations = operations(&doc);
    assert!(operations.len() >= 70, "only {} operations", operations.len());
    for (path, method, op) in &operations {
        let responses = op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path}: no responses"));
        for (status, response) in responses {
            assert!(
                response["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{method} {path} {status}: no description"
            );
            if status.starts_with('4') || status.starts_with('5') {
                assert!(
                    is_problem(response),
                    "{method} {path} {status}: not application/problem+json with Problem"
                );
                assert_eq!(
                    response["content"].as_object().unwrap().len(),
                    1,
                    "{method} {path} {status}: one content type"
                );
            }
        }
        // Every API route can refuse a request (the documentation routes cannot).
        let api = path.starts_with("/api/v1/") && path != "/api/v1/openapi.json";
        if api {
            assert!(responses.keys().any(|s| s.starts_with('4')), "{method} {path}: no 4xx documented");
        }
        if api && path != "/api/v1/payments/webhook" {
            assert!(responses.contains_key("429"), "{method} {path}: the rate limit's 429 is missing");
            assert!(
                responses["429"]["headers"]["Retry-After"].is_object(),
                "{method} {path}: 429 without Retry-After"
            );
        }
        if op
            .get("requestBody")
            .is_some_and(|b| b["content"].get("application/json").is_some())
        {
            for status in ["400", "413", "422"] {
                assert!(responses.contains_key(status), "{method} {path}: JSON body without {status}");
            }
        }
        let secured = op["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
        if secured {
            assert!(responses.contains_key("401"), "{method} {path}: bearer route without 401");
            assert!(responses["401"]["headers"]["WWW-Authenticate"].is_object());
        }
        if path.starts_with("/api/v1/admin/") {
            assert!(secured, "{method} {path}: admin route without bearer security");
            assert!(responses.contains_key("403"), "{method} {path}: admin route without 403");
        }
        if path.contains('{') {
            assert!(responses.contains_key("404"), "{method} {path}: path parameters without 404");
        }
    }
}

#[tokio::test]
async fn security_bounds_and_enums_are_exact() {
    let app = spawn_app(Backend::Sqlite, &[]).await.unwrap();
    let doc = app.get("/api/v1/openapi.json", None).await.expect(200).body;
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();

    // Bearer on an authenticated route, none on a public one, optional where a token only adds.
    assert_eq!(op("/api/v1/auth/me", "get")["security"], serde_json::json!([{ "bearer": [] }]));
    assert_eq!(op("/api/v1/admin/users", "get")["security"], serde_json::json!([{ "bearer": [] }]));
    assert!(op("/api/v1/categories", "get").get("security").is_none());
    assert!(op("/api/v1/auth/login", "post").get("security").is_none());
    assert_eq!(
        op("/api/v1/products/{id}", "get")["security"],
        serde_json::json!([{}, { "bearer": [] }])
    );
    assert!(doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer");

    // Pagination bounds on every list that takes them, and the server keeps to them.
    let mut paginated = 0;
    for (path, method, op) in operations(&doc) {
        for param in op["parameters"].as_array().into_iter().flatten() {
            let name = param["name"].as_str().unwrap_or_default();
            if name == "page" || name == "per_page" {
                paginated += 1;
                assert_eq!(param["in"], "query", "{method} {path} {name}");
                assert_eq!(param["schema"]["type"], "integer", "{method} {path} {name}");
                assert_eq!(param["schema"]["minimum"], 1, "{method} {path} {name}");
                assert!(param["description"].as_str().unwrap().contains("422"), "{method} {path} {name}");
            }
            if name == "per_page" {
                assert!(param["description"].as_str().unwrap().contains("clamped to 100"));
            }
            if param["in"] == "path" {
                assert!(path.contains(&format!("{{{name}}}")), "{method} {path}: {name} is not in the path");
            }
        }
    }
    assert!(paginated >= 20, "{paginated} page parameters");
    app.get("/products?page=0", None).await.expect_problem(422, "validation_failed");
    app.get("/products?per_page=0", None).await.expect_problem(422, "validation_failed");
    let clamped = app.get("/products?per_page=1000", None).await.expect(200);
    assert_eq!(clamped.body["per_page"], 100);

    // Enums as enums, in parameters, bodies and responses.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["ProductKind"]["enum"], serde_json::json!(["physical", "digital"]));
    assert_eq!(
        schemas["ProductBody"]["properties"]["kind"]["$ref"],
        "#/components/schemas/ProductKind"
    );
    assert_eq!(schemas["UserBody"]["properties"]["role"]["$ref"], "#/components/schemas/Role");
    assert_eq!(
        schemas["CreateProductRequest"]["properties"]["kind"]["$ref"],
        "#/components/schemas/ProductKind"
    );
    let browse = op("/api/v1/products", "get");
    let sort = browse["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "sort")
        .unwrap()
        .clone();
    assert_eq!(sort["schema"]["anyOf"][0]["$ref"], "#/components/schemas/ProductSort");
    assert_eq!(schemas["ProductSort"]["enum"].as_array().unwrap().len(), 5);
    app.get("/products?sort=cheapest", None)
        .await
        .expect_problem(422, "validation_failed");

    // Request bodies carry the server's limits.
    let create = &schemas["CreateProductRequest"]["properties"];
    assert_eq!(create["price_cents"]["minimum"], 1);
    assert_eq!(create["price_cents"]["maximum"], 100_000_000);
    assert!(create["title"]["pattern"].as_str().unwrap().contains("{0,198}"));
    assert_eq!(schemas["CreateReviewRequest"]["properties"]["rating"]["maximum"], 5);
    assert_eq!(schemas["RegisterRequest"]["properties"]["email"]["format"], "email");
    assert_eq!(schemas["RegisterRequest"]["additionalProperties"], false);
}

#[tokio::test]
async fn the_docs_page_is_served_from_the_binary() {
    let app = spawn_app(Backend::Sqlite, &[]).await.unwrap();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = no_redirects.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(redirect.status().as_u16(), 303);
    assert_eq!(redirect.headers()["location"], "/api/docs/");

    let page = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let mut assets = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for piece in html.split(attribute).skip(1) {
            let target = piece.split('"').next().unwrap();
            assert!(
                !target.starts_with("http://") && !target.starts_with("https://") && !target.starts_with("//"),
                "the docs page loads {target} from elsewhere"
            );
            assets.push(target.trim_start_matches("./").to_owned());
        }
    }
    assert!(
        assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")),
        "{assets:?}"
    );
    for asset in &assets {
        let response = app.client.get(app.url(&format!("/api/docs/{asset}"))).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{asset}");
        assert!(!response.bytes().await.unwrap().is_empty(), "{asset} is empty");
    }
    let init = app
        .client
        .get(app.url("/api/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("\"/api/v1/openapi.json\""), "{init}");
    assert!(
        !init.contains("http://") && !init.contains("https://"),
        "the initializer names another site: {init}"
    );
    assert!(
        init.contains("\"validatorUrl\": \"none\""),
        "the validator badge would call swagger.io: {init}"
    );
}
