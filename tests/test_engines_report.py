"""The quality report out of core (``engine="duckdb"``) gives the in-memory report's numbers for every
section it computes, and says which sections it leaves out."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from labkit.errors import ParameterError
from labkit.io import load_labels
from labkit.reports.model import Table
from labkit.reports.quality import build
from labkit.schema import conform_labels, write_labels

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("lake")
    table = load_labels(ROOT / "sample" / "labels.csv")
    # two files with different dictionaries, as a lake folder holds them
    half = len(table) // 2
    write_labels(table.iloc[:half].reset_index(drop=True), d / "part-0.parquet")
    write_labels(table.iloc[half:].reset_index(drop=True), d / "part-1.parquet")
    return f"{d / 'part-0.parquet'}:{d / 'part-1.parquet'}"  # the in-memory loader takes files joined by ':'


def _agreement_tables(rep) -> dict[str, object]:
    sec = next(s for s in rep.sections if s.title == "Agreement")
    return {b.caption: b.frame for b in sec.blocks if isinstance(b, Table)}


@pytest.mark.parametrize("gold", ["sample/gold.csv", ""])
def test_out_of_core_report_equals_in_memory(sample: str, gold: str) -> None:
    kw = dict(validate=False, n_boot=50)
    mem = build(sample, str(ROOT / gold) if gold else "", **kw)
    ooc = build(sample, str(ROOT / gold) if gold else "", engine="duckdb", memory_limit="512MB", **kw)
    for k in ("judgements", "items", "annotators", "task"):
        assert mem.headline[k] == ooc.headline[k], k
    assert abs(mem.headline["alpha"] - ooc.headline["alpha"]) <= 1e-9
    assert ooc.headline["engine"] == "duckdb"
    if gold:
        assert abs(mem.headline["gold_accuracy"] - ooc.headline["gold_accuracy"]) <= 1e-9
    else:
        assert ooc.headline["gold_accuracy"] is None
    a, b = _agreement_tables(mem), _agreement_tables(ooc)
    for cap in ("Agreement per label", "Agreement per slice", "Agreement per guideline version"):
        x, y = a[cap], b[cap]
        key = x.columns[0]
        assert list(x[key].astype(str)) == list(y[key].astype(str)), cap
        for u, v in zip(x["alpha"], y["alpha"]):
            assert (math.isnan(u) and math.isnan(v)) or abs(u - v) <= 1e-9, cap
        assert list(x["n_items"]) == list(y["n_items"]), cap
    # what is left out is said, not silently dropped
    titles = {s.title: s for s in ooc.sections}
    assert "not computed out of core" in titles["Calibration of stated confidence"].unavailable
    assert "labkit validate" in titles["Validation"].unavailable or not kw["validate"]
    assert any("not on this page" in f.text for f in ooc.findings)


def test_out_of_core_report_refuses_non_parquet_and_other_engines(sample: str) -> None:
    with pytest.raises(ParameterError, match="reads Parquet"):
        build(str(ROOT / "sample" / "labels.csv"), engine="duckdb", validate=False)
    with pytest.raises(ParameterError, match="slice: 'nope' is not in the labels"):
        build(sample, engine="duckdb", slice="nope", validate=False)


def test_auto_keeps_small_inputs_in_memory(sample: str) -> None:
    rep = build(sample, engine="auto", memory_limit="1GB", validate=False, n_boot=20)
    assert "engine" not in rep.headline  # the in-memory report: every section
    rep2 = build(sample, engine="auto", memory_limit="1KB", validate=False, n_boot=20)
    assert rep2.headline["engine"] == "duckdb"


def test_report_run_engine_flags_reach_the_quality_notebook() -> None:
    """``labkit report run --engine duckdb --memory-limit 2GB`` = ``-p engine=duckdb -p memory_limit=2GB``
    for the reports that declare them (the quality report's parameters cell)."""
    from labkit.cli import build_parser
    from labkit.reports.config import load_config
    from labkit.reports.runner import plan

    args = build_parser().parse_args(["report", "run", "--engine", "duckdb", "--memory-limit", "2GB"])
    assert (args.engine, args.memory_limit, args.temp_dir) == ("duckdb", "2GB", None)
    jobs = plan(load_config(ROOT / "reports.yaml"), only=["quality_report"],
                cli_params={"engine": "duckdb", "memory_limit": "2GB"})
    assert jobs[0].parameters["engine"] == "duckdb" and jobs[0].parameters["memory_limit"] == "2GB"


def test_both_reports_choose_and_refuse_tasks_alike(tmp_path: Path) -> None:
    """One task-choosing rule: with two tasks of equal size both reports measure the first by name and say so;
    an unknown task and a filter that leaves nothing are refused with the same messages in and out of core."""
    import pandas as pd

    from labkit.errors import InputRefused

    table = load_labels(ROOT / "sample" / "labels.csv")
    table = table.loc[table["task"] == table["task"].iloc[0]].reset_index(drop=True)
    other = table.copy()
    other["task"] = "aardvark"
    both = conform_labels(pd.concat([table.astype({"task": str}), other.astype({"task": str})], ignore_index=True)).table
    path = tmp_path / "two.parquet"
    write_labels(both, path)
    kw = dict(validate=False, n_boot=20)
    mem = build(str(path), "", **kw)
    ooc = build(str(path), "", engine="duckdb", **kw)
    assert mem.headline["task"] == ooc.headline["task"] == "aardvark"
    with pytest.raises(ParameterError) as e1:
        build(str(path), "", task="nope", **kw)
    with pytest.raises(ParameterError) as e2:
        build(str(path), "", task="nope", engine="duckdb", **kw)
    assert str(e1.value) == str(e2.value) == (f"parameter task: 'nope' has no human judgements here; tasks: "
                                              f"aardvark, {table['task'].iloc[0]}")
    with pytest.raises(InputRefused) as r1:
        build(str(path), "", since="2099-01-01", **kw)
    with pytest.raises(InputRefused) as r2:
        build(str(path), "", since="2099-01-01", engine="duckdb", **kw)
    assert str(r1.value) == str(r2.value)
    assert "no human judgements to report on (after the filters)" in str(r1.value)
