"""Benchmark: the quality report end to end on a synthetic program of N judgements (default 1M).

Target (issue 6): under 90 s and under 4 GB peak RSS for 1M judgements, from `labkit report run`'s
runner (kernel start, load, validation, every statistic, figures, HTML) to the written page.

Peers measured in the same run on the same judgements, for scale:

* ``krippendorff.alpha`` (the reference package) against labkit's alpha on the count tables;
* ``crowdkit`` Dawid-Skene against labkit's Dawid-Skene;
* papermill + nbconvert on an empty notebook (the fixed cost of a kernel and a page).

Usage::

    .venv/bin/python bench/bench_reports.py [--n 1000000] [--no-validate] [--keep DIR]

Peak RSS is read from ``getrusage``: ``self`` is this process (runner, nbconvert), ``kernel`` the
largest child (the notebook's kernel, which holds the data).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def synth(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """n judgements: items x 10 annotators each, 6 labels, 200 annotators of varied skill, 8 weeks,
    three guideline versions, three slices, durations and confidences; gold on 2% of items."""
    rng = np.random.default_rng(seed)
    per_item = 10
    n_items = n // per_item
    labels = np.array(["ok", "offensive", "insult", "hate", "spam", "self_promotion"])
    truth = rng.choice(len(labels), n_items, p=[0.5, 0.15, 0.12, 0.08, 0.1, 0.05])
    item = np.repeat(np.arange(n_items), per_item)
    ann = rng.integers(0, 200, n)
    skill = rng.uniform(0.55, 0.95, 200)[ann]
    right = rng.random(n) < skill
    lab = np.where(right, truth[item], rng.integers(0, len(labels), n))
    t0 = pd.Timestamp("2026-09-07T00:00:00Z").value
    created = t0 + (item / n_items * 56 * 86400e9).astype(np.int64) + rng.integers(0, 3 * 3600e9, n)
    version = np.where(item < n_items * 0.3, "1.0.0", np.where(item < n_items * 0.7, "1.1.0", "2.0.0"))
    table = pd.DataFrame({
        "item_id": pd.Categorical(np.char.add("i", item.astype(str))),
        "annotator_id": pd.Categorical(np.char.add("w", ann.astype(str))),
        "task": pd.Categorical(np.full(n, "toxicity")),
        "label": pd.Categorical(labels[lab]),
        "guideline_version": pd.Categorical(version),
        "created_at": pd.to_datetime(created, utc=True),
        "duration_s": rng.lognormal(2.5, 0.5, n).round(1),
        "confidence": np.clip(skill + rng.normal(0, 0.1, n), 0, 1).round(2),
        "source": pd.Categorical(np.full(n, "human")),
        "stage": pd.Categorical(np.full(n, "label")),
        "slice": pd.Categorical(np.array(["forum", "chat", "reviews"])[item % 3]),
    })
    g_items = np.flatnonzero(rng.random(n_items) < 0.02)
    gold = pd.DataFrame({"item_id": np.char.add("i", g_items.astype(str)), "task": "toxicity",
                         "label": labels[truth[g_items]], "guideline_version": "2.0.0", "decided_by": "expert",
                         "rationale": "synthetic"})
    return table, gold


def rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: KiB


class TreePeak:
    """Samples the resident memory of this process plus all its children (the report kernel) every
    0.2 s with psutil; ``peak_mb`` is the largest sum seen (what the machine must hold at once)."""

    def __init__(self) -> None:
        import threading

        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self._stop.wait(0.2)

    def __enter__(self) -> "TreePeak":
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--no-validate", action="store_true", help="skip the Great Expectations section")
    ap.add_argument("--keep", default="", help="keep the data and the run folder here")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 50,000 judgements (bench/run.py --quick)")
    args = ap.parse_args()
    if args.quick:
        args.n = 50_000
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("LABKIT_PSEUDONYM_KEY", "bench")
    from labkit.schema import conform_labels, write_labels

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_reports_"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    t = time.perf_counter()
    table, gold = synth(args.n)
    table = conform_labels(table).table
    write_labels(table, work / "labels.parquet")
    gold.to_csv(work / "gold.csv", index=False)
    rows.append(("synthesize + write Parquet", "labkit", time.perf_counter() - t, ""))

    # peers on the same judgements
    from labkit.stats.agreement import krippendorff_alpha
    from labkit.stats.consensus import DawidSkene

    t = time.perf_counter()
    a = krippendorff_alpha(table)
    rows.append(("Krippendorff alpha (nominal)", "labkit", time.perf_counter() - t, f"alpha={a.value:.4f}"))
    try:
        import krippendorff

        # the value_counts path (items x labels counts): every judgement counts, as in labkit. The
        # dense raters x items path keeps one value per (annotator, item) and this synthetic program
        # has annotators who label an item twice, so its value would differ by construction.
        ic = table["item_id"].cat.codes.to_numpy()
        lc = table["label"].cat.codes.to_numpy()
        vc = np.zeros((int(ic.max()) + 1, len(table["label"].cat.categories)), dtype=float)
        np.add.at(vc, (ic, lc), 1.0)
        t = time.perf_counter()
        ka = krippendorff.alpha(value_counts=vc, level_of_measurement="nominal")
        rows.append(("Krippendorff alpha (nominal)", "krippendorff", time.perf_counter() - t,
                     f"alpha={ka:.4f} (value_counts path)"))
        del vc
    except ImportError:
        rows.append(("Krippendorff alpha (nominal)", "krippendorff", float("nan"), "not installed"))
    t = time.perf_counter()
    ds = DawidSkene().fit_predict(table)
    rows.append(("Dawid-Skene", "labkit", time.perf_counter() - t, f"{len(ds):,} items"))
    try:
        from crowdkit.aggregation import DawidSkene as CkDS

        df = pd.DataFrame({"task": table["item_id"].astype(str), "worker": table["annotator_id"].astype(str),
                           "label": table["label"].astype(str)})
        t = time.perf_counter()
        res = CkDS(n_iter=100).fit_predict(df)
        rows.append(("Dawid-Skene", "crowd-kit", time.perf_counter() - t, f"{len(res):,} items"))
        del df
    except ImportError:
        rows.append(("Dawid-Skene", "crowd-kit", float("nan"), "not installed"))
    del table, ds

    # fixed cost: papermill + nbconvert on an empty notebook
    import nbformat

    from labkit.reports.html import notebook_to_html
    from labkit.reports.runner import IPCKernelManagerFactory

    import papermill

    empty = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    empty.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(empty, work / "empty.ipynb")
    t = time.perf_counter()
    papermill.execute_notebook(str(work / "empty.ipynb"), str(work / "empty.out.ipynb"), progress_bar=False,
                               kernel_manager_class=IPCKernelManagerFactory.get())
    notebook_to_html(work / "empty.out.ipynb")
    rows.append(("empty notebook: kernel + HTML", "papermill + nbconvert", time.perf_counter() - t, ""))

    # the report, end to end through the runner
    from labkit.reports.config import load_config
    from labkit.reports.runner import run_reports

    cfg = work / "reports.yaml"
    cfg.write_text(
        "out: out\ntimeout: 600\nreports:\n  quality_report:\n"
        f"    notebook: {ROOT / 'notebooks' / 'quality_report.ipynb'}\n"
        f"    parameters: {{labels: {work / 'labels.parquet'}, gold: {work / 'gold.csv'}, items: '', "
        f"guidelines: {ROOT / 'guidelines'}, validate: {'false' if args.no_validate else 'true'}}}\n",
        encoding="utf-8")
    t = time.perf_counter()
    with TreePeak() as tree:
        summary = run_reports(load_config(cfg))
    took = time.perf_counter() - t
    r = summary["runs"][0]
    size = Path(r["html"]).stat().st_size / 1e6 if r["html"] else float("nan")
    rows.append(("quality report end to end", "labkit report run", took,
                 f"{r['status']}; page {size:.1f} MB" + (f"; {r['error']}" if r["error"] else "")))

    print(f"\nquality report benchmark: {args.n:,} judgements "
          f"({'with' if not args.no_validate else 'without'} validation), python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, load average at the end {os.getloadavg()[0]:.1f} (others' work slows every row)\n")
    print(f"{'step':<34} {'implementation':<24} {'seconds':>9}  notes")
    print("-" * 100)
    for step, impl, secs, note in rows:
        print(f"{step:<34} {impl:<24} {secs:>9.2f}  {note}")
    print("-" * 100)
    print(f"peak RSS (getrusage): this process {rss_mb(resource.RUSAGE_SELF):,.0f} MB (data synthesis and the peers "
          f"included), largest finished child {rss_mb(resource.RUSAGE_CHILDREN):,.0f} MB")
    print(f"peak RSS during the report (psutil, this process + report kernel, summed): {tree.peak_mb:,.0f} MB")
    print(f"targets: end to end < 90 s: {'met' if took < 90 else 'NOT met'} ({took:.1f} s); "
          f"peak < 4096 MB: {'met' if tree.peak_mb < 4096 else 'NOT met'} ({tree.peak_mb:,.0f} MB)")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if r["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
