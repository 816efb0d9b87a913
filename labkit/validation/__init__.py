"""Label validation: Great Expectations 1.x suites from ``expectations/``, fed from ``guidelines/``.

>>> from labkit.validation import validate                       # doctest: +SKIP
>>> report = validate(table, "guidelines")                        # doctest: +SKIP
>>> report.gate                                                   # False if a critical expectation failed
>>> report.write("build/validation")                             # JSON result, failures.csv, HTML summary

Importing this package does not import Great Expectations; :func:`validate` imports it when it runs.
"""

from typing import TYPE_CHECKING

from labkit._lazy import lazy_attributes

if TYPE_CHECKING:
    from labkit.validation.engine import expectation_name, validate, validate_path
    from labkit.validation.report import FAILURE_COLUMNS, ExpectationOutcome, ValidationReport, render_html, write_outputs
    from labkit.validation.suites import Suite, default_suite_dir, dump_suite, load_suite, load_suites

__all__ = ["validate", "validate_path", "expectation_name", "ValidationReport", "ExpectationOutcome", "FAILURE_COLUMNS",
           "render_html", "write_outputs", "Suite", "load_suite", "load_suites", "dump_suite", "default_suite_dir"]

_WHERE = {
    "expectation_name": "labkit.validation.engine",
    "validate": "labkit.validation.engine",
    "validate_path": "labkit.validation.engine",
    "FAILURE_COLUMNS": "labkit.validation.report",
    "ExpectationOutcome": "labkit.validation.report",
    "ValidationReport": "labkit.validation.report",
    "render_html": "labkit.validation.report",
    "write_outputs": "labkit.validation.report",
    "Suite": "labkit.validation.suites",
    "default_suite_dir": "labkit.validation.suites",
    "dump_suite": "labkit.validation.suites",
    "load_suite": "labkit.validation.suites",
    "load_suites": "labkit.validation.suites",
}
__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)
