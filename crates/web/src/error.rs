//! One error type for every handler. Known refusals map to their status with
//! a message written for people; anything else is logged with its detail and
//! shown as "something went wrong" — internal messages never reach the
//! browser. The page itself is rendered by [`render_errors`], which has the
//! templates.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::state::AppState;

/// A request that could not be served.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("too many failed logins; try again in {retry_after} seconds")]
    Throttled { retry_after: u64 },
    /// Logged with its detail; people see only that something went wrong.
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    /// Any library error, logged and hidden.
    pub fn internal(e: impl std::fmt::Display) -> AppError {
        AppError::Internal(e.to_string())
    }

    fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<fedreport_access::Denied> for AppError {
    fn from(d: fedreport_access::Denied) -> AppError {
        AppError::Forbidden(d.0)
    }
}

/// What the error page shows, carried from the handler to [`render_errors`].
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub message: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            AppError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                "Something went wrong on the server. The secretariat can find the details in its log.".to_string()
            }
            other => other.to_string(),
        };
        let mut response = (status, message.clone()).into_response();
        if let AppError::Throttled { retry_after } = &self
            && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response.extensions_mut().insert(ErrorPage { message });
        response
    }
}

/// Turn the plain-text body of an [`AppError`] into the error page.
pub async fn render_errors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let Some(page) = response.extensions().get::<ErrorPage>().cloned() else { return response };
    let status = response.status();
    let retry = response.headers().get(header::RETRY_AFTER).cloned();
    let ctx = minijinja::context! {
        status => status.as_u16(),
        reason => status.canonical_reason().unwrap_or(""),
        message => page.message,
    };
    let html = crate::page::render_html(&state, "error.html", ctx).unwrap_or_else(|e| {
        tracing::error!(error = %e, "the error page failed");
        "<!DOCTYPE html><title>Error</title><p>Something went wrong.</p>".to_string()
    });
    let mut out = (status, Html(html)).into_response();
    if let Some(r) = retry {
        out.headers_mut().insert(header::RETRY_AFTER, r);
    }
    out
}
