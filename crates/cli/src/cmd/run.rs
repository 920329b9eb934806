//! Pipeline runs: `run` (or `run --replay`) and `runs`.

use std::path::PathBuf;

use anyhow::Result;
use fedreport_engine::RunOptions;
use fedreport_forum::Forum;
use fedreport_render::{RunData, headline};
use fedreport_store::Lake;
use fedreport_store::manifest::{list_runs, load_manifest};

use super::Outcome;
use super::progress::run_bar;

#[derive(clap::Args)]
pub struct RunArgs {
    #[arg(long, env = "FEDREPORT_LAKE")]
    lake: String,
    /// Pipeline folder (default: the forum's pipeline, pipelines/som for the Bali Process).
    #[arg(long)]
    pipeline: Option<PathBuf>,
    /// Cycle reference year (default: the pipeline's cycle_year).
    #[arg(long)]
    year: Option<i32>,
    /// Also copy the tables and manifest to this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Override a pipeline parameter, e.g. --set disclosure_k=10 (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_setting)]
    set: Vec<(String, String)>,
    /// DataFusion partitions (default: the number of cores).
    #[arg(long)]
    target_partitions: Option<usize>,
    /// Where the SQL runs: `local` (DataFusion in this process),
    /// `ballista-standalone` (an in-process Ballista cluster) or
    /// `ballista://HOST:PORT` (a running fedreport-scheduler). Ballista needs
    /// a build with `--features ballista`.
    #[arg(long, default_value = "local", env = "FEDREPORT_ENGINE")]
    engine: String,
    /// Also render the drafts for this meeting (a file, or one of the forum's by name) into --out (or ./drafts).
    #[arg(long)]
    meeting: Option<String>,
    /// Re-execute a past run from its manifest and check the outputs are byte-identical.
    #[arg(long, value_name = "RUN_ID_OR_MANIFEST", conflicts_with_all = ["pipeline", "year", "set", "target_partitions"])]
    replay: Option<String>,
    /// Compute everything afresh, reusing no snapshot part and no cached step
    /// result from earlier runs (to check that a run reusing them gives the same tables).
    #[arg(long)]
    cold: bool,
}

#[derive(clap::Args)]
pub struct RunsArgs {
    #[arg(long, env = "FEDREPORT_LAKE")]
    lake: String,
}

fn parse_setting(s: &str) -> std::result::Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .ok_or_else(|| format!("'{s}' is not NAME=VALUE"))
}

pub async fn run(forum: &Forum, a: RunArgs) -> Result<Outcome> {
    let lake = Lake::open(&a.lake)?;
    let engine = crate::engine::choose(&a.engine)?;
    if let Some(r) = a.replay {
        let manifest = load_manifest(&lake, &r).await?;
        let (outcome, diffs) =
            fedreport_engine::replay_on(engine.as_ref(), &lake, &forum.contract, &manifest, &mut run_bar()).await?;
        if let Some(out) = &a.out {
            outcome.copy_to(out)?;
        }
        if diffs.is_empty() {
            println!(
                "replayed {} as {}: all {} tables byte-identical",
                manifest.run_id,
                outcome.manifest.run_id,
                manifest.outputs.len()
            );
            return Ok(Outcome::Done);
        }
        println!("replayed {} as {}: outputs differ:", manifest.run_id, outcome.manifest.run_id);
        diffs.iter().for_each(|d| println!("  {d}"));
        return Ok(Outcome::Rejected);
    }
    let pipeline = match &a.pipeline {
        Some(dir) => fedreport_engine::Pipeline::load(dir)?,
        None => forum.pipeline.clone(),
    };
    let opts = RunOptions {
        year: a.year,
        set: a.set,
        target_partitions: a.target_partitions,
        engine: Some(engine),
        cold: a.cold,
        read_in_place_from: None,
    };
    let outcome = fedreport_engine::run(&lake, &forum.contract, &pipeline, &opts, &mut run_bar()).await?;
    let data = RunData::from_batches(outcome.manifest.clone(), &outcome.tables)?;
    print!("{}", headline(&data));
    println!("{}", reuse_words(&outcome.manifest));
    if let Some(out) = &a.out {
        outcome.copy_to(out)?;
        println!("tables and manifest copied to {}", out.display());
    }
    if let Some(meeting) = a.meeting {
        let meeting = forum.meeting(&meeting)?;
        let dir = a.out.map(|o| o.join("drafts")).unwrap_or_else(|| PathBuf::from("drafts"));
        let since = fedreport_render::last_reviewed_before(&lake, &data.manifest).await?;
        for path in forum.renderer()?.write_since(&data, &meeting, since.as_ref(), &dir)? {
            println!("draft: {}", path.display());
        }
    }
    Ok(Outcome::Done)
}

/// What a run made afresh and what it reused, in one line.
pub fn reuse_words(m: &fedreport_engine::Manifest) -> String {
    let r = &m.reuse;
    let parts = if r.snapshot_reused {
        "the snapshot of these returns reused whole".to_string()
    } else {
        format!("{} snapshot parts compacted, {} reused", r.parts_built.len(), r.parts_reused)
    };
    let steps: Vec<String> = m
        .steps
        .iter()
        .filter_map(|s| {
            let i = s.incremental.as_ref()?;
            Some(match &i.cold {
                Some(_) => format!("{} (all)", s.name),
                None => format!("{} ({} of {})", s.name, i.recomputed.len(), i.recomputed.len() + i.reused),
            })
        })
        .collect();
    let steps = if steps.is_empty() { String::new() } else { format!("; returns recomputed: {}", steps.join(", ")) };
    let whole: Vec<&str> =
        m.steps.iter().filter(|s| s.file.is_some() && s.incremental.is_none()).map(|s| s.name.as_str()).collect();
    let cached = m.steps.iter().filter(|s| s.cached).count();
    let whole = match whole.len() {
        0 => String::new(),
        n => format!("; {cached} of the {n} other SQL steps read from the cache (their tables unchanged)"),
    };
    format!("{parts}; {} receipts read, {} from the cache{steps}{whole}", r.receipts_read, r.receipts_cached)
}

pub async fn runs(a: RunsArgs) -> Result<Outcome> {
    let lake = Lake::open(&a.lake)?;
    let runs = list_runs(&lake).await?;
    if runs.is_empty() {
        println!("no runs in {} yet; `fedreport run --lake {}` makes one", lake.location(), lake.location());
    }
    for m in runs {
        let replay = m.replay_of.as_ref().map(|r| format!(", replay of {r}")).unwrap_or_default();
        println!(
            "{}  {}  cycle {}  {} {}  {} inputs, {} tables{replay}",
            m.run_id,
            m.created_at,
            m.cycle_year,
            m.pipeline_name,
            m.pipeline_version,
            m.inputs.len(),
            m.outputs.len()
        );
    }
    Ok(Outcome::Done)
}

#[derive(clap::Args)]
pub struct DiffArgs {
    #[arg(long, env = "FEDREPORT_LAKE")]
    lake: String,
    /// The earlier run.
    from: String,
    /// The later run.
    to: String,
    /// The meeting whose drafts are compared (default: the one of the runs' cycle).
    #[arg(long)]
    meeting: Option<String>,
    /// Print the differences as JSON.
    #[arg(long)]
    json: bool,
}

/// Every figure and every sentence of the drafts that differ between two
/// runs, each figure with its causes.
pub async fn diff(forum: &Forum, a: DiffArgs) -> Result<Outcome> {
    let lake = Lake::open(&a.lake)?;
    let from = RunData::from_lake(&lake, &a.from).await?;
    let to = RunData::from_lake(&lake, &a.to).await?;
    let meeting = match &a.meeting {
        Some(m) => forum.meeting(m)?,
        None => forum
            .meeting_of_cycle(to.manifest.cycle_year)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("the forum has no meeting file; name one with --meeting"))?,
    };
    let d = forum.renderer()?.diff(&from, &to, &meeting)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(Outcome::Done);
    }
    let registry = forum.contract.registry();
    println!(
        "{} → {}: {} figures and {} sentences of the drafts differ",
        d.from,
        d.to,
        d.figures.len(),
        d.sentences.len()
    );
    if !d.causes.is_empty() {
        println!("causes:");
        for (i, c) in d.causes.iter().enumerate() {
            println!("  [{}] {}", i + 1, c.words(registry));
        }
    }
    if !d.figures.is_empty() {
        println!("figures:");
    }
    for f in &d.figures {
        let row: Vec<String> = f.row.iter().map(|(c, v)| format!("{c}={v}")).collect();
        let because: Vec<String> = f.causes.iter().map(|i| format!("[{}]", i + 1)).collect();
        println!(
            "  {}  {}  {}: {} → {}  {}",
            f.table,
            row.join(", "),
            f.column,
            f.before.as_deref().unwrap_or("–"),
            f.after.as_deref().unwrap_or("–"),
            if because.is_empty() { "(no recorded cause)".to_string() } else { because.join(" ") }
        );
    }
    if !d.sentences.is_empty() {
        println!("sentences:");
    }
    for s in &d.sentences {
        match (&s.before, &s.after) {
            (Some(b), Some(a)) => println!("  {}: \"{b}\" now reads \"{a}\"", s.document),
            (None, Some(a)) => println!("  {}: new: \"{a}\"", s.document),
            (Some(b), None) => println!("  {}: removed: \"{b}\"", s.document),
            (None, None) => {}
        }
    }
    Ok(Outcome::Done)
}
