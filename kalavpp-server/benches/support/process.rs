//! The release binary as its own process, on the benchmark's database: cold start, resident
//! memory after the read runs, and a login flood (real argon2 cost) beside a catalog load.
//! Memory is read from `/proc/<pid>/status`, so it is the server's alone (the in-process server,
//! the bare ceilings and the load generator live in the benchmark's own process).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{Connection, Outcome, summarize};

/// The catalog load beside the flood: a steady [`CATALOG_RATE`] over this many connections, so
/// its p99 measures latency, not the queue of a saturated server.
const CATALOG_CONNECTIONS: usize = 8;
/// Catalog requests per second beside the flood (a busy shop; a few percent of what the server
/// answers when saturated).
pub const CATALOG_RATE: u64 = 4_000;
/// Customers logging in at once during the flood (the server lets `cores` hashes run at a time).
const LOGIN_CONNECTIONS: usize = 32;

/// A running `kalavpp serve` child, stopped when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    /// From spawning the process to the first `200` of `/healthz`.
    pub cold_start: Duration,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of a process: now and its peak, in MiB.
#[expect(
    clippy::struct_field_names,
    reason = "every figure is in MiB, and the names say so at the use site"
)]
pub struct Rss {
    pub now_mib: f64,
    pub peak_mib: f64,
    /// Of `now_mib`: anonymous memory (heap, stacks) and file-backed pages (the binary).
    pub anon_mib: f64,
    pub file_mib: f64,
}

impl Server {
    /// Starts the release binary on `database_url` (already migrated and seeded).
    pub fn start(database_url: &str, data_dir: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let spawned = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_kalavpp"))
            .args(["serve", "--no-demo"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("KALAVPP_DATA_DIR", data_dir)
            .env("PORT", port.to_string())
            .env("JWT_SECRET", "bench-access-secret-0123456789-abcdefghijklmnop")
            .env("JWT_REFRESH_SECRET", "bench-refresh-secret-0123456789-abcdefghijklmn")
            .env("RATE_LIMIT_MAX_REQUESTS", "0")
            .env("AUTH_RATE_LIMIT_MAX_REQUESTS", "0")
            .env("RUST_LOG", "warn")
            // As `deploy/kalavpp.service` runs it (override with MALLOC_ARENA_MAX in the environment).
            .env("MALLOC_ARENA_MAX", std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "2".into()))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the kalavpp binary");
        let mut server = Self {
            child,
            port,
            cold_start: Duration::ZERO,
        };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            loop {
                if let Ok(stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                    drop(stream);
                    if Connection::open(port).await.get("/healthz").await == 200 {
                        break;
                    }
                }
                assert!(spawned.elapsed() < Duration::from_mins(1), "the server did not start within 60 s");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        server.cold_start = spawned.elapsed();
        server
    }

    /// Its resident memory (`VmRSS`, split into `RssAnon` and `RssFile`) and peak (`VmHWM`).
    pub fn rss(&self) -> Rss {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        Rss {
            now_mib: field("VmRSS:"),
            peak_mib: field("VmHWM:"),
            anon_mib: field("RssAnon:"),
            file_mib: field("RssFile:"),
        }
    }
}

/// Registers `count` customers through the API (real argon2 cost); returns their emails.
pub async fn register_customers(port: u16, count: usize) -> Vec<String> {
    let mut emails = Vec::new();
    let mut connection = Connection::open(port).await;
    for c in 0..count {
        let email = format!("flood{c}@bench.test");
        let body = format!("{{\"email\":\"{email}\",\"password\":\"flood password {c}\",\"name\":\"Flood {c}\"}}");
        let status = connection.post_anonymous("/api/v1/auth/register", &body).await;
        assert!(status == 201 || status == 200, "register {email}: {status}");
        emails.push(email);
    }
    emails
}

/// The catalog (list and detail, cached) at [`CATALOG_RATE`] until `stop`.
async fn catalog_until(port: u16, slugs: Arc<Vec<String>>, stop: Arc<AtomicBool>) -> Outcome {
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CATALOG_CONNECTIONS {
        let (slugs, stop, errors) = (slugs.clone(), stop.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(port).await;
            let mut latencies = Vec::new();
            let mut i = c;
            let mut pace = tokio::time::interval(Duration::from_micros(1_000_000 * CATALOG_CONNECTIONS as u64 / CATALOG_RATE));
            pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stop.load(Ordering::Relaxed) {
                pace.tick().await;
                i += 1;
                let path = if i % 2 == 0 {
                    "/api/v1/products?per_page=20".to_owned()
                } else {
                    format!("/api/v1/products/{}", slugs[i % 200])
                };
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
        all.extend(task.await.expect("catalog task"));
    }
    summarize(all, start.elapsed(), errors.load(Ordering::Relaxed))
}

/// Logins at [`LOGIN_CONNECTIONS`] for `duration`, each with the right password.
async fn logins_for(port: u16, emails: Arc<Vec<String>>, duration: Duration) -> Outcome {
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..LOGIN_CONNECTIONS {
        let (emails, errors) = (emails.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(port).await;
            let mut latencies = Vec::new();
            let mut i = c;
            while start.elapsed() < duration {
                i += LOGIN_CONNECTIONS;
                let n = i % emails.len();
                let body = format!("{{\"email\":\"{}\",\"password\":\"flood password {n}\"}}", emails[n]);
                let sent = Instant::now();
                if connection.post_anonymous("/api/v1/auth/login", &body).await != 200 {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("login task"));
    }
    summarize(all, start.elapsed(), errors.load(Ordering::Relaxed))
}

/// The catalog alone for `duration`, then the catalog beside a login flood for `duration`:
/// (catalog idle, catalog during the flood, logins).
pub async fn login_flood(port: u16, slugs: Arc<Vec<String>>, emails: Vec<String>, duration: Duration) -> (Outcome, Outcome, Outcome) {
    let stop = Arc::new(AtomicBool::new(false));
    let idle = tokio::spawn(catalog_until(port, slugs.clone(), stop.clone()));
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let idle = idle.await.expect("idle catalog");

    let stop = Arc::new(AtomicBool::new(false));
    let busy = tokio::spawn(catalog_until(port, slugs, stop.clone()));
    let logins = logins_for(port, Arc::new(emails), duration).await;
    stop.store(true, Ordering::Relaxed);
    let busy = busy.await.expect("catalog during the flood");
    (idle, busy, logins)
}
