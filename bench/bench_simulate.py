"""Policy simulation: fidelity on the public datasets and throughput beside peerannot's generator.

``python bench/bench_simulate.py [--quick] [--only fidelity|throughput]``

1. Fidelity (``labkit.simulate.fidelity.check``): fit on half the gold items, predict majority-vote accuracy
   at k = 1..K labels per item on the other half, 5 splits; mean absolute error in accuracy points for
   labkit's model and the three independence baselines (equal-skill generator, gold-fitted pooled and
   per-annotator confusions), on each public dataset, beside the issue's measured best-baseline values, and
   the item-easiness scale each split's training half chose by its own cross-validation.
2. Throughput: 100 policies x 20 seeds on 100k items x 5 labels (``--quick``: 20 policies x 5 seeds on
   20k items), the whole batch timed, with peak RSS; beside peerannot's ``independent-confusion``
   generator (one run of 100k items x 3 labels, the same redundancy a typical program uses) timed in the
   same process. peerannot is installed without its torch stack: ``pip install --no-deps peerannot``
   (its generator needs only numpy and tqdm).

The noise floor of the fidelity protocol (can a correctly specified model meet the targets on these
datasets?) is ``bench/bench_simulate_noise_floor.py``, a parametric bootstrap (docs/simulation.md).
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labkit.simulate.engine import run_batch  # noqa: E402
from labkit.simulate.fidelity import check  # noqa: E402
from labkit.simulate.model import fit_program  # noqa: E402
from labkit.simulate.policies import parse_policies  # noqa: E402

PUBLIC = ROOT / "tests" / "data" / "public"
DATASETS = ["snow2008_rte", "welinder2010_bluebirds", "snow2008_temp", "snow2008_wsd", "zhou2012_dog",
            "zheng2017_d_product"]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# the issue's measured best-baseline values (accuracy points), quoted beside the baselines measured here
ISSUE_BASELINE = {"snow2008_rte": 1.82, "welinder2010_bluebirds": 5.30, "snow2008_temp": 0.77, "snow2008_wsd": 0.53,
                  "zhou2012_dog": 4.67, "zheng2017_d_product": 0.72}
UNDER_3 = {"zhou2012_dog", "welinder2010_bluebirds"}


def fidelity(quick: bool) -> None:
    print("fidelity: MAE of predicted majority-vote accuracy at k labels, accuracy points (fit on half of the gold "
          "items, 5 splits; truth = held-out items' real labels subsampled, exactly)")
    print(f"{'dataset':24s} {'k':>5s} {'labkit':>7s} {'equal':>7s} {'pooled':>7s} {'per-ann':>8s} {'issue':>6s}  "
          "< best here?  < issue's?  < 3?  item scale chosen per split")
    for name in DATASETS if not quick else ["zheng2017_d_product", "snow2008_temp"]:
        t = pd.read_csv(PUBLIC / name / "long.csv", dtype=str)
        g = pd.read_csv(PUBLIC / name / "gold.csv", dtype=str).rename(columns={"gold": "label"})
        r = check(t, g)
        m = r["mae_points"]
        best = "yes" if r["labkit_better_than_baselines"] else "no"
        issue = "yes" if m["labkit"] < ISSUE_BASELINE[name] else "no"
        u3 = ("yes" if m["labkit"] < 3 else "no") if name in UNDER_3 else "-"
        print(f"{name:24s} {'1-' + str(r['k'][-1]):>5s} {m['labkit']:7.2f} {m['equal skill']:7.2f} "
              f"{m['pooled confusion']:7.2f} {m['annotator confusion']:8.2f} {ISSUE_BASELINE[name]:6.2f}  "
              f"{best:12s} {issue:11s} {u3:4s} {' '.join(f'{sc:g}' for sc in r['item_scale_by_split'])}", flush=True)


def generated_program(n_items: int, k: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    J, K = 500, 5
    skill = rng.normal(1.5, 1.0, J)
    ease = rng.normal(0.0, 1.0, n_items)
    truth = rng.integers(0, K, n_items)
    act = rng.zipf(1.6, J).astype(float)
    ann = np.minimum(np.searchsorted(np.cumsum(act) / act.sum(), rng.random((n_items, k))), J - 1)
    p = 1 / (1 + np.exp(-(skill[ann] + ease[:, None])))
    right = rng.random((n_items, k)) < p
    wrong = (truth[:, None] + rng.integers(1, K, (n_items, k))) % K
    lab = np.where(right, truth[:, None], wrong)
    t = pd.DataFrame({"item_id": np.repeat(np.arange(n_items), k).astype(str), "annotator_id": ann.ravel().astype(str),
                      "label": lab.ravel().astype(str)})
    g = pd.DataFrame({"item_id": np.arange(0, n_items, 10).astype(str), "label": truth[::10].astype(str)})
    return t, g


def throughput(quick: bool) -> None:
    n_items, n_pol, n_seeds = (20_000, 20, 5) if quick else (100_000, 100, 20)
    rng = np.random.default_rng(0)
    t, g = generated_program(n_items, 5, rng)
    t0 = time.perf_counter()
    model = fit_program(t, g, source="generated").task()
    fit_s = time.perf_counter() - t0
    pols = []
    for i in range(n_pol):
        kind = i % 4
        d: dict = {"name": f"p{i:03d}", "labels": 1 + i % 5}
        if kind == 1:
            d["labels"] = {"min": 2, "max": 5, "agree": 2 + i % 3}
        elif kind == 2:
            d["review"] = {"fraction": (i % 10) / 20, "priority": "margin"}
        elif kind == 3:
            d["review"] = {"fraction": (i % 10) / 20, "priority": "random"}
        pols.append(d)
    policies, _ = parse_policies({"policies": pols})
    t0 = time.perf_counter()
    runs = run_batch(model, policies, n_seeds, n_items)
    run_s = time.perf_counter() - t0
    rows = [(f"labkit fit ({len(t):,} judgements)", fit_s, ""),
            (f"labkit {n_pol} policies x {n_seeds} seeds, {n_items:,} items x <=5 labels", run_s,
             f"{len(runs)} runs, {run_s / len(runs) * 1000:.1f} ms per run")]
    try:
        from peerannot.helpers.simulations_strategies import with_confusion

        K, W = 5, 500
        truth = rng.integers(0, K, n_items)
        mats = np.stack([np.full((K, K), 0.05) + np.eye(K) * 0.75 for _ in range(W)])
        t0 = time.perf_counter()
        with_confusion(W, truth, K, mats, rng, feedback=3, verbose=False, imbalance_votes=False, workerload=n_items)
        pa_s = time.perf_counter() - t0
        rows.append((f"peerannot with_confusion, one run of {n_items:,} items x 3 labels", pa_s, "independent confusions"))
    except ImportError:
        rows.append(("peerannot", float("nan"), "not installed: pip install --no-deps peerannot"))
    print(f"\nthroughput (peak RSS of this process {peak_mb():.0f} MB)")
    print(f"{'what':66s} {'seconds':>9s}  note")
    for what, s, note in rows:
        print(f"{what:66s} {s:9.2f}  {note}", flush=True)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    import os

    print(f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs")
    only = argv[argv.index("--only") + 1] if "--only" in argv else ""
    if only not in ("", "fidelity", "throughput"):
        print(f"--only takes fidelity or throughput, got {only!r}", file=sys.stderr)
        return 2
    if only != "throughput":
        fidelity(quick)
    if only != "fidelity":
        throughput(quick)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
