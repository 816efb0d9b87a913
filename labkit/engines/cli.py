"""``--engine`` for the verbs that read labels: choice, the fast in-memory read, and the out-of-core runs.

``--engine auto`` (default) keeps the in-memory path unless a Parquet input would not fit the memory
budget, then DuckDB. The choice and its reason go to stderr and, with ``--json``, under ``engine``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from labkit.engines.args import add_engine_args  # noqa: F401  (re-exported)
from labkit.engines.base import READ_COLUMNS, EngineChoice, ParquetInput, choose_engine, get_engine, parquet_input
from labkit.errors import ParameterError


def choose(args: argparse.Namespace) -> tuple[EngineChoice, ParquetInput | None]:
    """The engine for this run, printed to stderr unless it is the plain in-memory default."""
    choice = choose_engine(args.engine, args.labels, args.memory_limit)
    inp = parquet_input(args.labels, allow_table=choice.name == "spark")
    args.engine_choice = choice
    if args.engine != "auto" or choice.name != "pandas":
        print(f"engine: {choice.name} ({choice.reason})", file=sys.stderr, flush=True)
    return choice, inp


def _progress(msg: str) -> None:
    print(f"  .. {msg}", file=sys.stderr, flush=True)


def load_in_memory(args: argparse.Namespace, inp: ParquetInput | None, extra: tuple[str, ...] = ()) -> Any:
    """The label table for the in-memory path. Canonical Parquet is read column by column: only the ids
    (plus ``extra``), dictionary-encoded, straight into categoricals; anything else through ``load_labels``."""
    from labkit.io import load_labels

    ids = all(c in ("slice", "guideline_version") for c in extra)
    if inp is not None and inp.table is None and ids and _canonical(inp, extra):
        from labkit.engines.pandas_engine import read_ids

        return read_ids(inp, READ_COLUMNS + tuple(c for c in extra if c not in READ_COLUMNS))
    return load_labels(args.labels)


def _canonical(inp: ParquetInput, extra: tuple[str, ...]) -> bool:
    """The Parquet files carry the canonical id columns (else ``load_labels`` conforms them)."""
    import pyarrow.parquet as pq

    try:
        names = set(pq.read_schema(inp.files[0]).names)
    except Exception:  # unreadable: let load_labels name the problem
        return False
    return all(c in names for c in READ_COLUMNS + extra)


def engine_summary(args: argparse.Namespace) -> dict[str, Any]:
    ch = getattr(args, "engine_choice", None)
    return ch.as_dict() if ch is not None else {"name": "pandas", "reason": "default"}


def open_engine(args: argparse.Namespace, choice: EngineChoice) -> Any:
    return get_engine(choice.name, memory_limit=args.memory_limit, temp_dir=args.temp_dir, progress=_progress,
                      master=getattr(args, "spark_master", None))


# ----------------------------------------------------------------------------- out-of-core verbs
def agreement(args: argparse.Namespace, choice: EngineChoice, inp: ParquetInput, order: list[str] | None) -> dict[str, Any]:
    """Agreement on an out-of-core engine: returns the same fields as the in-memory path."""
    import numpy as np

    from labkit.stats import agreement as ag
    from labkit.stats.counts import ItemLabelCounts

    if args.metric == "cohen":
        raise ParameterError(f"--metric cohen needs paired labels and runs in memory; use --engine pandas "
                             f"(--engine {choice.name} computes krippendorff, fleiss, ac1 and percent)")
    if args.by not in (None, "task", "label"):
        raise ParameterError(f"--by {args.by} runs in memory for now; use --engine pandas "
                             f"(--engine {choice.name} breaks down by task or label)")
    src = None if args.source == "all" else args.source
    kw = dict(ci=args.ci, n_boot=args.n_boot, seed=args.seed)
    with open_engine(args, choice) as eng:
        def one(t: str | None) -> Any:
            c = eng.item_label_counts(inp, task=t, source=src, order=order if args.metric == "krippendorff" else None)
            return c

        def measure(c: Any) -> Any:
            if args.metric == "krippendorff":
                return ag.krippendorff_alpha(c, args.level, order, **kw)
            if args.metric == "fleiss":
                return ag.fleiss_kappa(c, **kw)
            if args.metric == "ac1":
                return ag.gwet_ac1(c, **kw)
            return ag.percent_agreement(c, **kw)

        if args.by is None:
            return {"result": measure(one(args.task))}
        groups = []
        if args.by == "task":
            for t in eng.tasks(inp):
                c = one(t)
                groups.append((t, c, measure(c), c.n_judgements))
        else:
            c = one(args.task)
            m = c.patterns.sum(axis=1)
            for j, lab in enumerate(c.labels):
                Nj = np.column_stack([c.patterns[:, j], m - c.patterns[:, j]])
                cj = ItemLabelCounts.from_patterns(c.task, ["yes", "no"], Nj, c.weight)
                if args.metric == "krippendorff":
                    r = ag.krippendorff_alpha(cj, "nominal", None, **kw)
                else:
                    r = measure(cj)
                groups.append((str(lab), cj, r, int((c.patterns[:, j] * c.weight).sum())))
        return {"groups": groups}


def consensus(args: argparse.Namespace, choice: EngineChoice, inp: ParquetInput, gold: Any) -> dict[str, Any]:
    if args.method != "ds":
        raise ParameterError(f"--method mv runs in memory for now; use --engine pandas (--engine {choice.name} "
                             "fits Dawid-Skene)")
    if args.out and not str(args.out).lower().endswith(".parquet"):
        raise ParameterError(f"--engine {choice.name} writes the consensus as Parquet: --out must end in .parquet, "
                             f"got {args.out!r}")
    src = None if args.source == "all" else args.source
    with open_engine(args, choice) as eng:
        tasks = [eng.resolve_task(inp, args.task)] if args.task else eng.tasks(inp)
        if args.out and len(tasks) > 1:
            raise ParameterError(f"--engine {choice.name} writes one task per consensus file: pass --task "
                                 f"(tasks: {', '.join(tasks)})")
        fits = [eng.dawid_skene(inp, task=t, source=src, tol=args.tol, max_iter=args.max_iter, ll_tol=args.ll_tol,
                                out=args.out, threshold=args.threshold, gold=gold) for t in tasks]
    return {"fits": fits}


def score(args: argparse.Namespace, choice: EngineChoice, inp: ParquetInput, gold: Any) -> Any:
    """Per-annotator accuracy on gold (leave-one-out consensus for annotators without gold), as
    :func:`labkit.stats.scoring.score_annotators` returns it."""
    import numpy as np
    import pandas as pd

    from labkit.stats.scoring import wilson_interval

    if args.guidelines:
        raise ParameterError(f"--guidelines (migrating labels to the gold's version) runs in memory for now; use "
                             f"--engine pandas with --engine {choice.name} left out")
    src = None if args.source == "all" else args.source
    with open_engine(args, choice) as eng:
        task = eng.resolve_task(inp, args.task)
        gc = eng.gold_counts(inp, gold, task=task, source=src)
    need = gc["n_gold"].to_numpy() == 0
    n = np.where(need, gc["n_loo"], gc["n_gold"]).astype(np.float64)
    c = np.where(need, gc["correct_loo"], gc["correct_gold"]).astype(np.float64)
    ref = np.where(~need, "gold", np.where(gc["n_loo"].to_numpy() > 0, "consensus (leave-one-out)", "none"))
    lo, hi = wilson_interval(c, n, args.ci)
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(n > 0, c / n, np.nan)
    return pd.DataFrame({"annotator_id": gc["annotator_id"].astype(str), "n": n.astype(np.int64),
                         "correct": c.astype(np.int64), "accuracy": acc, "ci_low": lo, "ci_high": hi,
                         "reference": ref.astype(str), "task": task})
