#!/usr/bin/env python3
"""How the pipeline's cost grows with its work: local DataFusion, DuckDB and
Ballista with two executors, on synthetic lakes at 1x, 4x and 16x.

    cargo build --release --features ballista -p fedreport -p fedreport-distributed
    python3 bench/scaling.py [--base-scale 70] [--factors 1,4,16] [--years 2003..2012] [--runs 5]

For each factor F a lake is built once with `fedreport demo --scale BASE*F`
(45 members x 10 years; kept under /tmp/fedreport-bench-YEARS-SCALE, shared
with bench/pipeline_vs_duckdb.py). Then, alternating, --runs times each:

  * local:    `fedreport run` (DataFusion in the process, 2 partitions);
  * DuckDB:   the same pipelines/som/*.sql over the run's snapshot Parquet
              files and the same auxiliary tables, in this process, 2 threads;
  * Ballista: `fedreport run --engine ballista://127.0.0.1:PORT` against a
              `fedreport-scheduler` and two `fedreport-executor` processes
              (1 vcore each) started by this script on loopback.

Reports medians of the SQL steps (from each run's manifest) and of the whole
process, ratios to DuckDB, peak memory (the run process; for Ballista also the
scheduler and executors, from /proc VmHWM), and time per million rows. Every
table must have the same bytes on local and Ballista (checked by sha256).
"""
import argparse, json, os, socket, statistics, subprocess, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline_vs_duckdb as pvd  # noqa: E402

ROOT = pvd.ROOT


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_port(port, what):
    t = time.time()
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close(); return
        except OSError:
            if time.time() - t > 60: sys.exit(f"{what} did not start")
            time.sleep(0.1)


def vm_hwm(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Cluster:
    def __init__(self, target, work):
        self.port = free_port()
        self.procs = [subprocess.Popen([target / "fedreport-scheduler", "--bind-host", "127.0.0.1", "--external-host", "127.0.0.1",
                                        "--bind-port", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        wait_port(self.port, "scheduler")
        for i in range(2):
            flight, grpc, health = free_port(), free_port(), free_port()
            d = work / f"executor-{i}"; d.mkdir(parents=True, exist_ok=True)
            self.procs.append(subprocess.Popen([target / "fedreport-executor", "--scheduler-host", "127.0.0.1", "--scheduler-port", str(self.port),
                                                "--bind-host", "127.0.0.1", "--external-host", "127.0.0.1", "--bind-port", str(flight),
                                                "--bind-grpc-port", str(grpc), "--bind-health-port", str(health), "--vcores", "1",
                                                "--work-dir", str(d)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_port(flight, "executor")
        time.sleep(1)

    def peak(self):
        return sum(vm_hwm(p.pid) for p in self.procs)

    def stop(self):
        for p in self.procs:
            p.kill(); p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-scale", type=float, default=70.0)
    ap.add_argument("--factors", default="1,4,16")
    ap.add_argument("--years", default="2003..2012")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    import duckdb
    fed = pvd.binary()
    target = fed.parent
    for b in ("fedreport-scheduler", "fedreport-executor"):
        if not (target / b).exists():
            sys.exit(f"no {target / b}: cargo build --release --features ballista -p fedreport -p fedreport-distributed")
    med = statistics.median
    rows_out = []
    for f in [int(x) for x in a.factors.split(",")]:
        scale = a.base_scale * f
        base = Path(f"/tmp/fedreport-bench-{a.years}-{scale:g}")
        lake = base / "lake"
        if not (lake / "accepted").exists():
            print(f"building the {f}x lake (fedreport demo --scale {scale:g}) …", flush=True)
            wall, rss, _ = pvd.run_child([fed, "demo", "--out", base, "--years", a.years, "--scale", str(scale)])
            print(f"  built in {wall:.1f} s (peak {rss:.0f} MiB)", flush=True)
        manifest, _ = pvd.latest_manifest(lake)
        case_rows = sum(i["rows"] for i in manifest["inputs"] if i["dataset"] != "legal_framework")
        year = manifest["parameters"]["cycle_year"]
        local_cmd = [fed, "run", "--lake", lake, "--year", str(year), "--target-partitions", "2"]
        pvd.run_child(local_cmd)  # warm-up, snapshot
        manifest, run_dir = pvd.latest_manifest(lake)
        con = duckdb.connect(); con.execute(f"SET threads = {a.threads}")
        pvd.setup_duckdb(con, lake, manifest, run_dir / "manifest.json"); pvd.run_duckdb(con, run_dir, manifest)
        cluster = Cluster(target, base / "cluster")
        ballista_cmd = [fed, "run", "--lake", lake, "--year", str(year), "--target-partitions", "2",
                        "--engine", f"ballista://127.0.0.1:{cluster.port}"]
        try:
            pvd.run_child(ballista_cmd)  # warm-up
            res = {"local": [], "local_wall": [], "local_rss": [], "duck": [], "bal": [], "bal_wall": [], "bal_rss": []}
            for _ in range(a.runs):
                w, r, _ = pvd.run_child(local_cmd); m_local, _ = pvd.latest_manifest(lake)
                res["local_wall"].append(w); res["local_rss"].append(r)
                res["local"].append(pvd.sql_seconds(m_local))
                t = time.perf_counter(); pvd.run_duckdb(con, run_dir, manifest); res["duck"].append(time.perf_counter() - t)
                w, r, _ = pvd.run_child(ballista_cmd); m_bal, _ = pvd.latest_manifest(lake)
                res["bal_wall"].append(w); res["bal_rss"].append(r)
                res["bal"].append(pvd.sql_seconds(m_bal))
            nodes = cluster.peak()
        finally:
            cluster.stop()
        tables = lambda m: {o["table"]: (o["parquet"]["sha256"], o["csv"]["sha256"]) for o in m["outputs"]}
        same = tables(m_local) == tables(m_bal)
        if not same:
            sys.exit(f"{f}x: local and Ballista tables differ")
        rows_out.append((f, case_rows, len(manifest["inputs"]), {k: med(v) if "rss" not in k else max(v) for k, v in res.items()}, nodes))
        r = rows_out[-1][3]
        print(f"{f}x: {case_rows:,} rows: local SQL {r['local']*1000:.0f} ms, DuckDB {r['duck']*1000:.0f} ms, Ballista SQL {r['bal']*1000:.0f} ms", flush=True)
    print(f"\nmachine: {os.cpu_count()} cores; local DataFusion 2 partitions, DuckDB {a.threads} threads, Ballista 2 executors x 1 vcore; "
          f"medians of {a.runs} runs after a warm-up; years {a.years}\n")
    print("| lake | case rows | local SQL | DuckDB SQL | Ballista SQL | local / DuckDB | Ballista / DuckDB | local run process | Ballista run process | peak memory local | peak memory Ballista (client + scheduler + 2 executors) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for f, n, _, r, nodes in rows_out:
        print(f"| {f}x | {n:,} | {r['local']*1000:.0f} ms | {r['duck']*1000:.0f} ms | {r['bal']*1000:.0f} ms | {r['local']/r['duck']:.2f}x | "
              f"{r['bal']/r['duck']:.2f}x | {r['local_wall']*1000:.0f} ms | {r['bal_wall']*1000:.0f} ms | {r['local_rss']:.0f} MiB | "
              f"{r['bal_rss']:.0f} + {nodes:.0f} MiB |")
    print("\nms of SQL per million case rows:")
    for f, n, _, r, _ in rows_out:
        m = n / 1e6
        print(f"  {f}x: local {r['local']*1000/m:.1f}, DuckDB {r['duck']*1000/m:.1f}, Ballista {r['bal']*1000/m:.1f}")
    print("\nlocal and Ballista wrote byte-identical tables at every scale")


if __name__ == "__main__":
    main()
