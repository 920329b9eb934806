//! Incremental runs: after each kind of change — a revised return, a new
//! return, a withdrawn member, a changed SQL file, a changed parameter — a
//! run that reuses the snapshot parts, the cached per-return results and
//! the cached tables of steps whose inputs did not change writes tables
//! byte-identical to a cold run (`--cold`: every part compacted and every
//! step computed afresh), and its manifest records exactly what it
//! recomputed and what it reused. On the local engine here,
//! on standalone Ballista in `ballista.rs`.

use std::path::Path;
use std::sync::Arc;

use fedreport_contract::{ValidateOptions, Validator};
use fedreport_engine::{Engine, Pipeline, RunOptions, RunOutcome};
use fedreport_store::Lake;
use fedreport_store::manifest::StepReuse;

use crate::block_on;
use crate::faults::FaultyStore;

async fn run(lake: &Lake, pipeline: &Pipeline, opts: &RunOptions) -> RunOutcome {
    fedreport_engine::run(lake, crate::contract(), pipeline, opts, &mut |_| {}).await.expect("the pipeline runs")
}

/// An incremental run, then a cold one; every table byte-identical. Returns the incremental run.
async fn incremental_and_cold(lake: &Lake, pipeline: &Pipeline, opts: &RunOptions, change: &str) -> RunOutcome {
    let incremental = run(lake, pipeline, opts).await;
    let cold = run(lake, pipeline, &RunOptions { cold: true, ..opts.clone() }).await;
    assert_eq!(incremental.manifest.outputs.len(), cold.manifest.outputs.len(), "{change}");
    // the cold run reads every version whole and hashes it; the other takes
    // the sha256 intake recorded in the ledger and reads footers only
    assert_eq!(incremental.manifest.inputs, cold.manifest.inputs, "{change}: the pinned inputs differ");
    for o in &cold.manifest.outputs {
        let i = incremental.manifest.output(&o.table).unwrap_or_else(|| panic!("{change}: no {}", o.table));
        assert_eq!(i.parquet.sha256, o.parquet.sha256, "{change}: {} Parquet differs from a cold run", o.table);
        assert_eq!(i.csv.sha256, o.csv.sha256, "{change}: {} CSV differs from a cold run", o.table);
    }
    assert!(cold.manifest.reuse.parts_reused == 0 && !cold.manifest.reuse.snapshot_reused, "{change}: cold is cold");
    for s in cold.manifest.steps.iter().filter_map(|s| s.incremental.as_ref()) {
        assert!(s.cold.is_some(), "{change}: a cold run computes every step");
    }
    assert!(cold.manifest.steps.iter().all(|s| !s.cached), "{change}: a cold run reads nothing from the cache");
    incremental
}

/// Whether a step's whole table was read from the step cache.
fn cached(o: &RunOutcome, name: &str) -> bool {
    o.manifest.steps.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no step {name}")).cached
}

/// The SQL steps not declared `per_return`, which are cached whole.
fn whole_steps(o: &RunOutcome) -> Vec<String> {
    o.manifest.steps.iter().filter(|s| s.file.is_some() && s.incremental.is_none()).map(|s| s.name.clone()).collect()
}

fn step<'a>(o: &'a RunOutcome, name: &str) -> &'a StepReuse {
    o.manifest
        .steps
        .iter()
        .find(|s| s.name == name)
        .and_then(|s| s.incremental.as_ref())
        .unwrap_or_else(|| panic!("{name} is not an incremental step of the run"))
}

fn recomputed(o: &RunOutcome, name: &str) -> Vec<String> {
    let s = step(o, name);
    assert!(s.cold.is_none(), "{name} ran cold: {:?}", s.cold);
    s.recomputed.clone()
}

fn sha(o: &RunOutcome, table: &str) -> String {
    o.manifest.output(table).unwrap().csv.sha256.clone()
}

async fn submit(lake: &Lake, member: &str, dataset: &str, year: i32, name: &str, text: String) {
    let v = Validator::new(crate::contract(), ValidateOptions::default());
    let s = fedreport_store::submit(lake, &v, text.into_bytes().into(), name, member, Some(dataset), Some(year))
        .await
        .unwrap();
    assert!(s.submission.is_some(), "{member} {name} is valid");
    let sum = fedreport_store::intake(lake, &v, &Default::default(), &mut |_, _, _| {}).await.unwrap();
    assert_eq!(sum.rejected(), 0);
}

fn golden(member: &str, file: &str) -> String {
    std::fs::read_to_string(crate::repo().join("tests/golden/inbox").join(member).join(file)).unwrap()
}

/// The whole sequence of changes on one engine.
/// Every kind of change, on `engine`; `read_in_place_from` as in [`RunOptions`]
/// (`Some(0)`: every version read where intake stored it, none copied).
pub async fn every_kind_of_change(engine: Option<Arc<dyn Engine>>, read_in_place_from: Option<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let lake = crate::pipeline::build_lake(dir.path(), crate::pipeline::golden_as_submitted()).await;
    let som = crate::bali().pipeline.clone();
    let opts = RunOptions { engine, read_in_place_from, ..crate::pipeline::options(2) };

    // the first run computes everything and fills the caches; the next, with nothing changed, reuses all
    let first = run(&lake, &som, &opts).await;
    for i in &first.manifest.inputs {
        let bytes = lake.get(&i.key).await.unwrap();
        assert_eq!(i.sha256, fedreport_store::layout::sha256_hex(&bytes), "{}: the pinned sha256 is its bytes'", i.key);
    }
    let written = parquet_files(&dir.path().join("snapshots/parts"));
    match read_in_place_from {
        Some(0) => assert_eq!(written, 0, "every version is read in place"),
        _ => assert!(written >= 5, "the small versions are written again into parts ({written})"),
    }
    assert!(step(&first, "maritime_by_member").cold.is_some());
    let again = incremental_and_cold(&lake, &som, &opts, "nothing changed").await;
    assert!(again.manifest.reuse.snapshot_reused);
    assert_eq!(again.manifest.reuse.receipts_read, 0, "every receipt from the cache");
    for s in ["maritime_by_member", "enforcement_by_member", "victims_counts", "victims_profile", "cooperation_links"] {
        assert_eq!(recomputed(&again, s), Vec::<String>::new(), "{s}");
        assert!(step(&again, s).reused > 0, "{s}");
    }
    // …and every other SQL step's table is read from the cache, none run
    assert!(whole_steps(&again).len() >= 8);
    for s in whole_steps(&first) {
        assert!(!cached(&first, &s), "{s}: the first run computes it");
        assert!(cached(&again, &s), "{s}: nothing it reads changed");
    }
    // a cold run reads no cache but writes every one again: with the cache
    // deleted, a cold run, then a run reusing all it wrote
    std::fs::remove_dir_all(dir.path().join("cache")).unwrap();
    run(&lake, &som, &RunOptions { cold: true, ..opts.clone() }).await;
    let after_cold = run(&lake, &som, &opts).await;
    assert_eq!(recomputed(&after_cold, "maritime_by_member"), Vec::<String>::new());
    for s in whole_steps(&after_cold) {
        assert!(cached(&after_cold, &s), "{s}: the cold run wrote it");
    }

    // a revised return: its part is compacted again, its rows recomputed, nothing else
    let revised = golden("AUS", "maritime_2012.csv")
        .replace("M1,2012-01-15,landed,IDN,AUS,60,", "M1,2012-01-15,landed,IDN,AUS,61,");
    assert_ne!(revised, golden("AUS", "maritime_2012.csv"));
    submit(&lake, "AUS", "maritime_movements", 2012, "maritime_2012_v2.csv", revised).await;
    let r = incremental_and_cold(&lake, &som, &opts, "a revised return").await;
    assert_eq!(r.manifest.reuse.parts_built, ["maritime_movements/2012"]);
    assert!(r.manifest.reuse.parts_reused > 10);
    assert_eq!(r.manifest.reuse.receipts_read, 1, "only the new receipt is read");
    assert_eq!(recomputed(&r, "maritime_by_member"), ["AUS/2012"]);
    assert_eq!(recomputed(&r, "victims_profile"), Vec::<String>::new(), "another dataset's rows are reused");
    assert_ne!(sha(&r, "maritime_by_member"), sha(&again, "maritime_by_member"), "the revision shows");
    assert_ne!(sha(&r, "maritime_regional"), sha(&again, "maritime_regional"));
    // the steps that read what changed run; those that read other datasets come from the cache
    for s in ["maritime_regional", "member_series", "quality_flags", "completeness"] {
        assert!(!cached(&r, s), "{s} reads what the revision changed");
    }
    for s in ["legal_framework_summary", "capacity_needs_ranked", "capacity_requests", "victims_regional"] {
        assert!(cached(&r, s), "{s} reads nothing the revision changed");
    }
    // enforcement_by_member recomputed AUS/2012 (it reads `returns`) and got the same rows
    assert!(cached(&r, "enforcement_regional"), "a recomputed table with the same content is the same input");

    // a new return: IDN's first enforcement return for 2012
    let new: String = golden("AUS", "enforcement_2012.csv")
        .lines()
        .map(|l| {
            let l = l.strip_prefix("AUS,").map(|rest| format!("IDN,{rest}")).unwrap_or_else(|| l.to_string());
            let l = l.strip_suffix(",IDN").map(|rest| format!("{rest},AUS")).unwrap_or(l);
            format!("{l}\n")
        })
        .collect();
    submit(&lake, "IDN", "enforcement_cases", 2012, "enforcement_2012.csv", new).await;
    let n = incremental_and_cold(&lake, &som, &opts, "a new return").await;
    assert_eq!(n.manifest.reuse.parts_built, ["enforcement_cases/2012"]);
    assert_eq!(recomputed(&n, "enforcement_by_member"), ["IDN/2012"]);
    assert_eq!(recomputed(&n, "cooperation_links"), ["IDN/2012"]);
    assert_eq!(recomputed(&n, "victims_profile"), Vec::<String>::new());
    assert_ne!(sha(&n, "cooperation_links"), sha(&r, "cooperation_links"));

    // a withdrawn member: NZL's accepted returns no longer count (they stay
    // in the lake; the intake ledger and the audit log record the withdrawal)
    let withdrawn = fedreport_store::ledger::withdraw_member(&lake, "test", "NZL", "left the process").await.unwrap();
    assert!(withdrawn.slots.len() >= 3 && withdrawn.locked.is_empty(), "NZL had returns");
    let w = incremental_and_cold(&lake, &som, &opts, "a withdrawn member").await;
    assert_eq!(step(&w, "victims_profile").dropped, ["NZL/2012"]);
    assert_eq!(recomputed(&w, "victims_profile"), Vec::<String>::new());
    assert!(!w.manifest.outputs.is_empty());

    // a changed SQL file: that step runs cold, the others reuse all they can
    let changed = tempfile::tempdir().unwrap();
    copy_dir(&crate::repo().join("pipelines/som"), changed.path());
    let file = changed.path().join("cooperation_links.sql");
    let sql = std::fs::read_to_string(&file).unwrap();
    let edited =
        sql.replace("WHERE partner_member IS NOT NULL", "WHERE partner_member IS NOT NULL AND partner_member <> ''");
    assert_ne!(sql, edited);
    std::fs::write(&file, edited).unwrap();
    let edited = Pipeline::load(changed.path()).unwrap();
    let s = incremental_and_cold(&lake, &edited, &opts, "a changed SQL file").await;
    assert!(step(&s, "cooperation_links").cold.is_some(), "its SQL changed");
    assert_eq!(recomputed(&s, "maritime_by_member"), Vec::<String>::new());
    assert_eq!(recomputed(&s, "enforcement_by_member"), Vec::<String>::new());
    for w in whole_steps(&s) {
        assert!(cached(&s, &w), "{w}: no step reads cooperation_links, so nothing else runs");
    }

    // a changed parameter no incremental step reads: every return reused
    let mut set = opts.set.clone();
    set.retain(|(k, _)| k != "yoy_factor");
    set.push(("yoy_factor".into(), "2.5".into()));
    let p = incremental_and_cold(&lake, &som, &RunOptions { set, ..opts.clone() }, "a changed parameter").await;
    for s in ["maritime_by_member", "enforcement_by_member", "victims_profile", "cooperation_links"] {
        assert_eq!(recomputed(&p, s), Vec::<String>::new(), "{s}");
    }
    // the steps that read `params` run again; the others come from the cache
    for s in ["quality_flags", "capacity_requests", "completeness"] {
        assert!(!cached(&p, s), "{s} reads params");
    }
    for s in ["maritime_regional", "legal_framework_summary", "victims_regional"] {
        assert!(cached(&p, s), "{s} does not read params");
    }
    // …and the cycle year, which decides which returns are read: 2012's are dropped
    let y = incremental_and_cold(&lake, &som, &RunOptions { year: Some(2011), ..opts.clone() }, "the cycle year").await;
    assert!(step(&y, "maritime_by_member").dropped.contains(&"AUS/2012".to_string()));
    assert!(y.manifest.inputs.iter().all(|i| i.year <= 2011));

    // a changed column type upstream whose CSV is the same (12 and 12.0 both
    // print as 12): a table's content id is its Parquet bytes, so the steps
    // reading it run again rather than returning the integer sums of before
    let retyped = tempfile::tempdir().unwrap();
    copy_dir(&crate::repo().join("pipelines/som"), retyped.path());
    let file = retyped.path().join("maritime_by_member.sql");
    let sql = std::fs::read_to_string(&file).unwrap();
    let edited = sql.replace(
        "CAST(COALESCE(a.movements, 0) AS BIGINT)         AS movements",
        "CAST(COALESCE(a.movements, 0) AS DOUBLE)         AS movements",
    );
    assert_ne!(sql, edited);
    std::fs::write(&file, edited).unwrap();
    let retyped = Pipeline::load(retyped.path()).unwrap();
    let base = run(&lake, &som, &opts).await; // the cycle year and SQL of before
    let t = incremental_and_cold(&lake, &retyped, &opts, "a changed column type").await;
    assert_eq!(sha(&t, "maritime_by_member"), sha(&base, "maritime_by_member"), "the same CSV");
    assert!(!cached(&t, "maritime_regional"), "its input's content changed (its type)");
    assert!(cached(&t, "legal_framework_summary"));
}

/// Parquet files under a folder, at any depth.
fn parquet_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .map(|p| {
                    if p.is_dir() { parquet_files(&p) } else { usize::from(p.extension() == Some("parquet".as_ref())) }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

#[test]
fn steps_at_once_on_worker_threads_give_the_tables_of_a_cold_run_after_every_kind_of_change() {
    // the command line's runtime: the steps of a wave, their queries and a
    // delta beside a step scanning the same dataset run on two threads at once
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(every_kind_of_change(None, None));
}

#[test]
fn an_incremental_run_gives_the_tables_of_a_cold_run_after_every_kind_of_change() {
    // the golden returns are small: written again into one file per dataset and year…
    block_on(every_kind_of_change(None, None));
    // …or every one read where intake stored it
    block_on(every_kind_of_change(None, Some(0)));
}

/// The golden lake behind a store that logs what it is asked to read, the
/// SOM pipeline, and options that read every version where intake stored it.
async fn watched_lake() -> (tempfile::TempDir, Lake, Arc<FaultyStore>, Pipeline, RunOptions) {
    let dir = tempfile::tempdir().unwrap();
    let lake = crate::pipeline::build_lake(dir.path(), crate::pipeline::golden_as_submitted()).await;
    let store = Arc::new(FaultyStore::new(lake.store(), usize::MAX));
    let watched = lake.with_store(store.clone());
    let opts = RunOptions { read_in_place_from: Some(0), ..crate::pipeline::options(2) };
    (dir, watched, store, crate::bali().pipeline.clone(), opts)
}

#[test]
fn a_run_neither_lists_nor_stats_the_versions_it_pinned() {
    block_on(async {
        let (_dir, watched, store, som, opts) = watched_lake().await;
        // what was asked of the versions (under accepted/) and of the parts (snapshots/parts/)
        let asked = |reads: &[(&str, String)], kinds: &[&str]| -> Vec<String> {
            let under = |p: &str| {
                ["accepted/", "snapshots/parts/"].iter().any(|d| p.starts_with(d) || p.contains(&format!("/{d}")))
            };
            reads.iter().filter(|(k, p)| kinds.contains(k) && under(p)).map(|(k, p)| format!("{k} {p}")).collect()
        };
        let first = run(&watched, &som, &opts).await;
        let reads = store.take_reads();
        // every version pinned is scanned where intake stored it…
        assert!(first.manifest.inputs.len() >= 20, "{} inputs", first.manifest.inputs.len());
        for i in &first.manifest.inputs {
            assert!(reads.iter().any(|(k, p)| *k == "range" && p.ends_with(&i.key)), "{} was not read", i.key);
        }
        // …and none is listed or stat'ed to do so: the pin knows their sizes
        // (DataFusion's ListingTable sends a HEAD per file at every scan)
        assert_eq!(asked(&reads, &["head", "list"]), Vec::<String>::new());
        // a run with nothing changed takes every step from the cache: it reads
        // one footer per dataset (its columns) and no other version
        run(&watched, &som, &opts).await;
        let versions = asked(&store.take_reads(), &["get", "range", "head", "list"]);
        assert!(versions.len() <= 5, "{versions:#?}");
    });
}

#[test]
fn a_step_cached_whole_is_not_served_in_another_encoding_when_its_publishing_changes() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let lake = crate::pipeline::build_lake(dir.path(), crate::pipeline::golden_as_submitted()).await;
        let som = crate::bali().pipeline.clone();
        let opts = crate::pipeline::options(2);
        // the cache keeps a whole step's bytes as the run encoded them:
        // zstd when published, LZ4 when kept internal
        let first = run(&lake, &som, &opts).await;
        let published = first.manifest.output("maritime_regional").unwrap().parquet.clone();
        let internal = tempfile::tempdir().unwrap();
        copy_dir(&crate::repo().join("pipelines/som"), internal.path());
        let toml = std::fs::read_to_string(internal.path().join("pipeline.toml")).unwrap();
        let toml = toml.replace("name = \"maritime_regional\"\n", "name = \"maritime_regional\"\npublish = false\n");
        std::fs::write(internal.path().join("pipeline.toml"), toml).unwrap();
        let internal = Pipeline::load(internal.path()).unwrap();
        let r = run(&lake, &internal, &opts).await;
        assert!(r.manifest.output("maritime_regional").is_none(), "kept internal");
        assert!(!cached(&r, "maritime_regional"), "the published encoding is not taken for the internal one");
        // published again: computed afresh (the cache holds the internal
        // bytes now), and published as the first run published it
        let again = run(&lake, &som, &opts).await;
        assert!(!cached(&again, "maritime_regional"));
        assert_eq!(again.manifest.output("maritime_regional").unwrap().parquet.sha256, published.sha256);
        let once_more = run(&lake, &som, &opts).await;
        assert!(cached(&once_more, "maritime_regional"));
        assert_eq!(once_more.manifest.output("maritime_regional").unwrap().parquet.sha256, published.sha256);
    });
}

#[test]
fn a_cold_run_reads_each_footer_once() {
    block_on(async {
        let (_dir, watched, store, som, opts) = watched_lake().await;
        let first = run(&watched, &som, &opts).await;
        // A read that reaches a version's end reads its footer (data pages
        // end before it). The pin reads each footer with its page index and
        // hands it to DataFusion, whose statistics and scans then reuse it:
        // one such read per version, not one by the pin and one by DataFusion.
        let ends = store.take_range_ends();
        assert!(first.manifest.inputs.len() >= 20, "{} inputs", first.manifest.inputs.len());
        for i in &first.manifest.inputs {
            let footer_reads =
                ends.iter().filter(|(p, end)| p.ends_with(&i.key) && end.is_none_or(|e| e == i.size)).count();
            assert_eq!(footer_reads, 1, "{}: footer read {footer_reads} times", i.key);
        }
    });
}

#[test]
fn a_step_wrongly_declared_per_return_is_caught() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let lake = crate::pipeline::build_lake(dir.path(), crate::pipeline::golden_as_submitted()).await;
        // a "per member" table that gives every member a row, whether it reported or not
        let wrong = tempfile::tempdir().unwrap();
        copy_dir(&crate::repo().join("pipelines/som"), wrong.path());
        std::fs::write(
            wrong.path().join("member_years.sql"),
            "SELECT y.reference_year, m.code AS reporting_member FROM members m CROSS JOIN cycle_years y",
        )
        .unwrap();
        let toml = std::fs::read_to_string(wrong.path().join("pipeline.toml")).unwrap();
        let toml = format!(
            "{toml}\n[[steps]]\nname = \"member_years\"\nkey = [\"reference_year\", \"reporting_member\"]\npublish = false\nper_return = true\n"
        );
        std::fs::write(wrong.path().join("pipeline.toml"), toml).unwrap();
        let pipeline = Pipeline::load(wrong.path()).unwrap();
        let e = fedreport_engine::run(&lake, crate::contract(), &pipeline, &crate::pipeline::options(2), &mut |_| {})
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("step member_years is declared per_return, but it made a row for ")
                && e.contains("which is not a return it read"),
            "{e}"
        );
    });
}

#[test]
fn a_step_named_like_an_input_table_is_refused_by_name() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let lake = crate::pipeline::build_lake(dir.path(), crate::pipeline::golden_as_submitted()).await;
        for (name, what) in [("members", "an input table the engine registers"), ("maritime_movements", "a dataset")] {
            let wrong = tempfile::tempdir().unwrap();
            copy_dir(&crate::repo().join("pipelines/som"), wrong.path());
            std::fs::write(wrong.path().join(format!("{name}.sql")), "SELECT code FROM members").unwrap();
            let toml = std::fs::read_to_string(wrong.path().join("pipeline.toml")).unwrap();
            let toml = format!("{toml}\n[[steps]]\nname = \"{name}\"\nkey = [\"code\"]\npublish = false\n");
            std::fs::write(wrong.path().join("pipeline.toml"), toml).unwrap();
            let pipeline = Pipeline::load(wrong.path()).unwrap();
            let e =
                fedreport_engine::run(&lake, crate::contract(), &pipeline, &crate::pipeline::options(2), &mut |_| {})
                    .await
                    .unwrap_err()
                    .to_string();
            assert!(
                e.contains("pipeline.toml") && e.contains(&format!("step {name}: '{name}' is the name of {what}")),
                "{e}"
            );
            // refused before any step ran: no run was recorded
            assert!(
                !dir.path().join("runs").exists()
                    || std::fs::read_dir(dir.path().join("runs"))
                        .unwrap()
                        .all(|r| { !r.unwrap().path().join("manifest.json").exists() }),
                "{name}: a run was recorded"
            );
        }
    });
}
