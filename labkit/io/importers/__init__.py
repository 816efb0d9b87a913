"""Built-in importers; importing this package registers them (see :func:`labkit.io.base.register`)."""

from labkit.io.importers import argilla, label_studio, prodigy, tabular  # noqa: F401
