"""Generated model pre-labels with confidence miscalibrated in known ways, for tests and the benchmark.

Settings (``P(correct | stated confidence s)``):

* ``calibrated``: ``s``;
* ``overconfident``: ``s ** 2`` (at a stated 0.95 the model is right 90% of the time);
* ``underconfident``: ``min(s + 0.08, 0.995)``;
* ``slice_wrong``: ``s`` on slices ``forum`` and ``chat``, ``s - 0.4`` on ``reviews`` (one slice it was not
  trained for).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labkit.errors import ParameterError

__all__ = ["SETTINGS", "Batch", "generate"]

SETTINGS = ("calibrated", "overconfident", "underconfident", "slice_wrong")
_SLICES = np.array(["forum", "chat", "reviews"], dtype=object)
_LABELS = np.array(["ok", "insult", "spam", "hate"], dtype=object)


@dataclass
class Batch:
    conf: np.ndarray
    correct: np.ndarray
    p_correct: np.ndarray  #: the true probability that each label is right (population error = mean(1 - p))
    label: np.ndarray
    slice: np.ndarray


def generate(setting: str, n: int, rng: np.random.Generator) -> Batch:
    """``n`` model pre-labels of ``setting`` drawn with ``rng``."""
    if setting not in SETTINGS:
        raise ParameterError(f"setting must be one of {', '.join(SETTINGS)}, got {setting!r}")
    conf = np.round(rng.beta(6, 1.6, size=n), 3)
    sl = _SLICES[rng.choice(3, size=n, p=[0.45, 0.35, 0.20])]
    lab = _LABELS[rng.choice(4, size=n, p=[0.55, 0.2, 0.15, 0.10])]
    p = conf.copy()
    if setting == "overconfident":
        p = conf ** 2
    elif setting == "underconfident":
        p = np.minimum(conf + 0.08, 0.995)
    elif setting == "slice_wrong":
        p = np.where(sl == "reviews", conf - 0.4, conf)
    p = np.clip(p, 0.0, 1.0)
    correct = rng.random(n) < p
    return Batch(conf, correct, p, lab, sl)
