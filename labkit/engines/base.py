"""The engine boundary: input resolution, engine choice, and the interface every engine implements."""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import InputRefused, LabkitError, ParameterError
from labkit.stats.counts import ItemLabelCounts

ENGINES = ("pandas", "duckdb", "spark")

#: Columns an engine reads (only these: the ids that make the reduced tables).
READ_COLUMNS = ("item_id", "annotator_id", "label", "task", "source")

#: In-memory cost of one judgement on the pandas path, whole process, measured by bench/bench_engines.py
#: (dictionary-encoded ids, the five columns read): used by ``--engine auto`` to decide whether a
#: Parquet input fits the memory budget.
BYTES_PER_JUDGEMENT = 120


def reuse_freed_memory() -> None:
    """Let glibc's malloc reuse freed blocks instead of returning every large array to the OS.

    Dawid-Skene's EM allocates a few arrays of items x labels doubles each step (over 100 MB each at
    10M judgements). With glibc's defaults each is a fresh ``mmap`` whose pages fault in on first touch:
    at 10M judgements that was as much system time as the EM's own arithmetic (measured: 23 s of system
    time for 20 s of user time; 2 s with this setting). Process-wide and idempotent; a no-op where the
    C library is not glibc.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD: arrays up to 1 GiB come from the heap
        libc.mallopt(-1, 32 << 20)  # M_TRIM_THRESHOLD: give back freed heap above 32 MiB
    except (OSError, AttributeError):
        return


class EngineMissing(LabkitError):
    """An engine's package (or Java, for Spark) is not installed."""


@dataclass(frozen=True)
class ParquetInput:
    """A canonical label table stored as Parquet: ``files`` (sorted), the folder they were found under
    (``root``, for hive partitions) and whether folder names carry ``key=value`` partitions; or a Spark
    table name (``table``)."""

    files: tuple[str, ...] = ()
    root: str | None = None
    hive: bool = False
    table: str | None = None
    spec: str = ""

    def n_rows(self) -> int:
        """Rows from the Parquet footers (no data read)."""
        import pyarrow.parquet as pq

        return int(sum(pq.ParquetFile(f).metadata.num_rows for f in self.files))

    def n_bytes(self) -> int:
        return int(sum(os.path.getsize(f) for f in self.files))


_GLOB = re.compile(r"[*?\[]")


def parquet_input(spec: str | os.PathLike[str] | list[str], *, allow_table: bool = False) -> ParquetInput | None:
    """Resolve a labels argument to Parquet files; None when it is not Parquet (CSV, JSONL, exports...).

    Accepted: a ``.parquet`` file, a folder (every ``*.parquet`` below it; ``key=value`` folder names are
    hive partitions), a glob (``data/*.parquet``, ``lake/**/*.parquet``), several of these joined with
    ``:``. With ``allow_table`` (Spark), ``table:NAME`` names a catalog table.
    """
    parts = [str(p) for p in spec] if isinstance(spec, (list, tuple)) else [p for p in str(spec).split(os.pathsep) if p]
    if allow_table and len(parts) == 2 and parts[0] == "table":
        return ParquetInput(table=parts[1], spec=str(spec))
    files: list[str] = []
    root: str | None = None
    hive = False
    for p in parts:
        path = Path(p)
        if _GLOB.search(p):
            found = sorted(f for f in glob.glob(p, recursive=True) if f.endswith(".parquet") and os.path.isfile(f))
            if not found:
                raise InputRefused(p, "the glob matches no .parquet file")
            files += found
            hive = hive or any("=" in part for f in found for part in Path(f).parent.parts)
        elif path.is_dir():
            found = sorted(str(f) for f in path.rglob("*.parquet") if f.is_file() and not f.name.startswith((".", "_")))
            if not found:
                raise InputRefused(p, "the folder holds no .parquet file")
            files += found
            root = str(path) if len(parts) == 1 else None
            hive = hive or any("=" in part for f in found for part in Path(f).relative_to(path).parent.parts)
        elif path.suffix.lower() == ".parquet":
            if not path.is_file():
                raise InputRefused(p, "no such file")
            files.append(str(path))
        else:
            return None
    return ParquetInput(files=tuple(files), root=root, hive=hive, spec=str(spec))


def parse_memory(text: str | int | None) -> int | None:
    """``"2GB"``, ``"512MiB"``, ``"1.5G"`` or a byte count -> bytes (None stays None)."""
    if text is None or isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtT]?)(i?[bB])?\s*", str(text))
    if not m:
        raise ParameterError(f"--memory-limit must look like 2GB, 512MB or 1.5GiB, got {text!r}")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable``; the physical memory when unknown)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


@dataclass(frozen=True)
class EngineChoice:
    """The engine chosen for a run and why (printed by the CLI, in ``--json`` under ``engine``)."""

    name: str
    reason: str
    budget: int | None = None
    estimate: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "reason": self.reason, "memory_budget": self.budget, "estimate": self.estimate}


def choose_engine(requested: str, spec: str | list[str], memory_limit: str | int | None = None,
                  bytes_per_row: int = BYTES_PER_JUDGEMENT) -> EngineChoice:
    """Pick the engine for ``spec``.

    ``auto`` keeps the in-memory pandas path unless the input is Parquet and its estimated in-memory
    size (rows x ``bytes_per_row``, default :data:`BYTES_PER_JUDGEMENT`) exceeds the budget
    (``memory_limit``, else half the memory available now); then DuckDB, which streams the files and
    spills to disk under the same cap.
    """
    if requested not in ("auto", *ENGINES):
        raise ParameterError(f"--engine must be auto, {', '.join(ENGINES)}; got {requested!r}")
    budget = parse_memory(memory_limit)
    inp = parquet_input(spec, allow_table=requested == "spark")
    if requested != "auto":
        if requested != "pandas" and inp is None:
            raise ParameterError(f"--engine {requested} reads Parquet (a file, folder or glob); {spec!r} is not "
                                 "Parquet: convert it with `labkit import ... --out labels.parquet`")
        return EngineChoice(requested, "requested with --engine", budget)
    if inp is None:
        return EngineChoice("pandas", "input is not Parquet: read in memory", budget)
    rows = inp.n_rows()
    est = rows * int(bytes_per_row)
    limit = budget if budget is not None else available_memory() // 2
    if est <= limit:
        return EngineChoice("pandas", f"{rows:,} judgements need about {est / 2**30:.2f} GiB in memory, within the "
                                      f"{limit / 2**30:.2f} GiB budget", limit, est)
    return EngineChoice("duckdb", f"{rows:,} judgements need about {est / 2**30:.2f} GiB in memory, over the "
                                  f"{limit / 2**30:.2f} GiB budget: DuckDB streams the Parquet files and spills",
                        limit, est)


@dataclass
class DSResult:
    """Dawid-Skene fitted by an engine. The consensus table was written to ``out`` (Parquet) when given;
    posteriors stayed inside the engine."""

    task: str
    labels: pd.Index
    annotators: pd.Index
    errors: np.ndarray  # [annotator, true, observed]
    priors: pd.Series
    n_items: int
    n_judgements: int
    n_iter: int
    n_extrapolated: int
    converged: bool
    out: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)


class Engine:
    """The interface every engine implements (see the module docstring of :mod:`labkit.engines`)."""

    name = "engine"

    def __init__(self, memory_limit: str | int | None = None, temp_dir: str | None = None,
                 progress: Any = None) -> None:
        self.memory_limit = parse_memory(memory_limit)
        self.temp_dir = temp_dir
        self.progress = progress

    def _say(self, msg: str) -> None:
        if self.progress is not None:
            self.progress(msg)

    def tasks(self, inp: ParquetInput) -> list[str]:
        """Tasks present in the input (refuses a row without item, annotator or label)."""
        raise NotImplementedError

    def resolve_task(self, inp: ParquetInput, task: str | None) -> str:
        """Same rule as :func:`labkit.stats.counts.resolve_task`, on the engine's data."""
        present = self.tasks(inp)
        if task is None:
            if len(present) > 1:
                raise ParameterError(f"the table holds {len(present)} tasks ({', '.join(present[:5])}"
                                     f"{', ...' if len(present) > 5 else ''}); labels of different tasks are never "
                                     "pooled: pass task=... or break down with by='task'")
            return present[0] if present else "default"
        if task not in present:
            raise ParameterError(f"task {task!r} is not in the table; tasks: {', '.join(present) or 'none'}")
        return str(task)

    def item_label_counts(self, inp: ParquetInput, *, task: str | None = None, source: str | None = "human",
                          order: list[str] | None = None, labels: list[str] | None = None) -> ItemLabelCounts:
        raise NotImplementedError

    def gold_counts(self, inp: ParquetInput, gold: pd.DataFrame, *, task: str | None = None,
                    source: str | None = "human", loo: bool = True) -> pd.DataFrame:
        """Per annotator: n and correct on gold, and (``loo``) n and correct against leave-one-out
        consensus; columns annotator_id, n_gold, correct_gold, n_loo, correct_loo; sorted by annotator."""
        raise NotImplementedError

    def dawid_skene(self, inp: ParquetInput, *, task: str | None = None, source: str | None = "human",
                    tol: float = 1e-6, max_iter: int = 100, smoothing: float = 0.01, accelerate: bool = True,
                    ll_tol: float | None = None, out: str | None = None, threshold: float = 0.7,
                    gold: pd.DataFrame | None = None) -> DSResult:
        raise NotImplementedError

    def close(self) -> None:
        """Release the engine's resources (connection, session)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def get_engine(name: str, *, memory_limit: str | int | None = None, temp_dir: str | None = None,
               progress: Any = None, master: str | None = None) -> Engine:
    """An engine by name; raises :class:`EngineMissing` with the install command when it cannot run."""
    if name == "pandas":
        from labkit.engines.pandas_engine import PandasEngine

        return PandasEngine(memory_limit, temp_dir, progress)
    if name == "duckdb":
        try:
            import duckdb  # noqa: F401
        except ImportError:
            raise EngineMissing("the duckdb engine needs the duckdb package: pip install 'duckdb>=1.1' "
                                "(a labkit dependency; reinstall labkit)") from None
        from labkit.engines.duckdb_engine import DuckDBEngine

        return DuckDBEngine(memory_limit, temp_dir, progress)
    if name == "spark":
        from labkit.engines.spark_engine import SparkEngine, check_spark

        check_spark()
        return SparkEngine(memory_limit, temp_dir, progress, master=master)
    raise ParameterError(f"engine must be one of {', '.join(ENGINES)}, got {name!r}")
