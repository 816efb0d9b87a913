"""Lazy package attributes (PEP 562): ``import labkit.stats`` costs nothing until a name is used.

An area's ``__init__`` keeps its public names (for ``from labkit.stats import krippendorff_alpha``
and for type checkers, under ``TYPE_CHECKING``) but imports the defining module (and pandas, scipy
...) only when one of them is first looked up. This keeps ``labkit --help`` fast.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_attributes(package: str, where: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``where`` maps each public name to its module."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            try:  # a submodule used as an attribute (``labkit.stats.agreement``)
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
