"""Built-in importers; importing this package registers them."""

from labkit.io.importers import tabular  # noqa: F401
