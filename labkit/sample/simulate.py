"""A seeded simulator of a realistic labeling program, used for the bundled sample and for benchmarks.

The program: comment moderation (task ``toxicity``) over eight weeks from 2026-09-07, three guideline
versions (``guidelines/toxicity``: 1.0.0, 1.1.0 on 2026-09-28, 2.0.0 on 2026-10-19), about 40
annotators of varied skill, speed, confidence calibration and drift, a model that pre-labels every
item, a review stage on a share of items, and gold items decided by domain experts.

Ground truth is a *concept* per item (ok, insult, sarcasm, hate, spam, self_promo); each guideline
version maps concepts to its own labels, and two concepts are ambiguous under 1.0.0 (sarcasm: is it
offensive?; self_promo: is it spam?) until 1.1.0 clarifies them. So the guideline history has a real,
measurable effect on agreement, which the governance report shows.

Planted problems (``plant_problems=True``), each listed with its rows in ``planted.json``:

- ``duplicate``: exact duplicate judgements (an export glitch);
- ``label_not_allowed``: labels the version in force does not allow (a stale tool config);
- ``retired_version``: an annotator still working under 1.1.0 two weeks after 2.0.0;
- ``too_fast``: a speeder answering in about a second;
- ``improbable_distribution``: an annotator who answers ``ok`` almost always;
- ``exclusive_together``: ``ok`` and ``hate`` given together by one annotator on one item;
- ``bad_value``: confidence outside [0, 1], a negative duration, a timestamp years in the future.

Everything is a function of ``seed``; the same seed gives byte-identical files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit._atomic import atomic_open, write_json, write_text

TASK = "toxicity"
CONCEPTS = ("ok", "insult", "sarcasm", "hate", "spam", "self_promo")
CONCEPT_P = np.array([0.52, 0.14, 0.07, 0.06, 0.12, 0.09])
SLICES = ("forum", "chat", "reviews")
# concept mix per slice (reviews carry more spam and self-promotion, chat more insults)
SLICE_TILT = {
    "forum": np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
    "chat": np.array([0.9, 1.6, 1.4, 1.2, 0.6, 0.5]),
    "reviews": np.array([1.0, 0.6, 0.8, 0.6, 1.6, 2.0]),
}
VERSIONS = ("1.0.0", "1.1.0", "2.0.0")
RELEASES = (pd.Timestamp("2026-09-07", tz="UTC"), pd.Timestamp("2026-09-28", tz="UTC"),
            pd.Timestamp("2026-10-19", tz="UTC"))
LABELS = {
    "1.0.0": ("ok", "offensive", "hate", "spam"),
    "1.1.0": ("ok", "offensive", "hate", "spam", "self_promotion"),
    "2.0.0": ("ok", "insult", "hate", "spam"),
}
# the correct label of each concept under each version
CORRECT = {
    "1.0.0": {"ok": "ok", "insult": "offensive", "sarcasm": "offensive", "hate": "hate", "spam": "spam",
              "self_promo": "spam"},
    "1.1.0": {"ok": "ok", "insult": "offensive", "sarcasm": "offensive", "hate": "hate", "spam": "spam",
              "self_promo": "self_promotion"},
    "2.0.0": {"ok": "ok", "insult": "insult", "sarcasm": "insult", "hate": "hate", "spam": "spam",
              "self_promo": "spam"},
}
# how hard each concept is under each version (subtracted from an annotator's skill)
DIFFICULTY = {
    "1.0.0": {"ok": 0.02, "insult": 0.08, "sarcasm": 0.42, "hate": 0.15, "spam": 0.05, "self_promo": 0.45},
    "1.1.0": {"ok": 0.02, "insult": 0.08, "sarcasm": 0.18, "hate": 0.15, "spam": 0.06, "self_promo": 0.20},
    "2.0.0": {"ok": 0.01, "insult": 0.03, "sarcasm": 0.07, "hate": 0.07, "spam": 0.03, "self_promo": 0.05},
}
# where wrong answers go, per concept: concept-level confusions mapped through the version's labels
CONFUSION = {
    "ok": {"insult": 0.6, "spam": 0.3, "hate": 0.1},
    "insult": {"ok": 0.6, "hate": 0.4},
    "sarcasm": {"ok": 0.9, "hate": 0.1},
    "hate": {"insult": 0.8, "ok": 0.2},
    "spam": {"self_promo": 0.5, "ok": 0.5},
    "self_promo": {"ok": 0.6, "spam": 0.4},
}
MODEL_ID = "toxi-clf-3"
EXPERTS = ("g-expert-1", "g-expert-2")

_TEXTS: dict[str, tuple[str, ...]] = {
    "ok": (
        "Thanks, that fixed my issue.", "I disagree with the second point, the data says otherwise.",
        "Has anyone tried this on the older firmware?", "Great write-up, the charts helped a lot.",
        "The delivery was late but support sorted it out.", "Could you share the config you used?",
        "Merci beaucoup, ça marche maintenant !", "谢谢你的帮助，问题解决了。", "Спасибо, всё заработало.",
        "This is a terrible idea for small teams, the cost doesn't add up.", "I <3 this community.",
        "Use <b>bold</b> tags only in the description field.", "Damn, this bug took me all week.",
        "Battery life is fine, screen is dim outdoors.", "Read the FAQ first, it answers this.",
    ),
    "insult": (
        "You are an idiot.", "Only a clown would write code like this.", "Nobody asked for your opinion, loser.",
        "Are you always this stupid or is today special?", "Go back to school before posting again.",
        "What a pathetic excuse for a review.", "Typical moron take.",
    ),
    "sarcasm": (
        "Wow, what a genius idea. Not.", "Sure, because you obviously know everything.",
        "Oh great, another expert who never read the manual.", "Brilliant. Truly the smartest person here.",
        "Congrats on discovering the off switch, Einstein.",
    ),
    "hate": (
        "People from <group> should not be allowed here.", "All <group> are criminals, everyone knows it.",
        "Women can't understand engineering, stop pretending.", "Send them all back where they came from.",
    ),
    "spam": (
        "Buy cheap followers here!", "Earn $500 a day from home, click my profile.",
        "FREE GIFT CARDS >>> bit.ly/xyz <<<", "Best casino bonus, sign up now!!!",
        "Cheap watches, replica, fast shipping, DM me.",
    ),
    "self_promo": (
        "I wrote a library that does exactly this, see my profile.", "Subscribe to my channel for more tips like this.",
        "I made a course on this, link in bio.", "My blog has a longer version of this answer.",
        "Shameless plug: my app solves this, 20% off this week.",
    ),
}


@dataclass
class SampleProgram:
    """The simulated program: canonical-column labels, gold, items, and the list of planted problems."""

    labels: pd.DataFrame
    gold: pd.DataFrame
    items: pd.DataFrame
    planted: dict[str, Any] = field(default_factory=dict)
    annotators: pd.DataFrame | None = None


def _version_at(t: pd.Series | np.ndarray) -> np.ndarray:
    ts = pd.DatetimeIndex(t)
    idx = np.zeros(len(ts), dtype=np.int64)
    for i, r in enumerate(RELEASES):
        idx[ts >= r] = i
    return idx


def simulate(
    *,
    seed: int = 7,
    n_items: int = 1800,
    n_annotators: int = 40,
    start: str = "2026-09-07",
    weeks: int = 8,
    n_gold: int = 180,
    plant_problems: bool = True,
) -> SampleProgram:
    """Simulate a labeling program. See the module docstring for the story and the planted problems.

    Parameters
    ----------
    seed : every random choice derives from ``numpy.random.default_rng(seed)``.
    n_items, n_annotators, weeks : size of the program (judgements grow with ``n_items``: about 4.6
        rows per item, human labels, model pre-labels and reviews together).
    n_gold : items with an expert gold label (stratified over concepts).
    plant_problems : add the planted problems; False gives a clean program that validation passes.
    """
    if n_annotators < 12:
        raise ValueError(f"n_annotators must be at least 12, got {n_annotators}")
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start, tz="UTC")
    span_s = weeks * 7 * 86400

    # --- items ---------------------------------------------------------------------------------
    item_ids = np.array([f"c-{i:05d}" for i in range(1, n_items + 1)], dtype=object)
    slice_idx = rng.choice(len(SLICES), size=n_items, p=[0.45, 0.35, 0.20])
    concept_idx = np.empty(n_items, dtype=np.int64)
    for s, name in enumerate(SLICES):
        m = slice_idx == s
        p = CONCEPT_P * SLICE_TILT[name]
        concept_idx[m] = rng.choice(len(CONCEPTS), size=int(m.sum()), p=p / p.sum())
    arrival = t0 + pd.to_timedelta(rng.uniform(0, span_s - 3 * 86400, size=n_items), unit="s")
    texts = np.empty(n_items, dtype=object)
    for c, name in enumerate(CONCEPTS):
        m = np.flatnonzero(concept_idx == c)
        pool = _TEXTS[name]
        pick = rng.integers(0, len(pool), size=len(m))
        variant = rng.integers(0, 1000, size=len(m))
        texts[m] = [f"{pool[k]} [#{v}]" if v % 3 else pool[k] for k, v in zip(pick, variant)]
    items = pd.DataFrame({"item_id": item_ids, "task": TASK, "text": texts,
                          "slice": np.array(SLICES, dtype=object)[slice_idx]})

    # --- annotators ----------------------------------------------------------------------------
    ann_ids = np.array([str(101 + i) for i in range(n_annotators)], dtype=object)
    skill = np.clip(rng.beta(9, 2, size=n_annotators) * 0.35 + 0.63, 0.55, 0.98)
    skill[rng.choice(n_annotators, size=3, replace=False)] -= 0.15  # a few weak annotators
    speed = np.exp(rng.normal(np.log(14), 0.45, size=n_annotators))  # median seconds per item
    activity = rng.pareto(2.0, size=n_annotators) + 0.6
    drift = rng.normal(0, 0.006, size=n_annotators)  # skill change per week
    drift[rng.choice(n_annotators, size=3, replace=False)] = -0.02  # fatigue
    overconfident = rng.random(n_annotators) < 0.25
    calibrated = rng.random(n_annotators) < 0.5  # attended the calibration session (2026-09-28)
    lag_days = rng.uniform(0, 2.5, size=n_annotators)  # days to pick up a new guideline version
    reviewers = np.argsort(-skill)[:3]
    special: dict[str, int] = {}
    if plant_problems:
        order = [i for i in range(n_annotators) if i not in set(reviewers)]
        special = {"spammer": order[27], "speeder": order[32], "stale": order[20], "stale_tool": order[16],
                   "exclusive": order[5]}
        activity[special["spammer"]] = max(activity[special["spammer"]], 1.2)
        activity[special["speeder"]] = max(activity[special["speeder"]], 1.2)
        activity[special["stale"]] = max(activity[special["stale"]], 1.5)
        lag_days[special["stale"]] = 0.5
    weights = activity / activity.sum()

    # --- human label-stage judgements ----------------------------------------------------------
    k = np.where(rng.random(n_items) < 0.2, 5, 3)
    rows_item = np.repeat(np.arange(n_items), k)
    rows_ann = np.empty(len(rows_item), dtype=np.int64)
    pos = 0
    for i in range(n_items):
        rows_ann[pos:pos + k[i]] = rng.choice(n_annotators, size=k[i], replace=False, p=weights)
        pos += k[i]
    n = len(rows_item)
    delay = rng.exponential(0.8 * 86400, size=n)
    created = arrival[rows_item] + pd.to_timedelta(delay, unit="s")
    created = pd.DatetimeIndex(np.minimum(created.asi8, (t0 + pd.Timedelta(seconds=span_s - 60)).value)).tz_localize("UTC")
    # the version the annotator's tool was on: the release in force lag_days before
    vidx = _version_at(created - pd.to_timedelta(lag_days[rows_ann] * 86400, unit="s"))
    if plant_problems:  # the stale annotator never moved to 2.0.0
        vidx[(rows_ann == special["stale"]) & (vidx == 2)] = 1
    concept = np.array(CONCEPTS, dtype=object)[concept_idx[rows_item]]
    weeks_in = (created - t0).total_seconds().to_numpy() / (7 * 86400)
    p_correct = skill[rows_ann] + drift[rows_ann] * weeks_in
    diff = np.array([DIFFICULTY[VERSIONS[v]][c] for v, c in zip(vidx, concept)])
    after_cal = calibrated[rows_ann] & (created >= RELEASES[1])
    diff = np.where(after_cal & np.isin(concept, ["sarcasm", "self_promo", "hate"]), diff * 0.5, diff)
    p_correct = np.clip(p_correct - diff, 0.05, 0.99)
    correct = rng.random(n) < p_correct
    labels = np.empty(n, dtype=object)
    for j in range(n):  # small program: readability over speed here
        v = VERSIONS[vidx[j]]
        c = concept[j]
        if correct[j]:
            labels[j] = CORRECT[v][c]
        else:
            conf = CONFUSION[c]
            alt = list(conf)
            mistake = alt[rng.choice(len(alt), p=np.array(list(conf.values())) / sum(conf.values()))]
            lab = CORRECT[v][mistake]
            if lab == CORRECT[v][c]:  # e.g. self_promo -> spam under 1.0.0: same label, pick ok
                lab = "ok" if lab != "ok" else CORRECT[v]["insult"]
            labels[j] = lab
    dur = np.exp(rng.normal(np.log(speed[rows_ann]), 0.5)) * np.where(np.isin(concept, ["sarcasm", "self_promo"]), 1.5, 1.0)
    dur = np.round(np.maximum(dur, 3.2), 1)
    conf_hat = np.clip(p_correct + rng.normal(0, 0.12, size=n) + np.where(overconfident[rows_ann], 0.18, 0.0), 0.3, 1.0)
    confidence = np.round(conf_hat * 10) / 10
    human = pd.DataFrame({
        "item_id": item_ids[rows_item], "annotator_id": ann_ids[rows_ann], "task": TASK, "label": labels,
        "guideline_version": np.array(VERSIONS, dtype=object)[vidx], "created_at": created,
        "duration_s": dur, "confidence": confidence, "source": "human", "stage": "label",
        "slice": items["slice"].to_numpy()[rows_item],
    })

    # --- model pre-labels ------------------------------------------------------------------------
    mv = _version_at(arrival)
    m_concept = np.array(CONCEPTS, dtype=object)[concept_idx]
    m_ok = rng.random(n_items) < np.where(np.isin(m_concept, ["sarcasm", "self_promo"]), 0.55, 0.86)
    m_label = np.empty(n_items, dtype=object)
    for i in range(n_items):
        v = VERSIONS[mv[i]]
        if m_ok[i]:
            m_label[i] = CORRECT[v][m_concept[i]]
        else:
            wrong = [lab for lab in LABELS[v] if lab != CORRECT[v][m_concept[i]]]
            m_label[i] = wrong[rng.integers(0, len(wrong))]
    score = np.where(m_ok, rng.beta(8, 2, size=n_items), rng.beta(4, 3, size=n_items))
    model = pd.DataFrame({
        "item_id": item_ids, "annotator_id": MODEL_ID, "task": TASK, "label": m_label,
        "guideline_version": np.array(VERSIONS, dtype=object)[mv], "created_at": arrival,
        "duration_s": np.nan, "confidence": np.round(score, 3), "source": "model", "stage": "label",
        "slice": items["slice"].to_numpy(),
    })

    # --- review stage on 8% of items -------------------------------------------------------------
    rev_items = np.sort(rng.choice(n_items, size=max(1, int(0.08 * n_items)), replace=False))
    last_label_time = human.groupby(rows_item)["created_at"].max()
    r_time = pd.DatetimeIndex(last_label_time.loc[rev_items].to_numpy()).tz_convert("UTC") + pd.to_timedelta(
        rng.uniform(3600, 2 * 86400, size=len(rev_items)), unit="s")
    r_time = pd.DatetimeIndex(np.minimum(r_time.asi8, (t0 + pd.Timedelta(seconds=span_s - 30)).value)).tz_localize("UTC")
    r_v = _version_at(r_time)
    r_ok = rng.random(len(rev_items)) < 0.95
    r_label = np.empty(len(rev_items), dtype=object)
    for j, i in enumerate(rev_items):
        v = VERSIONS[r_v[j]]
        right = CORRECT[v][CONCEPTS[concept_idx[i]]]
        r_label[j] = right if r_ok[j] else ("ok" if right != "ok" else CORRECT[v]["insult"])
    review = pd.DataFrame({
        "item_id": item_ids[rev_items], "annotator_id": ann_ids[rng.choice(reviewers, size=len(rev_items))],
        "task": TASK, "label": r_label, "guideline_version": np.array(VERSIONS, dtype=object)[r_v],
        "created_at": r_time, "duration_s": np.round(rng.uniform(20, 75, size=len(rev_items)), 1),
        "confidence": np.nan, "source": "human", "stage": "review",
        "slice": items["slice"].to_numpy()[rev_items],
    })

    planted: dict[str, Any] = {"seed": seed, "problems": {}}
    parts = [human, model, review]
    if plant_problems:
        parts, planted = _plant(rng, human, parts, planted, ann_ids, special, items, concept_idx)
    labels_df = pd.concat(parts, ignore_index=True)
    labels_df = labels_df.sort_values(["created_at", "item_id", "annotator_id"], kind="stable").reset_index(drop=True)

    # --- gold: stratified over concepts, decided under the latest version --------------------------
    per = max(1, n_gold // len(CONCEPTS))
    gold_idx: list[int] = []
    for c in range(len(CONCEPTS)):
        cand = np.flatnonzero(concept_idx == c)
        gold_idx.extend(rng.choice(cand, size=min(per, len(cand)), replace=False).tolist())
    gold_idx = sorted(gold_idx)
    why = {
        "ok": "No attack and no promotion; criticism targets the idea.",
        "insult": "Demeans the person addressed (insult definition, 2.0.0).",
        "sarcasm": "Sarcasm that mocks the person counts as an insult (clarified in 1.1.0).",
        "hate": "Attacks a protected group (hate definition).",
        "spam": "Unsolicited advertising unrelated to the thread.",
        "self_promo": "Unasked promotion of the poster's own work is spam since 2.0.0.",
    }
    gold = pd.DataFrame({
        "item_id": item_ids[gold_idx], "task": TASK,
        "label": [CORRECT["2.0.0"][CONCEPTS[concept_idx[i]]] for i in gold_idx],
        "guideline_version": "2.0.0",
        "decided_by": [EXPERTS[i % 2] for i in range(len(gold_idx))],
        "rationale": [why[CONCEPTS[concept_idx[i]]] for i in gold_idx],
    })
    annotators = pd.DataFrame({"annotator_id": ann_ids, "skill": skill, "median_seconds": speed,
                               "drift_per_week": drift, "overconfident": overconfident,
                               "attended_calibration": calibrated,
                               "reviewer": np.isin(np.arange(n_annotators), reviewers)})
    planted["counts"] = {"judgements": int(len(labels_df)), "items": n_items, "annotators": n_annotators,
                         "gold": int(len(gold))}
    return SampleProgram(labels_df, gold, items, planted, annotators)


def _rows(df: pd.DataFrame) -> list[dict[str, str]]:
    return [{"item_id": str(r.item_id), "annotator_id": str(r.annotator_id)} for r in df.itertuples(index=False)]


def _plant(rng: np.random.Generator, human: pd.DataFrame, parts: list[pd.DataFrame], planted: dict[str, Any],
           ann_ids: np.ndarray, special: dict[str, int], items: pd.DataFrame,
           concept_idx: np.ndarray) -> tuple[list[pd.DataFrame], dict[str, Any]]:
    P = planted["problems"]
    # improbable distribution: the spammer answers ok almost always
    spammer = ann_ids[special["spammer"]]
    m = (human["annotator_id"] == spammer).to_numpy()
    flip = m & (rng.random(len(human)) < 0.97)
    human.loc[flip, "label"] = "ok"
    P["improbable_distribution"] = {"annotator_id": spammer, "label": "ok",
                                    "share": round(float((human.loc[m, "label"] == "ok").mean()), 3),
                                    "n": int(m.sum())}
    # too fast: the speeder answers in about a second, at random
    speeder = ann_ids[special["speeder"]]
    m = (human["annotator_id"] == speeder).to_numpy()
    human.loc[m, "duration_s"] = np.round(rng.uniform(0.4, 1.6, size=int(m.sum())), 1)
    for j in np.flatnonzero(m):
        v = human.at[j, "guideline_version"]
        human.at[j, "label"] = LABELS[v][rng.integers(0, len(LABELS[v]))]
    P["too_fast"] = {"annotator_id": speeder, "floor_s": 3.0, "rows": _rows(human.loc[m])}
    # retired version: the stale annotator's labels under 1.1.0 made after 2.0.0 + grace (7 days)
    stale = ann_ids[special["stale"]]
    cutoff = RELEASES[2] + pd.Timedelta(days=7)
    m = ((human["annotator_id"] == stale) & (human["guideline_version"] == "1.1.0") & (human["created_at"] > cutoff)).to_numpy()
    P["retired_version"] = {"annotator_id": stale, "version": "1.1.0", "superseded_by": "2.0.0",
                            "after": cutoff.isoformat(), "rows": _rows(human.loc[m])}
    # labels not allowed by the version in force: a stale tool config showing 2.0.0 labels under 1.1.0
    tool = ann_ids[special["stale_tool"]]
    cand = np.flatnonzero(((human["annotator_id"] == tool) & (human["guideline_version"] == "1.1.0")
                           & (human["label"] == "offensive")).to_numpy())
    cand = cand[:15]
    human.loc[cand, "label"] = "insult"
    cand2 = np.flatnonzero(((human["guideline_version"] == "2.0.0") & (human["label"] == "spam")
                            & (human["annotator_id"] != stale)).to_numpy())
    cand2 = rng.choice(cand2, size=min(5, len(cand2)), replace=False)
    human.loc[cand2, "label"] = "self_promotion"
    P["label_not_allowed"] = {"rows": _rows(human.loc[np.concatenate([cand, cand2])]),
                              "labels": {"insult": "1.1.0", "self_promotion": "2.0.0"}}
    # exclusive labels together: ok and hate from one annotator on one item (extra rows)
    ex = ann_ids[special["exclusive"]]
    base = human.loc[((human["annotator_id"] == ex) & (human["label"] == "ok")).to_numpy()].head(8).copy()
    base["label"] = "hate"
    base["created_at"] = base["created_at"] + pd.Timedelta(seconds=2)
    P["exclusive_together"] = {"labels": ["ok", "hate"], "rows": _rows(base)}
    # duplicates: twelve rows exported twice
    dup = human.iloc[rng.choice(len(human), size=12, replace=False)].copy()
    P["duplicate"] = {"rows": _rows(dup)}
    # bad values: confidence out of range, negative duration, a timestamp in the future
    bad = human.iloc[rng.choice(len(human), size=4, replace=False)].index
    human.loc[bad[0], "confidence"] = 1.4
    human.loc[bad[1], "confidence"] = -0.2
    human.loc[bad[2], "duration_s"] = -3.0
    human.loc[bad[3], "created_at"] = pd.Timestamp("2031-01-01T00:00:00", tz="UTC")
    P["bad_value"] = {"rows": [
        {"item_id": str(human.at[bad[0], "item_id"]), "annotator_id": str(human.at[bad[0], "annotator_id"]), "field": "confidence", "value": 1.4},
        {"item_id": str(human.at[bad[1], "item_id"]), "annotator_id": str(human.at[bad[1], "annotator_id"]), "field": "confidence", "value": -0.2},
        {"item_id": str(human.at[bad[2], "item_id"]), "annotator_id": str(human.at[bad[2], "annotator_id"]), "field": "duration_s", "value": -3.0},
        {"item_id": str(human.at[bad[3], "item_id"]), "annotator_id": str(human.at[bad[3], "annotator_id"]), "field": "created_at", "value": "2031-01-01T00:00:00+00:00"},
    ]}
    parts = [human, base, dup] + parts[1:]
    return parts, planted


# ------------------------------------------------------------------------------------------------
# writing the bundled sample
# ------------------------------------------------------------------------------------------------

LS_WEEKS = 2  # the first weeks of the program come as a Label Studio export


def _iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_label_studio(labels: pd.DataFrame, items: pd.DataFrame) -> list[dict[str, Any]]:
    """Label-stage human judgements and model pre-labels as a Label Studio JSON export (one task per item).

    Multi-label answers (several rows of one annotator on one item) become one annotation with several
    choices. The task's ``data`` carries the item id, text, slice and the guideline version in force
    when the task was created (Label Studio has no field of its own for it).
    """
    text = dict(zip(items["item_id"], items["text"]))
    sl = dict(zip(items["item_id"], items["slice"]))
    tasks: list[dict[str, Any]] = []
    ann_id = 0
    for t_id, (item, grp) in enumerate(labels.groupby("item_id", sort=True), start=1):
        model = grp[grp["source"] == "model"]
        human = grp[grp["source"] == "human"]
        gv = str(model["guideline_version"].iloc[0]) if len(model) else str(grp["guideline_version"].iloc[0])
        task: dict[str, Any] = {
            "id": t_id,
            "data": {"item_id": item, "text": text[item], "slice": sl[item], "guideline_version": gv},
            "annotations": [], "predictions": [], "meta": {}, "project": 7,
        }
        for ann, g in human.groupby("annotator_id", sort=False):
            ann_id += 1
            first = g.iloc[0]
            task["annotations"].append({
                "id": ann_id,
                "completed_by": {"id": int(ann), "email": f"annotator{ann}@example.org", "first_name": "", "last_name": ""},
                "result": [{"id": f"r{ann_id}", "from_name": "toxicity", "to_name": "text", "type": "choices",
                            "origin": "manual", "value": {"choices": [str(x) for x in g["label"]]}}],
                "was_cancelled": False, "ground_truth": False,
                "created_at": _iso(first["created_at"]), "updated_at": _iso(first["created_at"]),
                "lead_time": float(first["duration_s"]), "task": t_id, "project": 7,
                "meta": {"guideline_version": str(first["guideline_version"]),
                         "confidence": None if pd.isna(first["confidence"]) else float(first["confidence"])},
            })
        for _, p in model.iterrows():
            task["predictions"].append({
                "id": t_id, "model_version": MODEL_ID, "score": float(p["confidence"]),
                "created_at": _iso(p["created_at"]),
                "result": [{"from_name": "toxicity", "to_name": "text", "type": "choices",
                            "value": {"choices": [str(p["label"])]}}],
            })
        tasks.append(task)
    return tasks


def write_sample(out: str | os.PathLike[str], program: SampleProgram | None = None, *, seed: int = 7) -> dict[str, str]:
    """Write the bundled sample program into ``out`` (atomic, deterministic for a seed).

    Files: ``labels.csv`` (weeks 3 on, review-stage rows and every planted problem),
    ``label_studio_export.json`` (label-stage judgements and model pre-labels of the items that
    arrived in the first two weeks, plus three cancelled annotations), ``gold.csv``, ``items.csv``,
    ``annotators.csv`` (the simulator's hidden truth about each annotator, for checking estimates),
    and ``planted.json``.
    """
    prog = program or simulate(seed=seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    labels = prog.labels
    t0 = RELEASES[0]
    first = set(prog.items.loc[:, "item_id"])
    # the Label Studio part: label-stage rows of items whose model pre-label arrived in the first weeks
    arr = labels.loc[labels["source"] == "model"].set_index("item_id")["created_at"]
    ls_items = set(arr.index[arr < t0 + pd.Timedelta(weeks=LS_WEEKS)]) & first
    planted_keys = {(r["item_id"], r["annotator_id"]) for p in prog.planted.get("problems", {}).values()
                    if isinstance(p, dict) for r in p.get("rows", [])}
    in_ls = labels["item_id"].isin(ls_items) & (labels["stage"] == "label")
    keys = list(zip(labels["item_id"], labels["annotator_id"]))
    touched = np.array([k in planted_keys for k in keys])
    # keep every row of a planted (item, annotator) pair in the CSV, so planted problems stay visible
    touched_items = set(labels.loc[touched, "item_id"])
    in_ls &= ~labels["item_id"].isin(touched_items)
    ls = labels.loc[in_ls]
    csv = labels.loc[~in_ls].copy()
    tasks = to_label_studio(ls, prog.items)
    # three cancelled annotations (not judgements: the importer counts them as skipped)
    for j, task in enumerate(tasks[:3]):
        task["annotations"].append({
            "id": 900000 + j, "completed_by": {"id": 199, "email": "annotator199@example.org"},
            "result": [], "was_cancelled": True, "ground_truth": False,
            "created_at": task["annotations"][0]["created_at"] if task["annotations"] else "2026-09-08T09:00:00.000000Z",
            "lead_time": 4.2, "task": task["id"], "project": 7, "meta": {"guideline_version": "1.0.0"},
        })
    with atomic_open(out / "label_studio_export.json", "w") as fh:
        json.dump(tasks, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    csv["created_at"] = csv["created_at"].map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"))
    with atomic_open(out / "labels.csv", "w") as fh:
        csv.to_csv(fh, index=False, lineterminator="\n")
    with atomic_open(out / "gold.csv", "w") as fh:
        prog.gold.to_csv(fh, index=False, lineterminator="\n")
    with atomic_open(out / "items.csv", "w") as fh:
        prog.items.to_csv(fh, index=False, lineterminator="\n")
    if prog.annotators is not None:
        with atomic_open(out / "annotators.csv", "w") as fh:
            prog.annotators.round(4).to_csv(fh, index=False, lineterminator="\n")
    planted = dict(prog.planted)
    planted["files"] = {"labels.csv": int(len(csv)), "label_studio_export.json": {
        "tasks": len(tasks), "judgements": int(len(ls)), "cancelled_annotations": 3}}
    write_json(out / "planted.json", planted)
    write_text(out / "README.md", _README.format(n=len(labels), items=len(prog.items), gold=len(prog.gold),
                                                 csv=len(csv), ls=len(ls), tasks=len(tasks)))
    return {name: str(out / name) for name in ("labels.csv", "label_studio_export.json", "gold.csv", "items.csv",
                                              "annotators.csv", "planted.json", "README.md")}


_README = """# The bundled sample program

Generated by `labkit sample generate --out sample` (seeded simulator in `labkit/sample/simulate.py`;
the same seed gives the same files). A comment-moderation program, task `toxicity`, eight weeks from
2026-09-07 under three guideline versions (`guidelines/toxicity`): about 40 annotators of varied skill,
speed, confidence calibration and drift, a model pre-labelling every item, a review stage on 8% of items,
and expert gold items. Nothing here is real data; every comment is a template.

| file | what |
|---|---|
| `label_studio_export.json` | the first two weeks as a Label Studio JSON export ({tasks} tasks, {ls} judgements incl. model predictions; three cancelled annotations) |
| `labels.csv` | the rest in canonical columns ({csv} rows), review-stage rows and the planted problems |
| `gold.csv` | {gold} gold items decided under guideline 2.0.0 with rationale |
| `items.csv` | {items} items: id, text, slice (forum, chat, reviews) |
| `annotators.csv` | the simulator's hidden truth per annotator (skill, speed, drift), to check estimates against |
| `planted.json` | every planted problem with its rows, for validation to catch |
| `calibration/cal-2026-09-28/` | one completed calibration session around the 1.1.0 release, replayed from this program's own labels by `labkit calibration sample` (not written by `labkit sample generate`; see docs/calibration.md) |

{n} judgements in all. Import both parts into one table:

    labkit import sample/label_studio_export.json sample/labels.csv --out build/labels.parquet
"""
