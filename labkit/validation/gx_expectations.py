"""labkit's custom Great Expectations (1.x) expectations and the metrics behind them.

Importing this module imports Great Expectations (7-13 s here) and registers the expectations with
GX's registry; :func:`labkit.validation.validate` imports it lazily, so ``import labkit`` stays fast.
The computations live in :mod:`labkit.validation.checks` (plain pandas); the classes here wire them
into GX so they run in a suite and report failing rows like any built-in expectation.

=====================================================  ====================  ==========================================
expectation (snake_case name in the suite JSON)         kind                  policy / guideline parameters (no defaults)
=====================================================  ====================  ==========================================
expect_column_dtypes_to_match                           table metric + batch  ``dtypes``
expect_items_to_have_min_distinct_annotators            table metric + batch  ``k``
expect_guideline_version_to_be_known                    multicolumn map       ``allowed``
expect_label_to_be_allowed_by_guideline_version         multicolumn map       ``allowed``
expect_labels_to_respect_exclusivity                    multicolumn map       ``exclusive``
expect_labels_to_respect_hierarchy                      multicolumn map       ``parents``, ``exclusive``
expect_guideline_version_not_retired                    multicolumn map       ``retired_after``
expect_judgement_duration_above_task_floor              multicolumn map       ``min_duration_s``
expect_judgement_duration_not_outlier                   multicolumn map       ``max_abs_z``
expect_annotator_label_distribution_to_match_pool       multicolumn map       ``alpha``, ``min_n``, ``min_tvd``
=====================================================  ====================  ==========================================

Multicolumn map metrics receive the whole domain frame (rows kept after ``ignore_row_if``), so the
row-group checks (exclusivity and hierarchy per annotator and item, the distribution test per
annotator, robust z-scores per task) are computed over the group inside the metric and every row of
a failing group is reported, named by ``item_id`` and ``annotator_id``.
"""

from __future__ import annotations

import os

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from typing import Any, ClassVar, Union  # noqa: E402

import pandas as pd  # noqa: E402
from great_expectations.compatibility import pydantic  # noqa: E402
from great_expectations.core.metric_domain_types import MetricDomainTypes  # noqa: E402
from great_expectations.core.suite_parameters import SuiteParameterDict  # noqa: E402
from great_expectations.execution_engine import ExecutionEngine, PandasExecutionEngine  # noqa: E402
from great_expectations.expectations.expectation import BatchExpectation, MulticolumnMapExpectation  # noqa: E402
from great_expectations.expectations.metrics.map_metric_provider import MulticolumnMapMetricProvider  # noqa: E402
from great_expectations.expectations.metrics.map_metric_provider.multicolumn_condition_partial import (  # noqa: E402
    multicolumn_condition_partial,
)
from great_expectations.expectations.metrics.metric_provider import metric_value  # noqa: E402
from great_expectations.expectations.metrics.table_metric_provider import TableMetricProvider  # noqa: E402
from great_expectations.expectations.model_field_types import ConditionParser  # noqa: E402
from great_expectations.expectations.row_conditions import RowConditionType  # noqa: E402

from labkit.validation import checks  # noqa: E402

_DOMAIN_KEYS = ("batch_id", "table", "column_list", "row_condition", "condition_parser", "ignore_row_if")
_Param = Union[dict[str, Any], SuiteParameterDict]


def _cols(frame: pd.DataFrame, *names: str) -> list[pd.Series]:
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ValueError(f"column_list must include {', '.join(names)}; missing {', '.join(missing)}")
    return [frame[n] for n in names]


# --------------------------------------------------------------------------------------------------
# Overlap: a table metric and a BatchExpectation
# --------------------------------------------------------------------------------------------------
class ItemsBelowOverlap(TableMetricProvider):
    """Rows of items (per task) judged by fewer than ``k`` distinct annotators."""

    metric_name = "labkit.items_below_overlap"
    value_keys = ("k",)

    @metric_value(engine=PandasExecutionEngine)
    def _pandas(cls, execution_engine: PandasExecutionEngine, metric_domain_kwargs: dict, metric_value_kwargs: dict,
                metrics: dict[str, Any], runtime_configuration: dict) -> dict[str, Any]:
        df, _, _ = execution_engine.get_compute_domain(domain_kwargs=metric_domain_kwargs,
                                                       domain_type=MetricDomainTypes.TABLE)
        k = int(metric_value_kwargs["k"])
        short, mask, evaluated = checks.overlap_rows(df["item_id"], df["annotator_id"], df["task"], k)
        if short.empty:
            return {"items": 0, "evaluated_items": evaluated, "rows": []}
        hit = df.loc[mask, ["item_id", "annotator_id", "task"]]
        n = dict(zip(zip(short["task"], short["item_id"]), short["n_annotators"]))
        rows = [{"item_id": str(i), "annotator_id": None if pd.isna(a) else str(a),
                 "value": f"{n[(str(t), str(i))]} distinct annotator(s) < k={k}", "row": int(at)}
                for at, i, a, t in hit.itertuples(index=True)]
        return {"items": int(len(short)), "evaluated_items": evaluated, "rows": rows}


class ExpectItemsToHaveMinDistinctAnnotators(BatchExpectation):
    """Every item (per task) in the batch has at least ``k`` distinct annotators.

    Restrict the batch to the items that need overlap with ``row_condition`` (e.g. human
    judgements at stage ``label``).
    """

    k: Union[int, SuiteParameterDict] = pydantic.Field(description="minimum distinct annotators per item")
    row_condition: RowConditionType = None
    condition_parser: Union[ConditionParser, None] = None
    metric_dependencies = ("labkit.items_below_overlap",)
    success_keys = ("k",)
    domain_keys: ClassVar[tuple[str, ...]] = ("batch_id", "row_condition", "condition_parser")

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                  execution_engine: ExecutionEngine | None = None) -> dict[str, Any]:
        found = metrics["labkit.items_below_overlap"]
        return {"success": found["items"] == 0,
                "result": {"observed_value": found["items"], "element_count": found["evaluated_items"],
                           "details": {"rows": found["rows"]}}}


# --------------------------------------------------------------------------------------------------
# Column dtypes: a table metric and a BatchExpectation
# --------------------------------------------------------------------------------------------------
class ColumnDtypes(TableMetricProvider):
    """``{column: str(dtype)}`` of the batch (``category``, ``datetime64[ns, UTC]``, ``float64`` ...)."""

    metric_name = "labkit.column_dtypes"

    @metric_value(engine=PandasExecutionEngine)
    def _pandas(cls, execution_engine: PandasExecutionEngine, metric_domain_kwargs: dict, metric_value_kwargs: dict,
                metrics: dict[str, Any], runtime_configuration: dict) -> dict[str, str]:
        df, _, _ = execution_engine.get_compute_domain(domain_kwargs=metric_domain_kwargs,
                                                       domain_type=MetricDomainTypes.TABLE)
        return {str(c): str(t) for c, t in df.dtypes.items()}


class ExpectColumnDtypesToMatch(BatchExpectation):
    """Each listed column exists and has exactly the given pandas dtype (``str(dtype)``)."""

    dtypes: Union[dict[str, str], SuiteParameterDict] = pydantic.Field(description="{column: dtype}")
    metric_dependencies = ("labkit.column_dtypes",)
    success_keys = ("dtypes",)
    domain_keys: ClassVar[tuple[str, ...]] = ("batch_id",)

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                  execution_engine: ExecutionEngine | None = None) -> dict[str, Any]:
        actual = metrics["labkit.column_dtypes"]
        expected = self.configuration.kwargs["dtypes"]
        wrong = {c: actual.get(c, "missing") for c, t in expected.items() if actual.get(c) != t}
        rows = [{"item_id": None, "annotator_id": None, "value": f"column {c}: {got} (expected {expected[c]})"}
                for c, got in sorted(wrong.items())]
        return {"success": not wrong, "result": {"observed_value": actual, "element_count": len(expected),
                                                  "details": {"rows": rows}}}


# --------------------------------------------------------------------------------------------------
# Multicolumn map metrics and expectations
# --------------------------------------------------------------------------------------------------
class GuidelineVersionKnown(MulticolumnMapMetricProvider):
    condition_metric_name = "labkit.guideline_version_known"
    condition_domain_keys = _DOMAIN_KEYS
    condition_value_keys = ("allowed",)

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, allowed: dict, **kwargs: Any) -> pd.Series:
        task, version = _cols(column_list, "task", "guideline_version")
        return checks.known_version_mask(task, version, allowed)


class ExpectGuidelineVersionToBeKnown(MulticolumnMapExpectation):
    """The row's (task, guideline_version) is a version released under ``guidelines/``."""

    allowed: _Param = pydantic.Field(description="{task: {version: [labels]}} from guidelines/")
    map_metric = "labkit.guideline_version_known"
    success_keys = ("allowed", "mostly")


class LabelAllowed(MulticolumnMapMetricProvider):
    condition_metric_name = "labkit.label_allowed"
    condition_domain_keys = _DOMAIN_KEYS
    condition_value_keys = ("allowed",)

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, allowed: dict, **kwargs: Any) -> pd.Series:
        task, version, label = _cols(column_list, "task", "guideline_version", "label")
        return checks.label_allowed_mask(task, version, label, allowed)


class ExpectLabelToBeAllowedByGuidelineVersion(MulticolumnMapExpectation):
    """The label is one the guideline version the row was made under defines."""

    allowed: _Param = pydantic.Field(description="{task: {version: [labels]}} from guidelines/")
    map_metric = "labkit.label_allowed"
    success_keys = ("allowed", "mostly")


class LabelsExclusive(MulticolumnMapMetricProvider):
    condition_metric_name = "labkit.labels_exclusive"
    condition_domain_keys = _DOMAIN_KEYS
    condition_value_keys = ("exclusive",)

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, exclusive: dict, **kwargs: Any) -> pd.Series:
        item, who, task, version, label = _cols(column_list, "item_id", "annotator_id", "task", "guideline_version", "label")
        return checks.exclusive_mask(item, who, task, version, label, exclusive, stage=column_list.get("stage"))


class ExpectLabelsToRespectExclusivity(MulticolumnMapExpectation):
    """No annotator gives one item two labels the guideline marks mutually exclusive."""

    exclusive: _Param = pydantic.Field(description="{task: {version: [[a, b], ...]}} from guidelines/")
    map_metric = "labkit.labels_exclusive"
    success_keys = ("exclusive", "mostly")


class LabelsHierarchy(MulticolumnMapMetricProvider):
    condition_metric_name = "labkit.labels_hierarchy"
    condition_domain_keys = _DOMAIN_KEYS
    condition_value_keys = ("parents", "exclusive")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, parents: dict, exclusive: dict, **kwargs: Any) -> pd.Series:
        item, who, task, version, label = _cols(column_list, "item_id", "annotator_id", "task", "guideline_version", "label")
        return checks.hierarchy_mask(item, who, task, version, label, parents, exclusive, stage=column_list.get("stage"))


class ExpectLabelsToRespectHierarchy(MulticolumnMapExpectation):
    """Labels given together stay consistent along the hierarchy (exclusivity inherited from parents)."""

    parents: _Param = pydantic.Field(description="{task: {version: {child: parent}}} from guidelines/")
    exclusive: _Param = pydantic.Field(description="{task: {version: [[a, b], ...]}} from guidelines/")
    map_metric = "labkit.labels_hierarchy"
    success_keys = ("parents", "exclusive", "mostly")


class VersionNotRetired(MulticolumnMapMetricProvider):
    condition_metric_name = "labkit.guideline_version_not_retired"
    condition_domain_keys = _DOMAIN_KEYS
    condition_value_keys = ("retired_after",)

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, retired_after: dict, **kwargs: Any) -> pd.Series:
        task, version, created = _cols(column_list, "task", "guideline_version", "created_at")
        return checks.retired_mask(task, version, created, retired_after)


class ExpectGuidelineVersionNotRetired(MulticolumnMapExpectation):
    """A label is not made under a version after a newer release's released_at plus the grace period."""

    retired_after: _Param = pydantic.Field(description="{task: {version: ISO timestamp}} from guidelines/")
    map_metric = "labkit.guideline_version_not_retired"
    success_keys = ("retired_after", "mostly")


class DurationAboveFloor(MulticolumnMapMetricProvider):
    condition_metric_name = "labkit.duration_above_floor"
    condition_domain_keys = _DOMAIN_KEYS
    condition_value_keys = ("min_duration_s",)

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, min_duration_s: dict, **kwargs: Any) -> pd.Series:
        task, duration = _cols(column_list, "task", "duration_s")
        return checks.too_fast_mask(task, duration, min_duration_s)


class ExpectJudgementDurationAboveTaskFloor(MulticolumnMapExpectation):
    """A judgement takes at least the task's floor in seconds (``"*"`` for tasks not listed)."""

    min_duration_s: _Param = pydantic.Field(description="{task: seconds}")
    map_metric = "labkit.duration_above_floor"
    success_keys = ("min_duration_s", "mostly")


class DurationNotOutlier(MulticolumnMapMetricProvider):
    condition_metric_name = "labkit.duration_not_outlier"
    condition_domain_keys = _DOMAIN_KEYS
    condition_value_keys = ("max_abs_z",)

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, max_abs_z: float, **kwargs: Any) -> pd.Series:
        task, duration = _cols(column_list, "task", "duration_s")
        return checks.duration_outlier_mask(task, duration, float(max_abs_z))


class ExpectJudgementDurationNotOutlier(MulticolumnMapExpectation):
    """The robust z-score of log(1 + duration) within the task stays within ``max_abs_z``."""

    max_abs_z: Union[float, SuiteParameterDict] = pydantic.Field(description="largest |robust z| accepted")
    map_metric = "labkit.duration_not_outlier"
    success_keys = ("max_abs_z", "mostly")


class DistributionMatchesPool(MulticolumnMapMetricProvider):
    condition_metric_name = "labkit.annotator_distribution_matches_pool"
    condition_domain_keys = _DOMAIN_KEYS
    condition_value_keys = ("alpha", "min_n", "min_tvd")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, alpha: float, min_n: int, min_tvd: float, **kwargs: Any) -> pd.Series:
        task, annotator, label = _cols(column_list, "task", "annotator_id", "label")
        return checks.distribution_mask(task, annotator, label, alpha=float(alpha), min_n=int(min_n),
                                        min_tvd=float(min_tvd))


class ExpectAnnotatorLabelDistributionToMatchPool(MulticolumnMapExpectation):
    """Per task, each annotator's label distribution does not depart from the other annotators'.

    G-test per annotator (at least ``min_n`` judgements), Bonferroni-corrected p below ``alpha``
    *and* total variation distance at least ``min_tvd``; every row of a flagged annotator fails.
    """

    alpha: Union[float, SuiteParameterDict] = pydantic.Field(description="family-wise significance level")
    min_n: Union[int, SuiteParameterDict] = pydantic.Field(description="fewest judgements for an annotator to be tested")
    min_tvd: Union[float, SuiteParameterDict] = pydantic.Field(description="smallest total variation distance flagged")
    map_metric = "labkit.annotator_distribution_matches_pool"
    success_keys = ("alpha", "min_n", "min_tvd", "mostly")


CUSTOM_EXPECTATIONS: tuple[type, ...] = (
    ExpectColumnDtypesToMatch,
    ExpectItemsToHaveMinDistinctAnnotators, ExpectGuidelineVersionToBeKnown, ExpectLabelToBeAllowedByGuidelineVersion,
    ExpectLabelsToRespectExclusivity, ExpectLabelsToRespectHierarchy, ExpectGuidelineVersionNotRetired,
    ExpectJudgementDurationAboveTaskFloor, ExpectJudgementDurationNotOutlier,
    ExpectAnnotatorLabelDistributionToMatchPool,
)
