"""The backup archive: an uncompressed tar whose every byte is accounted for.

Members are `database/...` (the snapshot), then the files of each area (`instance/...`,
`objects/...`, keys and folders configured outside the instance), then `manifest.json` (the SHA-256
and size of every other member, the record counts, the schema revision) and `manifest.sha256`
(the manifest's own hash). Tar headers carry a checksum, member data is hashed in the manifest, and
the padding between and after members must be zeros: so one changed byte anywhere is refused,
and the refusal names the file (or the header or padding) it hit. Uncompressed, because the bulk
is images and scans that do not compress, and a gzip layer would hide which file was damaged.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from flask_babel import gettext as _

from qms.errors import InvalidInput

FORMAT = "csi-qms-backup/1"
MANIFEST, MANIFEST_HASH = "manifest.json", "manifest.sha256"
BLOCK = 512
# tarfile reads a header's checksum field up to its first NUL and ignores the spaces around it, so a
# change of the NUL or of the trailing space alone would pass its check: the field must be as written.
_CHECKSUM_FIELD = slice(148, 156)
_WRITTEN_CHECKSUM = re.compile(rb"[0-7]{6}\x00 ")
CHUNK = 1 << 20


class ArchiveDamaged(InvalidInput):
    """The archive is not one this server wrote, or a byte of it changed; nothing was restored."""


@dataclass
class Manifest:
    """What the archive holds: every member's hash and size, and what the database held."""

    created_at: str
    database_kind: str
    schema_revision: str
    record_counts: dict[str, int]
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    format: str = FORMAT

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        body = json.loads(data)
        if body.get("format") != FORMAT:
            raise ArchiveDamaged(_("This is not a CSI-QMS backup archive (format %(format)s).",
                                   format=str(body.get("format"))[:40]))
        return cls(**{key: body[key] for key in cls.__dataclass_fields__})


class ArchiveWriter:
    """Adds files to a new archive, hashing each as it is written."""

    def __init__(self, out: BinaryIO, progress: Callable[[int], None] = lambda n: None) -> None:
        self._tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)
        self.files: dict[str, dict[str, Any]] = {}
        self._progress = progress

    def add_file(self, name: str, path: Path) -> None:
        info = tarfile.TarInfo(_member_name(name))
        info.size, info.mode, info.mtime = path.stat().st_size, 0o600, int(path.stat().st_mtime)
        with path.open("rb") as handle:
            hashing = _HashingReader(handle, self._progress)
            self._tar.addfile(info, hashing)
        if hashing.read_bytes != info.size:
            raise ArchiveDamaged(_("%(name)s changed size while it was being archived.", name=name))
        self.files[info.name] = {"sha256": hashing.digest.hexdigest(), "size": info.size}

    def add_bytes(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(_member_name(name))
        info.size, info.mode = len(data), 0o600
        self._tar.addfile(info, io.BytesIO(data))

    def close(self, manifest: Manifest) -> None:
        manifest.files = self.files
        body = manifest.to_json()
        self.add_bytes(MANIFEST, body)
        self.add_bytes(MANIFEST_HASH, hashlib.sha256(body).hexdigest().encode())
        self._tar.close()


class _HashingReader:
    def __init__(self, handle: BinaryIO, progress: Callable[[int], None]) -> None:
        self._handle, self._progress = handle, progress
        self.digest, self.read_bytes = hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self.digest.update(data)
        self.read_bytes += len(data)
        self._progress(len(data))
        return data


def _member_name(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"not a relative member name: {name!r}")
    return str(path)


# --- reading ------------------------------------------------------------------------------------

def check_archive(path: Path, progress: Callable[[int], None] = lambda n: None) -> Manifest:
    """Read the whole archive once and refuse it, naming the place, unless every byte is as written."""
    seen: dict[str, dict[str, Any]] = {}
    manifest_bytes = manifest_hash = None
    with path.open("rb") as raw:
        for info, data in _members(raw, progress):
            if info.name == MANIFEST:
                manifest_bytes = data.read()
            elif info.name == MANIFEST_HASH:
                manifest_hash = data.read().decode("ascii", "replace")
            else:
                seen[info.name] = _hash_member(data)
    if manifest_bytes is None or manifest_hash is None:
        raise ArchiveDamaged(_("The archive has no manifest: it is incomplete or not a CSI-QMS backup."))
    if hashlib.sha256(manifest_bytes).hexdigest() != manifest_hash:
        raise ArchiveDamaged(_("The archive's manifest.json is damaged (its hash does not match)."))
    try:
        manifest = Manifest.from_json(manifest_bytes)
    except (ValueError, KeyError, TypeError) as error:
        raise ArchiveDamaged(_("The archive's manifest.json cannot be read.")) from error
    _compare(manifest.files, seen)
    return manifest


def _compare(expected: dict[str, dict[str, Any]], seen: dict[str, dict[str, Any]]) -> None:
    for name in sorted(expected.keys() | seen.keys()):
        if name not in seen:
            raise ArchiveDamaged(_("%(name)s is missing from the archive.", name=name))
        if name not in expected:
            raise ArchiveDamaged(_("%(name)s is in the archive but not in its manifest.", name=name))
        if seen[name] != expected[name]:
            raise ArchiveDamaged(_("%(name)s is damaged: its SHA-256 does not match the manifest.", name=name))


def _hash_member(data: BinaryIO) -> dict[str, Any]:
    digest, size = hashlib.sha256(), 0
    while chunk := data.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


def _members(raw: BinaryIO, progress: Callable[[int], None]) -> Iterator[tuple[tarfile.TarInfo, BinaryIO]]:
    """Each regular member with a reader of its data, after checking the padding that precedes it."""
    try:
        archive = tarfile.open(fileobj=raw, mode="r:")
        end = 0
        for info in archive:
            if not info.isfile() or info.name != _safe(info.name):
                raise ArchiveDamaged(_("The archive holds an entry that is not a plain file: %(name)s.",
                                       name=info.name[:200]))
            _zeros(raw, end, info.offset, _("the padding before %(name)s", name=info.name))
            _check_headers(raw, info)
            end = info.offset_data + _padded(info.size)
            _zeros(raw, info.offset_data + info.size, end, _("the padding after %(name)s", name=info.name))
            raw.seek(info.offset_data)
            progress(info.size + info.offset_data - info.offset)
            yield info, _Limited(raw, info.size)
        size = raw.seek(0, io.SEEK_END)
        _zeros(raw, end, size, _("the end of the archive"))
    except tarfile.TarError as error:
        raise ArchiveDamaged(_("The archive is damaged: a tar header does not check out (%(reason)s).",
                               reason=str(error)[:120])) from error


def _check_headers(raw: BinaryIO, info: tarfile.TarInfo) -> None:
    """The checksum field of the member's first header and of its own header, exactly as tarfile writes it."""
    for start in sorted({info.offset, info.offset_data - BLOCK}):
        raw.seek(start)
        if not _WRITTEN_CHECKSUM.fullmatch(raw.read(BLOCK)[_CHECKSUM_FIELD]):
            raise ArchiveDamaged(_("The archive is damaged: a tar header does not check out (%(reason)s).",
                                   reason="bad checksum"))  # tarfile's own words for the same fault


def _safe(name: str) -> str:
    try:
        return _member_name(name)
    except ValueError:
        return ""


def _padded(size: int) -> int:
    return (size + BLOCK - 1) // BLOCK * BLOCK


def _zeros(raw: BinaryIO, start: int, stop: int, where: str) -> None:
    raw.seek(start)
    left = stop - start
    while left > 0:
        chunk = raw.read(min(left, CHUNK))
        if not chunk or chunk.count(0) != len(chunk):
            raise ArchiveDamaged(_("The archive is damaged in %(where)s.", where=where))
        left -= len(chunk)


class _Limited:
    def __init__(self, raw: BinaryIO, size: int) -> None:
        self._raw, self._left = raw, size

    def read(self, size: int = -1) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        data = self._raw.read(size)
        self._left -= len(data)
        return data


def extract(path: Path, place: Callable[[str], Path | None]) -> None:
    """Write every member whose `place(name)` is a path there (the archive was checked first)."""
    with path.open("rb") as raw:
        for info, data in _members(raw, lambda n: None):
            target = place(info.name)
            if target is None:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                while chunk := data.read(CHUNK):
                    out.write(chunk)
            target.chmod(0o600)
