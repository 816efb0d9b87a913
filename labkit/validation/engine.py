"""Run the suites over a canonical label table with Great Expectations 1.x (imported here, lazily)."""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import GuidelineError, ParameterError
from labkit.guidelines.model import Guidelines
from labkit.validation.report import FAILURE_COLUMNS, ExpectationOutcome, ValidationReport
from labkit.validation.suites import Suite, load_suites, retire_grace_days, run_parameters

#: Result format asked of GX: every failing row, named by these columns; no giant index query string.
ID_COLUMNS = ["item_id", "annotator_id"]


def _import_gx() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    import labkit.validation.gx_expectations  # noqa: F401  (registers labkit's custom expectations)

    return gx


def expectation_name(exp: dict[str, Any]) -> str:
    """A readable name: the type plus its column(s), e.g. ``expect_column_values_to_be_between(confidence)``."""
    kw = exp.get("kwargs", {})
    if "column" in kw:
        return f"{exp['type']}({kw['column']})"
    if "column_list" in kw and exp["type"] == "expect_compound_columns_to_be_unique":
        return f"{exp['type']}({', '.join(kw['column_list'])})"
    return exp["type"]


def _rows_from_positions(frame: pd.DataFrame, positions: list[int], domain: list[str]) -> pd.DataFrame:
    """Failing rows named by item_id and annotator_id, with ``value`` = the checked values other than
    the ids (``k=v`` joined by ``; `` when several columns), looked up in one vectorized step.

    GX returns the failing row positions (the frame has a fresh RangeIndex). Asking GX to name them
    itself (``unexpected_index_column_names``) looks every id up cell by cell (``DataFrame.at``),
    which took seconds for a few thousand failing rows; this does the same lookup with ``iloc``.
    """
    pos = np.asarray(positions, dtype=np.int64)
    sub = frame.iloc[pos]
    out = pd.DataFrame({c: [None if pd.isna(v) else str(v) for v in sub[c].to_numpy(dtype=object)]
                        for c in ID_COLUMNS}, dtype=object)
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


def _outcome(exp: dict[str, Any], suite: Suite, result: Any, frame: pd.DataFrame) -> tuple[ExpectationOutcome, pd.DataFrame]:
    meta = exp["meta"]
    name = expectation_name(exp)
    res = dict(result.result or {})
    info = result.exception_info or {}
    raised = bool(info.get("raised_exception")) if isinstance(info, dict) else False
    if not raised and isinstance(info, dict):  # GX nests exception info by metric id on some paths
        for v in info.values():
            if isinstance(v, dict) and v.get("raised_exception"):
                info, raised = v, True
                break
    evaluated = res.get("element_count")
    if evaluated is not None and "missing_count" in res:
        evaluated = int(evaluated) - int(res["missing_count"] or 0)
    if raised:
        status, passed = "error", False
    elif evaluated == 0:
        status, passed = "not applicable", True
    else:
        passed = bool(result.success)
        status = "passed" if passed else "failed"
    failing = pd.DataFrame(columns=["item_id", "annotator_id", "value"])
    if not passed and not raised:
        if "unexpected_index_list" in res:
            failing = _rows_from_positions(frame, res["unexpected_index_list"], _domain(exp))
        elif isinstance(res.get("details"), dict) and "rows" in res["details"]:
            failing = pd.DataFrame.from_records(res["details"]["rows"], columns=["item_id", "annotator_id", "value"])
        else:  # a table-level failure: one row naming what was observed
            observed = res.get("observed_value", res.get("details", ""))
            failing = pd.DataFrame({"item_id": [None], "annotator_id": [None], "value": [f"observed {observed}"]})
    n_failing = 0 if passed or raised else int(res.get("unexpected_count", len(failing)))
    outcome = ExpectationOutcome(
        name=name, type=exp["type"], suite=suite.name, severity=meta["severity"], status=status, passed=passed,
        n_evaluated=None if evaluated is None else int(evaluated), n_failing=n_failing, why=meta["why"],
        rule=meta["rule"], kwargs={k: v for k, v in exp.get("kwargs", {}).items()},
        observed=res.get("observed_value"),
        error=(str(info.get("exception_message") or "").strip() or None) if raised else None,
        derived=meta.get("derived"),
    )
    failing.insert(0, "expectation", name)
    failing.insert(1, "suite", suite.name)
    failing.insert(2, "severity", meta["severity"])
    return outcome, failing


def validate(table: pd.DataFrame, guidelines: Guidelines | str | os.PathLike[str],
             suites: list[str | os.PathLike[str]] | list[Suite] | None = None, *,
             now: dt.datetime | None = None, retire_grace: float | None = None) -> ValidationReport:
    """Validate a canonical label table against the expectation suites.

    Parameters
    ----------
    table : DataFrame
        A canonical label table (:mod:`labkit.schema`), e.g. from :func:`labkit.io.load_labels`.
    guidelines : Guidelines or path
        The guideline versions (``guidelines/``) the conformance expectations are fed from.
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
    if isinstance(guidelines, (str, os.PathLike)):
        root = str(guidelines)
        guidelines = Guidelines.load(root)
    elif isinstance(guidelines, Guidelines):
        root = guidelines.root or ""
    else:
        raise ParameterError(f"guidelines must be a Guidelines or a folder path, got {type(guidelines).__name__}")
    grace = float(retire_grace) if retire_grace is not None else (retire_grace_days(root) if root else 0.0)
    if suites and all(isinstance(s, Suite) for s in suites):
        suite_objs: list[Suite] = list(suites)  # type: ignore[arg-type]
    else:
        suite_objs = load_suites(list(suites) if suites else None)  # type: ignore[arg-type]
    params = run_parameters(guidelines, grace, now)

    t_import = time.perf_counter()
    gx = _import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    t_run = time.perf_counter()
    frame = table.reset_index(drop=True)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    expectations: list[dict[str, Any]] = []
    owners: list[tuple[dict[str, Any], Suite]] = []
    for s in suite_objs:
        for exp in s.expectations:
            e = {"type": exp["type"], "kwargs": dict(exp.get("kwargs", {})), "meta": dict(exp["meta"]),
                 "severity": exp["meta"]["severity"]}
            expectations.append(e)
            owners.append((exp, s))
    try:
        suite = context.suites.add(gx.ExpectationSuite(name="labkit", expectations=expectations))
    except Exception as exc:  # GX raises several types for an unknown type or a bad kwarg
        raise ParameterError(f"a suite does not load in Great Expectations: {exc}") from None
    batch_def = (context.data_sources.add_pandas("labkit").add_dataframe_asset("labels")
                 .add_batch_definition_whole_dataframe("all"))
    # Batch.validate rather than a ValidationDefinition: the same validation, without serializing
    # and storing the full result in the (ephemeral) results store, which cost seconds per run.
    batch = batch_def.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(
        suite, expectation_parameters=params,
        result_format={"result_format": "COMPLETE", "return_unexpected_index_query": False,
                       "partial_unexpected_count": 0, "exclude_unexpected_values": True})
    by_id = {r.expectation_config.id: r for r in result.results}
    outcomes: list[ExpectationOutcome] = []
    failing: list[pd.DataFrame] = []
    for gx_exp, (exp, s) in zip(suite.expectations, owners):
        r = by_id.get(gx_exp.id)
        if r is None:  # never silently drop an expectation
            raise GuidelineError(f"{s.path}: expectation {exp['type']} produced no result")
        o, f = _outcome(exp, s, r, frame)
        outcomes.append(o)
        if len(f):
            failing.append(f)
    failures = pd.concat(failing, ignore_index=True) if failing else pd.DataFrame(columns=FAILURE_COLUMNS)
    failures = failures[FAILURE_COLUMNS]
    done = time.perf_counter()
    return ValidationReport(
        outcomes=outcomes, failures=failures.reset_index(drop=True),
        n_rows=int(len(frame)), n_items=int(frame["item_id"].nunique()) if "item_id" in frame else 0,
        n_annotators=int(frame["annotator_id"].nunique()) if "annotator_id" in frame else 0,
        suites=[s.path for s in suite_objs], guidelines=root,
        started_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        timings={"prepare_s": round(t_import - t0, 3), "gx_import_s": round(t_run - t_import, 3),
                 "gx_run_s": round(done - t_run, 3)},
        gx_version=str(gx.__version__), parameters={"now": params["now"].isoformat(), "retire_grace_days": grace},
    )


def validate_path(labels: str | os.PathLike[str] | list[str], guidelines: str | os.PathLike[str],
                  suites: list[str | os.PathLike[str]] | None = None, **kwargs: Any) -> ValidationReport:
    """:func:`validate` over anything :func:`labkit.io.load_labels` reads (a path, a list or ``"a:b"``)."""
    from labkit.io import load_labels

    report = validate(load_labels(labels), guidelines, suites, **kwargs)
    report.source = [str(p) for p in labels] if isinstance(labels, list) else [str(labels)]
    return report


__all__ = ["validate", "validate_path", "expectation_name"]
