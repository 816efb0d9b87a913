"""Labeling policies as data (a YAML file), checked with messages that name the file, policy and field.

::

    items: 10000                      # items per simulated run (the CLI's --items overrides)
    policies:
      - name: 3 labels
        labels: 3                     # fixed redundancy
      - name: adaptive 2-of-5
        labels: {min: 2, max: 5, agree: 2}   # ask until `agree` labels agree (at least min, at most max)
      - name: 3 labels + review 10%
        labels: 3
        review: {fraction: 0.10, priority: planner}   # or items: N, or hours: H; priority planner|margin|random
      - name: credentialed only
        labels: 3
        credential: {threshold: 0.8}  # only annotators the credential rule certifies label
      - name: accuracy bonus
        labels: 3
        reward: {scheme: accuracy_weighted, piece_rate: 0.05, accuracy_bonus: 0.03}

Behavioural response to pay is an **assumption**, stated here and on every report: a reward scheme may
shift annotators' skill (``skill_shift``, logit) and time per judgement (``time_factor``). Defaults:
``piece_rate`` changes neither (Mason & Watts 2009, "Financial incentives and the performance of crowds",
KDD-HCOMP: paying more raised the quantity of work, not its accuracy); ``accuracy_weighted`` assumes
+0.15 logit of skill at 10% more time per judgement (Ho, Slivkins, Suri & Vaughan 2015, "Incentivizing
high quality crowdwork", WWW: performance-based pay raised quality on tasks where effort matters; the
size here is ours, not theirs). Replace them with what your own A/B test measured (``labkit abtest``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit._checks import number_in_range
from labkit.errors import ParameterError

__all__ = ["Policy", "Review", "Reward", "load_policies", "parse_policies", "REWARD_DEFAULTS"]

#: assumed behavioural response per reward scheme: (skill_shift in logit, time_factor)
REWARD_DEFAULTS = {"piece_rate": (0.0, 1.0), "accuracy_weighted": (0.15, 1.10)}
PRIORITIES = ("planner", "margin", "random")


@dataclass(frozen=True)
class Review:
    fraction: float | None = None
    items: int | None = None
    hours: float | None = None
    priority: str = "planner"
    reviewer_accuracy: float = 0.98

    def n_items(self, n: int, minutes_per_item: float) -> int:
        if self.fraction is not None:
            return int(math.floor(self.fraction * n + 1e-9))
        if self.items is not None:
            return int(self.items)
        assert self.hours is not None
        return int(math.floor(self.hours * 60.0 / max(minutes_per_item, 1e-9) + 1e-9))


@dataclass(frozen=True)
class Reward:
    scheme: str
    piece_rate: float = 0.0
    accuracy_bonus: float = 0.0
    skill_shift: float = 0.0
    time_factor: float = 1.0


@dataclass(frozen=True)
class Policy:
    name: str
    labels: int = 3
    adaptive: tuple[int, int] | None = None   # (min labels, agree)
    review: Review | None = None
    credential: dict[str, Any] | None = None
    reward: Reward | None = None
    week: float = 0.0

    @property
    def max_labels(self) -> int:
        return self.labels


def _num(v: Any, where: str, *, lo: float | None = None, hi: float | None = None, integer: bool = False) -> Any:
    if not number_in_range(v, lo, hi, integer):
        rng = f" in [{lo:g}, {hi:g}]" if lo is not None and hi is not None else (f" >= {lo:g}" if lo is not None else "")
        kind = "an integer" if integer else "a number"
        raise ParameterError(f"{where} must be {kind}{rng}, got {v!r}")
    return int(v) if integer else float(v)


def _policy(d: Any, where: str) -> Policy:
    if not isinstance(d, dict):
        raise ParameterError(f"{where}: a policy is a mapping with at least name and labels")
    unknown = sorted(set(map(str, d)) - {"name", "labels", "review", "credential", "reward", "week"})
    if unknown:
        raise ParameterError(f"{where}: unknown field {unknown[0]!r} (a policy has name, labels, review, credential, "
                             "reward, week)")
    name = d.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ParameterError(f"{where}: field 'name' must be a non-empty string")
    where = f"{where} ({name})"
    lab = d.get("labels", 3)
    adaptive = None
    if isinstance(lab, dict):
        bad = sorted(set(map(str, lab)) - {"min", "max", "agree"})
        if bad or "max" not in lab or "agree" not in lab:
            raise ParameterError(f"{where}: labels as a mapping needs max and agree (and optionally min)")
        mx = _num(lab["max"], f"{where}: labels.max", lo=1, hi=100, integer=True)
        mn = _num(lab.get("min", 1), f"{where}: labels.min", lo=1, hi=mx, integer=True)
        ag = _num(lab["agree"], f"{where}: labels.agree", lo=1, hi=mx, integer=True)
        labels, adaptive = mx, (mn, ag)
    else:
        labels = _num(lab, f"{where}: labels", lo=1, hi=100, integer=True)
    review = None
    if d.get("review") is not None:
        r = d["review"]
        if not isinstance(r, dict):
            raise ParameterError(f"{where}: review must be a mapping (fraction, items or hours; priority)")
        budgets = [k for k in ("fraction", "items", "hours") if k in r]
        if len(budgets) != 1:
            raise ParameterError(f"{where}: review needs exactly one of fraction, items or hours, got {budgets or 'none'}")
        pr = r.get("priority", "planner")
        if pr not in PRIORITIES:
            raise ParameterError(f"{where}: review.priority must be one of {', '.join(PRIORITIES)}, got {pr!r}")
        review = Review(fraction=_num(r["fraction"], f"{where}: review.fraction", lo=0, hi=1) if "fraction" in r else None,
                        items=_num(r["items"], f"{where}: review.items", lo=0, integer=True) if "items" in r else None,
                        hours=_num(r["hours"], f"{where}: review.hours", lo=0) if "hours" in r else None,
                        priority=pr, reviewer_accuracy=_num(r.get("reviewer_accuracy", 0.98),
                                                            f"{where}: review.reviewer_accuracy", lo=0, hi=1))
    credential = None
    if d.get("credential") is not None:
        c = d["credential"]
        if not isinstance(c, dict) or "threshold" not in c:
            raise ParameterError(f"{where}: credential must be a mapping with threshold (and optionally gold_rate, "
                                 "history_items)")
        _num(c["threshold"], f"{where}: credential.threshold", lo=0, hi=1)
        credential = dict(c)
    reward = None
    if d.get("reward") is not None:
        w = d["reward"]
        if not isinstance(w, dict) or w.get("scheme") not in REWARD_DEFAULTS:
            raise ParameterError(f"{where}: reward.scheme must be one of {', '.join(REWARD_DEFAULTS)}")
        shift, factor = REWARD_DEFAULTS[w["scheme"]]
        reward = Reward(scheme=w["scheme"], piece_rate=_num(w.get("piece_rate", 0.0), f"{where}: reward.piece_rate", lo=0),
                        accuracy_bonus=_num(w.get("accuracy_bonus", 0.0), f"{where}: reward.accuracy_bonus", lo=0),
                        skill_shift=_num(w.get("skill_shift", shift), f"{where}: reward.skill_shift", lo=-5, hi=5),
                        time_factor=_num(w.get("time_factor", factor), f"{where}: reward.time_factor", lo=0.01, hi=100))
    week = _num(d.get("week", 0.0), f"{where}: week", lo=0)
    return Policy(name=name.strip(), labels=labels, adaptive=adaptive, review=review, credential=credential,
                  reward=reward, week=week)


def parse_policies(doc: Any, where: str = "policies") -> tuple[list[Policy], int | None]:
    """Policies and the items per run (None: not given) from a parsed YAML document."""
    if not isinstance(doc, dict) or not isinstance(doc.get("policies"), list) or not doc["policies"]:
        raise ParameterError(f"{where}: a policies file is a mapping with a non-empty 'policies' list")
    items = doc.get("items")
    if items is not None:
        items = _num(items, f"{where}: items", lo=1, integer=True)
    out = [_policy(p, f"{where}: policies[{i}]") for i, p in enumerate(doc["policies"])]
    names = [p.name for p in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ParameterError(f"{where}: policy name {dup[0]!r} is used twice")
    return out, items


def load_policies(path: str | os.PathLike[str]) -> tuple[list[Policy], int | None]:
    import yaml

    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParameterError(f"{p}: no such policies file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ParameterError(f"{p}:{mark.line + 1 if mark else ''}: not valid YAML") from None
    return parse_policies(doc, str(p))
