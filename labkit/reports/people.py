"""Evidence-aware views of people: who to look at first, shown only where there is evidence enough.

A table of per-person rates (``n`` scored judgements, ``accuracy`` and its interval) is ranked by the
interval bound that is least flattering, worst first: the *upper* bound of accuracy ascending. A
person with 2 of 2 right has an upper bound of 1.0 and sorts after someone with 60 of 100 right
(upper bound about 0.69), so the short list at the top is people the data show are weak, not people
with two unlucky judgements. People with fewer than ``min_n`` scored judgements are not ranked at all
(they are counted and listed apart). Whoever a finding names is always shown, whatever the cut.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

#: Default minimum evidence: scored judgements a person needs before they are ranked.
MIN_EVIDENCE = 10


@dataclass
class PeopleView:
    """``ranked``: people with enough evidence, worst first; ``too_little``: the others (most evidence
    first); ``chart``: the rows a chart shows (the ``k`` worst plus everyone a finding names, in the
    ranked order)."""

    ranked: pd.DataFrame
    too_little: pd.DataFrame
    chart: pd.DataFrame
    min_n: int


def rank_people(scores: pd.DataFrame, *, min_n: int = MIN_EVIDENCE, named: Iterable[str] = (), k: int = 30,
                id_col: str = "annotator_id", n_col: str = "n", bound: str = "ci_high",
                value: str = "accuracy") -> PeopleView:
    """Rank ``scores`` worst first by ``bound`` (ascending), after the minimum evidence rule.

    Parameters
    ----------
    scores : DataFrame
        One row per person with ``id_col``, ``n_col``, ``value`` and ``bound``.
    min_n : int
        Scored judgements a person needs to be ranked.
    named : ids
        People a finding names: always in ``chart`` (and in ``ranked``, if they have the evidence).
    k : int
        How many of the worst the chart shows (plus the named).

    Examples
    --------
    >>> s = pd.DataFrame({"annotator_id": ["a", "b", "c"], "n": [2, 100, 50],
    ...                   "accuracy": [1.0, 0.6, 0.9], "ci_high": [1.0, 0.69, 0.96]})
    >>> v = rank_people(s, min_n=10)
    >>> list(v.ranked["annotator_id"]), list(v.too_little["annotator_id"])
    (['b', 'c'], ['a'])
    """
    s = scores.loc[scores[n_col] > 0]
    enough = s[n_col] >= min_n
    ranked = s.loc[enough].sort_values([bound, value, n_col], ascending=[True, True, False], kind="stable")
    too_little = s.loc[~enough].sort_values([n_col, value], ascending=[False, True], kind="stable")
    names = {str(x) for x in named}
    ids = ranked[id_col].astype(str)
    pick = (pd.Series(range(len(ranked)), index=ranked.index) < k) | ids.isin(names)
    chart = ranked.loc[pick]
    extra = too_little.loc[too_little[id_col].astype(str).isin(names)]
    if len(extra):
        chart = pd.concat([chart, extra])
    return PeopleView(ranked=ranked.reset_index(drop=True), too_little=too_little.reset_index(drop=True),
                      chart=chart.reset_index(drop=True), min_n=min_n)
