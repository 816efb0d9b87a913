"""Reduced tables in SQL: one text for DuckDB and Spark SQL (only CASE, GROUP BY, joins, greatest, exp, ln).

Subclasses supply the handful of primitives (run a query, materialize a table, register a small frame,
write Parquet, quote a literal); the queries and the Dawid-Skene driver live here once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from labkit.engines.base import DSResult, Engine, ParquetInput, reuse_freed_memory
from labkit.errors import InputRefused, ParameterError
from labkit.stats.counts import ItemLabelCounts, label_order

J = "labkit_j"  # the view over the input


class SQLEngine(Engine):
    """Shared SQL of the DuckDB and Spark engines."""

    #: SQL condition every query sees (set before the first query; the report's date window and slice)
    row_filter: str | None = None

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self._viewed: ParquetInput | None = None
        self._tasks: list[str] | None = None
        self._seq = 0

    # ---------------------------------------------------------------- primitives (per engine)
    def _lit(self, s: str) -> str:
        raise NotImplementedError

    def _num(self, x: float) -> str:
        if math.isnan(x):
            raise ValueError("NaN literal")
        if math.isinf(x):
            return self._inf(x > 0)
        return repr(float(x))

    def _inf(self, positive: bool) -> str:
        raise NotImplementedError

    def _df(self, sql: str) -> pd.DataFrame:
        raise NotImplementedError

    def _make(self, name: str, sql: str) -> None:
        raise NotImplementedError

    def _drop(self, name: str) -> None:
        raise NotImplementedError

    def _put(self, name: str, df: pd.DataFrame) -> None:
        raise NotImplementedError

    def _register(self, inp: ParquetInput) -> None:
        raise NotImplementedError

    def _write_parquet(self, sql: str, path: str) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- helpers
    def _name(self, stem: str) -> str:
        self._seq += 1
        return f"labkit_{stem}_{self._seq}"

    def _view(self, inp: ParquetInput) -> None:
        if self._viewed != inp:
            self._register(inp)
            self._viewed, self._tasks = inp, None

    def _where(self, task: str, source: str | None) -> str:
        w = f"task = {self._lit(task)}"
        if source is not None:
            if source not in ("human", "model"):
                raise ParameterError(f"source must be 'human', 'model' or None, got {source!r}")
            w += f" AND source = {self._lit(source)}"
        return w

    def tasks(self, inp: ParquetInput) -> list[str]:
        self._view(inp)
        if self._tasks is None:
            self._say("scanning tasks")
            df = self._df(f"SELECT task, COUNT(*) AS n, SUM(CASE WHEN item_id IS NULL THEN 1 ELSE 0 END) AS ni, "
                          f"SUM(CASE WHEN annotator_id IS NULL THEN 1 ELSE 0 END) AS na, "
                          f"SUM(CASE WHEN label IS NULL THEN 1 ELSE 0 END) AS nl FROM {J} GROUP BY task")
            for col, field in (("ni", "item_id"), ("na", "annotator_id"), ("nl", "label")):
                if len(df) and df[col].fillna(0).astype(np.int64).sum() > 0:
                    raise InputRefused(inp.spec, f"{int(df[col].sum())} row(s) have no value (run `labkit import` to "
                                                 "quarantine such rows)", field=field)
            if df["task"].isna().any():
                raise InputRefused(inp.spec, "a row has no task", field="task")
            self._tasks = sorted(map(str, df["task"]))
        return list(self._tasks)

    def _labels(self, task: str, source: str | None) -> list[str]:
        df = self._df(f"SELECT DISTINCT label FROM {J} WHERE {self._where(task, source)}")
        return [str(x) for x in df["label"]]

    def _universe(self, task: str, source: str | None, order: list[str] | None,
                  labels: list[str] | None) -> list[str]:
        used = self._labels(task, source)
        if labels is not None:
            extra = sorted(set(used) - {str(x) for x in labels})
            if extra:
                raise ParameterError(f"labels must include every label used; missing {', '.join(map(repr, extra))}")
            used = [str(x) for x in labels]
        return label_order(used, order)

    def _pivot(self, labs: list[str], col: str = "label", val: str = "1", prefix: str = "c") -> str:
        return ", ".join(f"CAST(SUM(CASE WHEN {col} = {self._lit(lab)} THEN {val} ELSE 0 END) AS BIGINT) AS {prefix}{k}"
                         for k, lab in enumerate(labs))

    # ---------------------------------------------------------------- reduced tables
    def item_label_counts(self, inp: ParquetInput, *, task: str | None = None, source: str | None = "human",
                          order: list[str] | None = None, labels: list[str] | None = None) -> ItemLabelCounts:
        task = self.resolve_task(inp, task)
        labs = self._universe(task, source, order, labels)
        L = len(labs)
        if L == 0:
            return ItemLabelCounts.from_patterns(task, [], np.zeros((0, 0), np.int64), np.zeros(0, np.int64))
        cs = ", ".join(f"c{k}" for k in range(L))
        self._say(f"item x label counts of task {task}")
        bits = 63 // L
        if bits >= 4:
            # one packed BIGINT per item (label k's count in bits [k*bits, (k+1)*bits)): a single sum per
            # group instead of L, so the big GROUP BY item_id holds less state; exact while no item has
            # 2**bits judgements or more (checked: else the per-label sums below)
            case = "CASE " + " ".join(f"WHEN label = {self._lit(lab)} THEN {1 << (bits * k)}"
                                      for k, lab in enumerate(labs)) + " ELSE 0 END"
            pk = self._df(f"SELECT p, COUNT(*) AS w, MAX(m) AS mm FROM (SELECT item_id, CAST(SUM({case}) AS BIGINT) AS p, "
                          f"COUNT(*) AS m FROM {J} WHERE {self._where(task, source)} GROUP BY item_id) q GROUP BY p")
            if not len(pk) or int(pk["mm"].max()) < (1 << bits):
                p = pk["p"].to_numpy(np.int64)
                pats = np.stack([(p >> (bits * k)) & ((1 << bits) - 1) for k in range(L)], axis=1) if len(p) \
                    else np.zeros((0, L), np.int64)
                return ItemLabelCounts.from_patterns(task, labs, pats, pk["w"].to_numpy(np.int64))
        df = self._df(f"SELECT {cs}, COUNT(*) AS w FROM (SELECT item_id, {self._pivot(labs)} FROM {J} "
                      f"WHERE {self._where(task, source)} GROUP BY item_id) p GROUP BY {cs}")
        return ItemLabelCounts.from_patterns(task, labs, df[[f"c{k}" for k in range(L)]].to_numpy(np.int64),
                                             df["w"].to_numpy(np.int64))

    def item_label_counts_by(self, inp: ParquetInput, group: str, *, task: str, source: str | None = "human"
                             ) -> dict[str, ItemLabelCounts]:
        """Folded item x label counts per value of the SQL expression ``group`` (a column such as
        ``slice`` or ``guideline_version``, or ``date_trunc('week', created_at)``): rows split by the
        group, as :func:`labkit.stats.agreement.agreement_by` splits them. Rows whose group is NULL form
        the group "(none)"; the columns are the task's labels."""
        labs = self._universe(task, source, None, None)
        L = len(labs)
        if L == 0:
            return {}
        cs = ", ".join(f"c{k}" for k in range(L))
        self._say(f"item x label counts of task {task} by {group}")
        df = self._df(f"SELECT g, {cs}, COUNT(*) AS w FROM (SELECT CAST({group} AS VARCHAR) AS g, item_id, "
                      f"{self._pivot(labs)} FROM {J} WHERE {self._where(task, source)} GROUP BY CAST({group} AS VARCHAR), "
                      f"item_id) p GROUP BY g, {cs}")
        out: dict[str, ItemLabelCounts] = {}
        key = df["g"].astype(object).where(df["g"].notna(), "(none)").astype(str)
        for g in sorted(set(key)):
            sub = df.loc[(key == g).to_numpy()]
            out[g] = ItemLabelCounts.from_patterns(task, labs, sub[[f"c{k}" for k in range(L)]].to_numpy(np.int64),
                                                   sub["w"].to_numpy(np.int64))
        return out

    def query(self, inp: ParquetInput, sql: str) -> pd.DataFrame:
        """A small aggregate over the input (``{J}`` in ``sql`` names the judgements; callers must
        reduce: GROUP BY or LIMIT)."""
        self._view(inp)
        return self._df(sql.replace("{J}", J))

    def gold_counts(self, inp: ParquetInput, gold: pd.DataFrame, *, task: str | None = None,
                    source: str | None = "human", loo: bool = True) -> pd.DataFrame:
        from labkit.stats.scoring import gold_for_task

        task = self.resolve_task(inp, task)
        g = gold_for_task(gold, task)
        gname = self._name("gold")
        self._put(gname, pd.DataFrame({"item_id": g["item_id"].astype(str).to_numpy(),
                                       "glabel": g["label"].astype(str).to_numpy()}))
        w = self._where(task, source)
        self._say(f"annotator x gold x label counts of task {task}")
        agl = self._df(f"SELECT j.annotator_id AS annotator_id, g.glabel AS glabel, j.label AS label, COUNT(*) AS n "
                       f"FROM {J} j JOIN {gname} g ON j.item_id = g.item_id WHERE {w} "
                       f"GROUP BY j.annotator_id, g.glabel, j.label")
        self._drop(gname)
        ann = self._df(f"SELECT annotator_id, COUNT(*) AS n FROM {J} WHERE {w} GROUP BY annotator_id")
        out = pd.DataFrame({"annotator_id": sorted(map(str, ann["annotator_id"]))})
        agl["annotator_id"] = agl["annotator_id"].astype(str)
        n_g = agl.groupby("annotator_id")["n"].sum()
        c_g = agl[agl["glabel"].astype(str) == agl["label"].astype(str)].groupby("annotator_id")["n"].sum()
        out["n_gold"] = n_g.reindex(out["annotator_id"]).fillna(0).astype(np.int64).to_numpy()
        out["correct_gold"] = c_g.reindex(out["annotator_id"]).fillna(0).astype(np.int64).to_numpy()
        if loo:
            labs = self._universe(task, source, None, None)
            L = len(labs)
            o = ", ".join(f"o{k}" for k in range(L))
            d = ", ".join(f"it.s{k} - ia.o{k} AS d{k}" for k in range(L))
            top = f"greatest({', '.join(f'd{k}' for k in range(L))})" if L > 1 else "d0"
            uniq = " + ".join(f"CASE WHEN d{k} = top THEN 1 ELSE 0 END" for k in range(L))
            own = " + ".join(f"o{k}" for k in range(L))
            win = "CASE " + " ".join(f"WHEN d{k} = top THEN o{k}" for k in range(L)) + " ELSE 0 END"
            self._say(f"leave-one-out consensus counts of task {task}")
            lo = self._df(
                f"SELECT annotator_id, CAST(SUM(CASE WHEN top > 0 AND ({uniq}) = 1 THEN {own} ELSE 0 END) AS BIGINT) AS n, "
                f"CAST(SUM(CASE WHEN top > 0 AND ({uniq}) = 1 THEN {win} ELSE 0 END) AS BIGINT) AS c FROM ("
                f"SELECT x.*, {top} AS top FROM (SELECT ia.annotator_id, {', '.join(f'ia.o{k}' for k in range(L))}, {d} "
                f"FROM (SELECT item_id, annotator_id, {self._pivot(labs, prefix='o')} FROM {J} WHERE {w} "
                f"GROUP BY item_id, annotator_id) ia JOIN (SELECT item_id, {self._pivot(labs, prefix='s')} FROM {J} "
                f"WHERE {w} GROUP BY item_id) it ON ia.item_id = it.item_id) x) y GROUP BY annotator_id"
            ) if L else pd.DataFrame({"annotator_id": [], "n": [], "c": []})
            del o
            lo["annotator_id"] = lo["annotator_id"].astype(str)
            lo = lo.set_index("annotator_id")
            out["n_loo"] = lo["n"].reindex(out["annotator_id"]).fillna(0).astype(np.int64).to_numpy()
            out["correct_loo"] = lo["c"].reindex(out["annotator_id"]).fillna(0).astype(np.int64).to_numpy()
        return out

    # ---------------------------------------------------------------- Dawid-Skene
    def dawid_skene(self, inp: ParquetInput, *, task: str | None = None, source: str | None = "human",
                    tol: float = 1e-6, max_iter: int = 100, smoothing: float = 0.01, accelerate: bool = True,
                    ll_tol: float | None = None, out: str | None = None, threshold: float = 0.7,
                    gold: pd.DataFrame | None = None) -> DSResult:
        """Dawid-Skene EM with the same steps as :class:`labkit.stats.consensus.DawidSkene` (soft
        majority-vote start, smoothed M-step, E-step, SQUAREM extrapolation kept only when the penalized
        likelihood does not drop), the per-item posteriors held in engine tables."""
        from labkit.stats.consensus import DawidSkene

        DawidSkene(tol=tol, max_iter=max_iter, smoothing=smoothing, ll_tol=ll_tol)._check()
        task = self.resolve_task(inp, task)
        labs = self._universe(task, source, None, None)
        K = len(labs)
        w = self._where(task, source)
        ann = self._df(f"SELECT DISTINCT annotator_id FROM {J} WHERE {w}")
        annotators = pd.Index(sorted(map(str, ann["annotator_id"])), dtype="str")
        Jn = len(annotators)
        an, lb, jal = self._name("ann"), self._name("lab"), self._name("jal")
        self._put(an, pd.DataFrame({"annotator_id": np.asarray(annotators, dtype=object),
                                    "a": np.arange(Jn, dtype=np.int64)}))
        self._put(lb, pd.DataFrame({"label": np.asarray(labs, dtype=object), "l": np.arange(K, dtype=np.int64)}))
        self._say(f"Dawid-Skene on task {task}: judgement counts")
        items = self._name("items")
        # integer item keys: every EM step joins on them
        self._make(items, f"SELECT item_id, CAST(ROW_NUMBER() OVER (ORDER BY item_id) AS BIGINT) AS i FROM "
                          f"(SELECT DISTINCT item_id FROM {J} WHERE {w}) d")
        self._make(jal, f"SELECT it.i AS i, an.a AS a, lb.l AS l, CAST(COUNT(*) AS DOUBLE) AS n "
                        f"FROM {J} j JOIN {items} it ON j.item_id = it.item_id JOIN {an} an ON j.annotator_id = an.annotator_id "
                        f"JOIN {lb} lb ON j.label = lb.label WHERE {w} GROUP BY it.i, an.a, lb.l")
        P = [f"p{k}" for k in range(K)]
        tables: list[str] = [an, lb, items, jal]
        fast = self._ds_in_memory(task, labs, annotators, items, jal, tol=tol, max_iter=max_iter, smoothing=smoothing,
                                  accelerate=accelerate, ll_tol=ll_tol, out=out, threshold=threshold, gold=gold)
        if fast is not None:
            for name in tables:
                self._drop(name)
            return fast

        def new(stem: str, sql: str) -> str:
            name = self._name(stem)
            self._make(name, sql)
            tables.append(name)
            return name

        def drop(name: str) -> None:
            if name in tables:
                tables.remove(name)
                self._drop(name)

        T = new("T", f"SELECT i, {', '.join(f'SUM(CASE WHEN l = {k} THEN n ELSE 0 END) / SUM(n) AS p{k}' for k in range(K))}, "
                     f"SUM(n) AS m FROM {jal} GROUP BY i")
        stats0 = self._df(f"SELECT COUNT(*) AS i, SUM(m) AS nj FROM {T}")
        I, n_j = int(stats0["i"].iloc[0] or 0), int(stats0["nj"].iloc[0] or 0)
        s = float(smoothing)
        state: dict[str, np.ndarray] = {}
        sums: dict[str, np.ndarray] = {}

        def em(Tn: str) -> tuple[str, float]:
            Cdf = self._df(f"SELECT x.a AS a, x.l AS l, {', '.join(f'SUM(x.n * t.p{k}) AS c{k}' for k in range(K))} "
                           f"FROM {jal} x JOIN {Tn} t ON x.i = t.i GROUP BY x.a, x.l")
            C3 = np.zeros((K, Jn, K))
            a_ = Cdf["a"].to_numpy(np.int64)
            l_ = Cdf["l"].to_numpy(np.int64)
            for k in range(K):
                C3[k, a_, l_] = Cdf[f"c{k}"].to_numpy(np.float64)
            if Tn not in sums:  # posteriors made by an E-step carry their column sums already
                tot = self._df(f"SELECT {', '.join(f'SUM(p{k}) AS p{k}' for k in range(K))} FROM {Tn}")
                sums[Tn] = tot.to_numpy(np.float64).ravel()
            Tsum = sums[Tn] if I else np.zeros(K)
            with np.errstate(divide="ignore"):
                logtheta = np.log(C3 + s) - np.log(C3.sum(axis=2) + K * s)[:, :, None]
                logpi = np.log(Tsum / max(I, 1))
            lt = self._name("lt")
            aa, ll_ = np.meshgrid(np.arange(Jn), np.arange(K), indexing="ij")
            frame = {"a": aa.ravel().astype(np.int64), "l": ll_.ravel().astype(np.int64)}
            for k in range(K):
                frame[f"t{k}"] = logtheta[k].ravel()
            self._put(lt, pd.DataFrame(frame))
            tables.append(lt)
            Ls = ", ".join(f"SUM(x.n * lt.t{k}) + {self._num(float(logpi[k]))} AS L{k}" for k in range(K))
            mx = f"greatest({', '.join(f'L{k}' for k in range(K))})" if K > 1 else "L0"
            es = ", ".join(f"exp(L{k} - mx) AS e{k}" for k in range(K))
            z = " + ".join(f"e{k}" for k in range(K))
            Tn1 = new("T", f"SELECT i, {', '.join(f'e{k} / ({z}) AS p{k}' for k in range(K))}, mx + ln({z}) AS ll "
                           f"FROM (SELECT i, mx, {es} FROM (SELECT e.*, {mx} AS mx FROM (SELECT x.i AS i, "
                           f"{Ls} FROM {jal} x JOIN {lt} lt ON x.a = lt.a AND x.l = lt.l GROUP BY x.i) e) q) r")
            drop(lt)
            tot = self._df(f"SELECT SUM(ll) AS ll, {', '.join(f'SUM(p{k}) AS p{k}' for k in range(K))} FROM {Tn1}")
            sums[Tn1] = tot[P].to_numpy(np.float64).ravel()
            ll = float(tot["ll"].iloc[0] or 0.0)
            if s > 0:
                ll += s * float(np.where(np.isfinite(logtheta), logtheta, 0.0).sum())
            state["logtheta"], state["logpi"] = logtheta, logpi
            return Tn1, ll

        def maxdiff(A: str, B: str) -> float:
            e = f"greatest({', '.join(f'abs(a.p{k} - b.p{k})' for k in range(K))})" if K > 1 else "abs(a.p0 - b.p0)"
            v = self._df(f"SELECT MAX({e}) AS d FROM {A} a JOIN {B} b ON a.i = b.i")["d"].iloc[0]
            return 0.0 if v is None or pd.isna(v) else float(v)

        converged = False
        evals = accepted = 0
        cap = int(max_iter)
        ll_prev = -np.inf
        while evals < cap:
            T1, ll0 = em(T)
            evals += 1
            self._say(f"Dawid-Skene step {evals}")
            if (maxdiff(T1, T) if I * K else 0.0) < tol:
                drop(T)
                T, converged = T1, True
                break
            if ll_tol is not None and ll0 - ll_prev < ll_tol * max(n_j, 1):
                drop(T)
                T, converged = T1, True
                break
            ll_prev = ll0
            if not accelerate or evals + 2 > cap:
                drop(T)
                T = T1
                continue
            T2, ll1 = em(T1)
            evals += 1
            sq = self._df(f"SELECT SUM({' + '.join(f'(b.p{k} - a.p{k}) * (b.p{k} - a.p{k})' for k in range(K))}) AS rr, "
                          f"SUM({' + '.join(f'(c.p{k} - 2 * b.p{k} + a.p{k}) * (c.p{k} - 2 * b.p{k} + a.p{k})' for k in range(K))}) AS vv "
                          f"FROM {T} a JOIN {T1} b ON a.i = b.i JOIN {T2} c ON a.i = c.i")
            rr, vv = float(sq["rr"].iloc[0] or 0.0), float(sq["vv"].iloc[0] or 0.0)
            nv = math.sqrt(vv)
            alpha = -math.sqrt(rr) / nv if nv > 0 else -1.0
            if alpha > -1.0:
                drop(T)
                drop(T1)
                T = T2
                continue
            al = self._num(alpha)
            q = ", ".join(f"greatest(a.p{k} - 2 * {al} * (b.p{k} - a.p{k}) + {al} * {al} * (c.p{k} - 2 * b.p{k} + a.p{k}), 0.0) AS p{k}"
                          for k in range(K))
            Q = new("Q", f"SELECT a.i AS i, {q} FROM {T} a JOIN {T1} b ON a.i = b.i "
                         f"JOIN {T2} c ON a.i = c.i")
            zmin = self._df(f"SELECT MIN({' + '.join(P)}) AS z FROM {Q}")["z"].iloc[0]
            drop(T)
            drop(T1)
            if zmin is not None and not pd.isna(zmin) and float(zmin) <= 0:
                drop(Q)
                T = T2
                continue
            zs = " + ".join(P)
            Tx = new("T", f"SELECT i, {', '.join(f'p{k} / ({zs}) AS p{k}' for k in range(K))} FROM {Q}")
            drop(Q)
            T3, llx = em(Tx)
            evals += 1
            drop(Tx)
            if llx >= ll1:
                drop(T2)
                T, accepted = T3, accepted + 1
            else:
                drop(T3)
                T = T2
        logtheta, logpi = state["logtheta"], state["logpi"]
        mxp = f"greatest({', '.join(P)})" if K > 1 else "p0"
        lab = "CASE " + " ".join(f"WHEN p{k} = mxp THEN {self._lit(labs[k])}" for k in range(K)) + " END"
        cons = new("cons", f"SELECT it.item_id AS item_id, {self._lit(task)} AS task, {lab} AS label, mxp AS confidence, "
                           f"CAST(m.m AS BIGINT) AS n_judgements, 'ds' AS method FROM (SELECT i, {', '.join(P)}, "
                           f"{mxp} AS mxp FROM {T}) t JOIN (SELECT i, SUM(n) AS m FROM {jal} GROUP BY i) m "
                           f"ON t.i = m.i JOIN {items} it ON t.i = it.i")
        stats = self._cons_stats(cons, threshold, gold, task)
        if out is not None:
            self._say(f"writing {out}")
            self._write_parquet(f"SELECT * FROM {cons} ORDER BY item_id", out)
        for name in list(tables):
            drop(name)
        return DSResult(task=task, labels=pd.Index(labs, dtype="str"), annotators=annotators,
                        errors=np.exp(logtheta).transpose(1, 0, 2),
                        priors=pd.Series(np.exp(logpi), index=pd.Index(labs, dtype="str"), name="prior"),
                        n_items=I, n_judgements=n_j, n_iter=evals, n_extrapolated=accepted, converged=converged,
                        out=out, stats=stats)

    # ---------------------------------------------------------------- Dawid-Skene on pulled integer codes
    #: Bytes per judgement the in-memory EM needs (int32 codes, the sparse design matrix and its
    #: transpose, the posteriors): the integer codes are pulled out of the engine only when
    #: judgements x this fit the memory budget.
    DS_BYTES_PER_JUDGEMENT = 80
    #: False: Dawid-Skene always runs its EM steps in the engine (SQL), even when the codes would fit.
    ds_pull = True

    def _fetch_arrays(self, sql: str) -> dict[str, np.ndarray] | None:
        """The columns of a query as numpy arrays, or None when the engine cannot hand them over cheaply
        (Spark: the data live on the cluster)."""
        return None

    def _yield_memory(self) -> Any:
        """A context in which the engine gives its memory back (the numpy EM runs meanwhile)."""
        import contextlib

        return contextlib.nullcontext()

    def _ds_budget(self) -> int:
        from labkit.engines.base import available_memory

        return int(self.memory_limit) if self.memory_limit is not None else available_memory() // 2

    def _ds_in_memory(self, task: str, labs: list[str], annotators: pd.Index, items: str, jal: str, *, tol: float,
                      max_iter: int, smoothing: float, accelerate: bool, ll_tol: float | None, out: str | None,
                      threshold: float, gold: pd.DataFrame | None) -> DSResult | None:
        """Dawid-Skene on the judgements reduced to integer codes inside the engine (item, annotator,
        label, count; strings never leave it), pulled into numpy when they fit the memory budget and
        fitted by :class:`labkit.stats.consensus.DawidSkene` itself: the same EM steps as the pandas
        engine, in sparse products instead of per-step joins. The consensus table is joined back to the
        item ids and written inside the engine. None when the engine cannot hand over arrays or they
        would not fit (the caller then runs EM in SQL)."""
        from labkit.stats.consensus import DawidSkene
        from labkit.stats.counts import CountTables

        if not self.ds_pull:
            return None
        size = self._df(f"SELECT COUNT(*) AS r, SUM(n) AS nj FROM {jal}")
        n_rows, n_j = int(size["r"].iloc[0] or 0), int(size["nj"].iloc[0] or 0)
        if n_j * self.DS_BYTES_PER_JUDGEMENT > self._ds_budget():
            self._say(f"Dawid-Skene: {n_j:,} judgements do not fit the memory budget; EM steps run in the engine")
            return None
        arr = self._fetch_arrays(f"SELECT CAST(i AS INTEGER) AS i, CAST(a AS INTEGER) AS a, CAST(l AS INTEGER) AS l, "
                                 f"CAST(n AS INTEGER) AS n FROM {jal}")
        if arr is None:
            return None
        self._say(f"Dawid-Skene on task {task}: {n_j:,} judgements as integer codes ({n_rows:,} distinct)")
        rep = arr["n"]
        if n_rows and (rep == 1).all():
            i_, a_, l_ = arr["i"], arr["a"], arr["l"]
        else:
            i_, a_, l_ = (np.repeat(arr[c], rep) for c in ("i", "a", "l"))
        del arr
        ct = CountTables.from_codes(i_, a_, l_, labels=labs, task=task)
        if ct.n_annotators != len(annotators):  # every annotator of the table has a judgement here
            raise RuntimeError("annotator codes do not cover the annotators")
        del i_, a_, l_
        self._drop(jal)  # the codes are out: the engine's copy is not needed during the EM
        reuse_freed_memory()
        with self._yield_memory():
            ds = DawidSkene(tol=tol, max_iter=max_iter, smoothing=smoothing, accelerate=accelerate,
                            ll_tol=ll_tol).fit_counts(ct)
        c = ds.consensus_
        frame = pd.DataFrame({"i": np.asarray(ct.items, dtype=np.int64),
                              "label": c["label"].astype(str).to_numpy(dtype=object),
                              "confidence": c["confidence"].to_numpy(np.float64),
                              "n_judgements": c["n_judgements"].to_numpy(np.int64)})
        post = self._name("post")
        self._put(post, frame)
        del frame
        cons = self._name("cons")
        self._make(cons, f"SELECT it.item_id AS item_id, {self._lit(task)} AS task, p.label AS label, "
                         f"p.confidence AS confidence, p.n_judgements AS n_judgements, 'ds' AS method "
                         f"FROM {post} p JOIN {items} it ON p.i = it.i")
        self._drop(post)
        try:
            stats = self._cons_stats(cons, threshold, gold, task)
            if out is not None:
                self._say(f"writing {out}")
                self._write_parquet(f"SELECT * FROM {cons} ORDER BY item_id", out)
        finally:
            self._drop(cons)
        return DSResult(task=task, labels=pd.Index(labs, dtype="str"), annotators=annotators,
                        errors=ds.errors_, priors=pd.Series(ds.priors_.to_numpy(), index=pd.Index(labs, dtype="str"),
                                                            name="prior"),
                        n_items=ct.n_items, n_judgements=n_j, n_iter=ds.n_iter_, n_extrapolated=ds.n_extrapolated_,
                        converged=bool(ds.converged_), out=out, stats=stats)

    def _cons_stats(self, cons: str, threshold: float, gold: pd.DataFrame | None, task: str) -> dict[str, Any]:
        if gold is None:
            df = self._df(f"SELECT AVG(confidence) AS mc, SUM(CASE WHEN confidence < {self._num(threshold)} THEN 1 ELSE 0 END) "
                          f"AS q FROM {cons}")
            mc = df["mc"].iloc[0]
            return {"mean_confidence": None if mc is None or pd.isna(mc) else float(mc),
                    "adjudication_queue": int(df["q"].iloc[0] or 0)}
        from labkit.stats.scoring import gold_for_task

        g = gold_for_task(gold, task)
        gname = self._name("gold")
        self._put(gname, pd.DataFrame({"item_id": g["item_id"].astype(str).to_numpy(),
                                       "glabel": g["label"].astype(str).to_numpy()}))
        df = self._df(f"SELECT AVG(c.confidence) AS mc, SUM(CASE WHEN c.confidence < {self._num(threshold)} OR "
                      f"(g.glabel IS NOT NULL AND c.label <> g.glabel) THEN 1 ELSE 0 END) AS q, "
                      f"SUM(CASE WHEN g.glabel IS NOT NULL THEN 1 ELSE 0 END) AS ng, "
                      f"SUM(CASE WHEN g.glabel IS NOT NULL AND c.label = g.glabel THEN 1 ELSE 0 END) AS nc "
                      f"FROM {cons} c LEFT JOIN {gname} g ON c.item_id = g.item_id")
        self._drop(gname)
        mc = df["mc"].iloc[0]
        ng, nc = int(df["ng"].iloc[0] or 0), int(df["nc"].iloc[0] or 0)
        return {"mean_confidence": None if mc is None or pd.isna(mc) else float(mc),
                "adjudication_queue": int(df["q"].iloc[0] or 0), "accuracy": nc / ng if ng else float("nan"),
                "n_gold_items": ng, "n_correct": nc}
