"""The one store of this installation's Ed25519 private keys: PEM files (PKCS#8) only the owner may read.

A key is created on first use, and two processes may ask for it at the same moment (two web workers,
a web worker and `qms worker`). Each writes a whole key to its own temporary file beside the key and
then links it to the key's name: a hard link never replaces an existing file, so exactly one process
wins, every other one reads back the winner's key, and no process ever reads a half-written file.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["load_key", "load_or_create_key"]


def load_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file at ``path`` (FileNotFoundError when there is none)."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The key at ``path``, created (mode 0600, folder 0700) if there is none yet."""
    path = Path(path)
    if not path.exists():
        _create(path)
    return load_key(path)


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption())
    # mkstemp creates the file with mode 0600, so the key is never readable by others, not even briefly.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process created the key meanwhile: the caller reads back that one
    finally:
        os.unlink(temporary)
