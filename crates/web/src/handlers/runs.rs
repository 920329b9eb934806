//! Runs: the list, starting one and following it, a run's manifest in
//! words, and its indicator tables, browsed (paged, sortable) or downloaded.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use fedreport_access::Action;
use fedreport_render::run::Table;
use fedreport_store::manifest::{list_runs, read_manifest};
use minijinja::context;
use minijinja::value::Serde;
use serde::Deserialize;
use serde_json::Value;

use super::checked_id;
use crate::auth::CurrentUser;
use crate::error::{AppError, Result};
use crate::jobs::{self, JobState};
use crate::page::page;
use crate::state::AppState;

/// Rows of a table shown per page, unless the address asks for 1 to 500.
const PAGE: usize = 50;

pub async fn runs(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> Result<Html<String>> {
    fedreport_access::authorize(&user, &Action::SeeRuns)?;
    let list: Vec<_> = list_runs(state.lake())
        .await
        .map_err(AppError::internal)?
        .into_iter()
        .map(|m| {
            context! {
                id => m.run_id, created_at => m.created_at, year => m.cycle_year, inputs => m.inputs.len(),
                tables => m.outputs.len(), pipeline => format!("{} {}", m.pipeline_name, m.pipeline_version),
                replay_of => m.replay_of, warnings => m.warnings.len(),
            }
        })
        .collect();
    page(
        &state,
        &user,
        "runs.html",
        context! { runs => list, year => state.forum().pipeline.cycle_year(), can_start => fedreport_access::authorize(&user, &Action::StartRun).is_ok() },
    )
}

#[derive(Deserialize)]
pub struct StartForm {
    year: i32,
}

pub async fn start(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Form(f): Form<StartForm>,
) -> Result<Response> {
    fedreport_access::authorize(&user, &Action::StartRun)?;
    if !(2000..=2100).contains(&f.year) {
        return Err(AppError::BadRequest(format!("{} is not a reference year", f.year)));
    }
    let id = jobs::start_run(&state, f.year, &user.username).await;
    Ok(Redirect::to(&format!("/jobs/{id}")).into_response())
}

pub async fn job(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Html<String>> {
    fedreport_access::authorize(&user, &Action::SeeRuns)?;
    let job = jobs::read(&state, &id).await.ok_or_else(|| AppError::NotFound(format!("there is no job {id}")))?;
    let running = job.state == JobState::Running;
    page(&state, &user, "job.html", context! { job => Serde(&job), running })
}

pub async fn run(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Html<String>> {
    fedreport_access::authorize(&user, &Action::SeeRuns)?;
    checked_id(&id, "r-", "run")?;
    let m = read_manifest(state.lake(), &id).await.map_err(|e| AppError::NotFound(e.to_string()))?;
    let tables: Vec<_> = m
        .outputs
        .iter()
        .map(|o| context! { name => o.table.clone(), title => o.meta.title.clone(), rows => o.rows })
        .collect();
    let mut members: Vec<&str> = m.inputs.iter().map(|i| i.member.as_str()).collect();
    members.sort_unstable();
    members.dedup();
    let drafts: Vec<_> = state
        .0
        .renderer
        .documents()
        .iter()
        .map(|d| context! { name => d.name.clone(), title => d.title.clone(), html => d.html.is_some(), markdown => d.markdown.is_some() })
        .collect();
    let events = fedreport_store::audit::read(state.lake()).await.map_err(AppError::internal)?;
    let draft = fedreport_store::cycle::draft(&events, &m.run_id);
    // the other runs of the cycle, to compare with (newest first)
    let others: Vec<_> = list_runs(state.lake())
        .await
        .map_err(AppError::internal)?
        .into_iter()
        .filter(|o| o.cycle_year == m.cycle_year && o.run_id != m.run_id)
        .map(|o| context! { id => o.run_id, created_at => o.created_at })
        .collect();
    let cycle =
        fedreport_store::cycle::cycle(&events, m.cycle_year, state.forum().deadline(m.cycle_year), chrono::Utc::now());
    let comments: Vec<_> = draft
        .comments
        .iter()
        .map(|c| context! { by => c.by.clone(), at => fedreport_store::cycle::when(&c.at), part => c.part.clone(), text => c.text.clone() })
        .collect();
    let cleared: Vec<_> = draft
        .cleared
        .iter()
        .map(|s| context! { by => s.by.clone(), at => fedreport_store::cycle::when(&s.at) })
        .collect();
    let finals: Vec<String> = match draft.state {
        fedreport_store::cycle::DraftState::Final => state
            .lake()
            .list(&format!("{}final/", fedreport_store::layout::run_folder(&m.run_id)))
            .await
            .map_err(AppError::internal)?
            .iter()
            .filter_map(|o| state.lake().rel(&o.location).rsplit('/').next().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    page(
        &state,
        &user,
        "run.html",
        context! {
            id => m.run_id.clone(), created_at => m.created_at.clone(), engine => m.engine.clone(), year => m.cycle_year,
            pipeline => format!("{} {}", m.pipeline_name, m.pipeline_version), pipeline_sha256 => m.pipeline_sha256.clone(),
            replay_of => m.replay_of.clone(), inputs => m.inputs.len(), members => members.len(), snapshot => m.snapshot.clone(),
            tables, warnings => m.warnings.clone(), drafts, others,
            disclosure => m.disclosure.iter().map(|d| context! { table => d.table.clone(), k => d.k, hidden => d.hidden_cells }).collect::<Vec<_>>(),
            parameters => m.parameters.iter().map(|(k, v)| context! { name => k.clone(), value => serde_json::to_string(v).unwrap_or_default() }).collect::<Vec<_>>(),
            can_read_drafts => fedreport_access::authorize(&user, &Action::ReadDrafts).is_ok(),
            review => context! {
                state => Serde(draft.state), words => draft.words(), comments, cleared, finals,
                cycle_words => cycle.words(), cycle_locked => cycle.locked.is_some(),
                can_put_up => fedreport_access::authorize(&user, &Action::PutUpDrafts).is_ok(),
                can_clear => fedreport_access::authorize(&user, &Action::ClearDrafts).is_ok(),
                cleared_by_me => draft.cleared.iter().any(|s| s.by == user.username),
            },
        },
    )
}

#[derive(Deserialize)]
pub struct TableQuery {
    page: Option<usize>,
    per: Option<usize>,
    sort: Option<String>,
    desc: Option<bool>,
}

fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => std::cmp::Ordering::Equal,
        (Value::Null, _) => std::cmp::Ordering::Less,
        (_, Value::Null) => std::cmp::Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().unwrap_or(0.0).partial_cmp(&y.as_f64().unwrap_or(0.0)).unwrap_or(std::cmp::Ordering::Equal)
        }
        (x, y) => x.to_string().cmp(&y.to_string()),
    }
}

/// A table of a run: browsed (`name`), or downloaded (`name.csv`, `name.parquet`).
pub async fn table(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((id, table)): Path<(String, String)>,
    Query(q): Query<TableQuery>,
) -> Result<Response> {
    fedreport_access::authorize(&user, &Action::SeeRuns)?;
    checked_id(&id, "r-", "run")?;
    let m = read_manifest(state.lake(), &id).await.map_err(|e| AppError::NotFound(e.to_string()))?;
    let (name, ext) = match table.rsplit_once('.') {
        Some((n, e @ ("csv" | "parquet"))) => (n.to_string(), Some(e)),
        _ => (table.clone(), None),
    };
    let output = m.output(&name).ok_or_else(|| AppError::NotFound(format!("run {id} has no table {name}")))?;
    if let Some(ext) = ext {
        let file = if ext == "csv" { &output.csv } else { &output.parquet };
        let bytes = state.lake().get(&file.key).await.map_err(AppError::internal)?;
        let kind = if ext == "csv" { "text/csv; charset=utf-8" } else { "application/vnd.apache.parquet" };
        let mut r = bytes.into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
        let disposition = format!("attachment; filename=\"{name}-{id}.{ext}\"");
        r.headers_mut()
            .insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(AppError::internal)?);
        return Ok(r);
    }
    let bytes = state.lake().get(&output.parquet.key).await.map_err(AppError::internal)?;
    let mut t = Table::from_parquet(&name, bytes).map_err(AppError::internal)?;
    let sort = q.sort.filter(|s| t.columns.contains(s));
    let desc = q.desc.unwrap_or(false);
    if let Some(col) = &sort {
        let i = t.columns.iter().position(|c| c == col).expect("checked above");
        t.rows.sort_by(|a, b| if desc { compare(&b[i], &a[i]) } else { compare(&a[i], &b[i]) });
    }
    let per = q.per.unwrap_or(PAGE).clamp(1, 500);
    let pages = t.rows.len().div_ceil(per).max(1);
    let page_no = q.page.unwrap_or(1).clamp(1, pages);
    let rows: Vec<Vec<String>> = t.rows[(page_no - 1) * per..(page_no * per).min(t.rows.len())]
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| match v {
                    Value::Null => "–".to_string(),
                    Value::String(s) => s.clone(),
                    o => o.to_string(),
                })
                .collect()
        })
        .collect();
    let columns: Vec<_> = t
        .columns
        .iter()
        .map(|c| context! { name => c.clone(), label => output.meta.heading(c), sorted => sort.as_deref() == Some(c) })
        .collect();
    Ok(page(
        &state,
        &user,
        "table.html",
        context! {
            run => id, name, title => output.meta.title.clone(), columns, rows, page => page_no, pages, per, total => t.rows.len(),
            sort, desc,
        },
    )?
    .into_response())
}

#[derive(Deserialize)]
pub struct ChangesQuery {
    since: String,
}

/// What changed between an earlier run and this one: every figure with its
/// cause, every sentence of the drafts.
pub async fn changes(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
    Query(q): Query<ChangesQuery>,
) -> Result<Html<String>> {
    fedreport_access::authorize(&user, &Action::SeeRuns)?;
    checked_id(&id, "r-", "run")?;
    checked_id(&q.since, "r-", "run")?;
    let lake = state.lake();
    let run = fedreport_render::RunData::from_lake(lake, &id).await.map_err(|e| AppError::NotFound(e.to_string()))?;
    let since =
        fedreport_render::RunData::from_lake(lake, &q.since).await.map_err(|e| AppError::NotFound(e.to_string()))?;
    let forum = state.forum();
    let meeting = forum
        .meeting_of_cycle(run.manifest.cycle_year)
        .ok_or_else(|| AppError::NotFound("the forum has no meeting file to draft for".into()))?;
    let d = state.0.renderer.diff(&since, &run, meeting).map_err(AppError::internal)?;
    let changes = fedreport_render::diff::Changes::from_diff(&d, &run, forum.contract.registry());
    page(&state, &user, "changes.html", context! { id, since => q.since, changes => Serde(changes) })
}
