//! Downloading model files: resumable, verified, never half-installed.
//!
//! A download goes to `NAME.part` next to its destination; an interrupted one
//! resumes with an HTTP Range request. Only after the checksum (when given)
//! and the header check (a GGUF model, or a whisper.cpp speech model) pass is
//! it renamed to `NAME`.

use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use pai_core::Error;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::gguf;

/// Default host for `hf:` sources; `PAI_HF_ENDPOINT` points elsewhere (a mirror, a test server).
pub const HF_ENDPOINT: &str = "https://huggingface.co";

/// Where to download from and the file name to install under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullSource {
    pub url: String,
    pub file_name: String,
    /// Sent as `Authorization: Bearer …` (a hub token for gated repositories).
    pub bearer: Option<String>,
}

/// Accepts `http(s)://…/file.gguf` or `hf:owner/repo/path/file.gguf[@revision]`.
pub fn resolve(source: &str, hf_endpoint: &str) -> Result<PullSource, Error> {
    let (url, path_part) = if let Some(rest) = source.strip_prefix("hf:") {
        let (path, revision) = rest.split_once('@').unwrap_or((rest, "main"));
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        if parts.len() < 3 {
            return Err(Error::invalid(format!(
                "`{source}` is not hf:OWNER/REPO/FILE.gguf (e.g. hf:bartowski/Qwen2.5-1.5B-Instruct-GGUF/Qwen2.5-1.5B-Instruct-Q4_K_M.gguf)"
            )));
        }
        let url = format!(
            "{}/{}/{}/resolve/{revision}/{}",
            hf_endpoint.trim_end_matches('/'),
            parts[0],
            parts[1],
            parts[2..].join("/")
        );
        (url, parts[parts.len() - 1].to_string())
    } else if source.starts_with("http://") || source.starts_with("https://") {
        let path = source.split(['?', '#']).next().unwrap_or(source);
        (source.to_string(), path.rsplit('/').next().unwrap_or_default().to_string())
    } else {
        return Err(Error::invalid(format!("`{source}` is neither an http(s):// URL nor hf:OWNER/REPO/FILE")));
    };
    let file_name = path_part.trim().to_string();
    if file_name.is_empty() || file_name.starts_with('.') || file_name.contains(['/', '\\']) {
        return Err(Error::invalid(format!("cannot tell a file name from `{source}`")));
    }
    Ok(PullSource { url, file_name, bearer: None })
}

/// Where a catalog model is downloaded from: `hf:{repo}/{file}`, with the hub token.
pub fn hub_source(repo: &str, file: &str, hf_endpoint: &str, token: Option<&str>) -> Result<PullSource, Error> {
    let source = resolve(&format!("hf:{repo}/{file}"), hf_endpoint)?;
    Ok(PullSource { bearer: token.map(str::to_string), ..source })
}

/// The error for a hub or server that refused `url`: a login, a wrong name, or unavailable.
fn refused(url: &str, status: reqwest::StatusCode, missing: &str) -> Error {
    match status.as_u16() {
        401 | 403 => Error::Unauthorized(format!(
            "{url} answered {status}: it needs a login (accept the licence on the hub, then set hf_token or HF_TOKEN)"
        )),
        404 => Error::NotFound(format!("{url} answered 404: {missing}")),
        _ => Error::unavailable(format!("{url} answered {status}")),
    }
}

/// The sha256 the hub publishes for `file` in `repo`: the Git LFS object id
/// that the hub's tree API lists (`GET /api/models/{repo}/tree/main`).
/// A download is verified against it, so a corrupted or substituted file is refused.
pub async fn hub_sha256(repo: &str, file: &str, hf_endpoint: &str, token: Option<&str>) -> Result<String, Error> {
    #[derive(serde::Deserialize)]
    struct Entry {
        path: String,
        lfs: Option<Lfs>,
    }
    #[derive(serde::Deserialize)]
    struct Lfs {
        oid: String,
    }
    let url = format!("{}/api/models/{repo}/tree/main", hf_endpoint.trim_end_matches('/'));
    let mut req = crate::remote::http_client()?.get(&url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.map_err(|e| Error::unavailable(format!("cannot reach {url}: {e}")))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(refused(&url, status, &format!("the hub has no repository {repo}")));
    }
    let entries: Vec<Entry> =
        resp.json().await.map_err(|e| Error::unavailable(format!("{url} did not answer with a file list: {e}")))?;
    let entry = entries
        .into_iter()
        .find(|e| e.path == file)
        .ok_or_else(|| Error::NotFound(format!("{repo} has no file {file} on its main branch")))?;
    let oid = entry.lfs.map(|l| l.oid.to_ascii_lowercase()).unwrap_or_default();
    if oid.len() != 64 || !oid.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::unavailable(format!(
            "{url} publishes no sha256 for {file}; refusing an unverified download"
        )));
    }
    Ok(oid)
}

/// Progress of a running download.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub downloaded: u64,
    pub total: Option<u64>,
}

/// Downloads `source` into `dir`, resuming a previous partial download.
/// Returns the installed path. A file already installed under that name is
/// kept unless `expected_sha256` is given and does not match.
pub async fn pull(
    source: &PullSource,
    dir: &Path,
    expected_sha256: Option<&str>,
    mut progress: impl FnMut(Progress),
) -> Result<PathBuf, Error> {
    let expected = expected_sha256.map(|s| s.trim().to_ascii_lowercase());
    if let Some(e) = &expected {
        if e.len() != 64 || !e.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::invalid(format!("`{e}` is not a sha256 (64 hex digits)")));
        }
    }
    let dest = dir.join(&source.file_name);
    if dest.exists() {
        match &expected {
            Some(e) if &sha256_file(&dest).await? != e => {}
            _ => return Ok(dest),
        }
    }
    tokio::fs::create_dir_all(dir).await.map_err(|e| io_error(dir, e))?;
    let part = dir.join(format!("{}.part", source.file_name));
    let have = tokio::fs::metadata(&part).await.map(|m| m.len()).unwrap_or(0);

    let client = crate::remote::http_client()?;
    let mut req = client.get(&source.url);
    if let Some(token) = &source.bearer {
        req = req.bearer_auth(token);
    }
    if have > 0 {
        req = req.header(reqwest::header::RANGE, format!("bytes={have}-"));
    }
    let resp = req.send().await.map_err(|e| Error::unavailable(format!("cannot reach {}: {e}", source.url)))?;
    let status = resp.status();
    let (mut file, start) = if status == reqwest::StatusCode::PARTIAL_CONTENT {
        let file = tokio::fs::OpenOptions::new().append(true).open(&part).await.map_err(|e| io_error(&part, e))?;
        (Some(file), have)
    } else if status == reqwest::StatusCode::RANGE_NOT_SATISFIABLE && have > 0 {
        (None, have) // the partial file already holds everything
    } else if status.is_success() {
        (Some(tokio::fs::File::create(&part).await.map_err(|e| io_error(&part, e))?), 0)
    } else {
        return Err(refused(&source.url, status, "check the owner, repository and file name"));
    };
    if let Some(file) = file.as_mut() {
        let total = resp.content_length().map(|len| len + start);
        let mut downloaded = start;
        progress(Progress { downloaded, total });
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    // Land what arrived, so the next run resumes from the true length.
                    file.flush().await.map_err(|e| io_error(&part, e))?;
                    return Err(Error::unavailable(format!(
                        "download broke off after {downloaded} bytes ({e}); run the same command again to resume"
                    )));
                }
            };
            file.write_all(&chunk).await.map_err(|e| io_error(&part, e))?;
            downloaded += chunk.len() as u64;
            progress(Progress { downloaded, total });
        }
        file.flush().await.map_err(|e| io_error(&part, e))?;
        file.sync_all().await.map_err(|e| io_error(&part, e))?;
        if let Some(total) = total.filter(|&t| t != downloaded) {
            return Err(Error::unavailable(format!(
                "download ended at {downloaded} of {total} bytes; run the same command again to resume"
            )));
        }
    }

    if let Some(e) = &expected {
        let got = sha256_file(&part).await?;
        if &got != e {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(Error::invalid(format!(
                "checksum mismatch for {}: expected {e}, got {got}; the partial file was removed, run again to download afresh",
                source.file_name
            )));
        }
    }
    if !is_whisper_model(&part)
        && let Err(e) = gguf::read_info(&part)
    {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(Error::invalid(format!(
            "{} did not deliver a GGUF model or a whisper.cpp speech model: {e}",
            source.url
        )));
    }
    tokio::fs::rename(&part, &dest).await.map_err(|e| io_error(&dest, e))?;
    Ok(dest)
}

/// Whether the file is a whisper.cpp speech model (its ggml format begins
/// with the magic 0x67676d6c, little-endian), as `speech_model` reads.
pub fn is_whisper_model(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == *b"lmgg"
}

/// Hex sha256 of a file, computed off the async threads.
pub async fn sha256_file(path: &Path) -> Result<String, Error> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path).map_err(|e| io_error(&path, e))?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher).map_err(|e| io_error(&path, e))?;
        Ok(format!("{:x}", hasher.finalize()))
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))?
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::unavailable(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_hf_and_urls() {
        let s = resolve("hf:owner/repo/sub/model.Q4_K_M.gguf", "http://127.0.0.1:9/").unwrap();
        assert_eq!(s.url, "http://127.0.0.1:9/owner/repo/resolve/main/sub/model.Q4_K_M.gguf");
        assert_eq!(s.file_name, "model.Q4_K_M.gguf");
        let s = resolve("hf:o/r/m.gguf@v2", HF_ENDPOINT).unwrap();
        assert_eq!(s.url, "https://huggingface.co/o/r/resolve/v2/m.gguf");
        let s = resolve("https://example.org/x/y.gguf?download=true", HF_ENDPOINT).unwrap();
        assert_eq!(s.file_name, "y.gguf");
        for bad in ["hf:owner/model.gguf", "ftp://x/y.gguf", "https://example.org/", "model.gguf", "https://h/../"] {
            assert!(resolve(bad, HF_ENDPOINT).is_err(), "{bad}");
        }
    }
}
