"""The decision log: ``guidelines/decisions.jsonl``, append-only and hash-chained.

One line per decision, each a canonical JSON object (sorted keys, no spaces, UTF-8)::

    {"action":"approve","at":"2026-09-25T10:00:00Z","hash":"…","prev":"…","proposal":"toxicity-1.1.0-self-promotion",
     "seq":3,"task":"toxicity","who":"g-expert-1","why":"…"}

``hash`` is the SHA-256 of the canonical JSON of the entry *without* ``hash``; ``prev`` is the hash of
the entry before (64 zeros for the first); ``seq`` counts from 0. Editing one character of an entry
breaks its hash; removing or reordering entries breaks ``seq`` and ``prev``. Cutting entries off the
tail leaves a valid chain, so every released guideline version records ``log_head`` (the hash and
``seq`` of its release entry): :func:`verify` with the guidelines folder checks that each recorded head
is still in the log.

Appends are safe under concurrency: an exclusive ``fcntl`` lock is held around reading the tail and
appending, and the line is fsynced before the lock is released. :func:`append_many` writes a batch
under one lock and one fsync (consecutive entries, all or none).

Beyond the chain, :func:`verify` checks the files the log vouches for: each ``release`` entry records
the SHA-256 of the version file it wrote (``content_sha256``), and ``propose``/``approve``/``release``
entries record the proposal's (``proposal_sha256``), so an edited released version or an edited filed
proposal is detected too.

Actions written by labkit: ``propose``, ``approve``, ``reject``, ``release`` (proposals and releases),
``adjudicate`` and ``gold_edit`` (decisions about items, recorded by any area through :func:`append`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit import _jsonl
from labkit._time import format_utc
from labkit.errors import GovernanceError

GENESIS = "0" * 64
LOG_NAME = "decisions.jsonl"
ACTIONS = ("propose", "approve", "reject", "release", "adjudicate", "gold_edit", "govern", "credential")


def canonical_json(obj: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, UTF-8 text (non-ASCII kept as is)."""
    return _jsonl.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``entry`` without its ``hash`` field."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def format_time(at: dt.datetime | str | None) -> str:
    """An ISO 8601 UTC timestamp ``YYYY-MM-DDTHH:MM:SSZ`` (now when ``at`` is None)."""
    return format_utc(at)


def log_path(root: str | os.PathLike[str]) -> Path:
    """The log of a guidelines folder (``<root>/decisions.jsonl``), or ``root`` itself if it is a file."""
    p = Path(root)
    return p if p.suffix == ".jsonl" else p / LOG_NAME


def _last_line(fh: Any) -> bytes:
    """The last non-empty line of a binary file opened for reading (reads backwards in blocks)."""
    fh.seek(0, os.SEEK_END)
    end = fh.tell()
    buf = b""
    pos = end
    while pos > 0:
        step = min(65536, pos)
        pos -= step
        fh.seek(pos)
        buf = fh.read(step) + buf
        stripped = buf.rstrip(b"\n")
        if b"\n" in stripped:
            return stripped.rsplit(b"\n", 1)[1]
    return buf.rstrip(b"\n")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield fh
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def append(root: str | os.PathLike[str], action: str, who: str, *, at: dt.datetime | str | None = None,
           **fields: Any) -> dict[str, Any]:
    """Append one decision to the log and return the entry written (with ``seq``, ``prev``, ``hash``).

    Parameters
    ----------
    root : path
        The guidelines folder (the log is ``<root>/decisions.jsonl``) or the log file itself.
    action : str
        One of ``propose``, ``approve``, ``reject``, ``release``, ``adjudicate``, ``gold_edit``, ``credential``.
    who : str
        The member deciding (a pseudonymous id from ``governance.yaml``).
    at : datetime or ISO string, optional
        When (UTC); now by default. Tests and the history rebuild pass fixed times.
    **fields
        What and why: ``task``, ``proposal``, ``item_id``, ``label``, ``why``, ``version``... Any
        JSON-serializable values; ``None`` values are left out.

    Raises
    ------
    GovernanceError
        If the action is unknown, or the log's last line is not a valid entry (it refuses to extend a
        damaged chain; run ``labkit log verify``).

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> e = append(d, "adjudicate", "g-expert-1", at="2026-10-01T12:00:00Z", task="toxicity",
    ...            item_id="c-17", label="insult", why="mocks the poster")
    >>> e["seq"], e["prev"] == GENESIS, verify(d).ok
    (0, True, True)
    """
    return append_many(root, [{"action": action, "who": who, "at": at, **fields}])[0]


def _check_decision(d: dict[str, Any], where: str) -> tuple[str, str, Any, dict[str, Any], Any]:
    action, who, at = d.get("action"), d.get("who"), d.get("at")
    if action not in ACTIONS:
        raise GovernanceError(f"{where}log action must be one of {', '.join(ACTIONS)}, got {action!r}")
    if not isinstance(who, str) or not who.strip():
        raise GovernanceError(f"{where}a log entry needs who decided (a member id)")
    fields = {k: v for k, v in d.items() if k not in ("action", "who", "at", "_key")}
    for reserved in ("seq", "prev", "hash", "sig", "signer_key"):
        if reserved in fields:
            raise GovernanceError(f"{where}log field {reserved!r} is set by the log itself")
    body = {k: v for k, v in fields.items() if v is not None}
    try:
        canonical_json(body)  # refuse what cannot be logged (NaN, objects) before taking the lock
    except (TypeError, ValueError) as exc:
        raise GovernanceError(f"{where}log fields must be JSON values (text, numbers, lists, mappings): {exc}") from None
    return action, who, at, body, d.get("_key")


def append_many(root: str | os.PathLike[str], decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Append several decisions under one lock and one fsync; return the entries written, in order.

    Each decision is a mapping with ``action``, ``who``, optional ``at`` and the fields
    :func:`append` takes as keywords. All are checked before anything is written: either every
    decision is appended, consecutively, or none is (a bad one raises naming its index). Use it when an
    area records many adjudications at once (one fsync instead of one per decision).

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> es = append_many(d, [{"action": "adjudicate", "who": "g-expert-1", "at": "2026-10-01T12:00:00Z",
    ...                       "item_id": f"c-{i}", "label": "ok", "why": "batch"} for i in range(3)])
    >>> [e["seq"] for e in es], es[1]["prev"] == es[0]["hash"], verify(d).ok
    ([0, 1, 2], True, True)
    """
    checked = [_check_decision(d, f"decision {i}: " if len(decisions) > 1 else "")
               for i, d in enumerate(decisions)]
    if not checked:
        return []
    path = log_path(root)
    with _locked(path) as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() > 0:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":  # a previous writer died mid-line: never glue onto it
                raise GovernanceError(f"{path}: the log ends with a torn line (an interrupted write); refusing "
                                      f"to append. Run `labkit log repair {path}` to move it aside")
        tail = _last_line(fh)
        if tail:
            try:
                last = json.loads(tail)
                seq, prev = int(last["seq"]) + 1, str(last["hash"])
            except (ValueError, KeyError, TypeError):
                raise GovernanceError(f"{path}: the last line is not a log entry; refusing to extend a "
                                      f"damaged log (run `labkit log verify {path}`)") from None
        else:
            seq, prev = 0, GENESIS
        entries, lines = [], []
        for action, who, at, body, key in checked:
            entry = {"seq": seq, "prev": prev, "action": action, "who": who, "at": format_time(at), **body}
            if key is not None:  # signed by the actor: covers everything but hash and sig (seq and prev too)
                from labkit.guidelines import signing

                entry["signer_key"] = signing.fingerprint(signing.public_line(key))
                entry["sig"] = signing.sign(key, entry)
            entry["hash"] = entry_hash(entry)
            entries.append(entry)
            lines.append(canonical_json(entry).encode("utf-8") + b"\n")
            seq, prev = seq + 1, entry["hash"]
        _jsonl.append_bytes(path, b"".join(lines), fd=fh.fileno())  # all or nothing, fsynced
    return entries


def read(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All entries of the log, in order (an empty list when there is no log yet). Does not verify."""
    path = log_path(root)
    if not path.exists():
        return []
    out = []
    # split on "\n" only (never str.splitlines: U+2028 in a reason is not a line end); a torn last line
    # (an interrupted write) is not an entry and never blocks reading the entries before it
    for n, bline in enumerate(_jsonl.read_lines(path).lines, start=1):
        if not bline.strip():
            continue
        try:
            out.append(json.loads(bline.decode("utf-8")))
        except ValueError:
            raise GovernanceError(f"{path}: line {n} is not JSON (run `labkit log verify {path}`)") from None
    return out


def head(root: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The last entry (``None`` for an empty log)."""
    entries = read(root)
    return entries[-1] if entries else None


@dataclass
class Verification:
    """Outcome of :func:`verify`: ``ok``, how many entries, and the first problem found."""

    path: str
    ok: bool
    entries: int
    head: str | None
    first_bad: int | None = None  # 1-based line number of the first bad entry
    problem: str = ""
    anchors_checked: list[str] = field(default_factory=list)  # "task version" whose log_head was found
    bad_file: str | None = None  # a released version file that is the problem (edited, unreleased, missing)
    signing: str | None = None   # "required" or "off" (governance.yaml beside the log), None without one

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "ok": self.ok, "entries": self.entries, "head": self.head,
                "first_bad_line": self.first_bad, "problem": self.problem,
                "anchors_checked": self.anchors_checked, "bad_file": self.bad_file, "signing": self.signing}

    def __str__(self) -> str:
        if self.ok:
            anchors = (f"; released versions unchanged and their heads present: {', '.join(self.anchors_checked)}"
                       if self.anchors_checked else "")
            mode = {"required": "; every decision signed by a key listed for its member",
                    "off": "; UNSIGNED mode (governance.yaml has no keys or signing: off): who made each decision "
                           "is NOT verified"}.get(str(self.signing), "")
            return f"{self.path}: intact, {self.entries} entries, head {str(self.head)[:12]}{anchors}{mode}"
        if self.bad_file:
            return f"{self.path}: BROKEN: {self.problem}"
        if self.first_bad is None:
            return f"{self.path}: {self.problem}"
        return f"{self.path}: BROKEN at line {self.first_bad}: {self.problem}"


def verify(root: str | os.PathLike[str], guidelines_root: str | os.PathLike[str] | None = None, *,
           expect_head: str | None = None) -> Verification:
    """Check the chain entry by entry, then that every released version's recorded head is present.

    Parameters
    ----------
    root : path
        The guidelines folder or the log file.
    guidelines_root : path, optional
        Where the version files live (their ``log_head`` anchors the log). Defaults to the log's folder
        when it holds ``<task>/<version>.yaml`` files.
    expect_head : str, optional
        A full hash (64 hex digits) seen earlier, e.g. the head a previous report or
        CI run recorded: it must still be in the log. This anchors entries made after the last release,
        which the version files cannot protect against being cut.

    Returns
    -------
    Verification
        ``ok`` is False at the first entry whose line is not canonical JSON of a valid entry, whose
        ``hash`` does not match its content, whose ``seq`` is not the previous plus one or whose ``prev``
        is not the previous hash; when a released version's ``log_head`` is missing from the log; and,
        for the version files next to the log, when a released file's content no longer matches the
        ``content_sha256`` its release entry recorded (released versions are never edited), when a
        version file of a governed task has no ``log_head`` (it was not made by a release), when a
        release entry's version file is gone, or when a proposal file no longer matches the
        ``proposal_sha256`` its ``propose`` entry recorded.
    """
    path = log_path(root)
    if not path.exists():
        return Verification(str(path), False, 0, None, None, "no such log file")
    parts = _jsonl.read_lines(path)
    lines = parts.lines
    if parts.torn:
        return _bad(path, len(lines), len(lines) + 1, None,
                    f"the last line has no newline (a cut or interrupted write); the {len(lines)} entries before it "
                    f"are readable. Run `labkit log repair {path}` to move the torn line aside")
    prev_hash, seq = GENESIS, 0
    by_hash: dict[str, int] = {}
    releases: dict[int, dict[str, Any]] = {}  # seq -> release entry
    proposes: dict[str, tuple[int, str]] = {}  # proposal id -> (seq, proposal_sha256) as filed
    parsed: list[dict[str, Any]] = []
    for n, bline in enumerate(lines, start=1):
        try:
            text = bline.decode("utf-8")
            entry = json.loads(text)
        except (UnicodeDecodeError, ValueError):
            return _bad(path, n - 1, n, prev_hash, "not a JSON line (edited?)")
        if not isinstance(entry, dict) or not isinstance(entry.get("hash"), str):
            return _bad(path, n - 1, n, prev_hash, "not a log entry (no hash)")
        if canonical_json(entry) != text:
            return _bad(path, n - 1, n, prev_hash, "not in canonical form (edited by hand?)")
        if entry_hash(entry) != entry["hash"]:
            return _bad(path, n - 1, n, prev_hash,
                        f"entry seq {entry.get('seq')} ({entry.get('action')} by {entry.get('who')}) does not "
                        "match its hash: its content was changed")
        if entry.get("seq") != seq:
            return _bad(path, n - 1, n, prev_hash,
                        f"expected seq {seq}, found {entry.get('seq')}: entries were removed or reordered")
        if entry.get("prev") != prev_hash:
            return _bad(path, n - 1, n, prev_hash,
                        f"entry seq {seq} does not chain to the entry before it: entries were removed, "
                        "inserted or reordered")
        by_hash[entry["hash"]] = seq
        parsed.append(entry)
        if entry.get("action") == "release":
            releases[seq] = entry
        elif entry.get("action") == "propose" and entry.get("proposal_sha256"):
            proposes.setdefault(str(entry.get("proposal")), (seq, str(entry["proposal_sha256"])))
        prev_hash, seq = entry["hash"], seq + 1
    result = Verification(str(path), True, len(lines), prev_hash if lines else None)
    result.signing = _signing_mode(Path(guidelines_root) if guidelines_root is not None else path.parent)
    groot = Path(guidelines_root) if guidelines_root is not None else path.parent
    anchors = _anchors(groot)
    problem = (_released_files_problem(groot, anchors, by_hash, releases) or _proposals_problem(groot, proposes)
               or _audit(parsed, groot))
    if problem is not None:
        line, bad_file, text = problem
        return Verification(str(path), False, len(lines), result.head, line, text, bad_file=bad_file)
    for task, version, anchor, _ in anchors:
        h = anchor.get("hash")
        if h not in by_hash:
            return Verification(str(path), False, len(lines), result.head, len(lines) + 1,
                                f"{task} {version} was released at log entry seq {anchor.get('seq')} "
                                f"(hash {str(h)[:12]}), which is not in the log: entries after the release "
                                "were cut or the chain was rewritten")
        if anchor.get("seq") is not None and by_hash[h] != anchor.get("seq"):
            return Verification(str(path), False, len(lines), result.head, by_hash[h] + 1,
                                f"{task} {version}'s release head is at seq {by_hash[h]}, "
                                f"not seq {anchor.get('seq')} as recorded")
        result.anchors_checked.append(f"{task} {version}")
    if expect_head is not None:
        if not _FULL_HASH.fullmatch(expect_head):
            return Verification(str(path), False, len(lines), result.head, None,
                                f"--expect-head needs a full SHA-256 head (64 hex digits), got {expect_head[:70]!r}: "
                                "a prefix could be matched by a forged entry")
        if expect_head not in by_hash:
            return Verification(str(path), False, len(lines), result.head, len(lines) + 1,
                                f"the expected head {expect_head[:16]} is not in the log: entries were cut "
                                "or the chain was rewritten since it was recorded")
        result.anchors_checked.append(f"expected head {expect_head[:12]}")
    return result


def _signing_mode(groot: Path) -> str | None:
    if not (groot / "governance.yaml").exists():
        return None
    from labkit.errors import LabkitError
    from labkit.guidelines.governance import Governance

    try:
        return Governance.load(groot).signing
    except LabkitError:
        return None


_FULL_HASH = re.compile(r"[0-9a-f]{64}")


def _audit(entries: list[dict[str, Any]], groot: Path) -> tuple[int | None, str | None, str] | None:
    if not groot.is_dir():
        return None
    from labkit.guidelines.governance import audit

    return audit(entries, groot)


def _bad(path: Path, count: int, n: int, head_hash: str | None, problem: str) -> Verification:
    return Verification(str(path), False, count, head_hash, n, problem)


def _version_files(groot: Path) -> list[tuple[Path, dict[str, Any] | None]]:
    """``(path, parsed mapping or None when unreadable)`` for every ``<task>/<version>.yaml``."""
    import yaml

    from labkit.guidelines.model import SEMVER
    from labkit.guidelines.model import safe_load as _yaml_load

    out: list[tuple[Path, dict[str, Any] | None]] = []
    if not groot.is_dir():
        return out
    for f in sorted(groot.glob("*/*.yaml")):
        if not SEMVER.match(f.stem):
            continue
        try:
            data = _yaml_load(f.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            data = None  # the loader reports malformed version files; the log check stays about the log
        out.append((f, data if isinstance(data, dict) else None))
    return out


def _anchors(groot: Path) -> list[tuple[str, str, dict[str, Any], Path]]:
    """``(task, version, log_head, file)`` for every version file under ``groot`` recording a head."""
    out = []
    for f, data in _version_files(groot):
        anchor = data.get("log_head") if data is not None else None
        if isinstance(anchor, dict):
            out.append((f.parent.name, f.stem, anchor, f))
    return out


def content_sha256(document: dict[str, Any]) -> str:
    """SHA-256 of a released version's YAML as ``release`` wrote it, without its ``log_head``.

    ``release`` records this in its log entry (``content_sha256``) before adding ``log_head`` to the
    file, so :func:`verify` can tell an edited released version from the one that was approved.
    """
    from labkit.guidelines.proposals import dump_yaml

    body = {k: v for k, v in document.items() if k != "log_head"}
    return hashlib.sha256(dump_yaml(body).encode("utf-8")).hexdigest()


def _proposals_problem(groot: Path, proposes: dict[str, tuple[int, str]]) -> tuple[int | None, str, str] | None:
    """The first proposal file whose content is not what its ``propose`` entry recorded."""
    if not proposes or not groot.is_dir():
        return None
    from labkit.errors import LabkitError
    from labkit.guidelines.proposals import load_proposal

    for f in sorted(groot.glob("*/proposals/*.yaml")):
        try:
            prop = load_proposal(f, groot)
        except LabkitError:
            continue  # `labkit guidelines check` reports proposals that do not parse
        if prop.id in proposes:
            seq, want = proposes[prop.id]
            if prop.sha256() != want:
                rel = f.relative_to(groot)
                return (seq + 1, str(rel), f"{rel} was edited after it was filed: its content no longer matches "
                        f"the proposal_sha256 recorded by its propose entry (seq {seq}). A filed proposal is not "
                        "changed; restore it, or file the new text as a new proposal")
    return None


def _released_files_problem(groot: Path, anchors: list[tuple[str, str, dict[str, Any], Path]],
                            by_hash: dict[str, int], releases: dict[int, dict[str, Any]]
                            ) -> tuple[int | None, str, str] | None:
    """The first problem with the released version files next to the log: ``(line, file, text)``."""
    files = _version_files(groot)
    data_of = {f: d for f, d in files}
    for task, version, anchor, f in anchors:
        seq = by_hash.get(str(anchor.get("hash")))
        entry = releases.get(seq) if seq is not None else None
        if seq is None or entry is None:
            continue  # a head missing from the log is reported by the caller
        rel = f.relative_to(groot)
        if (entry.get("task"), str(entry.get("version"))) != (task, version):
            return (seq + 1, str(rel), f"{rel} records log entry seq {seq} as its release, but that entry "
                    f"released {entry.get('task')} {entry.get('version')}")
        want = entry.get("content_sha256")
        data = data_of.get(f)
        if want and data is not None and content_sha256(data) != want:
            return (seq + 1, str(rel), f"{rel} was edited after its release: its content no longer matches "
                    f"the content_sha256 recorded by the release entry (seq {seq}). Released versions are "
                    "never edited; restore the file and make the change through a proposal")
    governed = {str(e.get("task")) for e in releases.values()}
    for f, data in files:
        task = f.parent.name
        if task in governed and data is not None and not isinstance(data.get("log_head"), dict):
            rel = f.relative_to(groot)
            return (None, str(rel), f"{rel} has no log_head: it was not made by `labkit guidelines release` "
                    f"although {task}'s versions are released through the log")
    present = {(f.parent.name, f.stem) for f, _ in files}
    for seq, e in sorted(releases.items()):
        task, version = str(e.get("task")), str(e.get("version"))
        if (groot / task).is_dir() and (task, version) not in present:
            return (seq + 1, f"{task}/{version}.yaml", f"{task} {version} was released at log entry seq {seq}, "
                    f"but {task}/{version}.yaml is missing")
    return None
