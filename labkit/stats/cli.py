"""``labkit agreement``, ``labkit consensus``, ``labkit score``."""

from __future__ import annotations

import argparse
import math
from typing import Any

from labkit.cli import emit as _emit


def emit(args: argparse.Namespace, summary: dict[str, Any], human: str | None = None) -> None:
    """:func:`labkit.cli.emit` with the engine choice in the JSON summary."""
    from labkit.engines.cli import engine_summary

    _emit(args, {**summary, "engine": engine_summary(args)}, human)

_VALUE_KEY = {"krippendorff": "alpha", "fleiss": "kappa", "cohen": "kappa", "ac1": "ac1", "percent": "agreement"}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("labels", help="label file(s): anything `labkit import` reads, or canonical Parquet; "
                                  "several joined with ':'")
    p.add_argument("--task", help="task to measure (default: the table's only task)")
    p.add_argument("--source", choices=["human", "model", "all"], default="human",
                   help="whose judgements count (default human: model pre-labels are not raters)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    from labkit.engines.args import add_engine_args

    add_engine_args(p)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("agreement", help="inter-annotator agreement (Krippendorff, Fleiss, Cohen, AC1, percent)",
                       description="Inter-annotator agreement with n items, n pairable judgements and an optional "
                                   "bootstrap interval over items; optionally broken down by label, slice, task or "
                                   "guideline version.")
    _common(p)
    p.add_argument("--metric", default="krippendorff", choices=["krippendorff", "fleiss", "cohen", "ac1", "percent"])
    p.add_argument("--level", default="nominal", choices=["nominal", "ordinal", "interval", "ratio"],
                   help="Krippendorff's level (default nominal)")
    p.add_argument("--order", help="label order for --level ordinal and weighted kappa: comma separated, or "
                                   "'guidelines' for the label order of the task's latest guideline version "
                                   "(default numeric or alphabetical)")
    p.add_argument("--guidelines", default="guidelines", help="guidelines folder for --order guidelines "
                                                              "(default ./guidelines)")
    p.add_argument("--by", choices=["label", "slice", "task", "guideline_version", "day", "week", "month"],
                   help="break down by this column (label: one-vs-rest)")
    p.add_argument("--ci", type=float, help="bootstrap confidence level, e.g. 0.95 (default: no interval)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--pair", nargs=2, metavar=("A", "B"), help="--metric cohen: the two annotators "
                   "(default: every pair among the 50 busiest annotators)")
    p.add_argument("--weights", choices=["linear", "quadratic"], help="--metric cohen: weighted kappa")
    p.add_argument("--min-overlap", type=int, default=10,
                   help="--metric cohen without --pair: leave out pairs sharing fewer items (default 10)")
    p.set_defaults(func=run_agreement)

    p = sub.add_parser("consensus", help="consensus labels (default: the robust model every report uses)",
                       description="One consensus label per item with a confidence; with --gold, accuracy on the gold "
                                   "items (and, for the default model, confidence calibrated on gold, cross-fitted).")
    _common(p)
    p.add_argument("--method", choices=["robust", "mv", "ds"], default="robust",
                   help="robust (default): Dawid-Skene with empirical-Bayes shrinkage of annotator confusions and "
                        "calibrated confidence; mv: majority vote; ds: textbook Dawid-Skene EM")
    p.add_argument("--gold", help="gold file (item_id plus a label or gold column)")
    p.add_argument("--out", help="write the consensus table (.parquet or .csv)")
    p.add_argument("--ties", default="skill", choices=["skill", "prior", "order", "none"],
                   help="majority-vote tie rule (default skill; see docs/statistics.md)")
    p.add_argument("--max-iter", type=int, default=100, help="Dawid-Skene iteration cap (default 100)")
    p.add_argument("--tol", type=float, default=1e-6, help="Dawid-Skene tolerance on posteriors (default 1e-6)")
    p.add_argument("--ll-tol", type=float, default=None,
                   help="Dawid-Skene: also stop when the log-likelihood gains less than this per judgement "
                        "(crowd-kit's rule, e.g. 1e-5; default: posteriors only)")
    p.add_argument("--threshold", type=float, default=0.7,
                   help="confidence below which an item goes to adjudication (default 0.7)")
    p.add_argument("--guidelines", metavar="DIR",
                   help="guidelines folder: carry labels made under older versions to one version's terms per task "
                        "(the gold's, else the newest) first, so a renamed label is one label (pandas engine)")
    p.set_defaults(func=run_consensus)

    p = sub.add_parser("score", help="annotator accuracy against gold (Wilson intervals)",
                       description="Per-annotator accuracy on gold items with a Wilson interval; annotators without "
                                   "gold overlap are scored against leave-one-out consensus and marked so.")
    _common(p)
    p.add_argument("--gold", required=True, help="gold file (item_id plus a label or gold column)")
    p.add_argument("--ci", type=float, default=0.95, help="Wilson interval level (default 0.95)")
    p.add_argument("--guidelines", metavar="DIR",
                   help="guidelines folder: carry labels made under older versions to the gold's version with "
                        "the releases' migration maps before scoring (without it labels are compared as recorded)")
    p.set_defaults(func=run_score)


def _route(args: argparse.Namespace, extra: tuple[str, ...] = ()) -> tuple[Any, Any, Any]:
    """(table, None, None) for the in-memory path (only the id columns when the input is canonical
    Parquet), or (None, choice, input) when an out-of-core engine runs the verb."""
    from labkit.engines.cli import choose, load_in_memory

    choice, inp = choose(args)
    if choice.name != "pandas" and inp is not None:
        return None, choice, inp
    return load_in_memory(args, inp, extra), None, None


def _source(args: argparse.Namespace) -> str | None:
    return None if args.source == "all" else args.source


def _num(x: Any) -> Any:
    return None if isinstance(x, float) and math.isnan(x) else x


def _fmt(x: Any) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def _order(args: argparse.Namespace, table: Any, engine_task: Any = None) -> list[str] | None:
    """Label order from --order: a comma-separated list, or the task's latest guideline version."""
    if not args.order:
        return None
    if args.order.strip() != "guidelines":
        return [s.strip() for s in args.order.split(",")]
    from labkit.errors import ParameterError
    from labkit.guidelines.model import Guidelines
    from labkit.stats.counts import as_label_table, resolve_task

    task = engine_task() if table is None else resolve_task(as_label_table(table), args.task)
    g = Guidelines.load(args.guidelines)
    if task not in g.tasks:
        raise ParameterError(f"--order guidelines: no guideline versions for task {task!r} in {args.guidelines}")
    return list(g.latest(task).label_names)


def run_agreement(args: argparse.Namespace) -> int:
    from labkit.errors import ParameterError
    from labkit.stats import agreement as ag

    key = _VALUE_KEY[args.metric]
    extra = (args.by,) if args.by in ("slice", "guideline_version") else ("created_at",) if args.by in (
        "day", "week", "month") else ()
    table, choice, inp = _route(args, extra)
    if table is None:
        return _agreement_offloaded(args, choice, inp, key)
    src = _source(args)
    order = _order(args, table)
    kw = dict(ci=args.ci, n_boot=args.n_boot, seed=args.seed, task=args.task, source=src)
    if args.by:
        if args.metric == "cohen":
            raise ParameterError("--by works with --metric krippendorff, fleiss, ac1 or percent, not cohen")
        df = ag.agreement_by(table, by=args.by, metric=args.metric, level=args.level, order=order, **kw)
        groups = [{args.by: r[args.by], key: _num(r["value"]), "ci": [_num(r["ci_low"]), _num(r["ci_high"])],
                   "n_items": int(r["n_items"]), "n_pairable": int(r["n_pairable"]),
                   "n_judgements": int(r["n_judgements"]), "reason": r["reason"]} for r in df.to_dict("records")]
        return _emit_groups(args, groups, key)
    if args.metric == "cohen":
        if args.pair:
            res = ag.cohen_kappa(table, args.pair[0], args.pair[1], weights=args.weights, order=order, **kw)
        else:
            if args.min_overlap < 1:
                raise ParameterError(f"--min-overlap must be a positive integer, got {args.min_overlap}")
            pw = ag.pairwise_cohen(table, weights=args.weights, order=order, task=args.task, source=src,
                                   min_overlap=args.min_overlap)
            vals = pw["kappa"].dropna()
            summary = {"metric": "cohen", "weights": args.weights, "pairs": int(len(pw)),
                       "min_overlap": args.min_overlap, "n_undefined": int(pw["kappa"].isna().sum()),
                       "median_kappa": _num(float(vals.median())) if len(vals) else None,
                       "min_kappa": _num(float(vals.min())) if len(vals) else None,
                       "max_kappa": _num(float(vals.max())) if len(vals) else None,
                       "pairwise": [{"a": r["annotator_a"], "b": r["annotator_b"], "kappa": _num(r["kappa"]),
                                     "n_items": int(r["n_items"])} for r in pw.to_dict("records")]}
            human = (f"Cohen's kappa over {len(pw)} annotator pairs sharing >= {args.min_overlap} items "
                     f"(among the 50 busiest annotators): median {_fmt(summary['median_kappa'])}, "
                     f"min {_fmt(summary['min_kappa'])}, max {_fmt(summary['max_kappa'])}")
            if summary["n_undefined"]:
                human += f"; {summary['n_undefined']} pairs undefined (both used one and the same label)"
            emit(args, summary, human)
            return 0
    elif args.metric == "krippendorff":
        res = ag.krippendorff_alpha(table, args.level, order, **kw)
    elif args.metric == "fleiss":
        res = ag.fleiss_kappa(table, **kw)
    elif args.metric == "ac1":
        res = ag.gwet_ac1(table, **kw)
    else:
        res = ag.percent_agreement(table, **kw)
    return _emit_agreement(args, res, key)


def _agreement_offloaded(args: argparse.Namespace, choice: Any, inp: Any, key: str) -> int:
    from labkit.engines import cli as ecli
    from labkit.engines.base import get_engine

    def engine_task() -> str:
        with get_engine(choice.name, memory_limit=args.memory_limit, temp_dir=args.temp_dir,
                        master=args.spark_master) as eng:
            return eng.resolve_task(inp, args.task)

    order = _order(args, None, engine_task)
    out = ecli.agreement(args, choice, inp, order)
    if "result" in out:
        return _emit_agreement(args, out["result"], key)
    groups = [{args.by: name, key: _num(r.value), "ci": [_num(r.ci_low), _num(r.ci_high)], "n_items": r.n_items,
               "n_pairable": r.n_pairable, "n_judgements": nj, "reason": r.reason} for name, _c, r, nj in out["groups"]]
    return _emit_groups(args, groups, key)


def _emit_groups(args: argparse.Namespace, groups: list[dict[str, Any]], key: str) -> int:
    """Print an agreement breakdown (``--by``), whichever engine computed it."""
    summary = {"metric": args.metric, "level": args.level if args.metric == "krippendorff" else None,
               "by": args.by, "groups": groups, "ci_level": args.ci}
    lines = [f"{args.metric}{' (' + args.level + ')' if args.metric == 'krippendorff' else ''} by {args.by}"]
    for g in groups:
        ci = f"  [{_fmt(g['ci'][0])}, {_fmt(g['ci'][1])}]" if args.ci else ""
        lines.append(f"  {str(g[args.by]):<24} {_fmt(g[key])}{ci}  items={g['n_items']} pairable={g['n_pairable']}"
                     + (f"  ({g['reason']})" if g["reason"] else ""))
    emit(args, summary, "\n".join(lines))
    return 0


def _emit_agreement(args: argparse.Namespace, res: Any, key: str) -> int:
    summary = {"metric": res.metric, key: _num(res.value), "ci": [_num(res.ci_low), _num(res.ci_high)],
               "ci_level": res.ci, "n_items": res.n_items, "n_pairable": res.n_pairable, "reason": res.reason,
               "task": res.task}
    if res.metric == "krippendorff":
        summary["level"] = res.level
    if res.metric == "cohen":
        summary["weights"] = res.level
        summary["pair"] = list(args.pair)
    name = {"krippendorff": f"Krippendorff's alpha ({res.level})", "fleiss": "Fleiss' kappa",
            "cohen": "Cohen's kappa" + (f" ({res.level} weights)" if res.level else ""), "ac1": "Gwet's AC1",
            "percent": "percent agreement"}[res.metric]
    human = f"{name} = {_fmt(res.value)}"
    if res.ci is not None and not math.isnan(res.ci_low):
        human += f"  [{_fmt(res.ci_low)}, {_fmt(res.ci_high)}] ({res.ci:.0%} bootstrap over items, {res.n_boot} replicates)"
    human += f"\n{res.n_items} items, {res.n_pairable} pairable judgements, task {res.task}"
    if res.reason:
        human += f"\nundefined: {res.reason}"
    emit(args, summary, human)
    return 0


def run_consensus(args: argparse.Namespace) -> int:
    from pathlib import Path

    from labkit._atomic import atomic_path
    from labkit.errors import ParameterError
    from labkit.schema import read_gold
    from labkit.stats.consensus import DawidSkene, adjudication_queue, consensus_accuracy, majority_vote

    gold = read_gold(args.gold) if args.gold else None
    table, choice, inp = _route(args, ("created_at",) if args.guidelines else ())
    if table is None:
        if args.guidelines:
            raise ParameterError(f"--guidelines carries labels in memory; this input runs on {choice.name} "
                                 f"({choice.reason}): give --engine pandas, or migrate first with "
                                 "`labkit migrate LABELS --to VERSION`")
        return _consensus_offloaded(args, choice, inp, gold)
    terms: list[str] = []
    if args.guidelines:
        from labkit.guidelines.migrate import in_common_terms
        from labkit.guidelines.model import Guidelines

        table, terms = in_common_terms(table, gold, Guidelines.load(args.guidelines))
    src = _source(args)
    summary: dict[str, Any] = {"method": args.method}
    if args.guidelines:
        summary["guideline_terms"] = terms
    if args.method == "mv":
        cons = majority_vote(table, ties=args.ties, task=args.task, source=src)
        summary["ties"] = args.ties
    elif args.method == "robust":
        from labkit.stats.truth import fit_consensus

        fitted = fit_consensus(table, task=args.task, source=src, gold=gold)
        cons = fitted.consensus
        summary["converged"] = all(v["converged"] for v in fitted.info.values())
        summary["n_iter"] = {k: v["n_iter"] for k, v in fitted.info.items()}
        summary["model"] = fitted.info
    else:
        ds = DawidSkene(tol=args.tol, max_iter=args.max_iter, ll_tol=args.ll_tol)
        cons = ds.fit_predict(table, task=args.task, source=src)
        info = cons.attrs["dawid_skene"]
        summary["converged"] = all(v["converged"] for v in info.values())
        summary["n_iter"] = {k: v["n_iter"] for k, v in info.items()}
    summary["n_items"] = int(len(cons))
    summary["tasks"] = sorted(map(str, cons["task"].unique()))
    summary["mean_confidence"] = _num(float(cons["confidence"].mean())) if len(cons) else None
    queue = adjudication_queue(cons, gold, threshold=args.threshold)
    summary["adjudication_queue"] = int(len(queue))
    summary["threshold"] = args.threshold
    if gold is not None:
        acc = consensus_accuracy(cons, gold)
        summary.update({"accuracy": _num(acc["accuracy"]), "n_gold_items": acc["n_gold_items"],
                        "n_correct": acc["n_correct"]})
    if args.out:
        out = Path(args.out)
        if out.suffix.lower() not in (".parquet", ".csv"):
            raise ParameterError(f"--out must end in .parquet or .csv, got {args.out!r}")
        with atomic_path(out, suffix=out.suffix) as tmp:
            if out.suffix.lower() == ".parquet":
                # item ids are (nearly) all distinct: a dictionary page for them only overflows and is
                # re-encoded (10x slower at millions of items); they still read back as a categorical
                cons.to_parquet(tmp, index=False, use_dictionary=[c for c in cons.columns if c != "item_id"])
            else:
                cons.to_csv(tmp, index=False)
        summary["out"] = str(out)
    name = {"mv": "majority vote", "ds": "Dawid-Skene", "robust": "robust consensus"}[args.method]
    human = "".join(f"{n}\n" for n in terms)
    human += f"{name}: {summary['n_items']} items, mean confidence {_fmt(summary['mean_confidence'])}"
    if args.method in ("ds", "robust"):
        steps = summary["n_iter"]
        steps_txt = (f"{next(iter(steps.values()))} EM steps" if len(steps) == 1
                     else "EM steps " + ", ".join(f"{k}: {v}" for k, v in steps.items()))
        cap = f"--max-iter {args.max_iter}" if args.method == "ds" else "its cap of 500 EM steps per round"
        human += f", {'converged' if summary['converged'] else f'did NOT converge within {cap}'} ({steps_txt})"
    if args.method == "robust":
        for t, i in summary["model"].items():
            fam = f"{i.get('prior', '')} prior"
            if "prior_test_z" in i:   # z: the two-way prior's held-out gain over one-coin, in standard errors
                fam += f" (two-way's held-out gain over one-coin: z = {i['prior_test_z']:g}; two-way above 1.96)"
            human += (f"\n  {t}: {fam}, strength {i['strength']:g} judgements; "
                      f"confidence {i['calibration']}")
    return _emit_consensus(args, summary, human, gold is not None)


def _emit_consensus(args: argparse.Namespace, summary: dict[str, Any], human: str, has_gold: bool) -> int:
    """The lines every consensus run ends with (gold accuracy, the adjudication queue, the output), then emit."""
    if has_gold:
        human += f"\naccuracy on {summary['n_gold_items']} gold items: {_fmt(summary['accuracy'])}"
    human += f"\n{summary['adjudication_queue']} items to adjudicate (confidence < {args.threshold:g}"
    human += " or consensus differs from gold)" if has_gold else ")"
    if args.out:
        human += f"\nwrote {args.out}"
    emit(args, summary, human)
    return 0


def _consensus_offloaded(args: argparse.Namespace, choice: Any, inp: Any, gold: Any) -> int:
    from labkit.engines import cli as ecli

    fits = ecli.consensus(args, choice, inp, gold)["fits"]
    n = sum(f.n_items for f in fits)
    mean = sum((f.stats["mean_confidence"] or 0.0) * f.n_items for f in fits) / n if n else None
    summary: dict[str, Any] = {"method": "ds", "converged": all(f.converged for f in fits),
                               "n_iter": {f.task: f.n_iter for f in fits}, "n_items": n,
                               "tasks": sorted(f.task for f in fits), "mean_confidence": _num(mean),
                               "adjudication_queue": sum(f.stats["adjudication_queue"] for f in fits),
                               "threshold": args.threshold}
    if gold is not None:
        ng = sum(f.stats["n_gold_items"] for f in fits)
        nc = sum(f.stats["n_correct"] for f in fits)
        summary.update({"accuracy": _num(nc / ng if ng else float("nan")), "n_gold_items": ng, "n_correct": nc})
    if args.out:
        summary["out"] = str(args.out)
    steps = summary["n_iter"]
    steps_txt = (f"{next(iter(steps.values()))} EM steps" if len(steps) == 1
                 else "EM steps " + ", ".join(f"{k}: {v}" for k, v in steps.items()))
    human = (f"Dawid-Skene: {n} items, mean confidence {_fmt(summary['mean_confidence'])}, "
             f"{'converged' if summary['converged'] else f'did NOT converge within --max-iter {args.max_iter}'} ({steps_txt})")
    return _emit_consensus(args, summary, human, gold is not None)


def run_score(args: argparse.Namespace) -> int:
    from labkit.schema import read_gold
    from labkit.stats.scoring import score_annotators, wilson_interval

    gold = read_gold(args.gold)
    notes: list[str] = []
    if args.guidelines:
        args.engine = "pandas" if args.engine == "auto" else args.engine
    table, choice, inp = _route(args, ("created_at",) if args.guidelines else ())
    if table is None:
        from labkit.engines import cli as ecli

        df = ecli.score(args, choice, inp, gold)
    elif args.guidelines:
        from labkit.errors import ParameterError
        from labkit.guidelines.migrate import in_gold_terms
        from labkit.guidelines.model import Guidelines

        tasks = sorted(table["task"].astype(str).unique())
        task = args.task or (tasks[0] if len(tasks) == 1 else None)
        if task is None:
            raise ParameterError(f"--guidelines: the labels hold several tasks ({', '.join(tasks)}); choose one with --task")
        table, notes = in_gold_terms(table, gold, Guidelines.load(args.guidelines), task)
    if table is not None:
        df = score_annotators(table, gold, ci=args.ci, task=args.task, source=_source(args))
    on_gold = df[df["reference"] == "gold"]
    n, c = int(on_gold["n"].sum()), int(on_gold["correct"].sum())
    lo, hi = wilson_interval(c, n, args.ci)
    summary = {"n_annotators": int(len(df)), "n_scored_on_gold": int(len(on_gold)),
               "n_scored_on_consensus": int((df["reference"] == "consensus (leave-one-out)").sum()),
               "judgements_on_gold": n, "accuracy": _num(c / n) if n else None,
               "ci": [_num(float(lo)), _num(float(hi))], "ci_level": args.ci, "task": str(df["task"].iloc[0]) if len(df) else None,
               "annotators": [{k: _num(v) for k, v in r.items()} for r in df.to_dict("records")],
               "notes": notes}
    lines = [*notes, f"{'annotator':<20} {'n':>6} {'correct':>8} {'accuracy':>9}  {'ci':<17} reference"]
    for r in df.sort_values(["reference", "accuracy"], ascending=[False, True]).to_dict("records"):
        lines.append(f"{r['annotator_id']:<20} {r['n']:>6} {r['correct']:>8} {_fmt(r['accuracy']):>9}  "
                     f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}] {r['reference']}")
    lines.append(f"pooled accuracy on gold: {_fmt(summary['accuracy'])} over {n} judgements "
                 f"[{_fmt(summary['ci'][0])}, {_fmt(summary['ci'][1])}]")
    emit(args, summary, "\n".join(lines))
    return 0
