"""Guideline versions, diffs, proposals, approvals, releases and the decision log (no Jupyter/GX import)."""

from labkit.guidelines.model import GuidelineVersion, Guidelines, LabelDef, SemVer, load_version, parse_version

__all__ = ["GuidelineVersion", "Guidelines", "LabelDef", "SemVer", "load_version", "parse_version"]
