"""Spot checks (calibrated CUSUM) and the blind audit, on seeded simulations of modest size (full counts in bench/)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labkit.cli import main
from labkit.errors import ParameterError
from labkit.review.audit import (
    SpotCheck,
    _cusum_max,
    blind_audit_estimate,
    blind_audit_sample,
    calibrate_threshold,
    simulate_blind_coverage,
    simulate_detection,
    spot_check_status,
)

HERE = Path(__file__).resolve().parent


def test_llr_values_by_hand():
    d = SpotCheck(a0=0.95, a1=0.85, gold_rate=0.1, threshold=5.0, use_consensus=True, consensus_accuracy=0.9)
    ge, gc, dd, da = d.llr()
    assert ge == pytest.approx(np.log(0.15 / 0.05))
    assert gc == pytest.approx(np.log(0.85 / 0.95))
    # P(disagree | a) = 1 - (a c + (1-a)(1-c)) for two labels
    d0, d1 = 1 - (0.95 * 0.9 + 0.05 * 0.1), 1 - (0.85 * 0.9 + 0.15 * 0.1)
    assert (d0, d1) == (pytest.approx(0.14), pytest.approx(0.22))
    assert dd == pytest.approx(np.log(d1 / d0)) and da == pytest.approx(np.log((1 - d1) / (1 - d0)))


def test_run_matches_vectorised_cusum():
    rng = np.random.default_rng(5)
    d = SpotCheck(0.95, 0.85, 0.2, threshold=3.0, use_consensus=True)
    g = rng.random((20, 300)) < 0.2
    w = rng.random((20, 300)) < 0.12
    mx, first = _cusum_max(d, g, w)
    for i in range(20):
        path, alarm = d.run(g[i], w[i])
        assert path.max() == pytest.approx(mx[i])
        assert (alarm if alarm is not None else -1) == first[i]
    # a plain loop, written out: S = max(0, S + llr)
    ge, gc, dd, da = d.llr()
    s, best = 0.0, 0.0
    for gi, wi in zip(g[0], w[0]):
        s = max(0.0, s + (ge if wi else gc) if gi else s + (dd if wi else da))
        best = max(best, s)
    assert best == pytest.approx(mx[0])


def test_gold_only_cusum_meets_the_issue_numbers():
    d = calibrate_threshold(gold_rate=0.085, n_sim=1500, seed=0)
    good = simulate_detection(d, drop=False, n_sim=1500, seed=11)
    assert good["false_alarm"] <= 0.05  # a truly 95% annotator, 2000 items, fresh streams
    drop = simulate_detection(d, window=1000, n_sim=1500, seed=12)
    assert drop["power"] >= 0.8
    assert 200 < drop["median_delay"] < 1000


def test_consensus_evidence_cuts_gold_to_five_percent_and_delay_to_500():
    d = calibrate_threshold(gold_rate=0.05, use_consensus=True, seed=0)  # default 4000 simulations
    assert simulate_detection(d, drop=False, n_sim=2000, seed=21)["false_alarm"] <= 0.05
    drop = simulate_detection(d, window=500, n_sim=1500, seed=22)
    assert drop["power"] >= 0.8
    # without the consensus evidence, 5% gold does not reach that power within 500 items
    d0 = calibrate_threshold(gold_rate=0.05, n_sim=1500, seed=0)
    assert simulate_detection(d0, window=500, n_sim=1500, seed=22)["power"] < 0.6


def test_label_studio_rule_pauses_good_annotators_our_detector_does_not():
    # the fixed rule: pause when fewer than 95% of the last 10 gold items are right, i.e. any error
    rng = np.random.default_rng(0)
    wrong = rng.random((4000, 100)) > 0.95
    first_check = (wrong[:, :10].sum(1) >= 1).mean()
    assert first_check == pytest.approx(1 - 0.95 ** 10, abs=0.02)  # 0.401
    win = np.lib.stride_tricks.sliding_window_view(wrong, 10, axis=1).sum(2)
    assert (win >= 1).any(1).mean() > 0.95  # within 100 gold items nearly every good annotator is paused
    d = calibrate_threshold(gold_rate=0.085, n_sim=1000, seed=0)
    assert simulate_detection(d, drop=False, n_sim=1000, seed=3)["false_alarm"] <= 0.05


def test_calibrate_refuses_bad_design():
    with pytest.raises(ParameterError, match=r"a1 \(0.95\) must be below a0 \(0.9\)"):
        calibrate_threshold(a0=0.9, a1=0.95)
    with pytest.raises(ParameterError, match=r"gold_rate must be in \(0, 1\), got 0"):
        calibrate_threshold(gold_rate=0)


def test_spot_check_status_flags_the_planted_drop(tmp_path):
    rng = np.random.default_rng(4)
    rows, gold = [], []
    n = 1500
    for i in range(n):
        gold_item = i % 5 == 0
        truth = "a" if rng.random() < 0.5 else "b"
        if gold_item:
            gold.append({"item_id": f"i{i}", "label": truth})
        for ann, acc in (("steady", 0.95), ("dropper", 0.95 if i < 500 else 0.8)):
            lab = truth if rng.random() < acc else ("b" if truth == "a" else "a")
            rows.append({"item_id": f"i{i}", "annotator_id": ann, "label": lab,
                         "created_at": pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(minutes=i)})
    from labkit.io import load_labels
    from labkit.schema import conform_gold

    pd.DataFrame(rows).to_csv(tmp_path / "l.csv", index=False)
    t = load_labels(tmp_path / "l.csv")
    g = conform_gold(pd.DataFrame(gold))
    d = calibrate_threshold(gold_rate=0.2, n_items=n, n_sim=1000, seed=0)
    st = spot_check_status(t, g, d).set_index("annotator_id")
    assert st.loc["steady", "status"] == "ok"
    assert st.loc["dropper", "status"] == "flagged"
    assert st.loc["dropper", "flagged_at"] > 500  # after the drop
    assert st.loc["steady", "n_gold"] == 300


# --- blind audit -----------------------------------------------------------------------------------------

def test_blind_estimate_single_stratum_is_wilson():
    from statsmodels.stats.proportion import proportion_confint

    out = pd.DataFrame({"stratum": "s", "stratum_size": 10**9, "wrong": [True] * 7 + [False] * 93})
    est = blind_audit_estimate(out)
    lo, hi = proportion_confint(7, 100, alpha=0.05, method="wilson")
    assert est["error_rate"] == pytest.approx(0.07)
    assert (est["ci_low"], est["ci_high"]) == (pytest.approx(lo, abs=1e-6), pytest.approx(hi, abs=1e-6))
    # zero errors: not a degenerate [0, 0] interval
    zero = blind_audit_estimate(pd.DataFrame({"stratum": "s", "stratum_size": 10**9, "wrong": [False] * 50}))
    assert zero["ci_low"] == 0 and zero["ci_high"] == pytest.approx(proportion_confint(0, 50, method="wilson")[1])


def test_blind_estimate_is_stratum_weighted():
    out = pd.DataFrame({"stratum": ["x"] * 10 + ["y"] * 10, "stratum_size": [900] * 10 + [100] * 10,
                        "wrong": [True] * 1 + [False] * 9 + [True] * 5 + [False] * 5})
    est = blind_audit_estimate(out)
    assert est["error_rate"] == pytest.approx(0.9 * 0.1 + 0.1 * 0.5)
    assert est["unreviewed_items"] == 1000 and est["audited"] == 20


def test_blind_interval_covers_at_nominal_level():
    cov = simulate_blind_coverage(n_runs=400, seed=7)
    assert 0.93 <= cov["coverage"] <= 0.98
    rare = simulate_blind_coverage(n_runs=400, error_rates=(0.005, 0.01, 0.03), sample_size=200, seed=8)
    assert 0.93 <= rare["coverage"] <= 0.99


def test_blind_sample_only_unqueued_and_stratified():
    q = pd.DataFrame({"item_id": [f"i{i}" for i in range(100)], "task": ["t1"] * 60 + ["t2"] * 40,
                      "consensus_label": "a", "queued": [True] * 10 + [False] * 90})
    s = blind_audit_sample(q, 18, seed=1)
    assert len(s) == 18 and not set(s["item_id"]) & {f"i{i}" for i in range(10)}
    assert s.groupby("stratum").size().to_dict() == {"t1": 10, "t2": 8}  # 50:40 of the pool
    assert s.groupby("stratum")["stratum_size"].first().to_dict() == {"t1": 50, "t2": 40}


def test_cli_blind_audit_round_trip(tmp_path, capsys):
    sample = HERE.parent / "sample" / "labels.csv"
    qpath = tmp_path / "q.csv"
    assert main(["review", "plan", str(sample), "--budget-items", "100", "--out", str(qpath)]) == 0
    spath = tmp_path / "s.csv"
    assert main(["review", "audit", str(sample), "--queue", str(qpath), "--blind-sample", "40", "--sample",
                 str(spath), "--json"]) == 0
    capsys.readouterr()
    s = pd.read_csv(spath, dtype=str)
    assert len(s) == 40 and not set(s["item_id"]) & set(pd.read_csv(qpath, dtype=str)["item_id"])
    # a blind reviewer re-labels them; every fourth disagrees with the accepted label
    rv = s.assign(annotator_id="blind1", stage="review",
                  label=[("ok" if lab != "ok" else "spam") if i % 4 == 0 else lab
                         for i, lab in enumerate(s["consensus_label"])])[["item_id", "task", "annotator_id", "label", "stage"]]
    rv.to_csv(tmp_path / "rv.csv", index=False)
    assert main(["review", "audit", str(sample), "--queue", str(qpath), "--sample", str(spath), "--blind-results",
                 str(tmp_path / "rv.csv"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["blind_audit"]
    assert out["audited"] == 40 and out["errors_found"] == 10
    assert out["error_rate"] == pytest.approx(0.25, abs=0.03)
    assert out["ci_low"] < 0.25 < out["ci_high"]
