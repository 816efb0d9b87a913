"""Review routing: a budgeted review queue with evidence, sequential spot checks, blind audits, fold-back.

No Jupyter or GX import here. Entry points: :func:`plan_review`, :func:`evidence`,
:class:`labkit.review.audit.SpotCheck`, :func:`labkit.review.audit.blind_audit_estimate`,
:func:`apply_reviews`, :func:`error_patterns`. The names are imported on first use, so the command line
(``labkit review --help``) starts without numpy or pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ReviewPlan", "ReviewWeights", "plan_review", "read_costs", "read_validation_failures", "evidence",
           "apply_reviews", "error_patterns"]

_WHERE = {"apply_reviews": "apply", "error_patterns": "apply", "evidence": "evidence", "ReviewPlan": "planner",
          "ReviewWeights": "planner", "plan_review": "planner", "read_costs": "planner",
          "read_validation_failures": "planner"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"labkit.review.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'labkit.review' has no attribute {name!r}")
