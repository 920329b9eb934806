"""Read fedreport's SDMX export back with sdmx1 (PyPI), independently of the
Rust writer, and print what it finds as JSON: for each dataflow of the
structure message, its dimensions and code lists, and every observation of
its SDMX-CSV file (read by sdmx1's SDMX-CSV 2.0 reader against the dataflow).
sdmx1 does not check codes against code lists, so this script does, and
exits non-zero on any code outside its list, a wrong STRUCTURE_ID, a
duplicate key or an empty mandatory attribute. Used by tests/it/sdmx.rs.

usage: read_sdmx.py DIR   (DIR holds structure.xml and the .csv files)
"""

import csv
import json
import os
import sys

import sdmx
from sdmx.model import common

folder = sys.argv[1]
sm = sdmx.read_sdmx(os.path.join(folder, "structure.xml"))
problems = []
out = {"sdmx1": sdmx.__version__, "flows": {}}
for fid, flow in sm.dataflow.items():
    dsd = flow.structure
    dims = [d.id for d in dsd.dimensions]
    codes = {}
    for comp in list(dsd.dimensions) + list(dsd.attributes):
        lr = comp.local_representation
        if lr is not None and lr.enumerated is not None:
            ids = {c.id for c in lr.enumerated}
            if not ids:
                problems.append(f"{fid}: code list of {comp.id} is empty or unresolved")
            codes[comp.id] = ids
    files = [f for f in sorted(os.listdir(folder)) if f.endswith(".csv")]
    ref = f"{dsd.maintainer.id}:{fid}({flow.version})"
    mine = []
    for f in files:
        with open(os.path.join(folder, f), newline="", encoding="utf-8") as h:
            rows = list(csv.reader(h))
        if len(rows) > 1 and rows[1][1] == ref:
            mine.append((f, rows))
    if len(mine) != 1:
        problems.append(f"{fid}: {len(mine)} files carry {ref}")
        continue
    name, rows = mine[0]
    if rows[0][:3] != ["STRUCTURE", "STRUCTURE_ID", "ACTION"]:
        problems.append(f"{name}: header {rows[0][:3]}")
    for n, r in enumerate(rows[1:], start=2):
        if (r[0], r[1], r[2]) != ("dataflow", ref, "I"):
            problems.append(f"{name} line {n}: {r[:3]}")
    dm = sdmx.read_sdmx(os.path.join(folder, name), structure=flow)
    obs_out = []
    seen = set()
    for ds in dm.data:
        for o in ds.obs:
            key = [o.dimension.values[d].value for d in dims]
            attrs = {k: v.value for k, v in o.attached_attribute.items()}
            if tuple(key) in seen:
                problems.append(f"{fid}: duplicate key {key}")
            seen.add(tuple(key))
            for d, v in zip(dims, key):
                if d in codes and v not in codes[d]:
                    problems.append(f"{fid}: {d}={v!r} is not in its code list")
            for a in dsd.attributes:
                v = attrs.get(a.id, "")
                if a.usage_status == common.UsageStatus.mandatory and v == "":
                    problems.append(f"{fid} {key}: {a.id} is empty")
                if v and a.id in codes and v not in codes[a.id]:
                    problems.append(f"{fid} {key}: {a.id}={v!r} is not in its code list")
            value = o.value if o.value not in ("", None) else None
            obs_out.append({"key": key, "value": value, "OBS_STATUS": attrs.get("OBS_STATUS"), "CONF_STATUS": attrs.get("CONF_STATUS")})
            if o.value == "":
                o.value = None
    frame = sdmx.to_pandas(dm, attributes="o")
    out["flows"][fid] = {
        "file": name,
        "name": str(flow.name),
        "dimensions": dims,
        "codes": {k: sorted(v) for k, v in codes.items()},
        "observations": obs_out,
        "pandas_rows": len(frame),
    }
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(json.dumps(out))
