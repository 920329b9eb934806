//! The lake on a real S3 protocol server: `moto_server` (PyPI `moto[server]`,
//! which honours `If-None-Match: *`) on loopback, started and stopped here.
//! `scripts/test` installs moto and sets FEDREPORT_REQUIRE_MOTO=1, so in CI a
//! missing server fails instead of skipping.

use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use fedreport_store::Lake;
use object_store::aws::AmazonS3Builder;

use crate::repo;
use crate::support::{free_port, spawn_server};

/// A moto server on a free loopback port, with one bucket; killed on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Start a server, or `None` (with a message) where moto is not installed and not required.
    pub fn start(bucket: &str) -> Option<Moto> {
        let port = free_port("FEDREPORT_REQUIRE_MOTO")?;
        let mut cmd = Command::new("moto_server");
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let child = spawn_server(cmd, port, "moto_server", "FEDREPORT_REQUIRE_MOTO", "pip install 'moto[server]'")?;
        let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
        let made =
            Command::new("curl").args(["-s", "-f", "-X", "PUT", &format!("{}/{bucket}", moto.endpoint)]).status();
        assert!(made.is_ok_and(|s| s.success()), "could not create bucket {bucket} on moto");
        Some(moto)
    }

    /// Environment for the `fedreport` binary.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// A lake on this server, built without the environment (for the test's own writes).
    pub fn lake(&self, url: &str) -> Lake {
        let parsed = url::Url::parse(url).unwrap();
        let store = AmazonS3Builder::new()
            .with_url(url)
            .with_endpoint(&self.endpoint)
            .with_access_key_id("testing")
            .with_secret_access_key("testing")
            .with_region("us-east-1")
            .with_allow_http(true)
            .build()
            .unwrap();
        let prefix = object_store::path::Path::from_url_path(parsed.path()).unwrap();
        let mut root = parsed.clone();
        if !root.path().ends_with('/') {
            root.set_path(&format!("{}/", root.path()));
        }
        Lake::from_store(Arc::new(store), root, prefix)
    }

    /// Run the `fedreport` binary against this server.
    pub fn fedreport(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_fedreport")).args(args).envs(self.env()).output().expect("run fedreport")
    }
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The tables a run copied to `out/tables/` equal the hand-computed golden ones.
pub fn assert_golden_tables(out: &std::path::Path, where_: &str) {
    for e in std::fs::read_dir(repo().join("tests/golden/expected")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_owned();
        let got = std::fs::read_to_string(out.join("tables").join(&name)).unwrap();
        assert_eq!(got, std::fs::read_to_string(&p).unwrap(), "{name:?} {where_}");
    }
}

/// Run the golden pipeline (`fedreport run`, cycle 2012, the golden
/// parameters as in `pipeline::options`) on `url`, copying the run to `out`;
/// `extra` adds options.
pub fn golden_run(server: &dyn LakeServer, url: &str, out: &std::path::Path, extra: &[&str]) -> Output {
    let out = out.to_string_lossy();
    let mut args = vec!["run", "--lake", url, "--year", "2012", "--set", "yoy_factor=1.4", "--set", "drop_min_rows=1"];
    args.extend(["--out", &out]);
    args.extend(extra);
    server.fedreport(&args)
}

/// An object-store server the tests start: how to reach it.
pub trait LakeServer {
    /// Environment for the `fedreport` binary.
    fn env(&self) -> Vec<(&'static str, String)>;

    /// A lake on this server, for the test's own reads and writes.
    fn lake(&self, url: &str) -> Lake;

    /// Run the `fedreport` binary against this server.
    fn fedreport(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_fedreport")).args(args).envs(self.env()).output().expect("run fedreport")
    }
}

impl LakeServer for Moto {
    fn env(&self) -> Vec<(&'static str, String)> {
        Moto::env(self)
    }

    fn lake(&self, url: &str) -> Lake {
        Moto::lake(self, url)
    }
}

/// Submit the golden returns to a lake on `moto` with the `fedreport` binary
/// (the NZL draft dropped in the inbox by hand), and take them in.
pub fn golden_lake_on_s3(moto: &Moto, url: &str, dir: &std::path::Path) {
    golden_lake_on(moto, url, dir)
}

/// [`golden_lake_on_s3`] on any server.
pub fn golden_lake_on(server: &dyn LakeServer, url: &str, dir: &std::path::Path) {
    let moto = server;
    for (member, name, _, bytes) in crate::pipeline::golden_as_submitted() {
        let path = dir.join(&name);
        std::fs::write(&path, &bytes).unwrap();
        let dataset = crate::pipeline::dataset_of(&name);
        let year = crate::pipeline::year_of(&name).to_string();
        let o = moto.fedreport(&[
            "submit",
            &path.to_string_lossy(),
            "--lake",
            url,
            "--member",
            &member,
            "--dataset",
            dataset,
            "--year",
            &year,
        ]);
        if name.contains("draft") {
            assert_eq!(o.status.code(), Some(1), "{}", text(&o));
            let lake = moto.lake(url);
            crate::block_on(lake.put_new(&format!("inbox/{member}/{name}"), bytes.into())).unwrap();
        } else {
            assert!(o.status.success(), "{name}: {}", text(&o));
        }
        std::thread::sleep(Duration::from_millis(3));
    }
    let o = moto.fedreport(&["intake", "--lake", url]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("24 new versions") && text(&o).contains("1 rejected"), "{}", text(&o));
}

#[test]
fn the_whole_chain_runs_on_s3_as_on_a_folder() {
    let Some(moto) = Moto::start("returns") else { return };
    let url = "s3://returns/bali";
    let dir = tempfile::tempdir().unwrap();
    golden_lake_on_s3(&moto, url, dir.path());
    let o = moto.fedreport(&["status", "--lake", url, "--year", "2012"]);
    assert!(text(&o).contains("REJ"), "{}", text(&o));
    let out = dir.path().join("out");
    let meeting = repo().join("meetings/som5-bali-2013.toml").to_string_lossy().to_string();
    let o = golden_run(&moto, url, &out, &["--meeting", &meeting]);
    assert!(o.status.success(), "{}", text(&o));
    // the same tables as the hand-computed golden ones (completeness depends on arrival times)
    assert_golden_tables(&out, "on S3");
    assert!(out.join("drafts/ministerial-briefing.html").exists());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let run_id = manifest["run_id"].as_str().unwrap();
    let o = moto.fedreport(&["run", "--lake", url, "--replay", run_id]);
    assert!(o.status.success() && text(&o).contains("byte-identical"), "{}", text(&o));
    let drafts = dir.path().join("drafts");
    let o = moto.fedreport(&[
        "render",
        "--lake",
        url,
        "--run",
        run_id,
        "--meeting",
        &meeting,
        "--out",
        &drafts.to_string_lossy(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = moto.fedreport(&["receipts", "--lake", url, "--member", "NZL"]);
    assert!(text(&o).contains("REJECTED"), "{}", text(&o));
}

#[test]
fn another_members_file_never_reaches_the_accepted_area_on_s3() {
    let Some(moto) = Moto::start("returns") else { return };
    let lake = moto.lake("s3://returns/lake");
    let nzl = fedreport_synth::parquet(
        &fedreport_synth::return_batch(crate::contract(), 5, "NZL", "enforcement_cases", 2012, 1.0).unwrap(),
    )
    .unwrap();
    crate::block_on(lake.put_new("inbox/AUS/e.parquet", nzl.into())).unwrap();
    let o = moto.fedreport(&["intake", "--lake", "s3://returns/lake"]);
    assert!(o.status.success(), "{}", text(&o));
    crate::block_on(async {
        assert!(lake.list("accepted/").await.unwrap().is_empty());
        let r = fedreport_store::receipt::list(&lake, Some("AUS")).await.unwrap();
        assert_eq!(r.len(), 1);
        assert!(r[0].findings.iter().any(|f| f.code == fedreport_contract::RuleCode::Identity));
        // and a second put of the same version key is refused by the store itself
        let k = "accepted/x/2012/AUS/v000001.parquet";
        assert_eq!(lake.put_new(k, b"a".to_vec().into()).await.unwrap(), fedreport_store::lake::Created::Written);
        assert_eq!(lake.put_new(k, b"b".to_vec().into()).await.unwrap(), fedreport_store::lake::Created::AlreadyExists);
    });
}

/// Submissions made through the library (focal points), as (member, dataset, year, id).
fn submit_many(lake: &Lake, round: u64, count: usize) -> Vec<(String, String)> {
    let v = fedreport_contract::Validator::new(crate::contract(), Default::default());
    let slots = [("AUS", "maritime_movements"), ("IDN", "enforcement_cases"), ("MYS", "legal_framework")];
    let mut ids = Vec::new();
    for i in 0..count {
        let (member, dataset) = slots[i % slots.len()];
        // every third file repeats the bytes of the one before it in its slot: a duplicate
        let variant = if i % 3 == 2 && i >= 3 { round * 100 + i as u64 - 3 } else { round * 100 + i as u64 };
        let batch = fedreport_synth::return_batch(crate::contract(), variant, member, dataset, 2012, 0.05).unwrap();
        let bytes = fedreport_synth::parquet(&batch).unwrap();
        let s = crate::block_on(fedreport_store::submit(
            lake,
            &v,
            bytes.into(),
            "r.parquet",
            member,
            Some(dataset),
            Some(2012),
        ))
        .unwrap();
        let (id, _) = s.submission.expect("valid synthetic return");
        ids.push((member.to_string(), id));
    }
    ids
}

/// Every submission has exactly one receipt, every slot's versions are
/// 1..=n without gaps, each version belongs to exactly one accepted receipt
/// that is not a duplicate, and the inbox is empty.
fn check_invariants(lake: &Lake, submitted: &[(String, String)]) {
    crate::block_on(async {
        assert!(lake.list("inbox/").await.unwrap().is_empty(), "inbox left non-empty");
        let receipts = fedreport_store::receipt::list(lake, None).await.unwrap();
        let mut by_id = std::collections::BTreeMap::new();
        for r in &receipts {
            *by_id.entry(r.submission_id.clone()).or_insert(0) += 1;
        }
        assert_eq!(by_id.len(), submitted.len(), "one receipt per submission");
        assert!(by_id.values().all(|n| *n == 1));
        for (_, id) in submitted {
            assert!(by_id.contains_key(id), "submission {id} has no receipt");
        }
        let mut slots: std::collections::BTreeMap<String, Vec<u32>> = Default::default();
        for m in lake.list("accepted/").await.unwrap() {
            let key = lake.rel(&m.location);
            if key.ends_with(".claim") {
                continue;
            }
            let (slot, file) = key.rsplit_once('/').unwrap();
            slots.entry(slot.to_string()).or_default().push(fedreport_store::layout::parse_version(file).unwrap());
            let md = fedreport_store::intake::footer(lake, &m.location, m.size).await.unwrap();
            let owner = &md["fedreport.submission_id"];
            let r = receipts.iter().find(|r| &r.submission_id == owner).expect("a version's submission has a receipt");
            assert!(!r.duplicate && r.stored_as.as_deref() == Some(key.as_str()), "version {key} belongs to {owner}");
        }
        for (slot, mut v) in slots {
            v.sort_unstable();
            assert_eq!(v, (1..=v.len() as u32).collect::<Vec<_>>(), "versions of {slot} have gaps or repeats");
        }
    });
}

#[test]
fn two_intakes_and_a_stream_of_submissions_lose_nothing() {
    let Some(moto) = Moto::start("returns") else { return };
    let url = "s3://returns/concurrent";
    let lake = moto.lake(url);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let intakes: Vec<_> = (0..2)
        .map(|_| {
            let done = done.clone();
            let env = moto.env();
            std::thread::spawn(move || {
                let mut runs = 0;
                while !done.load(std::sync::atomic::Ordering::SeqCst) || runs == 0 {
                    let o = Command::new(env!("CARGO_BIN_EXE_fedreport"))
                        .args(["intake", "--lake", url])
                        .envs(env.clone())
                        .output()
                        .unwrap();
                    assert!(o.status.success(), "{}", text(&o));
                    runs += 1;
                }
                runs
            })
        })
        .collect();
    let mut submitted = Vec::new();
    for round in 0..4 {
        submitted.extend(submit_many(&lake, round, 9));
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let runs: Vec<usize> = intakes.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(runs.iter().all(|r| *r >= 1), "{runs:?}");
    let o = moto.fedreport(&["intake", "--lake", url]);
    assert!(o.status.success(), "{}", text(&o));
    check_invariants(&lake, &submitted);
}

#[test]
fn intake_killed_at_random_points_loses_and_duplicates_nothing() {
    let Some(moto) = Moto::start("returns") else { return };
    let url = "s3://returns/crash";
    let lake = moto.lake(url);
    let mut submitted = Vec::new();
    let mut seed = 7u64;
    let mut interrupted = 0;
    for round in 0..10 {
        submitted.extend(submit_many(&lake, round, 6));
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = Duration::from_millis(20 + (seed >> 33) % 250);
        let mut child = Command::new(env!("CARGO_BIN_EXE_fedreport"))
            .args(["intake", "--lake", url])
            .envs(moto.env())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        if !crate::block_on(lake.list("inbox/")).unwrap().is_empty() {
            interrupted += 1;
        }
    }
    assert!(interrupted >= 3, "only {interrupted} of 10 intakes were killed before they finished");
    let o = moto.fedreport(&["intake", "--lake", url]);
    assert!(o.status.success(), "{}", text(&o));
    check_invariants(&lake, &submitted);
}

#[test]
fn large_returns_go_up_in_parts_and_come_back_whole() {
    let Some(moto) = Moto::start("returns") else { return };
    let url = "s3://returns/large";
    // about 4.6 million movements: over the 16 MiB multipart threshold both as
    // submitted (uncompressed) and as the stored canonical version (zstd)
    let batch =
        fedreport_synth::return_batch(crate::contract(), 3, "IDN", "maritime_movements", 2012, 14_000.0).unwrap();
    let rows = batch.num_rows();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::UNCOMPRESSED)
        .build();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("idn_maritime_2012.parquet");
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&file).unwrap(), batch.schema(), Some(props))
            .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    drop(batch);
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size > 32 * 1024 * 1024, "the test file is {size} bytes");
    let o = moto.fedreport(&["submit", &file.to_string_lossy(), "--lake", url, "--member", "IDN"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = moto.fedreport(&["intake", "--lake", url]);
    assert!(o.status.success() && text(&o).contains("1 new versions"), "{}", text(&o));
    let lake = moto.lake(url);
    crate::block_on(async {
        let r = &fedreport_store::receipt::list(&lake, Some("IDN")).await.unwrap()[0];
        assert_eq!((r.size, r.rows), (size, rows as u64));
        let expected = fedreport_store::layout::sha256_hex(&std::fs::read(&file).unwrap());
        assert_eq!(r.sha256, expected, "the streamed hash is the file's");
        let v = lake.head("accepted/maritime_movements/2012/IDN/v000001.parquet").await.unwrap();
        assert!(v.size > 16 * 1024 * 1024, "the version ({} bytes) went up in parts", v.size);
        let md = fedreport_store::intake::footer(&lake, &v.location, v.size).await.unwrap();
        assert_eq!(md["fedreport.rows"], rows.to_string());
    });
}
