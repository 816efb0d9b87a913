"""``labkit import``."""

from __future__ import annotations

import argparse

from labkit.cli import emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import a label export into the canonical label table",
                       description="Import a label export (CSV/TSV/Parquet/JSONL, Label Studio, Prodigy, Argilla) "
                                   "into the canonical label table, quarantining what cannot be read.")
    p.add_argument("src", help="the export file")
    p.add_argument("--format", default="auto",
                   choices=["auto", "csv", "parquet", "jsonl", "label-studio", "prodigy", "argilla"])
    p.add_argument("--task", help="task name for records that do not carry one")
    p.add_argument("--guideline-version", help="guideline version for records that do not carry one")
    p.add_argument("--out", required=True, help="output Parquet file (quarantine written beside it)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--strict", action="store_true", help="exit non-zero when anything was quarantined")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from labkit.io import import_file, write_result

    result = import_file(args.src, format=args.format, task=args.task, guideline_version=args.guideline_version)
    summary = write_result(result, args.out)
    human = (f"{summary['src']} ({summary['format']}): {summary['records_in']} records in, "
             f"{summary['accepted']} accepted, {summary['quarantined']} quarantined -> "
             f"{summary['judgements']} judgements by {summary['annotators']} annotators on {summary['items']} items\n"
             f"wrote {summary['out']}\nquarantine: {summary['quarantine']}")
    if summary["quarantine_reasons"]:
        human += "\n" + "\n".join(f"  {n:>6}  {why}" for why, n in summary["quarantine_reasons"].items())
    emit(args, summary, human)
    return 3 if args.strict and summary["quarantined"] else 0
