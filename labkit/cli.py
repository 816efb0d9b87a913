"""``labkit <verb>``: a thin command line over the package, for scheduled jobs and CI gates.

Each area registers its verbs in its own ``cli`` module (``register(subparsers)``), imported here.
Those modules import heavy libraries (Great Expectations, papermill) only inside their handlers, so
``labkit --help`` stays fast. Every verb supports ``--json``: the last line of stdout is then one
JSON object. A :class:`~labkit.errors.LabkitError` becomes one message on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from typing import Any

from labkit.errors import LabkitError

#: Modules that add verbs. Each has ``register(subparsers: argparse._SubParsersAction) -> None``.
COMMAND_MODULES = (
    "labkit.io.cli",
    "labkit.validation.cli",
    "labkit.stats.cli",
    "labkit.reports.cli",
    "labkit.calibration.cli",
    "labkit.guidelines.cli",
    "labkit.guidelines.bootstrap",
    "labkit.sample.cli",
    "labkit.simulate.cli",
    "labkit.review.cli",
    "labkit.incentives.cli",
    "labkit.demo",
    "labkit.automation.cli",
)


def emit(args: argparse.Namespace, summary: dict[str, Any], human: str | None = None) -> None:
    """Print ``human`` (unless --json), then with --json the summary as the last line of stdout."""
    if getattr(args, "json", False):
        print(json.dumps(summary, sort_keys=True, default=str, ensure_ascii=False))
    elif human is not None:
        print(human)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labkit",
        description="Validate, measure, calibrate and govern a data-labeling program.",
    )
    parser.add_argument("--version", action="version", version="labkit " + __import__("labkit").__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # an area not built yet
            if exc.name == name:
                continue
            raise
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LabkitError as exc:
        print(f"labkit {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("labkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`labkit ... | head`): stop quietly, as Unix tools do. Point stdout at
        # devnull so the interpreter's final flush does not raise again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:  # an output that is a file, a read-only or full disk: a named refusal, no traceback
        print(f"labkit {args.command}: error: {os_error_text(exc)}", file=sys.stderr)
        return 2


def os_error_text(exc: OSError) -> str:
    """``cannot write PATH: REASON`` for an OSError raised while reading or writing a path."""
    import errno

    path = exc.filename if exc.filename is not None else "(unknown path)"
    reason = {errno.EEXIST: "a file is in the way (expected a folder)", errno.ENOTDIR: "a file is in the way (expected a folder)",
              errno.EROFS: "read-only file system", errno.EACCES: "permission denied", errno.EPERM: "permission denied",
              errno.ENOSPC: "no space left on the device", errno.EISDIR: "is a folder"}.get(exc.errno or -1,
                                                                                           exc.strerror or str(exc))
    return f"cannot use {path}: {reason}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
