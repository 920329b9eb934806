//! The reporting cycle in the browser: a return's versions and review
//! (approve, send back, reopen), a cycle's state (lock, unlock, exceptions),
//! the audit log, and the clearance of a run's drafts by the co-chairs.
//! Every action calls one function of `fedreport_store::cycle` (or the
//! forum's `clear_draft`); a refusal comes back as a 409 page that says
//! exactly why.

use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, Redirect};
use chrono::Utc;
use fedreport_access::Action;
use fedreport_store::cycle::{self, CycleAction, ReturnAction, ReturnRef};
use fedreport_store::intake::slot_versions;
use fedreport_store::manifest::read_manifest;
use fedreport_store::{StoreError, audit, receipt};
use minijinja::context;
use serde::Deserialize;

use super::{checked_id, member_code};
use crate::auth::CurrentUser;
use crate::error::{AppError, Result};
use crate::page::page;
use crate::state::AppState;

/// A refusal is a conflict with the state of the cycle; anything else is internal.
fn refused(e: StoreError) -> AppError {
    match e {
        StoreError::Refused(why) => AppError::Conflict(why),
        other => AppError::internal(other),
    }
}

fn dataset_name(state: &AppState, dataset: &str) -> Result<()> {
    match state.forum().contract.schemas().get(dataset) {
        Ok(_) => Ok(()),
        Err(_) => Err(AppError::NotFound(format!("there is no dataset {dataset}"))),
    }
}

fn reference_year(year: i32) -> Result<()> {
    if (2000..=2100).contains(&year) {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("{year} is not a reference year")))
    }
}

fn event_view(e: &audit::Event) -> minijinja::Value {
    context! {
        seq => e.seq, at => cycle::when(&e.at), who => e.who.clone(), action => e.action.clone(),
        what => cycle::action_words(&e.action).to_string(),
        object => e.object.clone(), member => e.member.clone(), year => e.year, dataset => e.dataset.clone(),
        version => e.version, part => e.part.clone(), why => e.why.clone(),
    }
}

/// One return of a member: its versions, each with its review, the cycle it
/// belongs to, its history in the log, and the secretariat's review forms.
pub async fn return_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((member, dataset, year)): Path<(String, String, i32)>,
) -> Result<Html<String>> {
    fedreport_access::authorize(&user, &Action::SeeReturns { member: &member })?;
    member_code(&state, &member)?;
    dataset_name(&state, &dataset)?;
    reference_year(year)?;
    let lake = state.lake();
    let forum = state.forum();
    let versions = slot_versions(lake, &dataset, year, &member, false).await.map_err(AppError::internal)?;
    let receipts = receipt::list(lake, Some(&member)).await.map_err(AppError::internal)?;
    let events = audit::read(lake).await.map_err(AppError::internal)?;
    let c = cycle::cycle(&events, year, forum.deadline(year), Utc::now());
    let current = versions.last().map(|v| v.version);
    let rows: Vec<_> = versions
        .iter()
        .rev()
        .map(|v| {
            let r = receipts.iter().find(|r| {
                r.dataset.as_deref() == Some(&dataset)
                    && r.year == Some(year)
                    && r.version == Some(v.version)
                    && !r.duplicate
            });
            let review = cycle::review(&events, &member, &dataset, year, v.version);
            context! {
                version => v.version, current => Some(v.version) == current,
                received_at => r.map(|r| r.received_at.clone()), late => r.is_some_and(|r| r.late),
                receipt => r.map(|r| r.submission_id.clone()), rows => r.map(|r| r.rows),
                review => review.key(), review_words => review.words(),
            }
        })
        .collect();
    let review = current.map(|v| cycle::review(&events, &member, &dataset, year, v));
    let history: Vec<_> = events
        .iter()
        .filter(|e| {
            (e.member.as_deref() == Some(member.as_str())
                && e.dataset.as_deref() == Some(dataset.as_str())
                && e.year == Some(year))
                || (e.action.starts_with("cycle.")
                    && e.year == Some(year)
                    && e.member.as_deref().is_none_or(|m| m == member))
        })
        .map(event_view)
        .collect();
    let name = forum.contract.registry().member(&member).map(|m| m.name.clone()).unwrap_or_default();
    let lock = c.lock_refusal(&member);
    let can_submit = fedreport_access::authorize(&user, &Action::SubmitReturn { member: &member }).is_ok();
    page(
        &state,
        &user,
        "return.html",
        context! {
            member, name, dataset, year, rows, current, history,
            review => review.as_ref().map(|r| r.key()), review_head => review.as_ref().map(|r| r.head()),
            review_why => review.as_ref().and_then(|r| r.why().map(str::to_string)),
            cycle_words => c.words(), lock, can_submit,
            can_review => fedreport_access::authorize(&user, &Action::ReviewReturns).is_ok(),
        },
    )
}

#[derive(Deserialize)]
pub struct ReviewForm {
    action: String,
    version: Option<u32>,
    #[serde(default)]
    why: String,
}

/// Approve, send back or reopen the version the page showed.
pub async fn review(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path((member, dataset, year)): Path<(String, String, i32)>,
    Form(f): Form<ReviewForm>,
) -> Result<Redirect> {
    fedreport_access::authorize(&user, &Action::ReviewReturns)?;
    member_code(&state, &member)?;
    dataset_name(&state, &dataset)?;
    reference_year(year)?;
    let act = match f.action.as_str() {
        "approve" => ReturnAction::Approve,
        "send_back" => ReturnAction::SendBack,
        "reopen" => ReturnAction::Reopen,
        other => return Err(AppError::BadRequest(format!("'{other}' is not approve, send_back or reopen"))),
    };
    let r = ReturnRef { member: member.clone(), dataset: dataset.clone(), year, version: f.version };
    cycle::review_return(state.lake(), &user.username, act, &r, Some(&f.why)).await.map_err(refused)?;
    Ok(Redirect::to(&format!("/members/{member}/returns/{dataset}/{year}")))
}

/// A cycle: open, closed or locked and why, its exceptions, its log, and
/// the secretariat's forms.
pub async fn cycle_page(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(year): Path<i32>,
) -> Result<Html<String>> {
    fedreport_access::authorize(&user, &Action::SeeBoard)?;
    reference_year(year)?;
    let forum = state.forum();
    let events = audit::read(state.lake()).await.map_err(AppError::internal)?;
    let c = cycle::cycle(&events, year, forum.deadline(year), Utc::now());
    let exceptions: Vec<_> =
        c.exceptions.iter().map(|(m, s)| context! { member => m.clone(), words => s.words() }).collect();
    let history: Vec<_> = events
        .iter()
        .filter(|e| e.year == Some(year) && (e.action.starts_with("cycle.") || e.action.starts_with("draft.")))
        .map(event_view)
        .collect();
    let members: Vec<_> = forum
        .contract
        .registry()
        .reporting_members()
        .map(|m| context! { code => m.code.clone(), name => m.name.clone() })
        .collect();
    page(
        &state,
        &user,
        "cycle.html",
        context! {
            year, state => c.state(), words => c.words(), locked => c.locked.is_some(), exceptions, history, members,
            deadline => c.deadline.map(|d| d.format("%-d %B %Y, %H:%M UTC").to_string()),
            can_lock => fedreport_access::authorize(&user, &Action::LockCycle).is_ok(),
        },
    )
}

#[derive(Deserialize)]
pub struct CycleForm {
    action: String,
    #[serde(default)]
    member: String,
    #[serde(default)]
    why: String,
}

/// Lock, unlock, grant or end an exception.
pub async fn cycle_act(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(year): Path<i32>,
    Form(f): Form<CycleForm>,
) -> Result<Redirect> {
    fedreport_access::authorize(&user, &Action::LockCycle)?;
    reference_year(year)?;
    let member = || -> Result<String> {
        if state.forum().contract.registry().is_reporting_member(&f.member) {
            Ok(f.member.clone())
        } else {
            Err(AppError::BadRequest(format!("'{}' is not a member that reports", f.member)))
        }
    };
    let act = match f.action.as_str() {
        "lock" => CycleAction::Lock,
        "unlock" => CycleAction::Unlock,
        "exception" => CycleAction::Exception(member()?),
        "exception_end" => CycleAction::ExceptionEnd(member()?),
        other => {
            return Err(AppError::BadRequest(format!("'{other}' is not lock, unlock, exception or exception_end")));
        }
    };
    cycle::act_on_cycle(state.lake(), &user.username, year, act, Some(&f.why)).await.map_err(refused)?;
    Ok(Redirect::to(&format!("/cycles/{year}")))
}

#[derive(Deserialize)]
pub struct WithdrawForm {
    #[serde(default)]
    why: String,
}

/// Withdraw a member's returns, with a reason: they stay in the lake, and
/// no run counts them until the member sends another.
pub async fn withdraw(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(member): Path<String>,
    Form(f): Form<WithdrawForm>,
) -> Result<Html<String>> {
    fedreport_access::authorize(&user, &Action::WithdrawMember)?;
    member_code(&state, &member)?;
    let w = fedreport_store::ledger::withdraw_member(state.lake(), &user.username, &member, &f.why)
        .await
        .map_err(refused)?;
    let name = state.forum().contract.registry().member(&member).map(|m| m.name.clone()).unwrap_or_default();
    let slots: Vec<_> = w
        .slots
        .iter()
        .map(|s| context! { dataset => s.dataset.clone(), year => s.year, version => s.through })
        .collect();
    let kept: Vec<_> = w.locked.iter().map(|(year, by)| context! { year, by }).collect();
    page(&state, &user, "withdrawn.html", context! { member, name, slots, kept })
}

#[derive(Deserialize)]
pub struct LogQuery {
    member: Option<String>,
    year: Option<i32>,
}

/// The audit log, newest first, with the verdict on its chain.
pub async fn log(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(q): Query<LogQuery>,
) -> Result<Html<String>> {
    fedreport_access::authorize(&user, &Action::SeeLog)?;
    let lake = state.lake();
    let member = q.member.filter(|m| !m.is_empty());
    let events = audit::read(lake).await.map_err(AppError::internal)?;
    let verdict = match audit::verify(lake).await.map_err(AppError::internal)? {
        audit::Verdict::Whole { events, head } => context! { whole => true, events, head },
        audit::Verdict::Broken { at, why } => context! { whole => false, at, why },
    };
    let shown: Vec<_> =
        cycle::concerning(&events, member.as_deref(), q.year).into_iter().rev().map(event_view).collect();
    page(&state, &user, "log.html", context! { events => shown, verdict, member, year => q.year })
}

/// Put a run's drafts up for the co-chairs' review.
pub async fn put_up(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Redirect> {
    fedreport_access::authorize(&user, &Action::PutUpDrafts)?;
    checked_id(&id, "r-", "run")?;
    let m = read_manifest(state.lake(), &id).await.map_err(|e| AppError::NotFound(e.to_string()))?;
    cycle::put_up_for_review(state.lake(), &user.username, &m).await.map_err(refused)?;
    Ok(Redirect::to(&format!("/runs/{id}")))
}

#[derive(Deserialize)]
pub struct CommentForm {
    paragraph: String,
    text: String,
}

/// A co-chair's comment on a paragraph.
pub async fn comment(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
    Form(f): Form<CommentForm>,
) -> Result<Redirect> {
    fedreport_access::authorize(&user, &Action::ClearDrafts)?;
    checked_id(&id, "r-", "run")?;
    cycle::comment(state.lake(), &user.username, &id, &f.paragraph, &f.text).await.map_err(refused)?;
    Ok(Redirect::to(&format!("/runs/{id}#review")))
}

/// A co-chair clears the drafts; the last one to do so makes them final.
pub async fn clear(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Redirect> {
    fedreport_access::authorize(&user, &Action::ClearDrafts)?;
    checked_id(&id, "r-", "run")?;
    let co_chairs = fedreport_access::Accounts::new(state.lake()).co_chairs().await.map_err(AppError::internal)?;
    match state.forum().clear_draft(state.lake(), &id, &user.username, &co_chairs).await {
        Ok(_) => Ok(Redirect::to(&format!("/runs/{id}#review"))),
        Err(fedreport_forum::ForumError::Store(e)) => Err(refused(e)),
        Err(e) => Err(AppError::internal(e)),
    }
}
