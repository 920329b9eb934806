//! The secretariat's verbs on the inbox: intake, receipts, the completeness
//! board, and the S3 access policy of a focal point.

use anyhow::{Result, bail};
use fedreport_contract::finding::plural;
use fedreport_contract::{ValidateOptions, Validator};
use fedreport_forum::Forum;
use fedreport_store::{Board, Lake, Status, receipt};

use super::Outcome;
use super::progress::intake_with_bar;

#[derive(clap::Args)]
pub struct IntakeArgs {
    #[arg(long, env = "FEDREPORT_LAKE")]
    lake: String,
}

#[derive(clap::Args)]
pub struct ReceiptsArgs {
    #[arg(long, env = "FEDREPORT_LAKE")]
    lake: String,
    #[arg(long)]
    member: String,
    /// One submission id, to print its full receipt.
    id: Option<String>,
    /// Print receipts as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct StatusArgs {
    #[arg(long, env = "FEDREPORT_LAKE")]
    lake: String,
    #[arg(long)]
    year: i32,
}

#[derive(clap::Args)]
pub struct AccessPolicyArgs {
    /// The lake (an s3:// URL).
    #[arg(long, env = "FEDREPORT_LAKE")]
    lake: String,
    #[arg(long)]
    member: String,
    /// The focal point's IAM principal, e.g. arn:aws:iam::123456789012:role/bali-focal-point-aus.
    #[arg(long)]
    principal: String,
}

pub async fn intake(forum: &Forum, a: IntakeArgs) -> Result<Outcome> {
    let lake = Lake::open(&a.lake)?;
    let validator = Validator::new(&forum.contract, ValidateOptions::default());
    let summary = intake_with_bar(&lake, &validator, &forum.intake_options()).await?;
    println!(
        "intake: {} files decided — {} new versions, {} identical resubmissions, {} rejected",
        summary.decisions.len(),
        summary.new_versions(),
        summary.duplicates(),
        summary.rejected()
    );
    for d in summary.decisions.iter().filter(|d| d.status == Status::Rejected && !d.already_decided) {
        let why = if d.errors == 0 { "refused by the cycle".to_string() } else { plural(d.errors, "error") };
        println!(
            "  rejected {} from {} ({why}): fedreport receipts --member {} {}",
            d.inbox_key, d.member, d.member, d.submission_id
        );
    }
    Ok(Outcome::Done)
}

pub async fn receipts(a: ReceiptsArgs) -> Result<Outcome> {
    let lake = Lake::open(&a.lake)?;
    let member = a.member;
    let events = fedreport_store::audit::read(&lake).await?;
    // what the secretariat made of the version a receipt made, in words
    let review = |r: &receipt::Receipt| match (r.status, &r.dataset, r.year, r.version) {
        (Status::Accepted, Some(d), Some(y), Some(v)) => {
            format!(
                "    review of version {v}: {}\n",
                fedreport_store::cycle::review(&events, &r.member, d, y, v).words()
            )
        }
        _ => String::new(),
    };
    let Some(id) = a.id else {
        let all = receipt::list(&lake, Some(&member)).await?;
        if a.json {
            println!("{}", serde_json::to_string_pretty(&all)?);
        } else if all.is_empty() {
            println!("no receipts for {member} yet");
        } else {
            all.iter().for_each(|r| print!("{}\n{}", r.summary(), review(r)));
        }
        return Ok(Outcome::Done);
    };
    let Some(r) = receipt::read(&lake, &member, &id).await? else {
        bail!("no receipt {id} for {member}; if it was submitted recently, intake has not run yet");
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}{}", r.to_text(), review(&r));
    }
    Ok(Outcome::ok_if(r.status != Status::Rejected))
}

pub async fn status(forum: &Forum, a: StatusArgs) -> Result<Outcome> {
    let lake = Lake::open(&a.lake)?;
    let board =
        Board::build(&lake, forum.contract.registry(), forum.contract.schemas(), a.year, forum.deadline(a.year))
            .await?;
    print!("{}", board.to_text());
    Ok(Outcome::Done)
}

pub fn access_policy(forum: &Forum, a: AccessPolicyArgs) -> Result<Outcome> {
    let lake = Lake::open(&a.lake)?;
    let policy = fedreport_store::policy::s3_member_policy(&lake, forum.contract.registry(), &a.member, &a.principal)?;
    println!("{}", serde_json::to_string_pretty(&policy)?);
    Ok(Outcome::Done)
}
