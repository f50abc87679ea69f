//! `pai user` and `pai key`: accounts and API keys, straight on the data
//! directory (the server need not run).

use std::io::{IsTerminal, Read};

use anyhow::{Context, bail};
use pai_core::accounts::KeyId;
use pai_core::store::{Store, User};
use pai_server::secrets;

use crate::config::Config;

#[derive(clap::Subcommand)]
pub enum UserCommand {
    /// Create a user who can log in to the server.
    Add {
        name: String,
        /// May manage other users.
        #[arg(long)]
        admin: bool,
        /// Read the password from standard input instead of asking.
        #[arg(long)]
        password_stdin: bool,
        /// The user's IANA time zone (default: the `timezone` setting, else the system's).
        #[arg(long)]
        timezone: Option<String>,
    },
    /// Set a user's password.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
}

#[derive(clap::Subcommand)]
pub enum KeyCommand {
    /// Create an API key for a user; it is printed once and stored hashed.
    Create {
        #[arg(long)]
        user: String,
        /// A label to tell keys apart ("laptop", "home assistant").
        #[arg(long, default_value = "API key")]
        name: String,
    },
    /// List a user's keys (prefixes only).
    List {
        #[arg(long)]
        user: String,
    },
    /// Revoke a key by id.
    Revoke {
        #[arg(long)]
        user: String,
        id: i64,
    },
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading the password from standard input")?;
        return Ok(s.trim_end_matches(['\n', '\r']).to_string());
    }
    let first = rpassword::prompt_password("Password: ")?;
    let again = rpassword::prompt_password("Again: ")?;
    if first != again {
        bail!("the passwords differ; nothing changed");
    }
    Ok(first)
}

async fn find(store: &dyn Store, name: &str) -> anyhow::Result<User> {
    store.user_by_name(name).await?.with_context(|| format!("no user called {name:?} (pai user list)"))
}

pub async fn run_user(config: &Config, cmd: UserCommand) -> anyhow::Result<()> {
    let store = super::open_accounts(config).await?;
    match cmd {
        UserCommand::Add { name, admin, password_stdin, timezone } => {
            let tz = timezone.unwrap_or_else(|| config.timezone());
            pai_assistant::extract::zone(&tz)?;
            let password = read_password(password_stdin)?;
            let hash = secrets::hash_password(password).await?;
            let user = store.create_account(&name, &tz, Some(&hash), admin).await?;
            println!(
                "Created user {} (id {}{}), time zone {}.",
                user.name,
                user.id,
                if admin { ", admin" } else { "" },
                tz
            );
        }
        UserCommand::Passwd { name, password_stdin } => {
            let user = find(&*store, &name).await?;
            let hash = secrets::hash_password(read_password(password_stdin)?).await?;
            store.set_password(user.id, &hash).await?;
            println!("Password of {} changed.", user.name);
        }
        UserCommand::List => {
            for u in store.users().await? {
                let flags = [(u.admin, "admin"), (u.disabled, "disabled")]
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, f)| *f)
                    .collect::<Vec<_>>()
                    .join(", ");
                println!("{:>4}  {:20}  {:20}  {flags}", u.id, u.name, u.timezone);
            }
        }
    }
    Ok(())
}

pub async fn run_key(config: &Config, cmd: KeyCommand) -> anyhow::Result<()> {
    let store = super::open_accounts(config).await?;
    match cmd {
        KeyCommand::Create { user, name } => {
            let user = find(&*store, &user).await?;
            let (key, prefix) = secrets::new_api_key();
            let record = store.create_api_key(user.id, &name, &prefix, &secrets::digest(&key)).await?;
            eprintln!("API key {} for {} (shown only now; store it safely):", record.id, user.name);
            println!("{key}");
        }
        KeyCommand::List { user } => {
            let user = find(&*store, &user).await?;
            for k in store.api_keys(user.id).await? {
                let state = match (k.revoked_at, k.last_used_at) {
                    (Some(t), _) => format!("revoked {}", t.format("%Y-%m-%d")),
                    (None, Some(t)) => format!("last used {}", t.format("%Y-%m-%d %H:%M")),
                    (None, None) => "never used".into(),
                };
                println!("{:>4}  {}…  {:20}  {state}", k.id, k.prefix, k.name);
            }
        }
        KeyCommand::Revoke { user, id } => {
            let user = find(&*store, &user).await?;
            store.revoke_api_key(user.id, KeyId(id)).await?;
            println!("Key {id} revoked.");
        }
    }
    Ok(())
}
