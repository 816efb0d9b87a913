"""The canonical label table: conforming, defaults, rejects, Parquet round trip, gold files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labkit.errors import InputRefused, SchemaError
from labkit.schema import (
    LABEL_COLUMN_NAMES,
    check_labels,
    conform_gold,
    conform_labels,
    read_labels_parquet,
    resolve_aliases,
    write_labels,
)


def test_minimal_table_gets_defaults() -> None:
    df = pd.DataFrame({"item_id": ["a", "a", "b"], "annotator_id": ["x", "y", "x"], "label": ["1", "0", "1"]})
    t = conform_labels(df).table
    check_labels(t)
    assert list(t.columns) == list(LABEL_COLUMN_NAMES)
    assert t["task"].tolist() == ["default"] * 3
    assert t["source"].tolist() == ["human"] * 3 and t["stage"].tolist() == ["label"] * 3
    assert t["guideline_version"].isna().all() and t["created_at"].isna().all()
    assert np.isnan(t["duration_s"]).all()
    assert isinstance(t["item_id"].dtype, pd.CategoricalDtype)
    assert t["item_id"].cat.codes.tolist() == [0, 0, 1]


def test_task_and_version_fill_only_missing() -> None:
    df = pd.DataFrame({"item_id": ["a", "b"], "annotator_id": ["x", "x"], "label": ["1", "0"],
                       "guideline_version": ["1.0.0", ""]})
    t = conform_labels(df, task="sentiment", guideline_version="2.0.0").table
    assert t["guideline_version"].tolist() == ["1.0.0", "2.0.0"]
    assert t["task"].tolist() == ["sentiment", "sentiment"]


def test_rejects_name_row_field_and_reason() -> None:
    df = pd.DataFrame({
        "item_id": ["a", "", "c", "d", "e"],
        "annotator_id": ["x", "x", "x", "x", "x"],
        "label": ["1", "1", "1", "1", "1"],
        "created_at": ["2026-09-01T10:00:00Z", "2026-09-01", "yesterday", "", "1767225600"],
        "confidence": ["0.5", "", "", "high", "1"],
        "stage": ["label", "label", "review", "qa", "triage"],
    })
    c = conform_labels(df)
    assert c.table["item_id"].tolist() == ["a"]
    assert c.rejects[["row", "field", "value", "reason"]].values.tolist() == [
        [1, "item_id", "", "item_id is empty"],
        [2, "created_at", "yesterday", "created_at is not a timestamp (ISO 8601 or epoch)"],
        [3, "confidence", "high", "confidence is not a number"],
        [4, "stage", "triage", "stage must be one of label, review, adjudication"],
    ]


def test_non_numeric_confidence_rejected_and_qa_means_review() -> None:
    df = pd.DataFrame({"item_id": ["a", "b"], "annotator_id": ["x", "x"], "label": ["1", "1"],
                       "confidence": ["high", "0.9"], "stage": ["qa", "QA"]})
    c = conform_labels(df)
    assert c.rejects[["row", "field", "value"]].values.tolist() == [[0, "confidence", "high"]]
    assert c.table["stage"].tolist() == ["review"]
    assert c.table["confidence"].tolist() == [0.9]


def test_epoch_seconds_and_milliseconds_parse_to_the_same_instant() -> None:
    df = pd.DataFrame({"item_id": ["a", "b", "c"], "annotator_id": ["x"] * 3, "label": ["1"] * 3,
                       "created_at": ["1767225600", "1767225600000", "2026-01-01T00:00:00+00:00"]})
    t = conform_labels(df).table
    assert t["created_at"].nunique() == 1
    assert t["created_at"].iloc[0] == pd.Timestamp("2026-01-01", tz="UTC")


def test_missing_required_column_is_refused_naming_it() -> None:
    with pytest.raises(SchemaError, match=r"missing required column\(s\) label; found item_id, annotator_id"):
        conform_labels(pd.DataFrame({"item_id": ["a"], "annotator_id": ["x"]}))


def test_aliases_including_crowdkit() -> None:
    assert resolve_aliases(["task", "worker", "label"]) == {"task": "item_id", "worker": "annotator_id", "label": "label"}
    assert resolve_aliases(["Item", "User ID", "Answer", "project"]) == {
        "Item": "item_id", "User ID": "annotator_id", "Answer": "label", "project": "task"}
    # canonical names win over aliases
    assert resolve_aliases(["item_id", "item", "annotator_id", "label"])["item_id"] == "item_id"
    assert "item" not in resolve_aliases(["item_id", "item", "annotator_id", "label"])


def test_parquet_round_trip_keeps_types(tmp_path) -> None:
    df = pd.DataFrame({"item_id": ["a", "b"], "annotator_id": ["x", "y"], "label": ["ok", "spam"],
                       "created_at": ["2026-09-01T10:00:00Z", "2026-09-02T11:00:00Z"], "duration_s": ["3.5", "4"],
                       "slice": ["forum", None]})
    t = conform_labels(df).table
    out = write_labels(t, tmp_path / "labels.parquet")
    back = read_labels_parquet(out)
    pd.testing.assert_frame_equal(back, t)
    assert not list(tmp_path.glob(".labels.parquet.*")), "temporary file left behind"


def test_many_item_ids_are_written_as_strings_in_small_row_groups(tmp_path) -> None:
    """Wide id columns are not written as a dictionary repeated in every row group, and still round-trip."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from labkit.schema import ROW_GROUP_ROWS, WIDE_DICTIONARY

    n = 3 * ROW_GROUP_ROWS // 2  # two row groups
    items = [f"i{i:07d}" for i in range(n // 2)]  # more items than WIDE_DICTIONARY: written as strings
    assert len(items) > WIDE_DICTIONARY
    df = pd.DataFrame({"item_id": np.repeat(items, 2), "annotator_id": np.tile(["a", "b"], n // 2),
                       "label": np.where(np.arange(n) % 3 == 0, "x", "y")})
    t = conform_labels(df).table
    out = write_labels(t, tmp_path / "wide.parquet")
    meta = pq.ParquetFile(out).metadata
    assert meta.num_row_groups == 2 and meta.row_group(0).num_rows == ROW_GROUP_ROWS
    schema = pq.read_schema(out)
    assert schema.field("item_id").type == pa.string()
    assert pa.types.is_dictionary(schema.field("annotator_id").type) and pa.types.is_dictionary(schema.field("label").type)
    back = read_labels_parquet(out)
    pd.testing.assert_frame_equal(back, t)
    assert isinstance(back["item_id"].dtype, pd.CategoricalDtype)


def test_gold_accepts_gold_column_and_refuses_conflicts() -> None:
    g = conform_gold(pd.DataFrame({"item_id": ["1", "2"], "gold": ["0", "1"]}))
    assert g["label"].tolist() == ["0", "1"] and g["task"].tolist() == ["default", "default"]
    with pytest.raises(InputRefused, match=r"g.csv, record 3, field 'item_id': item '1' has more than one gold label for task 'default' \(first at record 2\)"):
        conform_gold(pd.DataFrame({"item_id": ["1", "1"], "label": ["0", "1"]}), path="g.csv")
