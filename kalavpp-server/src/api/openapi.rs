//! Finishing touches of the OpenAPI document that hold for every operation, applied once at
//! start-up to the document the handlers' `#[utoipa::path]` annotations describe:
//!
//! - every error response is `application/problem+json` with the `Problem` schema (the only
//!   error shape the API sends), `401` with its `WWW-Authenticate` header, `429` with `Retry-After`;
//! - the statuses every route of a kind can return are listed where the annotation left them out:
//!   `400`/`413`/`422` for JSON bodies, `401` for bearer-protected routes, `403` for `/admin`,
//!   `404` for routes with path parameters, `422` for query strings, `429` under the rate limit;
//! - `page` and `per_page` carry their bounds;
//! - every response has a description (OpenAPI requires one);
//! - the documentation routes themselves (`/api/v1/openapi.json`, `/api/docs`).

use serde_json::{Map, Value, json};

/// Routes outside the general `/api/v1` rate limit.
const NOT_RATE_LIMITED: &[&str] = &["/api/v1/openapi.json", "/api/v1/payments/webhook"];

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options", "trace"];

/// The served document: `openapi` with the rules above applied.
pub fn finish(openapi: &utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(openapi).unwrap_or_else(|_| json!({}));
    add_documentation_routes(&mut doc);
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            for method in METHODS {
                if let Some(operation) = item.get_mut(*method).and_then(Value::as_object_mut) {
                    finish_operation(path, operation);
                }
            }
        }
    }
    doc
}

fn finish_operation(path: &str, operation: &mut Map<String, Value>) {
    let parameters: Vec<(String, String)> = operation
        .get("parameters")
        .and_then(Value::as_array)
        .map(|params| {
            params
                .iter()
                .filter_map(|p| Some((p.get("name")?.as_str()?.to_owned(), p.get("in")?.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let has_path_params = parameters.iter().any(|(_, place)| place == "path");
    let has_query = parameters.iter().any(|(_, place)| place == "query");
    let body_types: Vec<String> = operation
        .get("requestBody")
        .and_then(|b| b.get("content"))
        .and_then(Value::as_object)
        .map(|content| content.keys().cloned().collect())
        .unwrap_or_default();
    let json_body = body_types.iter().any(|t| t == "application/json");
    let multipart = body_types.iter().any(|t| t == "multipart/form-data");
    let security = operation.get("security").and_then(Value::as_array).cloned().unwrap_or_default();
    let authenticated = !security.is_empty();
    let api = path.starts_with("/api/v1/") && !NOT_RATE_LIMITED.contains(&path);
    let admin = path.starts_with("/api/v1/admin/");

    if let Some(params) = operation.get_mut("parameters").and_then(Value::as_array_mut) {
        for param in params.iter_mut() {
            bound_pagination(param);
        }
    }

    let responses = operation
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses is an object");
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| json!({ "description": description }));
    };
    if json_body {
        add("400", "the body is not JSON, or not sent as `application/json`");
        add("413", "the body is larger than 1 MiB");
        add("422", "invalid, missing or unknown fields (`errors` lists them)");
    }
    if multipart {
        add("400", "not a readable `multipart/form-data` body with a `file` field");
        add("413", "the file is larger than the limit");
        add("422", "invalid upload (`errors` says why)");
    }
    if has_query {
        add("422", "an invalid query parameter (`errors` names it)");
    }
    if authenticated {
        add(
            "401",
            "no valid bearer token (a token sent to an optional-auth route must be valid too)",
        );
    }
    if admin {
        add("403", "the caller is not an admin");
    }
    if has_path_params {
        add("404", "no such resource (or not visible to the caller)");
    }
    if api {
        add("429", "rate limited; retry after `Retry-After` seconds");
    }
    for (status, response) in responses.iter_mut() {
        let Some(response) = response.as_object_mut() else { continue };
        if response.get("description").and_then(Value::as_str).is_none_or(str::is_empty) {
            let reason = status
                .parse::<u16>()
                .ok()
                .and_then(|s| axum::http::StatusCode::from_u16(s).ok())
                .and_then(|s| s.canonical_reason())
                .unwrap_or("response");
            response.insert("description".into(), Value::String(reason.to_owned()));
        }
        if status.starts_with('4') || status.starts_with('5') {
            response.insert(
                "content".into(),
                json!({ "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }),
            );
            let headers = response.entry("headers").or_insert_with(|| json!({}));
            if status == "401" {
                headers["WWW-Authenticate"] = json!({ "description": "`Bearer`", "schema": { "type": "string" } });
            }
            if status == "429" {
                headers["Retry-After"] = json!({ "description": "seconds to wait", "schema": { "type": "integer", "minimum": 0 } });
            }
            if headers.as_object().is_some_and(Map::is_empty) {
                response.remove("headers");
            }
        }
    }
}

/// `page` ≥ 1; `per_page` ≥ 1, values above 100 are served as 100 (the response's `per_page` says so).
fn bound_pagination(param: &mut Value) {
    if param.get("in").and_then(Value::as_str) != Some("query") {
        return;
    }
    let (schema, description) = match param.get("name").and_then(Value::as_str) {
        Some("page") => (
            json!({ "type": "integer", "minimum": 1, "default": 1 }),
            "1-based page number; 0 or less is a `422`, pages past the end are empty (above 1000000 the last is 1000000)",
        ),
        Some("per_page") => (
            json!({ "type": "integer", "minimum": 1, "default": 20 }),
            "page size, 1 to 100 (default 20); 0 or less is a `422`, larger values are clamped to 100 (the response's `per_page` shows the size used)",
        ),
        _ => return,
    };
    param["schema"] = schema;
    param["description"] = Value::String(description.to_owned());
    param["required"] = Value::Bool(false);
}

fn add_documentation_routes(doc: &mut Value) {
    let paths = &mut doc["paths"];
    paths["/api/v1/openapi.json"] = json!({
        "get": {
            "tags": ["operations"],
            "operationId": "openapi_document",
            "summary": "This OpenAPI document",
            "responses": {
                "200": {
                    "description": "the OpenAPI 3.1 document of this API",
                    "content": { "application/json": { "schema": { "type": "object" } } }
                }
            }
        }
    });
    paths["/api/docs"] = json!({
        "get": {
            "tags": ["operations"],
            "operationId": "api_docs_redirect",
            "summary": "Interactive API documentation (redirects to `/api/docs/`)",
            "responses": {
                "303": {
                    "description": "to `/api/docs/`",
                    "headers": { "Location": { "schema": { "type": "string" } } }
                }
            }
        }
    });
    paths["/api/docs/"] = json!({
        "get": {
            "tags": ["operations"],
            "operationId": "api_docs",
            "summary": "Interactive API documentation (Swagger UI, served from the binary; loads nothing from the internet)",
            "responses": {
                "200": {
                    "description": "the documentation page",
                    "content": { "text/html": { "schema": { "type": "string" } } }
                }
            }
        }
    });
}
