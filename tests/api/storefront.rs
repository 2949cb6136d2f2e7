//! The storefront at `/`: pages rendered for anonymous visitors and signed-in customers, cookie
//! sessions on the core's login sessions, CSRF on every form, the customer flow from sign-up to
//! review, HTML error pages, escaping, search-engine files and `STOREFRONT=false`.

use std::collections::HashMap;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::catalog_support::text;
use crate::helpers::{Backend, PASSWORD, TestApp, on_both_backends, spawn_app};
use crate::payment_support::{Scene, asset_bytes, attach_asset, digital, physical};

on_both_backends!(
    catalog_pages_render_for_anonymous_visitors,
    register_sign_out_and_sign_in_with_csrf,
    anonymous_add_to_cart_comes_back_with_the_item,
    customer_buys_downloads_and_reviews,
    forms_without_a_valid_csrf_token_change_nothing,
    hostile_text_is_escaped_everywhere,
    password_change_and_suspension_end_the_session,
    panel_and_storefront_sessions_are_not_interchangeable,
    personal_pages_send_visitors_to_sign_in,
    reset_password_through_the_emailed_link,
);

/// A browser-like client: no redirects followed, cookies kept by hand so tests can read them.
pub struct Visitor<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    pub cookies: HashMap<String, String>,
}

/// A page as the browser got it.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// The first CSRF token on the page.
    pub fn csrf(&self) -> String {
        let marker = r#"name="csrf" value=""#;
        let start = self.body.find(marker).unwrap_or_else(|| panic!("no CSRF field in {}", self.body)) + marker.len();
        self.body[start..].split('"').next().unwrap_or_default().to_owned()
    }

    #[track_caller]
    pub fn expect_html(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        let content_type = self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(content_type.starts_with("text/html"), "HTML, not {content_type}: {}", self.body);
        assert_eq!(self.body.matches("<h1").count(), 1, "one h1 per page: {}", self.body);
        self
    }

    #[track_caller]
    pub fn expect_redirect(self, to: &str) -> Self {
        assert_eq!(self.status.as_u16(), 303, "expected a 303; body: {}", self.body);
        assert_eq!(self.location(), to);
        self
    }
}

impl<'a> Visitor<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn keep(&mut self, response: reqwest::Response) -> Page {
        let page = Page {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.expect("body"),
        };
        for value in page.headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()) {
            let Some((name, rest)) = value.split_once('=') else { continue };
            let cookie_value = rest.split(';').next().unwrap_or_default();
            if value.contains("Max-Age=0") || cookie_value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), cookie_value.to_owned());
            }
        }
        page
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.app.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.keep(response).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut body = form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            body.append_pair(k, v);
        }
        let response = self
            .client
            .post(format!("{}{path}", self.app.base))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.finish())
            .send()
            .await
            .expect("POST");
        self.keep(response).await
    }

    /// Posts a `multipart/form-data` form with one file field `file`, like a browser's upload form.
    pub async fn upload(&mut self, path: &str, filename: &str, content_type: &str, bytes: Vec<u8>) -> Page {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(filename.to_owned())
            .mime_str(content_type)
            .expect("content type");
        let response = self
            .client
            .post(format!("{}{path}", self.app.base))
            .header("cookie", self.cookie_header())
            .header(reqwest::header::CONNECTION, "close")
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await
            .expect("POST multipart");
        self.keep(response).await
    }

    /// Fills in the registration form; the visitor is signed in afterwards.
    pub async fn register(&mut self, email: &str, name: &str) -> Page {
        let form = self.get("/register").await.expect_html(200);
        let csrf = form.csrf();
        self.post(
            "/register",
            &[
                ("csrf", &csrf),
                ("email", email),
                ("name", name),
                ("password", PASSWORD),
                ("next", "/"),
            ],
        )
        .await
    }

    pub async fn sign_in(&mut self, email: &str, password: &str, next: &str) -> Page {
        let form = self.get("/signin").await.expect_html(200);
        let csrf = form.csrf();
        self.post(
            "/signin",
            &[("csrf", &csrf), ("email", email), ("password", password), ("next", next)],
        )
        .await
    }

    /// The CSRF token of the signed-in session (from the cart page's sign-out form).
    pub async fn session_csrf(&mut self) -> String {
        self.get("/cart").await.expect_html(200).csrf()
    }
}

/// The catalog of these tests: two shops, a physical painting and a digital print with a file.
struct Catalog {
    scene: Scene,
    painting: serde_json::Value,
    print: serde_json::Value,
}

async fn catalog(app: &TestApp) -> Catalog {
    let scene = Scene::new(app).await;
    let painting = physical(app, &scene.ana.user.access, "Harbour at Dusk", 42_000, 3).await;
    let print = digital(app, &scene.bo.user.access, "Pixel Garden", 1_500).await;
    attach_asset(app, &scene.bo.user.access, &text(&print, "id"), "garden.png", asset_bytes(2048)).await;
    Catalog { scene, painting, print }
}

async fn catalog_pages_render_for_anonymous_visitors(app: TestApp) {
    let Catalog { scene, painting, .. } = catalog(&app).await;
    let mut visitor = Visitor::new(&app);

    let home = visitor.get("/").await.expect_html(200);
    assert!(
        home.body.contains("Harbour at Dusk") && home.body.contains("Pixel Garden"),
        "{}",
        home.body
    );
    assert!(home.body.contains(r#"<link rel="canonical" href=""#), "canonical link");
    assert!(home.body.contains(r#"<meta name="description""#), "meta description");
    assert!(
        !home.body.contains(r#"name="csrf""#),
        "anonymous catalog pages carry no per-visitor token"
    );
    // The stylesheet lives under a content-hashed path and is cached for good.
    let css_path = home
        .body
        .split(r#"<link rel="stylesheet" href=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert!(css_path.starts_with("/assets/shop-") && css_path.ends_with(".css"), "{css_path}");
    let css = visitor.get(&css_path).await;
    assert_eq!(css.status, 200);
    assert_eq!(css.headers["cache-control"], "public, max-age=31536000, immutable");
    assert!(css.headers["content-type"].to_str().unwrap().starts_with("text/css"));
    assert_eq!(visitor.get("/assets/shop-0000000000000000.css").await.status, 404);
    // The same page again comes from the ready-bytes cache, identical.
    assert_eq!(visitor.get("/").await.body, home.body);

    // Search with filters and facet counts beside each value.
    let all = visitor.get("/search").await.expect_html(200);
    assert!(all.body.contains("2 works"), "{}", all.body);
    assert!(all.body.contains(r#"Originals <span class="count">(1)</span>"#), "{}", all.body);
    assert!(
        all.body.contains(r#"Digital downloads <span class="count">(1)</span>"#),
        "{}",
        all.body
    );
    assert!(
        all.body.contains(r#">Under 50 USD</a> <span class="count">(1)</span>"#),
        "{}",
        all.body
    );
    assert!(
        all.body.contains(r#">200 to 500 USD</a> <span class="count">(1)</span>"#),
        "{}",
        all.body
    );
    assert!(
        all.body.contains(r#"href="/search?min_price=200&#38;max_price=499.99""#),
        "{}",
        all.body
    );
    // Choosing a category lists its sub-categories with their counts.
    let paintings = visitor.get("/search?category=paintings").await.expect_html(200);
    assert!(paintings.body.contains("Harbour at Dusk") && !paintings.body.contains("Pixel Garden"));
    assert!(
        paintings.body.contains(r#"class="sub""#) && paintings.body.contains(r#"Oil paintings <span class="count">(1)</span>"#),
        "{}",
        paintings.body
    );
    let digital_only = visitor.get("/search?kind=digital").await.expect_html(200);
    assert!(digital_only.body.contains("Pixel Garden") && !digital_only.body.contains("Harbour at Dusk"));
    assert!(digital_only.body.contains("1 work<"), "{}", digital_only.body);
    let searched = visitor.get("/search?q=harbour").await.expect_html(200);
    assert!(searched.body.contains("Harbour at Dusk") && !searched.body.contains("Pixel Garden"));
    let priced = visitor
        .get("/search?min_price=100&max_price=500&sort=price_desc")
        .await
        .expect_html(200);
    assert!(
        priced.body.contains("Harbour at Dusk") && !priced.body.contains("Pixel Garden"),
        "{}",
        priced.body
    );
    assert!(priced.body.contains(r#"<option value="price_desc" selected>"#));
    let bad = visitor.get("/search?min_price=cheap").await.expect_html(200);
    assert!(
        bad.body.contains(
            r#"id="f-min" name="min_price" inputmode="decimal" value="cheap" aria-invalid="true" aria-describedby="f-min-error""#
        ),
        "{}",
        bad.body
    );
    assert!(bad.body.contains(r#"id="f-min-error""#));

    // Product page: price, availability, artist link, buy link, SEO tags and JSON-LD.
    let slug = text(&painting, "slug");
    let product = visitor.get(&format!("/products/{slug}")).await.expect_html(200);
    assert!(product.body.contains("420.00 USD"), "{}", product.body);
    assert!(product.body.contains("3 available"));
    assert!(product.body.contains(&format!(r#"href="/artists/{}""#, scene.ana.slug)));
    assert!(product.body.contains(&format!("{}/products/{slug}", app.base)), "canonical URL");
    assert!(product.body.contains(r#"<meta property="og:type" content="product">"#));
    assert!(product.body.contains(r#"<script type="application/ld+json">"#));
    assert!(product.body.contains(r#""@type":["Product","VisualArtwork"]"#), "{}", product.body);
    assert!(product.body.contains(r#""price":"420.00""#) && product.body.contains(r#""priceCurrency":"USD""#));
    assert!(
        product.body.contains("/signin?next=%2Fproducts%2F"),
        "anonymous buy button leads to sign in"
    );

    let artist = visitor.get(&format!("/artists/{}", scene.ana.slug)).await.expect_html(200);
    assert!(artist.body.contains("Ana Oils") && artist.body.contains("Harbour at Dusk") && !artist.body.contains("Pixel Garden"));

    // Search engines.
    // Page weight: HTML and CSS of the product page stay well under 60 KB.
    assert!(
        product.body.len() + css.body.len() < 60 * 1024,
        "{} + {} bytes",
        product.body.len(),
        css.body.len()
    );

    let sitemap = visitor.get("/sitemap.xml").await;
    assert_eq!(sitemap.status, 200);
    assert!(
        sitemap.body.contains(&format!("<loc>{}/products/{slug}</loc>", app.base)),
        "{}",
        sitemap.body
    );
    assert!(
        sitemap
            .body
            .contains(&format!("<loc>{}/artists/{}</loc>", app.base, scene.ana.slug))
    );
    let robots = visitor.get("/robots.txt").await;
    assert!(robots.body.contains(&format!("Sitemap: {}/sitemap.xml", app.base)) && robots.body.contains("Disallow: /checkout"));

    // Friendly HTML error pages; the API keeps problem+json.
    let missing = visitor.get("/products/no-such-work").await.expect_html(404);
    assert!(missing.body.contains("Back to the shop"));
    visitor.get("/no/such/page").await.expect_html(404);
    let wrong_method = visitor.post("/search", &[]).await;
    assert_eq!(wrong_method.status, 405);
    assert!(
        wrong_method.headers["content-type"].to_str().unwrap().starts_with("text/html"),
        "{}",
        wrong_method.body
    );
    let api = visitor.get("/api/v1/no/such/route").await;
    assert_eq!(api.headers["content-type"], "application/problem+json");

    // A catalog write shows at once (the cache key holds the catalog generation).
    physical(&app, &scene.ana.user.access, "Second Harbour", 9_900, 1).await;
    assert!(visitor.get("/").await.body.contains("Second Harbour"));
}

async fn register_sign_out_and_sign_in_with_csrf(app: TestApp) {
    let mut visitor = Visitor::new(&app);
    let registered = visitor.register("dana@example.com", "Dana").await.expect_redirect("/");
    let cookie = registered.set_cookie("kalavpp_session").expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "not Secure in development: {cookie}");
    let home = visitor.get("/").await.expect_html(200);
    assert!(
        home.body.contains("Dana") && home.body.contains(r#"action="/signout""#),
        "{}",
        home.body
    );

    // The same email again: the error sits on its field.
    let mut other = Visitor::new(&app);
    let again = other.register("dana@example.com", "Dana Two").await.expect_html(422);
    assert!(
        again.body.contains(r#"id="email-error""#) && again.body.contains("already exists"),
        "{}",
        again.body
    );
    let short = {
        let form = other.get("/register").await;
        let csrf = form.csrf();
        other
            .post(
                "/register",
                &[
                    ("csrf", &csrf),
                    ("email", "eve@example.com"),
                    ("name", "Eve"),
                    ("password", "short"),
                ],
            )
            .await
            .expect_html(422)
    };
    assert!(short.body.contains(r#"id="password-error""#), "{}", short.body);

    // Sign out ends the core session: the old cookie no longer works.
    let old = visitor.cookies["kalavpp_session"].clone();
    let csrf = visitor.session_csrf().await;
    visitor
        .post("/signout", &[("csrf", &csrf)])
        .await
        .expect_redirect("/signin?done=signed-out");
    assert!(!visitor.cookies.contains_key("kalavpp_session"));
    visitor.cookies.insert("kalavpp_session".into(), old);
    visitor.get("/cart").await.expect_redirect("/signin?next=%2Fcart");

    // Wrong password: one generic message; the right one signs in and goes where asked.
    let wrong = visitor.sign_in("dana@example.com", "not the password", "/").await.expect_html(401);
    assert!(wrong.body.contains("Email or password is incorrect."));
    visitor
        .sign_in("dana@example.com", PASSWORD, "/orders")
        .await
        .expect_redirect("/orders");
    visitor.get("/orders").await.expect_html(200);
    // An offsite `next` is not followed.
    let mut third = Visitor::new(&app);
    third
        .sign_in("dana@example.com", PASSWORD, "//evil.example/")
        .await
        .expect_redirect("/");
}

async fn anonymous_add_to_cart_comes_back_with_the_item(app: TestApp) {
    let Catalog { painting, .. } = catalog(&app).await;
    let mut visitor = Visitor::new(&app);
    let slug = text(&painting, "slug");
    let product = visitor.get(&format!("/products/{slug}")).await.expect_html(200);
    let link = product
        .body
        .split(r#"<a class="button" href=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a buy link")
        .replace("&amp;", "&");
    let signin = visitor.get(&link).await.expect_html(200);
    let next = signin
        .body
        .split(r#"name="next" value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#x3f;", "?")
        .replace("&#x3d;", "=");
    let next = html_unescape(&next);
    assert_eq!(next, format!("/products/{slug}?add={}", text(&painting, "id")));
    // The visitor has no account yet: the sign-in page links to registration with the same `next`.
    let register_link = html_unescape(
        signin
            .body
            .split(r#"New here? <a href=""#)
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap(),
    );
    let form = visitor.get(&register_link).await.expect_html(200);
    let csrf = form.csrf();
    visitor
        .post(
            "/register",
            &[
                ("csrf", &csrf),
                ("email", "finn@example.com"),
                ("name", "Finn"),
                ("password", PASSWORD),
                ("next", &next),
            ],
        )
        .await
        .expect_redirect(&format!("/products/{slug}?added=1"));
    let back = visitor.get(&format!("/products/{slug}?added=1")).await.expect_html(200);
    assert!(back.body.contains("Added to your cart."));
    let cart = visitor.get("/cart").await.expect_html(200);
    assert!(
        cart.body.contains("Harbour at Dusk") && cart.body.contains("Subtotal: <strong>420.00 USD</strong>"),
        "{}",
        cart.body
    );
}

fn html_unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#x3f;", "?")
        .replace("&#x3d;", "=")
        .replace("&#37;", "%")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
}

/// The `action` of the first form posting to a `/dev/checkout/.../pay` URL.
fn pay_action(page: &str) -> String {
    let start = page.find("/dev/checkout/").expect("a dev checkout form");
    page[start..].split('"').next().unwrap().to_owned()
}

async fn customer_buys_downloads_and_reviews(app: TestApp) {
    let Catalog { painting, print, .. } = catalog(&app).await;
    let mut visitor = Visitor::new(&app);
    visitor.register("gil@example.com", "Gil").await.expect_redirect("/");

    // Add both works to the cart through the product pages' forms.
    for work in [&painting, &print] {
        let slug = text(work, "slug");
        let page = visitor.get(&format!("/products/{slug}")).await.expect_html(200);
        let csrf = page.csrf();
        visitor
            .post(
                "/cart/add",
                &[
                    ("csrf", &csrf),
                    ("product_id", &text(work, "id")),
                    ("slug", &slug),
                    ("quantity", "1"),
                ],
            )
            .await
            .expect_redirect(&format!("/products/{slug}?added=1"));
    }
    let cart = visitor.get("/cart").await.expect_html(200);
    assert!(cart.body.contains("Subtotal: <strong>435.00 USD</strong>"), "{}", cart.body);
    // Change a quantity and back.
    let csrf = cart.csrf();
    visitor
        .post(
            "/cart/update",
            &[("csrf", &csrf), ("product_id", &text(&painting, "id")), ("quantity", "2")],
        )
        .await
        .expect_redirect("/cart");
    assert!(visitor.get("/cart").await.body.contains("855.00 USD"));
    visitor
        .post(
            "/cart/update",
            &[("csrf", &csrf), ("product_id", &text(&painting, "id")), ("quantity", "1")],
        )
        .await
        .expect_redirect("/cart");

    // Checkout: a physical line needs the address; a missing field is flagged beside itself.
    let checkout = visitor.get("/checkout").await.expect_html(200);
    assert!(checkout.body.contains("Shipping address"), "{}", checkout.body);
    let incomplete = visitor
        .post(
            "/checkout",
            &[("csrf", &csrf), ("name", "Gil Buyer"), ("line1", "1 Quay"), ("country", "PT")],
        )
        .await
        .expect_html(422);
    assert!(
        incomplete.body.contains(r#"id="ship-city-error""#) && incomplete.body.contains(r#"id="ship-postal_code-error""#),
        "{}",
        incomplete.body
    );
    assert!(incomplete.body.contains(r#"value="Gil Buyer""#), "typed values are kept");
    let paying = visitor
        .post(
            "/checkout",
            &[
                ("csrf", &csrf),
                ("name", "Gil Buyer"),
                ("line1", "1 Quay"),
                ("city", "Porto"),
                ("postal_code", "4000-001"),
                ("country", "PT"),
            ],
        )
        .await;
    assert_eq!(paying.status, 303, "{}", paying.body);
    let checkout_url = paying.location().to_owned();
    assert!(checkout_url.contains("/dev/checkout/"), "{checkout_url}");
    // The development payment page, then back to the shop's confirmation page.
    let dev_page = app.client.get(&checkout_url).send().await.unwrap().text().await.unwrap();
    let paid = app
        .client
        .post(format!("{}{}", app.base, pay_action(&dev_page)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let back = html_unescape(paid.split(r#"<a href=""#).nth(1).unwrap().split('"').next().unwrap());
    assert!(
        back.starts_with(&format!("{}/orders/", app.base)) && back.ends_with("?payment=success"),
        "{back}"
    );
    let confirmation = visitor.get(back.trim_start_matches(&app.base)).await.expect_html(200);
    assert!(confirmation.body.contains("Your payment went through"), "{}", confirmation.body);
    assert!(confirmation.body.contains("Being prepared"), "the painting's fulfilment status");
    assert!(confirmation.body.contains("Gil Buyer") && confirmation.body.contains("Porto"));
    // The digital work's download link works.
    let download = confirmation
        .body
        .split(r#"<a class="download" href=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let file = app
        .client
        .get(format!("{}{}", app.base, html_unescape(&download)))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(file.bytes().await.unwrap().to_vec(), asset_bytes(2048));
    let orders = visitor.get("/orders").await.expect_html(200);
    assert!(orders.body.contains("Paid") || orders.body.contains("Completed"), "{}", orders.body);

    // A buyer's review: the form appears, an empty body is flagged, then it is published.
    let slug = text(&print, "slug");
    let page = visitor.get(&format!("/products/{slug}")).await.expect_html(200);
    assert!(page.body.contains("Write a review"), "{}", page.body);
    let refused = visitor
        .post(
            &format!("/products/{slug}/reviews"),
            &[("csrf", &csrf), ("rating", "5"), ("body", "")],
        )
        .await
        .expect_html(422);
    assert!(refused.body.contains(r#"id="body-error""#), "{}", refused.body);
    visitor
        .post(
            &format!("/products/{slug}/reviews"),
            &[
                ("csrf", &csrf),
                ("rating", "4"),
                ("title", "Lovely"),
                ("body", "Crisp file, lovely colours."),
            ],
        )
        .await
        .expect_redirect(&format!("/products/{slug}?reviewed=1#reviews"));
    let again = visitor.get(&format!("/products/{slug}")).await.expect_html(200);
    assert!(!again.body.contains("Write a review"), "one review per buyer");
    let mut anonymous = Visitor::new(&app);
    let reviewed = anonymous.get(&format!("/products/{slug}")).await.expect_html(200);
    assert!(
        reviewed.body.contains("Crisp file, lovely colours.") && reviewed.body.contains("4.0 out of 5 from 1 review"),
        "{}",
        reviewed.body
    );
    assert!(reviewed.body.contains(r#""aggregateRating""#));
}

async fn forms_without_a_valid_csrf_token_change_nothing(app: TestApp) {
    let Catalog { painting, .. } = catalog(&app).await;
    let mut visitor = Visitor::new(&app);
    // Registration and sign-in without the token (or with another one): 403, no account.
    visitor.get("/register").await;
    let refused = visitor
        .post(
            "/register",
            &[("email", "hal@example.com"), ("name", "Hal"), ("password", PASSWORD)],
        )
        .await
        .expect_html(403);
    assert!(refused.body.contains("security token"));
    visitor
        .post(
            "/register",
            &[
                ("csrf", "00ff"),
                ("email", "hal@example.com"),
                ("name", "Hal"),
                ("password", PASSWORD),
            ],
        )
        .await
        .expect_html(403);
    app.login("hal@example.com", PASSWORD).await.expect(401);
    let mut fresh = Visitor::new(&app);
    fresh
        .post("/signin", &[("email", "cat@example.com"), ("password", PASSWORD)])
        .await
        .expect_html(403);

    // Signed in: the cart form with another session's token or none does nothing.
    visitor.register("hal@example.com", "Hal").await.expect_redirect("/");
    let mut other = Visitor::new(&app);
    other.register("ivy@example.com", "Ivy").await.expect_redirect("/");
    let foreign = other.session_csrf().await;
    for csrf in [None, Some(foreign.as_str())] {
        let mut fields = vec![("product_id", text(&painting, "id")), ("quantity", "1".to_owned())];
        if let Some(csrf) = csrf {
            fields.push(("csrf", csrf.to_owned()));
        }
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        visitor.post("/cart/add", &fields).await.expect_html(403);
    }
    assert!(visitor.get("/cart").await.body.contains("Your cart is empty"));
    visitor.post("/signout", &[]).await.expect_html(403);
    visitor.get("/cart").await.expect_html(200);
}

async fn hostile_text_is_escaped_everywhere(app: TestApp) {
    let scene = Scene::new(&app).await;
    let hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    let work = physical(&app, &scene.ana.user.access, hostile, 5_000, 2).await;
    let mut visitor = Visitor::new(&app);
    for path in [
        "/".to_owned(),
        "/search".to_owned(),
        format!("/products/{}", text(&work, "slug")),
        format!("/artists/{}", scene.ana.slug),
    ] {
        let page = visitor.get(&path).await.expect_html(200);
        assert!(
            !page.body.contains("<script>alert(1)") && !page.body.contains("<img src=x"),
            "{path}: {}",
            page.body
        );
    }
    let product = visitor.get(&format!("/products/{}", text(&work, "slug"))).await;
    assert!(
        product.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{}",
        product.body
    );
    // Inside JSON-LD the markup is \u-escaped, so it cannot close the script element.
    assert!(
        product.body.contains(r"\u003cscript\u003ealert(1)\u003c/script\u003e"),
        "{}",
        product.body
    );
    let search = visitor.get("/search?q=%3Cb%3Ebold%3C%2Fb%3E").await.expect_html(200);
    assert!(!search.body.contains("<b>bold</b>") && search.body.contains("&#60;b&#62;bold&#60;/b&#62;"));
}

async fn password_change_and_suspension_end_the_session(app: TestApp) {
    let admin = app.admin().await;
    let mut visitor = Visitor::new(&app);
    visitor.register("jo@example.com", "Jo").await.expect_redirect("/");
    let csrf = visitor.session_csrf().await;
    // Rename, then a wrong current password is flagged beside its field.
    visitor
        .post("/account", &[("csrf", &csrf), ("name", "Jo Renamed")])
        .await
        .expect_redirect("/account?done=saved");
    assert!(
        visitor
            .get("/account?done=saved")
            .await
            .expect_html(200)
            .body
            .contains("Jo Renamed")
    );
    let wrong = visitor
        .post(
            "/account",
            &[
                ("csrf", &csrf),
                ("current_password", "nope nope nope"),
                ("new_password", "another fine secret"),
            ],
        )
        .await
        .expect_html(422);
    assert!(wrong.body.contains(r#"id="current-error""#), "{}", wrong.body);
    // A password change ends this session too.
    let old = visitor.cookies["kalavpp_session"].clone();
    visitor
        .post(
            "/account",
            &[
                ("csrf", &csrf),
                ("current_password", PASSWORD),
                ("new_password", "another fine secret"),
            ],
        )
        .await
        .expect_redirect("/signin?done=password-changed");
    visitor.cookies.insert("kalavpp_session".into(), old);
    visitor.get("/account").await.expect_redirect("/signin?next=%2Faccount");

    // Suspension ends it as well.
    visitor
        .sign_in("jo@example.com", "another fine secret", "/")
        .await
        .expect_redirect("/");
    visitor.get("/account").await.expect_html(200);
    let me = app.login("jo@example.com", "another fine secret").await.expect(200);
    let id = me.body["user"]["id"].as_str().unwrap().to_owned();
    app.patch(&format!("/admin/users/{id}"), Some(&admin.access), json!({"status": "suspended"}))
        .await
        .expect(200);
    visitor.get("/account").await.expect_redirect("/signin?next=%2Faccount");
    let refused = visitor.sign_in("jo@example.com", "another fine secret", "/").await.expect_html(401);
    assert!(refused.body.contains("suspended"));
}

async fn panel_and_storefront_sessions_are_not_interchangeable(app: TestApp) {
    let admin_email = format!("boss-{}@kalavpp.test", uuid::Uuid::new_v4().simple());
    app.market
        .accounts()
        .create_admin(&kalavpp_core::auth::Actor::System, &admin_email, PASSWORD, "Boss")
        .await
        .unwrap();
    // The admin signs in to the storefront; that cookie does not open the panel.
    let mut shop = Visitor::new(&app);
    shop.sign_in(&admin_email, PASSWORD, "/").await.expect_redirect("/");
    let shop_cookie = shop.cookies["kalavpp_session"].clone();
    let panel = app
        .client
        .get(format!("{}/admin", app.base))
        .header("cookie", format!("kalavpp_admin={shop_cookie}; kalavpp_session={shop_cookie}"))
        .send()
        .await
        .unwrap();
    assert!(
        panel.url().path().starts_with("/admin/login"),
        "redirected to the panel's login: {}",
        panel.url()
    );
    // A panel session token does not sign anyone in to the storefront.
    let session = app.market.accounts().admin_login(&admin_email, PASSWORD).await.unwrap();
    let mut visitor = Visitor::new(&app);
    visitor
        .cookies
        .insert("kalavpp_session".into(), session.tokens.refresh_token.clone());
    visitor.get("/cart").await.expect_redirect("/signin?next=%2Fcart");
    visitor.cookies.clear();
    visitor.cookies.insert("kalavpp_admin".into(), session.tokens.refresh_token);
    visitor.get("/cart").await.expect_redirect("/signin?next=%2Fcart");
}

async fn personal_pages_send_visitors_to_sign_in(app: TestApp) {
    let mut visitor = Visitor::new(&app);
    for (path, next) in [
        ("/cart", "%2Fcart"),
        ("/checkout", "%2Fcheckout"),
        ("/orders", "%2Forders"),
        ("/account", "%2Faccount"),
        (
            "/orders/0190b5a4-0000-7000-8000-000000000000",
            "%2Forders%2F0190b5a4-0000-7000-8000-000000000000",
        ),
    ] {
        let page = visitor.get(path).await.expect_redirect(&format!("/signin?next={next}"));
        assert_eq!(page.headers["cache-control"], "no-store", "{path}");
    }
    // Another customer's order is a 404 page.
    let scene = Scene::new(&app).await;
    let work = physical(&app, &scene.ana.user.access, "Quiet Bay", 1_000, 1).await;
    crate::payment_support::add_to_cart(&app, &scene.customer.access, &text(&work, "id"), 1).await;
    let order = crate::payment_support::checkout(&app, &scene.customer.access, Some(crate::payment_support::address())).await;
    visitor.register("kim@example.com", "Kim").await.expect_redirect("/");
    visitor
        .get(&format!("/orders/{}", order["order"]["id"].as_str().unwrap()))
        .await
        .expect_html(404);
    // An empty cart has nothing to check out.
    visitor.get("/checkout").await.expect_redirect("/cart");

    // An unpaid order can be cancelled from its page (and only by its buyer).
    let work = physical(&app, &scene.ana.user.access, "Low Tide", 2_000, 1).await;
    let csrf = visitor.session_csrf().await;
    let page = visitor.get(&format!("/products/{}", text(&work, "slug"))).await.expect_html(200);
    assert!(!page.body.contains("Write a review"), "no review form before buying");
    visitor
        .post(
            "/cart/add",
            &[("csrf", &csrf), ("product_id", &text(&work, "id")), ("quantity", "1")],
        )
        .await
        .expect_redirect("/cart");
    let placed = visitor
        .post(
            "/checkout",
            &[
                ("csrf", &csrf),
                ("name", "Kim"),
                ("line1", "1 Road"),
                ("city", "Oslo"),
                ("postal_code", "0150"),
                ("country", "NO"),
            ],
        )
        .await;
    assert_eq!(placed.status, 303);
    let orders = visitor.get("/orders").await.expect_html(200);
    let id = orders
        .body
        .split(r#"<a href="/orders/"#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let pending = visitor.get(&format!("/orders/{id}")).await.expect_html(200);
    assert!(
        pending.body.contains("Awaiting payment") && pending.body.contains("Cancel this order"),
        "{}",
        pending.body
    );
    let foreign = Visitor::new(&app).post(&format!("/orders/{id}/cancel"), &[("csrf", &csrf)]).await;
    assert_eq!(foreign.status, 303, "anonymous: sent to sign in");
    visitor
        .post(&format!("/orders/{id}/cancel"), &[("csrf", &csrf)])
        .await
        .expect_redirect(&format!("/orders/{id}"));
    let cancelled = visitor.get(&format!("/orders/{id}")).await.expect_html(200);
    assert!(cancelled.body.contains("Cancelled") && !cancelled.body.contains("Cancel this order"));
    assert_eq!(
        crate::payment_support::stock(&app, &text(&work, "id")).await,
        Some(1),
        "stock released"
    );
}

async fn reset_password_through_the_emailed_link(app: TestApp) {
    let admin = app.admin().await;
    app.register("lee@example.com").await;
    let mut visitor = Visitor::new(&app);
    let form = visitor.get("/forgot-password").await.expect_html(200);
    let csrf = form.csrf();
    let sent = visitor
        .post("/forgot-password", &[("csrf", &csrf), ("email", "lee@example.com")])
        .await
        .expect_html(200);
    assert!(sent.body.contains("If an account uses that address"));
    // The same answer for an unknown address.
    visitor
        .post("/forgot-password", &[("csrf", &csrf), ("email", "nobody@example.com")])
        .await
        .expect_html(200);
    // The email's link points at this server's storefront (FRONTEND_URL is not set).
    let emails = app.get("/admin/emails?per_page=100", Some(&admin.access)).await.expect(200);
    let reset = emails.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["template"] == "password_reset" && e["recipient"] == "lee@example.com")
        .unwrap_or_else(|| panic!("a reset email in {}", emails.body));
    assert!(
        reset["body_text"]
            .as_str()
            .unwrap()
            .contains(&format!("{}/reset-password?token=", app.base)),
        "{reset}"
    );
    // A bad token is refused beside the password field.
    let page = visitor.get("/reset-password?token=not-a-real-token").await.expect_html(200);
    let csrf = page.csrf();
    let refused = visitor
        .post(
            "/reset-password",
            &[("csrf", &csrf), ("token", "not-a-real-token"), ("password", "a brand new secret")],
        )
        .await
        .expect_html(422);
    assert!(refused.body.contains(r#"id="password-error""#), "{}", refused.body);

    // The emailed link sets a new password; the old one stops working.
    let prefix = format!("{}/reset-password?token=", app.base);
    let body = reset["body_text"].as_str().unwrap();
    let token = body
        .lines()
        .find_map(|line| line.trim().strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("a link in {body}"))
        .to_owned();
    let page = visitor.get(&format!("/reset-password?token={token}")).await.expect_html(200);
    let csrf = page.csrf();
    visitor
        .post(
            "/reset-password",
            &[("csrf", &csrf), ("token", &token), ("password", "a brand new secret")],
        )
        .await
        .expect_redirect("/signin?done=password-reset");
    let note = visitor.get("/signin?done=password-reset").await.expect_html(200);
    assert!(note.body.contains("Sign in with the new one."));
    visitor.sign_in("lee@example.com", PASSWORD, "/").await.expect_html(401);
    visitor
        .sign_in("lee@example.com", "a brand new secret", "/")
        .await
        .expect_redirect("/");
}

#[tokio::test]
async fn sign_in_is_rate_limited_with_an_html_page() {
    let app = spawn_app(Backend::Sqlite, &[("AUTH_RATE_LIMIT_MAX_REQUESTS", "2")]).await.unwrap();
    let mut visitor = Visitor::new(&app);
    for _ in 0..2 {
        visitor.sign_in("who@example.com", "wrong password", "/").await.expect_html(401);
    }
    let limited = visitor.sign_in("who@example.com", "wrong password", "/").await.expect_html(429);
    assert!(limited.headers.contains_key("retry-after"));
    assert!(limited.body.contains("Too many attempts"));
}

#[tokio::test]
async fn storefront_false_leaves_a_json_index() {
    let app = spawn_app(Backend::Sqlite, &[("STOREFRONT", "false")]).await.unwrap();
    let index = app.client.get(format!("{}/", app.base)).send().await.unwrap();
    assert_eq!(index.status(), 200);
    assert!(index.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: serde_json::Value = index.json().await.unwrap();
    assert_eq!(body["api"], "/api/v1");
    assert_eq!(body["openapi"], "/api/v1/openapi.json");
    for path in ["/search", "/signin", "/cart", "/sitemap.xml"] {
        let response = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
    }
}
