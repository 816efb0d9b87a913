"""The row-level and row-group computations behind labkit's custom expectations, in plain pandas/NumPy.

Each function takes plain columns (categoricals or strings) and returns a boolean mask of rows that
*pass* (``True`` = expected), aligned with its input. The Great Expectations metrics in
:mod:`labkit.validation.gx_expectations` call these functions, so a check means the same thing in
the GX suite, in the plain-pandas baseline of ``bench/bench_validation.py`` and in the notebook.
Nothing here imports Great Expectations.

Guideline parameters are plain JSON-able mappings built by :func:`guideline_parameters`:

* ``allowed``   ``{task: {version: [label, ...]}}``
* ``exclusive`` ``{task: {version: [[a, b], ...]}}``
* ``parents``   ``{task: {version: {child: parent}}}``
* ``retired``   ``{task: {version: ISO timestamp after which the version is retired}}``
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from labkit.guidelines.model import Guidelines


def guideline_parameters(guidelines: Guidelines, retire_grace_days: float) -> dict[str, Any]:
    """The guideline-derived parameters every guideline expectation needs (JSON-able).

    Parameters
    ----------
    guidelines : Guidelines
        All versions under ``guidelines/``.
    retire_grace_days : float
        Days after a newer version's ``released_at`` during which labels made under the older
        version are still accepted (``retire_grace_days`` in ``guidelines/governance.yaml``).

    Returns
    -------
    dict
        ``guideline_allowed_labels``, ``guideline_exclusive_pairs``, ``guideline_parents`` and
        ``guideline_retired_after`` (see the module docstring for their shapes).
    """
    allowed: dict[str, dict[str, list[str]]] = {}
    exclusive: dict[str, dict[str, list[list[str]]]] = {}
    parents: dict[str, dict[str, dict[str, str]]] = {}
    retired: dict[str, dict[str, str]] = {}
    grace = dt.timedelta(days=float(retire_grace_days))
    for task in guidelines.tasks:
        versions = guidelines.versions(task)
        for i, v in enumerate(versions):
            allowed.setdefault(task, {})[v.version] = list(v.label_names)
            exclusive.setdefault(task, {})[v.version] = sorted(sorted(p) for p in v.exclusive_pairs())
            parents.setdefault(task, {})[v.version] = dict(sorted(v.parents().items()))
            newer = [w.released_at for w in versions[i + 1:] if w.released_at is not None]
            if newer:
                retired.setdefault(task, {})[v.version] = (min(newer) + grace).isoformat()
    return {"guideline_allowed_labels": allowed, "guideline_exclusive_pairs": exclusive,
            "guideline_parents": parents, "guideline_retired_after": retired}


def _group_ids(*columns: pd.Series) -> np.ndarray:
    """Row group ids for the combination of several columns (missing is a value of its own)."""
    combined = np.zeros(len(columns[0]), dtype=np.int64)
    width = 1
    for s in columns:
        c = s if isinstance(s.dtype, pd.CategoricalDtype) else s.astype("category")
        n = len(c.cat.categories) + 1
        if width * n >= 2 ** 62:  # re-number before the product could overflow
            combined, uniq = pd.factorize(combined)
            width = len(uniq)
        combined = combined * n + (c.cat.codes.to_numpy().astype(np.int64) + 1)
        width *= n
    return combined  # distinct per group; not renumbered (callers only compare and group)


def _combo(*columns: pd.Series) -> tuple[np.ndarray, list[tuple[str | None, ...]]]:
    """Factorize rows by a few low-cardinality columns through their categorical codes: each row's
    combination id and the distinct combinations (None for missing)."""
    cats, codes = [], []
    for s in columns:
        c = s if isinstance(s.dtype, pd.CategoricalDtype) else s.astype("category")
        cats.append(c.cat.categories)
        codes.append(c.cat.codes.to_numpy().astype(np.int64) + 1)  # 0 = missing
    combined = np.zeros(len(columns[0]), dtype=np.int64)
    for cat, code in zip(cats, codes):
        combined = combined * (len(cat) + 1) + code
    width = int(np.prod([len(c) + 1 for c in cats]))
    if width <= 4 * len(combined) + 1024:  # small key space: a counting pass instead of hashing
        uniques = np.flatnonzero(np.bincount(combined, minlength=width))
        lookup = np.empty(width, dtype=np.int64)
        lookup[uniques] = np.arange(len(uniques))
        ids = lookup[combined]
    else:
        ids, uniques = pd.factorize(combined)
    combos = []
    for u in uniques:
        parts = []
        rest = int(u)
        for cat in reversed(cats):
            rest, r = divmod(rest, len(cat) + 1)
            parts.append(None if r == 0 else str(cat[r - 1]))
        combos.append(tuple(reversed(parts)))
    return ids, combos


def known_version_mask(task: pd.Series, version: pd.Series, allowed: Mapping[str, Mapping[str, Sequence[str]]]) -> pd.Series:
    """``True`` where the row's (task, guideline_version) exists in ``guidelines/``."""
    ids, pairs = _combo(task, version)
    ok = np.array([t is not None and t in allowed and v in allowed[t] for t, v in pairs], dtype=np.bool_)
    return pd.Series(ok[ids], index=task.index)


def label_allowed_mask(task: pd.Series, version: pd.Series, label: pd.Series,
                       allowed: Mapping[str, Mapping[str, Sequence[str]]]) -> pd.Series:
    """``True`` where the label is one the row's guideline version defines.

    Rows whose (task, version) is unknown pass here: they are reported once, by the unknown-version
    expectation, rather than twice.
    """
    ids, combos = _combo(task, version, label)
    ok = [t is None or v is None or lab is None or v not in allowed.get(t, {}) or lab in allowed[t][v]
          for t, v, lab in combos]
    return pd.Series(np.array(ok, dtype=bool)[ids], index=task.index)


def _sorted_unique(x: np.ndarray) -> np.ndarray:
    """``np.unique`` by sort and mask: numpy 2.4's plain ``np.unique`` (its hash-based path, taken
    when no ``return_*`` flag is set) took about 20x longer on 1M int64 here."""
    s = np.sort(x)
    return s[np.r_[True, s[1:] != s[:-1]]] if len(s) else s


def _codes(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Categorical codes (-1 = missing) and categories of a column, without converting its values."""
    c = s if isinstance(s.dtype, pd.CategoricalDtype) else s.astype("category")
    return c.cat.codes.to_numpy().astype(np.int64), c.cat.categories


def _conflicts(item: pd.Series, annotator: pd.Series, task: pd.Series, version: pd.Series, label: pd.Series,
               conflict_sets: Mapping[tuple[str, str], Mapping[str, set[str]]], stage: pd.Series | None = None) -> pd.Series:
    """``False`` for rows whose label conflicts (per ``conflict_sets[(task, version)][label]``) with
    another label given by the same annotator on the same item under the same task and version.

    Vectorized: only rows of judgements holding two or more rows can conflict; those rows are
    paired within their judgement and each pair looked up in a boolean conflict cube
    ``(task-version, label, other label)`` over the few labels any rule mentions.
    """
    idx = item.index
    ok = np.ones(len(idx), dtype=bool)
    involved = sorted({x for d in conflict_sets.values() for a, bs in d.items() for x in (a, *bs)})
    if not involved or len(idx) == 0:
        return pd.Series(ok, index=idx)
    keys = [item, annotator, task, version] + ([stage] if stage is not None else [])
    group, _ = pd.factorize(_group_ids(*keys))
    cand = np.flatnonzero(np.bincount(group)[group] > 1)  # rows of judgements with two or more rows
    if cand.size == 0:
        return pd.Series(ok, index=idx)
    pos = {name: i for i, name in enumerate(involved)}
    lab_codes, lab_cats = _codes(label.iloc[cand])
    to_involved = np.array([pos.get(str(c), -1) for c in lab_cats] + [-1], dtype=np.int64)
    li = to_involved[lab_codes]  # code -1 (missing) indexes the trailing -1
    tv, pairs = _combo(task.iloc[cand], version.iloc[cand])
    cube = np.zeros((len(pairs), len(involved), len(involved)), dtype=bool)
    for k, tvk in enumerate(pairs):
        for a, bs in conflict_sets.get(cast("tuple[str, str]", tvk), {}).items():  # a pair with None is absent
            for b in bs:
                cube[k, pos[a], pos[b]] = True
    keep = li >= 0
    rows = pd.DataFrame({"row": cand[keep], "g": group[cand][keep], "tv": tv[keep], "l": li[keep]})
    others = rows[["g", "l"]].drop_duplicates().rename(columns={"l": "other"})
    joined = rows.merge(others, on="g")
    hit = cube[joined["tv"].to_numpy(), joined["l"].to_numpy(), joined["other"].to_numpy()]
    ok[joined["row"].to_numpy()[hit]] = False
    return pd.Series(ok, index=idx)


def exclusive_mask(item: pd.Series, annotator: pd.Series, task: pd.Series, version: pd.Series, label: pd.Series,
                   exclusive: Mapping[str, Mapping[str, Sequence[Sequence[str]]]],
                   stage: pd.Series | None = None) -> pd.Series:
    """``False`` for rows whose label the guideline marks mutually exclusive with another label the
    same annotator gave the same item in one judgement (same task, guideline version and, when
    given, stage: a reviewer overruling their own first label is not a contradiction)."""
    sets: dict[tuple[str, str], dict[str, set[str]]] = {}
    for t, byv in exclusive.items():
        for v, pairs in byv.items():
            d: dict[str, set[str]] = {}
            for a, b in pairs:
                d.setdefault(a, set()).add(b)
                d.setdefault(b, set()).add(a)
            sets[(t, v)] = d
    return _conflicts(item, annotator, task, version, label, sets, stage)


def hierarchy_mask(item: pd.Series, annotator: pd.Series, task: pd.Series, version: pd.Series, label: pd.Series,
                   parents: Mapping[str, Mapping[str, Mapping[str, str]]],
                   exclusive: Mapping[str, Mapping[str, Sequence[Sequence[str]]]],
                   stage: pd.Series | None = None) -> pd.Series:
    """``False`` for rows breaking hierarchy consistency.

    A label implies its ancestors (``hate`` is a kind of ``offensive``). A label L given together
    with M (same annotator, item, task, version) is inconsistent when M is exclusive with an
    *ancestor* of L, or M is exclusive with L's ancestor's ... up the chain: exclusivity inherited
    through the hierarchy. Pairs the guideline lists explicitly are the exclusivity check's job and
    are not repeated here.
    """
    sets: dict[tuple[str, str], dict[str, set[str]]] = {}
    for t, byv in parents.items():
        for v, par in byv.items():
            excl: dict[str, set[str]] = {}
            for a, b in exclusive.get(t, {}).get(v, []):
                excl.setdefault(a, set()).add(b)
                excl.setdefault(b, set()).add(a)
            d: dict[str, set[str]] = {}
            for child in par:
                seen: set[str] = set()
                anc = par.get(child)
                inherited: set[str] = set()
                while anc is not None and anc not in seen:
                    seen.add(anc)
                    inherited |= excl.get(anc, set())
                    anc = par.get(anc)
                inherited -= excl.get(child, set()) | {child}
                if inherited:
                    d[child] = inherited
                    for m in inherited:  # symmetric: M given with L is as wrong as L with M
                        d.setdefault(m, set()).add(child)
            sets[(t, v)] = d
    return _conflicts(item, annotator, task, version, label, sets, stage)


def retired_mask(task: pd.Series, version: pd.Series, created_at: pd.Series,
                 retired_after: Mapping[str, Mapping[str, str]]) -> pd.Series:
    """``False`` for rows made under a version after it was retired (newer release + grace)."""
    ids, pairs = _combo(task, version)
    limits = np.array([pd.Timestamp(retired_after[t][v]).value
                       if t is not None and v is not None and v in retired_after.get(t, {})
                       else np.iinfo(np.int64).max for t, v in pairs], dtype=np.int64)
    t = pd.to_datetime(created_at, utc=True)
    ns = t.astype("datetime64[ns, UTC]").to_numpy(dtype="datetime64[ns]").astype(np.int64)
    ok = t.isna().to_numpy() | (ns <= limits[ids])
    return pd.Series(ok, index=task.index)


def too_fast_mask(task: pd.Series, duration_s: pd.Series, min_duration_s: Mapping[str, float]) -> pd.Series:
    """``False`` for judgements faster than the task's floor (``min_duration_s[task]``; a ``"*"``
    entry applies to tasks not listed; tasks with no floor pass). Negative durations pass here: they
    are impossible values, reported once by the schema suite."""
    fallback = min_duration_s.get("*", -np.inf)
    t = task.astype("category")
    floors = np.array([float(min_duration_s.get(str(c), fallback)) for c in t.cat.categories] + [fallback], dtype=float)
    floor = floors[t.cat.codes.to_numpy()]
    d = duration_s.to_numpy(dtype=float, na_value=np.nan)
    return pd.Series(~((d >= 0) & (d < floor)), index=task.index)


def duration_robust_z(task: pd.Series, duration_s: pd.Series) -> pd.Series:
    """Robust z-score of log1p(duration) within each task: 0.6745 (x - median) / MAD.

    Iglewicz and Hoaglin (1993), *How to Detect and Handle Outliers*, modified z-score. Rows with no
    (or a negative) duration get NaN; a task whose MAD is 0 gets NaN everywhere.
    """
    d = duration_s.astype(float)
    x = np.log1p(d.where(d >= 0))
    t = task.astype("category")
    med = x.groupby(t, observed=True).transform("median")
    mad = (x - med).abs().groupby(t, observed=True).transform("median")
    z = 0.6745 * (x - med) / mad.where(mad > 0)
    return z


def duration_outlier_mask(task: pd.Series, duration_s: pd.Series, max_abs_z: float) -> pd.Series:
    """``False`` where the robust z-score of the row's duration exceeds ``max_abs_z`` in absolute value."""
    z = duration_robust_z(task, duration_s).to_numpy()
    return pd.Series(~(np.abs(z) > max_abs_z), index=task.index)


def annotator_distribution_tests(task: pd.Series, annotator: pd.Series, label: pd.Series,
                                 min_n: int) -> pd.DataFrame:
    """G-test of each annotator's label distribution against the rest of the pool, per task.

    For annotator a in task t the 2 x L contingency table holds a's label counts and the counts of
    every other annotator of t; G = 2 sum O ln(O / E) with E from the margins, ``dof = L' - 1``
    (L' = labels used in t), p from the chi-square survival function (Sokal and Rohlf, *Biometry*,
    G-test of independence). Also reports the total variation distance
    ``tvd = 0.5 sum |p_a - p_rest|`` as the effect size. Annotators with fewer than ``min_n``
    judgements in a task are not tested.

    Returns
    -------
    DataFrame
        One row per (task, annotator) tested: task, annotator_id, n, g, dof, p, tvd, m (annotators
        tested in the task, for a Bonferroni correction).
    """
    cols = ["task", "annotator_id", "n", "g", "dof", "p", "tvd", "m"]
    tc, tcats = _codes(task)
    ac, acats = _codes(annotator)
    lc, lcats = _codes(label)
    valid = (tc >= 0) & (ac >= 0) & (lc >= 0)
    out = []
    # one annotator x label count table per task, over the annotators and labels used in it
    for ti in np.flatnonzero(np.bincount(tc[valid], minlength=len(tcats))):
        sel = valid & (tc == ti)
        a_idx, a_used = pd.factorize(ac[sel], sort=True)  # sorted codes: the categories' order
        l_idx, l_used = pd.factorize(lc[sel], sort=True)
        full = np.bincount(a_idx * len(l_used) + l_idx, minlength=len(a_used) * len(l_used)).reshape(
            len(a_used), len(l_used))
        part = _g_tests(str(tcats[ti]), full, pd.Index(acats[a_used]), min_n)
        if part is not None:
            out.append(part)
    if not out:
        return pd.DataFrame({c: pd.Series([], dtype="float64" if c in ("g", "p", "tvd") else "object") for c in cols})
    return pd.concat(out, ignore_index=True)[cols]


def _g_tests(t: str, full: np.ndarray, annotators: pd.Index, min_n: int) -> pd.DataFrame | None:
    """The G-tests of one task from its annotator x label count matrix (labels used in the task only)."""
    from scipy.special import chdtrc  # chi-square survival function; lighter to import than scipy.stats

    if full.shape[1] < 2 or full.shape[0] < 2:
        return None
    c = full.astype(float)
    n = c.sum(axis=1)
    keep = n >= min_n
    if not keep.any():
        return None
    total = c.sum(axis=0)
    a = c[keep]
    rest = total - a
    na, nr = a.sum(axis=1, keepdims=True), rest.sum(axis=1, keepdims=True)
    col = a + rest
    grand = na + nr
    ea, er = na * col / grand, nr * col / grand
    with np.errstate(divide="ignore", invalid="ignore"):
        ga = np.where(a > 0, a * np.log(a / ea), 0.0)
        gr = np.where(rest > 0, rest * np.log(rest / er), 0.0)
        g = 2.0 * (ga.sum(axis=1) + gr.sum(axis=1))
        tvd = 0.5 * np.abs(a / na - rest / np.where(nr > 0, nr, 1)).sum(axis=1)
    dof = c.shape[1] - 1
    p = chdtrc(dof, g)
    return pd.DataFrame({"task": t, "annotator_id": annotators[keep].astype(str), "n": n[keep].astype(int),
                         "g": g, "dof": dof, "p": p, "tvd": tvd, "m": int(keep.sum())})


def distribution_tests_from_counts(counts: pd.DataFrame, min_n: int) -> pd.DataFrame:
    """:func:`annotator_distribution_tests` from reduced counts (columns task, annotator_id, label, n; one
    row per triple), as an out-of-core engine computes them: the same tests, in the same order (tasks,
    annotators and labels sorted by code point, the order of the canonical categories)."""
    cols = ["task", "annotator_id", "n", "g", "dof", "p", "tvd", "m"]
    out = []
    for t in sorted({str(x) for x in counts["task"]}):
        sub = counts[counts["task"].astype(str) == t]
        anns = sorted({str(x) for x in sub["annotator_id"]})
        labs = sorted({str(x) for x in sub["label"]})
        ai = pd.Index(anns).get_indexer(sub["annotator_id"].astype(str))
        li = pd.Index(labs).get_indexer(sub["label"].astype(str))
        full = np.zeros((len(anns), len(labs)), dtype=np.int64)
        np.add.at(full, (ai, li), sub["n"].to_numpy(dtype=np.int64))
        part = _g_tests(t, full, pd.Index(anns, dtype="str"), min_n)
        if part is not None:
            out.append(part)
    if not out:
        return pd.DataFrame({c: pd.Series([], dtype="float64" if c in ("g", "p", "tvd") else "object") for c in cols})
    return pd.concat(out, ignore_index=True)[cols]


def distribution_outliers(tests: pd.DataFrame, alpha: float, min_tvd: float) -> pd.DataFrame:
    """Tested annotators whose Bonferroni-corrected p is below ``alpha`` and whose distribution is at
    least ``min_tvd`` away from the pool's (both: significance alone flags any large annotator)."""
    if tests.empty:
        return tests
    return tests[(tests["p"] * tests["m"] < alpha) & (tests["tvd"] >= min_tvd)].reset_index(drop=True)


def distribution_mask(task: pd.Series, annotator: pd.Series, label: pd.Series, *, alpha: float, min_n: int,
                      min_tvd: float) -> pd.Series:
    """``False`` for every row of an annotator flagged by :func:`distribution_outliers` in that task."""
    flagged = distribution_outliers(annotator_distribution_tests(task, annotator, label, min_n), alpha, min_tvd)
    if flagged.empty:
        return pd.Series(True, index=task.index)
    tc, tcats = _codes(task)
    ac, acats = _codes(annotator)
    t_pos = {str(c): i for i, c in enumerate(tcats)}
    a_pos = {str(c): i for i, c in enumerate(acats)}
    width = len(acats) + 1
    bad = np.array([t_pos[str(t)] * width + a_pos[str(a)] for t, a in zip(flagged["task"], flagged["annotator_id"])],
                   dtype=np.int64)
    return pd.Series(~np.isin(tc * width + ac, bad), index=task.index)


def overlap_shortfall(item: pd.Series, annotator: pd.Series, task: pd.Series, k: int) -> pd.DataFrame:
    """Items (per task) judged by fewer than ``k`` distinct annotators: task, item_id, n_annotators.

    A missing annotator_id does not count as an annotator; rows with no task or item are ignored.
    """
    short, _, _ = overlap_rows(item, annotator, task, k)
    return short


def overlap_rows(item: pd.Series, annotator: pd.Series, task: pd.Series,
                 k: int) -> tuple[pd.DataFrame, np.ndarray, int]:
    """:func:`overlap_shortfall`, plus a boolean mask of the rows of those items and the number of
    (task, item) pairs evaluated. Counted on categorical codes (no string hashing)."""
    tc, tcats = _codes(task)
    ic, icats = _codes(item)
    ac, _ = _codes(annotator)
    valid = (tc >= 0) & (ic >= 0)
    ti, ti_uniq = pd.factorize(tc * (len(icats) + 1) + ic)  # (task, item) pair per row
    n_pairs = len(ti_uniq)
    named = valid & (ac >= 0)
    tia = _sorted_unique(ti[named].astype(np.int64) * (int(ac.max(initial=0)) + 1) + ac[named])
    n_ann = np.bincount(tia // (int(ac.max(initial=0)) + 1), minlength=n_pairs)
    pair_valid = np.zeros(n_pairs, dtype=bool)
    pair_valid[ti[valid]] = True
    short_pairs = np.flatnonzero(pair_valid & (n_ann < k))
    mask = np.zeros(len(tc), dtype=bool)
    if short_pairs.size:
        is_short = np.zeros(n_pairs, dtype=bool)
        is_short[short_pairs] = True
        mask = valid & is_short[ti]
    key = ti_uniq[short_pairs]
    t_code, i_code = key // (len(icats) + 1), key % (len(icats) + 1)
    order = np.lexsort((i_code, t_code))  # the order of a groupby over (task, item)
    short = pd.DataFrame({"task": tcats.take(t_code[order]).astype(str).to_numpy(),
                          "item_id": icats.take(i_code[order]).astype(str).to_numpy(),
                          "n_annotators": n_ann[short_pairs][order].astype(np.int64)})
    return short, mask, int(pair_valid.sum())
