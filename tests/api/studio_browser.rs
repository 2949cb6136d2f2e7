//! The seed's vendor flow in a real headless Chromium: register → apply in the studio → the
//! administrator approves in the panel → studio dashboard → add a work with an image and publish
//! it → a customer buys it on the storefront → the order appears in the studio → ship it → the
//! earnings show the net → request a payout. axe-core runs on every page visited and every step
//! leaves a screenshot under `target/studio-e2e/<backend>/` (see [`crate::browser_support`]).

use kalavpp_core::auth::Actor;

use crate::browser_support::{Browser, backend_name, browser_available};
use crate::catalog_support::png_rgb;
use crate::helpers::{PASSWORD, TestApp, on_both_backends};

on_both_backends!(vendor_flow_in_chromium);

const ADMIN_EMAIL: &str = "root@kalavpp.test";

async fn sign_in_to_the_shop(browser: &Browser, base: &str, email: &str, password: &str) {
    browser.goto(&format!("{base}/signin")).await;
    browser.fill("#email", email).await;
    browser.fill("#password", password).await;
    browser.submit("form.stack button[type=submit]").await;
}

async fn sign_out_of_the_shop(browser: &Browser) {
    browser.submit("form[action='/signout'] button").await;
}

async fn vendor_flow_in_chromium(app: TestApp) {
    if !browser_available() {
        return;
    }
    app.market
        .accounts()
        .create_admin(&Actor::System, ADMIN_EMAIL, PASSWORD, "Rosa Admin")
        .await
        .expect("an admin");
    let mut browser = Browser::start("studio-e2e", backend_name(&app)).await;
    let base = app.base.clone();
    let image = tempfile::Builder::new().suffix(".png").tempfile().expect("image file");
    std::fs::write(image.path(), png_rgb(900, 700)).expect("write the image");

    // Register and apply in the studio.
    browser.goto(&format!("{base}/register")).await;
    browser.fill("#name", "Mara Lind").await;
    browser.fill("#email", "mara@example.com").await;
    browser.fill("#password", "a long enough password").await;
    browser.submit("form.stack button[type=submit]").await;
    browser.click_link("Studio").await;
    assert!(browser.text().await.contains("Sell your work on KALAVPP"));
    browser.check("apply").await;
    browser.fill("#shop_name", "Mara Lind Studio").await;
    browser.fill("#bio", "Large seascapes in oil, painted on the northern coast.").await;
    browser.fill("#payout_details", "IBAN SE45 5000 0000 0583 9825 7466").await;
    browser.submit("form.studio-form button[type=submit]").await;
    assert!(browser.text().await.contains("Your application is being reviewed"));
    browser.check("pending").await;

    // The administrator approves the application in the panel (its own session cookie).
    browser.goto(&format!("{base}/admin/login")).await;
    browser.fill("input[name=email]", ADMIN_EMAIL).await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser.submit("form button[type=submit]").await;
    browser.goto(&format!("{base}/admin/vendors?status=pending")).await;
    assert!(browser.text().await.contains("Mara Lind Studio"));
    browser.check("panel-pending-vendors").await;
    browser.submit("form[action$='/approve'] button").await;
    assert!(browser.text().await.contains("vendor approved"), "{}", browser.text().await);

    // The studio dashboard opens in the artist's session.
    browser.goto(&format!("{base}/studio")).await;
    let dashboard = browser.text().await;
    assert!(
        dashboard.contains("Dashboard") && dashboard.contains("Sales, last 30 days"),
        "{dashboard}"
    );
    browser.check("dashboard").await;

    // Add a work, give it an image, publish it.
    browser.click_link("Add a work").await;
    browser.fill("#title", "North Sea, October").await;
    browser.fill("#description", "Oil on linen, 80 × 60 cm, signed on the back.").await;
    browser.fill("#price", "640").await;
    browser.fill("#stock", "1").await;
    browser
        .client
        .find(fantoccini::Locator::Css("#category option[value]:not([value=''])"))
        .await
        .expect("a category")
        .click()
        .await
        .expect("choose a category");
    browser.fill("#tags", "oil, sea, storm").await;
    browser.check("new-work").await;
    browser.submit("button[name=status][value=draft]").await;
    assert!(browser.text().await.contains("Your work was saved."));
    let file_input = browser
        .client
        .find(fantoccini::Locator::Css("#image-file"))
        .await
        .expect("the image field");
    file_input
        .send_keys(&image.path().display().to_string())
        .await
        .expect("choose the image");
    browser.submit("form.upload button[type=submit]").await;
    assert!(browser.text().await.contains("The image was added."), "{}", browser.text().await);
    browser.submit(".status-actions form[action$='/publish'] button").await;
    assert!(browser.text().await.contains("Published — the work is now in the shop."));
    browser.check("work-published").await;
    browser.click_link("Works").await;
    browser.check("works").await;
    sign_out_of_the_shop(&browser).await;

    // A customer finds it in the shop and buys it.
    browser.goto(&format!("{base}/register")).await;
    browser.fill("#name", "Noor Buyer").await;
    browser.fill("#email", "noor@example.com").await;
    browser.fill("#password", "another long password").await;
    browser.submit("form.stack button[type=submit]").await;
    browser.fill("#site-q", "north sea").await;
    browser.submit("form.search button").await;
    browser.click_link("North Sea, October").await;
    browser.check("product").await;
    browser.submit("form.buy button").await;
    browser.click_link("View cart").await;
    browser.click_link("Check out").await;
    for (field, value) in [
        ("#ship-name", "Noor Buyer"),
        ("#ship-line1", "Keizersgracht 12"),
        ("#ship-city", "Amsterdam"),
        ("#ship-postal_code", "1015 CS"),
        ("#ship-country", "Netherlands"),
    ] {
        browser.fill(field, value).await;
    }
    browser.submit("form.stack button[type=submit]").await;
    browser.submit("button.pay").await;
    browser.click_link("Return to the shop").await;
    assert!(browser.text().await.contains("Your payment went through"));
    sign_out_of_the_shop(&browser).await;

    // Back in the studio: the order, with the address, ready to ship.
    sign_in_to_the_shop(&browser, &base, "mara@example.com", "a long enough password").await;
    browser.goto(&format!("{base}/studio/orders")).await;
    let orders = browser.text().await;
    assert!(
        orders.contains("North Sea, October") && orders.contains("Keizersgracht 12") && orders.contains("To ship"),
        "{orders}"
    );
    assert!(orders.contains("576.00 USD"), "the net after 10 % commission: {orders}");
    browser.check("orders").await;
    browser.fill("form.ship input[name=carrier]", "PostNL").await;
    browser.fill("form.ship input[name=tracking_number]", "3SABCD1234567").await;
    browser.submit("form.ship button[type=submit]").await;
    let shipped = browser.text().await;
    assert!(
        shipped.contains("Marked as shipped") && shipped.contains("PostNL · 3SABCD1234567"),
        "{shipped}"
    );
    browser.check("shipped").await;

    // Earnings show the net; request part of it as a payout.
    browser.click_link("Earnings").await;
    let earnings = browser.text().await;
    assert!(earnings.contains("576.00 USD") && earnings.contains("Sale"), "{earnings}");
    browser.check("earnings").await;
    browser.click_link("Payouts").await;
    browser.fill("#amount", "500").await;
    browser.check("payouts").await;
    browser.submit("form.studio-form button[type=submit]").await;
    let payouts = browser.text().await;
    assert!(
        payouts.contains("Your payout request was sent") && payouts.contains("500.00 USD") && payouts.contains("76.00 USD"),
        "{payouts}"
    );
    browser.check("payout-requested").await;
    browser.click_link("Dashboard").await;
    assert!(browser.text().await.contains("640.00 USD"));
    browser.check("dashboard-after-sale").await;
    browser.client.set_window_size(390, 844).await.expect("phone size");
    browser.goto(&format!("{base}/studio/orders")).await;
    browser.check("phone-orders").await;
    browser.client.close().await.expect("close the session");
}
