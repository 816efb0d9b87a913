"""The ``labkit`` entry point: exit codes and behaviour shared by every verb."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_closed_stdout_ends_quietly_without_a_traceback() -> None:
    """``labkit ... | head`` must not print a BrokenPipeError traceback when head stops reading."""
    r, w = os.pipe()
    os.close(r)  # nobody reads: the first write fails with EPIPE
    try:
        proc = subprocess.run([sys.executable, "-m", "labkit.cli", "log", "show", str(ROOT / "guidelines" / "decisions.jsonl")],
                              stdout=w, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120)
    finally:
        os.close(w)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 141


def test_unknown_command_is_refused() -> None:
    proc = subprocess.run([sys.executable, "-m", "labkit.cli", "frobnicate"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "invalid choice: 'frobnicate'" in proc.stderr
