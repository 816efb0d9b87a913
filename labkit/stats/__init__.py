"""Quality statistics over the canonical label table: agreement, gold scoring, consensus, confidence
calibration and drift. One public place: import everything from ``labkit.stats``.

Every statistic is a function of small count tables built once from the table's categorical codes
(:class:`CountTables`); no metric loops over raw rows in Python. Conventions shared by all functions:

* one task at a time (``task=``; None means the table's only task); labels of different tasks are
  never pooled;
* ``source="human"`` by default: model pre-labels are not raters (``source=None`` keeps both);
* every row is one judgement: duplicates and multi-label rows count as separate ratings (Cohen's
  kappa leaves out items where a rater has several rows; see ``docs/statistics.md``);
* degenerate input gives NaN with a stated ``reason``, never a crash; bootstrap intervals are over
  items, seeded with ``numpy.random.default_rng(seed)``.

No Jupyter, widget, papermill or Great Expectations import here.
"""

from typing import TYPE_CHECKING

from labkit._lazy import lazy_attributes

if TYPE_CHECKING:
    from labkit.stats.agreement import (
        LEVELS,
        METRICS,
        AgreementResult,
        agreement_by,
        cohen_kappa,
        fleiss_kappa,
        gwet_ac1,
        krippendorff_alpha,
        pairwise_cohen,
        percent_agreement,
    )
    from labkit.stats.calibration import (
        CalibrationResult,
        brier_score,
        confidence_calibration,
        expected_calibration_error,
        reliability_table,
    )
    from labkit.stats.consensus import CONSENSUS_COLUMNS, DawidSkene, adjudication_queue, consensus_accuracy, majority_vote
    from labkit.stats.counts import CountTables, as_label_table, label_order
    from labkit.stats.drift import DRIFT_BY, drift, js_distance, label_distribution
    from labkit.stats.scoring import confusion, per_class, score_annotators, top_confusions, wilson_interval

__all__ = [
    # count tables
    "CountTables", "as_label_table", "label_order",
    # agreement
    "AgreementResult", "krippendorff_alpha", "fleiss_kappa", "cohen_kappa", "pairwise_cohen", "gwet_ac1",
    "percent_agreement", "agreement_by", "METRICS", "LEVELS",
    # gold scoring
    "score_annotators", "per_class", "confusion", "top_confusions", "wilson_interval",
    # consensus
    "majority_vote", "DawidSkene", "adjudication_queue", "consensus_accuracy", "CONSENSUS_COLUMNS",
    # confidence calibration
    "expected_calibration_error", "brier_score", "reliability_table", "confidence_calibration", "CalibrationResult",
    # drift
    "drift", "label_distribution", "js_distance", "DRIFT_BY",
]

_WHERE = {
    "LEVELS": "labkit.stats.agreement",
    "METRICS": "labkit.stats.agreement",
    "AgreementResult": "labkit.stats.agreement",
    "agreement_by": "labkit.stats.agreement",
    "cohen_kappa": "labkit.stats.agreement",
    "fleiss_kappa": "labkit.stats.agreement",
    "gwet_ac1": "labkit.stats.agreement",
    "krippendorff_alpha": "labkit.stats.agreement",
    "pairwise_cohen": "labkit.stats.agreement",
    "percent_agreement": "labkit.stats.agreement",
    "CalibrationResult": "labkit.stats.calibration",
    "brier_score": "labkit.stats.calibration",
    "confidence_calibration": "labkit.stats.calibration",
    "expected_calibration_error": "labkit.stats.calibration",
    "reliability_table": "labkit.stats.calibration",
    "CONSENSUS_COLUMNS": "labkit.stats.consensus",
    "DawidSkene": "labkit.stats.consensus",
    "adjudication_queue": "labkit.stats.consensus",
    "consensus_accuracy": "labkit.stats.consensus",
    "majority_vote": "labkit.stats.consensus",
    "CountTables": "labkit.stats.counts",
    "as_label_table": "labkit.stats.counts",
    "label_order": "labkit.stats.counts",
    "DRIFT_BY": "labkit.stats.drift",
    "drift": "labkit.stats.drift",
    "js_distance": "labkit.stats.drift",
    "label_distribution": "labkit.stats.drift",
    "confusion": "labkit.stats.scoring",
    "per_class": "labkit.stats.scoring",
    "score_annotators": "labkit.stats.scoring",
    "top_confusions": "labkit.stats.scoring",
    "wilson_interval": "labkit.stats.scoring",
}
__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)
