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
    def parse(cls, text: str) -> "SemVer":
        m = SEMVER.match(str(text).strip())
        if not m:
            raise GuidelineError(f"{text!r} is not a semantic version (MAJOR.MINOR.PATCH)")
        return cls(*(int(g) for g in m.groups()))

    def bump(self, kind: str) -> "SemVer":
        if kind == "major":
            return SemVer(self.major + 1, 0, 0)
        if kind == "minor":
            return SemVer(self.major, self.minor + 1, 0)
        if kind == "patch":
            return SemVer(self.major, self.minor, self.patch + 1)
        raise GuidelineError(f"change kind must be major, minor or patch, got {kind!r}")

    def __lt__(self, other: "SemVer") -> bool:
        return (self.major, self.minor, self.patch) < (other.major, other.minor, other.patch)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True)
class LabelDef:
    name: str
    definition: str
    positive_examples: tuple[str, ...] = ()
    negative_examples: tuple[str, ...] = ()
    edge_cases: tuple[str, ...] = ()
    parent: str | None = None
    exclusive_with: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "definition": self.definition,
                             "examples": {"positive": list(self.positive_examples),
                                          "negative": list(self.negative_examples)},
                             "edge_cases": list(self.edge_cases)}
        if self.parent:
            d["parent"] = self.parent
        if self.exclusive_with:
            d["exclusive_with"] = list(self.exclusive_with)
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


def parse_version(data: Any, path: str = "<guideline>") -> GuidelineVersion:
    """Build a :class:`GuidelineVersion` from parsed YAML, with errors naming file and field."""
    if not isinstance(data, dict):
        raise GuidelineError(f"{path}: a guideline file must be a mapping with task, version and labels")
    for key in ("task", "version", "labels"):
        if key not in data:
            raise GuidelineError(f"{path}: missing field {key!r}")
    version = str(data["version"])
    SemVer.parse(version)
    labels_raw = data["labels"]
    if not isinstance(labels_raw, list) or not labels_raw:
        raise GuidelineError(f"{path}: field 'labels' must be a non-empty list")
    labels: list[LabelDef] = []
    seen: set[str] = set()
    for i, raw in enumerate(labels_raw):
        where = f"{path}: labels[{i}]"
        if not isinstance(raw, dict) or "name" not in raw:
            raise GuidelineError(f"{where}: each label needs a name")
        name = str(raw["name"])
        if name in seen:
            raise GuidelineError(f"{where}: label {name!r} appears twice")
        seen.add(name)
        if not isinstance(raw.get("definition"), str) or not raw["definition"].strip():
            raise GuidelineError(f"{where} ({name}): field 'definition' must be a non-empty string")
        ex = raw.get("examples") or {}
        if not isinstance(ex, dict):
            raise GuidelineError(f"{where} ({name}): field 'examples' must map positive/negative to lists")
        labels.append(LabelDef(
            name=name, definition=raw["definition"].strip(),
            positive_examples=_strs(ex.get("positive"), f"{where} ({name}).examples.positive"),
            negative_examples=_strs(ex.get("negative"), f"{where} ({name}).examples.negative"),
            edge_cases=_strs(raw.get("edge_cases"), f"{where} ({name}).edge_cases"),
            parent=raw.get("parent"),
            exclusive_with=_strs(raw.get("exclusive_with"), f"{where} ({name}).exclusive_with"),
        ))
    names = {lab.name for lab in labels}
    for lab in labels:
        if lab.parent is not None and lab.parent not in names:
            raise GuidelineError(f"{path}: label {lab.name!r} has parent {lab.parent!r}, which is not a label")
        for other in lab.exclusive_with:
            if other not in names:
                raise GuidelineError(f"{path}: label {lab.name!r} is exclusive with {other!r}, which is not a label")
    return GuidelineVersion(
        task=str(data["task"]), version=version, labels=tuple(labels),
        released_at=_parse_time(data.get("released_at"), path), previous=data.get("previous"),
        change_kind=data.get("change_kind"), rationale=str(data.get("rationale") or ""),
        decision_tree=data.get("decision_tree"), migration=data.get("migration"),
        meta={k: v for k, v in data.items() if k not in KNOWN_KEYS}, path=path,
    )


def load_version(path: str | os.PathLike[str]) -> GuidelineVersion:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GuidelineError(f"{p}: no such guideline file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise GuidelineError(f"{p}:{line} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    gv = parse_version(data, str(p))
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
    def load(cls, root: str | os.PathLike[str]) -> "Guidelines":
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
