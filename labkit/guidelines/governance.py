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
import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labkit._atomic import write_text
from labkit.errors import GovernanceError, GuidelineError
from labkit.guidelines import log as dlog
from labkit.guidelines import signing as _signing
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
    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)  # member -> ssh-ed25519 public lines
    signing: str = "off"            # "required": every decision is signed by a key listed for its member
    sha256: str = ""                # SHA-256 of the file's bytes (recorded in the log: the anchor)
    document: dict[str, Any] = field(default_factory=dict)  # the parsed file, as logged by `govern`

    @classmethod
    def load(cls, root: str | os.PathLike[str] = "guidelines") -> Governance:
        p = Path(root)
        p = p if p.suffix in (".yaml", ".yml") else p / "governance.yaml"
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            raise GuidelineError(f"{p}: no governance file (members, roles and approval rules)") from None
        gov = cls.parse(raw.decode("utf-8"), str(p))
        gov.sha256 = hashlib.sha256(raw).hexdigest()
        return gov

    @classmethod
    def parse(cls, text: str, where: str = "governance.yaml") -> Governance:
        """Parse the text of a governance file (``where`` names it in errors)."""
        p = Path(where)
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
        keys: dict[str, tuple[str, ...]] = {}
        for m, roles in members_raw.items():
            if isinstance(roles, dict):  # {roles: [...], key: ssh-ed25519 ... | keys: [...]}
                spec = roles
                unknown = sorted(set(spec) - {"roles", "key", "keys"})
                if unknown:
                    raise GuidelineError(f"{at('members', m)}: members.{m}: unknown field {unknown[0]!r} "
                                         "(a member has roles and key or keys)")
                ks = spec.get("keys", [spec["key"]] if "key" in spec else [])
                if not isinstance(ks, list) or not all(isinstance(k, str) for k in ks):
                    raise GuidelineError(f"{at('members', m)}: members.{m}.keys must be a list of public key lines")
                for k in ks:
                    try:
                        _signing.fingerprint(k)
                    except (GovernanceError, ValueError):
                        raise GuidelineError(f"{at('members', m)}: members.{m}: {k[:30]!r}... is not an "
                                             "ssh-ed25519 public key line (make one with `labkit keys generate`)") from None
                keys[str(m)] = tuple(k.strip() for k in ks)
                roles = spec.get("roles")
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
            if not lst and kind in ("major", "minor", "patch"):
                raise GuidelineError(f"{at('rules', kind)}: rules.{kind} is empty: it would let a {kind} change be "
                                     "released with no approval at all; list at least one {role, count}")
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
        signing = data.get("signing", "required" if keys else "off")
        if signing not in ("required", "off"):
            raise GuidelineError(f"{at('signing')}: signing must be 'required' or 'off', got {signing!r}")
        if signing == "required":
            keyless = sorted(m for m in members if not keys.get(m))
            if keyless:
                raise GuidelineError(f"{at('signing')}: signing is required but {', '.join(keyless)} list no key "
                                     "(add `key: ssh-ed25519 ...` from `labkit keys generate`)")
        return cls(members, rules, grace, str(p), keys, signing, hashlib.sha256(text.encode("utf-8")).hexdigest(), data)

    @property
    def signed(self) -> bool:
        return self.signing == "required"

    def key_for(self, member: str, private: Any) -> Any:
        """Check that ``private`` is a key listed for ``member``; return it (None in unsigned mode without a key)."""
        self.roles(member)
        if private is None:
            if self.signed:
                raise GovernanceError(f"{self.path} requires signed decisions: pass --key PATH (or set "
                                      f"{_signing.ENV_KEY}) with the private key listed for {member}")
            return None
        line = _signing.public_line(private)
        if line.split()[:2] not in [k.split()[:2] for k in self.keys.get(member, ())]:
            raise GovernanceError(f"the signing key {_signing.fingerprint(line)} is not listed for {member} in "
                                  f"{self.path}: a decision is signed with the key of the member it names")
        return private

    def signature_problem(self, entry: dict[str, Any]) -> str | None:
        """Why ``entry``'s signature does not hold under this governance (None when it does or none is required)."""
        who = str(entry.get("who"))
        if "sig" not in entry:
            return f"is not signed, but {self.path} requires signed decisions" if self.signed else None
        listed = self.keys.get(who, ())
        if not listed:
            return f"is signed, but {who} lists no key in {self.path}" if who in self.members else \
                f"names {who}, who is not a member in {self.path}"
        if not any(_signing.check(k, entry) for k in listed):
            return (f"is signed with key {entry.get('signer_key')}, which is not a key listed for {who} in {self.path} "
                    "(or the signature does not match the entry)")
        return None

    def roles(self, member: str) -> tuple[str, ...]:
        if member not in self.members:
            raise GovernanceError(f"{member!r} is not a member in {self.path} (members: {', '.join(sorted(self.members))})")
        return self.members[member]

    def check(self, kind: str, approvers: list[str], author: str | None = None, filer: str | None = None) -> Quorum:
        """Assign approvers to rule slots; the result says which slots are still empty.

        Neither the author nor the member who filed the proposal (``filer``: the ``who`` of its signed
        ``propose`` entry) counts, so naming someone else as author does not make one's own approval count.
        """
        if kind not in self.rules:
            raise GovernanceError(f"{self.path} has no rules for {kind!r} changes")
        slots = [(r.role, i) for r in self.rules[kind] for i in range(r.count)]
        if not slots:
            raise GovernanceError(f"{self.path}: rules.{kind} is empty: a {kind} change would need no approval")
        eligible = [a for a in dict.fromkeys(approvers) if a not in (author, filer) and a in self.members]
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
            elif a == filer:
                not_counted[a] = "filed the proposal"
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
    filer: str | None = None        # who filed it (the propose entry's signer)
    filed_at: str | None = None     # when (the propose entry's time)

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


#: How far in the future a decision's time may be (clock skew between machines).
FUTURE_SKEW = dt.timedelta(minutes=5)


def _parse_time(at: Any) -> dt.datetime:
    return dt.datetime.fromisoformat(str(at).replace("Z", "+00:00"))


def recorded_governance(entries: list[dict[str, Any]]) -> tuple[str | None, int | None]:
    """The governance.yaml SHA-256 in force according to the log, and the seq of the entry recording it."""
    for e in reversed(entries):
        if e.get("governance_sha256"):
            return str(e["governance_sha256"]), e.get("seq")
    return None, None


def log_decision(root: str | os.PathLike[str], gov: Governance, action: str, member: str, *,
                 key: Any = None, at: dt.datetime | str | None = None, not_before: Sequence[tuple[str, str]] = (),
                 **fields: Any) -> dict[str, Any]:
    """Append one governed decision: signed by ``member``'s key, anchored to governance.yaml, time-checked.

    * ``member`` must be a member; with ``signing: required`` the key (``key``, else ``$LABKIT_SIGNING_KEY``)
      must be one listed for them, and the entry is signed (:mod:`labkit.guidelines.signing`).
    * The entry records ``governance_sha256``. The first governed decision also logs the governance file
      itself (a ``govern`` entry with its text); afterwards a governance.yaml whose SHA-256 is not the one
      in force in the log is refused (change it through ``labkit guidelines governance``).
    * ``at`` may not be in the future, nor before any ``(time, what)`` of ``not_before``.
    """
    if not gov.signed and not gov.keys.get(member):
        # unsigned mode, and no key listed for this member: nothing to sign with (a keyring in the
        # environment for another governance is not consulted); membership is still checked
        if member in gov.members or action != "propose":
            gov.roles(member)
        private = None  # (a calibration participant's pseudonym may file a proposal)
    else:
        private = gov.key_for(member, _signing.resolve_key(key, member))
    when = dlog.format_time(at)
    if _parse_time(when) > dt.datetime.now(dt.timezone.utc) + FUTURE_SKEW:
        raise GovernanceError(f"{action} by {member} at {when} refused: the time is in the future")
    for t, what in not_before:
        if _parse_time(when) < _parse_time(t):
            raise GovernanceError(f"{action} by {member} at {when} refused: it would precede {what} ({t})")
    entries = dlog.read(root)
    recorded, seq = recorded_governance(entries)
    batch: list[dict[str, Any]] = []
    if recorded is None:
        batch.append({"action": "govern", "who": member, "at": when, "governance_sha256": gov.sha256,
                      "document": Path(gov.path).read_text(encoding="utf-8"), "why": "governance in force",
                      "_key": private})
    elif recorded != gov.sha256:
        raise GovernanceError(f"{gov.path} was edited after log entry {seq}: its SHA-256 is not the one in force in "
                              "the decision log. Governance changes are approved and adopted through "
                              "`labkit guidelines governance approve/adopt`; restore the file")
    batch.append({"action": action, "who": member, "at": when, "governance_sha256": gov.sha256, "_key": private,
                  **fields})
    return dlog.append_many(root, batch)[-1]


def _in_force(entries: list[dict[str, Any]], current: Governance) -> Any:
    """A function giving, for a log entry, the governance in force when it was made (keys rotate).

    Governance documents come from the log's ``govern`` entries; entries before the first one (or a log
    without any) are judged by ``current``.
    """
    docs: list[tuple[int, Governance]] = []
    for e in entries:
        if e.get("action") == "govern" and isinstance(e.get("seq"), int):
            try:
                g = Governance.parse(str(e.get("document", "")), f"governance.yaml as logged at seq {e['seq']}")
            except (GuidelineError, GovernanceError):
                continue  # `labkit log verify` reports it
            docs.append((int(e["seq"]), g))

    def judge(entry: dict[str, Any]) -> Governance:
        seq = entry.get("seq")
        found = current
        for s, g in docs:
            if isinstance(seq, int) and s < seq:
                found = g
        return found

    return judge


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
    judge = _in_force(entries, gov)
    forged = {id(e): why for e in mine if (why := judge(e).signature_problem(e))}  # verified on every read
    approvals = [e for e in mine if e["action"] == "approve" and id(e) not in forged]
    rejections = [e for e in mine if e["action"] == "reject" and id(e) not in forged]
    released = [e for e in mine if e["action"] == "release" and id(e) not in forged]
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
    filer = filed[0]["who"] if filed else None
    quorum = gov.check(kind, [a["who"] for a in approvals if a not in stale], prop.author, filer)
    for e in mine:
        if id(e) in forged and e["action"] == "approve":
            quorum.not_counted.setdefault(e["who"], f"approval in log entry {e.get('seq')} {forged[id(e)]}")
    for a in stale:
        if a["who"] not in quorum.counted:
            quorum.not_counted.setdefault(a["who"], "approved another text of the proposal")
    state = "released" if released else ("rejected" if rejections else "open")
    latest = None
    if state == "open" and prop.base_version is not None:
        newest = Guidelines.load(root).latest(prop.task).version
        latest = newest if newest != prop.base_version else None
    return ProposalStatus(prop, state, kind, nxt, approvals, rejections, quorum,
                          str(released[-1]["version"]) if released else None, edited, latest, filer,
                          filed[0]["at"] if filed else None)


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
            why: str = "", at: dt.datetime | str | None = None, key: Any = None) -> dict[str, Any]:
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
    entry = log_decision(root, gov, "approve", member, key=key, at=at, not_before=_filed_at(st),
                         task=st.proposal.task, proposal=st.proposal.id, kind=st.kind, why=why or None,
                         proposal_sha256=st.proposal.sha256())
    valid = [a["who"] for a in st.approvals if a.get("proposal_sha256") in (None, digest)]
    after = gov.check(st.kind, valid + [member], st.proposal.author, st.filer)
    return {"entry": entry, "counts": member in after.counted, "not_counted": after.not_counted.get(member),
            "missing": after.missing, "kind": st.kind, "next_version": st.next_version}


def reject(proposal: str | Proposal, member: str, why: str, root: str | os.PathLike[str] = "guidelines", *,
           at: dt.datetime | str | None = None, key: Any = None) -> dict[str, Any]:
    """Close a proposal as rejected. The member must hold a role that approves its kind of change."""
    if not why or not why.strip():
        raise GovernanceError("a rejection needs a reason (--why)")
    st, gov = _open(proposal, root)
    roles = set(gov.roles(member))
    needed = {r.role for r in gov.rules[st.kind]}
    if not roles & needed:
        raise GovernanceError(f"{member} holds {', '.join(sorted(roles))}; only {', '.join(sorted(needed))} "
                              f"may reject a {st.kind} change")
    return log_decision(root, gov, "reject", member, key=key, at=at, not_before=_filed_at(st),
                        task=st.proposal.task, proposal=st.proposal.id, kind=st.kind, why=why.strip())


def release(proposal: str | Proposal, root: str | os.PathLike[str] = "guidelines", *, who: str | None = None,
            at: dt.datetime | str | None = None, key: Any = None, bootstrap: bool = False) -> GuidelineVersion:
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
        return _release(prop0, root, who=who, at=at, key=key, bootstrap=bootstrap)


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
             at: dt.datetime | str | None, key: Any = None, bootstrap: bool = False) -> GuidelineVersion:
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
    counted_at = [(a["at"], f"{a['who']}'s approval (log entry {a['seq']})") for a in st.approvals
                  if a["who"] in st.quorum.counted]
    section, approved_line = _changelog_section(root, new, prop, st.quorum.counted)
    extra = {"bootstrap": True} if bootstrap else {}
    entry = log_decision(root, gov, "release", who, key=key, at=when,
                         not_before=_filed_at(st) + counted_at, task=prop.task, proposal=prop.id,
                         version=new.version, kind=new.change_kind, approved_by=st.quorum.counted,
                         content_sha256=content_hash, proposal_sha256=prop.sha256(), why=prop.title,
                         changelog_sha256=changelog_sha256(section), **extra)
    body["log_head"] = {"seq": entry["seq"], "hash": entry["hash"]}
    write_text(path, dump_yaml(body))
    _changelog(root, new, section, approved_line, entry)
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
    if new.meta.get("error_costs"):
        doc["error_costs"] = new.meta["error_costs"]
    return doc


def _changelog_section(root: str | os.PathLike[str], new: GuidelineVersion, prop: Proposal,
                       counted: list[str]) -> tuple[str, str]:
    """A release's CHANGELOG section (what ``changelog_sha256`` covers) and its ``Approved by`` line prefix."""
    from labkit.guidelines.diff import diff_versions

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
    return "\n".join(lines) + "\n", f"Approved by: {', '.join(counted) or 'nobody'}."


CHANGELOG_HEADER = "Newest first. Written by `labkit guidelines release`; do not edit.\n"


def changelog_sha256(section: str) -> str:
    """SHA-256 of a CHANGELOG section without its last (``Approved by ... Log entry``) line."""
    return hashlib.sha256(section.encode("utf-8")).hexdigest()


def changelog_sections(text: str) -> dict[str, str]:
    """``version -> section text`` (without the ``Approved by`` line) of a CHANGELOG written by release."""
    out: dict[str, str] = {}
    for chunk in ("\n" + text).split("\n## ")[1:]:
        body = "## " + chunk
        version = chunk.split(" ", 1)[0]
        lines = body.split("\n")
        idx = max((i for i, ln in enumerate(lines) if ln.startswith("Approved by: ")), default=None)
        if idx is None:
            out[version] = body
            continue
        out[version] = "\n".join(lines[:idx]) + "\n"
    return out


def _changelog(root: str | os.PathLike[str], new: GuidelineVersion, section: str, approved_line: str,
               entry: dict[str, Any]) -> None:
    path = Path(root) / new.task / "CHANGELOG.md"
    old_text = path.read_text(encoding="utf-8") if path.exists() else ""
    header = f"# {new.task} guideline changelog\n\n{CHANGELOG_HEADER}"
    block = section + f"{approved_line} Log entry {entry['seq']}, hash `{entry['hash'][:16]}`.\n"
    rest = old_text[len(header):].lstrip("\n") if old_text.startswith(header) else old_text
    write_text(path, header + "\n" + block + ("\n" + rest if rest else ""))


def _filed_at(st: ProposalStatus) -> list[tuple[str, str]]:
    return [(st.filed_at, f"the filing of {st.proposal.id}")] if st.filed_at else []


def record_decision(kind: str, member: str, root: str | os.PathLike[str] = "guidelines", *, task: str,
                    item_id: str, label: str, why: str, cosigners: tuple[str, ...] = (),
                    at: dt.datetime | str | None = None, key: Any = None, **extra: Any) -> dict[str, Any]:
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
    return log_decision(root, gov, action, member, key=key, at=at, task=task, item_id=item_id, label=label,
                        why=why.strip(), cosigners=list(cosigners) or None, **extra)


# --- governance changes: approved and adopted under the rules in force ----------------------------

#: A change of governance.yaml needs the approvals a major guideline change needs, under the rules in force.
GOVERNANCE_KIND = "major"


def _new_governance(file: str | os.PathLike[str]) -> tuple[str, Governance]:
    p = Path(file)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GovernanceError(f"{p}: no such governance file") from None
    return text, Governance.parse(text, str(p))


def _change_approvals(entries: list[dict[str, Any]], gov: Governance, sha: str) -> list[dict[str, Any]]:
    return [e for e in entries if e.get("action") == "approve" and e.get("governance_change_sha256") == sha
            and gov.signature_problem(e) is None]


def approve_governance(file: str | os.PathLike[str], member: str, root: str | os.PathLike[str] = "guidelines", *,
                       why: str = "", at: dt.datetime | str | None = None, key: Any = None) -> dict[str, Any]:
    """Approve a new governance.yaml (``file``) as ``member``; it is adopted once the rules in force hold."""
    gov = Governance.load(root)
    text, _ = _new_governance(file)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if sha == gov.sha256:
        raise GovernanceError(f"{file} is the governance already in force")
    change = f"governance-{sha[:12]}"
    done = _change_approvals(dlog.read(root), gov, sha)
    if any(e["who"] == member for e in done):
        raise GovernanceError(f"{member} already approved governance change {change}")
    entry = log_decision(root, gov, "approve", member, key=key, at=at, proposal=change, kind="governance",
                         governance_change_sha256=sha, why=why or None)
    q = gov.check(GOVERNANCE_KIND, [e["who"] for e in done] + [member])
    return {"entry": entry, "change": change, "counts": member in q.counted, "missing": q.missing}


def _sole_member(gov: Governance, member: str) -> bool:
    """A team of one: the only member of the governance in force may change it alone (how a lone lead who
    bootstrapped with ``labkit init`` adds the second member; from then on the rules apply)."""
    return list(gov.members) == [member]


def adopt_governance(file: str | os.PathLike[str], member: str, root: str | os.PathLike[str] = "guidelines", *,
                     at: dt.datetime | str | None = None, key: Any = None) -> dict[str, Any]:
    """Adopt an approved governance.yaml: log it (a signed ``govern`` entry with its text), then write it."""
    gov = Governance.load(root)
    text, _ = _new_governance(file)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    apps = _change_approvals(dlog.read(root), gov, sha)
    q = gov.check(GOVERNANCE_KIND, [e["who"] for e in apps])
    if not q.met and not _sole_member(gov, member):
        raise _ReleaseRefused(f"adoption of governance change governance-{sha[:12]} refused: under the rules in force "
                              f"it needs {q.describe_missing()}")
    entry = log_decision(root, gov, "govern", member, key=key, at=at,
                         not_before=[(e["at"], f"{e['who']}'s approval (log entry {e['seq']})") for e in apps],
                         governance_sha256=sha, document=text, previous_governance_sha256=gov.sha256,
                         approved_by=q.counted, why="governance change adopted")
    write_text(Path(gov.path), text)
    return entry


# --- audit: what `labkit log verify` checks beyond the hash chain --------------------------------

_DECISIONS = ("propose", "approve", "reject", "release", "adjudicate", "gold_edit")


def audit(entries: list[dict[str, Any]], groot: Path) -> tuple[int | None, str | None, str] | None:
    """The first governance problem in a chain-valid log: ``(line, bad_file, text)``, or None.

    Checks signatures against the keys in force at each entry (the governance documents logged by
    ``govern`` entries; the current file for a log that has none), that governance changes were
    approved under the rules in force and that governance.yaml is the one the log adopted last, that
    every decision names a member, that approvals, rejections and releases follow a filed proposal in
    time, that each release's approvers meet its rules, that no entry is dated in the future, and that
    filed proposals and CHANGELOG sections are still there as recorded.
    """
    gpath = groot / "governance.yaml"
    try:
        current = Governance.load(groot) if gpath.exists() else None
    except (GuidelineError, GovernanceError) as exc:
        return (None, "governance.yaml", str(exc))
    in_force: Governance | None = None
    in_force_seq: int | None = None
    change_apps: dict[str, list[dict[str, Any]]] = {}
    proposes: dict[str, dict[str, Any]] = {}
    approvals: dict[str, list[dict[str, Any]]] = {}
    latest_ok = dt.datetime.now(dt.timezone.utc) + FUTURE_SKEW
    for i, e in enumerate(entries):
        seq, action, who = e.get("seq"), e.get("action"), str(e.get("who"))
        line = int(seq) + 1 if isinstance(seq, int) else None
        what = f"entry seq {seq} ({action} by {who})"
        try:
            when = _parse_time(e.get("at"))
        except ValueError:
            return (line, None, f"{what} has no valid time")
        if when > latest_ok:
            return (line, None, f"{what} is dated {e.get('at')}, in the future")
        if action == "govern":
            doc = str(e.get("document", ""))
            try:
                new = Governance.parse(doc, f"governance.yaml as logged at seq {seq}")
            except (GuidelineError, GovernanceError) as exc:
                return (line, None, f"{what}: {exc}")
            new.sha256 = hashlib.sha256(doc.encode("utf-8")).hexdigest()
            if new.sha256 != e.get("governance_sha256"):
                return (line, None, f"{what}: the logged document does not match its governance_sha256")
            judge = in_force or new  # the first (bootstrap) entry is signed by a member of what it records
            prob = judge.signature_problem(e)
            if prob:
                return (line, None, f"{what} {prob}")
            if in_force is not None:
                apps = [a for a in change_apps.get(new.sha256, []) if not in_force.signature_problem(a)]
                q = in_force.check(GOVERNANCE_KIND, [a["who"] for a in apps])
                if not q.met and not _sole_member(in_force, who):
                    return (line, None, f"{what} adopted a governance change without the approvals the rules in "
                            f"force require: needs {q.describe_missing()}")
                early = [a for a in apps if _parse_time(a["at"]) > when]
                if early:
                    return (line, None, f"{what} is dated before {early[0]['who']}'s approval of the change")
            in_force, in_force_seq = new, seq
            continue
        gov = in_force or current
        if gov is None or action not in _DECISIONS:
            continue
        if in_force is not None and e.get("governance_sha256") not in (None, in_force.sha256):
            return (line, None, f"{what} was made under a governance.yaml the log never adopted")
        pseudonymous_filer = action == "propose" and who not in gov.members and not gov.signed
        if not pseudonymous_filer:
            if who not in gov.members:
                return (line, None, f"{what}: {who} is not a member in governance.yaml")
            prob = gov.signature_problem(e)
            if prob:
                return (line, None, f"{what} {prob}")
        pid = str(e.get("proposal"))
        if action == "propose":
            proposes.setdefault(pid, e)
            continue
        if action not in ("approve", "reject", "release"):
            continue
        if pid.startswith("governance-") and e.get("governance_change_sha256"):
            change_apps.setdefault(str(e["governance_change_sha256"]), []).append(e)
            continue
        filed = proposes.get(pid)
        if filed is None:
            return (line, None, f"{what} names proposal {pid}, which was never filed (no propose entry before it)")
        if when < _parse_time(filed["at"]):
            return (line, None, f"{what} is dated {e.get('at')}, before {pid} was filed ({filed['at']})")
        if action == "approve":
            approvals.setdefault(pid, []).append(e)
        elif action == "release" and e.get("bootstrap"):
            # the single-lead bootstrap (labkit init): a task's first release, by its author alone, who holds
            # a role of the major rules; anything else claiming to be a bootstrap is refused
            earlier = [x for x in entries[:i] if x.get("action") == "release" and x.get("task") == e.get("task")]
            filer = str(filed.get("author", filed["who"]))
            roles = set(gov.members.get(who, ()))
            if earlier or who != filer or list(e.get("approved_by") or []) != [who] or \
                    not roles & {r.role for r in gov.rules.get("major", [])}:
                return (line, None, f"{what} claims the single-lead bootstrap, which is only a task's first release "
                        "by its author holding a role of the major rules")
        elif action == "release":
            mine = {a["who"]: a for a in approvals.get(pid, [])}
            for a in e.get("approved_by") or []:
                if a not in mine:
                    return (line, None, f"{what} lists {a} as an approver, but the log has no approval of {pid} by {a}")
                if _parse_time(mine[a]["at"]) > when:
                    return (line, None, f"{what} is dated {e.get('at')}, before {a}'s approval ({mine[a]['at']})")
            kind = str(e.get("kind"))
            if kind in gov.rules:
                q = gov.check(kind, list(e.get("approved_by") or []), str(filed.get("author", filed["who"])),
                              str(filed["who"]))
                if not q.met:
                    return (line, None, f"{what} released {pid} without the approvals a {kind} change needs: "
                            f"{q.describe_missing()}")
    if in_force is not None:
        if current is None:
            return (None, "governance.yaml", f"governance.yaml is missing; the log adopted it at seq {in_force_seq}")
        if current.sha256 != in_force.sha256:
            return (None, "governance.yaml", f"governance.yaml was edited after log entry {in_force_seq}: its SHA-256 "
                    "is not the one the log adopted. Governance changes go through `labkit guidelines governance "
                    "approve/adopt`; restore the file")
    for pid, e in proposes.items():
        task = str(e.get("task"))
        f = groot / task / "proposals" / f"{pid}.yaml"
        if (groot / task).is_dir() and not f.exists():
            return (int(e["seq"]) + 1, f"{task}/proposals/{pid}.yaml",
                    f"{task}/proposals/{pid}.yaml was filed at log entry seq {e['seq']} but is missing (deleted?)")
    logs: dict[str, dict[str, str]] = {}
    for e in entries:
        if e.get("action") != "release" or not e.get("changelog_sha256"):
            continue
        task = str(e.get("task"))
        cl = groot / task / "CHANGELOG.md"
        if not (groot / task).is_dir():
            continue
        if task not in logs:
            logs[task] = changelog_sections(cl.read_text(encoding="utf-8")) if cl.exists() else {}
        sec = logs[task].get(str(e.get("version")))
        if sec is None or changelog_sha256(sec) != e["changelog_sha256"]:
            return (int(e["seq"]) + 1, f"{task}/CHANGELOG.md",
                    f"{task}/CHANGELOG.md: the section of {task} {e.get('version')} "
                    f"{'is missing' if sec is None else 'was edited'}: it no longer matches the changelog_sha256 "
                    f"recorded by the release entry (seq {e['seq']})")
    return None
