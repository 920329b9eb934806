//! The secretariat's completeness board and "run intake now".

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::response::Html;
use fedreport_access::Action;
use fedreport_store::cycle::Review;
use fedreport_store::{Board, CellState, Status};
use minijinja::context;
use minijinja::value::Serde;
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::error::{AppError, Result};
use crate::page::page;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct YearQuery {
    year: Option<i32>,
}

fn cell(c: &CellState) -> minijinja::Value {
    match c {
        CellState::Accepted { version, late, review } => {
            let mark = match review {
                Review::Approved(_) => " · approved",
                Review::SentBack(_) => " · sent back",
                Review::Reopened(_) => " · reopened",
                Review::ToReview => "",
            };
            context! {
                state => if *late { "late" } else { "on-time" }, review => review.key(), why => review.words(),
                text => format!("v{version}{}{mark}", if *late { " late" } else { "" }),
            }
        }
        CellState::Rejected => context! { state => "rejected", text => "rejected", review => "", why => "" },
        CellState::Withdrawn => context! { state => "withdrawn", text => "withdrawn", review => "", why => "" },
        CellState::Missing => context! { state => "missing", text => "missing", review => "", why => "" },
    }
}

/// Member × dataset for a year, with sub-region totals.
pub async fn board(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(q): Query<YearQuery>,
) -> Result<Html<String>> {
    fedreport_access::authorize(&user, &Action::SeeBoard)?;
    let forum = state.forum();
    let year = q.year.unwrap_or_else(|| forum.pipeline.cycle_year());
    if !(2000..=2100).contains(&year) {
        return Err(AppError::BadRequest(format!("{year} is not a reference year")));
    }
    let registry = forum.contract.registry();
    let board = Board::build(state.lake(), registry, forum.contract.schemas(), year, forum.deadline(year))
        .await
        .map_err(AppError::internal)?;
    let events = fedreport_store::audit::read(state.lake()).await.map_err(AppError::internal)?;
    let cycle = fedreport_store::cycle::cycle(&events, year, forum.deadline(year), chrono::Utc::now());
    #[derive(Default, serde::Serialize)]
    struct Totals {
        members: usize,
        expected: usize,
        on_time: usize,
        late: usize,
        approved: usize,
        sent_back: usize,
        rejected: usize,
        withdrawn: usize,
        missing: usize,
    }
    let mut subregions: BTreeMap<String, Totals> = BTreeMap::new();
    let mut all = Totals::default();
    let mut rows = Vec::new();
    for (code, name, cells) in &board.rows {
        let sub = registry.member(code).and_then(|m| m.subregion.clone()).unwrap_or_else(|| "other".into());
        let t = subregions.entry(sub.clone()).or_default();
        t.members += 1;
        for c in cells {
            for t in [&mut *t, &mut all] {
                t.expected += 1;
                match c {
                    CellState::Accepted { late, review, .. } => {
                        if *late {
                            t.late += 1
                        } else {
                            t.on_time += 1
                        }
                        match review {
                            Review::Approved(_) => t.approved += 1,
                            Review::SentBack(_) => t.sent_back += 1,
                            _ => {}
                        }
                    }
                    CellState::Rejected => t.rejected += 1,
                    CellState::Withdrawn => t.withdrawn += 1,
                    CellState::Missing => t.missing += 1,
                }
            }
        }
        rows.push(context! { code => code.clone(), name => name.clone(), subregion => sub, cells => cells.iter().map(cell).collect::<Vec<_>>() });
    }
    all.members = board.rows.len();
    let subregions: Vec<_> = subregions.into_iter().map(|(name, t)| context! { name, totals => Serde(t) }).collect();
    page(
        &state,
        &user,
        "board.html",
        context! {
            year, rows, subregions, all => Serde(all),
            datasets => board.datasets.clone(),
            deadline => board.deadline.map(|d| d.format("%-d %B %Y, %H:%M UTC").to_string()),
            can_intake => fedreport_access::authorize(&user, &Action::RunIntake).is_ok(),
            cycle_words => cycle.words(),
            can_see_returns => fedreport_access::authorize(&user, &Action::SeeReturns { member: "" }).is_ok(),
        },
    )
}

/// Decide every pending inbox file now, and say what became of each.
pub async fn intake(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> Result<Html<String>> {
    fedreport_access::authorize(&user, &Action::RunIntake)?;
    let summary =
        fedreport_store::intake(state.lake(), &state.0.validator, &state.forum().intake_options(), &mut |_, _, _| {})
            .await
            .map_err(AppError::internal)?;
    let decisions: Vec<_> = summary
        .decisions
        .iter()
        .filter(|d| !d.already_decided)
        .map(|d| {
            context! {
                member => d.member.clone(), dataset => d.dataset.clone(), year => d.year, id => d.submission_id.clone(),
                status => if d.status == Status::Accepted { if d.duplicate { "identical to the current version" } else { "accepted" } } else if d.errors == 0 { "refused by the cycle" } else { "rejected" },
                version => d.version, errors => d.errors,
            }
        })
        .collect();
    page(
        &state,
        &user,
        "intake.html",
        context! { decisions, new_versions => summary.new_versions(), duplicates => summary.duplicates(), rejected => summary.rejected() },
    )
}
