//! A member's returns: upload and check a file, read its findings, submit
//! it, and the receipts and versions of the member. A focal point reaches
//! only its own member's pages; every handler asks first.

use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use fedreport_access::Action;
use fedreport_contract::{Expected, Report};
use fedreport_store::{Status, audit, cycle, layout, receipt};
use minijinja::context;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

use super::{checked_id, member_code};
use crate::auth::CurrentUser;
use crate::error::{AppError, Result};
use crate::page::page;
use crate::state::AppState;
use crate::upload;

/// What the lake keeps of an upload beside the file and its report.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Upload {
    id: String,
    member: String,
    file: String,
    size: u64,
    dataset: Option<String>,
    year: Option<i32>,
    uploaded_by: String,
    uploaded_at: String,
}

fn upload_id() -> String {
    let r = uuid::Uuid::new_v4().simple().to_string();
    format!("u-{}-{}", Utc::now().format("%Y%m%dT%H%M%S%3fZ"), &r[..8])
}

async fn read_upload(state: &AppState, member: &str, id: &str) -> Result<(Upload, Report)> {
    checked_id(id, "u-", "upload")?;
    let folder = layout::staging(member, id);
    let lake = state.lake();
    let (Some(u), Some(r)) = (
        lake.get_opt(&format!("{folder}upload.json")).await.map_err(AppError::internal)?,
        lake.get_opt(&format!("{folder}report.json")).await.map_err(AppError::internal)?,
    ) else {
        return Err(AppError::NotFound(format!(
            "there is no upload {id} for {member}; it may have been submitted already"
        )));
    };
    let upload: Upload = serde_json::from_slice(&u).map_err(AppError::internal)?;
    let report: Report = serde_json::from_slice(&r).map_err(AppError::internal)?;
    Ok((upload, report))
}

/// The member's page: upload form, uploads being checked, receipts, current versions.
pub async fn returns(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(member): Path<String>,
) -> Result<Html<String>> {
    fedreport_access::authorize(&user, &Action::SeeReturns { member: &member })?;
    member_code(&state, &member)?;
    let lake = state.lake();
    let receipts = receipt::list(lake, Some(&member)).await.map_err(AppError::internal)?;
    let receipts: Vec<_> = receipts
        .iter()
        .rev()
        .map(|r| {
            context! {
                id => r.submission_id.clone(),
                dataset => r.dataset.clone(),
                year => r.year,
                status => if r.status == Status::Accepted { "accepted" } else { "rejected" },
                version => r.version,
                duplicate => r.duplicate,
                errors => r.errors,
                warnings => r.warnings,
                received_at => r.received_at.clone(),
                late => r.late,
                refused => r.refused.clone(),
            }
        })
        .collect();
    let events = audit::read(lake).await.map_err(AppError::internal)?;
    let versions: Vec<_> = fedreport_store::current_versions(lake, None)
        .await
        .map_err(AppError::internal)?
        .into_iter()
        .filter(|v| v.member == member)
        .map(|v| {
            let review = cycle::review(&events, &member, &v.dataset, v.year, v.version);
            context! { dataset => v.dataset, year => v.year, version => v.version, review => review.key(), review_words => review.words() }
        })
        .collect();
    let mut uploads = Vec::new();
    for m in lake.list(&format!("staging/{member}/")).await.map_err(AppError::internal)? {
        let key = lake.rel(&m.location);
        if key.ends_with("/upload.json") {
            let u: Upload = serde_json::from_slice(&lake.get(&key).await.map_err(AppError::internal)?)
                .map_err(AppError::internal)?;
            uploads.push(u);
        }
    }
    uploads.sort_by(|a, b| b.id.cmp(&a.id));
    let name = state.forum().contract.registry().member(&member).map(|m| m.name.clone()).unwrap_or_default();
    let datasets: Vec<String> = state.forum().contract.schemas().names().map(str::to_string).collect();
    let can_submit = fedreport_access::authorize(&user, &Action::SubmitReturn { member: &member }).is_ok();
    let can_withdraw = fedreport_access::authorize(&user, &Action::WithdrawMember).is_ok();
    page(
        &state,
        &user,
        "returns.html",
        context! { member, name, receipts, versions, uploads => Serde(uploads), datasets, can_submit, can_withdraw, limit => upload::size_words(state.0.config.upload_limit) },
    )
}

/// Receive a file, keep it in the staging area, check it, show the findings.
pub async fn upload(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(member): Path<String>,
    form: Multipart,
) -> Result<Response> {
    fedreport_access::authorize(&user, &Action::SubmitReturn { member: &member })?;
    member_code(&state, &member)?;
    let id = upload_id();
    let folder = layout::staging(&member, &id);
    let lake = state.lake();
    let received = match upload::receive(lake, &folder, form, state.0.config.upload_limit).await {
        Ok(r) => r,
        Err(e) => {
            // nothing half-received stays behind
            for m in lake.list(&folder).await.unwrap_or_default() {
                let _ = lake.delete(&lake.rel(&m.location)).await;
            }
            return Err(e);
        }
    };
    let key = format!("{folder}{}", received.file);
    let expected = Expected { dataset: received.dataset.clone(), member: Some(member.clone()), year: received.year };
    let report = state.0.validator.check(lake.store(), &lake.path(&key), &received.file, &expected).await.report;
    let upload = Upload {
        id: id.clone(),
        member: member.clone(),
        file: received.file,
        size: received.size,
        dataset: received.dataset,
        year: received.year,
        uploaded_by: user.username.clone(),
        uploaded_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
    };
    for (name, body) in [
        ("report.json", serde_json::to_vec_pretty(&report).map_err(AppError::internal)?),
        ("upload.json", serde_json::to_vec_pretty(&upload).map_err(AppError::internal)?),
    ] {
        lake.put(&format!("{folder}{name}"), Bytes::from(body)).await.map_err(AppError::internal)?;
    }
    Ok(Redirect::to(&format!("/members/{member}/uploads/{id}")).into_response())
}

#[derive(Deserialize)]
pub struct RuleFilter {
    rule: Option<String>,
}

/// The findings of an upload, filtered by rule, and the submit button when it is valid.
pub async fn upload_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((member, id)): Path<(String, String)>,
    Query(filter): Query<RuleFilter>,
) -> Result<Html<String>> {
    fedreport_access::authorize(&user, &Action::SeeReturns { member: &member })?;
    let (upload, report) = read_upload(&state, &member, &id).await?;
    let mut rules: Vec<(String, usize)> = Vec::new();
    for f in &report.findings {
        match rules.iter_mut().find(|(c, _)| c == f.code.as_str()) {
            Some((_, n)) => *n += 1,
            None => rules.push((f.code.as_str().to_string(), 1)),
        }
    }
    let rule = filter.rule.filter(|r| rules.iter().any(|(c, _)| c == r));
    let findings: Vec<_> = report
        .findings
        .iter()
        .filter(|f| rule.as_deref().is_none_or(|r| f.code.as_str() == r))
        .map(|f| {
            context! {
                severity => if f.severity == fedreport_contract::Severity::Error { "error" } else { "warning" },
                code => f.code.as_str(),
                row => f.row,
                column => f.column.clone(),
                cell => f.cell.clone(),
                value => f.value.clone(),
                message => f.message.clone(),
            }
        })
        .collect();
    let can_submit = fedreport_access::authorize(&user, &Action::SubmitReturn { member: &member }).is_ok();
    page(
        &state,
        &user,
        "upload.html",
        context! {
            member, upload => Serde(upload), findings, rule,
            rules => rules.into_iter().map(|(c, n)| context! { code => c, count => n }).collect::<Vec<_>>(),
            valid => report.is_valid(),
            summary => report.to_human().lines().last().unwrap_or_default().to_string(),
            notes => report.notes.clone(),
            errors => report.errors, warnings => report.warnings, rows => report.rows, truncated => report.truncated,
            dataset => report.dataset.clone(), year => report.year,
            can_submit,
        },
    )
}

/// The machine-readable report of an upload (the same JSON `fedreport validate --json` writes).
pub async fn report_json(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((member, id)): Path<(String, String)>,
) -> Result<Response> {
    fedreport_access::authorize(&user, &Action::SeeReturns { member: &member })?;
    let (_, report) = read_upload(&state, &member, &id).await?;
    let mut response = Json(report).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_DISPOSITION,
        axum::http::HeaderValue::from_str(&format!("attachment; filename=\"{id}-report.json\""))
            .map_err(AppError::internal)?,
    );
    Ok(response)
}

/// Submit a checked upload: it goes into the member's inbox and is decided
/// at once, so the focal point sees its receipt.
pub async fn submit(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((member, id)): Path<(String, String)>,
) -> Result<Response> {
    fedreport_access::authorize(&user, &Action::SubmitReturn { member: &member })?;
    let (upload, report) = read_upload(&state, &member, &id).await?;
    if !report.is_valid() {
        return Err(AppError::Conflict(format!(
            "{} has {} errors; fix them and upload the file again",
            upload.file, report.errors
        )));
    }
    let lake = state.lake();
    let folder = layout::staging(&member, &id);
    let staged = lake.path(&format!("{folder}{}", upload.file));
    let submitted = fedreport_store::submit_object(
        lake,
        &state.0.validator,
        lake.store(),
        &staged,
        &upload.file,
        &member,
        report.dataset.as_deref(),
        report.year,
    )
    .await
    .map_err(AppError::internal)?;
    let Some((submission, inbox_key)) = submitted.submission else {
        return Err(AppError::Conflict(format!("{} is no longer valid; upload it again", upload.file)));
    };
    fedreport_store::intake_one(lake, &state.0.validator, &state.forum().intake_options(), &inbox_key)
        .await
        .map_err(AppError::internal)?;
    for m in lake.list(&folder).await.map_err(AppError::internal)? {
        lake.delete(&lake.rel(&m.location)).await.map_err(AppError::internal)?;
    }
    Ok(Redirect::to(&format!("/members/{member}/receipts/{submission}")).into_response())
}

/// One receipt.
pub async fn receipt(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((member, id)): Path<(String, String)>,
) -> Result<Html<String>> {
    fedreport_access::authorize(&user, &Action::SeeReturns { member: &member })?;
    checked_id(&id, "s-", "receipt")?;
    let r = receipt::read(state.lake(), &member, &id).await.map_err(AppError::internal)?.ok_or_else(|| {
        AppError::NotFound(format!(
            "there is no receipt {id} for {member}; if it was submitted just now, intake has not decided it yet"
        ))
    })?;
    let findings: Vec<_> = r
        .findings
        .iter()
        .map(|f| context! { code => f.code.as_str(), row => f.row, column => f.column.clone(), cell => f.cell.clone(), value => f.value.clone(), message => f.message.clone() })
        .collect();
    // what the secretariat made of the version this submission became
    let review = match (r.status, &r.dataset, r.year, r.version) {
        (Status::Accepted, Some(d), Some(y), Some(v)) => {
            let events = audit::read(state.lake()).await.map_err(AppError::internal)?;
            let review = cycle::review(&events, &member, d, y, v);
            Some(context! { key => review.key(), head => review.head(), why => review.why().map(str::to_string) })
        }
        _ => None,
    };
    page(
        &state,
        &user,
        "receipt.html",
        context! {
            member, review,
            receipt => context! {
                id => r.submission_id.clone(), summary => r.summary(), file => r.file.clone(), size => r.size, sha256 => r.sha256.clone(),
                status => if r.status == Status::Accepted { "accepted" } else { "rejected" },
                dataset => r.dataset.clone(), year => r.year, version => r.version, duplicate => r.duplicate,
                received_at => r.received_at.clone(), decided_at => r.decided_at.clone(),
                errors => r.errors, warnings => r.warnings, rows => r.rows, late => r.late, refused => r.refused.clone(),
            },
            findings,
        },
    )
}
