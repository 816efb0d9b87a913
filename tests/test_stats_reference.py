"""Published values reproduced: Krippendorff (2011), Wikipedia, Fleiss (1971), Cohen / SAS / R irr, and
the values recorded with the public crowdsourcing datasets (tests/data/stats, see its README)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labkit.schema import conform_gold
from labkit.stats import (DawidSkene, cohen_kappa, consensus_accuracy, fleiss_kappa, gwet_ac1, krippendorff_alpha,
                          majority_vote, percent_agreement)

DATA = Path(__file__).parent / "data" / "stats"
KRIPP = DATA / "krippendorff_reference"
KAPPA = DATA / "kappa_reference"
IRRCAC = DATA / "irrcac_reference"
PUBLIC = sorted(p.name for p in (DATA.parent / "public").iterdir() if p.is_dir())


def long(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str)


def wide_to_long(df: pd.DataFrame, id_col: str = "subject") -> pd.DataFrame:
    m = df.melt(id_vars=[id_col], var_name="annotator_id", value_name="label").dropna()
    return m.rename(columns={id_col: "item_id"}).astype(str)


def counts_to_long(df: pd.DataFrame, id_col: str = "subject") -> pd.DataFrame:
    rows = []
    for _, r in df.iterrows():
        k = 0
        for cat in df.columns.drop(id_col):
            for _ in range(int(r[cat])):
                rows.append((str(r[id_col]), f"r{k}", cat))
                k += 1
    return pd.DataFrame(rows, columns=["item_id", "annotator_id", "label"])


def table_to_long(table: list[list[int]], cats: list[str]) -> pd.DataFrame:
    rows, n = [], 0
    for i, row in enumerate(table):
        for j, c in enumerate(row):
            for _ in range(c):
                rows += [(f"u{n}", "A", cats[i]), (f"u{n}", "B", cats[j])]
                n += 1
    return pd.DataFrame(rows, columns=["item_id", "annotator_id", "label"])


K2011 = {"nominal": (0.743, 0.7434210526315790), "ordinal": (0.815, 0.8153875037548813),
         "interval": (0.849, 0.8491071428571428), "ratio": (0.797, 0.7974027747116121)}


@pytest.mark.parametrize("level", list(K2011))
def test_krippendorff_2011_published_values(level: str) -> None:
    res = krippendorff_alpha(long(KRIPP / "k2011_4obs_12units_long.csv"), level)
    published, full = K2011[level]
    assert round(res.value, 3) == published
    assert res.value == pytest.approx(full, abs=1e-12)
    assert (res.n_items, res.n_pairable, res.reason) == (12, 40, "")  # unit 12 has one value: not pairable


@pytest.mark.parametrize("level,expected", [("nominal", 0.691358024691358), ("interval", 0.8108448928121059),
                                            ("ordinal", 0.8067214), ("ratio", 0.8089437)])
def test_krippendorff_wikipedia_3x15(level: str, expected: float) -> None:
    res = krippendorff_alpha(long(KRIPP / "wikipedia_3coders_15units_long.csv"), level)
    assert res.value == pytest.approx(expected, abs=1e-7 if level in ("ordinal", "ratio") else 1e-12)


def test_krippendorff_2011_two_observer_examples() -> None:
    assert krippendorff_alpha(long(KRIPP / "k2011_binary_2obs_10units_long.csv")).value == pytest.approx(2 / 21, abs=1e-12)
    assert round(krippendorff_alpha(long(KRIPP / "k2011_nominal_2obs_12units_long.csv")).value, 3) == 0.692


def test_fleiss_wikipedia_10x14() -> None:
    t = counts_to_long(pd.read_csv(KAPPA / "fleiss_wikipedia_10x14_counts.csv"))
    res = fleiss_kappa(t)
    assert round(res.value, 3) == 0.210
    assert res.value == pytest.approx(0.2099307, abs=1e-7)
    assert percent_agreement(t).value == pytest.approx(0.378022, abs=1e-6)  # P-bar
    assert (res.n_items, res.n_pairable) == (10, 140)


def test_fleiss_1971_diagnoses() -> None:
    res = fleiss_kappa(wide_to_long(pd.read_csv(KAPPA / "fleiss1971_diagnoses_30x6_wide.csv")))
    assert res.value == pytest.approx(0.4302445, abs=1e-7)


def test_cohen_wikipedia_2x2() -> None:
    t = table_to_long([[20, 5], [10, 15]], ["Yes", "No"])
    res = cohen_kappa(t, "A", "B")
    assert res.value == pytest.approx(0.40, abs=1e-12)
    assert res.n_items == 50


@pytest.mark.parametrize("weights,expected,published", [(None, 0.48416290, 0.4842), ("linear", 0.47011952, 0.4701),
                                                        ("quadratic", 0.45016077, None)])
def test_cohen_sas_3x3(weights: str | None, expected: float, published: float | None) -> None:
    t = table_to_long([[0, 4, 1], [0, 8, 0], [0, 1, 5]], ["1", "2", "3"])
    res = cohen_kappa(t, "A", "B", weights=weights)
    assert res.value == pytest.approx(expected, abs=1e-8)
    if published is not None:
        assert round(res.value, 4) == published


@pytest.mark.parametrize("weights,expected", [(None, -0.006289308), ("linear", 0.1459075), ("quadratic", 0.2520325)])
def test_cohen_irr_anxiety(weights: str | None, expected: float) -> None:
    t = wide_to_long(pd.read_csv(KAPPA / "irr_anxiety_20x3_wide.csv"))
    res = cohen_kappa(t, "rater2", "rater3", weights=weights)
    assert res.value == pytest.approx(expected, abs=1e-7)


def test_irrcac_raw4raters_is_krippendorff_2011_with_ac1_and_unequal_raters_fleiss() -> None:
    """irrCAC's ``cac.raw4raters`` is Krippendorff's 4 x 12 table; its README prints pa 0.8181818,
    AC1 0.77544 and Fleiss' kappa 0.76117 (Gwet's generalization to unequal raters per item)."""
    t = long(KRIPP / "k2011_4obs_12units_long.csv")
    assert percent_agreement(t).value == pytest.approx(0.8181818, abs=1e-7)
    assert gwet_ac1(t).value == pytest.approx(0.77544, abs=5e-6)
    assert fleiss_kappa(t).value == pytest.approx(0.76117, abs=5e-6)
    assert krippendorff_alpha(t).value == pytest.approx(0.74342, abs=5e-6)


def test_irrcac_distrib_6raters() -> None:
    t = counts_to_long(pd.read_csv(IRRCAC / "distrib_6raters_counts.csv"))
    assert gwet_ac1(t).value == pytest.approx(0.4448007, abs=1e-7)
    assert fleiss_kappa(t).value == pytest.approx(0.4139265, abs=1e-7)
    assert krippendorff_alpha(t).value == pytest.approx(0.4204384, abs=1e-7)
    assert percent_agreement(t).value == pytest.approx(0.5511111, abs=1e-7)


def test_irrcac_cont3x3abstractors() -> None:
    c = pd.read_csv(IRRCAC / "cont3x3abstractors.csv", index_col=0)
    t = table_to_long(c.to_numpy().tolist(), list(c.columns))
    assert cohen_kappa(t, "A", "B").value == pytest.approx(0.7964094, abs=1e-7)
    assert gwet_ac1(t).value == pytest.approx(0.8493305, abs=1e-7)
    assert krippendorff_alpha(t).value == pytest.approx(0.7972585, abs=1e-7)
    assert percent_agreement(t).value == pytest.approx(0.89, abs=1e-12)


def _public(name: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    d = DATA.parent / "public" / name
    return long(d / "long.csv"), conform_gold(pd.read_csv(d / "gold.csv", dtype=str)), json.loads((d / "meta.json").read_text())["stats"]


@pytest.mark.parametrize("name", PUBLIC)
def test_public_dataset_agreement_matches_recorded_values(name: str) -> None:
    t, _, meta = _public(name)
    rec = meta["agreement_computed_here"]  # duplicate (item, annotator) rows are separate ratings, as here
    assert krippendorff_alpha(t).value == pytest.approx(rec["krippendorff_alpha_nominal_all_rows"], abs=1e-6)
    assert fleiss_kappa(t).value == pytest.approx(rec["fleiss_kappa_all_rows"], abs=1e-6)


@pytest.mark.parametrize("name", PUBLIC)
def test_dawid_skene_accuracy_on_public_datasets(name: str) -> None:
    t, gold, meta = _public(name)
    target = meta["dawid_skene_computed_here"]["accuracy_on_gold"]
    cons = DawidSkene(tol=1e-6, max_iter=100, smoothing=0.01).fit_predict(t)
    acc = consensus_accuracy(cons, gold)
    assert acc["n_gold_items"] == meta["n_gold_items_with_labels"]
    assert acc["accuracy"] >= target - 0.005


@pytest.mark.parametrize("name", PUBLIC)
def test_majority_vote_skill_ties_beat_expected_random_tiebreak(name: str) -> None:
    t, gold, meta = _public(name)
    acc = consensus_accuracy(majority_vote(t), gold)["accuracy"]
    rec = meta["majority_vote_computed_here"]
    assert acc >= rec["mv_acc_ties_as_wrong"]
    if rec["n_tied_items"] == 0:
        assert acc == pytest.approx(rec["mv_acc_random_tiebreak"], abs=1e-6)
