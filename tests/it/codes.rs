//! Grouping on integer codes (`fedreport_engine::codes`): the local engine
//! moves aggregations over the datasets' coded columns onto codes, and
//! every table a run writes is byte for byte what grouping on strings gives.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::physical_plan::displayable;
use datafusion::prelude::SessionContext;
use fedreport_engine::codes;
use fedreport_engine::session::{self, ScanFile};
use fedreport_engine::{Engine, Local, RunOptions, RunOutcome};
use fedreport_store::Lake;

use crate::block_on;

async fn cold_run(lake: &Lake, engine: Local, read_in_place_from: Option<u64>) -> RunOutcome {
    let opts =
        RunOptions { engine: Some(Arc::new(engine)), cold: true, read_in_place_from, ..crate::pipeline::options(2) };
    fedreport_engine::run(lake, crate::contract(), &crate::bali().pipeline, &opts, &mut |_| {})
        .await
        .expect("the pipeline runs")
}

#[test]
fn grouping_on_codes_writes_the_bytes_grouping_on_strings_writes() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let lake = crate::pipeline::build_lake(dir.path(), crate::pipeline::golden_as_submitted()).await;
        // the small versions written again into parts, and every version read where intake stored it
        for in_place in [None, Some(0)] {
            let strings = cold_run(&lake, Local::on_strings(), in_place).await;
            let codes = cold_run(&lake, Local::default(), in_place).await;
            assert!(strings.manifest.outputs.len() >= 10);
            assert_eq!(strings.manifest.outputs.len(), codes.manifest.outputs.len());
            for o in &strings.manifest.outputs {
                let c = codes.manifest.output(&o.table).unwrap_or_else(|| panic!("no {}", o.table));
                assert_eq!(c.parquet.sha256, o.parquet.sha256, "{} Parquet ({in_place:?})", o.table);
                assert_eq!(c.csv.sha256, o.csv.sha256, "{} CSV ({in_place:?})", o.table);
            }
        }
    });
}

/// A session of `engine` over the golden lake's datasets, registered as a run registers them.
async fn session(lake: &Lake, engine: Local) -> SessionContext {
    let run = cold_run(lake, Local::default(), None).await;
    let ctx = engine.session(lake, session::config(2)).await.unwrap();
    for s in crate::contract().schemas().iter() {
        let files: Vec<ScanFile> = run
            .manifest
            .inputs
            .iter()
            .filter(|i| i.dataset == s.dataset)
            .map(|i| ScanFile { url: lake.url(&i.key).to_string(), size: i.size, rows: i.rows })
            .collect();
        engine.register_dataset(&ctx, &s.dataset, &files, &codes::coded_columns(s)).await.unwrap();
    }
    ctx
}

/// The rows of `sql` in order, and the physical plan that gave them.
async fn rows_and_plan(ctx: &SessionContext, sql: &str) -> (String, String) {
    let columns = ctx.sql(sql).await.unwrap().schema().fields().len();
    let order: Vec<String> = (1..=columns).map(|i| i.to_string()).collect();
    let df = ctx.sql(&format!("SELECT * FROM ({sql}) ORDER BY {}", order.join(", "))).await.unwrap();
    let plan = df.clone().create_physical_plan().await.unwrap();
    let plan = displayable(plan.as_ref()).indent(false).to_string();
    let batches = df.collect().await.unwrap();
    let schema = batches.first().map(RecordBatch::schema).unwrap();
    let all = concat_batches(&schema, &batches).unwrap();
    let rows = format!("{:?}\n{}", schema, pretty_format_batches(&[all]).unwrap());
    (rows, plan)
}

#[test]
fn aggregations_group_on_codes_only_where_the_strings_are_not_needed() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let lake = crate::pipeline::build_lake(dir.path(), crate::pipeline::golden_as_submitted()).await;
        let codes = session(&lake, Local::default()).await;
        let strings = session(&lake, Local::on_strings()).await;
        let som = crate::repo().join("pipelines/som");
        let file = |f: &str| std::fs::read_to_string(som.join(f)).unwrap();
        // (SQL, the coded columns its plan groups on; none: the strings are needed)
        let cases: Vec<(String, &[&str])> = vec![
            // the pipeline's own steps that read one dataset
            (file("victims_profile.sql"), &["reporting_member", "sex", "age_group", "exploitation"]),
            // a filter on a nullable coded column that is also grouped on
            (file("cooperation_links.sql"), &["reporting_member", "partner_member"]),
            // comparisons with constants inside the aggregates, one matching no row
            (
                "SELECT reference_year, reporting_member, COUNT(*) AS n, \
                 SUM(CASE WHEN age_group = 'child' THEN 1 ELSE 0 END) AS children, \
                 SUM(CASE WHEN 'adult' <> age_group THEN 1 ELSE 0 END) AS not_adults, \
                 SUM(CASE WHEN age_group = 'no such group' THEN 1 ELSE 0 END) AS none \
                 FROM trafficking_victims GROUP BY reference_year, reporting_member"
                    .into(),
                &["reporting_member"],
            ),
            // a null partner is a group of its own
            (
                "SELECT reference_year, partner_member, offence, COUNT(*) AS n FROM enforcement_cases \
                 GROUP BY reference_year, partner_member, offence"
                    .into(),
                &["partner_member", "offence"],
            ),
            // a coded column used as a string (upper, an ordering, a MIN) stays a string
            (
                "SELECT reporting_member, upper(outcome) AS o, MIN(outcome) AS first, COUNT(*) AS n \
                 FROM maritime_movements WHERE outcome < 'p' GROUP BY reporting_member, upper(outcome)"
                    .into(),
                &["reporting_member"],
            ),
            (
                "SELECT outcome, COUNT(*) AS n, MAX(reporting_member) AS last FROM maritime_movements GROUP BY outcome"
                    .into(),
                &["outcome"],
            ),
        ];
        for (sql, grouped_on_codes) in &cases {
            let (with_codes, plan) = rows_and_plan(&codes, sql).await;
            let (with_strings, strings_plan) = rows_and_plan(&strings, sql).await;
            assert_eq!(with_codes, with_strings, "{sql}\n{plan}");
            assert!(!strings_plan.contains("CodeExec"), "{strings_plan}");
            let coded = plan.lines().find(|l| l.contains("CodeExec")).unwrap_or_else(|| panic!("no CodeExec:\n{plan}"));
            if sql.contains("GROUP BY reference_year, reporting_member") {
                // a key of several columns is grouped on as one code
                assert!(coded.contains("group_key=[reference_year, reporting_member"), "{coded}");
            }
            for c in *grouped_on_codes {
                assert!(coded.contains(c), "{c} should be coded: {coded}\n{sql}");
            }
            for c in ["outcome", "reporting_member", "partner_member", "sex", "age_group", "exploitation", "offence"] {
                if !grouped_on_codes.contains(&c) {
                    assert!(!coded.contains(&format!(" {c}")) && !coded.contains(&format!("[{c}")), "{c}: {coded}");
                }
            }
        }
        // a query that needs the strings only is left alone
        let (_, plan) =
            rows_and_plan(&codes, "SELECT reporting_member, outcome, persons_on_board FROM maritime_movements").await;
        assert!(!plan.contains("CodeExec"), "{plan}");
    });
}
