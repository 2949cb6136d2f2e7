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
