//! `pai bench`: local inference speed, in the shape of llama.cpp's llama-bench
//! (ppN = prompt processing of N tokens, tgN = generating N tokens), measured
//! through pai's own engine so the two can be compared (bench/engine.sh).

use crate::config::Config;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Prompt tokens to process.
    #[arg(long, default_value_t = 512)]
    pp: usize,
    /// Tokens to generate.
    #[arg(long, default_value_t = 128)]
    tg: usize,
    /// Repetitions; the median is reported (after one warm-up run).
    #[arg(long, short, default_value_t = 3)]
    repetitions: usize,
    /// Chat model file; default from settings.
    #[arg(long, short)]
    model: Option<String>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 }
}

pub async fn run(config: &Config, args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.repetitions > 0 && args.pp > 0 && args.tg > 0, "pp, tg and repetitions must be at least 1");
    let model = super::local_chat_model(config, args.model.as_deref())?;
    let model = std::sync::Arc::new(model);
    let runs = tokio::task::spawn_blocking({
        let model = model.clone();
        move || -> anyhow::Result<Vec<pai_engine::llama::BenchRun>> {
            model.bench(args.pp, args.tg)?; // warm-up: page in weights, size buffers
            (0..args.repetitions).map(|_| Ok(model.bench(args.pp, args.tg)?)).collect()
        }
    })
    .await??;
    let pp = median(runs.iter().map(|r| r.prompt_per_s).collect());
    let tg = median(runs.iter().map(|r| r.generate_per_s).collect());
    let threads = config.local().threads();
    if args.json {
        let out = serde_json::json!({
            "model": pai_core::ChatModel::id(model.as_ref()), "threads": threads,
            "pp": args.pp, "tg": args.tg, "repetitions": args.repetitions,
            "pp_tokens_per_s": pp, "tg_tokens_per_s": tg,
            "runs": runs.iter().map(|r| [r.prompt_per_s, r.generate_per_s]).collect::<Vec<_>>(),
        });
        println!("{out}");
    } else {
        println!(
            "model {} · {threads} threads · median of {}",
            pai_core::ChatModel::id(model.as_ref()),
            args.repetitions
        );
        println!("pp{:<6} {pp:>9.1} tokens/s", args.pp);
        println!("tg{:<6} {tg:>9.1} tokens/s", args.tg);
    }
    Ok(())
}
