//! Sessions and login. Sessions live in the lake (`sessions/{sha256 of the
//! id}.json`: the id itself, a bearer secret, is never stored), so any
//! instance can serve any request; the cookie holds only the id, signed with
//! the server's key, `HttpOnly`, `SameSite=Strict`. axum-login rotates the id
//! at login and checks on every request that the account's password and
//! session epoch are unchanged and that it is not disabled, so a password
//! reset or a disabled account ends its sessions at once.

use axum::extract::{Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_login::{AuthUser, AuthnBackend, UserId};
use bytes::Bytes;
use fedreport_access::{Account, Accounts, LoginOutcome};
use fedreport_store::Lake;
use fedreport_store::lake::Created;
use fedreport_store::layout;
use minijinja::context;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tower_sessions::cookie::{Key, SameSite};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::error::{AppError, Result};
use crate::page::public_page;
use crate::state::AppState;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "fedreport_session";

/// Sessions kept in the lake.
#[derive(Debug, Clone)]
pub struct LakeSessionStore {
    lake: Lake,
}

fn session_key(id: &Id) -> String {
    layout::session(&hex::encode(Sha256::digest(id.to_string().as_bytes())))
}

fn backend_error(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

#[async_trait::async_trait]
impl SessionStore for LakeSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let body = serde_json::to_vec(&*record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
            match self.lake.put_new(&session_key(&record.id), Bytes::from(body)).await.map_err(backend_error)? {
                Created::Written => return Ok(()),
                Created::AlreadyExists => record.id = Id::default(),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let body = serde_json::to_vec(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        self.lake.put(&session_key(&record.id), Bytes::from(body)).await.map_err(backend_error)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let key = session_key(id);
        let Some(bytes) = self.lake.get_opt(&key).await.map_err(backend_error)? else { return Ok(None) };
        let record: Record = serde_json::from_slice(&bytes).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        if record.expiry_date < time::OffsetDateTime::now_utc() {
            self.lake.delete(&key).await.map_err(backend_error)?;
            return Ok(None);
        }
        Ok(Some(record))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.lake.delete(&session_key(id)).await.map_err(backend_error)
    }
}

/// A signed-in account, as axum-login sees it.
#[derive(Debug, Clone)]
pub struct WebUser {
    pub account: Account,
    hash: Vec<u8>,
}

impl WebUser {
    fn of(account: Account) -> WebUser {
        WebUser { hash: account.session_hash(), account }
    }
}

impl AuthUser for WebUser {
    type Id = String;

    fn id(&self) -> String {
        self.account.username.clone()
    }

    fn session_auth_hash(&self) -> &[u8] {
        &self.hash
    }
}

/// Checks passwords and loads accounts, from the lake.
#[derive(Debug, Clone)]
pub struct Backend {
    accounts: Accounts,
}

/// The login form.
#[derive(Clone, Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub next: Option<String>,
}

/// Why a login could not be decided.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("throttled for {0} seconds")]
    Throttled(u64),
    #[error("{0}")]
    Store(String),
}

impl AuthnBackend for Backend {
    type User = WebUser;
    type Credentials = Credentials;
    type Error = AuthError;

    async fn authenticate(&self, creds: Credentials) -> std::result::Result<Option<WebUser>, AuthError> {
        match self.accounts.login(&creds.username, &creds.password).await {
            Ok(LoginOutcome::Ok(account)) => Ok(Some(WebUser::of(*account))),
            Ok(LoginOutcome::Throttled { retry_after }) => Err(AuthError::Throttled(retry_after)),
            Ok(outcome) => {
                tracing::info!(user = %creds.username, ?outcome, "login refused");
                Ok(None)
            }
            Err(e) => Err(AuthError::Store(e.to_string())),
        }
    }

    async fn get_user(&self, id: &UserId<Self>) -> std::result::Result<Option<WebUser>, AuthError> {
        let account = self.accounts.get(id).await.map_err(|e| AuthError::Store(e.to_string()))?;
        Ok(account.filter(|a| !a.disabled).map(WebUser::of))
    }
}

pub type AuthSession = axum_login::AuthSession<Backend>;

/// The session layers: the lake store behind a signed cookie, and axum-login.
pub fn layers(
    state: &AppState,
) -> axum_login::AuthManagerLayer<Backend, LakeSessionStore, tower_sessions::service::SignedCookie> {
    let cfg = &state.0.config;
    let sessions = SessionManagerLayer::new(LakeSessionStore { lake: state.lake().clone() })
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(cfg.secure_cookies)
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(cfg.session_idle_hours)))
        .with_signed(Key::from(&state.0.key.0));
    axum_login::AuthManagerLayerBuilder::new(Backend { accounts: state.0.accounts.clone() }, sessions).build()
}

/// The signed-in person. Every page but the login page takes one; without a
/// session a page request is sent to the login page and anything else is
/// refused with 401.
pub struct CurrentUser(pub Account);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> std::result::Result<Self, Response> {
        let user = parts.extensions.get::<AuthSession>().and_then(|a| a.user.clone());
        match user {
            Some(u) => Ok(CurrentUser(u.account)),
            None if parts.method == Method::GET => {
                let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
                Err(Redirect::to(&format!("/login?next={}", urlencode(next))).into_response())
            }
            None => Err(AppError::Forbidden("you are not signed in; sign in and try again".into()).into_response()),
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Only a path on this site may be the place to go after login.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
    }
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// The login page.
pub async fn login_form(State(state): State<AppState>, Query(q): Query<Next>) -> Result<Response> {
    let next = safe_next(q.next.as_deref()).to_string();
    Ok(public_page(&state, "login.html", context! { next, failed => false })?.into_response())
}

/// Check a password and start a session.
pub async fn login(
    State(state): State<AppState>,
    mut auth: AuthSession,
    Form(creds): Form<Credentials>,
) -> Result<Response> {
    let next = safe_next(creds.next.as_deref()).to_string();
    match auth.authenticate(creds).await {
        Ok(Some(user)) => {
            auth.login(&user).await.map_err(AppError::internal)?;
            Ok(Redirect::to(&next).into_response())
        }
        Ok(None) => {
            let page = public_page(&state, "login.html", context! { next, failed => true })?;
            Ok((StatusCode::UNAUTHORIZED, page).into_response())
        }
        Err(axum_login::Error::Backend(AuthError::Throttled(retry_after))) => Err(AppError::Throttled { retry_after }),
        Err(e) => Err(AppError::internal(e)),
    }
}

/// End the session.
pub async fn logout(mut auth: AuthSession) -> Result<Response> {
    auth.logout().await.map_err(AppError::internal)?;
    Ok(Redirect::to("/login").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_after_login() {
        assert_eq!(safe_next(Some("/board?year=2012")), "/board?year=2012");
        for bad in ["//evil.example", "https://evil.example/", "/\\evil", "board"] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
