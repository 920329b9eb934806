//! The golden pipeline on Apache DataFusion Ballista (built with
//! `--features ballista`): byte-identical tables on the local engine, on
//! Ballista's in-process standalone cluster, and on a real
//! `fedreport-scheduler` with two `fedreport-executor` processes on loopback
//! reading a lake on S3 (moto) — the executors get no S3 settings of their
//! own, only what the job's session configuration carries.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fedreport_distributed::Ballista;
use fedreport_engine::RunOptions;

use crate::block_on;
use crate::s3::{Moto, assert_golden_tables, golden_lake_on_s3, golden_run, text};

/// A binary of the distributed crate, built beside `fedreport`.
fn binary(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_fedreport")).with_file_name(name);
    assert!(
        p.exists(),
        "{} is not built; run the tests with `cargo test --workspace --features fedreport/ballista`",
        p.display()
    );
    p
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("a free loopback port for the cluster (none could be bound)");
    l.local_addr().expect("its address").port()
}

fn wait_for(port: u16, what: &str) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(60), "{what} did not listen on port {port} within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A scheduler and executors on loopback; killed on drop.
struct Cluster {
    children: Vec<Child>,
    port: u16,
    work: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Environment variables an executor must not inherit, so the test shows the
/// lake's settings travel in the session configuration.
const CLOUD_VARS: [&str; 5] =
    ["AWS_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ALLOW_HTTP"];

/// A log file for a node's output.
fn log(path: &std::path::Path) -> Stdio {
    Stdio::from(std::fs::File::create(path).unwrap())
}

impl Cluster {
    /// The nodes' logs, for a failure message.
    fn logs(&self) -> String {
        let mut out = String::new();
        for name in ["scheduler.log", "executor-0.log", "executor-1.log"] {
            let text = std::fs::read_to_string(self.work.path().join(name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")).collect();
            out.push_str(&format!(
                "--- {name} (warnings and errors)\n{}\n",
                lines[lines.len().saturating_sub(20)..].join("\n")
            ));
        }
        out
    }

    fn start(executors: usize) -> Cluster {
        let work = tempfile::tempdir().unwrap();
        let port = free_port();
        let children = vec![
            Command::new(binary("fedreport-scheduler"))
                .args(["--bind-host", "127.0.0.1", "--external-host", "127.0.0.1", "--bind-port", &port.to_string()])
                .stdout(log(&work.path().join("scheduler.log")))
                .stderr(Stdio::null())
                .spawn()
                .expect("start fedreport-scheduler"),
        ];
        let mut cluster = Cluster { children, port, work };
        wait_for(port, "fedreport-scheduler");
        for i in 0..executors {
            let (flight, grpc, health) = (free_port(), free_port(), free_port());
            let dir = cluster.work.path().join(format!("executor-{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            let mut cmd = Command::new(binary("fedreport-executor"));
            cmd.args(["--scheduler-host", "127.0.0.1", "--scheduler-port", &port.to_string()])
                .args(["--bind-host", "127.0.0.1", "--external-host", "127.0.0.1"])
                .args(["--bind-port", &flight.to_string(), "--bind-grpc-port", &grpc.to_string()])
                .args(["--bind-health-port", &health.to_string(), "--vcores", "1"])
                .args(["--work-dir", &dir.to_string_lossy()])
                .stdout(log(&cluster.work.path().join(format!("executor-{i}.log"))))
                .stderr(Stdio::null());
            for v in CLOUD_VARS {
                cmd.env_remove(v);
            }
            cluster.children.push(cmd.spawn().expect("start fedreport-executor"));
            wait_for(flight, "fedreport-executor");
        }
        cluster
    }
}

#[test]
fn golden_tables_are_byte_identical_on_standalone_ballista() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let lake = crate::pipeline::build_lake(dir.path(), crate::pipeline::golden_as_submitted()).await;
        let local = crate::pipeline::run(&lake, 2).await;
        let opts = RunOptions { engine: Some(Arc::new(Ballista::Standalone)), ..crate::pipeline::options(2) };
        let ballista = fedreport_engine::run(&lake, crate::contract(), &crate::bali().pipeline, &opts, &mut |_| {})
            .await
            .expect("the pipeline runs on standalone Ballista");
        assert!(ballista.manifest.engine.starts_with("ballista"), "{}", ballista.manifest.engine);
        assert_eq!(local.manifest.outputs.len(), ballista.manifest.outputs.len());
        for o in &local.manifest.outputs {
            let b = ballista.manifest.output(&o.table).expect("the same tables");
            assert_eq!(o.csv.sha256, b.csv.sha256, "{} CSV differs on Ballista", o.table);
            assert_eq!(o.parquet.sha256, b.parquet.sha256, "{} Parquet differs on Ballista", o.table);
        }
        // and a replay of the Ballista run on the local engine gives the same bytes
        let (_, diffs) =
            fedreport_engine::replay(&lake, crate::contract(), &ballista.manifest, &mut |_| {}).await.unwrap();
        assert!(diffs.is_empty(), "{diffs:?}");
    });
}

#[test]
fn an_incremental_run_gives_the_tables_of_a_cold_run_on_standalone_ballista() {
    // every version read where intake stored it (the local engine runs both ways)
    block_on(crate::incremental::every_kind_of_change(Some(Arc::new(Ballista::Standalone)), Some(0)));
}

#[test]
fn golden_tables_are_byte_identical_on_a_scheduler_and_two_executors_with_the_lake_on_s3() {
    let Some(moto) = Moto::start("returns") else { return };
    let url = "s3://returns/cluster";
    let dir = tempfile::tempdir().unwrap();
    golden_lake_on_s3(&moto, url, dir.path());
    let cluster = Cluster::start(2);
    let engine = format!("ballista://127.0.0.1:{}", cluster.port);
    let run = |engine: &str, out: &str| {
        let out = dir.path().join(out);
        let o = golden_run(&moto, url, &out, &["--engine", engine, "--target-partitions", "4"]);
        assert!(o.status.success(), "--engine {engine}: {}\n{}", text(&o), cluster.logs());
        out
    };
    let on_cluster = run(&engine, "cluster");
    let local = run("local", "local");
    assert_golden_tables(&on_cluster, "on the cluster");
    let mut compared = 0;
    for e in std::fs::read_dir(local.join("tables")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_owned();
        assert_eq!(
            std::fs::read(&p).unwrap(),
            std::fs::read(on_cluster.join("tables").join(&name)).unwrap(),
            "{name:?}"
        );
        compared += 1;
    }
    assert!(compared >= 20, "every table as Parquet and CSV ({compared})");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(on_cluster.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest["engine"].as_str().unwrap().contains(&engine), "{}", manifest["engine"]);
    // both executors ran tasks: each wrote shuffle output under its work folder
    for i in 0..2 {
        let dir = cluster.work.path().join(format!("executor-{i}"));
        let used = walk(&dir);
        assert!(used > 0, "executor {i} wrote nothing under {}", dir.display());
    }
}

/// Files under a folder, recursively.
fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum())
        .unwrap_or(0)
}

#[test]
fn an_unreachable_scheduler_is_a_clear_error() {
    let o = Command::new(env!("CARGO_BIN_EXE_fedreport"))
        .args(["run", "--lake", &tempfile::tempdir().unwrap().path().to_string_lossy()])
        .args(["--engine", &format!("ballista://127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("fedreport-scheduler") && !t.contains("panicked"), "{t}");
}
