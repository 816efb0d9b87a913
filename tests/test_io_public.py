"""The six public multi-annotator datasets (tests/data/public, see its README) import with no options;
slices of raw source files (tests/data/io/public) too."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from labkit.errors import InputRefused
from labkit.io import import_file

PUBLIC = Path(__file__).parent / "data" / "public"
RAW_DIR = Path(__file__).parent / "data" / "io" / "public"
DATASETS = sorted(p.name for p in PUBLIC.iterdir() if (p / "long.csv").exists())


def test_all_six_present():
    assert DATASETS == ["snow2008_rte", "snow2008_temp", "snow2008_wsd", "welinder2010_bluebirds",
                        "zheng2017_d_product", "zhou2012_dog"]


@pytest.mark.parametrize("name", DATASETS)
def test_public_dataset_imports_with_no_options(name):
    stats = json.loads((PUBLIC / name / "meta.json").read_text())["stats"]
    r = import_file(PUBLIC / name / "long.csv")
    assert r.format == "csv"
    assert (r.records_in, r.accepted, r.quarantined) == (stats["n_labels"], stats["n_labels"], 0)
    t = r.table
    assert len(t) == stats["n_labels"]
    assert t["item_id"].nunique() == stats["n_items"]
    assert t["annotator_id"].nunique() == stats["n_annotators"]
    # labels kept exactly as in the source (strings such as "0"/"1" or "1"/"2")
    assert t["label"].astype(str).value_counts().to_dict() == stats["label_values"]
    # row order and values identical to a plain read of the file
    plain = pd.read_csv(PUBLIC / name / "long.csv", dtype=str)
    assert t["item_id"].astype(str).tolist() == plain["item_id"].tolist()
    assert t["annotator_id"].astype(str).tolist() == plain["annotator_id"].tolist()


# The first 20 data rows of three raw source files, as their authors published them (see the README).
RAW = [
    # Snow et al. (2008): Mechanical Turk columns; orig_id is the item, response the label, gold is ignored
    ("snow2008_rte/raw_head.tsv", "\t", "orig_id", "!amt_worker_ids", "response"),
    # Zheng et al. (2017) truth-inference benchmark: question is the item, worker the annotator
    ("zheng2017_d_product/raw_answer_head.csv", ",", "question", "worker", "answer"),
]


@pytest.mark.parametrize("rel, sep, item, worker, label", RAW)
def test_raw_source_files_import_with_no_options(rel, sep, item, worker, label):
    import csv

    with open(RAW_DIR / rel, newline="", encoding="utf-8") as fh:  # the csv module as the oracle
        rows = list(csv.DictReader(fh, delimiter=sep))
    r = import_file(RAW_DIR / rel)
    assert (r.records_in, r.accepted, r.quarantined) == (len(rows), len(rows), 0) == (20, 20, 0)
    t = r.table
    assert t["item_id"].astype(str).tolist() == [x[item] for x in rows]
    assert t["annotator_id"].astype(str).tolist() == [x[worker] for x in rows]
    assert t["label"].astype(str).tolist() == [x[label] for x in rows]
    assert set(t["task"].astype(str)) == {"default"}


def test_headerless_raw_file_refused_with_a_hint():
    src = RAW_DIR / "zhou2012_dog" / "raw_label_head.tsv"  # item, worker, label with no header line
    with pytest.raises(InputRefused) as err:
        import_file(src)
    assert str(err.value) == (
        f"{src}: missing required column(s) item_id, annotator_id, label; found '1', '1', '3' (labkit needs "
        "item_id, annotator_id and label, or aliases such as item/worker/answer); the first line looks like data, "
        "not a header: add a header line naming the columns (e.g. item_id,annotator_id,label)")
