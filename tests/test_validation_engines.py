"""Validation on each installed engine gives what the in-memory (pandas) path gives.

Generated programs (hypothesis: several tasks, three guideline versions plus unknown and blank ones,
missing values that the import quarantines and missing values it keeps, planted duplicates, too-fast
and negative durations, confidences out of range, future timestamps, exclusive labels together,
items below the overlap) are written as Parquet and validated by ``--engine pandas`` (the oracle:
the GX suites over the whole table in memory) and ``--engine duckdb`` (GX over item-partitioned
batches, cross-item tests over the whole input), with batches small enough that every program spans
several of them. Compared: every field of every per-expectation outcome, the failing-rows table
row for row, and the import quarantine (file, record, field, reason, original), with
records_in = accepted + quarantined.

``--engine spark`` (Spark shuffles the item partitions and computes the cross-item reductions, GX
runs on the partitions) is compared the same way on a few programs and the sample, with ONE local
Spark session for the whole test module; skipped only when pyspark or Java is missing (CI has both).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from labkit.cli import main
from labkit.errors import ParameterError
from labkit.io import load_labels
from labkit.schema import write_labels
from labkit.validation.scale import validate_engine

ROOT = Path(__file__).resolve().parents[1]
GUIDELINES = ROOT / "guidelines"
SAMPLE = ROOT / "sample" / "labels.csv"
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)

LABELS = {"1.0.0": ["ok", "offensive", "hate", "spam"], "1.1.0": ["ok", "offensive", "hate", "spam", "self_promotion"],
          "2.0.0": ["ok", "insult", "hate", "spam"]}


@st.composite
def programs(draw: st.DrawFn) -> pd.DataFrame:
    """A raw label export (strings, as a data lake holds it) with planted problems."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n_items = draw(st.integers(30, 90))
    n_ann = draw(st.integers(4, 14))
    rows = []
    for i in range(n_items):
        task = "toxicity" if rng.random() < 0.75 else "sentiment"
        version = rng.choice(["1.0.0", "1.1.0", "2.0.0", "9.9.9", ""], p=[0.3, 0.25, 0.35, 0.05, 0.05])
        k = int(rng.integers(1, 6))  # unequal raters; some items below the overlap k = 3
        for a in rng.choice(n_ann, size=min(k, n_ann), replace=False):
            names = LABELS.get(version, LABELS["2.0.0"]) if task == "toxicity" else ["pos", "neg", "neu"]
            label = str(rng.choice(names)) if rng.random() > 0.03 else "insult_typo"
            created = pd.Timestamp("2026-09-01", tz="UTC") + pd.Timedelta(minutes=float(rng.uniform(0, 130_000)))
            rows.append({"item_id": f"it{i}", "annotator_id": f"a{a}", "task": task, "label": label,
                         "guideline_version": version if task == "toxicity" else "",
                         "created_at": created.isoformat(), "duration_s": f"{rng.lognormal(2.0, 0.8):.3f}",
                         "confidence": f"{rng.uniform(0, 1):.3f}", "source": "human",
                         "stage": "label" if rng.random() > 0.1 else "review", "slice": f"s{i % 3}"})
            if task == "toxicity" and rng.random() < 0.08:  # a second label in one judgement: may contradict
                rows.append(dict(rows[-1], label=str(rng.choice(LABELS.get(version, LABELS["2.0.0"])))))
    df = pd.DataFrame(rows)
    n = len(df)

    def pick(p: float) -> np.ndarray:
        return rng.random(n) < p

    df.loc[pick(0.02), "duration_s"] = "0.2"                  # too fast
    df.loc[pick(0.01), "duration_s"] = "-4"                   # impossible
    df.loc[pick(0.01), "duration_s"] = "900"                  # outlier
    df.loc[pick(0.03), "duration_s"] = None                   # missing, kept
    df.loc[pick(0.01), "confidence"] = "1.5"                  # out of range
    df.loc[pick(0.01), "created_at"] = "2027-03-01T00:00:00Z"  # in the future
    df.loc[pick(0.02), "annotator_id"] = None                 # quarantined by the import
    df.loc[pick(0.01), "item_id"] = "  "                      # quarantined (empty)
    df.loc[pick(0.01), "confidence"] = "high"                 # quarantined (not a number)
    df.loc[pick(0.01), "source"] = "robot"                    # quarantined (unknown source)
    spammer = f"a{n_ann}"  # one more annotator answers "ok" on every toxicity item: the distribution test's case
    tox = df[df["task"] == "toxicity"].drop_duplicates("item_id")
    df = pd.concat([df, tox.assign(annotator_id=spammer, label="ok", stage="label"),
                    tox.assign(annotator_id=spammer, label="ok", stage="review")], ignore_index=True)
    dup = df.sample(n=max(1, n // 40), random_state=seed % 1000)
    return pd.concat([df, dup], ignore_index=True)


def _assert_same(a, b) -> None:
    """Two reports agree on everything but timings and the engine name."""
    assert [o.name for o in a.outcomes] == [o.name for o in b.outcomes]
    for oa, ob in zip(a.outcomes, b.outcomes):
        assert oa == ob, (oa, ob)
    pd.testing.assert_frame_equal(a.failures.astype(object), b.failures.astype(object))
    assert (a.n_rows, a.n_items, a.n_annotators, a.gate) == (b.n_rows, b.n_items, b.n_annotators, b.gate)
    assert a.records_in == b.records_in == a.n_rows + a.n_quarantined
    pd.testing.assert_frame_equal(a.quarantine.astype(object), b.quarantine.astype(object))
    sa, sb = a.summary(), b.summary()
    for k in ("timings", "engine", "source"):  # source: the same files, named as a folder or a list
        sa.pop(k), sb.pop(k)
    assert sa == sb


@settings(max_examples=6, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prog=programs(), files=st.integers(1, 3), batch=st.sampled_from([37, 90, 10_000]))
def test_duckdb_validation_matches_in_memory(prog: pd.DataFrame, files: int, batch: int, tmp_path_factory) -> None:
    where = tmp_path_factory.mktemp("prog")
    paths = []
    for k, part in enumerate(np.array_split(np.arange(len(prog)), files)):
        p = where / f"labels-{k}.parquet"
        prog.iloc[part].reset_index(drop=True).to_parquet(p, index=False)
        paths.append(str(p))
    spec = ":".join(paths)
    ref = validate_engine(spec, GUIDELINES, engine="pandas", now=NOW)
    got = validate_engine(spec, GUIDELINES, engine="duckdb", now=NOW, batch_rows=batch)
    _assert_same(ref, got)
    # the planted problems are there to compare (not a vacuous equality)
    failed = {o.name for o in ref.outcomes if o.status == "failed"}
    assert "expect_compound_columns_to_be_unique(item_id, annotator_id, task, stage, label)" in failed
    assert "expect_annotator_label_distribution_to_match_pool" in failed
    assert ref.n_quarantined > 0 and got.quarantine["reason"].str.contains("annotator_id is empty").any()


def _have_spark() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return bool(shutil.which("java") or os.environ.get("JAVA_HOME"))


needs_spark = pytest.mark.skipif(not _have_spark(), reason="pyspark or Java 17 not installed (CI installs both)")


@pytest.fixture(scope="module")
def spark_session():
    """One local Spark session for the module (labkit's builder; getOrCreate hands it to the engine)."""
    from labkit.engines.spark_engine import local_session

    yield local_session("local[2]")


def _write_program(prog: pd.DataFrame, files: int, where: Path) -> str:
    paths = []
    for k, part in enumerate(np.array_split(np.arange(len(prog)), files)):
        p = where / f"labels-{k}.parquet"
        prog.iloc[part].reset_index(drop=True).to_parquet(p, index=False)
        paths.append(str(p))
    return ":".join(paths)


@needs_spark
@settings(max_examples=3, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prog=programs(), files=st.integers(1, 3), batch=st.sampled_from([37, 90, 10_000]))
def test_spark_validation_matches_in_memory(prog: pd.DataFrame, files: int, batch: int, tmp_path_factory,
                                            spark_session) -> None:
    spec = _write_program(prog, files, tmp_path_factory.mktemp("sprog"))
    ref = validate_engine(spec, GUIDELINES, engine="pandas", now=NOW)
    got = validate_engine(spec, GUIDELINES, engine="spark", now=NOW, batch_rows=batch, master="local[2]")
    _assert_same(ref, got)
    assert got.engine == "spark"
    failed = {o.name for o in ref.outcomes if o.status == "failed"}
    assert "expect_compound_columns_to_be_unique(item_id, annotator_id, task, stage, label)" in failed
    assert "expect_annotator_label_distribution_to_match_pool" in failed
    assert ref.n_quarantined > 0 and got.quarantine["reason"].str.contains("annotator_id is empty").any()


@pytest.fixture(scope="module")
def sample_parquet(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("sample")
    t = load_labels(SAMPLE)
    write_labels(t.iloc[: len(t) // 2].reset_index(drop=True), d / "a.parquet")
    write_labels(t.iloc[len(t) // 2:].reset_index(drop=True), d / "b.parquet")
    return d


def test_bundled_sample_same_on_duckdb_from_a_folder(sample_parquet) -> None:
    """The sample with every planted problem, canonical Parquet in a folder, several batches."""
    files = ":".join(str(p) for p in sorted(sample_parquet.glob("*.parquet")))
    ref = validate_engine(files, GUIDELINES, engine="pandas", now=NOW)
    folder = validate_engine(str(sample_parquet), GUIDELINES, engine="pandas", now=NOW)  # a folder, in memory
    _assert_same(ref, folder)
    got = validate_engine(str(sample_parquet), GUIDELINES, engine="duckdb", now=NOW, batch_rows=1000)
    _assert_same(ref, got)
    assert not ref.gate and len(ref.failures) > 300
    assert {o.name for o in got.outcomes if o.status == "failed"} >= {
        "expect_annotator_label_distribution_to_match_pool", "expect_judgement_duration_not_outlier",
        "expect_labels_to_respect_exclusivity"}


def _cli_summaries(capsys, path: str, engines: tuple[str, ...], *extra: str) -> dict[str, dict]:
    """``labkit validate PATH --engine E --json`` per engine (the sample fails the gate: exit 1): each JSON summary
    with its timings dropped and its engine name checked and removed, so the rest can be compared as is."""
    out = {}
    for engine in engines:
        rc = main(["validate", path, "--guidelines", str(GUIDELINES), "--engine", engine, *extra, "--json"])
        cap = capsys.readouterr()
        assert rc == 1 and f"engine: {engine} (requested with --engine)" in cap.err
        summary = json.loads(cap.out.strip().splitlines()[-1])
        summary.pop("timings")
        assert summary.pop("engine")["name"] == engine
        out[engine] = summary
    return out


def test_cli_validate_engine_choice_and_same_summary(sample_parquet, capsys) -> None:
    path = str(sample_parquet / "a.parquet")
    out = _cli_summaries(capsys, path, ("pandas", "duckdb"), "--memory-limit", "1GB")
    assert out["pandas"] == out["duckdb"]
    # auto with a budget smaller than the input's estimate picks duckdb and says why
    rc = main(["validate", path, "--guidelines", str(GUIDELINES), "--memory-limit", "100KB", "--json"])
    cap = capsys.readouterr()
    assert rc == 1 and "engine: duckdb (" in cap.err and "over the" in cap.err
    assert json.loads(cap.out.strip().splitlines()[-1])["engine"]["name"] == "duckdb"


@needs_spark
def test_bundled_sample_same_on_spark_and_cli(sample_parquet, spark_session, capsys) -> None:
    """The sample (every planted problem, outliers included) through the CLI's spark engine: same summary,
    same failures as pandas; and the report object row for row."""
    ref = validate_engine(str(sample_parquet), GUIDELINES, engine="pandas", now=NOW)
    got = validate_engine(str(sample_parquet), GUIDELINES, engine="spark", now=NOW, batch_rows=1000)
    _assert_same(ref, got)
    assert {o.name for o in got.outcomes if o.status == "failed"} >= {
        "expect_annotator_label_distribution_to_match_pool", "expect_judgement_duration_not_outlier"}
    out = _cli_summaries(capsys, str(sample_parquet), ("pandas", "spark"))
    assert out["pandas"] == out["spark"]


def test_duckdb_and_spark_refuse_non_parquet(tmp_path) -> None:
    with pytest.raises(ParameterError, match="--engine duckdb validates Parquet"):
        validate_engine(str(SAMPLE), GUIDELINES, engine="duckdb")
    if _have_spark():
        with pytest.raises(ParameterError, match="--engine spark validates Parquet"):
            validate_engine(str(SAMPLE), GUIDELINES, engine="spark")


def test_spark_missing_says_how_to_install(monkeypatch) -> None:
    import sys

    from labkit.engines.base import EngineMissing

    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(EngineMissing, match=r"pip install 'labkit\[spark\]'"):
        validate_engine(str(SAMPLE), GUIDELINES, engine="spark")
