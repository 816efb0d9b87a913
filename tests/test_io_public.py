"""The six public multi-annotator datasets (tests/data/io/public, see its README) import with no options."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from labkit.io import import_file

PUBLIC = Path(__file__).parent / "data" / "io" / "public"
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
