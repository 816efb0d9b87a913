"""One way to write and read JSON-lines files (the decision log, calibration sessions, quarantines).

* Lines are split on ``"\\n"`` only. ``str.splitlines()`` also splits on U+2028, U+2029, U+0085, form
  feeds and more, so a reason pasted from an office document would cut a record in two for one reader
  and not for another. :func:`dumps` escapes U+2028 and U+2029 so that no record contains them raw.
* An append is all or nothing: the bytes are written, flushed and fsynced; when the write or the fsync
  fails (a full disk: ``ENOSPC``), the file is truncated back to its previous length before the error
  is raised, so no torn line is left behind.
* A torn tail (the last line has no newline: a crash or power cut mid-write) is detected by
  :func:`read_lines`, which returns the good lines and the torn bytes separately: readers of the good
  part are never blocked, writers refuse to glue onto it, and :func:`repair` moves it aside.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Characters that some line splitters treat as line ends; escaped on write.
_UNSAFE = {"\u2028": "\\u2028", "\u2029": "\\u2029"}


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` with U+2028 / U+2029 escaped (the result never contains a raw line separator)."""
    text = json.dumps(obj, **kwargs)
    for ch, esc in _UNSAFE.items():
        if ch in text:
            text = text.replace(ch, esc)
    return text


@dataclass
class Lines:
    """The complete lines of a file (without their ``\\n``) and a torn tail, if any."""

    lines: list[bytes]
    torn: bytes = b""        # bytes after the last newline (a write that did not finish)
    good_length: int = 0     # length of the file up to and including the last newline


def split_lines(data: bytes) -> Lines:
    """Split on ``b"\\n"`` only; bytes after the last newline are a torn tail."""
    cut = data.rfind(b"\n") + 1
    body, torn = data[:cut], data[cut:]
    lines = body.split(b"\n")[:-1] if body else []
    return Lines(lines, torn, cut)


def read_lines(path: str | os.PathLike[str]) -> Lines:
    """The lines of ``path`` (an empty result when the file does not exist)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        return Lines([])
    return split_lines(data)


def append_bytes(path: str | os.PathLike[str], data: bytes, *, fd: int | None = None) -> None:
    """Append ``data`` (whole lines) to ``path``: write, fsync; on failure truncate back and raise.

    Parameters
    ----------
    path : path
        The file (created with its folder when missing, unless ``fd`` is given).
    data : bytes
        One or more complete lines, ending in ``\\n``.
    fd : int, optional
        An already open descriptor of ``path`` (the decision log passes its locked descriptor).
    """
    if not data.endswith(b"\n"):
        raise ValueError("append_bytes writes whole lines: data must end with a newline")
    own = fd is None
    if own:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    assert fd is not None
    try:
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                if n <= 0:
                    raise OSError(f"{path}: write returned {n}")
                view = view[n:]
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):  # leave no partial line behind
                os.ftruncate(fd, start)
                os.fsync(fd)
            raise
    finally:
        if own:
            os.close(fd)


def repair(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Move a torn tail of ``path`` aside (to ``<path>.torn``) and cut the file after its last newline.

    Returns what was done: ``{"path", "torn_bytes", "saved_to"}`` (``saved_to`` is None when the file
    had no torn tail). The saved bytes are appended to ``<path>.torn``, so nothing is lost.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    fd = os.open(p, os.O_RDWR)
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)
        data = p.read_bytes()
        parts = split_lines(data)
        if not parts.torn:
            return {"path": str(p), "torn_bytes": 0, "saved_to": None}
        saved = p.with_name(p.name + ".torn")
        append_bytes(saved, parts.torn + b"\n")
        os.ftruncate(fd, parts.good_length)
        os.fsync(fd)
        return {"path": str(p), "torn_bytes": len(parts.torn), "saved_to": str(saved)}
    finally:
        os.close(fd)
