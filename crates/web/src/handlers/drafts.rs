//! The drafts of a run, as rendered, for co-chairs' offices and the
//! secretariat: the HTML with its sources on hover, or the Markdown.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use fedreport_access::Action;
use fedreport_render::RunData;

use crate::auth::CurrentUser;
use crate::error::{AppError, Result};
use crate::state::AppState;

/// A draft has no script and needs only its own inline styles and SVG.
const DRAFT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub async fn draft(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response> {
    fedreport_access::authorize(&user, &Action::ReadDrafts)?;
    super::checked_id(&id, "r-", "run")?;
    let no_draft = || AppError::NotFound(format!("there is no draft {file}"));
    if !state.0.renderer.documents().iter().flat_map(|d| d.outputs()).any(|(_, f)| f == file) {
        return Err(no_draft());
    }
    let run = RunData::from_lake(state.lake(), &id).await.map_err(|e| AppError::NotFound(e.to_string()))?;
    let forum = state.forum();
    let meeting = forum
        .meeting_for(run.manifest.cycle_year)
        .or_else(|| forum.latest_meeting())
        .ok_or_else(|| AppError::NotFound("the forum has no meeting file to draft for".into()))?;
    let since =
        fedreport_render::last_reviewed_before(state.lake(), &run.manifest).await.map_err(AppError::internal)?;
    let bytes = state
        .0
        .renderer
        .render_file_since(&run, meeting, &file, since.as_ref())
        .map_err(AppError::internal)?
        .ok_or_else(no_draft)?;
    let kind = if file.ends_with(".html") { "text/html; charset=utf-8" } else { "text/markdown; charset=utf-8" };
    let mut r = bytes.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DRAFT_CSP));
    Ok(r)
}
