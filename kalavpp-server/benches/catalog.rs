//! Catalog read benchmark over HTTP: seeds published products, starts the real server on its own
//! runtime, and drives it from 64 keep-alive connections on another runtime, printing req/s and
//! p50 / p99 latency for the list page, the product detail and uncached full-text search.
//!
//! Run: `cargo bench -p kalavpp-server --bench catalog` (add `-- --quick` for a short run, and
//! `--search-only` to skip the runs before the search section, `--no-search` to stop before it,
//! `--process-only` for the release binary's own-process runs alone (cold start, RSS, login flood),
//! `--router-only` for the request path in process (router called in a loop, no sockets),
//! `--request-path-only` for the HTTP request-path runs alone (threads are named `server`, `bare`
//! and `load`, for `perf report --sort comm`);
//! `KALAVPP_BENCH_DATABASE_URL=postgres://...` to run it on PostgreSQL).

#[path = "support/ceilings.rs"]
mod ceilings;
#[path = "support/in_process.rs"]
mod in_process;
#[path = "support/process.rs"]
mod process;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kalavpp_core::auth::Actor;
use kalavpp_core::domain::{Money, ProductId, ProductKind, ProductStatus, now};
use kalavpp_core::services::{Registration, VendorApplication};
use kalavpp_core::storage::NewProduct;
use kalavpp_core::{HashCost, Marketplace};
use kalavpp_server::Application;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const CONNECTIONS: usize = 64;
const WORDS: &[&str] = &[
    "sunset",
    "harbour",
    "forest",
    "portrait",
    "abstract",
    "river",
    "mountain",
    "ocean",
    "garden",
    "city",
    "winter",
    "summer",
    "bird",
    "flower",
    "night",
    "morning",
    "storm",
    "desert",
    "lake",
    "village",
    "bridge",
    "horse",
    "cat",
    "dancer",
    "violin",
    "lantern",
    "market",
    "island",
    "meadow",
    "glacier",
    "canyon",
    "orchard",
    "cathedral",
    "lighthouse",
    "vineyard",
    "waterfall",
    "meteor",
    "comet",
    "aurora",
    "tulip",
    "poppy",
    "heron",
    "falcon",
    "willow",
    "cedar",
    "maple",
    "amber",
    "cobalt",
    "crimson",
    "ochre",
];

/// A tiny deterministic generator (no dependency needed for picking words).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[(self.next() as usize) % words.len()]
    }
}

async fn seed(market: &Marketplace, vendors: usize, products: usize, rng: &mut Lcg) -> Vec<String> {
    let admin = Actor::System;
    let mut vendor_ids = Vec::new();
    for v in 0..vendors {
        let session = market
            .accounts()
            .register(Registration {
                email: format!("artist{v}@bench.test"),
                password: "bench password".into(),
                name: format!("Artist {v}"),
            })
            .await
            .expect("register");
        let actor = market.accounts().authenticate(&session.tokens.access_token).await.expect("auth");
        let vendor = market
            .vendors()
            .apply(
                &actor,
                VendorApplication {
                    shop_name: format!("Studio {v}"),
                    ..Default::default()
                },
            )
            .await
            .expect("apply");
        market.vendors().approve(&admin, vendor.id).await.expect("approve");
        vendor_ids.push(vendor.id);
    }
    let categories = market.catalog().categories().await.expect("categories");
    let mut slugs = Vec::with_capacity(products);
    let store = market.store().clone();
    for i in 0..products {
        let (a, b, c) = (rng.pick(WORDS), rng.pick(WORDS), rng.pick(WORDS));
        let slug = format!("{a}-{b}-{i}");
        let kind = if i % 3 == 0 { ProductKind::Digital } else { ProductKind::Physical };
        store
            .insert_product(NewProduct {
                id: ProductId::new(),
                vendor_id: vendor_ids[i % vendor_ids.len()],
                category_id: categories[i % categories.len()].id,
                slug: slug.clone(),
                title: format!("{a} {b} no. {i}"),
                description: format!("An original work about the {c} and the {a}, painted slowly over many evenings."),
                kind,
                price: Money(1_000 + (rng.next() % 500_000) as i64),
                stock: (kind == ProductKind::Physical).then_some(1),
                status: ProductStatus::Published,
                tags: vec![c.to_owned(), "original".to_owned()],
                at: now(),
            })
            .await
            .expect("insert product");
        slugs.push(slug);
    }
    market.catalog_cache().invalidate();
    slugs
}

/// One keep-alive HTTP/1.1 connection that sends GETs and reads whole responses.
struct Connection {
    reader: BufReader<TcpStream>,
    host: String,
}

impl Connection {
    async fn open(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
        stream.set_nodelay(true).ok();
        Self {
            reader: BufReader::new(stream),
            host: format!("127.0.0.1:{port}"),
        }
    }

    async fn get(&mut self, path: &str) -> u16 {
        let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\n\r\n", self.host);
        self.send(request).await
    }

    async fn post(&mut self, path: &str, token: &str, body: &str) -> u16 {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.send(request).await
    }

    async fn post_anonymous(&mut self, path: &str, body: &str) -> u16 {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.send(request).await
    }

    async fn send(&mut self, request: String) -> u16 {
        self.reader.get_mut().write_all(request.as_bytes()).await.expect("write");
        let mut line = String::new();
        self.reader.read_line(&mut line).await.expect("status line");
        let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).await.expect("header");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body).await.expect("body");
        status
    }
}

struct Outcome {
    requests: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
    errors: u64,
}

async fn run(port: u16, connections: usize, duration: Duration, make_path: Arc<dyn Fn(&mut Lcg) -> String + Send + Sync>) -> Outcome {
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let make_path = make_path.clone();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Lcg(c as u64 * 7919 + 17);
            let mut connection = Connection::open(port).await;
            let mut latencies = Vec::new();
            while start.elapsed() < duration {
                let path = make_path(&mut rng);
                let sent = Instant::now();
                if connection.get(&path).await != 200 {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("load task"));
    }
    summarize(all, start.elapsed(), errors.load(Ordering::Relaxed))
}

/// 64 signed-in customers, each looping: add a digital work to the cart, check out (dev provider).
async fn checkout_run(port: u16, duration: Duration, tokens: Arc<Vec<String>>, products: Arc<Vec<String>>) -> Outcome {
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (c, token) in tokens.iter().cloned().enumerate() {
        let errors = errors.clone();
        let products = products.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Lcg(c as u64 * 31 + 5);
            let mut connection = Connection::open(port).await;
            let mut latencies = Vec::new();
            while start.elapsed() < duration {
                let product = &products[(rng.next() as usize) % products.len()];
                let sent = Instant::now();
                let added = connection
                    .post(
                        "/api/v1/cart/items",
                        &token,
                        &format!("{{\"product_id\":\"{product}\",\"quantity\":1}}"),
                    )
                    .await;
                let placed = connection.post("/api/v1/checkout", &token, "{}").await;
                if added != 200 || placed != 201 {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("checkout task"));
    }
    summarize(all, start.elapsed(), errors.load(Ordering::Relaxed))
}

/// Sorts the latencies and reads the percentiles.
fn summarize(mut all: Vec<Duration>, elapsed: Duration, errors: u64) -> Outcome {
    all.sort();
    let at = |q: f64| all.get(((all.len() as f64 - 1.0) * q) as usize).copied().unwrap_or_default();
    Outcome {
        requests: all.len(),
        elapsed,
        p50: at(0.50),
        p99: at(0.99),
        errors,
    }
}

fn report(name: &str, outcome: &Outcome, target: &str) {
    println!(
        "{name:<34} {:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} requests, {} errors)   target: {target}",
        outcome.requests as f64 / outcome.elapsed.as_secs_f64(),
        outcome.p50.as_secs_f64() * 1000.0,
        outcome.p99.as_secs_f64() * 1000.0,
        outcome.requests,
        outcome.errors
    );
}

/// Prints `outcome` beside the `ceiling` measured in the same run, and their ratio.
fn report_ratio(name: &str, outcome: &Outcome, ceiling_name: &str, ceiling: &Outcome, target: &str) {
    let rate = |o: &Outcome| o.requests as f64 / o.elapsed.as_secs_f64();
    println!(
        "{name:<34} {:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} errors)   ceiling {ceiling_name}: {:>9.0} req/s, p99 {:>6.2} ms   ratio {:.2}   target: {target}",
        rate(outcome),
        outcome.p50.as_secs_f64() * 1000.0,
        outcome.p99.as_secs_f64() * 1000.0,
        outcome.errors,
        rate(ceiling),
        ceiling.p99.as_secs_f64() * 1000.0,
        rate(outcome) / rate(ceiling).max(f64::MIN_POSITIVE),
    );
}

/// The request path against its ceilings: `/healthz` against a bare `ok`, and the cached list and
/// detail against a bare axum handler serving a copy of the very same bytes.
fn request_path(
    load_runtime: &tokio::runtime::Runtime,
    port: u16,
    bare: (u16, &ceilings::Mirror),
    duration: Duration,
    slugs: &Arc<Vec<String>>,
) {
    let (bare_port, mirror) = bare;
    println!("request path, {CONNECTIONS} connections, each beside its ceiling from this run:");
    let health = load_runtime.block_on(run(port, CONNECTIONS, duration, Arc::new(|_| "/healthz".to_owned())));
    let ok = load_runtime.block_on(run(bare_port, CONNECTIONS, duration, Arc::new(|_| "/ok".to_owned())));
    report_ratio("  GET /healthz", &health, "bare ok", &ok, ">= 0.8");
    let detail_path = format!("/api/v1/products/{}", slugs[0]);
    for (name, path) in [
        ("  GET /products (cached)", "/api/v1/products?per_page=20".to_owned()),
        ("  GET /products/{slug} (cached)", detail_path),
    ] {
        let (content_type, body) = load_runtime.block_on(ceilings::fetch(port, &path));
        mirror.set(content_type, body.clone());
        let ours = load_runtime.block_on(run(port, CONNECTIONS, duration, Arc::new(move |_| path.clone())));
        let same_bytes = load_runtime.block_on(run(bare_port, CONNECTIONS, duration, Arc::new(|_| "/bytes".to_owned())));
        let label = format!("bare axum, same {} bytes", body.len());
        report_ratio(name, &ours, &label, &same_bytes, ">= 0.7, p99 <= 5 ms");
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let duration = Duration::from_secs(if quick { 3 } else { 10 });
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url =
        std::env::var("KALAVPP_BENCH_DATABASE_URL").unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let vars: std::collections::HashMap<String, String> = [
        ("KALAVPP_DATA_DIR", dir.path().to_str().expect("utf-8 path")),
        ("DATABASE_URL", database_url.as_str()),
        ("PORT", "0"),
        ("JWT_SECRET", "bench-access-secret-0123456789-abcdefghijklmnop"),
        ("JWT_REFRESH_SECRET", "bench-refresh-secret-0123456789-abcdefghijklmn"),
        ("RATE_LIMIT_MAX_REQUESTS", "0"),
        ("AUTH_RATE_LIMIT_MAX_REQUESTS", "0"),
        ("MAX_UNPAID_ORDERS", "0"),
        ("RUST_LOG", "warn"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let load_settings = |vars: &std::collections::HashMap<String, String>| {
        let mut settings = kalavpp_server::settings::load(vars, false).expect("settings");
        settings.core.hash_cost = HashCost::TestsOnly;
        settings
    };
    let settings = load_settings(&vars);

    // The server gets its own runtime (2 worker threads), like the real binary on this machine.
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("server")
        .enable_all()
        .build()
        .expect("runtime");
    let app = server_runtime.block_on(Application::build(settings)).expect("build app");
    let port = app.port();
    let market = app.marketplace().clone();
    server_runtime.spawn(app.run_until_stopped());

    let load_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("load")
        .enable_all()
        .build()
        .expect("runtime");
    let mut rng = Lcg(42);
    let seeded = Instant::now();
    let slugs = Arc::new(server_runtime.block_on(seed(&market, 20, 10_000, &mut rng)));
    println!(
        "seeded 10,000 published products in {:.1} s ({})",
        seeded.elapsed().as_secs_f64(),
        market.store().backend_name()
    );

    // The bare server gets a runtime of the same shape as the real one.
    let bare_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bare")
        .enable_all()
        .build()
        .expect("runtime");
    let (bare_port, mirror) = ceilings::start_bare_server(&bare_runtime);

    let search_only = std::env::args().any(|a| a == "--search-only");
    if std::env::args().any(|a| a == "--router-only") {
        // The general rate limit on, as in production (one client address, never reached).
        let mut vars = vars.clone();
        vars.insert("RATE_LIMIT_MAX_REQUESTS".into(), "1000000000".into());
        let ours = kalavpp_server::Mountable::new(load_settings(&vars), market.clone()).expect("router");
        let detail = format!("/api/v1/products/{}", slugs[0]);
        let mut pairs = vec![("GET /healthz".to_owned(), "/healthz".to_owned(), "/ok".to_owned())];
        for (name, path) in [
            ("GET /products (cached)", "/api/v1/products?per_page=20".to_owned()),
            ("GET /products/{slug} (cached)", detail),
        ] {
            pairs.push((name.to_owned(), path, "/bytes".to_owned()));
        }
        println!("request path in process, each beside the bare router:");
        for (name, path, bare_path) in pairs {
            if bare_path == "/bytes" {
                let (content_type, body) = load_runtime.block_on(ceilings::fetch(port, &path));
                mirror.set(content_type, body);
            }
            in_process::compare(&ours.service(), &ceilings::bare_router(&mirror), &name, &path, &bare_path, quick);
        }
        return;
    }
    if std::env::args().any(|a| a == "--process-only") {
        own_process(&load_runtime, &database_url, dir.path(), duration, &slugs);
        return;
    }
    if std::env::args().any(|a| a == "--request-path-only") {
        request_path(&load_runtime, port, (bare_port, &mirror), duration, &slugs);
        return;
    }
    if !search_only {
        request_path(&load_runtime, port, (bare_port, &mirror), duration, &slugs);
        before_search(&market, &load_runtime, &server_runtime, port, duration, &slugs, dir.path());
        own_process(&load_runtime, &database_url, dir.path(), duration, &slugs);
    }

    if std::env::args().any(|a| a == "--no-search") {
        return;
    }
    let more = Instant::now();
    let extra = server_runtime.block_on(async {
        let mut rng = Lcg(4242);
        seed_more(&market, 90_000, &mut rng).await
    });
    println!(
        "seeded {extra} more products (100,000 in all) in {:.1} s",
        more.elapsed().as_secs_f64()
    );
    if !search_only {
        random_word_search(&market, &load_runtime, port, duration);
    }
    common_word_search(&load_runtime, port, duration);
}

/// The list, detail, storefront and checkout runs over the first 10,000 products.
fn before_search(
    market: &Marketplace,
    load_runtime: &tokio::runtime::Runtime,
    server_runtime: &tokio::runtime::Runtime,
    port: u16,
    duration: Duration,
    slugs: &Arc<Vec<String>>,
    scratch: &std::path::Path,
) {
    let list = load_runtime.block_on(run(
        port,
        CONNECTIONS,
        duration,
        Arc::new(|_| "/api/v1/products?per_page=20".to_owned()),
    ));
    report("GET /products (20 per page)", &list, ">= 8000 req/s, p99 <= 10 ms");
    let detail_slugs = slugs.clone();
    let detail = load_runtime.block_on(run(
        port,
        CONNECTIONS,
        duration,
        Arc::new(move |rng| format!("/api/v1/products/{}", detail_slugs[(rng.next() as usize) % 200])),
    ));
    report("GET /products/{slug}", &detail, ">= 15000 req/s, p99 <= 5 ms");

    // The storefront's anonymous pages (ready HTML bytes), against the API detail of this run.
    let detail_rate = detail.requests as f64 / detail.elapsed.as_secs_f64();
    let page_slugs = slugs.clone();
    let product_page = load_runtime.block_on(run(
        port,
        CONNECTIONS,
        duration,
        Arc::new(move |rng| format!("/products/{}", page_slugs[(rng.next() as usize) % 200])),
    ));
    let target = format!(">= {:.0} req/s (70 % of the API detail), p99 <= 10 ms", detail_rate * 0.7);
    report("storefront GET /products/{slug}", &product_page, &target);
    let home = load_runtime.block_on(run(port, CONNECTIONS, duration, Arc::new(|_| "/".to_owned())));
    report("storefront GET /", &home, &target);

    // Checkout: 64 customers, digital works (no stock contention), the development provider.
    let (tokens, digital) = server_runtime.block_on(async {
        let mut tokens = Vec::new();
        for c in 0..CONNECTIONS {
            let session = market
                .accounts()
                .register(Registration {
                    email: format!("buyer{c}@bench.test"),
                    password: "bench password".into(),
                    name: format!("Buyer {c}"),
                })
                .await
                .expect("register buyer");
            tokens.push(session.tokens.access_token);
        }
        let page = market
            .catalog()
            .browse(
                kalavpp_core::services::BrowseFilters {
                    kind: Some("digital".into()),
                    ..Default::default()
                },
                kalavpp_core::domain::PageRequest::new(1, 100),
            )
            .await
            .expect("digital products");
        (tokens, page.items.iter().map(|p| p.id.to_string()).collect::<Vec<_>>())
    });
    let orders = load_runtime.block_on(checkout_run(port, duration, Arc::new(tokens), Arc::new(digital)));
    report("add to cart + POST /checkout", &orders, ">= 1000 orders/s, p99 <= 50 ms (SQLite)");
    // The raw checkout-shaped transaction on one rusqlite connection, in this run.
    let full = ceilings::raw_checkout_rate(scratch, "FULL", duration);
    let normal = ceilings::raw_checkout_rate(scratch, "NORMAL", duration);
    let ours = orders.requests as f64 / orders.elapsed.as_secs_f64();
    println!(
        "  ceiling: raw rusqlite checkout transaction {full:.0}/s with synchronous=FULL, {normal:.0}/s with NORMAL; ours / FULL = {:.2} (target >= 2.0 through group commit), ours / NORMAL = {:.2}",
        ours / full.max(f64::MIN_POSITIVE),
        ours / normal.max(f64::MIN_POSITIVE)
    );
}

/// The release binary in its own process on the same database: cold start, RSS after the read
/// runs, and a login flood at real argon2 cost beside a catalog load.
fn own_process(
    load_runtime: &tokio::runtime::Runtime,
    database_url: &str,
    dir: &std::path::Path,
    duration: Duration,
    slugs: &Arc<Vec<String>>,
) {
    let server = process::Server::start(database_url, &dir.join("child"));
    let port = server.port;
    println!(
        "the release binary as its own process (10,000 products, MALLOC_ARENA_MAX={} as in deploy/kalavpp.service): cold start to the first /healthz 200 in {:.0} ms, RSS {:.1} MiB",
        std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "2".into()),
        server.cold_start.as_secs_f64() * 1000.0,
        server.rss().now_mib
    );
    let list = load_runtime.block_on(run(
        port,
        CONNECTIONS,
        duration,
        Arc::new(|_| "/api/v1/products?per_page=20".to_owned()),
    ));
    report("  GET /products (own process)", &list, "-");
    let detail_slugs = slugs.clone();
    let detail = load_runtime.block_on(run(
        port,
        CONNECTIONS,
        duration,
        Arc::new(move |rng| format!("/api/v1/products/{}", detail_slugs[(rng.next() as usize) % 200])),
    ));
    report("  GET /products/{slug} (own process)", &detail, "-");
    let warm = server.rss();
    println!(
        "  RSS warm after the read runs: {:.1} MiB (anonymous {:.1} MiB, file-backed {:.1} MiB; peak so far {:.1} MiB)   target: <= 60 MB",
        warm.now_mib, warm.anon_mib, warm.file_mib, warm.peak_mib
    );

    let emails = load_runtime.block_on(process::register_customers(port, 64));
    let registered = server.rss();
    println!(
        "  RSS after 64 registrations: {:.1} MiB (peak {:.1} MiB)",
        registered.now_mib, registered.peak_mib
    );
    let (idle, busy, logins) = load_runtime.block_on(process::login_flood(port, slugs.clone(), emails, duration));
    report(&format!("  catalog alone ({} req/s paced)", process::CATALOG_RATE), &idle, "-");
    report("  POST /auth/login flood", &logins, ">= 60 logins/s");
    report("  catalog during the flood", &busy, "p99 <= 2x alone");
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let flood = server.rss();
    println!(
        "  catalog p99 during the flood / alone = {:.2} (target <= 2.0); RSS peak {:.1} MiB, now {:.1} MiB; design bound: warm {:.1} MiB + argon2 19 MiB x {cores} permits = {:.1} MiB",
        busy.p99.as_secs_f64() / idle.p99.as_secs_f64().max(f64::MIN_POSITIVE),
        flood.peak_mib,
        flood.now_mib,
        warm.now_mib,
        warm.now_mib + 19.0 * cores as f64
    );
}

/// Searches for random pairs and single random words of `WORDS` over the 100,000 products.
fn random_word_search(market: &Marketplace, load_runtime: &tokio::runtime::Runtime, port: u16, duration: Duration) {
    let hits_before = market.catalog_cache().stats();
    let search = load_runtime.block_on(run(
        port,
        CONNECTIONS,
        duration,
        Arc::new(|rng| {
            // Two random words and a random page: practically every query is a cache miss.
            let (a, b, page) = (rng.pick(WORDS), rng.pick(WORDS), rng.next() % 50 + 1);
            format!("/api/v1/products?q={a}+{b}&page={page}&per_page=20")
        }),
    ));
    let hits_after = market.catalog_cache().stats();
    report("GET /products?q=a+b (uncached FTS)", &search, "p99 <= 25 ms over 100,000 products");
    let one_word = load_runtime.block_on(run(
        port,
        CONNECTIONS,
        duration,
        Arc::new(|rng| {
            let (a, page) = (rng.pick(WORDS), rng.next() % 200 + 1);
            format!("/api/v1/products?q={a}&page={page}&per_page=20")
        }),
    ));
    report(
        "GET /products?q=a (uncached FTS)",
        &one_word,
        "(one common word: ~10% of all products match)",
    );
    let two_words = |rng: &mut Lcg| {
        let (a, b, page) = (rng.pick(WORDS), rng.pick(WORDS), rng.next() % 50 + 1);
        format!("/api/v1/products?q={a}+{b}&page={page}&per_page=20")
    };
    let two_words = Arc::new(two_words);
    let few = load_runtime.block_on(run(port, 4, duration, two_words.clone()));
    report("  same, 4 connections", &few, "p99 <= 25 ms");
    let one = load_runtime.block_on(run(port, 1, duration, two_words));
    report("  same, 1 connection", &one, "p99 <= 25 ms");
    println!(
        "search cache during the run: {} hits, {} misses",
        hits_after.hits - hits_before.hits,
        hits_after.misses - hits_before.misses
    );
}

async fn seed_more(market: &Marketplace, products: usize, rng: &mut Lcg) -> usize {
    let vendors = market
        .vendors()
        .list_public(kalavpp_core::domain::PageRequest::new(1, 100))
        .await
        .expect("vendors");
    let categories = market.catalog().categories().await.expect("categories");
    let store = market.store().clone();
    for i in 0..products {
        let (a, b, c) = (rng.pick(WORDS), rng.pick(WORDS), rng.pick(WORDS));
        store
            .insert_product(NewProduct {
                id: ProductId::new(),
                vendor_id: vendors.items[i % vendors.items.len()].id,
                category_id: categories[i % categories.len()].id,
                slug: format!("more-{a}-{b}-{i}"),
                title: format!("{a} {b} study {i}"),
                description: format!("A study of the {c} in {b} light.{}", common_words(i)),
                kind: ProductKind::Digital,
                price: Money(500 + (rng.next() % 100_000) as i64),
                stock: None,
                status: ProductStatus::Published,
                tags: vec![a.to_owned()],
                at: now(),
            })
            .await
            .expect("insert product");
    }
    market.catalog_cache().invalidate();
    products
}

// ----- search on common words ---------------------------------------------------------------
//
// `seed_more` appends `common_words(i)` to each description: `canvas` lands in every ninth of its
// 90,000 products (10,000, so 10 % of the 100,000), `gallery` in every third (30,000), so the
// two-word query `canvas gallery` matches the same 10 % through the intersection of two long
// posting lists. `common_word_search` then measures both queries in every sort order.

/// The one-word query that matches 10 % of the 100,000 products.
const COMMON_WORD: &str = "canvas";
/// The two-word query that matches the same 10 % (both words common).
const COMMON_PAIR: &str = "canvas+gallery";
/// Every public sort order of `GET /products`.
const SORTS: [&str; 5] = ["newest", "price_asc", "price_desc", "rating", "popular"];

/// The common words appended to the description of the `i`-th product of `seed_more`.
fn common_words(i: usize) -> &'static str {
    match i % 9 {
        0 => " On canvas, shown in the gallery.",
        1 | 2 => " Shown in the gallery.",
        _ => "",
    }
}

/// A search path that no cache has seen: a random `max_price` far above every price changes
/// nothing in the answer but makes the cache key new, so the storage plan is what is measured.
fn uncached_search(q: &str, sort: &str, page: u64, rng: &mut Lcg) -> String {
    let max_price = 1_000_000_000 + rng.next() % 1_000_000_000;
    format!("/api/v1/products?q={q}&sort={sort}&page={page}&per_page=20&max_price={max_price}")
}

/// The common-word workload: each query in each sort order (pages 1 to 5, every request a
/// cache miss), then deep pages (1 to 50) and the storefront search page with its facets.
fn common_word_search(load_runtime: &tokio::runtime::Runtime, port: u16, duration: Duration) {
    println!("search on common words (10 % of 100,000 match), {CONNECTIONS} connections, every request uncached:");
    let target = ">= 1000 req/s, p99 <= 100 ms (SQLite), p99 <= 150 ms (PostgreSQL)";
    for (q, label) in [(COMMON_WORD, "q=canvas"), (COMMON_PAIR, "q=canvas+gallery")] {
        for sort in SORTS {
            let outcome = load_runtime.block_on(run(
                port,
                CONNECTIONS,
                duration,
                Arc::new(move |rng| {
                    let page = rng.next() % 5 + 1;
                    uncached_search(q, sort, page, rng)
                }),
            ));
            report(&format!("  {label}, {sort}"), &outcome, target);
        }
    }
    for (q, label) in [(COMMON_WORD, "q=canvas"), (COMMON_PAIR, "q=canvas+gallery")] {
        let outcome = load_runtime.block_on(run(
            port,
            CONNECTIONS,
            duration,
            Arc::new(move |rng| {
                let sort = SORTS[(rng.next() as usize) % SORTS.len()];
                let page = rng.next() % 50 + 1;
                uncached_search(q, sort, page, rng)
            }),
        ));
        report(&format!("  {label}, pages 1-50"), &outcome, "(any sort; deep pages)");
    }
    let storefront = load_runtime.block_on(run(
        port,
        CONNECTIONS,
        duration,
        Arc::new(|rng| {
            let max_price = 10_000_000 + rng.next() % 100_000_000;
            format!("/search?q={COMMON_WORD}&max_price={max_price}")
        }),
    ));
    report(
        &format!("  storefront /search?q={COMMON_WORD}"),
        &storefront,
        "(results + facet counts, uncached)",
    );
}
