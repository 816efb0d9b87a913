"""Ed25519 signatures for decisions, with the ``cryptography`` package (OpenSSH key formats).

Why this mechanism: Ed25519 through ``cryptography`` (the audited binding to OpenSSL that pip, Jupyter
and GX already pull in) signs in-process, needs no ``ssh-keygen`` binary or agent, is deterministic
(the same key and entry give the same signature, so the sample history is reproducible), and reads and
writes the OpenSSH formats: a member may sign with an existing unencrypted ``~/.ssh/id_ed25519`` and list
its ``ssh-ed25519 AAAA...`` public line in ``governance.yaml``, exactly the line git's allowed-signers
file would hold. labkit implements no cryptography of its own.

What is signed: the decision log entry's canonical JSON without ``hash`` and ``sig`` (so ``seq``,
``prev``, the time, the proposal's SHA-256 and the signer's key fingerprint are all covered), prefixed
with :data:`CONTEXT`. A signature made for one log position cannot be replayed at another.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
from pathlib import Path
from typing import Any

from labkit.errors import GovernanceError

CONTEXT = b"labkit decision log v1\x00"
ENV_KEY = "LABKIT_SIGNING_KEY"


def _crypto() -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return serialization, ed25519


def public_line(private: Any) -> str:
    """The ``ssh-ed25519 AAAA...`` public line of a private key."""
    serialization, _ = _crypto()
    return private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                             serialization.PublicFormat.OpenSSH).decode("ascii")


def fingerprint(public: str) -> str:
    """``SHA256:<base64>`` of the raw public key blob, as ``ssh-keygen -l`` prints it."""
    parts = public.split()
    if len(parts) < 2 or parts[0] != "ssh-ed25519":
        raise GovernanceError(f"not an ssh-ed25519 public key: {public[:40]!r}")
    blob = base64.b64decode(parts[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")


def generate(path: str | os.PathLike[str]) -> str:
    """Write a new Ed25519 private key (OpenSSH format, mode 0600) to ``path`` and its public line to
    ``path.pub``; return the public line (to list under the member in ``governance.yaml``)."""
    serialization, ed25519 = _crypto()
    p = Path(path)
    if p.exists():
        raise GovernanceError(f"{p} already exists; refusing to overwrite a key")
    key = ed25519.Ed25519PrivateKey.generate()
    return _write(p, key)


def _write(p: Path, key: Any) -> str:
    serialization, _ = _crypto()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                            serialization.NoEncryption())
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    line = public_line(key)
    p.with_name(p.name + ".pub").write_text(line + "\n", encoding="ascii")
    return line


def load_private(path: str | os.PathLike[str]) -> Any:
    """Read an unencrypted Ed25519 private key (OpenSSH or PKCS#8 PEM)."""
    serialization, ed25519 = _crypto()
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise GovernanceError(f"{p}: no such signing key file") from None
    try:
        if b"OPENSSH PRIVATE KEY" in data:
            key = serialization.load_ssh_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise GovernanceError(f"{p}: not an unencrypted private key ({exc})") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise GovernanceError(f"{p}: not an Ed25519 key (labkit signs decisions with Ed25519)")
    return key


def resolve_key(key: str | os.PathLike[str] | Any | None, member: str | None = None) -> Any | None:
    """A private key from ``key`` (a path or a key object), else from ``$LABKIT_SIGNING_KEY``, else None.

    A path that is a folder is a keyring: the key is ``<folder>/<member>`` (for scripted replays and
    tests that act as several members; a person keeps only their own key).
    """
    if key is None:
        key = os.environ.get(ENV_KEY) or None
        if key is None:
            return None
    if isinstance(key, (str, os.PathLike)):
        p = Path(key)
        if p.is_dir():
            if member is None:
                raise GovernanceError(f"{p} is a folder of keys; no member to pick one for")
            p = p / member
        return load_private(p)
    return key


def sample_keyring(folder: str | os.PathLike[str], members: list[str]) -> Path:
    """SAMPLE ONLY: write :func:`sample_key` of each member to ``<folder>/<member>`` (a keyring)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for m in members:
        if not (out / m).exists():
            _write(out / m, sample_key(m))
    return out


def message(entry: dict[str, Any]) -> bytes:
    from labkit.guidelines.log import canonical_json

    body = {k: v for k, v in entry.items() if k not in ("hash", "sig")}
    return CONTEXT + canonical_json(body).encode("utf-8")


def sign(private: Any, entry: dict[str, Any]) -> str:
    """Base64 Ed25519 signature of :func:`message` of ``entry``."""
    return base64.b64encode(private.sign(message(entry))).decode("ascii")


@functools.lru_cache(maxsize=256)
def _public_key(public: str) -> Any:
    """The parsed Ed25519 public key of an ``ssh-ed25519`` line (None when it is not one)."""
    serialization, ed25519 = _crypto()
    try:
        pub = serialization.load_ssh_public_key(public.encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError):
        return None
    return pub if isinstance(pub, ed25519.Ed25519PublicKey) else None


def check(public: str, entry: dict[str, Any]) -> bool:
    """True when ``entry['sig']`` is a valid signature of the entry by ``public``."""
    from cryptography.exceptions import InvalidSignature

    pub = _public_key(public)
    if pub is None:
        return False
    try:
        sig = base64.b64decode(str(entry.get("sig", "")), validate=True)
    except (ValueError, TypeError):
        return False
    try:
        pub.verify(sig, message(entry))
    except InvalidSignature:
        return False
    return True


def sample_key(member: str) -> Any:
    """SAMPLE ONLY: a deterministic key for a member of the bundled sample program.

    The bundled history (``python -m labkit.guidelines.history``) is signed with keys derived from the
    member id, so it can be rebuilt byte for byte. Anyone can derive them: never use these for a real
    program (``labkit keys generate`` makes a random key).
    """
    _, ed25519 = _crypto()
    seed = hashlib.sha256(b"labkit sample-only signing key, never for real use:" + member.encode("utf-8")).digest()
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed)
