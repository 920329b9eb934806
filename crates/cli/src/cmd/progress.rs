//! Progress bars for the long verbs (intake, runs), drawn on the terminal
//! from the progress callbacks the libraries offer.

use fedreport_contract::Validator;
use fedreport_engine::Progress;
use fedreport_store::{IntakeOptions, IntakeSummary, Lake, intake};

fn bar(prefix: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    let style = format!("{prefix} {{bar:40}} {{pos}}/{{len}} {{msg}}");
    bar.set_style(indicatif::ProgressStyle::with_template(&style).expect("valid template"));
    bar
}

/// A progress bar for pipeline runs.
pub fn run_bar() -> impl FnMut(Progress) {
    let bar = bar("run");
    move |p| match p {
        Progress::Pinning { done, total } => {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message("pinning accepted returns");
            if done == total {
                bar.finish_and_clear();
            }
        }
        Progress::Step { name, index, total } => {
            bar.reset();
            bar.set_length(total as u64);
            bar.set_position(index as u64);
            bar.set_message(name);
            if index + 1 == total {
                bar.finish_and_clear();
            }
        }
    }
}

/// Intake with a progress bar.
pub async fn intake_with_bar(
    lake: &Lake,
    validator: &Validator,
    opts: &IntakeOptions,
) -> fedreport_store::Result<IntakeSummary> {
    let bar = bar("intake");
    let summary = intake(lake, validator, opts, &mut |done, total, d| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(format!("{} {}", d.member, d.dataset.as_deref().unwrap_or("?")));
    })
    .await?;
    bar.finish_and_clear();
    Ok(summary)
}
