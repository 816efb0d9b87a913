"""Reward schemes as policies, computed per period from the label table, with a statement per person.

Scheme kinds (``rewards.yaml``, see ``sample/policies/rewards.yaml``):

* ``piece_rate``: ``rate`` per judgement (the volume baseline, shown for comparison);
* ``accuracy_weighted``: ``rate`` per judgement times ``max(0, (score - floor) / (1 - floor))``;
* ``improvement_bonus``: ``amount`` when this period's lower bound beats the previous period's score;
* ``spot_check_bonus``: ``amount`` when at least ``min_gold`` gold judgements this period are at least
  ``accuracy`` correct.

Scores are :func:`labkit.incentives.scores.annotator_scores` on the period's judgements. No scheme takes
money away: every component is at least zero.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pandas as pd

from labkit.errors import InputRefused

__all__ = ["Scheme", "RewardPolicy", "load_reward_policy", "compute_rewards", "fairness_report", "volume_tertile"]

KINDS = {"piece_rate": {"rate"}, "accuracy_weighted": {"rate", "floor"}, "improvement_bonus": {"amount"},
         "spot_check_bonus": {"amount", "min_gold", "accuracy"}}


@dataclass(frozen=True)
class Scheme:
    name: str
    kind: str
    params: dict[str, float]


@dataclass(frozen=True)
class RewardPolicy:
    schemes: list[Scheme]
    period: str = "W"
    currency: str = ""
    level: float = 0.8


def load_reward_policy(path: str | os.PathLike[str]) -> RewardPolicy:
    """Read ``rewards.yaml`` (``period``: D/W/M, ``currency``, ``schemes``: list); errors name record and field."""
    from labkit.incentives.credentials import read_policy_yaml

    p = str(path)
    doc = read_policy_yaml(p)
    if not isinstance(doc, dict) or not isinstance(doc.get("schemes"), list) or not doc["schemes"]:
        raise InputRefused(p, "a reward policy needs a non-empty 'schemes:' list", field="schemes")
    period = str(doc.get("period", "W"))
    if period not in ("D", "W", "M", "all"):
        raise InputRefused(p, f"period must be D, W, M or all, got {period!r}", field="period")
    out = []
    for i, rec in enumerate(doc["schemes"], 1):
        if not isinstance(rec, dict) or rec.get("kind") not in KINDS:
            raise InputRefused(p, f"kind must be one of {', '.join(KINDS)}", record=i, field="kind")
        kind = rec["kind"]
        params = {k: v for k, v in rec.items() if k not in ("kind", "name")}
        extra = sorted(set(params) - KINDS[kind])
        if extra:
            raise InputRefused(p, f"{kind} takes {', '.join(sorted(KINDS[kind]))}, not {extra[0]!r}", record=i,
                               field=extra[0])
        for k in KINDS[kind]:
            v = params.get(k, {"floor": 0.5, "min_gold": 5, "accuracy": 0.9}.get(k))
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise InputRefused(p, f"{k} must be a number >= 0, got {v!r}", record=i, field=k)
            params[k] = float(v)
        if kind == "accuracy_weighted" and params["floor"] >= 1:
            raise InputRefused(p, "floor must be below 1", record=i, field="floor")
        out.append(Scheme(str(rec.get("name", kind)), kind, params))
    return RewardPolicy(out, period, str(doc.get("currency", "")))


def _periods(table: pd.DataFrame, period: str) -> pd.Series:
    if period == "all" or "created_at" not in table.columns or table["created_at"].isna().all():
        return pd.Series("all", index=table.index)
    ts = table["created_at"].dt.tz_convert(None) if table["created_at"].dt.tz is not None else table["created_at"]
    return ts.dt.to_period(period).astype(str)


def _money(x: float, cur: str) -> str:
    return f"{x:.2f}{(' ' + cur) if cur else ''}"


def compute_rewards(table: pd.DataFrame, gold: pd.DataFrame | None, policy: RewardPolicy) -> pd.DataFrame:
    """One row per annotator and period: each scheme's amount, the total and a statement in words."""
    from labkit.incentives.scores import annotator_scores, gold_outcomes

    t = table[table["source"].astype(str) != "model"] if "source" in table.columns else table
    per = _periods(t, policy.period)
    rows: list[dict[str, Any]] = []
    prev_score: dict[str, float] = {}
    from labkit.incentives.scores import consensus_by
    from labkit.stats.truth import fit_consensus

    fit = fit_consensus(t)
    for period in sorted(per.unique()):
        sub = t[per == period]
        outs = gold_outcomes(sub, gold) if gold is not None else None
        s = annotator_scores(sub, outcomes=outs, level=2 * policy.level - 1, fit=fit,
                             consensus=consensus_by(sub, fit, None))
        s = s.groupby("annotator_id", as_index=False).agg(
            n_judgements=("n_judgements", "sum"), n_gold=("n_gold", "sum"), k_gold=("k_gold", "sum"),
            score=("score", "mean"), ci_low=("ci_low", "mean"))
        for r in s.itertuples(index=False):
            a = str(r.annotator_id)
            amounts: dict[str, float] = {}
            words = [f"In {period} you made {int(r.n_judgements)} judgements; your accuracy score is "
                     f"{r.score:.1%} (at least {r.ci_low:.1%} with {policy.level:.0%} confidence)"
                     + (f", with {int(r.k_gold)} of {int(r.n_gold)} gold items right." if r.n_gold else ".")]
            for sc in policy.schemes:
                pr = sc.params
                if sc.kind == "piece_rate":
                    amt = pr["rate"] * r.n_judgements
                    why = f"{sc.name}: {int(r.n_judgements)} judgements x {pr['rate']:g} = {_money(amt, policy.currency)}."
                elif sc.kind == "accuracy_weighted":
                    f = max(0.0, (r.score - pr["floor"]) / (1 - pr["floor"]))
                    amt = pr["rate"] * r.n_judgements * f
                    why = (f"{sc.name}: {int(r.n_judgements)} judgements x {pr['rate']:g} x accuracy factor {f:.2f} "
                           f"(score {r.score:.1%}, {'above' if r.score > pr['floor'] else 'not above'} the {pr['floor']:.0%} floor) = {_money(amt, policy.currency)}.")
                elif sc.kind == "improvement_bonus":
                    base = prev_score.get(a)
                    got = base is not None and r.ci_low > base
                    amt = pr["amount"] if got else 0.0
                    why = (f"{sc.name}: no earlier period to compare with, no bonus yet." if base is None else
                           f"{sc.name}: your lower bound {r.ci_low:.1%} is {'above' if got else 'not above'} last "
                           f"period's score {base:.1%}: {_money(amt, policy.currency)}.")
                else:
                    acc = r.k_gold / r.n_gold if r.n_gold else float("nan")
                    got = r.n_gold >= pr["min_gold"] and acc >= pr["accuracy"]
                    amt = pr["amount"] if got else 0.0
                    why = (f"{sc.name}: {int(r.k_gold)} of {int(r.n_gold)} spot-checked gold items right "
                           f"(needs {int(pr['min_gold'])} items at {pr['accuracy']:.0%}): {_money(amt, policy.currency)}.")
                amounts[sc.name] = round(float(amt), 2)
                words.append(why)
            total = round(sum(amounts.values()), 2)
            words.append(f"Total: {_money(total, policy.currency)}.")
            rows.append({"period": period, "annotator_id": a, "n_judgements": int(r.n_judgements),
                         "n_gold": int(r.n_gold), "score": float(r.score), "ci_low": float(r.ci_low),
                         **amounts, "total": total, "statement": " ".join(words)})
            prev_score[a] = float(r.score)
    return pd.DataFrame(rows)


def volume_tertile(volume: pd.Series) -> pd.Series:
    """low / middle / high third of annotators by volume (ties broken by order)."""
    if len(volume) < 3:
        return pd.Series("all", index=volume.index)
    return pd.qcut(volume.rank(method="first"), 3, labels=["low", "middle", "high"]).astype(str)


def fairness_report(per_person: pd.DataFrame, groups: dict[str, pd.Series], *, value: str,
                    accuracy: str = "score", bands: tuple[float, ...] = (0.0, 0.7, 0.8, 0.9, 1.0001)) -> pd.DataFrame:
    """Gap in ``value`` per group, conditional on measured accuracy.

    Within each accuracy band the group's mean ``value`` is compared with the band's mean; the
    adjusted gap is the person-weighted average of those differences (a group paid less only because
    it is less accurate shows a gap near zero).
    """
    d = per_person.copy()
    d["band"] = pd.cut(d[accuracy], list(bands), right=False, labels=False)
    d["band_mean"] = d.groupby("band")[value].transform("mean")
    rows = []
    for dim, g in groups.items():
        gg = g.reindex(d["annotator_id"]).to_numpy()
        for name in sorted(pd.unique(gg[pd.notna(gg)]).astype(str)):
            m = gg.astype(str) == name
            rows.append({"dimension": dim, "group": name, "n": int(m.sum()),
                         "mean_accuracy": float(d.loc[m, accuracy].mean()), f"mean_{value}": float(d.loc[m, value].mean()),
                         "raw_gap": float(d.loc[m, value].mean() - d[value].mean()),
                         "adjusted_gap": float((d.loc[m, value] - d.loc[m, "band_mean"]).mean())})
    out = pd.DataFrame(rows)
    return out if not out.empty else pd.DataFrame(columns=["dimension", "group", "n", "adjusted_gap"])


def fairness_for(per_person: pd.DataFrame, table: pd.DataFrame, declared: pd.Series | None, *, value: str) -> pd.DataFrame:
    """Fairness by volume tertile, main slice and (when given) declared group."""
    vol = per_person.set_index("annotator_id")["n_judgements"]
    groups: dict[str, pd.Series] = {"volume tertile": volume_tertile(vol)}
    if "slice" in table.columns and table["slice"].notna().any():
        t = table.dropna(subset=["slice"])
        main = t.groupby(t["annotator_id"].astype(str), observed=True)["slice"].agg(lambda s: s.astype(str).mode().iloc[0])
        groups["main slice"] = main
    if declared is not None:
        groups["declared group"] = declared.astype(str)
    return fairness_report(per_person, groups, value=value)

