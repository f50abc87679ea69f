//! `pai model list|pull`.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use pai_engine::{catalog, pull};

use crate::config::Config;

#[derive(clap::Subcommand)]
pub enum ModelCommand {
    /// Show the models in the models directory, their kind and size.
    List,
    /// Download a GGUF model: an http(s) URL or hf:OWNER/REPO/FILE.gguf[@REVISION].
    /// An interrupted download resumes where it stopped.
    Pull {
        source: String,
        /// Expected sha256 of the file; the download is refused if it differs.
        #[arg(long)]
        sha256: Option<String>,
    },
}

pub async fn run(config: &Config, cmd: ModelCommand) -> anyhow::Result<()> {
    match cmd {
        ModelCommand::List => {
            let dirs = config.model_dirs();
            let mut any = false;
            for dir in dirs.iter().filter(|d| d.is_dir()) {
                let models = catalog::installed(dir)?;
                if models.is_empty() {
                    continue;
                }
                any = true;
                println!("{}", dir.display());
                list(config, models);
            }
            if !any {
                let places: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
                println!("no models in {}; run `make fetch-models` or `pai model pull URL`", places.join(" or "));
            }
        }
        ModelCommand::Pull { source, sha256 } => {
            let source = pull::resolve(&source, &config.hf_endpoint)?;
            let bar = ProgressBar::new(0).with_style(
                ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                    .expect("static template")
                    .progress_chars("=> "),
            );
            bar.set_message(source.file_name.clone());
            bar.enable_steady_tick(Duration::from_millis(200));
            let path = pull::pull(&source, &config.models_dir(), sha256.as_deref(), |p| {
                if let Some(total) = p.total {
                    bar.set_length(total);
                }
                bar.set_position(p.downloaded);
            })
            .await;
            bar.finish_and_clear();
            let path = path?;
            println!("installed {}", path.display());
        }
    }
    Ok(())
}

/// One line per model: name, kind, architecture, size, and which default it is.
fn list(config: &Config, models: Vec<catalog::InstalledModel>) {
    for m in models {
        let name = m.path.file_name().unwrap_or_default().to_string_lossy();
        let mut marks = Vec::new();
        if name == config.chat_model {
            marks.push("default chat");
        }
        if name == config.embedding_model {
            marks.push("default embedding");
        }
        let marks = if marks.is_empty() { String::new() } else { format!("  ({})", marks.join(", ")) };
        match m.detail {
            Ok((kind, arch)) => {
                println!("  {name:<44} {:<9} {arch:<12} {:>9}{marks}", kind.as_str(), human_size(m.size))
            }
            Err(why) => println!("  {name:<44} unusable: {why}"),
        }
    }
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
