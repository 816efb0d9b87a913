"""Out-of-sample evaluation of credential rules on data with gold (used by tests and bench/).

Two splits, as in the issue:

* ``judgements``: the first half of each annotator's gold judgements decides, the second half checks;
* ``items``: the gold items are split in half (keyed hash of the item id); labkit sees every judgement but
  only the deciding half's gold; the truth is accuracy on the other half.

In both, the consensus model is fitted on every judgement (it never sees gold). A person is *qualified*
when their accuracy on the checking gold is at least ``tau``; precision is the share of granted people who
are qualified, false denial the share of qualified people who are denied.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from labkit.incentives.credentials import DEFAULT_CONFIDENCE
from labkit.incentives.scores import annotator_scores, gold_outcomes

__all__ = ["split_outcomes", "rule_labkit", "rule_label_studio", "rule_beta", "evaluate", "RULES"]


def _hash_half(ids: pd.Series, seed: int) -> np.ndarray:
    return np.array([int(hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()[:8], 16) % 2 == 0 for i in ids.astype(str)])


def split_outcomes(outcomes: pd.DataFrame, split: str, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(deciding outcomes, checking outcomes) for ``split`` in {"judgements", "items"}."""
    if split == "judgements":
        pos = outcomes.groupby(["task", "annotator_id"], observed=True).cumcount().to_numpy()
        size = outcomes.groupby(["task", "annotator_id"], observed=True)["correct"].transform("size").to_numpy()
        first = pos < size // 2
        return outcomes[first], outcomes[~first & (size >= 2)]
    if split == "items":
        first = _hash_half(outcomes["item_id"], seed)
        return outcomes[first], outcomes[~first]
    raise ValueError(f"unknown split {split!r}")


Rule = Callable[[pd.DataFrame, pd.DataFrame, object, float], pd.Series]


def rule_labkit(table: pd.DataFrame, decide: pd.DataFrame, fit: object, tau: float, *,
                confidence: float = DEFAULT_CONFIDENCE) -> pd.Series:
    """labkit: the score's one-sided lower bound at ``confidence`` is at least ``tau``."""
    s = annotator_scores(table, fit=fit, outcomes=decide, level=2 * confidence - 1)
    return pd.Series(s["ci_low"].to_numpy() >= tau, index=s["annotator_id"].to_numpy())


def rule_label_studio(table: pd.DataFrame, decide: pd.DataFrame, fit: object, tau: float, *, first: int = 10) -> pd.Series:
    """Label Studio's rule: the first ``first`` ground-truth judgements are all correct."""
    g = decide.groupby("annotator_id", observed=True)["correct"]
    ok = g.apply(lambda c: len(c) >= first and bool(c.iloc[:first].all()))
    return ok.reindex(table["annotator_id"].astype(str).unique(), fill_value=False)


def rule_beta(table: pd.DataFrame, decide: pd.DataFrame, fit: object, tau: float, *, confidence: float = 0.9) -> pd.Series:
    """Flat Beta(1, 1) posterior on deciding gold alone: P(accuracy >= tau) >= ``confidence``."""
    g = decide.groupby("annotator_id", observed=True)["correct"].agg(["size", "sum"])
    p = stats.beta.sf(tau, 1 + g["sum"], 1 + g["size"] - g["sum"])
    ok = pd.Series(p >= confidence, index=g.index.astype(str))
    return ok.reindex(table["annotator_id"].astype(str).unique(), fill_value=False)


RULES: dict[str, Callable[..., pd.Series]] = {"labkit": rule_labkit, "label_studio_10of10": rule_label_studio,
                                              "beta_flat": rule_beta}


def evaluate(table: pd.DataFrame, gold: pd.DataFrame, *, split: str, tau: float = 0.8, seed: int = 0,
             fit: object | None = None, rules: dict[str, Callable[..., pd.Series]] | None = None) -> pd.DataFrame:
    """One row per (rule, annotator with checking gold): granted, qualified, volume (all judgements)."""
    if fit is None:
        from labkit.stats.truth import fit_consensus

        fit = fit_consensus(table)
    out = gold_outcomes(table, gold)
    decide, check = split_outcomes(out, split, seed)
    truth = check.groupby("annotator_id", observed=True)["correct"].mean()
    volume = table["annotator_id"].astype(str).value_counts()
    rows = []
    for name, rule in (rules or RULES).items():
        granted = rule(table, decide, fit, tau)
        rows.append(pd.DataFrame({"rule": name, "annotator_id": truth.index.astype(str),
                                  "granted": granted.reindex(truth.index.astype(str), fill_value=False).to_numpy(),
                                  "qualified": truth.to_numpy() >= tau,
                                  "volume": volume.reindex(truth.index.astype(str)).to_numpy()}))
    return pd.concat(rows, ignore_index=True)


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """Precision, false denial and the volume-tertile gap in false denial per rule."""
    res = []
    for rule, d in rows.groupby("rule", sort=False):
        g, q = d["granted"].to_numpy(bool), d["qualified"].to_numpy(bool)
        prec = (g & q).sum() / g.sum() if g.sum() else float("nan")
        fd = (~g & q).sum() / q.sum() if q.sum() else float("nan")
        terc = pd.qcut(d["volume"].rank(method="first"), 3, labels=False) if len(d) >= 3 else pd.Series(0, index=d.index)
        fds = []
        for t in (0, 2):
            m = (terc.to_numpy() == t) & q
            fds.append((~g[m]).mean() if m.sum() else float("nan"))
        res.append({"rule": rule, "n": len(d), "granted": int(g.sum()), "qualified": int(q.sum()),
                    "precision": prec, "false_denial": fd, "fd_low_tertile": fds[0], "fd_high_tertile": fds[1],
                    "tertile_gap": abs(fds[0] - fds[1])})
    return pd.DataFrame(res)
