//! `kill -9` under checkout and payment load, ten times over: every order and payment the
//! server acknowledged is still there after a restart, stock and the ledger add up, and SQLite's
//! `integrity_check` passes (`synchronous=FULL`, one transaction per change).

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

const CYCLES: usize = 10;
const DEMO_PASSWORD: &str = "demo-password-123";

pub(crate) fn kalavpp(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kalavpp"));
    command
        .env_clear()
        .env("KALAVPP_DATA_DIR", data_dir)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RATE_LIMIT_MAX_REQUESTS", "0")
        .env("MAX_UNPAID_ORDERS", "0")
        .env("RUST_LOG", "error");
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start(data: &std::path::Path, client: &reqwest::Client) -> (Child, String) {
    start_with(data, client, &[]).await
}

pub(crate) async fn start_with(data: &std::path::Path, client: &reqwest::Client, env: &[(&str, &str)]) -> (Child, String) {
    let port = free_port();
    let child = kalavpp(data)
        .envs(env.iter().copied())
        .arg("serve")
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let base = format!("http://127.0.0.1:{port}");
    let mut child = child;
    for _ in 0..200 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return (child, base);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not come up on {base}");
}

/// What the server acknowledged: order id → whether its payment was acknowledged.
pub(crate) type Acknowledged = Arc<Mutex<HashMap<String, bool>>>;

pub(crate) async fn shop_until_killed(client: reqwest::Client, base: String, token: String, products: Vec<String>, acked: Acknowledged) {
    let api = format!("{base}/api/v1");
    for n in 0.. {
        let product = &products[n % products.len()];
        let Ok(added) = client
            .post(format!("{api}/cart/items"))
            .bearer_auth(&token)
            .json(&json!({"product_id": product, "quantity": 1}))
            .send()
            .await
        else {
            return;
        };
        if !added.status().is_success() {
            continue;
        }
        let address = json!({"name": "Crash Tester", "line1": "1 Disk Lane", "city": "Porto", "postal_code": "4000", "country": "PT"});
        let Ok(placed) = client
            .post(format!("{api}/checkout"))
            .bearer_auth(&token)
            .json(&json!({"shipping_address": address}))
            .send()
            .await
        else {
            return;
        };
        if placed.status().as_u16() != 201 {
            // Sold out: empty the cart and go on.
            let _ = client
                .delete(format!("{api}/cart/items/{product}"))
                .bearer_auth(&token)
                .send()
                .await;
            continue;
        }
        let Ok(body) = placed.json::<Value>().await else { return };
        let order = body["order"]["id"].as_str().unwrap_or_default().to_owned();
        let session = body["payment_session_id"].as_str().unwrap_or_default().to_owned();
        acked.lock().unwrap().insert(order.clone(), false);
        let Ok(paid) = client.post(format!("{base}/dev/checkout/{session}/pay")).send().await else {
            return;
        };
        if paid.status().is_success() {
            acked.lock().unwrap().insert(order, true);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_checkout_and_payment_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let seeded = kalavpp(&data).arg("seed-demo").output().unwrap();
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let acked: Acknowledged = Arc::default();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for cycle in 0..CYCLES {
        let (mut child, base) = start(&data, &client).await;
        let token = sign_in(&client, &base, "customer@demo.kalavpp.test", DEMO_PASSWORD).await;
        let listed = get_json(&client, format!("{base}/api/v1/products?per_page=100")).await;
        let products: Vec<String> = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect();
        assert!(!products.is_empty());
        let load = tokio::spawn(shop_until_killed(client.clone(), base, token, products, acked.clone()));
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        tokio::time::sleep(Duration::from_millis(300 + (seed >> 33) % 500)).await;
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        load.abort();
        let _ = load.await;
        eprintln!("cycle {cycle}: {} orders acknowledged so far", acked.lock().unwrap().len());
    }

    let acked = acked.lock().unwrap().clone();
    assert!(acked.values().filter(|paid| **paid).count() >= CYCLES, "the load ran: {acked:?}");
    let db = rusqlite::Connection::open(data.join("kalavpp.db")).unwrap();
    let integrity: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    for (order, paid) in &acked {
        let status: String = db
            .query_row("SELECT status FROM orders WHERE id = ?1", [order], |r| r.get(0))
            .unwrap_or_else(|e| panic!("acknowledged order {order} lost: {e}"));
        if *paid {
            assert!(
                matches!(status.as_str(), "paid" | "completed"),
                "acknowledged payment of {order} lost: {status}"
            );
        }
    }
    // Every paid order's lines are credited exactly once: net + commission = total.
    let unbalanced: i64 = db
        .query_row(
            "SELECT count(*) FROM orders o WHERE o.status IN ('paid', 'completed') AND o.total_cents <>
                 (SELECT coalesce(sum(amount_cents), 0) FROM ledger_entries l WHERE l.order_id = o.id AND l.kind IN ('sale_credit', 'commission'))",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unbalanced, 0, "paid orders whose ledger does not add up");
    let credited_unpaid: i64 = db
        .query_row(
            "SELECT count(*) FROM ledger_entries l JOIN orders o ON o.id = l.order_id WHERE o.status NOT IN ('paid', 'completed')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(credited_unpaid, 0, "ledger rows of unpaid orders");
    // Stock: what is left plus what is reserved or sold is what the artists listed (3 each).
    let drift: i64 = db
        .query_row(
            "SELECT count(*) FROM products p WHERE p.kind = 'physical' AND p.stock + (
                 SELECT coalesce(sum(i.quantity), 0) FROM order_items i JOIN orders o ON o.id = i.order_id
                 WHERE i.product_id = p.id AND o.status IN ('pending_payment', 'payment_failed', 'paid', 'completed')) <> 3",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(drift, 0, "physical stock does not add up");
}

/// A `GET` answered with JSON.
pub(crate) async fn get_json(client: &reqwest::Client, url: String) -> Value {
    client.get(url).send().await.unwrap().json::<Value>().await.unwrap()
}

/// Signs in through the API and returns the access token.
pub(crate) async fn sign_in(client: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    let login = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    login["access_token"].as_str().unwrap_or_else(|| panic!("{login}")).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_between_stripes_refund_and_the_ledger_finishes_the_refund_after_a_restart() {
    use std::io::Write;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    let stripe = crate::payment_support::FakeStripe::start().await;
    // Stripe takes the first refund but answers slowly: the server dies before the answer.
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(8))
                .set_body_json(json!({"id": "re_slow", "object": "refund", "amount": 0, "created": 1, "currency": "usd", "status": "succeeded", "metadata": {}})),
        )
        .with_priority(1)
        .up_to_n_times(1)
        .mount(&stripe.server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(kalavpp(&data).arg("seed-demo").output().unwrap().status.success());
    let mut admin = kalavpp(&data)
        .args(["create-admin", "--email", "root@kill.test", "--name", "Root", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(admin.stdin.take().unwrap(), "{DEMO_PASSWORD}").unwrap();
    assert!(admin.wait().unwrap().success());
    let uri = stripe.server.uri();
    let env = [
        ("STRIPE_SECRET_KEY", crate::payment_support::STRIPE_SECRET_KEY),
        ("STRIPE_WEBHOOK_SECRET", crate::payment_support::WEBHOOK_SECRET),
        ("STRIPE_API_BASE", uri.as_str()),
        ("PAYMENT_LEASE_MS", "1000"),
        ("PAYMENT_RETRY_BASE_MS", "1"),
    ];
    let client = reqwest::Client::builder().timeout(Duration::from_mins(1)).build().unwrap();
    let (mut server, base) = start_with(&data, &client, &env).await;

    // A customer buys a digital work and pays (a signed Stripe webhook).
    let customer = sign_in(&client, &base, "customer@demo.kalavpp.test", DEMO_PASSWORD).await;
    let listed = get_json(&client, format!("{base}/api/v1/products?kind=digital")).await;
    let work = listed["items"][0]["id"].as_str().unwrap().to_owned();
    let api = format!("{base}/api/v1");
    client
        .post(format!("{api}/cart/items"))
        .bearer_auth(&customer)
        .json(&json!({"product_id": work, "quantity": 1}))
        .send()
        .await
        .unwrap();
    let placed = client
        .post(format!("{api}/checkout"))
        .bearer_auth(&customer)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let order = placed["order"].clone();
    let order_id = order["id"].as_str().unwrap().to_owned();
    let payload = crate::payment_support::completed_event("evt_kill_paid", &order, "pi_kill");
    let paid = client
        .post(format!("{api}/payments/webhook"))
        .header("Content-Type", "application/json")
        .header("Stripe-Signature", crate::payment_support::sign(&payload))
        .body(payload)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(paid["outcome"], "applied", "{paid}");

    // The admin refunds; while Stripe is refunding, the server is killed.
    let admin = sign_in(&client, &base, "root@kill.test", DEMO_PASSWORD).await;
    let refund = tokio::spawn({
        let (client, url, admin) = (client.clone(), format!("{api}/admin/orders/{order_id}/refund"), admin.clone());
        async move { client.post(url).bearer_auth(admin).json(&json!({})).send().await }
    });
    for _ in 0..200 {
        if !stripe.requests("/v1/refunds").await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(stripe.requests("/v1/refunds").await.len(), 1, "Stripe was asked");
    server.kill().expect("SIGKILL");
    server.wait().unwrap();
    refund.abort();
    {
        let db = rusqlite::Connection::open(data.join("kalavpp.db")).unwrap();
        let status: String = db
            .query_row("SELECT status FROM orders WHERE id = ?1", [&order_id], |r| r.get(0))
            .unwrap();
        assert_eq!(status, "completed", "the ledger did not move before Stripe answered");
        let pending: i64 = db
            .query_row(
                "SELECT count(*) FROM payment_intents WHERE order_id = ?1 AND kind = 'refund' AND status = 'pending'",
                [&order_id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(pending, 1, "the refund is remembered");
    }

    // After the restart the reconciler repeats the call with the same key and applies it once.
    let (mut server, base) = start_with(&data, &client, &env).await;
    let mut status = String::new();
    for _ in 0..120 {
        let seen = client
            .get(format!("{base}/api/v1/admin/orders/{order_id}"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        status = seen["status"].as_str().unwrap_or_default().to_owned();
        if status == "refunded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(status, "refunded");
    let refunds = stripe.requests("/v1/refunds").await;
    assert_eq!(refunds.len(), 2);
    assert!(
        refunds
            .iter()
            .all(|r| crate::payment_support::header(r, "idempotency-key") == format!("refund-{order_id}"))
    );
    let db = rusqlite::Connection::open(data.join("kalavpp.db")).unwrap();
    let (credits, reversals): (i64, i64) = db
        .query_row(
            "SELECT coalesce(sum(CASE WHEN kind IN ('sale_credit', 'commission') THEN amount_cents END), 0),
                    coalesce(sum(CASE WHEN kind IN ('refund_reversal', 'commission_reversal') THEN amount_cents END), 0)
             FROM ledger_entries WHERE order_id = ?1",
            [&order_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (credits, reversals),
        (order["total_cents"].as_i64().unwrap(), -order["total_cents"].as_i64().unwrap()),
        "reversed exactly once"
    );
}

/// Resident memory of a process, in bytes (Linux).
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_distinct_anonymous_queries_leaves_rss_within_the_cache_budget() {
    const BUDGET: u64 = 4 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(kalavpp(&data).arg("seed-demo").output().unwrap().status.success());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let budget = BUDGET.to_string();
    let (mut server, base) = start_with(&data, &client, &[("CACHE_MAX_BYTES", budget.as_str())]).await;
    let pid = server.id();
    let sorts = ["newest", "price_asc", "price_desc", "rating", "popular"];
    let fetch = |n: usize| {
        let url = format!(
            "{base}/api/v1/products?per_page={}&sort={}&min_price={}&junk{n}={n}",
            1 + n % 100,
            sorts[n % 5],
            n / 500
        );
        let client = client.clone();
        async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
    };
    // Warm up the allocator and every code path, then measure the baseline.
    for n in 0..300 {
        assert_eq!(fetch(n).await.unwrap(), 200);
    }
    let baseline = rss_bytes(pid);
    for n in 300..4_000 {
        assert_eq!(fetch(n).await.unwrap(), 200);
    }
    let after = rss_bytes(pid);
    server.kill().unwrap();
    server.wait().unwrap();
    eprintln!("RSS: baseline {baseline} bytes, after {after} bytes, budget {BUDGET}");
    assert!(baseline > 0, "RSS readable");
    // Twice the budget leaves room for allocator slack; 3,700 distinct pages unbounded would be far more.
    assert!(
        after <= baseline + 2 * BUDGET + 8 * 1024 * 1024,
        "RSS grew from {baseline} to {after}"
    );
}
