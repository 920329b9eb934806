#!/usr/bin/env python3
"""Cold runs and reruns after one revised return: `fedreport run` against DuckDB.

    python3 bench/incremental_vs_duckdb.py [--scales 220,1050] [--runs 5] [--years 2003..2012]

For each scale, builds (once, kept under /tmp) a synthetic lake with
`fedreport demo` (45 members x 10 years; --scale 220 gives about 10.5 million
case-level rows, 1050 about 50 million), then alternates, N times:

  cold    every cache fedreport keeps in the lake is deleted (`snapshots/`,
          `cache/`), then `fedreport run` runs as a child process; then DuckDB
          computes the same tables from the same accepted files (the versions
          the run pinned, read where intake stored them) in a child process.
  rerun   one member revises one return (a maritime_movements return of the
          cycle year with one figure changed, a new value each time, submitted
          and taken in by `fedreport submit` and `fedreport intake`, untimed);
          then `fedreport run` again (with whatever the earlier runs left in
          the lake), and DuckDB computes every table again from the accepted
          files, which is all it can do.

DuckDB runs the pipeline's own .sql files, in the order the run recorded,
with the same auxiliary tables, 2 threads; its time is measured inside its
process from connecting to the last table (its interpreter's start-up is
not counted), fedreport's as the whole process's wall time. Peak memory is
each process's maximum resident set, as GNU time reports it. Disclosure control (Rust, not SQL) is
left out on the DuckDB side. Prints medians and ratios, and checks that
both engines give every table the same number of rows.

Needs `pip install duckdb`, GNU time (`apt-get install time`, for peak memory) and
a release build (`cargo build --release`).
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_vs_duckdb import binary, run_child, latest_manifest, setup_duckdb  # noqa: E402
from pipeline_vs_duckdb import run_duckdb as run_steps  # noqa: E402

REVISED_DATASET = "maritime_movements"


def duckdb_side(lake, run_dir, threads):
    """Child process: compute every SQL table from the accepted files the run pinned."""
    import duckdb
    manifest = json.loads((run_dir / "manifest.json").read_text())
    t = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    files = {}
    for i in manifest["inputs"]:
        files.setdefault(i["dataset"], []).append(str(lake / i["key"]))

    def views(con, dataset):
        if dataset not in files:
            sys.exit(f"the run pinned no {dataset} return: this benchmark needs every dataset")
        listed = ", ".join(f"'{f}'" for f in sorted(files[dataset]))
        con.execute(f"CREATE OR REPLACE VIEW {dataset} AS SELECT * FROM read_parquet([{listed}])")

    setup_duckdb(con, lake, manifest, run_dir / "manifest.json", views=views)
    steps = run_steps(con, run_dir, manifest)
    seconds = time.perf_counter() - t
    counts = {o["table"]: con.execute(f"SELECT COUNT(*) FROM {o['table']}").fetchone()[0]
              for o in manifest["outputs"] if o["table"] != "victims_by_member"}
    print(json.dumps({"seconds": seconds, "steps": steps, "counts": counts}))


def run_duckdb(lake, run_dir, threads):
    # its peak from GNU time, as fedreport's (see `run_child`)
    _, rss, out = run_child([sys.executable, __file__, "--duckdb-side", lake, run_dir, threads])
    return {**json.loads(out.strip().splitlines()[-1]), "rss": rss}


def revise(fed, lake, manifest, n, work):
    """A new version of one member's maritime return of the cycle year, one figure changed by n."""
    import duckdb
    year = manifest["parameters"]["cycle_year"]
    pinned = sorted((i for i in manifest["inputs"] if i["dataset"] == REVISED_DATASET and i["year"] == year and i["rows"] > 0),
                    key=lambda i: (-i["rows"], i["member"]))[0]
    src = lake / pinned["key"]
    dst = work / f"revised-{n}.parquet"
    con = duckdb.connect()
    con.execute(f"""COPY (
        SELECT * REPLACE (CASE WHEN movement_id = (SELECT min(movement_id) FROM read_parquet('{src}'))
                               THEN persons_on_board + {n} ELSE persons_on_board END AS persons_on_board)
        FROM read_parquet('{src}')) TO '{dst}' (FORMAT parquet)""")
    for cmd in ([fed, "submit", dst, "--lake", lake, "--member", pinned["member"], "--dataset", REVISED_DATASET,
                 "--year", str(year)], [fed, "intake", "--lake", lake]):
        run_child(cmd)
    return pinned["member"]


def clear_caches(lake):
    for d in ("snapshots", "cache"):
        shutil.rmtree(lake / d, ignore_errors=True)


def bench(fed, a, scale):
    base = Path(a.dir or "/tmp") / f"fedreport-incremental-{a.years}-{scale:g}"
    lake = base / "lake"
    if not (lake / "accepted").exists():
        print(f"building the synthetic lake in {base} (fedreport demo --scale {scale:g} --years {a.years}) …", flush=True)
        wall, rss, _ = run_child([fed, "demo", "--out", base, "--years", a.years, "--scale", str(scale)])
        print(f"  built in {wall:.1f} s (peak {rss:.0f} MiB)", flush=True)
    manifest, _ = latest_manifest(lake)
    year = manifest["parameters"]["cycle_year"]
    run_cmd = [fed, "run", "--lake", lake, "--year", str(year)]
    work = Path(tempfile.mkdtemp(prefix="fedreport-revisions-"))
    # warm-up: both engines once (file system cache, DuckDB's import)
    run_child(run_cmd)
    m, run_dir = latest_manifest(lake)
    run_duckdb(lake, run_dir, a.threads)
    rows = {}
    for i in m["inputs"]:
        rows[i["dataset"]] = rows.get(i["dataset"], 0) + i["rows"]
    case_rows = sum(v for k, v in rows.items() if k != "legal_framework")
    cold, rerun = {"fed": [], "fed_rss": [], "dk": [], "dk_rss": []}, {"fed": [], "fed_rss": [], "dk": [], "dk_rss": []}
    disagreements, reused, cold_timings = [], [], []
    for n in range(1, a.runs + 1):
        for kind, record in (("cold", cold), ("rerun", rerun)):
            if kind == "cold":
                clear_caches(lake)
            else:
                revise(fed, lake, m, 1000 + n + int(time.time()) % 100000 * 10, work)
            wall, rss, _ = run_child(run_cmd)
            m, run_dir = latest_manifest(lake)
            d = run_duckdb(lake, run_dir, a.threads)
            record["fed"].append(wall); record["fed_rss"].append(rss)
            record["dk"].append(d["seconds"]); record["dk_rss"].append(d["rss"])
            if kind == "rerun":
                reused.append(m.get("timings_ms", {}))
            else:
                cold_timings.append(m.get("timings_ms", {}))
            for o in m["outputs"]:
                if o["table"] in d["counts"] and d["counts"][o["table"]] != o["rows"]:
                    disagreements.append(f"{kind} {n} {o['table']}: DuckDB {d['counts'][o['table']]} rows, fedreport {o['rows']}")
    shutil.rmtree(work, ignore_errors=True)
    med = statistics.median
    print(f"\nscale {scale:g}, years {a.years}: {len(m['inputs'])} returns, {case_rows:,} case-level rows "
          f"({', '.join(f'{k} {v:,}' for k, v in sorted(rows.items()))})")
    print(f"machine: {os.cpu_count()} cores; DataFusion target_partitions {m['target_partitions']}, DuckDB threads {a.threads}; "
          f"{a.runs} of each after a warm-up, alternating\n")
    print("| measure | fedreport run | DuckDB, every table from the accepted files | fedreport / DuckDB | target |")
    print("|---|---:|---:|---:|---:|")
    for name, r, target in (("cold run (nothing cached)", cold, "≤ 1.0×"), ("rerun after one revised return", rerun, "≤ 0.1×")):
        print(f"| {name}, median | {med(r['fed'])*1000:,.0f} ms | {med(r['dk'])*1000:,.0f} ms | "
              f"**{med(r['fed'])/med(r['dk']):.2f}×** | {target} |")
    for name, r in (("cold", cold), ("rerun", rerun)):
        print(f"| peak memory, {name} | {max(r['fed_rss']):,.0f} MiB | {max(r['dk_rss']):,.0f} MiB | | |")
    print(f"\nthe last cold run's own timings (ms): {cold_timings[-1] if cold_timings else {}}")
    print(f"the last rerun's own timings (ms): {reused[-1] if reused else {}}")
    print("agreement:", "every table has the same row count in both engines" if not disagreements else "; ".join(disagreements))
    return not disagreements


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--duckdb-side":
        return duckdb_side(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="220,1050", help="demo --scale values (220: about 10.5 million case rows)")
    ap.add_argument("--years", default="2003..2012")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default=None, help="where the synthetic lakes are kept (default /tmp)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    fed = binary()
    ok = all([bench(fed, a, float(s)) for s in a.scales.split(",")])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
