//! The Chromium harness of the browser tests: chromedriver on a free port, a fresh headless
//! Chromium profile per test, fantoccini helpers, a screenshot of every step under
//! `target/<suite>/<name>/` and axe-core on every checked page (any `serious` or `critical`
//! violation fails the test).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them) and npm for axe-core
//! (installed on first use into `target/axe-core/`). Without a browser the test is skipped with a
//! note, except under `CI=true`, where that is a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const AXE_VERSION: &str = "4.14";

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("target dir").to_path_buf()
}

/// Whether the browser is there; panics under `CI=true` when it is not.
pub fn browser_available() -> bool {
    if Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {CHROMEDRIVER} is missing: install chromium and chromium-driver (see .ci/run)"
    );
    eprintln!("note: {CHROMEDRIVER} not found; skipping the Chromium test (apt-get install chromium chromium-driver)");
    false
}

/// axe-core's source, installed with npm into `target/axe-core` on first use.
fn axe_source() -> &'static str {
    static AXE: OnceLock<String> = OnceLock::new();
    AXE.get_or_init(|| {
        let dir = target_dir().join("axe-core");
        let script = dir.join("node_modules/axe-core/axe.min.js");
        if !script.exists() {
            std::fs::create_dir_all(&dir).expect("axe-core dir");
            let status = Command::new("npm")
                .args(["install", "--no-save", "--no-audit", "--no-fund", "--prefix"])
                .arg(&dir)
                .arg(format!("axe-core@{AXE_VERSION}"))
                .status()
                .expect("run npm (needed for axe-core)");
            assert!(status.success(), "npm install axe-core failed");
        }
        std::fs::read_to_string(&script).expect("read axe.min.js")
    })
}

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let driver = Driver { child, url };
    // Ready when /status says so.
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(response) = client.get(format!("{}/status", driver.url)).send().await
            && let Ok(body) = response.json::<Value>().await
            && body["value"]["ready"] == true
        {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("chromedriver did not become ready");
}

/// A browser session with a fresh profile, and where its screenshots go.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    shots: PathBuf,
    step: u32,
    _profile: tempfile::TempDir,
    _driver: Driver,
}

impl Browser {
    /// A session whose screenshots go to `target/<suite>/<name>/`.
    pub async fn start(suite: &str, name: &str) -> Self {
        let driver = start_driver().await;
        let profile = tempfile::tempdir().expect("profile dir");
        let binary = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("/usr/bin/chromium");
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": binary,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    "--disable-dev-shm-usage", "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("a Chromium session");
        let shots = target_dir().join(suite).join(name);
        std::fs::create_dir_all(&shots).expect("screenshot dir");
        Self {
            client,
            shots,
            step: 0,
            _profile: profile,
            _driver: driver,
        }
    }

    /// Saves a screenshot, then runs axe-core on the page; fails on serious or critical findings.
    pub async fn check(&mut self, name: &str) {
        self.step += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{:02}-{name}.png", self.step)), png).expect("save screenshot");
        self.client.execute(axe_source(), vec![]).await.expect("inject axe-core");
        let found = self
            .client
            .execute_async(
                r"const done = arguments[arguments.length - 1];
                  axe.run(document, { resultTypes: ['violations'] })
                    .then(r => done(r.violations
                      .filter(v => v.impact === 'serious' || v.impact === 'critical')
                      .map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.html) }))))
                    .catch(e => done([{ id: 'axe-error', help: String(e) }]));",
                vec![],
            )
            .await
            .expect("run axe-core");
        let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        assert_eq!(found, json!([]), "axe-core found serious or critical problems on {name} ({url})");
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("field {css}"));
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    /// Marks the current document, so [`Browser::wait_for_new_page`] sees it replaced.
    pub async fn mark_page(&self) {
        self.client
            .execute("window.__kalavppOld = true;", vec![])
            .await
            .expect("mark the page");
    }

    /// Waits until the marked document is replaced by a fully loaded new one.
    pub async fn wait_for_new_page(&self) {
        for _ in 0..400 {
            let state = self
                .client
                .execute("return window.__kalavppOld === true ? 'old' : document.readyState;", vec![])
                .await
                .unwrap_or(Value::Null);
            if state == "complete" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no new page loaded");
    }

    /// Clicks a button or link that leads to another page, and waits for that page.
    pub async fn submit(&self, css: &str) {
        self.mark_page().await;
        self.click(css).await;
        self.wait_for_new_page().await;
    }

    pub async fn click(&self, css: &str) {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("element {css}"))
            .click()
            .await
            .expect("click");
    }

    pub async fn click_link(&self, text: &str) {
        self.mark_page().await;
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::LinkText(text))
            .await
            .unwrap_or_else(|_| panic!("link {text}"))
            .click()
            .await
            .expect("click");
        self.wait_for_new_page().await;
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .expect("body")
            .text()
            .await
            .expect("text")
    }
}

/// The suite name of a backend, for screenshot folders.
pub fn backend_name(app: &crate::helpers::TestApp) -> &'static str {
    match app.backend {
        crate::helpers::Backend::Sqlite => "sqlite",
        crate::helpers::Backend::Postgres => "postgres",
    }
}
