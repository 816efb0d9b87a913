"""Majority vote (tie rules), Dawid-Skene (against a loop-by-loop EM written here), adjudication queue."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labkit.errors import ParameterError
from labkit.stats import DawidSkene, adjudication_queue, consensus_accuracy, majority_vote


def frame(rows: list[tuple[str, str, str]], **extra: object) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["item_id", "annotator_id", "label"])
    for k, v in extra.items():
        df[k] = v
    return df


# x agrees with the majority on u1..u3, y never does; on item t they tie 1-1 (x says p, y says n).
TIES = frame([("u1", "x", "p"), ("u1", "y", "n"), ("u1", "z", "p"),
              ("u2", "x", "p"), ("u2", "y", "n"), ("u2", "z", "p"),
              ("u3", "x", "p"), ("u3", "y", "n"), ("u3", "z", "p"),
              ("t", "x", "p"), ("t", "y", "n")])


def label_of(cons: pd.DataFrame, item: str) -> object:
    return cons.set_index(cons["item_id"].astype(str)).loc[item, "label"]


def test_majority_vote_tie_rules() -> None:
    # skill: x = (3+1)/(3+2) = 0.8 beats y = (0+1)/(3+2) = 0.2, so x's label p wins the tie
    assert label_of(majority_vote(TIES), "t") == "p"
    assert label_of(majority_vote(TIES, ties="order"), "t") == "n"  # earliest label alphabetically
    assert pd.isna(label_of(majority_vote(TIES, ties="none"), "t"))
    prior = frame([("v1", "a", "z"), ("v1", "b", "z"), ("v1", "c", "z"), ("v2", "a", "m"), ("v2", "b", "z"),
                   ("v3", "a", "m"), ("v3", "b", "z")])
    # v2 and v3 tie m/z; z is used 5 times in the task, m twice
    assert label_of(majority_vote(prior, ties="prior"), "v2") == "z"
    assert label_of(majority_vote(prior, ties="order"), "v2") == "m"
    cons = majority_vote(TIES)
    assert list(cons.columns) == ["item_id", "task", "label", "confidence", "n_judgements", "method"]
    row = cons.set_index(cons["item_id"].astype(str)).loc["u1"]
    assert (row["label"], row["confidence"], row["n_judgements"], row["method"]) == ("p", pytest.approx(2 / 3), 3, "mv")
    assert cons.set_index(cons["item_id"].astype(str)).loc["t", "confidence"] == 0.5
    with pytest.raises(ParameterError, match="ties must be"):
        majority_vote(TIES, ties="random")


def test_majority_vote_is_per_task_and_ignores_model_rows() -> None:
    t = frame([("i", "a", "x"), ("i", "b", "x"), ("i", "m", "y"), ("i", "a", "y")],
              task=["t1", "t1", "t1", "t2"], source=["human", "human", "model", "human"])
    cons = majority_vote(t)
    assert sorted(zip(cons["task"].astype(str), cons["label"].astype(str), cons["n_judgements"])) == [
        ("t1", "x", 2), ("t2", "y", 1)]


def naive_dawid_skene(rows: pd.DataFrame, labels: list[str], smoothing: float, n_iter: int) -> np.ndarray:
    """Textbook EM with Python loops (an independent oracle for small tables)."""
    items = sorted(rows["item_id"].unique())
    anns = sorted(rows["annotator_id"].unique())
    K = len(labels)
    T = np.zeros((len(items), K))
    for r in rows.itertuples():
        T[items.index(r.item_id), labels.index(r.label)] += 1
    T /= T.sum(axis=1, keepdims=True)
    for _ in range(n_iter):
        theta = np.full((len(anns), K, K), smoothing)
        for r in rows.itertuples():
            theta[anns.index(r.annotator_id), :, labels.index(r.label)] += T[items.index(r.item_id)]
        theta /= theta.sum(axis=2, keepdims=True)
        pi = T.mean(axis=0)
        logT = np.tile(np.log(pi), (len(items), 1))
        for r in rows.itertuples():
            logT[items.index(r.item_id)] += np.log(theta[anns.index(r.annotator_id), :, labels.index(r.label)])
        T = np.exp(logT - logT.max(axis=1, keepdims=True))
        T /= T.sum(axis=1, keepdims=True)
    return T


def test_dawid_skene_matches_loop_oracle() -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 40)
    rows = []
    for i, z in enumerate(truth):
        for a, acc in (("a", 0.9), ("b", 0.7), ("c", 0.5), ("d", 0.8)):
            if rng.random() < 0.8:
                lab = z if rng.random() < acc else rng.integers(0, 3)
                rows.append((f"i{i:02d}", a, "xyz"[lab]))
    t = frame(rows)
    ds = DawidSkene(tol=1e-300, max_iter=7, smoothing=0.01, accelerate=False).fit(t)
    assert ds.n_iter_ == 7 and not ds.converged_
    ref = naive_dawid_skene(t, ["x", "y", "z"], 0.01, 7)
    np.testing.assert_allclose(ds.posteriors_.to_numpy(), ref, atol=1e-9)
    cons = ds.consensus_
    assert (cons["confidence"].to_numpy() == pytest.approx(ref.max(axis=1), abs=1e-9))
    assert list(cons["label"].astype(str)) == ["xyz"[k] for k in ref.argmax(axis=1)]


def test_dawid_skene_learns_an_inverted_annotator_and_converges() -> None:
    # a and b are right, c always flips: majority vote gets every item right, DS learns c's confusion
    rows = []
    for i in range(30):
        z = "ab"[i % 2]
        rows += [(f"i{i}", "a", z), (f"i{i}", "b", z), (f"i{i}", "c", "ba"[i % 2])]
    ds = DawidSkene().fit(frame(rows))
    assert ds.converged_ and ds.n_iter_ < 100
    assert list(ds.labels_) == ["ab"[i % 2] for i in sorted(range(30), key=lambda i: f"i{i}")]
    c = list(ds.annotators_).index("c")
    assert ds.errors_[c, 0, 1] > 0.95 and ds.errors_[c, 1, 0] > 0.95


def test_dawid_skene_parameter_errors() -> None:
    with pytest.raises(ParameterError, match="max_iter must be a positive integer, got 0"):
        DawidSkene(max_iter=0).fit(TIES)
    with pytest.raises(ParameterError, match="tol must be a positive number"):
        DawidSkene(tol=-1).fit(TIES)


def test_adjudication_queue_low_confidence_and_gold_disagreement() -> None:
    cons = majority_vote(TIES, ties="none")
    gold = pd.DataFrame({"item_id": ["u1", "u2"], "label": ["p", "n"]})
    q = adjudication_queue(cons, gold, threshold=0.6)
    reasons = dict(zip(q["item_id"].astype(str), q["reason"]))
    assert reasons == {"t": "no consensus label (tie)", "u2": "consensus differs from gold"}
    assert consensus_accuracy(cons, gold) == {"accuracy": 0.5, "n_gold_items": 2, "n_correct": 1, "n_missing_label": 0}
    q = adjudication_queue(cons, None, threshold=0.7)
    assert sorted(q["item_id"].astype(str)) == ["t", "u1", "u2", "u3"]  # 2/3 < 0.7


def test_dawid_skene_ll_tol_must_be_positive() -> None:
    with pytest.raises(ParameterError, match="ll_tol must be a positive number or None, got 0"):
        DawidSkene(ll_tol=0).fit(TIES)
