"""The session folder: plain files that a room of people on one JupyterHub can share safely.

Layout::

    <session>/
      session.yaml              the session (task, guideline version, items, participants); written
                                once, atomically, by ``labkit calibration new``
      answers/<participant>.jsonl
                                one append-only file per participant: answers, clarifications
      events.jsonl              phase changes and facilitator decisions; written by the facilitator only
      proposals/<id>.yaml       guideline change proposals made from clarifications (record phase)
      summary.json              written when the session closes
      before_after.json         the before/after numbers written when the session closes

Every writer owns its file, so two people submitting at the same moment never write the same file.
Appends are one ``os.write`` of one complete line on a descriptor opened with ``O_APPEND``, then
``fsync``: a line is either wholly there or not at all, and a kernel restart finds everything that
was acknowledged. The state of a session (phase, what each person answered) is derived from these
files on every read, so a closed tab or a restarted kernel resumes where it was.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from labkit import _jsonl
from labkit._atomic import write_text
from labkit.errors import InputRefused, ParameterError

SESSION_FILE = "session.yaml"
EVENTS_FILE = "events.jsonl"
ANSWERS_DIR = "answers"
PROPOSALS_DIR = "proposals"
SUMMARY_FILE = "summary.json"
BEFORE_AFTER_FILE = "before_after.json"

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def check_id(value: str, what: str = "participant") -> str:
    """Return ``value`` if it is safe as a file name (letters, digits, ``_ . @ -``; max 64)."""
    if not isinstance(value, str) or not _ID.match(value):
        raise ParameterError(f"{what} id must be 1-64 characters of letters, digits, '_', '.', '@' or '-' "
                             f"and start with a letter or digit; got {value!r}")
    return value


def append_record(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line with a single ``O_APPEND`` write, then ``fsync``.

    Parameters
    ----------
    path : path
        The JSONL file (created with its folder if missing).
    record : dict
        A JSON-serializable mapping. It is written as one line ending in ``\\n``.
    """
    p = Path(path)
    line = (_jsonl.dumps(record, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    if _jsonl.read_lines(p).torn:  # a crash mid-write left a torn line: move it aside, never glue onto it
        _jsonl.repair(p)
    _jsonl.append_bytes(p, line)  # write + fsync; on a failure (full disk) the file is cut back: no torn line


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All records of a JSONL file (``[]`` if it does not exist).

    Lines are split on ``"\\n"`` only. A line that is not a JSON object is refused with the file and line
    number: nothing is skipped silently. A torn last line (a write interrupted by a crash) is not a record
    and does not block reading the complete ones; the next append moves it to ``<file>.torn``.
    """
    p = Path(path)
    out: list[dict[str, Any]] = []
    for n, bline in enumerate(_jsonl.read_lines(p).lines, start=1):
        if not bline.strip():
            continue
        try:
            rec = json.loads(bline.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputRefused(str(p), f"not a JSON line ({getattr(exc, 'msg', exc)})", record=f"line {n}") from None
        if not isinstance(rec, dict):
            raise InputRefused(str(p), "each line must be a JSON object", record=f"line {n}")
        out.append(rec)
    return out


def write_yaml(path: str | os.PathLike[str], data: dict[str, Any]) -> Path:
    """Write ``data`` as YAML atomically (stable key order as given, UTF-8)."""
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return write_text(path, text)


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputRefused(str(p), "no such file (is this a calibration session folder?)") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputRefused(str(p), f"not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise InputRefused(str(p), "expected a mapping")
    return data


def answers_path(folder: str | os.PathLike[str], participant: str) -> Path:
    return Path(folder) / ANSWERS_DIR / f"{check_id(participant)}.jsonl"


def events_path(folder: str | os.PathLike[str]) -> Path:
    return Path(folder) / EVENTS_FILE
