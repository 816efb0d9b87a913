"""Incentives that reward sustained accuracy: scores, credentials, reward schemes, A/B tests.

Modules: :mod:`~labkit.incentives.scores`, :mod:`~labkit.incentives.credentials`,
:mod:`~labkit.incentives.rewards`, :mod:`~labkit.incentives.abtest`, :mod:`~labkit.incentives.report`
(with :func:`feedback_section` for the annotator feedback page). See docs/incentives.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["feedback_section"]


def __getattr__(name: str) -> Any:  # lazy, so ``labkit --help`` does not import pandas through the CLI
    if name == "feedback_section":
        from labkit.incentives.report import feedback_section

        return feedback_section
    raise AttributeError(name)
