"""labkit.automation: exact p-values, Learn-then-Test mechanics, refusal, provenance, human wins, CLI, report."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, binomtest

from labkit.automation import ltt
from labkit.automation.audit import audit
from labkit.automation.monitor import audit_sample_size, spot_check
from labkit.automation.plan import PLAN_COLUMNS, human_of_record, make_plan
from labkit.cli import main
from labkit.errors import ParameterError
from labkit.io import load_labels
from labkit.schema import read_gold

SAMPLE = "sample/label_studio_export.json:sample/labels.csv"


@pytest.mark.parametrize("k,n,a", [(0, 1, 0.1), (0, 45, 0.05), (3, 50, 0.1), (17, 200, 0.1), (50, 50, 0.3),
                                   (120, 1000, 0.1), (7, 7, 0.999), (0, 10000, 0.0001)])
def test_binomial_pvalue_equals_scipy_binomtest(k: int, n: int, a: float) -> None:
    ref = binomtest(k, n, a, alternative="less").pvalue
    assert float(ltt.binomial_pvalue(k, n, a)) == pytest.approx(ref, rel=1e-10, abs=1e-300)


def test_binomial_pvalue_vectorised_and_no_evidence() -> None:
    k = np.array([0, 1, 2, 0])
    n = np.array([10, 10, 30, 0])
    p = ltt.binomial_pvalue(k, n, 0.1)
    assert p[3] == 1.0
    np.testing.assert_allclose(p[:3], [binomtest(int(a), int(b), 0.1, alternative="less").pvalue
                                       for a, b in zip(k[:3], n[:3])], rtol=1e-10)
    with pytest.raises(ParameterError, match="target error must lie in"):
        ltt.binomial_pvalue(1, 2, 0.0)


@pytest.mark.parametrize("a,d", [(0.05, 0.1), (0.1, 0.05), (0.01, 0.01), (0.2, 0.2)])
def test_min_calibration_size_is_the_first_n_that_can_reject(a: float, d: float) -> None:
    n = ltt.min_calibration_size(a, d)
    assert binomtest(0, n, a, alternative="less").pvalue <= d
    assert binomtest(0, n - 1, a, alternative="less").pvalue > d if n > 1 else True


def _brute_fixed_sequence(conf, wrong, a, d, grid):  # an independent re-implementation (loops, scipy)
    nmin = ltt.min_calibration_size(a, d)
    best, started = math.inf, False
    for t in grid:
        acc = conf >= t
        n = int(acc.sum())
        if not started and n < nmin:
            continue
        started = True
        if binomtest(int(wrong[acc].sum()), n, a, alternative="less").pvalue > d:
            break
        best = t
    return best


@pytest.mark.parametrize("seed", range(6))
def test_fixed_sequence_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    conf = np.round(rng.beta(5, 1.5, 400), 2)
    wrong = (rng.random(400) > conf ** 1.5).astype(float)
    grid = np.round(np.linspace(1, 0, 41), 3)
    r = ltt.fixed_sequence(conf, wrong, 0.1, 0.1, grid)
    assert r["threshold"] == _brute_fixed_sequence(conf, wrong, 0.1, 0.1, grid)


def test_fixed_sequence_stops_at_first_failure_even_if_later_thresholds_pass() -> None:
    # top 60 items: 10 errors (p large); with the 2000 correct items below, 0.5 alone would pass
    conf = np.r_[np.full(60, 0.99), np.full(2000, 0.5)]
    wrong = np.r_[np.ones(10), np.zeros(50), np.zeros(2000)]
    r = ltt.fixed_sequence(conf, wrong, 0.05, 0.1, np.array([0.99, 0.5]))
    assert math.isinf(r["threshold"]) and r["n_grid"].tolist() == [60, 2060]
    assert r["p_grid"][1] <= 0.1 < r["p_grid"][0]
    # with fewer than the minimum size at the top, the sequence starts lower (the top cannot be rejected at all)
    r = ltt.fixed_sequence(conf[10:], wrong[10:], 0.05, 0.1, np.array([0.99, 0.5]))
    assert r["n_grid"][0] == 50 and r["p_grid"][0] <= 0.1 and r["threshold"] == 0.5
    r = ltt.fixed_sequence(np.r_[np.full(40, 0.99), np.full(2000, 0.5)], np.r_[np.ones(5), np.zeros(2035)], 0.05, 0.1,
                           np.array([0.99, 0.5]))
    assert r["threshold"] == 0.5  # 40 < 45 items at 0.99: skipped, not a stop


def test_refuses_too_small_calibration_with_the_minimum_stated() -> None:
    with pytest.raises(ltt.InsufficientCalibration,
                       match=r"calibration set too small: 40 model-labelled items with a reference; certifying an error "
                             r"rate of 0.05 at delta 0.1 needs at least 45 \(all correct\)"):
        ltt.fit_policy(np.full(40, 0.99), np.ones(40, bool), target_error=0.05, delta=0.1)
    with pytest.raises(ltt.InsufficientCalibration, match="needs at least 45"):
        ltt.fit_policy(np.full(44, 0.99), np.ones(44, bool), target_error=0.05, delta=0.1)
    pol = ltt.fit_policy(np.full(45, 0.99), np.ones(45, bool), target_error=0.05, delta=0.1)
    assert pol.thresholds == {"all": 0.0}  # every grid threshold accepts the same 45 right items: the lowest wins
    c, y = np.r_[np.full(45, 0.99), 0.5], np.r_[np.ones(45, bool), False]
    pol = ltt.fit_policy(c, y, target_error=0.05, delta=0.1, powered_start=False)
    assert pol.thresholds == {"all": 0.505}  # one wrong item at 0.5: (45 of 46 right) fails, so stop above it
    # the powered start on a set smaller than twice start_size starts at half its size (>= 45): the same here
    assert ltt.fit_policy(c, y, target_error=0.05, delta=0.1).thresholds == {"all": 0.505}


def test_group_thresholds_and_unseen_groups_never_accepted() -> None:
    rng = np.random.default_rng(1)
    n = 4000
    sl = np.where(rng.random(n) < 0.5, "good", "bad")
    conf = rng.uniform(0.5, 1, n)
    correct = rng.random(n) < np.where(sl == "good", 0.99, 0.6)
    pol = ltt.fit_policy(conf, correct, target_error=0.05, delta=0.1, slices=sl, grouping="slice")
    assert pol.scheme == "slice"
    assert pol.thresholds["good"] <= 0.75 and math.isinf(pol.thresholds["bad"])
    assert pol.groups["delta"].tolist() == [0.05, 0.05]  # Bonferroni over the two slices
    assert not pol.accept(np.array([0.999]), slices=np.array(["never-seen"]))[0]
    assert not pol.accept(np.array([np.nan]), slices=np.array(["good"]))[0]


def test_global_grouping_is_the_textbook_method() -> None:
    rng = np.random.default_rng(5)
    conf = rng.beta(6, 1.6, 2000)
    correct = rng.random(2000) < conf
    b = ltt.textbook_policy(conf, correct, target_error=0.1, delta=0.1)
    c = ltt.fit_policy(conf, correct, target_error=0.1, delta=0.1, grouping="global", powered_start=False)
    assert c.thresholds == b.thresholds and c.policy_id != b.policy_id  # same threshold, different method id
    # the powered start differs from the textbook only in where the sequence starts
    assert ltt.start_size(0.1, 0.1) >= ltt.min_calibration_size(0.1, 0.1)


def test_auto_splits_delta_over_candidate_schemes() -> None:
    rng = np.random.default_rng(2)
    conf = rng.beta(6, 1.6, 3000)
    lab = rng.choice(["a", "b"], 3000)
    sl = rng.choice(["x", "y", "z"], 3000)
    pol = ltt.fit_policy(conf, rng.random(3000) < conf, target_error=0.1, delta=0.1, labels=lab, slices=sl)
    c = pol.candidates.set_index("scheme")
    assert c["delta"].to_dict() == {"global": 0.05, "label": 0.025, "slice": 0.025}
    assert c["delta"].sum() == pytest.approx(0.1)
    assert pol.scheme == c["calibration_accepted_share"].idxmax()


def test_naive_policy() -> None:
    p = ltt.naive_policy(0.05)
    assert p.accept(np.array([0.95, 0.9499, 1.0])).tolist() == [True, False, True]


# -------------------------------------------------------------------------------------------- monitoring
@pytest.mark.parametrize("a,d,e", [(0.1, 0.1, 0.0), (0.05, 0.05, 0.0), (0.1, 0.1, 0.05), (0.05, 0.1, 0.02)])
def test_audit_sample_size_is_minimal(a: float, d: float, e: float) -> None:
    n = audit_sample_size(a, d, e, power=0.8)

    def power(m: int) -> float:  # brute force: the rejection region of the exact test, its probability under e
        ks = [k for k in range(m + 1) if binomtest(k, m, a, alternative="less").pvalue <= d]
        return float(binom.cdf(max(ks), m, e)) if ks else 0.0
    assert power(n) >= 0.8
    assert all(power(m) < 0.8 for m in range(1, n))
    if e == 0:
        assert n == ltt.min_calibration_size(a, d)


def test_spot_check_alarm_matches_binomtest() -> None:
    r = spot_check(50, 10, 0.1)
    assert r["p_value"] == pytest.approx(binomtest(10, 50, 0.1, alternative="greater").pvalue, rel=1e-10)
    assert r["alarm"] and r["message"].startswith("ALARM: 10 errors in 50 spot checks")
    assert not spot_check(50, 6, 0.1)["alarm"]
    with pytest.raises(ParameterError, match="need 0 <= errors <= checked, got 5 errors in 3"):
        spot_check(3, 5, 0.1)


# ------------------------------------------------------------------------------ table level: plan, audit
def _program() -> tuple[pd.DataFrame, pd.DataFrame]:
    """200 items: a model labels all; humans label items 100-199 (and a reviewer overrides item 100); gold on 0-99."""
    rng = np.random.default_rng(0)
    rows = []
    truth = rng.choice(["a", "b"], 200)
    for i in range(200):
        c = 0.99 if i % 2 == 0 else 0.6
        lab = truth[i] if (i % 2 == 0 or rng.random() < 0.6) else ("b" if truth[i] == "a" else "a")
        rows.append({"item_id": f"i{i}", "annotator_id": "m-v2", "task": "t", "label": lab, "confidence": c,
                     "source": "model", "stage": "label", "slice": "s1" if i % 4 < 2 else "s2"})
        if i >= 100:
            for h in ("h1", "h2", "h3"):
                rows.append({"item_id": f"i{i}", "annotator_id": h, "task": "t", "label": truth[i], "confidence": np.nan,
                             "source": "human", "stage": "label", "slice": "s1" if i % 4 < 2 else "s2"})
    rows.append({"item_id": "i100", "annotator_id": "rev", "task": "t", "label": "zz", "confidence": np.nan,
                 "source": "human", "stage": "review", "slice": "s1"})
    from labkit.schema import conform_labels
    t = conform_labels(pd.DataFrame(rows)).table
    g = pd.DataFrame({"item_id": [f"i{i}" for i in range(100)], "task": "t", "label": truth[:100]})
    from labkit.schema import conform_gold
    return t, conform_gold(g)


def test_plan_provenance_and_human_wins() -> None:
    t, g = _program()
    plan, pol, base = make_plan(t, g, target_error=0.1, delta=0.1, grouping="global")
    assert tuple(plan.columns) == PLAN_COLUMNS and len(plan) == 200
    # 50 calibration items at 0.99, all right ((0.9)^50 < 0.1), none between 0.6 and 0.99: the lowest passing is 0.605
    assert pol.thresholds == {"all": 0.605}
    assert plan["accepted"].sum() == 100 and (plan.loc[plan["accepted"], "confidence"] == 0.99).all()
    assert set(plan["policy_id"]) == {pol.policy_id} and set(plan["model_version"]) == {"m-v2"}
    assert (plan.loc[plan["accepted"], "threshold"] == 0.605).all()
    # a human label always wins: items 100-199 have one, whatever the policy said
    hum = plan[plan["item_id"].isin([f"i{i}" for i in range(100, 200)])]
    assert (hum["final_source"] == "human").all() and (hum["final_label"] == hum["human_label"]).all()
    assert plan.set_index("item_id").loc["i100", "final_label"] == "zz"  # the reviewer beats consensus too
    rest = plan[~plan["item_id"].isin(hum["item_id"])]
    assert (rest["final_source"] == np.where(rest["accepted"], "model", "queue")).all()
    assert (rest.loc[rest["accepted"], "final_label"] == rest.loc[rest["accepted"], "label"]).all()
    assert base["textbook"].thresholds == {"all": 0.605}


def test_human_of_record_prefers_review_over_consensus() -> None:
    t, _ = _program()
    h = human_of_record(t).set_index("item_id")
    assert h.loc["i100", "source"] == "review" and h.loc["i101", "source"] == "consensus"
    assert "i5" not in h.index


def test_audit_values_against_direct_count() -> None:
    t, g = _program()
    r = audit(t, g)
    m = t[t["source"] == "model"].set_index("item_id")["label"].astype(str)
    gold = g.set_index("item_id")["label"].astype(str)
    hum = t[(t["source"] == "human") & (t["stage"] == "label")].groupby("item_id", observed=True)["label"].first().astype(str)
    ref = pd.concat([gold, hum.drop(gold.index, errors="ignore")])
    ref.loc["i100"] = "zz"
    acc = float((m.loc[ref.index] == ref).mean())
    assert r.overall["accuracy"] == pytest.approx(acc)
    assert r.overall["n_overridable"] == 1 and r.overall["override_rate"] == 1.0
    assert r.overall["references"] == {"gold": 100, "consensus": 99, "review": 1}
    assert set(r.by) == {"label", "slice", "model_version"}
    assert any("No model_version column" in n for n in r.notes)


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_plan_and_audit_on_the_sample(tmp_path, capsys) -> None:
    out = tmp_path / "plan.csv"
    assert main(["automate", "plan", SAMPLE, "--calibration", "sample/gold.csv", "--target-error", "0.4",
                 "--delta", "0.1", "--out", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    plan = pd.read_csv(out)
    assert len(plan) == s["n_model_labels"] == 1800
    assert int(plan["accepted"].sum()) == s["n_accepted"]
    assert set(PLAN_COLUMNS) <= set(plan.columns)
    assert (plan["final_source"] == "human").all()  # every sample item has human labels: they win
    assert main(["automate", "audit", SAMPLE, "--gold", "sample/gold.csv", "--json"]) == 0
    a = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert a["overall"]["n_model_labels"] == 1800 and a["overall"]["references"]["gold"] == 180


def test_cli_refusal_names_the_minimum(tmp_path, capsys) -> None:
    gold = tmp_path / "g.csv"
    pd.read_csv("sample/gold.csv").head(10).to_csv(gold, index=False)
    out = tmp_path / "plan.csv"
    assert main(["automate", "plan", SAMPLE, "--calibration", str(gold), "--target-error", "0.05", "--out", str(out)]) != 0
    err = capsys.readouterr().err
    assert "calibration set too small: 10 model-labelled items" in err and "needs at least 45" in err
    assert not out.exists()


def test_report_builds_and_renders_on_the_sample() -> None:
    from labkit.automation.report import build
    from labkit.reports.model import render

    t = load_labels(SAMPLE)
    g = read_gold("sample/gold.csv")
    r = build(table=t, gold_table=g, target_error=0.1, delta=0.1)
    html = render(r, figures=False)
    assert "Accepted share against error rate" in html and "naive" in html
    assert r.headline["accepted_share"] == 0.0  # the sample's model is right on 51% of gold: nothing certified
    tr = r.section("Accepted share against error rate").blocks[1].frame
    naive = tr[(tr["method"] == "naive") & (tr["target_error"] == 0.1)].iloc[0]
    assert naive["cal_error"] > 0.1 and naive["accepted_share"] > 0.1  # the naive threshold ships errors


def test_reviewed_items_join_the_calibration_set() -> None:
    from labkit.automation.plan import calibration_set

    t, g = _program()
    assert len(calibration_set(t, g)) == 100
    cal = calibration_set(t, g, reviewed=True)
    assert len(cal) == 101 and cal.set_index("item_id").loc["i100", "gold"] == "zz"
    assert not cal.set_index("item_id").loc["i100", "correct"]


def test_failed_plan_leaves_the_previous_plan_in_place(tmp_path, capsys) -> None:
    out = tmp_path / "plan.csv"
    out.write_text("previous\n")
    gold = tmp_path / "g.csv"
    pd.read_csv("sample/gold.csv").head(10).to_csv(gold, index=False)
    assert main(["automate", "plan", SAMPLE, "--calibration", str(gold), "--target-error", "0.05", "--out", str(out)]) == 2
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.csv", "plan.csv"]  # no temporary file left
    capsys.readouterr()


def test_notebook_is_thin_and_matches_build() -> None:
    import inspect

    from labkit.automation.report import build

    nb = json.loads(open("notebooks/automation_report.ipynb").read())
    cells = nb["cells"]
    assert [c["cell_type"] for c in cells] == ["markdown", "code", "code"]
    assert cells[1]["metadata"]["tags"] == ["parameters"]
    assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code")
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = "".join(cells[2]["source"])
    assert not any(w in code for w in ("def ", "for ", "if ", "while "))
    declared = {ln.split(":")[0] for ln in "".join(cells[1]["source"]).splitlines()}
    assert declared - {"metrics_path"} <= set(inspect.signature(build).parameters)
