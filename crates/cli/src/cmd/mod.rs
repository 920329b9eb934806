//! The verbs, one module per group: return files (`returns`), the inbox and
//! its receipts (`intake`), the reporting cycle (`cycle`: log, review, locks,
//! clearance), pipeline runs (`run`), drafts (`render`), exports (`export`) and the demo. Each parses its arguments, calls the library and prints.

pub mod cycle;
pub mod demo;
pub mod export;
pub mod intake;
pub mod progress;
pub mod render;
pub mod returns;
pub mod run;
pub mod serve;

/// How a verb ended, when it could run at all.
pub enum Outcome {
    /// Exit 0.
    Done,
    /// Exit 1: the file is invalid, the submission rejected, the replay differs.
    Rejected,
}

impl Outcome {
    /// `Done` when `ok`, else `Rejected`.
    pub fn ok_if(ok: bool) -> Outcome {
        if ok { Outcome::Done } else { Outcome::Rejected }
    }
}
