"""labkit.incentives: scores, credentials (public-data targets, withdrawal rule, log), rewards, CLI, report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from labkit.errors import InputRefused
from labkit.incentives import credentials as C
from labkit.incentives import evaluate as E
from labkit.incentives.rewards import compute_rewards, fairness_report, load_reward_policy
from labkit.incentives.scores import annotator_scores, fit_scores, gold_outcomes
from labkit.io import load_labels
from labkit.schema import read_gold
from labkit.stats.truth import fit_consensus

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = sorted(p for p in (ROOT / "tests/data/public").iterdir() if p.is_dir())


def _table(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    from labkit.schema import conform_labels

    return conform_labels(pd.DataFrame(rows, columns=["item_id", "annotator_id", "label"])).table


# ---------------------------------------------------------------- scores

def test_fit_scores_recovers_an_exact_line_and_moments() -> None:
    n = np.array([100, 100, 100, 100, 100])
    c = np.array([0.5, 0.6, 0.7, 0.8, 0.9])
    k = (0.1 + 0.9 * c) * n
    m = fit_scores(n, k, c)
    assert m.slope == pytest.approx(0.9) and m.intercept == pytest.approx(0.1)
    # residuals are zero, so the between-annotator spread is ~0: the prior is as strong as allowed
    assert m.kappa == 500.0


def test_fit_scores_weak_prior_when_consensus_does_not_predict_gold() -> None:
    rng = np.random.default_rng(0)
    n = np.full(60, 200)
    truth = rng.uniform(0.5, 1.0, 60)
    k = rng.binomial(n, truth)
    c = rng.uniform(0.5, 1.0, 60)  # unrelated to truth
    m = fit_scores(n, k, c)
    assert m.slope < 0.3
    # between-annotator variance of U(.5, 1) is 1/48: kappa ~ mu(1-mu)/var - 1 ~ 8
    assert 3 < m.kappa < 20


def test_no_gold_sits_at_calibrated_prior_and_gold_pulls_toward_its_rate() -> None:
    t = load_labels(str(PUBLIC[0] / "long.csv"))
    g = read_gold(PUBLIC[0] / "gold.csv")
    fit = fit_consensus(t)
    out = gold_outcomes(t, g)
    keep = out["annotator_id"] != out["annotator_id"].iloc[0]
    # the one-number score (per_label=False; the per-label one is tested in test_incentives_labels.py)
    s = annotator_scores(t, fit=fit, outcomes=out[keep], level=0.9, per_label=False).set_index("annotator_id")
    a = out["annotator_id"].iloc[0]
    assert s.loc[a, "n_gold"] == 0
    assert s.loc[a, "score"] == pytest.approx(s.loc[a, "prior_mean"])
    # the consensus evidence counts at most one pseudo-count per judgement
    assert (s["prior_strength"] <= np.maximum(10 * s["n_judgements"], 2) + 1e-9).all()
    full = annotator_scores(t, g, fit=fit, per_label=False).set_index("annotator_id")
    busy = full["n_gold"].idxmax()
    assert abs(full.loc[busy, "score"] - full.loc[busy, "gold_accuracy"]) < abs(
        full.loc[busy, "prior_mean"] - full.loc[busy, "gold_accuracy"]) + 1e-12
    # interval is the Beta posterior's quantiles
    r = full.loc[busy]
    a_, b_ = r["prior_strength"] * r["prior_mean"] + r["k_gold"], r["prior_strength"] * (1 - r["prior_mean"]) + r["n_gold"] - r["k_gold"]
    assert r["ci_low"] == pytest.approx(stats.beta.ppf(0.05, a_, b_))


def test_consensus_evidence_is_read_from_fit_skill_only() -> None:
    t = load_labels(str(PUBLIC[0] / "long.csv"))
    fit = fit_consensus(t)
    fit.skill = fit.skill.assign(accuracy=0.5)  # whatever the consensus model says is what is used
    s = annotator_scores(t, fit=fit)
    assert (s["consensus_accuracy"] == 0.5).all()


# ---------------------------------------------------------------- credentials on the public datasets

@pytest.fixture(scope="module")
def public_fits() -> list[tuple[str, pd.DataFrame, pd.DataFrame, object]]:
    out = []
    for d in PUBLIC:
        t = load_labels(str(d / "long.csv"))
        out.append((d.name, t, read_gold(d / "gold.csv"), fit_consensus(t)))
    return out


@pytest.mark.parametrize("split", ["judgements", "items"])
def test_credential_targets_on_public_datasets(public_fits: list, split: str) -> None:
    rows = pd.concat([E.evaluate(t, g, split=split, fit=f).assign(ds=name) for name, t, g, f in public_fits])
    s = E.summarize(rows).set_index("rule")
    lk = s.loc["labkit"]
    assert lk["precision"] >= 0.90, s
    assert lk["false_denial"] <= 0.25, s
    assert lk["tertile_gap"] <= 0.10, s
    for peer in ("label_studio_10of10", "beta_flat"):
        assert lk["false_denial"] < s.loc[peer, "false_denial"] - 0.3


def test_label_studio_rule_needs_ten_straight() -> None:
    d = pd.DataFrame({"annotator_id": ["a"] * 10 + ["b"] * 12 + ["c"] * 9,
                      "correct": [True] * 10 + [True] * 9 + [False] + [True] * 2 + [True] * 9})
    t = pd.DataFrame({"annotator_id": ["a", "b", "c"]})
    ok = E.rule_label_studio(t, d, None, 0.8)
    assert ok.to_dict() == {"a": True, "b": False, "c": False}


# ---------------------------------------------------------------- withdrawal

def test_false_withdrawal_of_a_95_percent_annotator_over_2000_items() -> None:
    rule = C.WithdrawalRule()
    rate = C.false_withdrawal_rate(0.95, 0.8, rule, n_items=2000, n_sim=4000, seed=1)
    assert rate <= 0.05
    # the rule still acts: a 70% annotator loses the credential almost surely
    assert C.false_withdrawal_rate(0.70, 0.8, rule, n_items=2000, n_sim=2000, seed=2) >= 0.95


def test_vectorised_rate_matches_stream_by_stream_checks() -> None:
    rule = C.WithdrawalRule(window=50, consecutive=2, confidence=0.95)
    rng = np.random.default_rng(5)
    n_sim, p = 400, 0.8
    lost = 0
    for _ in range(n_sim):
        stream = rng.random(1000) < p
        gone = any(C.withdrawal_check(stream[: w * 50], 0.8, rule)[0] for w in range(2, 21))
        lost += gone
    vec = C.false_withdrawal_rate(p, 0.8, rule, n_items=1000, n_sim=20000, seed=9)
    se = np.sqrt(vec * (1 - vec) / n_sim)
    assert abs(lost / n_sim - vec) < 4 * se + 0.01


def test_one_unlucky_window_never_withdraws() -> None:
    rule = C.WithdrawalRule(window=50, consecutive=2)
    stream = np.r_[np.ones(300, bool), np.zeros(50, bool), np.ones(50, bool)]
    assert C.withdrawal_check(stream, 0.8, rule)[0] is False
    bad = np.r_[np.ones(300, bool), np.zeros(100, bool)]
    gone, ups = C.withdrawal_check(bad, 0.8, rule)
    assert gone and len(ups) == 2 and max(ups) < 0.8


def _stream_table(n: int, acc_first: float, acc_last: float, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One tracked annotator 'x' and four steady peers on binary gold items."""
    rng = np.random.default_rng(seed)
    items = [f"i{j}" for j in range(n)]
    truth = rng.integers(0, 2, n)
    rows = []
    for j, it in enumerate(items):
        p = acc_first if j < n // 2 else acc_last
        rows.append((it, "x", str(truth[j] if rng.random() < p else 1 - truth[j])))
        for a in ("p1", "p2", "p3", "p4"):
            rows.append((it, a, str(truth[j] if rng.random() < 0.9 else 1 - truth[j])))
    gold = pd.DataFrame({"item_id": items, "label": truth.astype(str)})
    from labkit.schema import conform_gold

    return _table(rows), conform_gold(gold)


def test_decide_keeps_held_credential_until_the_rule_fires_and_logs_it(tmp_path: Path) -> None:
    cred = C.Credential(name="cert", tau=0.8, min_judgements=10)
    t, g = _stream_table(400, 0.95, 0.95)
    d = C.decide(t, g, [cred]).set_index("annotator_id")
    assert d.loc["x", "granted"] and d.loc["x", "change"] == "awarded"
    assert d.loc["x", "reason"].startswith("awarded: lower bound ")
    t2, g2 = _stream_table(400, 0.95, 0.30, seed=1)
    d2 = C.decide(t2, g2, [cred], held={("x", "cert")}).set_index("annotator_id")
    assert not d2.loc["x", "granted"] and d2.loc["x", "change"] == "withdrawn"
    assert "in each of the last 2 windows of 50 gold judgements" in d2.loc["x", "reason"]
    n = C.record_decisions(d2.reset_index(), tmp_path, "qa-lead", at="2026-10-01T00:00:00Z")
    from labkit.guidelines import log

    entries = log.read(tmp_path)
    assert n == len(entries) >= 1 and log.verify(tmp_path).ok
    x = [e for e in entries if e["annotator_id"] == "x"][0]
    assert x["action"] == "credential" and x["decision"] == "withdrawn" and x["n_gold"] == 400


def test_policy_errors_name_file_record_and_field(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("credentials:\n  - name: a\n    tau: 0.8\n  - name: b\n    tau: 1.5\n")
    with pytest.raises(InputRefused) as e:
        C.load_policy(p)
    msg = str(e.value)
    assert str(p) in msg and "tau must be a number between 0 and 1, got 1.5" in msg and "2" in msg
    p.write_text("credentials:\n  - name: a\n    tau: 0.8\n    weeks: 2.5\n")
    with pytest.raises(InputRefused, match="weeks must be an integer"):
        C.load_policy(p)
    p.write_text("credentials:\n  - name: a\n    tau: 0.8\n    colour: red\n")
    with pytest.raises(InputRefused, match="unknown key 'colour'"):
        C.load_policy(p)
    pol = C.load_policy(ROOT / "sample/policies/credentials.yaml")
    assert [c.name for c in pol] == ["toxicity-certified", "toxicity-expert"] and pol[0].weeks == 8


# ---------------------------------------------------------------- rewards and fairness

def test_rewards_piece_rate_and_statement(tmp_path: Path) -> None:
    t, g = _stream_table(60, 0.9, 0.9)
    p = tmp_path / "r.yaml"
    p.write_text("period: all\ncurrency: EUR\nschemes:\n  - {kind: piece_rate, rate: 0.1}\n"
                 "  - {kind: accuracy_weighted, rate: 0.1, floor: 0.5}\n"
                 "  - {kind: spot_check_bonus, amount: 2, min_gold: 10, accuracy: 0.8}\n")
    r = compute_rewards(t, g, load_reward_policy(p)).set_index("annotator_id")
    assert r.loc["x", "piece_rate"] == pytest.approx(6.0)
    f = (r.loc["x", "score"] - 0.5) / 0.5
    assert r.loc["x", "accuracy_weighted"] == pytest.approx(round(0.1 * 60 * f, 2))
    acc = (t[t.annotator_id == "x"].label.astype(str).to_numpy() == g.label.astype(str).to_numpy()).mean()
    assert r.loc["x", "spot_check_bonus"] == (2.0 if acc >= 0.8 else 0.0)
    assert "60 judgements x 0.1 = 6.00 EUR" in r.loc["x", "statement"]
    assert (r[["piece_rate", "accuracy_weighted", "spot_check_bonus"]] >= 0).all().all()
    p.write_text("schemes:\n  - {kind: piece_rate, rate: -1}\n")
    with pytest.raises(InputRefused, match="rate must be a number >= 0, got -1"):
        load_reward_policy(p)


def test_fairness_gap_vanishes_when_pay_follows_accuracy_only() -> None:
    # group B is less accurate; pay depends only on the accuracy band: raw gap, no adjusted gap
    acc = np.r_[np.full(20, 0.95), np.full(10, 0.75), np.full(20, 0.75), np.full(10, 0.95)]
    grp = pd.Series(["A"] * 30 + ["B"] * 30, index=[f"a{i}" for i in range(60)])
    per = pd.DataFrame({"annotator_id": grp.index, "score": acc, "pay": np.where(acc > 0.9, 2.0, 1.0)})
    f = fairness_report(per, {"group": grp}, value="pay").set_index("group")
    assert f.loc["A", "raw_gap"] == pytest.approx(1 / 6) and f.loc["A", "adjusted_gap"] == pytest.approx(0.0)
    # a scheme that pays group B less at equal accuracy shows it
    per.loc[30:, "pay"] -= 0.5
    f = fairness_report(per, {"group": grp}, value="pay").set_index("group")
    assert f.loc["B", "adjusted_gap"] < -0.2


# ---------------------------------------------------------------- CLI and report

def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labkit", *args], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=300)


def test_cli_credentials_threshold_on_a_public_dataset(tmp_path: Path) -> None:
    d = ROOT / "tests/data/public/snow2008_rte"
    r = _cli("credentials", str(d / "long.csv"), "--gold", str(d / "gold.csv"), "--threshold", "0.8",
             "--out", str(tmp_path), "--log", str(tmp_path / "log"), "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    dec = pd.read_csv(tmp_path / "decisions.csv")
    assert list(dec.columns[:2]) == ["annotator_id", "credential"]
    assert {"granted", "lower_bound", "n_gold", "n_judgements", "reason"} <= set(dec.columns)
    assert len(dec) == 164 and summary["granted"]["accuracy>=0.8"] == int(dec["granted"].sum())
    assert summary["logged"] == summary["awarded"] == int(dec["granted"].sum())
    # a second run keeps what was granted and logs nothing new
    r = _cli("credentials", str(d / "long.csv"), "--gold", str(d / "gold.csv"), "--threshold", "0.8",
             "--out", str(tmp_path), "--log", str(tmp_path / "log"), "--json")
    s2 = json.loads(r.stdout.strip().splitlines()[-1])
    assert s2["awarded"] == 0 and s2["logged"] == 0 and s2["kept"] == summary["awarded"]


def test_cli_refuses_bad_policy_with_file_record_field(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("credentials:\n  - name: a\n    tau: high\n")
    r = _cli("credentials", "sample/labels.csv", "--gold", "sample/gold.csv", "--policy", str(p), "--out",
             str(tmp_path / "o"))
    assert r.returncode != 0 and str(p) in r.stderr and "tau must be a number" in r.stderr


def test_cli_abtest_design_json() -> None:
    r = _cli("abtest", "design", "--clusters", "40", "--mean-size", "20", "--icc", "0.05", "--baseline", "0.8",
             "--effect", "0.05", "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert s["design_effect"] == pytest.approx(1.95)
    from labkit.incentives.abtest import power

    assert s["power"] == pytest.approx(power(0.05, clusters=40, mean_size=20, icc=0.05, sd=0.4))


def test_report_is_pseudonymous_and_feedback_section() -> None:
    from labkit.incentives.report import build, feedback_section
    from labkit.reports.model import Section, render

    rep = build(key=b"k" * 32)
    html = render(rep, figures=False)
    ids = set(pd.read_csv(ROOT / "sample/labels.csv", dtype=str)["annotator_id"]) - {"toxi-clf-3"}
    # sample ids are numbers that also occur as counts, so look at the id columns of every table
    from labkit.reports.display import Pseudonyms
    from labkit.reports.model import Table

    P = Pseudonyms(b"k" * 32)
    n_tables = 0
    for sec in rep.sections:
        for b in sec.blocks:
            if isinstance(b, Table) and "annotator_id" in b.frame.columns:
                n_tables += 1
                shown = set(b.frame["annotator_id"].astype(str))
                assert not shown & ids
                assert shown <= {P(a) for a in ids}
    assert n_tables == 4 and P("101") in html
    assert {s.title for s in rep.sections} >= {"Annotator scores", "Skill per label", "Credentials", "Rewards", "Fairness",
                                               "A/B test design"}
    t = load_labels(str(ROOT / "sample/labels.csv"))
    g = read_gold(ROOT / "sample/gold.csv")
    import labkit.incentives

    assert labkit.incentives.feedback_section is feedback_section
    sec = feedback_section(t, g, "101", policy=str(ROOT / "sample/policies/credentials.yaml"))
    assert isinstance(sec, Section) and len(sec.blocks) == 2
    assert sec.blocks[0].text.startswith("toxicity-certified: ")


def test_notebook_is_thin() -> None:
    nb = json.loads((ROOT / "notebooks/incentives_report.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) == 2 and "parameters" in code[0]["metadata"]["tags"]
    src = "".join(code[1]["source"])
    assert "def " not in src and "for " not in src and "if " not in src
    assert all(not c.get("outputs") for c in code) and nb["metadata"]["kernelspec"]["name"] == "python3"





# ---------------------------------------------------------------- breakdowns and consistency

def _weekly_table(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Six weeks; 'steady' is 90% right every week, 'swing' 98% and 60% in alternate weeks; four peers."""
    from labkit.schema import conform_gold, conform_labels

    rng = np.random.default_rng(seed)
    rows, gold = [], []
    for w in range(6):
        for j in range(40):
            it = f"w{w}-{j}"
            truth = int(rng.integers(0, 3))
            gold.append((it, str(truth)))
            ts = pd.Timestamp("2026-09-07", tz="UTC") + pd.Timedelta(days=7 * w, hours=j)
            for a, p in (("steady", 0.9), ("swing", 0.98 if w % 2 == 0 else 0.6), ("p1", 0.9), ("p2", 0.9),
                         ("p3", 0.85), ("p4", 0.8)):
                lab = truth if rng.random() < p else int(rng.choice([c for c in range(3) if c != truth]))
                rows.append((it, a, str(lab), ts.isoformat()))
    t = conform_labels(pd.DataFrame(rows, columns=["item_id", "annotator_id", "label", "created_at"])).table
    g = conform_gold(pd.DataFrame(gold, columns=["item_id", "label"]))
    return t, g


def test_scores_by_label_and_week_partition_the_evidence() -> None:
    from labkit.incentives.scores import consistency, scores_by

    t, g = _weekly_table()
    fit = fit_consensus(t)
    whole = annotator_scores(t, g, fit=fit).set_index("annotator_id")
    for by in ("label", "week"):
        parts = scores_by(t, g, by, fit=fit)
        sums = parts.groupby("annotator_id")[["n_gold", "n_judgements"]].sum()
        assert (sums["n_gold"] == whole["n_gold"].reindex(sums.index)).all()
        assert (sums["n_judgements"] == whole["n_judgements"].reindex(sums.index)).all()
    weekly = scores_by(t, g, "week", fit=fit)
    assert weekly["week"].nunique() == 6
    c = consistency(t, g, fit=fit).set_index("annotator_id")
    assert c.loc["swing", "score_sd"] > 3 * c.loc["steady", "score_sd"]
    assert c.loc["swing", "sd_low"] > c.loc["steady", "sd_high"]
    assert c.loc["steady", "active_share"] == 1.0 and c.loc["steady", "n_windows"] == 6


def test_cli_scores_and_rewards_json(tmp_path: Path) -> None:
    r = _cli("scores", "sample/labels.csv", "--gold", "sample/gold.csv", "--by", "slice", "--out",
             str(tmp_path / "s.csv"), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.strip().splitlines()[-1])
    df = pd.read_csv(tmp_path / "s.csv")
    assert s["rows"] == len(df) and "slice" in df.columns and df["ci_low"].le(df["score"]).all()
    r = _cli("rewards", "sample/labels.csv", "--gold", "sample/gold.csv", "--policy",
             "sample/policies/rewards.yaml", "--groups", "sample/annotators.csv", "--group-column",
             "attended_calibration", "--out", str(tmp_path / "rw"), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.strip().splitlines()[-1])
    rw = pd.read_csv(tmp_path / "rw/rewards.csv")
    fair = pd.read_csv(tmp_path / "rw/fairness.csv")
    assert s["total"] == pytest.approx(rw["total"].sum())
    assert set(fair["dimension"]) == {"volume tertile", "main slice", "declared group"}
    assert rw["statement"].str.contains("Total: ").all()


def test_feedback_page_carries_the_credential_status() -> None:
    from labkit.reports.feedback import build

    root = Path(__file__).resolve().parents[1]
    rep = build(f"{root / 'sample' / 'label_studio_export.json'}:{root / 'sample' / 'labels.csv'}", "103",
                str(root / "sample" / "gold.csv"), str(root / "sample" / "items.csv"), str(root / "guidelines"))
    (sec,) = [s for s in rep.sections if s.title == "Your credentials"]
    (f,) = sec.blocks
    assert f.text.startswith("accuracy>=0.8: ") and "gold judgements" in f.text
    assert "103" not in f.text  # addressed to them, naming no id
