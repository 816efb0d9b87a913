"""Prodigy JSONL (``prodigy db-out DATASET > file.jsonl``): one annotated example per line.

What a record is: one line. ``record`` in the quarantine is its 1-based line number; a line that is
not valid JSON is quarantined and the rest of the file is imported.

What becomes what
-----------------
- ``answer``: ``accept`` and ``reject`` are judgements (below); ``ignore`` is not a label: the
  record is accepted and counted in ``skipped["ignore"]``.
- Choice views (``options`` / ``accept``): with ``answer: accept``, one judgement per selected option
  id in ``accept`` (a multi-choice answer is several rows); accepting with nothing selected is
  counted in ``skipped["no_option_selected"]``. A *rejected* choice example says "this example is
  wrong", not which option applies: it gives no judgement and is counted in ``skipped["reject"]``.
- Binary views (a top-level ``label``): ``accept`` gives that label. ``reject`` gives the label
  ``not:<label>``: the annotator looked and said the label does not apply, which is information
  agreement statistics need (dropping it would bias them towards acceptance). Validation flags
  ``not:`` labels the guideline does not allow, so a program that wants them elsewhere sees them.
- Span views (``spans`` without options or label, e.g. ``ner_manual``) are quarantined: not supported yet.
- **annotator_id** from ``_annotator_id``, else ``_session_id``; **created_at** from ``_timestamp``
  (epoch seconds); **item_id** from ``item_id``/``id``/``meta.item_id``/``meta.id``, else
  ``_input_hash``; **task** from ``meta.task`` or ``--task``; **slice** from ``meta.slice`` or
  ``meta.domain``; **guideline_version** from ``meta.guideline_version``; **duration_s** from
  ``meta.duration_s`` when present (Prodigy itself does not record time spent).
"""

from __future__ import annotations

from typing import Any

from labkit.errors import InputRefused
from labkit.io.base import ImportResult, register
from labkit.io.importers._records import Collector, as_dict, iter_json_lines, scalar_id


def _looks_prodigy(head: bytes, path: str) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith(b"{") and (b'"_input_hash"' in head or b'"_task_hash"' in head or (
        b'"answer"' in head and (b'"_annotator_id"' in head or b'"_session_id"' in head)))


def _first(*values: Any) -> str | None:
    for v in values:
        s = scalar_id(v)
        if s is not None:
            return s
    return None


@register("prodigy", suffixes=(), sniff=_looks_prodigy, priority=20)
def read_prodigy(path: str, *, task: str | None = None, guideline_version: str | None = None) -> ImportResult:
    """Import a Prodigy JSONL export (see the module docstring for the mapping)."""
    c = Collector(path, "prodigy")
    parsed = 0
    for n, obj, err, raw, bad in iter_json_lines(path):
        c.new_record(n, raw)
        c.check_bytes = bad
        if err is not None:
            c.reject(n, None, err)
            continue
        if not isinstance(obj, dict):
            c.reject(n, None, "a Prodigy line must be a JSON object")
            continue
        parsed += 1
        answer = obj.get("answer")
        if answer not in ("accept", "reject", "ignore"):
            c.reject(n, "answer", f"answer must be accept, reject or ignore (found {answer!r})")
            continue
        if answer == "ignore":
            c.skip("ignore")
            continue
        meta = as_dict(obj.get("meta"))
        item = _first(obj.get("item_id"), obj.get("id"), meta.get("item_id"), meta.get("id"), obj.get("_input_hash"))
        who = _first(obj.get("_annotator_id"), obj.get("_session_id"))
        if item is None:
            c.reject(n, "_input_hash", "no item id (item_id, id, meta.item_id or _input_hash)")
            continue
        if who is None:
            c.reject(n, "_annotator_id", "no annotator (_annotator_id or _session_id)")
            continue
        common = dict(item_id=item, annotator_id=who, task=_first(meta.get("task")) or task,
                      guideline_version=_first(meta.get("guideline_version")), created_at=obj.get("_timestamp"),
                      duration_s=meta.get("duration_s"), confidence=None, source="human", stage="label",
                      slice=_first(meta.get("slice"), meta.get("domain")))
        if "options" in obj or "accept" in obj:
            if answer == "reject":
                c.skip("reject")
                continue
            chosen = obj.get("accept")
            if not isinstance(chosen, list):
                c.reject(n, "accept", "accept must be a list of the selected option ids")
                continue
            labels = [scalar_id(x) for x in chosen]
            if any(lab is None for lab in labels):
                c.reject(n, "accept", "accept holds an option id that is not a string or number")
                continue
            if not labels:
                c.skip("no_option_selected")
                continue
            for lab in labels:
                c.add(n, label=lab, **common)
            continue
        label = _first(obj.get("label"))
        if label is None:
            if obj.get("spans"):
                c.reject(n, "spans", "span annotations (NER, ner_manual) are not supported yet "
                                     "(labkit imports binary label and choice answers)")
            else:
                c.reject(n, "label", "neither a label (binary view) nor options/accept (choice view)")
            continue
        c.add(n, label=label if answer == "accept" else f"not:{label}", **common)
    if c.records_in == 0:
        raise InputRefused(path, "holds no records")
    if parsed == 0:
        raise InputRefused(path, "no line is a JSON object, so this is not a Prodigy JSONL export (first line: "
                                 f"{c.quarantine[0]['reason']})")
    return c.result(task=task, guideline_version=guideline_version)
