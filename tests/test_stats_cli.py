"""``labkit agreement | consensus | score`` end to end, and degenerate inputs (NaN with a reason)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labkit.cli import main
from labkit.errors import ParameterError
from labkit.stats import cohen_kappa, fleiss_kappa, gwet_ac1, krippendorff_alpha, percent_agreement

DATA = Path(__file__).parent / "data" / "stats"
K2011 = str(DATA / "krippendorff_reference" / "k2011_4obs_12units_long.csv")
RTE = DATA.parent / "public" / "snow2008_rte"


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(list(argv) + ["--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_cli_agreement_reproduces_krippendorff_2011(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "agreement", K2011)
    assert out["metric"] == "krippendorff" and out["level"] == "nominal"
    assert out["alpha"] == pytest.approx(0.7434210526315790, abs=1e-12)
    assert (out["n_items"], out["n_pairable"]) == (12, 40)
    out = run_json(capsys, "agreement", K2011, "--level", "ordinal", "--ci", "0.95", "--n-boot", "200")
    assert out["alpha"] == pytest.approx(0.8153875037548813, abs=1e-12)
    lo, hi = out["ci"]
    assert lo < out["alpha"] <= hi and out["ci_level"] == 0.95
    out = run_json(capsys, "agreement", K2011, "--by", "label")
    assert [g["label"] for g in out["groups"]] == ["1", "2", "3", "4", "5"]
    assert main(["agreement", K2011]) == 0
    assert "Krippendorff's alpha (nominal) = 0.7434" in capsys.readouterr().out


def test_cli_pairwise_cohen_min_overlap(capsys: pytest.CaptureFixture[str]) -> None:
    t = pd.read_csv(K2011, dtype=str)
    shared = t.groupby("item_id")["annotator_id"].apply(set)
    overlap = {(a, b): sum(1 for s in shared if {a, b} <= s) for a in "ABCD" for b in "ABCD" if a < b}
    out = run_json(capsys, "agreement", K2011, "--metric", "cohen", "--min-overlap", "5")
    got = {tuple(sorted((p["a"], p["b"]))): p for p in out["pairwise"]}
    assert set(got) == {k for k, n in overlap.items() if n >= 5}
    for (a, b), p in got.items():
        assert p["n_items"] == overlap[(a, b)]
        assert p["kappa"] == pytest.approx(cohen_kappa(t, a, b).value, abs=1e-12)
    assert main(["agreement", K2011, "--metric", "cohen", "--min-overlap", "0"]) == 2
    assert "--min-overlap must be a positive integer, got 0" in capsys.readouterr().err


def test_cli_consensus_and_score_on_rte(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    meta = json.loads((RTE / "meta.json").read_text())["stats"]
    dest = tmp_path / "cons.parquet"
    out = run_json(capsys, "consensus", str(RTE / "long.csv"), "--method", "ds", "--gold", str(RTE / "gold.csv"),
                   "--out", str(dest))
    assert out["accuracy"] >= meta["dawid_skene_computed_here"]["accuracy_on_gold"] - 0.005
    assert out["n_gold_items"] == 800 and out["converged"] is True
    cons = pd.read_parquet(dest)
    assert list(cons.columns) == ["item_id", "task", "label", "confidence", "n_judgements", "method"]
    assert len(cons) == 800 and (cons["n_judgements"] == 10).all()
    fast = run_json(capsys, "consensus", str(RTE / "long.csv"), "--method", "ds", "--gold", str(RTE / "gold.csv"),
                    "--ll-tol", "1e-5")
    assert fast["converged"] is True and fast["n_iter"]["default"] < out["n_iter"]["default"]
    assert fast["accuracy"] >= meta["dawid_skene_computed_here"]["accuracy_on_gold"] - 0.005
    capped = run_json(capsys, "consensus", str(RTE / "long.csv"), "--method", "ds", "--max-iter", "2")
    assert capped["converged"] is False and capped["n_iter"] == {"default": 2}
    assert main(["consensus", str(RTE / "long.csv"), "--method", "ds", "--max-iter", "2"]) == 0
    assert "did NOT converge within --max-iter 2 (2 EM steps)" in capsys.readouterr().out
    out = run_json(capsys, "score", str(RTE / "long.csv"), "--gold", str(RTE / "gold.csv"))
    assert out["accuracy"] == pytest.approx(meta["agreement_computed_here"]["pooled_label_accuracy_vs_gold"], abs=1e-6)
    assert out["n_annotators"] == out["n_scored_on_gold"] == 164


def test_cli_refuses_pooling_tasks(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    p = tmp_path / "two.csv"
    pd.DataFrame({"item_id": ["1", "1", "2", "2"], "annotator_id": list("abab"), "label": list("xxyy"),
                  "task": ["t1", "t1", "t2", "t2"]}).to_csv(p, index=False)
    assert main(["agreement", str(p)]) == 2
    err = capsys.readouterr().err
    assert "the table holds 2 tasks (t1, t2); labels of different tasks are never pooled" in err
    out = run_json(capsys, "agreement", str(p), "--by", "task")
    assert [g["task"] for g in out["groups"]] == ["t1", "t2"]
    assert all(g["alpha"] is None and "one label" in g["reason"] for g in out["groups"])


def test_degenerate_inputs_give_nan_with_reason() -> None:
    single = pd.DataFrame({"item_id": ["1", "2"], "annotator_id": ["a", "b"], "label": ["x", "y"]})
    for f in (krippendorff_alpha, fleiss_kappa, percent_agreement, gwet_ac1):
        r = f(single)
        assert np.isnan(r.value) and r.reason == "no item has two or more judgements (nothing is pairable)"
        assert r.to_dict()["value"] is None
    one_label = pd.DataFrame({"item_id": ["1", "1", "2", "2"], "annotator_id": list("abab"), "label": ["x"] * 4})
    r = krippendorff_alpha(one_label)
    assert np.isnan(r.value) and r.reason.startswith("only one label is used")
    assert percent_agreement(one_label).value == 1.0
    r = cohen_kappa(one_label, "a", "b")
    assert np.isnan(r.value) and "one and the same label" in r.reason
    models = one_label.assign(source="model")
    assert krippendorff_alpha(models).n_items == 0
    assert krippendorff_alpha(models, source=None).n_items == 2
    with pytest.raises(ParameterError, match="level='interval' needs numeric labels; not numbers: 'x'"):
        krippendorff_alpha(single.assign(item_id="1"), "interval")
    with pytest.raises(ParameterError, match=r"ci must be a confidence level strictly between 0 and 1"):
        krippendorff_alpha(single, ci=95)


def test_bootstrap_is_seeded_and_covers_the_value() -> None:
    t = pd.read_csv(K2011, dtype=str)
    a = krippendorff_alpha(t, ci=0.9, n_boot=300, seed=7)
    b = krippendorff_alpha(t, ci=0.9, n_boot=300, seed=7)
    c = krippendorff_alpha(t, ci=0.9, n_boot=300, seed=8)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high) != (c.ci_low, c.ci_high)
    assert a.ci_low < a.value < a.ci_high


def test_cli_ordinal_order_from_guidelines(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import shutil

    gdir = tmp_path / "guidelines" / "toxicity"
    gdir.parent.mkdir()
    shutil.copytree(Path(__file__).parent / "data" / "guidelines" / "original", gdir)
    (gdir / "governance.yaml").rename(tmp_path / "guidelines" / "governance.yaml")
    t = pd.DataFrame({"item_id": list("aabbccdd"), "annotator_id": list("xyxyxyxy"), "task": "toxicity",
                      "label": ["ok", "insult", "hate", "spam", "ok", "ok", "spam", "hate"]})
    p = tmp_path / "t.csv"
    t.to_csv(p, index=False)
    out = run_json(capsys, "agreement", str(p), "--level", "ordinal", "--order", "guidelines",
                   "--guidelines", str(tmp_path / "guidelines"))
    expected = krippendorff_alpha(t, "ordinal", order=["ok", "insult", "hate", "spam"]).value  # 2.0.0's label order
    assert out["alpha"] == pytest.approx(expected, abs=1e-12)
    assert expected != pytest.approx(krippendorff_alpha(t, "ordinal").value)  # alphabetical order differs


def test_cli_score_with_guidelines_equals_migrating_first(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """``score --guidelines`` compares in the gold's guideline terms; oracle: ``labkit migrate`` then ``score``."""
    root = Path(__file__).resolve().parents[1]
    labels = f"{root}/sample/label_studio_export.json:{root}/sample/labels.csv"
    gold, guidelines = str(root / "sample" / "gold.csv"), str(root / "guidelines")
    direct = run_json(capsys, "score", labels, "--gold", gold, "--guidelines", guidelines)
    migrated = tmp_path / "migrated.parquet"
    run_json(capsys, "migrate", labels, "--to", "2.0.0", "--guidelines", guidelines, "--out", str(migrated))
    oracle = run_json(capsys, "score", str(migrated), "--gold", gold)
    assert direct["judgements_on_gold"] == oracle["judgements_on_gold"]
    assert direct["accuracy"] == pytest.approx(oracle["accuracy"], abs=1e-12)
    assert direct["notes"][0].startswith("Gold is decided under guideline 2.0.0; ")
    as_recorded = run_json(capsys, "score", labels, "--gold", gold)
    assert as_recorded["notes"] == []
    assert as_recorded["accuracy"] < direct["accuracy"]  # offensive (1.x) vs insult (2.0.0) counted as errors


def test_cli_consensus_with_guidelines_equals_migrating_first(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """``consensus --guidelines``: one label per meaning (``offensive`` made under 1.x is 2.0.0's ``insult``).
    Oracle: ``labkit migrate`` then ``consensus``, same labels and confidences item by item."""
    root = Path(__file__).resolve().parents[1]
    labels = f"{root}/sample/label_studio_export.json:{root}/sample/labels.csv"
    gold, guidelines = str(root / "sample" / "gold.csv"), str(root / "guidelines")
    direct_out, oracle_out = tmp_path / "direct.csv", tmp_path / "oracle.csv"
    direct = run_json(capsys, "consensus", labels, "--gold", gold, "--guidelines", guidelines, "--out", str(direct_out))
    migrated = tmp_path / "migrated.parquet"
    run_json(capsys, "migrate", labels, "--to", "2.0.0", "--guidelines", guidelines, "--out", str(migrated))
    oracle = run_json(capsys, "consensus", str(migrated), "--gold", gold, "--out", str(oracle_out))
    assert direct["guideline_terms"][0].startswith("Gold is decided under guideline 2.0.0; ")
    assert direct["accuracy"] == pytest.approx(oracle["accuracy"], abs=1e-12)
    a = pd.read_csv(direct_out).sort_values("item_id").reset_index(drop=True)
    b = pd.read_csv(oracle_out).sort_values("item_id").reset_index(drop=True)
    assert a["label"].tolist() == b["label"].tolist()
    assert a["confidence"].to_numpy() == pytest.approx(b["confidence"].to_numpy(), abs=1e-9)
    assert set(a["label"]) == {"ok", "insult", "hate", "spam"}
    as_recorded = run_json(capsys, "consensus", labels, "--gold", gold)
    assert "guideline_terms" not in as_recorded
    assert as_recorded["accuracy"] < direct["accuracy"] - 0.2   # two words for one label split the votes
