"""``labkit validate LABELS --guidelines DIR [--suite FILE ...] [--out DIR] [--json]``.

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
    p.add_argument("--guidelines", required=True, metavar="DIR", help="guidelines folder (<task>/<version>.yaml)")
    p.add_argument("--suite", action="append", default=None, metavar="FILE",
                   help="suite JSON file (repeatable); default: every expectations/*.json")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="write validation.json, failures.csv and validation.html into DIR")
    p.add_argument("--failures-format", choices=("csv", "parquet"), default="csv", help="failing-rows table format")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object (last line of stdout)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from labkit.validation.engine import validate_path

    report = validate_path(args.labels, args.guidelines, args.suite)
    summary = report.summary()
    human = report.text()
    if args.out:
        paths = report.write(args.out, failures_format=args.failures_format)
        summary["outputs"] = paths
        human += "\n" + "\n".join(f"wrote {k}: {v}" for k, v in paths.items())
    emit(args, summary, human)
    return 0 if report.gate else 1
