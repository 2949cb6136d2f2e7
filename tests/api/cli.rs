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
        let market = kalavpp_core::Marketplace::open(kalavpp_core::Config::for_development(database_url))
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
        })
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
