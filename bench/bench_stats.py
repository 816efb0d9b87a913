"""Benchmark labkit.stats beside its peers on synthetic programs and on the public datasets.

    .venv/bin/python bench/bench_stats.py                  # 100k, 1M and 10M judgements (about 15 minutes)
    .venv/bin/python bench/bench_stats.py --quick          # 100k only, a smoke run

Synthetic program: 5,000 annotators with a heavy-tailed volume (Zipf-like), unequal raters per item
(1 + Poisson(2.5), so about 3.5 on average), 5 labels with an uneven prior, annotator accuracy drawn
from Beta(8, 2) plus 5% spammers who answer at random. Written once per size as a canonical label
table (Parquet); every case then runs in its own subprocess that reads it, so the peak RSS
(``os.wait4`` rusage) is per case and includes the loaded table. labkit is timed from the canonical
table to the number; peers are timed on their own input format only (building it is left out of
their time, which favours them). A peer that would take absurdly long or need more memory than the
machine has is skipped or stopped at ``--timeout`` and says so.

Peers: krippendorff (dense reliability matrix and value_counts paths), nltk's AnnotationTask.alpha,
statsmodels' fleiss_kappa (assumes equal raters per item, so its value differs on this data),
crowd-kit's MajorityVote and DawidSkene (bench-only dependencies: ``pip install labkit[bench]``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

N_ANNOTATORS = 5000
N_LABELS = 5
REPEATS = 5          # best of this many runs ...
REPEAT_BELOW = 5.0   # ... for cases whose first run takes less than this (seconds)
REPO = Path(__file__).resolve().parents[1]
PUBLIC = REPO / "tests" / "data" / "public"


# ----------------------------------------------------------------------------- synthetic program
def generate(n: int, out: Path, seed: int = 0) -> None:
    """Write ``program.parquet`` (canonical label table, about ``n`` judgements) and ``truth.npy``."""
    import pandas as pd

    from labkit.schema import write_labels

    rng = np.random.default_rng(seed)
    n_items = int(n / 3.5)
    m = 1 + rng.poisson(2.5, n_items)
    item = np.repeat(np.arange(n_items), m)
    vol = 1.0 / np.arange(1, N_ANNOTATORS + 1) ** 0.8
    ann = rng.choice(N_ANNOTATORS, size=item.size, p=vol / vol.sum())
    key = np.unique(item.astype(np.int64) * N_ANNOTATORS + ann)  # one judgement per (item, annotator)
    item, ann = (key // N_ANNOTATORS).astype(np.int32), (key % N_ANNOTATORS).astype(np.int32)
    prior = np.array([0.4, 0.25, 0.15, 0.12, 0.08])
    truth = rng.choice(N_LABELS, size=n_items, p=prior)
    acc = rng.beta(8, 2, N_ANNOTATORS)
    acc[rng.random(N_ANNOTATORS) < 0.05] = 1.0 / N_LABELS  # spammers
    right = rng.random(item.size) < acc[ann]
    other = (truth[item] + rng.integers(1, N_LABELS, item.size)) % N_LABELS
    label = np.where(right, truth[item], other).astype(np.int8)
    used = np.unique(item)
    remap = np.full(n_items, -1, np.int64)
    remap[used] = np.arange(used.size)
    item = remap[item].astype(np.int32)
    truth = truth[used]
    rows = item.size
    cat = lambda codes, names: pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype="str"))  # noqa: E731
    table = pd.DataFrame({
        "item_id": cat(item, [f"i{i:08d}" for i in range(used.size)]),
        "annotator_id": cat(ann, [f"a{i:05d}" for i in range(N_ANNOTATORS)]),
        "task": cat(np.zeros(rows, np.int8), ["synthetic"]),
        "label": cat(label, [f"L{k}" for k in range(N_LABELS)]),
        "guideline_version": cat(np.zeros(rows, np.int8), ["1.0.0"]),
        "created_at": pd.Series(pd.NaT, index=range(rows), dtype="datetime64[ns, UTC]"),
        "duration_s": np.full(rows, np.nan), "confidence": np.full(rows, np.nan),
        "source": cat(np.zeros(rows, np.int8), ["human", "model"]),
        "stage": cat(np.zeros(rows, np.int8), ["label", "review", "adjudication"]),
        "slice": cat(np.zeros(rows, np.int8), ["all"]),
    })
    out.mkdir(parents=True, exist_ok=True)
    write_labels(table, out / "program.parquet")
    np.save(out / "truth.npy", truth)


# ----------------------------------------------------------------------------- cases (child side)
def _codes(table: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (table["item_id"].cat.codes.to_numpy(), table["annotator_id"].cat.codes.to_numpy(),
            table["label"].cat.codes.to_numpy())


def _acc_by_item_code(labels: Any, truth: np.ndarray, label_names: list[str]) -> float:
    """labels: Series item_id (str 'iNNNNNNNN') -> label name."""
    idx = np.array([int(s[1:]) for s in labels.index.astype(str)])
    lab = np.array([label_names.index(str(x)) if str(x) in label_names else -1 for x in labels.to_numpy()]) \
        if len(labels) < 50000 else _fast_label_codes(labels, label_names)
    return float((lab == truth[idx]).mean())


def _fast_label_codes(labels: Any, names: list[str]) -> np.ndarray:
    import pandas as pd

    return pd.Index(names).get_indexer(labels.astype(str).to_numpy())


def run_case(case: str, data: Path) -> dict[str, Any]:
    import pandas as pd
    import psutil

    from labkit.schema import read_labels_parquet

    table = read_labels_parquet(data / "program.parquet")
    truth = np.load(data / "truth.npy")
    names = [str(x) for x in table["label"].cat.categories]
    rss_loaded = psutil.Process().memory_info().rss
    res: dict[str, Any] = {}
    prep = None
    # import every library before the clock starts (import time is not compute time)
    import krippendorff  # noqa: F401
    import labkit.stats  # noqa: F401
    if case.startswith("ck_"):
        import crowdkit.aggregation  # noqa: F401
    if case == "nltk_alpha":
        import nltk.metrics.agreement  # noqa: F401
    if case == "sm_fleiss":
        import statsmodels.stats.inter_rater  # noqa: F401
    tp = time.perf_counter()
    if case in ("kripp_dense", "kripp_vc", "nltk_alpha", "sm_fleiss", "ck_mv", "ck_ds"):
        it, an, lb = _codes(table)
        if case == "kripp_dense":
            # float32 (NaN = missing) halves the matrix; the package accepts any float dtype
            prep = np.full((int(an.max()) + 1, int(it.max()) + 1), np.nan, dtype=np.float32)
            prep[an, it] = lb
        elif case in ("kripp_vc", "sm_fleiss"):
            prep = np.bincount(it.astype(np.int64) * N_LABELS + lb, minlength=(int(it.max()) + 1) * N_LABELS)
            prep = prep.reshape(-1, N_LABELS)
        elif case == "nltk_alpha":
            prep = list(zip(an.tolist(), it.tolist(), lb.tolist()))
        else:
            prep = pd.DataFrame({"task": table["item_id"].astype(str), "worker": table["annotator_id"].astype(str),
                                 "label": table["label"].astype(str)})
    if prep is not None:
        res["prep_seconds"] = time.perf_counter() - tp

    def compute() -> tuple[float, str]:
        """One run of the case: (value, note); accuracy is scored after the clock stops."""
        if case == "labkit_alpha":
            from labkit.stats import krippendorff_alpha
            return krippendorff_alpha(table).value, ""
        if case == "kripp_dense":
            import krippendorff
            return float(krippendorff.alpha(reliability_data=prep, level_of_measurement="nominal")), ""
        if case == "kripp_vc":
            import krippendorff
            return float(krippendorff.alpha(value_counts=prep, level_of_measurement="nominal")), ""
        if case == "nltk_alpha":
            from nltk.metrics.agreement import AnnotationTask
            return float(AnnotationTask(data=prep).alpha()), ""
        if case == "labkit_fleiss":
            from labkit.stats import fleiss_kappa
            return fleiss_kappa(table).value, ""
        if case == "sm_fleiss":
            from statsmodels.stats.inter_rater import fleiss_kappa as smf
            return float(smf(prep, method="fleiss")), ""
        if case == "labkit_mv":
            from labkit.stats import majority_vote
            out["result"] = majority_vote(table)
            return float("nan"), ""
        if case in ("labkit_ds", "labkit_ds_ll"):
            from labkit.stats import DawidSkene
            ds = DawidSkene(tol=1e-6, max_iter=100, smoothing=0.01, ll_tol=1e-5 if case == "labkit_ds_ll" else None)
            out["result"] = ds.fit_predict(table)
            return float("nan"), f"{ds.n_iter_} EM steps, converged={ds.converged_}"
        if case == "ck_mv":
            from crowdkit.aggregation import MajorityVote
            out["result"] = MajorityVote().fit_predict(prep)
            return float("nan"), ""
        if case == "ck_ds":
            from crowdkit.aggregation import DawidSkene as CKDS
            out["result"] = CKDS(n_iter=100).fit_predict(prep)
            return float("nan"), ""
        raise SystemExit(f"unknown case {case}")

    # best of up to REPEATS runs for cases that take under REPEAT_BELOW seconds (a shared machine's
    # load only ever adds time); one run for the long ones
    out: dict[str, Any] = {}
    times = []
    while True:
        t0 = time.perf_counter()
        value, note = compute()
        times.append(time.perf_counter() - t0)
        if times[0] >= REPEAT_BELOW or len(times) >= REPEATS or sum(times) > 3 * REPEAT_BELOW:
            break
    res["seconds"] = min(times)
    res["runs"] = len(times)
    if case in ("labkit_mv", "labkit_ds", "labkit_ds_ll"):
        value = float((out["result"]["label"].cat.codes.to_numpy() == truth).mean())  # items in code order
    elif case in ("ck_mv", "ck_ds"):
        value = _acc_by_item_code(out["result"], truth, names)
    res["value"] = value
    if note:
        res["note"] = note
    res["rss_loaded_mb"] = rss_loaded / 2**20
    return res


# ----------------------------------------------------------------------------- parent side
CASES = [
    # (case, library, what, metric)
    ("labkit_alpha", "labkit", "Krippendorff alpha (nominal), from the canonical table", "alpha"),
    ("kripp_dense", "krippendorff dense", "alpha from a raters x items matrix (float32, NaN missing)", "alpha"),
    ("kripp_vc", "krippendorff value_counts", "alpha from an items x labels matrix", "alpha"),
    ("nltk_alpha", "nltk AnnotationTask", "alpha from (coder, item, label) triples", "alpha"),
    ("labkit_fleiss", "labkit", "Fleiss kappa, unequal raters per item", "kappa"),
    ("sm_fleiss", "statsmodels", "fleiss_kappa (assumes equal raters)", "kappa"),
    ("labkit_mv", "labkit", "majority vote", "accuracy vs truth"),
    ("ck_mv", "crowd-kit", "MajorityVote", "accuracy vs truth"),
    ("labkit_ds", "labkit", "Dawid-Skene, default stop (posteriors move < 1e-6, <= 100 steps)", "accuracy vs truth"),
    ("labkit_ds_ll", "labkit", "Dawid-Skene, crowd-kit's stop (log-lik. gain < 1e-5 per judgement)", "accuracy vs truth"),
    ("ck_ds", "crowd-kit", "DawidSkene (n_iter=100, tol=1e-5 on its loss)", "accuracy vs truth"),
]


def child(case: str, data: Path, timeout: float, mem_cap_gb: float) -> dict[str, Any]:
    """Run one case in a subprocess; peak RSS from the child's own rusage. The child's address space
    is capped at ``mem_cap_gb`` so a peer that needs more fails alone (MemoryError) instead of
    pushing a shared machine into its OOM killer."""
    import resource

    cmd = [sys.executable, __file__, "--case", case, "--data", str(data)]
    env = dict(os.environ, GX_ANALYTICS_ENABLED="False", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    cap = int(mem_cap_gb * 2**30)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=limit)
    start = time.monotonic()
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - start > timeout:
            os.kill(proc.pid, signal.SIGKILL)
            _, status, ru = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return {"skipped": f"stopped after {timeout:.0f} s (timeout)", "peak_mb": ru.ru_maxrss / 1024}
        time.sleep(0.05)
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    if status != 0:
        last = err.strip().splitlines()[-1] if err.strip() else str(status)
        if case == "sm_fleiss" and "AssertionError" in last:
            last = "refuses unequal raters per item (AssertionError)"
        elif "MemoryError" in last or "Unable to allocate" in last:
            last = f"out of memory under the {mem_cap_gb:.0f} GB cap ({last[:80]})"
        return {"skipped": f"failed: {last}", "peak_mb": ru.ru_maxrss / 1024}
    res = json.loads(out.strip().splitlines()[-1])
    res["peak_mb"] = ru.ru_maxrss / 1024
    return res


def dense_gb(data: Path) -> float:
    """Estimated peak (GB) of krippendorff's dense path: the float32 raters x items matrix (4 bytes a
    cell) and the items x raters x labels boolean comparison it builds to count values (N_LABELS
    bytes a cell); its NaN masks (2 bytes a cell) are freed before that. At 1M judgements that is
    11.9 GB; measured here: 12,637 MB peak RSS, the loaded table included."""
    import pyarrow.parquet as pq

    t = pq.read_table(data / "program.parquet", columns=["item_id"])
    n_items = len(t.column("item_id").combine_chunks().dictionary)
    return N_ANNOTATORS * n_items * (4 + N_LABELS) / 2**30


def fmt(x: Any, nd: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def bench_sizes(sizes: list[int], workdir: Path, timeout: float, dense_limit_gb: float, mem_cap_gb: float,
                skip: dict[int, set[str]], dense_timeout: float) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        d = workdir / f"n{n}"
        if not (d / "program.parquet").exists():
            t0 = time.perf_counter()
            generate(n, d)
            print(f"# generated {n:,} target judgements in {time.perf_counter() - t0:.1f} s -> {d}", file=sys.stderr)
        import pyarrow.parquet as pq

        n_rows = pq.ParquetFile(d / "program.parquet").metadata.num_rows
        for case, lib, what, metric in CASES:
            row = {"n": n, "n_rows": n_rows, "case": case, "library": lib, "what": what, "metric": metric}
            if case == "kripp_dense" and dense_gb(d) > dense_limit_gb:
                row["skipped"] = (f"skipped: its dense path would peak near {dense_gb(d):.0f} GB "
                                  f"(> --dense-limit-gb {dense_limit_gb:.1f})")
            elif case in skip.get(n, set()):
                row["skipped"] = "skipped at this size (would take far beyond the timeout; see docs)"
            else:
                print(f"# {n:,} {case} ...", file=sys.stderr, flush=True)
                row.update(child(case, d, dense_timeout if case == "kripp_dense" else timeout, mem_cap_gb))
            rows.append(row)
    return rows


def public_accuracy() -> list[dict[str, Any]]:
    import pandas as pd

    from labkit.schema import conform_gold
    from labkit.stats import DawidSkene, consensus_accuracy, majority_vote

    try:
        from crowdkit.aggregation import DawidSkene as CKDS
        from crowdkit.aggregation import MajorityVote
    except ImportError:  # pragma: no cover
        CKDS = MajorityVote = None
    out = []
    for d in sorted(p for p in PUBLIC.iterdir() if p.is_dir()):
        t = pd.read_csv(d / "long.csv", dtype=str)
        gold = conform_gold(pd.read_csv(d / "gold.csv", dtype=str))
        meta = json.loads((d / "meta.json").read_text())["stats"]
        row = {"dataset": d.name, "judgements": len(t),
               "labkit_mv": consensus_accuracy(majority_vote(t), gold)["accuracy"],
               "labkit_ds": consensus_accuracy(DawidSkene().fit_predict(t), gold)["accuracy"],
               "meta_ds": meta["dawid_skene_computed_here"]["accuracy_on_gold"]}
        if CKDS is not None:
            ck = t.rename(columns={"item_id": "task", "annotator_id": "worker"})
            g = gold.set_index(gold["item_id"].astype(str))["label"].astype(str)
            for name, model in (("ck_mv", MajorityVote()), ("ck_ds", CKDS(n_iter=100))):
                pred = model.fit_predict(ck)
                row[name] = float((pred.reindex(g.index).astype(str) == g).mean())
        out.append(row)
    return out


def report(rows: list[dict[str, Any]], public: list[dict[str, Any]]) -> str:
    lines = ["| judgements | library | what | seconds | peak RSS MB | value | note |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['n_rows']:,} | {r['library']} | {r['what']} | - | "
                         f"{fmt(r.get('peak_mb'), 0) if r.get('peak_mb') else '-'} | - | {r['skipped']} |")
        else:
            runs = f" (best of {r['runs']})" if r.get("runs", 1) > 1 else ""
            lines.append(f"| {r['n_rows']:,} | {r['library']} | {r['what']} | {r['seconds']:.3f}{runs} | {r['peak_mb']:.0f} "
                         f"(table {r['rss_loaded_mb']:.0f}) | {r['metric']} {fmt(r['value'], 10 if r['metric'] == 'alpha' else 4)} | "
                         f"{r.get('note', '')}{'; ' if r.get('note') and 'prep_seconds' in r else ''}"
                         f"{'+%.3f s to build its input (not counted)' % r['prep_seconds'] if 'prep_seconds' in r else ''} |")
    lines.append("")
    lines.append("Targets (issue 5), judged at the size each is set for; other sizes for information:")
    by = {(r["n"], r["case"]): r for r in rows}

    def t(n: int, case: str) -> dict[str, Any] | None:
        r = by.get((n, case))
        return r if r is not None and "skipped" not in r else None

    def why(n: int, case: str) -> str:
        r = by.get((n, case))
        return "not run" if r is None else str(r.get("skipped", ""))

    def verdict(ok: bool, n: int, at: int) -> str:
        return ("PASS" if ok else "FAIL") if n == at else "(info)"

    for n in sorted({r["n"] for r in rows}):
        big = 10_000_000 if n >= 10_000_000 else (1_000_000 if n >= 1_000_000 else n)
        la, kd, kv = t(n, "labkit_alpha"), t(n, "kripp_dense"), t(n, "kripp_vc")
        if la and kd:
            sp = kd["seconds"] / la["seconds"]
            lines.append(f"- {n:,}: alpha {sp:.0f}x faster than krippendorff's dense path (target >= 100x at 1M): "
                         f"{verdict(sp >= 100, big, 1_000_000)}; |diff| = {abs(la['value'] - kd['value']):.1e}")
        elif la:
            lines.append(f"- {n:,}: alpha vs krippendorff's dense path: not measured ({why(n, 'kripp_dense')})")
        if la and kv:
            sp = kv["seconds"] / la["seconds"]
            d = abs(la["value"] - kv["value"])
            lines.append(f"- {n:,}: alpha {sp:.1f}x faster than krippendorff's value_counts path (target >= 2x at 1M): "
                         f"{verdict(sp >= 2, big, 1_000_000)}; same value to 1e-9: {'PASS' if d <= 1e-9 else 'FAIL'} "
                         f"(|diff| = {d:.1e})")
        if la and big == 10_000_000:
            ok = la["seconds"] < 2 and la["peak_mb"] < 2048
            lines.append(f"- {n:,}: alpha {la['seconds']:.2f} s, peak RSS {la['peak_mb']:.0f} MB including the table "
                         f"(target < 2 s and < 2 GB at 10M): {verdict(ok, big, 10_000_000)}")
        lf = t(n, "labkit_fleiss")
        if lf and big == 10_000_000:
            lines.append(f"- {n:,}: Fleiss {lf['seconds']:.2f} s with unequal raters per item (target < 1.5 s at 10M): "
                         f"{verdict(lf['seconds'] < 1.5, big, 10_000_000)}")
        cd = t(n, "ck_ds")
        for case, rule in (("labkit_ds_ll", "crowd-kit's stopping rule"), ("labkit_ds", "labkit's default stopping rule")):
            r_ = t(n, case)
            if r_ and cd:
                sp = cd["seconds"] / r_["seconds"]
                dacc = (r_["value"] - cd["value"]) * 100
                lines.append(f"- {n:,}: Dawid-Skene ({rule}) {sp:.1f}x faster than crowd-kit (target >= 20x at 1M): "
                             f"{verdict(sp >= 20, big, 1_000_000)}; accuracy {r_['value']:.4f} vs {cd['value']:.4f} "
                             f"({dacc:+.2f} points; within 0.1 point or better: {'PASS' if dacc >= -0.1 else 'FAIL'})")
            elif r_ and big == 1_000_000:
                lines.append(f"- {n:,}: Dawid-Skene vs crowd-kit: not measured ({why(n, 'ck_ds')})")
            if r_ and big == 10_000_000:
                lines.append(f"- {n:,}: Dawid-Skene ({rule}) {r_['seconds']:.1f} s (target < 60 s at 10M): "
                             f"{verdict(r_['seconds'] < 60, big, 10_000_000)}")
    if public:
        lines += ["", "Accuracy on gold, public datasets (labkit vs crowd-kit; meta = value recorded with the data):", "",
                  "| dataset | judgements | labkit MV | crowd-kit MV | labkit DS | crowd-kit DS | meta DS |",
                  "|---|---|---|---|---|---|---|"]
        for p in public:
            lines.append(f"| {p['dataset']} | {p['judgements']:,} | {p['labkit_mv']:.4f} | {fmt(p.get('ck_mv'))} | "
                         f"{p['labkit_ds']:.4f} | {fmt(p.get('ck_ds'))} | {p['meta_ds']:.4f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000,10000000", help="comma-separated judgement counts")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 100,000 judgements only")
    ap.add_argument("--timeout", type=float, default=240, help="seconds before a case is stopped")
    ap.add_argument("--dense-timeout", type=float, default=900,
                    help="seconds before krippendorff's dense path is stopped (it is the slow reference)")
    ap.add_argument("--dense-limit-gb", type=float, default=None,
                    help="skip krippendorff's dense path when its estimated peak is larger "
                         "(default: 75%% of the memory available when the bench starts)")
    ap.add_argument("--mem-cap-gb", type=float, default=None,
                    help="address-space cap per case (default: 85%% of the memory available at start)")
    ap.add_argument("--skip", default="10000000:ck_ds,10000000:nltk_alpha",
                    help="size:case pairs not to run (peers far beyond the timeout)")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "labkit-bench"))
    ap.add_argument("--no-public", action="store_true", help="leave out the public-dataset accuracy table")
    ap.add_argument("--cases", help="comma-separated cases to run (default all): "
                                    + ", ".join(c[0] for c in CASES))
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, Path(args.data))))
        return 0
    import psutil

    avail = psutil.virtual_memory().available / 2**30
    dense_limit = args.dense_limit_gb if args.dense_limit_gb is not None else 0.75 * avail
    mem_cap = args.mem_cap_gb if args.mem_cap_gb is not None else 0.85 * avail
    sizes = [100_000] if args.quick else [int(float(s)) for s in args.sizes.split(",") if s]
    skip: dict[int, set[str]] = {}
    for pair in filter(None, args.skip.split(",")):
        n, c = pair.split(":")
        skip.setdefault(int(float(n)), set()).add(c)
    if args.cases:
        unknown = sorted(set(args.cases.split(",")) - {c[0] for c in CASES})
        if unknown:
            ap.error(f"unknown case(s): {', '.join(unknown)}")
        CASES[:] = [c for c in CASES if c[0] in args.cases.split(",")]
    rows = bench_sizes(sizes, Path(args.workdir), args.timeout, dense_limit, mem_cap, skip, args.dense_timeout)
    public = [] if args.no_public else public_accuracy()
    import platform

    from importlib.metadata import PackageNotFoundError, version

    def ver(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"
    print(f"labkit bench_stats on {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GB RAM ({avail:.0f} GB available at start), "
          f"Python {platform.python_version()}, numpy {np.__version__}, pandas {ver('pandas')}, "
          f"krippendorff {ver('krippendorff')}, nltk {ver('nltk')}, statsmodels {ver('statsmodels')}, "
          f"crowd-kit {ver('crowd-kit')}; single-threaded BLAS; load average at end "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(report(rows, public))
    return 0


if __name__ == "__main__":
    sys.exit(main())
