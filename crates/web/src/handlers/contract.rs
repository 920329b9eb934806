//! The return contract: datasets, their columns and rules, empty templates.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use fedreport_access::Action;
use fedreport_contract::template;
use minijinja::context;

use crate::auth::CurrentUser;
use crate::error::{AppError, Result};
use crate::page::page;
use crate::state::AppState;

pub async fn datasets(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> Result<Html<String>> {
    fedreport_access::authorize(&user, &Action::ReadContract)?;
    let list: Vec<_> = state
        .forum()
        .contract
        .schemas()
        .iter()
        .map(|s| context! { name => s.dataset.clone(), title => s.title.clone(), description => s.description.clone(), columns => s.columns.len(), version => s.schema_version.clone() })
        .collect();
    page(&state, &user, "datasets.html", context! { datasets => list })
}

pub async fn dataset(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(name): Path<String>,
) -> Result<Html<String>> {
    fedreport_access::authorize(&user, &Action::ReadContract)?;
    let s = state.forum().contract.schemas().get(&name).map_err(|e| AppError::NotFound(e.to_string()))?;
    let columns: Vec<_> = s
        .columns
        .iter()
        .map(|c| {
            context! {
                name => c.name.clone(), ty => c.ty.name(), required => !c.nullable,
                description => c.description.clone(), rules => c.rules_in_words(),
            }
        })
        .collect();
    let row_rules: Vec<String> = s.row_rules.iter().map(|r| r.description().to_string()).collect();
    page(
        &state,
        &user,
        "dataset.html",
        context! { name => s.dataset.clone(), title => s.title.clone(), description => s.description.clone(), version => s.schema_version.clone(), columns, row_rules, min_rows => s.min_rows, max_rows => s.max_rows },
    )
}

pub async fn template(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((name, format)): Path<(String, String)>,
) -> Result<Response> {
    fedreport_access::authorize(&user, &Action::ReadContract)?;
    let s = state.forum().contract.schemas().get(&name).map_err(|e| AppError::NotFound(e.to_string()))?;
    let (bytes, kind, ext) = match format.as_str() {
        "csv" => (template::empty_csv(s), "text/csv; charset=utf-8", "csv"),
        "parquet" => {
            (template::empty_parquet(s).map_err(AppError::internal)?, "application/vnd.apache.parquet", "parquet")
        }
        "xlsx" => (
            fedreport_office::xlsx::template(s, state.forum().contract.registry(), state.forum().contract.title())
                .map_err(AppError::internal)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        other => return Err(AppError::NotFound(format!("there is no {other} template; choose csv, parquet or xlsx"))),
    };
    let mut r = bytes.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    let disposition = format!("attachment; filename=\"{}-template.{ext}\"", s.dataset);
    r.headers_mut()
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(AppError::internal)?);
    Ok(r)
}
