//! The web front: `fedreport serve`. Focal points check and submit returns
//! and read their receipts; the secretariat watches the completeness board,
//! runs intake and the pipeline and browses the tables; co-chairs' offices
//! read the drafts — in a browser, over the same lake and through the same
//! library functions as the CLI.
//!
//! This crate owns the HTTP side only: the routes ([`router`]), sessions
//! kept in the lake, the login flow, pages rendered by minijinja from
//! `templates/web/`, uploads streamed into the lake, and background runs
//! whose progress lives in the lake too. Handlers parse, ask
//! `fedreport_access::authorize`, call the library and render; they hold no
//! logic of their own. No state lives outside the lake but the session
//! signing key, so several instances can serve one lake behind a load
//! balancer (docs/web.md).

mod auth;
mod error;
mod handlers;
mod jobs;
mod page;
mod router;
mod state;
mod upload;

pub use auth::SESSION_COOKIE;
pub use router::{ROUTES, Route, router};
pub use state::{AppState, ServeConfig, SessionKey};

/// The vendored htmx (npm `htmx.org` 2.0.11, `dist/htmx.min.js`; 0BSD licence).
pub const HTMX: &[u8] = include_bytes!("../static/htmx-2.0.11.min.js");
/// Its sha256, as recorded when it was vendored (crates/web/static/README.md).
pub const HTMX_SHA256: &str = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717";
/// The one stylesheet.
pub const CSS: &[u8] = include_bytes!("../static/site.css");

/// Serve the application on `listener` until Ctrl-C (or SIGTERM).
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let app = router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            let term = async {
                if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    s.recv().await;
                }
            };
            #[cfg(not(unix))]
            let term = std::future::pending::<()>();
            tokio::select! { _ = ctrl_c => {}, _ = term => {} }
        })
        .await
}
