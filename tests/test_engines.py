"""Every engine gives the numbers of the in-memory path.

Generated sparse programs (hypothesis: missing judgements, unequal raters per item, several tasks and
guideline versions, model pre-labels, duplicate rows, labels with quotes and numeric labels) are written
as canonical Parquet (one file, or hive-partitioned folders) and measured by each installed engine; every
reduced table must equal the pandas engine's and every statistic the in-memory path's to 1e-9.
The Spark engine is tested on one small program when pyspark and Java are installed (CI installs both:
see .ci and scripts/install-system-deps.sh); it is skipped otherwise.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.engines import EngineMissing, choose_engine, get_engine, parquet_input
from labkit.engines.base import parse_memory
from labkit.errors import InputRefused, ParameterError
from labkit.schema import conform_labels, write_labels
from labkit.stats import agreement as ag
from labkit.stats.consensus import DawidSkene
from labkit.stats.counts import CountTables, ItemLabelCounts
from labkit.stats.scoring import score_annotators

ROOT = Path(__file__).resolve().parents[1]
TOL = 1e-9


def _have_spark() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return bool(shutil.which("java") or os.environ.get("JAVA_HOME"))


@st.composite
def programs(draw: st.DrawFn) -> pd.DataFrame:
    """A sparse labeling program: items seen by a varying subset of annotators (some by one or none)."""
    n_tasks = draw(st.integers(1, 2))
    rows = []
    for t in range(n_tasks):
        numeric = draw(st.booleans())
        pool = ["1", "2", "3", "5", "10"] if numeric else ["pos", "neg", "it's", "n/a", "Ünï"]
        labels = pool[:draw(st.integers(1, len(pool)))]
        n_items = draw(st.integers(1, 25))
        n_ann = draw(st.integers(1, 6))
        for i in range(n_items):
            k = draw(st.integers(0, n_ann))  # 0: an item nobody judged (absent), 1: not pairable
            for a in draw(st.permutations(range(n_ann)))[:k]:
                lab = draw(st.sampled_from(labels))
                src = "model" if draw(st.integers(0, 9)) == 0 else "human"
                ver = draw(st.sampled_from(["v1", "v2"]))
                rows.append({"item_id": f"t{t}-i{i}", "annotator_id": f"a{a}", "label": lab, "task": f"task{t}",
                             "source": src, "guideline_version": ver})
                if draw(st.integers(0, 19)) == 0:  # a duplicate row counts as another rating
                    rows.append(dict(rows[-1]))
    if not rows:
        rows.append({"item_id": "x", "annotator_id": "a0", "label": "pos", "task": "task0", "source": "human",
                     "guideline_version": "v1"})
    return pd.DataFrame(rows)


def _canonical(df: pd.DataFrame) -> pd.DataFrame:
    res = conform_labels(df)
    assert len(res.rejects) == 0
    return res.table


def _write(table: pd.DataFrame, where: Path, hive: bool) -> str:
    if not hive:
        write_labels(table, where / "labels.parquet")
        return str(where / "labels.parquet")
    for t, part in table.groupby("task", observed=True):
        d = where / "lake" / f"task={t}"
        d.mkdir(parents=True)
        part.drop(columns=["task"]).reset_index(drop=True).to_parquet(d / "part-0.parquet", index=False)
    return str(where / "lake")


def _close(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= TOL


def _check_stats(folded: ItemLabelCounts, ct: CountTables) -> None:
    numeric = ct.label_values() is not None
    for level in ("nominal", "ordinal") + (("interval", "ratio") if numeric else ()):
        r1, r2 = ag.krippendorff_alpha(folded, level), ag.krippendorff_alpha(ct, level)
        assert _close(r1.value, r2.value), (level, r1, r2)
        assert (r1.n_items, r1.n_pairable, r1.reason) == (r2.n_items, r2.n_pairable, r2.reason)
    for f in (ag.fleiss_kappa, ag.percent_agreement, ag.gwet_ac1):
        r1, r2 = f(folded), f(ct)
        assert _close(r1.value, r2.value), (f.__name__, r1, r2)
        assert (r1.n_items, r1.n_pairable, r1.reason) == (r2.n_items, r2.n_pairable, r2.reason)


@pytest.fixture(scope="module")
def duck():
    with get_engine("duckdb") as eng:
        yield eng


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prog=programs(), hive=st.booleans(), source=st.sampled_from(["human", None]))
def test_duckdb_matches_in_memory(prog: pd.DataFrame, hive: bool, source: str | None, tmp_path_factory, duck) -> None:
    where = tmp_path_factory.mktemp("prog")
    table = _canonical(prog)
    inp = parquet_input(_write(table, where, hive))
    pand = get_engine("pandas")
    assert duck.tasks(inp) == pand.tasks(inp) == sorted(table["task"].astype(str).unique())
    gold = table.drop_duplicates("item_id").iloc[::2][["item_id", "label", "task"]].reset_index(drop=True)
    for task in pand.tasks(inp):
        ct = CountTables.from_labels(table, task=task, source=source)  # the in-memory path, on the full table
        a = pand.item_label_counts(inp, task=task, source=source)
        b = duck.item_label_counts(inp, task=task, source=source)
        assert a.equals(b), (a, b)
        assert b.n_items == ct.n_items and b.n_judgements == ct.n_judgements
        if ct.n_judgements == 0:  # a task with only model pre-labels: nothing to measure, on every engine
            assert b.n_items == 0 and not (table["task"].astype(str).eq(task) & table["source"].eq(source)).any()
            continue
        _check_stats(b, ct)
        # annotator x gold x label counts and leave-one-out counts = score_annotators' numbers
        g1 = pand.gold_counts(inp, gold, task=task, source=source)
        g2 = duck.gold_counts(inp, gold, task=task, source=source)
        pd.testing.assert_frame_equal(g1, g2)
        ref = score_annotators(table, gold, task=task, source=source)
        need = g2["n_gold"].to_numpy() == 0
        assert list(ref["annotator_id"]) == list(g2["annotator_id"])
        assert (ref["n"].to_numpy() == np.where(need, g2["n_loo"], g2["n_gold"])).all()
        assert (ref["correct"].to_numpy() == np.where(need, g2["correct_loo"], g2["correct_gold"])).all()
        # Dawid-Skene: same EM steps, same parameters, same consensus; on integer codes pulled from DuckDB
        # (the default when they fit the memory budget) and with every EM step in SQL
        ds = DawidSkene().fit_counts(ct)
        for pull in (True, False):
            duck.ds_pull = pull
            try:
                _check_ds(duck, inp, task, source, gold, where / f"cons-{task}-{pull}.parquet", ds)
            finally:
                duck.ds_pull = True


def _check_ds(duck, inp, task: str, source: str | None, gold: pd.DataFrame, out: Path, ds: DawidSkene) -> None:
    r = duck.dawid_skene(inp, task=task, source=source, out=str(out), gold=gold)
    assert (r.n_iter, r.n_extrapolated, r.converged) == (ds.n_iter_, ds.n_extrapolated_, ds.converged_)
    order = ds.annotators_.astype(str).get_indexer(r.annotators)
    assert np.abs(r.errors - ds.errors_[order]).max() <= TOL
    assert np.abs(r.priors.to_numpy() - ds.priors_.to_numpy()).max() <= TOL
    got = pd.read_parquet(out).astype({"item_id": str, "label": str}).set_index("item_id").sort_index()
    want = ds.consensus_.astype({"item_id": str, "label": str}).set_index("item_id").sort_index()
    assert list(got.index) == list(want.index)
    assert np.abs(got["confidence"].to_numpy() - want["confidence"].to_numpy()).max() <= TOL
    assert (got["n_judgements"].to_numpy() == want["n_judgements"].to_numpy()).all()
    post = np.sort(ds.posteriors_.to_numpy(), axis=1)
    clear = (post[:, -1] - post[:, -2] > 1e-6) if post.shape[1] > 1 else np.ones(len(post), bool)
    assert (got["label"].to_numpy()[clear] == want["label"].to_numpy()[clear]).all()
    assert set(got.columns) >= {"task", "label", "confidence", "n_judgements", "method"}


def test_folded_counts_equal_item_counts_on_public_data(duck, tmp_path) -> None:
    """Public RTE crowd labels (Snow et al. 2008): folded counts from DuckDB give the in-memory values."""
    from labkit.io import load_labels

    src = ROOT / "tests" / "data" / "public" / "snow2008_rte" / "long.csv"
    table = load_labels(src)
    write_labels(table, tmp_path / "rte.parquet")
    inp = parquet_input(str(tmp_path / "rte.parquet"))
    ct = CountTables.from_labels(table)
    folded = duck.item_label_counts(inp)
    assert folded.patterns.shape[0] < ct.n_items  # 800 items fold to a handful of distinct rows
    _check_stats(folded, ct)


def test_folded_bootstrap_is_engine_independent(duck, tmp_path) -> None:
    from labkit.io import load_labels

    table = load_labels(ROOT / "sample" / "labels.csv")
    write_labels(table, tmp_path / "s.parquet")
    inp = parquet_input(str(tmp_path / "s.parquet"))
    a = get_engine("pandas").item_label_counts(inp)
    b = duck.item_label_counts(inp)
    r1 = ag.krippendorff_alpha(a, ci=0.95, n_boot=400, seed=3)
    r2 = ag.krippendorff_alpha(b, ci=0.95, n_boot=400, seed=3)
    assert (r1.ci_low, r1.ci_high) == (r2.ci_low, r2.ci_high)
    # the multinomial draw over folded rows resamples items: its interval matches the item bootstrap's
    r3 = ag.krippendorff_alpha(table, ci=0.95, n_boot=2000, seed=3)
    r4 = ag.krippendorff_alpha(b, ci=0.95, n_boot=2000, seed=3)
    assert abs(r3.ci_low - r4.ci_low) < 0.01 and abs(r3.ci_high - r4.ci_high) < 0.01
    assert r4.ci_low < r4.value < r4.ci_high


def test_missing_ids_are_refused_not_dropped(duck, tmp_path) -> None:
    """A Parquet file with a judgement lacking an annotator: both engines refuse it, naming the field."""
    df = pd.DataFrame({"item_id": ["a", "a", "b"], "annotator_id": ["x", None, "y"], "label": ["p", "n", "p"],
                       "task": ["t"] * 3, "source": ["human"] * 3})
    df.to_parquet(tmp_path / "bad.parquet", index=False)
    inp = parquet_input(str(tmp_path / "bad.parquet"))
    with pytest.raises(InputRefused) as e1:
        get_engine("pandas").item_label_counts(inp)
    assert e1.value.field == "annotator_id" and e1.value.record == 1 and "bad.parquet" in str(e1.value)
    with get_engine("duckdb") as eng, pytest.raises(InputRefused) as e2:
        eng.item_label_counts(inp)
    assert e2.value.field == "annotator_id" and "1 row(s) have no value" in str(e2.value)


def test_inputs_and_choice(tmp_path) -> None:
    with pytest.raises(InputRefused, match="the folder holds no .parquet file"):
        parquet_input(str(tmp_path))
    with pytest.raises(InputRefused, match="the glob matches no .parquet file"):
        parquet_input(str(tmp_path / "*.parquet"))
    assert parquet_input(str(ROOT / "sample" / "labels.csv")) is None
    table = _canonical(pd.DataFrame({"item_id": list("aabb"), "annotator_id": list("xyxy"), "label": list("ppnp")}))
    write_labels(table, tmp_path / "a.parquet")
    write_labels(table, tmp_path / "b.parquet")
    assert len(parquet_input(str(tmp_path / "*.parquet")).files) == 2
    assert parquet_input(str(tmp_path)).n_rows() == 8
    small = choose_engine("auto", str(tmp_path), "1GB")
    assert small.name == "pandas" and "within the 1.00 GiB budget" in small.reason
    big = choose_engine("auto", str(tmp_path), "100B")
    assert big.name == "duckdb" and "over the" in big.reason and big.estimate == 8 * 120
    assert choose_engine("auto", str(ROOT / "sample" / "labels.csv")).reason == "input is not Parquet: read in memory"
    with pytest.raises(ParameterError, match="--engine duckdb reads Parquet"):
        choose_engine("duckdb", str(ROOT / "sample" / "labels.csv"))
    assert parse_memory("2GB") == 2 << 30 and parse_memory("512MiB") == 512 << 20 and parse_memory("1.5g") == 3 << 29
    with pytest.raises(ParameterError, match="--memory-limit must look like 2GB"):
        parse_memory("lots")


def test_spark_missing_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(EngineMissing, match=r"pip install 'labkit\[spark\]'"):
        get_engine("spark")


def _cli(*args: str) -> tuple[int, dict, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "labkit", *args, "--json"], capture_output=True, text=True, env=env,
                       cwd=ROOT, timeout=600)
    last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else "{}"
    return p.returncode, json.loads(last) if last.startswith("{") else {}, p.stderr


def test_cli_engines_agree(tmp_path) -> None:
    from labkit.io import load_labels

    write_labels(load_labels(ROOT / "sample" / "labels.csv"), tmp_path / "s.parquet")
    src = str(tmp_path / "s.parquet")
    rc, a, err_a = _cli("agreement", src, "--engine", "pandas", "--metric", "fleiss")
    rc2, b, err_b = _cli("agreement", src, "--engine", "duckdb", "--metric", "fleiss", "--memory-limit", "512MB",
                         "--temp-dir", str(tmp_path / "spill"))
    assert rc == rc2 == 0 and abs(a["kappa"] - b["kappa"]) <= TOL and a["n_items"] == b["n_items"]
    assert b["engine"]["name"] == "duckdb" and "engine: duckdb (requested with --engine)" in err_b
    rc, a, _ = _cli("consensus", src, "--method", "ds", "--gold", "sample/gold.csv", "--engine", "pandas",
                    "--out", str(tmp_path / "c1.parquet"))
    rc2, b, _ = _cli("consensus", src, "--method", "ds", "--gold", "sample/gold.csv", "--engine", "duckdb",
                     "--out", str(tmp_path / "c2.parquet"))
    assert rc == rc2 == 0
    for k in ("n_items", "n_iter", "adjudication_queue", "accuracy", "n_gold_items", "converged"):
        assert a[k] == b[k], k
    assert abs(a["mean_confidence"] - b["mean_confidence"]) <= TOL
    c1 = pd.read_parquet(tmp_path / "c1.parquet").astype({"item_id": str, "label": str}).sort_values("item_id")
    c2 = pd.read_parquet(tmp_path / "c2.parquet").astype({"item_id": str, "label": str}).sort_values("item_id")
    assert (c1["item_id"].to_numpy() == c2["item_id"].to_numpy()).all()
    assert (c1["label"].to_numpy() == c2["label"].to_numpy()).all()
    rc, a, _ = _cli("score", src, "--gold", "sample/gold.csv", "--engine", "pandas")
    rc2, b, _ = _cli("score", src, "--gold", "sample/gold.csv", "--engine", "duckdb")
    assert rc == rc2 == 0 and a["annotators"] == b["annotators"] and a["accuracy"] == b["accuracy"]
    for by in ("label", "task"):  # breakdowns: one-vs-rest from folded counts, one task at a time
        rc, a, _ = _cli("agreement", src, "--engine", "pandas", "--by", by, "--metric", "ac1")
        rc2, b, _ = _cli("agreement", src, "--engine", "duckdb", "--by", by, "--metric", "ac1")
        assert rc == rc2 == 0 and len(a["groups"]) == len(b["groups"]) >= 1
        for ga, gb in zip(a["groups"], b["groups"]):
            assert ga[by] == gb[by] and ga["n_items"] == gb["n_items"] and ga["n_judgements"] == gb["n_judgements"]
            assert abs(ga["ac1"] - gb["ac1"]) <= TOL
    rc, _, err = _cli("agreement", src, "--engine", "duckdb", "--metric", "cohen")
    assert rc == 2 and "--metric cohen needs paired labels and runs in memory" in err
    rc, _, err = _cli("agreement", "sample/labels.csv", "--engine", "duckdb")
    assert rc == 2 and "--engine duckdb reads Parquet" in err
    rc, a, err = _cli("agreement", src, "--memory-limit", "1KB")
    assert rc == 0 and a["engine"]["name"] == "duckdb" and "over the" in a["engine"]["reason"]


@pytest.mark.skipif(not _have_spark(), reason="pyspark or Java 17 not installed (CI installs both)")
def test_spark_matches_pandas(tmp_path) -> None:
    """One small program with two tasks, hive-partitioned: Spark's reduced tables and Dawid-Skene equal
    the pandas engine's (local[1], loopback only)."""
    rng = np.random.default_rng(7)
    rows = [{"item_id": f"i{i}", "annotator_id": f"a{a}", "label": str(rng.integers(1, 4)), "task": f"t{i % 2}",
             "source": "human", "guideline_version": "v1"}
            for i in range(40) for a in rng.choice(5, size=rng.integers(1, 5), replace=False)]
    table = _canonical(pd.DataFrame(rows))
    inp = parquet_input(_write(table, tmp_path, hive=True))
    gold = table.drop_duplicates("item_id").iloc[::3][["item_id", "label", "task"]]
    pand = get_engine("pandas")
    with get_engine("spark", master="local[1]") as spark:
        assert spark.tasks(inp) == ["t0", "t1"]
        for task in ("t0", "t1"):
            a, b = pand.item_label_counts(inp, task=task), spark.item_label_counts(inp, task=task)
            assert a.equals(b)
            _check_stats(b, CountTables.from_labels(table, task=task))
            pd.testing.assert_frame_equal(pand.gold_counts(inp, gold, task=task), spark.gold_counts(inp, gold, task=task))
        r1 = pand.dawid_skene(inp, task="t0", max_iter=5)
        r2 = spark.dawid_skene(inp, task="t0", max_iter=5, out=str(tmp_path / "c.parquet"))
        assert r1.n_iter == r2.n_iter and np.abs(r1.errors - r2.errors).max() <= TOL
        assert abs(r1.stats["mean_confidence"] - r2.stats["mean_confidence"]) <= TOL
        assert len(pd.read_parquet(tmp_path / "c.parquet")) == r1.n_items


def test_packed_counts_fall_back_when_an_item_has_many_judgements(duck, tmp_path) -> None:
    """15 labels leave 4 bits per label in the packed per-item sum: an item with 16 judgements of one
    label would overflow it, so the engine recounts with one sum per label (same table as in memory)."""
    labels = [f"k{j:02d}" for j in range(15)]
    rows = [{"item_id": "big", "annotator_id": f"a{a}", "label": "k03"} for a in range(20)]
    rows += [{"item_id": f"i{i}", "annotator_id": f"a{a}", "label": labels[(i + a) % 15]} for i in range(30) for a in range(3)]
    table = _canonical(pd.DataFrame(rows))
    write_labels(table, tmp_path / "w.parquet")
    inp = parquet_input(str(tmp_path / "w.parquet"))
    a, b = get_engine("pandas").item_label_counts(inp), duck.item_label_counts(inp)
    assert a.equals(b) and b.patterns.max() == 20
    _check_stats(b, CountTables.from_labels(table))


def test_reader_codes_without_python_strings(tmp_path) -> None:
    """Files written by other tools: per-file dictionaries that differ, integer ids, a plain (not
    dictionary-encoded) column; the codes map to the same ids as load_labels reads them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from labkit.engines.pandas_engine import read_ids
    from labkit.io import load_labels

    d = tmp_path / "lake"
    d.mkdir()
    pq.write_table(pa.table({"item_id": pa.array([3, 1, 3, 2], pa.int64()), "annotator_id": ["x", "y", "y", "x"],
                             "label": ["p", "n", "p", "p"]}), d / "a.parquet")
    pq.write_table(pa.table({"item_id": pa.array([7, 1], pa.int64()), "annotator_id": ["z", "x"],
                             "label": ["n", "n"]}), d / "b.parquet", use_dictionary=False)
    inp = parquet_input(str(d))
    got = read_ids(inp)
    assert list(got["item_id"].astype(str)) == ["3", "1", "3", "2", "7", "1"]
    assert list(got["annotator_id"].astype(str)) == ["x", "y", "y", "x", "z", "x"]
    assert got["item_id"].cat.categories.is_unique and len(got["item_id"].cat.categories) == 4
    assert list(got["task"].astype(str)) == ["default"] * 6 and list(got["source"].astype(str)) == ["human"] * 6
    ref = load_labels([str(d / "a.parquet"), str(d / "b.parquet")])
    r1 = ag.krippendorff_alpha(got)
    r2 = ag.krippendorff_alpha(ref)
    assert abs(r1.value - r2.value) <= TOL and r1.n_items == r2.n_items == 4


def test_duckdb_spills_outside_the_working_directory(tmp_path, monkeypatch) -> None:
    """Without --temp-dir DuckDB would spill into ./.tmp of wherever labkit runs: it gets a folder of its
    own under the system temp dir, removed on close."""
    monkeypatch.chdir(tmp_path)
    eng = get_engine("duckdb", memory_limit="256MB")
    spill = eng.con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    assert not str(spill).startswith(str(tmp_path)) and os.path.isdir(spill)
    eng.close()
    assert not os.path.exists(spill) and not (tmp_path / ".tmp").exists()


@pytest.mark.parametrize("shuffled", [False, True])
def test_reader_unifies_row_group_dictionaries_of_a_write_labels_file(tmp_path, monkeypatch, shuffled) -> None:
    """``write_labels`` stores a wide id column as strings in many row groups, each with its own dictionary.
    Ordered by item, those dictionaries are sorted runs (an item may straddle two row groups) and are merged
    without hashing; in any other order they are hashed. Either way the pandas engine reads the rows DuckDB
    and ``load_labels`` read, in order."""
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    import labkit.schema as schema
    from labkit.engines.pandas_engine import read_ids
    from labkit.io import load_labels

    monkeypatch.setattr(schema, "WIDE_DICTIONARY", 4)
    monkeypatch.setattr(schema, "ROW_GROUP_ROWS", 7)
    rng = np.random.default_rng(3)
    rows = [{"item_id": f"i{i:03d}", "annotator_id": f"a{a}", "label": ["p", "n", "x"][int(rng.integers(3))]}
            for i in range(40) for a in rng.permutation(6)[:int(rng.integers(1, 5))]]
    df = pd.DataFrame(rows)
    if shuffled:
        df = df.iloc[rng.permutation(len(df))].reset_index(drop=True)
    table = _canonical(df)
    f = tmp_path / "w.parquet"
    write_labels(table, f)
    meta = pq.ParquetFile(f)
    assert meta.metadata.num_row_groups > 5 and meta.schema_arrow.field("item_id").type == pa.string()
    got = read_ids(parquet_input(str(f)))
    for c in ("item_id", "annotator_id", "label"):
        assert list(got[c].astype(str)) == list(df[c])
    cats = got["item_id"].cat.categories
    assert cats.is_unique and len(cats) == 40
    assert cats.is_monotonic_increasing != shuffled  # merged sorted runs keep the sorted order
    duck = duckdb.connect().execute(f"SELECT item_id, annotator_id, label FROM read_parquet('{f}')").df()
    for c in ("item_id", "annotator_id", "label"):
        assert list(duck[c]) == list(df[c])
    ref = load_labels(str(f))
    assert ag.krippendorff_alpha(got).value == pytest.approx(ag.krippendorff_alpha(ref).value, abs=TOL)


def test_unify_merges_sorted_runs_and_hashes_the_rest() -> None:
    import pyarrow as pa

    from labkit.engines.pandas_engine import _unify

    for values in (["a", "b", "b", "c", "c", "c", "d"],  # sorted runs meeting at equal values: merged
                   ["b", "a", "c", "b", "a"],  # not sorted: hashed
                   ["x"], []):
        codes, d = _unify(pa.array(values, pa.string()))
        assert d.take(pa.array(codes)).to_pylist() == values
        assert len(set(d.to_pylist())) == len(d) == len(set(values))
        assert codes.dtype == np.int32
    codes, d = _unify(pa.array(["a", "b", "b", "c"], pa.string()))
    assert d.to_pylist() == ["a", "b", "c"] and codes.tolist() == [0, 1, 1, 2]
