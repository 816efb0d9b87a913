"""Sequential (batched) review that learns from its own outcomes: no peeking, effort numbers, fold-back CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labkit.cli import main
from labkit.io import load_labels
from labkit.review import plan_review
from labkit.review.evaluate import items_for_recall, label_studio_items, pairwise_agreement, sequential_review
from labkit.schema import read_gold

HERE = Path(__file__).resolve().parent
PUBLIC = HERE / "data" / "public"


def _public(name: str) -> tuple[pd.DataFrame, pd.Series]:
    t = load_labels(PUBLIC / name / "long.csv")
    g = read_gold(PUBLIC / name / "gold.csv")
    return t, pd.Series(g["label"].astype(str).to_numpy(), index=g["item_id"].astype(str))


def _nth_error_position(err: np.ndarray, target: float = 0.8) -> int:
    """Independent oracle of items_for_recall for an order without ties: where the m-th error sits."""
    m = math.ceil(target * err.sum() - 1e-9)
    return int(np.flatnonzero(err)[m - 1]) + 1


def test_adaptive_queue_never_peeks_at_unreviewed_truth():
    t, truth = _public("welinder2010_bluebirds")
    first = sequential_review(t, truth, batch=10)
    assert len(first) == len(truth) and first["item_id"].is_unique
    assert list(first["batch"].iloc[[0, 9, 10, 107]]) == [1, 1, 2, 11]
    # the first batch is the static plan's first ten items
    static = plan_review(t, budget_fraction=1.0, fit=None).queue
    assert list(first["item_id"][:10]) == list(static["item_id"][:10])
    # flip the truth of every item not among the first 30 reviewed (binary labels 0 <-> 1)
    k = 30
    seen = set(first["item_id"][:k])
    flipped = truth.copy()
    rest = ~flipped.index.isin(seen)
    flipped[rest] = np.where(flipped[rest] == "0", "1", "0")
    second = sequential_review(t, flipped, batch=10)
    # what the queue reviews before any of that truth is revealed cannot change (nor the batch after it,
    # which is chosen from the outcomes of the first 30 only)
    assert list(second["item_id"][:k + 10]) == list(first["item_id"][:k + 10])
    # but the outcomes do steer the rest of the queue: the process is not a static ranking
    assert list(second["item_id"]) != list(first["item_id"])


def test_adaptive_effort_on_snow2008_temp_beats_the_label_studio_policy():
    t, truth = _public("snow2008_temp")
    plan = plan_review(t, budget_fraction=1.0)
    q = plan.queue.set_index("item_id").loc[truth.index]
    err = q["consensus_label"].to_numpy() != truth.to_numpy()
    assert err.sum() == 27
    static = items_for_recall(-q["rank"].to_numpy(float), err)
    assert static == _nth_error_position(err[np.argsort(q["rank"].to_numpy())])
    s = sequential_review(t, truth, batch_fraction=0.05, fit=plan.fit)
    assert s["batch"].max() == math.ceil(462 / math.ceil(0.05 * 462))
    assert int(s["error"].sum()) == 27  # every error is met once, counted against the same consensus
    adaptive = items_for_recall(-s["order"].to_numpy(float), s["error"].to_numpy())
    assert adaptive == _nth_error_position(s["error"].to_numpy())
    ls = label_studio_items(t, pd.Index(truth.index), err)
    assert ls == 369
    # learning from the review outcomes helps here, and both beat the policy by more than the 30%
    assert adaptive < static
    assert 1 - adaptive / ls >= 0.30 and 1 - static / ls >= 0.30


def test_label_studio_policy_by_hand(tmp_path):
    rows = []
    votes = {"a": "xxxx", "b": "xxxy", "c": "xxyy", "d": "x"}
    for item, v in votes.items():
        rows += [{"item_id": item, "annotator_id": f"u{j}", "label": lab} for j, lab in enumerate(v)]
    p = tmp_path / "l.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    t = load_labels(p)
    items = pd.Index(["a", "b", "c", "d"])
    # pairs that agree: a 6/6, b 3/6, c 2/6, d has no pair (1)
    assert pairwise_agreement(t, items) == pytest.approx([1.0, 0.5, 1 / 3, 1.0])
    # errors on b and c: threshold 0.5+ takes b and c (2 items) plus ceil(5% of 2) = 1 spot check
    assert label_studio_items(t, items, np.array([False, True, True, False])) == 3
    # an error on a (agreement 1) needs every item below 1 + eps: 4 items, the spot check of none
    assert label_studio_items(t, items, np.array([True, False, False, False])) == 4


def _split_program(tmp_path: Path) -> Path:
    """60 items, each a 4-1 split by the same five voters: 30 with consensus a, 30 with consensus b."""
    rows = []
    for i in range(60):
        maj, mino = ("a", "b") if i % 2 else ("b", "a")
        labs = [maj] * 4 + [mino]
        rows += [{"item_id": f"s{i:02d}", "annotator_id": f"u{j}", "label": lab} for j, lab in enumerate(labs)]
    p = tmp_path / "labels.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    return p


def test_review_outcomes_teach_which_consensus_label_is_often_wrong(tmp_path):
    p = _split_program(tmp_path)
    t = load_labels(p)
    # the first 44 items reviewed: every consensus 'a' among them was really 'b', every 'b' right
    reviewed = [f"s{i:02d}" for i in range(44)]
    outcomes = pd.DataFrame({"item_id": reviewed, "annotator_id": "rev", "label": "b"})
    rp = tmp_path / "outcomes.csv"
    outcomes.to_csv(rp, index=False)
    out = tmp_path / "q.csv"
    assert main(["review", "plan", str(p), "--reviewed", str(rp), "--fraction", "1", "--out", str(out), "--json"]) == 0
    q = pd.read_csv(out, dtype={"item_id": str})
    assert len(q) == 60
    # the reviewed items go last, in their own tier, and say so
    assert set(q["item_id"][-44:]) == set(reviewed) and (q["tier"][-44:] == 2).all()
    assert q["reasons"][-44:].str.startswith("already reviewed").all()
    # the 16 open items: the 8 with consensus 'a' (22 of 22 wrong so far) before the 8 with 'b' (0 of 22)
    open_ = q.iloc[:16]
    assert (open_["consensus_label"].astype(str).iloc[:8] == "a").all()
    assert (open_["consensus_label"].astype(str).iloc[8:] == "b").all()
    assert open_["p_error"].iloc[0] > 2 * open_["p_error"].iloc[8]
    # without the outcomes every item is the same 4-1 split: one p_error for all, nothing to tell a from b
    assert plan_review(t, budget_fraction=1.0).queue["p_error"].nunique() == 1


def test_cli_reviewed_summary_counts_known_items(tmp_path, capsys):
    p = _split_program(tmp_path)
    rp = tmp_path / "outcomes.csv"
    pd.DataFrame({"item_id": [f"s{i:02d}" for i in range(44)], "annotator_id": "rev", "label": "b"}).to_csv(rp, index=False)
    capsys.readouterr()
    assert main(["review", "plan", str(p), "--reviewed", str(rp), "--budget-items", "5", "--out",
                 str(tmp_path / "q.csv"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["already_reviewed"] == 44 and summary["queued"] == 5
    cal = summary["calibration"]["default"]
    assert cal["known_items"] == 44 and cal["known_errors"] == 22 and cal["weights"].startswith("learned")
    assert cal["label_offsets"]["a"] > 0 > cal["label_offsets"]["b"]


def test_fit_logistic_converges_when_the_known_items_separate_the_errors():
    """Every 'a' wrong, every 'b' right: the penalised optimum is finite; a plain Newton step overshot it."""
    from labkit.review.weights import expit, fit_logistic

    X = np.repeat(np.array([[0.5, 0.5, 1.0, 0.0], [0.5, 0.5, 0.0, 1.0]]), 22, axis=0)
    y = np.repeat([1.0, 0.0], 22)
    prior = np.array([-5.1, 1.5, 2.7, 0.0, 0.0])
    strength = np.array([20.0, 20.0, 1.0, 1.0])
    b = fit_logistic(X, y, prior=prior, strength=strength)
    assert np.isfinite(b).all() and abs(b[0]) < 50
    # the optimum: gradient of the penalised log-likelihood is zero (checked independently of the solver)
    Xb = np.column_stack([np.ones(len(X)), X])
    R = np.diag([1e-4, *strength])
    grad = Xb.T @ (y - expit(Xb @ b)) - R @ (b - prior)
    assert np.abs(grad).max() < 1e-6
    assert b[3] > 1 and b[4] < -1  # the offsets say which label was wrong
