"""``labkit demo``: the whole pipeline on the bundled sample program, as the README's first command.

1. import the Label Studio export and the CSV into one canonical table (quarantine beside it);
2. validate it against the guidelines with the Great Expectations suites (the sample has planted
   problems: the gate fails on purpose, and the demo says what it caught);
3. render every report in ``reports.yaml`` (quality, annotator feedback, validation, governance,
   calibration before/after) to self-contained HTML and print where ``index.html`` is.

Paths derive from the repository root (the folder holding ``reports.yaml``) or ``--root``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from labkit.cli import emit

SAMPLE_SOURCES = ("sample/label_studio_export.json", "sample/labels.csv")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline on the bundled sample program",
                       description="Import, validate and report on the bundled sample program.")
    p.add_argument("--root", default=".", help="repository root holding sample/, guidelines/ and reports.yaml")
    p.add_argument("--out", default="build/demo", help="output folder (default build/demo)")
    p.add_argument("--no-reports", action="store_true", help="import and validate only")
    p.add_argument("--feedback", default="3", metavar="N|all",
                   help="annotator feedback pages to render: the N most active annotators (default 3) or 'all'")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.json:
        print(text, flush=True)


def run(args: argparse.Namespace) -> int:
    if args.feedback != "all" and not args.feedback.isdigit():
        from labkit.errors import ParameterError

        raise ParameterError(f"--feedback: expected a number or 'all', got {args.feedback!r}")
    root = Path(args.root).resolve()
    out = Path(args.out)
    if not out.is_absolute():
        out = root / out
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"out": str(out)}
    t0 = time.perf_counter()

    # 1. import
    from labkit.io import import_file, merge_results, write_result

    merged = merge_results([import_file(root / src) for src in SAMPLE_SOURCES])
    imp = write_result(merged, out / "labels.parquet")
    summary["import"] = imp
    _say(args, f"[1/3] imported {imp['records_in']} records from {imp['src']}: {imp['accepted']} accepted, "
               f"{imp['quarantined']} quarantined, skipped {json.dumps(imp['skipped'])} -> "
               f"{imp['judgements']} judgements by {imp['annotators']} annotators on {imp['items']} items\n"
               f"      {imp['out']}")

    # 2. validate
    from labkit.guidelines import Guidelines
    from labkit.validation import validate, write_outputs

    guidelines = Guidelines.load(root / "guidelines")
    report = validate(merged.table, guidelines)
    val = write_outputs(report, out / "validation")
    summary["validation"] = {**report.summary(), "files": val}
    _say(args, f"[2/3] validated with Great Expectations: {report.describe()}\n      {val.get('html', '')}")

    # the guideline book annotators read (every version, flowchart, what changed)
    from labkit.guidelines.book import write_book

    books = {task: write_book(guidelines, task, out / "book" / task) for task in guidelines.tasks}  # one folder a task
    summary["book"] = {task: {"index": str(out / "book" / task / "index.html"), "pages": len(pages)}
                       for task, pages in books.items()}
    for task, pages in books.items():
        _say(args, f"      guideline book ({task}): {len(pages)} pages -> {out / 'book' / task / 'index.html'}")

    # 3. reports
    if not args.no_reports:
        rep = _render_reports(args, root, out / "reports", merged.table)
        summary["reports"] = rep
        _say(args, f"[3/3] rendered {rep['ok']} report(s), {rep['failed']} failed\n"
                   f"      open {rep['index']}")
        if rep["failed"]:
            emit(args, summary)
            return 1
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    emit(args, summary, f"done in {summary['seconds']} s")
    return 0


def _render_reports(args: argparse.Namespace, root: Path, out: Path, table: Any) -> dict[str, Any]:
    """Every report of ``reports.yaml``; per-annotator ones only for the ``--feedback`` most active annotators.

    Pages per annotator take seconds each; the demo shows a few, ``labkit report run`` makes all.
    """
    import sys

    from labkit.reports.config import load_config
    from labkit.reports.runner import run_reports

    config = load_config(root / "reports.yaml")
    progress = None if args.json else (lambda s: print(s, file=sys.stderr, flush=True))
    if args.feedback == "all":
        return run_reports(config, out=out, progress=progress, annotators="all")
    n = int(args.feedback)
    human = table[table["source"] == "human"]
    busiest = human["annotator_id"].astype(str).value_counts(sort=True)
    chosen = sorted(busiest.index, key=lambda a: (-busiest[a], a))[:n]
    return run_reports(config, out=out, progress=progress, annotators=chosen)
