"""``labkit sample generate``: (re)write the bundled sample program."""

from __future__ import annotations

import argparse

from labkit.cli import emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="generate the bundled sample labeling program")
    sp = p.add_subparsers(dest="sample_command", metavar="ACTION")
    g = sp.add_parser("generate", help="write the seeded sample program into a folder")
    g.add_argument("--out", default="sample", help="output folder (default: sample)")
    g.add_argument("--seed", type=int, default=7)
    g.add_argument("--items", type=int, default=1800, help="number of items (default 1800)")
    g.add_argument("--clean", action="store_true", help="plant no problems (a program validation passes)")
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=run_generate)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_generate(args: argparse.Namespace) -> int:
    from labkit.sample import simulate, write_sample

    prog = simulate(seed=args.seed, n_items=args.items, plant_problems=not args.clean)
    files = write_sample(args.out, prog)
    summary = {"out": args.out, "files": files, **prog.planted.get("counts", {}),
               "planted": sorted(prog.planted.get("problems", {}))}
    emit(args, summary, f"wrote the sample program to {args.out}/ ({summary['judgements']} judgements, "
                        f"{summary['items']} items, {summary['annotators']} annotators, {summary['gold']} gold)\n"
                        + "planted: " + (", ".join(summary["planted"]) or "none"))
    return 0
