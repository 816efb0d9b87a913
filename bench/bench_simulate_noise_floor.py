"""Noise floor of the issue-19 fidelity protocol: can a correctly specified model meet the targets?

``python bench/bench_simulate_noise_floor.py run DATASET --n N [--start B] [--scale S] [--fixed-scale] [--out FILE.jsonl]``
``python bench/bench_simulate_noise_floor.py table FILE.jsonl [FILE.jsonl ...]``

A parametric bootstrap. labkit's simulator model is fitted on ALL gold items of a public dataset (the fit
``labkit simulate fit`` makes: skills, easiness scaled by the cross-validated item scale s, wrong-label
profiles) and taken as the TRUE population. Each synthetic dataset has the real shape: the same items (their
true class, easiness and wrong-label profile), the same annotators and exactly the real judgements (who
labeled what), each label redrawn from the true model. On each, ``labkit.simulate.fidelity.check`` runs
unchanged (5 splits; the split seed is the synthetic dataset's number, so every dataset sees other halves;
labkit refitted on each training half with its own item-scale choice, the three baselines fitted on the same
half). Two oracles are scored against the same held-out truth curves:

- *oracle (population)*: the TRUE model's expected majority-vote accuracy curve over all items (annotators
  drawn from each item's real annotators, as the protocol draws them) -- the best any prediction that does not
  know which items are held out can do;
- *oracle (held-out items)*: the TRUE model's expected curve of the held-out half's own items -- what is left
  is label noise alone.

Nothing here is fitted on the held-out halves; the true model is fitted on the real data (all of it), which
is the point: it is the model the protocol would be testing if labkit were exactly right.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labkit.simulate.engine import draw_assigned, mv_credit  # noqa: E402
from labkit.simulate.fidelity import (  # noqa: E402
    BASELINES,
    _item_model,
    _ks,
    _labels,
    check,
    choose_item_scale,
    scaled_easiness,
)
from labkit.simulate.model import assignment, fit_task_arrays  # noqa: E402
from labkit.stats.counts import CountTables, as_label_table  # noqa: E402

PUBLIC = ROOT / "tests" / "data" / "public"


def load(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    t = pd.read_csv(PUBLIC / name / "long.csv", dtype=str)
    g = pd.read_csv(PUBLIC / name / "gold.csv", dtype=str).rename(columns={"gold": "label"})
    return t, g


def true_model(t: pd.DataFrame, g: pd.DataFrame, scale: float | None) -> dict:
    """labkit's model fitted on every gold item (scale: the cross-validated choice when None)."""
    ct = CountTables.from_labels(as_label_table(t), source="human")
    gmap = pd.Series(g["label"].astype(str).to_numpy(), index=g["item_id"].astype(str).to_numpy())
    labels = [str(x) for x in ct.labels]
    extra = sorted(set(gmap) - set(labels))
    if extra:
        ct = CountTables.from_labels(as_label_table(t), source="human", labels=labels + extra)
        labels = [str(x) for x in ct.labels]
    K, J, I = len(labels), ct.n_annotators, ct.n_items
    truth = pd.Index(labels).get_indexer(gmap.reindex(np.asarray(ct.items).astype(str)).fillna("\0").to_numpy())
    assert (truth >= 0).all(), "every item needs gold here"
    it, an, lab = ct.item.astype(np.int64), ct.annotator.astype(np.int64), ct.label.astype(np.int64)
    fit = fit_task_arrays(it, an, lab, truth, n_items=I, n_annotators=J, n_labels=K)
    chosen = choose_item_scale(it, an, lab, truth, n_items=I, n_annotators=J, n_labels=K)
    s = chosen["scale"] if scale is None else scale
    be = scaled_easiness(fit["theta"], fit["beta"], it, an, truth, s)
    ptr, assigned = assignment(it, an, I)
    act = np.bincount(an, minlength=J).astype(np.float64)
    return {"ct": ct, "labels": labels, "K": K, "truth": truth, "it": it, "an": an,
            "probs": _item_model(fit["theta"], be, fit["wrong"]), "scale": s, "scale_cv": chosen,
            "ptr": ptr, "assigned": assigned, "p_ann": act / act.sum(),
            "counts_n": np.bincount(it, minlength=I)}


def item_curves(m: dict, reps: int, rng: np.random.Generator) -> tuple[list[int], np.ndarray]:
    """Each item's expected majority-vote credit at each k under the true model (Monte Carlo, ``reps`` draws of
    k of its real annotators), shape (items, len(ks))."""
    ks = _ks(m["counts_n"])
    items = np.arange(len(m["truth"]))
    out = np.zeros((len(items), len(ks)))
    for c, k in enumerate(ks):
        pick = np.repeat(items, reps)
        z = m["truth"][pick]
        ann = draw_assigned(m["ptr"], m["assigned"], pick, k, m["p_ann"], rng)
        lab = _labels(m["probs"](pick, z, ann), rng.random(ann.shape))
        C = np.zeros((len(pick), m["K"]))
        np.add.at(C, (np.repeat(np.arange(len(pick)), k), lab.ravel()), 1.0)
        out[:, c] = mv_credit(C, z).reshape(len(items), reps).mean(1)
    return ks, out


def synthetic(m: dict, rng: np.random.Generator) -> pd.DataFrame:
    """The real judgements (item, annotator), each label redrawn from the true model."""
    it, an = m["it"], m["an"]
    z = m["truth"][it]
    lab = _labels(m["probs"](it, z, an[:, None]), rng.random((len(it), 1)))[:, 0]
    ct = m["ct"]
    return pd.DataFrame({"item_id": np.asarray(ct.items).astype(str)[it],
                         "annotator_id": np.asarray(ct.annotators).astype(str)[an],
                         "label": np.asarray(m["labels"])[lab]})


def run(name: str, n: int, out: Path, scale: float | None, start: int, reps: int, fixed: bool) -> None:
    t, g = load(name)
    t0 = time.perf_counter()
    m = true_model(t, g, scale)
    if fixed:  # labkit told the true item scale instead of choosing it on each training half (much faster)
        import labkit.simulate.fidelity as fid

        fid.choose_item_scale = lambda *a, **kw: {"scale": m["scale"], "reason": "fixed", "mae_by_scale": {}}  # type: ignore[assignment]
    ks, ic = item_curves(m, reps, np.random.default_rng([19, 0]))
    pop = ic.mean(0)
    ct = m["ct"]
    gold_items = np.arange(ct.n_items)  # every item has gold (asserted)
    head = {"dataset": name, "kind": "true_model", "labkit_scale": "fixed" if fixed else "chosen", "scale": m["scale"], "scale_choice": m["scale_cv"]["reason"],
            "scale_cv_points": m["scale_cv"]["mae_by_scale"], "k": ks, "oracle_curve": pop.tolist(),
            "fit_seconds": round(time.perf_counter() - t0, 1), "load": os.getloadavg()[0]}
    with out.open("a") as f:
        f.write(json.dumps(head) + "\n")
    how = m["scale_cv"]["reason"] if scale is None else f"set by --scale; the cross-validation chose {m['scale_cv']['scale']:g}"
    print(f"{name}: true model s = {m['scale']:g} ({how}); oracle curve "
          f"{' '.join(f'{v:.3f}' for v in pop[[0, len(ks) // 2, -1]])} at k = {ks[0]}, {ks[len(ks) // 2]}, {ks[-1]}",
          flush=True)
    for b in range(start, start + n):
        t1 = time.perf_counter()
        syn = synthetic(m, np.random.default_rng([19, 1, b]))
        r = check(syn, g, seed=b)
        orc_pop, orc_half = [], []
        for s, cv in enumerate(r["curves"]):
            rng = np.random.default_rng([b, s])  # the split check() made (same seed, same first draw)
            perm = rng.permutation(gold_items)
            test = np.sort(perm[len(perm) // 2:])
            tc = np.asarray(cv["truth"])
            orc_pop.append(100.0 * float(np.mean(np.abs(pop - tc))))
            orc_half.append(100.0 * float(np.mean(np.abs(ic[test].mean(0) - tc))))
        rec = {"dataset": name, "kind": "synthetic", "b": b, "true_scale": m["scale"], "labkit_scale": "fixed" if fixed else "chosen",
               "mae": r["mae_points"], "mae_by_split": r["mae_by_split"], "best_baseline": r["best_baseline"],
               "best_baseline_points": r["best_baseline_points"], "oracle_population": float(np.mean(orc_pop)),
               "oracle_heldout_items": float(np.mean(orc_half)), "oracle_population_by_split": orc_pop,
               "scales": r["item_scale_by_split"],
               "labkit_bias_by_k": np.mean([np.asarray(c["labkit"]) - np.asarray(c["truth"]) for c in r["curves"]],
                                           0).round(5).tolist(),
               "seconds": round(time.perf_counter() - t1, 1), "load": os.getloadavg()[0]}
        with out.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        print(f"  b={b:3d} labkit {r['mae_points']['labkit']:.2f} best baseline {r['best_baseline_points']:.2f} "
              f"({r['best_baseline']}) oracle {rec['oracle_population']:.2f} / {rec['oracle_heldout_items']:.2f} "
              f"s {' '.join(f'{x:g}' for x in r['item_scale_by_split'])} ({rec['seconds']} s)", flush=True)


def table(files: list[str]) -> None:
    rows: dict[tuple[str, float, str], list[dict]] = {}
    heads: dict[tuple[str, float, str], dict] = {}
    for fn in files:
        for line in Path(fn).read_text().splitlines():
            d = json.loads(line)
            key = (d["dataset"], d["scale"] if d["kind"] == "true_model" else d["true_scale"],
                   d.get("labkit_scale", "chosen"))
            if d["kind"] == "true_model":
                heads[key] = d
            else:
                rows.setdefault(key, []).append(d)

    def dist(a: np.ndarray) -> str:
        return f"{a.mean():.2f} [{np.percentile(a, 10):.2f}, {np.percentile(a, 90):.2f}]"

    print("MAE in accuracy points over synthetic datasets: mean [10th, 90th percentile]")
    print(f"{'dataset':24s} {'true s':>6s} {'labkit s':>8s} {'n':>4s} {'labkit':>19s} {'best baseline':>19s} {'oracle (pop.)':>19s} "
          f"{'oracle (held-out)':>19s} {'P(labkit<best)':>15s} {'P(oracle<best)':>15s} {'P(labkit<3)':>12s} "
          f"{'P(oracle<3)':>12s}")
    for key, rs in rows.items():
        lk = np.array([r["mae"]["labkit"] for r in rs])
        bb = np.array([r["best_baseline_points"] for r in rs])
        op = np.array([r["oracle_population"] for r in rs])
        oh = np.array([r["oracle_heldout_items"] for r in rs])
        print(f"{key[0]:24s} {key[1]:6g} {key[2]:>8s} {len(rs):4d} {dist(lk):>19s} {dist(bb):>19s} {dist(op):>19s} {dist(oh):>19s} "
              f"{np.mean(lk < bb):15.2f} {np.mean(op < bb):15.2f} {np.mean(lk < 3):12.2f} {np.mean(op < 3):12.2f}")
    for key, rs in rows.items():
        bias = np.mean([r["labkit_bias_by_k"] for r in rs], 0) * 100
        k = heads[key]["k"] if key in heads else list(range(1, len(bias) + 1))
        wins = {b: float(np.mean([r["best_baseline"] == b for r in rs])) for b in BASELINES}
        sc = np.concatenate([r["scales"] for r in rs])
        print(f"{key[0]} (true s {key[1]:g}, labkit s {key[2]}): best baseline {wins}; labkit's chosen s: "
              f"{ {float(v): int(c) for v, c in zip(*np.unique(sc, return_counts=True))} }; labkit mean signed error "
              f"(points) at k={k[0]}: {bias[0]:+.2f}, k={k[len(k) // 2]}: {bias[len(k) // 2]:+.2f}, k={k[-1]}: {bias[-1]:+.2f}")


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "run":
        name = argv[1]
        n = int(argv[argv.index("--n") + 1]) if "--n" in argv else 50
        start = int(argv[argv.index("--start") + 1]) if "--start" in argv else 1
        reps = int(argv[argv.index("--reps") + 1]) if "--reps" in argv else 2000
        scale = float(argv[argv.index("--scale") + 1]) if "--scale" in argv else None
        out = Path(argv[argv.index("--out") + 1]) if "--out" in argv else Path(f"noise_floor_{name}.jsonl")
        print(f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs", flush=True)
        run(name, n, out, scale, start, reps, "--fixed-scale" in argv)
        return 0
    if len(argv) >= 2 and argv[0] == "table":
        table(argv[1:])
        return 0
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
