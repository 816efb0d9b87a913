"""Gold scoring, confidence calibration and drift on small tables checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from labkit.errors import ParameterError
from labkit.stats import (agreement_by, brier_score, confidence_calibration, confusion, drift,
                          expected_calibration_error, krippendorff_alpha, per_class, reliability_table,
                          score_annotators, top_confusions, wilson_interval)

# gold: a=p, b=n, c=n. x is right on all three; y is wrong on b and gives p and n (multi-label) on c;
# w never touches a gold item.
LABELS = pd.DataFrame({
    "item_id":      ["a", "b", "c", "a", "b", "c", "c", "d", "d", "d", "e", "e", "e"],
    "annotator_id": ["x", "x", "x", "y", "y", "y", "y", "x", "y", "w", "x", "y", "w"],
    "label":        ["p", "n", "n", "p", "p", "p", "n", "p", "p", "n", "n", "n", "n"],
})
GOLD = pd.DataFrame({"item_id": ["a", "b", "c"], "label": ["p", "n", "n"]})


@pytest.mark.parametrize("k,n", [(0, 5), (3, 10), (10, 10), (47, 113)])
def test_wilson_matches_statsmodels(k: int, n: int) -> None:
    lo, hi = wilson_interval(k, n, 0.95)
    ref = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert (float(lo), float(hi)) == pytest.approx(ref, abs=1e-12)
    assert np.isnan(wilson_interval(0, 0)[0])


def test_score_annotators_gold_and_leave_one_out() -> None:
    s = score_annotators(LABELS, GOLD).set_index("annotator_id")
    assert s.loc["x", ["n", "correct"]].tolist() == [3, 3]
    assert s.loc["y", ["n", "correct"]].tolist() == [4, 2]  # a right, b wrong, c: p wrong and n right
    assert s.loc["y", "accuracy"] == 0.5
    assert s.loc["x", "reference"] == "gold"
    # w: on d the others say p, p (w says n: wrong); on e the others say n, n (right)
    assert s.loc["w", ["n", "correct", "reference"]].tolist() == [2, 1, "consensus (leave-one-out)"]
    lo, hi = proportion_confint(2, 4, alpha=0.05, method="wilson")
    assert (s.loc["y", "ci_low"], s.loc["y", "ci_high"]) == pytest.approx((lo, hi), abs=1e-12)
    no_fallback = score_annotators(LABELS, GOLD, consensus_fallback=False).set_index("annotator_id")
    assert no_fallback.loc["w", "reference"] == "none" and np.isnan(no_fallback.loc["w", "accuracy"])


def test_confusion_per_class_and_top_confusions() -> None:
    m = confusion(LABELS, GOLD)
    assert m.loc["n"].tolist() == [3, 2] and m.loc["p"].tolist() == [0, 2]  # columns n, p
    assert confusion(LABELS, GOLD, annotator="y").loc["n"].tolist() == [1, 2]
    pc = per_class(LABELS, GOLD).set_index("label")
    # label p: predicted 4 times, right 2 -> precision 0.5; gold p judged 2 times, both p -> recall 1
    assert pc.loc["p", ["precision", "recall"]].tolist() == [0.5, 1.0]
    assert pc.loc["p", "f1"] == pytest.approx(2 / 3)
    assert pc.loc["n", ["support", "predicted", "true_positive"]].tolist() == [5, 3, 3]
    top = top_confusions(LABELS, GOLD, k=5)
    assert top.to_dict("records") == [{"gold": "n", "label": "p", "count": 2, "share": 0.4, "examples": ["b", "c"]}]
    with pytest.raises(ParameterError, match="annotator 'nobody' has no judgements"):
        confusion(LABELS, GOLD, annotator="nobody")


def test_ece_brier_and_reliability_by_hand() -> None:
    p = np.array([0.9, 0.9, 0.6, 0.6])
    y = np.array([1, 1, 1, 0])
    assert expected_calibration_error(p, y, n_bins=10) == pytest.approx(0.1)  # |1-.9|*2/4 + |.5-.6|*2/4
    assert brier_score(p, y) == pytest.approx((0.01 + 0.01 + 0.16 + 0.36) / 4)
    t = reliability_table(p, y, n_bins=5)
    assert t["n"].tolist() == [0, 0, 0, 2, 2]
    assert t.loc[4, "accuracy"] == 1.0 and t.loc[3, "gap"] == pytest.approx(-0.1)
    assert reliability_table([1.0], [1], n_bins=4)["n"].tolist() == [0, 0, 0, 1]  # 1.0 falls in the last bin
    with pytest.raises(ParameterError, match=r"confidence must lie in \[0, 1\]; found 1.4"):
        brier_score([1.4], [1])


def test_confidence_calibration_human_and_model() -> None:
    t = LABELS.assign(confidence=[0.9, 0.8, 0.7, 0.9, 0.6, np.nan, 0.5, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    res = confidence_calibration(t, GOLD)
    # gold rows: x a b c (.9 .8 .7 right), y a (.9 right) b (.6 wrong) c-p (no confidence) c-n (.5 right)
    assert (res.n, res.n_missing_confidence) == (6, 1)
    p = np.array([0.9, 0.8, 0.7, 0.9, 0.6, 0.5])
    y = np.array([1, 1, 1, 1, 0, 1])
    assert res.brier == pytest.approx(brier_score(p, y)) and res.ece == pytest.approx(expected_calibration_error(p, y))
    model = pd.DataFrame({"item_id": ["a", "b", "d"], "annotator_id": "m", "label": ["p", "p", "n"],
                          "confidence": [0.8, 0.6, 0.3], "source": "model"})
    both = pd.concat([LABELS, model], ignore_index=True)
    mres = confidence_calibration(both, GOLD, source="model", reference="consensus")
    # a: gold p (right, .8); b: gold n (wrong, .6); d: no gold, humans vote p,p,n -> p (wrong, .3)
    assert mres.n == 3
    assert mres.brier == pytest.approx(((0.8 - 1) ** 2 + 0.6 ** 2 + 0.3 ** 2) / 3)
    with pytest.raises(ParameterError, match="reference='gold' needs a gold table"):
        confidence_calibration(LABELS)


def test_drift_by_week_and_version() -> None:
    t = LABELS.assign(created_at=["2026-09-07T10:00Z"] * 7 + ["2026-09-15T10:00Z"] * 5 + [None],
                      guideline_version=["1.0.0"] * 7 + ["1.1.0"] * 6, duration_s=np.arange(13.0))
    d = drift(t, GOLD, by="week")
    assert d["week"].tolist() == ["2026-09-07", "2026-09-14"]
    assert d["n_judgements"].tolist() == [7, 5]
    assert d.attrs["n_without_time"] == 1
    assert d.loc[0, "accuracy"] == pytest.approx(5 / 7) and d.loc[0, "gold_n"] == 7
    assert d.loc[0, "agreement"] == pytest.approx(krippendorff_alpha(LABELS.iloc[:7]).value)
    assert d.loc[0, "median_duration_s"] == 3.0
    assert np.isnan(d.loc[0, "js_to_previous"]) and 0 < d.loc[1, "js_to_previous"] <= 1
    v = drift(t, GOLD, by="guideline_version")
    assert v["guideline_version"].tolist() == ["1.0.0", "1.1.0"] and v["n_judgements"].tolist() == [7, 6]


def test_agreement_by_label_slice_and_degenerate_groups() -> None:
    t = LABELS.assign(slice=["s1"] * 7 + ["s2"] * 5 + [None])
    by = agreement_by(t, "slice").set_index("slice")
    assert by.loc["s1", "value"] == pytest.approx(krippendorff_alpha(LABELS.iloc[:7]).value)
    assert by.loc["(none)", "reason"].startswith("no item has two or more judgements")
    lab = agreement_by(LABELS, "label").set_index("label")
    assert lab.loc["p", "value"] == pytest.approx(lab.loc["n", "value"])  # two labels: one-vs-rest is symmetric
    assert lab.loc["p", "value"] == pytest.approx(krippendorff_alpha(LABELS).value)


@pytest.mark.parametrize("metric", ["fleiss", "ac1", "percent"])
def test_agreement_by_slice_equals_the_coefficient_on_each_slice(metric: str) -> None:
    from labkit.stats import fleiss_kappa, gwet_ac1, percent_agreement

    f = {"fleiss": fleiss_kappa, "ac1": gwet_ac1, "percent": percent_agreement}[metric]
    rng = np.random.default_rng(5)
    n = 400
    t = pd.DataFrame({"item_id": rng.integers(0, 90, n).astype(str), "annotator_id": rng.integers(0, 12, n).astype(str),
                      "label": rng.choice(list("abc"), n, p=[0.6, 0.3, 0.1])})
    t["slice"] = np.where(t["item_id"].astype(int) < 45, "low", "high")
    by = agreement_by(t, "slice", metric=metric, ci=0.9, n_boot=200, seed=3).set_index("slice")
    for name in ("low", "high"):
        sub = t[t["slice"] == name]
        ref = f(sub, ci=0.9, n_boot=200, seed=3)
        row = by.loc[name]
        assert row["value"] == pytest.approx(ref.value, abs=1e-12)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((ref.ci_low, ref.ci_high), abs=1e-12)
        assert row["ci_low"] <= row["value"] <= row["ci_high"]
        assert (row["n_items"], row["n_pairable"]) == (ref.n_items, ref.n_pairable)


def test_drift_by_day_and_month_counts_match_a_groupby() -> None:
    rng = np.random.default_rng(8)
    n = 300
    ts = pd.Timestamp("2026-09-28T00:00Z") + pd.to_timedelta(rng.integers(0, 10 * 24 * 3600, n), unit="s")
    t = pd.DataFrame({"item_id": rng.integers(0, 60, n).astype(str), "annotator_id": rng.integers(0, 8, n).astype(str),
                      "label": rng.choice(list("xy"), n), "created_at": ts.strftime("%Y-%m-%dT%H:%M:%SZ")})
    for by, key in (("day", ts.strftime("%Y-%m-%d")), ("month", ts.strftime("%Y-%m-01"))):
        d = drift(t, by=by)
        expected = pd.Series(1, index=key).groupby(level=0).size()
        assert d[by].tolist() == list(expected.index)
        assert d["n_judgements"].tolist() == expected.tolist()
    assert drift(t, by="month")[["month"]].to_dict("list") == {"month": ["2026-09-01", "2026-10-01"]}
