//! The reporting cycle from the command line, as the secretariat, a focal
//! point and a co-chair live it: every transition and every refusal of a
//! return's review, a cycle's lock and a draft's clearance, with the exact
//! words people read; and the audit log under crashes (SIGKILL mid-action)
//! and two secretariat officers acting at once.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use fedreport_store::{Lake, audit};

fn fedreport(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fedreport"))
        .args(args)
        .env("FEDREPORT_PASSWORD", "a long test passphrase")
        .output()
        .expect("run fedreport")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Exit 0, and the output.
fn ok(args: &[&str]) -> String {
    let o = fedreport(args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
    text(&o)
}

/// Exit 1 with a refusal: what it says.
fn refused(args: &[&str]) -> String {
    let o = fedreport(args);
    assert_eq!(o.status.code(), Some(1), "{args:?} should be refused: {}", text(&o));
    let t = text(&o);
    t.split_once("refused: ").map(|(_, w)| w.trim().to_string()).unwrap_or(t)
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// AUS's sea movements of 2012, with one figure changed so each file is a new version.
fn aus_return(dir: &Path, persons: u32) -> String {
    let text = std::fs::read_to_string(crate::repo().join("tests/returns/valid/maritime_basic.csv")).unwrap();
    let text = text.replacen(",IDN,AUS,52,", &format!(",IDN,AUS,{persons},"), 1);
    let path = dir.join(format!("aus-maritime-{persons}.csv"));
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().to_string()
}

/// Submit as AUS and take it in; the newest receipt's JSON.
fn submit_and_intake(lake: &str, file: &str) -> serde_json::Value {
    ok(&["submit", file, "--lake", lake, "--member", "AUS"]);
    ok(&["intake", "--lake", lake]);
    let o = fedreport(&["receipts", "--lake", lake, "--member", "AUS", "--json"]);
    let all: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    all.into_iter().max_by_key(|r| r["received_at"].as_str().unwrap().to_string()).unwrap()
}

#[test]
fn the_cycle_from_the_command_line_every_transition_and_every_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let lake_dir = dir.path().join("lake");
    crate::block_on(crate::pipeline::build_lake(&lake_dir, crate::pipeline::golden_as_submitted()));
    let lake = lake_dir.to_string_lossy().to_string();
    let l = lake.as_str();
    let ret = ["--lake", l, "--member", "AUS", "--dataset", "maritime_movements", "--year", "2012"];
    let review = |verb: &str, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["review".into(), verb.into()];
        v.extend(ret.iter().map(|s| s.to_string()));
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };

    // AUS's return arrives (the Bali Process's 2012 deadline, 28 February 2013, is long past: late)
    let r1 = submit_and_intake(l, &aus_return(dir.path(), 52));
    let v1 = r1["version"].as_u64().unwrap();
    assert_eq!((r1["status"].as_str(), r1["late"].as_bool()), (Some("accepted"), Some(true)), "{r1}");
    assert!(ok(&["receipts", "--lake", l, "--member", "AUS"]).contains(&format!("version {v1}: to review")));

    // the secretariat sends it back: a reason is required, and the focal point reads it
    let why = refused(&args(&review("send-back", &["--by", "alice"])));
    assert_eq!(why, "say why: the focal point reads your reason on the receipt and corrects the return");
    let back = "sea arrivals in March do not match the figure reported to IOM";
    let out = ok(&args(&review("send-back", &["--by", "alice", "--why", back])));
    assert!(out.contains("return.send_back") && out.contains(back), "{out}");
    let receipts = ok(&["receipts", "--lake", l, "--member", "AUS"]);
    assert!(
        receipts.contains(&format!("version {v1}: sent back by alice on ")) && receipts.contains(back),
        "{receipts}"
    );
    assert!(
        refused(&args(&review("send-back", &["--by", "bob", "--why", "x"])))
            .contains("is already sent back by alice on ")
    );
    assert!(
        refused(&args(&review("reopen", &["--by", "bob", "--why", "x"])))
            .contains("is not approved (sent back by alice")
    );

    // the correction goes back to review, and is approved; the old version no longer can be
    let r2 = submit_and_intake(l, &aus_return(dir.path(), 53));
    let v2 = r2["version"].as_u64().unwrap();
    assert_eq!(v2, v1 + 1, "{r2}");
    assert!(ok(&["status", "--lake", l, "--year", "2012"]).contains(&format!("v{v2}*")));
    let old = refused(&args(&review("approve", &["--by", "alice", "--version", &v1.to_string()])));
    assert!(old.ends_with(&format!("version {v2} came in after it; review that one")), "{old}");
    ok(&args(&review("approve", &["--by", "alice"])));
    let again = refused(&args(&review("approve", &["--by", "bob"])));
    assert!(again.starts_with(&format!(
        "version {v2} of AUS's maritime_movements return for 2012 is already approved by alice on "
    )));
    let status = ok(&["status", "--lake", l, "--year", "2012"]);
    assert!(status.contains(&format!("v{v2}*✓")) && status.contains("1 approved, 0 sent back"), "{status}");

    // the deadline has passed and the return is approved: a change needs it reopened first
    let r3 = submit_and_intake(l, &aus_return(dir.path(), 54));
    assert_eq!(r3["status"].as_str(), Some("rejected"), "{r3}");
    let why = r3["refused"].as_str().unwrap();
    assert!(
        why.starts_with(&format!("cycle 2012 closed on 2013-02-28 23:59 UTC and version {v2} of AUS's maritime_movements return for 2012 was approved by alice on "))
            && why.ends_with("a correction now needs the secretariat to reopen that return (with a reason) first"),
        "{why}"
    );
    assert!(refused(&args(&review("reopen", &["--by", "bob"]))).starts_with("say why: reopening an approved return"));
    ok(&args(&review("reopen", &["--by", "bob", "--why", "IOM's figure was revised"])));
    let r4 = submit_and_intake(l, &aus_return(dir.path(), 55));
    let v4 = r4["version"].as_u64().unwrap();
    assert_eq!((r4["status"].as_str(), v4), (Some("accepted"), v2 + 1), "reopened: the correction is taken: {r4}");
    ok(&args(&review("approve", &["--by", "alice"])));

    // locked, with a reason everyone it stops reads
    assert!(refused(&["cycle", "lock", "--lake", l, "--year", "2012", "--by", "alice"]).starts_with("say why"));
    let lock = "figures agreed for the fifth senior officials meeting";
    ok(&["cycle", "lock", "--lake", l, "--year", "2012", "--by", "alice", "--why", lock]);
    let status = ok(&["cycle", "status", "--lake", l, "--year", "2012"]);
    assert!(
        status.starts_with("cycle 2012 locked by the secretariat (alice) on ") && status.contains(lock),
        "{status}"
    );
    assert!(
        refused(&["cycle", "lock", "--lake", l, "--year", "2012", "--why", "x"])
            .starts_with("cycle 2012 is already locked by the secretariat (alice) on ")
    );
    let r5 = submit_and_intake(l, &aus_return(dir.path(), 56));
    let why = r5["refused"].as_str().unwrap();
    assert!(
        why.starts_with("cycle 2012 locked by the secretariat (alice) on ")
            && why.contains(&format!(
                ": {lock}. A new version would not count for the cycle: ask the secretariat for an exception for AUS"
            )),
        "{why}"
    );
    let receipts = ok(&["receipts", "--lake", l, "--member", "AUS"]);
    assert!(
        receipts.contains("REFUSED  maritime_movements 2012: cycle 2012 locked by the secretariat (alice)"),
        "{receipts}"
    );
    let lock_review = refused(&args(&review("reopen", &["--by", "bob", "--why", "x"])));
    assert!(
        lock_review.contains("cannot be reopened while the cycle is locked: grant AUS an exception first"),
        "{lock_review}"
    );
    // an exception for one member, with a reason; a member that is not one is an error of use
    let o = fedreport(&["cycle", "except", "--lake", l, "--year", "2012", "--member", "XYZ", "--why", "x"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("XYZ is not a reporting member"), "{}", text(&o));
    ok(&[
        "cycle",
        "except",
        "--lake",
        l,
        "--year",
        "2012",
        "--member",
        "AUS",
        "--by",
        "alice",
        "--why",
        "agreed at the co-chairs' call",
    ]);
    ok(&args(&review("reopen", &["--by", "alice", "--why", "the figure agreed at the call"])));
    let r6 = submit_and_intake(l, &aus_return(dir.path(), 57));
    assert_eq!(r6["status"].as_str(), Some("accepted"), "{r6}");
    ok(&args(&review("approve", &["--by", "alice"])));
    ok(&["cycle", "end-exception", "--lake", l, "--year", "2012", "--member", "AUS"]);
    assert!(
        refused(&["cycle", "end-exception", "--lake", l, "--year", "2012", "--member", "AUS"])
            .contains("AUS has no exception")
    );

    // a run on the locked figures; its drafts up for review, commented, cleared, final
    let run_id = |out: &str| out.split_whitespace().find(|w| w.starts_with("r-")).map(str::to_string);
    ok(&["run", "--lake", l]);
    let runs = ok(&["runs", "--lake", l]);
    let run = run_id(&runs).expect("a run");
    ok(&["draft", "review", "--lake", l, "--run", &run, "--by", "alice"]);
    assert!(refused(&["draft", "review", "--lake", l, "--run", &run]).contains("are already up for review"));
    ok(&["user", "add", "chair", "--role", "co-chair", "--lake", l]);
    let not_chair = refused(&["draft", "clear", "--lake", l, "--run", &run, "--by", "alice"]);
    assert_eq!(not_chair, "alice is not a co-chair: only the co-chairs (chair) clear drafts");
    let o = fedreport(&["draft", "comment", "--lake", l, "--run", &run, "--by", "chair"]);
    assert_eq!(o.status.code(), Some(2), "a comment needs its words: {}", text(&o));
    ok(&[
        "draft",
        "comment",
        "--lake",
        l,
        "--run",
        &run,
        "--by",
        "chair",
        "--paragraph",
        "Co-Chairs' Statement ¶3",
        "--text",
        "Say which members reported late.",
    ]);
    let cleared = ok(&["draft", "clear", "--lake", l, "--run", &run, "--by", "chair"]);
    assert!(cleared.contains("final: cleared by every co-chair (chair), files frozen"), "{cleared}");
    let frozen: Vec<_> = std::fs::read_dir(lake_dir.join(format!("runs/{run}/final"))).unwrap().collect();
    assert!(frozen.len() >= 4, "the drafts are frozen: {frozen:?}");
    let st = ok(&["draft", "status", "--lake", l, "--run", &run]);
    assert!(st.contains("final") && st.contains("Say which members reported late."), "{st}");
    assert!(refused(&["draft", "clear", "--lake", l, "--run", &run, "--by", "chair"]).contains("are final"));

    // a later run on the cycle withdraws the clearance and says why
    ok(&["run", "--lake", l]);
    let st = ok(&["draft", "status", "--lake", l, "--run", &run]);
    assert!(st.contains("withdrawn (fedreport run on ") && st.contains("was made on cycle 2012"), "{st}");
    // clearing a draft of an unlocked cycle
    ok(&["cycle", "unlock", "--lake", l, "--year", "2012", "--why", "one more correction"]);
    let runs = ok(&["runs", "--lake", l]);
    let newest = run_id(&runs).unwrap();
    assert_ne!(newest, run);
    let unlocked = refused(&["draft", "review", "--lake", l, "--run", &newest]);
    assert!(
        unlocked.starts_with("cycle 2012 is not locked: lock it before its drafts go to the co-chairs"),
        "{unlocked}"
    );

    // the log: by member, by year, as JSON, and its chain
    let log = ok(&["log", "--lake", l, "--member", "AUS"]);
    assert!(log.contains("return.send_back") && log.contains(back) && !log.contains("draft.review"), "{log}");
    let o = fedreport(&["log", "--lake", l, "--year", "2012", "--json"]);
    let events: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(events.len() >= 15, "{}", events.len());
    assert!(ok(&["log", "--lake", l, "--verify"]).starts_with(&format!("the log is whole: {} events", events.len())));
    // an edited event is found
    let second = lake_dir.join("audit/000000000002.json");
    let edited = std::fs::read_to_string(&second).unwrap().replace("alice", "mallory");
    std::fs::write(&second, edited).unwrap();
    let o = fedreport(&["log", "--lake", l, "--verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the log is broken at audit/000000000003.json") && text(&o).contains("edited"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_log_survives_sigkill_mid_action_and_two_officers_acting_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let l = dir.path().join("lake");
    let l = l.to_string_lossy().to_string();
    let mut seed = 11u64;
    let (mut killed, mut finished) = (0, 0);
    for round in 0..24 {
        // two officers at once: one locks, one unlocks (or both the same);
        // one of them is killed at a random moment
        let verbs = match round % 3 {
            0 => ["lock", "lock"],
            1 => ["unlock", "unlock"],
            _ => ["lock", "unlock"],
        };
        let mut children: Vec<_> = verbs
            .iter()
            .enumerate()
            .map(|(i, verb)| {
                Command::new(env!("CARGO_BIN_EXE_fedreport"))
                    .args(["cycle", verb, "--lake", &l, "--year", "2012", "--why", &format!("round {round}")])
                    .args(["--by", if i == 0 { "alice" } else { "bob" }])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(2 + (seed >> 33) % 30));
        let _ = children[0].kill(); // SIGKILL
        for c in &mut children {
            match c.wait().unwrap().code() {
                None => killed += 1,
                Some(_) => finished += 1,
            }
        }
    }
    assert!(killed >= 3, "only {killed} actions were killed before they ended");
    assert!(finished >= 24, "{finished}");
    let lake = Lake::open(&l).unwrap();
    let verdict = crate::block_on(audit::verify(&lake)).unwrap();
    let audit::Verdict::Whole { events, .. } = verdict else { panic!("{verdict:?}") };
    // every event is whole, and no two officers both won: locks and unlocks alternate
    let all = crate::block_on(audit::read(&lake)).unwrap();
    assert_eq!(all.len() as u64, events);
    for pair in all.windows(2) {
        assert_ne!(pair[0].action, pair[1].action, "two {} in a row: {pair:?}", pair[0].action);
    }
    assert_eq!(all.first().map(|e| e.action.as_str()), Some("cycle.lock"));
    // nothing half-written is left where the log is read
    let names: Vec<_> =
        std::fs::read_dir(dir.path().join("lake/audit")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(
        names.iter().all(|n| n.to_string_lossy().ends_with(".json") || n.to_string_lossy().contains('#')),
        "{names:?}"
    );
}

#[test]
fn a_revised_return_between_two_runs_is_named_for_exactly_the_figures_it_changed() {
    use fedreport_contract::{ValidateOptions, Validator};
    use fedreport_store::cycle::{self, CycleAction};
    let dir = tempfile::tempdir().unwrap();
    let lake_dir = dir.path().join("lake");
    let forum = crate::bali();
    let (a, b, lake) = crate::block_on(async {
        let lake = crate::pipeline::build_lake(&lake_dir, crate::pipeline::golden_as_submitted()).await;
        let run = || async {
            let o = fedreport_engine::run(&lake, &forum.contract, &forum.pipeline, &Default::default(), &mut |_| {})
                .await
                .unwrap();
            fedreport_render::RunData::from_batches(o.manifest, &o.tables).unwrap()
        };
        // the drafts of run A go to the co-chairs on locked figures
        cycle::act_on_cycle(&lake, "alice", 2012, CycleAction::Lock, Some("for SOM5")).await.unwrap();
        let a = run().await;
        cycle::put_up_for_review(&lake, "alice", &a.manifest).await.unwrap();
        // AUS revises its sea movements of 2012 (one boat had 60 people, not 52)
        cycle::act_on_cycle(&lake, "alice", 2012, CycleAction::Unlock, Some("AUS corrects a boat")).await.unwrap();
        let v = Validator::new(&forum.contract, ValidateOptions::default());
        let file = std::fs::read(aus_return(dir.path(), 60)).unwrap();
        fedreport_store::submit(&lake, &v, file.into(), "aus.csv", "AUS", Some("maritime_movements"), Some(2012))
            .await
            .unwrap();
        fedreport_store::intake(&lake, &v, &Default::default(), &mut |_, _, _| {}).await.unwrap();
        cycle::act_on_cycle(&lake, "alice", 2012, CycleAction::Lock, Some("for SOM5, corrected")).await.unwrap();
        let b = run().await;
        (a, b, lake)
    });
    let version = |r: &fedreport_render::RunData| {
        r.manifest
            .inputs
            .iter()
            .find(|i| i.member == "AUS" && i.dataset == "maritime_movements" && i.year == 2012)
            .unwrap()
            .version
    };
    let (va, vb) = (version(&a), version(&b));
    assert_eq!(vb, va + 1);

    // what differs, found independently: every table, row by key, cell by cell
    let mut expected = std::collections::BTreeSet::new();
    for (name, tb) in &b.tables {
        let ta = &a.tables[name];
        let key = &b.manifest.output(name).unwrap().key;
        let rows = |t: &fedreport_render::run::Table| -> std::collections::BTreeMap<Vec<String>, Vec<(String, serde_json::Value)>> {
            t.rows
                .iter()
                .map(|r| {
                    let cells: Vec<(String, serde_json::Value)> = t.columns.iter().cloned().zip(r.iter().cloned()).collect();
                    let k = key.iter().map(|c| cells.iter().find(|(n, _)| n == c).unwrap().1.to_string()).collect();
                    (k, cells)
                })
                .collect()
        };
        let (ra, rb) = (rows(ta), rows(tb));
        let null = serde_json::Value::Null;
        for k in ra.keys().chain(rb.keys()) {
            let cell = |r: &std::collections::BTreeMap<Vec<String>, Vec<(String, serde_json::Value)>>, col: &str| {
                r.get(k).and_then(|c| c.iter().find(|(n, _)| n == col)).map(|(_, v)| v.clone()).unwrap_or(null.clone())
            };
            for col in tb.columns.iter().filter(|c| !key.contains(c)) {
                if cell(&ra, col) != cell(&rb, col) {
                    expected.insert((name.clone(), col.clone(), k.join("|")));
                }
            }
        }
    }
    let d = forum.renderer().unwrap().diff(&a, &b, forum.latest_meeting().unwrap()).unwrap();
    let listed: std::collections::BTreeSet<_> = d
        .figures
        .iter()
        .map(|f| {
            let k: Vec<String> = f
                .row
                .iter()
                .map(|(_, v)| if v.parse::<f64>().is_ok() { v.clone() } else { format!("\"{v}\"") })
                .collect();
            (f.table.clone(), f.column.clone(), k.join("|"))
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(listed, expected, "exactly the figures that changed are listed");
    let revised = fedreport_render::diff::Cause::RevisedReturn {
        member: "AUS".into(),
        dataset: "maritime_movements".into(),
        year: 2012,
        before: va,
        after: vb,
    };
    let i = d.causes.iter().position(|c| *c == revised).expect("the revision is a cause");
    assert!(
        d.causes.iter().all(|c| c == &revised
            || matches!(
                c,
                fedreport_render::diff::Cause::Suppressed { .. } | fedreport_render::diff::Cause::Unsuppressed
            )),
        "{:?}",
        d.causes
    );
    for f in &d.figures {
        assert!(f.causes.contains(&i), "{f:?} names the revised return");
        assert!(
            !f.table.starts_with("enforcement") && !f.table.starts_with("victims"),
            "{f:?} does not depend on sea movements"
        );
        if let Some((_, m)) = f.row.iter().find(|(c, _)| c == "reporting_member") {
            assert_eq!(m, "AUS", "{f:?}: another member's row");
        }
    }
    assert!(d.figures.iter().any(|f| f.table == "maritime_regional"), "the regional total moved");
    assert!(d.sentences.iter().any(|s| s.document == "Co-Chairs' Statement"), "{:?}", d.sentences);

    // the drafts of run B carry the changes since run A, in words
    let since = crate::block_on(fedreport_render::last_reviewed_before(&lake, &b.manifest)).unwrap().expect("run A");
    assert_eq!(since.manifest.run_id, a.manifest.run_id);
    let files = forum.renderer().unwrap().render_since(&b, forum.latest_meeting().unwrap(), Some(&since)).unwrap();
    let annex = String::from_utf8(files.iter().find(|(n, _)| n == "statistical-annex.md").unwrap().1.clone()).unwrap();
    let says =
        format!("Australia (AUS) revised its maritime movements return for 2012: version {va} became version {vb}");
    assert!(annex.contains("## 6. Changes since the last draft") && annex.contains(&says), "{annex}");
    assert!(
        annex.contains(&format!(
            "Since the drafts of run {} went to the co-chairs, {} figures",
            a.manifest.run_id,
            d.figures.len()
        )),
        "{annex}"
    );
    // and the command line says the same
    let l = lake_dir.to_string_lossy();
    let out = ok(&["diff", "--lake", &l, &a.manifest.run_id, &b.manifest.run_id]);
    assert!(out.contains(&format!("{} figures and", d.figures.len())) && out.contains(&format!("] {says}")), "{out}");
}

#[test]
fn a_withdrawn_member_no_longer_counts_its_returns_stay_and_a_new_one_counts() {
    let dir = tempfile::tempdir().unwrap();
    let l = dir.path().join("lake");
    let l = l.to_str().unwrap();
    let first = submit_and_intake(l, &aus_return(dir.path(), 60));
    assert_eq!(first["version"].as_u64(), Some(1), "{first}");
    let current = |lake: &str| {
        let lake = Lake::open(lake).unwrap();
        crate::block_on(fedreport_store::current_versions(&lake, None)).unwrap()
    };
    assert_eq!(current(l).len(), 1);

    // a reason is required, and the member must be one
    let o = fedreport(&["withdraw", "--lake", l, "--member", "AUS", "--by", "alice"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--why"), "{}", text(&o));
    let o = fedreport(&["withdraw", "--lake", l, "--member", "XXX", "--why", "x"]);
    assert!(text(&o).contains("XXX is not a reporting member"), "{}", text(&o));

    let why = "AUS asked that its 2012 figures not be used";
    let out = ok(&["withdraw", "--lake", l, "--member", "AUS", "--by", "alice", "--why", why]);
    assert!(out.starts_with("AUS withdrawn: its 1 current returns no longer count in a run"), "{out}");
    assert!(out.contains("maritime_movements 2012 (version 1)"), "{out}");
    assert!(current(l).is_empty(), "a withdrawn member's return does not count");
    let kept = dir.path().join("lake/accepted/maritime_movements/2012/AUS/v000001.parquet");
    assert!(kept.exists(), "its version stays in the lake");
    assert!(ok(&["log", "--lake", l]).contains(why));
    let board = ok(&["status", "--lake", l, "--year", "2012"]);
    let aus = board.lines().find(|r| r.starts_with("AUS ")).unwrap();
    assert!(aus.contains("WDN"), "the board says withdrawn, not missing: {aus}");
    assert!(board.contains("rejected only, 1 withdrawn, "), "{board}");
    assert_eq!(
        refused(&["withdraw", "--lake", l, "--member", "AUS", "--why", "again"]),
        "AUS has no accepted return that counts: nothing to withdraw"
    );

    // a return it sends afterwards counts, even the very same file (not a duplicate of a withdrawn version)
    let second = submit_and_intake(l, &aus_return(dir.path(), 60));
    assert_eq!((second["version"].as_u64(), second["duplicate"].as_bool()), (Some(2), Some(false)), "{second}");
    let now = current(l);
    assert_eq!((now.len(), now[0].version), (1, 2));
    let board = ok(&["status", "--lake", l, "--year", "2012"]);
    assert!(!board.contains("1 withdrawn"), "{board}");
}
