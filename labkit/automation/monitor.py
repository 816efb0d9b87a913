"""Monitoring an auto-accept policy on new batches: how many accepted items to spot-check, and the alarm.

* :func:`audit_sample_size`: the fewest accepted items to spot-check on a batch so that, if its error rate is
  the calibration estimate, an exact one-sided binomial test certifies ``error <= target`` at level ``delta``
  with the requested power (with an estimate of 0 this is :func:`~labkit.automation.ltt.min_calibration_size`).
* :func:`spot_check`: one-shot exact binomial test of :math:`H_0: \\text{error} \\le \\text{target}` on the checked
  items; the alarm fires when :math:`P(\\mathrm{Bin}(n, \\text{target}) \\ge k) \\le` ``level`` (the spot checks
  contradict the guarantee).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import bdtr, bdtrc

from labkit.errors import ParameterError

__all__ = ["audit_sample_size", "spot_check"]


def audit_sample_size(target_error: float, delta: float, expected_error: float = 0.0, power: float = 0.8,
                      n_max: int = 1_000_000) -> int:
    """Fewest spot checks certifying ``error <= target_error`` at ``delta`` with ``power`` when the true error
    is ``expected_error`` (< target). Raises when ``n_max`` checks are not enough."""
    for name, v in (("target_error", target_error), ("delta", delta), ("power", power)):
        if not 0 < v < 1:
            raise ParameterError(f"{name} must lie in (0, 1), got {v!r}")
    if not 0 <= expected_error < target_error:
        raise ParameterError(f"expected_error must lie in [0, target_error), got {expected_error!r}")
    lo, hi = 1, 64
    def ok(n: int) -> bool:
        # the largest k with P(Bin(n, target) <= k) <= delta, then power = P(Bin(n, expected) <= k)
        cdf = bdtr(np.arange(n + 1), n, target_error)
        k = int(np.searchsorted(cdf, delta, side="right")) - 1  # cdf is increasing in k
        return k >= 0 and float(bdtr(k, n, expected_error) if expected_error > 0 else 1.0) >= power
    while not ok(hi):
        lo, hi = hi, hi * 2
        if hi > n_max:
            raise ParameterError(f"more than {n_max} spot checks would be needed (expected error {expected_error:g} "
                                 f"is too close to the target {target_error:g})")
    # power is not monotone in n (binomial sawtooth): scan the last doubling for the first n that works
    for n in range(max(lo, 1), hi + 1):
        if ok(n):
            return n
    return hi


def spot_check(n_checked: int, n_errors: int, target_error: float, level: float = 0.05) -> dict[str, Any]:
    """Exact one-sided binomial test of the guarantee on ``n_checked`` accepted items with ``n_errors`` wrong."""
    if n_checked < 0 or n_errors < 0 or n_errors > n_checked:
        raise ParameterError(f"need 0 <= errors <= checked, got {n_errors} errors in {n_checked}")
    if not 0 < target_error < 1 or not 0 < level < 1:
        raise ParameterError("target_error and level must lie in (0, 1)")
    p = (1.0 if n_errors == 0 else float(bdtrc(n_errors - 1, n_checked, target_error))) if n_checked else 1.0
    return {"n_checked": int(n_checked), "n_errors": int(n_errors),
            "observed_error": n_errors / n_checked if n_checked else float("nan"), "p_value": p,
            "alarm": bool(p <= level), "level": level, "target_error": target_error,
            "message": (f"ALARM: {n_errors} errors in {n_checked} spot checks contradict an error rate <= {target_error:g} "
                        f"(p = {p:.3g}); suspend auto-accept and recalibrate") if p <= level else
                       f"{n_errors} errors in {n_checked} spot checks are consistent with <= {target_error:g} (p = {p:.3g})"}


