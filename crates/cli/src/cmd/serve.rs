//! `serve` (the web front) and `user` (its accounts).

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use fedreport_access::{Accounts, NewAccount, Role};
use fedreport_forum::Forum;
use fedreport_store::Lake;
use fedreport_web::{AppState, ServeConfig, SessionKey};

use super::Outcome;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The lake: a folder or an s3:// / az:// / gs:// URL.
    #[arg(long, env = "FEDREPORT_LAKE")]
    lake: String,
    /// Address to listen on. Behind a reverse proxy keep it on loopback.
    #[arg(long, default_value = "127.0.0.1:8080", env = "FEDREPORT_LISTEN")]
    listen: SocketAddr,
    /// The key that signs session cookies (created, mode 0600, if missing).
    /// Every instance serving the lake needs the same file.
    #[arg(long, default_value = "fedreport-session.key", env = "FEDREPORT_SESSION_KEY")]
    session_key: PathBuf,
    /// Mark the session cookie Secure: set it when users reach the server over HTTPS.
    #[arg(long)]
    secure_cookies: bool,
    /// The public origin, e.g. https://reporting.example.org, trusted for form
    /// posts when a proxy rewrites Host (repeatable).
    #[arg(long = "trusted-origin", value_name = "URL")]
    trusted_origins: Vec<String>,
    /// Largest upload, in MiB.
    #[arg(long, default_value_t = 256)]
    upload_limit_mb: u64,
    /// Load the page templates from this folder and reload them when they change (for development).
    #[arg(long, value_name = "DIR")]
    dev_templates: Option<PathBuf>,
}

pub async fn serve(forum: &Forum, a: ServeArgs) -> Result<Outcome> {
    let lake = Lake::open(&a.lake)?;
    let key = SessionKey::load_or_create(&a.session_key)
        .with_context(|| format!("session key {}", a.session_key.display()))?;
    let config = ServeConfig {
        upload_limit: a.upload_limit_mb * 1024 * 1024,
        secure_cookies: a.secure_cookies,
        trusted_origins: a.trusted_origins,
        dev_templates: a.dev_templates,
        ..ServeConfig::default()
    };
    let state = AppState::new(lake.clone(), forum.clone(), config, key).map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("cannot listen on {}; is another server using it?", a.listen))?;
    let addr = listener.local_addr()?;
    if Accounts::new(&lake).list().await?.is_empty() {
        println!(
            "note: the lake has no accounts yet; add one with `fedreport user add NAME --role secretariat --lake {}`",
            lake.location()
        );
    }
    println!("fedreport serving {} on http://{addr} (Ctrl-C to stop)", lake.location());
    fedreport_web::serve(listener, state).await?;
    Ok(Outcome::Done)
}

#[derive(clap::Subcommand)]
pub enum UserCommand {
    /// Create an account; the password is read from standard input (one line) or FEDREPORT_PASSWORD.
    Add {
        username: String,
        /// focal-point, secretariat, co-chair or observer.
        #[arg(long)]
        role: String,
        /// The member a focal point acts for (registry code).
        #[arg(long)]
        member: Option<String>,
    },
    /// List the accounts.
    List,
    /// Disable an account: it can no longer sign in and its sessions end.
    Disable { username: String },
    /// Enable a disabled account.
    Enable { username: String },
    /// Set a new password (from standard input or FEDREPORT_PASSWORD); every session of the account ends.
    Reset { username: String },
}

#[derive(clap::Args)]
pub struct UserArgs {
    #[arg(long, env = "FEDREPORT_LAKE", global = true)]
    lake: Option<String>,
    #[command(subcommand)]
    command: UserCommand,
}

fn password() -> Result<String> {
    if let Ok(p) = std::env::var("FEDREPORT_PASSWORD") {
        return Ok(p);
    }
    eprintln!("password (one line on standard input):");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password")?;
    let p = line.trim_end_matches(['\r', '\n']).to_string();
    if p.is_empty() {
        bail!("no password given: type it on standard input or set FEDREPORT_PASSWORD");
    }
    Ok(p)
}

/// Who made a change: the operating-system user running the command.
fn operator() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))
}

pub async fn user(forum: &Forum, a: UserArgs) -> Result<Outcome> {
    let lake =
        Lake::open(a.lake.as_deref().context("--lake (or FEDREPORT_LAKE) names the lake whose accounts to manage")?)?;
    let accounts = Accounts::new(&lake);
    match a.command {
        UserCommand::Add { username, role, member } => {
            let new = NewAccount { username, role: Role::parse(&role)?, member, password: password()? };
            let account = accounts.add(new, forum.contract.registry(), &operator()).await?;
            println!("added {}", account.summary());
        }
        UserCommand::List => {
            let all = accounts.list().await?;
            if all.is_empty() {
                println!("no accounts yet; `fedreport user add NAME --role secretariat` makes the first");
            }
            all.iter().for_each(|a| println!("{}", a.summary()));
        }
        UserCommand::Disable { username } => println!("{}", accounts.disable(&username, &operator()).await?.summary()),
        UserCommand::Enable { username } => println!("{}", accounts.enable(&username, &operator()).await?.summary()),
        UserCommand::Reset { username } => {
            println!("{}", accounts.reset(&username, &password()?, &operator()).await?.summary())
        }
    }
    Ok(Outcome::Done)
}
