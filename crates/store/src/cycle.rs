//! The reporting cycle as people act on it, folded from the audit log
//! ([`crate::audit`]): the review of each accepted return (approved, sent
//! back with a reason, reopened with a reason), the cycle of a reference
//! year (open → closed at the submission deadline → locked by the
//! secretariat, with per-member exceptions) and the clearance of a run's
//! drafts by the co-chairs.
//!
//! The log is the only record: every state here is computed from its events,
//! and every action appends one event with [`audit::append_checked`], which
//! checks the action against the log as it stands at the place the event
//! takes. Two people acting at once never both win on a state that no longer
//! holds. Every refusal is a [`StoreError::Refused`] that says who did what,
//! when and why, and what to do instead.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::audit::{self, Event, NewEvent};
use crate::intake::slot_versions;
use crate::lake::{Created, Lake};
use crate::layout::{self, sha256_hex};
use crate::manifest::Manifest;
use crate::{Result, StoreError};

/// The actions of the log this module writes and reads.
pub mod action {
    pub const APPROVE: &str = "return.approve";
    pub const SEND_BACK: &str = "return.send_back";
    pub const REOPEN: &str = "return.reopen";
    pub const LOCK: &str = "cycle.lock";
    pub const UNLOCK: &str = "cycle.unlock";
    pub const EXCEPTION: &str = "cycle.exception";
    pub const EXCEPTION_END: &str = "cycle.exception_end";
    pub const DRAFT_REVIEW: &str = "draft.review";
    pub const DRAFT_COMMENT: &str = "draft.comment";
    pub const DRAFT_CLEAR: &str = "draft.clear";
    pub const DRAFT_FINAL: &str = "draft.final";
    pub const DRAFT_WITHDRAW: &str = "draft.withdraw";
    pub const MEMBER_WITHDRAW: &str = "member.withdraw";
}

/// An action of the log in words, for people: "sent back", "locked the cycle".
pub fn action_words(action: &str) -> &str {
    match action {
        action::APPROVE => "approved",
        action::SEND_BACK => "sent back",
        action::REOPEN => "reopened",
        action::LOCK => "locked the cycle",
        action::UNLOCK => "unlocked the cycle",
        action::EXCEPTION => "granted an exception",
        action::EXCEPTION_END => "ended an exception",
        action::DRAFT_REVIEW => "put the drafts up for review",
        action::DRAFT_COMMENT => "commented",
        action::DRAFT_CLEAR => "cleared the drafts",
        action::DRAFT_FINAL => "made the drafts final",
        action::DRAFT_WITHDRAW => "withdrew the drafts' clearance",
        action::MEMBER_WITHDRAW => "withdrew the member's returns",
        other => other,
    }
}

/// Longest reason or comment kept, in characters.
pub const MAX_WHY: usize = 2000;

fn refused<T>(why: impl Into<String>) -> Result<T> {
    Err(StoreError::Refused(why.into()))
}

/// "2013-03-05 09:00 UTC" from an event time.
pub fn when(at: &str) -> String {
    match DateTime::parse_from_rfc3339(at) {
        Ok(t) => t.with_timezone(&Utc).format("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => at.to_string(),
    }
}

/// Who did something, when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stamp {
    pub by: String,
    pub at: String,
    pub why: Option<String>,
}

impl Stamp {
    fn of(e: &Event) -> Stamp {
        Stamp { by: e.who.clone(), at: e.at.clone(), why: e.why.clone() }
    }

    /// "by the secretariat (alice) on 2013-03-05 09:00 UTC: the reason".
    pub fn by_the_secretariat(&self) -> String {
        let why = self.why.as_ref().map(|w| format!(": {w}")).unwrap_or_default();
        format!("by the secretariat ({}) on {}{why}", self.by, when(&self.at))
    }

    /// "alice on 2013-03-05 09:00 UTC: the reason" (no reason, no colon).
    pub fn words(&self) -> String {
        let why = self.why.as_ref().map(|w| format!(": {w}")).unwrap_or_default();
        format!("{} on {}{why}", self.by, when(&self.at))
    }
}

/// A reason given by a person: trimmed, not empty, not longer than [`MAX_WHY`].
pub fn reason(why: Option<&str>, asked: &str) -> Result<String> {
    let w = why.map(str::trim).unwrap_or("");
    if w.is_empty() {
        return refused(format!("say why: {asked}"));
    }
    if w.chars().count() > MAX_WHY {
        return refused(format!("the reason is {} characters long; keep it under {MAX_WHY}", w.chars().count()));
    }
    Ok(w.to_string())
}

// ---------------------------------------------------------------- returns

/// The review of one accepted version of a return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Review {
    /// Nobody has approved it or sent it back yet.
    ToReview,
    Approved(Stamp),
    /// Sent back to the focal point with a reason.
    SentBack(Stamp),
    /// Approved, then reopened with a reason: to review again.
    Reopened(Stamp),
}

impl Review {
    /// A short key for pages and styles.
    pub fn key(&self) -> &'static str {
        match self {
            Review::ToReview => "to_review",
            Review::Approved(_) => "approved",
            Review::SentBack(_) => "sent_back",
            Review::Reopened(_) => "reopened",
        }
    }

    /// Who acted and when, without the reason: "sent back by alice on 2013-02-20 10:00 UTC".
    pub fn head(&self) -> String {
        let (verb, s) = match self {
            Review::ToReview => return "to review".into(),
            Review::Approved(s) => ("approved", s),
            Review::SentBack(s) => ("sent back", s),
            Review::Reopened(s) => ("reopened", s),
        };
        format!("{verb} by {} on {}", s.by, when(&s.at))
    }

    /// The reason given, if any.
    pub fn why(&self) -> Option<&str> {
        match self {
            Review::ToReview => None,
            Review::Approved(s) | Review::SentBack(s) | Review::Reopened(s) => s.why.as_deref(),
        }
    }

    /// In words: "sent back by alice on 2013-02-20 10:00 UTC: the reason".
    pub fn words(&self) -> String {
        match self {
            Review::ToReview => "to review".into(),
            Review::Approved(s) => format!("approved by {}", s.words()),
            Review::SentBack(s) => format!("sent back by {}", s.words()),
            Review::Reopened(s) => format!("reopened by {}", s.words()),
        }
    }
}

/// Which return a review action is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnRef {
    pub member: String,
    pub dataset: String,
    pub year: i32,
    /// The version; the current one when not given.
    pub version: Option<u32>,
}

impl ReturnRef {
    fn words(&self) -> String {
        format!("{}'s {} return for {}", self.member, self.dataset, self.year)
    }
}

/// What the secretariat does with a return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnAction {
    Approve,
    /// Send it back to the focal point with a reason.
    SendBack,
    /// Reopen an approved return, with a reason.
    Reopen,
}

impl ReturnAction {
    fn action(self) -> &'static str {
        match self {
            ReturnAction::Approve => action::APPROVE,
            ReturnAction::SendBack => action::SEND_BACK,
            ReturnAction::Reopen => action::REOPEN,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            ReturnAction::Approve => "approved",
            ReturnAction::SendBack => "sent back",
            ReturnAction::Reopen => "reopened",
        }
    }
}

/// The review of one version, from the log.
pub fn review(events: &[Event], member: &str, dataset: &str, year: i32, version: u32) -> Review {
    let mut state = Review::ToReview;
    for e in events.iter().filter(|e| {
        e.action.starts_with("return.")
            && e.member.as_deref() == Some(member)
            && e.dataset.as_deref() == Some(dataset)
            && e.year == Some(year)
            && e.version == Some(version)
    }) {
        state = match e.action.as_str() {
            action::APPROVE => Review::Approved(Stamp::of(e)),
            action::SEND_BACK => Review::SentBack(Stamp::of(e)),
            action::REOPEN => Review::Reopened(Stamp::of(e)),
            _ => state,
        };
    }
    state
}

/// Approve, send back or reopen a return (the current version unless one
/// is named). Refused on a version that is no longer current, on a locked
/// cycle without an exception for the member, and on a state that does not
/// allow it; sending back and reopening need a reason.
pub async fn review_return(
    lake: &Lake,
    who: &str,
    act: ReturnAction,
    r: &ReturnRef,
    why: Option<&str>,
) -> Result<Event> {
    let what = r.words();
    let versions = slot_versions(lake, &r.dataset, r.year, &r.member, false).await?;
    let Some(current) = versions.last().map(|v| v.version) else {
        return refused(format!("{} has no accepted {} return for {}: nothing to review", r.member, r.dataset, r.year));
    };
    let version = r.version.unwrap_or(current);
    if !versions.iter().any(|v| v.version == version) {
        return refused(format!("{what} has no version {version}: its versions are 1 to {current}"));
    }
    if version != current {
        return refused(format!(
            "version {version} of {what} is no longer the current one: version {current} came in after it; review that one"
        ));
    }
    let why = match act {
        ReturnAction::Approve => {
            why.map(str::trim).filter(|w| !w.is_empty()).map(|w| reason(Some(w), "")).transpose()?
        }
        ReturnAction::SendBack => {
            Some(reason(why, "the focal point reads your reason on the receipt and corrects the return")?)
        }
        ReturnAction::Reopen => Some(reason(why, "reopening an approved return is recorded with its reason")?),
    };
    audit::append_checked(lake, |events| {
        let cycle = cycle(events, r.year, None, Utc::now());
        if let Some(lock) = cycle.lock_refusal(&r.member) {
            return refused(format!(
                "{lock}. {what} cannot be {} while the cycle is locked: grant {} an exception first",
                act.verb(),
                r.member
            ));
        }
        match (act, review(events, &r.member, &r.dataset, r.year, version)) {
            (ReturnAction::Approve, Review::Approved(s)) => {
                return refused(format!("version {version} of {what} is already approved by {}", s.words()));
            }
            (ReturnAction::SendBack, Review::Approved(s)) => {
                return refused(format!(
                    "version {version} of {what} was approved by {}: reopen it with a reason first",
                    s.words()
                ));
            }
            (ReturnAction::SendBack, Review::SentBack(s)) => {
                return refused(format!(
                    "version {version} of {what} is already sent back by {}; the focal point's correction will come as a new version",
                    s.words()
                ));
            }
            (ReturnAction::Reopen, state @ (Review::ToReview | Review::SentBack(_) | Review::Reopened(_))) => {
                return refused(format!(
                    "version {version} of {what} is not approved ({}): only an approved return is reopened",
                    state.words()
                ));
            }
            _ => {}
        }
        Ok(NewEvent {
            who: who.to_string(),
            action: act.action().to_string(),
            object: layout::version_key(&r.dataset, r.year, &r.member, version),
            member: Some(r.member.clone()),
            year: Some(r.year),
            dataset: Some(r.dataset.clone()),
            version: Some(version),
            part: None,
            why: why.clone(),
        })
    })
    .await
}

// ---------------------------------------------------------------- cycles

/// The cycle of a reference year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cycle {
    pub year: i32,
    /// The submission deadline, when the forum's meeting file (or pipeline) gives one.
    pub deadline: Option<DateTime<Utc>>,
    /// The deadline has passed: late returns are still taken, and flagged late.
    pub closed: bool,
    /// Locked by the secretariat: no new version counts, unless the member has an exception.
    pub locked: Option<Stamp>,
    /// Members whose returns are taken although the cycle is locked.
    pub exceptions: BTreeMap<String, Stamp>,
}

impl Cycle {
    /// `open`, `closed` or `locked`.
    pub fn state(&self) -> &'static str {
        if self.locked.is_some() {
            "locked"
        } else if self.closed {
            "closed"
        } else {
            "open"
        }
    }

    /// The cycle in one sentence.
    pub fn words(&self) -> String {
        let deadline = |d: &DateTime<Utc>| d.format("%Y-%m-%d %H:%M UTC").to_string();
        match (&self.locked, self.deadline) {
            (Some(s), _) => format!("cycle {} locked {}", self.year, s.by_the_secretariat()),
            (None, Some(d)) if self.closed => {
                format!("cycle {} closed on {} (late returns are still taken, and shown late)", self.year, deadline(&d))
            }
            (None, Some(d)) => format!("cycle {} open until {}", self.year, deadline(&d)),
            (None, None) => format!("cycle {} open (no submission deadline set)", self.year),
        }
    }

    /// Why a member's new version would not count, when the cycle is locked
    /// and the member has no exception.
    pub fn lock_refusal(&self, member: &str) -> Option<String> {
        match &self.locked {
            Some(s) if !self.exceptions.contains_key(member) => {
                Some(format!("cycle {} locked {}", self.year, s.by_the_secretariat()))
            }
            _ => None,
        }
    }
}

/// The cycle of `year` as of `now`, from the log.
pub fn cycle(events: &[Event], year: i32, deadline: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Cycle {
    let mut c =
        Cycle { year, deadline, closed: deadline.is_some_and(|d| now > d), locked: None, exceptions: BTreeMap::new() };
    for e in events.iter().filter(|e| e.action.starts_with("cycle.") && e.year == Some(year)) {
        match e.action.as_str() {
            action::LOCK => {
                c.locked = Some(Stamp::of(e));
                c.exceptions.clear();
            }
            action::UNLOCK => {
                c.locked = None;
                c.exceptions.clear();
            }
            action::EXCEPTION => {
                if let Some(m) = &e.member {
                    c.exceptions.insert(m.clone(), Stamp::of(e));
                }
            }
            action::EXCEPTION_END => {
                if let Some(m) = &e.member {
                    c.exceptions.remove(m);
                }
            }
            _ => {}
        }
    }
    c
}

/// What the secretariat does with a cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CycleAction {
    /// Lock the cycle's data for the meeting (a reason is required).
    Lock,
    /// Unlock it (a reason is required).
    Unlock,
    /// Let one member's new versions count although the cycle is locked.
    Exception(String),
    /// End a member's exception.
    ExceptionEnd(String),
}

/// Lock or unlock a cycle, or grant or end a member's exception. Each needs
/// a reason but ending an exception; each is refused when the cycle is not
/// in the state it acts on.
pub async fn act_on_cycle(lake: &Lake, who: &str, year: i32, act: CycleAction, why: Option<&str>) -> Result<Event> {
    let why = match &act {
        CycleAction::Lock => Some(reason(why, "a lock is shown with its reason to everyone it stops")?),
        CycleAction::Unlock => Some(reason(why, "unlocking a cycle is recorded with its reason")?),
        CycleAction::Exception(m) => Some(reason(why, &format!("an exception for {m} is recorded with its reason"))?),
        CycleAction::ExceptionEnd(_) => {
            why.map(str::trim).filter(|w| !w.is_empty()).map(|w| reason(Some(w), "")).transpose()?
        }
    };
    audit::append_checked(lake, |events| {
        let c = cycle(events, year, None, Utc::now());
        let (name, member) = match (&act, &c.locked) {
            (CycleAction::Lock, Some(s)) => {
                return refused(format!("cycle {year} is already locked {}", s.by_the_secretariat()));
            }
            (CycleAction::Lock, None) => (action::LOCK, None),
            (CycleAction::Unlock, None) => return refused(format!("cycle {year} is not locked: nothing to unlock")),
            (CycleAction::Unlock, Some(_)) => (action::UNLOCK, None),
            (CycleAction::Exception(m), None) => {
                return refused(format!(
                    "cycle {year} is not locked: {m}'s returns already count, no exception is needed"
                ));
            }
            (CycleAction::Exception(m), Some(_)) => {
                if let Some(s) = c.exceptions.get(m) {
                    return refused(format!("{m} already has an exception on cycle {year} (granted by {})", s.words()));
                }
                (action::EXCEPTION, Some(m.clone()))
            }
            (CycleAction::ExceptionEnd(m), _) => {
                if !c.exceptions.contains_key(m) {
                    return refused(format!("{m} has no exception on cycle {year}: nothing to end"));
                }
                (action::EXCEPTION_END, Some(m.clone()))
            }
        };
        Ok(NewEvent {
            who: who.to_string(),
            action: name.to_string(),
            object: format!("cycle/{year}"),
            member,
            year: Some(year),
            why: why.clone(),
            ..NewEvent::default()
        })
    })
    .await
}

/// Why intake does not take a valid return, if it does not: the cycle is
/// locked and the member has no exception; or the cycle closed before the
/// return came in and the version it would replace is approved (a change
/// after approval must not go unnoticed: the secretariat reopens the return
/// or grants an exception first). A return arriving late for a slot that is
/// not approved is taken, and shown late.
pub fn intake_refusal(
    events: &[Event],
    r: &ReturnRef,
    deadline: Option<DateTime<Utc>>,
    received: DateTime<Utc>,
) -> Option<String> {
    let c = cycle(events, r.year, deadline, received);
    if let Some(lock) = c.lock_refusal(&r.member) {
        return Some(format!(
            "{lock}. A new version would not count for the cycle: ask the secretariat for an exception for {} if it must",
            r.member
        ));
    }
    if c.closed && !c.exceptions.contains_key(&r.member) {
        let current = r.version?;
        if let Review::Approved(s) = review(events, &r.member, &r.dataset, r.year, current) {
            return Some(format!(
                "cycle {} closed on {} and version {current} of {} was approved by {}: a correction now needs the secretariat to reopen that return (with a reason) first",
                r.year,
                deadline.map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default(),
                r.words(),
                s.words()
            ));
        }
    }
    None
}

// ---------------------------------------------------------------- drafts

/// Where the drafts of a run stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftState {
    /// Not put up for review.
    NotUp,
    UnderReview,
    /// Cleared by every co-chair; its files are frozen.
    Final,
    /// A later run on the same cycle replaced it.
    Withdrawn,
}

/// A co-chair's comment on a paragraph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comment {
    pub by: String,
    pub at: String,
    /// The paragraph, as the draft page names it.
    pub part: String,
    pub text: String,
}

/// The clearance of one run's drafts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Draft {
    pub run_id: String,
    pub year: Option<i32>,
    pub state: DraftState,
    pub put_up: Option<Stamp>,
    pub cleared: Vec<Stamp>,
    pub comments: Vec<Comment>,
    pub finalised: Option<Stamp>,
    pub withdrawn: Option<Stamp>,
}

impl Draft {
    /// Whether every co-chair named has cleared it.
    pub fn cleared_by_all(&self, co_chairs: &[String]) -> bool {
        !co_chairs.is_empty() && co_chairs.iter().all(|c| self.cleared.iter().any(|s| &s.by == c))
    }

    /// Where it stands, in one sentence.
    pub fn words(&self) -> String {
        match self.state {
            DraftState::NotUp => "not put up for review".into(),
            DraftState::UnderReview => {
                let by = self.put_up.as_ref().map(Stamp::words).unwrap_or_default();
                let cleared: Vec<&str> = self.cleared.iter().map(|s| s.by.as_str()).collect();
                if cleared.is_empty() {
                    format!("up for review (put up by {by}); not cleared yet")
                } else {
                    format!("up for review (put up by {by}); cleared by {}", cleared.join(", "))
                }
            }
            DraftState::Final => format!(
                "final: cleared by every co-chair ({}), files frozen",
                self.cleared.iter().map(|s| s.by.as_str()).collect::<Vec<_>>().join(", ")
            ),
            DraftState::Withdrawn => {
                format!("withdrawn ({})", self.withdrawn.as_ref().map(Stamp::words).unwrap_or_default())
            }
        }
    }
}

/// The clearance of a run's drafts, from the log.
pub fn draft(events: &[Event], run_id: &str) -> Draft {
    let mut d = Draft {
        run_id: run_id.to_string(),
        year: None,
        state: DraftState::NotUp,
        put_up: None,
        cleared: Vec::new(),
        comments: Vec::new(),
        finalised: None,
        withdrawn: None,
    };
    for e in events.iter().filter(|e| e.action.starts_with("draft.") && e.object == run_id) {
        match e.action.as_str() {
            action::DRAFT_REVIEW => {
                d.state = DraftState::UnderReview;
                d.year = e.year;
                d.put_up = Some(Stamp::of(e));
            }
            action::DRAFT_COMMENT => d.comments.push(Comment {
                by: e.who.clone(),
                at: e.at.clone(),
                part: e.part.clone().unwrap_or_default(),
                text: e.why.clone().unwrap_or_default(),
            }),
            action::DRAFT_CLEAR => d.cleared.push(Stamp::of(e)),
            action::DRAFT_FINAL => {
                d.state = DraftState::Final;
                d.finalised = Some(Stamp::of(e));
            }
            action::DRAFT_WITHDRAW => {
                d.state = DraftState::Withdrawn;
                d.withdrawn = Some(Stamp::of(e));
            }
            _ => {}
        }
    }
    d
}

/// Every run whose drafts were ever put up for review, in the order they were.
pub fn drafts(events: &[Event]) -> Vec<Draft> {
    let mut seen: Vec<&str> = Vec::new();
    for e in events.iter().filter(|e| e.action == action::DRAFT_REVIEW) {
        if !seen.contains(&e.object.as_str()) {
            seen.push(&e.object);
        }
    }
    seen.into_iter().map(|run| draft(events, run)).collect()
}

fn not_under_review(d: &Draft) -> Option<String> {
    match d.state {
        DraftState::UnderReview => None,
        DraftState::NotUp => Some(format!("the drafts of run {} are not up for review", d.run_id)),
        DraftState::Final => Some(format!("the drafts of run {} are final ({})", d.run_id, d.words())),
        DraftState::Withdrawn => Some(format!("the drafts of run {} were {}", d.run_id, d.words())),
    }
}

/// Put a run's drafts up for the co-chairs' review. Refused unless the
/// run's cycle is locked and the run was made after the lock.
pub async fn put_up_for_review(lake: &Lake, who: &str, run: &Manifest) -> Result<Event> {
    let year = run.cycle_year;
    audit::append_checked(lake, |events| {
        let c = cycle(events, year, None, Utc::now());
        let Some(lock) = &c.locked else {
            return refused(format!(
                "cycle {year} is not locked: lock it before its drafts go to the co-chairs, so the figures they clear cannot change"
            ));
        };
        if run.created_at < lock.at {
            return refused(format!(
                "run {} was made on {}, before cycle {year} was locked on {}: make a new run on the locked data and put that one up",
                run.run_id,
                when(&run.created_at),
                when(&lock.at)
            ));
        }
        let d = draft(events, &run.run_id);
        if d.state != DraftState::NotUp {
            return refused(format!("the drafts of run {} are already {}", run.run_id, d.words()));
        }
        Ok(NewEvent {
            who: who.to_string(),
            action: action::DRAFT_REVIEW.to_string(),
            object: run.run_id.clone(),
            year: Some(year),
            ..NewEvent::default()
        })
    })
    .await
}

/// A co-chair's comment on a paragraph of a draft under review.
pub async fn comment(lake: &Lake, who: &str, run_id: &str, part: &str, text: &str) -> Result<Event> {
    let text = reason(Some(text), "write the comment")?;
    let part = part.trim();
    if part.is_empty() || part.chars().count() > 200 {
        return refused("name the paragraph the comment is on (at most 200 characters)");
    }
    audit::append_checked(lake, |events| {
        let d = draft(events, run_id);
        if let Some(why) = not_under_review(&d) {
            return refused(format!("{why}: comments are taken on drafts under review"));
        }
        Ok(NewEvent {
            who: who.to_string(),
            action: action::DRAFT_COMMENT.to_string(),
            object: run_id.to_string(),
            year: d.year,
            part: Some(part.to_string()),
            why: Some(text.clone()),
            ..NewEvent::default()
        })
    })
    .await
}

/// A co-chair clears a draft under review. Refused for anyone not among
/// `co_chairs`, on a cycle that is no longer locked, and twice by the same
/// co-chair. Returns the event and the draft as it now stands: when every
/// co-chair has cleared it, freeze its files with [`finalise`].
pub async fn clear(lake: &Lake, who: &str, run_id: &str, co_chairs: &[String]) -> Result<(Event, Draft)> {
    if !co_chairs.iter().any(|c| c == who) {
        return refused(format!("{who} is not a co-chair: only the co-chairs ({}) clear drafts", co_chairs.join(", ")));
    }
    let event = audit::append_checked(lake, |events| {
        let d = draft(events, run_id);
        if let Some(why) = not_under_review(&d) {
            return refused(format!("{why}: only a draft under review is cleared"));
        }
        let year = d.year.unwrap_or_default();
        let c = cycle(events, year, None, Utc::now());
        if c.locked.is_none() {
            let unlocked = events
                .iter()
                .rev()
                .find(|e| e.action == action::UNLOCK && e.year == Some(year))
                .map(|e| format!(" (unlocked by {})", Stamp::of(e).words()))
                .unwrap_or_default();
            return refused(format!(
                "cycle {year} is not locked{unlocked}: a draft is cleared only on locked figures; lock the cycle and make a new run"
            ));
        }
        if let Some(s) = d.cleared.iter().find(|s| s.by == who) {
            return refused(format!("you already cleared the drafts of run {run_id} on {}", when(&s.at)));
        }
        Ok(NewEvent {
            who: who.to_string(),
            action: action::DRAFT_CLEAR.to_string(),
            object: run_id.to_string(),
            year: d.year,
            ..NewEvent::default()
        })
    })
    .await?;
    let events = audit::read(lake).await?;
    Ok((event, draft(&events, run_id)))
}

/// Freeze the drafts of a run every co-chair has cleared: each file is
/// written once under `runs/{run}/final/` (never overwritten) and the log
/// records their sha256.
pub async fn finalise(
    lake: &Lake,
    who: &str,
    run_id: &str,
    co_chairs: &[String],
    files: &[(String, Bytes)],
) -> Result<Event> {
    let mut hashes = Vec::new();
    for (name, bytes) in files {
        let key = layout::run_final(run_id, name);
        if lake.put_new(&key, bytes.clone()).await? == Created::AlreadyExists && lake.get(&key).await? != *bytes {
            return Err(StoreError::Invalid(format!("{key} is already frozen with other bytes")));
        }
        hashes.push(format!("{name} sha256 {}", sha256_hex(bytes)));
    }
    audit::append_checked(lake, |events| {
        let d = draft(events, run_id);
        if let Some(why) = not_under_review(&d) {
            return refused(format!("{why}: only a draft under review becomes final"));
        }
        if !d.cleared_by_all(co_chairs) {
            let missing: Vec<&str> =
                co_chairs.iter().filter(|c| !d.cleared.iter().any(|s| &s.by == *c)).map(String::as_str).collect();
            return refused(format!(
                "not every co-chair has cleared run {run_id} yet: waiting for {}",
                missing.join(", ")
            ));
        }
        Ok(NewEvent {
            who: who.to_string(),
            action: action::DRAFT_FINAL.to_string(),
            object: run_id.to_string(),
            year: d.year,
            why: Some(format!("frozen: {}", hashes.join("; "))),
            ..NewEvent::default()
        })
    })
    .await
}

/// After a run, withdraw the clearance of every earlier run's drafts on the
/// same cycle that are under review or final, saying which run replaced them.
pub async fn withdraw_superseded(lake: &Lake, who: &str, run: &Manifest) -> Result<Vec<Event>> {
    let mut out = Vec::new();
    let events = audit::read(lake).await?;
    for d in drafts(&events) {
        if d.run_id == run.run_id
            || d.year != Some(run.cycle_year)
            || !matches!(d.state, DraftState::UnderReview | DraftState::Final)
        {
            continue;
        }
        let why = format!(
            "run {} was made on cycle {} on {}: its figures may differ; review the new run's drafts",
            run.run_id,
            run.cycle_year,
            when(&run.created_at)
        );
        let r = audit::append_checked(lake, |events| {
            let now = draft(events, &d.run_id);
            if !matches!(now.state, DraftState::UnderReview | DraftState::Final) {
                return refused("already withdrawn");
            }
            Ok(NewEvent {
                who: who.to_string(),
                action: action::DRAFT_WITHDRAW.to_string(),
                object: d.run_id.clone(),
                year: d.year,
                why: Some(why.clone()),
                ..NewEvent::default()
            })
        })
        .await;
        match r {
            Ok(e) => out.push(e),
            Err(StoreError::Refused(_)) => {} // another run withdrew it first
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The events that concern a member and/or a year, oldest first.
pub fn concerning<'a>(events: &'a [Event], member: Option<&str>, year: Option<i32>) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| member.is_none_or(|m| e.member.as_deref() == Some(m)))
        .filter(|e| year.is_none_or(|y| e.year == Some(y)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lake() -> (tempfile::TempDir, Lake) {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&dir.path().to_string_lossy()).unwrap();
        (dir, lake)
    }

    /// A version object: review only lists keys, so any bytes do.
    async fn version(lake: &Lake, member: &str, v: u32) {
        lake.put_new(&layout::version_key("maritime_arrivals", 2012, member, v), Bytes::from_static(b"x"))
            .await
            .unwrap();
    }

    fn aus() -> ReturnRef {
        ReturnRef { member: "AUS".into(), dataset: "maritime_arrivals".into(), year: 2012, version: None }
    }

    fn refusal<T: std::fmt::Debug>(r: Result<T>) -> String {
        match r {
            Err(StoreError::Refused(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn manifest(run_id: &str, created_at: &str) -> Manifest {
        serde_json::from_value(serde_json::json!({
            "run_id": run_id, "created_at": created_at, "engine": "local", "target_partitions": 1,
            "pipeline_name": "som", "pipeline_version": "1", "pipeline_source": "x", "pipeline_sha256": "x",
            "cycle_year": 2012, "steps": [], "parameters": {}, "disclosure": [], "snapshot": "s",
            "inputs": [], "submissions": [], "outputs": [], "timings_ms": {}, "warnings": [],
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn every_transition_of_a_return_and_every_refusal() {
        let (_d, lake) = lake().await;
        let aus_ref = aus();
        let approve = |who: &'static str| review_return(&lake, who, ReturnAction::Approve, &aus_ref, None);
        // nothing to review yet
        assert!(refusal(approve("alice").await).contains("AUS has no accepted maritime_arrivals return for 2012"));
        version(&lake, "AUS", 1).await;
        // sending back needs a reason; then it is sent back, once
        let r = review_return(&lake, "alice", ReturnAction::SendBack, &aus(), Some("  ")).await;
        assert!(refusal(r).starts_with("say why: the focal point reads your reason"));
        review_return(&lake, "alice", ReturnAction::SendBack, &aus(), Some("sea arrivals do not add up"))
            .await
            .unwrap();
        let r = review_return(&lake, "bob", ReturnAction::SendBack, &aus(), Some("again")).await;
        assert!(refusal(r).contains("already sent back by alice on "));
        let events = audit::read(&lake).await.unwrap();
        let state = review(&events, "AUS", "maritime_arrivals", 2012, 1);
        assert!(
            state.words().starts_with("sent back by alice on ")
                && state.words().ends_with(": sea arrivals do not add up")
        );
        // a correction arrives as version 2: to review; version 1 can no longer be reviewed
        version(&lake, "AUS", 2).await;
        let old = ReturnRef { version: Some(1), ..aus() };
        let r = review_return(&lake, "alice", ReturnAction::Approve, &old, None).await;
        assert_eq!(
            refusal(r),
            "version 1 of AUS's maritime_arrivals return for 2012 is no longer the current one: version 2 came in after it; review that one"
        );
        let r =
            review_return(&lake, "alice", ReturnAction::Approve, &ReturnRef { version: Some(7), ..aus() }, None).await;
        assert!(refusal(r).contains("has no version 7: its versions are 1 to 2"));
        // reopening needs an approved return
        let r = review_return(&lake, "alice", ReturnAction::Reopen, &aus(), Some("why not")).await;
        assert!(refusal(r).contains("is not approved (to review): only an approved return is reopened"));
        let e = approve("alice").await.unwrap();
        assert_eq!(
            (e.action.as_str(), e.version, e.dataset.as_deref()),
            (action::APPROVE, Some(2), Some("maritime_arrivals"))
        );
        assert!(
            refusal(approve("bob").await)
                .starts_with("version 2 of AUS's maritime_arrivals return for 2012 is already approved by alice on ")
        );
        let r = review_return(&lake, "bob", ReturnAction::SendBack, &aus(), Some("late doubts")).await;
        assert!(refusal(r).ends_with(": reopen it with a reason first"));
        let r = review_return(&lake, "bob", ReturnAction::Reopen, &aus(), None).await;
        assert!(refusal(r).starts_with("say why: reopening an approved return"));
        review_return(&lake, "bob", ReturnAction::Reopen, &aus(), Some("UNODC figures differ")).await.unwrap();
        let events = audit::read(&lake).await.unwrap();
        assert_eq!(review(&events, "AUS", "maritime_arrivals", 2012, 2).key(), "reopened");
        assert_eq!(
            review(&events, "AUS", "maritime_arrivals", 2012, 1).key(),
            "sent_back",
            "each version keeps its own review"
        );
        // a locked cycle stops every review action but for a member with an exception
        act_on_cycle(&lake, "alice", 2012, CycleAction::Lock, Some("figures agreed for SOM5")).await.unwrap();
        let r = approve("alice").await;
        let why = refusal(r);
        assert!(why.starts_with("cycle 2012 locked by the secretariat (alice) on ") && why.contains(": figures agreed for SOM5. AUS's maritime_arrivals return for 2012 cannot be approved while the cycle is locked: grant AUS an exception first"), "{why}");
        act_on_cycle(&lake, "alice", 2012, CycleAction::Exception("AUS".into()), Some("late correction agreed"))
            .await
            .unwrap();
        approve("alice").await.unwrap();
        assert!(
            audit::verify(&lake).await.unwrap() != audit::Verdict::Broken { at: String::new(), why: String::new() }
        );
    }

    #[tokio::test]
    async fn every_transition_of_a_cycle_and_every_refusal() {
        let (_d, lake) = lake().await;
        let act = |a: CycleAction, why: Option<&'static str>| act_on_cycle(&lake, "alice", 2012, a, why);
        assert!(refusal(act(CycleAction::Lock, None).await).starts_with("say why: a lock is shown with its reason"));
        assert_eq!(refusal(act(CycleAction::Unlock, Some("x")).await), "cycle 2012 is not locked: nothing to unlock");
        let r = act(CycleAction::Exception("AUS".into()), Some("x")).await;
        assert_eq!(refusal(r), "cycle 2012 is not locked: AUS's returns already count, no exception is needed");
        act(CycleAction::Lock, Some("agreed")).await.unwrap();
        assert!(
            refusal(act(CycleAction::Lock, Some("again")).await)
                .starts_with("cycle 2012 is already locked by the secretariat (alice) on ")
        );
        assert!(
            refusal(act(CycleAction::Exception("AUS".into()), None).await).starts_with("say why: an exception for AUS")
        );
        act(CycleAction::Exception("AUS".into()), Some("agreed late")).await.unwrap();
        assert!(
            refusal(act(CycleAction::Exception("AUS".into()), Some("x")).await)
                .starts_with("AUS already has an exception on cycle 2012 (granted by alice on ")
        );
        let events = audit::read(&lake).await.unwrap();
        let c = cycle(&events, 2012, None, Utc::now());
        assert_eq!((c.state(), c.lock_refusal("AUS"), c.lock_refusal("IDN").is_some()), ("locked", None, true));
        assert!(
            refusal(act(CycleAction::ExceptionEnd("IDN".into()), None).await)
                .contains("IDN has no exception on cycle 2012")
        );
        act(CycleAction::ExceptionEnd("AUS".into()), None).await.unwrap();
        act(CycleAction::Unlock, Some("a member's figures were wrong")).await.unwrap();
        let events = audit::read(&lake).await.unwrap();
        // another year is untouched; time closes a cycle, not an event
        let deadline = "2013-02-28T23:59:59Z".parse().unwrap();
        let c = cycle(&events, 2012, Some(deadline), "2013-03-01T00:00:00Z".parse().unwrap());
        assert_eq!(c.state(), "closed");
        assert!(c.words().starts_with("cycle 2012 closed on 2013-02-28 23:59 UTC"));
        assert_eq!(cycle(&events, 2012, Some(deadline), "2013-02-01T00:00:00Z".parse().unwrap()).state(), "open");
        assert_eq!(cycle(&events, 2011, None, Utc::now()).state(), "open");
    }

    #[tokio::test]
    async fn intake_takes_late_returns_but_not_on_a_locked_cycle_nor_over_an_approved_one_after_the_deadline() {
        let (_d, lake) = lake().await;
        version(&lake, "AUS", 1).await;
        let deadline: DateTime<Utc> = "2013-02-28T23:59:59Z".parse().unwrap();
        let before: DateTime<Utc> = "2013-02-01T00:00:00Z".parse().unwrap();
        let after: DateTime<Utc> = "2013-03-02T00:00:00Z".parse().unwrap();
        let current = ReturnRef { version: Some(1), ..aus() };
        let events = audit::read(&lake).await.unwrap();
        assert_eq!(intake_refusal(&events, &current, Some(deadline), after), None, "late, not approved: taken");
        review_return(&lake, "alice", ReturnAction::Approve, &aus(), None).await.unwrap();
        let events = audit::read(&lake).await.unwrap();
        assert_eq!(
            intake_refusal(&events, &current, Some(deadline), before),
            None,
            "before the deadline a correction goes back to review"
        );
        let why = intake_refusal(&events, &current, Some(deadline), after).unwrap();
        assert!(why.starts_with("cycle 2012 closed on 2013-02-28 23:59 UTC and version 1 of AUS's maritime_arrivals return for 2012 was approved by alice on "), "{why}");
        review_return(&lake, "alice", ReturnAction::Reopen, &aus(), Some("IOM asked")).await.unwrap();
        let events = audit::read(&lake).await.unwrap();
        assert_eq!(intake_refusal(&events, &current, Some(deadline), after), None, "reopened: the correction is taken");
        act_on_cycle(&lake, "alice", 2012, CycleAction::Lock, Some("for SOM5")).await.unwrap();
        let events = audit::read(&lake).await.unwrap();
        let why = intake_refusal(&events, &current, None, before).unwrap();
        assert!(
            why.starts_with("cycle 2012 locked by the secretariat (alice) on ")
                && why.contains(": for SOM5. A new version would not count"),
            "{why}"
        );
        let new_member = ReturnRef { member: "IDN".into(), version: None, ..aus() };
        assert!(intake_refusal(&events, &new_member, None, before).is_some(), "a first return is refused too");
        act_on_cycle(&lake, "alice", 2012, CycleAction::Exception("IDN".into()), Some("agreed")).await.unwrap();
        let events = audit::read(&lake).await.unwrap();
        assert_eq!(intake_refusal(&events, &new_member, None, before), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_people_acting_at_once_never_both_win() {
        let (_d, lake) = lake().await;
        version(&lake, "AUS", 1).await;
        for round in 0..4 {
            let tasks: Vec<_> = ["alice", "bob", "carol"]
                .into_iter()
                .map(|who| {
                    let lake = lake.clone();
                    tokio::spawn(async move {
                        if round % 2 == 0 {
                            act_on_cycle(&lake, who, 2012, CycleAction::Lock, Some("mine")).await
                        } else {
                            act_on_cycle(&lake, who, 2012, CycleAction::Unlock, Some("mine")).await
                        }
                    })
                })
                .collect();
            let mut won = 0;
            for t in tasks {
                match t.await.unwrap() {
                    Ok(_) => won += 1,
                    Err(StoreError::Refused(why)) => {
                        assert!(why.contains("already locked") || why.contains("not locked"), "{why}")
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            assert_eq!(won, 1, "round {round}: exactly one lock or unlock took effect");
        }
        let tasks: Vec<_> = ["alice", "bob", "carol", "dan"]
            .into_iter()
            .map(|who| {
                let lake = lake.clone();
                tokio::spawn(async move { review_return(&lake, who, ReturnAction::Approve, &aus(), None).await })
            })
            .collect();
        let mut won = 0;
        for t in tasks {
            won += usize::from(t.await.unwrap().is_ok());
        }
        assert_eq!(won, 1, "one approval; the others are told it is already approved");
        assert!(matches!(audit::verify(&lake).await.unwrap(), audit::Verdict::Whole { events: 5, .. }));
    }

    #[tokio::test]
    async fn drafts_are_put_up_on_locked_figures_cleared_by_every_co_chair_frozen_and_withdrawn_by_a_later_run() {
        let (_d, lake) = lake().await;
        let chairs = ["chair-aus".to_string(), "chair-idn".to_string()];
        let early = manifest("r-early", "2013-03-01T00:00:00.000Z");
        let r = put_up_for_review(&lake, "alice", &early).await;
        assert!(refusal(r).starts_with("cycle 2012 is not locked: lock it before its drafts go to the co-chairs"));
        act_on_cycle(&lake, "alice", 2012, CycleAction::Lock, Some("agreed")).await.unwrap();
        let r = put_up_for_review(&lake, "alice", &early).await;
        assert!(
            refusal(r).starts_with("run r-early was made on 2013-03-01 00:00 UTC, before cycle 2012 was locked on ")
        );
        let run = manifest("r-late", &Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        let r = comment(&lake, "chair-aus", "r-late", "¶1", "hello").await;
        assert!(refusal(r).starts_with("the drafts of run r-late are not up for review"));
        put_up_for_review(&lake, "alice", &run).await.unwrap();
        assert!(refusal(put_up_for_review(&lake, "alice", &run).await).contains("already up for review"));
        comment(&lake, "chair-aus", "r-late", "Co-Chairs' Statement ¶4", "Name the late members.").await.unwrap();
        assert!(refusal(comment(&lake, "chair-aus", "r-late", " ", "x").await).starts_with("name the paragraph"));
        let r = clear(&lake, "alice", "r-late", &chairs).await;
        assert_eq!(refusal(r), "alice is not a co-chair: only the co-chairs (chair-aus, chair-idn) clear drafts");
        let (_, d) = clear(&lake, "chair-aus", "r-late", &chairs).await.unwrap();
        assert_eq!(d.state, DraftState::UnderReview);
        assert!(!d.cleared_by_all(&chairs));
        assert!(
            refusal(clear(&lake, "chair-aus", "r-late", &chairs).await)
                .starts_with("you already cleared the drafts of run r-late")
        );
        let files = [("statement.md".to_string(), Bytes::from_static(b"# Statement\n"))];
        assert!(
            refusal(finalise(&lake, "chair-aus", "r-late", &chairs, &files).await).contains("waiting for chair-idn")
        );
        // unlocked in between: no clearance on figures that may change
        act_on_cycle(&lake, "alice", 2012, CycleAction::Unlock, Some("AUS resubmits")).await.unwrap();
        let why = refusal(clear(&lake, "chair-idn", "r-late", &chairs).await);
        assert!(
            why.starts_with("cycle 2012 is not locked (unlocked by alice on ")
                && why.contains(": AUS resubmits): a draft is cleared only on locked figures"),
            "{why}"
        );
        act_on_cycle(&lake, "alice", 2012, CycleAction::Lock, Some("again")).await.unwrap();
        let (_, d) = clear(&lake, "chair-idn", "r-late", &chairs).await.unwrap();
        assert!(d.cleared_by_all(&chairs));
        finalise(&lake, "chair-idn", "r-late", &chairs, &files).await.unwrap();
        assert_eq!(lake.get(&layout::run_final("r-late", "statement.md")).await.unwrap(), files[0].1);
        let events = audit::read(&lake).await.unwrap();
        let d = draft(&events, "r-late");
        assert_eq!(d.state, DraftState::Final);
        assert_eq!(d.comments[0].text, "Name the late members.");
        assert!(refusal(comment(&lake, "chair-aus", "r-late", "¶1", "more").await).contains("are final"));
        // a later run on the cycle withdraws the clearance, and says why
        let later = manifest("r-later", &Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        let withdrawn = withdraw_superseded(&lake, "fedreport run", &later).await.unwrap();
        assert_eq!(withdrawn.len(), 1);
        let events = audit::read(&lake).await.unwrap();
        let d = draft(&events, "r-late");
        assert_eq!(d.state, DraftState::Withdrawn);
        assert!(
            d.words().starts_with("withdrawn (fedreport run on ")
                && d.words().contains("run r-later was made on cycle 2012"),
            "{}",
            d.words()
        );
        assert!(withdraw_superseded(&lake, "fedreport run", &later).await.unwrap().is_empty(), "once");
        assert!(matches!(audit::verify(&lake).await.unwrap(), audit::Verdict::Whole { .. }));
    }
}
