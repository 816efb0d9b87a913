"""Benchmark: import a 1M-judgement CSV with ``labkit import`` beside plain ``pandas.read_csv``.

Run from the repository root::

    .venv/bin/python bench/bench_import.py            # 1,000,000 judgements
    .venv/bin/python bench/bench_import.py --rows 200000 --repeat 1

The CSV is generated (seeded) to look like a real export: string ids (``item-000123``,
``ann-017``), ISO 8601 timestamps with a UTC offset, durations, confidences, a task, a guideline
version, a source, a stage and a slice. Each measurement runs in a fresh subprocess, which reports
its own peak resident memory (``VmHWM``) and CPU time (user + system, all threads), so they cover
exactly that run, interpreter and imports included. Wall time is what a user waits; on a shared
machine it also counts the time spent waiting for a core, so the load average is printed beside it.
Targets (issue 2): under 10 s and under 1.5 GB peak for ``labkit import``.
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

TARGET_S = 10.0
TARGET_MB = 1536.0


def make_csv(path: Path, rows: int, seed: int = 7) -> None:
    """Write a realistic label export with ``rows`` judgements."""
    rng = np.random.default_rng(seed)
    n_items = max(rows // 5, 1)
    items = np.char.add("item-", np.char.zfill(np.arange(n_items).astype(str), 7))
    annotators = np.char.add("ann-", np.char.zfill(np.arange(200).astype(str), 3))
    labels = np.array(["toxic", "insult", "threat", "identity_attack", "none"])
    start = np.datetime64("2026-09-07T08:00:00", "s")
    secs = np.sort(rng.integers(0, 56 * 86400, rows))
    created = pd.Series(start + secs.astype("timedelta64[s]")).dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    df = pd.DataFrame({
        "item_id": items[rng.integers(0, n_items, rows)],
        "annotator_id": annotators[rng.integers(0, len(annotators), rows)],
        "task": "toxicity",
        "label": labels[rng.integers(0, len(labels), rows)],
        "guideline_version": np.array(["1.0.0", "1.1.0", "2.0.0"])[np.minimum(secs // (20 * 86400), 2)],
        "created_at": created,
        "duration_s": np.round(rng.lognormal(2.5, 0.6, rows), 2),
        "confidence": np.round(rng.uniform(0.3, 1.0, rows), 3),
        "source": "human",
        "stage": "label",
        "slice": np.array(["news", "forum", "social"])[rng.integers(0, 3, rows)],
    })
    df.to_csv(path, index=False)


def make_label_studio(path: Path, judgements: int, seed: int = 7) -> None:
    """Write a Label Studio JSON export: tasks with 4 annotations (choices) and 1 prediction each."""
    rng = np.random.default_rng(seed)
    choices = ["toxic", "insult", "threat", "identity_attack", "none"]
    tasks = []
    for i in range(max(judgements // 5, 1)):
        anns = [{"id": i * 4 + j, "completed_by": {"id": int(rng.integers(200)), "email": "someone@example.org"},
                 "result": [{"id": f"r{i}-{j}", "from_name": "toxicity", "to_name": "text", "type": "choices",
                             "origin": "manual", "value": {"choices": [choices[int(rng.integers(5))]]}}],
                 "was_cancelled": False, "ground_truth": bool(j == 0 and i % 50 == 0),
                 "created_at": f"2026-09-{7 + i % 20:02d}T10:{j:02d}:00.000000Z",
                 "lead_time": round(float(rng.lognormal(2.5, 0.6)), 2), "task": i, "project": 1}
                for j in range(4)]
        tasks.append({"id": i, "data": {"item_id": f"item-{i:07d}", "text": "a comment of some length " * 4,
                                        "slice": ["news", "forum", "social"][i % 3]},
                      "annotations": anns,
                      "predictions": [{"model_version": "clf-3", "score": round(float(rng.uniform()), 3),
                                       "result": [{"from_name": "toxicity", "to_name": "text", "type": "choices",
                                                   "value": {"choices": [choices[int(rng.integers(5))]]}}]}]})
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(tasks, fh)


def make_dirty(src: Path, dst: Path, every: int = 1000) -> int:
    """Copy ``src`` with one ragged row and one unparseable timestamp per ``every`` rows; return how many."""
    bad = 0
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as g:
        for i, line in enumerate(f):
            if i and i % every == 0:
                line = line.rstrip("\n") + ",EXTRA\n"
                bad += 1
            elif i and i % every == every // 2:
                parts = line.split(",")
                parts[5] = "yesterday"
                line = ",".join(parts)
                bad += 1
            g.write(line)
    return bad


def run_child(code: str) -> tuple[float, float, float, str]:
    """Run ``code`` in a fresh Python; return (wall s, CPU s, peak RSS in MB of that child, stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{proc.stderr}")
    # Each child reports its own peak (VmHWM) as its last stdout line: RUSAGE_CHILDREN's ru_maxrss is
    # the maximum over every child waited for so far and would not separate the runs.
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return wall, info["cpu_s"], info["maxrss_kb"] / 1024.0, proc.stdout


# VmHWM (peak resident set of this process image) starts afresh at exec, unlike ru_maxrss, which a
# child inherits from the parent it was forked from.
# CPU time (user + system, all threads of the child) says what the run costs when the machine is shared:
# wall time then also counts the time spent waiting for a core.
CHILD_FOOTER = ("\nimport json, resource\nhwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]"
                "\nru = resource.getrusage(resource.RUSAGE_SELF)"
                "\nprint(json.dumps({'maxrss_kb': int(hwm.split()[1]), 'cpu_s': ru.ru_utime + ru.ru_stime}))")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2, help="runs per tool (the best time is reported)")
    ap.add_argument("--keep", help="folder to keep the generated CSV in (default: a temporary folder)")
    ap.add_argument("--ls-judgements", type=int, default=200_000,
                    help="judgements in the Label Studio JSON export timed after the CSV (0: skip)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 100,000 judgements, one run per tool")
    args = ap.parse_args(argv)
    if args.quick:
        args.rows, args.repeat, args.ls_judgements = 100_000, 1, 20_000
    with tempfile.TemporaryDirectory() as tmpdir:
        folder = Path(args.keep or tmpdir)
        folder.mkdir(parents=True, exist_ok=True)
        src = folder / f"labels_{args.rows}.csv"
        if not src.exists():
            t0 = time.perf_counter()
            make_csv(src, args.rows)
            print(f"generated {src} ({src.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s")
        dirty = folder / f"labels_{args.rows}_dirty.csv"
        if not dirty.exists():
            n_bad = make_dirty(src, dirty)
            print(f"dirty copy: {dirty} ({n_bad:,} malformed rows: ragged rows and bad timestamps)")
        out = folder / "labels.parquet"
        runs = {
            "labkit import (CLI, CSV -> Parquet + quarantine)": (
                "import sys\nfrom labkit.cli import main\n"
                f"rc = main(['import', {str(src)!r}, '--out', {str(out)!r}, '--json'])\nassert rc == 0, rc"),
            "labkit import, same file with 0.2% malformed rows": (
                "import sys\nfrom labkit.cli import main\n"
                f"rc = main(['import', {str(dirty)!r}, '--out', {str(folder / 'dirty.parquet')!r}, '--json'])\n"
                "assert rc == 0, rc"),
            "pandas.read_csv (all columns as str)": (
                f"import pandas as pd\ndf = pd.read_csv({str(src)!r}, dtype=str)\nprint(len(df))"),
            "pandas.read_csv (default type inference)": (
                f"import pandas as pd\ndf = pd.read_csv({str(src)!r})\nprint(len(df))"),
        }
        results = []
        load_before = os.getloadavg()[0]
        for name, code in runs.items():
            best_wall, best_cpu, peak = float("inf"), float("inf"), 0.0
            for _ in range(args.repeat):
                wall, cpu, mb, _ = run_child(code + CHILD_FOOTER)
                best_wall, best_cpu, peak = min(best_wall, wall), min(best_cpu, cpu), max(peak, mb)
            results.append((name, best_wall, best_cpu, peak))
        load_after = os.getloadavg()[0]
        check = pd.read_parquet(out)
        print(f"\n{args.rows:,} judgements, {os.cpu_count()} cores (load average {load_before:.1f} before, "
              f"{load_after:.1f} after), python {sys.version.split()[0]}, pandas {pd.__version__}; times include "
              f"interpreter start and imports; best of {args.repeat}")
        print(f"{'tool':<52} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12}")
        for name, wall, cpu, mb in results:
            print(f"{name:<52} {wall:>8.2f} {cpu:>8.2f} {mb:>12.0f}")
        lk = results[0]
        ok = lk[1] < TARGET_S and lk[3] < TARGET_MB
        print(f"\ntargets: < {TARGET_S:.0f} s and < {TARGET_MB:.0f} MB for labkit import: "
              f"{'met' if ok else 'NOT met'}; output rows {len(check):,}")
        if args.ls_judgements:
            ls_src = folder / f"label_studio_{args.ls_judgements}.json"
            if not ls_src.exists():
                make_label_studio(ls_src, args.ls_judgements)
            ls_out = folder / "ls.parquet"
            ls_runs = {
                "labkit import (Label Studio JSON -> Parquet + gold)": (
                    "from labkit.cli import main\n"
                    f"rc = main(['import', {str(ls_src)!r}, '--out', {str(ls_out)!r}, '--json'])\nassert rc == 0, rc"),
                "json.load of the same file (parse only)": (
                    f"import json\ndoc = json.load(open({str(ls_src)!r}, encoding='utf-8'))\nprint(len(doc))"),
            }
            print(f"\nLabel Studio export: {args.ls_judgements:,} judgements ({args.ls_judgements // 5:,} tasks, 4 "
                  f"annotations and 1 prediction each), {ls_src.stat().st_size / 1e6:.1f} MB; best of {args.repeat}")
            print(f"{'tool':<52} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12}")
            for name, code in ls_runs.items():
                best = [float("inf"), float("inf"), 0.0]
                for _ in range(args.repeat):
                    wall, cpu, mb, _ = run_child(code + CHILD_FOOTER)
                    best = [min(best[0], wall), min(best[1], cpu), max(best[2], mb)]
                print(f"{name:<52} {best[0]:>8.2f} {best[1]:>8.2f} {best[2]:>12.0f}")
            print(f"output rows {len(pd.read_parquet(ls_out)):,}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
