"""Label Studio JSON export (``Export -> JSON``): a list of tasks with annotations and predictions.

What becomes what
-----------------
- **item_id**: the first of ``data.item_id``, ``data.id``, ``data.external_id``, ``data.uid`` that
  is set, else the task ``id``.
- **annotator_id**: ``completed_by`` (an int, or an object whose ``id`` is used; the e-mail is never
  stored, not even in the quarantine). Predictions use ``model_version`` (``"model"`` if absent)
  and ``source = model``; the prediction ``score`` (or a result's own ``score``) is the confidence.
- **task**: ``data.task`` if set, else ``--task``, else the control name (``from_name``). When the
  export has several controls (several questions), each control name is its own task and
  ``--task`` is not applied to them (a note says so).
- **label**: ``choices`` give one judgement per selected choice; ``rating`` gives the rating as
  text (``"4"``); ``taxonomy`` gives one judgement per selected path, the path joined with ``/``
  (``"Animals/Mammals"``), so equal leaf names under different parents stay apart and the guideline
  hierarchy (``parents()``) can be checked against it.
- **duration_s** from ``lead_time``; **created_at** from the annotation's (or prediction's)
  ``created_at``; **slice** from ``data.slice`` or ``data.domain``; **guideline_version** from the
  annotation's ``meta.guideline_version``, else ``data.guideline_version``, else
  ``--guideline-version``; a human **confidence** from the annotation's ``meta.confidence``;
  **stage** from ``meta.stage`` or ``data.stage`` (default ``label``).
- ``ground_truth: true`` annotations are judgements *and* gold rows (``ImportResult.gold``,
  ``decided_by`` = the annotator); for an item with several gold labels the first is kept as gold
  and a note counts the others.

What a record is
----------------
One *result* (one control's answer) of an annotation or of a prediction. An annotation or
prediction with no result, and a cancelled annotation (``was_cancelled``), count as one record
each: accepted, with no judgement, counted in ``skipped`` (``was_cancelled``, ``empty_result``).
A task with neither annotations nor predictions is one record, skipped as ``unannotated``.
Result types labkit does not support yet (``rectanglelabels``, ``labels`` spans, ``textarea``,
``polygonlabels``, ``keypointlabels``, ``brushlabels``, ``relation``, ``pairwise``, ``ranker``,
...) are quarantined with that reason. Records are named by their path in the document, e.g.
``$[3].annotations[0].result[1]``.
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import Any

import pandas as pd

from labkit.errors import InputRefused
from labkit.io.base import ImportResult, register
from labkit.io.importers._records import Collector, as_dict, read_json_document, scalar_id
from labkit.schema import conform_gold

SUPPORTED = ("choices", "rating", "taxonomy")
_NO_RESULT = object()
_ITEM_KEYS = ("item_id", "id", "external_id", "uid")


def _looks_label_studio(head: bytes, path: str) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith(b"[") and b'"annotations"' in head and (
        b'"result"' in head or b'"completed_by"' in head or b'"predictions"' in head)


def _annotator(value: Any) -> str | None:
    if isinstance(value, dict):
        return scalar_id(value.get("id"))
    return scalar_id(value)


def _scrub(annotation: dict[str, Any]) -> dict[str, Any]:
    """An annotation without personal data (e-mails) and without its results, for the quarantine."""
    keep = {k: v for k, v in annotation.items() if k not in ("result", "created_username", "completed_by")}
    keep["completed_by"] = _annotator(annotation.get("completed_by"))
    return keep


def _context(task_id: Any, kind: str, annotation: dict[str, Any], result: Any = _NO_RESULT) -> dict[str, Any]:
    """What the quarantine shows of an annotation (or of one of its results): no e-mails."""
    out = {"task_id": task_id, kind: _scrub(annotation)}
    if result is not _NO_RESULT:
        out["result"] = result
    return out


def _labels(result: dict[str, Any]) -> tuple[list[str] | None, str | None]:
    """The labels of one result, or (None, why) when it cannot be read."""
    rtype = result.get("type")
    value = result.get("value")
    if not isinstance(value, dict):
        return None, "result has no value object"
    if rtype not in SUPPORTED:
        kind = rtype if rtype else next(iter(value), "unknown")
        return None, (f"result type {kind!r} is not supported yet (labkit imports {', '.join(SUPPORTED)})")
    raw = value.get(rtype)
    if rtype == "choices":
        if not isinstance(raw, list) or not all(isinstance(c, (str, int, float)) and not isinstance(c, bool) for c in raw):
            return None, "value.choices must be a list of choices"
        return [str(c) for c in raw], None
    if rtype == "rating":
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            return None, "value.rating must be a number"
        return [str(int(raw)) if float(raw).is_integer() else str(raw)], None
    if not isinstance(raw, list) or not all(isinstance(p, list) and p for p in raw):
        return None, "value.taxonomy must be a list of paths (lists of names)"
    return ["/".join(str(x) for x in p) for p in raw], None


@register("label-studio", suffixes=(), sniff=_looks_label_studio, priority=20)
def read_label_studio(path: str, *, task: str | None = None, guideline_version: str | None = None) -> ImportResult:
    """Import a Label Studio JSON export (see the module docstring for the mapping)."""
    doc, bad_bytes = read_json_document(path)
    if isinstance(doc, dict) and ("annotations" in doc or "data" in doc):
        doc = [doc]  # a single task exported on its own
    if not isinstance(doc, list):
        raise InputRefused(path, "a Label Studio JSON export is a list of tasks; this file holds "
                                 f"a JSON {type(doc).__name__}")
    if not doc:
        raise InputRefused(path, "the export holds no tasks")
    if not any(isinstance(t, dict) and ("annotations" in t or "predictions" in t or "data" in t) for t in doc[:50]):
        raise InputRefused(path, "does not look like a Label Studio export (no task has data, annotations or predictions)")
    controls = Counter(r.get("from_name") for t in doc if isinstance(t, dict)
                       for a in (t.get("annotations") or []) + (t.get("predictions") or []) if isinstance(a, dict)
                       for r in (a.get("result") or []) if isinstance(r, dict) and r.get("type") in SUPPORTED)
    several = len(controls) > 1
    c = Collector(path, "label-studio")
    c.check_bytes = bad_bytes
    if several:
        c.notes.append(f"several controls ({', '.join(sorted(map(str, controls)))}): each is its own task")
    gold_rows: list[dict[str, Any]] = []
    for i, t in enumerate(doc):
        tkey = f"$[{i}]"
        if not isinstance(t, dict):
            c.new_record(tkey, t)
            c.reject(tkey, None, "a task must be a JSON object")
            continue
        data = as_dict(t.get("data"))
        item = next((scalar_id(data.get(k)) for k in _ITEM_KEYS if scalar_id(data.get(k))), None) or scalar_id(t.get("id"))
        slice_ = scalar_id(data.get("slice")) or scalar_id(data.get("domain"))
        version = scalar_id(data.get("guideline_version"))
        data_task = scalar_id(data.get("task"))
        annotations = t.get("annotations") or []
        predictions = t.get("predictions") or []
        if not annotations and not predictions:
            c.new_record(tkey, {"id": t.get("id"), "data": data})
            c.skip("unannotated")
            continue
        for kind, entries in (("annotations", annotations), ("predictions", predictions)):
            if not isinstance(entries, list):
                c.new_record(f"{tkey}.{kind}", entries)
                c.reject(f"{tkey}.{kind}", kind, f"{kind} must be a list")
                continue
            for j, a in enumerate(entries):
                akey = f"{tkey}.{kind}[{j}]"
                if not isinstance(a, dict):
                    c.new_record(akey, a)
                    c.reject(akey, kind, "an annotation must be a JSON object")
                    continue
                context = partial(_context, t.get("id"), kind[:-1], a)  # built only if quarantined
                is_pred = kind == "predictions"
                results = a.get("result") or []
                if not is_pred and a.get("was_cancelled"):
                    c.new_record(akey, context)
                    c.skip("was_cancelled")
                    continue
                if not isinstance(results, list):
                    c.new_record(akey, context)
                    c.reject(akey, "result", "result must be a list")
                    continue
                if not results:
                    c.new_record(akey, context)
                    c.skip("empty_result")
                    continue
                who: str | None
                if is_pred:
                    who = scalar_id(a.get("model_version")) or "model"
                else:
                    who = _annotator(a.get("completed_by"))
                gold = bool(a.get("ground_truth")) and not is_pred
                for k, r in enumerate(results):
                    rkey = f"{akey}.result[{k}]"
                    c.new_record(rkey, partial(_context, t.get("id"), kind[:-1], a, r))
                    if not isinstance(r, dict):
                        c.reject(rkey, "result", "a result must be a JSON object")
                        continue
                    if r.get("type") == "relation" or "from_id" in r:
                        c.reject(rkey, "result.type", "result type 'relation' is not supported yet "
                                                      f"(labkit imports {', '.join(SUPPORTED)})")
                        continue
                    labels, why = _labels(r)
                    if labels is None:
                        c.reject(rkey, f"result.value.{r.get('type') or 'type'}" if r.get("type") in SUPPORTED
                                 else "result.type", why or "")
                        continue
                    if item is None:
                        c.reject(rkey, "data", "the task has no id (neither data.item_id/id/external_id/uid nor id)")
                        continue
                    if who is None:
                        c.reject(rkey, "model_version" if is_pred else "completed_by",
                                 "no annotator: completed_by is missing")
                        continue
                    if not labels:
                        c.skip("empty_result")
                        continue
                    control = scalar_id(r.get("from_name"))
                    task_name = data_task or (control if several else (task or control))
                    ameta = as_dict(a.get("meta"))
                    score = r.get("score", a.get("score")) if is_pred else ameta.get("confidence")
                    a_version = scalar_id(ameta.get("guideline_version")) or version
                    for lab in labels:
                        c.add(rkey, item_id=item, annotator_id=who, task=task_name, label=lab,
                              guideline_version=a_version, created_at=a.get("created_at"),
                              duration_s=None if is_pred else a.get("lead_time"), confidence=score,
                              source="model" if is_pred else "human",
                              stage=scalar_id(ameta.get("stage")) or scalar_id(data.get("stage")) or "label",
                              slice=slice_)
                        if gold:
                            gold_rows.append({"_key": rkey, "item_id": item, "task": task_name or task or "default", "label": lab,
                                              "guideline_version": a_version or guideline_version, "decided_by": who,
                                              "rationale": None})
    result = c.result(task=task, guideline_version=guideline_version)
    # gold comes only from records that made it into the table (a quarantined record gives no gold)
    gold_rows = [g for g in gold_rows if not c.is_quarantined(g["_key"])]
    if gold_rows:
        g = pd.DataFrame(gold_rows, dtype=object).drop(columns="_key")
        dup = g.duplicated(["item_id", "task"], keep="first")
        if dup.any():
            result.notes.append(f"{int(dup.sum())} extra gold label(s) on items that already had one: the first gold "
                                "label per item and task is kept in the gold table (all stay judgements)")
            g = g.loc[~dup]
        result.gold = conform_gold(g, path=path)
    return result
