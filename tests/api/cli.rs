//! The `kalavpp` binary: serve on an empty data dir, create-admin, check-config, migrate.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::PASSWORD;

fn kalavpp(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kalavpp"));
    command
        .env_clear()
        .env("KALAVPP_DATA_DIR", data_dir)
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

fn create_admin(data_dir: &std::path::Path, email: &str, password: &str) -> std::process::Output {
    let mut child = kalavpp(data_dir)
        .args(["create-admin", "--email", email, "--name", "Root", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn create_admin_checks_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let ok = create_admin(dir.path(), "Root@Example.com", PASSWORD);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("root@example.com"));

    for (email, password, expected) in [
        ("not-an-email", PASSWORD, "email"),
        ("other@example.com", "short", "password"),
        ("root@example.com", PASSWORD, "already exists"),
    ] {
        let out = create_admin(dir.path(), email, password);
        assert_eq!(out.status.code(), Some(1), "{email}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(expected),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let migrate = kalavpp(dir.path()).arg("migrate").output().unwrap();
    assert!(migrate.status.success());
    assert!(String::from_utf8_lossy(&migrate.stdout).contains("up to date"));
}

#[test]
fn check_config_lists_every_production_problem() {
    let dir = tempfile::tempdir().unwrap();
    let out = kalavpp(dir.path())
        .arg("check-config")
        .env("NODE_ENV", "production")
        .env("JWT_SECRET", "CHANGE-TO-STRONG-RANDOM-STRING-64-CHARS")
        .env("JWT_REFRESH_SECRET", "too-short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for name in ["JWT_SECRET", "JWT_REFRESH_SECRET", "CORS_ORIGIN", "BACKEND_URL"] {
        assert!(stdout.lines().any(|l| l.starts_with(name)), "{name} not reported in:\n{stdout}");
    }
    // Serving refuses to start the same way.
    let serve = kalavpp(dir.path()).env("KALAVPP_ENV", "production").output().unwrap();
    assert_eq!(serve.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&serve.stderr).contains("JWT_SECRET"));

    let good = kalavpp(dir.path()).arg("check-config").output().unwrap();
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stdout));
}

#[test]
fn serves_on_an_empty_data_dir_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = kalavpp(&data)
        .args(["serve", "--no-demo"])
        .env("PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let healthy = runtime.block_on(async {
        for _ in 0..200 {
            if let Ok(response) = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await {
                return response.status().as_u16() == 200;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    });
    assert!(healthy, "the server never answered /healthz");
    assert!(data.join("kalavpp.db").exists());
    assert!(data.join("secrets.env").exists(), "development secrets are generated once");
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
    assert_eq!(
        published_works(&format!("sqlite://{}", data.join("kalavpp.db").display())),
        0,
        "--no-demo starts empty"
    );
}

/// Starts `kalavpp` with `args` on `data`, waits for `/healthz` and returns the child, the base
/// URL and the banner (stdout up to the first blank read).
fn serve_and_read_banner(data: &std::path::Path, args: &[&str]) -> (std::process::Child, String, String) {
    use std::io::BufRead as _;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = kalavpp(data)
        .args(args)
        .env("PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    // The banner is printed once the server is ready (after the demo is filled in); in
    // development its last line names the generated secrets.
    while stdout.read_line(&mut banner).unwrap_or(0) > 0 && !banner.contains("Secrets:") {}
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (child, base, banner)
}

fn stop(mut child: std::process::Child) {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn the_first_development_run_is_a_demo_shop() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh");
    let (child, base, banner) = serve_and_read_banner(&data, &[]);
    for expected in [
        "Demo:",
        "admin@demo.kalavpp.test",
        "aria@demo.kalavpp.test",
        "customer@demo.kalavpp.test",
        "demo-password-123",
    ] {
        assert!(banner.contains(expected), "{expected} not in the banner:\n{banner}");
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (stats, categories, reviewed) = runtime.block_on(async {
        let client = reqwest::Client::new();
        let login = |email: &'static str| {
            let client = client.clone();
            let url = format!("{base}/api/v1/auth/login");
            async move {
                let body: serde_json::Value = client
                    .post(url)
                    .json(&serde_json::json!({"email": email, "password": "demo-password-123"}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                body["access_token"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{email}: {body}"))
                    .to_owned()
            }
        };
        let admin = login("admin@demo.kalavpp.test").await;
        let get = |path: String, token: Option<String>| {
            let client = client.clone();
            let url = format!("{base}/api/v1{path}");
            async move {
                let mut request = client.get(url);
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                request.send().await.unwrap().json::<serde_json::Value>().await.unwrap()
            }
        };
        let stats = get("/admin/stats".into(), Some(admin)).await;
        let categories = get("/categories".into(), None).await;
        let products = get("/products?per_page=100".into(), None).await;
        let mut reviewed = 0;
        for product in products["items"].as_array().unwrap() {
            let reviews = get(format!("/products/{}/reviews", product["id"].as_str().unwrap()), None).await;
            reviewed += usize::from(reviews["total"].as_i64().unwrap_or(0) > 0);
        }
        (stats, categories, reviewed)
    });
    stop(child);
    assert!(stats["products"]["published"].as_i64().unwrap() >= 50, "{stats}");
    assert!(stats["vendors"]["approved"].as_i64().unwrap() >= 5, "{stats}");
    assert!(stats["vendors"]["pending"].as_i64().unwrap() >= 2, "{stats}");
    assert!(stats["users"]["customers"].as_i64().unwrap() >= 3, "{stats}");
    assert!(stats["orders"]["paid"].as_i64().unwrap() >= 5, "{stats}");
    assert!(stats["payouts"]["requested_cents"].as_i64().unwrap() > 0, "{stats}");
    let used = categories
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["product_count"].as_i64().unwrap_or(0) > 0)
        .count();
    assert!(used >= 8, "works across the categories: {categories}");
    assert!(reviewed >= 5, "reviews on {reviewed} works");

    // A second start leaves the shop as it is.
    let (child, _, banner) = serve_and_read_banner(&data, &["serve", "--demo"]);
    stop(child);
    assert!(!banner.contains("Demo:"), "{banner}");
    assert!(published_works(&format!("sqlite://{}", data.join("kalavpp.db").display())) >= 50);

    // Production never fills in the demo, and refuses to be asked to.
    let refused = kalavpp(&dir.path().join("prod"))
        .args(["serve", "--demo"])
        .env("KALAVPP_ENV", "production")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--demo"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

fn run_ok(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}{}",
        command,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Published works of the marketplace at `database_url`, read through the library.
fn published_works(database_url: &str) -> i64 {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let market = kalavpp_core::Marketplace::open(kalavpp_core::Config::for_development(
            database_url.parse::<kalavpp_core::DatabaseUrl>().expect("a database URL"),
        ))
        .await
        .expect("open the marketplace");
        let page = market
            .catalog()
            .browse(
                kalavpp_core::services::BrowseFilters::default(),
                kalavpp_core::domain::PageRequest::new(1, 100),
            )
            .await
            .expect("browse");
        page.total
    })
}

#[test]
fn seed_demo_then_back_up_and_restore_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = run_ok(kalavpp(&data).arg("seed-demo"));
    assert!(first.contains("seeded 3 artists with 8 published works"), "{first}");
    let again = run_ok(kalavpp(&data).arg("seed-demo"));
    assert!(again.contains("already there"), "running it again changes nothing: {again}");
    // Production refuses demo accounts with a known password.
    let refused = kalavpp(&data).arg("seed-demo").env("KALAVPP_ENV", "production").output().unwrap();
    assert_eq!(refused.status.code(), Some(1));

    let backup = dir.path().join("backup");
    let out = run_ok(kalavpp(&data).args(["backup", "--output"]).arg(&backup));
    // Three downloads, and a picture with its thumbnail for each of the eight works.
    assert!(out.contains("19 file(s)"), "the downloads and pictures are copied: {out}");
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(backup.join("backup.json")).unwrap()).unwrap();
    assert_eq!(manifest["backend"], "sqlite");
    assert_eq!(manifest["files"], 19);
    // A second backup into the same (now non-empty) directory is refused.
    let twice = kalavpp(&data).args(["backup", "--output"]).arg(&backup).output().unwrap();
    assert_eq!(twice.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("not empty"));

    // Restoring is copying: the copy serves the same catalog.
    let restored = format!("sqlite://{}", backup.join("kalavpp.db").display());
    assert_eq!(published_works(&restored), 8);
    assert!(run_ok(kalavpp(&backup).arg("migrate").env("DATABASE_URL", &restored)).contains("up to date"));

    // `restore` puts it into an empty data directory, after checking it.
    let fresh = dir.path().join("fresh");
    let out = run_ok(kalavpp(&fresh).arg("restore").arg(&backup));
    assert!(out.contains("19 file(s)"), "{out}");
    assert_eq!(published_works(&format!("sqlite://{}", fresh.join("kalavpp.db").display())), 8);
    let again = kalavpp(&fresh).arg("restore").arg(&backup).output().unwrap();
    assert_eq!(again.status.code(), Some(1), "a non-empty data directory is refused");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    // A damaged backup is refused and leaves nothing behind.
    let damaged = dir.path().join("damaged");
    std::fs::create_dir_all(&damaged).unwrap();
    let mut damaged_manifest = manifest.clone();
    damaged_manifest["files"] = serde_json::json!(0);
    std::fs::write(damaged.join("backup.json"), damaged_manifest.to_string()).unwrap();
    let mut bytes = std::fs::read(backup.join("kalavpp.db")).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle..middle + 4096].fill(0xA5);
    std::fs::write(damaged.join("kalavpp.db"), bytes).unwrap();
    let broken = dir.path().join("broken-target");
    let refused = kalavpp(&broken).arg("restore").arg(&damaged).output().unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", String::from_utf8_lossy(&refused.stdout));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("integrity") || why.contains("malformed") || why.contains("not a database"),
        "{why}"
    );
    assert!(!broken.join("kalavpp.db").exists());
    let not_a_backup = kalavpp(&broken).arg("restore").arg(dir.path()).output().unwrap();
    assert!(String::from_utf8_lossy(&not_a_backup.stderr).contains("backup.json"));
}

#[test]
fn back_up_postgres_with_pg_dump() {
    let Ok(base) = std::env::var("KALAVPP_TEST_POSTGRES_URL") else {
        eprintln!("note: KALAVPP_TEST_POSTGRES_URL is not set; skipping");
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let name = format!("kalavpp_backup_{}", uuid::Uuid::new_v4().simple());
    let admin_sql = |sql: String| {
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.expect("connect");
            tokio::spawn(connection);
            client.batch_execute(&sql).await.expect(&sql);
        });
    };
    admin_sql(format!("CREATE DATABASE {name}"));
    let url = match base.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("unexpected URL {base}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    run_ok(kalavpp(&data).arg("seed-demo").env("DATABASE_URL", &url));
    let backup = dir.path().join("backup");
    let out = run_ok(kalavpp(&data).args(["backup", "--output"]).arg(&backup).env("DATABASE_URL", &url));
    assert!(out.contains("kalavpp.dump"), "{out}");
    let listing = run_ok(Command::new("pg_restore").arg("--list").arg(backup.join("kalavpp.dump")));
    assert!(listing.contains("TABLE DATA public products"), "{listing}");
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(backup.join("backup.json")).unwrap()).unwrap();
    assert_eq!(manifest["backend"], "postgres");
    admin_sql(format!("DROP DATABASE {name} WITH (FORCE)"));
}
