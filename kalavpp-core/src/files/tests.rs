//! Unit tests of the keys and of the local file store.

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::local::sweep_stale_temp_files;
use super::*;

fn store() -> (tempfile::TempDir, LocalFileStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileStore::new(dir.path().join("files")).unwrap();
    (dir, store)
}

#[test]
fn new_key_is_generated_and_valid() {
    let a = new_key("products", "jpg");
    let b = new_key("products", "jpg");
    assert_ne!(a, b);
    assert!(a.starts_with("products/") && std::path::Path::new(&a).extension().is_some_and(|ext| ext == "jpg"));
    assert_eq!(a.len(), "products/".len() + 32 + ".jpg".len());
    validate_key(&a).unwrap();
}

#[test]
fn invalid_keys_are_refused() {
    let long = format!("a/{}", "b".repeat(MAX_KEY_LEN));
    for key in [
        "",
        "../etc/passwd",
        "a/../../etc/passwd",
        "..",
        "./a",
        "/abs",
        "a//b",
        "a/",
        "A.PNG",
        "a\\b",
        "a b",
        "a\0b",
        "é.png",
        "~tmp/x.part",
        long.as_str(),
    ] {
        assert!(matches!(validate_key(key), Err(FileError::InvalidKey(_))), "{key:?} accepted");
    }
    for key in ["a", "products/abc.jpg", "a-b/c.d/e_f", "x/y/z/1.webp"] {
        validate_key(key).unwrap();
    }
}

#[test]
fn stale_temp_files_are_swept_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let temp = dir.path().join(TEMP_DIR);
    std::fs::create_dir_all(&temp).unwrap();
    std::fs::write(temp.join("old.part"), b"left by a crash").unwrap();
    assert_eq!(
        sweep_stale_temp_files(&temp, std::time::Duration::from_hours(1)),
        0,
        "fresh files stay"
    );
    assert_eq!(sweep_stale_temp_files(&temp, std::time::Duration::ZERO), 1);
    assert!(std::fs::read_dir(&temp).unwrap().next().is_none());
}

#[tokio::test]
async fn put_exists_delete() {
    let (_dir, store) = store();
    let key = "products/ab/c.jpg";
    assert!(!store.exists(key).await.unwrap());
    store.put(key, Bytes::from_static(b"hello")).await.unwrap();
    assert!(store.exists(key).await.unwrap());
    let path = store.local_path(key).unwrap();
    assert!(path.starts_with(store.root()));
    assert_eq!(std::fs::read(&path).unwrap(), b"hello");

    // Replacing is atomic and leaves no temp file behind.
    store.put(key, Bytes::from_static(b"again")).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"again");
    assert_eq!(std::fs::read_dir(store.root().join(TEMP_DIR)).unwrap().count(), 0);

    store.delete(key).await.unwrap();
    assert!(!store.exists(key).await.unwrap());
    // Deleting a missing file is fine.
    store.delete(key).await.unwrap();
    store.delete("never/there.png").await.unwrap();
    // A directory is not a file.
    assert!(!store.exists("products").await.unwrap());
    // A key under a file is simply missing.
    store.put("f", Bytes::from_static(b"x")).await.unwrap();
    assert!(!store.exists("f/g").await.unwrap());
}

#[tokio::test]
async fn meta_and_ranges_of_a_local_file() {
    let (_dir, store) = store();
    assert_eq!(store.meta("a/b.bin").await.unwrap(), None);
    store.put("a/b.bin", Bytes::from_static(b"0123456789")).await.unwrap();
    let meta = store.meta("a/b.bin").await.unwrap().expect("stored");
    assert_eq!(meta.size, 10);
    assert!(meta.last_modified.is_some());
    let read = |range| async {
        let chunks: Vec<_> = store.read_range("a/b.bin", range).await.unwrap().collect().await;
        chunks.into_iter().flat_map(Result::unwrap).collect::<Vec<u8>>()
    };
    assert_eq!(read(2..5).await, b"234");
    assert_eq!(read(0..10).await, b"0123456789");
    assert_eq!(store.meta("a").await.unwrap(), None, "a directory is no file");
    assert!(matches!(store.meta("../x").await, Err(FileError::InvalidKey(_))));
}

#[tokio::test]
async fn temp_file_then_put_file() {
    let (_dir, store) = store();
    let (path, mut file) = store.temp_file().await.unwrap();
    assert!(path.starts_with(store.root()));
    file.write_all(b"streamed upload").await.unwrap();
    file.sync_all().await.unwrap();
    drop(file);

    let (other, _) = store.temp_file().await.unwrap();
    assert_ne!(path, other);
    tokio::fs::remove_file(&other).await.unwrap();

    store.put_file("assets/x/file.zip", &path).await.unwrap();
    assert!(!path.exists(), "the temp file is moved, not copied");
    assert!(store.exists("assets/x/file.zip").await.unwrap());
    assert_eq!(
        std::fs::read(store.local_path("assets/x/file.zip").unwrap()).unwrap(),
        b"streamed upload"
    );
}

#[tokio::test]
async fn put_file_from_outside_the_store() {
    let (dir, store) = store();
    let outside = dir.path().join("outside.bin");
    std::fs::write(&outside, b"data").unwrap();
    store.put_file("a/b.bin", &outside).await.unwrap();
    assert_eq!(std::fs::read(store.local_path("a/b.bin").unwrap()).unwrap(), b"data");
    assert!(matches!(store.put_file("a/c.bin", &outside).await, Err(FileError::Io(_))));
    assert!(!store.exists("a/c.bin").await.unwrap());
}

#[tokio::test]
async fn store_methods_refuse_invalid_keys() {
    let (dir, store) = store();
    let outside = dir.path().join("outside.bin");
    std::fs::write(&outside, b"data").unwrap();
    for key in ["../etc/passwd", "/abs", "a//b", "A.PNG", ""] {
        assert!(matches!(
            store.put(key, Bytes::from_static(b"x")).await,
            Err(FileError::InvalidKey(_))
        ));
        assert!(matches!(store.put_file(key, &outside).await, Err(FileError::InvalidKey(_))));
        assert!(matches!(store.delete(key).await, Err(FileError::InvalidKey(_))));
        assert!(matches!(store.exists(key).await, Err(FileError::InvalidKey(_))));
        assert!(store.local_path(key).is_none());
    }
    assert!(outside.exists());
    assert!(!dir.path().join("etc").exists());
}
