//! Every route in one place, with who may use it. The table [`ROUTES`]
//! mirrors the router; the security tests send every role to every entry.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::{get, post};
use tower_http::compression::CompressionLayer;
use tower_http::csrf::CsrfLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::auth;
use crate::handlers::{assets, board, contract, cycle, drafts, home, returns, runs};
use crate::state::AppState;

/// One route: method, path (with `{parameters}`) and who may use it.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// The action `fedreport_access::authorize` is asked about, or "anyone"/"signed in".
    pub who: &'static str,
}

const fn r(method: &'static str, path: &'static str, who: &'static str) -> Route {
    Route { method, path, who }
}

/// Every route of the web front.
pub const ROUTES: &[Route] = &[
    r("GET", "/login", "anyone"),
    r("POST", "/login", "anyone"),
    r("POST", "/logout", "anyone"),
    r("GET", "/static/htmx-2.0.11.min.js", "anyone"),
    r("GET", "/static/site.css", "anyone"),
    r("GET", "/", "signed in"),
    r("GET", "/datasets", "ReadContract"),
    r("GET", "/datasets/{dataset}", "ReadContract"),
    r("GET", "/datasets/{dataset}/template/{format}", "ReadContract"),
    r("GET", "/members/{member}/returns", "SeeReturns"),
    r("POST", "/members/{member}/uploads", "SubmitReturn"),
    r("GET", "/members/{member}/uploads/{upload}", "SeeReturns"),
    r("GET", "/members/{member}/uploads/{upload}/report.json", "SeeReturns"),
    r("POST", "/members/{member}/uploads/{upload}/submit", "SubmitReturn"),
    r("GET", "/members/{member}/receipts/{receipt}", "SeeReturns"),
    r("GET", "/members/{member}/returns/{dataset}/{year}", "SeeReturns"),
    r("POST", "/members/{member}/returns/{dataset}/{year}/review", "ReviewReturns"),
    r("POST", "/members/{member}/withdraw", "WithdrawMember"),
    r("GET", "/cycles/{year}", "SeeBoard"),
    r("POST", "/cycles/{year}", "LockCycle"),
    r("GET", "/log", "SeeLog"),
    r("GET", "/board", "SeeBoard"),
    r("POST", "/intake", "RunIntake"),
    r("GET", "/runs", "SeeRuns"),
    r("POST", "/runs", "StartRun"),
    r("GET", "/jobs/{job}", "SeeRuns"),
    r("GET", "/runs/{run}", "SeeRuns"),
    r("GET", "/runs/{run}/tables/{table}", "SeeRuns"),
    r("GET", "/runs/{run}/changes", "SeeRuns"),
    r("GET", "/runs/{run}/drafts/{file}", "ReadDrafts"),
    r("POST", "/runs/{run}/review", "PutUpDrafts"),
    r("POST", "/runs/{run}/comments", "ClearDrafts"),
    r("POST", "/runs/{run}/clear", "ClearDrafts"),
];

/// The application: routes, sessions, CSRF protection, limits, headers.
pub fn router(state: AppState) -> Router {
    let upload_limit = state.0.config.upload_limit as usize;
    let mut csrf = CsrfLayer::new();
    for origin in &state.0.config.trusted_origins {
        match csrf.clone().add_trusted_origin(origin) {
            Ok(c) => csrf = c,
            Err(e) => tracing::error!(%origin, error = %e, "not a trusted origin"),
        }
    }
    let uploads = Router::new()
        .route("/members/{member}/uploads", post(returns::upload))
        // the file is counted against the limit as it arrives; this stops a
        // form far beyond it (axum's limit, which the multipart reader reports as 413)
        .layer(DefaultBodyLimit::max(upload_limit + 1024 * 1024));
    let pages = Router::new()
        .route("/", get(home::home))
        .route("/logout", post(auth::logout))
        .route("/datasets", get(contract::datasets))
        .route("/datasets/{dataset}", get(contract::dataset))
        .route("/datasets/{dataset}/template/{format}", get(contract::template))
        .route("/members/{member}/returns", get(returns::returns))
        .route("/members/{member}/uploads/{upload}", get(returns::upload_page))
        .route("/members/{member}/uploads/{upload}/report.json", get(returns::report_json))
        .route("/members/{member}/uploads/{upload}/submit", post(returns::submit))
        .route("/members/{member}/receipts/{receipt}", get(returns::receipt))
        .route("/members/{member}/returns/{dataset}/{year}", get(cycle::return_page))
        .route("/members/{member}/returns/{dataset}/{year}/review", post(cycle::review))
        .route("/members/{member}/withdraw", post(cycle::withdraw))
        .route("/cycles/{year}", get(cycle::cycle_page).post(cycle::cycle_act))
        .route("/log", get(cycle::log))
        .route("/board", get(board::board))
        .route("/intake", post(board::intake))
        .route("/runs", get(runs::runs).post(runs::start))
        .route("/jobs/{job}", get(runs::job))
        .route("/runs/{run}", get(runs::run))
        .route("/runs/{run}/tables/{table}", get(runs::table))
        .route("/runs/{run}/changes", get(runs::changes))
        .route("/runs/{run}/drafts/{file}", get(drafts::draft))
        .route("/runs/{run}/review", post(cycle::put_up))
        .route("/runs/{run}/comments", post(cycle::comment))
        .route("/runs/{run}/clear", post(cycle::clear))
        .layer(RequestBodyLimitLayer::new(64 * 1024));
    let public = Router::new()
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/static/htmx-2.0.11.min.js", get(assets::htmx))
        .route("/static/site.css", get(assets::css))
        .layer(RequestBodyLimitLayer::new(16 * 1024));
    Router::new()
        .merge(uploads)
        .merge(pages)
        .merge(public)
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::error::render_errors))
        .layer(auth::layers(&state))
        .layer(csrf)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
