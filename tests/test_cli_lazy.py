"""``labkit --help`` and every verb's ``--help`` build without pandas, NumPy, SciPy (or GX, Jupyter).

The parser is imported in a fresh interpreter whose import system refuses those packages, so an area
``__init__`` or a CLI module that imports them at the top fails here (they made ``--help`` take ~1 s).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BLOCKED = ("pandas", "numpy", "scipy", "yaml", "great_expectations", "ipywidgets", "papermill", "pyarrow")

SCRIPT = r"""
import argparse, contextlib, io, json, sys

BLOCKED = set(sys.argv[1].split(","))

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"blocked heavy import: {name}")
        return None

sys.meta_path.insert(0, Block())
from labkit.cli import build_parser, main

parser = build_parser()
verbs = []
def walk(p, prefix):
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sp in a.choices.items():
                verbs.append(prefix + [name])
                walk(sp, prefix + [name])
walk(parser, [])
out = {}
for argv in [[]] + verbs:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            main(argv + ["--help"])
            code = 0
        except SystemExit as exc:
            code = exc.code
    out[" ".join(argv)] = [code, len(buf.getvalue())]
out["_loaded"] = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print(json.dumps(out))
"""


def test_every_help_builds_without_heavy_imports() -> None:
    r = subprocess.run([sys.executable, "-c", SCRIPT, ",".join(BLOCKED)], cwd=ROOT, capture_output=True, text=True,
                       timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out.pop("_loaded") == []
    assert len(out) > 20  # labkit itself and every verb, nested ones included
    for verb in ("", "validate", "import", "init", "calibration open", "log show", "guidelines approve",
                 "guidelines release"):
        assert verb in out, verb
    bad = {verb: res for verb, res in out.items() if res[0] != 0 or res[1] < 40}
    assert bad == {}


def test_area_packages_stay_importable_lazily() -> None:
    """The lazy ``__init__``: names still resolve (and submodules as attributes)."""
    import labkit.stats as stats
    import labkit.validation as validation

    assert stats.krippendorff_alpha.__module__ == "labkit.stats.agreement"
    assert validation.validate.__module__ == "labkit.validation.engine"
    assert stats.agreement.krippendorff_alpha is stats.krippendorff_alpha
    assert "krippendorff_alpha" in dir(stats)
    try:
        stats.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert str(exc) == "module 'labkit.stats' has no attribute 'no_such_name'"
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")
