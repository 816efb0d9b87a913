"""Argilla v2 records, as written by ``dataset.records.to_list()`` / ``to_json()`` (a JSON list) or
one record per line (JSONL).

Three shapes of a record are read:

- nested (``to_list(flatten=False)``, ``Record.to_dict()``)::

      {"id": "r1", "fields": {...}, "metadata": {...},
       "responses": {"label": [{"value": "toxic", "user_id": "u1", "status": "submitted"}]},
       "suggestions": {"label": {"value": "toxic", "score": 0.8, "agent": "clf-v3"}}}

- flat (``to_list(flatten=True)``, Hub exports): ``"label.responses"`` (values),
  ``"label.responses.users"``, ``"label.responses.status"``, ``"label.suggestion"``,
  ``"label.suggestion.score"``, ``"label.suggestion.agent"``;
- lists: ``"responses": [{"question_name": "label", "value": .., "user_id": .., "status": ..}]``
  and ``"suggestions": [{"question_name": .., "value": .., "score": .., "agent": ..}]``.

What a record is: one response (one user's answer to one question) or one suggestion (one question's
model answer). A record with neither counts as one record, skipped as ``unannotated``. Records are
named by their path, e.g. ``$[5].responses.label[1]`` (JSON list) or
``line 6 $.responses.label[1]`` (JSONL).

What becomes what
-----------------
- ``status: submitted`` (or no status, as older exports omit it) is a judgement; ``discarded`` and
  ``draft`` are accepted records without a judgement, counted in ``skipped``.
- **label**: a string or number value; a list of strings (multi-label question) gives one judgement
  per element. Ranking answers (lists of objects) and span answers are quarantined: not supported yet.
  Free-text (TextQuestion) answers cannot be told apart from labels without the dataset settings:
  they arrive as labels of a task named after their question; drop that task if you do not want it.
- **task**: the question name; with a single question in the file, ``--task`` replaces it.
- **item_id**: the record ``id`` (external id), else ``_server_id``; **annotator_id**: the response
  ``user_id``; suggestions get ``source = model``, ``agent`` as annotator_id (``"model"`` if absent) and
  ``score`` as confidence (per value when the score is a list).
- **slice** from ``metadata.slice`` or ``metadata.domain``; **guideline_version** from
  ``metadata.guideline_version``; **created_at** from the response's or the record's ``updated_at``
  / ``inserted_at`` when present.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from labkit.errors import InputRefused
from labkit.io.base import ImportResult, register
from labkit.io.importers._records import Collector, as_dict, iter_json_lines, read_json_document, scalar_id

_SKIP_STATUS = ("discarded", "draft", "pending")


def _looks_argilla(head: bytes, path: str) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith((b"[", b"{")):
        return False
    return (b'"responses"' in head and (b'"fields"' in head or b'"suggestions"' in head or b'"user_id"' in head)) or (
        b'.responses"' in head or b'.suggestion"' in head)


def _responses(rec: dict[str, Any]) -> Iterator[tuple[str, str, int, Any, Any, Any, Any]]:
    """Yield (question, path, index, value, user_id, status, updated_at) for each response of a record."""
    resp = rec.get("responses")
    if isinstance(resp, dict):
        for q, items in resp.items():
            for k, r in enumerate(items if isinstance(items, list) else [items]):
                if isinstance(r, dict):
                    yield str(q), f"responses.{q}[{k}]", k, r.get("value"), r.get("user_id"), r.get("status"), r.get("updated_at")
                else:
                    yield str(q), f"responses.{q}[{k}]", k, _BAD, r, None, None
    elif isinstance(resp, list):
        for k, r in enumerate(resp):
            if not isinstance(r, dict):
                yield "?", f"responses[{k}]", k, _BAD, r, None, None
            elif "values" in r and isinstance(r["values"], dict):  # Argilla 1.x FeedbackRecord: one per user
                for q, v in r["values"].items():
                    val = v.get("value") if isinstance(v, dict) else v
                    yield str(q), f"responses[{k}].values.{q}", k, val, r.get("user_id"), r.get("status"), r.get("updated_at")
            else:
                yield (str(r.get("question_name", "?")), f"responses[{k}]", k, r.get("value"), r.get("user_id"),
                       r.get("status"), r.get("updated_at"))
    for key in rec:
        if isinstance(key, str) and key.endswith(".responses"):
            q = key[: -len(".responses")]
            values = rec.get(key)
            users = rec.get(f"{q}.responses.users")
            status = rec.get(f"{q}.responses.status")
            if values is None:
                continue
            values = values if isinstance(values, list) else [values]
            for k, v in enumerate(values):
                u = users[k] if isinstance(users, list) and k < len(users) else None
                s = status[k] if isinstance(status, list) and k < len(status) else None
                yield q, f"{key}[{k}]", k, v, u, s, None


def _suggestions(rec: dict[str, Any]) -> Iterator[tuple[str, str, Any, Any, Any]]:
    """Yield (question, path, value, score, agent) for each suggestion of a record."""
    sug = rec.get("suggestions")
    if isinstance(sug, dict):
        for q, s in sug.items():
            if isinstance(s, dict):
                yield str(q), f"suggestions.{q}", s.get("value"), s.get("score"), s.get("agent")
            else:
                yield str(q), f"suggestions.{q}", s, None, None
    elif isinstance(sug, list):
        for k, s in enumerate(sug):
            if isinstance(s, dict):
                yield str(s.get("question_name", "?")), f"suggestions[{k}]", s.get("value"), s.get("score"), s.get("agent")
    for key in rec:
        if isinstance(key, str) and key.endswith(".suggestion"):
            q = key[: -len(".suggestion")]
            if rec.get(key) is not None:
                yield q, key, rec.get(key), rec.get(f"{q}.suggestion.score"), rec.get(f"{q}.suggestion.agent")


class _Bad:
    pass


_BAD = _Bad()


def _values(value: Any) -> tuple[list[str] | None, str | None]:
    """Labels of one answer, or (None, why)."""
    if isinstance(value, bool):
        return [str(value).lower()], None
    if isinstance(value, (str, int, float)):
        text = scalar_id(value)
        return ([text], None) if text is not None else ([], None)
    if isinstance(value, list):
        if all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
            return [t for t in (scalar_id(v) for v in value) if t is not None], None
        if value and isinstance(value[0], dict) and ("start" in value[0] or "end" in value[0]):
            return None, "span answers are not supported yet (labkit imports label, multi-label and rating answers)"
        if value and isinstance(value[0], dict) and "rank" in value[0]:
            return None, "ranking answers are not supported yet (labkit imports label, multi-label and rating answers)"
        return None, "a list answer must hold strings or numbers"
    if value is None:
        return None, "the response has no value"
    return None, f"an answer of type {type(value).__name__} is not supported"


def _load(path: str) -> list[tuple[Any, Any, str, bool]]:
    """(record, prefix for record keys, raw error or '', held bytes that are not UTF-8) for each record
    of a JSON list or a JSONL file."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 12).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"["):
        doc, bad = read_json_document(path)
        return [(r, f"$[{i}]", "", bad) for i, r in enumerate(doc)]
    if head.startswith(b"{"):
        # one JSON object: either a wrapper {"records": [...]} or the first line of JSONL
        try:
            doc, bad = read_json_document(path)
        except InputRefused:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("records"), list):
            return [(r, f"$.records[{i}]", "", bad) for i, r in enumerate(doc["records"])]
    return [(obj, f"line {n} $", "", bad) if err is None else (raw, n, err, bad)
            for n, obj, err, raw, bad in iter_json_lines(path)]


def _light(rec: dict[str, Any]) -> dict[str, Any]:
    """A record as the quarantine shows it (vectors left out)."""
    return {k: v for k, v in rec.items() if k != "vectors"}


@register("argilla", suffixes=(), sniff=_looks_argilla, priority=15)
def read_argilla(path: str, *, task: str | None = None, guideline_version: str | None = None) -> ImportResult:
    """Import Argilla v2 records (see the module docstring for the shapes and the mapping)."""
    entries = _load(path)
    if not entries:
        raise InputRefused(path, "holds no records")
    if not any(not err and isinstance(rec, dict) for rec, _, err, _ in entries):
        first = next((err for _, _, err, _ in entries if err), "no record is a JSON object")
        raise InputRefused(path, f"no record is a JSON object, so this is not an Argilla export (first problem: {first})")
    c = Collector(path, "argilla")
    questions = {q for rec, _, err, _ in entries if not err and isinstance(rec, dict)
                 for q in [x[0] for x in _responses(rec)] + [x[0] for x in _suggestions(rec)]}
    single = len(questions) == 1
    for rec, prefix, err, bad in entries:
        c.check_bytes = bad
        if err:
            c.new_record(prefix, rec)
            c.reject(prefix, None, err)
            continue
        if not isinstance(rec, dict):
            c.new_record(prefix, rec)
            c.reject(prefix, None, "a record must be a JSON object")
            continue
        meta = as_dict(rec.get("metadata"))
        fields = as_dict(rec.get("fields"))
        item = scalar_id(rec.get("id")) or scalar_id(rec.get("external_id")) or scalar_id(rec.get("_server_id"))
        common = dict(guideline_version=scalar_id(meta.get("guideline_version")),
                      slice=scalar_id(meta.get("slice")) or scalar_id(meta.get("domain")), stage="label")
        when = rec.get("updated_at") or rec.get("inserted_at")
        light = partial(_light, rec)  # built only if quarantined
        any_record = False
        for q, sub, _k, value, user, status, updated in _responses(rec):
            any_record = True
            key = f"{prefix}.{sub}"
            c.new_record(key, light)
            tname = task if (single and task) else q
            if value is _BAD:
                c.reject(key, sub, "a response must be a JSON object")
                continue
            st = str(status).lower() if status is not None else "submitted"
            if st in _SKIP_STATUS:
                c.skip(st)
                continue
            if st != "submitted":
                c.reject(key, f"{sub}.status", f"status must be submitted, discarded or draft (found {status!r})")
                continue
            labels, why = _values(value)
            if labels is None:
                c.reject(key, f"{sub}.value", why or "")
                continue
            who = scalar_id(user)
            if item is None:
                c.reject(key, "id", "the record has no id (id, external_id or _server_id)")
                continue
            if who is None or who == "None":
                c.reject(key, f"{sub}.user_id", "the response has no user_id")
                continue
            if not labels:
                c.skip("empty_answer")
                continue
            for lab in labels:
                c.add(key, item_id=item, annotator_id=who, task=tname, label=lab, created_at=updated or when,
                      source="human", **common)
        for q, sub, value, score, agent in _suggestions(rec):
            any_record = True
            key = f"{prefix}.{sub}"
            c.new_record(key, light)
            tname = task if (single and task) else q
            labels, why = _values(value)
            if labels is None:
                c.reject(key, f"{sub}.value", why or "")
                continue
            if item is None:
                c.reject(key, "id", "the record has no id (id, external_id or _server_id)")
                continue
            if not labels:
                c.skip("empty_answer")
                continue
            scores = score if isinstance(score, list) and len(score) == len(labels) else [score] * len(labels)
            if isinstance(score, list) and len(score) != len(labels):
                scores = [None] * len(labels)
            for lab, sc in zip(labels, scores):
                c.add(key, item_id=item, annotator_id=scalar_id(agent) or "model", task=tname, label=lab,
                      created_at=when, confidence=sc, source="model", **common)
        if not any_record:
            key = prefix
            c.new_record(key, {"id": rec.get("id"), "fields": fields})
            c.skip("unannotated")
    return c.result(task=task, guideline_version=guideline_version)
