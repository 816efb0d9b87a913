"""labkit.simulate: the fitted program model, policies, the engine, fidelity and the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labkit.cli import main
from labkit.errors import ParameterError
from labkit.simulate.engine import draw_assigned, mv_credit, run_batch, simulate_labels, summarize
from labkit.simulate.fidelity import BASELINES, SCALES, check, scaled_easiness, subsample_credit, truth_curve
from labkit.simulate.model import TaskModel, assignment, fit_program, load_model
from labkit.simulate.policies import parse_policies

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = ROOT / "tests" / "data" / "public"


def _public(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    t = pd.read_csv(PUBLIC / name / "long.csv", dtype=str)
    g = pd.read_csv(PUBLIC / name / "gold.csv", dtype=str).rename(columns={"gold": "label"})
    return t, g


def _model(theta: np.ndarray, beta: np.ndarray, truth: np.ndarray, K: int) -> TaskModel:
    J, I = theta.shape[0], len(beta)
    wrong = np.ones((I, K))
    wrong[np.arange(I), truth] = 0
    wrong /= wrong.sum(1, keepdims=True)
    return TaskModel(task="t", labels=[str(k) for k in range(K)], annotators=[f"a{j}" for j in range(J)],
                     activity=np.ones(J), theta=theta, beta=beta, truth=truth, wrong=wrong,
                     duration_log_mu=np.full(J, np.log(30.0)), duration_log_sd=0.0, review_minutes=2.0)


def test_mv_credit_counts_ties_as_a_random_tie_break() -> None:
    c = np.array([[2, 1, 0], [1, 1, 0], [1, 1, 1], [0, 0, 0]])
    assert mv_credit(c, np.array([0, 0, 2, 0])).tolist() == [1.0, 0.5, 1 / 3, 0.0]


def test_fit_recovers_skills_and_item_easiness_of_a_generated_program() -> None:
    rng = np.random.default_rng(7)
    J, I, K = 40, 3000, 2
    true_theta = np.repeat(rng.normal(1.2, 0.8, J)[:, None], K, axis=1)
    true_beta = rng.normal(0, 1.0, I)
    truth = rng.integers(0, K, I)
    # every item labeled by 6 annotators: the generator is the engine's own draw, on the items in order
    ann = np.argsort(rng.random((I, J)), axis=1)[:, :6]
    p = 1 / (1 + np.exp(-(true_theta[ann, truth[:, None]] + true_beta[:, None])))
    right = rng.random((I, 6)) < p
    labels = np.where(right, truth[:, None], 1 - truth[:, None])
    table = pd.DataFrame({"item_id": np.repeat(np.arange(I), 6).astype(str), "annotator_id": ann.ravel().astype(str),
                          "label": labels.ravel().astype(str)})
    gold = pd.DataFrame({"item_id": np.arange(I).astype(str), "label": truth.astype(str)})
    fit = fit_program(table, gold).task()
    assert fit.info["n_truth_gold"] == I and fit.info["n_truth_consensus"] == 0
    # annotators are stored by position in sorted-id order; map back to compare
    order = np.argsort(np.arange(J).astype(str))
    est = fit.theta[:, 0]
    assert np.corrcoef(est, true_theta[order, 0])[0, 1] > 0.95
    items_order = np.argsort(np.arange(I).astype(str))
    assert np.corrcoef(fit.beta, true_beta[items_order])[0, 1] > 0.6  # 6 binary judgements per item: noisy, shrunk


def test_adaptive_rule_uses_the_expected_number_of_labels() -> None:
    # coin-flip annotators on a binary task, "until 2 agree" with min 2, max 5: half the items stop at 2,
    # the others stop at 3 (the third label always makes a pair), so 2.5 labels per item on average.
    I = 40000
    tm = _model(np.zeros((30, 2)), np.zeros(I), np.zeros(I, dtype=np.int64), 2)
    pols, _ = parse_policies({"policies": [{"name": "a", "labels": {"min": 2, "max": 5, "agree": 2}}]})
    r = run_batch(tm, pols, 1, I)
    assert abs(r["labels_per_item"].iloc[0] - 2.5) < 0.01
    # and perfect annotators always stop at 2 with every label right
    tm2 = _model(np.full((30, 2), 30.0), np.zeros(I), np.zeros(I, dtype=np.int64), 2)
    r2 = run_batch(tm2, pols, 1, I)
    assert r2["labels_per_item"].iloc[0] == 2.0 and r2["accuracy"].iloc[0] == 1.0


def test_review_and_pay_arithmetic() -> None:
    I = 1000
    tm = _model(np.zeros((10, 2)), np.zeros(I), np.zeros(I, dtype=np.int64), 2)
    pols, _ = parse_policies({"policies": [
        {"name": "all reviewed", "labels": 1, "review": {"fraction": 1.0, "priority": "random", "reviewer_accuracy": 1.0}},
        {"name": "paid", "labels": 3, "reward": {"scheme": "piece_rate", "piece_rate": 0.1}}]})
    r = run_batch(tm, pols, 2, I).set_index("policy")
    assert (r.loc["all reviewed", "accuracy"] == 1.0).all()
    assert (r.loc["all reviewed", "reviewer_hours"] == I * 2.0 / 60).all()
    assert np.allclose(r.loc["paid", "pay"], 0.1 * 3 * I)
    # durations: log-normal with sd 0 at 30 s: exactly 30 s per label
    assert np.allclose(r.loc["paid", "annotator_hours"], 3 * I * 30 / 3600)


def test_same_seed_same_bytes_and_common_random_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t, g = _public("zhou2012_dog")
    t.to_csv(tmp_path / "labels.csv", index=False)
    g.to_csv(tmp_path / "gold.csv", index=False)
    (tmp_path / "p.yaml").write_text("items: 2000\npolicies:\n  - {name: three, labels: 3}\n"
                                     "  - {name: review, labels: 3, review: {fraction: 0.1, priority: margin}}\n")
    assert main(["simulate", "fit", str(tmp_path / "labels.csv"), "--gold", str(tmp_path / "gold.csv"),
                 "--out", str(tmp_path / "m.json")]) == 0
    scale = load_model(tmp_path / "m.json").task().info["item_easiness_scale"]
    assert f"item easiness scale {scale:g} (cross-validated on 807 items with gold (3 x 2 folds))" in capsys.readouterr().out
    for out in ("o1", "o2"):
        assert main(["simulate", "run", str(tmp_path / "m.json"), "--policies", str(tmp_path / "p.yaml"), "--seeds", "3",
                     "--out", str(tmp_path / out), "--quiet"]) == 0
    for f in ("metrics.json", "runs.csv", "summary.csv"):
        assert (tmp_path / "o1" / f).read_bytes() == (tmp_path / "o2" / f).read_bytes()
    runs = pd.read_csv(tmp_path / "o1" / "runs.csv")
    # the same items and people per seed: review can only raise accuracy over the same draw
    a = runs.pivot(index="seed", columns="policy", values="accuracy")
    assert (a["review"] >= a["three"]).all() and a["three"].nunique() == 3
    assert "annotator-00001" in load_model(tmp_path / "m.json").task().annotators  # no raw id in the model file
    raw = (tmp_path / "m.json").read_text()
    assert '"annotators":["annotator-00001"' in raw


def test_policy_file_errors_name_the_policy_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ParameterError, match=r"policies: policies\[1\] \(b\): labels must be an integer in \[1, 100\], got 0"):
        parse_policies({"policies": [{"name": "a", "labels": 3}, {"name": "b", "labels": 0}]})
    with pytest.raises(ParameterError, match=r"review needs exactly one of fraction, items or hours"):
        parse_policies({"policies": [{"name": "a", "review": {"priority": "margin"}}]})
    with pytest.raises(ParameterError, match=r"policy name 'a' is used twice"):
        parse_policies({"policies": [{"name": "a"}, {"name": "a"}]})
    with pytest.raises(ParameterError, match=r"unknown field 'redundancy'"):
        parse_policies({"policies": [{"name": "a", "redundancy": 3}]})
    (tmp_path / "m.json").write_text('{"hello": 1}')
    (tmp_path / "p.yaml").write_text("policies: [{name: a}]")
    assert main(["simulate", "run", str(tmp_path / "m.json"), "--policies", str(tmp_path / "p.yaml")]) != 0
    assert "not a labkit simulation model (no 'labkit_simulation_model: 1' field)" in capsys.readouterr().err


def test_model_round_trip(tmp_path: Path) -> None:
    t, g = _public("snow2008_temp")
    m = fit_program(t, g, source="temp")
    m.save(tmp_path / "m.json")
    back = load_model(tmp_path / "m.json")
    a, b = m.task(), back.task()
    assert np.allclose(a.theta, b.theta, atol=1e-9) and np.array_equal(a.truth, b.truth) and a.labels == b.labels
    rng1, rng2 = np.random.default_rng(1), np.random.default_rng(1)
    d1 = simulate_labels(a, 500, 3, rng1, np.random.default_rng(2))
    d2 = simulate_labels(b, 500, 3, rng2, np.random.default_rng(2))
    assert np.array_equal(d1["labels"], d2["labels"])


# Fidelity protocol of issue 19 (fit on half the gold items, predict majority-vote accuracy at k = 1..K on the
# other half, truth = the held-out items' real labels subsampled, MAE over 5 splits), the CLI's defaults.
# labkit is closer than every independence baseline on these four public programs (dog under 3 points; on RTE
# and TEMP the margin is within split noise: 20 other splits reverse it, docs/simulation.md) ...
@pytest.mark.parametrize("name", ["zhou2012_dog", "snow2008_rte", "zheng2017_d_product", "snow2008_temp"])
def test_fidelity_beats_every_independence_baseline(name: str) -> None:
    t, g = _public(name)
    r = check(t, g)
    mae = r["mae_points"]
    assert set(mae) == {"labkit", "equal skill", "pooled confusion", "annotator confusion"}
    assert r["labkit_better_than_baselines"] and mae["labkit"] < min(mae[b] for b in BASELINES), mae
    if name == "zhou2012_dog":
        # the example: independence models over-promise what 10 labels buy on dog; labkit does not
        assert mae["labkit"] < 3.0 and mae["pooled confusion"] > 4.0 and mae["equal skill"] > 9.0
        truth10 = np.mean([c["truth"][-1] for c in r["curves"]])
        assert abs(truth10 - 0.828) < 0.01  # the measured true MV accuracy at 10 labels (82.8%)


# ... and not (yet) on these two: there the error is decided by which few items land in which half (WSD: one
# gold item that 9 of 10 annotators call another sense; bluebirds: 54 held-out items), see docs/simulation.md.
# Strict xfail: the day the model beats the baselines here, these fail and the docs must change.
@pytest.mark.parametrize("name", ["snow2008_wsd", "welinder2010_bluebirds"])
@pytest.mark.xfail(strict=True, reason="issue 19 fidelity target not met on this dataset (docs/simulation.md)")
def test_fidelity_target_not_met_yet(name: str) -> None:
    t, g = _public(name)
    r = check(t, g)
    assert r["labkit_better_than_baselines"]
    if name == "welinder2010_bluebirds":
        assert r["mae_points"]["labkit"] < 3.0


def test_truth_curve_is_the_exact_subsampling_expectation() -> None:
    """Oracle: every k-subset of an item's labels enumerated, majority vote with a random tie-break."""
    import itertools

    for counts, z, k in [((3, 5, 2), 1, 4), ((6, 4), 0, 5), ((2, 2, 2, 3), 3, 5), ((7, 0, 3), 2, 3), ((1, 1), 0, 2)]:
        labels = np.repeat(np.arange(len(counts)), counts)
        brute = np.mean([mv_credit(np.bincount(labels[list(c)], minlength=len(counts))[None, :], np.array([z]))[0]
                         for c in itertools.combinations(range(len(labels)), k)])
        assert subsample_credit(np.array(counts), z, k) == pytest.approx(brute, abs=1e-12)
    # the Monte Carlo path (many classes) agrees with the exact one
    import labkit.simulate.fidelity as fid

    exact = subsample_credit(np.array([4, 3, 2, 1]), 0, 5)
    old = fid._EXACT_LIMIT
    try:
        fid._EXACT_LIMIT = 0
        mc = subsample_credit(np.array([4, 3, 2, 1]), 0, 5, np.random.default_rng(0), reps=20000)
    finally:
        fid._EXACT_LIMIT = old
    assert abs(mc - exact) < 0.01
    curve = truth_curve(np.array([[2, 0], [1, 1], [0, 3]]), np.array([0, 0, 0]), [1, 2, 3])
    assert curve[1] == pytest.approx((1 + 0.5 + 0) / 3) and curve[2] == pytest.approx((1 + 0.5 + 0) / 3)
    assert curve[3] == 0.0  # only the item with 3 labels takes part at k = 3


def test_annotators_come_from_the_real_assignment_pattern() -> None:
    # item 0 was labeled by annotators {0, 1, 2}, item 1 by {3, 4}; 10 annotators in all
    ptr, ann = assignment(np.array([0, 0, 0, 1, 1, 0]), np.array([0, 1, 2, 3, 4, 0]), 2)
    assert ptr.tolist() == [0, 3, 5] and ann.tolist() == [0, 1, 2, 3, 4]  # a repeated judgement counts once
    rng = np.random.default_rng(3)
    p = np.full(10, 0.1)
    a = draw_assigned(ptr, ann, np.array([0] * 500 + [1] * 500), 3, p, rng)
    assert all(set(r) == {0, 1, 2} for r in a[:500].tolist())  # k = 3 of item 0's three annotators
    assert all(set(r[:2]) == {3, 4} and r[2] not in (3, 4) for r in a[500:].tolist())  # third one by activity
    first = np.bincount(a[:500, 0], minlength=3)
    assert first.min() > 120  # each of item 0's annotators comes first about a third of the time


def test_generated_program_of_another_shape() -> None:
    """Held-out check on a program none of the settings were chosen on: three classes, 6 labels per item from
    blocks of annotators (who labels what is not random), skill per annotator, a tail of hard items whose
    wrong labels all name the same class. The fitted easiness is shrunk toward the pool (under-dispersed hard
    tail: with the fit as it is, labkit over-predicted what the 5th and 6th labels buy, 2.0 points of error);
    the cross-validation on each training half sees it and widens the spread (scale 1.5 on 4 of the 5 splits),
    and the error falls to 0.94 points against 5.39 for the best independence baseline."""
    rng = np.random.default_rng(11)
    I, J, K, L = 2000, 60, 3, 6
    skill = rng.normal(1.8, 0.7, J)
    ease = np.where(rng.random(I) < 0.15, rng.normal(-2.5, 0.8, I), rng.normal(0.8, 0.6, I))
    truth = rng.integers(0, K, I)
    confuse = (truth + 1 + rng.integers(0, 2, I)) % K  # the one class a hard item is mistaken for
    block = rng.integers(0, J // L, I)
    ann = block[:, None] * L + np.arange(L)[None, :]
    right = rng.random((I, L)) < 1 / (1 + np.exp(-(skill[ann] + ease[:, None])))
    other = 3 - truth - confuse  # the class neither true nor the confusion (K = 3)
    lab = np.where(right, truth[:, None], np.where(rng.random((I, L)) < 0.85, confuse[:, None], other[:, None]))
    t = pd.DataFrame({"item_id": np.repeat(np.arange(I), L).astype(str), "annotator_id": ann.ravel().astype(str),
                      "label": lab.ravel().astype(str)})
    g = pd.DataFrame({"item_id": np.arange(I).astype(str), "label": truth.astype(str)})
    r = check(t, g)
    mae = r["mae_points"]
    assert mae["labkit"] < 1.5 and mae["labkit"] < 0.25 * min(mae[b] for b in BASELINES), mae
    assert sum(sc > 1.0 for sc in r["item_scale_by_split"]) >= 3, r["item_scale_by_split"]


def test_scaled_easiness_keeps_the_mean_accuracy_and_scales_the_spread() -> None:
    rng = np.random.default_rng(5)
    I, J, K = 300, 12, 2
    th = rng.normal(1.0, 0.5, (J, K))
    be = rng.normal(0.0, 1.5, I)
    item, ann = np.repeat(np.arange(I), 5), rng.integers(0, J, 5 * I)
    truth = rng.integers(0, K, I)
    truth[:10] = -1  # items without a truth take no part in the mean
    assert scaled_easiness(th, be, item, ann, truth, 1.0) is be
    m = truth[item] >= 0

    def mean_acc(b: np.ndarray) -> float:
        return float(np.mean(1 / (1 + np.exp(-(th[ann[m], truth[item[m]]] + b[item[m]])))))

    for scale in (0.0, 0.5, 1.5):
        b = scaled_easiness(th, be, item, ann, truth, scale)
        assert np.std(b) == pytest.approx(scale * np.std(be), abs=1e-12)
        assert mean_acc(b) == pytest.approx(mean_acc(be), abs=1e-9)


def test_fit_chooses_the_item_structure_on_its_own_gold_items() -> None:
    t, g = _public("snow2008_temp")
    tm = fit_program(t, g).task()
    info = tm.info
    assert info["item_easiness_scale"] in SCALES
    assert set(info["item_easiness_scale_cv_points"]) == {str(sc) for sc in SCALES}
    assert info["item_easiness_scale_choice"] == "cross-validated on 462 items with gold (3 x 2 folds)"
    small = fit_program(t, g.iloc[:30]).task()  # too few gold items to choose: the fit as it is
    assert small.info["item_easiness_scale"] == 1.0 and small.info["item_easiness_scale_cv_points"] == {}
    assert small.info["item_easiness_scale_choice"] == "30 items with gold (fewer than 40): scale 1, not chosen"


def test_report_builds_without_a_kernel() -> None:
    from labkit.reports.model import render

    rep = build_sample()
    assert rep.title == "Policy simulation" and rep.subtitle.startswith("simulated, fitted on labels.csv at ")
    table = rep.section("Policies compared").blocks[1].frame
    assert list(table["policy"])[:3] == ["1 label", "3 labels", "5 labels"]
    acc = dict(zip(table["policy"], table["accuracy"]))
    assert acc["1 label"] < acc["3 labels"] < acc["5 labels"]
    assert acc["3 labels + review 10% lowest margin"] > acc["3 labels + review 10% random"]
    assert any(f.severity == "warning" and "assumed to shift skill" in f.text for f in rep.findings)
    html = render(rep, figures=False)
    assert "simulated, fitted on labels.csv" in html
    m = rep.metrics()
    assert m["seeds"] == 3 and m["fitted_on"] == "labels.csv" and "fidelity_mae_points" in m


def build_sample():  # type: ignore[no-untyped-def]
    from labkit.simulate.report import build

    return build("", str(ROOT / "sample" / "policies" / "simulation.yaml"),
                 labels=f"{ROOT / 'sample' / 'label_studio_export.json'}:{ROOT / 'sample' / 'labels.csv'}",
                 gold=str(ROOT / "sample" / "gold.csv"), guidelines=str(ROOT / "guidelines"), seeds=3, items=2000)


def test_summary_intervals_are_t_intervals_over_seeds() -> None:
    runs = pd.DataFrame({"policy": ["a"] * 4, "seed": range(4), "accuracy": [0.8, 0.82, 0.81, 0.83],
                         "labels_per_item": 3.0, "annotator_hours": 1.0, "reviewer_hours": 0.0, "pay": 0.0})
    s = summarize(runs).iloc[0]
    from scipy import stats

    x = np.array([0.8, 0.82, 0.81, 0.83])
    half = stats.t.ppf(0.975, 3) * x.std(ddof=1) / 2
    assert s["accuracy"] == pytest.approx(x.mean()) and s["accuracy_high"] == pytest.approx(x.mean() + half)


def test_planner_review_policy_runs_the_real_review_planner() -> None:
    """`priority: planner` orders simulated items with labkit.review's planner: on the same draw it catches more
    errors than random review of the same size."""
    t, g = _public("zhou2012_dog")
    tm = fit_program(t, g).task()
    pols, _ = parse_policies({"policies": [
        {"name": "planner", "labels": 3, "review": {"fraction": 0.2, "priority": "planner", "reviewer_accuracy": 1.0}},
        {"name": "random", "labels": 3, "review": {"fraction": 0.2, "priority": "random", "reviewer_accuracy": 1.0}},
        {"name": "none", "labels": 3}]})
    from labkit.simulate.hooks import available_hooks

    r = run_batch(tm, pols, 2, 1500, **available_hooks(pols)).groupby("policy")["accuracy"].mean()
    assert r["planner"] > r["random"] > r["none"]


def test_credential_policy_runs_the_real_credential_rule() -> None:
    """`credential: {threshold}` lets only the annotators labkit.incentives certifies on a simulated
    qualification history label; on dog (skills vary widely) that raises accuracy at the same redundancy."""
    from labkit.simulate.hooks import available_hooks, credential_pool

    t, g = _public("zhou2012_dog")
    tm = fit_program(t, g).task()
    mask = credential_pool(tm, {"threshold": 0.65, "history_items": 400}, np.random.default_rng(0))
    assert 0 < mask.sum() < len(mask)
    # the certified are the more skilled under the model
    skill = (tm.theta * np.bincount(tm.truth, minlength=tm.n_labels)).sum(1)
    assert skill[mask].mean() > skill[~mask].mean()
    pols, _ = parse_policies({"policies": [{"name": "certified", "labels": 3, "credential": {"threshold": 0.65,
                                                                                           "history_items": 400}},
                                           {"name": "anyone", "labels": 3}]})
    r = run_batch(tm, pols, 2, 3000, **available_hooks(pols)).groupby("policy")["accuracy"].mean()
    assert r["certified"] > r["anyone"]


def test_cli_check_reports_the_protocol_numbers_on_the_users_files(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`labkit simulate check LABELS --gold GOLD` on files gives the numbers check() gives on the same data."""
    import json

    t, g = _public("zheng2017_d_product")
    t.to_csv(tmp_path / "labels.csv", index=False)
    g.to_csv(tmp_path / "gold.csv", index=False)
    capsys.readouterr()
    assert main(["simulate", "check", str(tmp_path / "labels.csv"), "--gold", str(tmp_path / "gold.csv"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    direct = check(t, g)["mae_points"]
    assert out["mae_points"] == pytest.approx(direct, abs=1e-12)
    assert out["labkit_better_than_baselines"] is True and out["k"] == [1, 2, 3]


def test_model_file_with_a_broken_assignment_is_refused(tmp_path: Path) -> None:
    import json

    t, g = _public("snow2008_wsd")
    fit_program(t, g, source="wsd").save(tmp_path / "m.json")
    doc = json.loads((tmp_path / "m.json").read_text())
    assert len(doc["tasks"][0]["assign_ptr"]) == 177 + 1 and len(doc["tasks"][0]["assign_ann"]) == 1770
    doc["tasks"][0]["assign_ann"][5] = 34  # WSD has annotators 0..33
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(ParameterError, match=r"bad.json: tasks\[0\]: task 'default': assign_ptr/assign_ann are not an "
                                             r"assignment of its items to its annotators"):
        load_model(tmp_path / "bad.json")
