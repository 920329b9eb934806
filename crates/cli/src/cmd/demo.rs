//! `fedreport demo`: the whole chain on a synthetic cycle of the forum's
//! contract, drafted for the forum's latest meeting: submissions, intake,
//! one return sent back and corrected, approval, the deadline, the lock,
//! the run, the drafts put up for review, commented and cleared by the
//! co-chairs, and frozen.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use fedreport_contract::{ValidateOptions, Validator};
use fedreport_forum::Forum;
use fedreport_render::{RunData, headline};
use fedreport_store::cycle::{self, ReturnAction, ReturnRef};
use fedreport_store::{Board, Lake, current_versions, submit};
use fedreport_synth::{SynthConfig, generate};

use super::Outcome;
use super::progress::{intake_with_bar, run_bar};

const MARKER: &str = ".fedreport-demo";

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Folder for the demo lake and outputs.
    #[arg(long, default_value = "demo-out")]
    out: PathBuf,
    /// First and last reference year, e.g. 2008..2012.
    #[arg(long, default_value = "2008..2012")]
    years: String,
    /// Multiplies the number of case-level rows.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
}

/// Parse `2008..2012` (or a single year).
fn parse_years(s: &str) -> Result<std::ops::RangeInclusive<i32>> {
    let (a, b) = s.split_once("..").unwrap_or((s, s));
    let a: i32 = a.trim().parse().with_context(|| format!("'{s}' is not a year range like 2008..2012"))?;
    let b: i32 = b
        .trim()
        .trim_start_matches('=')
        .parse()
        .with_context(|| format!("'{s}' is not a year range like 2008..2012"))?;
    if !(2000..=2100).contains(&a) || b < a || b > 2100 {
        bail!("year range {s} must lie within 2000..2100, first year first");
    }
    Ok(a..=b)
}

pub async fn demo(forum: &Forum, a: DemoArgs) -> Result<Outcome> {
    let (out, scale) = (a.out.as_path(), a.scale);
    let years = parse_years(&a.years)?;
    if out.exists() && std::fs::read_dir(out)?.next().is_some() && !out.join(MARKER).exists() {
        bail!("{} exists and is not a demo folder; choose another --out", out.display());
    }
    let lake_dir = out.join("lake");
    if lake_dir.exists() {
        std::fs::remove_dir_all(&lake_dir).with_context(|| format!("cannot clear {}", lake_dir.display()))?;
    }
    std::fs::create_dir_all(&lake_dir).with_context(|| format!("cannot create {}", lake_dir.display()))?;
    std::fs::write(out.join(MARKER), "this folder is written by `fedreport demo` and replaced on every run\n")?;
    let lake = Lake::open(&lake_dir.to_string_lossy())?;
    let validator = Validator::new(&forum.contract, ValidateOptions::default());

    println!(
        "fedreport demo — a synthetic reporting cycle {}–{} for every reporting member",
        years.start(),
        years.end()
    );
    let files = generate(&forum.contract, &SynthConfig { years: years.clone(), scale, ..Default::default() })?;
    let bar = indicatif::ProgressBar::new(files.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("submit {bar:40} {pos}/{len} {msg}").expect("valid template"),
    );
    let (mut submitted, mut refused, mut dropped) = (0, 0, 0);
    // The deadline falls while the last tenth of the returns is still coming in.
    let late_from = files.len() * 9 / 10;
    let mut deadline = None;
    for (i, f) in files.iter().enumerate() {
        if i == late_from {
            deadline = Some(chrono::Utc::now());
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        bar.set_message(format!("{} {} {}", f.member, f.dataset, f.year));
        // Focal points submit through `fedreport submit`, which validates first;
        // a few invalid files arrive by hand in the inbox, as they do in practice.
        let s = submit(&lake, &validator, f.bytes.clone().into(), &f.name, &f.member, Some(&f.dataset), Some(f.year))
            .await?;
        if s.submission.is_some() {
            submitted += 1;
        } else {
            refused += 1;
            lake.put_new(&format!("inbox/{}/{}", f.member, f.name), f.bytes.clone().into()).await?;
            dropped += 1;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "{submitted} returns submitted; {refused} refused by local validation and dropped in the inbox by hand ({dropped})"
    );

    let year = *years.end();
    // the demo's own deadline: the moment nine in ten returns were in
    let mut intake_opts = fedreport_store::IntakeOptions::default();
    if let Some(d) = deadline {
        intake_opts.deadlines.insert(year, d);
    }
    let summary = intake_with_bar(&lake, &validator, &intake_opts).await?;
    println!(
        "intake decided {} files: {} new versions, {} identical resubmissions, {} rejected with receipts",
        summary.decisions.len(),
        summary.new_versions(),
        summary.duplicates(),
        summary.rejected()
    );

    // The secretariat reviews the cycle's returns: one goes back to its
    // focal point, who sends a correction; the rest are approved.
    let officer = "secretariat";
    let current: Vec<_> = current_versions(&lake, Some(year)).await?.into_iter().filter(|v| v.year == year).collect();
    // the largest sea-movements return of the year goes back; its correction
    // comes from a second synthetic draw (other figures, so a new version)
    let corrections =
        generate(&forum.contract, &SynthConfig { seed: 2014, years: year..=year, scale, realistic_mess: false })?;
    let Some((back, fixed)) = files
        .iter()
        .filter(|f| f.dataset == "maritime_movements" && f.year == year && f.valid)
        .max_by_key(|f| (f.bytes.len(), f.member.clone()))
        .and_then(|f| {
            let fixed =
                corrections.iter().find(|c| c.member == f.member && c.dataset == f.dataset && c.bytes != f.bytes)?;
            let v = current.iter().find(|v| v.member == f.member && v.dataset == f.dataset)?;
            Some((v.clone(), fixed.clone()))
        })
    else {
        bail!("no sea-movements return of {year} to send back; try a larger --scale");
    };
    let back_ref =
        ReturnRef { member: back.member.clone(), dataset: back.dataset.clone(), year, version: Some(back.version) };
    let why = "the arrivals by sea do not add up to the total reported to the last meeting: please check and resend";
    cycle::review_return(&lake, officer, ReturnAction::SendBack, &back_ref, Some(why)).await?;
    println!("review: sent back {} {} {year} v{} — \"{why}\"", back.member, back.dataset, back.version);
    submit(&lake, &validator, fixed.bytes.into(), &fixed.name, &fixed.member, Some(&fixed.dataset), Some(year)).await?;
    let again = intake_with_bar(&lake, &validator, &intake_opts).await?;
    let Some((v, id)) =
        again.decisions.iter().find(|d| !d.duplicate).and_then(|d| Some((d.version?, &d.submission_id)))
    else {
        bail!(
            "the correction was not accepted: fedreport receipts --member {} --lake {}",
            back.member,
            lake.location()
        );
    };
    let late = fedreport_store::receipt::read(&lake, &back.member, id).await?.is_some_and(|r| r.late);
    println!(
        "correction: {} {} {year} came back as version {v}{}",
        back.member,
        back.dataset,
        if late { " (late: after the deadline)" } else { "" }
    );
    let bar = indicatif::ProgressBar::new(current.len() as u64);
    for c in &current {
        let r = ReturnRef { member: c.member.clone(), dataset: c.dataset.clone(), year, version: None };
        cycle::review_return(&lake, officer, ReturnAction::Approve, &r, None).await?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!("review: {} returns of {year} approved", current.len());
    let board = Board::build(&lake, validator.registry(), validator.schemas(), year, deadline).await?;
    print!("{}", board.to_text());

    // The deadline has passed; the secretariat locks the figures for the meeting.
    let lock_why = "figures for the senior officials meeting, agreed with the co-chairs";
    cycle::act_on_cycle(&lake, officer, year, cycle::CycleAction::Lock, Some(lock_why)).await?;
    let events = fedreport_store::audit::read(&lake).await?;
    println!("{}", cycle::cycle(&events, year, deadline, chrono::Utc::now()).words());

    let deadline = deadline.unwrap_or_else(chrono::Utc::now).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let opts = fedreport_engine::RunOptions {
        year: Some(*years.end()),
        set: vec![("submission_deadline".into(), deadline)],
        target_partitions: None,
        engine: None,
        cold: false,
        read_in_place_from: None,
    };
    let outcome = fedreport_engine::run(&lake, &forum.contract, &forum.pipeline, &opts, &mut run_bar()).await?;
    let run = RunData::from_batches(outcome.manifest.clone(), &outcome.tables)?;
    print!("{}", headline(&run));

    // The drafts go to the co-chairs, who clear them; then they are frozen.
    let meeting = forum.latest_meeting().context("the forum has no meeting file to draft for")?;
    let run_id = outcome.manifest.run_id.clone();
    cycle::put_up_for_review(&lake, officer, &outcome.manifest).await?;
    let accounts = fedreport_access::Accounts::new(&lake);
    let mut co_chairs = Vec::new();
    for code in &meeting.co_chairs {
        let username = format!("co-chair-{}", code.to_lowercase());
        let secret =
            fedreport_store::layout::sha256_hex(format!("{username}{:?}", std::time::SystemTime::now()).as_bytes());
        let new = fedreport_access::NewAccount {
            username: username.clone(),
            role: fedreport_access::Role::CoChair,
            member: None,
            password: secret[..24].to_string(),
        };
        accounts.add(new, validator.registry(), "demo").await?;
        co_chairs.push(username);
    }
    if let Some(first) = co_chairs.first() {
        cycle::comment(
            &lake,
            first,
            &run_id,
            "Co-Chairs' Statement ¶2",
            "Could the statement name the members that reported late?",
        )
        .await?;
    }
    let mut draft = None;
    for c in &co_chairs {
        draft = Some(forum.clear_draft(&lake, &run_id, c, &co_chairs).await?);
    }
    if let Some(d) = draft {
        println!("drafts of {run_id}: {}", d.words());
    }
    match fedreport_store::audit::verify(&lake).await? {
        fedreport_store::audit::Verdict::Whole { events, .. } => {
            println!("log: {events} events, chain whole — fedreport log --lake {}", lake.location())
        }
        fedreport_store::audit::Verdict::Broken { at, why } => {
            bail!("the demo's own audit log is broken at {at}: {why}")
        }
    }
    let run_dir = out.join("run");
    outcome.copy_to(&run_dir)?;
    let renderer = forum.renderer()?;
    let written = renderer.write(&run, meeting, &out.join("drafts"))?;
    for path in &written {
        println!("draft: {}", path.display());
    }
    for path in super::render::write_docx(&renderer, &run, meeting, None, &written)? {
        println!("draft: {}", path.display());
    }
    // what focal points fill in Excel, and what the statistical systems read
    let templates = out.join("templates");
    std::fs::create_dir_all(&templates)?;
    for schema in forum.contract.schemas().iter() {
        let bytes = fedreport_office::xlsx::template(schema, forum.contract.registry(), forum.contract.title())?;
        std::fs::write(templates.join(format!("{}.xlsx", schema.dataset)), bytes)?;
    }
    let sdmx_dir = out.join("sdmx");
    std::fs::create_dir_all(&sdmx_dir)?;
    let agency = fedreport_office::sdmx::sdmx_id(&forum.name);
    let export = fedreport_office::sdmx::export(&run, &forum.contract, &agency)?;
    for (name, bytes) in &export.files {
        std::fs::write(sdmx_dir.join(name), bytes)?;
    }
    println!("lake:       {}", lake_dir.display());
    println!("indicators: {} (CSV and Parquet, with manifest.json)", run_dir.join("tables").display());
    println!("drafts:     {} (Markdown, self-contained HTML and Word)", out.join("drafts").display());
    println!("templates:  {} (the Excel return of every dataset)", templates.display());
    println!("sdmx:       {} (SDMX-CSV 2.0, {} dataflows, with structure.xml)", sdmx_dir.display(), export.flows.len());
    println!(
        "frozen:     {} (the drafts as the co-chairs cleared them)",
        lake_dir.join(format!("runs/{run_id}/final")).display()
    );
    println!("in the browser: add an account, then serve the lake and open http://127.0.0.1:8080");
    println!("  cargo run --release -- user add secretariat --role secretariat --lake {}", lake_dir.display());
    println!("  cargo run --release -- serve --lake {}", lake_dir.display());
    println!(
        "  (the co-chairs' accounts {} were made for the demo; `user reset NAME` gives one a password)",
        co_chairs.join(" and ")
    );
    Ok(Outcome::Done)
}
