//! `pai remind`: reminders from the terminal. They fire while `pai serve`
//! runs (live stream, webhook, the conversation); `pai remind list` shows them.

use anyhow::bail;
use chrono::Utc;
use pai_assistant::reminders::{ScheduleError, schedule_reminder};
use pai_core::store::ReminderId;

use crate::config::Config;

#[derive(clap::Subcommand)]
pub enum RemindCommand {
    /// Schedule a reminder: `pai remind add "엄마한테 전화하기" --when "내일 오전 9시"`.
    Add {
        /// What to be reminded of.
        text: String,
        /// When, in Korean or English ("30분 뒤", "every Monday 8am", "2026-12-03 15:00"),
        /// read in your timezone (setting `timezone`).
        #[arg(long)]
        when: String,
    },
    /// Your reminders: scheduled ones first, soonest first.
    List,
    /// Cancel a scheduled reminder.
    Cancel { id: i64 },
}

pub async fn run(config: &Config, cmd: RemindCommand) -> anyhow::Result<()> {
    let memory = super::open_memory(config).await?;
    let (store, user) = (&*memory.store, memory.user);
    let tz: chrono_tz::Tz = store.user(user).await?.timezone.parse().unwrap_or(chrono_tz::UTC);
    match cmd {
        RemindCommand::Add { text, when } => {
            match schedule_reminder(store, user, &text, &when, None, Utc::now()).await {
                Ok(r) => {
                    let next = r.next_at.map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string());
                    let repeat = r.rule.as_deref().map(|r| format!(", repeating ({r})")).unwrap_or_default();
                    println!("Reminder {}: \"{}\" at {}{repeat}", r.id, r.text, next.unwrap_or_default());
                }
                Err(ScheduleError::Unclear(q)) => bail!("{q}"),
                Err(ScheduleError::BadTime(r) | ScheduleError::BadText(r)) => bail!("{r}"),
                Err(ScheduleError::Store(e)) => return Err(e.into()),
            }
        }
        RemindCommand::List => {
            let reminders = store.reminders(user).await?;
            if reminders.is_empty() {
                println!("No reminders. Add one with `pai remind add TEXT --when WHEN`.");
            }
            for r in reminders {
                let next = r.next_at.map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string());
                println!(
                    "{:>5}  {:9}  {:16}  {}  ({})",
                    r.id,
                    r.state.as_str(),
                    next.unwrap_or_else(|| "-".into()),
                    r.text,
                    r.phrase
                );
            }
        }
        RemindCommand::Cancel { id } => {
            let r = store.cancel_reminder(user, ReminderId(id)).await?;
            println!("Cancelled reminder {}: \"{}\"", r.id, r.text);
        }
    }
    Ok(())
}
