//! Ceilings measured in the same run as the figures they bound, so the report is a ratio that
//! holds from machine to machine:
//! - a bare axum server on the same runtime shape (its own 2 worker threads) answering `ok`, and
//!   serving a copy of the exact bytes (and content type) of the response under test;
//! - a raw rusqlite loop running the checkout-shaped transaction (conditional stock decrement,
//!   order, item, cart delete) on one connection, with `synchronous=FULL` and with `NORMAL`.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::routing::get;
use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The bytes the bare server answers `GET /bytes` with, replaced before each comparison.
#[derive(Clone, Default)]
pub struct Mirror(Arc<RwLock<(String, Bytes)>>);

impl Mirror {
    /// Serves `body` with `content_type` from now on.
    pub fn set(&self, content_type: String, body: Bytes) {
        *self.0.write().expect("mirror lock") = (content_type, body);
    }
}

async fn ok() -> &'static str {
    "ok"
}

async fn mirrored(State(mirror): State<Mirror>) -> impl axum::response::IntoResponse {
    let (content_type, body) = mirror.0.read().expect("mirror lock").clone();
    ([(header::CONTENT_TYPE, content_type)], body)
}

/// The bare router: `GET /ok` and `GET /bytes` (what `mirror` holds).
pub fn bare_router(mirror: &Mirror) -> Router {
    Router::new()
        .route("/ok", get(ok))
        .route("/bytes", get(mirrored))
        .with_state(mirror.clone())
}

/// Starts the bare server on `runtime`; returns its port and the mirror it serves.
pub fn start_bare_server(runtime: &tokio::runtime::Runtime) -> (u16, Mirror) {
    let mirror = Mirror::default();
    let app = bare_router(&mirror);
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind the bare server");
    let port = listener.local_addr().expect("address").port();
    runtime.spawn(async move { axum::serve(listener, app).await });
    (port, mirror)
}

/// One `GET` on a fresh connection: the content type and body of the answer.
pub async fn fetch(port: u16, path: &str) -> (String, Bytes) {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let mut reader = BufReader::new(stream);
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    reader.get_mut().write_all(request.as_bytes()).await.expect("write");
    let mut line = String::new();
    reader.read_line(&mut line).await.expect("status line");
    let (mut length, mut content_type) = (0usize, String::new());
    loop {
        line.clear();
        reader.read_line(&mut line).await.expect("header");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("content-type") {
                content_type = value.trim().to_owned();
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).await.expect("body");
    (content_type, Bytes::from(body))
}

/// Checkout-shaped transactions per second on one raw rusqlite connection, in WAL mode with
/// `synchronous` set to `synchronous` (`FULL` or `NORMAL`), for `duration`.
pub fn raw_checkout_rate(dir: &std::path::Path, synchronous: &str, duration: Duration) -> f64 {
    let path = dir.join(format!("ceiling-{synchronous}.db"));
    let conn = rusqlite::Connection::open(&path).expect("open the ceiling database");
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = ON;
         CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER);
         CREATE TABLE orders (id TEXT PRIMARY KEY, user_id INTEGER NOT NULL, total_cents INTEGER NOT NULL, created_at TEXT NOT NULL);
         CREATE TABLE order_items (id TEXT PRIMARY KEY, order_id TEXT NOT NULL REFERENCES orders (id), product_id INTEGER NOT NULL,
                                   quantity INTEGER NOT NULL, line_total_cents INTEGER NOT NULL);
         CREATE INDEX order_items_order_idx ON order_items (order_id);
         CREATE TABLE cart_items (user_id INTEGER NOT NULL, product_id INTEGER NOT NULL, quantity INTEGER NOT NULL,
                                  PRIMARY KEY (user_id, product_id));"
    ))
    .expect("schema");
    for id in 0..1_000 {
        conn.execute("INSERT INTO products (id, stock) VALUES (?1, NULL)", [id])
            .expect("product");
    }
    let start = Instant::now();
    let mut done = 0i64;
    while start.elapsed() < duration {
        let (user, product) = (done % 64, done % 1_000);
        conn.execute(
            "INSERT OR REPLACE INTO cart_items (user_id, product_id, quantity) VALUES (?1, ?2, 1)",
            [user, product],
        )
        .expect("cart");
        conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
        conn.execute(
            "UPDATE products SET stock = stock - 1 WHERE id = ?1 AND (stock IS NULL OR stock >= 1)",
            [product],
        )
        .expect("stock");
        let order = format!("order-{done}");
        conn.execute(
            "INSERT INTO orders (id, user_id, total_cents, created_at) VALUES (?1, ?2, 1000, '2026-12-02T00:00:00.000000Z')",
            rusqlite::params![order, user],
        )
        .expect("order");
        conn.execute(
            "INSERT INTO order_items (id, order_id, product_id, quantity, line_total_cents) VALUES (?1, ?2, ?3, 1, 1000)",
            rusqlite::params![format!("item-{done}"), order, product],
        )
        .expect("item");
        conn.execute("DELETE FROM cart_items WHERE user_id = ?1", [user])
            .expect("cart delete");
        conn.execute_batch("COMMIT").expect("commit");
        done += 1;
    }
    done as f64 / start.elapsed().as_secs_f64()
}
