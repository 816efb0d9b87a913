"""``labkit guidelines ...``, ``labkit migrate`` and ``labkit log ...``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from labkit.cli import emit
from labkit.errors import GovernanceError, GuidelineError


def _common(p: argparse.ArgumentParser, guidelines: bool = True) -> None:
    if guidelines:
        p.add_argument("--guidelines", default="guidelines", metavar="DIR",
                       help="guidelines folder (versions, proposals, governance.yaml, decisions.jsonl)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object (last line)")


def register(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser("guidelines", help="diff, propose, approve, reject and release guideline versions",
                       description="Versioned guidelines under decision rights (guidelines/governance.yaml), "
                                   "with every decision appended to the hash-chained log.")
    gs = g.add_subparsers(dest="guidelines_command", metavar="ACTION")

    p = gs.add_parser("check", help="schema-check every guideline file, governance.yaml and the proposals")
    _common(p)
    p.set_defaults(func=run_check)

    p = gs.add_parser("diff", help="what changed between two versions, and the semver kind it requires")
    p.add_argument("task")
    p.add_argument("a", metavar="A", help="older version")
    p.add_argument("b", metavar="B", help="newer version")
    _common(p)
    p.set_defaults(func=run_diff)

    p = gs.add_parser("propose", help="file a proposal from a YAML draft or a calibration session's clarifications")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("file", nargs="?", help="proposal draft (YAML: task, base_version, author, title, rationale, changes)")
    src.add_argument("--from-session", metavar="DIR", help="a calibration session folder: one proposal per clarification")
    p.add_argument("--as", dest="member", metavar="MEMBER", help="the member filing it (default: the author)")
    p.add_argument("--at", help="timestamp to record (ISO 8601; default now)")
    p.add_argument("--key", metavar="PATH", help="private key to sign with (default $LABKIT_SIGNING_KEY); "
                                             "required when governance.yaml has signing: required")
    _common(p)
    p.set_defaults(func=run_propose)

    p = gs.add_parser("approve", help="approve a proposal as a member")
    p.add_argument("proposal", help="proposal id or file")
    p.add_argument("--as", dest="member", required=True, metavar="MEMBER")
    p.add_argument("--why", default="", help="optional comment")
    p.add_argument("--at", help="timestamp to record (ISO 8601; default now)")
    p.add_argument("--key", metavar="PATH", help="private key to sign with (default $LABKIT_SIGNING_KEY); "
                                             "required when governance.yaml has signing: required")
    _common(p)
    p.set_defaults(func=run_approve)

    p = gs.add_parser("reject", help="reject a proposal (closes it)")
    p.add_argument("proposal", help="proposal id or file")
    p.add_argument("--as", dest="member", required=True, metavar="MEMBER")
    p.add_argument("--why", required=True, help="the reason (recorded in the log)")
    p.add_argument("--at", help="timestamp to record (ISO 8601; default now)")
    p.add_argument("--key", metavar="PATH", help="private key to sign with (default $LABKIT_SIGNING_KEY); "
                                             "required when governance.yaml has signing: required")
    _common(p)
    p.set_defaults(func=run_reject)

    p = gs.add_parser("release", help="release an approved proposal as the next version (refuses without the approvals)")
    p.add_argument("proposal", help="proposal id or file")
    p.add_argument("--as", dest="member", metavar="MEMBER",
                   help="who releases (needed): a member holding a role of the rules for this kind of change")
    p.add_argument("--at", help="release timestamp (ISO 8601; default now)")
    p.add_argument("--key", metavar="PATH", help="private key to sign with (default $LABKIT_SIGNING_KEY); "
                                             "required when governance.yaml has signing: required")
    _common(p)
    p.set_defaults(func=run_release)

    p = gs.add_parser("status", help="proposals with their state, kind and missing approvals")
    p.add_argument("proposal", nargs="?", help="one proposal (default: all)")
    p.add_argument("--task")
    _common(p)
    p.set_defaults(func=run_status)

    from labkit.guidelines.book_cli import register_book

    register_book(gs, _common)

    for verb, kind in (("adjudicate", "adjudication"), ("gold-edit", "gold_edit")):
        p = gs.add_parser(verb, help=f"record {'an adjudication' if kind == 'adjudication' else 'a gold edit'} in the decision log "
                                       "(checked against governance.yaml's rules)")
        p.add_argument("item_id")
        p.add_argument("--task", required=True)
        p.add_argument("--label", required=True, help="the decided label")
        p.add_argument("--as", dest="member", required=True, metavar="MEMBER")
        p.add_argument("--with", dest="cosigners", action="append", default=[], metavar="MEMBER",
                       help="co-signing member (repeat when the quorum needs more than one)")
        p.add_argument("--why", required=True)
        p.add_argument("--at", help="timestamp (ISO 8601; default now)")
        p.add_argument("--key", metavar="PATH", help="private key to sign with (default $LABKIT_SIGNING_KEY); "
                                                 "required when governance.yaml has signing: required")
        _common(p)
        p.set_defaults(func=run_decision, kind=kind)

    p = gs.add_parser("governance", help="approve or adopt a change of governance.yaml under the rules in force")
    p.add_argument("step", choices=["approve", "adopt"], help="approve the new file, or adopt it once approved")
    p.add_argument("file", help="the proposed new governance.yaml")
    p.add_argument("--as", dest="member", required=True, metavar="MEMBER")
    p.add_argument("--why", default="")
    p.add_argument("--at", help="timestamp (ISO 8601; default now)")
    p.add_argument("--key", metavar="PATH", help="private key to sign with (default $LABKIT_SIGNING_KEY)")
    _common(p)
    p.set_defaults(func=run_governance_change)

    k = sub.add_parser("keys", help="signing keys for governance decisions (Ed25519, OpenSSH format)")
    ks = k.add_subparsers(dest="keys_command", metavar="ACTION")
    p = ks.add_parser("generate", help="write a new private key to PATH (mode 0600) and PATH.pub; print the "
                                       "public line to list under your member id in governance.yaml")
    p.add_argument("path")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_keys_generate)

    m = sub.add_parser("migrate", help="carry labels forward to a newer guideline version",
                       description="Map labels made under older versions to VERSION where the release's migration "
                                   "map is deterministic; write the rest to a relabel file with the reason.")
    m.add_argument("labels", help="labels file(s) (any importable format; 'a:b' or several)")
    m.add_argument("--to", required=True, metavar="VERSION")
    m.add_argument("--task", help="task to migrate (default: every task that has VERSION)")
    m.add_argument("--out", required=True, help="migrated labels (Parquet)")
    m.add_argument("--relabel", help="rows to relabel (CSV; default <out stem>.relabel.csv)")
    _common(m)
    m.set_defaults(func=run_migrate)

    lg = sub.add_parser("log", help="verify or show the decision log")
    ls = lg.add_subparsers(dest="log_command", metavar="ACTION")
    p = ls.add_parser("verify", help="exit 0 if the hash chain is intact, 1 naming the first bad entry")
    p.add_argument("file", nargs="?", help="the log file (default: DIR/decisions.jsonl of --guidelines, "
                                           "else guidelines/decisions.jsonl)")
    p.add_argument("--guidelines", metavar="DIR", help="version files whose log_head must be in the log "
                                                       "(default: the log's folder)")
    p.add_argument("--expect-head", metavar="HASH", help="a head recorded earlier (the full 64-hex-digit hash) that must "
                                                          "still be in the log")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_log_verify)
    p = ls.add_parser("repair", help="move a torn last line (an interrupted write) aside to FILE.torn; "
                                     "the complete entries are kept")
    p.add_argument("file", nargs="?", default="guidelines/decisions.jsonl")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_log_repair)
    p = ls.add_parser("show", help="print the last entries")
    p.add_argument("file", nargs="?", help="the log file (the older form; default: DIR/decisions.jsonl)")
    p.add_argument("--guidelines", metavar="DIR", default="guidelines", help="guidelines folder (default: ./guidelines)")
    p.add_argument("--tail", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_log_show)


def run_check(args: argparse.Namespace) -> int:
    from labkit.guidelines.diff import check_semver
    from labkit.guidelines.governance import Governance
    from labkit.guidelines.model import Guidelines
    from labkit.guidelines.proposals import list_proposals

    g = Guidelines.load(args.guidelines)
    gov = Governance.load(args.guidelines)
    problems: list[str] = []
    for t in g.tasks:
        vs = g.versions(t)
        for a, b in zip(vs, vs[1:]):
            msg = check_semver(a, b)
            if msg:
                problems.append(msg)
            if b.previous is not None and str(b.previous) != a.version:
                problems.append(f"{t} {b.version} says previous {b.previous}, but the version before it is {a.version}")
    props = list_proposals(args.guidelines)
    from labkit.guidelines import log as dlog

    log_line = "decision log: none yet"
    if dlog.log_path(args.guidelines).exists():
        v = dlog.verify(args.guidelines)
        log_line = "decision log: " + str(v).split(": ", 1)[1]
        if not v.ok:
            problems.append(f"decision log: {v.problem}")
    else:  # a missing log is a problem once anything was filed or released through it
        released = [f"{t} {v.version}" for t in g.tasks for v in g.versions(t) if v.meta.get("log_head")]
        if released or props:
            log_line = "decision log: MISSING"
            what = (f"{released[0]} records a release in it" if released
                    else f"{len(props)} proposal(s) were filed through it")
            problems.append(f"decision log: missing: {what} ({dlog.LOG_NAME})")
    summary = {"tasks": {t: [v.version for v in g.versions(t)] for t in g.tasks},
               "members": len(gov.members), "proposals": len(props), "problems": problems}
    human = "\n".join([f"{t}: {', '.join(v.version for v in g.versions(t))}" for t in g.tasks]
                      + [f"governance: {len(gov.members)} members, rules for {', '.join(gov.rules)}",
                         f"proposals: {len(props)}", log_line] + [f"PROBLEM: {p}" for p in problems])
    emit(args, summary, human)
    return 1 if problems else 0


def run_diff(args: argparse.Namespace) -> int:
    from labkit.guidelines.diff import diff_versions
    from labkit.guidelines.model import Guidelines

    g = Guidelines.load(args.guidelines)
    d = diff_versions(g.get(args.task, args.a), g.get(args.task, args.b))
    emit(args, d.to_dict(), d.summary())
    return 0


def run_propose(args: argparse.Namespace) -> int:
    import yaml

    from labkit.guidelines.model import safe_load as _yaml_load
    from labkit.guidelines.proposals import new_proposal, parse_proposal

    drafts: list[dict[str, Any]] = []
    if args.file:
        p = Path(args.file)
        try:
            data = _yaml_load(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise GuidelineError(f"{p}: no such proposal file") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise GuidelineError(f"{p}:{mark.line + 1 if mark else ''}: not valid YAML") from None
        parse_proposal(data, str(p))  # field errors name the draft file
        drafts.append(data)
    else:
        drafts.extend(_session_drafts(Path(args.from_session)))
    filed, already = [], []
    for d in drafts:
        pid = d.get("id") or None
        if args.from_session and pid and (Path(args.guidelines) / d["task"] / "proposals" / f"{pid}.yaml").exists():
            already.append(pid)  # the session filed it itself when it was recorded
            continue
        try:
            prop = new_proposal(task=d["task"], base_version=d.get("base_version"), author=d["author"],
                                title=d["title"], rationale=d["rationale"], changes=d["changes"],
                                source=d.get("source"), root=args.guidelines,
                                created_at=args.at or d.get("created_at"), proposal_id=pid,
                                filed_by=args.member, key=args.key)
        except GuidelineError as exc:  # name the draft the user gave, not only the proposal's title
            where = args.file or f"{args.from_session} (clarification {d.get('title', '')!r})"
            raise GuidelineError(f"{where}: {exc}") from None
        filed.append(prop)
    from labkit.guidelines.governance import status

    sts = [status(p, args.guidelines) for p in filed]
    lines = [f"filed {s.proposal.id} ({s.kind} change to {s.proposal.task} {s.proposal.base_version or '(new)'} -> "
             f"{s.next_version}): {s.proposal.path}\n  needs {s.quorum.describe_missing() or 'nothing more'}"
             for s in sts]
    lines += [f"already filed: {pid}" for pid in already]
    human = "\n".join(lines) or "no clarifications in the session: nothing filed"
    emit(args, {"filed": [s.to_dict() | {"path": s.proposal.path} for s in sts], "already_filed": already}, human)
    return 0


def _session_drafts(folder: Path) -> list[dict[str, Any]]:
    """One draft per clarification recorded in a calibration session folder."""
    if not folder.is_dir():
        raise GuidelineError(f"{folder}: no such calibration session folder")
    try:
        from labkit.calibration.model import CalibrationSession
        from labkit.calibration.proposals import filing_dict, proposal_dict
    except ImportError:  # pragma: no cover - the calibration area is part of labkit
        raise GuidelineError("labkit.calibration is not available to read the session") from None
    if not (folder / "session.yaml").exists():
        raise GuidelineError(f"{folder}: not a calibration session folder (no session.yaml)")
    session = CalibrationSession.open(folder)
    return [filing_dict(proposal_dict(session, c, at=c.at)) for c in session.clarifications()]


def run_approve(args: argparse.Namespace) -> int:
    from labkit.guidelines.governance import approve

    r = approve(args.proposal, args.member, args.guidelines, why=args.why, at=args.at, key=args.key)
    e = r["entry"]
    counts = "counts" if r["counts"] else f"does NOT count ({r['not_counted']})"
    missing = ", ".join(f"{n} {role}" for role, n in r["missing"].items()) or "none: ready to release"
    human = (f"{args.member} approved {e['proposal']} (log entry {e['seq']}); this approval {counts}\n"
             f"{r['kind']} change -> {r['next_version']}; still missing: {missing}")
    emit(args, {"proposal": e["proposal"], "member": args.member, "counts": r["counts"], "kind": r["kind"],
                "missing": r["missing"], "seq": e["seq"], "hash": e["hash"]}, human)
    return 0


def run_reject(args: argparse.Namespace) -> int:
    from labkit.guidelines.governance import reject

    e = reject(args.proposal, args.member, args.why, args.guidelines, at=args.at, key=args.key)
    emit(args, {"proposal": e["proposal"], "rejected_by": args.member, "seq": e["seq"], "hash": e["hash"]},
         f"{args.member} rejected {e['proposal']} (log entry {e['seq']}): {args.why}")
    return 0


def run_release(args: argparse.Namespace) -> int:
    from labkit.guidelines.governance import release

    v = release(args.proposal, args.guidelines, who=args.member, at=args.at, key=args.key)
    head = v.meta.get("log_head", {})
    emit(args, {"task": v.task, "version": v.version, "kind": v.change_kind, "path": v.path,
                "approved_by": v.meta.get("approved_by"), "log_head": head},
         f"released {v.task} {v.version} ({v.change_kind}) -> {v.path}\n"
         f"approved by {', '.join(v.meta.get('approved_by') or [])}; log head seq {head.get('seq')} "
         f"{str(head.get('hash'))[:16]}; changelog: {Path(args.guidelines) / v.task / 'CHANGELOG.md'}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from labkit.guidelines import log as dlog
    from labkit.guidelines.governance import Governance, status
    from labkit.guidelines.proposals import list_proposals, load_proposal

    gov = Governance.load(args.guidelines)
    entries = dlog.read(args.guidelines)
    props = [load_proposal(args.proposal, args.guidelines)] if args.proposal else list_proposals(args.guidelines, args.task)
    sts = [status(p, args.guidelines, entries=entries, gov=gov) for p in props]
    lines = []
    for s in sts:
        extra = (f"released as {s.released_as}" if s.state == "released" else
                 f"rejected by {s.rejections[-1]['who']}" if s.state == "rejected" else
                 "edited after it was filed: cannot be approved or released" if s.edited else
                 f"out of date: based on {s.proposal.base_version}, the latest is {s.latest} (file it again "
                 f"against {s.latest})" if s.latest else
                 f"needs {s.quorum.describe_missing()}" if not s.quorum.met else "approved: ready to release")
        base = s.proposal.base_version or "(new)"
        target = f" -> {s.next_version}" if s.state != "rejected" else ""
        lines.append(f"{s.proposal.id}  [{s.state}] {s.kind} {s.proposal.task} {base}{target}: "
                     f"{s.proposal.title}\n    {extra}")
    emit(args, {"proposals": [s.to_dict() for s in sts]}, "\n".join(lines) or "no proposals")
    return 0


def run_decision(args: argparse.Namespace) -> int:
    from labkit.guidelines.governance import record_decision

    e = record_decision(args.kind, args.member, args.guidelines, task=args.task, item_id=args.item_id,
                        label=args.label, why=args.why, cosigners=tuple(args.cosigners), at=args.at, key=args.key)
    emit(args, {"action": e["action"], "item_id": args.item_id, "label": args.label, "seq": e["seq"], "hash": e["hash"]},
         f"recorded {e['action']} of {args.item_id} as {args.label} by {args.member} (log entry {e['seq']})")
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    from labkit._atomic import atomic_path
    from labkit.guidelines.migrate import migrate_labels
    from labkit.guidelines.model import Guidelines
    from labkit.io import concat_labels, import_file
    from labkit.io.base import split_paths
    from labkit.schema import write_labels

    results = [import_file(p) for p in split_paths(args.labels)]
    quarantined = sum(r.quarantined for r in results)
    table = concat_labels([r.table for r in results])
    res = migrate_labels(table, Guidelines.load(args.guidelines), args.to, task=args.task)
    write_labels(res.table, args.out)
    out = Path(args.out)
    relabel = Path(args.relabel) if args.relabel else out.with_name(out.stem + ".relabel.csv")
    with atomic_path(relabel, suffix=".csv") as tmp:
        res.relabel.to_csv(tmp, index=False)
    c = res.counts
    human = (f"{c['total']} rows: {c['already_current']} already at {args.to}, {c['carried']} carried (same label), "
             f"{c['mapped']} mapped to a new label, {c['collapsed']} collapsed (duplicates after a merge), "
             f"{c['flagged']} flagged for relabeling, {c['other_task']} of other tasks\n"
             f"wrote {out} ({len(res.table)} rows) and {relabel} ({len(res.relabel)} rows)")
    if res.by_reason:
        human += "\n" + "\n".join(f"  {n:>6}  {why}" for why, n in res.by_reason.items())
    if quarantined:
        human += (f"\n{quarantined} input records could not be imported and are not in these counts "
                  f"(see `labkit import {args.labels} --out ...` for the quarantine)")
    emit(args, res.to_dict() | {"out": str(out), "relabel": str(relabel), "written": len(res.table),
                                "quarantined_on_import": quarantined}, human)
    return 0


def run_log_verify(args: argparse.Namespace) -> int:
    from labkit.guidelines.log import verify

    file = args.file or str(Path(args.guidelines or "guidelines") / "decisions.jsonl")
    v = verify(file, args.guidelines, expect_head=args.expect_head)
    emit(args, v.to_dict(), str(v))
    return 0 if v.ok else 1


def run_keys_generate(args: argparse.Namespace) -> int:
    from labkit.guidelines import signing

    line = signing.generate(args.path)
    emit(args, {"private": args.path, "public": line, "fingerprint": signing.fingerprint(line)},
         f"wrote {args.path} (private: keep it to yourself) and {args.path}.pub\n"
         f"list this under your member id in governance.yaml:\n  key: {line}")
    return 0


def run_governance_change(args: argparse.Namespace) -> int:
    from labkit.guidelines.governance import adopt_governance, approve_governance

    if args.step == "approve":
        r = approve_governance(args.file, args.member, args.guidelines, why=args.why, at=args.at, key=args.key)
        missing = ", ".join(f"{n} {role}" for role, n in r["missing"].items()) or "none: ready to adopt"
        emit(args, {k: v for k, v in r.items() if k != "entry"} | {"seq": r["entry"]["seq"]},
             f"{args.member} approved governance change {r['change']} (log entry {r['entry']['seq']}); "
             f"still missing: {missing}")
    else:
        e = adopt_governance(args.file, args.member, args.guidelines, at=args.at, key=args.key)
        emit(args, {"adopted": e["governance_sha256"], "seq": e["seq"]},
             f"adopted {args.file} as governance.yaml (log entry {e['seq']}, sha256 {e['governance_sha256'][:16]})")
    return 0


def run_log_repair(args: argparse.Namespace) -> int:
    from labkit import _jsonl
    from labkit.guidelines.log import log_path, verify

    path = log_path(args.file)
    if not path.exists():
        raise GovernanceError(f"{path}: no such log file")
    r = _jsonl.repair(path)
    v = verify(path)
    r["verify"] = v.to_dict()
    human = (f"{path}: moved a torn last line ({r['torn_bytes']} bytes) to {r['saved_to']}" if r["saved_to"]
             else f"{path}: no torn line; nothing to repair")
    emit(args, r, human + "\n" + str(v))
    return 0 if v.ok else 1


def run_log_show(args: argparse.Namespace) -> int:
    from labkit.guidelines.log import log_path, read

    entries = read(args.file or log_path(args.guidelines))[-args.tail:] if args.tail > 0 else []
    lines = []
    for e in entries:
        what = e.get("proposal") or e.get("item_id") or ""
        extra = f" {e['version']}" if e.get("version") else (f" -> {e['label']}" if e.get("label") else "")
        lines.append(f"{e['seq']:>5}  {e['at']}  {e['action']:<10} {e['who']:<12} {what}{extra}"
                     + (f"  ({e['why']})" if e.get("why") else ""))
    emit(args, {"entries": entries}, "\n".join(lines) or "empty log")
    return 0


__all__ = ["register", "GovernanceError"]
