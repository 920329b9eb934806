//! Accounts in the lake: one JSON object per version of an account, the
//! newest one current; failed logins beside them.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use fedreport_contract::Registry;
use fedreport_store::Lake;
use fedreport_store::lake::Created;
use fedreport_store::layout;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{AccessError, Result};

/// What an account is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A member's national focal point: its own returns only.
    FocalPoint,
    /// The secretariat: intake, runs, the board, every member.
    Secretariat,
    /// A co-chair's office: runs, tables and drafts.
    CoChair,
    /// Reads what the secretariat reads; changes nothing.
    Observer,
}

impl Role {
    /// Parse a role as people write it (`focal-point`, `secretariat`, `co-chair`, `observer`).
    pub fn parse(s: &str) -> Result<Role> {
        match s.replace('_', "-").to_ascii_lowercase().as_str() {
            "focal-point" => Ok(Role::FocalPoint),
            "secretariat" => Ok(Role::Secretariat),
            "co-chair" => Ok(Role::CoChair),
            "observer" => Ok(Role::Observer),
            _ => Err(AccessError::Invalid(format!(
                "role '{s}' is not one of: focal-point, secretariat, co-chair, observer"
            ))),
        }
    }

    /// The role in words.
    pub fn words(self) -> &'static str {
        match self {
            Role::FocalPoint => "focal point",
            Role::Secretariat => "secretariat",
            Role::CoChair => "co-chair",
            Role::Observer => "observer",
        }
    }
}

/// One version of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub username: String,
    pub role: Role,
    /// The member a focal point acts for.
    pub member: Option<String>,
    pub disabled: bool,
    /// argon2 PHC string.
    pub password: String,
    /// Raised when the password changes or the account is disabled: every
    /// session made before ends.
    pub session_epoch: u32,
    pub version: u32,
    pub changed_at: String,
    pub changed_by: String,
    /// What this version changed, in words.
    pub change: String,
}

impl Account {
    /// What a session is bound to: changes with the password and the epoch,
    /// so an old session stops working when either changes.
    pub fn session_hash(&self) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(self.password.as_bytes());
        h.update(self.session_epoch.to_le_bytes());
        h.update([u8::from(self.disabled)]);
        h.finalize().to_vec()
    }

    /// A line for `fedreport user list`.
    pub fn summary(&self) -> String {
        format!(
            "{:<24} {:<12} {:<6} {}  (version {}, {} by {})",
            self.username,
            self.role.words(),
            self.member.as_deref().unwrap_or("–"),
            if self.disabled { "DISABLED" } else { "active" },
            self.version,
            self.changed_at,
            self.changed_by
        )
    }
}

/// A new account as an administrator asks for it.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub role: Role,
    pub member: Option<String>,
    pub password: String,
}

/// What a login attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    Ok(Box<Account>),
    /// Unknown account or wrong password (people are told only that login failed).
    Failed,
    /// Too many recent failures: try again after this many seconds.
    Throttled {
        retry_after: u64,
    },
    Disabled,
}

/// Failed logins allowed in [`WINDOW_SECS`] before an account is throttled.
pub const MAX_FAILURES: usize = 5;
/// The throttling window.
pub const WINDOW_SECS: i64 = 15 * 60;
/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

/// Run argon2 work (19 MiB and tens of milliseconds a hash) off the async
/// threads, at most one hash per core at a time: a crowd signing in at once
/// queues instead of holding 19 MiB each (45 focal points at once peaked at
/// 899 MiB before this bound; docs/benchmarks.md).
async fn with_argon2<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    static CORES: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let cores = CORES.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
    });
    let _turn = cores.acquire().await.map_err(|e| AccessError::Hash(e.to_string()))?;
    tokio::task::spawn_blocking(work).await.map_err(|e| AccessError::Hash(e.to_string()))
}

/// The accounts of one lake.
#[derive(Debug, Clone)]
pub struct Accounts {
    lake: Lake,
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn hash(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AccessError::Hash(e.to_string()))
}

fn check_username(username: &str) -> Result<()> {
    let ok = (3..=64).contains(&username.len())
        && username.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
        && username.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(AccessError::Invalid(format!(
            "user name '{username}': use 3 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
        )))
    }
}

fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(AccessError::Invalid(format!("the password must have at least {MIN_PASSWORD} characters")));
    }
    Ok(())
}

/// A real hash of a random password, checked for unknown accounts so they
/// cost the same time as known ones.
fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash(&uuid::Uuid::new_v4().to_string()).unwrap_or_default())
}

impl Accounts {
    pub fn new(lake: &Lake) -> Accounts {
        Accounts { lake: lake.clone() }
    }

    /// The current version of an account.
    pub async fn get(&self, username: &str) -> Result<Option<Account>> {
        if check_username(username).is_err() {
            return Ok(None);
        }
        let mut latest: Option<(u32, String)> = None;
        for m in self.lake.list(&layout::account(username)).await? {
            let key = self.lake.rel(&m.location);
            let file = key.rsplit('/').next().unwrap_or_default();
            if let Some(v) = file.strip_prefix('v').and_then(|f| f.strip_suffix(".json")).and_then(|n| n.parse().ok())
                && latest.as_ref().is_none_or(|(l, _)| v > *l)
            {
                latest = Some((v, key));
            }
        }
        let Some((_, key)) = latest else { return Ok(None) };
        let bytes = self.lake.get(&key).await?;
        serde_json::from_slice(&bytes).map(Some).map_err(|source| AccessError::Json { key, source })
    }

    /// Every account, current versions, by name.
    pub async fn list(&self) -> Result<Vec<Account>> {
        let mut names: Vec<String> = self
            .lake
            .list(layout::ACCOUNTS)
            .await?
            .iter()
            .filter_map(|m| self.lake.rel(&m.location).split('/').nth(1).map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        let mut out = Vec::new();
        for n in names {
            if let Some(a) = self.get(&n).await? {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// The co-chairs who clear drafts: every enabled co-chair account, by name.
    pub async fn co_chairs(&self) -> Result<Vec<String>> {
        Ok(self
            .list()
            .await?
            .into_iter()
            .filter(|a| a.role == Role::CoChair && !a.disabled)
            .map(|a| a.username)
            .collect())
    }

    /// Write the next version; refused when someone else wrote it first.
    async fn write(&self, account: &Account) -> Result<()> {
        let key = layout::account_version(&account.username, account.version);
        let body =
            serde_json::to_vec_pretty(account).map_err(|source| AccessError::Json { key: key.clone(), source })?;
        match self.lake.put_new(&key, Bytes::from(body)).await? {
            Created::Written => Ok(()),
            Created::AlreadyExists => Err(AccessError::Invalid(format!(
                "account {} was changed by someone else at the same time; look again and retry",
                account.username
            ))),
        }
    }

    /// Create an account; refused when the name is taken.
    pub async fn add(&self, new: NewAccount, registry: &Registry, by: &str) -> Result<Account> {
        check_username(&new.username)?;
        check_password(&new.password)?;
        match (new.role, &new.member) {
            (Role::FocalPoint, Some(m)) if registry.is_reporting_member(m) => {}
            (Role::FocalPoint, Some(m)) => {
                return Err(AccessError::Invalid(format!(
                    "'{m}' is not a state or territory of the forum's registry; a focal point acts for one"
                )));
            }
            (Role::FocalPoint, None) => {
                return Err(AccessError::Invalid("a focal point needs --member, the member it acts for".into()));
            }
            (_, Some(_)) => {
                return Err(AccessError::Invalid(format!(
                    "only focal points are bound to a member; a {} account acts for the whole forum",
                    new.role.words()
                )));
            }
            (_, None) => {}
        }
        if self.get(&new.username).await?.is_some() {
            return Err(AccessError::Invalid(format!("there is already an account {}", new.username)));
        }
        let password = with_argon2(move || hash(&new.password)).await??;
        let account = Account {
            username: new.username,
            role: new.role,
            member: new.member,
            disabled: false,
            password,
            session_epoch: 1,
            version: 1,
            changed_at: stamp(now()),
            changed_by: by.to_string(),
            change: "created".into(),
        };
        self.write(&account).await?;
        Ok(account)
    }

    async fn change(&self, username: &str, by: &str, what: &str, f: impl FnOnce(&mut Account)) -> Result<Account> {
        let mut a = self.get(username).await?.ok_or_else(|| {
            AccessError::Invalid(format!("there is no account {username}; `fedreport user list` lists them"))
        })?;
        f(&mut a);
        a.version += 1;
        a.changed_at = stamp(now());
        a.changed_by = by.to_string();
        a.change = what.to_string();
        self.write(&a).await?;
        Ok(a)
    }

    /// Disable an account: its sessions end and it cannot log in.
    pub async fn disable(&self, username: &str, by: &str) -> Result<Account> {
        self.change(username, by, "disabled", |a| {
            a.disabled = true;
            a.session_epoch += 1;
        })
        .await
    }

    /// Enable a disabled account.
    pub async fn enable(&self, username: &str, by: &str) -> Result<Account> {
        self.change(username, by, "enabled", |a| a.disabled = false).await
    }

    /// Set a new password: every session of the account ends.
    pub async fn reset(&self, username: &str, password: &str, by: &str) -> Result<Account> {
        check_password(password)?;
        let owned = password.to_string();
        let phc = with_argon2(move || hash(&owned)).await??;
        self.change(username, by, "password reset", |a| {
            a.password = phc;
            a.session_epoch += 1;
        })
        .await
    }

    /// Recent failed logins of an account.
    async fn recent_failures(&self, username: &str, at: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>> {
        let mut out = Vec::new();
        for m in self.lake.list(&layout::login_failures(username)).await? {
            let key = self.lake.rel(&m.location);
            let file = key.rsplit('/').next().unwrap_or_default();
            let millis = file.split('-').next().and_then(|t| t.parse::<i64>().ok());
            if let Some(t) = millis.and_then(DateTime::from_timestamp_millis)
                && (at - t).num_seconds() < WINDOW_SECS
            {
                out.push(t);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Check a password. Unknown accounts cost the same time as known ones;
    /// failures are recorded in the lake, and after [`MAX_FAILURES`] in
    /// [`WINDOW_SECS`] the account is refused until the oldest one ages out.
    pub async fn login(&self, username: &str, password: &str) -> Result<LoginOutcome> {
        let at = now();
        let account = self.get(username).await?;
        if let Some(a) = &account {
            let failures = self.recent_failures(username, at).await?;
            if failures.len() >= MAX_FAILURES {
                let oldest = failures[failures.len() - MAX_FAILURES];
                let retry_after = (WINDOW_SECS - (at - oldest).num_seconds()).max(1) as u64;
                return Ok(LoginOutcome::Throttled { retry_after });
            }
            if a.disabled {
                return Ok(LoginOutcome::Disabled);
            }
        }
        let phc = match &account {
            Some(a) => a.password.clone(),
            None => with_argon2(|| decoy().to_string()).await?,
        };
        let given = password.to_string();
        let ok = with_argon2(move || Argon2::default().verify_password(given.as_bytes(), phc.as_str()).is_ok()).await?;
        match account {
            Some(a) if ok => Ok(LoginOutcome::Ok(Box::new(a))),
            Some(a) => {
                let rand = uuid::Uuid::new_v4().simple().to_string();
                let key =
                    format!("{}{}-{}.json", layout::login_failures(&a.username), at.timestamp_millis(), &rand[..8]);
                let body = format!("{{\"at\":\"{}\"}}", stamp(at));
                self.lake.put_new(&key, Bytes::from(body)).await?;
                Ok(LoginOutcome::Failed)
            }
            None => Ok(LoginOutcome::Failed),
        }
    }

    /// The session hash of an account, for checking a session on every request.
    pub fn hash_of(account: &Account) -> String {
        hex::encode(account.session_hash())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn lake() -> Lake {
        let store = Arc::new(object_store::memory::InMemory::new());
        Lake::from_store(store, url::Url::parse("memory:///").unwrap(), object_store::path::Path::from(""))
    }

    fn registry() -> Registry {
        Registry::parse(
            "code,name,kind,subregion\nAUS,Australia,state,Oceania\nIOM,International Organization for Migration,organisation,\n",
            "AUS\n",
        )
        .unwrap()
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn accounts_are_versions_and_passwords_are_hashed() {
        rt().block_on(async {
            let accounts = Accounts::new(&lake());
            let reg = registry();
            let new = |name: &str, role, member: Option<&str>| NewAccount {
                username: name.into(),
                role,
                member: member.map(str::to_string),
                password: "correct horse battery".into(),
            };
            let a = accounts.add(new("aus.focal", Role::FocalPoint, Some("AUS")), &reg, "admin").await.unwrap();
            assert!(a.password.starts_with("$argon2id$") && !a.password.contains("horse"));
            for (bad, why) in [
                (new("x", Role::Secretariat, None), "3 to 64"),
                (new("iom.focal", Role::FocalPoint, Some("IOM")), "not a state or territory"),
                (new("nobody", Role::FocalPoint, None), "needs --member"),
                (new("sec", Role::Secretariat, Some("AUS")), "only focal points"),
                (new("aus.focal", Role::FocalPoint, Some("AUS")), "already an account"),
                (NewAccount { password: "short".into(), ..new("sec2", Role::Secretariat, None) }, "at least 12"),
            ] {
                let e = accounts.add(bad, &reg, "admin").await.unwrap_err().to_string();
                assert!(e.contains(why), "{e}");
            }
            assert!(matches!(accounts.login("aus.focal", "correct horse battery").await.unwrap(), LoginOutcome::Ok(_)));
            assert_eq!(accounts.login("aus.focal", "wrong").await.unwrap(), LoginOutcome::Failed);
            assert_eq!(accounts.login("no.such", "wrong").await.unwrap(), LoginOutcome::Failed);
            // a password reset ends old sessions: the session hash changes
            let before = Accounts::hash_of(&accounts.get("aus.focal").await.unwrap().unwrap());
            let after = accounts.reset("aus.focal", "another good password", "admin").await.unwrap();
            assert_ne!(before, Accounts::hash_of(&after));
            assert_eq!(after.version, 2);
            let disabled = accounts.disable("aus.focal", "admin").await.unwrap();
            assert_eq!(accounts.login("aus.focal", "another good password").await.unwrap(), LoginOutcome::Disabled);
            assert_eq!(disabled.version, 3);
            assert_eq!(accounts.list().await.unwrap().len(), 1);
        });
    }

    #[test]
    fn repeated_failures_throttle_the_account() {
        rt().block_on(async {
            let accounts = Accounts::new(&lake());
            let new = NewAccount {
                username: "sec".into(),
                role: Role::Secretariat,
                member: None,
                password: "a long enough password".into(),
            };
            accounts.add(new, &registry(), "admin").await.unwrap();
            for _ in 0..MAX_FAILURES {
                assert_eq!(accounts.login("sec", "wrong").await.unwrap(), LoginOutcome::Failed);
            }
            match accounts.login("sec", "a long enough password").await.unwrap() {
                LoginOutcome::Throttled { retry_after } => {
                    assert!(retry_after > 0 && retry_after <= WINDOW_SECS as u64)
                }
                other => panic!("{other:?}"),
            }
        });
    }
}
