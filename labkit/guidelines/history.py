"""Rebuild the bundled sample's guideline history through the governance API, deterministically.

The sample task ``toxicity`` has three released versions (1.0.0, 1.1.0, 2.0.0). They are not written
by hand: each is a proposal in ``guidelines/toxicity/proposals/`` that went through propose, approve
(and, once, reject) and release at fixed times matching the versions' ``released_at``. This module
replays :data:`TIMELINE` into a fresh folder and swaps the result in, so the committed version files,
``CHANGELOG.md`` and ``decisions.jsonl`` are exactly what the commands produce::

    python -m labkit.guidelines.history --guidelines guidelines          # rebuild in place
    python -m labkit.guidelines.history --guidelines guidelines --check  # exit 1 if the files differ

Running it twice gives identical bytes (fixed timestamps, canonical log, stable YAML, and Ed25519
signatures, which are deterministic, made with the SAMPLE-ONLY keys of
:func:`labkit.guidelines.signing.sample_key`: derived from the member ids, never for real use).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from labkit._atomic import atomic_open
from labkit.guidelines import log as dlog
from labkit.guidelines.governance import approve, record_decision, reject, release
from labkit.guidelines.model import safe_load as _yaml_load
from labkit.guidelines.proposals import new_proposal
from labkit.guidelines.signing import sample_key

#: (action, proposal id or item, member, ISO time, extra). Proposals are read from the proposals folder.
TIMELINE: list[tuple[str, str, str, str, dict[str, Any]]] = [
    ("propose", "toxicity-1.0.0-first-release", "", "", {}),
    ("approve", "toxicity-1.0.0-first-release", "g-lead-1", "2026-09-02T10:00:00Z", {}),
    ("approve", "toxicity-1.0.0-first-release", "g-expert-1", "2026-09-03T09:15:00Z", {}),
    ("approve", "toxicity-1.0.0-first-release", "g-expert-2", "2026-09-03T14:40:00Z", {}),
    ("release", "toxicity-1.0.0-first-release", "g-lead-1", "2026-09-07T00:00:00Z", {}),
    ("propose", "toxicity-1.1.0-self-promotion", "", "", {}),
    ("approve", "toxicity-1.1.0-self-promotion", "g-expert-1", "2026-09-23T11:00:00Z",
     {"why": "Matches what we saw on the calibration items."}),
    ("approve", "toxicity-1.1.0-self-promotion", "g-lead-1", "2026-09-25T16:20:00Z", {}),
    ("release", "toxicity-1.1.0-self-promotion", "g-lead-1", "2026-09-28T00:00:00Z", {}),
    ("propose", "toxicity-2026-10-02-split-hate", "", "", {}),
    ("reject", "toxicity-2026-10-02-split-hate", "g-lead-1", "2026-10-05T09:00:00Z",
     {"why": "Too few hate items per attribute to label reliably; report the attribute in a separate field instead."}),
    ("propose", "toxicity-2.0.0-insult-and-spam", "", "", {}),
    ("approve", "toxicity-2.0.0-insult-and-spam", "g-expert-1", "2026-10-14T10:30:00Z", {}),
    ("approve", "toxicity-2.0.0-insult-and-spam", "g-expert-2", "2026-10-15T13:05:00Z", {}),
    ("approve", "toxicity-2.0.0-insult-and-spam", "g-lead-1", "2026-10-16T17:45:00Z", {}),
    ("release", "toxicity-2.0.0-insult-and-spam", "g-lead-1", "2026-10-19T00:00:00Z", {}),
    ("adjudicate", "c-00019", "g-expert-2", "2026-10-22T10:00:00Z",
     {"task": "toxicity", "label": "insult", "why": "Demeans the person addressed (insult definition, 2.0.0)."}),
    ("gold_edit", "c-00042", "g-expert-2", "2026-10-23T15:00:00Z",
     {"task": "toxicity", "label": "spam", "why": "Unasked promotion of the poster's own work is spam since 2.0.0."}),
    ("propose", "toxicity-2026-11-02-sarcasm-about-work", "", "", {}),
    ("approve", "toxicity-2026-11-02-sarcasm-about-work", "g-expert-1", "2026-11-03T09:00:00Z", {}),
    ("propose", "toxicity-2026-11-09-threat-label", "", "", {}),
    ("approve", "toxicity-2026-11-09-threat-label", "g-lead-1", "2026-11-10T12:00:00Z", {}),
]

#: What the rebuild writes (relative to the guidelines folder); everything else is left alone.
def _outputs(root: Path, task: str) -> list[Path]:
    from labkit.guidelines.model import SEMVER

    files = [root / dlog.LOG_NAME, root / task / "CHANGELOG.md"]
    files += sorted(f for f in (root / task).glob("*.yaml") if SEMVER.match(f.stem))
    files += sorted((root / task / "proposals").glob("*.yaml"))
    return [f for f in files if f.exists()]


def rebuild(src: str | Path, out: str | Path, task: str = "toxicity",
            timeline: list[tuple[str, str, str, str, dict[str, Any]]] | None = None) -> Path:
    """Replay ``timeline`` using the proposals and governance.yaml found in ``src``; write into ``out``.

    ``out`` must not exist or be empty. Returns ``out``.
    """
    src, out = Path(src), Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "governance.yaml", out / "governance.yaml")
    drafts = {}
    for f in sorted((src / task / "proposals").glob("*.yaml")):
        d = _yaml_load(f.read_text(encoding="utf-8"))
        drafts[d["id"]] = d
    for action, ref, who, at, extra in timeline or TIMELINE:
        if action == "propose":
            d = drafts[ref]
            new_proposal(task=d["task"], base_version=d["base_version"], author=d["author"], title=d["title"],
                         rationale=d["rationale"], changes=d["changes"], source=d.get("source"), root=out,
                         created_at=d["created_at"], proposal_id=d["id"], key=sample_key(d["author"]))
        elif action == "approve":
            approve(ref, who, out, at=at, key=sample_key(who), **extra)
        elif action == "reject":
            reject(ref, who, extra["why"], out, at=at, key=sample_key(who))
        elif action == "release":
            release(ref, out, who=who, at=at, key=sample_key(who))
        elif action in ("adjudicate", "gold_edit"):
            record_decision("adjudication" if action == "adjudicate" else "gold_edit", who, out,
                            item_id=ref, at=at, key=sample_key(who), **extra)
        else:  # pragma: no cover - a typo in TIMELINE
            raise ValueError(f"unknown timeline action {action!r}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m labkit.guidelines.history", description=__doc__.splitlines()[0])
    ap.add_argument("--guidelines", default="guidelines")
    ap.add_argument("--task", default="toxicity")
    ap.add_argument("--check", action="store_true", help="compare only; exit 1 when the committed files differ")
    args = ap.parse_args(argv)
    root = Path(args.guidelines)
    with tempfile.TemporaryDirectory() as tmp:
        built = rebuild(root, Path(tmp) / "g", args.task)
        new = {f.relative_to(built) for f in _outputs(built, args.task)}
        old = {f.relative_to(root) for f in _outputs(root, args.task)}
        differ = sorted(str(r) for r in new | old
                        if r not in new or r not in old or not filecmp.cmp(root / r, built / r, shallow=False))
        if args.check:
            print("history up to date" if not differ else "differs: " + ", ".join(differ))
            return 1 if differ else 0
        for r in sorted(old - new):
            (root / r).unlink()
        for r in sorted(new):
            with atomic_open(root / r, "wb") as fh:
                fh.write((built / r).read_bytes())
        print(f"rebuilt {len(new)} files under {root} ({len(differ)} changed)")
        print(dlog.verify(root))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
