"""Checks shared by the policy-file readers (credentials, simulated policies): one rule for "a number in range"."""
from __future__ import annotations

import math
from typing import Any


def number_in_range(v: Any, lo: float | None = None, hi: float | None = None, integer: bool = False) -> bool:
    """True when ``v`` is a finite real number (not a bool) within [lo, hi], integral if ``integer``."""
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(float(v)):
        return False
    if integer and not float(v).is_integer():
        return False
    return (lo is None or float(v) >= lo) and (hi is None or float(v) <= hi)
