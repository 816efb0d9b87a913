"""``labkit calibration new|status|close|replay|sample``."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path
from typing import Any

from labkit.cli import emit
from labkit.errors import ParameterError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibration", help="calibration sessions: create, show, close, replay",
                       description="Calibration sessions in JupyterLab: annotators label the same items blind, "
                                   "see the answers, discuss, and turn clarifications into guideline proposals.")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")

    n = verbs.add_parser("new", help="create a session folder from a labels file, gold and guidelines")
    n.add_argument("folder", help="the session folder to create (e.g. sessions/cal-2026-09-28)")
    n.add_argument("--labels", required=True, help="labels file(s) (anything `labkit import` reads; a:b for several)")
    n.add_argument("--gold", help="gold file (item_id, label, ...)")
    n.add_argument("--items", help="items file with item_id and text (shown on the cards)")
    n.add_argument("--guidelines", default="guidelines", help="guidelines folder (default: guidelines)")
    n.add_argument("--task", help="task (default: the only task of the guidelines)")
    n.add_argument("--version", dest="guideline_version",
                   help="guideline version for the session (default: the one in force at --date)")
    n.add_argument("--date", help="when the session takes place, ISO 8601 (default: now); only labels made "
                                  "before it are used to choose items")
    n.add_argument("--facilitator", required=True, help="facilitator id")
    n.add_argument("--participants", default="", help="annotator ids, comma-separated (default: anyone may join)")
    n.add_argument("--n-gold", type=int, default=6, help="gold items (default 6)")
    n.add_argument("--n-contested", type=int, default=6, help="contested non-gold items (default 6)")
    n.add_argument("--seed", type=int, default=0, help="seed for the item choice (default 0)")
    n.add_argument("--show-names", action="store_true", help="show participant ids at reveal (default: pseudonyms)")
    n.add_argument("--no-file-proposals", action="store_true",
                   help="keep proposals in the session folder only (do not file them with the guidelines)")
    n.add_argument("--id", dest="session_id", help="session id (default: the folder name)")
    n.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    n.set_defaults(func=run_new)

    o = verbs.add_parser("open", help="a ready notebook for a participant (nothing to edit), optionally in JupyterLab",
                         description="Write SESSION/notebooks/ID.ipynb with the session, participant and role filled in; "
                                     "open it in JupyterLab and choose Run All. The view follows the session by itself.")
    o.add_argument("folder", metavar="SESSION", help="the session folder")
    o.add_argument("--as", dest="participant", required=True, metavar="ID", help="your id in the session")
    o.add_argument("--role", choices=("annotator", "facilitator"), help="checked against the session (default: yours)")
    o.add_argument("--out", metavar="FILE", help="where to write the notebook (default: SESSION/notebooks/ID.ipynb)")
    o.add_argument("--lab", action="store_true", help="start JupyterLab on the notebook")
    o.add_argument("--json", action="store_true")
    o.set_defaults(func=run_open)

    s = verbs.add_parser("status", help="show where a session is")
    s.add_argument("folder")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=run_status)

    c = verbs.add_parser("close", help="record proposals, close the session and write summary.json + before_after.json")
    c.add_argument("folder")
    c.add_argument("--facilitator", required=True, help="facilitator id (only a facilitator may close)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=run_close)

    r = verbs.add_parser("replay", help="play a whole session from the program's own data (demo, tests)")
    r.add_argument("folder", help="a session created with `new`, still in the blind phase")
    r.add_argument("--facilitator", required=True)
    r.add_argument("--window-days", type=float, default=14.0,
                   help="answers are drawn from each participant's rates this many days before/after (default 14)")
    r.add_argument("--clarify", nargs=4, metavar=("PARTICIPANT", "ITEM", "LABEL", "PROPOSED"),
                   help="one clarification proposed at reveal")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=run_replay)

    sm = verbs.add_parser("sample", help="rebuild the bundled sample's session (sample/calibration/cal-2026-09-28) by replay")
    sm.add_argument("--root", default=".", help="repository root holding sample/ and guidelines/ (default: .)")
    sm.add_argument("--force", action="store_true", help="replace the existing sample session")
    sm.add_argument("--json", action="store_true")
    sm.set_defaults(func=run_sample)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def _parse_date(text: str | None) -> dt.datetime:
    if not text:
        return dt.datetime.now(dt.timezone.utc)
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ParameterError(f"--date must be an ISO 8601 timestamp (e.g. 2026-09-28T09:00:00Z), got {text!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def _rel(path: str, folder: Path) -> str:
    return os.path.relpath(os.path.abspath(path), os.path.abspath(folder))


def run_new(args: argparse.Namespace) -> int:
    import pandas as pd

    from labkit.calibration.model import CalibrationSession, Participant, SessionSpec
    from labkit.calibration.selection import select_items
    from labkit.errors import InputRefused
    from labkit.guidelines.model import Guidelines
    from labkit.io import load_labels, split_paths
    from labkit.schema import read_gold

    folder = Path(args.folder)
    when = _parse_date(args.date)
    g = Guidelines.load(args.guidelines)
    task = args.task
    if task is None:
        if len(g.tasks) != 1:
            raise ParameterError(f"--task is needed: the guidelines have tasks {', '.join(g.tasks)}")
        task = g.tasks[0]
    if args.guideline_version:
        version = g.get(task, args.guideline_version)
    else:
        in_force = g.in_force(task, when)
        if in_force is None:
            raise ParameterError(f"no {task} guideline version is in force at {when.isoformat()}; pass --version")
        version = in_force
    labels = load_labels(args.labels)
    gold = read_gold(args.gold) if args.gold else None
    items = None
    if args.items:
        try:
            items = pd.read_csv(args.items, dtype=str, keep_default_na=False)
        except FileNotFoundError:
            raise InputRefused(args.items, "no such file") from None
        if "item_id" not in items.columns:
            raise InputRefused(args.items, f"an items file needs an item_id column; found {', '.join(items.columns)}")
    sel = select_items(labels, gold, g, version, n_gold=args.n_gold, n_contested=args.n_contested, before=when,
                       items=items, seed=args.seed)
    people = [Participant(args.facilitator, "facilitator")]
    people += [Participant(x.strip()) for x in args.participants.split(",") if x.strip()]
    sources = {"labels": os.pathsep.join(_rel(p, folder) for p in split_paths(args.labels)),
               "guidelines": _rel(args.guidelines, folder)}
    if args.gold:
        sources["gold"] = _rel(args.gold, folder)
    if args.items:
        sources["items"] = _rel(args.items, folder)
    spec = SessionSpec(id=args.session_id or folder.name, task=task, guideline=version, items=sel.items,
                       participants=people, show_names=args.show_names, scheduled_at=when, sources=sources,
                       selection=sel.params, open_join=not args.participants.strip(),
                       file_proposals=not args.no_file_proposals)
    s = CalibrationSession.create(folder, spec)
    summary = {"session": s.id, "folder": str(folder), "task": task, "guideline_version": version.version,
               "items": len(sel.items), "gold_items": sel.params["gold_taken"],
               "contested_items": sel.params["contested_taken"], "participants": [p.id for p in people],
               "contested_note": sel.params["contested_note"], "undated_labels_used": sel.params["undated_labels_used"]}
    lines = [f"created calibration session {s.id} in {folder}",
             f"  {task} guideline {version.version}; {len(sel.items)} items ({sel.params['gold_taken']} gold, "
             f"{sel.params['contested_taken']} contested), seed {args.seed}"]
    if sel.params["contested_note"]:
        lines.append(f"  fewer contested items than asked ({args.n_contested}): {sel.params['contested_note']}")
    if sel.params["undated_labels_used"]:
        lines.append(f"  {sel.params['undated_labels_used']} label(s) without a timestamp were used (they cannot be "
                     "placed before or after --date)")
    for it in sel.items:
        lines.append(f"  {it.item_id:<14} {'; '.join(it.reasons)}")
    lines.append(f"each participant opens it with: labkit calibration open {folder} --as ID")
    emit(args, summary, "\n".join(lines))
    return 0


def _state_text(st: dict[str, Any]) -> str:
    a = st["agreement_blind"]

    def f(x: Any) -> str:
        return "n/a" if x is None or x != x else f"{x:.2f}"

    return (f"session {st['session']} ({st['task']} {st['guideline_version']}): phase {st['phase']}\n"
            f"  items {st['items']} ({st['gold_items']} gold); annotators {st['annotators']} "
            f"({st['complete_annotators']} finished the blind round); facilitators {', '.join(st['facilitators'])}\n"
            f"  answers: {st['blind_answers']} blind, {st['final_answers']} after discussion"
            + (f", {st['late_answers']} blind answers after the reveal (not counted)" if st["late_answers"] else "") + "\n"
            f"  blind agreement: alpha {f(a['alpha'])}, kappa {f(a['kappa'])}, pairwise {f(a['pairwise_agreement'])} "
            f"over {a['items_with_two_or_more']} items\n"
            f"  clarifications {st['clarifications']}, proposals written {st['proposals']}")


def run_open(args: argparse.Namespace) -> int:
    from labkit.calibration.launch import write_launcher

    path, role = write_launcher(args.folder, args.participant, args.role, args.out)
    emit(args, {"notebook": str(path), "participant": args.participant, "role": role},
         f"{args.participant} ({role}): open {path} in JupyterLab and choose Run > Run All Cells "
         f"(or: jupyter lab {path})")
    if args.lab:
        import subprocess
        import sys

        return subprocess.call([sys.executable, "-m", "jupyterlab", str(path)])
    return 0


def run_status(args: argparse.Namespace) -> int:
    from labkit.calibration.model import CalibrationSession
    from labkit.calibration.summary import _clean

    st = CalibrationSession.open(args.folder).state()
    emit(args, _clean(st), _state_text(st))
    return 0


def run_close(args: argparse.Namespace) -> int:
    from labkit.calibration.model import CalibrationSession, SessionError

    s = CalibrationSession.open(args.folder)
    if s.phase == "closed":
        raise SessionError(f"session {s.id} is already closed")
    s.advance(args.facilitator, "closed")
    folder = Path(args.folder)
    summary = {"session": s.id, "phase": s.phase, "summary": str(folder / "summary.json"),
               "before_after": str(folder / "before_after.json"), "proposals": [str(p) for p in s.proposals()]}
    human = (f"closed session {s.id}\n  wrote {summary['summary']}\n  wrote {summary['before_after']}\n"
             f"  {len(summary['proposals'])} proposal(s) in {folder / 'proposals'}")
    emit(args, summary, human)
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from labkit.calibration.model import CalibrationSession, SessionError
    from labkit.calibration.replay import replay, steps_from_labels
    from labkit.calibration.summary import _clean, _resolve
    from labkit.io import load_labels
    from labkit.schema import read_gold

    s = CalibrationSession.open(args.folder)
    if s.phase != "blind" or len(s.answers("blind")):
        raise SessionError(f"replay needs a fresh session (phase blind, no answers); {s.id} is in {s.phase}")
    lp, gp = _resolve(s, "labels", None), _resolve(s, "gold", None)
    if not lp or not gp:
        raise SessionError(f"replay needs the session's labels and gold files (sources in {args.folder}/session.yaml)")
    if not s.annotators():
        raise SessionError("replay needs listed participants (labkit calibration new --participants a,b,c)")
    clar = None
    if args.clarify:
        clar = dict(zip(("participant", "item_id", "label", "proposed"), args.clarify))
    start = s.spec.scheduled_at or s.spec.created_at
    steps = steps_from_labels(s, load_labels(lp), read_gold(gp), facilitator=args.facilitator, start=start,
                              window_days=args.window_days, clarification=clar, seed=args.seed)
    st = replay(s, steps)
    emit(args, _clean(st), f"replayed {len(steps)} steps\n" + _state_text(st))
    return 0


def run_sample(args: argparse.Namespace) -> int:
    from labkit.calibration.sample import SESSION_ID, make_sample_session
    from labkit.calibration.summary import _clean

    st = make_sample_session(args.root, force=args.force)
    folder = Path(args.root) / "sample" / "calibration" / SESSION_ID
    emit(args, _clean({**st, "folder": str(folder)}), f"wrote {folder}\n" + _state_text(st))
    return 0
