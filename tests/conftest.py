"""Shared test setup.

The bundled sample's governance.yaml requires signed decisions (issue 15). Its members' keys are
SAMPLE-ONLY keys derived from the member ids (``labkit.guidelines.signing.sample_key``); every test
runs with ``$LABKIT_SIGNING_KEY`` pointing at a keyring folder holding them, so a test acting as
``g-expert-1`` signs with g-expert-1's sample key. Tests about signing set or clear it themselves.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLE_MEMBERS = ["g-lead-1", "g-expert-1", "g-expert-2", "g-qa-1", "g-qa-2", "g-facil-1"]


@pytest.fixture(scope="session")
def sample_keyring(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from labkit.guidelines.signing import sample_keyring as make

    return make(tmp_path_factory.mktemp("keys") / "sample", SAMPLE_MEMBERS)


@pytest.fixture(autouse=True)
def _sample_signing_keys(sample_keyring: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_SIGNING_KEY", str(sample_keyring))
