"""``labkit validate LABELS [--guidelines DIR] [--suite FILE ...] [--out DIR] [--json] [--engine ...]``.

``--engine duckdb`` or ``spark`` validates Parquet bigger than memory (:mod:`labkit.validation.scale`); ``auto``
picks it when the input would not fit ``--memory-limit``. The choice and its reason go to stderr.

Without ``--guidelines``, ``./guidelines`` is used when it exists; otherwise only the expectations
that need no guidelines run and the others are reported not applicable (said on stderr and in the
summary). Guidelines written for another task (or other labels) are refused.

Exit status: 1 when a critical expectation fails (the gate), 0 otherwise; 2 for a usage or input
error. Great Expectations is imported only inside the handler.
"""

from __future__ import annotations

import argparse
from typing import Any

from labkit.cli import emit


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "validate", help="validate labels against the expectation suites (a CI gate)",
        description="Validate a label export against the Great Expectations suites in expectations/, fed from "
                    "guidelines/. Writes validation.json, failures.csv and validation.html with --out. "
                    "Exit 1 when a critical expectation fails, 0 otherwise.")
    p.add_argument("labels", metavar="LABELS",
                   help="label file(s) labkit import reads (CSV, Parquet, JSONL, Label Studio, ...); join several with ':'")
    p.add_argument("--guidelines", metavar="DIR", default=None,
                   help="guidelines folder (<task>/<version>.yaml); default ./guidelines when it exists, else "
                        "only the checks that need no guidelines run")
    p.add_argument("--suite", action="append", default=None, metavar="FILE",
                   help="suite JSON file (repeatable); default: every expectations/*.json")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="write validation.json, failures.csv and validation.html into DIR")
    p.add_argument("--failures-format", choices=("csv", "parquet"), default="csv", help="failing-rows table format")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object (last line of stdout)")
    from labkit.engines.args import add_engine_args

    add_engine_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os
    import sys

    guidelines = args.guidelines
    if guidelines is None and os.path.isdir("guidelines"):
        guidelines = "guidelines"
    note = None
    if guidelines is None:
        from labkit.validation.engine import NO_GUIDELINES

        note = f"labkit validate: {NO_GUIDELINES}; no ./guidelines folder and no --guidelines"
        print(note, file=sys.stderr)
    from labkit.engines.base import choose_engine
    from labkit.engines.cli import _progress, engine_summary
    from labkit.validation.scale import BYTES_PER_ROW_IN_MEMORY

    choice = choose_engine(args.engine, args.labels, args.memory_limit, bytes_per_row=BYTES_PER_ROW_IN_MEMORY)
    args.engine_choice = choice
    if args.engine != "auto" or choice.name != "pandas":
        print(f"engine: {choice.name} ({choice.reason})", file=sys.stderr, flush=True)
    if choice.name == "spark":
        from labkit.engines.spark_engine import check_spark

        check_spark()  # names the package to install first, when it is missing
    print("labkit validate: loading Great Expectations (a few seconds the first time) ...", file=sys.stderr, flush=True)
    from labkit.validation.scale import validate_engine

    report = validate_engine(args.labels, guidelines, args.suite, engine=choice.name, memory_limit=args.memory_limit,
                             temp_dir=args.temp_dir, progress=_progress, master=getattr(args, "spark_master", None))
    summary = report.summary()
    summary["engine"] = engine_summary(args)
    summary["guidelines"] = guidelines
    human = report.text()
    if note:
        summary["note"] = note
        human += "\n" + note
    if args.out:
        paths = report.write(args.out, failures_format=args.failures_format)
        summary["outputs"] = paths
        human += "\n" + "\n".join(f"wrote {k}: {v}" for k, v in paths.items())
    emit(args, summary, human)
    return 0 if report.gate else 1
