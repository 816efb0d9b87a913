"""labkit.review: planner layers, budgets, evidence, fold-back and the CLI, with hand-computed values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labkit.cli import main
from labkit.errors import InputRefused, ParameterError
from labkit.io import load_labels
from labkit.reports.display import Pseudonyms
from labkit.review import plan_review, read_costs
from labkit.review.apply import apply_reviews, error_patterns
from labkit.review.evaluate import items_for_recall, recall_at, recall_ratio
from labkit.review.evidence import evidence

HERE = Path(__file__).resolve().parent
PUBLIC = HERE / "data" / "public"


def _table(tmp_path: Path, rows: list[dict], name: str = "l.csv") -> pd.DataFrame:
    p = tmp_path / name
    pd.DataFrame(rows).to_csv(p, index=False)
    return load_labels(p)


def _votes(item: str, labels: list[str], start: int = 0, **extra) -> list[dict]:
    return [{"item_id": item, "annotator_id": f"ann{start + j}", "label": lab, **extra} for j, lab in enumerate(labels)]


def _program(tmp_path: Path, extra: list[dict] | None = None) -> pd.DataFrame:
    rows: list[dict] = []
    # 30 clear items (5 of 5 agree), 1 split 3-2, 1 split 4-1
    for i in range(30):
        lab = "a" if i % 2 else "b"
        rows += _votes(f"c{i:02d}", [lab] * 5)
    rows += _votes("split32", ["a", "a", "a", "b", "b"])
    rows += _votes("split41", ["b", "b", "b", "b", "a"])
    return _table(tmp_path, rows + (extra or []))


# --- evaluation metric (ties by expectation) -----------------------------------------------------------

def test_recall_at_counts_ties_by_expectation():
    err = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0], bool)
    # a perfect ranking: k = 1 of 2 errors found; ceiling min(1, 1/2)
    assert recall_at(err.astype(float), err) == 0.5
    assert recall_ratio(err.astype(float), err) == 1.0
    # all tied: expectation is k/n of the errors, never the input order's luck
    assert recall_at(np.zeros(10), err) == pytest.approx(0.1)
    # the cut falls inside a group of 4 ties holding one error: 1 slot of 4
    score = np.array([0, 0, 0, 0, 5, 0, 0, 0, 0, 0], float)
    score[[0, 1, 2]] = 1.0
    score[4] = 1.0
    assert recall_at(score, err, fraction=0.1) == pytest.approx(0.25)
    assert items_for_recall(err.astype(float), err, target=1.0) == 2


# --- planner ---------------------------------------------------------------------------------------------

def test_fraction_one_ranks_every_item_and_splits_first(tmp_path):
    t = _program(tmp_path)
    plan = plan_review(t, budget_fraction=1.0)
    q = plan.queue
    assert len(q) == 32 and q["queued"].all()
    assert list(q["rank"]) == list(range(1, 33))
    assert list(q["item_id"][:2]) == ["split32", "split41"]
    row = q.iloc[0]
    assert row["p_vote"] == pytest.approx(0.4)
    assert "60% of 5 votes agree" in row["reasons"]
    # p_error is monotone with rank inside one tier and one cost
    assert (np.diff(q["score"].to_numpy()) <= 1e-12).all()


def test_budgets_items_fraction_hours(tmp_path):
    t = _program(tmp_path)
    assert plan_review(t, budget_items=3).queued.shape[0] == 3
    assert plan_review(t, budget_fraction=0.1).queued.shape[0] == math.ceil(3.2)
    # 2.5 minutes per item, half an hour: 12 items
    assert plan_review(t, budget_hours=0.5, minutes_per_item=2.5).queued.shape[0] == 12
    with pytest.raises(ParameterError, match="exactly one budget"):
        plan_review(t, budget_items=3, budget_hours=1.0)
    with pytest.raises(ParameterError, match=r"budget fraction must be in \[0, 1\], got 1.5"):
        plan_review(t, budget_fraction=1.5)


def test_review_minutes_come_from_review_history(tmp_path):
    extra = [{"item_id": "c00", "annotator_id": "rev", "label": "b", "stage": "review", "duration_s": d}
             for d in (60, 120, 180)]
    plan = plan_review(_program(tmp_path, extra), budget_hours=1.0)
    assert plan.queue["est_minutes"].iloc[0] == pytest.approx(2.0)  # median 120 s
    assert len(plan.queued) == 30


def test_critical_check_failures_go_first(tmp_path):
    t = _program(tmp_path)
    val = pd.DataFrame({"item_id": ["c07"], "expectation": ["labels_allowed_by_guideline"]})
    q = plan_review(t, budget_items=2, validation=val).queue
    assert q["item_id"].iloc[0] == "c07" and q["tier"].iloc[0] == 0
    assert q["reasons"].iloc[0].startswith("failed critical check labels_allowed_by_guideline")
    assert q["item_id"].iloc[1] == "split32"


def test_cost_matrix_changes_the_order(tmp_path):
    # two mirror-image splits by the same voters: equal uncertainty; reading a true 'a' as 'b' costs 10
    t = _program(tmp_path, _votes("mirror", ["b", "b", "b", "a", "a"]))
    base = plan_review(t, budget_fraction=1.0).queue.set_index("item_id")
    assert base.loc["split32", "p_error"] == pytest.approx(base.loc["mirror", "p_error"], rel=0.3)
    assert base.loc["split32", "expected_cost"] == pytest.approx(base.loc["split32", "p_error"])
    costs = {"*": pd.DataFrame({"true_label": ["a"], "read_as": ["b"], "cost": [10.0]})}
    q = plan_review(t, budget_fraction=1.0, costs=costs).queue.set_index("item_id")
    # mirror's consensus is b and its likely alternative a: cost 10; split32 reads b as a: cost 1
    assert q.loc["mirror", "expected_cost"] == pytest.approx(10 * q.loc["mirror", "p_error"])
    assert q.loc["split32", "expected_cost"] == pytest.approx(q.loc["split32", "p_error"])
    assert q.index[0] == "mirror"


def test_read_costs_names_record_and_field(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("true_label,read_as,cost\na,b,2\nb,a,lots\n")
    with pytest.raises(InputRefused) as e:
        read_costs(p)
    assert str(e.value) == f"{p}, record 3, field 'cost': cost 'lots' is not a number"
    p.write_text("true_label,cost\na,1\n")
    with pytest.raises(InputRefused, match="missing read_as"):
        read_costs(p)


def test_model_disagreement_and_too_fast_raise_p_error(tmp_path):
    t0 = _program(tmp_path)
    p0 = plan_review(t0, budget_fraction=1.0).queue.set_index("item_id").loc["c03", "p_error"]
    model = [{"item_id": "c03", "annotator_id": "clf", "label": "b", "source": "model"}]
    q = plan_review(_program(tmp_path, model), budget_fraction=1.0).queue.set_index("item_id")
    assert q.loc["c03", "p_error"] == pytest.approx(p0 + 0.2 * (1 - p0))
    assert "the model pre-label says b" in q.loc["c03", "reasons"]
    # durations: everyone 20 s except two fast votes on c05 (consensus a)
    rows = []
    for i in range(30):
        lab = "a" if i % 2 else "b"
        rows += _votes(f"c{i:02d}", [lab] * 5, duration_s=20.0)
    for r in rows[25:27]:
        r["duration_s"] = 1.0
    t = _table(tmp_path, rows, "fast.csv")
    q = plan_review(t, budget_fraction=1.0).queue.set_index("item_id")
    base = q.loc["c01", "p_error"]
    assert q.loc["c05", "p_error"] == pytest.approx(base + 0.3 * 0.4 * (1 - base))
    assert "2 of 5 votes for the consensus took under 5s" in q.loc["c05", "reasons"]


def test_gold_learns_weights_cross_fitted_and_calibrated():
    from labkit.schema import read_gold

    t = load_labels(PUBLIC / "snow2008_rte" / "long.csv")
    gold = read_gold(PUBLIC / "snow2008_rte" / "gold.csv")
    b = plan_review(t, budget_fraction=1.0, gold=gold)
    cal = b.calibration["default"]
    assert cal["known_items"] == 800 and cal["known_errors"] == 57 and cal["weights"].startswith("learned")
    assert len(cal["slopes"]) == 2 and min(cal["slopes"]) > 0  # both features point toward errors on this gold
    gl = pd.Series(gold["label"].astype(str).to_numpy(), index=gold["item_id"].astype(str))
    q = b.queue.set_index("item_id").loc[gl.index]
    observed = int((q["consensus_label"] != gl).sum())
    assert observed == 57
    # each gold item is scored by a fit that did not see it, and the probabilities add up to the errors
    assert abs(q["p_error"].sum() - observed) / observed < 0.15


def test_few_gold_errors_calibrate_without_changing_the_ranking():
    from labkit.schema import read_gold

    t = load_labels(PUBLIC / "snow2008_rte" / "long.csv")
    gold = read_gold(PUBLIC / "snow2008_rte" / "gold.csv")
    few = gold.iloc[:150]  # 150 gold items: fewer errors than the 20 needed to learn weights
    a = plan_review(t, budget_fraction=1.0).queue
    b = plan_review(t, budget_fraction=1.0, gold=few)
    cal = b.calibration["default"]
    assert cal["known_items"] == 150 and 3 <= cal["known_errors"] < 20
    assert cal["weights"] == "defaults" and cal["calibrated"] and cal["slope"] > 0
    assert list(a["item_id"]) == list(b.queue["item_id"])  # monotone calibration: same order


def test_label_only_p_error_adds_up_to_the_models_expected_errors():
    t = load_labels(PUBLIC / "snow2008_temp" / "long.csv")
    plan = plan_review(t, budget_fraction=1.0)
    q = plan.queue
    assert plan.calibration["default"]["weights"] == "defaults"
    assert q["p_error"].sum() == pytest.approx(q["p_model"].sum(), rel=1e-6)


def test_past_review_outcomes_count_as_known_labels(tmp_path):
    from labkit.review.planner import _truth

    extra = [{"item_id": "split32", "annotator_id": "rev1", "label": "b", "stage": "review"},
             {"item_id": "split32", "annotator_id": "rev2", "label": "b", "stage": "review"},
             {"item_id": "split32", "annotator_id": "rev3", "label": "a", "stage": "review"},
             {"item_id": "split41", "annotator_id": "rev1", "label": "b", "stage": "review"},
             {"item_id": "split41", "annotator_id": "boss", "label": "a", "stage": "adjudication"},
             {"item_id": "c01", "annotator_id": "rev1", "label": "b", "stage": "review"}]
    t = _program(tmp_path, extra)
    hist = t[t["stage"].astype(str) != "label"]
    gold = pd.DataFrame({"item_id": ["c01"], "label": ["a"]})
    got = _truth(gold, hist, "default", pd.Index(["split32", "split41", "c01", "c02"]))
    # review majority, adjudication over review, gold over both
    assert got.to_dict() == {"split32": "b", "split41": "a", "c01": "a"}
    plan = plan_review(t, budget_fraction=1.0)
    assert plan.calibration["default"]["known_items"] == 3


def test_leave_one_out_instability_by_hand(tmp_path):
    """p_loo: the largest posterior mass off the consensus after dropping one judgement, from the fit's confusions."""
    from labkit.review.planner import _is, error_indicators
    from labkit.stats.truth import fit_consensus

    t = _program(tmp_path)
    human = t[_is(t["stage"], "label")]
    fit = fit_consensus(human)
    ind = error_indicators(human, fit, "default")
    anns, E = fit.confusion["default"]
    labels = [str(c) for c in fit.posteriors["default"].columns]
    prior = np.log(fit.posteriors["default"].to_numpy().mean(0))
    rows = human[human["item_id"].astype(str) == "split32"]
    terms = [np.log(E[list(anns).index(str(r.annotator_id)), :, labels.index(str(r.label))]) for r in rows.itertuples()]
    c = labels.index(ind.loc["split32", "consensus_label"])
    worst = 0.0
    for j in range(len(terms)):
        L = prior + sum(x for i, x in enumerate(terms) if i != j)
        q = np.exp(L - L.max())
        worst = max(worst, 1 - q[c] / q.sum())
    assert ind.loc["split32", "p_loo"] == pytest.approx(worst, rel=1e-9)
    assert ind.loc["split32", "p_loo"] > ind.loc["c01", "p_loo"]  # a 3-2 split hangs on one vote; 5-0 does not


# --- ranking quality on the public datasets -------------------------------------------------------------

def _vote_peers(t: pd.DataFrame, items: pd.Index, cons: np.ndarray) -> dict[str, np.ndarray]:
    V = pd.crosstab(t["item_id"].astype(str), t["label"].astype(str)).reindex(items).fillna(0)
    share = V.to_numpy(float) / V.to_numpy(float).sum(1, keepdims=True)
    ci = V.columns.get_indexer(cons)
    ent = -(np.where(share > 0, share * np.log(np.where(share > 0, share, 1)), 0)).sum(1)
    return {"agreement": 1 - share[np.arange(len(items)), ci], "entropy": ent}


@pytest.mark.parametrize("name", [p.name for p in sorted(PUBLIC.iterdir()) if (p / "gold.csv").exists()])
def test_ranking_not_worse_than_vote_peers(name):
    from labkit.schema import read_gold

    t = load_labels(PUBLIC / name / "long.csv")
    g = read_gold(PUBLIC / name / "gold.csv")
    q = plan_review(t, budget_fraction=1.0).queue
    gl = pd.Series(g["label"].astype(str).to_numpy(), index=g["item_id"].astype(str))
    gl = gl[gl.index.isin(q["item_id"])]
    qi = q.set_index("item_id").loc[gl.index]
    err = qi["consensus_label"].to_numpy() != gl.to_numpy()
    ours = recall_ratio(-qi["rank"].to_numpy(float), err)
    for peer, s in _vote_peers(t, pd.Index(gl.index), qi["consensus_label"].to_numpy()).items():
        assert ours >= recall_ratio(s, err) - 0.05, (name, peer)
    # and clearly better than random review (expected ratio 0.1 / ceiling)
    k = math.ceil(0.1 * len(err))
    assert ours > 1.5 * (0.1 / min(1, k / err.sum())) or err.sum() < 5


def test_held_out_ranking_meets_the_target_and_the_crowdkit_ds_peer():
    """Weights learned on the other public datasets only: mean recall@10%/ceiling >= 0.55 (the issue's target),
    and on every dataset not below crowd-kit's Dawid-Skene posterior (run here) minus 5 points."""
    crowdkit = pytest.importorskip("crowdkit.aggregation")
    from labkit.review import ReviewWeights
    from labkit.review.planner import _is, error_indicators
    from labkit.review.weights import learn_weights
    from labkit.schema import read_gold
    from labkit.stats.truth import fit_consensus

    names = [p.name for p in sorted(PUBLIC.iterdir()) if (p / "gold.csv").exists()]
    data = {}
    for name in names:
        t = load_labels(PUBLIC / name / "long.csv")
        human = t[_is(t["stage"], "label") & _is(t["source"], "human")]
        fit = fit_consensus(human)
        ind = error_indicators(human, fit, "default")
        g = read_gold(PUBLIC / name / "gold.csv")
        gl = pd.Series(g["label"].astype(str).to_numpy(), index=g["item_id"].astype(str))
        gl = gl[gl.index.isin(ind.index)]
        pos = ind.index.get_indexer(gl.index)
        err = ind["consensus_label"].to_numpy()[pos] != gl.to_numpy()
        data[name] = (t, fit, gl, ind[["_x0", "_x1"]].to_numpy()[pos], err)
    ratios = {}
    for name, (t, fit, gl, _, err) in data.items():
        w = learn_weights([(X, e) for k, (_, _, _, X, e) in data.items() if k != name])
        q = plan_review(t, budget_fraction=1.0, fit=fit, weights=ReviewWeights(rank=tuple(w))).queue
        qi = q.set_index("item_id").loc[gl.index]
        assert (qi["consensus_label"].to_numpy() != gl.to_numpy()).sum() == err.sum()
        ratios[name] = recall_ratio(-qi["rank"].to_numpy(float), err)
        df = pd.DataFrame({"task": t["item_id"].astype(str), "worker": t["annotator_id"].astype(str),
                           "label": t["label"].astype(str)})
        post = crowdkit.DawidSkene(n_iter=100).fit_predict_proba(df).reindex(gl.index)
        ds = 1 - np.array([post.loc[i, c] if c in post.columns else 0.0
                           for i, c in zip(gl.index, qi["consensus_label"])])
        assert ratios[name] >= recall_ratio(np.nan_to_num(ds, nan=1.0), err) - 0.05, (name, ratios[name])
    assert np.mean(list(ratios.values())) >= 0.55, ratios


# --- evidence --------------------------------------------------------------------------------------------

def test_evidence_is_pseudonymous_and_carries_definitions(tmp_path):
    from labkit.guidelines.model import Guidelines

    t = load_labels(HERE.parent / "sample" / "labels.csv")
    plan = plan_review(t, budget_items=5)
    ps = Pseudonyms(key=b"test-key")
    ev = evidence(plan, t, guidelines=Guidelines.load(HERE.parent / "guidelines"), pseudonyms=ps)
    assert [e["item_id"] for e in ev] == list(plan.queued["item_id"])
    raw_ids = set(t["annotator_id"].astype(str))
    text = json.dumps(ev)
    for e in ev:
        for j in e["judgements"]:
            assert j["annotator"] not in raw_ids and j["annotator"] == ps(j["annotator"]) or j["annotator"].startswith("A-")
        assert e["consensus_label"] in e["label_definitions"]
        assert e["label_definitions"][e["consensus_label"]]["definition"]
    for a in raw_ids:
        assert f'"annotator": "{a}"' not in text
    first = ev[0]
    votes = t[(t["item_id"].astype(str) == first["item_id"])]
    assert sorted(j["label"] for j in first["judgements"]) == sorted(votes["label"].astype(str))


# --- apply -----------------------------------------------------------------------------------------------

def test_apply_review_and_adjudication_with_provenance(tmp_path):
    extra = [
        {"item_id": "split32", "annotator_id": "rev1", "label": "b", "stage": "review", "guideline_version": "2.0.0",
         "created_at": "2026-01-02T00:00:00Z"},
        {"item_id": "split41", "annotator_id": "rev1", "label": "a", "stage": "review", "guideline_version": "2.0.0",
         "created_at": "2026-01-02T00:00:00Z"},
        {"item_id": "split41", "annotator_id": "rev2", "label": "b", "stage": "review", "guideline_version": "2.0.0",
         "created_at": "2026-01-03T00:00:00Z"},
        {"item_id": "split41", "annotator_id": "expert", "label": "a", "stage": "adjudication",
         "guideline_version": "2.1.0", "created_at": "2026-01-04T00:00:00Z"},
        {"item_id": "c00", "annotator_id": "rev2", "label": "b", "stage": "review", "created_at": "2026-01-05T00:00:00Z"},
    ]
    t = _program(tmp_path, extra)
    out = apply_reviews(t).set_index("item_id")
    assert len(out) == 32  # every labeled item, nothing lost
    assert out.loc["split32", ["label", "previous_label", "changed", "decided_by", "decided_stage",
                               "guideline_version"]].tolist() == ["b", "a", True, "rev1", "review", "2.0.0"]
    assert out.loc["split41", ["label", "decided_by", "decided_stage", "guideline_version", "n_reviews"]].tolist() == [
        "a", "expert", "adjudication", "2.1.0", 2]
    assert out.loc["c00", ["label", "changed", "decided_stage"]].tolist() == ["b", False, "review"]
    assert out.loc["c01", ["decided_by", "decided_stage"]].tolist() == ["consensus", "consensus"]
    assert int(out["changed"].sum()) == 2
    pat = error_patterns(t, out.reset_index()).set_index("annotator_id")
    # split32 truth b: ann0-2 wrong (gave a); split41 truth a: ann0-3 wrong (gave b); c00 truth b: nobody wrong
    assert pat.loc["ann0", ["reviewed", "wrong"]].tolist() == [3, 2]
    assert pat.loc["ann4", ["reviewed", "wrong"]].tolist() == [3, 0]
    assert pat.loc["ann3", "top_confusion"] in ("b -> a", "b -> a")
    assert pat.loc["ann0", "top_confusion"] == "a -> b"  # tie 1-1 broken alphabetically


# --- CLI -------------------------------------------------------------------------------------------------

def test_cli_plan_fraction_one_and_json(tmp_path, capsys):
    out = tmp_path / "q.csv"
    rc = main(["review", "plan", str(PUBLIC / "zhou2012_dog" / "long.csv"), "--fraction", "1", "--out", str(out),
               "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    q = pd.read_csv(out)
    for c in ("rank", "item_id", "task", "consensus_label", "p_error", "reasons", "est_minutes"):
        assert c in q.columns
    assert summary["queued"] == summary["items"] == len(q) == 807
    assert list(q["rank"]) == list(range(1, 808))


def test_cli_plan_budget_hours_and_apply(tmp_path, capsys):
    sample = HERE.parent / "sample" / "labels.csv"
    out = tmp_path / "q.csv"
    assert main(["review", "plan", str(sample), "--budget-hours", "1", "--out", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    q = pd.read_csv(out)
    assert len(q) == s["queued"] and q["est_minutes"].sum() <= 60 + 1e-9
    assert q["est_minutes"].sum() + q["est_minutes"].iloc[0] > 60  # the next item would not fit
    corr = tmp_path / "corr.csv"
    assert main(["review", "apply", str(sample), "--out", str(corr), "--patterns", str(tmp_path / "p.csv"), "--json"]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    c = pd.read_csv(corr)
    t = load_labels(sample)
    reviewed = t[t["stage"].astype(str) != "label"]
    labeled = t[(t["stage"].astype(str) == "label") & (t["source"].astype(str) == "human")]
    assert s["items"] == len(c) == labeled.drop_duplicates(["item_id", "task"]).shape[0]
    decided = set(c.loc[c["decided_stage"] != "consensus", "item_id"])
    assert decided == set(reviewed["item_id"].astype(str)) & set(labeled["item_id"].astype(str))


def test_cli_refuses_bad_budget(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["review", "plan", str(PUBLIC / "zhou2012_dog" / "long.csv"), "--out", str(tmp_path / "q.csv")])
    assert main(["review", "plan", str(PUBLIC / "zhou2012_dog" / "long.csv"), "--fraction", "2",
                 "--out", str(tmp_path / "q.csv")]) != 0
    assert "budget fraction must be in [0, 1], got 2.0" in capsys.readouterr().err
    assert not (tmp_path / "q.csv").exists()


def test_validation_folder_critical_rows_only(tmp_path):
    from labkit.review import read_validation_failures

    d = tmp_path / "val"
    d.mkdir()
    with pytest.raises(InputRefused, match="no failures.csv"):
        read_validation_failures(d)
    pd.DataFrame({"expectation": ["allowed_labels", "too_fast", "allowed_labels"], "severity": ["critical", "warning", "critical"],
                  "item_id": ["c03", "c04", "c03"], "annotator_id": ["x", "y", "z"], "value": ["q", "1", "q"]}
                 ).to_csv(d / "failures.csv", index=False)
    f = read_validation_failures(d)
    assert f.to_dict("records") == [{"item_id": "c03", "expectation": "allowed_labels"}]
    t = _program(tmp_path)
    q = plan_review(t, budget_items=1, validation=f).queued
    assert q["item_id"].tolist() == ["c03"] and q["reasons"].iloc[0].startswith("failed critical check allowed_labels")


def test_core_imports_no_jupyter_or_gx():
    import subprocess
    import sys

    code = ("import sys, labkit.review, labkit.review.audit, labkit.review.report, labkit.review.cli; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('great_expectations', 'ipywidgets', 'IPython', "
            "'jupyter_client', 'nbformat', 'papermill', 'matplotlib')]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=HERE.parent, env={**__import__("os").environ, "PYTHONPATH": str(HERE.parent)})
    assert out.stdout.strip() == "[]"


# --- costs from the guideline, proposals from review patterns, the quality report's queue ------------------

def _guidelines_copy(tmp_path: Path) -> Path:
    import shutil

    root = tmp_path / "guidelines"
    shutil.copytree(HERE.parent / "guidelines", root)
    return root


def test_costs_from_the_guideline_and_their_refusals(tmp_path):
    from labkit.guidelines.model import Guidelines
    from labkit.review.planner import costs_from_guidelines

    root = _guidelines_copy(tmp_path)
    f = root / "toxicity" / "2.0.0.yaml"
    base = f.read_text(encoding="utf-8")
    f.write_text(base + "error_costs:\n  - {true_label: hate, read_as: ok, cost: 10}\n", encoding="utf-8")
    c = costs_from_guidelines(Guidelines.load(root))
    assert list(c) == ["toxicity"]
    assert c["toxicity"].to_dict("records") == [{"true_label": "hate", "read_as": "ok", "cost": 10.0}]
    f.write_text(base + "error_costs:\n  - {true_label: hate, read_as: okay, cost: 10}\n", encoding="utf-8")
    with pytest.raises(InputRefused) as e:
        costs_from_guidelines(Guidelines.load(root))
    msg = str(e.value)
    assert "2.0.0.yaml" in msg and "read_as 'okay' is not a label of toxicity 2.0.0" in msg and "read_as" in msg
    f.write_text(base + "error_costs:\n  - {true_label: hate, read_as: ok, cost: -1}\n", encoding="utf-8")
    with pytest.raises(InputRefused, match="cost -1.0 must be a finite number >= 0"):
        costs_from_guidelines(Guidelines.load(root))


def test_cli_plan_reads_costs_from_the_guideline(tmp_path, capsys):
    """A cost of reading 'hate' as 'ok' in the guideline raises the expected cost of items that may be hate."""
    root = _guidelines_copy(tmp_path)
    f = root / "toxicity" / "2.0.0.yaml"
    labels = str(HERE.parent / "sample" / "labels.csv")
    # both plans carry the labels to the newest version's terms; only the error costs differ
    assert main(["review", "plan", labels, "--fraction", "1", "--guidelines", str(root),
                 "--out", str(tmp_path / "a.csv")]) == 0
    f.write_text(f.read_text(encoding="utf-8") + "error_costs:\n  - {true_label: hate, read_as: ok, cost: 10}\n",
                 encoding="utf-8")
    assert main(["review", "plan", labels, "--fraction", "1", "--guidelines", str(root),
                 "--out", str(tmp_path / "b.csv")]) == 0
    a = pd.read_csv(tmp_path / "a.csv").set_index("item_id")
    b = pd.read_csv(tmp_path / "b.csv").set_index("item_id")
    # open items only: an item already reviewed has nothing left to catch (expected cost 0 in both plans)
    tox = b[(b["task"] == "toxicity") & (b["consensus_label"] == "ok") & (b["tier"] != 2)]
    assert len(tox) and (a.loc[tox.index, "tier"] != 2).all()
    ratio = tox["expected_cost"] / a.loc[tox.index, "expected_cost"]
    assert (ratio >= 1 - 1e-9).all() and (ratio > 1.5).any()
    other = b[(b["task"] == "toxicity") & (b["consensus_label"] != "ok")]
    assert np.allclose(other["expected_cost"], a.loc[other.index, "expected_cost"])


def _reviewed_program(tmp_path: Path) -> pd.DataFrame:
    rows: list[dict] = []
    for i in range(8):  # items reviewed as 'insult' that three annotators read as 'ok'
        rows += [{"item_id": f"s{i}", "annotator_id": a, "label": lab, "task": "toxicity"}
                 for a, lab in (("ann0", "ok"), ("ann1", "ok"), ("ann2", "insult"), ("ann3", "ok"))]
        rows.append({"item_id": f"s{i}", "annotator_id": "rev", "label": "insult", "task": "toxicity", "stage": "review"})
    for i in range(6):  # one person's habit: ann4 alone reads spam as ok
        rows += [{"item_id": f"p{i}", "annotator_id": a, "label": lab, "task": "toxicity"}
                 for a, lab in (("ann4", "ok"), ("ann1", "spam"), ("ann2", "spam"))]
        rows.append({"item_id": f"p{i}", "annotator_id": "rev", "label": "spam", "task": "toxicity", "stage": "review"})
    return _table(tmp_path, rows)


def test_review_patterns_open_a_guideline_proposal(tmp_path):
    from labkit.guidelines.proposals import load_proposal
    from labkit.review.apply import confusion_patterns, propose_from_review

    t = _reviewed_program(tmp_path)
    corrected = apply_reviews(t)
    pats = confusion_patterns(t, corrected)
    top = pats.iloc[0]
    # 8 items x 3 annotators said ok where review said insult; 24 of the 32 judgements on those items
    assert (top["gave"], top["truth"], top["judgements"], top["annotators"]) == ("ok", "insult", 24, 3)
    assert top["share"] == pytest.approx(24 / 32)
    second = pats.iloc[1]
    assert (second["gave"], second["truth"], second["judgements"], second["annotators"]) == ("ok", "spam", 6, 1)
    root = _guidelines_copy(tmp_path)
    props = propose_from_review(t, corrected, root=str(root), author="g-expert-1", created_at="2026-12-01T10:00:00Z")
    assert len(props) == 1  # ann4's habit (one annotator) is feedback, not a guideline gap
    p = load_proposal(props[0].path)
    assert p.task == "toxicity" and p.base_version == "2.0.0" and p.author == "g-expert-1"
    assert p.changes[0]["op"] == "add_edge_case" and p.changes[0]["label"] == "insult"
    assert "Review found 24 judgements by 3 annotators labelled 'ok' on items reviewed as 'insult'" in p.changes[0]["proposed"]
    assert p.source["kind"] == "review" and p.source["pattern"] == "ok -> insult" and p.source["items"][0] == "s0"
    log = (root / "decisions.jsonl").read_text(encoding="utf-8").splitlines()
    last = json.loads(log[-1])
    assert last.get("action", last.get("kind")) == "propose" and last.get("proposal") == p.id


def test_cli_apply_propose_needs_guidelines_and_author(tmp_path, capsys):
    src = tmp_path / "r.csv"
    _reviewed_program(tmp_path).to_csv(src, index=False)
    rc = main(["review", "apply", str(src), "--out", str(tmp_path / "c.csv"), "--propose"])
    assert rc != 0 and "--propose needs --guidelines DIR and --author ID" in capsys.readouterr().err
    root = _guidelines_copy(tmp_path)
    rc = main(["review", "apply", str(src), "--out", str(tmp_path / "c.csv"), "--propose", "--guidelines", str(root),
               "--author", "g-expert-1", "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == 0 and len(out["proposals"]) == 1 and Path(out["proposals"][0]["path"]).exists()


def test_quality_report_queue_is_the_review_planners(tmp_path):
    from labkit.reports.quality import consensus, load_program
    from labkit.review.planner import _is

    sample = HERE.parent / "sample"
    p = load_program(str(sample / "labels.csv"), str(sample / "gold.csv"), task="toxicity")
    c = consensus(p, threshold=0.7)
    q = c["queue"]
    plan = plan_review(p.comparable, budget_fraction=1.0, gold=p.gold_for_task, fit=c["fit"]).queue
    plan = plan[_is(plan["task"], "toxicity")].set_index("item_id")
    assert len(q) > 0 and list(q["rank"]) == sorted(q["rank"])  # the planner's order
    assert np.allclose(q["p_error"].to_numpy(), plan.loc[q["item_id"], "p_error"].to_numpy())
    dis = q["gold"].notna() & (q["gold"].astype(str) != q["consensus_label"].astype(str))
    assert ((q["p_error"] > 0.3) | dis).all()
    assert q.loc[dis, "reasons"].str.startswith("consensus differs from gold").all()
    # every item above the threshold is in it
    above = set(plan.index[plan["p_error"] > 0.3].astype(str))
    assert above <= set(q["item_id"].astype(str))


def test_feedback_page_shows_what_review_found(tmp_path):
    from labkit.reports.feedback import build

    src = tmp_path / "r.csv"
    _reviewed_program(tmp_path).to_csv(src, index=False)
    rep = build(str(src), "ann0")
    sec = [s for s in rep.sections if s.title == "What review found in your work"]
    assert len(sec) == 1
    from labkit.reports.model import Table

    tables = [b for b in sec[0].blocks if isinstance(b, Table)]
    row = tables[0].frame.iloc[0]
    # ann0 said 'ok' on the 8 items review decided as 'insult'; the pool: 30 of 50 reviewed judgements changed
    assert (row["reviewed judgements"], row["changed by review"]) == (8, 8)
    assert row["your most frequent correction"] == "ok -> insult (8 times)"
    assert "the pool: 30 of 50 (60%)" in str(tables[0].caption)
    text = repr(sec[0])
    assert "ann1" not in text and "ann4" not in text  # nobody else by name


def test_gold_naming_no_task_applies_to_the_task(tmp_path):
    """A gold file without a task column reads as task "default" and applies to every task (as elsewhere)."""
    from labkit.schema import read_gold

    rows = []
    for i in range(30):
        rows += _votes(f"i{i:02d}", ["a", "a", "b"] if i % 3 else ["b", "b", "a"], task="sentiment")
    t = _table(tmp_path, rows)
    gp = tmp_path / "gold.csv"
    pd.DataFrame({"item_id": [f"i{i:02d}" for i in range(30)], "label": ["a"] * 30}).to_csv(gp, index=False)
    plan = plan_review(t, budget_fraction=1.0, gold=read_gold(gp))
    cal = plan.calibration["sentiment"]
    assert cal["known_items"] == 30 and cal["known_errors"] == 10  # every third item's consensus is b
