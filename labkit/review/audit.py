"""Audits: sequential spot checks of annotators on injected gold, and a blind audit of what was not reviewed.

Spot checks
-----------
A Bernoulli CUSUM per annotator (Page 1954; Reynolds & Stoumbos 1999) on the stream of their
judgements in time order. A gold item contributes the log-likelihood ratio of error vs no error under
accuracy ``a1`` (bad) vs ``a0`` (good); a non-gold item (optional, ``use_consensus=True``) contributes
the ratio for disagreeing with the consensus, whose probabilities follow from the consensus accuracy
``c``: ``P(disagree | a) = 1 - (a c + (1 - a)(1 - c)/(K - 1))``. The statistic is
``S_t = max(0, S_{t-1} + llr_t)``; the annotator is flagged when ``S_t > h``. The threshold ``h`` is
calibrated by simulation (:func:`calibrate_threshold`) so that a truly ``a0``-accurate annotator is
flagged with probability ``alpha`` over a stream of ``n_items`` items. :func:`simulate_detection`
measures power and delay for a drop ``a0 -> a1`` at a random point.

Blind audit
-----------
:func:`blind_audit_sample` draws a stratified random sample of items NOT in the review queue;
:func:`blind_audit_estimate` estimates the error rate of those accepted labels from the blind
re-review outcomes: the stratified estimate with a Wilson interval at the design's effective sample size
(Korn & Graubard 1998).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import ParameterError

__all__ = ["SpotCheck", "calibrate_threshold", "simulate_detection", "spot_check_status", "blind_audit_sample",
           "blind_audit_estimate", "simulate_blind_coverage"]

Z95 = 1.959963984540054


@dataclass(frozen=True)
class SpotCheck:
    """A calibrated CUSUM design.

    Parameters
    ----------
    a0, a1 : accuracy of a good annotator and the accuracy the detector is tuned to catch.
    gold_rate : share of an annotator's items that are injected gold.
    threshold : the CUSUM threshold h.
    use_consensus : add evidence from agreement with consensus on non-gold items.
    consensus_accuracy : c, the accuracy of the consensus label on non-gold items.
    n_labels : K (for the chance of agreeing with a wrong consensus).
    """

    a0: float
    a1: float
    gold_rate: float
    threshold: float
    use_consensus: bool = False
    consensus_accuracy: float = 0.95
    n_labels: int = 2

    def llr(self) -> tuple[float, float, float, float]:
        """(gold error, gold correct, disagree, agree) log-likelihood ratios of bad vs good."""
        e0, e1 = 1 - self.a0, 1 - self.a1
        d0, d1 = _disagree(self.a0, self.consensus_accuracy, self.n_labels), _disagree(
            self.a1, self.consensus_accuracy, self.n_labels)
        return (math.log(e1 / e0), math.log((1 - e1) / (1 - e0)), math.log(d1 / d0), math.log((1 - d1) / (1 - d0)))

    def run(self, is_gold: np.ndarray, wrong: np.ndarray) -> tuple[np.ndarray, int | None]:
        """CUSUM path over one stream; ``wrong`` is error on gold, disagreement on non-gold. Returns (S, alarm index)."""
        ge, gc, dd, da = self.llr()
        inc = np.where(is_gold, np.where(wrong, ge, gc), np.where(wrong, dd, da) if self.use_consensus else 0.0)
        s, path = 0.0, np.empty(len(inc))
        alarm = None
        for i, x in enumerate(inc):
            s = max(0.0, s + x)
            path[i] = s
            if alarm is None and s > self.threshold:
                alarm = i
        return path, alarm


def _disagree(a: float, c: float, k: int) -> float:
    return 1.0 - (a * c + (1 - a) * (1 - c) / max(k - 1, 1))


def _simulate_streams(rng: np.random.Generator, n_sim: int, n_items: int, gold_rate: float, acc: np.ndarray,
                      c: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(is_gold, wrong) matrices; acc is (n_sim, n_items) per-item accuracy."""
    is_gold = rng.random((n_sim, n_items)) < gold_rate
    correct = rng.random((n_sim, n_items)) < acc
    cons_ok = rng.random((n_sim, n_items)) < c
    # a wrong annotator agrees with a wrong consensus with chance 1/(K-1)
    same_wrong = rng.random((n_sim, n_items)) < 1.0 / max(k - 1, 1)
    agree = np.where(correct, cons_ok, ~cons_ok & same_wrong)
    wrong = np.where(is_gold, ~correct, ~agree)
    return is_gold, wrong


def _cusum_max(design: SpotCheck, is_gold: np.ndarray, wrong: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised over simulations: (max statistic, first index above threshold or -1)."""
    ge, gc, dd, da = design.llr()
    inc = np.where(is_gold, np.where(wrong, ge, gc), np.where(wrong, dd, da) if design.use_consensus else 0.0)
    n_sim, n = inc.shape
    s = np.zeros(n_sim)
    mx = np.zeros(n_sim)
    first = np.full(n_sim, -1)
    for t in range(n):
        s = np.maximum(0.0, s + inc[:, t])
        mx = np.maximum(mx, s)
        hit = (first < 0) & (s > design.threshold)
        first[hit] = t
    return mx, first


def calibrate_threshold(*, a0: float = 0.95, a1: float = 0.85, gold_rate: float = 0.085, n_items: int = 2000,
                        alpha: float = 0.045, use_consensus: bool = False, consensus_accuracy: float = 0.95,
                        n_labels: int = 2, n_sim: int = 4000, seed: int = 0) -> SpotCheck:
    """The CUSUM threshold whose false-alarm probability over ``n_items`` for an ``a0`` annotator is ``alpha``.

    Simulates ``n_sim`` good streams and takes the (1 - alpha) quantile of their maximum statistic. The
    default 4.5% leaves room for the simulation error so the stated bound, 5% over 2,000 items, holds.
    """
    for name, v in (("a0", a0), ("a1", a1), ("gold_rate", gold_rate), ("alpha", alpha)):
        if not 0 < v < 1:
            raise ParameterError(f"{name} must be in (0, 1), got {v}")
    if a1 >= a0:
        raise ParameterError(f"a1 ({a1}) must be below a0 ({a0})")
    rng = np.random.default_rng(seed)
    design = SpotCheck(a0, a1, gold_rate, math.inf, use_consensus, consensus_accuracy, n_labels)
    g, w = _simulate_streams(rng, n_sim, n_items, gold_rate, np.full((n_sim, n_items), a0), consensus_accuracy, n_labels)
    mx, _ = _cusum_max(design, g, w)
    h = float(np.quantile(mx, 1 - alpha, method="higher"))
    return SpotCheck(a0, a1, gold_rate, h, use_consensus, consensus_accuracy, n_labels)


def simulate_detection(design: SpotCheck, *, n_items: int = 2000, window: int = 1000, n_sim: int = 2000,
                       drop: bool = True, seed: int = 1) -> dict[str, Any]:
    """Simulate streams (accuracy a0, dropping to a1 at a uniform point in [0, n_items - window) when ``drop``).

    Returns false_alarm (alarm before the change, or anywhere when no drop), power (alarm within
    ``window`` items after the change), median and 90th percentile detection delay (items after the change).
    """
    rng = np.random.default_rng(seed)
    tau = rng.integers(0, max(n_items - window, 1), n_sim) if drop else np.full(n_sim, n_items)
    acc = np.where(np.arange(n_items)[None, :] >= tau[:, None], design.a1, design.a0)
    g, w = _simulate_streams(rng, n_sim, n_items, design.gold_rate, acc, design.consensus_accuracy, design.n_labels)
    _, first = _cusum_max(design, g, w)
    alarmed = first >= 0
    early = alarmed & (first < tau)
    hit = alarmed & (first >= tau) & (first < tau + window)
    delay = (first - tau)[alarmed & (first >= tau)]
    return {"n_sim": n_sim, "false_alarm": float(early.mean()), "power": float(hit.mean()) if drop else float("nan"),
            "median_delay": float(np.median(delay)) if len(delay) else float("nan"),
            "p90_delay": float(np.quantile(delay, 0.9)) if len(delay) else float("nan")}


def spot_check_status(table: pd.DataFrame, gold: pd.DataFrame, design: SpotCheck, *,
                      consensus: pd.DataFrame | None = None) -> pd.DataFrame:
    """Run the CUSUM over each annotator's label-stage judgements in time order (created_at, then row order).

    Gold items count as errors when the label differs from gold; with ``design.use_consensus`` and a
    ``consensus`` frame (item_id, task, label), other items count as disagreements with consensus.
    Returns one row per annotator: n_gold, n_gold_wrong, n_other, statistic, threshold, flagged, flagged_at
    (0-based position of the alarm among all the annotator's judgements in time order; -1 when none),
    status (``ok`` | ``flagged``).
    """
    t = table[(table["stage"].astype(str) == "label") & (table["source"].astype(str) == "human")].copy()
    t["_pos"] = np.arange(len(t))
    t = t.sort_values(["created_at", "_pos"], kind="stable", na_position="last")
    key = t["item_id"].astype(str) + "\x1f" + t["task"].astype(str)
    gk = pd.Series(gold["label"].astype(str).to_numpy(),
                   index=gold["item_id"].astype(str) + "\x1f" + gold["task"].astype(str))
    gl = key.map(gk)
    is_gold = gl.notna().to_numpy()
    lab = t["label"].astype(str).to_numpy()
    wrong = np.where(is_gold, lab != gl.fillna("").to_numpy(), False)
    if consensus is not None and len(consensus):
        ck = pd.Series(consensus["label"].astype(str).to_numpy(),
                       index=consensus["item_id"].astype(str) + "\x1f" + consensus["task"].astype(str))
        cl = key.map(ck)
        has = cl.notna().to_numpy()
        wrong = np.where(is_gold, wrong, has & (lab != cl.fillna("").to_numpy()))
        usable = is_gold | has
    else:
        usable = is_gold
    rows = []
    ann = t["annotator_id"].astype(str).to_numpy()
    for a in pd.unique(ann):
        m = (ann == a) & usable
        path, alarm = design.run(is_gold[m], wrong[m])
        if alarm is not None:  # position in the annotator's whole stream, not among the usable items
            alarm = int(np.flatnonzero(usable[ann == a])[alarm])
        rows.append({"annotator_id": a, "n_gold": int(is_gold[m].sum()), "n_gold_wrong": int(wrong[m & is_gold].sum()),
                     "n_other": int((~is_gold[m]).sum()), "statistic": float(path[-1]) if len(path) else 0.0,
                     "max_statistic": float(path.max()) if len(path) else 0.0, "threshold": design.threshold,
                     "flagged": alarm is not None, "flagged_at": alarm if alarm is not None else -1,
                     "status": "flagged" if alarm is not None else "ok"})
    return pd.DataFrame(rows)


def blind_audit_sample(queue: pd.DataFrame, n: int, *, strata: str = "task", seed: int = 0) -> pd.DataFrame:
    """A stratified random sample (proportional, at least 1 per non-empty stratum when n allows) of unqueued items."""
    if n < 0:
        raise ParameterError(f"blind sample size must be >= 0, got {n}")
    pool = queue[~queue["queued"].astype(bool)].copy()
    pool["_stratum"] = pool[strata].astype(str) if strata in pool.columns else "all"
    sizes = pool.groupby("_stratum").size()
    if n >= len(pool):
        take = sizes
    else:
        raw = sizes / sizes.sum() * n
        take = np.floor(raw).astype(int).clip(lower=min(1, n // max(len(sizes), 1)))
        rest = n - int(take.sum())
        if rest > 0:
            order = (raw - np.floor(raw)).sort_values(ascending=False).index[:rest]
            take[order] += 1
        take = np.minimum(take, sizes)
    rng = np.random.default_rng(seed)
    parts = []
    for s, k in take.items():
        grp = pool[pool["_stratum"] == s]
        idx = rng.choice(len(grp), size=int(k), replace=False)
        parts.append(grp.iloc[np.sort(idx)].assign(stratum=s, stratum_size=int(sizes[s])))
    out = pd.concat(parts, ignore_index=True) if parts else pool.head(0).assign(stratum=[], stratum_size=[])
    return out.drop(columns=["_stratum"])[["item_id", "task", "consensus_label", "stratum", "stratum_size"]]


def blind_audit_estimate(outcomes: pd.DataFrame, *, level: float = 0.95) -> dict[str, Any]:
    """Error rate of unreviewed accepted labels from blind re-review outcomes.

    ``outcomes``: one row per audited item with ``stratum``, ``stratum_size`` (items in that stratum
    of the unreviewed pool) and ``wrong`` (bool: the blind reviewer's label differs from the accepted one).
    The stratified estimate ``p = sum_h W_h x_h / n_h`` (W_h = N_h / N) with its finite-population
    corrected variance gives an effective sample size ``n_eff = p(1-p)/var`` (Korn & Graubard 1998); the
    interval is Wilson's at ``n_eff`` (so it stays inside [0, 1] and is not degenerate at zero errors).
    """
    if not 0 < level < 1:
        raise ParameterError(f"level must be in (0, 1), got {level}")
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + level / 2)
    g = outcomes.groupby("stratum").agg(n=("wrong", "size"), x=("wrong", "sum"), N=("stratum_size", "first"))
    if g.empty:
        raise ParameterError("no blind audit outcomes")
    N = g["N"].to_numpy(float)
    W = N / N.sum()
    n = g["n"].to_numpy(float)
    x = g["x"].to_numpy(float)
    ph = x / n
    p = float((W * ph).sum())
    fpc = np.where(N > 1, np.clip((N - n) / np.maximum(N - 1, 1), 0, 1), 0)
    var = float((W ** 2 * ph * (1 - ph) / n * fpc).sum())
    # effective sample size of the stratified estimate (Korn & Graubard 1998), then a Wilson interval
    n_eff = p * (1 - p) / var if var > 0 else float(n.sum())
    n_eff = min(max(n_eff, 1.0), float(n.sum())) if p not in (0.0, 1.0) else float(n.sum())
    denom = 1 + z * z / n_eff
    centre = (p + z * z / (2 * n_eff)) / denom
    half = z * math.sqrt(p * (1 - p) / n_eff + z * z / (4 * n_eff * n_eff)) / denom
    return {"error_rate": p, "ci_low": max(0.0, centre - half), "ci_high": min(1.0, centre + half),
            "level": level, "audited": int(n.sum()), "errors_found": int(x.sum()), "strata": int(len(g)),
            "unreviewed_items": int(N.sum()), "effective_n": n_eff}


def simulate_blind_coverage(*, n_runs: int = 1000, strata_sizes: tuple[int, ...] = (4000, 2500, 1500),
                            error_rates: tuple[float, ...] = (0.02, 0.05, 0.1), sample_size: int = 300,
                            level: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Coverage of :func:`blind_audit_estimate` on simulated unreviewed pools with known error counts."""
    rng = np.random.default_rng(seed)
    sizes = np.asarray(strata_sizes)
    covered, widths = 0, []
    for _ in range(n_runs):
        errs = [rng.random(s) < r for s, r in zip(sizes, error_rates)]
        true = sum(e.sum() for e in errs) / sizes.sum()
        take = np.maximum(1, np.round(sizes / sizes.sum() * sample_size).astype(int))
        rows = []
        for h, (e, k) in enumerate(zip(errs, take)):
            idx = rng.choice(len(e), size=int(k), replace=False)
            rows.append(pd.DataFrame({"stratum": h, "stratum_size": len(e), "wrong": e[idx]}))
        est = blind_audit_estimate(pd.concat(rows, ignore_index=True), level=level)
        covered += est["ci_low"] <= true <= est["ci_high"]
        widths.append(est["ci_high"] - est["ci_low"])
    return {"n_runs": n_runs, "coverage": covered / n_runs, "mean_width": float(np.mean(widths)), "level": level}
