"""Issue 15, privacy by construction: a raw id equal to another annotator's pseudonym is refused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from labkit.errors import InputRefused
from labkit.privacy import pseudonym, pseudonymize

KEY = b"test-key-privacy"


def test_a_raw_id_equal_to_another_annotators_pseudonym_is_refused() -> None:
    """A raw id equal to another annotator's pseudonym took over that person's page."""
    victim = "ann-07"
    impostor = pseudonym(victim, KEY)  # a raw id chosen to be ann-07's pseudonym
    table = pd.DataFrame({"annotator_id": pd.Categorical([victim, impostor, "ann-08"]), "label": ["ok"] * 3})
    with pytest.raises(InputRefused) as err:
        pseudonymize(table, KEY)
    assert str(err.value) == (f"the label table, field 'annotator_id': raw id {impostor!r} is the pseudonym of another "
                              "annotator in the same data; it would be shown as that person. Rename it before publishing")
    fine = pd.DataFrame({"annotator_id": [victim, "ann-08"], "label": ["ok", "ok"]})
    assert list(pseudonymize(fine, KEY)["annotator_id"]) == [pseudonym(victim, KEY), pseudonym("ann-08", KEY)]


def test_per_annotator_reports_refuse_the_colliding_id(tmp_path: Path) -> None:
    from labkit.reports.runner import annotator_pseudonyms

    victim = "136"
    f = tmp_path / "labels.csv"
    f.write_text("item_id,annotator_id,task,label\n"
                 f"c-1,{victim},toxicity,ok\nc-1,{pseudonym(victim, KEY)},toxicity,spam\n", encoding="utf-8")
    with pytest.raises(InputRefused, match=r"raw id 'A-[0-9a-f]{8}' is the pseudonym of another annotator"):
        annotator_pseudonyms({"labels": str(f)}, {}, tmp_path, key=KEY)
