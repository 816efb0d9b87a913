"""Importers: label exports -> canonical label table + quarantine.

>>> from labkit.io import import_file
>>> result = import_file("sample/labels.csv")          # doctest: +SKIP
>>> result.records_in == result.accepted + result.quarantined  # doctest: +SKIP
True
"""

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
