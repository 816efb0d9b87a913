"""Benchmark: the whole validation suite over ~1M judgements, GX vs the same checks in plain pandas.

    .venv/bin/python bench/bench_validation.py [--rows 1000000] [--repeat 1] [--object-columns] [--quick]

The data: the bundled sample program (``sample/labels.csv``, with its planted problems) tiled with
fresh item ids until it holds ``--rows`` judgements, so the failing rows scale with it. Measured:

* ``import great_expectations`` alone, in a fresh interpreter, and the same import as labkit does it
  (``engine._import_gx``: skips jsonschema's RFC 3987 grammar, registers labkit's expectations);
* ``labkit.validation.validate`` end to end in a fresh interpreter (GX import + context + run +
  failing rows), the number the issue's 10 s target is about;
* the GX run alone (GX already imported) in this process;
* the same checks in plain pandas/NumPy (``plain_pandas_validate`` below), same failing-row counts;
* optionally (``--object-columns``) what converting the categorical id columns to Python strings
  would cost and how GX runs on that frame (labkit does not convert: GX's pandas engine and labkit's
  metrics work on categoricals).

Prints one table with wall and CPU (user + sys) seconds, and the machine's load average: on a
shared machine wall time includes waiting for a core, CPU time is closer to what an idle machine
would take. Every number is measured in this run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import tiled_program  # noqa: E402  (bench/ is on sys.path when run as a script)
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from labkit.guidelines.model import Guidelines  # noqa: E402
from labkit.schema import write_labels  # noqa: E402
from labkit.validation import checks  # noqa: E402
from labkit.validation.suites import load_suites, retire_grace_days, run_parameters  # noqa: E402


def plain_pandas_validate(t: pd.DataFrame, params: dict, suites: list) -> dict[str, int]:
    """The suites' checks written directly in pandas/NumPy: failing-row counts per expectation."""
    kw = {e["type"] + (f"({e['kwargs']['column']})" if "column" in e["kwargs"] else ""): e["kwargs"]
          for s in suites for e in s.expectations}
    out: dict[str, int] = {}
    for c in ("item_id", "annotator_id", "task", "label"):
        out[f"not_null({c})"] = int(t[c].isna().sum())
    want = kw["expect_column_dtypes_to_match"]["dtypes"]
    out["dtypes"] = sum(str(t[c].dtype) != d if c in t else 1 for c, d in want.items())
    out["columns"] = sum(c not in t for c in kw["expect_table_columns_to_match_set"]["column_set"])
    out["between(created_at)"] = int((t["created_at"] > params["now"]).sum())
    out["between(confidence)"] = int(((t["confidence"] < 0) | (t["confidence"] > 1)).sum())
    out["between(duration_s)"] = int((t["duration_s"] < 0).sum())
    key = ["item_id", "annotator_id", "task", "stage", "label"]
    out["duplicates"] = int(t.duplicated(key, keep=False).sum())
    k = kw["expect_items_to_have_min_distinct_annotators"]["k"]
    lab = t[(t["source"] == "human") & (t["stage"] == "label")]
    short = checks.overlap_shortfall(lab["item_id"], lab["annotator_id"], lab["task"], k)
    out["overlap"] = int(len(short))
    v = t.dropna(subset=["task", "guideline_version"])
    out["version_known"] = int((~checks.known_version_mask(v["task"], v["guideline_version"],
                                                          params["guideline_allowed_labels"])).sum())
    out["label_allowed"] = int((~checks.label_allowed_mask(v["task"], v["guideline_version"], v["label"],
                                                          params["guideline_allowed_labels"])).sum())
    cols = [v[c] for c in ("item_id", "annotator_id", "task", "guideline_version", "label")]
    out["exclusive"] = int((~checks.exclusive_mask(*cols, params["guideline_exclusive_pairs"], stage=v["stage"])).sum())
    out["hierarchy"] = int((~checks.hierarchy_mask(*cols, params["guideline_parents"], params["guideline_exclusive_pairs"],
                                                   stage=v["stage"])).sum())
    r = v.dropna(subset=["created_at"])
    out["retired"] = int((~checks.retired_mask(r["task"], r["guideline_version"], r["created_at"],
                                               params["guideline_retired_after"])).sum())
    d = t.dropna(subset=["duration_s"])
    out["too_fast"] = int((~checks.too_fast_mask(d["task"], d["duration_s"],
                                                 kw["expect_judgement_duration_above_task_floor"]["min_duration_s"])).sum())
    out["duration_outlier"] = int((~checks.duration_outlier_mask(d["task"], d["duration_s"],
                                                                 kw["expect_judgement_duration_not_outlier"]["max_abs_z"])).sum())
    dk = kw["expect_annotator_label_distribution_to_match_pool"]
    h = t[t["source"] == "human"]
    out["distribution"] = int((~checks.distribution_mask(h["task"], h["annotator_id"], h["label"], alpha=dk["alpha"],
                                                         min_n=dk["min_n"], min_tvd=dk["min_tvd"])).sum())
    return out


CHILD = """
import json, sys, time
from labkit.schema import read_labels_parquet
t = read_labels_parquet(sys.argv[1])
from labkit.validation import validate
w0, c0 = time.perf_counter(), time.process_time()
r = validate(t, sys.argv[2])
w1, c1 = time.perf_counter(), time.process_time()
print(json.dumps({"validate_s": w1 - w0, "validate_cpu_s": c1 - c0, "timings": r.timings,
                  "failing_rows": len(r.failures)}))
"""


def _child(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``python args...``: wall seconds, CPU seconds of the child (user + sys), stdout."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, *args], check=True, env=env, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), out


def _timed(fn, repeat: int) -> tuple[float, float, object]:
    """Best wall and best CPU seconds of ``repeat`` calls, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=1, help="in-process GX and pandas runs (best of)")
    ap.add_argument("--object-columns", action="store_true", help="also measure GX on str-converted id columns")
    ap.add_argument("--quick", action="store_true", help="50,000 judgements (a smoke run; bench/run.py --quick)")
    args = ap.parse_args()
    if args.quick:
        args.rows = min(args.rows, 50_000)
    env = dict(os.environ, GX_ANALYTICS_ENABLED="False")
    load_before = os.getloadavg()[0]

    t = tiled_program(args.rows)
    guidelines = ROOT / "guidelines"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "labels.parquet"
        write_labels(t, path)
        imp_plain = _child(["-c", "import great_expectations"], env)
        imp_labkit = _child(["-c", "from labkit.validation.engine import _import_gx; _import_gx()"], env)
        e2e_wall, e2e_cpu, out = _child(["-c", CHILD, str(path), str(guidelines)], env)
        child_out = json.loads(out.strip().splitlines()[-1])

    from labkit.validation import validate

    validate(t.iloc[:1000], guidelines)  # import GX and warm up in this process
    gx_wall, gx_cpu, report = _timed(lambda: validate(t, guidelines), args.repeat)
    g = Guidelines.load(guidelines)
    suites = load_suites()
    params = run_parameters(g, retire_grace_days(guidelines))
    pd_wall, pd_cpu, counts = _timed(lambda: plain_pandas_validate(t, params, suites), args.repeat)

    gx_fail = {o.name: o.n_failing for o in report.outcomes}
    same = {
        "duplicates": gx_fail["expect_compound_columns_to_be_unique(item_id, annotator_id, task, stage, label)"],
        "label_allowed": gx_fail["expect_label_to_be_allowed_by_guideline_version"],
        "exclusive": gx_fail["expect_labels_to_respect_exclusivity"],
        "retired": gx_fail["expect_guideline_version_not_retired"],
        "too_fast": gx_fail["expect_judgement_duration_above_task_floor"],
        "duration_outlier": gx_fail["expect_judgement_duration_not_outlier"],
        "distribution": gx_fail["expect_annotator_label_distribution_to_match_pool"],
        "between(confidence)": gx_fail["expect_column_values_to_be_between(confidence)"],
    }
    mismatch = {k: (v, counts[k]) for k, v in same.items() if counts[k] != v}

    conv = None
    if args.object_columns:
        def to_object() -> pd.DataFrame:
            obj = t.copy()
            for c in ("item_id", "annotator_id", "task", "label", "guideline_version", "slice", "source", "stage"):
                obj[c] = obj[c].astype(object)
            return obj

        cw, cc, obj = _timed(to_object, 1)
        ow, oc, _ = _timed(lambda: validate(obj, guidelines), 1)
        conv = (cw, cc, ow, oc)

    def sec(x: float) -> str:
        return f"{x:.2f} s"

    rows = [
        ("judgements", f"{len(t):,}", "", ""),
        ("failing rows (GX)", f"{len(report.failures):,}", "",
         f"{len(report.outcomes)} expectations, gate {'passed' if report.gate else 'failed'}"),
        ("import great_expectations (fresh interpreter)", sec(imp_plain[0]), sec(imp_plain[1]),
         "python -c 'import great_expectations'"),
        ("import GX as labkit does (fresh interpreter)", sec(imp_labkit[0]), sec(imp_labkit[1]),
         "engine._import_gx: without jsonschema's RFC 3987 grammar, plus labkit's expectations; incl. labkit import"),
        ("labkit validate end to end (fresh interpreter)", sec(child_out["validate_s"]), sec(child_out["validate_cpu_s"]),
         f"validate() incl. GX import {child_out['timings']['gx_import_s']:.2f} s + run "
         f"{child_out['timings']['gx_run_s']:.2f} s (wall); process incl. Parquet read: {e2e_wall:.2f} s wall, "
         f"{e2e_cpu:.2f} s CPU"),
        ("GX run, GX already imported (labkit.validate)", sec(gx_wall), sec(gx_cpu), f"best of {args.repeat}"),
        ("same checks in plain pandas/NumPy", sec(pd_wall), sec(pd_cpu), f"best of {args.repeat}"),
        ("ratio GX run / plain pandas", f"{gx_wall / pd_wall:.1f}x", f"{gx_cpu / pd_cpu:.1f}x", ""),
        ("ratio GX end to end / plain pandas", f"{child_out['validate_s'] / pd_wall:.1f}x",
         f"{child_out['validate_cpu_s'] / pd_cpu:.1f}x", ""),
        ("failing counts GX == pandas", "yes" if not mismatch else f"NO {mismatch}", "", ", ".join(same)),
    ]
    if conv:
        rows.append(("id columns category -> object (not done by labkit)", sec(conv[0]), sec(conv[1]), ""))
        rows.append(("GX run on object columns", sec(conv[2]), sec(conv[3]), f"vs {gx_wall:.2f} s on categoricals"))
    w = max(len(r[0]) for r in rows)
    print(f"{'measure':<{w}}  {'wall':>10}  {'CPU':>8}  note")
    print("-" * (w + 80))
    for name, wall, cpu, note in rows:
        print(f"{name:<{w}}  {wall:>10}  {cpu:>8}  {note}")
    load_after = os.getloadavg()[0]
    print(f"\nmachine: {os.cpu_count()} cores, 1-minute load average {load_before:.1f} before, {load_after:.1f} after "
          "(wall times on a shared machine include waiting for a core; CPU = user + sys seconds)")
    target, target_cpu = child_out["validate_s"], child_out["validate_cpu_s"]
    print(f"target: whole suite over {len(t):,} judgements under 10 s including the GX import: "
          f"{'met' if target < 10 else 'NOT met'} on wall time ({target:.2f} s); CPU time {target_cpu:.2f} s")


if __name__ == "__main__":
    main()
