//! `pai migrate`: move a SQLite database into PostgreSQL, verified.

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use pai_store::Database;

use crate::config::Config;

#[derive(clap::Args)]
pub struct MigrateArgs {
    /// The database to copy from: sqlite://PATH (default: the configured database).
    #[arg(long, value_name = "URL")]
    from: Option<String>,
    /// The empty PostgreSQL database to copy into: postgres://USER[:PASSWORD]@HOST[:PORT]/DB.
    #[arg(long, value_name = "URL")]
    to: String,
}

/// Copies everything (users, keys, sessions, conversations, memories with
/// their history and decisions, jobs, documents, reminders, vectors) with its
/// ids, then compares each table's row count and checksum on both sides. The
/// copy is one transaction: on any error the target stays empty.
pub async fn run(config: &Config, args: MigrateArgs) -> anyhow::Result<()> {
    let from = match &args.from {
        Some(url) => Database::parse(url)?,
        None => config.database()?,
    };
    let to = Database::parse(&args.to)?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>24} [{bar:30}] {pos}/{len}").expect("valid template").progress_chars("=> "),
    );
    let report = pai_store::copy_to_postgres::copy(&from, &to, |table, done, total| {
        bar.set_message(table.to_string());
        bar.set_length(total);
        bar.set_position(done);
    })
    .await
    .with_context(|| format!("migrating {} to {}", from.display(), to.display()))?;
    bar.finish_and_clear();
    println!("{:<26} {:>10}  sha256 (same in both)", "table", "rows");
    for t in &report {
        println!("{:<26} {:>10}  {}", t.table, t.rows, &t.checksum[..16]);
    }
    let rows: u64 = report.iter().map(|t| t.rows).sum();
    println!(
        "Copied {rows} rows in {} tables from {} to {}; counts and checksums match.",
        report.len(),
        from.display(),
        to.display()
    );
    println!("Use it with: pai --database '{}' serve", to.display());
    Ok(())
}
