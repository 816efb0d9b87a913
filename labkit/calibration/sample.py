"""The bundled sample program's calibration session, made with replay mode from the sample's own data.

The sample program (``sample/``, see ``sample/README.md``) released guideline 1.1.0 on 2026-09-28
after a calibration session that about half of its annotators attended (``attended_calibration`` in
``sample/annotators.csv``). :func:`make_sample_session` rebuilds that session in
``sample/calibration/cal-2026-09-28/``:

1. items chosen by :func:`~labkit.calibration.selection.select_items` from the labels made before
   2026-09-28 09:00 UTC (6 gold, 6 contested, seed 0) under guideline 1.1.0;
2. participants: the facilitator ``g-facil-1`` and every annotator who attended;
3. the whole session replayed (:func:`~labkit.calibration.replay.steps_from_labels`): blind answers
   drawn from each participant's confusion rates in the two weeks before, one clarification at the
   reveal, final answers from their rates in the two weeks after, then record and close.

Every timestamp comes from the session date, every draw from the seed: the same sample files give
byte-identical session files. The folder is built beside the target and renamed into place, so a
failed run leaves the previous session as it was.

Run it with ``labkit calibration sample`` (``--force`` replaces an existing session).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from labkit.errors import InputRefused, ParameterError

SESSION_ID = "cal-2026-09-28"
SESSION_AT = dt.datetime(2026, 9, 28, 9, 0, tzinfo=dt.timezone.utc)
CREATED_AT = dt.datetime(2026, 9, 25, 16, 0, tzinfo=dt.timezone.utc)
FACILITATOR = "g-facil-1"
LABEL_FILES = ("sample/label_studio_export.json", "sample/labels.csv")
#: The clarification raised at the reveal, on the sample's first gold item ("Typical moron take.").
CLARIFICATION = {
    "item_id": "c-00019", "label": "offensive", "op": "add_edge_case",
    "proposed": "Name-calling aimed at the author of an opinion (\"moron take\") is offensive even when the "
                "sentence is grammatically about the opinion.",
    "rationale": "Several of us read 'moron take' as criticism of the idea and chose ok.",
}


def sample_participants(annotators_csv: str | os.PathLike[str]) -> list[str]:
    """Annotator ids with ``attended_calibration`` true in ``sample/annotators.csv``, in file order."""
    path = str(annotators_csv)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise InputRefused(path, "no such file (regenerate the sample with `labkit sample generate`)") from None
    for col in ("annotator_id", "attended_calibration"):
        if col not in df.columns:
            raise InputRefused(path, f"missing column {col!r} (found {', '.join(df.columns)})", field=col)
    bad = ~df["attended_calibration"].str.lower().isin(["true", "false"])
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise InputRefused(path, f"attended_calibration must be True or False, got {df['attended_calibration'].iloc[i]!r}",
                           record=i + 2, field="attended_calibration")
    return df.loc[df["attended_calibration"].str.lower() == "true", "annotator_id"].tolist()


def make_sample_session(root: str | os.PathLike[str] = ".", *, force: bool = False, seed: int = 0) -> dict[str, Any]:
    """Build ``<root>/sample/calibration/cal-2026-09-28`` by replay; return the session state.

    Parameters
    ----------
    root : path
        The repository root (holds ``sample/`` and ``guidelines/``).
    force : bool
        Replace an existing session folder (otherwise an existing one is refused).
    seed : int
        Seed for the item choice and the replayed answers.
    """
    from labkit.calibration.model import CalibrationSession, Participant, SessionSpec
    from labkit.calibration.replay import replay, steps_from_labels
    from labkit.calibration.selection import select_items
    from labkit.guidelines.model import Guidelines
    from labkit.io import load_labels
    from labkit.schema import read_gold

    base = Path(root).resolve()
    dest = base / "sample" / "calibration" / SESSION_ID
    if dest.exists() and not force:
        raise ParameterError(f"{dest} exists; pass --force to rebuild it")
    g = Guidelines.load(base / "guidelines")
    version = g.in_force("toxicity", SESSION_AT)
    if version is None:
        raise ParameterError(f"no toxicity guideline version is in force at {SESSION_AT.isoformat()}")
    labels = load_labels([str(base / f) for f in LABEL_FILES])
    gold = read_gold(base / "sample" / "gold.csv")
    items = pd.read_csv(base / "sample" / "items.csv", dtype=str, keep_default_na=False)
    people = sample_participants(base / "sample" / "annotators.csv")
    sel = select_items(labels, gold, g, version, n_gold=6, n_contested=6, before=SESSION_AT, items=items, seed=seed)
    rel = lambda p: os.path.relpath(base / p, dest)  # noqa: E731 - paths as seen from the session folder
    spec = SessionSpec(
        id=SESSION_ID, task="toxicity", guideline=version, items=sel.items,
        participants=[Participant(FACILITATOR, "facilitator")] + [Participant(p) for p in people],
        created_at=CREATED_AT, scheduled_at=SESSION_AT, selection=sel.params, open_join=False,
        file_proposals=False,  # the sample's guidelines already hold the proposals that were filed
        sources={"labels": os.pathsep.join(rel(f) for f in LABEL_FILES), "gold": rel("sample/gold.csv"),
                 "items": rel("sample/items.csv"), "guidelines": rel("guidelines")},
    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    # built in a sibling folder (same depth as dest, so the relative sources resolve the same way)
    work = Path(tempfile.mkdtemp(prefix=f".{SESSION_ID}-", dir=dest.parent))
    os.chmod(work, 0o755)  # mkdtemp makes it private; the session is shared
    try:
        session = CalibrationSession.create(work, spec)
        clar = dict(CLARIFICATION, participant=people[0])
        steps = steps_from_labels(session, labels, gold, facilitator=FACILITATOR, start=SESSION_AT,
                                  clarification=clar, seed=seed, guidelines=g)
        replay(session, steps)
        if dest.exists():
            old = dest.with_name(f".{SESSION_ID}-old")
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
            work.rename(dest)
            shutil.rmtree(old)
        else:
            work.rename(dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return CalibrationSession.open(dest).state()
