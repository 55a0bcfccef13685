"""The object store: content-addressed files (images, PDFs, scans) under `instance/objects`.

A file is stored once under the SHA-256 of its bytes (`objects/ab/cd/<sha256>`), written to a
temporary name, flushed to disk and renamed, so a crash never leaves a half-written object under
a real name. Objects are never modified; reading re-checks the hash, so a changed file on disk
is reported instead of served.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from flask import current_app

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ObjectCorrupted(RuntimeError):
    """The bytes on disk no longer match the hash they were stored under."""


class ObjectMissing(FileNotFoundError):
    """No object with that hash is in the store."""


class ObjectStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256[:80]!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store bytes; returns their SHA-256. Storing the same bytes twice keeps one copy."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_for(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, prefix=".incoming-") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
        target.chmod(0o440)
        return digest

    def get(self, sha256: str) -> bytes:
        """The stored bytes, after checking they still hash to `sha256`."""
        path = self.path_for(sha256)
        if not path.exists():
            raise ObjectMissing(f"object {sha256} is not in the store")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ObjectCorrupted(f"object {sha256} on disk no longer matches its hash")
        return data

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()


def object_store() -> ObjectStore:
    """The store configured for the current app (QMS_OBJECT_STORE, default instance/objects)."""
    return ObjectStore(current_app.config["OBJECT_STORE"])
