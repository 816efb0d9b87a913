"""``labkit init LABELS``: start a program's governance from the labels it already has.

Scaffolds ``<guidelines>/<task>/`` from the labels found in the data (each with a placeholder
definition and example for the team to write), a ``governance.yaml`` naming the lead, and the
task's first release (1.0.0), recorded in the decision log.

The single-lead bootstrap
-------------------------
A new program often has one lead. The first release is proposed and released by that lead alone:
its log entry carries ``"bootstrap": true`` and the lead as the only approver. This is possible
exactly once per task (a task with a release refuses it). From then on the rules of
``governance.yaml`` apply: the author's own approval never counts, so a team of one adds a second
member (for instance a ``qa`` reviewer) before the next change; the scaffolded rules ask one
approval of any role the team lists.

Nothing here imports pandas until a handler runs (``labkit --help`` stays fast).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from labkit.cli import emit
from labkit.errors import GovernanceError, GuidelineError

#: Placeholders written for the team to replace; ``labkit guidelines check`` shows the file they are in.
TODO_DEFINITION = "TODO: define {label}: when is it the right label, and when is it not?"
TODO_EXAMPLE = "TODO: an example of {label} from your data"

GOVERNANCE_TEMPLATE = """\
# Who may approve what (written by `labkit init`). Members are pseudonymous ids with their roles.
# A proposal of a given kind is releasable when every rule of that kind holds: `count` approvals by
# distinct members holding the role; the author's own approval never counts.
#
# Bootstrap: the first release of a task was made by the lead alone (see the decision log entry
# with "bootstrap": true). From now on these rules apply: with one lead, add a second member (e.g.
# `qa-1: [qa]`, and `{{role: qa, count: 1}}` to patch) before the next change, since nobody approves
# their own proposal.
members:
  {lead}: [lead]
rules:
  major:
    - {{role: lead, count: 1}}
  minor:
    - {{role: lead, count: 1}}
  patch:
    - {{role: lead, count: 1}}
  gold_edit:
    - {{role: lead, count: 1}}
  adjudication:
    - {{role: lead, count: 1}}
retire_grace_days: 7
"""


def data_labels(table: Any, task: str | None) -> tuple[str, list[str]]:
    """The task to scaffold and its labels as found in ``table`` (byte-exact strings, sorted).

    ``task`` None takes the data's only task; a name not in the data is refused when the data holds
    one task under another name (the labels would not match the guidelines at validation).
    """
    tasks = sorted({str(t) for t in table["task"].dropna().unique()})
    if not tasks:
        raise GuidelineError("the labels hold no task")
    if task is None:
        if len(tasks) > 1:
            raise GuidelineError(f"the labels hold several tasks ({', '.join(tasks)}): pass --task")
        task = tasks[0]
    elif task not in tasks:
        raise GuidelineError(f"the labels are for task(s) {', '.join(map(repr, tasks))}, not {task!r}: run init "
                             f"without --task (or with --task {tasks[0]}), or import the labels with that task")
    labels = sorted({str(v) for v in table.loc[table["task"].astype(str) == task, "label"].dropna().unique()})
    if not labels:
        raise GuidelineError(f"task {task!r} has no labels in the data")
    return task, labels


def init_guidelines(table: Any, root: str | os.PathLike[str] = "guidelines", *, task: str | None = None,
                    lead: str = "lead-1", at: str | None = None) -> dict[str, Any]:
    """Scaffold ``root/<task>/`` and ``root/governance.yaml`` and record the first release.

    Returns
    -------
    dict
        ``task``, ``labels``, ``version``, ``path`` (the version file), ``governance``, ``proposal``,
        ``log_seq`` and ``created_governance``.

    Raises
    ------
    GuidelineError
        When the task already has a released version, or the labels name no usable task.
    GovernanceError
        When an existing ``governance.yaml`` does not list ``lead`` with a role of the major rules.
    """
    from labkit.guidelines.governance import Governance, release
    from labkit.guidelines.proposals import _is_version_file, new_proposal

    task, labels = data_labels(table, task)
    r = Path(root)
    if (r / task).is_dir() and any(_is_version_file(f) for f in (r / task).glob("*.yaml")):
        raise GuidelineError(f"{r / task}: task {task!r} already has released versions; change them through "
                             "proposals (labkit guidelines propose)")
    gov_path = r / "governance.yaml"
    created = not gov_path.exists()
    if created:
        from labkit._atomic import write_text

        r.mkdir(parents=True, exist_ok=True)
        write_text(gov_path, GOVERNANCE_TEMPLATE.format(lead=lead))
    gov = Governance.load(r)
    if lead not in gov.members:
        raise GovernanceError(f"{gov_path}: --lead {lead!r} is not a member (members: {', '.join(sorted(gov.members))})")
    changes = [{"op": "add_label", "label": {"name": lab, "definition": TODO_DEFINITION.format(label=lab),
                                              "examples": {"positive": [TODO_EXAMPLE.format(label=lab)], "negative": []}}}
               for lab in labels]
    prop = new_proposal(task=task, base_version=None, author=lead, root=r, created_at=at,
                        title=f"First release of the {task} guideline (scaffolded by labkit init)",
                        rationale=f"Labels found in the data: {', '.join(labels)}. Definitions and examples are "
                                  "placeholders to be written by the team.",
                        changes=changes, source={"kind": "init"}, proposal_id=f"{task}-1.0.0-init")
    v = release(prop.id, r, who=lead, at=at, bootstrap=True)
    return {"task": task, "labels": labels, "version": v.version, "path": v.path, "governance": str(gov_path),
            "created_governance": created, "proposal": prop.id, "log_seq": v.meta.get("log_head", {}).get("seq")}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="scaffold guidelines/ and governance.yaml from the labels you have",
                       description="Scaffold <guidelines>/<task>/1.0.0.yaml from the labels found in LABELS (with "
                                   "placeholder definitions and examples to write), a governance.yaml naming the "
                                   "lead, and record the first release in the decision log (the single-lead "
                                   "bootstrap; later changes follow governance.yaml's rules).")
    p.add_argument("labels", metavar="LABELS", help="label file(s) labkit import reads; join several with ':'")
    p.add_argument("--task", metavar="NAME", help="the task to scaffold (default: the data's only task)")
    p.add_argument("--guidelines", metavar="DIR", default="guidelines", help="guidelines folder (default: ./guidelines)")
    p.add_argument("--lead", metavar="ID", default="lead-1", help="the lead's member id (default: lead-1)")
    p.add_argument("--at", help="timestamp to record (ISO 8601; default now)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object (last line of stdout)")
    p.set_defaults(func=run_init)


def run_init(args: argparse.Namespace) -> int:
    from labkit.io import load_labels

    res = init_guidelines(load_labels(args.labels), args.guidelines, task=args.task, lead=args.lead, at=args.at)
    human = (f"released {res['task']} {res['version']} -> {res['path']} (labels: {', '.join(res['labels'])})\n"
             f"{'wrote' if res['created_governance'] else 'kept'} {res['governance']} (lead: {args.lead}); the first "
             f"release is logged as a single-lead bootstrap (log entry {res['log_seq']})\n"
             f"next: write the definitions and examples marked TODO through a proposal, and add a second member to "
             f"governance.yaml: nobody approves their own proposal")
    emit(args, res, human)
    return 0
