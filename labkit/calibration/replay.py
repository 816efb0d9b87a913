"""Replay mode: a whole session driven from code, for tests and for demos without a room of people.

A replay is a list of steps applied in order through the model API (the same calls the widgets
make), each with its own timestamp::

    steps = [
        Step("answer", "ann-1", item_id="c-1", label="spam", confidence=0.8, rationale="link drop"),
        Step("advance", "facil-1"),                      # blind -> reveal
        Step("clarify", "ann-1", item_id="c-1", label="spam", proposed="A link to ..."),
        Step("advance", "facil-1", to="closed"),
    ]
    replay(session, steps)

:func:`steps_from_labels` builds the steps from a program's own data: each participant's blind
answer to a gold item is drawn from that participant's confusion row (their labels on other gold
items in the weeks before the session), the final answer from their confusion row in the weeks after
it. Nothing is invented beyond sampling from those observed rates (plus a seeded smoothing prior).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labkit.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from labkit.calibration.model import CalibrationSession

STEP_KINDS = ("answer", "advance", "clarify", "decide")


@dataclass(frozen=True)
class Step:
    kind: str
    who: str
    item_id: str | None = None
    label: str | None = None
    confidence: float | None = None
    rationale: str = ""
    duration_s: float | None = None
    proposed: str = ""
    to: str | None = None
    at: dt.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def replay(session: "CalibrationSession", steps: list[Step]) -> dict[str, Any]:
    """Apply ``steps`` in order; return the session state afterwards."""
    for i, s in enumerate(steps):
        if s.kind not in STEP_KINDS:
            raise ParameterError(f"replay step {i}: kind must be one of {', '.join(STEP_KINDS)}, got {s.kind!r}")
        if s.kind == "answer":
            session.submit_answer(s.who, str(s.item_id), str(s.label), confidence=s.confidence,
                                  rationale=s.rationale, duration_s=s.duration_s, at=s.at)
        elif s.kind == "advance":
            session.advance(s.who, s.to, at=s.at)
        elif s.kind == "clarify":
            session.propose_clarification(s.who, str(s.item_id), str(s.label), s.proposed, s.rationale, at=s.at)
        else:
            session.decide(s.who, str(s.item_id), str(s.label), s.rationale)
    return session.state()


def _confusions(lab: pd.DataFrame, labels: tuple[str, ...], people: list[str],
                prior: float) -> dict[str, np.ndarray]:
    """Per person, a row-stochastic matrix P[true, answered] from labels with a ``reference``, smoothed."""
    k = len(labels)
    idx = {lab_: i for i, lab_ in enumerate(labels)}
    scored = lab[lab["reference"].notna()]
    out = {}
    pooled = np.full((k, k), prior) + np.eye(k) * prior * k
    for p in people:
        m = np.full((k, k), prior) + np.eye(k) * prior * k  # prior leans to correct answers
        s = scored[scored["annotator_id"] == p]
        for ref, got in zip(s["reference"], s["label"]):
            t, g = idx.get(ref), idx.get(got)
            if t is not None and g is not None:
                m[t, g] += 1
                pooled[t, g] += 1
        out[p] = m
    out["__pooled__"] = pooled
    return {p: m / m.sum(axis=1, keepdims=True) for p, m in out.items()}


def steps_from_labels(
    session: "CalibrationSession",
    labels: pd.DataFrame,
    gold: pd.DataFrame,
    *,
    facilitator: str,
    start: dt.datetime,
    window_days: float = 14.0,
    clarification: dict[str, str] | None = None,
    prior: float = 0.5,
    seed: int = 0,
    guidelines: Any = None,
) -> list[Step]:
    """Steps for a whole session, sampled from each participant's observed rates before and after.

    Parameters
    ----------
    labels, gold : DataFrame
        The program's canonical label table and gold table.
    facilitator : str
        Who moves the phases.
    start : datetime
        When the session starts; answers and phase changes get timestamps from there on.
    window_days : float
        Confusion rows come from labels in ``[start - window, start)`` (blind answers) and
        ``[start, start + window)`` (final answers).
    clarification : dict, optional
        ``{participant, item_id, label, proposed, rationale}``: one clarification proposed at reveal.
        By default none.
    prior : float
        Smoothing pseudo-count per cell (diagonal gets ``prior * n_labels`` more).
    """
    rng = np.random.default_rng(seed)
    names = session.labels
    task = session.spec.task
    lab = labels[(labels["task"].astype(str) == task) & (labels["source"].astype(str) == "human")]
    lab = pd.DataFrame({"item_id": lab["item_id"].astype(str), "annotator_id": lab["annotator_id"].astype(str),
                        "label": lab["label"].astype(str), "created_at": lab["created_at"],
                        "duration_s": lab["duration_s"], "guideline_version": lab["guideline_version"].astype("object")})
    from labkit.calibration.summary import gold_reference, session_guidelines

    if guidelines is None:
        guidelines = session_guidelines(session)
    lab = lab.assign(reference=gold_reference(lab, gold, guidelines, task, session.spec.guideline.version))
    sess_items = {it.item_id for it in session.items}
    lab_other = lab[~lab["item_id"].isin(sess_items)]
    t0 = pd.Timestamp(start)
    w = pd.Timedelta(days=window_days)
    people = session.annotators()
    before = _confusions(lab_other[(lab_other["created_at"] >= t0 - w) & (lab_other["created_at"] < t0)], names, people, prior)
    after = _confusions(lab_other[(lab_other["created_at"] >= t0) & (lab_other["created_at"] < t0 + w)], names, people, prior)
    med = lab.groupby("annotator_id")["duration_s"].median()
    idx = {n: i for i, n in enumerate(names)}

    def reference(item_id: str) -> str | None:
        ref = session.item(item_id).gold
        if ref is None:  # non-gold item: the item's majority label before the session
            s = lab[(lab["item_id"] == item_id) & (lab["created_at"] < t0)]["label"]
            s = s[s.isin(names)]
            ref = s.value_counts().index[0] if len(s) else None
        return ref

    def draw(conf: dict[str, np.ndarray], p: str, item_id: str) -> str:
        ref = reference(item_id)
        m = conf[p] if p in conf else conf["__pooled__"]
        if ref is None or ref not in idx:
            return str(names[rng.integers(len(names))])
        return str(names[rng.choice(len(names), p=m[idx[ref]])])

    steps: list[Step] = []
    clock = t0
    for p in people:
        d = float(med.get(p, 20.0)) if pd.notna(med.get(p, np.nan)) else 20.0
        for it in session.items:
            label = draw(before, p, it.item_id)
            dur = float(max(2.0, rng.gamma(4.0, d / 4.0)))
            clock = clock + pd.Timedelta(seconds=dur)
            lbl = session.spec.guideline.label(label)
            steps.append(Step("answer", p, item_id=it.item_id, label=label,
                              confidence=float(np.round(rng.uniform(0.5, 1.0), 2)),
                              rationale=f"Read it as {label}: {lbl.definition.split('.')[0].lower()}.",
                              duration_s=round(dur, 1), at=clock.to_pydatetime(warn=False)))
    clock = clock + pd.Timedelta(minutes=2)
    steps.append(Step("advance", facilitator, at=clock.to_pydatetime(warn=False)))  # reveal
    if clarification:
        clock = clock + pd.Timedelta(minutes=5)
        steps.append(Step("clarify", clarification["participant"], item_id=clarification["item_id"],
                          label=clarification["label"], proposed=clarification["proposed"],
                          rationale=clarification.get("rationale", ""), at=clock.to_pydatetime(warn=False)))
    clock = clock + pd.Timedelta(minutes=10)
    steps.append(Step("advance", facilitator, at=clock.to_pydatetime(warn=False)))  # discussion
    for p in people:
        for it in session.items:
            clock = clock + pd.Timedelta(seconds=15)
            label = draw(after, p, it.item_id)
            steps.append(Step("answer", p, item_id=it.item_id, label=label,
                              confidence=float(np.round(rng.uniform(0.6, 1.0), 2)),
                              rationale="After discussion.", duration_s=15.0, at=clock.to_pydatetime(warn=False)))
    clock = clock + pd.Timedelta(minutes=5)
    steps.append(Step("advance", facilitator, at=clock.to_pydatetime(warn=False)))  # record
    clock = clock + pd.Timedelta(minutes=5)
    steps.append(Step("advance", facilitator, at=clock.to_pydatetime(warn=False)))  # closed
    return steps
