"""Stable pseudonyms for annotator ids: a keyed hash (HMAC-SHA256), so the same person gets the same
pseudonym in every report while nobody without the key can reverse or recompute it.

The key comes from the environment variable ``LABKIT_PSEUDONYM_KEY`` or from a key file kept outside
any output folder (default ``~/.config/labkit/pseudonym.key``, created with mode 0600 on first use).
It is never written into a report.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

ENV_KEY = "LABKIT_PSEUDONYM_KEY"
DEFAULT_KEY_FILE = Path("~/.config/labkit/pseudonym.key")


def load_key(key_file: str | os.PathLike[str] | None = None, *, create: bool = True) -> bytes:
    """The pseudonym key: ``$LABKIT_PSEUDONYM_KEY``, else the key file (created if missing)."""
    env = os.environ.get(ENV_KEY)
    if env:
        return env.encode("utf-8")
    path = Path(key_file or os.environ.get("LABKIT_PSEUDONYM_KEY_FILE") or DEFAULT_KEY_FILE).expanduser()
    if path.exists():
        return path.read_bytes().strip()
    if not create:
        raise FileNotFoundError(f"no pseudonym key: set {ENV_KEY} or create {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key + b"\n")
    return key


def pseudonym(annotator_id: str, key: bytes, *, prefix: str = "A-") -> str:
    """``A-`` plus 8 hex digits of HMAC-SHA256(key, id): stable, not reversible without the key."""
    digest = hmac.new(key, str(annotator_id).encode("utf-8"), hashlib.sha256).hexdigest()
    return prefix + digest[:8]


def refuse_pseudonym_collisions(ids: Iterable[Any], key: bytes, where: str = "the label table",
                                column: str = "annotator_id") -> None:
    """Refuse raw ids that equal another id's pseudonym.

    A raw id ``A-1a2b3c4d`` that is exactly some other annotator's pseudonym would be shown as if it
    were that person (their page, their numbers). Such an export is refused, naming the id.
    """
    from labkit.errors import InputRefused

    raw = {str(i) for i in ids if i is not None and not (isinstance(i, float) and pd.isna(i))}
    names = {pseudonym(i, key): i for i in raw}
    clash = sorted(r for r in raw if r in names and names[r] != r)
    if clash:
        raise InputRefused(where, f"raw id {clash[0]!r} is the pseudonym of another annotator in the same data; "
                           "it would be shown as that person. Rename it before publishing",
                           field=column)


def pseudonymize(table: pd.DataFrame, key: bytes, columns: tuple[str, ...] = ("annotator_id",)) -> pd.DataFrame:
    """A copy of ``table`` whose id columns carry pseudonyms (categoricals renamed, codes unchanged).

    Raises :class:`~labkit.errors.InputRefused` when a raw id equals another id's pseudonym.
    """
    out = table.copy()
    for col in columns:
        if col not in out.columns:
            continue
        s = out[col]
        refuse_pseudonym_collisions(s.cat.categories if isinstance(s.dtype, pd.CategoricalDtype) else s.unique(), key,
                                    column=col)
        if isinstance(s.dtype, pd.CategoricalDtype):
            names = [pseudonym(c, key) for c in s.cat.categories]
            if len(set(names)) != len(names):  # 32-bit collision: vanishingly rare, never silent
                raise ValueError("pseudonym collision; use a different key")
            out[col] = s.cat.rename_categories(names)
        else:
            out[col] = s.map(lambda v: v if pd.isna(v) else pseudonym(v, key))
    return out


class Pseudonyms:
    """Maps annotator ids to stable keyed-hash pseudonyms for display (see :mod:`labkit.privacy`).

    The key comes from ``$LABKIT_PSEUDONYM_KEY`` or the key file, never from the notebook, and never
    appears in output. Use :meth:`__call__` for one id, :meth:`frame` for a table's id columns.
    """

    def __init__(self, key: bytes | None = None):
        self._key = key if key is not None else load_key()
        self._cache: dict[str, str] = {}

    def __call__(self, annotator_id: Any) -> str:
        s = str(annotator_id)
        if s not in self._cache:
            self._cache[s] = pseudonym(s, self._key)
        return self._cache[s]

    def frame(self, df: pd.DataFrame, columns: Sequence[str] = ("annotator_id",)) -> pd.DataFrame:
        """A copy of ``df`` with the named id columns (and an index of that name) pseudonymized."""
        out = pseudonymize(df, self._key, tuple(columns))
        if out.index.name in columns:
            out.index = out.index.map(self)
        return out

    def series(self, s: pd.Series) -> pd.Series:
        """``s`` with every non-missing id replaced by its pseudonym."""
        return s.map(lambda v: v if pd.isna(v) else self(v))
