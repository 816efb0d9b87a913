"""labkit's agreement coefficients against independent implementations (test-only oracles) to 1e-9:
the ``krippendorff`` package (dense and value_counts paths) and statsmodels' Fleiss and Cohen kappas,
on hypothesis-generated sparse data with missing values."""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohen
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from labkit.stats import CountTables, cohen_kappa, fleiss_kappa, krippendorff_alpha, pairwise_cohen, percent_agreement

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def sparse_ratings(draw: st.DrawFn) -> np.ndarray:
    """raters x units matrix of integer values 1..k with NaN for missing (about half missing)."""
    n_raters = draw(st.integers(2, 6))
    n_units = draw(st.integers(2, 25))
    k = draw(st.integers(2, 6))
    vals = draw(st.lists(st.integers(1, k), min_size=n_raters * n_units, max_size=n_raters * n_units))
    miss = draw(st.lists(st.booleans(), min_size=n_raters * n_units, max_size=n_raters * n_units))
    m = np.array(vals, dtype=float).reshape(n_raters, n_units)
    m[np.array(miss).reshape(n_raters, n_units)] = np.nan
    return m


def to_long(m: np.ndarray) -> pd.DataFrame:
    r, u = np.nonzero(~np.isnan(m))
    return pd.DataFrame({"item_id": [f"u{x}" for x in u], "annotator_id": [f"r{x}" for x in r],
                         "label": [str(int(v)) for v in m[r, u]]})


def pairable(m: np.ndarray) -> bool:
    return bool(((~np.isnan(m)).sum(axis=0) >= 2).any())


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@SETTINGS
@given(m=sparse_ratings())
def test_alpha_matches_krippendorff_dense(level: str, m: np.ndarray) -> None:
    t = to_long(m)
    ours = krippendorff_alpha(t, level)
    if not pairable(m) or len(np.unique(m[:, (~np.isnan(m)).sum(0) >= 2][~np.isnan(m[:, (~np.isnan(m)).sum(0) >= 2])])) < 2:
        assert np.isnan(ours.value) and ours.reason
        return
    domain = np.unique(m[~np.isnan(m)])
    ref = krippendorff.alpha(reliability_data=m, level_of_measurement=level, value_domain=domain)
    assert ours.value == pytest.approx(ref, abs=1e-9)


@SETTINGS
@given(counts=st.lists(st.lists(st.integers(0, 4), min_size=3, max_size=3), min_size=2, max_size=30))
def test_alpha_with_duplicates_matches_value_counts_path(counts: list[list[int]]) -> None:
    """value_counts (units x values) counts every rating, so duplicate rows are separate ratings."""
    vc = np.array(counts)
    rows = [(f"u{i}", f"a{n}", str(j + 1)) for i in range(len(vc)) for j in range(3) for n in range(vc[i, j])]
    t = pd.DataFrame(rows, columns=["item_id", "annotator_id", "label"])
    if not len(t):
        return
    t["annotator_id"] = "same-annotator"  # all duplicates of one rater: still separate ratings
    ours = krippendorff_alpha(t, "nominal", order=["1", "2", "3"])
    pair = vc[vc.sum(1) >= 2]
    if not len(pair) or (pair.sum(0) > 0).sum() < 2:
        assert np.isnan(ours.value)
        return
    ref = krippendorff.alpha(value_counts=vc, level_of_measurement="nominal")
    assert ours.value == pytest.approx(ref, abs=1e-9)


@SETTINGS
@given(n_items=st.integers(2, 30), n_raters=st.integers(2, 7), k=st.integers(2, 5), data=st.data())
def test_fleiss_matches_statsmodels_with_equal_raters(n_items: int, n_raters: int, k: int, data: st.DataObject) -> None:
    labels = data.draw(st.lists(st.integers(0, k - 1), min_size=n_items * n_raters, max_size=n_items * n_raters))
    lab = np.array(labels).reshape(n_items, n_raters)
    t = pd.DataFrame({"item_id": np.repeat(np.arange(n_items), n_raters).astype(str),
                      "annotator_id": np.tile(np.arange(n_raters), n_items).astype(str), "label": lab.ravel().astype(str)})
    counts = np.stack([(lab == c).sum(axis=1) for c in range(k)], axis=1)
    counts = counts[:, counts.sum(axis=0) > 0]
    ours = fleiss_kappa(t)
    if counts.shape[1] < 2:
        assert np.isnan(ours.value) and "one label" in ours.reason
        return
    assert ours.value == pytest.approx(sm_fleiss(counts, method="fleiss"), abs=1e-9)


@pytest.mark.parametrize("weights,wt", [(None, None), ("linear", "linear"), ("quadratic", "quadratic")])
@SETTINGS
@given(pairs=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), min_size=2, max_size=60))
def test_cohen_matches_statsmodels(weights: str | None, wt: str | None, pairs: list[tuple[int, int]]) -> None:
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    n = len(pairs)
    t = pd.DataFrame({"item_id": np.r_[np.arange(n), np.arange(n)].astype(str), "annotator_id": ["A"] * n + ["B"] * n,
                      "label": np.r_[a, b].astype(str)})
    cats = np.unique(np.r_[a, b])
    table = np.array([[np.sum((a == x) & (b == y)) for y in cats] for x in cats], dtype=float)
    ours = cohen_kappa(t, "A", "B", weights=weights)
    if len(cats) < 2:
        assert np.isnan(ours.value)
        return
    ref = sm_cohen(table, wt=wt, return_results=False)
    assert ours.value == pytest.approx(ref, abs=1e-9)
    pw = pairwise_cohen(t, weights=weights)
    assert pw["kappa"].iloc[0] == pytest.approx(ref, abs=1e-9)


def test_count_tables_are_the_item_label_counts() -> None:
    t = pd.DataFrame({"item_id": ["b", "a", "a", "b", "b", "c"], "annotator_id": list("xxyyzz"),
                      "label": ["2", "10", "10", "2", "10", "2"], "task": "t"})
    ct = CountTables.from_labels(t)
    assert list(ct.items) == ["a", "b", "c"]
    assert list(ct.labels) == ["2", "10"]  # numeric labels sort by value
    assert ct.item_label.toarray().tolist() == [[0, 2], [2, 1], [1, 0]]
    assert ct.raters_per_item.tolist() == [2, 3, 1]


@pytest.mark.parametrize("level", ["nominal", "interval", "ratio"])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=sparse_ratings())
def test_alpha_value_is_the_same_with_and_without_a_bootstrap(level: str, m: np.ndarray) -> None:
    """The value alone takes a no-copy path; with ``ci`` it comes from the per-item statistics."""
    t = to_long(m)
    plain = krippendorff_alpha(t, level)
    boot = krippendorff_alpha(t, level, ci=0.9, n_boot=20)
    assert (plain.n_items, plain.n_pairable, plain.reason) == (boot.n_items, boot.n_pairable, boot.reason)
    if np.isnan(plain.value):
        assert np.isnan(boot.value)
    else:
        assert plain.value == pytest.approx(boot.value, abs=1e-12)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=sparse_ratings())
def test_fleiss_and_percent_are_the_same_with_and_without_a_bootstrap(m: np.ndarray) -> None:
    t = to_long(m)
    for f in (fleiss_kappa, percent_agreement):
        plain, boot = f(t), f(t, ci=0.9, n_boot=20)
        assert (plain.n_items, plain.n_pairable, plain.reason) == (boot.n_items, boot.n_pairable, boot.reason)
        assert (np.isnan(plain.value) and np.isnan(boot.value)) or plain.value == pytest.approx(boot.value, abs=1e-12)


@st.composite
def _label_tables(draw: st.DrawFn) -> tuple[pd.DataFrame, str, str | None, list[str] | None, list[str] | None]:
    """A canonical table with two tasks, model rows, unused item and label categories; and the arguments
    of one ``CountTables.from_labels`` call on it."""
    from labkit.schema import conform_labels

    n = draw(st.integers(1, 40))
    labs = ["1", "3", "10", "x"][:draw(st.integers(1, 4))]
    rows = [{"item_id": f"i{draw(st.integers(0, 12))}", "annotator_id": f"a{draw(st.integers(0, 5))}",
             "label": draw(st.sampled_from(labs)), "task": draw(st.sampled_from(["t0", "t1"])),
             "source": draw(st.sampled_from(["human", "human", "model"]))} for _ in range(n)]
    table = conform_labels(pd.DataFrame(rows)).table
    if draw(st.booleans()):  # categories no row uses (a table filtered after it was read)
        for c, extra in (("item_id", "zz-unused"), ("label", "0")):
            table[c] = table[c].cat.add_categories([extra])
    task = draw(st.sampled_from(sorted(set(table["task"].astype(str)))))
    source = draw(st.sampled_from(["human", None]))
    used = sorted(set(table.loc[table["task"] == task, "label"].astype(str)))
    labels = draw(st.sampled_from([None, used + ["extra"]]))
    order = draw(st.sampled_from([None, list(reversed(labels or used))]))
    return table, task, source, labels, order


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_label_tables())
def test_count_tables_equal_a_groupby_on_either_path(case) -> None:
    """The item x label counts come from one bincount over the raw category codes (their margins give the
    items and labels present) or, when that table would be large, from compacted codes: both give what a
    pandas groupby gives, array for array."""
    import labkit.stats.counts as counts

    table, task, source, labels, order = case
    sel = table.loc[(table["task"] == task) & ((table["source"] == source) if source else True)]
    if not len(sel):
        return
    got = []
    saved = counts.RAW_CELLS_PER_JUDGEMENT
    for ratio in (10**9, 0):  # the raw path whatever the size, then never
        counts.RAW_CELLS_PER_JUDGEMENT = ratio
        try:
            got.append(CountTables.from_labels(table, task=task, source=source, labels=labels, order=order))
        finally:
            counts.RAW_CELLS_PER_JUDGEMENT = saved
    items = sorted(set(sel["item_id"].astype(str)), key=list(table["item_id"].cat.categories).index)
    lab_order = order if order is not None else counts.label_order(labels or sorted(set(sel["label"].astype(str))))
    ref = pd.crosstab(sel["item_id"].astype(str), sel["label"].astype(str)).reindex(index=items, columns=lab_order,
                                                                                  fill_value=0)
    for ct in got:
        assert list(ct.items) == items and list(ct.labels) == list(lab_order)
        assert ct.counts().tolist() == ref.to_numpy().tolist()
        assert ct.raters_per_item.tolist() == ref.sum(axis=1).tolist()
        assert [ct.items[i] for i in ct.item] == list(sel["item_id"].astype(str))
        assert [ct.labels[k] for k in ct.label] == list(sel["label"].astype(str))
        assert [ct.annotators[j] for j in ct.annotator] == list(sel["annotator_id"].astype(str))
        assert ct.rows.tolist() == [table.index.get_loc(i) for i in sel.index]
        assert ct.item.dtype == ct.label.dtype == np.int32
