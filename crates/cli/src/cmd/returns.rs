//! A focal point's verbs: the datasets (`schema`), empty templates,
//! offline validation, conversion to Parquet and submission.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::ValueEnum;
use fedreport_contract::{Expected, ValidateOptions, Validator, template};
use fedreport_forum::Forum;
use fedreport_store::Lake;
use fedreport_store::lake::open_file;

use super::Outcome;

#[derive(clap::Args)]
pub struct SchemaArgs {
    /// Dataset to describe (all when omitted).
    dataset: Option<String>,
    /// Print the machine-readable schema as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum TemplateFormat {
    Parquet,
    Csv,
    Xlsx,
}

#[derive(clap::Args)]
pub struct TemplateArgs {
    dataset: String,
    /// parquet, csv, or xlsx (an Excel workbook with the return as a table, dropdowns and instructions).
    #[arg(long, value_enum, default_value = "parquet")]
    format: TemplateFormat,
    /// Where to write the template.
    #[arg(short, long)]
    output: PathBuf,
}

/// What a file is claimed to be; anything left out is read from the file.
#[derive(clap::Args)]
pub struct Claim {
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

#[derive(clap::Args)]
pub struct ValidateArgs {
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
}

#[derive(clap::Args)]
pub struct ConvertArgs {
    file: String,
    #[command(flatten)]
    claim: Claim,
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(clap::Args)]
pub struct SubmitArgs {
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
}

pub fn schema(forum: &Forum, a: SchemaArgs) -> Result<Outcome> {
    let schemas = forum.contract.schemas();
    match (a.dataset, a.json) {
        (None, true) => {
            println!("{}", serde_json::to_string_pretty(&schemas.iter().map(|s| s.as_ref()).collect::<Vec<_>>())?)
        }
        (None, false) => print!("{}", schemas.summary(forum.contract.title())),
        (Some(d), true) => println!("{}", serde_json::to_string_pretty(schemas.get(&d)?.as_ref())?),
        (Some(d), false) => print!("{}", schemas.get(&d)?.describe()),
    }
    Ok(Outcome::Done)
}

pub fn template(forum: &Forum, a: TemplateArgs) -> Result<Outcome> {
    let s = forum.contract.schemas().get(&a.dataset)?;
    let bytes = match a.format {
        TemplateFormat::Parquet => template::empty_parquet(s)?,
        TemplateFormat::Csv => template::empty_csv(s),
        TemplateFormat::Xlsx => fedreport_office::xlsx::template(s, forum.contract.registry(), forum.contract.title())?,
    };
    std::fs::write(&a.output, bytes).with_context(|| format!("cannot write {}", a.output.display()))?;
    println!("wrote an empty {} template to {}", s.dataset, a.output.display());
    Ok(Outcome::Done)
}

pub async fn validate(forum: &Forum, a: ValidateArgs) -> Result<Outcome> {
    let validator = Validator::new(&forum.contract, ValidateOptions::findings(a.max_findings));
    let (store, path, name) = open_file(&a.file)?;
    let v = validator.check(store, &path, &name, &a.claim.expected()).await;
    print!("{}", v.report.to_human());
    if let Some(out) = a.json {
        std::fs::write(&out, serde_json::to_vec_pretty(&v.report)?)
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(Outcome::ok_if(v.report.is_valid()))
}

pub async fn convert(forum: &Forum, a: ConvertArgs) -> Result<Outcome> {
    let validator = Validator::new(&forum.contract, ValidateOptions::default());
    let (store, path, name) = open_file(&a.file)?;
    let folder = a.output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let scratch =
        tempfile::NamedTempFile::new_in(folder).with_context(|| format!("cannot write in {}", folder.display()))?;
    let (v, written) = validator.convert(store, &path, &name, &a.claim.expected(), scratch).await?;
    print!("{}", v.report.to_human());
    let (Some(file), Some(schema)) = (written, v.schema) else {
        eprintln!("not converted: fix the errors above first");
        return Ok(Outcome::Rejected);
    };
    file.persist(&a.output).with_context(|| format!("cannot write {}", a.output.display()))?;
    println!(
        "wrote {} ({} rows, {} schema {})",
        a.output.display(),
        v.report.rows,
        schema.dataset,
        schema.schema_version
    );
    Ok(Outcome::Done)
}

pub async fn submit(forum: &Forum, a: SubmitArgs) -> Result<Outcome> {
    let lake = Lake::open(&a.lake)?;
    let validator = Validator::new(&forum.contract, ValidateOptions::default());
    let (store, path, name) = open_file(&a.file)?;
    let s =
        fedreport_store::submit_object(&lake, &validator, store, &path, &name, &a.member, a.dataset.as_deref(), a.year)
            .await?;
    let member = a.member;
    match s.submission {
        Some((id, key)) => {
            println!(
                "submitted {name} as {id} (in {key}); it is decided at the next intake — see `fedreport receipts --member {member} {id}`"
            );
            Ok(Outcome::Done)
        }
        None => {
            print!("{}", s.report.to_human());
            eprintln!("not submitted: fix the errors above and submit again");
            Ok(Outcome::Rejected)
        }
    }
}
