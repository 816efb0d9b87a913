"""``labkit scores``, ``labkit credentials``, ``labkit rewards``, ``labkit abtest design|analyze``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from labkit.cli import emit


def _labels(p: argparse.ArgumentParser, gold_required: bool = False) -> None:
    p.add_argument("labels", help="label file(s) (anything `labkit import` reads; several joined with ':')")
    p.add_argument("--gold", required=gold_required, help="gold file (item_id plus a label or gold column)")
    p.add_argument("--guidelines", metavar="DIR", help="guidelines folder: judgements made under older versions are "
                   "carried to the gold's version (else the newest) first, so a renamed label is not an error")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scores", help="annotator scores from gold and consensus, shrunk toward the pool",
                       description="Per-annotator accuracy score from all their work (gold plus the consensus "
                                   "model's skill, empirical Bayes) with an interval; optionally per label, slice "
                                   "or week, and consistency across weeks.")
    _labels(p)
    p.add_argument("--by", choices=["label", "true_label", "slice", "guideline_version", "week", "month"],
                   help="break the scores down by this (label: how often the label a person gives is right; "
                        "true_label: their recall on items whose truth is that label, from the consensus "
                        "confusion and gold, with its weight in their score)")
    p.add_argument("--consistency", action="store_true", help="spread of weekly scores and share of active weeks")
    p.add_argument("--level", type=float, default=0.9, help="interval level (default 0.9)")
    p.add_argument("--out", help="write the table (.csv or .parquet)")
    p.set_defaults(func=run_scores)

    p = sub.add_parser("credentials", help="award and withdraw credentials from a policy; decisions.csv",
                       description="Decide every annotator's credentials (DIR/decisions.csv). Credentials granted "
                                   "in an earlier DIR/decisions.csv are kept unless the withdrawal rule fires. "
                                   "With --log, awards and withdrawals are appended to the decision log.")
    _labels(p, gold_required=True)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--policy", help="credentials policy (YAML)")
    g.add_argument("--threshold", type=float, help="one accuracy credential at this tau, default evidence rule")
    p.add_argument("--out", required=True, help="output folder (decisions.csv)")
    p.add_argument("--log", metavar="DIR", help="guidelines folder whose decision log records the changes")
    p.add_argument("--who", default="labkit-credentials", help="who decides, for the log")
    p.set_defaults(func=run_credentials)

    p = sub.add_parser("rewards", help="compute reward schemes per period with a statement per person",
                       description="Each scheme of the policy per annotator and period, a statement in words, "
                                   "and a fairness table (gaps by volume tertile, slice and declared group, "
                                   "conditional on measured accuracy).")
    _labels(p)
    p.add_argument("--policy", required=True, help="reward policy (YAML)")
    p.add_argument("--groups", help="CSV with annotator_id and a declared group column")
    p.add_argument("--group-column", default="group", help="column of --groups (default group)")
    p.add_argument("--out", help="output folder (rewards.csv, fairness.csv)")
    p.set_defaults(func=run_rewards)

    p = sub.add_parser("abtest", help="A/B tests of reward schemes: design (power, MDE) and analyze")
    s2 = p.add_subparsers(dest="abtest_command", metavar="design|analyze", required=True)
    d = s2.add_parser("design", help="power and minimum detectable effect with clustering and unequal volume")
    d.add_argument("--policy", help="abtest policy (YAML) with a design: mapping")
    d.add_argument("--clusters", type=int, help="annotators in the experiment")
    d.add_argument("--mean-size", type=float, help="mean judgements per annotator")
    d.add_argument("--cv", type=float, help="coefficient of variation of judgements per annotator")
    d.add_argument("--icc", type=float, help="intra-annotator correlation of the outcome")
    d.add_argument("--baseline", type=float, help="outcome mean in control (accuracy)")
    d.add_argument("--effect", type=float, help="effect to power for (default: report the MDE only)")
    d.add_argument("--alpha", type=float, help="two-sided level (default 0.05)")
    d.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    d.set_defaults(func=run_design)
    a = s2.add_parser("analyze", help="difference in gold accuracy between arms, cluster-robust interval")
    _labels(a, gold_required=True)
    a.add_argument("--policy", required=True, help="abtest policy (YAML): name, salt, arms, treatment")
    a.set_defaults(func=run_analyze)


def _load(args: argparse.Namespace) -> tuple[Any, Any]:
    import sys

    from labkit.guidelines.migrate import load_in_common_terms

    table, gold, terms = load_in_common_terms(args.labels, getattr(args, "gold", None) or "", getattr(args, "guidelines", None) or "")
    for n in terms:  # on stderr: stdout's last line stays the --json object
        print(n, file=sys.stderr)
    return table, gold


def _write(df: Any, path: str) -> None:
    from labkit._atomic import atomic_path

    with atomic_path(path) as tmp:
        if str(path).endswith(".parquet"):
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)


def run_scores(args: argparse.Namespace) -> int:
    from labkit.incentives.scores import annotator_scores, consistency, gold_outcomes, label_skill, scores_by
    from labkit.stats.truth import fit_consensus

    table, gold = _load(args)
    fit = fit_consensus(table)
    if args.consistency:
        df = consistency(table, gold, fit=fit)
    elif args.by == "true_label":
        df = label_skill(table, fit, gold_outcomes(table, gold) if gold is not None else None, level=args.level)
    elif args.by:
        df = scores_by(table, gold, args.by, fit=fit, level=args.level)
    else:
        df = annotator_scores(table, gold, fit=fit, level=args.level)
    if args.out:
        _write(df, args.out)
    emit(args, {"rows": len(df), "annotators": int(df["annotator_id"].nunique()) if len(df) else 0,
                "out": args.out}, df.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0


def run_credentials(args: argparse.Namespace) -> int:
    from labkit.incentives.credentials import decide, held_from_csv, load_policy, record_decisions, threshold_policy

    policy = load_policy(args.policy) if args.policy else threshold_policy(args.threshold)
    table, gold = _load(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    held = held_from_csv(out / "decisions.csv")
    dec = decide(table, gold, policy, held=held)
    logged = record_decisions(dec, args.log, args.who) if args.log else 0
    _write(dec, str(out / "decisions.csv"))
    counts = {c: int((dec["change"] == c).sum()) for c in ("awarded", "kept", "withdrawn", "none")}
    per = dec.groupby("credential")["granted"].sum().astype(int).to_dict()
    human = "\n".join(f"{k}: {v} granted of {int((dec['credential'] == k).sum())}" for k, v in per.items())
    emit(args, {"decisions": str(out / "decisions.csv"), "rows": len(dec), "granted": per, **counts,
                "logged": logged}, human + f"\nwrote {out / 'decisions.csv'}")
    return 0


def run_rewards(args: argparse.Namespace) -> int:
    import pandas as pd

    from labkit.errors import InputRefused
    from labkit.incentives.rewards import compute_rewards, fairness_for, load_reward_policy

    policy = load_reward_policy(args.policy)
    table, gold = _load(args)
    rw = compute_rewards(table, gold, policy)
    per = rw.groupby("annotator_id", as_index=False).agg(n_judgements=("n_judgements", "sum"),
                                                        score=("score", "mean"), total=("total", "sum"))
    per["pay_per_judgement"] = per["total"] / per["n_judgements"].clip(lower=1)
    declared = None
    if args.groups:
        gdf = pd.read_csv(args.groups, dtype=str)
        for col in ("annotator_id", args.group_column):
            if col not in gdf.columns:
                raise InputRefused(args.groups, f"no {col} column", field=col)
        declared = gdf.set_index("annotator_id")[args.group_column]
    fair = fairness_for(per, table, declared, value="pay_per_judgement")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        _write(rw, str(Path(args.out) / "rewards.csv"))
        _write(fair, str(Path(args.out) / "fairness.csv"))
    worst = float(fair["adjusted_gap"].abs().max()) if len(fair) else 0.0
    emit(args, {"rows": len(rw), "annotators": int(rw["annotator_id"].nunique()), "total": float(rw["total"].sum()),
                "max_adjusted_gap_per_judgement": worst, "out": args.out},
         rw.drop(columns=["statement"]).to_string(index=False, max_rows=40) + "\n\n" + fair.to_string(index=False))
    return 0


def _ab_policy(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    from labkit.errors import InputRefused
    from labkit.incentives.credentials import read_policy_yaml

    doc = read_policy_yaml(path)
    if not isinstance(doc, dict):
        raise InputRefused(path, "an abtest policy is a mapping (name, salt, arms, treatment, design)")
    return doc


def run_design(args: argparse.Namespace) -> int:
    from labkit.errors import ParameterError
    from labkit.incentives.abtest import design_effect, mde, power

    d = dict(_ab_policy(args.policy).get("design") or {})
    for k in ("clusters", "mean_size", "cv", "icc", "baseline", "effect", "alpha"):
        v = getattr(args, k)
        if v is not None:
            d[k] = v
    missing = [k for k in ("clusters", "mean_size", "icc", "baseline") if d.get(k) is None]
    if missing:
        raise ParameterError("abtest design needs " + ", ".join("--" + m.replace("_", "-") for m in missing))
    base = float(d["baseline"])
    sd = (base * (1 - base)) ** 0.5
    kw = dict(clusters=int(d["clusters"]), mean_size=float(d["mean_size"]), icc=float(d["icc"]),
              cv=float(d.get("cv", 0.0)), sd=sd, alpha=float(d.get("alpha", 0.05)))
    res: dict[str, Any] = {**kw, "baseline": base,
                           "design_effect": design_effect(kw["mean_size"], kw["icc"], kw["cv"]),
                           "mde_80": mde(**kw)}
    if d.get("effect") is not None:
        res["effect"] = float(d["effect"])
        res["power"] = power(float(d["effect"]), **kw)
    human = (f"design effect {res['design_effect']:.2f}; minimum detectable effect at 80% power: "
             f"{res['mde_80']:.4f}" + (f"; power for {res['effect']:g}: {res['power']:.3f}" if "power" in res else ""))
    emit(args, res, human)
    return 0


def run_analyze(args: argparse.Namespace) -> int:
    from labkit.errors import ParameterError
    from labkit.incentives.abtest import analyze, assign
    from labkit.incentives.scores import gold_outcomes

    pol = _ab_policy(args.policy)
    arms = pol.get("arms") or ["control", "treatment"]
    treatment = str(pol.get("treatment", arms[-1]))
    if treatment not in arms:
        raise ParameterError(f"{args.policy}: treatment {treatment!r} is not one of the arms {arms}")
    table, gold = _load(args)
    if pol.get("start") and "created_at" in table.columns:
        import pandas as pd

        table = table[table["created_at"] >= pd.Timestamp(pol["start"], tz="UTC")]
    out = gold_outcomes(table, gold)
    arm = assign(table["annotator_id"].astype(str), arms, salt=str(pol.get("salt", pol.get("name", "labkit-ab"))))
    frame = out.assign(arm=out["annotator_id"].map(arm), y=out["correct"].astype(float))
    frame = frame[frame["arm"].isin([arms[0], treatment])].assign(
        arm=lambda f: f["arm"].where(f["arm"] == treatment, "control").replace({treatment: "treatment"}))
    r = analyze(frame, alpha=float(pol.get("alpha", 0.05)))
    res = {"experiment": pol.get("name"), **r.to_dict()}
    emit(args, res, f"{treatment} - {arms[0]}: {r.effect:+.4f} [{r.ci_low:+.4f}, {r.ci_high:+.4f}] "
                    f"permutation p={r.p_permutation:.3f} (CR2 t p={r.p_value:.3f}; {r.n_clusters} annotators, "
                    f"{r.n_obs} gold judgements)")
    return 0

