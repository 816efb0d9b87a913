"""Guideline versions as data: ``guidelines/<task>/<version>.yaml``.

A version file holds, per label: name, definition, positive and negative examples, edge cases, an
optional ``parent`` (hierarchy) and ``exclusive_with`` (labels that can never be given together on
one item by one annotator); plus the decision tree, the release metadata and, for a release that
renames, merges or splits labels, the migration map from the version before. Released versions are
never edited: a change is a new version (see :mod:`labkit.guidelines.governance`).

Example (abridged)::

    task: toxicity
    version: 1.1.0
    released_at: "2026-09-21T00:00:00Z"
    previous: 1.0.0
    change_kind: minor
    rationale: "Self-promotion was labeled as spam by some and ok by others."
    labels:
      - name: spam
        definition: "Unsolicited advertising, link drops or repeated copy-paste."
        examples: {positive: ["Buy followers at ..."], negative: ["Check the docs at ..."]}
        edge_cases: ["A link to the poster's own shop counts as self_promotion"]
        exclusive_with: [ok]
    decision_tree:
      question: "Does the comment advertise something?"
      yes: {label: spam}
      no: {question: "...", yes: {label: hate}, no: {label: ok}}
    migration: {from: 1.0.0, map: {offensive: insult}, split: {}}
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from functools import total_ordering
from pathlib import Path
from typing import Any

import yaml

from labkit.errors import GuidelineError

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


@total_ordering
@dataclass(frozen=True)
class SemVer:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> SemVer:
        m = SEMVER.match(str(text).strip())
        if not m:
            raise GuidelineError(f"{text!r} is not a semantic version (MAJOR.MINOR.PATCH)")
        return cls(*(int(g) for g in m.groups()))

    def bump(self, kind: str) -> SemVer:
        if kind == "major":
            return SemVer(self.major + 1, 0, 0)
        if kind == "minor":
            return SemVer(self.major, self.minor + 1, 0)
        if kind == "patch":
            return SemVer(self.major, self.minor, self.patch + 1)
        raise GuidelineError(f"change kind must be major, minor or patch, got {kind!r}")

    def __lt__(self, other: SemVer) -> bool:
        return (self.major, self.minor, self.patch) < (other.major, other.minor, other.patch)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True)
class Exemplar:
    """A worked example kept as a teaching record: the text, whether it is (positive) or is not
    (negative) an instance of the label, why, where it came from and who decided (a member id or a
    pseudonym, never an annotator's raw id)."""

    text: str
    polarity: str
    rationale: str
    source: str = ""
    decided_by: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {"text": self.text, "polarity": self.polarity, "rationale": self.rationale}
        if self.source:
            d["source"] = self.source
        if self.decided_by:
            d["decided_by"] = self.decided_by
        return d


@dataclass(frozen=True)
class LabelDef:
    name: str
    definition: str
    positive_examples: tuple[str, ...] = ()
    negative_examples: tuple[str, ...] = ()
    edge_cases: tuple[str, ...] = ()
    parent: str | None = None
    exclusive_with: tuple[str, ...] = ()
    exemplars: tuple[Exemplar, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "definition": self.definition,
                             "examples": {"positive": list(self.positive_examples),
                                          "negative": list(self.negative_examples)},
                             "edge_cases": list(self.edge_cases)}
        if self.parent:
            d["parent"] = self.parent
        if self.exclusive_with:
            d["exclusive_with"] = list(self.exclusive_with)
        if self.exemplars:
            d["exemplars"] = [e.to_dict() for e in self.exemplars]
        return d


@dataclass(frozen=True)
class GuidelineVersion:
    task: str
    version: str
    labels: tuple[LabelDef, ...]
    released_at: dt.datetime | None = None
    previous: str | None = None
    change_kind: str | None = None
    rationale: str = ""
    decision_tree: dict[str, Any] | None = None
    migration: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # everything else in the file (log_head, approvals, ...)
    path: str | None = None

    @property
    def semver(self) -> SemVer:
        return SemVer.parse(self.version)

    @property
    def label_names(self) -> tuple[str, ...]:
        """Labels in guideline order (the order used for ordinal statistics)."""
        return tuple(lab.name for lab in self.labels)

    def label(self, name: str) -> LabelDef:
        for lab in self.labels:
            if lab.name == name:
                return lab
        raise GuidelineError(f"label {name!r} is not in {self.task} {self.version} "
                             f"(labels: {', '.join(self.label_names)})")

    def exclusive_pairs(self) -> set[frozenset[str]]:
        """Unordered pairs of labels that must never be given together (symmetric closure)."""
        pairs: set[frozenset[str]] = set()
        for lab in self.labels:
            for other in lab.exclusive_with:
                pairs.add(frozenset((lab.name, other)))
        return pairs

    def parents(self) -> dict[str, str]:
        return {lab.name: lab.parent for lab in self.labels if lab.parent}


def _strs(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise GuidelineError(f"{where}: expected a list of strings")
    return tuple(value)


def _exemplars(value: Any, where: str) -> tuple[Exemplar, ...]:
    """A label's ``exemplars`` list: mappings with text, polarity (positive|negative) and rationale."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise GuidelineError(f"{where}: must be a list of mappings (text, polarity, rationale)")
    out = []
    for k, e in enumerate(value):
        if not isinstance(e, dict):
            raise GuidelineError(f"{where}[{k}]: must be a mapping with text, polarity and rationale")
        for key in ("text", "polarity", "rationale"):
            if not isinstance(e.get(key), str) or not e[key].strip():
                raise GuidelineError(f"{where}[{k}]: field {key!r} must be a non-empty string")
        if e["polarity"] not in ("positive", "negative"):
            raise GuidelineError(f"{where}[{k}]: field 'polarity' must be positive or negative, got {e['polarity']!r}")
        unknown = sorted(set(map(str, e)) - {"text", "polarity", "rationale", "source", "decided_by"})
        if unknown:
            raise GuidelineError(f"{where}[{k}]: unknown field {unknown[0]!r}")
        out.append(Exemplar(text=e["text"], polarity=e["polarity"], rationale=e["rationale"].strip(),
                            source=str(e.get("source") or ""), decided_by=str(e.get("decided_by") or "")))
    return tuple(out)


def _parse_time(value: Any, where: str) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    try:
        t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise GuidelineError(f"{where}: released_at {value!r} is not an ISO 8601 timestamp") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


KNOWN_KEYS = {"task", "version", "labels", "released_at", "previous", "change_kind", "rationale",
              "decision_tree", "migration"}
#: Keys a label may carry; anything else is reported (a typo such as ``edge_case`` would otherwise be lost).
LABEL_KEYS = {"name", "definition", "examples", "edge_cases", "parent", "exclusive_with", "exemplars"}
CHANGE_KINDS = ("major", "minor", "patch")


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` through libyaml when it is available."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader


def load_yaml_with_lines(text: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse YAML once; return the data and the node-path -> line map of :func:`yaml_lines`."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return data, _node_lines(node)


def yaml_lines(text: str) -> dict[tuple[Any, ...], int]:
    """Map each node path of a YAML document to its 1-based line: ``("labels", 0, "definition") -> 14``.

    Mapping keys are the scalar key values, sequence items their index. Used to put line numbers in
    schema errors; an unparsable document gives an empty map (the YAML error carries its own line).
    """
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return {}
    return _node_lines(root)


def _node_lines(root: Any) -> dict[tuple[Any, ...], int]:
    out: dict[tuple[Any, ...], int] = {}

    def key_of(k: Any) -> Any:
        if not isinstance(k, yaml.ScalarNode):
            return None
        if k.tag.endswith(":bool"):
            return k.value.lower() in ("yes", "true", "on", "y")
        if k.tag.endswith(":int"):
            try:
                return int(k.value)
            except ValueError:
                return k.value
        return k.value

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        out.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = key_of(k)
                walk(v, path + (key,))
                out[path + (key,)] = k.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, path + (i,))

    if root is not None:
        walk(root, ())
    return out


def normalize_tree(tree: Any) -> Any:
    """A decision tree with YAML's surprises undone: unquoted ``yes:``/``no:`` keys (read as booleans)
    become ``"yes"``/``"no"``, and scalar leaves (``label: 1``) become label names (``"1"``)."""
    if isinstance(tree, dict):
        out: dict[Any, Any] = {}
        for k, v in tree.items():
            key = {True: "yes", False: "no"}[k] if isinstance(k, bool) else k
            if key == "label" and isinstance(v, (int, float)) and not isinstance(v, bool):
                out[key] = str(v)
            else:
                out[key] = normalize_tree(v)
        return out
    if isinstance(tree, list):
        return [normalize_tree(v) for v in tree]
    return tree


def _normalize_migration(mig: dict[str, Any]) -> dict[str, Any]:
    """Label names in a migration map as text (``{2: 3}`` in YAML means labels "2" -> "3")."""
    out = dict(mig)
    out["from"] = str(mig["from"])
    if mig.get("map") is not None:
        out["map"] = {str(k): str(v) for k, v in mig["map"].items()}
    if mig.get("split") is not None:
        out["split"] = {str(k): [str(x) for x in v] for k, v in mig["split"].items()}
    if mig.get("relabel") is not None:
        out["relabel"] = [str(x) for x in mig["relabel"]]
    return out


def tree_leaves(tree: Any, path: str = "") -> list[tuple[str, str]]:
    """``(path, label)`` for every ``{label: X}`` leaf of a decision tree (``[]`` for no tree)."""
    out: list[tuple[str, str]] = []
    if isinstance(tree, dict):
        for k, v in tree.items():
            if k == "label" and not isinstance(v, (dict, list)):
                out.append((path, str(v)))
            else:
                out.extend(tree_leaves(v, f"{path}.{k}"))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out.extend(tree_leaves(v, f"{path}[{i}]"))
    return out


def parse_version(data: Any, path: str = "<guideline>", lines: dict[tuple[Any, ...], int] | None = None) -> GuidelineVersion:
    """Build a :class:`GuidelineVersion` from parsed YAML, with errors naming file, line and field.

    ``lines`` (from :func:`yaml_lines`) adds line numbers: ``1.1.0.yaml:14: labels[1] (offensive):
    field 'definition' must be a non-empty string``.
    """
    lines = lines or {}

    def at(*node: Any) -> str:
        for k in range(len(node), -1, -1):
            if node[:k] in lines:
                return f"{path}:{lines[node[:k]]}"
        return path

    if not isinstance(data, dict):
        raise GuidelineError(f"{path}: a guideline file must be a mapping with task, version and labels")
    for key in ("task", "version", "labels"):
        if key not in data:
            raise GuidelineError(f"{path}: missing field {key!r}")
    version = str(data["version"])
    if not SEMVER.match(version.strip()):
        raise GuidelineError(f"{at('version')}: field 'version' {version!r} is not a semantic version (MAJOR.MINOR.PATCH)")
    if data.get("change_kind") is not None and data["change_kind"] not in CHANGE_KINDS:
        raise GuidelineError(f"{at('change_kind')}: field 'change_kind' must be major, minor or patch, "
                             f"got {data['change_kind']!r}")
    if data.get("previous") is not None and not SEMVER.match(str(data["previous"])):
        raise GuidelineError(f"{at('previous')}: field 'previous' {data['previous']!r} is not a semantic version")
    labels_raw = data["labels"]
    if not isinstance(labels_raw, list) or not labels_raw:
        raise GuidelineError(f"{at('labels')}: field 'labels' must be a non-empty list")
    labels: list[LabelDef] = []
    seen: set[str] = set()
    for i, raw in enumerate(labels_raw):
        where = f"{at('labels', i)}: labels[{i}]"
        if not isinstance(raw, dict) or "name" not in raw:
            raise GuidelineError(f"{where}: each label needs a name")
        name = str(raw["name"])
        where_n = f"labels[{i}] ({name})"
        if name in seen:
            raise GuidelineError(f"{at('labels', i, 'name')}: {where_n}: label {name!r} appears twice")
        seen.add(name)
        unknown = sorted(set(map(str, raw)) - LABEL_KEYS)
        if unknown:
            raise GuidelineError(f"{at('labels', i, unknown[0])}: {where_n}: unknown field {unknown[0]!r} "
                                 f"(a label has {', '.join(sorted(LABEL_KEYS))})")
        if not isinstance(raw.get("definition"), str) or not raw["definition"].strip():
            raise GuidelineError(f"{at('labels', i, 'definition')}: {where_n}: field 'definition' must be a non-empty string")
        ex = raw.get("examples") or {}
        if not isinstance(ex, dict):
            raise GuidelineError(f"{at('labels', i, 'examples')}: {where_n}: field 'examples' must map positive/negative to lists")
        bad_ex = sorted(set(map(str, ex)) - {"positive", "negative"})
        if bad_ex:
            raise GuidelineError(f"{at('labels', i, 'examples', bad_ex[0])}: {where_n}: examples.{bad_ex[0]}: "
                                 "examples are 'positive' or 'negative'")
        if raw.get("parent") is not None and not isinstance(raw["parent"], str):
            raise GuidelineError(f"{at('labels', i, 'parent')}: {where_n}: field 'parent' must be a label name")
        labels.append(LabelDef(
            name=name, definition=raw["definition"].strip(),
            positive_examples=_strs(ex.get("positive"), f"{at('labels', i, 'examples', 'positive')}: {where_n}.examples.positive"),
            negative_examples=_strs(ex.get("negative"), f"{at('labels', i, 'examples', 'negative')}: {where_n}.examples.negative"),
            edge_cases=_strs(raw.get("edge_cases"), f"{at('labels', i, 'edge_cases')}: {where_n}.edge_cases"),
            parent=raw.get("parent"),
            exclusive_with=_strs(raw.get("exclusive_with"), f"{at('labels', i, 'exclusive_with')}: {where_n}.exclusive_with"),
            exemplars=_exemplars(raw.get("exemplars"), f"{at('labels', i, 'exemplars')}: {where_n}.exemplars"),
        ))
    names = {lab.name for lab in labels}
    for i, lab in enumerate(labels):
        if lab.parent is not None and lab.parent not in names:
            raise GuidelineError(f"{at('labels', i, 'parent')}: label {lab.name!r} has parent {lab.parent!r}, which is not a label")
        if lab.parent == lab.name:
            raise GuidelineError(f"{at('labels', i, 'parent')}: label {lab.name!r} is its own parent")
        for other in lab.exclusive_with:
            if other not in names:
                raise GuidelineError(f"{at('labels', i, 'exclusive_with')}: label {lab.name!r} is exclusive with {other!r}, which is not a label")
    parents = {lab.name: lab.parent for lab in labels if lab.parent}
    for start in parents:  # the hierarchy must be a forest
        node, hops = start, 0
        while node in parents:
            node, hops = parents[node], hops + 1
            if hops > len(parents):
                raise GuidelineError(f"{at('labels')}: the parent links starting at {start!r} form a cycle")
    tree = normalize_tree(data.get("decision_tree"))
    if tree is not None:
        if not isinstance(tree, dict):
            raise GuidelineError(f"{at('decision_tree')}: field 'decision_tree' must be a mapping (question, yes, no)")
        for tpath, leaf in tree_leaves(tree):
            if leaf not in names:
                raise GuidelineError(f"{at('decision_tree')}: decision_tree{tpath} ends in label {leaf!r}, which is not a label "
                                     f"(labels: {', '.join(lab.name for lab in labels)})")
    mig = data.get("migration")
    if mig is not None:
        if not isinstance(mig, dict) or "from" not in mig:
            raise GuidelineError(f"{at('migration')}: field 'migration' must be a mapping with 'from' and 'map'")
        if not SEMVER.match(str(mig["from"])):
            raise GuidelineError(f"{at('migration', 'from')}: migration.from {mig['from']!r} is not a semantic version")
        mp = mig.get("map") or {}
        if not isinstance(mp, dict):
            raise GuidelineError(f"{at('migration', 'map')}: migration.map must map old labels to new labels")
        if mig.get("relabel") is not None and not isinstance(mig["relabel"], list):
            raise GuidelineError(f"{at('migration', 'relabel')}: migration.relabel must list old labels")
        for old, new in mp.items():
            if str(new) not in names:
                raise GuidelineError(f"{at('migration', 'map', old)}: migration.map sends {old!r} to {new!r}, "
                                     "which is not a label of this version")
        sp = mig.get("split") or {}
        if not isinstance(sp, dict) or not all(isinstance(v, list) for v in sp.values()):
            raise GuidelineError(f"{at('migration', 'split')}: migration.split must map an old label to a list of new labels")
        for old, news in sp.items():
            for n in news:
                if str(n) not in names:
                    raise GuidelineError(f"{at('migration', 'split', old)}: migration.split sends {old!r} to {n!r}, "
                                         "which is not a label of this version")
    return GuidelineVersion(
        task=str(data["task"]), version=version, labels=tuple(labels),
        released_at=_parse_time(data.get("released_at"), at("released_at")), previous=data.get("previous"),
        change_kind=data.get("change_kind"), rationale=str(data.get("rationale") or ""),
        decision_tree=tree, migration=_normalize_migration(mig) if mig is not None else None,
        meta={k: v for k, v in data.items() if k not in KNOWN_KEYS}, path=path,
    )


def load_version(path: str | os.PathLike[str]) -> GuidelineVersion:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GuidelineError(f"{p}: no such guideline file") from None
    try:
        data, lines = load_yaml_with_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}:" if mark is not None else ""
        raise GuidelineError(f"{p}:{line} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    gv = parse_version(data, str(p), lines)
    if p.stem != gv.version:
        raise GuidelineError(f"{p}: file name says version {p.stem} but field 'version' says {gv.version}")
    if p.parent.name != gv.task:
        raise GuidelineError(f"{p}: folder says task {p.parent.name} but field 'task' says {gv.task}")
    return gv


class Guidelines:
    """All guideline versions under one folder: ``<dir>/<task>/<MAJOR.MINOR.PATCH>.yaml``."""

    def __init__(self, versions: list[GuidelineVersion], root: str | None = None):
        self.root = root
        self._by_task: dict[str, list[GuidelineVersion]] = {}
        for v in versions:
            self._by_task.setdefault(v.task, []).append(v)
        for vs in self._by_task.values():
            vs.sort(key=lambda v: v.semver)

    @classmethod
    def load(cls, root: str | os.PathLike[str]) -> Guidelines:
        r = Path(root)
        if not r.is_dir():
            raise GuidelineError(f"{r}: guidelines folder not found")
        versions = [load_version(f) for f in sorted(r.glob("*/*.yaml")) if SEMVER.match(f.stem)]
        if not versions:
            raise GuidelineError(f"{r}: no guideline versions found (expected <task>/<MAJOR.MINOR.PATCH>.yaml)")
        return cls(versions, str(r))

    @property
    def tasks(self) -> list[str]:
        return sorted(self._by_task)

    def versions(self, task: str) -> list[GuidelineVersion]:
        if task not in self._by_task:
            raise GuidelineError(f"no guidelines for task {task!r} (tasks: {', '.join(self.tasks)})")
        return list(self._by_task[task])

    def get(self, task: str, version: str) -> GuidelineVersion:
        for v in self.versions(task):
            if v.version == str(version):
                return v
        known = ", ".join(v.version for v in self.versions(task))
        raise GuidelineError(f"task {task!r} has no guideline version {version!r} (versions: {known})")

    def latest(self, task: str) -> GuidelineVersion:
        return self.versions(task)[-1]

    def in_force(self, task: str, at: dt.datetime) -> GuidelineVersion | None:
        """The version released most recently at or before ``at`` (None before the first release)."""
        current = None
        for v in self.versions(task):
            if v.released_at is not None and v.released_at <= at:
                current = v
        return current

    def allowed_labels(self) -> dict[tuple[str, str], tuple[str, ...]]:
        """``{(task, version): labels}`` for every known version."""
        return {(t, v.version): v.label_names for t, vs in self._by_task.items() for v in vs}
