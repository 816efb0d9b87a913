"""Guideline change proposals: ``guidelines/<task>/proposals/<id>.yaml``.

A proposal is a small, reviewable file: who proposes what change to which released version, and why.
Its status (open, approved, rejected, released) is never stored in the file: it is read from the
decision log (:mod:`labkit.guidelines.log`), where approvals, rejections and the release append.

Format::

    id: toxicity-2026-09-14-self-promotion
    task: toxicity
    base_version: 1.0.0            # the released version it changes (null: the first release)
    author: g-facil-1
    created_at: "2026-09-14T16:00:00Z"
    title: "A label for self-promotion"
    rationale: "Calibration split annotators between spam and ok on posters promoting their own work."
    source: {kind: calibration, session: cal-2026-09-14, item_id: c-0412}
    changes:
      - op: add_label
        label: {name: self_promotion, definition: "...", parent: spam, exclusive_with: [ok],
                examples: {positive: [...], negative: [...]}, edge_cases: [...]}
      - op: reword_definition
        label: offensive
        current: "The comment insults, mocks or demeans a person or group."
        proposed: "The comment insults, mocks or demeans a person or group, including through sarcasm."

Operations (``current`` is the rule as it stands in the base version; :func:`new_proposal` fills it in
when left out, and :func:`apply_proposal` refuses a proposal whose ``current`` no longer matches):

==================  ==========================================================================  =====
op                  fields                                                                      kind
==================  ==========================================================================  =====
add_label           ``label: {name, definition, examples, edge_cases, parent, exclusive_with}``  minor
remove_label        ``label``, optional ``relabel_to`` (deterministic migration target)          major
rename_label        ``label``, ``new_name``, optional ``proposed`` (new definition)              major
merge_labels        ``labels: [a, b, ...]``, ``into`` (one of them or new), optional ``proposed``  major
split_label         ``label``, ``into: [{name, definition, ...}, ...]`` (old judgements relabeled) major
reword_definition   ``label``, ``current``, ``proposed``                                          patch
add_example         ``label``, ``polarity`` (positive|negative), ``proposed``                     patch
remove_example      ``label``, ``polarity``, ``current``                                          patch
add_edge_case       ``label``, ``proposed``                                                       patch
remove_edge_case    ``label``, ``current``                                                        patch
add_exemplar        ``label``, ``polarity``, ``proposed`` (text), ``rationale``; optional ``source``,  patch
                    ``decided_by`` (a member id or pseudonym)
edit_decision_tree  ``proposed`` (the whole new tree), ``current`` (the old tree)                 patch
==================  ==========================================================================  =====

The kind of the release is not declared: it is computed by diffing the base version against the
result (:func:`labkit.guidelines.diff.diff_versions`), so it cannot be understated.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labkit._atomic import write_text
from labkit.errors import GovernanceError, GuidelineError
from labkit.guidelines.model import Guidelines, GuidelineVersion, SemVer, parse_version
from labkit.guidelines.model import safe_load as _yaml_load

OPS = ("add_label", "remove_label", "rename_label", "merge_labels", "split_label", "reword_definition",
       "add_example", "remove_example", "add_edge_case", "remove_edge_case", "edit_decision_tree", "add_exemplar",
       "set_error_costs")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")


@dataclass(frozen=True)
class Proposal:
    """A proposed change to one released guideline version (see the module docstring for the format)."""

    id: str
    task: str
    base_version: str | None
    author: str
    created_at: str
    title: str
    rationale: str
    changes: tuple[dict[str, Any], ...]
    source: dict[str, Any] = field(default_factory=dict)
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "task": self.task, "base_version": self.base_version,
                             "author": self.author, "created_at": self.created_at, "title": self.title,
                             "rationale": self.rationale}
        if self.source:
            d["source"] = dict(self.source)
        d["changes"] = [dict(c) for c in self.changes]
        return d

    def to_yaml(self) -> str:
        return dump_yaml(self.to_dict())

    def sha256(self) -> str:
        """SHA-256 of the proposal's content as filed (its YAML, as :meth:`to_yaml` writes it).

        The ``propose``, ``approve`` and ``release`` log entries record it, so an approval is bound to
        the text that was approved and a proposal edited after it was filed is detected.
        """
        import hashlib

        return hashlib.sha256(self.to_yaml().encode("utf-8")).hexdigest()


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_presenter)


def dump_yaml(data: Any) -> str:
    """Stable, readable YAML (insertion order kept, Unicode as is, wide lines) for files people review."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110,
                     default_flow_style=False)


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if len(s) > 48:  # cut at a word boundary: "...-ontonotes" rather than "...-ontonot"
        cut = s[:49].rfind("-")
        s = s[:cut] if cut > 0 else s[:48]
    return s.rstrip("-") or "change"


def proposals_dir(root: str | os.PathLike[str], task: str) -> Path:
    return Path(root) / task / "proposals"


def _time(value: Any, where: str) -> str:
    from labkit.guidelines.log import format_time

    try:
        return format_time(value)
    except (TypeError, ValueError):
        raise GuidelineError(f"{where}: created_at {value!r} is not an ISO 8601 timestamp") from None


def parse_proposal(data: Any, path: str = "<proposal>") -> Proposal:
    """Build a :class:`Proposal` from parsed YAML, with errors naming the file and field."""
    if not isinstance(data, dict):
        raise GuidelineError(f"{path}: a proposal must be a mapping (id, task, base_version, author, ...)")
    for key in ("task", "author", "title", "rationale", "changes"):
        if data.get(key) in (None, "", []):
            raise GuidelineError(f"{path}: missing field {key!r}")
    for key in ("task", "author", "title", "rationale"):
        if not isinstance(data[key], str):
            raise GuidelineError(f"{path}: field {key!r} must be text")
    if "base_version" not in data:
        raise GuidelineError(f"{path}: missing field 'base_version' (null for a first release)")
    base = data["base_version"]
    if base is not None:
        base = str(base)
        SemVer.parse(base)
    changes = data["changes"]
    if not isinstance(changes, list):
        raise GuidelineError(f"{path}: field 'changes' must be a list of operations")
    changes = [dict(ch) if isinstance(ch, dict) else ch for ch in changes]
    for i, ch in enumerate(changes):
        _check_op(ch, f"{path}: changes[{i}]")
    source = data.get("source") or {}
    if not isinstance(source, dict):
        raise GuidelineError(f"{path}: field 'source' must be a mapping (e.g. {{kind: calibration, session: ...}})")
    pid = str(data.get("id") or "")
    if pid and not _ID.match(pid):
        raise GuidelineError(f"{path}: field 'id' {pid!r} must be letters, digits, '.', '_' or '-' (max 120)")
    return Proposal(id=pid, task=data["task"], base_version=base, author=data["author"],
                    created_at=_time(data.get("created_at"), path) if data.get("created_at") else "",
                    title=data["title"].strip(), rationale=data["rationale"].strip(),
                    changes=tuple(dict(c) for c in changes), source=dict(source), path=path)


_REQUIRED = {
    "add_label": ("label",), "remove_label": ("label",), "rename_label": ("label", "new_name"),
    "merge_labels": ("labels", "into"), "split_label": ("label", "into"),
    "reword_definition": ("label", "proposed"), "add_example": ("label", "polarity", "proposed"),
    "remove_example": ("label", "polarity", "current"), "add_edge_case": ("label", "proposed"),
    "remove_edge_case": ("label", "current"), "edit_decision_tree": ("proposed",),
    "add_exemplar": ("label", "polarity", "proposed", "rationale"),
    "set_error_costs": ("proposed",),
}


#: Accepted spellings of operations (normalized when a proposal is parsed).
OP_ALIASES = {"reword": "reword_definition", "rename": "rename_label", "merge": "merge_labels",
              "split": "split_label", "add": "add_label", "remove": "remove_label"}


def _check_op(ch: Any, where: str) -> None:
    if not isinstance(ch, dict):
        raise GuidelineError(f"{where}: each change must be a mapping with an 'op'")
    if ch.get("op") in OP_ALIASES:
        ch["op"] = OP_ALIASES[ch["op"]]
    op = ch.get("op")
    if op not in OPS:
        raise GuidelineError(f"{where}: op {op!r} is not one of {', '.join(OPS)}")
    # label names are text even when YAML read them as numbers (labels "1", "2", "3")
    for key in ("label", "new_name", "into", "relabel_to"):
        if isinstance(ch.get(key), (int, float)) and not isinstance(ch.get(key), bool):
            ch[key] = str(ch[key])
    if isinstance(ch.get("labels"), list):
        ch["labels"] = [str(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else x for x in ch["labels"]]
    for key in ("label",):
        if isinstance(ch.get(key), dict) and isinstance(ch[key].get("name"), (int, float)):
            ch[key] = {**ch[key], "name": str(ch[key]["name"])}
    if isinstance(ch.get("into"), list):
        ch["into"] = [{**x, "name": str(x["name"])} if isinstance(x, dict) and isinstance(x.get("name"), (int, float))
                      else x for x in ch["into"]]
    for key in _REQUIRED[op]:
        if ch.get(key) in (None, "", []):
            raise GuidelineError(f"{where} ({op}): missing field {key!r}")
    if op == "add_label" and (not isinstance(ch["label"], dict) or "name" not in ch["label"]):
        raise GuidelineError(f"{where} (add_label): field 'label' must be a mapping with name and definition")
    if op == "merge_labels" and (not isinstance(ch["labels"], list) or len(ch["labels"]) < 2):
        raise GuidelineError(f"{where} (merge_labels): field 'labels' must list at least two labels")
    if op == "split_label" and (not isinstance(ch["into"], list) or len(ch["into"]) < 2
                                or not all(isinstance(x, dict) and "name" in x for x in ch["into"])):
        raise GuidelineError(f"{where} (split_label): field 'into' must list at least two label mappings "
                             "(name, definition, ...)")
    if op in ("add_example", "remove_example", "add_exemplar") and ch["polarity"] not in ("positive", "negative"):
        raise GuidelineError(f"{where} ({op}): field 'polarity' must be positive or negative, got {ch['polarity']!r}")
    if op == "edit_decision_tree" and not isinstance(ch["proposed"], dict):
        raise GuidelineError(f"{where} (edit_decision_tree): field 'proposed' must be the whole new tree (a mapping)")
    if op == "set_error_costs":
        ch["proposed"] = _error_costs(ch["proposed"], f"{where} (set_error_costs)")


def _error_costs(raw: Any, where: str) -> list[dict[str, Any]]:
    """``error_costs`` entries normalised to ``{true_label, read_as, cost}`` (labels as text, cost a number >= 0)."""
    if not isinstance(raw, list):
        raise GuidelineError(f"{where}: error costs must be a list of {{true_label, read_as, cost}}")
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for i, r in enumerate(raw):
        if not isinstance(r, dict):
            raise GuidelineError(f"{where}: entry {i + 1} must be a mapping with true_label, read_as and cost")
        for key in ("true_label", "read_as", "cost"):
            if r.get(key) in (None, ""):
                raise GuidelineError(f"{where}: entry {i + 1} misses field {key!r}")
        true, read = str(r["true_label"]), str(r["read_as"])
        cost = r["cost"]
        if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not cost >= 0 or cost == float("inf"):
            raise GuidelineError(f"{where}: entry {i + 1}: cost {cost!r} is not a finite number >= 0")
        if true == read:
            raise GuidelineError(f"{where}: entry {i + 1}: reading {true!r} as itself is not an error")
        if (true, read) in seen:
            raise GuidelineError(f"{where}: entry {i + 1}: {true!r} read as {read!r} is given twice")
        seen.add((true, read))
        out.append({"true_label": true, "read_as": read, "cost": cost})
    return out


def _map_costs(costs: list[dict[str, Any]] | None, mapping: dict[str, str | None]) -> list[dict[str, Any]] | None:
    """Carry error costs through renamed, merged, split or removed labels.

    An entry naming a label mapped to ``None`` (removed, split) is dropped; one that a merge turns into a
    label read as itself is dropped; two entries that become the same pair keep the larger cost.
    """
    if not costs:
        return costs
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for e in costs:
        true = mapping.get(e["true_label"], e["true_label"])
        read = mapping.get(e["read_as"], e["read_as"])
        if true is None or read is None or true == read:
            continue
        prev = out.get((true, read))
        if prev is None or e["cost"] > prev["cost"]:
            out[(true, read)] = {"true_label": true, "read_as": read, "cost": e["cost"]}
    return list(out.values())


def load_proposal(ref: str | os.PathLike[str], root: str | os.PathLike[str] = "guidelines") -> Proposal:
    """Load a proposal by file path, or by id (searched in ``<root>/*/proposals/<id>.yaml``)."""
    p = Path(ref)
    if not p.exists():
        hits = sorted(Path(root).glob(f"*/proposals/{ref}.yaml"))
        if not hits:
            raise GuidelineError(f"no proposal {str(ref)!r} (not a file, and not an id under {root}/*/proposals/)")
        p = hits[0]
    try:
        data = _yaml_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}:" if mark is not None else ""
        raise GuidelineError(f"{p}:{line} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    prop = parse_proposal(data, str(p))
    if not prop.id:
        raise GuidelineError(f"{p}: missing field 'id' (file it with `labkit guidelines propose {p}`)")
    return prop


def list_proposals(root: str | os.PathLike[str] = "guidelines", task: str | None = None) -> list[Proposal]:
    """Every filed proposal, sorted by creation time then id."""
    pattern = f"{task}/proposals/*.yaml" if task else "*/proposals/*.yaml"
    props = [load_proposal(f, root) for f in sorted(Path(root).glob(pattern))]
    return sorted(props, key=lambda p: (p.created_at, p.id))


def _fill_current(changes: list[dict[str, Any]], base: GuidelineVersion | None) -> list[dict[str, Any]]:
    out = []
    for ch in changes:
        ch = dict(ch)
        if base is not None and "current" not in ch:
            op = ch["op"]
            try:
                if op in ("reword_definition", "rename_label", "remove_label", "split_label"):
                    ch["current"] = base.label(ch["label"]).definition
                elif op == "merge_labels":
                    ch["current"] = {n: base.label(n).definition for n in ch["labels"]}
                elif op == "edit_decision_tree":
                    ch["current"] = base.decision_tree
                elif op == "set_error_costs":
                    ch["current"] = base.meta.get("error_costs") or []
            except GuidelineError:
                pass  # apply_proposal below names the unknown label
        out.append(ch)
    return out


def new_proposal(*, task: str, base_version: str | None, author: str, title: str, rationale: str,
                 changes: list[dict[str, Any]], source: dict[str, Any] | None = None,
                 root: str | os.PathLike[str] = "guidelines", created_at: dt.datetime | str | None = None,
                 proposal_id: str | None = None, log: bool = True, filed_by: str | None = None,
                 key: Any = None) -> Proposal:
    """File a new proposal: check it applies to its base version, write it, and log ``propose``.

    The ``propose`` entry is made by ``filed_by`` (default: the author), who must be a member and, when
    governance.yaml requires signatures, sign it with ``key`` (or ``$LABKIT_SIGNING_KEY``). A member
    files their own proposals: naming another member as author is refused, and the filer's own
    approval never counts. A non-member author (a calibration participant's pseudonym) is recorded as
    given.

    Parameters
    ----------
    task, base_version : str
        The released version the change applies to (``None`` only for a task's first release).
    author : str
        Pseudonymous member id of who proposes (their own approval will not count).
    title, rationale : str
        One line, and why (the evidence: calibration items, disagreement, reviewer feedback).
    changes : list of dict
        Operations (see the module docstring), e.g.
        ``{"op": "reword_definition", "label": "insult", "proposed": "..."}``. ``current`` is filled
        from the base version when left out.
    source : dict, optional
        Where it came from, e.g. ``{"kind": "calibration", "session": "cal-03", "item_id": "c-17"}``.
    root : path
        The guidelines folder (default ``"guidelines"``).
    created_at : datetime or ISO string, optional
        Now by default.
    proposal_id : str, optional
        Default ``<task>-<YYYY-MM-DD>-<slug of title>`` (with ``-2``, ``-3``... if taken).
    log : bool
        Append a ``propose`` entry to the decision log (default True).

    Returns
    -------
    Proposal
        As written to ``<root>/<task>/proposals/<id>.yaml`` (its ``path`` set).

    Raises
    ------
    GuidelineError
        If a field is missing, the base version does not exist, or an operation does not apply (unknown
        label, ``current`` wording that is not the base version's, a label added twice...).
    """
    from labkit.guidelines.log import format_time

    created = format_time(created_at)
    data = {"id": proposal_id or "", "task": task, "base_version": base_version, "author": author,
            "created_at": created, "title": title, "rationale": rationale, "changes": changes,
            "source": source or {}}
    prop = parse_proposal(data, f"proposal {title!r}")
    base = _base(root, task, base_version)
    prop = Proposal(**{**prop.__dict__, "changes": tuple(_fill_current(list(prop.changes), base))})
    apply_proposal(base, prop)
    folder = proposals_dir(root, task)
    pid = prop.id or f"{task}-{created[:10]}-{_slug(title)}"
    if (folder / f"{pid}.yaml").exists():
        if prop.id:
            raise GuidelineError(f"{folder / (pid + '.yaml')}: a proposal with id {pid!r} already exists")
        n = 2
        while (folder / f"{pid}-{n}.yaml").exists():
            n += 1
        pid = f"{pid}-{n}"
    path = folder / f"{pid}.yaml"
    prop = Proposal(**{**prop.__dict__, "id": pid, "path": str(path)})
    gov = None
    if log and not (Path(root) / "governance.yaml").exists():  # no decision rights yet: an unsigned record
        write_text(path, prop.to_yaml())
        from labkit.guidelines.log import append

        append(root, "propose", author, at=created, task=task, proposal=pid, base_version=base_version,
               why=title, proposal_sha256=prop.sha256())
        return prop
    if log:
        from labkit.guidelines.governance import Governance

        gov = Governance.load(root)
        filer = filed_by or author
        if gov.signed or gov.keys.get(filer):  # signed: the filer is a member signing with their key
            key = gov.key_for(filer, _resolve_key(key, filer))  # refuse a missing or unlisted key before writing
        elif filed_by or filer in gov.members:  # unsigned mode: membership is still checked
            gov.roles(filer)
            key = None
        if author != filer and author in gov.members:
            raise GovernanceError(f"proposal {pid}: filed by {filer} but names member {author} as its author; "
                                  "a member files their own proposals (the author's approval does not count)")
    write_text(path, prop.to_yaml())
    if log and gov is not None:
        from labkit.guidelines.governance import log_decision

        try:
            log_decision(root, gov, "propose", filed_by or author, key=key, at=created, task=task, proposal=pid,
                         base_version=base_version, why=title, proposal_sha256=prop.sha256(),
                         author=author if author != (filed_by or author) else None)
        except BaseException:
            path.unlink(missing_ok=True)  # a proposal is filed with its log entry or not at all
            raise
    return prop


def _resolve_key(key: Any, member: str) -> Any:
    from labkit.guidelines.signing import resolve_key

    return resolve_key(key, member)


def _base(root: str | os.PathLike[str], task: str, base_version: str | None) -> GuidelineVersion | None:
    if base_version is None:
        r = Path(root)
        if r.is_dir() and any(_is_version_file(f) for f in (r / task).glob("*.yaml")):
            raise GuidelineError(f"task {task!r} already has released versions: base_version must name one")
        return None
    return Guidelines.load(root).get(task, base_version)


def _is_version_file(f: Path) -> bool:
    from labkit.guidelines.model import SEMVER

    return bool(SEMVER.match(f.stem))


# --- applying operations -----------------------------------------------------------------------------

def _label_dict(raw: dict[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or not raw.get("name") or not isinstance(raw.get("definition"), str):
        raise GuidelineError(f"{where}: a new label needs a name and a definition")
    ex = raw.get("examples") or {}
    d: dict[str, Any] = {"name": str(raw["name"]), "definition": raw["definition"].strip(),
                         "examples": {"positive": list(ex.get("positive") or []),
                                      "negative": list(ex.get("negative") or [])},
                         "edge_cases": list(raw.get("edge_cases") or [])}
    if raw.get("parent"):
        d["parent"] = str(raw["parent"])
    if raw.get("exclusive_with"):
        d["exclusive_with"] = [str(x) for x in raw["exclusive_with"]]
    return d


def _replace_refs(labels: list[dict[str, Any]], tree: Any, mapping: dict[str, str | None]) -> Any:
    """Point parents, exclusivity and decision-tree leaves at renamed/merged labels (None: drop)."""
    for lab in labels:
        if lab.get("parent") in mapping:
            new = mapping[lab["parent"]]
            if new is None or new == lab["name"]:
                lab.pop("parent")
            else:
                lab["parent"] = new
        if lab.get("exclusive_with"):
            ex: list[str] = []
            for o in lab["exclusive_with"]:
                o2 = mapping.get(o, o) if o in mapping else o
                if o2 is not None and o2 != lab["name"] and o2 not in ex:
                    ex.append(o2)
            lab["exclusive_with"] = ex
            if not ex:
                lab.pop("exclusive_with")
    return _tree_map(tree, mapping)


def _tree_map(tree: Any, mapping: dict[str, str | None]) -> Any:
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            if k == "label" and isinstance(v, str) and v in mapping and mapping[v] is not None:
                out[k] = mapping[v]
            else:
                out[k] = _tree_map(v, mapping)
        return out
    if isinstance(tree, list):
        return [_tree_map(v, mapping) for v in tree]
    return tree


def apply_proposal(base: GuidelineVersion | None, proposal: Proposal, *,
                   version: str | None = None, released_at: dt.datetime | str | None = None) -> GuidelineVersion:
    """Apply a proposal's operations to ``base`` and return the new (unreleased) version.

    Parameters
    ----------
    base : GuidelineVersion or None
        The version the proposal was made against (``None`` for a first release).
    proposal : Proposal
    version : str, optional
        The new version number. By default the base bumped by the kind of the change (computed by
        diffing base and result); ``1.0.0`` for a first release.
    released_at : datetime or ISO string, optional
        Recorded in the result (``None``: not released yet).

    Returns
    -------
    GuidelineVersion
        With ``previous`` = base version, ``change_kind``, ``rationale`` and, when labels were renamed,
        merged, split or removed, a ``migration`` map ``{from, map, split, relabel}``.

    Raises
    ------
    GuidelineError
        Naming the change (``changes[i]``) that does not apply.
    """
    from labkit.guidelines.diff import diff_versions

    if base is not None and proposal.base_version != base.version:
        raise GuidelineError(f"proposal {proposal.id or proposal.title!r} is based on {proposal.task} "
                             f"{proposal.base_version}, not {base.version}")
    labels: list[dict[str, Any]] = [copy.deepcopy(lab.to_dict()) for lab in base.labels] if base else []
    tree = copy.deepcopy(base.decision_tree) if base else None
    costs: list[dict[str, Any]] | None = None
    if base is not None and base.meta.get("error_costs"):
        costs = _error_costs(base.meta["error_costs"], f"{proposal.task} {base.version}: error_costs")
    old_names = [lab["name"] for lab in labels]
    mig_map: dict[str, str] = {}     # old label -> new label, deterministic
    split: dict[str, list[str]] = {}  # old label -> candidates (relabel)
    removed_no_target: list[str] = []
    pid = proposal.id or proposal.title

    def find(name: str, where: str) -> dict[str, Any]:
        for lab in labels:
            if lab["name"] == name:
                return lab
        raise GuidelineError(f"{where}: label {name!r} is not in {proposal.task} "
                             f"{proposal.base_version or '(empty)'} as changed so far "
                             f"(labels: {', '.join(x['name'] for x in labels) or 'none'})")

    def check_current(lab: dict[str, Any], ch: dict[str, Any], where: str) -> None:
        cur = ch.get("current")
        if isinstance(cur, str) and cur.strip() != lab["definition"]:
            raise GuidelineError(f"{where}: 'current' wording of {lab['name']!r} is not the base version's "
                                 f"(base says {lab['definition']!r}); the proposal is out of date")

    for i, ch in enumerate(proposal.changes):
        where = f"proposal {pid}: changes[{i}] ({ch['op']})"
        op = ch["op"]
        if op == "add_label":
            new = _label_dict(ch["label"], where)
            if any(lab["name"] == new["name"] for lab in labels):
                raise GuidelineError(f"{where}: label {new['name']!r} already exists")
            labels.append(new)
            for other in new.get("exclusive_with", []):  # exclusivity is symmetric: record it both ways
                for lab in labels:
                    if lab["name"] == other and new["name"] not in lab.setdefault("exclusive_with", []):
                        lab["exclusive_with"].append(new["name"])
        elif op == "remove_label":
            lab = find(ch["label"], where)
            target = ch.get("relabel_to")
            if target is not None:
                find(target, where)
            labels.remove(lab)
            tree = _replace_refs(labels, tree, {lab["name"]: target})
            costs = _map_costs(costs, {lab["name"]: target})
            if target is not None:
                mig_map[lab["name"]] = target
            else:
                removed_no_target.append(lab["name"])
        elif op == "rename_label":
            lab = find(ch["label"], where)
            check_current(lab, ch, where)
            new_name = str(ch["new_name"])
            if any(x["name"] == new_name for x in labels):
                raise GuidelineError(f"{where}: cannot rename {lab['name']!r} to {new_name!r}: that label exists")
            old = lab["name"]
            lab["name"] = new_name
            if ch.get("proposed"):
                lab["definition"] = str(ch["proposed"]).strip()
            tree = _replace_refs(labels, tree, {old: new_name})
            costs = _map_costs(costs, {old: new_name})
            for k, v in list(mig_map.items()):
                if v == old:
                    mig_map[k] = new_name
            mig_map[old] = new_name
        elif op == "merge_labels":
            names = [str(n) for n in ch["labels"]]
            labs = [find(n, where) for n in names]
            into = str(ch["into"])
            keep = next((lab for lab in labs if lab["name"] == into), None)
            if keep is None:
                if any(x["name"] == into for x in labels):
                    raise GuidelineError(f"{where}: 'into' {into!r} is an existing label not being merged; "
                                         "list it under 'labels'")
                keep = labs[0]
                keep["name"] = into
            if ch.get("proposed"):
                keep["definition"] = str(ch["proposed"]).strip()
            mapping: dict[str, str | None] = {}
            for lab, n in zip(labs, names):
                mapping[n] = into
                if lab is not keep:
                    labels.remove(lab)
            tree = _replace_refs(labels, tree, mapping)
            costs = _map_costs(costs, mapping)
            for n in names:
                mig_map[n] = into
        elif op == "split_label":
            lab = find(ch["label"], where)
            pos = labels.index(lab)
            news = [_label_dict(x, where) for x in ch["into"]]
            for new in news:
                if any(x["name"] == new["name"] for x in labels if x is not lab):
                    raise GuidelineError(f"{where}: label {new['name']!r} already exists")
            labels[pos:pos + 1] = news
            split[lab["name"]] = [new["name"] for new in news]
            tree = _replace_refs(labels, tree, {lab["name"]: None})
            costs = _map_costs(costs, {lab["name"]: None})
        elif op == "reword_definition":
            lab = find(ch["label"], where)
            check_current(lab, ch, where)
            lab["definition"] = str(ch["proposed"]).strip()
        elif op in ("add_example", "remove_example"):
            lab = find(ch["label"], where)
            lst = lab["examples"].setdefault(ch["polarity"], [])
            if op == "add_example":
                if ch["proposed"] in lst:
                    raise GuidelineError(f"{where}: {ch['polarity']} example {ch['proposed']!r} is already there")
                lst.append(str(ch["proposed"]))
            else:
                if ch["current"] not in lst:
                    raise GuidelineError(f"{where}: {lab['name']!r} has no {ch['polarity']} example {ch['current']!r}")
                lst.remove(ch["current"])
        elif op == "add_exemplar":
            lab = find(ch["label"], where)
            lst = lab.setdefault("exemplars", [])
            if any(e["text"] == ch["proposed"] for e in lst):
                raise GuidelineError(f"{where}: exemplar {ch['proposed']!r} is already there")
            ex = {"text": str(ch["proposed"]), "polarity": ch["polarity"], "rationale": str(ch["rationale"]).strip()}
            for key in ("source", "decided_by"):
                if ch.get(key):
                    ex[key] = str(ch[key])
            lst.append(ex)
        elif op in ("add_edge_case", "remove_edge_case"):
            lab = find(ch["label"], where)
            lst = lab.setdefault("edge_cases", [])
            if op == "add_edge_case":
                if ch["proposed"] in lst:
                    raise GuidelineError(f"{where}: edge case {ch['proposed']!r} is already there")
                lst.append(str(ch["proposed"]))
            else:
                if ch["current"] not in lst:
                    raise GuidelineError(f"{where}: {lab['name']!r} has no edge case {ch['current']!r}")
                lst.remove(ch["current"])
        elif op == "edit_decision_tree":
            tree = copy.deepcopy(ch["proposed"])
        elif op == "set_error_costs":
            entries = _error_costs(ch["proposed"], where)
            for e in entries:
                find(e["true_label"], where)
                find(e["read_as"], where)
            costs = entries
    if not labels:
        raise GuidelineError(f"proposal {pid}: the changes leave no label")
    from labkit.guidelines.model import tree_leaves

    names_now = {lab["name"] for lab in labels}
    stale = [(p, leaf) for p, leaf in tree_leaves(tree) if leaf not in names_now]
    if stale:
        raise GuidelineError(f"proposal {pid}: after its changes the decision tree still ends in "
                             + ", ".join(f"{leaf!r} (at decision_tree{p})" for p, leaf in stale)
                             + "; add an edit_decision_tree change with the new tree")
    # chains like a->b then b renamed: resolve every old name to a label of the result
    new_names = {lab["name"] for lab in labels}
    migration: dict[str, Any] | None = None
    if base is not None and (mig_map or split or removed_no_target):
        full = {}
        for n in old_names:
            if n in split or n in removed_no_target:
                continue
            target = mig_map.get(n, n)
            if target not in new_names:
                raise GuidelineError(f"proposal {pid}: label {n!r} maps to {target!r}, which is not in the result")
            full[n] = target
        migration = {"from": base.version, "map": full}
        if split:
            migration["split"] = split
        if removed_no_target:
            migration["relabel"] = removed_no_target
    data: dict[str, Any] = {"task": proposal.task, "version": version or "0.0.0", "labels": labels,
                            "released_at": released_at, "previous": base.version if base else None,
                            "rationale": proposal.rationale}
    if tree is not None:
        data["decision_tree"] = tree
    if migration is not None:
        data["migration"] = migration
    if costs:
        data["error_costs"] = costs
    result = parse_version(data, f"proposal {pid} applied to {proposal.task} {proposal.base_version}")
    check_decision_tree(result, f"proposal {pid}")
    if base is None:
        kind = "major"
    else:
        kind = diff_versions(base, result).kind
        if kind == "none":
            raise GuidelineError(f"proposal {pid}: the changes leave {proposal.task} {base.version} unchanged")
    number = version or ("1.0.0" if base is None else str(base.semver.bump(kind)))
    from labkit.guidelines.log import format_time

    return GuidelineVersion(
        task=result.task, version=number, labels=result.labels,
        released_at=None if released_at is None else dt.datetime.fromisoformat(format_time(released_at).replace("Z", "+00:00")),
        previous=result.previous, change_kind=kind, rationale=result.rationale,
        decision_tree=result.decision_tree, migration=result.migration,
        meta={**({"proposal": proposal.id} if proposal.id else {}),
              **({"error_costs": result.meta["error_costs"]} if result.meta.get("error_costs") else {})},
    )


def check_decision_tree(gv: GuidelineVersion, where: str) -> None:
    """Every leaf of the decision tree names a label of the version (a tree is optional)."""
    from labkit.guidelines.model import tree_leaves

    names = set(gv.label_names)
    for path, leaf in tree_leaves(gv.decision_tree):
        if leaf not in names:
            raise GuidelineError(f"{where}: decision_tree{path} ends in label {leaf!r}, which is not a label "
                                 f"of the version (labels: {', '.join(gv.label_names)})")
