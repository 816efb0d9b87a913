"""Run labeling policies on a fitted program model: many policies x many seeds, vectorized and deterministic.

A run draws ``n_items`` items from the model's history items (class, easiness, wrong-label profile), asks
annotators (drawn from the people who labeled that history item, then by activity; distinct within an item) for labels until the policy's redundancy rule
stops, aggregates by majority vote (ties credited as a random tie-break would be, on average), optionally
sends a budget of items to review, and reports label accuracy against the simulated truth, annotator and
reviewer hours, pay and the labels used.

Policies are data (:mod:`labkit.simulate.policies`). Determinism: every random draw of a run comes from a
generator seeded by ``(seed, item stream)`` for the items and annotators (common random numbers: every
policy sees the same items and the same people for a given seed) and by ``(seed, policy position)`` for
the rest, so the same model, policies and seeds give byte-identical results.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import ParameterError
from labkit.simulate.model import TaskModel
from labkit.simulate.policies import Policy

__all__ = ["RunResult", "simulate_labels", "run_policy", "run_batch", "summarize", "mv_credit", "draw_assigned"]


def _sig(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def mv_credit(counts: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per item, the chance that majority vote with a random tie-break names ``truth`` (0 with no votes)."""
    mx = counts.max(axis=1, keepdims=True)
    top = (counts == mx) & (mx > 0)
    ntop = np.maximum(top.sum(axis=1), 1)
    return top[np.arange(len(truth)), truth] / ntop


def _draw_annotators(p: np.ndarray, n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rows of ``k`` annotators drawn with probability ``p``, distinct within a row where possible."""
    J = len(p)
    if J <= 64:  # exact draw without replacement (Gumbel top-k)
        keys = np.log(np.maximum(p, 1e-300))[None, :] + rng.gumbel(size=(n, J))
        if k >= J:
            order = np.argsort(-keys, axis=1)
            reps = -(-k // J)
            return np.tile(order, reps)[:, :k]
        return np.argpartition(-keys, k - 1, axis=1)[:, :k]
    cum = np.cumsum(p)
    cum /= cum[-1]
    a = np.minimum(np.searchsorted(cum, rng.random((n, k))), J - 1)
    for _ in range(8):  # redraw repeats within a row (rare with many annotators)
        s = np.sort(a, axis=1)
        dup_rows = (s[:, 1:] == s[:, :-1]).any(axis=1) if k > 1 else np.zeros(n, bool)
        if not dup_rows.any():
            break
        rows = np.where(dup_rows)[0]
        for c in range(1, k):
            rep = (a[rows, c:c + 1] == a[rows, :c]).any(axis=1)
            r = rows[rep]
            a[r, c] = np.minimum(np.searchsorted(cum, rng.random(len(r))), J - 1)
    return a


def draw_assigned(ptr: np.ndarray, ann: np.ndarray, items: np.ndarray, k: int, p: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """``k`` annotators for each of ``items`` from the real assignment pattern.

    Row ``r`` takes annotators drawn without replacement from those who labeled history item ``items[r]``
    (CSR ``ptr``/``ann``); positions beyond that item's count are drawn by ``p`` (activity), distinct
    within the row where possible.
    """
    n = len(items)
    start = ptr[items]
    cnt = ptr[items + 1] - start
    out = np.zeros((n, k), np.int64)
    width = int(cnt.max()) if n else 0
    m = min(k, width)
    if m > 0:
        chunk = max(1, 4_000_000 // width)
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            keys = rng.random((b - a, width))
            keys[np.arange(width)[None, :] >= cnt[a:b, None]] = 2.0
            sel = np.argsort(keys, axis=1)[:, :m]
            out[a:b, :m] = ann[np.minimum(start[a:b, None] + sel, len(ann) - 1)]
    short = np.where(cnt < k)[0]
    if len(short):  # positions beyond the item's own annotators: by activity, not repeating one of the row
        cum = np.cumsum(p)
        cum /= cum[-1]
        fill = np.minimum(np.searchsorted(cum, rng.random((len(short), k))), len(p) - 1)
        sub = np.where(np.arange(k)[None, :] < cnt[short, None], out[short], fill)
        if len(p) > 1:
            # redraw repeats; only rows redrawn last round can hold a new repeat, so later rounds look at those
            # rows only (in row order: the redraws consume the random stream in the same order as a full scan)
            active = np.arange(len(short))
            cnt_s = cnt[short]
            for _ in range(8):
                cur = sub[active]
                fixed = cnt_s[active]
                dup = np.zeros(cur.shape, bool)
                for c in range(1, k):
                    col = cur[:, c]
                    d = col == cur[:, 0]
                    for c2 in range(1, c):
                        d |= col == cur[:, c2]
                    dup[:, c] = d & (c >= fixed)
                rows, cols = np.nonzero(dup)
                if not len(rows):
                    break
                sub[active[rows], cols] = np.minimum(np.searchsorted(cum, rng.random(len(rows))), len(p) - 1)
                active = active[np.unique(rows)]
        out[short] = sub
    return out


@dataclass
class RunResult:
    policy: str
    seed: int
    accuracy: float
    labels_per_item: float
    annotator_hours: float
    reviewer_hours: float
    n_reviewed: int
    pay: float
    n_items: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def simulate_labels(tm: TaskModel, n_items: int, k: int, rng_items: np.random.Generator,
                    rng_labels: np.random.Generator, *, pool: np.ndarray | None = None,
                    skill_shift: float = 0.0, week: float = 0.0) -> dict[str, np.ndarray]:
    """Draw items and ``k`` labels each. Returns item index, truth, annotators and labels (n x k)."""
    I, J = len(tm.truth), len(tm.annotators)
    items = rng_items.integers(0, I, n_items)
    z = tm.truth[items]
    act = tm.activity.copy()
    if pool is not None:
        act = np.where(pool, act, 0.0)
        if act.sum() <= 0:
            raise ParameterError("the policy leaves no annotator to label (every annotator excluded)")
    if pool is None and tm.assign_ptr is not None and tm.assign_ann is not None:
        ann = draw_assigned(tm.assign_ptr, tm.assign_ann, items, k, act / act.sum(), rng_items)
    else:
        ann = _draw_annotators(act / act.sum(), n_items, k, rng_items)
    p = _sig(tm.theta[ann, z[:, None]] + tm.beta[items][:, None] + skill_shift + tm.drift_per_week * week)
    right = rng_labels.random((n_items, k)) < p
    K = tm.n_labels
    if K > 1:
        cw = np.cumsum(tm.wrong[items], axis=1)
        u = rng_labels.random((n_items, k))
        wrong_lab = np.zeros((n_items, k), np.int64)  # inversion: how many cumulative weights u exceeds
        for c in range(K - 1):
            wrong_lab += u > cw[:, c:c + 1]
    else:
        wrong_lab = np.zeros((n_items, k), np.int64)
    labels = np.where(right, z[:, None], wrong_lab)
    return {"items": items, "truth": z, "annotators": ann, "labels": labels, "J": np.array(J)}


def _counts_upto(labels: np.ndarray, K: int) -> np.ndarray:
    """counts[n, t, k]: votes for k among the first t+1 labels."""
    n, k = labels.shape
    cum = np.zeros((n, k, K), np.int32)
    rows = np.arange(n)
    for t in range(k):
        if t:
            cum[:, t] = cum[:, t - 1]
        cum[rows, t, labels[:, t]] += 1
    return cum


def _draw_for(tm: TaskModel, policy: Policy, seed: int, n_items: int, pool: np.ndarray | None) -> dict[str, np.ndarray]:
    """Items, annotators, labels and times for a run: depends on the seed, the pool and the skill shift only,
    so policies that differ in redundancy rule or review share one draw (common random numbers)."""
    rng_items = np.random.default_rng([int(seed), 0])
    rng_labels = np.random.default_rng([int(seed), 1])
    draw = simulate_labels(tm, n_items, policy.max_labels, rng_items, rng_labels, pool=pool,
                           skill_shift=policy.reward.skill_shift if policy.reward else 0.0, week=policy.week)
    rng_time = np.random.default_rng([int(seed), 3])
    ann = draw["annotators"]
    draw["seconds"] = np.exp(tm.duration_log_mu[ann] + tm.duration_log_sd * rng_time.standard_normal(ann.shape))
    draw["cum"] = _counts_upto(draw["labels"], tm.n_labels)
    return draw


def _stop(draw: dict[str, np.ndarray], policy: Policy, n_items: int) -> dict[str, Any]:
    """What a redundancy rule makes of a draw: labels used per item, the votes counted, the majority-vote
    credit, the annotator seconds and labels paid for. Depends on the draw and the rule only, so policies that
    share both (they differ in review or pay) compute it once."""
    cum, z = draw["cum"], draw["truth"]
    kmax = policy.max_labels
    if policy.adaptive is None:
        used = np.full(n_items, kmax, np.int64)
        counts = cum[:, kmax - 1]
    else:
        lo, agree = policy.adaptive
        top = cum.max(axis=2)                         # (n, kmax) leading count after t+1 labels
        t_idx = np.arange(kmax)[None, :]
        stop = (top >= agree) & (t_idx + 1 >= lo)
        first = np.where(stop.any(axis=1), stop.argmax(axis=1), kmax - 1)
        used = first + 1
        counts = cum[np.arange(n_items), first]
    credit = mv_credit(counts, z)
    if policy.adaptive is None:
        ann_seconds = float(draw["seconds"].sum())
        n_labels = float(n_items * kmax)
    else:
        mask = np.arange(kmax)[None, :] < used[:, None]
        ann_seconds = float((draw["seconds"] * mask).sum())
        n_labels = float(used.sum())
    return {"used": used, "counts": counts, "credit": credit, "accuracy": float(credit.mean()),
            "labels_per_item": float(used.mean()), "ann_seconds": ann_seconds, "n_labels": n_labels}


def _margin_order(stop: dict[str, Any], u: np.ndarray, n_rev: int) -> np.ndarray:
    """The first ``n_rev`` items of ``np.lexsort((u, margin))`` (smallest vote margin first, ties by ``u``), where
    ``u`` are the policy's uniforms: found by a partial sort of one integer key (exactly lexsort's order)."""
    if "margin_rank" not in stop:
        counts, used = stop["counts"], stop["used"]
        srt = np.sort(counts, axis=1)
        margin = (srt[:, -1] - (srt[:, -2] if counts.shape[1] > 1 else 0)) / np.maximum(used, 1)
        _, stop["margin_rank"] = np.unique(margin, return_inverse=True)
    rank = stop["margin_rank"]
    n = len(u)
    mant = (u * 9007199254740992.0).astype(np.int64)  # Generator.random() is an integer / 2**53, exactly
    if int(rank.max(initial=0)) >= 1024 or not np.array_equal(mant.astype(np.float64) / 9007199254740992.0, u):
        return np.asarray(np.lexsort((u, rank)))[:n_rev]
    key = rank.astype(np.int64) * 9007199254740992 + mant
    if n_rev >= n:
        return np.argsort(key, kind="stable")
    part = np.sort(np.argpartition(key, n_rev - 1)[:n_rev])  # by position, so equal keys keep lexsort's order
    kth = key[part].max()
    if int((key == kth).sum()) > 1:  # a tie at the boundary: let lexsort break it by position
        return np.asarray(np.lexsort((u, rank)))[:n_rev]
    return np.asarray(part[np.argsort(key[part], kind="stable")])


def run_policy(tm: TaskModel, policy: Policy, seed: int, n_items: int, *, position: int = 0,
               review_priority: Callable[..., np.ndarray] | None = None,
               credential_pool: Callable[..., np.ndarray] | None = None,
               _cache: dict[Any, Any] | None = None) -> RunResult:
    """One run of ``policy`` with ``seed`` (see the module docstring for determinism)."""
    rng_policy = np.random.default_rng([int(seed), 2, int(position)])
    pool = None
    if policy.credential is not None:
        if credential_pool is None:
            raise ParameterError(f"policy {policy.name!r} asks for credentials but no credential rule is available")
        pool = credential_pool(tm, policy.credential, np.random.default_rng([int(seed), 4]))
    key = (int(seed), policy.max_labels, None if pool is None else pool.tobytes(),
           policy.reward.skill_shift if policy.reward else 0.0, policy.week, int(n_items))
    if _cache is not None and key in _cache:
        draw, stops = _cache[key]
    else:
        draw, stops = _draw_for(tm, policy, seed, n_items, pool), {}
        if _cache is not None:
            _cache.clear()  # keep one draw: policies are grouped by draw in run_batch
            _cache[key] = (draw, stops)
    rule = policy.adaptive
    if rule not in stops:
        stops[rule] = _stop(draw, policy, n_items)
    stop = stops[rule]
    labels, z = draw["labels"], draw["truth"]
    kmax = policy.max_labels
    used, credit, accuracy = stop["used"], stop["credit"], stop["accuracy"]
    n_labels = stop["n_labels"]
    speed = policy.reward.time_factor if policy.reward else 1.0
    ann_hours = stop["ann_seconds"] * speed / 3600.0
    n_rev = 0
    if policy.review is not None:
        n_rev = min(n_items, policy.review.n_items(n_items, tm.review_minutes))
        if n_rev > 0:
            if policy.review.priority == "random":
                chosen = rng_policy.permutation(n_items)[:n_rev]
            elif policy.review.priority == "margin":
                chosen = _margin_order(stop, rng_policy.random(n_items), n_rev)
            else:
                if review_priority is None:
                    raise ParameterError(f"policy {policy.name!r}: review priority {policy.review.priority!r} needs "
                                         "the review planner (labkit.review)")
                chosen = review_priority(tm, draw, used, rng_policy)[:n_rev]
            ok = rng_policy.random(n_rev) < policy.review.reviewer_accuracy
            credit = credit.copy()
            credit[chosen] = ok.astype(np.float64)
            accuracy = float(credit.mean())
    pay = 0.0
    if policy.reward is not None:
        if "agree_n" not in stop:
            mask = np.arange(kmax)[None, :] < used[:, None]
            stop["agree_n"] = float(((labels == z[:, None]) & mask).sum())
        pay = policy.reward.piece_rate * n_labels + policy.reward.accuracy_bonus * stop["agree_n"]
    return RunResult(policy=policy.name, seed=int(seed), accuracy=accuracy,
                     labels_per_item=stop["labels_per_item"], annotator_hours=ann_hours,
                     reviewer_hours=n_rev * tm.review_minutes / 60.0, n_reviewed=int(n_rev), pay=pay,
                     n_items=int(n_items))


def run_batch(tm: TaskModel, policies: list[Policy], seeds: int | list[int], n_items: int, *,
              progress: Callable[[int, int], None] | None = None, **hooks: Any) -> pd.DataFrame:
    """Every policy x every seed; one row per run, in policy then seed order.

    Runs are grouped so that policies sharing a draw (same seed, redundancy cap, annotator pool, skill
    shift and week) reuse it: a batch of many review or stopping rules costs little more than one.
    """
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ParameterError("seeds must be at least 1")
    if not isinstance(n_items, (int, np.integer)) or n_items < 1:
        raise ParameterError(f"n_items must be a positive integer, got {n_items!r}")
    total = len(policies) * len(seed_list)
    done = 0
    groups: dict[Any, list[int]] = {}
    for pos, pol in enumerate(policies):
        gk = (pol.max_labels, repr(pol.credential), pol.reward.skill_shift if pol.reward else 0.0, pol.week)
        groups.setdefault(gk, []).append(pos)
    results: dict[tuple[int, int], dict[str, Any]] = {}
    for members in groups.values():
        for s in seed_list:
            cache: dict[Any, Any] = {}
            for pos in members:
                results[(pos, s)] = run_policy(tm, policies[pos], s, int(n_items), position=pos, _cache=cache,
                                               **hooks).to_dict()
                done += 1
                if progress is not None:
                    progress(done, total)
    return pd.DataFrame([results[(pos, s)] for pos in range(len(policies)) for s in seed_list])


def summarize(runs: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per policy: the mean of each outcome over seeds with a t-interval for that mean."""
    from scipy import stats

    out = []
    for name, g in runs.groupby("policy", sort=False):
        n = len(g)
        row: dict[str, Any] = {"policy": name, "seeds": n}
        for col in ("accuracy", "labels_per_item", "annotator_hours", "reviewer_hours", "pay"):
            x = g[col].to_numpy(dtype=np.float64)
            m = float(x.mean())
            half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
            row[col] = m
            row[f"{col}_low"] = m - half if n > 1 else float("nan")
            row[f"{col}_high"] = m + half if n > 1 else float("nan")
        out.append(row)
    return pd.DataFrame(out)
