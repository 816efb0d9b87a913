"""Engines beside each other and beside hand-written DuckDB SQL, on generated programs.

    .venv/bin/python bench/bench_engines.py            # 10M judgements (every engine) and ~100M (DuckDB, 2 GB cap)
    .venv/bin/python bench/bench_engines.py --quick    # 1M judgements, a smoke run
    .venv/bin/python bench/bench_engines.py --no-spark --only '10M lake/*/*,~100M/alpha/*'   # some cases only

The program is bench_stats' synthetic one (5,000 annotators with Zipf-like volume, 1 + Poisson(2.5)
raters per item, 5 labels, 5% spammers), written once per size as canonical Parquet; the ~100M program
is ten 10M files with distinct item ids in one folder. Every case runs in its own process (the CLI
path a user runs: read Parquet, build the reduced tables, compute the statistic); wall time is that
process's, peak memory is the summed RSS of its whole process tree (the JVM included for Spark),
sampled every 50 ms. Cases:

* ``pandas (load_labels)``: today's in-memory path before issue 20 (every column read and validated);
* ``pandas``: the in-memory engine (only the id columns, dictionary-encoded, straight to categoricals);
* ``duckdb``: the DuckDB engine (folded item x label counts, Dawid-Skene posteriors in DuckDB tables);
* ``spark``: the Spark engine on ``local[2]`` (only when pyspark and Java are installed);
* ``duckdb SQL (hand-written)``: one SQL statement per statistic, the reference for DuckDB's speed.

Sizes: ``10M`` is the program as ``write_labels`` writes it (pandas categoricals: every row group repeats
the whole item dictionary); ``10M lake`` is the same program written by DuckDB, the way lake exports
are, with a gold file for 2% of the items; there the quality report (``report``: built with
``engine="duckdb"`` from the folder and rendered to HTML; its value is the headline alpha) and
Dawid-Skene run under a 2 GB budget.

Statistics: Krippendorff's alpha (nominal), Fleiss' kappa, Dawid-Skene to convergence (tol 1e-6);
the values must agree across engines (printed, and checked: the run fails when they differ).

``validate``: ``labkit validate`` (every suite in expectations/, no guidelines) on the same program
with durations, timestamps and confidences added (``validate.parquet`` beside it), in memory
(``pandas``) and with ``--engine duckdb`` (GX on item-partitioned batches, cross-item tests in
DuckDB; also under a 2 GB cap at 10M) and with ``--engine spark`` on ``local[2]`` (the same import and
GX batches; Spark shuffles the item partitions and computes the cross-item tests). Value: the number of
failing rows (equal across engines).
``--stats validate`` runs only these cases.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

ALPHA_SQL = """
WITH il AS (SELECT item_id, label, COUNT(*) AS n FROM read_parquet({src}) WHERE source = 'human' GROUP BY item_id, label),
it AS (SELECT item_id, SUM(n) AS m, SUM(n * n) AS s2 FROM il GROUP BY item_id HAVING SUM(n) >= 2),
nc AS (SELECT il.label, SUM(il.n) AS nc FROM il SEMI JOIN it ON il.item_id = it.item_id GROUP BY il.label)
SELECT 1 - (SUM(nc) - 1) * (SELECT SUM((m * m - s2) / (m - 1)) FROM it) / (SUM(nc) * SUM(nc) - SUM(nc * nc)) FROM nc
"""
FLEISS_SQL = """
WITH il AS (SELECT item_id, label, COUNT(*) AS n FROM read_parquet({src}) WHERE source = 'human' GROUP BY item_id, label),
it AS (SELECT item_id, SUM(n) AS m, SUM(n * n) AS s2 FROM il GROUP BY item_id),
p AS (SELECT il.label, SUM(il.n / it.m) AS s FROM il JOIN it ON il.item_id = it.item_id GROUP BY il.label),
pb AS (SELECT AVG((s2 - m) / (m * (m - 1.0))) AS pbar FROM it WHERE m >= 2)
SELECT (pbar - pe) / (1 - pe) FROM pb, (SELECT SUM((s / (SELECT COUNT(*) FROM it)) * (s / (SELECT COUNT(*) FROM it))) AS pe FROM p)
"""


# ----------------------------------------------------------------------------- child: one case
def run_case(engine: str, stat: str, src: str, mem: str | None, tmp: str) -> dict[str, Any]:
    import numpy as np

    from labkit.engines import get_engine, parquet_input
    from labkit.stats import agreement as ag

    if stat == "validate":
        from labkit.validation.scale import validate_engine

        kw = {"master": "local[2]"} if engine == "spark" else {}
        rep = validate_engine(src, None, engine=engine, memory_limit=mem, temp_dir=tmp, **kw)
        return {"value": float(len(rep.failures)), "failed": int(rep.summary()["failed"])}
    inp = parquet_input(src)
    if stat == "report":  # the quality report rendered to HTML (figures drawn), gold beside the program
        from labkit.reports.model import render
        from labkit.reports.quality import build

        gold = str(Path(inp.files[0]).parent.parent / "gold.csv")
        rep = build(src, gold, engine=engine, memory_limit=mem or "", temp_dir=tmp, validate=False, n_boot=200)
        html = render(rep)
        return {"value": float(rep.headline["alpha"]), "html_kb": len(html) // 1024,
                "n_iter": None}
    if engine == "sql":
        import duckdb

        con = duckdb.connect()
        if mem:
            con.execute(f"SET memory_limit = '{mem}'")
        con.execute(f"SET temp_directory = '{tmp}'")
        files = "[" + ", ".join(f"'{f}'" for f in inp.files) + "]"
        q = {"alpha": ALPHA_SQL, "fleiss": FLEISS_SQL}[stat].format(src=files)
        return {"value": float(con.execute(q).fetchone()[0])}
    if engine == "load_labels":
        from labkit.io import load_labels
        from labkit.stats.consensus import DawidSkene

        table = load_labels(inp.files[0] if len(inp.files) == 1 else list(inp.files))
        if stat == "ds":
            ds = DawidSkene().fit(table)
            return {"value": float(ds.consensus_["confidence"].mean()), "n_iter": ds.n_iter_}
        f = ag.krippendorff_alpha if stat == "alpha" else ag.fleiss_kappa
        return {"value": f(table).value}
    kw = {"master": "local[2]"} if engine == "spark" else {}
    with get_engine(engine, memory_limit=mem, temp_dir=tmp, **kw) as eng:
        if stat == "ds":
            r = eng.dawid_skene(inp, out=str(Path(tmp) / "consensus.parquet"))
            return {"value": float(r.stats["mean_confidence"]), "n_iter": r.n_iter, "converged": r.converged}
        if engine == "pandas":
            c = eng.count_tables(inp)  # the in-memory path: per-judgement codes, as the CLI uses them
        else:
            c = eng.item_label_counts(inp)
        f = ag.krippendorff_alpha if stat == "alpha" else ag.fleiss_kappa
        res = f(c)
        assert np.isfinite(res.value)
        return {"value": res.value}


# ----------------------------------------------------------------------------- parent
def measure(engine: str, stat: str, src: str, mem: str | None, timeout: float) -> dict[str, Any]:
    import psutil

    tmp = tempfile.mkdtemp(prefix="labkit-bench-")
    out = Path(tmp) / "result.json"
    cmd = [sys.executable, __file__, "--child", engine, stat, src, mem or "", tmp, str(out)]
    t0 = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    try:
        while proc.poll() is None:
            rss = 0
            for p in [proc, *proc.children(recursive=True)]:
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            peak = max(peak, rss)
            if time.perf_counter() - t0 > timeout:
                for p in [*proc.children(recursive=True), proc]:
                    p.kill()
                proc.wait()
                return {"error": f"stopped after {timeout:.0f} s", "peak_mb": peak / 2**20}
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.returncode or not out.exists():
            return {"error": (err.strip().splitlines() or ["failed"])[-1][:120], "peak_mb": peak / 2**20}
        res = json.loads(out.read_text())
        res.update({"wall_s": wall, "peak_mb": peak / 2**20})
        return res
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def data(n: int, root: Path) -> Path:
    """The 10M-style program of ``n`` judgements (cached in ``root``)."""
    from bench_stats import generate

    d = root / f"n{n}"
    if not (d / "program.parquet").exists():
        print(f"generating {n:,} judgements in {d} ...", flush=True)
        generate(n, d)
    return d / "program.parquet"


def data_100m(base: Path, root: Path, copies: int = 10) -> Path:
    """``copies`` copies of ``base`` with distinct item ids (prefix per copy) in one folder."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    d = root / f"x{copies}"
    if len(list(d.glob("*.parquet"))) == copies:
        return d
    d.mkdir(parents=True, exist_ok=True)
    t = pq.read_table(base, read_dictionary=["item_id"])
    for k in range(copies):
        col = t.column("item_id").combine_chunks()
        dic = pc.binary_join_element_wise(pa.scalar(f"c{k}-"), col.dictionary, "")
        new = pa.DictionaryArray.from_arrays(col.indices, dic)
        pq.write_table(t.set_column(t.schema.get_field_index("item_id"), "item_id", new), d / f"part-{k:02d}.parquet")
    return d


def data_validate(base: Path) -> Path:
    """``base`` with durations (lognormal; 0.5% below the 1 s floor), timestamps and confidences, so
    every validation suite has work (cached beside ``base``)."""
    import numpy as np
    import pandas as pd

    from labkit.schema import read_labels_parquet, write_labels

    out = base.parent / "validate.parquet"
    if out.exists():
        return out
    t = read_labels_parquet(base)  # canonical (write_labels stores wide id columns as strings)
    rng = np.random.default_rng(1)
    n = len(t)
    d = rng.lognormal(2.0, 0.7, n)
    d[rng.random(n) < 0.005] = 0.4
    t["duration_s"] = d
    t["confidence"] = rng.uniform(0, 1, n)
    t["created_at"] = (pd.Timestamp("2026-01-01", tz="UTC")
                       + pd.to_timedelta(rng.integers(0, 86_400 * 300, n), unit="s")).astype("datetime64[ns, UTC]")
    write_labels(t, out)
    return out


def data_lake(base: Path, root: Path) -> Path:
    """The same program as ``base`` written by DuckDB (``COPY ... (FORMAT parquet)``), the way lake exports
    usually are: row groups of ~120k rows, each with a dictionary of the ids it holds. (``write_labels``
    writes pandas categoricals, so every row group of ``base`` repeats the full 2.9M-item dictionary,
    which pyarrow decodes once per row group: see docs/scale.md.)"""
    import duckdb

    d = root / f"lake-{base.parent.name}" / "labels"
    f = d / "part-0.parquet"
    if not f.exists():
        d.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect()
        con.execute(f"COPY (SELECT * FROM read_parquet('{base}')) TO '{f}' (FORMAT parquet)")
    gold = d.parent / "gold.csv"
    if not gold.exists():  # gold for 2% of the items, from the generator's truth
        import numpy as np
        import pandas as pd

        truth = np.load(base.parent / "truth.npy")
        idx = np.arange(0, truth.size, 50)
        pd.DataFrame({"item_id": [f"i{i:08d}" for i in idx], "label": [f"L{k}" for k in truth[idx]],
                      "task": "synthetic"}).to_csv(gold, index=False)
    return d


def have_spark() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return shutil.which("java") is not None


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--child":
        engine, stat, src, mem, tmp, out = argv[1:7]
        Path(out).write_text(json.dumps(run_case(engine, stat, src, mem or None, tmp)))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1M judgements only (smoke run)")
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "labkit-bench-engines"))
    ap.add_argument("--timeout", type=float, default=900.0, help="stop a case after this many seconds")
    ap.add_argument("--no-spark", action="store_true", help="leave the Spark engine out")
    ap.add_argument("--no-100m", action="store_true", help="leave the ~100M program out")
    ap.add_argument("--stats", default="alpha,fleiss,ds,validate,report",
                    help="comma-separated cases to run (default: alpha,fleiss,ds,validate,report)")
    ap.add_argument("--only", default="", metavar="SIZE/STAT/ENGINE,...",
                    help="run only the cases matching one of these patterns, each SIZE/STAT/ENGINE with * for any "
                         "part (e.g. '10M lake/*/*,~100M/alpha/duckdb'; sizes: 10M, '10M lake', ~100M; engines: "
                         "load_labels, pandas, duckdb, sql, spark)")
    args = ap.parse_args(argv)
    root = Path(args.workdir)
    n = 1_000_000 if args.quick else 10_000_000
    base = data(n, root)
    engines = ["load_labels", "pandas", "duckdb", "sql"] + (["spark"] if have_spark() and not args.no_spark else [])
    stats = [x.strip() for x in args.stats.split(",") if x.strip()]
    plan: list[tuple[str, str, str, str, str | None]] = []
    for stat in [x for x in ("alpha", "fleiss", "ds") if x in stats]:
        for e in engines:
            if e == "sql" and stat == "ds":
                continue
            if e == "spark" and stat == "ds" and not args.quick:
                continue  # hours on local[2] at 10M (505 s at 1M measured); see docs/scale.md
            plan.append((f"{n / 1e6:.0f}M", e, stat, str(base), None))
    if "validate" in stats:
        vsrc = str(data_validate(base))
        plan.append((f"{n / 1e6:.0f}M", "pandas", "validate", vsrc, None))
        plan.append((f"{n / 1e6:.0f}M", "duckdb", "validate", vsrc, None))
        if "spark" in engines:
            plan.append((f"{n / 1e6:.0f}M", "spark", "validate", vsrc, None))
        if not args.quick:
            plan.append((f"{n / 1e6:.0f}M", "duckdb", "validate", vsrc, "2GB"))
    lake = data_lake(base, root)
    for e in ("pandas", "duckdb"):  # the same program as a lake export (see data_lake)
        if "alpha" in stats:
            plan.append((f"{n / 1e6:.0f}M lake", e, "alpha", str(lake / "part-0.parquet"), None))
    if "ds" in stats:
        plan.append((f"{n / 1e6:.0f}M lake", "duckdb", "ds", str(lake / "part-0.parquet"), "2GB"))
    if "report" in stats:
        plan.append((f"{n / 1e6:.0f}M lake", "duckdb", "report", str(lake), "2GB"))
    if not args.quick and not args.no_100m:
        big = data_100m(base, root)
        for stat in [x for x in ("alpha", "fleiss") if x in stats]:
            plan.append(("~100M", "duckdb", stat, str(big), "2GB"))
            plan.append(("~100M", "sql", stat, str(big), "2GB"))
    import fnmatch
    import os

    if args.only:
        pats = [p.strip() for p in args.only.split(",") if p.strip()]
        plan = [c for c in plan if any(fnmatch.fnmatchcase(f"{c[0]}/{c[2]}/{c[1]}", p) for p in pats)]
    print(f"load average before the run: {os.getloadavg()}", flush=True)
    names = {"load_labels": "pandas (load_labels, before)", "pandas": "pandas engine", "duckdb": "duckdb engine",
             "sql": "duckdb SQL (hand-written)", "spark": "spark engine local[2]"}
    rows = []
    print(f"{'size':<9} {'statistic':<9} {'engine':<30} {'cap':>5} {'wall s':>8} {'peak MB':>8}  value", flush=True)
    for size, e, stat, src, mem in plan:
        r = measure(e, stat, src, mem, args.timeout)
        rows.append((size, e, stat, r))
        val = f"{r['value']:.12f}" if "value" in r else r.get("error", "")
        extra = f"  ({r['n_iter']} EM steps)" if r.get("n_iter") else ""
        wall = f"{r['wall_s']:8.1f}" if "wall_s" in r else f"{'-':>8}"
        print(f"{size:<9} {stat:<9} {names[e]:<30} {mem or '-':>5} {wall} {r['peak_mb']:8.0f}  {val}{extra}", flush=True)
    print(f"load average after the run: {os.getloadavg()}")
    bad = []
    same = {"report": "alpha"}  # the report's headline alpha is the alpha of the same program
    for size in {r[0].split()[0] for r in rows}:  # "10M" and "10M lake" are the same program
        for stat in ("alpha", "fleiss", "ds", "validate"):
            vals = [r[3]["value"] for r in rows if r[0].split()[0] == size and same.get(r[2], r[2]) == stat
                    and "value" in r[3]]
            if vals and max(vals) - min(vals) > (1e-9 if stat != "ds" else 1e-6):
                bad.append(f"{size} {stat}: values differ across engines ({min(vals)} .. {max(vals)})")
    for b in bad:
        print("MISMATCH " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
