//! The reporting cycle from the command line: the audit log (`log`), the
//! review of returns (`review`), the cycle's lock (`cycle`) and the
//! clearance of drafts (`draft`). Each verb calls one function of
//! `fedreport_store::cycle` (or the forum's `clear_draft`); a refusal prints
//! exactly why and exits 1.

use anyhow::{Result, bail};
use fedreport_forum::Forum;
use fedreport_store::cycle::{self, CycleAction, ReturnAction, ReturnRef};
use fedreport_store::manifest::load_manifest;
use fedreport_store::{Lake, StoreError, audit};

use super::Outcome;

/// Who acts: `--by`, else the login name of whoever runs the command.
#[derive(clap::Args)]
pub struct By {
    /// The name recorded in the log as having acted (default: your login name).
    #[arg(long, env = "FEDREPORT_BY")]
    by: Option<String>,
}

impl By {
    fn name(&self) -> String {
        self.by
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("USERNAME").ok())
            .unwrap_or_else(|| "secretariat".into())
    }
}

#[derive(clap::Args)]
pub struct LogArgs {
    #[arg(long, env = "FEDREPORT_LAKE")]
    lake: String,
    /// Only the events about one member.
    #[arg(long)]
    member: Option<String>,
    /// Only the events about one cycle (reference year).
    #[arg(long)]
    year: Option<i32>,
    /// Check the chain instead: every event in place, none edited, none missing.
    #[arg(long)]
    verify: bool,
    /// Print the events as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand)]
pub enum ReviewVerb {
    /// Approve the current version of a return.
    Approve(ReviewArgs),
    /// Send a return back to its focal point with a reason (shown on their receipt).
    SendBack(ReviewArgs),
    /// Reopen an approved return, with a reason.
    Reopen(ReviewArgs),
}

#[derive(clap::Args)]
pub struct ReviewArgs {
    #[arg(long, env = "FEDREPORT_LAKE")]
    lake: String,
    #[arg(long)]
    member: String,
    #[arg(long)]
    dataset: String,
    #[arg(long)]
    year: i32,
    /// The version reviewed (default: the current one; another is refused).
    #[arg(long)]
    version: Option<u32>,
    /// Why (needed to send back or reopen; the focal point reads it).
    #[arg(long)]
    why: Option<String>,
    #[command(flatten)]
    by: By,
}

#[derive(clap::Subcommand)]
pub enum CycleVerb {
    /// Where a cycle stands: open, closed or locked, with its exceptions.
    Status(CycleArgs),
    /// Lock a cycle's data for the meeting (a reason is required).
    Lock(CycleArgs),
    /// Unlock a cycle (a reason is required).
    Unlock(CycleArgs),
    /// Let one member's new versions count although the cycle is locked (--member, --why).
    Except(CycleArgs),
    /// End a member's exception (--member).
    EndException(CycleArgs),
}

#[derive(clap::Args)]
pub struct CycleArgs {
    #[arg(long, env = "FEDREPORT_LAKE")]
    lake: String,
    #[arg(long)]
    year: i32,
    #[arg(long)]
    member: Option<String>,
    #[arg(long)]
    why: Option<String>,
    #[command(flatten)]
    by: By,
}

#[derive(clap::Subcommand)]
pub enum DraftVerb {
    /// Where a run's drafts stand: under review, cleared by whom, comments.
    Status(DraftArgs),
    /// Put a run's drafts up for the co-chairs' review (the cycle must be locked).
    Review(DraftArgs),
    /// Comment on a paragraph of a draft under review (--paragraph, --text).
    Comment(DraftArgs),
    /// Clear a draft as a co-chair (--by names the co-chair's account).
    Clear(DraftArgs),
}

#[derive(clap::Args)]
pub struct DraftArgs {
    #[arg(long, env = "FEDREPORT_LAKE")]
    lake: String,
    #[arg(long)]
    run: String,
    /// The paragraph a comment is on, e.g. "statement ¶4".
    #[arg(long)]
    paragraph: Option<String>,
    #[arg(long)]
    text: Option<String>,
    #[command(flatten)]
    by: By,
}

/// A refusal is an answer, not a failure of the tool: print it, exit 1.
#[derive(clap::Args)]
pub struct WithdrawArgs {
    #[arg(long, env = "FEDREPORT_LAKE")]
    lake: String,
    /// The member whose accepted returns no longer count.
    #[arg(long)]
    member: String,
    /// Why (required: the audit log keeps it).
    #[arg(long)]
    why: String,
    #[command(flatten)]
    by: By,
}

/// Withdraw a member: its accepted returns stay in the lake but no run
/// counts them; a return it sends later counts again.
pub async fn withdraw(forum: &Forum, a: WithdrawArgs) -> Result<Outcome> {
    check_member(forum, &a.member)?;
    let lake = Lake::open(&a.lake)?;
    match fedreport_store::ledger::withdraw_member(&lake, &a.by.name(), &a.member, &a.why).await {
        Ok(w) => {
            println!(
                "{} withdrawn: its {} current returns no longer count in a run (they stay in the lake, and a return it sends later counts)",
                a.member,
                w.slots.len()
            );
            for s in &w.slots {
                println!("  {} {} (version {})", s.dataset, s.year, s.through);
            }
            for (year, by) in &w.locked {
                println!("  kept: cycle {year} is locked ({by}); unlock it to withdraw its returns");
            }
            Ok(Outcome::Done)
        }
        Err(StoreError::Refused(why)) => {
            eprintln!("refused: {why}");
            Ok(Outcome::Rejected)
        }
        Err(e) => Err(e.into()),
    }
}

fn answer(r: fedreport_store::Result<audit::Event>) -> Result<Outcome> {
    match r {
        Ok(e) => {
            println!("{}", e.line());
            Ok(Outcome::Done)
        }
        Err(StoreError::Refused(why)) => {
            eprintln!("refused: {why}");
            Ok(Outcome::Rejected)
        }
        Err(e) => Err(e.into()),
    }
}

fn check_member(forum: &Forum, member: &str) -> Result<()> {
    if !forum.contract.registry().is_reporting_member(member) {
        bail!("{member} is not a reporting member of {}; see the registry", forum.short);
    }
    Ok(())
}

pub async fn log(a: LogArgs) -> Result<Outcome> {
    let lake = Lake::open(&a.lake)?;
    if a.verify {
        return match audit::verify(&lake).await? {
            audit::Verdict::Whole { events, head } => {
                println!("the log is whole: {events} events, the newest with sha256 {head}");
                Ok(Outcome::Done)
            }
            audit::Verdict::Broken { at, why } => {
                eprintln!("the log is broken at {at}: {why}");
                Ok(Outcome::Rejected)
            }
        };
    }
    let events = audit::read(&lake).await?;
    let chosen = cycle::concerning(&events, a.member.as_deref(), a.year);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&chosen)?);
    } else if chosen.is_empty() {
        println!("no events{}", if events.is_empty() { " yet" } else { " match" });
    } else {
        println!("{:>5}  {:<24}  {:<22} {:<22} object — why", "seq", "at (UTC)", "who", "action");
        chosen.iter().for_each(|e| println!("{}", e.line()));
    }
    Ok(Outcome::Done)
}

pub async fn review(forum: &Forum, verb: ReviewVerb) -> Result<Outcome> {
    let (act, a) = match verb {
        ReviewVerb::Approve(a) => (ReturnAction::Approve, a),
        ReviewVerb::SendBack(a) => (ReturnAction::SendBack, a),
        ReviewVerb::Reopen(a) => (ReturnAction::Reopen, a),
    };
    check_member(forum, &a.member)?;
    forum.contract.schemas().get(&a.dataset)?;
    let lake = Lake::open(&a.lake)?;
    let r = ReturnRef { member: a.member, dataset: a.dataset, year: a.year, version: a.version };
    answer(cycle::review_return(&lake, &a.by.name(), act, &r, a.why.as_deref()).await)
}

pub async fn cycle(forum: &Forum, verb: CycleVerb) -> Result<Outcome> {
    let member = |a: &CycleArgs| -> Result<String> {
        let Some(m) = a.member.clone() else { bail!("name the member with --member") };
        check_member(forum, &m)?;
        Ok(m)
    };
    let (act, a) = match verb {
        CycleVerb::Status(a) => {
            let lake = Lake::open(&a.lake)?;
            let events = audit::read(&lake).await?;
            let c = cycle::cycle(&events, a.year, forum.deadline(a.year), chrono::Utc::now());
            println!("{}", c.words());
            for (m, s) in &c.exceptions {
                println!("  exception for {m}: granted by {}", s.words());
            }
            return Ok(Outcome::Done);
        }
        CycleVerb::Lock(a) => (CycleAction::Lock, a),
        CycleVerb::Unlock(a) => (CycleAction::Unlock, a),
        CycleVerb::Except(a) => (CycleAction::Exception(member(&a)?), a),
        CycleVerb::EndException(a) => (CycleAction::ExceptionEnd(member(&a)?), a),
    };
    let lake = Lake::open(&a.lake)?;
    answer(cycle::act_on_cycle(&lake, &a.by.name(), a.year, act, a.why.as_deref()).await)
}

pub async fn draft(forum: &Forum, verb: DraftVerb) -> Result<Outcome> {
    match verb {
        DraftVerb::Status(a) => {
            let lake = Lake::open(&a.lake)?;
            let events = audit::read(&lake).await?;
            let d = cycle::draft(&events, &a.run);
            println!("run {}: {}", a.run, d.words());
            for c in &d.comments {
                println!("  {} on {} — {}: {}", c.by, cycle::when(&c.at), c.part, c.text);
            }
            Ok(Outcome::Done)
        }
        DraftVerb::Review(a) => {
            let lake = Lake::open(&a.lake)?;
            let manifest = load_manifest(&lake, &a.run).await?;
            answer(cycle::put_up_for_review(&lake, &a.by.name(), &manifest).await)
        }
        DraftVerb::Comment(a) => {
            let lake = Lake::open(&a.lake)?;
            let (Some(p), Some(t)) = (&a.paragraph, &a.text) else {
                bail!("a comment needs --paragraph (which one) and --text (what you say)")
            };
            answer(cycle::comment(&lake, &a.by.name(), &a.run, p, t).await)
        }
        DraftVerb::Clear(a) => {
            let lake = Lake::open(&a.lake)?;
            let co_chairs = fedreport_access::Accounts::new(&lake).co_chairs().await?;
            match forum.clear_draft(&lake, &a.run, &a.by.name(), &co_chairs).await {
                Ok(d) => {
                    println!("run {}: {}", a.run, d.words());
                    Ok(Outcome::Done)
                }
                Err(fedreport_forum::ForumError::Store(StoreError::Refused(why))) => {
                    eprintln!("refused: {why}");
                    Ok(Outcome::Rejected)
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
