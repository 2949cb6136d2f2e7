//! The customer flow of the demo shop in a real headless Chromium, driven through chromedriver
//! with fantoccini: register, sign out and in, browse, search, open a work, add to cart, check out
//! through the development payment page, see the confirmation, download the digital work, review
//! it and see the review. axe-core runs on every page visited and every step leaves a screenshot
//! under `target/storefront-e2e/` (see [`crate::browser_support`]).

use fantoccini::Locator;

use crate::browser_support::{Browser, backend_name, browser_available};
use crate::helpers::{TestApp, on_both_backends};

on_both_backends!(customer_flow_in_chromium);

async fn customer_flow_in_chromium(app: TestApp) {
    if !browser_available() {
        return;
    }
    kalavpp_server::demo::seed(&app.market, 1024 * 1024)
        .await
        .expect("seed the demo shop");
    let mut browser = Browser::start("storefront-e2e", backend_name(&app)).await;
    let base = app.base.clone();

    browser.goto(&format!("{base}/")).await;
    assert!(browser.text().await.contains("Harbour at dawn"));
    browser.check("home").await;

    // Register, sign out, sign in again.
    browser.click_link("Sign in").await;
    browser.check("sign-in").await;
    browser.click_link("Create an account").await;
    browser.fill("#name", "Robin Buyer").await;
    browser.fill("#email", "robin@example.com").await;
    browser.fill("#password", "a long enough password").await;
    browser.check("register").await;
    browser.submit("form.stack button[type=submit]").await;
    assert_eq!(browser.path().await, "/");
    assert!(browser.text().await.contains("Robin Buyer"));
    browser.submit("form[action='/signout'] button").await;
    assert_eq!(browser.path().await, "/signin?done=signed-out");
    browser.fill("#email", "robin@example.com").await;
    browser.fill("#password", "a long enough password").await;
    browser.submit("form.stack button[type=submit]").await;
    assert_eq!(browser.path().await, "/");

    // Browse with a filter, then search.
    browser.click_link("Browse").await;
    assert!(browser.text().await.contains("8 works"));
    browser.check("browse").await;
    browser.click("#kind-digital").await;
    browser.submit(".filters button[type=submit]").await;
    assert!(browser.text().await.contains("3 works"), "{}", browser.text().await);
    browser.fill("#site-q", "harbour").await;
    browser.submit("form.search button").await;
    let found = browser.text().await;
    assert!(
        found.contains("Harbour at dawn") && found.contains("Harbour study") && !found.contains("Celadon vase"),
        "{found}"
    );
    browser.check("search").await;

    // A painting and a digital scan into the cart.
    browser.click_link("Harbour at dawn").await;
    assert!(browser.path().await.starts_with("/products/harbour-at-dawn"));
    browser.check("product").await;
    browser.submit("form.buy button").await;
    assert!(browser.text().await.contains("Added to your cart."));
    browser.fill("#site-q", "harbour study").await;
    browser.submit("form.search button").await;
    browser.click_link("Harbour study (high-resolution scan)").await;
    browser.submit("form.buy button").await;
    browser.click_link("View cart").await;
    assert!(browser.text().await.contains("495.00 USD"), "{}", browser.text().await);
    browser.check("cart").await;

    // Checkout with an address, the development payment page, back to the confirmation.
    browser.click_link("Check out").await;
    for (field, value) in [
        ("#ship-name", "Robin Buyer"),
        ("#ship-line1", "7 Rua das Flores"),
        ("#ship-city", "Lisbon"),
        ("#ship-postal_code", "1200-195"),
        ("#ship-country", "Portugal"),
    ] {
        browser.fill(field, value).await;
    }
    browser.check("checkout").await;
    browser.submit("form.stack button[type=submit]").await;
    assert!(browser.path().await.starts_with("/dev/checkout/"));
    browser.check("payment-page").await;
    browser.submit("button.pay").await;
    browser.check("paid").await;
    browser.click_link("Return to the shop").await;
    let confirmation = browser.text().await;
    assert!(confirmation.contains("Your payment went through"), "{confirmation}");
    assert!(confirmation.contains("Being prepared") && confirmation.contains("Ready to download"));
    browser.check("confirmation").await;

    // The download link serves the file.
    let href = browser
        .client
        .find(Locator::Css("a.download"))
        .await
        .expect("a download link")
        .attr("href")
        .await
        .expect("href")
        .expect("an href");
    let file = reqwest::get(if href.starts_with("http") {
        href.clone()
    } else {
        format!("{base}{href}")
    })
    .await
    .expect("download");
    assert_eq!(file.status(), 200);
    assert!(file.text().await.unwrap().contains("A demo download from Aria Oils"));
    browser.goto(&format!("{base}/orders")).await;
    browser.check("orders").await;

    // A review of the scan, then it shows on the product page.
    browser.goto(&format!("{base}/products/harbour-study-high-resolution-scan")).await;
    browser.click("#rating-4").await;
    browser.fill("#review-title", "Beautiful scan").await;
    browser
        .fill("#review-body", "Every brush stroke is visible. <b>Recommended</b>.")
        .await;
    browser.check("review-form").await;
    browser.submit(".review-form button[type=submit]").await;
    let reviewed = browser.text().await;
    assert!(reviewed.contains("Thank you — your review is published."), "{reviewed}");
    assert!(
        reviewed.contains("Every brush stroke is visible. <b>Recommended</b>."),
        "shown as text: {reviewed}"
    );
    browser.check("reviewed").await;

    // The artist page and a friendly 404, then the phone layout.
    browser.click_link("Aria Oils").await;
    browser.check("artist").await;
    browser.goto(&format!("{base}/no-such-page")).await;
    browser.check("not-found").await;
    browser.client.set_window_size(390, 844).await.expect("phone size");
    browser.goto(&format!("{base}/")).await;
    browser.check("phone-home").await;
    browser.goto(&format!("{base}/products/harbour-at-dawn")).await;
    browser.check("phone-product").await;
    browser.client.close().await.expect("close the session");
}
