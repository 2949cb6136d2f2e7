//! Backups you can restore: a backup taken while customers check out and pay restores whole — the
//! database passes its integrity check, every table holds the rows the manifest counted, and every
//! vendor's ledger balances against the orders it was paid for. Scheduled backups
//! (`BACKUP_INTERVAL`) keep the newest `BACKUP_KEEP`, and on a shared PostgreSQL exactly one
//! instance takes each one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::crash_safety::{Acknowledged, get_json, kalavpp, shop_until_killed, sign_in, start_with};

const DEMO_PASSWORD: &str = "demo-password-123";
const CUSTOMER: &str = "customer@demo.kalavpp.test";

/// Vendors whose ledger does not add up: what the vendor buckets hold must be the net of the
/// vendor's paid lines, and the platform bucket their commission (payout and release moves are
/// pairs that sum to zero). Standard SQL: runs on SQLite and PostgreSQL.
const UNBALANCED_VENDORS: &str = "SELECT count(*) FROM vendors v WHERE
    (SELECT coalesce(sum(l.amount_cents), 0) FROM ledger_entries l WHERE l.vendor_id = v.id AND l.bucket <> 'platform')
      <> (SELECT coalesce(sum(i.vendor_net_cents), 0) FROM order_items i JOIN orders o ON o.id = i.order_id
          WHERE i.vendor_id = v.id AND o.status IN ('paid', 'completed'))
    OR (SELECT coalesce(sum(l.amount_cents), 0) FROM ledger_entries l WHERE l.vendor_id = v.id AND l.bucket = 'platform')
      <> (SELECT coalesce(sum(i.commission_cents), 0) FROM order_items i JOIN orders o ON o.id = i.order_id
          WHERE i.vendor_id = v.id AND o.status IN ('paid', 'completed'))";

const PAID_ORDERS: &str = "SELECT count(*) FROM orders WHERE status IN ('paid', 'completed')";

fn run_ok(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn manifest(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("backup.json")).expect("backup.json")).expect("a JSON manifest")
}

fn manifest_rows(manifest: &Value) -> BTreeMap<String, i64> {
    serde_json::from_value(manifest["rows"].clone()).expect("rows by table")
}

/// Runs shoppers against the server at `base` until `during` has run, then stops them; returns
/// what they were acknowledged.
async fn under_checkout_load<F: std::future::Future<Output = T>, T>(client: &reqwest::Client, base: &str, during: F) -> (T, Acknowledged) {
    let listed = get_json(client, format!("{base}/api/v1/products?per_page=100")).await;
    let products: Vec<String> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    let acked: Acknowledged = Arc::default();
    let token = sign_in(client, base, CUSTOMER, DEMO_PASSWORD).await;
    let shoppers: Vec<_> = (0..3)
        .map(|_| {
            tokio::spawn(shop_until_killed(
                client.clone(),
                base.to_owned(),
                token.clone(),
                products.clone(),
                acked.clone(),
            ))
        })
        .collect();
    // Let some orders get paid before the backup starts.
    for _ in 0..100 {
        if acked.lock().unwrap().values().filter(|paid| **paid).count() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let result = during.await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for shopper in shoppers {
        shopper.abort();
        let _ = shopper.await;
    }
    (result, acked)
}

/// `kalavpp backup --output DIR` in a blocking thread, so the shoppers keep going meanwhile.
async fn back_up(data: PathBuf, output: PathBuf, env: Vec<(String, String)>) -> String {
    tokio::task::spawn_blocking(move || run_ok(kalavpp(&data).args(["backup", "--output"]).arg(&output).envs(env)))
        .await
        .unwrap()
}

fn sqlite_counts(db: &rusqlite::Connection, tables: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    tables
        .keys()
        .map(|table| {
            let count: i64 = db
                .query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| r.get(0))
                .unwrap();
            (table.clone(), count)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_backup_under_checkout_load_restores_whole_and_balanced() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    run_ok(kalavpp(&data).arg("seed-demo"));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let (mut server, base) = start_with(&data, &client, &[]).await;
    let backup = dir.path().join("backup");
    let (out, acked) = under_checkout_load(&client, &base, back_up(data.clone(), backup.clone(), vec![])).await;
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(out.contains("backup written"), "{out}");
    let paid_meanwhile = acked.lock().unwrap().values().filter(|paid| **paid).count();
    assert!(paid_meanwhile >= 3, "the load ran: {paid_meanwhile} paid orders");

    let manifest = manifest(&backup);
    let rows = manifest_rows(&manifest);
    for table in [
        "users",
        "vendors",
        "products",
        "orders",
        "order_items",
        "ledger_entries",
        "job_leases",
    ] {
        assert!(rows.contains_key(table), "{table} missing from the manifest: {rows:?}");
    }
    assert!(rows["orders"] >= 3, "orders placed before the backup are in it: {rows:?}");

    // Restore into a fresh data directory: the restore itself checks integrity and the counts.
    let fresh = dir.path().join("fresh");
    let restored = run_ok(kalavpp(&fresh).arg("restore").arg(&backup));
    assert!(restored.contains("restored"), "{restored}");
    let db = rusqlite::Connection::open(fresh.join("kalavpp.db")).unwrap();
    let integrity: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    assert_eq!(sqlite_counts(&db, &rows), rows, "every table holds the rows the manifest counted");
    let paid: i64 = db.query_row(PAID_ORDERS, [], |r| r.get(0)).unwrap();
    assert!(paid >= 3, "paid orders restored: {paid}");
    let unbalanced: i64 = db.query_row(UNBALANCED_VENDORS, [], |r| r.get(0)).unwrap();
    assert_eq!(unbalanced, 0, "vendors whose ledger does not balance");

    // The restored shop serves the same balances through the API.
    let (mut restored_server, restored_base) = start_with(&fresh, &client, &[]).await;
    let artist = sign_in(&client, &restored_base, "aria@demo.kalavpp.test", DEMO_PASSWORD).await;
    let earnings: Value = client
        .get(format!("{restored_base}/api/v1/vendor/earnings"))
        .bearer_auth(&artist)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (pending, available): (i64, i64) = db
        .query_row(
            "SELECT coalesce(sum(CASE WHEN l.bucket = 'pending' THEN l.amount_cents END), 0),
                    coalesce(sum(CASE WHEN l.bucket = 'available' THEN l.amount_cents END), 0)
             FROM ledger_entries l JOIN vendors v ON v.id = l.vendor_id JOIN users u ON u.id = v.user_id
             WHERE u.email = 'aria@demo.kalavpp.test'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    restored_server.kill().unwrap();
    restored_server.wait().unwrap();
    assert_eq!(earnings["balance"]["pending_cents"], pending, "{earnings}");
    assert_eq!(earnings["balance"]["available_cents"], available, "{earnings}");

    // A backup whose database does not hold what its manifest counted is refused.
    let altered = dir.path().join("altered");
    std::fs::create_dir_all(&altered).unwrap();
    std::fs::copy(backup.join("kalavpp.db"), altered.join("kalavpp.db")).unwrap();
    let mut changed = manifest.clone();
    changed["rows"]["orders"] = Value::from(rows["orders"] + 1);
    changed["files"] = Value::from(0);
    std::fs::write(altered.join("backup.json"), changed.to_string()).unwrap();
    let empty = dir.path().join("empty");
    let refused = kalavpp(&empty).arg("restore").arg(&altered).output().unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("does not hold the rows"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!empty.join("kalavpp.db").exists(), "nothing restored");
}

/// A database of its own on the test PostgreSQL server (pg_dump dumps a whole database); `None`
/// when `KALAVPP_TEST_POSTGRES_URL` is not set.
async fn own_postgres_database(prefix: &str) -> Option<(String, String)> {
    let base = std::env::var("KALAVPP_TEST_POSTGRES_URL").ok().filter(|u| !u.trim().is_empty())?;
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    admin_sql(&base, &format!("CREATE DATABASE {name}")).await;
    let (server, _) = base.rsplit_once('/').expect("a URL with a database name");
    Some((format!("{server}/{name}"), name))
}

async fn admin_sql(base: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(base, tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    client.batch_execute(sql).await.expect(sql);
}

async fn drop_database(name: &str) {
    let base = std::env::var("KALAVPP_TEST_POSTGRES_URL").unwrap();
    admin_sql(&base, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_backup_under_checkout_load_restores_whole_and_balanced() {
    let Some((url, name)) = own_postgres_database("kalavpp_backup_load").await else {
        eprintln!("note: KALAVPP_TEST_POSTGRES_URL is not set; skipping");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    run_ok(kalavpp(&data).arg("seed-demo").env("DATABASE_URL", &url));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let (mut server, base) = start_with(&data, &client, &[("DATABASE_URL", url.as_str())]).await;
    let backup = dir.path().join("backup");
    let env = vec![("DATABASE_URL".to_owned(), url.clone())];
    let (out, acked) = under_checkout_load(&client, &base, back_up(data.clone(), backup.clone(), env)).await;
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(out.contains("kalavpp.dump"), "{out}");
    assert!(acked.lock().unwrap().values().filter(|paid| **paid).count() >= 3, "the load ran");
    let manifest = manifest(&backup);
    assert_eq!(manifest["backend"], "postgres");
    let rows = manifest_rows(&manifest);
    assert!(rows["orders"] >= 3, "{rows:?}");

    // The restore the README documents, into a new database.
    let (restored_url, restored_name) = own_postgres_database("kalavpp_restored").await.unwrap();
    let (server_url, _) = restored_url.rsplit_once('/').unwrap();
    run_ok(
        Command::new("pg_restore")
            .args(["--no-owner", "--exit-on-error", "-d"])
            .arg(&restored_url)
            .arg(backup.join("kalavpp.dump")),
    );
    let (client_pg, connection) = tokio_postgres::connect(&restored_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    for (table, expected) in &rows {
        let count: i64 = client_pg
            .query_one(&format!("SELECT count(*) FROM \"{table}\""), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(count, *expected, "rows of {table} after pg_restore");
    }
    let unbalanced: i64 = client_pg.query_one(UNBALANCED_VENDORS, &[]).await.unwrap().get(0);
    assert_eq!(unbalanced, 0, "vendors whose ledger does not balance");
    let paid: i64 = client_pg.query_one(PAID_ORDERS, &[]).await.unwrap().get(0);
    assert!(paid >= 3);
    drop(client_pg);
    // The restored database is a working shop: the server migrates it (nothing to do) and serves.
    let (mut restored, restored_base) = start_with(&data, &client, &[("DATABASE_URL", restored_url.as_str())]).await;
    let listed = get_json(&client, format!("{restored_base}/api/v1/products")).await;
    restored.kill().unwrap();
    restored.wait().unwrap();
    assert!(listed["total"].as_i64().unwrap() > 0, "{listed} from {server_url}");
    drop_database(&name).await;
    drop_database(&restored_name).await;
}

/// Complete scheduled backups in `dir`, oldest first, with the time encoded in their names.
fn scheduled_backups(dir: &Path) -> Vec<(String, chrono::DateTime<chrono::Utc>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<_> = entries
        .flatten()
        .filter(|e| e.path().join("backup.json").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|name| {
            let stamp = name.strip_prefix("kalavpp-")?;
            let at = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%.3fZ").ok()?.and_utc();
            Some((name, at))
        })
        .collect();
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_sqlite_backups_keep_the_newest_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    run_ok(kalavpp(&data).arg("seed-demo"));
    let backups = dir.path().join("backups");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let backups_env = backups.to_str().unwrap().to_owned();
    let env = [
        ("BACKUP_INTERVAL", "1s"),
        ("BACKUP_KEEP", "2"),
        ("BACKUP_DIR", backups_env.as_str()),
    ];
    let (mut server, _) = start_with(&data, &client, &env).await;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        seen.extend(scheduled_backups(&backups).into_iter().map(|(name, _)| name));
        if seen.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(seen.len() >= 4, "backups taken every second: {seen:?}");
    let kept = scheduled_backups(&backups);
    assert!((1..=2).contains(&kept.len()), "BACKUP_KEEP=2 keeps two: {kept:?}");
    let newest = backups.join(&kept.last().unwrap().0);
    let fresh = dir.path().join("fresh");
    let out = run_ok(kalavpp(&fresh).arg("restore").arg(&newest));
    assert!(out.contains("restored"), "{out}");
    let db = rusqlite::Connection::open(fresh.join("kalavpp.db")).unwrap();
    let works: i64 = db
        .query_row("SELECT count(*) FROM products WHERE status = 'published'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(works, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_take_each_scheduled_backup_once() {
    let Some((url, name)) = own_postgres_database("kalavpp_backup_sched").await else {
        eprintln!("note: KALAVPP_TEST_POSTGRES_URL is not set; skipping");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    let (dir_a, dir_b) = (dir.path().join("backups-a"), dir.path().join("backups-b"));
    let mut servers = Vec::new();
    for (data, backups) in [(&data_a, &dir_a), (&data_b, &dir_b)] {
        let backups = backups.to_str().unwrap().to_owned();
        let env = [
            ("DATABASE_URL", url.as_str()),
            ("BACKUP_INTERVAL", "2s"),
            ("BACKUP_KEEP", "50"),
            ("BACKUP_DIR", backups.as_str()),
        ];
        servers.push(start_with(data, &client, &env).await.0);
    }
    tokio::time::sleep(Duration::from_secs(9)).await;
    for mut server in servers {
        server.kill().unwrap();
        server.wait().unwrap();
    }
    let mut all: Vec<_> = scheduled_backups(&dir_a).into_iter().chain(scheduled_backups(&dir_b)).collect();
    all.sort_by_key(|(_, at)| *at);
    assert!(
        (3..=6).contains(&all.len()),
        "one backup per 2 s interval across both instances: {all:?}"
    );
    for pair in all.windows(2) {
        let gap = pair[1].1 - pair[0].1;
        assert!(
            gap >= chrono::Duration::milliseconds(1_900),
            "two backups in one interval ({} and {}): {all:?}",
            pair[0].0,
            pair[1].0
        );
    }
    let (newest, _) = all.last().unwrap();
    let newest = [&dir_a, &dir_b].iter().map(|d| d.join(newest)).find(|p| p.is_dir()).unwrap();
    let listing = run_ok(Command::new("pg_restore").arg("--list").arg(newest.join("kalavpp.dump")));
    assert!(listing.contains("TABLE DATA public orders"), "{listing}");
    drop_database(&name).await;
}
