"""Credentials: named levels from a policy file, awarded and withdrawn on sustained accuracy, logged.

A credential is granted when the one-sided lower bound (at ``confidence``) of the annotator's score
(:func:`labkit.incentives.scores.annotator_scores`: gold plus consensus skill, shrunk toward the pool) over
the last ``weeks`` weeks is at least ``tau``, with at least ``min_judgements`` judgements and
``min_gold`` gold judgements in that period.

A credential already held is withdrawn only by the withdrawal rule, never by one unlucky window: the
annotator's gold outcomes are cut into consecutive windows of ``withdraw.window`` judgements, and the
credential goes only when in each of the last ``withdraw.consecutive`` windows the *upper* bound (at
``withdraw.confidence``, flat Beta posterior) of accuracy is below ``tau``. :func:`false_withdrawal_rate`
states the rule's chance of withdrawing from a person whose true accuracy is ``p`` over a stream of
``n_items`` gold judgements (checked after every window).

Every award and withdrawal is appended to the decision log (action ``credential``) with its evidence,
through :func:`record_decisions` (the one place this package writes to the log).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from labkit._checks import number_in_range
from labkit.errors import InputRefused, ParameterError

__all__ = ["Credential", "WithdrawalRule", "load_policy", "threshold_policy", "decide", "record_decisions",
           "false_withdrawal_rate", "withdrawal_check", "DECISION_COLUMNS"]

#: One-sided level of the lower bound when a policy names none: chosen on the public datasets' judgement
#: split, the item split being the check (the grid and both splits are in docs/incentives.md).
DEFAULT_CONFIDENCE = 0.8

DECISION_COLUMNS = ["annotator_id", "credential", "task", "granted", "change", "lower_bound", "score",
                    "n_gold", "n_judgements", "reason"]


@dataclass(frozen=True)
class WithdrawalRule:
    """Withdraw only when ``consecutive`` windows of ``window`` gold judgements each have upper bound < tau."""

    window: int = 50
    consecutive: int = 2
    confidence: float = 0.95


@dataclass(frozen=True)
class Credential:
    """One named level: ``tau``, the lower bound's ``confidence``, period and minimum evidence."""

    name: str
    tau: float
    task: str | None = None
    confidence: float = DEFAULT_CONFIDENCE
    weeks: int | None = None
    min_judgements: int = 10
    min_gold: int = 0
    withdraw: WithdrawalRule = field(default_factory=WithdrawalRule)


_KEYS = {"name", "task", "tau", "confidence", "weeks", "min_judgements", "min_gold", "withdraw"}


def _num(path: str, rec: int, key: str, v: Any, lo: float, hi: float, integer: bool = False) -> Any:
    if not number_in_range(v, lo, hi, integer):
        kind = "an integer" if integer else "a number"
        raise InputRefused(path, f"{key} must be {kind} between {lo:g} and {hi:g}, got {v!r}", record=rec, field=key)
    return int(v) if integer else float(v)


def read_policy_yaml(path: str) -> Any:
    """A policy file's YAML document; a missing file or bad YAML is refused naming the file."""
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputRefused(path, "no such file") from None
    except yaml.YAMLError as exc:
        raise InputRefused(path, f"not valid YAML ({exc})") from None


def load_policy(path: str | os.PathLike[str]) -> list[Credential]:
    """Read a credentials policy (YAML: ``credentials:`` a list of levels); errors name file, record and field.

    Records are numbered from 1 in the order of the ``credentials`` list.
    """
    p = str(path)
    doc = read_policy_yaml(p)
    if not isinstance(doc, dict) or not isinstance(doc.get("credentials"), list) or not doc["credentials"]:
        raise InputRefused(p, "a credentials policy needs a non-empty 'credentials:' list", field="credentials")
    out, seen = [], set()
    for i, rec in enumerate(doc["credentials"], 1):
        if not isinstance(rec, dict):
            raise InputRefused(p, "each credential is a mapping", record=i)
        unknown = sorted(set(rec) - _KEYS)
        if unknown:
            raise InputRefused(p, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_KEYS))})", record=i,
                               field=unknown[0])
        name = rec.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InputRefused(p, "a credential needs a name", record=i, field="name")
        if name in seen:
            raise InputRefused(p, f"credential {name!r} is defined twice", record=i, field="name")
        seen.add(name)
        if "tau" not in rec:
            raise InputRefused(p, "a credential needs tau (the accuracy it certifies)", record=i, field="tau")
        w = rec.get("withdraw") or {}
        if not isinstance(w, dict) or set(w) - {"window", "consecutive", "confidence"}:
            raise InputRefused(p, "withdraw takes window, consecutive and confidence", record=i, field="withdraw")
        out.append(Credential(
            name=name, task=None if rec.get("task") is None else str(rec["task"]),
            tau=_num(p, i, "tau", rec["tau"], 0, 1),
            confidence=_num(p, i, "confidence", rec.get("confidence", DEFAULT_CONFIDENCE), 0.5, 0.9999),
            weeks=None if rec.get("weeks") is None else _num(p, i, "weeks", rec["weeks"], 1, 520, True),
            min_judgements=_num(p, i, "min_judgements", rec.get("min_judgements", 10), 0, 1e9, True),
            min_gold=_num(p, i, "min_gold", rec.get("min_gold", 0), 0, 1e9, True),
            withdraw=WithdrawalRule(
                window=_num(p, i, "withdraw.window", w.get("window", 50), 1, 1e6, True),
                consecutive=_num(p, i, "withdraw.consecutive", w.get("consecutive", 2), 1, 100, True),
                confidence=_num(p, i, "withdraw.confidence", w.get("confidence", 0.95), 0.5, 0.9999))))
    return out


def threshold_policy(tau: float) -> list[Credential]:
    """``--threshold TAU`` alone: one accuracy credential at ``tau`` with the default evidence rule."""
    if not 0 <= tau <= 1:
        raise ParameterError(f"--threshold must lie in [0, 1], got {tau}")
    return [Credential(name=f"accuracy>={tau:g}", tau=float(tau))]


def withdrawal_check(correct: np.ndarray, tau: float, rule: WithdrawalRule) -> tuple[bool, list[float]]:
    """(withdraw?, upper bounds of the last ``rule.consecutive`` complete windows) for one gold stream."""
    c = np.asarray(correct, dtype=bool)
    n_win = len(c) // rule.window
    if n_win < rule.consecutive:
        return False, []
    ups = []
    for w in range(n_win - rule.consecutive, n_win):
        seg = c[w * rule.window:(w + 1) * rule.window]
        ups.append(float(stats.beta.ppf(rule.confidence, 1 + seg.sum(), 1 + len(seg) - seg.sum())))
    return all(u < tau for u in ups), ups


def false_withdrawal_rate(p: float, tau: float, rule: WithdrawalRule, *, n_items: int = 2000, n_sim: int = 2000,
                          seed: int = 0) -> float:
    """Share of simulated annotators with true accuracy ``p`` who lose the credential within ``n_items``.

    The rule is checked after every complete window, as a scheduled job would.

    Examples
    --------
    >>> false_withdrawal_rate(0.95, 0.8, WithdrawalRule(), n_sim=500) <= 0.05
    True
    """
    rng = np.random.default_rng(seed)
    n_win = n_items // rule.window
    k = rng.binomial(rule.window, p, size=(n_sim, n_win))
    below = stats.beta.ppf(rule.confidence, 1 + k, 1 + rule.window - k) < tau
    run = np.zeros(n_sim, dtype=int)
    lost = np.zeros(n_sim, dtype=bool)
    for w in range(n_win):
        run = np.where(below[:, w], run + 1, 0)
        lost |= run >= rule.consecutive
    return float(lost.mean())


def _period(table: pd.DataFrame, weeks: int | None) -> pd.DataFrame:
    if weeks is None or "created_at" not in table.columns or table["created_at"].isna().all():
        return table
    # a timestamp in the future (a clock error validation reports) must not define "the last N weeks"
    end = min(table["created_at"].max(), pd.Timestamp.now(tz="UTC"))
    ts = table["created_at"]
    return table[(ts > end - pd.Timedelta(weeks=weeks)) & (ts <= end)]


def decide(table: pd.DataFrame, gold: pd.DataFrame | None, policy: list[Credential], *, fit: Any = None,
           held: set[tuple[str, str]] | None = None) -> pd.DataFrame:
    """One row per annotator and credential (``DECISION_COLUMNS``), with the reason in words.

    ``held`` is the set of (annotator_id, credential) already granted (from the decision log or the last
    decisions.csv): those are kept unless the withdrawal rule fires.
    """
    from labkit.incentives.scores import annotator_scores, gold_outcomes

    held = held or set()
    rows = []
    for cred in policy:
        t = _period(table, cred.weeks)
        if cred.task is not None:
            t = t[t["task"].astype(str) == cred.task]
        if t.empty:
            continue
        f = fit if (fit is not None and cred.weeks is None and cred.task is None) else None
        outcomes = gold_outcomes(t, gold) if gold is not None else None
        s = annotator_scores(t, fit=f, outcomes=outcomes, level=2 * cred.confidence - 1)
        full_out = gold_outcomes(table, gold) if gold is not None else None
        for r in s.itertuples(index=False):
            a = str(r.annotator_id)
            lb = float(r.ci_low)
            qualifies = lb >= cred.tau and r.n_judgements >= cred.min_judgements and r.n_gold >= cred.min_gold
            was = (a, cred.name) in held
            evid = (f"lower bound {lb:.3f} of sustained accuracy (score {r.score:.3f}, {int(r.n_gold)} gold "
                    f"judgements, {int(r.n_judgements)} judgements in all)")
            if was and not qualifies:
                stream = np.zeros(0, bool)
                if full_out is not None:
                    d = full_out[full_out["annotator_id"] == a]
                    if cred.task is not None:
                        d = d[d["task"].astype(str) == cred.task]
                    stream = d["correct"].to_numpy(bool)
                gone, ups = withdrawal_check(stream, cred.tau, cred.withdraw)
                if gone:
                    granted, change = False, "withdrawn"
                    reason = (f"withdrawn: in each of the last {cred.withdraw.consecutive} windows of "
                              f"{cred.withdraw.window} gold judgements the upper bound of accuracy "
                              f"({', '.join(f'{u:.3f}' for u in ups)}) is below {cred.tau:g}")
                else:
                    granted, change = True, "kept"
                    reason = (f"kept: {evid} is below {cred.tau:g}, but the withdrawal rule needs "
                              f"{cred.withdraw.consecutive} consecutive windows of {cred.withdraw.window} gold "
                              f"judgements each clearly below it")
            elif qualifies:
                granted, change = True, "kept" if was else "awarded"
                reason = f"{'kept' if was else 'awarded'}: {evid} is at least {cred.tau:g}"
            else:
                granted, change = False, "none"
                why = []
                if lb < cred.tau:
                    why.append(f"{evid} is below {cred.tau:g}")
                if r.n_judgements < cred.min_judgements:
                    why.append(f"{int(r.n_judgements)} judgements, fewer than the {cred.min_judgements} required")
                if r.n_gold < cred.min_gold:
                    why.append(f"{int(r.n_gold)} gold judgements, fewer than the {cred.min_gold} required")
                reason = "not granted: " + "; ".join(why)
            rows.append({"annotator_id": a, "credential": cred.name, "task": r.task, "granted": granted,
                         "change": change, "lower_bound": round(lb, 6), "score": round(float(r.score), 6),
                         "n_gold": int(r.n_gold), "n_judgements": int(r.n_judgements), "reason": reason})
    return pd.DataFrame(rows, columns=DECISION_COLUMNS)


def held_from_csv(path: str | os.PathLike[str]) -> set[tuple[str, str]]:
    """Credentials held according to an earlier decisions.csv (granted rows)."""
    p = Path(path)
    if not p.exists():
        return set()
    d = pd.read_csv(p, dtype=str, keep_default_na=False)
    for col in ("annotator_id", "credential", "granted"):
        if col not in d.columns:
            raise InputRefused(str(p), f"decisions file has no {col} column", field=col)
    g = d[d["granted"].str.lower() == "true"]
    return set(zip(g["annotator_id"], g["credential"]))


def record_decisions(decisions: pd.DataFrame, log_root: str | os.PathLike[str], who: str, *,
                     at: str | None = None) -> int:
    """Append every award and withdrawal to the decision log (action ``credential``); returns how many.

    This is the one place the incentives package writes to the log (``labkit.guidelines.log.append_many``).
    """
    from labkit.guidelines.log import append_many

    changes = decisions[decisions["change"].isin(["awarded", "withdrawn"])]
    entries = [{"action": "credential", "who": who, "at": at, "annotator_id": str(r.annotator_id),
                "credential": str(r.credential), "task": str(r.task), "decision": str(r.change),
                "lower_bound": float(r.lower_bound), "n_gold": int(r.n_gold),
                "n_judgements": int(r.n_judgements), "why": str(r.reason)}
               for r in changes.itertuples(index=False)]
    if entries:
        append_many(log_root, entries)
    return len(entries)
