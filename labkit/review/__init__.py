"""Review routing: a budgeted review queue with evidence, sequential spot checks, blind audits, fold-back.

No Jupyter or GX import here. Entry points: :func:`plan_review`, :func:`evidence`,
:class:`labkit.review.audit.SpotCheck`, :func:`labkit.review.audit.blind_audit_estimate`,
:func:`apply_reviews`, :func:`error_patterns`.
"""

from labkit.review.apply import apply_reviews, error_patterns
from labkit.review.evidence import evidence
from labkit.review.planner import ReviewPlan, ReviewWeights, plan_review, read_costs, read_validation_failures

__all__ = ["ReviewPlan", "ReviewWeights", "plan_review", "read_costs", "read_validation_failures", "evidence",
           "apply_reviews", "error_patterns"]
