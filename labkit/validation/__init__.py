"""Label validation: Great Expectations 1.x suites from ``expectations/``, fed from ``guidelines/``.

>>> from labkit.validation import validate                       # doctest: +SKIP
>>> report = validate(table, "guidelines")                        # doctest: +SKIP
>>> report.gate                                                   # False if a critical expectation failed
>>> report.write("build/validation")                             # JSON result, failures.csv, HTML summary

Importing this package does not import Great Expectations; :func:`validate` imports it when it runs.
"""

from labkit.validation.engine import expectation_name, validate, validate_path
from labkit.validation.report import FAILURE_COLUMNS, ExpectationOutcome, ValidationReport, render_html, write_outputs
from labkit.validation.suites import Suite, default_suite_dir, dump_suite, load_suite, load_suites

__all__ = ["validate", "validate_path", "expectation_name", "ValidationReport", "ExpectationOutcome", "FAILURE_COLUMNS",
           "render_html", "write_outputs", "Suite", "load_suite", "load_suites", "dump_suite", "default_suite_dir"]
