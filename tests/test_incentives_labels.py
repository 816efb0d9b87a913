"""Per-label skill (labkit.incentives.scores.label_skill) and the per-label score; the feedback section's
one-fit-per-run cache."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from labkit.incentives import evaluate as E
from labkit.incentives.scores import LABEL_SKILL_COLUMNS, annotator_scores, gold_outcomes, label_skill
from labkit.io import load_labels
from labkit.schema import conform_gold, conform_labels, read_gold
from labkit.stats.truth import fit_consensus

ROOT = Path(__file__).resolve().parents[1]
BLUEBIRDS = ROOT / "tests/data/public/welinder2010_bluebirds"


@pytest.fixture(scope="module")
def bluebirds() -> tuple[pd.DataFrame, pd.DataFrame, object]:
    t = load_labels(str(BLUEBIRDS / "long.csv"))
    return t, read_gold(BLUEBIRDS / "gold.csv"), fit_consensus(t)


def test_label_skill_reads_the_fit_confusion_and_posteriors(bluebirds: tuple) -> None:
    t, g, fit = bluebirds
    out = gold_outcomes(t, g)
    ls = label_skill(t, fit, out, level=0.9)
    assert list(ls.columns) == LABEL_SKILL_COLUMNS
    ann, err = fit.confusion["default"]
    post = fit.posteriors["default"]
    labels = [str(c) for c in post.columns]
    a = "39"
    j = list(ann).index(a)
    mine = t[t["annotator_id"].astype(str) == a]
    for ci, lab in enumerate(labels):
        row = ls[(ls["annotator_id"] == a) & (ls["label"] == lab)].iloc[0]
        # oracle, judgement by judgement
        n_exp = sum(float(post.loc[i, post.columns[ci]]) for i in mine["item_id"])
        assert row["n_expected"] == pytest.approx(n_exp)
        assert row["consensus_recall"] == pytest.approx(err[j, ci, ci])
        o = out[(out["annotator_id"] == a) & (out["gold_label"].astype(str) == lab)]
        assert (row["n_gold"], row["k_gold"]) == (len(o), int(o["correct"].sum()))
        # the recall is the Beta posterior with the stated prior
        aa = row["prior_strength"] * row["prior_mean"] + row["k_gold"]
        bb = row["prior_strength"] * (1 - row["prior_mean"]) + row["n_gold"] - row["k_gold"]
        assert row["skill"] == pytest.approx(aa / (aa + bb))
        assert row["ci_low"] == pytest.approx(stats.beta.ppf(0.05, aa, bb))
    # every judgement's expected truth is split over the labels (counts add up to the volume); the weights
    # are the task's label mix, the same for everyone
    per = ls.groupby("annotator_id")[["weight", "n_expected"]].sum()
    vol = t["annotator_id"].astype(str).value_counts()
    assert np.allclose(per["weight"], 1.0)
    mix = ls.groupby("label")["n_expected"].sum() / ls["n_expected"].sum()
    assert np.allclose(ls["weight"], mix.reindex(ls["label"]).to_numpy())
    assert np.allclose(per["n_expected"], vol.reindex(per.index))


def test_score_is_the_weighted_recalls_with_a_moment_matched_interval(bluebirds: tuple) -> None:
    t, g, fit = bluebirds
    out = gold_outcomes(t, g)
    decide, _ = E.split_outcomes(out, "judgements")
    s = annotator_scores(t, fit=fit, outcomes=decide, level=0.9).set_index("annotator_id")
    ls = label_skill(t, fit, decide, level=0.9)
    for a in list(s.index[:3]):
        assert s.loc[a, "n_judgements"] > 0
        r = ls[ls["annotator_id"] == a]
        aa = r["prior_strength"] * r["prior_mean"] + r["k_gold"]
        bb = r["prior_strength"] * (1 - r["prior_mean"]) + r["n_gold"] - r["k_gold"]
        m = float((r["weight"] * r["skill"]).sum())
        v = float((r["weight"] ** 2 * aa * bb / ((aa + bb) ** 2 * (aa + bb + 1))).sum())
        nu = m * (1 - m) / v - 1
        assert s.loc[a, "score"] == pytest.approx(m)
        assert s.loc[a, "ci_low"] == pytest.approx(stats.beta.ppf(0.05, m * nu, (1 - m) * nu))
        assert s.loc[a, "ci_high"] == pytest.approx(stats.beta.ppf(0.95, m * nu, (1 - m) * nu))


def test_consensus_recall_is_read_from_fit_confusion_only(bluebirds: tuple) -> None:
    t, _, fit = bluebirds
    ann, err = fit.confusion["default"]
    fake = SimpleNamespace(posteriors=fit.posteriors, skill=fit.skill,
                           confusion={"default": (ann, np.full_like(err, 0.5))})
    ls = label_skill(t, fake)
    assert (ls["consensus_recall"] == 0.5).all()
    # no gold anywhere: the recall is the consensus recall itself, worth one count per expected judgement
    assert np.allclose(ls["skill"], 0.5)
    assert np.allclose(ls["prior_strength"], np.maximum(ls["n_expected"], 2.0))


def _yes_sayer(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """200 items, half 'yes'; eight annotators right 85-95% of the time and one who always says 'yes'.
    Gold exists only on 'yes' items."""
    rng = np.random.default_rng(seed)
    rows, gold = [], []
    for i in range(200):
        truth = "yes" if i % 2 == 0 else "no"
        if truth == "yes" and i < 120:
            gold.append((f"i{i}", truth))
        for a in range(8):
            right = rng.random() < 0.85 + 0.0125 * a
            rows.append((f"i{i}", f"a{a}", truth if right else ("no" if truth == "yes" else "yes")))
        rows.append((f"i{i}", "sayer", "yes"))
    t = conform_labels(pd.DataFrame(rows, columns=["item_id", "annotator_id", "label"])).table
    return t, conform_gold(pd.DataFrame(gold, columns=["item_id", "label"]))


def test_gold_on_one_label_is_no_evidence_on_another() -> None:
    t, g = _yes_sayer()
    fit = fit_consensus(t)
    per = annotator_scores(t, g, fit=fit).set_index("annotator_id")
    one = annotator_scores(t, g, fit=fit, per_label=False).set_index("annotator_id")
    assert per.loc["sayer", "gold_accuracy"] == 1.0  # 60 of 60 gold judgements right
    assert one.loc["sayer", "ci_low"] > 0.8  # the one-number score crowns them
    # the per-label score knows they are right on every 'yes' and wrong on every 'no': about half
    assert per.loc["sayer", "ci_high"] < 0.8
    assert abs(per.loc["sayer", "score"] - 0.5) < 0.1
    ls = label_skill(t, fit, gold_outcomes(t, g)).set_index(["annotator_id", "label"])
    assert ls.loc[("sayer", "yes"), "skill"] > 0.95 and ls.loc[("sayer", "no"), "skill"] < 0.2
    # the honest annotators keep a score near their accuracy
    acc = (t.merge(t.groupby("item_id", observed=True)["label"].agg(lambda s: s.mode()[0]).rename("maj"),
                   left_on="item_id", right_index=True).assign(ok=lambda d: d["label"] == d["maj"])
           .groupby("annotator_id", observed=True)["ok"].mean())
    for a in ("a0", "a7"):
        assert abs(per.loc[a, "score"] - acc[a]) < 0.05


def test_per_label_score_ranks_bluebirds_where_the_gold_halves_disagree(bluebirds: tuple) -> None:
    """Welinder's bluebirds: each person's first half of gold is 89% class 1, the second all class 0, so the
    one-number score (gold accuracy against consensus skill) ranks people by the wrong class; per label it
    ranks them as the consensus does, and better than crowd-kit's Dawid-Skene skill (0.649)."""
    t, g, fit = bluebirds
    out = gold_outcomes(t, g)
    decide, check = E.split_outcomes(out, "judgements")
    assert set(check["gold_label"].astype(str)) == {"0"}
    truth = check.groupby("annotator_id")["correct"].mean()
    one = annotator_scores(t, fit=fit, outcomes=decide, per_label=False).set_index("annotator_id")["score"]
    per = annotator_scores(t, fit=fit, outcomes=decide).set_index("annotator_id")["score"]
    rho_one = stats.spearmanr(one.reindex(truth.index), truth).statistic
    rho_per = stats.spearmanr(per.reindex(truth.index), truth).statistic
    assert rho_one < 0 < 0.649 < rho_per


def test_cli_scores_by_true_label(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "labkit", "scores", str(ROOT / "sample/labels.csv"), "--gold",
                        str(ROOT / "sample/gold.csv"), "--by", "true_label", "--out", str(tmp_path / "l.csv"),
                        "--json"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    d = pd.read_csv(tmp_path / "l.csv", dtype={"annotator_id": str, "label": str})
    assert list(d.columns) == LABEL_SKILL_COLUMNS
    t = load_labels(str(ROOT / "sample/labels.csv"))
    g = read_gold(ROOT / "sample/gold.csv")
    s = annotator_scores(t, g).set_index("annotator_id")
    mixed = (d.assign(wm=d["weight"] * d["skill"]).groupby("annotator_id")["wm"].sum())
    assert np.allclose(mixed.to_numpy(), s["score"].reindex(mixed.index).to_numpy(), atol=1e-6)


# ---------------------------------------------------------------- the feedback page's one fit per run

def test_feedback_provider_fits_the_consensus_once_per_program(monkeypatch: pytest.MonkeyPatch) -> None:
    import labkit.stats.truth as truth
    from labkit.incentives import report as R

    calls = []
    real = truth.fit_consensus

    def counting(*a: object, **kw: object) -> object:
        calls.append(1)
        return real(*a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(truth, "fit_consensus", counting)
    monkeypatch.setattr(R, "_DECISIONS", {})
    monkeypatch.delenv("LABKIT_CREDENTIALS_POLICY", raising=False)
    t = load_labels(str(ROOT / "sample/labels.csv"))
    g = read_gold(ROOT / "sample/gold.csv")
    ids = sorted(t["annotator_id"].astype(str).unique())[:5]
    texts = []
    for a in ids:  # each page loads its own copy of the program, as the report runner does
        prog = SimpleNamespace(has_gold=True, comparable=t.copy(), gold_for_task=g.copy())
        sec = R.feedback_provider(prog, a, None, None)
        texts.append(sec.blocks[0].text)
    assert len(calls) == 1
    # the same decisions as deciding afresh for one page
    R._DECISIONS.clear()
    fresh = R.feedback_section(t, g, ids[-1], policy=None, fit=real(t))
    assert fresh.blocks[0].text == texts[-1]
    # a changed table is decided afresh
    prog = SimpleNamespace(has_gold=True, comparable=t.iloc[:-5].copy(), gold_for_task=g)
    R.feedback_provider(prog, ids[0], None, None)
    assert len(calls) == 2


def test_feedback_pages_of_a_report_run_share_one_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    import labkit.incentives.scores as scores
    from labkit.incentives import report as R
    from labkit.reports.feedback import build

    calls = []
    monkeypatch.setattr(R, "_DECISIONS", {})
    monkeypatch.delenv("LABKIT_CREDENTIALS_POLICY", raising=False)
    src = f"{ROOT / 'sample' / 'label_studio_export.json'}:{ROOT / 'sample' / 'labels.csv'}"
    args = (str(ROOT / "sample" / "gold.csv"), str(ROOT / "sample" / "items.csv"), str(ROOT / "guidelines"))
    # count only the fits the credentials section makes (scores import fit_consensus when called)
    orig = scores.annotator_scores

    def tracking(*a: object, **kw: object) -> object:
        if kw.get("fit") is None:
            calls.append(1)
        return orig(*a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(scores, "annotator_scores", tracking)
    for a in ("103", "101", "102"):
        rep = build(src, a, *args)
        assert any(s.title == "Your credentials" for s in rep.sections)
    assert len(calls) == 1
