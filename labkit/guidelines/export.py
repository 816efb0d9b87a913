"""Guidelines for labeling tools: short per-label hints (JSON) and a Label Studio labeling config.

``hints`` gives each label a one-line hint for inline tooltips (the definition, cut at a word boundary
to ``max_chars``), plus the definition, examples and edge cases for tools that show more. The Label
Studio config is a classification interface whose ``<Choice>`` tags carry the hints in their ``hint``
attribute (Label Studio shows it on hover; see https://labelstud.io/tags/choice — in some Label Studio
versions behind a feature flag) and whose header names the guideline version, so every annotation can
be traced back to the version it was made under.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from labkit.guidelines.model import GuidelineVersion

__all__ = ["short_hint", "hints", "label_studio_config"]


def short_hint(text: str, max_chars: int = 120) -> str:
    """``text`` on one line, cut at a word boundary to at most ``max_chars`` characters (with "…")."""
    one = " ".join(text.split())
    if len(one) <= max_chars:
        return one
    cut = one[: max_chars - 1]
    if " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:") + "…"


def hints(v: GuidelineVersion, max_chars: int = 120) -> dict[str, Any]:
    """Per-label hints for ``v`` as a JSON-ready mapping (labels in guideline order)."""
    return {
        "task": v.task, "guideline_version": v.version,
        "labels": [{"name": lab.name, "hint": short_hint(lab.definition, max_chars), "definition": lab.definition,
                    "positive_examples": list(lab.positive_examples), "negative_examples": list(lab.negative_examples),
                    "edge_cases": list(lab.edge_cases), "parent": lab.parent, "exclusive_with": list(lab.exclusive_with)}
                   for lab in v.labels],
    }


def label_studio_config(v: GuidelineVersion, *, control_name: str = "label", object_name: str = "text",
                        value: str = "$text", multiple: bool | None = None, max_chars: int = 120) -> str:
    """A Label Studio labeling config (XML) for ``v``: a Text object and one Choices control.

    ``multiple`` (default: when the guideline has labels that are not mutually exclusive with every other
    label, i.e. a multi-label task) sets ``choice="multiple"``; otherwise ``"single"``.
    """
    names = [lab.name for lab in v.labels]
    if multiple is None:
        pairs = v.exclusive_pairs()
        multiple = any(frozenset((a, b)) not in pairs for i, a in enumerate(names) for b in names[i + 1:]) \
            and bool(pairs)
    view = ET.Element("View")
    ET.SubElement(view, "Header", {"value": f"{v.task} guideline {v.version}"})
    ET.SubElement(view, "Text", {"name": object_name, "value": value})
    choices = ET.SubElement(view, "Choices", {"name": control_name, "toName": object_name,
                                              "choice": "multiple" if multiple else "single", "showInline": "false"})
    for lab in v.labels:
        ET.SubElement(choices, "Choice", {"value": lab.name, "hint": short_hint(lab.definition, max_chars)})
    ET.indent(view, space="  ")
    return ET.tostring(view, encoding="unicode") + "\n"
