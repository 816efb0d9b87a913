"""The plain-pandas computations behind the custom expectations (no Great Expectations here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from labkit.guidelines.model import Guidelines
from labkit.validation import checks
from labkit.validation.suites import dump_suite, load_suite, load_suites, retire_grace_days

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "validation"


def cat(values):
    return pd.Series(pd.Categorical(values))


def test_importing_labkit_and_validation_does_not_import_great_expectations():
    code = ("import sys, labkit, labkit.validation, labkit.validation.cli, labkit.cli; labkit.cli.build_parser(); "
            "print('great_expectations' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_gx_is_imported_without_the_rfc3987_grammar_which_stays_importable(monkeypatch):
    import importlib

    from labkit.validation.engine import _without_iri_grammar

    for name in ("jsonschema", "rfc3987_syntax"):  # as in a fresh process (monkeypatch restores them)
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.delenv("LABKIT_FULL_JSONSCHEMA", raising=False)
    with _without_iri_grammar():
        with pytest.raises(ImportError):  # what jsonschema._format meets: it then skips the "iri" checker
            importlib.import_module("rfc3987_syntax")
    assert "rfc3987_syntax" not in sys.modules  # unmarked afterwards
    monkeypatch.setenv("LABKIT_FULL_JSONSCHEMA", "1")
    with _without_iri_grammar():
        assert "rfc3987_syntax" not in sys.modules


def test_guideline_parameters_from_demo_guidelines():
    p = checks.guideline_parameters(Guidelines.load(DATA / "guidelines"), retire_grace_days(DATA / "guidelines"))
    assert p["guideline_allowed_labels"] == {"demo": {"1.0.0": ["ok", "offensive", "hate", "spam"],
                                                      "2.0.0": ["ok", "insult", "hate", "spam"]}}
    assert p["guideline_exclusive_pairs"]["demo"]["1.0.0"] == [["offensive", "ok"], ["ok", "spam"]]
    assert p["guideline_parents"]["demo"]["2.0.0"] == {"hate": "insult"}
    # 1.0.0 retires 7 days (governance grace) after 2.0.0's release; the latest never retires
    assert p["guideline_retired_after"] == {"demo": {"1.0.0": "2026-02-08T00:00:00+00:00"}}


def test_known_and_allowed_masks():
    allowed = {"t": {"1.0.0": ["a", "b"]}}
    task = cat(["t", "t", "t", "u"])
    version = cat(["1.0.0", "1.0.0", "9.9.9", "1.0.0"])
    label = cat(["a", "c", "c", "a"])
    assert checks.known_version_mask(task, version, allowed).tolist() == [True, True, False, False]
    # unknown (task, version) rows pass label_allowed: they are reported once, as unknown versions
    assert checks.label_allowed_mask(task, version, label, allowed).tolist() == [True, False, True, True]


def test_exclusive_mask_is_per_judgement_and_names_both_rows():
    excl = {"t": {"1": [["ok", "bad"]]}}
    item = cat(["i1", "i1", "i1", "i2", "i2", "i3", "i3"])
    ann = cat(["a", "a", "b", "a", "a", "a", "a"])
    task = cat(["t"] * 7)
    ver = cat(["1"] * 7)
    label = cat(["ok", "bad", "ok", "ok", "spam", "ok", "bad"])
    stage = cat(["label"] * 5 + ["label", "review"])
    got = checks.exclusive_mask(item, ann, task, ver, label, excl, stage=stage)
    # i1/a: ok+bad together -> both rows fail; i1/b alone ok; i2: ok+spam not exclusive;
    # i3: ok at label stage, bad at review stage: two judgements, no contradiction
    assert got.tolist() == [False, False, True, True, True, True, True]
    assert checks.exclusive_mask(item, ann, task, ver, label, excl).tolist()[5:] == [False, False]


def test_hierarchy_mask_inherits_exclusivity_from_parent_only():
    parents = {"t": {"1": {"hate": "offensive"}}}
    excl = {"t": {"1": [["ok", "offensive"]]}}
    item = cat(["i1", "i1", "i2", "i2", "i3", "i3"])
    ann = cat(["a"] * 6)
    task, ver = cat(["t"] * 6), cat(["1"] * 6)
    label = cat(["ok", "hate", "ok", "offensive", "hate", "offensive"])
    # ok+hate breaks the hierarchy (hate is an offensive); ok+offensive is the exclusivity check's
    # job, not repeated; hate+offensive is consistent
    assert checks.hierarchy_mask(item, ann, task, ver, label, parents, excl).tolist() == [False, False, True, True, True, True]


def test_retired_mask_uses_created_at_and_ignores_missing_times():
    retired = {"t": {"1": "2026-02-08T00:00:00+00:00"}}
    t = pd.Series(pd.to_datetime(["2026-02-07T23:59:59Z", "2026-02-08T00:00:01Z", None, "2026-03-01T00:00:00Z"], utc=True))
    got = checks.retired_mask(cat(["t"] * 4), cat(["1", "1", "1", "2"]), t, retired)
    assert got.tolist() == [True, False, True, True]


def test_too_fast_mask_with_fallback_floor_and_negative_durations():
    task = cat(["a", "a", "b", "c", "a"])
    d = pd.Series([2.9, 3.0, 0.9, 0.5, -3.0])
    assert checks.too_fast_mask(task, d, {"a": 3.0, "b": 1.0}).tolist() == [False, True, False, True, True]
    assert checks.too_fast_mask(task, d, {"a": 3.0, "*": 1.0}).tolist() == [False, True, False, False, True]


def test_duration_robust_z_by_hand():
    d = pd.Series([np.e - 1, np.e ** 2 - 1, np.e ** 3 - 1, np.e ** 10 - 1, -1.0])  # log1p: 1, 2, 3, 10, NaN
    z = checks.duration_robust_z(cat(["t"] * 5), d)
    # median of (1, 2, 3, 10) = 2.5; |x - 2.5| = 1.5, .5, .5, 7.5 -> MAD = 1.0
    assert z.iloc[:4].round(6).tolist() == [round(0.6745 * v, 6) for v in (-1.5, -0.5, 0.5, 7.5)]
    assert np.isnan(z.iloc[4])
    assert checks.duration_outlier_mask(cat(["t"] * 5), d, 3.5).tolist() == [True, True, True, False, True]


def test_g_test_matches_scipy_log_likelihood_contingency():
    rng = np.random.default_rng(3)
    labels = rng.choice(["x", "y", "z"], size=600, p=[0.5, 0.3, 0.2])
    ann = np.repeat(["a1", "a2", "a3", "a4", "a5", "a6"], 100)
    labels[:100] = rng.choice(["x", "y", "z"], size=100, p=[0.9, 0.05, 0.05])  # a1 departs
    out = checks.annotator_distribution_tests(cat(["t"] * 600), cat(ann), cat(labels), min_n=30)
    assert list(out["annotator_id"]) == ["a1", "a2", "a3", "a4", "a5", "a6"]
    for row in out.itertuples():
        mine = labels[ann == row.annotator_id]
        rest = labels[ann != row.annotator_id]
        table = np.array([[np.sum(mine == c) for c in "xyz"], [np.sum(rest == c) for c in "xyz"]])
        g, p, dof, _ = chi2_contingency(table, correction=False, lambda_="log-likelihood")
        assert row.g == pytest.approx(g, rel=1e-9)
        assert row.p == pytest.approx(p, rel=1e-9)
        assert row.dof == dof
        tvd = 0.5 * np.abs(table[0] / table[0].sum() - table[1] / table[1].sum()).sum()
        assert row.tvd == pytest.approx(tvd, rel=1e-12)
    flagged = checks.distribution_outliers(out, alpha=0.001, min_tvd=0.25)
    assert flagged["annotator_id"].tolist() == ["a1"]
    mask = checks.distribution_mask(cat(["t"] * 600), cat(ann), cat(labels), alpha=0.001, min_n=30, min_tvd=0.25)
    assert (~mask).sum() == 100 and not mask[:100].any()


def test_distribution_test_skips_small_annotators():
    out = checks.annotator_distribution_tests(cat(["t"] * 40), cat(["a"] * 29 + ["b"] * 11),
                                              cat(["x", "y"] * 20), min_n=30)
    assert out.empty


def test_overlap_shortfall():
    short = checks.overlap_shortfall(cat(["i1", "i1", "i1", "i2", "i2", "i2"]), cat(["a", "b", "c", "a", "a", "b"]),
                                     cat(["t"] * 6), k=3)
    assert short.to_dict("records") == [{"task": "t", "item_id": "i2", "n_annotators": 2}]


# ------------------------------------------------------------------------------------ suite files
def test_suite_files_are_stable_and_documented(tmp_path):
    suites = load_suites()
    assert sorted(Path(s.path).name for s in suites) == ["anomalies.json", "guidelines.json", "integrity.json",
                                                         "schema.json"]
    for s in suites:
        text = Path(s.path).read_text(encoding="utf-8")
        dump_suite(json.loads(text), tmp_path / "again.json")
        assert (tmp_path / "again.json").read_text(encoding="utf-8") == text, f"{s.path} is not sorted/indented"
        for e in s.expectations:
            assert e["meta"]["severity"] in ("critical", "warning")
            assert "id" not in e  # ids are GX's, added at run time; files stay diff-friendly
    # the policy parameters of the custom expectations are written in the files (they have no defaults)
    kw = {e["type"]: e["kwargs"] for s in suites for e in s.expectations}
    assert kw["expect_items_to_have_min_distinct_annotators"]["k"] == 3
    assert kw["expect_judgement_duration_above_task_floor"]["min_duration_s"] == {"*": 1.0, "toxicity": 3.0}
    assert {k: kw["expect_annotator_label_distribution_to_match_pool"][k] for k in ("alpha", "min_n", "min_tvd")} == \
        {"alpha": 0.001, "min_n": 30, "min_tvd": 0.25}
    assert kw["expect_label_to_be_allowed_by_guideline_version"]["allowed"] == {"$PARAMETER": "guideline_allowed_labels"}


def test_bad_suite_file_is_refused_with_file_record_and_field(tmp_path):
    bad = {"name": "x", "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"},
                                          "meta": {"severity": "fatal", "why": "w", "rule": "r"}}]}
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(bad))
    with pytest.raises(Exception) as info:
        load_suite(p)
    assert str(info.value) == (f"{p}, record expectations[0] (expect_column_values_to_not_be_null), field "
                               "'meta.severity': meta.severity must be one of critical, warning, got 'fatal'")
    p.write_text("{")
    with pytest.raises(Exception, match=r"bad.json: not valid JSON \(line 1"):
        load_suite(p)


# ------------------------------------------------------------------ vectorized checks vs a naive oracle
def _naive_conflicts(rows, conflicts):
    """Row by row in plain Python: a row fails when another label of its judgement conflicts with it."""
    by_judgement = {}
    for r in rows:
        by_judgement.setdefault((r["item"], r["ann"], r["task"], r["ver"], r["stage"]), set()).add(r["label"])
    out = []
    for r in rows:
        others = by_judgement[(r["item"], r["ann"], r["task"], r["ver"], r["stage"])] - {r["label"]}
        out.append(not (conflicts.get((r["task"], r["ver"]), {}).get(r["label"], set()) & others))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exclusive_and_hierarchy_masks_match_a_naive_oracle(seed):
    rng = np.random.default_rng(seed)
    n = 3000
    rows = [{"item": f"i{rng.integers(60)}", "ann": f"a{rng.integers(5)}", "task": str(rng.choice(["t", "u"])),
             "ver": str(rng.choice(["1", "2"])), "stage": str(rng.choice(["label", "review"], p=[0.9, 0.1])),
             "label": str(rng.choice(["ok", "off", "hate", "spam", "other"]))} for _ in range(n)]
    excl = {"t": {"1": [["ok", "off"], ["ok", "spam"]], "2": [["ok", "off"]]}, "u": {"1": [["spam", "hate"]]}}
    parents = {"t": {"1": {"hate": "off"}, "2": {"hate": "off"}}, "u": {"1": {"off": "spam"}}}
    cols = [cat([r[k] for r in rows]) for k in ("item", "ann", "task", "ver", "label")]
    stage = cat([r["stage"] for r in rows])
    pair_sets = {(t, v): {} for t, byv in excl.items() for v in byv}
    for t, byv in excl.items():
        for v, pairs in byv.items():
            for a, b in pairs:
                pair_sets[(t, v)].setdefault(a, set()).add(b)
                pair_sets[(t, v)].setdefault(b, set()).add(a)
    want = _naive_conflicts(rows, pair_sets)
    got = checks.exclusive_mask(*cols, excl, stage=stage)
    assert got.tolist() == want and (~got).sum() > 50
    # hierarchy by hand: under t, ok is exclusive with off, hate's parent -> hate and ok conflict;
    # under u, hate is exclusive with spam, off's parent -> off and hate conflict
    inherited = {("t", "1"): {"hate": {"ok"}, "ok": {"hate"}}, ("t", "2"): {"hate": {"ok"}, "ok": {"hate"}},
                 ("u", "1"): {"off": {"hate"}, "hate": {"off"}}}
    got_h = checks.hierarchy_mask(*cols, parents, excl, stage=stage)
    assert got_h.tolist() == _naive_conflicts(rows, inherited) and (~got_h).sum() > 20


@pytest.mark.parametrize("seed", [0, 1])
def test_overlap_rows_match_pandas_groupby(seed):
    rng = np.random.default_rng(seed)
    n = 2000
    frame = pd.DataFrame({"item_id": [f"i{v}" for v in rng.integers(400, size=n)],
                          "annotator_id": [f"a{v}" for v in rng.integers(8, size=n)],
                          "task": rng.choice(["t", "u"], size=n)})
    frame.loc[rng.choice(n, 40, replace=False), "annotator_id"] = None
    frame = frame.astype("category")
    n_ann = frame.groupby(["task", "item_id"], observed=True)["annotator_id"].nunique()
    want = n_ann[n_ann < 3]
    short, mask, evaluated = checks.overlap_rows(frame["item_id"], frame["annotator_id"], frame["task"], 3)
    assert evaluated == len(n_ann)
    assert list(zip(short["task"], short["item_id"], short["n_annotators"])) == \
        [(t, i, int(v)) for (t, i), v in want.items()]
    keys = set(want.index)
    assert mask.tolist() == [(t, i) in keys for t, i in zip(frame["task"], frame["item_id"])]
