"""Atomic writes: write to a temporary file in the destination folder, fsync, then ``os.replace``.

A reader never sees a half-written file, and a crash leaves the previous file intact.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success it replaces ``dest`` atomically.

    Use for writers that want a path (``DataFrame.to_parquet``). On error the temporary file is
    removed and ``dest`` is left untouched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix or ".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp_path, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_open(dest: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``dest`` for writing; replace ``dest`` with it on success."""
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
        kwargs.setdefault("newline", "")
    with atomic_path(dest) as tmp:
        with open(tmp, mode, **kwargs) as fh:
            yield fh


def write_text(dest: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``dest`` atomically (UTF-8)."""
    with atomic_open(dest, "w") as fh:
        fh.write(text)
    return Path(dest)


def write_json(dest: str | os.PathLike[str], obj: Any, *, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON (sorted keys, UTF-8, trailing newline) to ``dest`` atomically."""
    import json

    return write_text(dest, json.dumps(obj, indent=indent, sort_keys=True, ensure_ascii=False, default=str) + "\n")


@contextlib.contextmanager
def atomic_group(dests: Sequence[str | os.PathLike[str]], *, manifest: str | os.PathLike[str] | None = None,
                 run_id: str | None = None) -> Iterator[list[Path]]:
    """Replace several files together: yield one temporary path per destination, then swap them all in.

    Nothing is replaced until every temporary file is written and fsynced, so a failure while writing
    (a full disk) leaves every old file as it was: never a new table beside an old quarantine. With
    ``manifest``, a JSON file recording the run id and the SHA-256 of each file is written last, and the
    old manifest is removed before the first rename, so a crash between renames leaves outputs without
    a manifest, which :func:`check_group` reports as incomplete.
    """
    paths = [Path(d) for d in dests]
    temps: list[Path] = []
    try:
        for d in paths:
            d.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{d.name}.", suffix=".tmp", dir=d.parent)
            os.close(fd)
            temps.append(Path(tmp))
        yield temps
        mask = _umask()
        for t in temps:
            with open(t, "rb+") as fh:
                os.fsync(fh.fileno())
            os.chmod(t, 0o666 & ~mask)
        man_tmp: Path | None = None
        if manifest is not None:
            import hashlib
            import json
            import uuid

            files = {d.name: hashlib.sha256(t.read_bytes()).hexdigest() for d, t in zip(paths, temps)}
            body = json.dumps({"run_id": run_id or uuid.uuid4().hex, "files": files}, indent=2, sort_keys=True) + "\n"
            mp = Path(manifest)
            fd, tmp = tempfile.mkstemp(prefix=f".{mp.name}.", suffix=".tmp", dir=mp.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o666 & ~mask)
            man_tmp = Path(tmp)
            temps.append(man_tmp)
            with contextlib.suppress(FileNotFoundError):
                mp.unlink()
        for d, t in zip(paths, temps):
            os.replace(t, d)
        if man_tmp is not None:
            os.replace(man_tmp, Path(manifest))  # type: ignore[arg-type]
    except BaseException:
        for t in temps:
            with contextlib.suppress(FileNotFoundError):
                t.unlink()
        raise


def check_group(manifest: str | os.PathLike[str]) -> str | None:
    """``None`` when every file listed in ``manifest`` is present with the recorded SHA-256, else the problem."""
    import hashlib
    import json

    mp = Path(manifest)
    try:
        data = json.loads(mp.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"{mp}: no manifest: the outputs beside it were not all written by one run (or the run was interrupted)"
    except ValueError:
        return f"{mp}: not a JSON manifest"
    for name, want in sorted(data.get("files", {}).items()):
        f = mp.with_name(name)
        if not f.exists():
            return f"{f}: listed in {mp.name} (run {data.get('run_id')}) but missing"
        if hashlib.sha256(f.read_bytes()).hexdigest() != want:
            return f"{f}: not the file run {data.get('run_id')} wrote (its SHA-256 differs from {mp.name}): a mismatched pair"
    return None
