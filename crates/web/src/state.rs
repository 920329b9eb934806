//! The application state, built once by [`AppState::new`] for `main` and the
//! tests alike: the lake, the forum (contract, pipeline, renderer), the page
//! templates and the settings.

use std::path::PathBuf;
use std::sync::Arc;

use fedreport_access::Accounts;
use fedreport_contract::{ValidateOptions, Validator};
use fedreport_forum::Forum;
use fedreport_render::Renderer;
use fedreport_store::Lake;
use minijinja::Environment;

/// Settings of `fedreport serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Largest upload accepted, in bytes.
    pub upload_limit: u64,
    /// Mark the session cookie `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    /// Origins (`https://reporting.example.org`) trusted for form posts, for
    /// proxies that rewrite `Host`.
    pub trusted_origins: Vec<String>,
    /// Load page templates from this folder and reload them when they change.
    pub dev_templates: Option<PathBuf>,
    /// Sessions end after this many hours without a request.
    pub session_idle_hours: i64,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            upload_limit: 256 * 1024 * 1024,
            secure_cookies: false,
            trusted_origins: Vec::new(),
            dev_templates: None,
            session_idle_hours: 8,
        }
    }
}

/// The key that signs session cookies: 64 bytes, the only state of a server
/// outside the lake. Every instance serving one lake needs the same key.
#[derive(Clone)]
pub struct SessionKey(pub [u8; 64]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(…)")
    }
}

impl SessionKey {
    /// A fresh random key.
    pub fn random() -> SessionKey {
        let mut k = [0u8; 64];
        for chunk in k.chunks_mut(16) {
            chunk.copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        }
        SessionKey(k)
    }

    /// Read the key from a file, or create the file with a new key (mode 0600).
    pub fn load_or_create(path: &std::path::Path) -> std::io::Result<SessionKey> {
        match std::fs::read(path) {
            Ok(bytes) if bytes.len() == 128 => {
                let text = String::from_utf8_lossy(&bytes);
                let mut k = [0u8; 64];
                hex::decode_to_slice(text.trim(), &mut k).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: not a session key ({e})", path.display()),
                    )
                })?;
                Ok(SessionKey(k))
            }
            Ok(_) => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: not a session key (128 hex characters); remove it to make a new one", path.display()),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SessionKey::random();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                use std::io::Write;
                options.open(path)?.write_all(hex::encode(key.0).as_bytes())?;
                Ok(key)
            }
            Err(e) => Err(e),
        }
    }
}

pub(crate) struct Inner {
    pub lake: Lake,
    pub forum: Forum,
    pub validator: Validator,
    pub renderer: Renderer,
    pub accounts: Accounts,
    pub env: Environment<'static>,
    pub config: ServeConfig,
    pub key: SessionKey,
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

impl AppState {
    /// The state of a server over `lake` for `forum`.
    pub fn new(lake: Lake, forum: Forum, config: ServeConfig, key: SessionKey) -> Result<AppState, String> {
        let renderer = forum.renderer().map_err(|e| e.to_string())?;
        let validator = Validator::new(&forum.contract, ValidateOptions::default());
        let env = crate::page::environment(config.dev_templates.as_deref());
        let accounts = Accounts::new(&lake);
        Ok(AppState(Arc::new(Inner { lake, forum, validator, renderer, accounts, env, config, key })))
    }

    pub(crate) fn lake(&self) -> &Lake {
        &self.0.lake
    }

    pub(crate) fn forum(&self) -> &Forum {
        &self.0.forum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_key_is_made_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("session.key");
        let first = SessionKey::load_or_create(&path).unwrap();
        let again = SessionKey::load_or_create(&path).unwrap();
        assert_eq!(first.0, again.0, "a second instance reads the same key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_ne!(first.0, SessionKey::random().0);
        std::fs::write(&path, "not a key").unwrap();
        let e = SessionKey::load_or_create(&path).unwrap_err().to_string();
        assert!(e.contains("not a session key") && e.contains("session.key"), "{e}");
        assert_eq!(format!("{first:?}"), "SessionKey(…)", "the key is never printed");
    }
}
