"""Guideline versions, diffs, proposals, approvals, releases and the decision log (no Jupyter/GX import).

=====================================  =================================================================
module                                 what
=====================================  =================================================================
:mod:`labkit.guidelines.model`         version files (``<task>/<version>.yaml``), schema checks with lines
:mod:`labkit.guidelines.diff`          what changed between two versions, the semver kind it requires
:mod:`labkit.guidelines.proposals`     proposal files, ``new_proposal``, ``apply_proposal``
:mod:`labkit.guidelines.governance`    decision rights, approve / reject / release, adjudications
:mod:`labkit.guidelines.log`           the hash-chained decision log and its verification
:mod:`labkit.guidelines.migrate`       carrying judgements to a newer version
:mod:`labkit.guidelines.report`        what the governance report computes
=====================================  =================================================================
"""

from typing import TYPE_CHECKING

from labkit._lazy import lazy_attributes

if TYPE_CHECKING:
    from labkit.guidelines.diff import GuidelineDiff, diff_versions
    from labkit.guidelines.governance import Governance, approve, record_decision, reject, release, status
    from labkit.guidelines.model import Guidelines, GuidelineVersion, LabelDef, SemVer, load_version, parse_version
    from labkit.guidelines.proposals import Proposal, apply_proposal, load_proposal, new_proposal

__all__ = ["GuidelineVersion", "Guidelines", "LabelDef", "SemVer", "load_version", "parse_version",
           "GuidelineDiff", "diff_versions", "Proposal", "new_proposal", "load_proposal", "apply_proposal",
           "Governance", "approve", "reject", "release", "status", "record_decision"]

_WHERE = {
    "GuidelineDiff": "labkit.guidelines.diff",
    "diff_versions": "labkit.guidelines.diff",
    "Governance": "labkit.guidelines.governance",
    "approve": "labkit.guidelines.governance",
    "record_decision": "labkit.guidelines.governance",
    "reject": "labkit.guidelines.governance",
    "release": "labkit.guidelines.governance",
    "status": "labkit.guidelines.governance",
    "Guidelines": "labkit.guidelines.model",
    "GuidelineVersion": "labkit.guidelines.model",
    "LabelDef": "labkit.guidelines.model",
    "SemVer": "labkit.guidelines.model",
    "load_version": "labkit.guidelines.model",
    "parse_version": "labkit.guidelines.model",
    "Proposal": "labkit.guidelines.proposals",
    "apply_proposal": "labkit.guidelines.proposals",
    "load_proposal": "labkit.guidelines.proposals",
    "new_proposal": "labkit.guidelines.proposals",
}
__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)
