"""``labkit import SRC [SRC ...] --out FILE.parquet``."""

from __future__ import annotations

import argparse

from labkit.cli import emit

FORMATS = ["auto", "csv", "parquet", "jsonl", "label-studio", "prodigy", "argilla"]
EXIT_QUARANTINED_STRICT = 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import", help="import label exports into the canonical label table",
        description="Import label exports (CSV/TSV/Parquet/JSONL, Label Studio JSON, Prodigy JSONL, Argilla records) "
                    "into the canonical label table (Parquet). Records that cannot be read go to a quarantine file "
                    "beside the output (OUT.quarantine.jsonl) with file, record, field and reason. Several SRC files "
                    "are concatenated. Exit 0 when imported (even with some records quarantined), 2 when an input "
                    "is refused, 3 with --strict when anything was quarantined.")
    p.add_argument("src", nargs="+", help="export file(s); SRC=NS prefixes that file's item and annotator ids with 'NS:'")
    p.add_argument("--format", default="auto", choices=FORMATS,
                   help="input format (default: sniffed from each file's content)")
    p.add_argument("--task", help="task name for records that do not carry one")
    p.add_argument("--guideline-version", help="guideline version for records that do not carry one")
    p.add_argument("--out", required=True, help="output Parquet file (quarantine written beside it)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object (last stdout line)")
    p.add_argument("--strict", action="store_true", help="exit 3 when anything was quarantined")
    p.add_argument("--namespace", metavar="A,B", help="one namespace per SRC, in order (instead of SRC=NS)")
    p.add_argument("--no-namespace", action="store_true",
                   help="keep ids as they are even when they collide across sources (default: prefix each source's "
                        "ids with its file name when they collide, and say so)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from labkit.errors import ParameterError
    from labkit.io import import_file, merge_results, write_result
    from labkit.io.namespace import apply_namespaces, split_source

    srcs = [split_source(s) for s in args.src]
    namespaces: list[str | None] = [ns for _, ns in srcs]
    if args.namespace:
        if any(namespaces):
            raise ParameterError("give namespaces either as SRC=NS or with --namespace, not both")
        namespaces = [n.strip() or None for n in args.namespace.split(",")]
        if len(namespaces) != len(srcs):
            raise ParameterError(f"--namespace lists {len(namespaces)} namespace(s) for {len(srcs)} source(s)")
    results = [import_file(path, format=args.format, task=args.task, guideline_version=args.guideline_version)
               for path, _ in srcs]
    results, ns_notes = apply_namespaces(results, namespaces, auto=not args.no_namespace)
    result = merge_results(results)
    result.notes = ns_notes + list(result.notes)
    summary = write_result(result, args.out)
    if len(results) > 1:
        summary["files"] = [{"src": r.path, "format": r.format, "records_in": r.records_in, "accepted": r.accepted,
                             "quarantined": r.quarantined} for r in results]
    human = (f"{summary['src']} ({summary['format']}): {summary['records_in']} records in, "
             f"{summary['accepted']} accepted, {summary['quarantined']} quarantined -> "
             f"{summary['judgements']} judgements by {summary['annotators']} annotators on {summary['items']} items")
    if summary["skipped"]:
        human += "\nskipped (accepted, no judgement): " + ", ".join(f"{k} {v}" for k, v in sorted(summary["skipped"].items()))
    human += f"\nwrote {summary['out']}\nquarantine: {summary['quarantine']}"
    if summary.get("gold_out"):
        human += f"\ngold: {summary['gold_out']} ({summary['gold']} item{'' if summary['gold'] == 1 else 's'})"
    if summary["quarantine_reasons"]:
        human += "\n" + "\n".join(f"  {n:>6}  {why}" for why, n in summary["quarantine_reasons"].items())
    for note in summary["notes"]:
        human += f"\nnote: {note}"
    emit(args, summary, human)
    return EXIT_QUARANTINED_STRICT if args.strict and summary["quarantined"] else 0
