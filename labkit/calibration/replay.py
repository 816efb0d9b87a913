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
it, shrunk towards the pool's confusion matrix when a person has few scored labels. Nothing is
invented beyond sampling from those observed rates.
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
    op: str = "reword_definition"
    at: dt.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def replay(session: CalibrationSession, steps: list[Step]) -> dict[str, Any]:
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
            session.propose_clarification(s.who, str(s.item_id), str(s.label), s.proposed, s.rationale,
                                          op=s.op, at=s.at)
        else:
            session.decide(s.who, str(s.item_id), str(s.label), s.rationale, at=s.at)
    return session.state()


def _confusions(lab: pd.DataFrame, labels: tuple[str, ...], people: list[str],
                prior: float, strength: float = 5.0) -> dict[str, np.ndarray]:
    """Per person, a row-stochastic matrix P[true, answered] from labels with a ``reference``.

    Empirical Bayes: the pooled matrix of everyone's labels (plus ``prior`` per cell) is the prior,
    worth ``strength`` labels per row; each person's own counts are added to it. A person with few
    scored labels answers like the pool; one with many, like themself.
    """
    k = len(labels)
    idx = {lab_: i for i, lab_ in enumerate(labels)}
    scored = lab[lab["reference"].notna()]
    t = scored["reference"].map(idx)
    g = scored["label"].map(idx)
    ok = t.notna() & g.notna()
    who = scored["annotator_id"][ok].to_numpy()
    t, g = t[ok].to_numpy(int), g[ok].to_numpy(int)
    pooled = np.full((k, k), prior)
    np.add.at(pooled, (t, g), 1.0)
    pooled /= pooled.sum(axis=1, keepdims=True)
    out = {"__pooled__": pooled}
    for p in people:
        m = strength * pooled.copy()
        mine = who == p
        np.add.at(m, (t[mine], g[mine]), 1.0)
        out[p] = m / m.sum(axis=1, keepdims=True)
    return out


def steps_from_labels(
    session: CalibrationSession,
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
        ``{participant, item_id, label, proposed, rationale[, op]}``: one clarification proposed at
        reveal (``op`` as in :data:`labkit.calibration.model.CLARIFY_OPS`, default a rewording).
        By default none.
    prior : float
        Smoothing pseudo-count per cell of the pooled confusion matrix, which is each person's prior
        (worth five labels per row; see :func:`_confusions`).
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

    # everybody answers at the same time, each at their own pace (their median time per label)
    blind: list[Step] = []
    for p in people:
        d = float(med.get(p, 20.0)) if pd.notna(med.get(p, np.nan)) else 20.0
        clock = t0
        for it in session.items:
            label = draw(before, p, it.item_id)
            dur = float(max(2.0, rng.gamma(4.0, d / 4.0)))
            clock = clock + pd.Timedelta(seconds=dur)
            lbl = session.spec.guideline.label(label)
            blind.append(Step("answer", p, item_id=it.item_id, label=label,
                              confidence=float(np.round(rng.uniform(0.5, 1.0), 2)),
                              rationale=f"Read it as {label}: {lbl.definition.split('.')[0].lower()}.",
                              duration_s=round(dur, 1), at=clock.to_pydatetime(warn=False)))
    steps: list[Step] = sorted(blind, key=lambda x: x.at)  # type: ignore[arg-type,return-value]
    clock = pd.Timestamp(steps[-1].at) if steps else t0
    clock = clock + pd.Timedelta(minutes=2)
    steps.append(Step("advance", facilitator, at=clock.to_pydatetime(warn=False)))  # reveal
    if clarification:
        clock = clock + pd.Timedelta(minutes=5)
        steps.append(Step("clarify", clarification["participant"], item_id=clarification["item_id"],
                          label=clarification["label"], proposed=clarification["proposed"],
                          rationale=clarification.get("rationale", ""),
                          op=clarification.get("op", "reword_definition"), at=clock.to_pydatetime(warn=False)))
    clock = clock + pd.Timedelta(minutes=10)
    steps.append(Step("advance", facilitator, at=clock.to_pydatetime(warn=False)))  # discussion
    disc = clock + pd.Timedelta(minutes=20)  # twenty minutes of discussion, then the final answers
    final: list[Step] = []
    for p in people:
        clock = disc
        for it in session.items:
            clock = clock + pd.Timedelta(seconds=15)
            label = draw(after, p, it.item_id)
            final.append(Step("answer", p, item_id=it.item_id, label=label,
                              confidence=float(np.round(rng.uniform(0.6, 1.0), 2)),
                              rationale="After discussion.", duration_s=15.0, at=clock.to_pydatetime(warn=False)))
    final.sort(key=lambda x: x.at)  # type: ignore[arg-type,return-value]
    steps += final
    clock = pd.Timestamp(final[-1].at) if final else clock
    clock = clock + pd.Timedelta(minutes=5)
    steps.append(Step("advance", facilitator, at=clock.to_pydatetime(warn=False)))  # record
    clock = clock + pd.Timedelta(minutes=5)
    steps.append(Step("advance", facilitator, at=clock.to_pydatetime(warn=False)))  # closed
    return steps
