"""One exception root for labkit. Every error a user can cause derives from :class:`LabkitError`.

The CLI turns a ``LabkitError`` into one clear message on stderr and a non-zero exit; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import Any


class LabkitError(Exception):
    """Root of every error labkit raises on purpose (bad input, refused operation)."""

    exit_code = 2


class InputRefused(LabkitError):
    """A whole input cannot be read at all (empty, truncated, not text, an API error body...).

    The message names the file and, where known, the record and field.
    """

    def __init__(self, path: str, message: str, *, record: Any = None, field: str | None = None):
        self.path = str(path)
        self.record = record
        self.field = field
        where = self.path
        if record is not None:
            where += f", record {record}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")


class SchemaError(LabkitError):
    """A table or file does not follow the schema it must follow."""


class GuidelineError(LabkitError):
    """A guideline file is malformed or a guideline lookup fails."""


class GovernanceError(LabkitError):
    """A governance rule refuses an operation (missing approvals, edited log, ...)."""


class ValidationFailed(LabkitError):
    """A critical expectation failed: the pipeline must stop. Carries the failure-cases table."""

    exit_code = 1

    def __init__(self, message: str, failures: Any = None):
        self.failures = failures
        super().__init__(message)


class ParameterError(LabkitError):
    """A parameter given by a user (CLI flag, report parameter) is unknown or of the wrong type."""
