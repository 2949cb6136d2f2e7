//! Files in S3: with `AWS_S3_BUCKET` set, images, thumbnails and digital downloads live in a bucket
//! of a real S3-compatible server (`moto_server` from PyPI `moto[server]`, started here on
//! loopback; `.ci/run` installs it) and are served through `/media` and download links.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kalavpp_server::Application;

use crate::catalog_support::{add_image, delete, get_raw, path_of, png_rgb, text};
use crate::helpers::{Backend, spawn_app, test_settings};
use crate::payment_support::{Scene, add_to_cart, address, asset_bytes, attach_asset, checkout, digital, fetch, order, physical};

/// A `moto_server` on a free loopback port, killed when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `KALAVPP_TEST_MOTO_SERVER`, the virtualenv `.ci/run` creates, or `moto_server` on the `PATH`.
fn moto_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KALAVPP_TEST_MOTO_SERVER") {
        return Some(PathBuf::from(path));
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/moto-venv/bin/moto_server");
    if venv.exists() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("moto_server"))
            .find(|candidate| candidate.exists())
    })
}

async fn start_moto() -> Option<Moto> {
    let Some(binary) = moto_binary() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "moto_server is required in CI (.ci/run installs moto[server] into target/moto-venv)"
        );
        eprintln!("note: moto_server not found; skipping the S3 test");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(&binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    let client = reqwest::Client::new();
    while client.get(&moto.endpoint).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_mins(1), "moto_server did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Some(moto)
}

impl Moto {
    async fn create_bucket(&self, bucket: &str) {
        let response = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .await
            .expect("create bucket");
        assert!(response.status().is_success(), "{}", response.status());
    }

    /// The object's bytes, read from the bucket through the S3 API (`None` when it is not there).
    async fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        use futures_util::StreamExt as _;
        use kalavpp_core::files::FileStore as _;
        let scratch = tempfile::tempdir().unwrap();
        let config = kalavpp_core::config::S3Config {
            bucket: bucket.to_owned(),
            region: "us-east-1".into(),
            access_key_id: Some("testing".into()),
            secret_access_key: Some(kalavpp_core::Secret::new("testing")),
            endpoint: Some(self.endpoint.clone()),
        };
        let store = kalavpp_core::files::s3::S3FileStore::connect(&config, scratch.path())
            .await
            .expect("bucket");
        let meta = store.meta(key).await.expect("head")?;
        let chunks: Vec<_> = store.read_range(key, 0..meta.size).await.expect("get").collect().await;
        Some(chunks.into_iter().flat_map(|c| c.expect("chunk")).collect())
    }

    fn overrides<'a>(&'a self, bucket: &'a str) -> [(&'a str, &'a str); 5] {
        [
            ("AWS_S3_BUCKET", bucket),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
        ]
    }
}

fn key_of(url: &str) -> String {
    path_of(url).trim_start_matches('/').to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_live_in_s3_sqlite() {
    files_live_in_s3(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_live_in_s3_postgres() {
    files_live_in_s3(Backend::Postgres).await;
}

/// An artist uploads a painting's picture and a digital work's file; both go to the bucket, the
/// storefront's image URLs and the buyer's download link serve them (ranges too), and removing
/// the picture removes its objects.
async fn files_live_in_s3(backend: Backend) {
    let Some(moto) = start_moto().await else {
        return;
    };
    let bucket = "kalavpp-shop";
    moto.create_bucket(bucket).await;
    let Some(app) = spawn_app(backend, &moto.overrides(bucket)).await else {
        return;
    };
    let scene = Scene::new(&app).await;
    let ana = scene.ana.user.access.as_str();

    // A picture and its thumbnail, in the bucket and nowhere on local disk.
    let harbour = text(&physical(&app, ana, "Harbour at dawn", 12_345, 1).await, "id");
    let image = add_image(&app, &harbour, ana, png_rgb(900, 600)).await;
    let (url, thumb_url) = (text(&image, "url"), text(&image, "thumb_url"));
    for url in [&url, &thumb_url] {
        let key = key_of(url);
        assert!(app.market.files().local_path(&key).is_none(), "not a local file");
        let stored = moto.object(bucket, &key).await.unwrap_or_else(|| panic!("{key} is in the bucket"));
        let served = get_raw(&app, &path_of(url)).await;
        assert_eq!(served.status().as_u16(), 200);
        let headers = served.headers().clone();
        assert_eq!(headers["cache-control"], "public, max-age=31536000, immutable");
        assert!(headers["content-type"].to_str().unwrap().starts_with("image/"), "{headers:?}");
        let etag = headers.get("etag").expect("an ETag").clone();
        assert_eq!(served.bytes().await.unwrap().to_vec(), stored, "{key} served as stored");

        // A cache revalidating gets 304; HEAD answers without a body.
        let revalidated = app
            .client
            .get(format!("{}{}", app.base, path_of(url)))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(revalidated.status().as_u16(), 304);
        let head = app.client.head(format!("{}{}", app.base, path_of(url))).send().await.unwrap();
        assert_eq!(head.status().as_u16(), 200);
        assert_eq!(head.headers()["content-length"], stored.len().to_string().as_str());
    }
    assert_eq!(get_raw(&app, "/media/products/missing.png").await.status().as_u16(), 404);
    assert_eq!(get_raw(&app, "/media/products").await.status().as_u16(), 404);

    // A digital work's file (bigger than one upload part), bought and downloaded.
    let brushes = text(&digital(&app, &scene.bo.user.access, "Brush pack", 1_999).await, "id");
    let file = asset_bytes(9 * 1024 * 1024 + 123);
    attach_asset(&app, &scene.bo.user.access, &brushes, "brushes.zip", file.clone()).await;
    let customer = scene.customer.access.as_str();
    add_to_cart(&app, customer, &brushes, 1).await;
    add_to_cart(&app, customer, &harbour, 1).await;
    let placed = checkout(&app, customer, Some(address())).await;
    let order_id = text(&placed["order"], "id");
    let paid = app
        .client
        .post(format!("{}/pay", text(&placed, "checkout_url")))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status().as_u16(), 200);
    assert_eq!(order(&app, customer, &order_id).await["status"], "paid");
    let links = app
        .get(&format!("/orders/{order_id}/downloads"), Some(customer))
        .await
        .expect(200)
        .body;
    let link = text(&links[0], "url");
    let (status, headers, bytes) = fetch(&app, &link, None).await;
    assert_eq!(status.as_u16(), 200);
    assert_eq!(bytes.len(), file.len());
    assert!(bytes == file, "the download is the uploaded file");
    assert_eq!(headers["cache-control"], "private, no-store");
    assert!(headers["content-disposition"].to_str().unwrap().contains("brushes.zip"));
    let (status, headers, bytes) = fetch(&app, &link, Some("bytes=100-199")).await;
    assert_eq!(status.as_u16(), 206);
    assert_eq!(headers["content-range"], format!("bytes 100-199/{}", file.len()).as_str());
    assert_eq!(bytes, file[100..200]);
    let (status, _, bytes) = fetch(&app, &link, Some("bytes=-10")).await;
    assert_eq!(status.as_u16(), 206);
    assert_eq!(bytes, file[file.len() - 10..]);
    let (status, headers, _) = fetch(&app, &link, Some(&format!("bytes={}-", file.len()))).await;
    assert_eq!(status.as_u16(), 416);
    assert_eq!(headers["content-range"], format!("bytes */{}", file.len()).as_str());

    // Removing the picture removes both objects.
    let image_id = text(&image, "id");
    delete(&app, &format!("/products/{harbour}/images/{image_id}"), Some(ana))
        .await
        .expect(204);
    for url in [&url, &thumb_url] {
        assert_eq!(moto.object(bucket, &key_of(url)).await, None, "{url} removed from the bucket");
        assert_eq!(get_raw(&app, &path_of(url)).await.status().as_u16(), 404);
    }
}

/// A bucket that does not exist stops start-up with a message naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_stops_start_up() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let data_dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", data_dir.path().join("kalavpp.db").display());
    let settings = test_settings(data_dir.path(), &database_url, &moto.overrides("no-such-bucket"));
    let started = Instant::now();
    let error = match Application::build(settings).await {
        Ok(_) => panic!("started without its bucket"),
        Err(e) => format!("{e:#}"),
    };
    assert!(error.contains("AWS_S3_BUCKET") && error.contains("no-such-bucket"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(30), "failed fast");

    // And an endpoint nobody answers on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nowhere = format!("http://127.0.0.1:{port}");
    let mut vars = moto.overrides("kalavpp-shop");
    vars[4] = ("AWS_ENDPOINT_URL", nowhere.as_str());
    let settings = test_settings(data_dir.path(), &database_url, &vars);
    let error = match Application::build(settings).await {
        Ok(_) => panic!("started without S3"),
        Err(e) => format!("{e:#}"),
    };
    assert!(error.contains("AWS_S3_BUCKET"), "{error}");
}
