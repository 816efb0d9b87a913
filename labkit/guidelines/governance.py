"""Decision rights: who must approve which kind of change, and the approve / reject / release steps.

``guidelines/governance.yaml`` lists members (pseudonymous ids) with their roles, and per kind of
change (``major``, ``minor``, ``patch``, ``gold_edit``, ``adjudication``) the rules that must all hold::

    members: {g-lead-1: [lead], g-expert-1: [domain_expert], g-expert-2: [domain_expert], g-qa-1: [qa]}
    rules:
      major: [{role: lead, count: 1}, {role: domain_expert, count: 2}]
      patch: [{role: qa, count: 1}]

A rule ``{role: R, count: k}`` holds when ``k`` distinct approvers holding role ``R`` approved. The
author's own approval never counts, and one person fills at most one slot: approvers are assigned to
the rules' slots by a maximum bipartite matching, so a member holding two roles cannot satisfy two
rules alone.

Every step appends to the decision log, and the proposal's status is read back from it:
``open`` -> (``approve``)* -> ``released``, or ``rejected``. Release refuses (a
:class:`~labkit.errors.GovernanceError`, exit 1) naming the approvals missing; otherwise it computes
the next version from the kind of change, writes ``<task>/<version>.yaml`` with the approvals and the
log head, and adds an entry to ``<task>/CHANGELOG.md``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labkit._atomic import write_text
from labkit.errors import GovernanceError, GuidelineError
from labkit.guidelines import log as dlog
from labkit.guidelines.model import Guidelines, GuidelineVersion
from labkit.guidelines.model import safe_load as _yaml_load
from labkit.guidelines.proposals import Proposal, apply_proposal, dump_yaml, load_proposal

KINDS = ("major", "minor", "patch", "gold_edit", "adjudication")


class _ReleaseRefused(GovernanceError):
    exit_code = 1


@dataclass(frozen=True)
class Rule:
    role: str
    count: int


@dataclass
class Governance:
    """The parsed ``governance.yaml``."""

    members: dict[str, tuple[str, ...]]
    rules: dict[str, tuple[Rule, ...]]
    retire_grace_days: int = 7
    path: str = "governance.yaml"

    @classmethod
    def load(cls, root: str | os.PathLike[str] = "guidelines") -> Governance:
        p = Path(root)
        p = p if p.suffix in (".yaml", ".yml") else p / "governance.yaml"
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise GuidelineError(f"{p}: no governance file (members, roles and approval rules)") from None
        try:
            data = _yaml_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" line {mark.line + 1}:" if mark is not None else ""
            raise GuidelineError(f"{p}:{line} not valid YAML") from None
        from labkit.guidelines.model import yaml_lines

        lines = yaml_lines(text)

        def at(*path: Any) -> str:
            ln = lines.get(tuple(path))
            return f"{p}:{ln}" if ln else str(p)

        if not isinstance(data, dict):
            raise GuidelineError(f"{p}: must be a mapping with members and rules")
        members_raw, rules_raw = data.get("members"), data.get("rules")
        if not isinstance(members_raw, dict) or not members_raw:
            raise GuidelineError(f"{at('members')}: field 'members' must map member ids to lists of roles")
        members: dict[str, tuple[str, ...]] = {}
        for m, roles in members_raw.items():
            if isinstance(roles, str):
                roles = [roles]
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                raise GuidelineError(f"{at('members', m)}: members.{m} must be a list of roles")
            members[str(m)] = tuple(roles)
        if not isinstance(rules_raw, dict):
            raise GuidelineError(f"{at('rules')}: field 'rules' must map change kinds to lists of {{role, count}}")
        all_roles = {r for rs in members.values() for r in rs}
        rules: dict[str, tuple[Rule, ...]] = {}
        for kind, lst in rules_raw.items():
            if kind not in KINDS:
                raise GuidelineError(f"{at('rules', kind)}: rules.{kind}: kind must be one of {', '.join(KINDS)}")
            if not isinstance(lst, list):
                raise GuidelineError(f"{at('rules', kind)}: rules.{kind} must be a list of {{role, count}}")
            out = []
            for i, r in enumerate(lst):
                where = f"{at('rules', kind, i)}: rules.{kind}[{i}]"
                if not isinstance(r, dict) or not isinstance(r.get("role"), str):
                    raise GuidelineError(f"{where}: each rule needs a role")
                count = r.get("count", 1)
                if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                    raise GuidelineError(f"{where}: count must be a positive integer, got {count!r}")
                if r["role"] not in all_roles:
                    raise GuidelineError(f"{where}: no member holds role {r['role']!r} "
                                         f"(roles: {', '.join(sorted(all_roles))})")
                out.append(Rule(r["role"], count))
            rules[str(kind)] = tuple(out)
        missing = [k for k in ("major", "minor", "patch") if k not in rules]
        if missing:
            raise GuidelineError(f"{at('rules')}: rules for {', '.join(missing)} changes are missing")
        grace = data.get("retire_grace_days", 7)
        if not isinstance(grace, int) or grace < 0:
            raise GuidelineError(f"{at('retire_grace_days')}: retire_grace_days must be a non-negative integer")
        return cls(members, rules, grace, str(p))

    def roles(self, member: str) -> tuple[str, ...]:
        if member not in self.members:
            raise GovernanceError(f"{member!r} is not a member in {self.path} (members: {', '.join(sorted(self.members))})")
        return self.members[member]

    def check(self, kind: str, approvers: list[str], author: str | None = None) -> Quorum:
        """Assign approvers to rule slots; the result says which slots are still empty."""
        if kind not in self.rules:
            raise GovernanceError(f"{self.path} has no rules for {kind!r} changes")
        slots = [(r.role, i) for r in self.rules[kind] for i in range(r.count)]
        eligible = [a for a in dict.fromkeys(approvers) if a != author and a in self.members]
        match: dict[int, str] = {}  # slot index -> approver

        def augment(a: str, seen: set[int]) -> bool:
            for j, (role, _) in enumerate(slots):
                if role in self.members[a] and j not in seen:
                    seen.add(j)
                    if j not in match or augment(match[j], seen):
                        match[j] = a
                        return True
            return False

        for a in eligible:
            augment(a, set())
        missing: dict[str, int] = {}
        for j, (role, _) in enumerate(slots):
            if j not in match:
                missing[role] = missing.get(role, 0) + 1
        not_counted = {}
        for a in dict.fromkeys(approvers):
            if a == author:
                not_counted[a] = "is the author"
            elif a not in self.members:
                not_counted[a] = "is not a member"
            elif a not in match.values():
                held = ", ".join(self.members[a])
                need = ", ".join(sorted({r.role for r in self.rules[kind]}))
                not_counted[a] = (f"holds {held}, not a role still needed ({need})"
                                  if set(self.members[a]) & {r.role for r in self.rules[kind]}
                                  else f"holds {held}; {kind} changes need {need}")
        return Quorum(kind, sorted(set(match.values()), key=approvers.index), missing, not_counted)


@dataclass
class Quorum:
    kind: str
    counted: list[str]
    missing: dict[str, int]               # role -> approvals still needed
    not_counted: dict[str, str] = field(default_factory=dict)  # approver -> why it does not count

    @property
    def met(self) -> bool:
        return not self.missing

    def describe_missing(self) -> str:
        parts = [f"{n} more {role} approval{'s' if n > 1 else ''}" for role, n in self.missing.items()]
        text = ", ".join(parts)
        if self.not_counted:
            text += " (not counted: " + "; ".join(f"{a} {why}" for a, why in self.not_counted.items()) + ")"
        return text


@dataclass
class ProposalStatus:
    proposal: Proposal
    state: str                      # open | rejected | released
    kind: str                       # major | minor | patch (computed from the diff)
    next_version: str
    approvals: list[dict[str, Any]]  # log entries
    rejections: list[dict[str, Any]]
    quorum: Quorum
    released_as: str | None = None
    edited: bool = False            # the file no longer matches what was filed (propose entry's hash)
    latest: str | None = None       # the task's latest version when it is not the proposal's base (stale)

    def to_dict(self) -> dict[str, Any]:
        p = self.proposal
        return {"id": p.id, "task": p.task, "title": p.title, "author": p.author, "base_version": p.base_version,
                "created_at": p.created_at, "state": self.state, "kind": self.kind,
                "next_version": self.next_version, "approved_by": [a["who"] for a in self.approvals],
                "counted": self.quorum.counted, "missing": self.quorum.missing,
                "not_counted": self.quorum.not_counted,
                "rejected_by": [{"who": r["who"], "why": r.get("why", "")} for r in self.rejections],
                "released_as": self.released_as, "edited_after_filing": self.edited,
                "stale_base_latest": self.latest,
                "rationale": p.rationale, "source": p.source}


def _base_version(root: str | os.PathLike[str], prop: Proposal) -> GuidelineVersion | None:
    if prop.base_version is None:
        return None
    return Guidelines.load(root).get(prop.task, prop.base_version)


def status(proposal: str | Proposal, root: str | os.PathLike[str] = "guidelines",
           entries: list[dict[str, Any]] | None = None, gov: Governance | None = None) -> ProposalStatus:
    """The proposal's state, computed kind and next version, and its approvals as read from the log."""
    prop = proposal if isinstance(proposal, Proposal) else load_proposal(proposal, root)
    gov = gov or Governance.load(root)
    entries = dlog.read(root) if entries is None else entries
    mine = [e for e in entries if e.get("proposal") == prop.id]
    approvals = [e for e in mine if e["action"] == "approve"]
    rejections = [e for e in mine if e["action"] == "reject"]
    released = [e for e in mine if e["action"] == "release"]
    if released:
        kind, nxt = released[-1].get("kind", "?"), str(released[-1].get("version"))
    else:
        new = apply_proposal(_base_version(root, prop), prop)
        kind, nxt = new.change_kind or "major", new.version
    digest = prop.sha256()
    filed = [e for e in mine if e["action"] == "propose" and e.get("proposal_sha256")]
    edited = bool(filed) and filed[0]["proposal_sha256"] != digest
    # an approval counts for the text it approved: one recorded for other content does not count
    stale = [a for a in approvals if a.get("proposal_sha256") not in (None, digest)]
    quorum = gov.check(kind, [a["who"] for a in approvals if a not in stale], prop.author)
    for a in stale:
        if a["who"] not in quorum.counted:
            quorum.not_counted.setdefault(a["who"], "approved another text of the proposal")
    state = "released" if released else ("rejected" if rejections else "open")
    latest = None
    if state == "open" and prop.base_version is not None:
        newest = Guidelines.load(root).latest(prop.task).version
        latest = newest if newest != prop.base_version else None
    return ProposalStatus(prop, state, kind, nxt, approvals, rejections, quorum,
                          str(released[-1]["version"]) if released else None, edited, latest)


def _open(proposal: str | Proposal, root: str | os.PathLike[str]) -> tuple[ProposalStatus, Governance]:
    gov = Governance.load(root)
    st = status(proposal, root, gov=gov)
    if st.state == "released":
        raise GovernanceError(f"proposal {st.proposal.id} was already released as {st.proposal.task} {st.released_as}")
    if st.state == "rejected":
        r = st.rejections[-1]
        raise GovernanceError(f"proposal {st.proposal.id} was rejected by {r['who']} ({r.get('why', '')}); "
                              "file a new proposal instead")
    return st, gov


def _refuse_edited(st: ProposalStatus) -> None:
    if st.edited:
        raise _ReleaseRefused(f"proposal {st.proposal.id} was edited after it was filed: {st.proposal.path} no longer "
                              "matches the proposal_sha256 of its propose entry in the decision log. A filed "
                              "proposal is not changed; restore it, or file the new text as a new proposal")


def approve(proposal: str | Proposal, member: str, root: str | os.PathLike[str] = "guidelines", *,
            why: str = "", at: dt.datetime | str | None = None) -> dict[str, Any]:
    """Record ``member``'s approval in the log. Returns the log entry plus whether it counts.

    Raises
    ------
    GovernanceError
        If the member is unknown, already approved, or the proposal is closed.
    """
    st, gov = _open(proposal, root)
    _refuse_edited(st)
    gov.roles(member)
    digest = st.proposal.sha256()
    if any(a["who"] == member and a.get("proposal_sha256") in (None, digest) for a in st.approvals):
        raise GovernanceError(f"{member} already approved proposal {st.proposal.id}")
    entry = dlog.append(root, "approve", member, at=at, task=st.proposal.task, proposal=st.proposal.id,
                        kind=st.kind, why=why or None, proposal_sha256=st.proposal.sha256())
    valid = [a["who"] for a in st.approvals if a.get("proposal_sha256") in (None, digest)]
    after = gov.check(st.kind, valid + [member], st.proposal.author)
    return {"entry": entry, "counts": member in after.counted, "not_counted": after.not_counted.get(member),
            "missing": after.missing, "kind": st.kind, "next_version": st.next_version}


def reject(proposal: str | Proposal, member: str, why: str, root: str | os.PathLike[str] = "guidelines", *,
           at: dt.datetime | str | None = None) -> dict[str, Any]:
    """Close a proposal as rejected. The member must hold a role that approves its kind of change."""
    if not why or not why.strip():
        raise GovernanceError("a rejection needs a reason (--why)")
    st, gov = _open(proposal, root)
    roles = set(gov.roles(member))
    needed = {r.role for r in gov.rules[st.kind]}
    if not roles & needed:
        raise GovernanceError(f"{member} holds {', '.join(sorted(roles))}; only {', '.join(sorted(needed))} "
                              f"may reject a {st.kind} change")
    return dlog.append(root, "reject", member, at=at, task=st.proposal.task, proposal=st.proposal.id,
                       kind=st.kind, why=why.strip())


def release(proposal: str | Proposal, root: str | os.PathLike[str] = "guidelines", *, who: str | None = None,
            at: dt.datetime | str | None = None, bootstrap: bool = False) -> GuidelineVersion:
    """Release an approved proposal as the next version (see the module docstring).

    ``who`` releases and must hold the right to: be a member holding a role the rules for this kind
    of change name (there is no default; the log records who released). ``bootstrap`` is the
    single-lead start (``labkit init``): a task's first release, proposed and released by one member
    holding a role of the ``major`` rules, with no other approval; it is recorded as such in the log.
    Every later change needs the approvals of ``governance.yaml``.

    Refuses when the approvals required for its kind are missing, when it is closed, or when its base
    is no longer the latest version of the task (a newer release exists: file a proposal against it).
    Releases of one task are serialized (an exclusive lock on the task's folder), so two proposals
    released at the same moment cannot both become the same next version.
    """
    prop0 = proposal if isinstance(proposal, Proposal) else load_proposal(proposal, root)
    with _task_lock(Path(root) / prop0.task):
        return _release(prop0, root, who=who, at=at, bootstrap=bootstrap)


@contextlib.contextmanager
def _task_lock(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on a task's folder (no lock file left behind)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _releaser(gov: Governance, who: str | None, kind: str, prop: Proposal) -> str:
    """``who`` if they may release a ``kind`` change: a member holding a role of that kind's rules."""
    if not who:
        raise _ReleaseRefused(f"release of {prop.id} refused: name the releasing member (--as MEMBER); "
                              "labkit does not default to the proposal's author")
    if who not in gov.members:
        raise _ReleaseRefused(f"release of {prop.id} refused: {who!r} is not a member in {gov.path} "
                              f"(members: {', '.join(sorted(gov.members))})")
    allowed = {r.role for r in gov.rules[kind]}
    if not set(gov.members[who]) & allowed:
        raise _ReleaseRefused(f"release of {prop.id} refused: {who} holds {', '.join(gov.members[who])}; "
                              f"releasing a {kind} change needs one of {', '.join(sorted(allowed))}")
    return who


def _release(proposal: Proposal, root: str | os.PathLike[str], *, who: str | None,
             at: dt.datetime | str | None, bootstrap: bool = False) -> GuidelineVersion:
    st, gov = _open(proposal, root)
    _refuse_edited(st)
    prop = st.proposal
    if bootstrap:
        if prop.base_version is not None or any(e.get("action") == "release" and e.get("task") == prop.task
                                                for e in dlog.read(root)):
            raise _ReleaseRefused(f"release of {prop.id} refused: the single-lead bootstrap is only for a task's "
                                  "first release; later changes need the approvals of governance.yaml")
        if who != prop.author:
            raise _ReleaseRefused(f"release of {prop.id} refused: the bootstrap release is made by its author "
                                  f"({prop.author}), not {who}")
        st.quorum = Quorum(st.kind, [_releaser(gov, who, st.kind, prop)], {})
    if not st.quorum.met:
        raise _ReleaseRefused(f"release of {prop.id} refused: a {st.kind} change to {prop.task} needs "
                              f"{st.quorum.describe_missing()}")
    if prop.base_version is not None:
        latest = Guidelines.load(root).latest(prop.task)
        if latest.version != prop.base_version:
            raise _ReleaseRefused(f"release of {prop.id} refused: it changes {prop.task} {prop.base_version} "
                                  f"but the latest version is {latest.version}; file it again against {latest.version}")
    who = _releaser(gov, who, st.kind, prop)
    when = dlog.format_time(at)
    new = apply_proposal(_base_version(root, prop), prop, released_at=when)
    path = Path(root) / prop.task / f"{new.version}.yaml"
    if path.exists():
        raise _ReleaseRefused(f"{path} already exists: released versions are never overwritten")
    body = version_document(new, prop, st.quorum.counted)
    content_hash = dlog.content_sha256(body)  # lets `log verify` tell an edited released file
    extra = {"bootstrap": True} if bootstrap else {}
    entry = dlog.append(root, "release", who, at=when, task=prop.task, proposal=prop.id,
                        version=new.version, kind=new.change_kind, approved_by=st.quorum.counted,
                        content_sha256=content_hash, proposal_sha256=prop.sha256(), why=prop.title, **extra)
    body["log_head"] = {"seq": entry["seq"], "hash": entry["hash"]}
    write_text(path, dump_yaml(body))
    _changelog(root, new, prop, st, entry)
    return Guidelines.load(root).get(prop.task, new.version)


def version_document(new: GuidelineVersion, prop: Proposal, approved_by: list[str]) -> dict[str, Any]:
    """The YAML mapping of a released version file (without ``log_head``)."""
    doc: dict[str, Any] = {"task": new.task, "version": new.version,
                           "released_at": dlog.format_time(new.released_at) if new.released_at else None,
                           "previous": new.previous, "change_kind": new.change_kind, "rationale": new.rationale,
                           "proposal": prop.id, "approved_by": list(approved_by),
                           "labels": [lab.to_dict() for lab in new.labels]}
    if new.decision_tree is not None:
        doc["decision_tree"] = new.decision_tree
    if new.migration is not None:
        doc["migration"] = new.migration
    return doc


def _changelog(root: str | os.PathLike[str], new: GuidelineVersion, prop: Proposal, st: ProposalStatus,
               entry: dict[str, Any]) -> None:
    from labkit.guidelines.diff import diff_versions

    path = Path(root) / new.task / "CHANGELOG.md"
    old_text = path.read_text(encoding="utf-8") if path.exists() else ""
    header = f"# {new.task} guideline changelog\n\nNewest first. Written by `labkit guidelines release`; do not edit.\n"
    lines = [f"## {new.version} ({new.change_kind}) - {dlog.format_time(new.released_at)[:10]}", "",
             f"**{prop.title}** (proposal `{prop.id}` by {prop.author})", "", prop.rationale, ""]
    if new.previous:
        base = Guidelines.load(root).get(new.task, new.previous)
        summary = diff_versions(base, new).summary().splitlines()[1:]
        lines += ["Changes:", "", "```", *summary, "```", ""]
    else:
        lines += ["Labels: " + ", ".join(new.label_names), ""]
    if new.migration:
        mp = ", ".join(f"{k} -> {v}" for k, v in new.migration.get("map", {}).items() if k != v)
        lines += [f"Migration from {new.migration['from']}: {mp or 'identity'}"
                  + (f"; relabel: {', '.join(new.migration.get('relabel', []))}" if new.migration.get("relabel") else "")
                  + (f"; split: {', '.join(new.migration.get('split', {}))}" if new.migration.get("split") else ""), ""]
    lines += [f"Approved by: {', '.join(st.quorum.counted) or 'nobody'}. "
              f"Log entry {entry['seq']}, hash `{entry['hash'][:16]}`.", ""]
    rest = old_text[len(header):].lstrip("\n") if old_text.startswith(header) else old_text
    write_text(path, header + "\n" + "\n".join(lines) + ("\n" + rest if rest else ""))


def record_decision(kind: str, member: str, root: str | os.PathLike[str] = "guidelines", *, task: str,
                    item_id: str, label: str, why: str, cosigners: tuple[str, ...] = (),
                    at: dt.datetime | str | None = None, **extra: Any) -> dict[str, Any]:
    """Record an adjudication or a gold edit, checked against governance.yaml's rules for that kind.

    ``member`` decides; ``cosigners`` are the other members when the rule's quorum needs more than one.

    Raises
    ------
    GovernanceError
        Naming the approvals missing when member plus cosigners do not satisfy the rules.
    """
    action = {"adjudication": "adjudicate", "gold_edit": "gold_edit"}.get(kind)
    if action is None:
        raise GovernanceError(f"decision kind must be adjudication or gold_edit, got {kind!r}")
    if not why or not why.strip():
        raise GovernanceError(f"an {kind} needs a reason (--why)")
    gov = Governance.load(root)
    people = [member, *cosigners]
    for p in people:
        gov.roles(p)
    q = gov.check(kind, people) if kind in gov.rules else Quorum(kind, people, {})
    if not q.met:
        raise _ReleaseRefused(f"{kind} of {item_id} refused: needs {q.describe_missing()}")
    return dlog.append(root, action, member, at=at, task=task, item_id=item_id, label=label, why=why.strip(),
                       cosigners=list(cosigners) or None, **extra)
