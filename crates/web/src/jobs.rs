//! Pipeline runs started from the browser. A run takes seconds to minutes,
//! so it goes to a background task, and its progress is written to the lake
//! (`jobs/{job}.json`) as it goes: any instance can show it, and the page
//! polls it (htmx, or a plain refresh without JavaScript).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use fedreport_engine::{Progress, RunOptions};
use fedreport_store::layout;
use serde::{Deserialize, Serialize};

use crate::state::AppState;

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Running,
    Done,
    Failed,
}

/// A job as the lake records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub year: i32,
    pub started_by: String,
    pub started_at: String,
    pub state: JobState,
    /// What it is doing now, in words.
    pub doing: String,
    pub done: usize,
    pub total: usize,
    pub run_id: Option<String>,
    pub error: Option<String>,
}

async fn save(state: &AppState, job: &Job) {
    match serde_json::to_vec_pretty(job) {
        Ok(body) => {
            if let Err(e) = state.lake().put(&layout::job(&job.id), Bytes::from(body)).await {
                tracing::error!(job = %job.id, error = %e, "cannot record the job's progress");
            }
        }
        Err(e) => tracing::error!(job = %job.id, error = %e, "cannot encode the job"),
    }
}

/// Read a job.
pub async fn read(state: &AppState, id: &str) -> Option<Job> {
    crate::handlers::checked_id(id, "j-", "job").ok()?;
    let bytes = state.lake().get_opt(&layout::job(id)).await.ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// Start a run of the forum's pipeline for `year`; returns the job id.
pub async fn start_run(state: &AppState, year: i32, by: &str) -> String {
    let r = uuid::Uuid::new_v4().simple().to_string();
    let id = format!("j-{}-{}", Utc::now().format("%Y%m%dT%H%M%S%3fZ"), &r[..8]);
    let job = Job {
        id: id.clone(),
        year,
        started_by: by.to_string(),
        started_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        state: JobState::Running,
        doing: "starting".into(),
        done: 0,
        total: 0,
        run_id: None,
        error: None,
    };
    save(state, &job).await;
    let state = state.clone();
    let handle = tokio::runtime::Handle::current();
    // The engine's progress callback is not Send, so the run gets a blocking
    // thread of its own and drives its future there.
    tokio::task::spawn_blocking(move || {
        handle.block_on(async move {
            // progress events update a shared record (and mark it changed); it
            // is written to the lake at most twice a second
            let shared = Arc::new(Mutex::new((job, false)));
            let progress_of = shared.clone();
            let mut progress = move |p: Progress| {
                let mut g = progress_of.lock().expect("job lock");
                let (job, dirty) = &mut *g;
                match p {
                    Progress::Pinning { done, total } => {
                        job.doing = "pinning the accepted returns".into();
                        (job.done, job.total) = (done, total);
                    }
                    Progress::Step { name, index, total } => {
                        job.doing = format!("computing {name}");
                        (job.done, job.total) = (index, total);
                    }
                }
                *dirty = true;
            };
            let writer_state = state.clone();
            let writer_shared = shared.clone();
            let writer = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    let snapshot = {
                        let mut g = writer_shared.lock().expect("job lock");
                        if g.0.state != JobState::Running {
                            return;
                        }
                        if !g.1 {
                            continue;
                        }
                        g.1 = false;
                        g.0.clone()
                    };
                    save(&writer_state, &snapshot).await;
                }
            });
            let forum = state.forum();
            let opts = RunOptions { year: Some(year), ..Default::default() };
            let outcome =
                fedreport_engine::run(state.lake(), &forum.contract, &forum.pipeline, &opts, &mut progress).await;
            let finished = {
                let mut g = shared.lock().expect("job lock");
                match outcome {
                    Ok(o) => {
                        g.0.state = JobState::Done;
                        g.0.doing = "done".into();
                        g.0.done = g.0.total;
                        g.0.run_id = Some(o.manifest.run_id);
                    }
                    Err(e) => {
                        tracing::error!(job = %g.0.id, error = %e, "run failed");
                        g.0.state = JobState::Failed;
                        g.0.doing = "failed".into();
                        g.0.error = Some(e.to_string());
                    }
                }
                g.0.clone()
            };
            let _ = writer.await;
            save(&state, &finished).await;
        })
    });
    id
}
