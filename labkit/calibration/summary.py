"""Before/after numbers of a session, and the summary written when it closes.

Two comparisons, both with intervals:

* **session items**: each participant's accuracy against the reference (gold, else the facilitator's
  decision) on their blind answers (before discussion) and their final answers (after), and the
  group's Krippendorff alpha on blind vs final answers;
* **follow-up labels**: from the program's label file, each participant's accuracy on gold items
  (session items excluded) in the ``window_days`` before the session and the ``window_days`` after it
  closed, the same for everyone who did not take part (a comparison group: a change that shows there
  too is not the session's doing), and the participants' group alpha before vs after on items two
  or more of them labeled.

Accuracy intervals are Wilson score intervals; alpha intervals are percentile bootstraps over items.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labkit._atomic import write_json
from labkit.calibration import storage
from labkit.calibration.metrics import agreement, wilson_interval

if TYPE_CHECKING:  # pragma: no cover
    from labkit.calibration.model import CalibrationSession


def _acc_row(who: str, group: str, when: str, correct: int, n: int) -> dict[str, Any]:
    lo, hi = wilson_interval(correct, n)
    return {"participant": who, "group": group, "when": when, "n": int(n), "correct": int(correct),
            "accuracy": (correct / n) if n else float("nan"), "ci_low": lo, "ci_high": hi}


def _alpha_row(scope: str, when: str, table: pd.DataFrame, rater: str, seed: int) -> dict[str, Any]:
    a = agreement(table, rater=rater, ci=0.95, n_boot=500, seed=seed)
    return {"scope": scope, "when": when, "alpha": a["alpha"], "ci_low": a["alpha_ci_low"], "ci_high": a["alpha_ci_high"],
            "kappa": a["kappa"], "items": a["items_with_two_or_more"], "judgements": int(len(table))}


def session_items_before_after(session: CalibrationSession, seed: int = 0) -> dict[str, Any]:
    """Per-participant accuracy and group alpha on the session items, blind vs final answers."""
    acc = []
    alphas = []
    refs = {it.item_id: session.reference(it.item_id) for it in session.items}
    for rnd, when in (("blind", "before"), ("final", "after")):
        a = session.answers(rnd)
        a = a.assign(reference=a["item_id"].map(refs))
        scored = a[a["reference"].notna()]
        for p in session.annotators():
            s = scored[scored["participant"] == p]
            acc.append(_acc_row(p, "participant", when, int((s["label"] == s["reference"]).sum()), len(s)))
        alphas.append(_alpha_row("session items", when, a[["item_id", "participant", "label"]], "participant", seed))
    return {"accuracy": acc, "agreement": alphas}


def _resolve(session: CalibrationSession, key: str, given: str | os.PathLike[str] | None) -> str | None:
    if given:
        return str(given)
    rel = session.spec.sources.get(key)
    if not rel:
        return None
    parts = [Path(x) for x in str(rel).split(os.pathsep) if x]  # several label files are joined by os.pathsep
    return os.pathsep.join(str(p if p.is_absolute() else (session.folder / p).resolve()) for p in parts)


def session_guidelines(session: CalibrationSession) -> Any:
    """The session's guidelines folder loaded (``sources.guidelines``), or None if unavailable."""
    root = _resolve(session, "guidelines", None)
    if not root or not Path(root).is_dir():
        return None
    from labkit.guidelines.model import Guidelines

    return Guidelines.load(root)


def gold_reference(lab: pd.DataFrame, gold: pd.DataFrame, guidelines: Any, task: str, default_version: str) -> pd.Series:
    """Per label row, the gold label translated into the guideline version the row was made under.

    ``lab`` has ``item_id`` and ``guideline_version`` (str or missing: ``default_version``). NaN where
    the item has no gold or the gold has no single counterpart in that version.
    """
    from labkit.calibration.selection import translate_gold

    versions = lab["guideline_version"].fillna(default_version).astype(str)
    ref = pd.Series(pd.NA, index=lab.index, dtype="object")
    for v in versions.unique():
        gm, _ = translate_gold(gold, guidelines, v, task=task)
        rows = versions == v
        ref[rows] = lab.loc[rows, "item_id"].map(gm)
    return ref


def followup_before_after(session: CalibrationSession, labels: pd.DataFrame, gold: pd.DataFrame, *,
                          window_days: float = 14.0, seed: int = 0, guidelines: Any = None) -> dict[str, Any]:
    """Accuracy on gold and group alpha in the windows before the session and after it closed.

    Gold decided under another guideline version is translated into the version each label was made
    under (:func:`gold_reference`); gold with no single counterpart there is not scored.
    """
    start = session.spec.scheduled_at or session.phase_started("reveal") or session.spec.created_at
    end = session.phase_started("closed") or start
    if session.spec.scheduled_at is not None and end < start:
        end = start
    w = pd.Timedelta(days=window_days)
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    task = session.spec.task
    lab = labels[(labels["task"].astype(str) == task) & (labels["source"].astype(str) == "human")
                 & (labels["stage"].astype(str) == "label")]
    lab = pd.DataFrame({"item_id": lab["item_id"].astype(str), "annotator_id": lab["annotator_id"].astype(str),
                        "label": lab["label"].astype(str), "created_at": lab["created_at"],
                        "guideline_version": lab["guideline_version"].astype("object")})
    session_ids = {it.item_id for it in session.items}
    lab = lab[~lab["item_id"].isin(session_ids)]
    if guidelines is None:
        guidelines = session_guidelines(session)
    lab = lab.assign(reference=gold_reference(lab, gold, guidelines, task, session.spec.guideline.version))
    n_gold = int(lab.loc[lab["reference"].notna(), "item_id"].nunique())
    people = set(session.annotators())
    windows = {"before": lab[(lab["created_at"] >= t0 - w) & (lab["created_at"] < t0)],
               "after": lab[(lab["created_at"] >= t1) & (lab["created_at"] < t1 + w)]}
    acc = []
    alphas = []
    for when, part in windows.items():
        scored = part[part["reference"].notna()]
        scored = scored.assign(ok=scored["label"].to_numpy() == scored["reference"].to_numpy())
        for p in sorted(people):
            s = scored[scored["annotator_id"] == p]
            acc.append(_acc_row(p, "participant", when, int(s["ok"].sum()), len(s)))
        ours = scored[scored["annotator_id"].isin(people)]
        others = scored[~scored["annotator_id"].isin(people)]
        acc.append(_acc_row("all participants", "group", when, int(ours["ok"].sum()), len(ours)))
        acc.append(_acc_row("everyone else", "comparison", when, int(others["ok"].sum()), len(others)))
        mine = part[part["annotator_id"].isin(people)].drop_duplicates(["item_id", "annotator_id"], keep="last")
        alphas.append(_alpha_row("participants, follow-up labels", when, mine[["item_id", "annotator_id", "label"]],
                                 "annotator_id", seed))
    return {"window_days": window_days, "before": [str(t0 - w), str(t0)], "after": [str(t1), str(t1 + w)],
            "accuracy": acc, "agreement": alphas, "gold_items_labeled": n_gold, "excluded_session_items": len(session_ids)}


def before_after(session: CalibrationSession, *, labels: str | os.PathLike[str] | pd.DataFrame | None = None,
                 gold: str | os.PathLike[str] | pd.DataFrame | None = None, window_days: float = 14.0,
                 seed: int = 0) -> dict[str, Any]:
    """Both comparisons; the follow-up part needs a labels file and a gold file (given or in ``sources``).

    Returns a JSON-ready dict with ``session_items`` and ``followup`` (``None`` plus a
    ``followup_missing`` reason when there is no label or gold file to compare with).
    """
    out: dict[str, Any] = {"session": session.id, "session_items": session_items_before_after(session, seed)}
    if isinstance(labels, pd.DataFrame):
        lab_df = labels
    else:
        lp = _resolve(session, "labels", labels)
        lab_df = None
        if lp:
            from labkit.io import load_labels

            lab_df = load_labels(lp)
    if isinstance(gold, pd.DataFrame):
        gold_df = gold
    else:
        gp = _resolve(session, "gold", gold)
        gold_df = None
        if gp:
            from labkit.schema import read_gold

            gold_df = read_gold(gp)
    if lab_df is None or gold_df is None:
        out["followup"] = None
        out["followup_missing"] = "no labels file" if lab_df is None else "no gold file"
    else:
        out["followup"] = followup_before_after(session, lab_df, gold_df, window_days=window_days, seed=seed)
    return out


def _clean(obj: Any) -> Any:
    """JSON-ready: NaN and infinities become null, floats keep 12 significant digits.

    Twelve digits are far more than any of these numbers means, and they make the files
    reproducible: the last bit of a sum can depend on the order of the labels' categories, which
    changes with Python's string hashing from one process to the next.
    """
    if isinstance(obj, float):
        return float(f"{obj:.12g}") if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return _clean(obj.item())
    return obj


def write_summary(session: CalibrationSession, **kw: Any) -> dict[str, Any]:
    """Write ``summary.json`` and ``before_after.json`` into the session folder; return the summary."""
    ba = before_after(session, **kw)
    state = session.state()
    state["agreement_final"] = session.agreement("final")
    closed = session.phase_started("closed") or dt.datetime.now(dt.timezone.utc)
    state["closed_at"] = closed.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    state["proposal_files"] = [os.path.relpath(p, session.folder) for p in session.proposals()]
    state["ranked_by_disagreement"] = session.ranked_by_disagreement("blind").to_dict(orient="records")
    write_json(session.folder / storage.BEFORE_AFTER_FILE, _clean(ba))
    write_json(session.folder / storage.SUMMARY_FILE, _clean(state))
    return _clean(state)
