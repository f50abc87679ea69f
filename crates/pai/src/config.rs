//! Settings: built-in defaults, then `$PAI_HOME/config.toml`, then `PAI_*`
//! environment variables, then command-line flags (each overriding the last).

use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use pai_engine::catalog::{DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Where downloaded models live. Default: `$PAI_HOME/models`.
    pub models_dir: Option<PathBuf>,
    /// Chat model: a file name in the models directory, or a path.
    pub chat_model: String,
    /// Embedding model: a file name in the models directory, or a path.
    pub embedding_model: String,
    /// Speech model (whisper.cpp's ggml) for `pai transcribe` and
    /// `/v1/audio/transcriptions`: a file name in the models directory, or a path.
    pub speech_model: String,
    /// CPU threads for local inference (default: all cores).
    pub threads: Option<usize>,
    /// CPU threads for the local embedding model (default 1: see LocalConfig).
    pub embedding_threads: Option<usize>,
    /// Conversations the local chat model decodes together under `pai serve`
    /// (default 4; the CLI always uses 1). Each slot holds a context window of KV cache.
    pub parallel: Option<usize>,
    /// RAM (MiB) for KV states of conversations pushed out of their slot (default 1024; 0: off).
    pub prompt_cache_mib: Option<usize>,
    /// Context window for the local chat model (default: the model's, capped at 4096).
    pub context_length: Option<u32>,
    /// Override the chat template with a llama.cpp built-in name (chatml, llama3, ...).
    pub chat_template: Option<String>,
    /// Use an OpenAI-compatible server for chat instead of the local model.
    pub remote_url: Option<String>,
    pub remote_api_key: Option<String>,
    pub remote_model: Option<String>,
    /// Host for `hf:` model sources and `pai model pull NAME`.
    pub hf_endpoint: String,
    /// Hugging Face token for gated repositories (Gemma); `HF_TOKEN` works too.
    pub hf_token: Option<String>,
    /// Where the data lives: `sqlite://PATH` (or a bare path) or
    /// `postgres://user[:password]@host[:port]/db`. Default: `$PAI_HOME/pai.db`.
    pub database: Option<String>,
    /// Whose memories the CLI uses (created on first use).
    pub user: String,
    /// The user's IANA time zone ("Asia/Seoul"); default: the system's.
    pub timezone: Option<String>,
    /// Where `pai serve` listens.
    pub addr: String,
    /// Folders whose documents `pai serve` keeps indexed for a user:
    /// `[[watch]] path = "~/Notes"` (`user` defaults to the `user` setting if that
    /// account exists, else to the first admin).
    pub watch: Vec<WatchedFolder>,
    /// Seconds between two passes over the watched folders.
    pub watch_interval_secs: u64,
    /// `pai serve` settings: `[server]` and `[server.limits]` in pai.toml,
    /// or e.g. PAI_SERVER__OPEN_SIGNUP, PAI_SERVER__LIMITS__REQUESTS_PER_MINUTE.
    pub server: pai_server::ServerSettings,
    /// The data directory (models, database, pai.toml); not a setting itself.
    #[serde(skip)]
    pub home: PathBuf,
    /// Set by `pai serve`: only a server decodes several conversations at once.
    #[serde(skip)]
    pub serving: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            models_dir: None,
            chat_model: DEFAULT_CHAT_MODEL.into(),
            embedding_model: DEFAULT_EMBEDDING_MODEL.into(),
            speech_model: pai_voice::DEFAULT_SPEECH_MODEL.into(),
            threads: None,
            embedding_threads: None,
            parallel: None,
            prompt_cache_mib: None,
            context_length: None,
            chat_template: None,
            remote_url: None,
            remote_api_key: None,
            remote_model: None,
            hf_endpoint: pai_engine::pull::HF_ENDPOINT.into(),
            hf_token: None,
            database: None,
            user: "me".into(),
            timezone: None,
            addr: "127.0.0.1:8080".into(),
            watch: Vec::new(),
            watch_interval_secs: 60,
            server: pai_server::ServerSettings::default(),
            home: PathBuf::new(),
            serving: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchedFolder {
    pub path: PathBuf,
    /// Whose documents they are; default: the `user` setting.
    #[serde(default)]
    pub user: Option<String>,
}

/// `$PAI_HOME`, default `~/.local/share/pai` (XDG data home).
pub fn pai_home() -> PathBuf {
    if let Some(home) = std::env::var_os("PAI_HOME") {
        return PathBuf::from(home);
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("pai")
}

impl Config {
    /// Defaults, then `pai.toml` in the data directory (`config.toml` too,
    /// its older name), then `PAI_*` variables (`__` nests: PAI_SERVER__OPEN_SIGNUP).
    pub fn load(data_dir: Option<PathBuf>) -> anyhow::Result<Config> {
        let home = data_dir.unwrap_or_else(pai_home);
        let file = home.join("pai.toml");
        let mut config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(home.join("config.toml")))
            .merge(Toml::file(&file))
            .merge(Env::prefixed("PAI_").ignore(&["home", "data_dir"]).split("__"))
            .extract()
            .with_context(|| format!("invalid settings in {} or a PAI_* environment variable", file.display()))?;
        config.home = home;
        Ok(config)
    }

    /// The hub token: the `hf_token` setting, else `HF_TOKEN` as the hub's own tools read it.
    pub fn hub_token(&self) -> Option<String> {
        self.hf_token.clone().or_else(|| std::env::var("HF_TOKEN").ok()).filter(|t| !t.trim().is_empty())
    }

    /// The settings file of the data directory, which `pai model use` edits.
    pub fn settings_file(&self) -> PathBuf {
        self.home.join("pai.toml")
    }

    /// Where `pai model pull` installs: `models_dir`, else the data directory's `models`.
    pub fn models_dir(&self) -> PathBuf {
        self.models_dir.clone().unwrap_or_else(|| self.home.join("models"))
    }

    /// Where models are looked for, in order: `models_dir` when set; else the
    /// data directory's `models`, then the default data directory's, where
    /// `make fetch-models` installs them — so `--data-dir DIR` keeps its own
    /// database without hiding the installed models.
    pub fn model_dirs(&self) -> Vec<PathBuf> {
        if let Some(dir) = &self.models_dir {
            return vec![dir.clone()];
        }
        let mut dirs = vec![self.home.join("models")];
        let installed = pai_home().join("models");
        if !dirs.contains(&installed) {
            dirs.push(installed);
        }
        dirs
    }

    /// A bare file name is looked up in the model directories (the first that
    /// has it; the first of them when none does, for the error); anything with
    /// a slash is a path.
    pub fn model_path(&self, name: &str) -> PathBuf {
        if Path::new(name).components().count() > 1 {
            return PathBuf::from(name);
        }
        let dirs = self.model_dirs();
        dirs.iter().map(|d| d.join(name)).find(|p| p.exists()).unwrap_or_else(|| dirs[0].join(name))
    }

    pub fn database(&self) -> anyhow::Result<pai_store::Database> {
        match &self.database {
            Some(url) => Ok(pai_store::Database::parse(url)?),
            None => Ok(pai_store::Database::Sqlite(self.home.join("pai.db"))),
        }
    }

    /// The configured zone, else the system's (`TZ`, /etc/timezone, /etc/localtime), else UTC.
    pub fn timezone(&self) -> String {
        if let Some(tz) = &self.timezone {
            return tz.clone();
        }
        let from_env = std::env::var("TZ").ok().map(|t| t.trim_start_matches(':').to_string());
        let from_file = std::fs::read_to_string("/etc/timezone").ok().map(|t| t.trim().to_string());
        let from_link = std::fs::read_link("/etc/localtime")
            .ok()
            .and_then(|p| p.to_str().and_then(|s| s.split("zoneinfo/").nth(1)).map(str::to_string));
        [from_env, from_file, from_link]
            .into_iter()
            .flatten()
            .find(|t| pai_assistant::extract::zone(t).is_ok())
            .unwrap_or_else(|| "UTC".into())
    }

    pub fn local(&self) -> pai_engine::LocalConfig {
        pai_engine::LocalConfig {
            threads: self.threads,
            embedding_threads: self.embedding_threads,
            parallel: if self.serving { Some(self.parallel.unwrap_or(4)) } else { Some(1) },
            prompt_cache_mib: self.prompt_cache_mib,
            context_length: self.context_length,
            chat_template: self.chat_template.clone(),
        }
    }
}
