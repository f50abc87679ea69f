//! `pull` against a loopback server: full download, resume, checksum and errors.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pai_core::Error;
use pai_engine::pull::{self, PullSource};
use sha2::{Digest, Sha256};
use support::{Response, TestServer};

/// A small but valid GGUF (header and one string) followed by filler "weights".
fn fake_gguf() -> Vec<u8> {
    let mut out = b"GGUF".to_vec();
    out.extend(3u32.to_le_bytes());
    out.extend(0u64.to_le_bytes());
    out.extend(1u64.to_le_bytes());
    let (key, val) = ("general.architecture", "llama");
    out.extend((key.len() as u64).to_le_bytes());
    out.extend(key.as_bytes());
    out.extend(8u32.to_le_bytes());
    out.extend((val.len() as u64).to_le_bytes());
    out.extend(val.as_bytes());
    out.extend((0..200_000u32).map(|i| (i * 7 % 251) as u8));
    out
}

fn sha(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Serves `content` with Range support; the first response is cut short when `cut_first`.
async fn file_server(content: Vec<u8>, cut_first: bool) -> TestServer {
    let content = Arc::new(content);
    let cut_done = Arc::new(AtomicBool::new(!cut_first));
    TestServer::start(move |req| {
        if !req.path.ends_with("/model.gguf") {
            return Response::new(404, "not found");
        }
        let start = req
            .header("range")
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok());
        let mut resp = match start {
            Some(s) if s >= content.len() => return Response::new(416, ""),
            Some(s) => Response::new(206, content[s..].to_vec())
                .header("content-range", &format!("bytes {s}-{}/{}", content.len() - 1, content.len())),
            None => Response::new(200, content.to_vec()),
        };
        if !cut_done.swap(true, Ordering::SeqCst) {
            resp.cut_after = Some(content.len() / 3);
        }
        resp
    })
    .await
}

/// A models directory that does not exist yet (pulling creates it).
fn temp_dir(name: &str) -> std::path::PathBuf {
    pai_testkit::scratch_dir(&format!("pull-{name}")).join("models")
}

#[tokio::test]
async fn downloads_verifies_and_installs_via_hf_source() {
    let content = fake_gguf();
    let server = file_server(content.clone(), false).await;
    let dir = temp_dir("full");
    let source = pull::resolve("hf:someone/some-repo/model.gguf", &server.base).unwrap();
    let mut last = None;
    let path = pull::pull(&source, &dir, Some(&sha(&content)), |p| last = Some(p)).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), content);
    assert_eq!(path, dir.join("model.gguf"));
    assert!(!dir.join("model.gguf.part").exists());
    let last = last.unwrap();
    assert_eq!((last.downloaded, last.total), (content.len() as u64, Some(content.len() as u64)));
    assert_eq!(server.requests()[0].path, "/someone/some-repo/resolve/main/model.gguf");
}

#[tokio::test]
async fn an_interrupted_download_resumes_with_a_range_request() {
    let content = fake_gguf();
    let server = file_server(content.clone(), true).await;
    let dir = temp_dir("resume");
    let source =
        PullSource { url: format!("{}/files/model.gguf", server.base), file_name: "model.gguf".into(), bearer: None };
    let err = pull::pull(&source, &dir, Some(&sha(&content)), |_| {}).await.unwrap_err();
    assert!(matches!(&err, Error::Unavailable { message, .. } if message.contains("resume")), "{err:?}");
    let partial = std::fs::metadata(dir.join("model.gguf.part")).unwrap().len();
    assert!(partial > 0 && partial < content.len() as u64);
    assert!(!dir.join("model.gguf").exists(), "nothing installed from a partial download");

    let path = pull::pull(&source, &dir, Some(&sha(&content)), |_| {}).await.unwrap();
    assert_eq!(std::fs::read(path).unwrap(), content);
    let second = &server.requests()[1];
    assert_eq!(second.header("range"), Some(format!("bytes={partial}-").as_str()));
}

#[tokio::test]
async fn a_checksum_mismatch_installs_nothing() {
    let content = fake_gguf();
    let server = file_server(content.clone(), false).await;
    let dir = temp_dir("sha");
    let source =
        PullSource { url: format!("{}/model.gguf", server.base), file_name: "model.gguf".into(), bearer: None };
    let wrong = "0".repeat(64);
    let err = pull::pull(&source, &dir, Some(&wrong), |_| {}).await.unwrap_err();
    assert!(matches!(&err, Error::Invalid { message: m, .. } if m.contains("checksum mismatch")), "{err:?}");
    assert!(!dir.join("model.gguf").exists());
    assert!(!dir.join("model.gguf.part").exists());
    let err = pull::pull(&source, &dir, Some("abc"), |_| {}).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }));
}

#[tokio::test]
async fn missing_files_and_non_gguf_answers_are_refused() {
    let server = TestServer::start(|req| {
        if req.path.ends_with("page.gguf") { Response::new(200, "<html>login</html>") } else { Response::new(404, "") }
    })
    .await;
    let dir = temp_dir("errors");
    let missing = PullSource { url: format!("{}/nope.gguf", server.base), file_name: "nope.gguf".into(), bearer: None };
    assert!(matches!(pull::pull(&missing, &dir, None, |_| {}).await.unwrap_err(), Error::NotFound(_)));
    let page = PullSource { url: format!("{}/page.gguf", server.base), file_name: "page.gguf".into(), bearer: None };
    let err = pull::pull(&page, &dir, None, |_| {}).await.unwrap_err();
    assert!(matches!(&err, Error::Invalid { message: m, .. } if m.contains("GGUF")), "{err:?}");
    assert!(!dir.join("page.gguf").exists() && !dir.join("page.gguf.part").exists());
}
