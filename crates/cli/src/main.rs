//! `fedreport`: the command line for focal points and the secretariat.
//!
//! A thin layer over the library crates: it parses arguments, shows
//! progress, prints for people and maps outcomes to exit codes
//! (0 ok, 1 invalid or rejected, 2 usage or environment error).

mod demo;
mod engine;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use fedreport_contract::{Expected, Schemas, ValidateOptions, Validator, template};
use fedreport_store::{Board, Lake, intake, receipt};

/// Federated reporting for regional consultative processes: validate,
/// submit and take in standard returns, compute regional indicators and
/// draft the meeting documents.
#[derive(Parser)]
#[command(name = "fedreport", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the datasets of Standard Return v1, or the columns and code lists of one.
    Schema {
        /// Dataset to describe (all when omitted).
        dataset: Option<String>,
        /// Print the machine-readable schema as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write an empty, correctly typed return file for a dataset.
    Template {
        dataset: String,
        #[arg(long, value_enum, default_value = "parquet")]
        format: FileFormat,
        /// Where to write the template.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Check a return file (Parquet or CSV) offline and list every problem.
    Validate {
        /// The file to check (a path, or an object-store URL).
        file: String,
        #[command(flatten)]
        claim: Claim,
        /// Write the machine-readable report (JSON) here.
        #[arg(long, value_name = "OUT")]
        json: Option<PathBuf>,
        /// Keep at most this many findings.
        #[arg(long, default_value_t = 1000)]
        max_findings: usize,
    },
    /// Convert a CSV return to a schema-typed Parquet file (validated on the way).
    Convert {
        file: String,
        #[command(flatten)]
        claim: Claim,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Validate a return and put it into the member's inbox in the lake.
    Submit {
        file: String,
        /// The lake: a folder or an s3:// / az:// / gs:// URL.
        #[arg(long, env = "FEDREPORT_LAKE")]
        lake: String,
        /// Submitting member (registry code).
        #[arg(long)]
        member: String,
        #[arg(long)]
        dataset: Option<String>,
        #[arg(long)]
        year: Option<i32>,
    },
    /// Decide every pending inbox file: accept as a new version or reject, with a receipt.
    Intake {
        #[arg(long, env = "FEDREPORT_LAKE")]
        lake: String,
    },
    /// Show what became of a member's submissions.
    Receipts {
        #[arg(long, env = "FEDREPORT_LAKE")]
        lake: String,
        #[arg(long)]
        member: String,
        /// One submission id, to print its full receipt.
        id: Option<String>,
        /// Print receipts as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the completeness board (member × dataset) for a year.
    Status {
        #[arg(long, env = "FEDREPORT_LAKE")]
        lake: String,
        #[arg(long)]
        year: i32,
    },
    /// Compute the regional indicators from the current accepted returns (or replay a past run).
    Run {
        #[arg(long, env = "FEDREPORT_LAKE")]
        lake: String,
        /// Pipeline folder (default: the SOM pipeline shipped with fedreport, as in pipelines/som).
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
        /// Also render the drafts for this meeting file into --out (or ./drafts).
        #[arg(long)]
        meeting: Option<PathBuf>,
        /// Re-execute a past run from its manifest and check the outputs are byte-identical.
        #[arg(long, value_name = "RUN_ID_OR_MANIFEST", conflicts_with_all = ["pipeline", "year", "set", "target_partitions"])]
        replay: Option<String>,
    },
    /// Render the draft Co-Chairs' Statement and ministerial briefing (Markdown and HTML) from a run.
    Render {
        /// A run id in the lake (with --lake), or a run folder written by `fedreport run --out`.
        #[arg(long)]
        run: String,
        #[arg(long, env = "FEDREPORT_LAKE")]
        lake: Option<String>,
        /// The meeting file (see meetings/som5-bali-2013.toml).
        #[arg(long)]
        meeting: PathBuf,
        /// Folder for the drafts.
        #[arg(long)]
        out: PathBuf,
        /// Template folder (default: the templates shipped with fedreport, as in templates/).
        #[arg(long)]
        templates: Option<PathBuf>,
        /// Also print each HTML draft to PDF with headless Chromium (must be installed).
        #[arg(long)]
        pdf: bool,
    },
    /// Print the S3 bucket policy that lets a member's focal-point role write only its own inbox and read only its own receipts.
    AccessPolicy {
        /// The lake (an s3:// URL).
        #[arg(long, env = "FEDREPORT_LAKE")]
        lake: String,
        #[arg(long)]
        member: String,
        /// The focal point's IAM principal, e.g. arn:aws:iam::123456789012:role/bali-focal-point-aus.
        #[arg(long)]
        principal: String,
    },
    /// Run the whole chain on synthetic data: lake, submissions, intake, status, indicators, drafts.
    Demo {
        /// Folder for the demo lake and outputs.
        #[arg(long, default_value = "demo-out")]
        out: PathBuf,
        /// First and last reference year, e.g. 2008..2012.
        #[arg(long, default_value = "2008..2012")]
        years: String,
        /// Multiplies the number of case-level rows.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
    },
}

/// What a file is claimed to be; anything left out is read from the file.
#[derive(clap::Args)]
struct Claim {
    /// Dataset (inferred from the columns when omitted).
    #[arg(long)]
    dataset: Option<String>,
    /// Reporting member code (read from reporting_member when omitted).
    #[arg(long)]
    member: Option<String>,
    /// Reference year (read from reference_year when omitted).
    #[arg(long)]
    year: Option<i32>,
}

impl Claim {
    fn expected(&self) -> Expected {
        Expected { dataset: self.dataset.clone(), member: self.member.clone(), year: self.year }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum FileFormat {
    Parquet,
    Csv,
}

/// An outcome that is not an error but is not success either (exit 1).
struct Rejected;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Diagnostics of the libraries underneath (DataFusion, Ballista, object_store) on request only.
    if std::env::var_os("RUST_LOG").is_some() {
        env_logger::init();
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(Rejected)) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<Option<Rejected>> {
    match cli.command {
        Command::Schema { dataset, json } => schema(dataset.as_deref(), json),
        Command::Template { dataset, format, output } => {
            let schemas = Schemas::embedded();
            let s = schemas.get(&dataset)?;
            let bytes = match format {
                FileFormat::Parquet => template::empty_parquet(s)?,
                FileFormat::Csv => template::empty_csv(s),
            };
            std::fs::write(&output, bytes).with_context(|| format!("cannot write {}", output.display()))?;
            println!("wrote an empty {} template to {}", s.dataset, output.display());
            Ok(None)
        }
        Command::Validate { file, claim, json, max_findings } => {
            let validator = Validator::new(ValidateOptions::findings(max_findings));
            let (store, path, name) = fedreport_store::lake::open_file(&file)?;
            let v = validator.validate(store, &path, &name, &claim.expected(), |_| Ok(())).await;
            print!("{}", v.report.to_human());
            if let Some(out) = json {
                std::fs::write(&out, serde_json::to_vec_pretty(&v.report)?)
                    .with_context(|| format!("cannot write {}", out.display()))?;
            }
            Ok((!v.report.is_valid()).then_some(Rejected))
        }
        Command::Convert { file, claim, output } => {
            let validator = Validator::new(ValidateOptions::default());
            let (store, path, name) = fedreport_store::lake::open_file(&file)?;
            let mut batches = Vec::new();
            let v = validator
                .validate(store, &path, &name, &claim.expected(), |b| {
                    batches.push(b);
                    Ok(())
                })
                .await;
            print!("{}", v.report.to_human());
            let (Some(schema), true) = (v.schema, v.report.is_valid()) else {
                eprintln!("not converted: fix the errors above first");
                return Ok(Some(Rejected));
            };
            let md = [
                ("fedreport.dataset".to_string(), schema.dataset.clone()),
                ("fedreport.schema_version".to_string(), schema.schema_version.clone()),
            ]
            .into_iter()
            .collect();
            let bytes = template::parquet_bytes(schema.arrow_schema(), &batches, &md)?;
            std::fs::write(&output, bytes).with_context(|| format!("cannot write {}", output.display()))?;
            println!(
                "wrote {} ({} rows, {} schema {})",
                output.display(),
                v.report.rows,
                schema.dataset,
                schema.schema_version
            );
            Ok(None)
        }
        Command::Submit { file, lake, member, dataset, year } => {
            let lake = Lake::open(&lake)?;
            let validator = Validator::new(ValidateOptions::default());
            let (store, path, name) = fedreport_store::lake::open_file(&file)?;
            let s = fedreport_store::submit_object(
                &lake,
                &validator,
                store,
                &path,
                &name,
                &member,
                dataset.as_deref(),
                year,
            )
            .await?;
            match s.submission {
                Some((id, key)) => {
                    println!(
                        "submitted {name} as {id} (in {key}); it is decided at the next intake — see `fedreport receipts --member {member} {id}`"
                    );
                    Ok(None)
                }
                None => {
                    print!("{}", s.report.to_human());
                    eprintln!("not submitted: fix the errors above and submit again");
                    Ok(Some(Rejected))
                }
            }
        }
        Command::Intake { lake } => {
            let lake = Lake::open(&lake)?;
            let validator = Validator::new(ValidateOptions::default());
            let summary = run_intake(&lake, &validator).await?;
            println!(
                "intake: {} files decided — {} new versions, {} identical resubmissions, {} rejected",
                summary.decisions.len(),
                summary.new_versions(),
                summary.duplicates(),
                summary.rejected()
            );
            for d in
                summary.decisions.iter().filter(|d| d.status == fedreport_store::Status::Rejected && !d.already_decided)
            {
                println!(
                    "  rejected {} from {} ({}): fedreport receipts --member {} {}",
                    d.inbox_key,
                    d.member,
                    fedreport_contract::finding::plural(d.errors, "error"),
                    d.member,
                    d.submission_id
                );
            }
            Ok(None)
        }
        Command::Receipts { lake, member, id, json } => {
            let lake = Lake::open(&lake)?;
            match id {
                Some(id) => {
                    let Some(r) = receipt::read(&lake, &member, &id).await? else {
                        bail!("no receipt {id} for {member}; if it was submitted recently, intake has not run yet");
                    };
                    if json {
                        println!("{}", serde_json::to_string_pretty(&r)?);
                    } else {
                        println!("{}", r.summary());
                        println!("file {} ({} bytes, sha256 {})", r.file, r.size, r.sha256);
                        if let Some(k) = &r.stored_as {
                            println!("kept as {k}");
                        }
                        for f in &r.findings {
                            let row = f.row.map(|r| format!(" row {r}")).unwrap_or_default();
                            let col = f.column.as_ref().map(|c| format!(" column {c}")).unwrap_or_default();
                            println!(
                                "  {}[{}]{row}{col}: {}",
                                if f.code.as_str().starts_with('W') { "warning" } else { "error" },
                                f.code,
                                f.message
                            );
                        }
                    }
                    Ok((r.status == fedreport_store::Status::Rejected).then_some(Rejected))
                }
                None => {
                    let all = receipt::list(&lake, Some(&member)).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&all)?);
                    } else if all.is_empty() {
                        println!("no receipts for {member} yet");
                    } else {
                        all.iter().for_each(|r| println!("{}", r.summary()));
                    }
                    Ok(None)
                }
            }
        }
        Command::Status { lake, year } => {
            let lake = Lake::open(&lake)?;
            let v = Validator::new(ValidateOptions::default());
            let board = Board::build(&lake, v.registry(), v.schemas(), year).await?;
            print!("{}", board.to_text());
            Ok(None)
        }
        Command::Run { lake, pipeline, year, out, set, target_partitions, engine, meeting, replay } => {
            let lake = Lake::open(&lake)?;
            let engine = engine::choose(&engine)?;
            if let Some(r) = replay {
                let manifest = fedreport_engine::run::load_manifest(&lake, &r).await?;
                let (outcome, diffs) =
                    fedreport_engine::replay_on(engine.as_ref(), &lake, &manifest, &mut progress_bar()).await?;
                if let Some(out) = &out {
                    copy_run(&outcome, out)?;
                }
                if diffs.is_empty() {
                    println!(
                        "replayed {} as {}: all {} tables byte-identical",
                        manifest.run_id,
                        outcome.manifest.run_id,
                        manifest.outputs.len()
                    );
                    return Ok(None);
                }
                println!("replayed {} as {}: outputs differ:", manifest.run_id, outcome.manifest.run_id);
                diffs.iter().for_each(|d| println!("  {d}"));
                return Ok(Some(Rejected));
            }
            let pipeline = match pipeline {
                Some(dir) => fedreport_engine::Pipeline::load(&dir)?,
                None => fedreport_engine::Pipeline::embedded_som()?,
            };
            let opts = fedreport_engine::RunOptions { year, set, target_partitions, engine: Some(engine) };
            let outcome = fedreport_engine::run(&lake, &pipeline, &opts, &mut progress_bar()).await?;
            print!("{}", headline(&outcome));
            if let Some(out) = &out {
                copy_run(&outcome, out)?;
                println!("tables and manifest copied to {}", out.display());
            }
            if let Some(meeting) = meeting {
                let m = fedreport_render::Meeting::load(&meeting)?;
                let dir = out.map(|o| o.join("drafts")).unwrap_or_else(|| PathBuf::from("drafts"));
                let run = run_data_from_lake(&lake, &outcome.manifest.run_id).await?;
                write_drafts(&run, &m, fedreport_render::embedded_templates(), &dir)?;
            }
            Ok(None)
        }
        Command::Render { run, lake, meeting, out, templates, pdf } => {
            let m = fedreport_render::Meeting::load(&meeting)?;
            let data = match lake {
                Some(l) => run_data_from_lake(&Lake::open(&l)?, &run).await?,
                None => fedreport_render::RunData::from_folder(std::path::Path::new(&run))?,
            };
            let templates = match templates {
                Some(dir) => read_templates(&dir)?,
                None => fedreport_render::embedded_templates(),
            };
            write_drafts(&data, &m, templates, &out)?;
            if pdf {
                let chromium = fedreport_render::pdf::find_chromium()
                    .context("--pdf needs Chromium: install Debian's chromium package or set FEDREPORT_CHROMIUM")?;
                for (_, file) in fedreport_render::OUTPUTS.iter().filter(|(_, f)| f.ends_with(".html")) {
                    let html = out.join(file);
                    let target = html.with_extension("pdf");
                    fedreport_render::pdf::print_to_pdf(&chromium, &html, &target)?;
                    println!("draft: {}", target.display());
                }
            }
            Ok(None)
        }
        Command::AccessPolicy { lake, member, principal } => {
            let lake = Lake::open(&lake)?;
            let policy = fedreport_store::policy::s3_member_policy(&lake, &member, &principal)?;
            println!("{}", serde_json::to_string_pretty(&policy)?);
            Ok(None)
        }
        Command::Demo { out, years, scale } => demo::run(&out, &years, scale).await.map(|_| None),
    }
}

fn parse_setting(s: &str) -> std::result::Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .ok_or_else(|| format!("'{s}' is not NAME=VALUE"))
}

/// A progress bar for pipeline runs.
pub(crate) fn progress_bar() -> impl FnMut(fedreport_engine::Progress) {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(indicatif::ProgressStyle::with_template("run {bar:40} {pos}/{len} {msg}").expect("valid template"));
    move |p| match p {
        fedreport_engine::Progress::Pinning { done, total } => {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message("pinning accepted returns");
            if done == total {
                bar.finish_and_clear();
            }
        }
        fedreport_engine::Progress::Step { name, index, total } => {
            bar.reset();
            bar.set_length(total as u64);
            bar.set_position(index as u64);
            bar.set_message(name);
            if index + 1 == total {
                bar.finish_and_clear();
            }
        }
        fedreport_engine::Progress::Writing { table } => bar.set_message(format!("writing {table}")),
    }
}

/// Copy a run's tables and manifest to a local folder.
pub(crate) fn copy_run(outcome: &fedreport_engine::RunOutcome, out: &std::path::Path) -> Result<()> {
    let tables = out.join("tables");
    std::fs::create_dir_all(&tables).with_context(|| format!("cannot create {}", tables.display()))?;
    for (name, batch) in &outcome.tables {
        std::fs::write(tables.join(format!("{name}.csv")), fedreport_engine::output::csv(batch)?)?;
        std::fs::write(tables.join(format!("{name}.parquet")), fedreport_engine::output::parquet(batch, name)?)?;
    }
    std::fs::write(out.join("manifest.json"), serde_json::to_vec_pretty(&outcome.manifest)?)?;
    Ok(())
}

/// The headline regional figures of a run, for the terminal.
pub(crate) fn headline(outcome: &fedreport_engine::RunOutcome) -> String {
    use fedreport_engine::output::cell;
    let m = &outcome.manifest;
    let year = match m.parameters.get("cycle_year") {
        Some(fedreport_engine::pipeline::Param::Int(y)) => y.to_string(),
        _ => String::new(),
    };
    let mut out = format!(
        "run {} — {} inputs pinned, {} tables written to runs/{}/\n",
        m.run_id,
        m.inputs.len(),
        m.outputs.len(),
        m.run_id
    );
    let find = |table: &str, col: &str| -> Option<String> {
        let b = outcome.tables.get(table)?;
        let yi = b.schema().index_of("reference_year").ok()?;
        let ci = b.schema().index_of(col).ok()?;
        (0..b.num_rows())
            .rev()
            .find(|&i| cell(b.column(yi).as_ref(), i) == year)
            .map(|i| cell(b.column(ci).as_ref(), i))
    };
    let big = |s: String| s.parse::<i64>().map(fedreport_render::filters::thousands).unwrap_or(s);
    if let Some(p) = find("maritime_regional", "persons").map(big) {
        out.push_str(&format!(
            "  {year}: {p} persons moved irregularly by sea (change on the previous year: {} per cent; unprecedented: {}); {} dead or missing\n",
            find("maritime_regional", "persons_change_pct").filter(|s| !s.is_empty()).unwrap_or_else(|| "no change figure".into()),
            find("maritime_regional", "unprecedented").unwrap_or_default(),
            find("maritime_regional", "dead_or_missing").map(big).unwrap_or_default()
        ));
    }
    if let Some(b) = outcome.tables.get("enforcement_regional") {
        let (yi, oi, ci) = (0, 1, 2);
        for i in 0..b.num_rows() {
            if cell(b.column(yi).as_ref(), i) == year {
                out.push_str(&format!(
                    "  {year}: {} {} cases\n",
                    big(cell(b.column(ci).as_ref(), i)),
                    cell(b.column(oi).as_ref(), i).replace('_', " ")
                ));
            }
        }
    }
    if let Some(b) = outcome.tables.get("victims_regional") {
        let total: i64 = (0..b.num_rows())
            .filter(|&i| cell(b.column(0).as_ref(), i) == year)
            .filter_map(|i| cell(b.column(4).as_ref(), i).parse::<i64>().ok())
            .sum();
        out.push_str(&format!(
            "  {year}: {} trafficking victims identified\n",
            fedreport_render::filters::thousands(total)
        ));
    }
    if let Some(b) = outcome.tables.get("completeness") {
        let rows: Vec<usize> = (0..b.num_rows()).filter(|&i| cell(b.column(0).as_ref(), i) == year).collect();
        let acc = rows.iter().filter(|&&i| cell(b.column(3).as_ref(), i) == "accepted").count();
        out.push_str(&format!("  {year}: {acc} of {} expected returns accepted\n", rows.len()));
    }
    if !m.warnings.is_empty() {
        out.push_str(&format!("  {} warnings (see manifest.json)\n", m.warnings.len()));
    }
    out
}

/// A run's manifest and published tables, read from the lake.
pub(crate) async fn run_data_from_lake(lake: &Lake, run_id: &str) -> Result<fedreport_render::RunData> {
    let folder = format!("runs/{run_id}/");
    let manifest = lake
        .get_opt(&format!("{folder}manifest.json"))
        .await?
        .with_context(|| format!("no run {run_id} in {}; list the runs under runs/", lake.location()))?;
    let mut tables = Vec::new();
    for m in lake.list(&format!("{folder}tables/")).await? {
        let key = lake.rel(&m.location);
        if let Some(name) = key.rsplit('/').next().and_then(|f| f.strip_suffix(".parquet")) {
            tables.push((name.to_string(), lake.get(&key).await?));
        }
    }
    Ok(fedreport_render::RunData::from_parts(&manifest, tables)?)
}

fn read_templates(dir: &std::path::Path) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot read templates in {}", dir.display()))? {
        let p = e?.path();
        let name = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if name.ends_with(".j2") {
            out.push((name, std::fs::read_to_string(&p)?));
        }
    }
    out.sort();
    Ok(out)
}

/// Render both drafts into `dir` and say where they are.
pub(crate) fn write_drafts(
    run: &fedreport_render::RunData,
    meeting: &fedreport_render::Meeting,
    templates: Vec<(String, String)>,
    dir: &std::path::Path,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, bytes) in fedreport_render::render(run, meeting, templates)? {
        let path = dir.join(&name);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        println!("draft: {}", path.display());
    }
    Ok(())
}

/// Intake with a progress bar.
pub(crate) async fn run_intake(lake: &Lake, validator: &Validator) -> Result<fedreport_store::IntakeSummary> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("intake {bar:40} {pos}/{len} {msg}").expect("valid template"),
    );
    let summary = intake(lake, validator, &Default::default(), &mut |done, total, d| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(format!("{} {}", d.member, d.dataset.as_deref().unwrap_or("?")));
    })
    .await?;
    bar.finish_and_clear();
    Ok(summary)
}

fn schema(dataset: Option<&str>, json: bool) -> Result<Option<Rejected>> {
    let schemas = Schemas::embedded();
    match dataset {
        None if json => {
            println!("{}", serde_json::to_string_pretty(&schemas.iter().map(|s| s.as_ref()).collect::<Vec<_>>())?)
        }
        None => {
            println!("Standard Return v1 datasets:");
            for s in schemas.iter() {
                println!("  {:<22} {} (schema {})", s.dataset, s.description, s.schema_version);
            }
            println!("`fedreport schema DATASET` lists the columns of one.");
        }
        Some(d) => {
            let s = schemas.get(d)?;
            if json {
                println!("{}", serde_json::to_string_pretty(s.as_ref())?);
                return Ok(None);
            }
            println!("{} — {} (schema {})", s.dataset, s.description, s.schema_version);
            for c in &s.columns {
                let mut rule = Vec::new();
                if let Some(v) = &c.values {
                    rule.push(format!("one of: {}", v.join(", ")));
                }
                match c.codelist {
                    Some(fedreport_contract::schema::CodeList::Iso3) => {
                        rule.push("ISO 3166-1 alpha-3 code or UNK".into())
                    }
                    Some(fedreport_contract::schema::CodeList::Member) => {
                        rule.push("registry state or territory".into())
                    }
                    None => {}
                }
                if let (Some(a), Some(b)) = (c.min, c.max) {
                    rule.push(format!("{a}..={b}"));
                } else if let Some(a) = c.min {
                    rule.push(format!(">= {a}"));
                }
                if let Some(m) = c.max_length {
                    rule.push(format!("{}..{m} chars", c.min_length.unwrap_or(0)));
                }
                if c.unique {
                    rule.push("unique".into());
                }
                println!(
                    "  {:<26} {:<7} {:<9} {}{}",
                    c.name,
                    c.ty.name(),
                    if c.nullable { "nullable" } else { "required" },
                    c.description.as_deref().unwrap_or(""),
                    if rule.is_empty() { String::new() } else { format!(" [{}]", rule.join("; ")) }
                );
            }
            for r in &s.row_rules {
                println!("  rule: {}", r.description());
            }
            if let (Some(a), Some(b)) = (s.min_rows, s.max_rows) {
                println!("  rows: {a}..={b}");
            }
        }
    }
    Ok(None)
}
