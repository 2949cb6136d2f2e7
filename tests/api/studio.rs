//! The artist studio at `/studio`, page by page, through the storefront's cookie session: apply,
//! wait, be rejected and apply again, be approved; add, edit, publish and archive works with their
//! images and download files; see orders (own lines only, the address once paid), ship, see the
//! net in the earnings and request a payout. Every form refuses a missing CSRF token, customers
//! and other artists are kept out, and user text is escaped.

use serde_json::{Value, json};

use crate::catalog_support::{approved_shop, create_product, painting, png_rgb, text};
use crate::helpers::{PASSWORD, TestApp, on_both_backends};
use crate::payment_support::{Scene, add_to_cart, address, checkout, physical};
use crate::storefront::{Page, Visitor};
use crate::vendor_dashboard::pay;

on_both_backends!(
    customer_applies_waits_and_opens_the_studio,
    rejected_artists_see_why_and_apply_again_and_suspended_ones_are_told,
    artist_adds_edits_publishes_and_archives_a_work_with_images,
    digital_works_take_their_download_file_through_the_studio,
    artist_ships_sees_the_net_and_requests_a_payout,
    customers_and_other_artists_are_kept_out_and_text_is_escaped,
    demoted_artists_and_administrators_get_a_clear_page,
);

/// A visitor signed in to the storefront as `email` (registered with the tests' password).
async fn signed_in<'a>(app: &'a TestApp, email: &str) -> Visitor<'a> {
    let mut visitor = Visitor::new(app);
    visitor.sign_in(email, PASSWORD, "/studio").await.expect_redirect("/studio");
    visitor
}

/// The work id in a `/studio/works/{id}?done=...` redirect.
fn work_id(page: &Page) -> String {
    let location = page.location();
    location
        .strip_prefix("/studio/works/")
        .and_then(|rest| rest.split('?').next())
        .unwrap_or_else(|| panic!("not a work page: {location}"))
        .to_owned()
}

async fn product(app: &TestApp, token: &str, id: &str) -> Value {
    app.get(&format!("/products/{id}"), Some(token)).await.expect(200).body
}

fn image_ids(product: &Value) -> Vec<String> {
    product["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| text(i, "id"))
        .collect()
}

async fn customer_applies_waits_and_opens_the_studio(app: TestApp) {
    let admin = app.admin().await;
    let mut iris = Visitor::new(&app);
    iris.register("iris@example.com", "Iris").await.expect_redirect("/");

    let form = iris.get("/studio").await.expect_html(200);
    assert!(form.body.contains("Sell your work on KALAVPP"), "{}", form.body);
    assert!(form.body.contains(r#"action="/studio/apply""#));
    let csrf = form.csrf();
    // No shop yet: the rest of the studio is closed.
    let closed = iris.get("/studio/works").await.expect_html(403);
    assert!(closed.body.contains("nly approved artists"), "{}", closed.body);

    // Without the token nothing is stored; a bad name comes back beside its field, as typed.
    iris.post("/studio/apply", &[("shop_name", "Iris Prints")]).await.expect_html(403);
    let bad = iris
        .post("/studio/apply", &[("csrf", &csrf), ("shop_name", "I"), ("bio", "Linocuts.")])
        .await
        .expect_html(422);
    assert!(bad.body.contains(r#"id="shop_name-error""#), "{}", bad.body);
    assert!(bad.body.contains(">Linocuts.</textarea>"));
    let pending = app.get("/admin/vendors?status=pending", Some(&admin.access)).await.expect(200).body;
    assert_eq!(pending["total"], 0, "nothing was stored");

    iris.post(
        "/studio/apply",
        &[
            ("csrf", &csrf),
            ("shop_name", "Iris Prints"),
            ("bio", "Linocuts of the coast."),
            ("payout_details", "IBAN PT50 0002 0123 1234 5678 9015 4"),
        ],
    )
    .await
    .expect_redirect("/studio?done=applied");
    let waiting = iris.get("/studio?done=applied").await.expect_html(200);
    assert!(waiting.body.contains("Your application is being reviewed"), "{}", waiting.body);
    assert!(waiting.body.contains("Thank you — your application is in."));
    iris.get("/studio/works").await.expect_html(403);
    // A second application while one is pending is refused.
    iris.post("/studio/apply", &[("csrf", &csrf), ("shop_name", "Iris Again")])
        .await
        .expect_html(409);

    // The administrator approves it; the same session now opens the dashboard.
    let pending = app.get("/admin/vendors?status=pending", Some(&admin.access)).await.expect(200).body;
    assert_eq!(pending["total"], 1);
    let id = text(&pending["items"][0], "id");
    app.post(&format!("/admin/vendors/{id}/approve"), Some(&admin.access), json!({}))
        .await
        .expect(200);
    let dashboard = iris.get("/studio").await.expect_html(200);
    assert!(dashboard.body.contains(r#"aria-current="page">Dashboard"#), "{}", dashboard.body);
    assert!(dashboard.body.contains("<svg") && dashboard.body.contains("Sales per day, last 30 days: nothing from"));
    assert!(dashboard.body.contains("0.00 USD"));
    let shop = iris.get("/studio/shop").await.expect_html(200);
    assert!(
        shop.body.contains("IBAN PT50 0002 0123 1234 5678 9015 4"),
        "payout details kept as typed"
    );
    assert!(shop.body.contains("/artists/iris-prints"));

    // The shop profile is saved through the form.
    let csrf = shop.csrf();
    iris.post(
        "/studio/shop",
        &[
            ("csrf", &csrf),
            ("shop_name", "Iris Prints Studio"),
            ("bio", ""),
            ("payout_details", "IBAN PT50 1"),
        ],
    )
    .await
    .expect_redirect("/studio/shop?done=shop-saved");
    let saved = app.get("/vendors/iris-prints", None).await.expect(200).body;
    assert_eq!(saved["shop_name"], "Iris Prints Studio");
    assert!(saved["bio"].is_null(), "an empty description clears it: {saved}");
    let short = iris
        .post("/studio/shop", &[("csrf", &csrf), ("shop_name", "x")])
        .await
        .expect_html(422);
    assert!(short.body.contains(r#"id="shop_name-error""#));
}

async fn rejected_artists_see_why_and_apply_again_and_suspended_ones_are_told(app: TestApp) {
    let admin = app.admin().await;
    let mut jo = Visitor::new(&app);
    jo.register("jo@example.com", "Jo").await.expect_redirect("/");
    let csrf = jo.get("/studio").await.expect_html(200).csrf();
    jo.post("/studio/apply", &[("csrf", &csrf), ("shop_name", "Jo Copies")])
        .await
        .expect_redirect("/studio?done=applied");
    let pending = app.get("/admin/vendors?status=pending", Some(&admin.access)).await.expect(200).body;
    let id = text(&pending["items"][0], "id");
    app.post(
        &format!("/admin/vendors/{id}/reject"),
        Some(&admin.access),
        json!({"reason": "Please show <b>your own</b> work."}),
    )
    .await
    .expect(200);

    let again = jo.get("/studio").await.expect_html(200);
    assert!(
        again.body.contains("Apply again") && again.body.contains("was not accepted"),
        "{}",
        again.body
    );
    assert!(
        again.body.contains("Please show &#60;b&#62;your own&#60;/b&#62; work.")
            || again.body.contains("Please show &lt;b&gt;your own&lt;/b&gt; work."),
        "the reason is shown as text: {}",
        again.body
    );
    assert!(
        again.body.contains(r#"value="Jo Copies""#),
        "the form starts from the last application"
    );
    jo.post("/studio/apply", &[("csrf", &csrf), ("shop_name", "Jo Originals")])
        .await
        .expect_redirect("/studio?done=applied");
    assert!(jo.get("/studio").await.body.contains("being reviewed"));

    app.post(&format!("/admin/vendors/{id}/approve"), Some(&admin.access), json!({}))
        .await
        .expect(200);
    assert!(jo.get("/studio").await.body.contains("Dashboard"));
    app.post(&format!("/admin/vendors/{id}/suspend"), Some(&admin.access), json!({}))
        .await
        .expect(200);
    let suspended = jo.get("/studio").await.expect_html(200);
    assert!(suspended.body.contains("Your shop is suspended"), "{}", suspended.body);
    assert!(
        !suspended.body.contains(r#"href="/studio/works""#),
        "no studio tabs while suspended"
    );
    jo.get("/studio/works").await.expect_html(403);
    jo.get("/studio/payouts").await.expect_html(403);
}

async fn artist_adds_edits_publishes_and_archives_a_work_with_images(app: TestApp) {
    let admin = app.admin().await;
    let ana = approved_shop(&app, &admin, "ana@example.com", "Ana Oils").await;
    let token = ana.user.access.as_str();
    let mut studio = signed_in(&app, "ana@example.com").await;
    let mut stranger = Visitor::new(&app);

    let empty = studio.get("/studio/works").await.expect_html(200);
    assert!(empty.body.contains("Your shop has no works yet."), "{}", empty.body);
    let form = studio.get("/studio/works/new").await.expect_html(200);
    assert!(form.body.contains("\u{2014} Oil paintings</option>"), "{}", form.body);
    let csrf = form.csrf();
    let fields = |title: &'static str, price: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("title", title.to_owned()),
            ("description", "Oil on linen, 40 × 50 cm.".to_owned()),
            ("kind", "physical".to_owned()),
            ("price", price.to_owned()),
            ("stock", "1".to_owned()),
            ("category", "oil-paintings".to_owned()),
            ("tags", "oil, harbour".to_owned()),
        ]
    };
    let post = |fields: &Vec<(&'static str, String)>| fields.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();

    // A price that is not an amount and a missing title come back beside their fields.
    let body = post(&fields("Harbour", "12,5x"));
    let pairs: Vec<(&str, &str)> = body.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let bad = studio.post("/studio/works", &pairs).await.expect_html(422);
    assert!(
        bad.body.contains(r#"id="price-error""#) && bad.body.contains(r#"value="Harbour""#),
        "{}",
        bad.body
    );
    let body = post(&fields("", "120"));
    let pairs: Vec<(&str, &str)> = body.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let bad = studio.post("/studio/works", &pairs).await.expect_html(422);
    assert!(bad.body.contains(r#"id="title-error""#), "{}", bad.body);

    // Saved as a draft: the studio has it, the shop does not.
    let body = post(&fields("Harbour", "120.5"));
    let mut pairs: Vec<(&str, &str)> = body.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.push(("status", "draft"));
    let created = studio.post("/studio/works", &pairs).await;
    assert!(created.location().ends_with("?done=created"), "{}", created.location());
    let id = work_id(&created);
    let stored = product(&app, token, &id).await;
    assert_eq!(stored["status"], "draft");
    assert_eq!(stored["price_cents"], 12_050);
    assert_eq!(stored["tags"], json!(["oil", "harbour"]));
    let slug = text(&stored, "slug");
    assert_eq!(stranger.get(&format!("/products/{slug}")).await.status, 404);

    // Edit, then publish: now it is in the shop.
    let edit = studio.get(&format!("/studio/works/{id}?done=created")).await.expect_html(200);
    assert!(
        edit.body.contains("Your work was saved.") && edit.body.contains(r#"value="120.50""#),
        "{}",
        edit.body
    );
    studio
        .post(
            &format!("/studio/works/{id}"),
            &[
                ("csrf", &csrf),
                ("title", "Harbour at dawn"),
                ("description", "Oil on linen."),
                ("kind", "physical"),
                ("price", "450"),
                ("stock", "2"),
                ("category", "oil-paintings"),
                ("tags", "oil, sea"),
            ],
        )
        .await
        .expect_redirect(&format!("/studio/works/{id}?done=saved"));
    let stored = product(&app, token, &id).await;
    assert_eq!(
        (stored["title"].as_str(), stored["price_cents"].as_i64(), stored["stock"].as_i64()),
        (Some("Harbour at dawn"), Some(45_000), Some(2))
    );
    studio
        .post(&format!("/studio/works/{id}/status/publish"), &[("csrf", &csrf)])
        .await
        .expect_redirect(&format!("/studio/works/{id}?done=published"));
    assert_eq!(stranger.get(&format!("/products/{slug}")).await.status, 200);

    // Images: the token travels in the query string and is checked before the body is read.
    let upload_path = format!("/studio/works/{id}/images?csrf={csrf}");
    studio
        .upload(&format!("/studio/works/{id}/images"), "a.png", "image/png", png_rgb(64, 48))
        .await
        .expect_html(403);
    studio
        .upload(&format!("/studio/works/{id}/images?csrf=00"), "a.png", "image/png", png_rgb(64, 48))
        .await
        .expect_html(403);
    assert!(image_ids(&product(&app, token, &id).await).is_empty());
    let not_an_image = studio
        .upload(&upload_path, "fake.png", "image/png", b"<svg onload=alert(1)>".to_vec())
        .await
        .expect_html(415);
    assert!(not_an_image.body.contains("That didn"), "{}", not_an_image.body);
    for name in ["front.png", "detail.png"] {
        studio
            .upload(&upload_path, name, "image/png", png_rgb(80, 60))
            .await
            .expect_redirect(&format!("/studio/works/{id}?done=image-added"));
    }
    let images = image_ids(&product(&app, token, &id).await);
    assert_eq!(images.len(), 2);
    let page = studio.get(&format!("/studio/works/{id}")).await.expect_html(200);
    assert!(
        page.body.contains("Make cover") && page.body.contains("Image 2 of Harbour at dawn"),
        "{}",
        page.body
    );
    studio
        .post(
            &format!("/studio/works/{id}/images/{}/move", images[1]),
            &[("csrf", &csrf), ("to", "first")],
        )
        .await
        .expect_redirect(&format!("/studio/works/{id}?done=image-moved"));
    assert_eq!(
        image_ids(&product(&app, token, &id).await),
        vec![images[1].clone(), images[0].clone()]
    );
    studio
        .post(
            &format!("/studio/works/{id}/images/{}/move", images[1]),
            &[("csrf", &csrf), ("to", "sideways")],
        )
        .await
        .expect_html(422);
    studio
        .post(&format!("/studio/works/{id}/images/{}/delete", images[0]), &[("csrf", &csrf)])
        .await
        .expect_redirect(&format!("/studio/works/{id}?done=image-removed"));
    assert_eq!(image_ids(&product(&app, token, &id).await), vec![images[1].clone()]);
    studio
        .post(&format!("/studio/works/{id}/images/{}/delete", images[0]), &[("csrf", &csrf)])
        .await
        .expect_html(404);

    // Archive: gone from the shop, still in the studio's list with its status.
    studio
        .post(&format!("/studio/works/{id}/status/archive"), &[("csrf", &csrf)])
        .await
        .expect_redirect(&format!("/studio/works/{id}?done=archived"));
    assert_eq!(stranger.get(&format!("/products/{slug}")).await.status, 404);
    let list = studio.get("/studio/works").await.expect_html(200);
    assert!(
        list.body.contains("Harbour at dawn") && list.body.contains(">Archived</span>"),
        "{}",
        list.body
    );
    studio
        .post(&format!("/studio/works/{id}/status/restore"), &[("csrf", &csrf)])
        .await
        .expect_redirect(&format!("/studio/works/{id}?done=unpublished"));
    assert_eq!(product(&app, token, &id).await["status"], "draft");
    studio.get("/studio/works?page=0").await.expect_html(422);
}

async fn digital_works_take_their_download_file_through_the_studio(app: TestApp) {
    let admin = app.admin().await;
    let bo = approved_shop(&app, &admin, "bo@example.com", "Bo Pixels").await;
    let mut studio = signed_in(&app, "bo@example.com").await;
    let csrf = studio.get("/studio/works/new").await.expect_html(200).csrf();
    let created = studio
        .post(
            "/studio/works",
            &[
                ("csrf", &csrf),
                ("title", "Pixel Garden"),
                ("description", "A 6000 px scan."),
                ("kind", "digital"),
                ("price", "15"),
                ("stock", ""),
                ("category", "digital-art"),
                ("status", "published"),
            ],
        )
        .await;
    assert!(
        created.location().ends_with("?done=published"),
        "{} {}",
        created.location(),
        created.body
    );
    let id = work_id(&created);
    let page = studio.get(&format!("/studio/works/{id}")).await.expect_html(200);
    assert!(page.body.contains("No file yet"), "{}", page.body);
    assert!(page.body.contains(r#"enctype="multipart/form-data""#));
    studio
        .upload(&format!("/studio/works/{id}/file"), "garden.zip", "application/zip", vec![7; 4096])
        .await
        .expect_html(403);
    assert_eq!(product(&app, &bo.user.access, &id).await["has_asset"], false);
    studio
        .upload(
            &format!("/studio/works/{id}/file?csrf={csrf}"),
            "garden.zip",
            "application/zip",
            vec![7; 4096],
        )
        .await
        .expect_redirect(&format!("/studio/works/{id}?done=file-uploaded"));
    assert_eq!(product(&app, &bo.user.access, &id).await["has_asset"], true);
    let page = studio.get(&format!("/studio/works/{id}")).await.expect_html(200);
    assert!(page.body.contains("A file is uploaded"), "{}", page.body);
}

async fn artist_ships_sees_the_net_and_requests_a_payout(app: TestApp) {
    let Scene { admin, ana, bo, customer } = Scene::new(&app).await;
    let painting = physical(&app, &ana.user.access, "Harbour at Dusk", 42_000, 3).await;
    let other = physical(&app, &bo.user.access, "Secret piece by Bo", 10_000, 1).await;
    add_to_cart(&app, &customer.access, &text(&painting, "id"), 1).await;
    add_to_cart(&app, &customer.access, &text(&other, "id"), 1).await;
    let placed = checkout(&app, &customer.access, Some(address())).await;
    let mut studio = signed_in(&app, "ana@example.com").await;

    // Before payment: the order is listed, the buyer's address is not.
    let unpaid = studio.get("/studio/orders").await.expect_html(200);
    assert!(
        unpaid.body.contains("Awaiting payment") && unpaid.body.contains("Harbour at Dusk"),
        "{}",
        unpaid.body
    );
    assert!(!unpaid.body.contains("12 Harbour Road"), "no address before payment");
    assert!(!unpaid.body.contains("Secret piece by Bo"), "only the artist's own lines");

    pay(&app, &placed).await;
    let paid = studio.get("/studio/orders").await.expect_html(200);
    assert!(
        paid.body.contains("12 Harbour Road") && paid.body.contains("To ship"),
        "{}",
        paid.body
    );
    assert!(!paid.body.contains("Secret piece by Bo") && !paid.body.contains("520.00 USD"));
    assert!(paid.body.contains("378.00 USD"), "the net after 10 % commission: {}", paid.body);
    assert!(
        studio
            .get("/studio/orders?status=refunded")
            .await
            .body
            .contains("No orders with this status.")
    );
    studio.get("/studio/orders?status=bogus").await.expect_html(422);

    let action = paid
        .body
        .split(r#"action=""#)
        .map(|rest| rest.split('"').next().unwrap_or_default())
        .find(|a| a.ends_with("/ship"))
        .expect("a ship form")
        .to_owned();
    let csrf = paid.csrf();
    studio
        .post(&action, &[("carrier", "DHL"), ("tracking_number", "TRACK123")])
        .await
        .expect_html(403);
    studio
        .post(&action, &[("csrf", &csrf), ("carrier", "DHL"), ("tracking_number", "TRACK123")])
        .await
        .expect_redirect("/studio/orders?done=shipped");
    let shipped = studio.get("/studio/orders?done=shipped").await.expect_html(200);
    assert!(
        shipped.body.contains("DHL · TRACK123") && !shipped.body.contains("To ship"),
        "{}",
        shipped.body
    );
    studio
        .post(&action, &[("csrf", &csrf), ("carrier", "DHL"), ("tracking_number", "TRACK123")])
        .await
        .expect_html(409);

    // Shipped with no refund window: the net is available; the ledger shows the sale.
    let earnings = studio.get("/studio/earnings").await.expect_html(200);
    assert!(
        earnings.body.contains("378.00 USD") && earnings.body.contains(">Sale<"),
        "{}",
        earnings.body
    );
    let dashboard = studio.get("/studio").await.expect_html(200);
    assert!(
        dashboard.body.contains("420.00 USD") && dashboard.body.contains("Harbour at Dusk"),
        "{}",
        dashboard.body
    );

    let payouts = studio.get("/studio/payouts").await.expect_html(200);
    assert!(
        payouts.body.contains("Available now: <strong>378.00 USD</strong>"),
        "{}",
        payouts.body
    );
    let too_much = studio
        .post("/studio/payouts", &[("csrf", &csrf), ("amount", "1000")])
        .await
        .expect_html(409);
    assert!(too_much.body.contains("exceeds your available balance"), "{}", too_much.body);
    let bad = studio
        .post("/studio/payouts", &[("csrf", &csrf), ("amount", "lots")])
        .await
        .expect_html(422);
    assert!(bad.body.contains(r#"id="amount-error""#) && bad.body.contains(r#"value="lots""#));
    studio
        .post("/studio/payouts", &[("csrf", &csrf), ("amount", "100")])
        .await
        .expect_redirect("/studio/payouts?done=payout-requested");
    let listed = studio.get("/studio/payouts").await.expect_html(200);
    assert!(
        listed.body.contains("100.00 USD") && listed.body.contains(">Requested</span>"),
        "{}",
        listed.body
    );
    assert!(listed.body.contains("Available now: <strong>278.00 USD</strong>"));
    let requests = app
        .get("/admin/payouts?status=requested", Some(&admin.access))
        .await
        .expect(200)
        .body;
    assert_eq!(requests["total"], 1);
    assert_eq!(requests["items"][0]["amount_cents"], 10_000);
    assert_eq!(requests["items"][0]["vendor_id"], json!(ana.id));
}

async fn customers_and_other_artists_are_kept_out_and_text_is_escaped(app: TestApp) {
    let Scene { ana, .. } = Scene::new(&app).await;
    let draft = create_product(&app, &ana.user.access, painting("Private draft", 1_000)).await;
    let id = text(&draft, "id");

    // Anonymous visitors are sent to sign in, and come back.
    let mut anonymous = Visitor::new(&app);
    anonymous
        .get("/studio/works")
        .await
        .expect_redirect("/signin?next=%2Fstudio%2Fworks");

    // A customer without a shop.
    let mut cat = signed_in(&app, "cat@example.com").await;
    let csrf = cat.session_csrf().await;
    for path in [
        "/studio/works",
        "/studio/orders",
        "/studio/earnings",
        "/studio/payouts",
        "/studio/shop",
        "/studio/works/new",
    ] {
        cat.get(path).await.expect_html(403);
    }
    cat.post("/studio/payouts", &[("csrf", &csrf), ("amount", "10")])
        .await
        .expect_html(403);
    cat.get(&format!("/studio/works/{id}")).await.expect_html(403);

    // Another artist sees no such work and cannot change it.
    let mut bo = signed_in(&app, "bo@example.com").await;
    let bo_csrf = bo.session_csrf().await;
    bo.get(&format!("/studio/works/{id}")).await.expect_html(404);
    bo.post(&format!("/studio/works/{id}/status/publish"), &[("csrf", &bo_csrf)])
        .await
        .expect_html(404);
    bo.upload(
        &format!("/studio/works/{id}/images?csrf={bo_csrf}"),
        "a.png",
        "image/png",
        png_rgb(10, 10),
    )
    .await
    .expect_html(404);
    assert_eq!(product(&app, &ana.user.access, &id).await["status"], "draft");

    // The owner without a token changes nothing; with one, hostile text is shown as text.
    let mut studio = signed_in(&app, "ana@example.com").await;
    studio
        .post(&format!("/studio/works/{id}/status/publish"), &[("csrf", "forged")])
        .await
        .expect_html(403);
    assert_eq!(product(&app, &ana.user.access, &id).await["status"], "draft");
    let csrf = studio.session_csrf().await;
    studio
        .post(
            &format!("/studio/works/{id}"),
            &[
                ("csrf", &csrf),
                ("title", "<script>alert(1)</script>"),
                ("description", "\"><img src=x onerror=alert(2)>"),
                ("kind", "physical"),
                ("price", "10"),
                ("stock", "1"),
                ("category", "oil-paintings"),
            ],
        )
        .await
        .expect_redirect(&format!("/studio/works/{id}?done=saved"));
    for path in ["/studio/works".to_owned(), format!("/studio/works/{id}")] {
        let page = studio.get(&path).await.expect_html(200);
        assert!(
            !page.body.contains("<script>alert(1)") && !page.body.contains("<img src=x"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;") || page.body.contains("&#60;script&#62;"),
            "{}",
            page.body
        );
    }
    // A crafted note is not shown.
    let crafted = studio.get("/studio?done=You%20won%20a%20prize").await.expect_html(200);
    assert!(!crafted.body.contains("You won a prize"));
}

async fn demoted_artists_and_administrators_get_a_clear_page(app: TestApp) {
    let Scene { admin, ana, .. } = Scene::new(&app).await;
    let work = physical(&app, &ana.user.access, "Harbour at Dusk", 42_000, 1).await;
    let id = text(&work, "id");
    // Payout details stored as an object through the API survive a profile save from the studio.
    app.call(
        reqwest::Method::PATCH,
        "/vendor/me",
        Some(&ana.user.access),
        Some(json!({"payout_details": {"iban": "PT50 0002", "name": "Ana"}})),
    )
    .await
    .expect(200);
    let mut studio = signed_in(&app, "ana@example.com").await;
    let shop = studio.get("/studio/shop").await.expect_html(200);
    let csrf = shop.csrf();
    studio
        .post("/studio/shop", &[("csrf", &csrf), ("shop_name", "Ana Oils"), ("bio", "Seascapes.")])
        .await
        .expect_redirect("/studio/shop?done=shop-saved");
    let me = app.get("/vendor/me", Some(&ana.user.access)).await.expect(200).body;
    assert_eq!(me["payout_details"], json!({"iban": "PT50 0002", "name": "Ana"}), "{me}");
    // A comma before the cents is refused rather than read as thousands.
    let comma = studio
        .post(&format!("/studio/works/{id}"), &[("csrf", &csrf), ("price", "12,50")])
        .await
        .expect_html(422);
    assert!(comma.body.contains(r#"id="price-error""#), "{}", comma.body);
    assert_eq!(product(&app, &ana.user.access, &id).await["price_cents"], 42_000);
    // A physical work has no download file: refused before the body is read.
    studio
        .upload(
            &format!("/studio/works/{id}/file?csrf={csrf}"),
            "a.zip",
            "application/zip",
            vec![1; 64],
        )
        .await
        .expect_html(409);

    // Demoted to customer: the shop record stays, the studio closes in the same session.
    app.patch(
        &format!("/admin/users/{}", ana.user.id),
        Some(&admin.access),
        json!({"role": "customer"}),
    )
    .await
    .expect(200);
    let closed = studio.get("/studio").await.expect_html(200);
    assert!(closed.body.contains("Your account no longer sells"), "{}", closed.body);
    studio.get(&format!("/studio/works/{id}")).await.expect_html(403);
    studio
        .post(
            "/studio/shop",
            &[("csrf", &csrf), ("shop_name", "Ana Oils"), ("payout_details", "mine now")],
        )
        .await
        .expect_html(403);
    studio
        .post(&format!("/studio/works/{id}/status/archive"), &[("csrf", &csrf)])
        .await
        .expect_html(403);
    assert_eq!(product(&app, &admin.access, &id).await["status"], "published");

    // An administrator signed in to the shop is pointed to the panel.
    let root = "root-studio@kalavpp.test";
    app.market
        .accounts()
        .create_admin(&kalavpp_core::auth::Actor::System, root, PASSWORD, "Root")
        .await
        .expect("an admin");
    let mut admin_visitor = signed_in(&app, root).await;
    let page = admin_visitor.get("/studio").await.expect_html(200);
    assert!(
        page.body.contains("The studio is for artists") && page.body.contains(r#"href="/admin""#),
        "{}",
        page.body
    );
    admin_visitor.get("/studio/works").await.expect_html(403);
}
