//! `fedreport`: the command line for focal points and the secretariat.
//!
//! A thin layer over the library crates: each verb is a module of `cmd/`
//! that parses its arguments, calls one library function, shows progress
//! and prints for people; this file loads the forum (`--forum`), dispatches
//! and maps outcomes to exit codes (0 ok, 1 invalid or rejected, 2 usage or
//! environment error).

mod cmd;
mod engine;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use fedreport_forum::Forum;

/// Federated reporting for regional consultative processes: validate,
/// submit and take in standard returns, compute regional indicators and
/// draft the meeting documents.
#[derive(Parser)]
#[command(name = "fedreport", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// The forum folder (with a forum.toml: registry, schemas, pipeline,
    /// templates, meetings). Default: the Bali Process, shipped with fedreport.
    #[arg(long, global = true, env = "FEDREPORT_FORUM", value_name = "DIR")]
    forum: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the datasets of the return contract, or the columns and code lists of one.
    Schema(cmd::returns::SchemaArgs),
    /// Write an empty, correctly typed return file for a dataset.
    Template(cmd::returns::TemplateArgs),
    /// Check a return file (Parquet or CSV) offline and list every problem.
    Validate(cmd::returns::ValidateArgs),
    /// Convert a CSV return to a schema-typed Parquet file (validated on the way).
    Convert(cmd::returns::ConvertArgs),
    /// Validate a return and put it into the member's inbox in the lake.
    Submit(cmd::returns::SubmitArgs),
    /// Decide every pending inbox file: accept as a new version or reject, with a receipt.
    Intake(cmd::intake::IntakeArgs),
    /// Show what became of a member's submissions.
    Receipts(cmd::intake::ReceiptsArgs),
    /// Print the completeness board (member × dataset) for a year.
    Status(cmd::intake::StatusArgs),
    /// Print the audit log (who did what, when, why), or check its chain with --verify.
    Log(cmd::cycle::LogArgs),
    /// Approve a return, send it back to its focal point, or reopen it.
    #[command(subcommand)]
    Review(cmd::cycle::ReviewVerb),
    /// Withdraw a member: its accepted returns stay in the lake, but no run counts them (a reason is required).
    Withdraw(cmd::cycle::WithdrawArgs),
    /// A reporting cycle: its status, lock and unlock, per-member exceptions.
    #[command(subcommand)]
    Cycle(cmd::cycle::CycleVerb),
    /// A run's drafts: put them up for review, comment, clear as a co-chair.
    #[command(subcommand)]
    Draft(cmd::cycle::DraftVerb),
    /// Compute the regional indicators from the current accepted returns (or replay a past run).
    Run(cmd::run::RunArgs),
    /// List the pipeline runs in a lake, newest first.
    Runs(cmd::run::RunsArgs),
    /// What changed between two runs: every figure (with its cause) and every sentence of the drafts.
    Diff(cmd::run::DiffArgs),
    /// Render the drafts (Markdown and HTML) of the forum's documents from a run.
    Render(cmd::render::RenderArgs),
    /// Export a run's published tables for statistical systems: SDMX-CSV 2.0 with its SDMX-ML structure.
    Export(cmd::export::ExportArgs),
    /// Print the S3 bucket policy that lets a member's focal-point role write only its own inbox and read only its own receipts.
    AccessPolicy(cmd::intake::AccessPolicyArgs),
    /// Run the whole chain on synthetic data: lake, submissions, intake, status, indicators, drafts.
    Demo(cmd::demo::DemoArgs),
    /// Serve the web front over a lake: focal points, the secretariat and co-chairs in the browser.
    Serve(cmd::serve::ServeArgs),
    /// Manage the web front's accounts (kept in the lake).
    User(cmd::serve::UserArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    quiet_on_a_closed_pipe();
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
        Ok(cmd::Outcome::Done) => ExitCode::SUCCESS,
        Ok(cmd::Outcome::Rejected) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// A reader that stops early (`fedreport validate … | head`) closes the
/// pipe, and printing to it then panics. End quietly instead, as other
/// command-line tools do, with the status of a process stopped by SIGPIPE
/// (128 + 13); any other panic is reported as before.
fn quiet_on_a_closed_pipe() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload.downcast_ref::<String>().map(String::as_str).or(payload.downcast_ref::<&str>().copied());
        if message.is_some_and(|m| m.starts_with("failed printing to stdout") && m.contains("Broken pipe")) {
            std::process::exit(141);
        }
        report(info);
    }));
}

async fn run(cli: Cli) -> Result<cmd::Outcome> {
    let forum = Forum::from_option(cli.forum.as_deref())?;
    match cli.command {
        Command::Schema(a) => cmd::returns::schema(&forum, a),
        Command::Template(a) => cmd::returns::template(&forum, a),
        Command::Validate(a) => cmd::returns::validate(&forum, a).await,
        Command::Convert(a) => cmd::returns::convert(&forum, a).await,
        Command::Submit(a) => cmd::returns::submit(&forum, a).await,
        Command::Intake(a) => cmd::intake::intake(&forum, a).await,
        Command::Receipts(a) => cmd::intake::receipts(a).await,
        Command::Status(a) => cmd::intake::status(&forum, a).await,
        Command::Log(a) => cmd::cycle::log(a).await,
        Command::Review(v) => cmd::cycle::review(&forum, v).await,
        Command::Cycle(v) => cmd::cycle::cycle(&forum, v).await,
        Command::Withdraw(a) => cmd::cycle::withdraw(&forum, a).await,
        Command::Draft(v) => cmd::cycle::draft(&forum, v).await,
        Command::Run(a) => cmd::run::run(&forum, a).await,
        Command::Runs(a) => cmd::run::runs(a).await,
        Command::Diff(a) => cmd::run::diff(&forum, a).await,
        Command::Render(a) => cmd::render::render(&forum, a).await,
        Command::Export(a) => cmd::export::export(&forum, a).await,
        Command::AccessPolicy(a) => cmd::intake::access_policy(&forum, a),
        Command::Demo(a) => cmd::demo::demo(&forum, a).await,
        Command::Serve(a) => cmd::serve::serve(&forum, a).await,
        Command::User(a) => cmd::serve::user(&forum, a).await,
    }
}
