"""``labkit review plan | audit | apply``."""

from __future__ import annotations

import argparse
from typing import Any

from labkit.cli import emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("review", help="budgeted review queue, spot checks, blind audit, fold review back",
                       description="Plan review under a budget, audit annotators and unreviewed labels, and fold "
                                   "review outcomes into corrected labels. See docs/review.md.")
    rs = p.add_subparsers(dest="review_command", metavar="VERB")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    pl = rs.add_parser("plan", help="rank items by expected error cost removed per reviewer minute, cut at a budget")
    pl.add_argument("labels", help="label file(s) (anything `labkit import` reads; several joined with ':')")
    b = pl.add_mutually_exclusive_group(required=True)
    b.add_argument("--budget-hours", type=float, help="reviewer hours")
    b.add_argument("--budget-items", type=int, help="number of items")
    b.add_argument("--fraction", type=float, help="share of items (1 ranks every item)")
    pl.add_argument("--validation", metavar="DIR", help="a `labkit validate --out DIR` folder: critical failures go first")
    pl.add_argument("--gold", help="gold file: learns the ranking weights (cross-fitted) or calibrates p_error")
    pl.add_argument("--reviewed", metavar="OUTCOMES",
                    help="review outcomes so far (file(s) joined with ':'; rows without a stage count as stage=review): "
                         "reviewed items go last and their outcomes refine the ranking of the rest")
    pl.add_argument("--costs", help="cost CSV: task (optional), true_label, read_as, cost (wins over the guideline's)")
    pl.add_argument("--minutes-per-item", type=float, default=1.0,
                    help="review minutes per item when the labels carry no review-stage durations (default 1)")
    pl.add_argument("--guidelines", metavar="DIR",
                    help="guidelines folder: labels carried to one version's terms per task (the gold's, else the "
                         "newest), error_costs of the newest version, label definitions in the evidence")
    pl.add_argument("--evidence", metavar="JSON", help="also write the evidence of every queued item (pseudonymous)")
    pl.add_argument("--out", required=True, help="queue CSV (one row per queued item, best first)")
    pl.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    pl.set_defaults(func=run_plan)

    au = rs.add_parser("audit", help="spot checks per annotator (CUSUM on gold) and the blind audit of unreviewed labels",
                       description="With --gold: a calibrated CUSUM per annotator on the gold items in their stream "
                                   "(and, with --consensus-evidence, agreement with consensus elsewhere). With "
                                   "--queue and --blind-sample N: draw a stratified random sample of unqueued "
                                   "items. With --queue and --blind-results LABELS: estimate the error rate left "
                                   "in unreviewed labels from review-stage rows on the sampled items.")
    au.add_argument("labels", help="label file(s)")
    au.add_argument("--gold", help="gold file (spot checks)")
    au.add_argument("--guidelines", metavar="DIR",
                    help="guidelines folder: judgements made under older versions are carried to the gold's version "
                         "first, so a renamed label is not counted as an error")
    au.add_argument("--gold-rate", type=float, help="share of items that are gold (default: measured)")
    au.add_argument("--good-accuracy", type=float, default=0.95, help="accuracy of a good annotator (default 0.95)")
    au.add_argument("--bad-accuracy", type=float, default=0.85, help="accuracy the detector catches (default 0.85)")
    au.add_argument("--false-alarm", type=float, default=0.045,
                    help="false-alarm probability over --stream items for a good annotator (default 0.045)")
    au.add_argument("--stream", type=int, default=2000, help="stream length the false-alarm rate holds over (default 2000)")
    au.add_argument("--consensus-evidence", action="store_true", help="count agreement with consensus on non-gold items")
    au.add_argument("--queue", help="a queue CSV from `labkit review plan --fraction 1` (blind audit)")
    au.add_argument("--blind-sample", type=int, metavar="N", help="draw N unqueued items for blind re-review")
    au.add_argument("--blind-results", metavar="LABELS", help="review-stage labels of the blind sample")
    au.add_argument("--sample", help="the blind sample CSV (written with --blind-sample, read with --blind-results)")
    au.add_argument("--seed", type=int, default=0)
    au.add_argument("--out", help="spot-check status CSV")
    au.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    au.set_defaults(func=run_audit)

    ap = rs.add_parser("apply", help="fold review and adjudication rows into corrected labels with provenance")
    ap.add_argument("labels", help="label file(s) including stage=review|adjudication rows")
    ap.add_argument("--out", required=True, help="corrected-label CSV or Parquet")
    ap.add_argument("--patterns", help="also write per-annotator error patterns (CSV)")
    ap.add_argument("--propose", action="store_true",
                    help="file a guideline proposal (add_edge_case) for each frequent review error pattern")
    ap.add_argument("--guidelines", metavar="DIR", help="guidelines folder (with --propose)")
    ap.add_argument("--author", help="member id filing the proposals (with --propose)")
    ap.add_argument("--min-judgements", type=int, default=5, help="judgements a pattern needs (default 5)")
    ap.add_argument("--min-annotators", type=int, default=2, help="different annotators a pattern needs (default 2)")
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    ap.set_defaults(func=run_apply)


def _write_frame(df: Any, path: str) -> None:
    from labkit._atomic import atomic_open, atomic_path

    if path.endswith(".parquet"):
        with atomic_path(path) as tmp:
            df.to_parquet(tmp, index=False)
    else:
        with atomic_open(path) as fh:
            df.to_csv(fh, index=False)


def run_plan(args: argparse.Namespace) -> int:
    from labkit.io import load_labels
    from labkit.review.planner import plan_review, read_costs, read_validation_failures
    from labkit.schema import read_gold

    table = load_labels(args.labels)
    if args.reviewed:
        from labkit.io.base import concat_labels
        from labkit.review.apply import as_review_outcomes

        table = concat_labels([table, as_review_outcomes(load_labels(args.reviewed))])
    g = None
    costs = None
    gold = read_gold(args.gold) if args.gold else None
    terms: list[str] = []
    if args.guidelines:
        from labkit.guidelines.migrate import in_common_terms
        from labkit.guidelines.model import Guidelines
        from labkit.review.planner import costs_from_guidelines

        g = Guidelines.load(args.guidelines)
        costs = costs_from_guidelines(g) or None
        table, terms = in_common_terms(table, gold, g)
    if args.costs:  # a cost file wins over the guideline, task by task
        costs = {**(costs or {}), **read_costs(args.costs)}
    plan = plan_review(table, budget_hours=args.budget_hours, budget_items=args.budget_items,
                       budget_fraction=args.fraction, gold=gold,
                       validation=read_validation_failures(args.validation) if args.validation else None,
                       costs=costs, minutes_per_item=args.minutes_per_item)
    q = plan.queued.drop(columns=["queued"])
    _write_frame(q, args.out)
    summary = plan.summary()
    summary["out"] = args.out
    summary["guideline_terms"] = terms
    if args.evidence:
        from labkit._atomic import write_json
        from labkit.review.evidence import evidence

        write_json(args.evidence, evidence(plan, table, guidelines=g))
        summary["evidence"] = args.evidence
    emit(args, summary, "".join(f"{n}\n" for n in terms)
         + f"queued {summary['queued']} of {summary['items']} items "
           f"({summary['queued_minutes']:.0f} reviewer minutes); expected errors caught "
           f"{summary['expected_errors_caught']:.1f} of {summary['expected_errors_total']:.1f} -> {args.out}")
    return 0


def run_audit(args: argparse.Namespace) -> int:
    import pandas as pd

    from labkit.errors import InputRefused, ParameterError
    from labkit.io import load_labels
    from labkit.review import audit

    table = load_labels(args.labels)
    summary: dict[str, Any] = {}
    lines: list[str] = []
    if not (args.gold or args.blind_sample is not None or args.blind_results):
        raise ParameterError("give --gold (spot checks), --blind-sample N or --blind-results LABELS")
    if args.gold:
        from labkit.reports.display import Pseudonyms
        from labkit.schema import read_gold
        from labkit.stats.truth import fit_consensus

        gold = read_gold(args.gold)
        if args.guidelines:
            from labkit.guidelines.migrate import in_common_terms
            from labkit.guidelines.model import Guidelines

            table, terms = in_common_terms(table, gold, Guidelines.load(args.guidelines))
            lines += terms
            summary["guideline_terms"] = terms
        lab = table[(table["stage"].astype(str) == "label") & (table["source"].astype(str) == "human")]
        gk = set(gold["item_id"].astype(str))
        rate = args.gold_rate if args.gold_rate is not None else float(lab["item_id"].astype(str).isin(gk).mean())
        if not 0 < rate < 1:
            raise ParameterError(f"{args.gold}: gold rate in the labels is {rate:.3f}; spot checks need 0 < rate < 1")
        cons = None
        c, k = 0.95, 2
        if args.consensus_evidence:
            fit = fit_consensus(lab)
            cons = fit.consensus
            c = float(cons["confidence"].mean())
            k = max(len(p.columns) for p in fit.posteriors.values())
        design = audit.calibrate_threshold(a0=args.good_accuracy, a1=args.bad_accuracy, gold_rate=rate,
                                           n_items=args.stream, alpha=args.false_alarm,
                                           use_consensus=args.consensus_evidence, consensus_accuracy=c, n_labels=k,
                                           seed=args.seed)
        status = audit.spot_check_status(table, gold, design, consensus=cons)
        if args.out:
            _write_frame(status, args.out)
        ps = Pseudonyms()
        summary["spot_checks"] = {"threshold": design.threshold, "gold_rate": rate, "false_alarm": args.false_alarm,
                                  "annotators": int(len(status)), "flagged": [ps(a) for a in
                                                                              status.loc[status["flagged"], "annotator_id"]]}
        lines.append(f"spot checks: CUSUM threshold {design.threshold:.2f} at gold rate {rate:.1%}; "
                     f"{int(status['flagged'].sum())} of {len(status)} annotators flagged")
    if args.blind_sample is not None or args.blind_results:
        if not args.queue:
            raise ParameterError("the blind audit needs --queue QUEUE.csv (from `labkit review plan --fraction 1`)")
        try:
            queue = pd.read_csv(args.queue, dtype={"item_id": str, "task": str})
        except FileNotFoundError:
            raise InputRefused(args.queue, "no such file") from None
        for col in ("item_id", "task", "consensus_label"):
            if col not in queue.columns:
                raise InputRefused(args.queue, f"missing column {col!r}", field=col)
        if "queued" not in queue.columns:  # a plan CSV lists queued items only: the rest of the labels are unqueued
            from labkit.stats.truth import fit_consensus

            lab = table[(table["stage"].astype(str) == "label") & (table["source"].astype(str) == "human")]
            cons = fit_consensus(lab).consensus
            allq = pd.DataFrame({"item_id": cons["item_id"].astype(str), "task": cons["task"].astype(str),
                                 "consensus_label": cons["label"].astype(str)})
            key = set(zip(queue["item_id"].astype(str), queue["task"].astype(str)))
            allq["queued"] = [k in key for k in zip(allq["item_id"], allq["task"])]
            queue = allq
        if args.blind_sample is not None:
            if not args.sample:
                raise ParameterError("--blind-sample needs --sample OUT.csv to write the sample to")
            s = audit.blind_audit_sample(queue, args.blind_sample, seed=args.seed)
            _write_frame(s, args.sample)
            summary["blind_sample"] = {"items": int(len(s)), "out": args.sample}
            lines.append(f"blind sample: {len(s)} unqueued items -> {args.sample}")
        if args.blind_results:
            if not args.sample:
                raise ParameterError("--blind-results needs --sample SAMPLE.csv (the drawn sample)")
            s = pd.read_csv(args.sample, dtype={"item_id": str, "task": str, "consensus_label": str, "stratum": str})
            rv = load_labels(args.blind_results)
            rv = rv[rv["stage"].astype(str) != "label"]
            rl = rv.assign(_k=rv["item_id"].astype(str) + "\x1f" + rv["task"].astype(str)).drop_duplicates("_k", keep="last")
            m = pd.Series(rl["label"].astype(str).to_numpy(), index=rl["_k"].to_numpy())
            got = (s["item_id"] + "\x1f" + s["task"]).map(m)
            done = s[got.notna()].assign(wrong=(got[got.notna()] != s.loc[got.notna(), "consensus_label"]).to_numpy())
            if done.empty:
                raise InputRefused(args.blind_results, "no review-stage row for any item of the blind sample")
            est = audit.blind_audit_estimate(done)
            est["not_yet_reviewed"] = int(got.isna().sum())
            summary["blind_audit"] = est
            lines.append(f"blind audit: error rate of unreviewed accepted labels {est['error_rate']:.1%} "
                         f"[{est['ci_low']:.1%}, {est['ci_high']:.1%}] from {est['audited']} items")
    emit(args, summary, "\n".join(lines))
    return 0


def run_apply(args: argparse.Namespace) -> int:
    from labkit.io import load_labels
    from labkit.review.apply import apply_reviews, error_patterns

    table = load_labels(args.labels)
    corrected = apply_reviews(table)
    _write_frame(corrected, args.out)
    summary = {"items": int(len(corrected)), "changed": int(corrected["changed"].sum()),
               "reviewed": int((corrected["decided_stage"] != "consensus").sum()), "out": args.out}
    if args.patterns:
        _write_frame(error_patterns(table, corrected), args.patterns)
        summary["patterns"] = args.patterns
    extra = ""
    if args.propose:
        from labkit.errors import ParameterError
        from labkit.review.apply import propose_from_review

        if not (args.guidelines and args.author):
            raise ParameterError("--propose needs --guidelines DIR and --author ID")
        props = propose_from_review(table, corrected, root=args.guidelines, author=args.author,
                                    min_judgements=args.min_judgements, min_annotators=args.min_annotators)
        summary["proposals"] = [{"id": pr.id, "path": pr.path} for pr in props]
        extra = f"; {len(props)} guideline proposal(s) filed" + "".join(f"\n  {pr.path}" for pr in props)
    emit(args, summary, f"{summary['reviewed']} items decided by review, {summary['changed']} labels changed "
                        f"-> {args.out}{extra}")
    return 0


