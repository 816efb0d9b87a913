"""Namespaces for ids from several sources: ``labkit import a.json=projA b.json=projB``.

Two Label Studio projects both number their tasks and annotators from 1: imported together, item 1
of one project and item 1 of the other would be the same item, and annotator 1 the same person,
so the judgements collide into duplicates. A namespace prefixes a source's ``item_id`` and
``annotator_id`` (and its gold's ``item_id``) with ``<ns>:``. When sources are imported together
without namespaces and any (item, annotator, task) occurs in two of them, each source gets its file
name (without suffix) as namespace, and the summary says so.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from labkit.errors import ParameterError
from labkit.io.base import ImportResult

_NS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def split_source(src: str) -> tuple[str, str | None]:
    """``"export.json=projA"`` -> ``("export.json", "projA")``; a plain path (or an existing file whose
    name holds ``=``) -> ``(src, None)``."""
    if "=" not in src or os.path.exists(src):
        return src, None
    path, ns = src.rsplit("=", 1)
    return path, ns


def check_namespace(ns: str) -> str:
    if not _NS.match(ns):
        raise ParameterError(f"namespace {ns!r} must be 1-64 letters, digits, '.', '_' or '-' (starting with a "
                             "letter or digit)")
    return ns


def with_namespace(result: ImportResult, ns: str) -> ImportResult:
    """``result`` with ``<ns>:`` before every item and annotator id (gold item ids too)."""
    check_namespace(ns)
    table = result.table.copy()
    for col in ("item_id", "annotator_id"):
        table[col] = table[col].cat.rename_categories([f"{ns}:{c}" for c in table[col].cat.categories])
    gold = result.gold
    if gold is not None and len(gold):
        gold = gold.copy()
        if isinstance(gold["item_id"].dtype, __import__("pandas").CategoricalDtype):
            gold["item_id"] = gold["item_id"].cat.rename_categories([f"{ns}:{c}" for c in gold["item_id"].cat.categories])
        else:
            gold["item_id"] = [f"{ns}:{c}" for c in gold["item_id"]]
    return replace(result, table=table, gold=gold)


def colliding(results: list[ImportResult]) -> int:
    """How many (item, annotator, task) keys occur in more than one source."""
    import pandas as pd

    keys = [pd.MultiIndex.from_frame(r.table[["item_id", "annotator_id", "task"]].astype(str)).unique() for r in results]
    seen: set[tuple[str, str, str]] = set()
    dup: set[tuple[str, str, str]] = set()
    for k in keys:
        s = set(k)
        dup |= seen & s
        seen |= s
    return len(dup)


def default_namespaces(paths: list[str]) -> list[str]:
    """File names without suffix, made id-safe and distinct (``a``, ``a-2`` ...)."""
    out: list[str] = []
    for p in paths:
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(p).name.split(".")[0]).strip("-._")[:60] or "src"
        name, n = base, 2
        while name in out:
            name, n = f"{base}-{n}", n + 1
        out.append(name)
    return out


def apply_namespaces(results: list[ImportResult], namespaces: list[str | None], *,
                     auto: bool = True) -> tuple[list[ImportResult], list[str]]:
    """Namespace each result as asked; with none asked and ``auto``, namespace every source by its file
    name when their ids collide. Returns the results and the notes for the summary."""
    notes: list[str] = []
    if any(namespaces):
        if len({ns for ns in namespaces if ns}) < sum(1 for ns in namespaces if ns):
            raise ParameterError(f"namespaces must differ between sources (got {', '.join(str(n) for n in namespaces)})")
        out = [with_namespace(r, ns) if ns else r for r, ns in zip(results, namespaces)]
        notes += [f"{r.path}: ids prefixed with '{ns}:' (namespace)" for r, ns in zip(results, namespaces) if ns]
        return out, notes
    if auto and len(results) > 1:
        n = colliding(results)
        if n:
            names = default_namespaces([r.path for r in results])
            out = [with_namespace(r, ns) for r, ns in zip(results, names)]
            notes.append(f"{n} (item, annotator, task) key(s) occur in more than one source: the sources' ids were "
                         f"prefixed with their file names ({', '.join(f'{r.path} -> {ns}:' for r, ns in zip(results, names))}) "
                         "so they do not merge. Pass SRC=NAMESPACE or --namespace to choose, or --no-namespace if the "
                         "sources share ids on purpose")
            return out, notes
    return results, notes
