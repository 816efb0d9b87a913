"""Importers: label exports -> canonical label table + quarantine.

>>> from labkit.io import import_file
>>> result = import_file("sample/labels.csv")          # doctest: +SKIP
>>> result.records_in == result.accepted + result.quarantined  # doctest: +SKIP
True
"""

from typing import TYPE_CHECKING

from labkit._lazy import lazy_attributes

if TYPE_CHECKING:
    from labkit.io.base import (
        IMPORTERS,
        ImportResult,
        concat_labels,
        detect_format,
        import_file,
        load_labels,
        merge_results,
        quarantine_path,
        register,
        split_paths,
        write_result,
    )

__all__ = ["IMPORTERS", "ImportResult", "detect_format", "import_file", "concat_labels", "load_labels", "merge_results", "split_paths", "quarantine_path",
           "register", "write_result"]

_WHERE = {
    "IMPORTERS": "labkit.io.base",
    "ImportResult": "labkit.io.base",
    "concat_labels": "labkit.io.base",
    "detect_format": "labkit.io.base",
    "import_file": "labkit.io.base",
    "load_labels": "labkit.io.base",
    "merge_results": "labkit.io.base",
    "quarantine_path": "labkit.io.base",
    "register": "labkit.io.base",
    "split_paths": "labkit.io.base",
    "write_result": "labkit.io.base",
}
__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)
