//! The vendored htmx and the stylesheet, cached for a year (their names
//! carry their version).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

fn asset(bytes: &'static [u8], kind: &'static str) -> Response {
    let mut r = bytes.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    r
}

pub async fn htmx() -> Response {
    asset(crate::HTMX, "text/javascript; charset=utf-8")
}

pub async fn css() -> Response {
    let mut r = asset(crate::CSS, "text/css; charset=utf-8");
    // the stylesheet changes with the binary; revalidate it
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}
