"""``labkit report run`` and ``labkit report params``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from labkit.cli import emit
from labkit.errors import ParameterError


def register(subparsers: argparse._SubParsersAction) -> None:
    rep = subparsers.add_parser("report", help="render scheduled report notebooks to HTML",
                                description="Render the report notebooks listed in reports.yaml.")
    verbs = rep.add_subparsers(dest="report_command", metavar="VERB")

    run = verbs.add_parser("run", help="run reports into OUT/<report>/<run-id>/ and update OUT/index.html",
                           description="Run reports with papermill. Every parameter is checked against the "
                                       "notebook's parameters cell before any kernel starts. A failed run keeps "
                                       "its notebook, exits non-zero and never replaces the last good report.")
    run.add_argument("--config", default="reports.yaml", help="reports config (default: reports.yaml)")
    run.add_argument("--only", nargs="+", default=[], metavar="NAME", help="run only these reports")
    run.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                     help="set a parameter in every selected report that declares it (repeatable)")
    run.add_argument("--for-each", choices=["annotator"], default=None,
                     help="render one page per annotator in the reports that have an 'annotator' parameter "
                          "(the others run once)")
    run.add_argument("--annotators", default=None, metavar="N|all|ID,...",
                     help="per-annotator reports: the N annotators with the most judgements, all, or these ids or "
                          "pseudonyms (comma-separated); default: each report's 'annotators' in the config (else all)")
    run.add_argument("--out", default=None, help="output folder (default: 'out' in the config)")
    run.add_argument("--timeout", type=float, default=None, metavar="S",
                     help="seconds any one cell may run before the run is failed")
    run.add_argument("--json", action="store_true", help="quiet; print one JSON summary line")
    eng = run.add_argument_group("engine (labels bigger than memory; see docs/scale.md)")
    eng.add_argument("--engine", choices=["auto", "pandas", "duckdb"], default=None,
                     help="where the reports that declare an 'engine' parameter (the quality report) compute: pandas "
                          "(in memory, every section), duckdb (a Parquet file/folder/glob bigger than memory, from "
                          "reduced tables), auto (duckdb when the Parquet input would not fit --memory-limit)")
    eng.add_argument("--memory-limit", default=None, help="memory budget, e.g. 2GB (auto's threshold, DuckDB's cap)")
    eng.add_argument("--temp-dir", default=None, help="where DuckDB spills")
    run.set_defaults(func=cmd_run)

    params = verbs.add_parser("params", help="list each report's parameters",
                              description="List the parameters each report notebook declares.")
    params.add_argument("--config", default="reports.yaml")
    params.add_argument("--only", nargs="+", default=[], metavar="NAME")
    params.add_argument("--json", action="store_true")
    params.set_defaults(func=cmd_params)
    rep.set_defaults(func=lambda a: (rep.print_help(), 2)[1])


def cmd_run(args: argparse.Namespace) -> int:
    from labkit.reports.config import load_config
    from labkit.reports.runner import parse_cli_params, run_reports

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    if args.timeout is not None and args.timeout <= 0:
        raise ParameterError(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    config = load_config(args.config)
    progress = None if args.json else (lambda s: print(s, file=sys.stderr, flush=True))
    params = parse_cli_params(args.param)
    for name in ("engine", "memory_limit", "temp_dir"):  # the same as -p NAME=VALUE
        if getattr(args, name, None) is not None:
            params[name] = str(getattr(args, name))
    summary = run_reports(config, only=args.only, cli_params=params,
                          for_each=args.for_each, out=args.out, timeout=args.timeout, progress=progress,
                          annotators=_annotators(args.annotators))
    n_ok, n_failed = summary["ok"], summary["failed"]
    rel = os.path.relpath(summary["index"])
    shown = summary["index"] if rel.startswith("..") else rel
    human = f"{n_ok} report(s) rendered, {n_failed} failed. Open {shown}"
    emit(args, summary, human)
    return 1 if n_failed else 0


def _annotators(value: str | None) -> int | list[str] | str | None:
    """``--annotators``: None (the config decides), "all" (every annotator), N, or ids."""
    from labkit.reports.config import parse_annotators

    if value is None:
        return None
    parsed = parse_annotators(value, "--annotators")
    return "all" if parsed is None else parsed


def cmd_params(args: argparse.Namespace) -> int:
    from labkit.reports.config import load_config
    from labkit.reports.params import listing, notebook_params

    config = load_config(args.config)
    names = args.only or list(config.reports)
    out, lines = {}, []
    for n in names:
        if n not in config.reports:
            raise ParameterError(f"{config.path}: unknown report {n!r}; reports: {', '.join(config.reports)}")
        spec = config.reports[n]
        ps = notebook_params(spec.notebook)
        out[n] = {k: {"type": p.type, "default": p.default, "help": p.help} for k, p in ps.items()}
        lines.append(f"{n} ({Path(spec.notebook).relative_to(config.root) if spec.notebook.is_relative_to(config.root) else spec.notebook}):\n{listing(ps)}")
    emit(args, {"reports": out}, "\n\n".join(lines))
    return 0
