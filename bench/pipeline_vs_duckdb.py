#!/usr/bin/env python3
"""Time `fedreport run` against DuckDB executing the same SQL over the same Parquet files.

    python3 bench/pipeline_vs_duckdb.py [--scale 180] [--years 2003..2012] [--runs 5]

Builds (once, kept in --dir) a synthetic lake with `fedreport demo` (45
members x 10 years; --scale 180 gives about 10 million case-level rows),
then, alternating, N times each:
  * `fedreport run` as a child process (wall time, and peak RSS from GNU time);
  * DuckDB in this process: the pipeline's .sql files in the order the run
    recorded, over the run's compacted snapshot parts (Parquet) and the same
    auxiliary tables (returns, submissions, members, datasets, codelists,
    cycle_years, params), with 2 threads.
Disclosure control (victims_by_member) is Rust, not SQL, and is left out of
the DuckDB side. Prints medians, ratios, peak memory and where the time goes,
and checks both engines agree on every table's row count.
Needs `pip install duckdb`, GNU time (`apt-get install time`, for peak memory)
and a release build (`cargo build --release`).
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time, tomllib, resource
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def binary():
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    b = target / "release" / "fedreport"
    if not b.exists():
        sys.exit(f"no release build at {b}: run `cargo build --release` (with the same CARGO_TARGET_DIR) first")
    return b

def run_child(cmd):
    """Run `cmd`; its wall time, its peak resident memory (MiB) and its output.

    The peak comes from GNU time (`/usr/bin/time`, Debian package `time`), not
    from this process's `wait4`: Linux carries a parent's peak into a child it
    forks and execs, so `wait4` would report at least this Python process's
    own peak (hundreds of MiB after the DuckDB revisions at 50 million rows).
    `time` is small, so the child it starts inherits almost nothing."""
    gnu = subprocess.run(["/usr/bin/time", "--version"], capture_output=True, text=True) if os.path.exists("/usr/bin/time") else None
    if gnu is None or "GNU" not in gnu.stdout + gnu.stderr:
        sys.exit("the benchmarks measure peak memory with GNU time at /usr/bin/time: apt-get install time")
    with tempfile.NamedTemporaryFile(prefix="fedreport-peak-") as peak:
        t = time.perf_counter()
        p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", peak.name, *map(str, cmd)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = p.communicate()
        wall = time.perf_counter() - t
        out, err = out.decode(), err.decode()
        if p.returncode != 0:
            sys.exit(f"{' '.join(map(str, cmd))} failed:\n{out}\n{err}")
        kib = int(Path(peak.name).read_text().split()[-1])
    return wall, kib / 1024, out

def sql_seconds(m):
    """The time a run spent in its steps: their wall time, which the manifest
    records as `timings_ms.steps` since steps run at once (their own times
    then overlap); the sum of their times for a run from before that."""
    t = m["timings_ms"]
    return (t["steps"] if "steps" in t else sum(v for k, v in t.items() if k.startswith("step:"))) / 1000

def latest_manifest(lake):
    runs = sorted((lake / "runs").iterdir(), key=lambda p: p.name)
    return json.loads((runs[-1] / "manifest.json").read_text()), runs[-1]

def setup_duckdb(con, lake, manifest, manifest_path, views=None):
    """The input tables: each dataset as a view (by default over the run's
    compacted snapshot parts; `views(con, dataset)` makes it otherwise) and
    the auxiliary tables the engine registers, loaded by DuckDB itself from
    the run's manifest (`returns`, `submissions`) and the schemas."""
    import duckdb  # noqa
    index = None if views else json.loads((lake / "snapshots" / manifest["snapshot"] / "inputs.json").read_text())
    for f in sorted((ROOT / "schemas").glob("*.toml")):
        ds = tomllib.loads(f.read_text())["dataset"]
        if views:
            views(con, ds)
        else:
            parts = ", ".join(f"'{lake / p['key']}'" for p in index["parts"] if p["dataset"] == ds)
            con.execute(f"CREATE OR REPLACE VIEW {ds} AS SELECT * FROM read_parquet([{parts}])")
    src = f"read_json('{manifest_path}', maximum_object_size = 1073741824)"
    con.execute(f"""CREATE OR REPLACE TABLE returns AS
        SELECT i.member AS reporting_member, i.dataset, CAST(i.year AS INTEGER) AS reference_year,
               CAST(i.version AS BIGINT) AS version, TRY_CAST(i.received_at AS TIMESTAMPTZ) AS received_at,
               CAST(i.rows AS BIGINT) AS rows, i.submission_id
        FROM (SELECT unnest(inputs) AS i FROM {src})""")
    con.execute(f"""CREATE OR REPLACE TABLE submissions AS
        SELECT s.member AS reporting_member, CAST(s.dataset AS VARCHAR) AS dataset, CAST(s.year AS INTEGER) AS reference_year,
               s.status, s.submission_id
        FROM (SELECT unnest(submissions) AS s FROM {src})""")
    con.execute(f"CREATE OR REPLACE TABLE members AS SELECT * FROM read_csv('{ROOT / 'reference/members.csv'}', header=true, all_varchar=true)")
    con.execute("CREATE OR REPLACE TABLE datasets(dataset VARCHAR)")
    con.execute("CREATE OR REPLACE TABLE codelists(dataset VARCHAR, column_name VARCHAR, value VARCHAR, position INTEGER)")
    names, codes = [], []
    for f in sorted((ROOT / "schemas").glob("*.toml")):
        s = tomllib.loads(f.read_text())
        names.append(s["dataset"])
        for c in s["columns"]:
            for i, v in enumerate(c.get("values", []) or []):
                codes.append((s["dataset"], c["name"], v, i + 1))
    quote = lambda x: "'" + str(x).replace("'", "''") + "'"
    con.execute("INSERT INTO datasets VALUES " + ", ".join(f"({quote(n)})" for n in names))
    con.execute("INSERT INTO codelists VALUES " + ", ".join(f"({quote(d)}, {quote(c)}, {quote(v)}, {p})" for d, c, v, p in codes))
    p = manifest["parameters"]
    y = p["cycle_year"]
    first = min([i["year"] for i in manifest["inputs"]] + [y])
    con.execute(f"CREATE OR REPLACE TABLE cycle_years AS SELECT CAST(range AS INTEGER) AS reference_year FROM range({first}, {y + 1})")
    cols = []
    for k, v in sorted(p.items()):
        if k == "cycle_year": cols.append(f"CAST({v} AS INTEGER) AS {k}")
        elif isinstance(v, bool): cols.append(f"{str(v).upper()} AS {k}")
        elif isinstance(v, int): cols.append(f"CAST({v} AS BIGINT) AS {k}")
        elif isinstance(v, float): cols.append(f"CAST({v} AS DOUBLE) AS {k}")
        else: cols.append(f"CAST('{v}' AS TIMESTAMPTZ) AS {k}" if "T" in v else f"'{v}' AS {k}")
    con.execute("CREATE OR REPLACE TABLE params AS SELECT " + ", ".join(cols))

def run_duckdb(con, run_dir, manifest):
    timings = {}
    for step in manifest["steps"]:
        if not step["file"]:
            continue
        sql = (run_dir / "pipeline" / step["file"]).read_text()
        t = time.perf_counter()
        con.execute(f"CREATE OR REPLACE TEMP TABLE {step['name']} AS {sql}")
        timings[step["name"]] = time.perf_counter() - t
    return timings

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=180.0)
    ap.add_argument("--years", default="2003..2012")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default=None, help="where the synthetic lake is kept (default: a folder per scale under /tmp)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    import duckdb
    fed = binary()
    base = Path(a.dir or f"/tmp/fedreport-bench-{a.years}-{a.scale:g}")
    lake = base / "lake"
    if not (lake / "accepted").exists():
        print(f"building the synthetic lake in {base} (fedreport demo --scale {a.scale:g} --years {a.years}) …", flush=True)
        wall, rss, _ = run_child([fed, "demo", "--out", base, "--years", a.years, "--scale", str(a.scale)])
        print(f"  built in {wall:.1f} s (peak {rss:.0f} MiB)")
    manifest, _ = latest_manifest(lake)
    rows = {}
    for i in manifest["inputs"]:
        rows[i["dataset"]] = rows.get(i["dataset"], 0) + i["rows"]
    case_rows = sum(v for k, v in rows.items() if k != "legal_framework")
    year = manifest["parameters"]["cycle_year"]
    run_cmd = [fed, "run", "--lake", lake, "--year", str(year)]
    run_child(run_cmd)  # warm-up (and the snapshot, if inputs changed)
    manifest, run_dir = latest_manifest(lake)
    con = duckdb.connect()
    con.execute(f"SET threads = {a.threads}")
    setup_duckdb(con, lake, manifest, run_dir / "manifest.json")
    run_duckdb(con, run_dir, manifest)  # warm-up
    df_wall, df_rss, df_engine, dk_wall, dk_steps = [], [], [], [], []
    for _ in range(a.runs):
        w, r, _ = run_child(run_cmd)
        m, _ = latest_manifest(lake)
        df_wall.append(w); df_rss.append(r)
        df_engine.append(sql_seconds(m))
        t = time.perf_counter()
        steps = run_duckdb(con, run_dir, manifest)
        dk_wall.append(time.perf_counter() - t); dk_steps.append(steps)
    m, _ = latest_manifest(lake)
    # agreement: the row count of every SQL table both engines produced
    disagreements = []
    for o in m["outputs"]:
        if o["table"] == "victims_by_member":
            continue
        n = con.execute(f"SELECT COUNT(*) FROM {o['table']}").fetchone()[0]
        if n != o["rows"]:
            disagreements.append(f"{o['table']}: DuckDB {n} rows, DataFusion {o['rows']}")
    med = statistics.median
    dk_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nscale {a.scale:g}, years {a.years}: {len(m['inputs'])} returns, {case_rows:,} case-level rows "
          f"({', '.join(f'{k} {v:,}' for k, v in sorted(rows.items()))})")
    print(f"machine: {os.cpu_count()} cores; DataFusion target_partitions {m['target_partitions']}, DuckDB threads {a.threads}; {a.runs} runs after a warm-up\n")
    print("| measure | DataFusion (fedreport run) | DuckDB (same SQL, same files) | ratio DF/DuckDB |")
    print("|---|---|---|---|")
    print(f"| SQL steps, median | {med(df_engine)*1000:.0f} ms | {med(dk_wall)*1000:.0f} ms | {med(df_engine)/med(dk_wall):.2f}x |")
    print(f"| whole `fedreport run` process, median | {med(df_wall)*1000:.0f} ms | | {med(df_wall)/med(dk_wall):.2f}x |")
    print(f"| peak memory | {max(df_rss):.0f} MiB (run process) | {dk_peak:.0f} MiB (Python + DuckDB process) | |")
    print("\nwhere the time goes (ms per step, DataFusion's last run vs DuckDB's median; DataFusion runs two steps at once, so its times overlap):")
    for s in m["steps"]:
        if not s["file"]:
            continue
        print(f"  {s['name']:<26} {s['millis']:>6}   {med([d[s['name']] for d in dk_steps])*1000:>7.0f}")
    rest = {k: v for k, v in m["timings_ms"].items() if not k.startswith("step:") and k != "steps"}
    print(f"  outside the steps (last run): {rest}; the steps' wall time includes writing the published tables (Parquet and CSV), which DuckDB does not do")
    print("\nagreement:", "every table has the same row count in both engines" if not disagreements else "; ".join(disagreements))
    if disagreements:
        sys.exit(1)

if __name__ == "__main__":
    main()
