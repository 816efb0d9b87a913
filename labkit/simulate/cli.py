"""``labkit simulate fit | run | check``: fit a program model, run policies on it, check its fidelity."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labkit.errors import ParameterError


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("simulate", help="simulate labeling policies on a model fitted on your own history",
                       description="Fit a generative model of the program (annotator skill per class, item "
                                   "difficulty, who labels what, time, drift), run policies on it (redundancy, "
                                   "review, credentials, rewards) over many seeds, and check how far to trust it.")
    ss = s.add_subparsers(dest="simulate_command", metavar="ACTION")
    p = ss.add_parser("fit", help="fit the program model on a labels file (gold optional)")
    p.add_argument("labels", help="labels file(s) (any importable format; 'a:b' for several)")
    p.add_argument("--gold", help="gold file: gold items take their gold label as truth (others: the consensus)")
    p.add_argument("--task", help="only this task")
    p.add_argument("--guidelines", metavar="DIR", help="carry labels made under older guideline versions to the "
                                                       "gold's version first (as the reports and labkit score do)")
    p.add_argument("--out", required=True, help="model file (JSON)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_fit)

    p = ss.add_parser("run", help="run policies (a YAML file) over seeds on a fitted model")
    p.add_argument("model", help="model file from `labkit simulate fit`")
    p.add_argument("--policies", required=True, help="policies file (YAML; see docs/simulation.md)")
    p.add_argument("--seeds", type=int, default=20, help="seeds per policy (default 20)")
    p.add_argument("--items", type=int, help="items per run (default: the policies file's, else 10000)")
    p.add_argument("--task", help="the model's task (default: its only one)")
    p.add_argument("--out", help="folder for runs.csv, summary.csv and metrics.json")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_run)

    p = ss.add_parser("check", help="fidelity on your data: fit on half the gold items, predict the other half")
    p.add_argument("labels")
    p.add_argument("--gold", required=True)
    p.add_argument("--task")
    p.add_argument("--guidelines", metavar="DIR", help="carry labels to the gold's guideline version first")
    p.add_argument("--splits", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_check)


def _emit(args: argparse.Namespace, summary: dict, human: str) -> None:
    from labkit.cli import emit

    emit(args, summary, human)


def _prepare(args: argparse.Namespace) -> tuple:
    """The labels (in the gold's guideline terms with --guidelines) and the gold."""
    from labkit.io.base import load_labels
    from labkit.schema import read_gold

    table = load_labels(args.labels)
    gold = read_gold(args.gold) if args.gold else None
    if getattr(args, "guidelines", None):
        if gold is None:
            raise ParameterError("--guidelines carries labels to the gold's version: it needs --gold")
        from labkit.guidelines.migrate import in_gold_terms
        from labkit.guidelines.model import Guidelines

        tasks = sorted(table["task"].astype(str).unique())
        task = args.task or (tasks[0] if len(tasks) == 1 else None)
        if task is None:
            raise ParameterError(f"--guidelines: the labels hold several tasks ({', '.join(tasks)}); choose one with --task")
        table, notes = in_gold_terms(table, gold, Guidelines.load(args.guidelines), task)
        for n in notes:
            print(f"labkit simulate: {n}", file=sys.stderr)
    return table, gold


def run_fit(args: argparse.Namespace) -> int:
    from labkit.simulate.model import fit_program

    table, gold = _prepare(args)
    model = fit_program(table, gold, task=args.task, source=Path(str(args.labels)).name)
    path = model.save(args.out)
    info = {t: m.info for t, m in model.tasks.items()}
    lines = [f"model written to {path}"]
    for t, i in info.items():
        lines.append(f"  {t}: {i['n_items']} items ({i['n_truth_gold']} truth from gold, {i['n_truth_consensus']} from "
                     f"consensus), {i['n_annotators']} annotators, {i['n_judgements']} judgements; durations "
                     f"{i['durations']}; review time {i['review_time']}; drift {i['drift']}; item easiness scale "
                     f"{i['item_easiness_scale']:g} ({i['item_easiness_scale_choice']})")
    _emit(args, {"model": str(path), "tasks": info, "fitted_at": model.fitted_at}, "\n".join(lines))
    return 0


def run_run(args: argparse.Namespace) -> int:
    from labkit.simulate.batch import run_file

    if args.seeds < 1:
        raise ParameterError(f"--seeds must be at least 1, got {args.seeds}")

    def progress(done: int, total: int) -> None:
        if not args.quiet and (done == total or done % max(1, total // 20) == 0):
            print(f"labkit simulate: {done}/{total} runs", file=sys.stderr, flush=True)

    res = run_file(args.model, args.policies, seeds=args.seeds, n_items=args.items, task=args.task, out=args.out,
                   progress=progress)
    summ = res["summary"]
    lines = [f"{len(summ)} policies x {args.seeds} seeds, {res['n_items']} items per run "
             f"(simulated, fitted on {res['source']} at {res['fitted_at']})"]
    for r in summ.to_dict("records"):
        lines.append(f"  {r['policy']}: accuracy {r['accuracy']:.3f} [{r['accuracy_low']:.3f}, {r['accuracy_high']:.3f}], "
                     f"{r['labels_per_item']:.2f} labels/item, {r['annotator_hours']:.0f} annotator h, "
                     f"{r['reviewer_hours']:.0f} reviewer h")
    _emit(args, res["metrics"], "\n".join(lines))
    return 0


def run_check(args: argparse.Namespace) -> int:
    from labkit.simulate.fidelity import check

    table, gold = _prepare(args)
    r = check(table, gold, task=args.task, splits=args.splits)
    mae = r["mae_points"]
    human = (f"{r['task']}: fit on half of {r['n_gold_items']} gold items, predicted majority-vote accuracy at "
             f"k = 1..{r['k'][-1]} on the other half ({r['splits']} splits); mean absolute error in points:\n"
             + "\n".join(f"  {k}: {v:.2f}" for k, v in mae.items())
             + (f"\nlabkit's model is closer than every independence baseline (best: {r['best_baseline']})."
                if r["labkit_better_than_baselines"]
                else f"\nan independence baseline ({r['best_baseline']}) is as close or closer on this program: trust "
                     "the simulator's redundancy predictions here only within that error."))
    _emit(args, {k: v for k, v in r.items() if k != "curves"}, human)
    return 0
