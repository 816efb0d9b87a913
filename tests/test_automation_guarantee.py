"""The finite-sample guarantee on generated programs with miscalibrated models (100 seeds per setting; 500 in bench).

Promise: the error rate of auto-accepted labels exceeds the target in at most ``delta`` of the seeds (binomial
tolerance); the naive threshold (confidence >= 1 - target) exceeds it on the over-confident and wrong-on-one-slice
models; per-slice thresholds accept more than the textbook method where the model is wrong on one slice.
"""

from __future__ import annotations

import pytest
from scipy.stats import binom

from labkit.automation.experiment import run

SEEDS = 100
TARGET, DELTA = 0.1, 0.1


@pytest.fixture(scope="module")
def results():
    return run(seeds=SEEDS, target_error=TARGET, delta=DELTA, n_population=200_000)


def _by(res, setting, method):
    return res[(res["setting"] == setting) & (res["method"] == method)]


@pytest.mark.parametrize("setting", ["calibrated", "overconfident", "underconfident", "slice_wrong"])
@pytest.mark.parametrize("method", ["ltt", "textbook"])
def test_guarantee_holds_over_seeds(results, setting: str, method: str) -> None:
    d = _by(results, setting, method)
    assert len(d) == SEEDS
    # if each seed failed with probability delta, more than this many failures has probability < 0.001
    tol = int(binom.ppf(0.999, SEEDS, DELTA))
    assert int(d["exceeds"].sum()) <= tol
    if method == "ltt":  # not vacuous: it accepts something in most seeds (the textbook often does not on slice_wrong)
        assert (d["accepted_share"] > 0).mean() > 0.5


@pytest.mark.parametrize("setting", ["overconfident", "slice_wrong"])
def test_naive_threshold_breaks_the_target_when_miscalibrated(results, setting: str) -> None:
    d = _by(results, setting, "naive")
    assert d["exceeds"].mean() > 0.5
    assert d["error"].min() > TARGET


def test_naive_on_an_underconfident_model_is_safe_but_accepts_far_less(results) -> None:
    n, o = _by(results, "underconfident", "naive"), _by(results, "underconfident", "ltt")
    assert not n["exceeds"].any()
    assert o["accepted_share"].mean() > 2 * n["accepted_share"].mean()


def test_per_slice_thresholds_accept_more_where_the_model_fails_one_slice(results) -> None:
    o, t = _by(results, "slice_wrong", "ltt"), _by(results, "slice_wrong", "textbook")
    assert o["accepted_share"].mean() > 1.5 * t["accepted_share"].mean()
    assert (o["scheme"] == "slice").mean() > 0.5


@pytest.mark.parametrize("setting", ["calibrated", "overconfident", "underconfident", "slice_wrong"])
def test_accepts_at_least_the_textbook_method_in_the_same_runs(results, setting: str) -> None:
    o, t = _by(results, setting, "ltt"), _by(results, setting, "textbook")
    # on average over the same seeds; seed by seed it is not (the textbook sometimes certifies a lower threshold,
    # when its early start happens to pass), which bench/bench_automation.py reports as "seeds >= textbook"
    assert o["accepted_share"].mean() >= t["accepted_share"].mean()
