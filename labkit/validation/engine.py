"""Run the suites over a canonical label table with Great Expectations 1.x (imported here, lazily)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import GuidelineError, InputRefused, ParameterError
from labkit.guidelines.model import Guidelines
from labkit.validation.report import FAILURE_COLUMNS, ExpectationOutcome, ValidationReport
from labkit.validation.suites import Suite, load_suites, retire_grace_days, run_parameters

#: Result format asked of GX: every failing row, named by these columns; no giant index query string.
ID_COLUMNS = ["item_id", "annotator_id"]


@contextlib.contextmanager
def _without_iri_grammar() -> Iterator[None]:
    """Keep jsonschema from compiling the RFC 3987 grammar while GX imports it.

    ``import great_expectations`` pulls in altair, which imports jsonschema, whose format module
    imports ``rfc3987_syntax`` (when installed, e.g. by JupyterLab) only to register the ``iri``
    format checker; building that grammar took about 5 s of a 13 s GX import here. Neither GX
    nor labkit checks ``iri`` formats, so while GX is imported the module is marked unavailable
    (jsonschema skips the checker, as it does when the package is absent) and unmarked afterwards.
    Side effect, in this process only: jsonschema's ``FormatChecker`` has no ``iri`` format.
    Set ``LABKIT_FULL_JSONSCHEMA=1`` to import everything as usual.
    """
    if ("jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules
            or os.environ.get("LABKIT_FULL_JSONSCHEMA", "") not in ("", "0")):
        yield
        return
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        yield
    finally:
        if "rfc3987_syntax" in sys.modules and sys.modules["rfc3987_syntax"] is None:
            del sys.modules["rfc3987_syntax"]


def _import_gx() -> Any:
    """Import Great Expectations (analytics off) and register labkit's custom expectations."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    with _without_iri_grammar():
        import great_expectations as gx

    import labkit.validation.gx_expectations  # noqa: F401  (registers labkit's custom expectations)

    return gx


def _build_expectation(exp: dict[str, Any], suite: Suite, index: int) -> Any:
    """One suite entry as a GX expectation object; a clear error naming file, record and field if not."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    record = f"expectations[{index}] ({exp['type']})"
    try:
        return ExpectationConfiguration(type=exp["type"], kwargs=dict(exp.get("kwargs", {})), meta=dict(exp["meta"]),
                                        severity=exp["meta"]["severity"]).to_domain_obj()
    except Exception as exc:  # GX raises ExpectationNotFoundError, InvalidExpectationConfigurationError, ...
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        text = str(getattr(cause, "message", None) or cause).strip()
        if "not found" in text and exp["type"] in text:
            raise InputRefused(suite.path, f"unknown expectation type {exp['type']!r} (neither a Great Expectations "
                               "built-in nor one of labkit's)", record=record, field="type") from None
        text = " ".join(text.split())
        raise InputRefused(suite.path, f"Great Expectations refuses this expectation: {text}", record=record,
                           field="kwargs") from None


def expectation_name(exp: dict[str, Any]) -> str:
    """A readable name: the type plus its column(s), e.g. ``expect_column_values_to_be_between(confidence)``."""
    kw = exp.get("kwargs", {})
    if "column" in kw:
        return f"{exp['type']}({kw['column']})"
    if "column_list" in kw and exp["type"] == "expect_compound_columns_to_be_unique":
        return f"{exp['type']}({', '.join(kw['column_list'])})"
    return exp["type"]


def _as_text(col: pd.Series) -> np.ndarray:
    """Values as ``str`` (None for missing) in an object array; categoricals through their categories."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.cat.remove_unused_categories()  # only the failing rows' values are turned into str
        codes = col.cat.codes.to_numpy()
        cats = np.array([str(c) for c in col.cat.categories] + [None], dtype=object)
        return cats[np.where(codes >= 0, codes, len(cats) - 1)]
    return np.array([None if pd.isna(v) else str(v) for v in col.to_numpy(dtype=object)], dtype=object)


def _rows_from_positions(frame: pd.DataFrame, positions: list[int], domain: list[str]) -> pd.DataFrame:
    """Failing rows named by item_id and annotator_id, with ``value`` = the checked values other than
    the ids (``k=v`` joined by ``; `` when several columns), looked up in one vectorized step.

    GX returns the failing row positions (the frame has a fresh RangeIndex). Asking GX to name them
    itself (``unexpected_index_column_names``) looks every id up cell by cell (``DataFrame.at``),
    which took seconds for a few thousand failing rows; this does the same lookup with ``iloc``.
    """
    pos = np.asarray(positions, dtype=np.int64)
    sub = frame.iloc[pos]
    out = pd.DataFrame({c: _as_text(sub[c]) for c in ID_COLUMNS}, dtype=object)
    other = [c for c in domain if c not in ID_COLUMNS and c in frame.columns]
    if not other:
        out["value"] = ""
        return out
    texts = []
    for c in other:
        col = sub[c]
        if pd.api.types.is_datetime64_any_dtype(col):
            txt = pd.Series(col.map(lambda v: v.isoformat() if pd.notna(v) else "NaT").to_numpy())
        else:
            txt = pd.Series(col.astype("string").fillna("<NA>").to_numpy())
        texts.append(txt if len(other) == 1 else (c + "=" + txt))
    value = texts[0]
    for t in texts[1:]:
        value = value + "; " + t
    out["value"] = value.to_numpy()
    return out


def _domain(exp: dict[str, Any]) -> list[str]:
    kw = exp.get("kwargs", {})
    if "column" in kw:
        return [kw["column"]]
    return list(kw.get("column_list", []))


@dataclass
class Partial:
    """One expectation's result on one batch, before it is turned into an :class:`ExpectationOutcome`.

    Engines that validate in batches (``--engine duckdb``, ``spark``) merge the partials of every batch
    with :func:`merge_partials`; the in-memory path has a single partial. ``failing`` holds the failing
    rows (item_id, annotator_id, value) and ``row``, the row's position in the whole input, so merged
    rows come out in the order the in-memory path lists them.
    """

    raised: bool = False
    error: str | None = None
    success: bool = True
    element_count: int | None = None
    missing_count: int | None = None
    unexpected_count: int | None = None
    observed: Any = None
    table_level: bool = False
    table_note: Any = None
    failing: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["item_id", "annotator_id", "value", "row"]))


def _partial(exp: dict[str, Any], result: Any, frame: pd.DataFrame, rows: np.ndarray | None = None) -> Partial:
    """A GX result as a :class:`Partial`; ``rows`` maps the frame's positions to input rows (default: identity)."""
    res = dict(result.result or {})
    info = result.exception_info or {}
    raised = bool(info.get("raised_exception")) if isinstance(info, dict) else False
    if not raised and isinstance(info, dict):  # GX nests exception info by metric id on some paths
        for v in info.values():
            if isinstance(v, dict) and v.get("raised_exception"):
                info, raised = v, True
                break
    p = Partial(raised=raised, success=bool(result.success), observed=res.get("observed_value"),
                element_count=None if res.get("element_count") is None else int(res["element_count"]),
                missing_count=None if res.get("missing_count") is None else int(res["missing_count"] or 0),
                unexpected_count=None if res.get("unexpected_count") is None else int(res["unexpected_count"]))
    if raised:
        p.error = str(info.get("exception_message") or "").strip() or None
        return p
    if p.success:
        return p
    if "unexpected_index_list" in res:
        pos = np.asarray(res["unexpected_index_list"], dtype=np.int64)
        failing = _rows_from_positions(frame, list(pos), _domain(exp))
        failing["row"] = pos if rows is None else rows[pos]
    elif isinstance(res.get("details"), dict) and "rows" in res["details"]:
        recs = res["details"]["rows"]
        failing = pd.DataFrame.from_records(recs, columns=["item_id", "annotator_id", "value"])
        at = np.array([r.get("row", -1) if r.get("row") is not None else -1 for r in recs], dtype=np.int64)
        failing["row"] = at if rows is None else np.where(at >= 0, rows[np.maximum(at, 0)], -1)
    else:  # a table-level failure: one row naming what was observed (made once, after merging)
        p.table_level = True
        p.table_note = res.get("observed_value", res.get("details", ""))
        failing = pd.DataFrame(columns=["item_id", "annotator_id", "value", "row"])
    p.failing = failing
    return p


def merge_partials(parts: list[Partial], *, sum_observed: bool = False, per_table: bool = False) -> Partial:
    """One partial for the whole input from the partials of disjoint batches (counts summed, failing rows
    concatenated in input order; ``observed`` summed when ``sum_observed``, else the first batch's;
    ``per_table``: the counts describe the table's columns, not its rows, and are the first batch's)."""
    if len(parts) == 1:
        return parts[0]

    def total(name: str) -> int | None:
        vals = [getattr(p, name) for p in parts]
        if per_table:
            return vals[0]
        return None if all(v is None for v in vals) else int(sum(v or 0 for v in vals))
    raised = [p for p in parts if p.raised]
    failing = [p.failing for p in parts if len(p.failing)]
    rows = pd.concat(failing, ignore_index=True).sort_values("row", kind="stable").reset_index(drop=True) \
        if failing else parts[0].failing
    observed = parts[0].observed
    if sum_observed and all(isinstance(p.observed, (int, np.integer)) for p in parts):
        observed = int(sum(int(p.observed) for p in parts))
    table_level = [p for p in parts if p.table_level]
    return Partial(raised=bool(raised), error=raised[0].error if raised else None,
                   success=all(p.success for p in parts), element_count=total("element_count"),
                   missing_count=total("missing_count"), unexpected_count=total("unexpected_count"),
                   observed=observed, table_level=bool(table_level),
                   table_note=table_level[0].table_note if table_level else None, failing=rows)


def finish(exp: dict[str, Any], suite: Suite, p: Partial) -> tuple[ExpectationOutcome, pd.DataFrame]:
    """The outcome and the failing-rows table of one expectation from its (merged) partial."""
    meta = exp["meta"]
    name = expectation_name(exp)
    evaluated = p.element_count
    if evaluated is not None and p.missing_count is not None:
        evaluated = int(evaluated) - int(p.missing_count or 0)
    if p.raised:
        status, passed = "error", False
    elif evaluated == 0:
        status, passed = "not applicable", True
    else:
        passed = bool(p.success)
        status = "passed" if passed else "failed"
    failing = pd.DataFrame(columns=["item_id", "annotator_id", "value"])
    if not passed and not p.raised:
        if p.table_level:
            failing = pd.DataFrame({"item_id": [None], "annotator_id": [None], "value": [f"observed {p.table_note}"]})
        else:
            failing = p.failing[["item_id", "annotator_id", "value"]].reset_index(drop=True)
    n_failing = 0 if passed or p.raised else int(p.unexpected_count if p.unexpected_count is not None else len(failing))
    outcome = ExpectationOutcome(
        name=name, type=exp["type"], suite=suite.name, severity=meta["severity"], status=status, passed=passed,
        n_evaluated=None if evaluated is None else int(evaluated), n_failing=n_failing, why=meta["why"],
        rule=meta["rule"], kwargs={k: v for k, v in exp.get("kwargs", {}).items()},
        observed=p.observed, error=p.error if p.raised else None, derived=meta.get("derived"),
    )
    failing.insert(0, "expectation", name)
    failing.insert(1, "suite", suite.name)
    failing.insert(2, "severity", meta["severity"])
    return outcome, failing


def _outcome(exp: dict[str, Any], suite: Suite, result: Any, frame: pd.DataFrame) -> tuple[ExpectationOutcome, pd.DataFrame]:
    return finish(exp, suite, _partial(exp, result, frame))


#: What a blank guideline version of a governed task is validated as: a version no guideline has.
BLANK_VERSION = "(blank)"


def _blank_versions_marked(frame: pd.DataFrame, guidelines: Guidelines) -> pd.DataFrame:
    """Rows of a task that has released guideline versions but no version of their own are marked
    :data:`BLANK_VERSION`, so the unknown-version expectation (critical) fails them: a label made under
    no known guideline (``DROP TABLE`` with a blank version) never passes the gate. Rows of tasks no
    guideline governs keep their blank version (the guideline checks do not apply to them)."""
    if "guideline_version" not in frame.columns or "task" not in frame.columns:
        return frame
    governed = set(guidelines.tasks)
    blank = frame["guideline_version"].isna() & frame["task"].astype("object").isin(governed)
    if not blank.any():
        return frame
    out = frame.copy()
    col = out["guideline_version"]
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.cat.add_categories([BLANK_VERSION]) if BLANK_VERSION not in col.cat.categories else col
    else:
        col = col.astype("object")
    col[blank] = BLANK_VERSION
    out["guideline_version"] = col
    return out


#: Why an expectation fed from guidelines/ is not run when no guidelines are given.
NO_GUIDELINES = "no guidelines given: checks fed from guidelines/ are not run (create them with `labkit init`)"


def _uses_guidelines(exp: dict[str, Any]) -> bool:
    """Whether an expectation takes a suite parameter derived from guidelines/ (``$PARAMETER: guideline_*``)."""
    def walk(v: Any) -> bool:
        if isinstance(v, dict):
            return str(v.get("$PARAMETER", "")).startswith("guideline_") or any(walk(x) for x in v.values())
        if isinstance(v, list):
            return any(walk(x) for x in v)
        return False

    return walk(exp.get("kwargs", {}))


def check_guidelines_match(table: pd.DataFrame, guidelines: Guidelines, where: str = "guidelines") -> None:
    """Refuse guidelines written for another task: each task of the labels must be a task of the
    guidelines, and some of its labels must be labels of one of that task's versions.

    Raises
    ------
    GuidelineError
        Naming the guidelines folder, the task and what the data holds.
    """
    if "task" not in table or "label" not in table or not len(table):
        return
    tasks = sorted({str(t) for t in table["task"].dropna().unique()})
    governed = [t for t in tasks if t in guidelines.tasks]
    if not governed:  # guidelines for other tasks only: the wrong folder (tasks they do not govern are n/a)
        task = tasks[0]
        raise GuidelineError(f"{where}: the labels are for task {', '.join(map(repr, tasks))}, but these guidelines "
                             f"define {', '.join(map(repr, guidelines.tasks)) or 'no task'}; pass the guidelines of "
                             f"{task!r} (or create them with `labkit init LABELS --task {task}`)")
    for task in governed:
        data_labels = {str(v) for v in table.loc[table["task"].astype(str) == task, "label"].dropna().unique()}
        known = {name for v in guidelines.versions(task) for name in v.label_names}
        if data_labels and not data_labels & known:
            shown = ", ".join(sorted(data_labels)[:5]) + (" ..." if len(data_labels) > 5 else "")
            raise GuidelineError(f"{where}: none of the labels of task {task!r} in the data ({shown}) is a label of "
                                 f"any {task} guideline version ({', '.join(sorted(known))}); these guidelines "
                                 "are for other labels")


def validate(table: pd.DataFrame, guidelines: Guidelines | str | os.PathLike[str] | None,
             suites: list[str | os.PathLike[str]] | list[Suite] | None = None, *,
             now: dt.datetime | None = None, retire_grace: float | None = None) -> ValidationReport:
    """Validate a canonical label table against the expectation suites.

    Parameters
    ----------
    table : DataFrame
        A canonical label table (:mod:`labkit.schema`), e.g. from :func:`labkit.io.load_labels`.
    guidelines : Guidelines or path, optional
        The guideline versions (``guidelines/``) the conformance expectations are fed from. Refused
        when the data's tasks or labels are not theirs. ``None`` runs only the guideline-independent
        expectations; the others are reported ``not applicable`` with :data:`NO_GUIDELINES`.
    suites : list of paths or Suite, optional
        Suite files; default: every ``expectations/*.json``.
    now : datetime, optional
        The instant "in the future" is measured against (default: the current UTC time).
    retire_grace : float, optional
        Days of grace after a newer release; default ``retire_grace_days`` from
        ``<guidelines>/governance.yaml``.

    Returns
    -------
    ValidationReport
        Per expectation: suite, severity, status, failing-row count; all failing rows (expectation,
        item_id, annotator_id, value); ``gate`` is False when a critical expectation failed.

    Examples
    --------
    >>> from labkit.io import load_labels                              # doctest: +SKIP
    >>> report = validate(load_labels("sample/labels.csv"), "guidelines")  # doctest: +SKIP
    >>> report.gate, report.failures.groupby("expectation").size()     # doctest: +SKIP
    """
    t0 = time.perf_counter()
    if not isinstance(table, pd.DataFrame):
        raise ParameterError(f"table must be a pandas DataFrame (a canonical label table), got {type(table).__name__}")
    # No check_labels() here: a wrong column or dtype is reported by the schema suite, with the
    # other expectations (those that cannot run on it show status "error", which fails the gate).
    plan = plan_run(table, guidelines, suites, now=now, retire_grace=retire_grace)
    t_import = time.perf_counter()
    runner = SuiteRunner(plan)
    t_run = time.perf_counter()
    frame = _blank_versions_marked(table.reset_index(drop=True), plan.guidelines)
    partials = runner.run(frame)
    outcomes: list[ExpectationOutcome] = []
    failing: list[pd.DataFrame] = []
    for (exp, s), part in zip(runner.owners, partials):
        o, f = finish(exp, s, part)
        outcomes.append(o)
        if len(f):
            failing.append(f)
    done = time.perf_counter()
    return plan.report(outcomes + runner.skipped, failing, n_rows=int(len(frame)),
                       n_items=int(frame["item_id"].nunique()) if "item_id" in frame else 0,
                       n_annotators=int(frame["annotator_id"].nunique()) if "annotator_id" in frame else 0,
                       timings={"prepare_s": round(t_import - t0, 3), "gx_import_s": round(t_run - t_import, 3),
                                "gx_run_s": round(done - t_run, 3)}, gx_version=runner.gx_version)


@dataclass
class RunPlan:
    """What a validation run needs besides the data: guidelines, suites and the suite parameters."""

    guidelines: Guidelines
    root: str
    grace: float
    suites: list[Suite]
    params: dict[str, Any]

    def report(self, outcomes: list[ExpectationOutcome], failing: list[pd.DataFrame], *, n_rows: int, n_items: int,
               n_annotators: int, timings: dict[str, float], gx_version: str) -> ValidationReport:
        failures = pd.concat(failing, ignore_index=True) if failing else pd.DataFrame(columns=FAILURE_COLUMNS)
        return ValidationReport(
            outcomes=outcomes, failures=failures[FAILURE_COLUMNS].reset_index(drop=True),
            n_rows=n_rows, n_items=n_items, n_annotators=n_annotators,
            suites=[s.path for s in self.suites], guidelines=self.root,
            started_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            timings=timings, gx_version=gx_version,
            parameters={"now": self.params["now"].isoformat(), "retire_grace_days": self.grace,
                        **{k: v for k, v in self.params.items() if k != "now"}},
        )


def plan_run(table: pd.DataFrame, guidelines: Guidelines | str | os.PathLike[str] | None,
             suites: list[str | os.PathLike[str]] | list[Suite] | None = None, *,
             now: dt.datetime | None = None, retire_grace: float | None = None) -> RunPlan:
    """Load guidelines and suites and check the guidelines fit ``table`` (any frame with the task and
    label values of the data: engines pass the distinct (task, label) pairs)."""
    if guidelines is None:
        root = ""
        guidelines = Guidelines([], root=None)
    elif isinstance(guidelines, (str, os.PathLike)):
        root = str(guidelines)
        guidelines = Guidelines.load(root)
        check_guidelines_match(table, guidelines, root)
    elif isinstance(guidelines, Guidelines):
        root = guidelines.root or ""
        check_guidelines_match(table, guidelines, root or "guidelines")
    else:
        raise ParameterError(f"guidelines must be a Guidelines or a folder path, got {type(guidelines).__name__}")
    grace = float(retire_grace) if retire_grace is not None else (retire_grace_days(root) if root else 0.0)
    if suites and all(isinstance(s, Suite) for s in suites):
        suite_objs: list[Suite] = list(suites)  # type: ignore[arg-type]
    else:
        suite_objs = load_suites(list(suites) if suites else None)  # type: ignore[arg-type]
    return RunPlan(guidelines, root, grace, suite_objs, run_parameters(guidelines, grace, now))


#: Result format asked of GX: every failing row by position (looked up by :func:`_rows_from_positions`).
RESULT_FORMAT = {"result_format": "COMPLETE", "return_unexpected_index_query": False,
                 "partial_unexpected_count": 0, "exclude_unexpected_values": True}


class SuiteRunner:
    """The suites built once as one GX suite over a pandas data source; :meth:`run` validates one frame.

    ``exclude`` lists expectation types an engine computes itself over the whole input (they are left
    out of the GX suite and of :attr:`owners`).
    """

    def __init__(self, plan: RunPlan, exclude: tuple[str, ...] = ()) -> None:
        gx = _import_gx()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.plan = plan
        self.gx_version = str(gx.__version__)
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        self.owners: list[tuple[dict[str, Any], Suite]] = []
        self.excluded: list[tuple[dict[str, Any], Suite]] = []
        self.skipped: list[ExpectationOutcome] = []
        built = []
        for s in plan.suites:
            for i, exp in enumerate(s.expectations):
                if not plan.guidelines.tasks and _uses_guidelines(exp):
                    meta = exp["meta"]
                    self.skipped.append(ExpectationOutcome(
                        name=expectation_name(exp), type=exp["type"], suite=s.name, severity=meta["severity"],
                        status="not applicable", passed=True, n_evaluated=None, n_failing=0, why=meta["why"],
                        rule=meta["rule"], kwargs=dict(exp.get("kwargs", {})), observed=NO_GUIDELINES,
                        derived=meta.get("derived")))
                    continue
                # Built one by one: gx.ExpectationSuite logs and *drops* an expectation it cannot build,
                # which would let a typo in a suite file pass the gate with fewer checks than it lists.
                obj = _build_expectation(exp, s, i)
                if exp["type"] in exclude:
                    self.excluded.append((exp, s))
                    continue
                built.append(obj)
                self.owners.append((exp, s))
        if not built and not self.excluded:
            raise InputRefused(", ".join(s.path for s in plan.suites), "the suites hold no expectation to run")
        self.suite = context.suites.add(gx.ExpectationSuite(name="labkit", expectations=built))
        if len(self.suite.expectations) != len(self.owners):  # never silently run fewer expectations than listed
            raise GuidelineError(f"Great Expectations kept {len(self.suite.expectations)} of {len(self.owners)} "
                                 "expectations")
        self.batch_def = (context.data_sources.add_pandas("labkit").add_dataframe_asset("labels")
                          .add_batch_definition_whole_dataframe("all"))

    def run(self, frame: pd.DataFrame, rows: np.ndarray | None = None) -> list[Partial]:
        """One :class:`Partial` per expectation of :attr:`owners` (``rows``: input row of each frame row)."""
        if not self.owners:
            return []
        # Batch.validate rather than a ValidationDefinition: the same validation, without serializing
        # and storing the full result in the (ephemeral) results store, which cost seconds per run.
        batch = self.batch_def.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(self.suite, expectation_parameters=self.plan.params, result_format=RESULT_FORMAT)
        by_id = {r.expectation_config.id: r for r in result.results}
        out = []
        for gx_exp, (exp, s) in zip(self.suite.expectations, self.owners):
            r = by_id.get(gx_exp.id)
            if r is None:  # never silently drop an expectation
                raise GuidelineError(f"{s.path}: expectation {exp['type']} produced no result")
            out.append(_partial(exp, r, frame, rows))
        return out


def validate_path(labels: str | os.PathLike[str] | list[str], guidelines: str | os.PathLike[str] | None,
                  suites: list[str | os.PathLike[str]] | None = None, **kwargs: Any) -> ValidationReport:
    """:func:`validate` over anything :func:`labkit.io.load_labels` reads (a path, a list or ``"a:b"``)."""
    from labkit.io.base import concat_labels, import_file, split_paths

    results = [import_file(p) for p in split_paths(labels)]
    report = validate(concat_labels([r.table for r in results]), guidelines, suites, **kwargs)
    report.source = [str(p) for p in labels] if isinstance(labels, list) else [str(labels)]
    report.records_in = int(sum(r.records_in for r in results))
    report.quarantine = pd.concat([r.quarantine for r in results], ignore_index=True)
    return report


__all__ = ["validate", "validate_path", "expectation_name"]
