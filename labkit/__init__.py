"""labkit: governance and calibration workbook for data-labeling programs.

Importing ``labkit`` is cheap: it imports neither Great Expectations, Jupyter, ipywidgets nor
papermill. Those are imported only by the layers that need them (validation, widgets, reports).
"""

from labkit.errors import LabkitError

__all__ = ["LabkitError", "__version__"]
__version__ = "0.1.0"
