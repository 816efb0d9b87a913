"""Scheduled reports: a Papermill runner that renders parameterized notebooks to self-contained HTML.

Public pieces:

* :mod:`labkit.reports.model` -- the report model: every report is ``build(...) -> Report`` (findings
  with severities, sections of text, tables and figures); a notebook calls ``show_report``. The
  builds: :mod:`~labkit.reports.quality`, :mod:`~labkit.reports.feedback`,
  :mod:`~labkit.reports.governance`, :mod:`~labkit.reports.validation`, ``labkit.calibration.report``.
* :mod:`labkit.reports.people` -- evidence-aware ranking of people (minimum evidence, worst bound first).
* :func:`labkit.reports.metrics.save_metrics` -- what every report notebook calls to hand its
  headline numbers to the runner (``metrics_path`` parameter).
* :mod:`labkit.reports.display` -- helpers report notebooks import: escaped HTML tables, a "key
  findings" block, pseudonymized annotator ids, one seaborn style.
* :mod:`labkit.reports.runner` -- ``run_reports``: parameter checks before any kernel starts, one run
  folder per report and run, failure handling that never touches the last good report, ``index.html``.

Importing this package imports neither papermill nor nbconvert nor IPython; those load on use.
"""

from typing import TYPE_CHECKING

from labkit._lazy import lazy_attributes

if TYPE_CHECKING:
    from labkit.reports.metrics import load_metrics, save_metrics

__all__ = ["save_metrics", "load_metrics"]

_WHERE = {
    "load_metrics": "labkit.reports.metrics",
    "save_metrics": "labkit.reports.metrics",
}
__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)
