//! `fedreport demo`: the whole chain on a synthetic cycle of the forum's
//! contract, drafted for the forum's latest meeting.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use fedreport_contract::{ValidateOptions, Validator};
use fedreport_forum::Forum;
use fedreport_render::{RunData, headline};
use fedreport_store::{Board, Lake, submit};
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

    let summary = intake_with_bar(&lake, &validator).await?;
    println!(
        "intake decided {} files: {} new versions, {} identical resubmissions, {} rejected with receipts",
        summary.decisions.len(),
        summary.new_versions(),
        summary.duplicates(),
        summary.rejected()
    );
    let year = *years.end();
    // the demo's own deadline: the moment nine in ten returns were in
    let board = Board::build(&lake, validator.registry(), validator.schemas(), year, deadline).await?;
    print!("{}", board.to_text());

    let deadline = deadline.unwrap_or_else(chrono::Utc::now).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let opts = fedreport_engine::RunOptions {
        year: Some(*years.end()),
        set: vec![("submission_deadline".into(), deadline)],
        target_partitions: None,
        engine: None,
    };
    let outcome = fedreport_engine::run(&lake, &forum.contract, &forum.pipeline, &opts, &mut run_bar()).await?;
    let run = RunData::from_batches(outcome.manifest.clone(), &outcome.tables)?;
    print!("{}", headline(&run));
    let run_dir = out.join("run");
    outcome.copy_to(&run_dir)?;
    let meeting = forum.latest_meeting().context("the forum has no meeting file to draft for")?;
    for path in forum.renderer()?.write(&run, meeting, &out.join("drafts"))? {
        println!("draft: {}", path.display());
    }
    println!("lake:       {}", lake_dir.display());
    println!("indicators: {} (CSV and Parquet, with manifest.json)", run_dir.join("tables").display());
    println!("drafts:     {} (Markdown and self-contained HTML)", out.join("drafts").display());
    println!("in the browser: add an account, then serve the lake and open http://127.0.0.1:8080");
    println!("  cargo run --release -- user add secretariat --role secretariat --lake {}", lake_dir.display());
    println!("  cargo run --release -- serve --lake {}", lake_dir.display());
    Ok(Outcome::Done)
}
