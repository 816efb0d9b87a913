"""Exemplars: worked examples with the rationale behind the decision, promoted into the guideline.

An exemplar comes from a decided item — a calibration session item after discussion (its gold label or
the facilitator's decision) or an adjudication in the decision log — and enters the guideline only
through the proposal flow (an ``add_exemplar`` change, approved and released under governance.yaml's
rules), so the book shows it from the next release on, under its label, with the rationale and who
decided. Who decided is always a governance member id (members are pseudonymous by construction); the
annotators of a session never appear.

The item was decided under some guideline version; the proposal is made against the latest one. The
decided label is carried forward through the releases' migration maps (``offensive`` decided under
1.1.0 becomes ``insult`` in 2.0.0); where a release split or removed it, the promotion is refused with
the reason and ``label=`` must name the label in today's terms.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from labkit.errors import GuidelineError
from labkit.guidelines.migrate import step_map
from labkit.guidelines.model import Guidelines

__all__ = ["carry_label", "exemplar_change", "from_adjudication", "item_texts", "promote"]


def carry_label(gl: Guidelines, task: str, label: str, from_version: str | None) -> str:
    """``label`` as decided under ``from_version``, in the terms of ``task``'s latest version."""
    vs = gl.versions(task)
    latest = vs[-1]
    if from_version is None or from_version == latest.version:
        if label not in latest.label_names:
            raise GuidelineError(f"label {label!r} is not in {task} {latest.version} "
                                 f"(labels: {', '.join(latest.label_names)}); name the label with --label")
        return label
    names = [v.version for v in vs]
    if from_version not in names:
        raise GuidelineError(f"{task} has no version {from_version!r} (versions: {', '.join(names)})")
    cur = label
    for old, new in zip(vs[names.index(from_version):], vs[names.index(from_version) + 1:]):
        mapping, flagged = step_map(old, new)
        if cur in flagged:
            raise GuidelineError(f"cannot carry {label!r} from {from_version} to {latest.version}: {flagged[cur]}; "
                                 "name the label with --label")
        if cur not in mapping:
            raise GuidelineError(f"label {cur!r} is not in {task} {old.version}; name the label with --label")
        cur = mapping[cur]
    return cur


def exemplar_change(gl: Guidelines, task: str, *, text: str, label: str, decided_under: str | None,
                    rationale: str, polarity: str = "positive", source: str = "", decided_by: str = "",
                    override_label: str | None = None) -> dict[str, Any]:
    """The ``add_exemplar`` change for one decided item, in the latest version's terms."""
    if polarity not in ("positive", "negative"):
        raise GuidelineError(f"polarity must be positive or negative, got {polarity!r}")
    if not text.strip():
        raise GuidelineError(f"the item has no text to show as an exemplar ({source or 'item'})")
    if not rationale.strip():
        raise GuidelineError(f"an exemplar needs a rationale ({source or 'item'}): give --rationale")
    lab = override_label if override_label is not None else carry_label(gl, task, label, decided_under)
    if lab not in gl.latest(task).label_names:
        raise GuidelineError(f"label {lab!r} is not in {task} {gl.latest(task).version} "
                             f"(labels: {', '.join(gl.latest(task).label_names)})")
    ch: dict[str, Any] = {"op": "add_exemplar", "label": lab, "polarity": polarity, "proposed": text.strip(),
                          "rationale": rationale.strip()}
    if source:
        ch["source"] = source
    if decided_by:
        ch["decided_by"] = decided_by
    return ch


def item_texts(path: str | os.PathLike[str]) -> dict[str, str]:
    """``item_id -> text`` from an items file (CSV/TSV/Parquet with item_id and text columns)."""
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise GuidelineError(f"{p}: no such items file")
    df = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p, sep="\t" if p.suffix == ".tsv" else ",",
                                                                        dtype=str, keep_default_na=False)
    for col in ("item_id", "text"):
        if col not in df.columns:
            raise GuidelineError(f"{p}: missing column {col!r} (an items file has item_id and text)")
    return dict(zip(df["item_id"].astype(str), df["text"].astype(str)))


def from_adjudication(gl: Guidelines, root: str | os.PathLike[str], task: str, item_id: str,
                      texts: dict[str, str], *, polarity: str = "positive",
                      override_label: str | None = None) -> dict[str, Any]:
    """The exemplar change for the latest adjudication of ``item_id`` in the decision log."""
    from labkit.guidelines.log import read

    hits = [e for e in read(root) if e.get("action") == "adjudicate" and str(e.get("item_id")) == item_id
            and e.get("task") == task]
    if not hits:
        raise GuidelineError(f"no adjudication of item {item_id!r} for task {task!r} in the decision log")
    e = hits[-1]
    if item_id not in texts:
        raise GuidelineError(f"item {item_id!r} is not in the items file (no text to show)")
    at = str(e.get("at", ""))[:10]
    decided_under = _version_at(gl, task, str(e.get("at", "")))
    return exemplar_change(gl, task, text=texts[item_id], label=str(e["label"]), decided_under=decided_under,
                           rationale=str(e.get("why") or ""), polarity=polarity,
                           source=f"adjudication of item {item_id} on {at} (log entry {e.get('seq')})",
                           decided_by=str(e.get("who") or ""), override_label=override_label)


def _version_at(gl: Guidelines, task: str, at: str) -> str | None:
    import datetime as dt

    try:
        t = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return None
    v = gl.in_force(task, t)
    return v.version if v is not None else None


def promote(changes: list[dict[str, Any]], *, root: str | os.PathLike[str], task: str, author: str,
            title: str | None = None, rationale: str | None = None, source: dict[str, Any] | None = None) -> Any:
    """File one proposal adding ``changes`` (exemplars) to ``task``'s latest version; returns the Proposal."""
    from labkit.guidelines.proposals import new_proposal

    gl = Guidelines.load(root)
    latest = gl.latest(task)
    labels = sorted({c["label"] for c in changes})
    title = title or f"Exemplars for {', '.join(labels)}"
    why = rationale or "; ".join(f"{c['label']}: {c['rationale']}" for c in changes)
    return new_proposal(task=task, base_version=latest.version, author=author, title=title, rationale=why,
                        changes=changes, source=source or {"kind": "exemplars"}, root=root)
