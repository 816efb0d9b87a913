"""``labkit automate audit`` and ``labkit automate plan``: model pre-labels audited, and auto-accepted only
where Learn-then-Test guarantees the error rate."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from labkit.cli import emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("automate", help="audit model pre-labels; plan which to auto-accept with a guaranteed error rate",
                       description="Model pre-labels (source = model): audit them against gold, review or consensus, "
                                   "and plan which can skip human review with a finite-sample error guarantee.")
    asub = p.add_subparsers(dest="automate_command", metavar="VERB")

    a = asub.add_parser("audit", help="accuracy, calibration and override rate of model pre-labels",
                        description="Accuracy (Wilson 95%), ECE and human override rate of the model's pre-labels, "
                                    "per label, slice, model version and week, beside the human pool.")
    a.add_argument("labels", help="label file(s) anything `labkit import` reads; several joined with ':'")
    a.add_argument("--gold", help="gold file (item_id, task, label); without it: review, then consensus")
    a.add_argument("--task", help="task (default: all)")
    a.add_argument("--guidelines", metavar="DIR", help="guidelines folder: labels made under older versions are "
                   "carried to the gold's version (else the newest) first, so a renamed label is not an error")
    a.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    a.set_defaults(func=run_audit, command="automate audit")

    q = asub.add_parser("plan", help="auto-accept plan: Learn-then-Test thresholds per label or slice",
                        description="Fit thresholds on the calibration (gold) items so that the error rate of "
                                    "auto-accepted labels is <= --target-error with probability >= 1 - --delta, and "
                                    "write one row per model pre-label (accepted or routed to people).")
    q.add_argument("labels", help="label file(s) anything `labkit import` reads; several joined with ':'")
    q.add_argument("--calibration", required=True, help="gold file: the human-verified calibration items")
    q.add_argument("--target-error", type=float, required=True, help="largest error rate of accepted labels, e.g. 0.05")
    q.add_argument("--delta", type=float, default=0.1, help="allowed probability that the guarantee fails (default 0.1)")
    q.add_argument("--grouping", default="auto", choices=["auto", "global", "label", "slice"],
                   help="thresholds per: auto (the best of global/label/slice, delta split between them; default), "
                        "or one scheme at the full delta")
    q.add_argument("--with-reviewed", action="store_true",
                   help="also calibrate on items a reviewer or adjudicator labelled (their label as the reference)")
    q.add_argument("--task", help="task (default: all)")
    q.add_argument("--guidelines", metavar="DIR", help="guidelines folder: labels made under older versions are "
                   "carried to the gold's version (else the newest) first, so a renamed label is not an error")
    q.add_argument("--out", required=True, help="plan file (.csv or .parquet), written atomically")
    q.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    q.set_defaults(func=run_plan, command="automate plan")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _clean(x: Any) -> Any:
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def _in_terms(table: Any, gold: Any, guidelines: str | None) -> tuple[Any, list[str]]:
    if not guidelines:
        return table, []
    from labkit.guidelines.migrate import in_common_terms
    from labkit.guidelines.model import Guidelines

    return in_common_terms(table, gold, Guidelines.load(guidelines))


def run_audit(args: argparse.Namespace) -> int:
    from labkit.automation.audit import audit
    from labkit.io import load_labels
    from labkit.schema import read_gold

    table = load_labels(args.labels)
    gold = read_gold(args.gold) if args.gold else None
    table, terms = _in_terms(table, gold, args.guidelines)
    r = audit(table, gold, task=args.task)
    o = r.overall
    lines = [f"model pre-labels: {o['n_model_labels']} ({o['n_scored']} with a reference: "
             + ", ".join(f"{k} {v}" for k, v in o["references"].items()) + ")",
             f"accuracy {o['accuracy']:.3f} [{o['ci_low']:.3f}, {o['ci_high']:.3f}]  mean confidence "
             f"{o['mean_confidence']:.3f}  ECE {o['ece']:.3f}  human override rate {o['override_rate']:.3f} "
             f"(of {o['n_overridable']} reviewed)  human pool accuracy {o['human_accuracy']:.3f}"]
    for key, t in r.by.items():
        lines.append(f"\nby {key}:")
        lines.append(t[[key, "n", "accuracy", "ci_low", "ci_high", "ece", "override_rate", "human_accuracy",
                        "verdict"]].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    lines += [f"note: {n}" for n in terms + list(r.notes)]
    emit(args, _clean(r.to_dict()), "\n".join(lines))
    return 0


def run_plan(args: argparse.Namespace) -> int:
    from labkit.automation.monitor import audit_sample_size
    from labkit.automation.plan import make_plan, summary, write_plan
    from labkit.io import load_labels
    from labkit.schema import read_gold

    table = load_labels(args.labels)
    gold = read_gold(args.calibration)
    table, terms = _in_terms(table, gold, args.guidelines)
    for n in terms:  # on stderr: stdout's last line stays the --json object
        print(f"note: {n}", file=sys.stderr)
    plan, pol, base = make_plan(table, gold, target_error=args.target_error, delta=args.delta,
                                grouping=args.grouping, task=args.task, reviewed=args.with_reviewed)
    write_plan(plan, args.out)
    s = summary(plan, pol, base)
    s["out"] = args.out
    s["spot_checks_per_batch"] = audit_sample_size(args.target_error, args.delta)
    s["groups"] = pol.groups.to_dict("records")
    s["candidates"] = pol.candidates.to_dict("records")
    if s["n_accepted"] == 0:
        s["reason"] = ("no threshold could be certified on this calibration set: its model labels are wrong too often "
                       "at every confidence (or too few per group) for the target; everything goes to people")
    th = ", ".join(f"{k}: {'none' if math.isinf(v) else f'{v:.3f}'}" for k, v in pol.thresholds.items())
    human = (f"policy {pol.policy_id} ({pol.scheme} thresholds: {th})\n{pol.guarantee}\n"
             f"accepted {s['n_accepted']} of {s['n_model_labels']} model labels ({s['accepted_share']:.1%}); "
             f"{s['n_to_review']} go to people; a human label already stands on {s['n_human_wins']} (it wins)\n"
             f"textbook (one global threshold, full delta): {s['textbook_threshold']}; naive threshold: "
             f"{s['naive_threshold']}\nspot-check {s['spot_checks_per_batch']} accepted items per new batch "
             f"(zero errors certify the target at delta {args.delta:g})\nwrote {args.out}"
             + (f"\n{s['reason']}" if "reason" in s else ""))
    emit(args, _clean(s), human)
    return 0
