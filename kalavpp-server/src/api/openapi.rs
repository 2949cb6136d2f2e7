//! Finishing touches of the OpenAPI document that hold for every operation, applied once at
//! start-up to the document the handlers' `#[utoipa::path]` annotations describe:
//!
//! - every error response is `application/problem+json` with the `Problem` schema (the only
//!   error shape the API sends), `401` with its `WWW-Authenticate` header, `429` with `Retry-After`;
//! - the statuses every route of a kind can return are listed where the annotation left them out:
//!   `400`/`413`/`422` for JSON bodies, `401` for bearer-protected routes, `403` for `/admin`,
//!   `404` for routes with path parameters, `422` for query strings, `429` under the rate limit;
//! - query parameters: `page` ≥ 1 and `per_page` ≥ 1 (with what happens beyond), `from`/`to` as
//!   times or dates, a blank filter documented as "no filter", no NUL characters;
//! - request bodies: text fields get a `pattern` matching exactly what the core accepts
//!   ([`TEXT_RULES`]), every other string refuses NUL, and a few rules the annotations cannot state;
//! - every response has a description (OpenAPI requires one);
//! - the documentation routes themselves (`/api/v1/openapi.json`, `/api/docs`).

use serde_json::{Map, Value, json};

/// Routes outside the general `/api/v1` rate limit.
pub(crate) const NOT_RATE_LIMITED: &[&str] = &["/api/v1/openapi.json", "/api/v1/payments/webhook"];

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options", "trace"];

/// How the core checks a text field, after trimming Unicode white space from both ends.
#[derive(Clone, Copy)]
enum Text {
    /// `min` to `max` characters, no control characters.
    Line(usize, usize),
    /// `min` to `max` characters; tabs and line breaks allowed, no other control characters.
    Multiline(usize, usize),
    /// `min` to `max` characters of anything but NUL.
    Any(usize, usize),
    /// Exactly as sent (no trimming): `min` to `max` characters of anything but NUL.
    Raw(usize, usize),
}

/// The text rules of the request bodies (schema, property, rule), as the core services check them
/// (`kalavpp-core/src/services`, `domain`). Each becomes a `pattern` that matches exactly the
/// accepted strings, so the schema's own `minLength`/`maxLength` (which would count the white space
/// the server trims) are not used for them.
const TEXT_RULES: &[(&str, &str, Text)] = &[
    ("RegisterRequest", "name", Text::Line(1, 100)),
    ("RegisterRequest", "password", Text::Raw(8, 128)),
    ("UpdateMeRequest", "name", Text::Line(1, 100)),
    ("UpdateMeRequest", "new_password", Text::Raw(8, 128)),
    ("ResetPasswordRequest", "new_password", Text::Raw(8, 128)),
    ("ResetPasswordRequest", "token", Text::Any(1, 1_000)),
    ("ApplyRequest", "shop_name", Text::Line(2, 80)),
    ("ApplyRequest", "bio", Text::Any(0, 5_000)),
    ("UpdateVendorRequest", "shop_name", Text::Line(2, 80)),
    ("UpdateVendorRequest", "bio", Text::Any(0, 5_000)),
    ("RejectRequest", "reason", Text::Any(1, 1_000)),
    ("CreateProductRequest", "title", Text::Line(1, 200)),
    ("CreateProductRequest", "description", Text::Any(1, 20_000)),
    ("UpdateProductRequest", "title", Text::Line(1, 200)),
    ("UpdateProductRequest", "description", Text::Any(1, 20_000)),
    ("CreateProductRequest", "tags[]", Text::Line(1, 40)),
    ("UpdateProductRequest", "tags[]", Text::Line(1, 40)),
    ("CategoryRequest", "name", Text::Line(1, 80)),
    ("CreateReviewRequest", "title", Text::Line(0, 200)),
    ("CreateReviewRequest", "body", Text::Multiline(1, 5_000)),
    ("UpdateReviewRequest", "title", Text::Line(0, 200)),
    ("UpdateReviewRequest", "body", Text::Multiline(1, 5_000)),
    ("FulfilRequest", "tracking_number", Text::Line(0, 100)),
    ("FulfilRequest", "carrier", Text::Line(0, 100)),
    ("RejectPayoutRequest", "reason", Text::Any(1, 1_000)),
    ("MarkPaidRequest", "reference", Text::Any(1, 200)),
];

/// What Rust's `str::trim` removes (the Unicode `White_Space` property).
const WHITE_SPACE: &str = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// Unicode `Cc`: what `char::is_control` refuses.
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";
const CONTROL_BUT_BREAKS: &str = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f";

/// A regular expression matching the strings `rule` accepts: white space either side, then
/// `min..=max` allowed characters that begin and end with a non-space.
fn text_pattern(rule: Text) -> String {
    let (forbidden, min, max) = match rule {
        Text::Line(min, max) => (CONTROL, min, max),
        Text::Multiline(min, max) => (CONTROL_BUT_BREAKS, min, max),
        Text::Any(min, max) => (r"\x00", min, max),
        Text::Raw(min, max) => return format!(r"^[^\x00]{{{min},{max}}}$"),
    };
    let inner = format!("[^{forbidden}]");
    let edge = format!("[^{WHITE_SPACE}{forbidden}]");
    let space = format!("[{WHITE_SPACE}]*");
    let core = match (min, max) {
        (_, 0) => String::new(),
        (0 | 1, 1) => edge.clone(),
        (0 | 1, max) => format!("{edge}(?:{inner}{{0,{}}}{edge})?", max - 2),
        (min, max) => format!("{edge}{inner}{{{},{}}}{edge}", min - 2, max - 2),
    };
    if min == 0 {
        format!("^{space}(?:{core})?{space}$")
    } else {
        format!("^{space}{core}{space}$")
    }
}

/// The served document: `openapi` with the rules above applied.
pub fn finish(openapi: &utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(openapi).unwrap_or_else(|_| json!({}));
    add_documentation_routes(&mut doc);
    apply_text_rules(&mut doc);
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
            finish_query_param(param);
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

/// Query parameters: time bounds, blank filters, no NUL; `page` ≥ 1, `per_page` ≥ 1 (above 100 served as 100).
fn finish_query_param(param: &mut Value) {
    if param.get("in").and_then(Value::as_str) != Some("query") {
        return;
    }
    if let Some(name @ ("from" | "to")) = param.get("name").and_then(Value::as_str) {
        // `admin::parse_time`: an RFC 3339 time, or a date (its first or, for `to`, last instant).
        let day = if name == "from" { "its start" } else { "the whole day" };
        param["schema"] = json!({ "anyOf": [
            { "type": "string", "format": "date-time" },
            { "type": "string", "format": "date", "description": day },
        ] });
    }
    let name = param.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    if let Some(schema) = param.get_mut("schema").and_then(Value::as_object_mut)
        && !matches!(name.as_str(), "page" | "per_page")
    {
        let plain = schema.get("type").and_then(Value::as_str) == Some("string")
            && !schema.contains_key("pattern")
            && !schema.contains_key("format");
        if plain {
            // A `%00` anywhere in the query string is a `422` (`http_error::refuse_nul_in_uri`).
            schema.insert("pattern".into(), Value::String(r"^[^\x00]*$".to_owned()));
        } else {
            // Every filter treats a blank value as absent (`?status=` is no status filter).
            let typed = Value::Object(std::mem::take(schema));
            schema.insert(
                "anyOf".into(),
                json!([typed, { "type": "string", "pattern": format!("^[{WHITE_SPACE}]*$"), "description": "blank: no filter" }]),
            );
        }
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

fn apply_text_rules(doc: &mut Value) {
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else {
        return;
    };
    // Payout details are free-form: a JSON object or a string (at most 4 KiB as JSON), or null.
    for schema in ["ApplyRequest", "UpdateVendorRequest", "VendorBody"] {
        if let Some(property) = schemas.get_mut(schema).and_then(|s| s.pointer_mut("/properties/payout_details")) {
            let description = property.get("description").cloned().unwrap_or(Value::Null);
            *property = json!({ "type": ["object", "string", "null"], "description": description });
        }
    }
    for (schema, property, rule) in TEXT_RULES {
        let (name, items) = match property.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (*property, false),
        };
        let Some(target) = schemas
            .get_mut(*schema)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(name))
        else {
            panic!("OpenAPI text rule for {schema}.{property}: no such property");
        };
        let target = if items { &mut target["items"] } else { target };
        target["pattern"] = Value::String(text_pattern(*rule));
    }
    // An upload is one field, `file`.
    if let Some(form) = schemas.get_mut("UploadForm") {
        form["additionalProperties"] = Value::Bool(false);
    }
    // An admin's change to a user names at least one of `status` and `role`.
    if let Some(request) = schemas.get_mut("UpdateUserRequest") {
        request["anyOf"] = json!([
            { "required": ["status"], "properties": { "status": { "type": "string" } } },
            { "required": ["role"], "properties": { "role": { "type": "string" } } },
        ]);
    }
    // `commission_bps` is the only field: `null` returns to the default rate, absent is a 422.
    if let Some(required) = schemas.get_mut("AdminVendorRequest").map(|r| &mut r["required"]) {
        *required = json!(["commission_bps"]);
    }
    // A slug keeps the letters and digits it has (`domain::slug::slugify`): it needs one.
    if let Some(slug) = schemas.get_mut("CategoryRequest").and_then(|r| r.pointer_mut("/properties/slug")) {
        slug["pattern"] = Value::String(r"^[^\x00]*[A-Za-z0-9À-ÅÇ-ÏÑ-ÖØ-Ýß-åç-ïñ-öø-ýÿĀ-āĒ-ēĪ-īŌ-ōŪ-ūŸİK\u1e9e][^\x00]*$".to_owned());
    }
    // Every other string of a request body: no text the API stores may hold a NUL (`\u0000`).
    for (name, schema) in schemas.iter_mut() {
        if name.ends_with("Request") {
            forbid_nul(schema);
        }
    }
}

/// Adds "no NUL" to every string schema under `schema` that has no pattern, enum or format yet.
fn forbid_nul(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let is_string = match map.get("type") {
                Some(Value::String(t)) => t == "string",
                Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
                _ => false,
            };
            if is_string && !map.contains_key("pattern") && !map.contains_key("enum") && !map.contains_key("format") {
                map.insert("pattern".into(), Value::String(r"^[^\x00]*$".to_owned()));
            }
            for value in map.values_mut() {
                forbid_nul(value);
            }
        }
        Value::Array(values) => values.iter_mut().for_each(forbid_nul),
        _ => {}
    }
}
