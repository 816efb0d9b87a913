"""``labkit guidelines render | export | promote``: the guideline book, tool exports and exemplars.

Registered under ``labkit guidelines`` by :mod:`labkit.guidelines.cli`. Handlers import their modules
lazily so ``labkit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from labkit.errors import GuidelineError


def register_book(gs: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = gs.add_parser("render", help="render the guideline book: one self-contained HTML page per version, "
                                     "flowchart and what changed",
                      description="One printable, offline HTML page per released version (definitions, examples, "
                                  "edge cases, exemplars, hierarchy, the decision tree as a flowchart) and "
                                  "'what changed' pages between versions, with an index.html.")
    p.add_argument("task")
    p.add_argument("--version", help="only this version (default: every version)")
    p.add_argument("--out", required=True, metavar="DIR")
    common(p)
    p.set_defaults(func=run_render)

    p = gs.add_parser("export", help="per-label hints (JSON) and a Label Studio labeling config for one version")
    p.add_argument("task")
    p.add_argument("--version", help="the version (default: the latest)")
    p.add_argument("--out", required=True, metavar="DIR", help="writes hints.json and label_studio_config.xml")
    p.add_argument("--max-chars", type=int, default=120, help="hint length (default 120)")
    common(p)
    p.set_defaults(func=run_export)

    p = gs.add_parser("promote", help="file a proposal adding an exemplar from a calibration session or an adjudication",
                      description="A decided item becomes an exemplar (text, verdict, rationale, who decided) in the "
                                  "next release, through the proposal flow: approve and release it as usual.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--session", metavar="DIR", help="a calibration session folder (after its discussion)")
    src.add_argument("--adjudication", metavar="ITEM_ID", help="the item of an adjudication in the decision log")
    p.add_argument("--item", action="append", default=[], metavar="ITEM_ID",
                   help="with --session: the item (repeat for several)")
    p.add_argument("--task", help="with --adjudication: the task")
    p.add_argument("--items", metavar="FILE", help="with --adjudication: items file with item_id and text")
    p.add_argument("--as", dest="member", required=True, metavar="MEMBER", help="the member filing it (who decided)")
    p.add_argument("--label", help="the label in the latest version's terms (default: the decided label, migrated)")
    p.add_argument("--polarity", choices=("positive", "negative"), default="positive",
                   help="positive: the text IS an instance of the label (default); negative: it is NOT")
    p.add_argument("--rationale", help="why (default: the gold rationale, decision note or adjudication reason)")
    common(p)
    p.set_defaults(func=run_promote)


def _emit(args: argparse.Namespace, summary: dict, human: str) -> None:
    from labkit.cli import emit

    emit(args, summary, human)


def run_render(args: argparse.Namespace) -> int:
    from labkit.guidelines.book import write_book

    paths = write_book(args.guidelines, args.task, args.out, version=args.version)
    _emit(args, {"task": args.task, "pages": [str(p) for p in paths], "index": str(Path(args.out) / "index.html")},
          f"wrote {len(paths)} pages; open {Path(args.out) / 'index.html'}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from labkit._atomic import write_text
    from labkit.guidelines.export import hints, label_studio_config
    from labkit.guidelines.model import Guidelines

    gl = Guidelines.load(args.guidelines)
    if args.task not in gl.tasks:
        raise GuidelineError(f"no guideline task {args.task!r} in {args.guidelines} (tasks: {', '.join(gl.tasks) or 'none'})")
    v = gl.get(args.task, args.version) if args.version else gl.latest(args.task)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise GuidelineError(f"--out {out} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    h = write_text(out / "hints.json", json.dumps(hints(v, args.max_chars), indent=2, ensure_ascii=False) + "\n")
    c = write_text(out / "label_studio_config.xml", label_studio_config(v, max_chars=args.max_chars))
    _emit(args, {"task": v.task, "version": v.version, "hints": str(h), "label_studio_config": str(c)},
          f"{v.task} {v.version}: wrote {h} and {c}")
    return 0


def run_promote(args: argparse.Namespace) -> int:
    from labkit.guidelines.exemplars import from_adjudication, item_texts, promote
    from labkit.guidelines.model import Guidelines

    gl = Guidelines.load(args.guidelines)
    if args.session:
        from labkit.calibration.exemplars import session_exemplar
        from labkit.calibration.model import CalibrationSession

        if not args.item:
            raise GuidelineError("--session needs --item ITEM_ID (the decided item to promote)")
        s = CalibrationSession.open(args.session)
        task = s.spec.task
        changes = [session_exemplar(s, i, gl, member=args.member, polarity=args.polarity, rationale=args.rationale,
                                    label=args.label) for i in args.item]
        source = {"kind": "calibration", "session": s.id, "items": list(args.item)}
    else:
        if not args.task or not args.items:
            raise GuidelineError("--adjudication needs --task and --items FILE (the item's text)")
        task = args.task
        changes = [from_adjudication(gl, args.guidelines, task, args.adjudication, item_texts(args.items),
                                     polarity=args.polarity, override_label=args.label)]
        if args.rationale:
            changes[0]["rationale"] = args.rationale
        source = {"kind": "adjudication", "item_id": args.adjudication}
    prop = promote(changes, root=args.guidelines, task=task, author=args.member, source=source)
    _emit(args, {"proposal": prop.id, "path": prop.path, "changes": changes},
          f"filed {prop.id} ({len(changes)} exemplar(s)); approve and release it to put it in the book")
    return 0
