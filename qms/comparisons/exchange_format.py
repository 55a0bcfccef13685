"""The exchange package: ballistic entries moved between units or servers as one signed zip file.

Layout of a package (format "csi-qms-exchange", version 1)::

    manifest.json                    format, version, exporting unit and server, created_at, exporter,
                                     the signer's public key and fingerprint, the entry list, and the
                                     SHA-256 and size of every other file
    entries/<uuid>/surface.x3p       the processed surface (ISO 25178-72, float64: exact round trip)
    entries/<uuid>/original.<ext>    the file as uploaded, unchanged (its hash is in metadata.json)
    entries/<uuid>/metadata.json     calibre, firearm, device, settings, acquisition, custody reference
                                     as text (never another unit's database ids)
    signature                        Ed25519 over the exact bytes of manifest.json, hex

Kinds of package: the manifest's "kind" names what the package carries. A package without one is a
ballistic exchange package (the layout above; every package written before kinds existed). Firearm
trace requests and answers (`qms.firearms.trace`) are kinds whose entries are firearm records: each
entry is its metadata.json alone, and the manifest's signed "message" holds the question or the
answer's outcome. A trace request carries no entry; an answer carries none when the partner holds no
record. Each caller opens only the kinds it handles: a trace package is refused by the ballistic
import, and the reverse, with a reason that says where it belongs.

Opening a package checks, in this order and before the caller stores anything: sizes and zip
structure (zip-bomb limits), every file's SHA-256 against the manifest (and no file missing or
extra), the signature with the public key named in the manifest, and finally that the caller
trusts that key. Every refusal is a `PackageRefused` (an `InvalidInput` of the refusal family)
whose message names the problem. This module needs no web application: it is bytes in, bytes out.

References
----------
RFC 8032, Edwards-Curve Digital Signature Algorithm (Ed25519).
OWASP ASVS 5.0, V5.2 "File upload" (archive size, member count and compression-ratio limits).
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask_babel import format_number
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from qms.errors import InvalidInput

FORMAT = "csi-qms-exchange"
VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "signature"
BALLISTIC = "ballistic"
TRACE_REQUEST = "firearm-trace-request"
TRACE_ANSWER = "firearm-trace-answer"
# The files each entry of a kind must hold, and the only ones it may hold (ballistic entries may add their original).
ENTRY_FILES = ("surface.x3p", "metadata.json")
KIND_FILES = {BALLISTIC: ENTRY_FILES, TRACE_REQUEST: ("metadata.json",), TRACE_ANSWER: ("metadata.json",)}
# Whole sentences for a package brought to the wrong page, so that each language can word them freely.
TRACE_PACKAGE_ON_EXCHANGE_PAGE = {
    TRACE_REQUEST: _l("This is a firearm trace request, not a ballistic exchange package: import it on the firearm "
                      "trace page."),
    TRACE_ANSWER: _l("This is a firearm trace answer, not a ballistic exchange package: import it on the firearm "
                     "trace page."),
}
TRACE_PACKAGE_OF_THE_OTHER_KIND = {
    TRACE_REQUEST: _l("This is a firearm trace request where a trace answer was expected."),
    TRACE_ANSWER: _l("This is a firearm trace answer where a trace request was expected."),
}
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member dates: the manifest's created_at is the one that counts
_SAFE_PATH = re.compile(r"^entries/(?:[0-9a-f]{32}|[0-9a-f-]{36})/"
                        r"(surface\.x3p|metadata\.json|original\.[a-z0-9]{1,8})$")
_UUID = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")  # hex or dashed
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# What zipfile and zlib raise on damaged archives (as in ballistics.io).
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
               NotImplementedError, RuntimeError, struct.error, UnicodeDecodeError, KeyError, IndexError)


class PackageRefused(InvalidInput):
    """A package that is refused: the message says so and why, and is safe to show to the importer."""

    def __init__(self, reason: str) -> None:
        super().__init__(_("Package refused, nothing was stored: %(reason)s", reason=reason))
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    """What a package may declare before anything is decompressed."""

    max_bytes: int = 64 * 1024 * 1024  # the upload limit of the web app
    max_members: int = 3 * 500 + 2
    max_entries: int = 500
    max_member_bytes: int = 110 * 1024 * 1024  # ballistics.io's surface limit, plus the zip overhead
    max_total_bytes: int = 512 * 1024 * 1024
    max_ratio: int = 100  # X3P float data deflates about 1.1:1; a bomb reaches 1000:1
    max_json_bytes: int = 4 * 1024 * 1024


@dataclass(frozen=True)
class EntryFiles:
    """One entry as packaged: its uuid, metadata and files (name -> bytes, e.g. "surface.x3p")."""

    uuid: str
    metadata: Mapping[str, Any]
    files: Mapping[str, bytes]


@dataclass(frozen=True)
class OpenedPackage:
    """A package whose hashes, signature and signer were all checked."""

    sha256: str
    manifest: Mapping[str, Any]
    fingerprint: str
    entries: list[EntryFiles] = field(default_factory=list)

    @property
    def source(self) -> Mapping[str, Any]:
        return self.manifest["source"]

    @property
    def kind(self) -> str:
        return kind_of(self.manifest)

    @property
    def message(self) -> Mapping[str, Any]:
        """The signed message of a trace package (the question, or the answer's outcome); empty otherwise."""
        message = self.manifest.get("message")
        return message if isinstance(message, dict) else {}


def kind_of(manifest: Mapping[str, Any]) -> str:
    return str(manifest.get("kind", BALLISTIC))


# --- keys ---------------------------------------------------------------------------------------------

def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, hex (what partners compare by telephone)."""
    return hashlib.sha256(raw_public_key(public_key)).hexdigest()


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM, or from 64 hex digits of the raw key; ValueError otherwise."""
    text = text.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
    try:
        key = serialization.load_pem_public_key(text.encode("ascii", "replace"))
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise ValueError(_("not a public key: paste the PEM block or the 64 hex digits of an Ed25519 key")) from error
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(_("the key is not an Ed25519 public key"))
    return key


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


# --- writing ------------------------------------------------------------------------------------------

def _json(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False).encode("utf-8")


def _serialise(manifest_bytes: bytes, files: Mapping[str, bytes], signature: bytes) -> bytes:
    """The one canonical zip of a package's content: every member stored (the X3P files are already
    compressed), fixed dates and attributes, manifest first, files sorted, signature last.

    Because the layout is canonical, an importer rebuilds it from the checked content and compares:
    a changed byte in a zip header, which no hash covers, is noticed too.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path, data in [(MANIFEST, manifest_bytes), *sorted(files.items()), (SIGNATURE, signature)]:
            info = zipfile.ZipInfo(path, date_time=_ZIP_DATE)
            info.create_system = 3  # as written on POSIX, whatever the exporting platform
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def build_package(entries: list[EntryFiles], *, source: Mapping[str, Any], key: Ed25519PrivateKey,
                  kind: str = BALLISTIC, message: Mapping[str, Any] | None = None) -> bytes:
    """A signed package of `entries`; `source` names the exporting unit, server, exporter and time.

    A ballistic package (the default) is written exactly as before kinds existed: no "kind" in its
    manifest. Other kinds name themselves and carry their `message` in the signed manifest.
    """
    if kind not in KIND_FILES:
        raise ValueError(f"unknown package kind {kind!r}")
    if not entries and kind == BALLISTIC:
        raise ValueError("an exchange package needs at least one entry")
    files: dict[str, bytes] = {}
    listed = []
    for entry in entries:
        folder = f"entries/{entry.uuid}/"
        files[folder + "metadata.json"] = _json(dict(entry.metadata))
        for name, data in entry.files.items():
            files[folder + name] = data
        listed.append({"uuid": entry.uuid, "files": sorted(n for n in files if n.startswith(folder))})
    public_key = key.public_key()
    manifest = {"format": FORMAT, "version": VERSION, "source": dict(source), "entries": listed,
                "signer": {"public_key": raw_public_key(public_key).hex(), "fingerprint": fingerprint(public_key)},
                "files": {path: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                          for path, data in sorted(files.items())}}
    if kind != BALLISTIC:
        manifest.update(kind=kind, message=dict(message or {}))
    manifest_bytes = _json(manifest)
    return _serialise(manifest_bytes, files, key.sign(manifest_bytes).hex().encode("ascii") + b"\n")


# --- opening ------------------------------------------------------------------------------------------

def open_package(data: bytes, *, is_trusted: Callable[[str], bool], limits: Limits = Limits(),
                 kinds: tuple[str, ...] = (BALLISTIC,)) -> OpenedPackage:
    """Check a package completely (limits, hashes, signature, signer, one of the `kinds` the caller handles)
    and return its entries.

    Raises `PackageRefused` naming the first problem found; nothing is returned half-checked.
    """
    _check_size(data, limits)
    members = _read_members(data, limits)
    manifest_bytes = members.pop(MANIFEST, None)
    signature = members.pop(SIGNATURE, None)
    if manifest_bytes is None or signature is None:
        raise PackageRefused(_("This is not an exchange package: its manifest.json or its signature file is missing."))
    manifest = _parse_manifest(manifest_bytes)
    _check_hashes(manifest, members)
    if _serialise(manifest_bytes, members, signature) != data:
        raise PackageRefused(_("The package was altered: its zip structure differs from the canonical layout of "
                               "its signed content (a header byte was changed)."))
    public_key = _check_signature(manifest, manifest_bytes, signature)
    signer = fingerprint(public_key)
    if not is_trusted(signer):
        raise PackageRefused(_("The package is signed by an unknown key (fingerprint %(signer)s). A quality manager "
                               "must add the sending server's key as a partner key before its packages are accepted.",
                               signer=signer))
    _check_kind(manifest, kinds)
    if len(manifest["entries"]) > limits.max_entries:
        raise PackageRefused(_("The package holds %(count)s entries, above the limit of %(limit)s.",
                               count=format_number(len(manifest["entries"])), limit=format_number(limits.max_entries)))
    entries = [_entry(item, members, limits, KIND_FILES[kind_of(manifest)]) for item in manifest["entries"]]
    _check_every_file_belongs(entries, members)
    return OpenedPackage(hashlib.sha256(data).hexdigest(), manifest, signer, entries)


def _check_size(data: bytes, limits: Limits) -> None:
    if len(data) > limits.max_bytes:
        raise PackageRefused(_("The package is %(size)s bytes, above the limit of %(limit)s.",
                               size=format_number(len(data)), limit=format_number(limits.max_bytes)))
    if not data.startswith(b"PK\x03\x04"):
        raise PackageRefused(_("This is not an exchange package: the file is not a zip archive."))
    tail = data[-(65_535 + 22):]
    position = tail.rfind(b"PK\x05\x06")
    if position < 0 or len(tail) - position < 22:
        raise PackageRefused(_("The package is damaged: the zip archive is truncated (no end-of-archive record)."))
    (count,) = struct.unpack_from("<H", tail, position + 10)
    if count > limits.max_members:
        raise PackageRefused(_("The package declares %(count)s files, above the limit of %(limit)s.",
                               count=format_number(count), limit=format_number(limits.max_members)))


def _read_members(data: bytes, limits: Limits) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except _ZIP_ERRORS as error:
        raise PackageRefused(_("The package is damaged: not a readable zip archive (%(reason)s).",
                               reason=error)) from error
    _check_declared(infos, limits)
    members: dict[str, bytes] = {}
    with archive:
        for info in infos:
            try:
                with archive.open(info) as member:
                    # zipfile stops at the declared size and checks the CRC-32: a lying header
                    # cannot make this read more than was checked above.
                    members[info.filename] = member.read(info.file_size + 1)
            except _ZIP_ERRORS as error:
                raise PackageRefused(_("The package is damaged: %(name)s cannot be read (%(reason)s).",
                                       name=info.filename[:120], reason=error)) from error
    return members


def _check_declared(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    """Names, counts, sizes and compression ratios, from the zip directory alone."""
    if len(infos) > limits.max_members:
        raise PackageRefused(_("The package holds %(count)s files, above the limit of %(limit)s.",
                               count=format_number(len(infos)), limit=format_number(limits.max_members)))
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        raise PackageRefused(_("The package is damaged: a file name appears twice in the archive."))
    total = 0
    for info in infos:
        name = info.filename[:120]
        if info.filename not in (MANIFEST, SIGNATURE) and not _SAFE_PATH.match(info.filename):
            raise PackageRefused(_("The package holds a file that does not belong in an exchange package: %(name)r.",
                                   name=name))
        if info.flag_bits & 0x1:
            raise PackageRefused(_("The package holds an encrypted file (%(name)s).", name=name))
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise PackageRefused(_("The package uses an unsupported compression for %(name)s.", name=name))
        if info.file_size > limits.max_member_bytes:
            raise PackageRefused(_("%(name)s declares %(size)s bytes, above the limit of %(limit)s.", name=name,
                                   size=format_number(info.file_size), limit=format_number(limits.max_member_bytes)))
        if info.file_size > 1024 * 1024 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise PackageRefused(_("%(name)s expands %(ratio)s times: refused as a decompression bomb.", name=name,
                                   ratio=format_number(info.file_size // max(info.compress_size, 1))))
        total += info.file_size
    if total > limits.max_total_bytes:
        raise PackageRefused(_("The package expands to %(size)s bytes, above the limit of %(limit)s.",
                               size=format_number(total), limit=format_number(limits.max_total_bytes)))


def _parse_manifest(manifest_bytes: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise PackageRefused(_("The package is damaged: manifest.json is not valid JSON (%(reason)s).",
                               reason=error)) from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PackageRefused(_("This is not an exchange package: manifest.json does not declare the format "
                               "%(format)r.", format=FORMAT))
    if manifest.get("version") != VERSION:
        raise PackageRefused(_("The package has format version %(found)r; this server reads version %(version)s.",
                               found=manifest.get("version"), version=VERSION))
    if kind_of(manifest) not in KIND_FILES:
        raise PackageRefused(_("The package is of a kind this server does not know (%(kind)r).",
                               kind=kind_of(manifest)[:40]))
    files, entries, signer = manifest.get("files"), manifest.get("entries"), manifest.get("signer")
    # Only a ballistic package must carry entries: a trace request carries none, nor a "no record" answer.
    has_entries = isinstance(entries, list) and (bool(entries) or kind_of(manifest) != BALLISTIC)
    if not (isinstance(files, dict) and has_entries and isinstance(signer, dict)
            and isinstance(manifest.get("source"), dict)
            and (kind_of(manifest) == BALLISTIC or isinstance(manifest.get("message"), dict))):
        raise PackageRefused(_("The package is damaged: manifest.json lacks its file list, entry list, source or "
                               "signer."))
    for path, facts in files.items():
        if not (isinstance(facts, dict) and isinstance(facts.get("sha256"), str) and _HEX64.match(facts["sha256"])
                and isinstance(facts.get("size"), int)):
            raise PackageRefused(_("The package is damaged: manifest.json has no valid SHA-256 for %(path)s.",
                                   path=str(path)[:120]))
    return manifest


def _check_hashes(manifest: Mapping[str, Any], members: Mapping[str, bytes]) -> None:
    """Every listed file present with its size and SHA-256; no file that the manifest does not list."""
    listed = manifest["files"]
    extra = sorted(set(members) - set(listed))
    if extra:
        raise PackageRefused(_("The package holds a file its manifest does not list: %(path)s.",
                               path=extra[0][:120]))
    for path, facts in listed.items():
        data = members.get(path)
        if data is None:
            raise PackageRefused(_("The package is incomplete: %(path)s is listed in the manifest but missing.",
                                   path=str(path)[:120]))
        if len(data) != facts["size"] or hashlib.sha256(data).hexdigest() != facts["sha256"]:
            raise PackageRefused(_("The package was altered: the SHA-256 of %(path)s does not match its manifest.",
                                   path=path))


def _check_signature(manifest: Mapping[str, Any], manifest_bytes: bytes, signature: bytes) -> Ed25519PublicKey:
    signer = manifest["signer"]
    try:
        public_key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(str(signer.get("public_key", ""))))
        signature_bytes = bytes.fromhex(signature.decode("ascii").strip())
    except (ValueError, UnicodeDecodeError) as error:
        raise PackageRefused(_("The package is damaged: its signature or signer key cannot be read.")) from error
    try:
        public_key.verify(signature_bytes, manifest_bytes)
    except InvalidSignature as error:
        raise PackageRefused(_("The package was altered: its signature does not match its manifest.")) from error
    if signer.get("fingerprint") != fingerprint(public_key):
        raise PackageRefused(_("The package is damaged: the signer's fingerprint does not match its key."))
    return public_key


def _check_kind(manifest: Mapping[str, Any], kinds: tuple[str, ...]) -> None:
    kind = kind_of(manifest)
    if kind in kinds:
        return
    if kind == BALLISTIC:
        raise PackageRefused(_("This is a ballistic exchange package: import it on the exchange page."))
    if BALLISTIC in kinds:
        raise PackageRefused(str(TRACE_PACKAGE_ON_EXCHANGE_PAGE[kind]))
    raise PackageRefused(str(TRACE_PACKAGE_OF_THE_OTHER_KIND[kind]))


def _check_every_file_belongs(entries: list[EntryFiles], members: Mapping[str, bytes]) -> None:
    uuids = [entry.uuid for entry in entries]
    if len(set(uuids)) != len(uuids):
        raise PackageRefused(_("The package is damaged: an entry appears twice in its manifest."))
    folders = tuple(f"entries/{uuid}/" for uuid in uuids)
    stray = sorted(path for path in members if not path.startswith(folders))
    if stray:
        raise PackageRefused(_("The package holds a file of no listed entry: %(path)s.", path=stray[0][:120]))


def _entry(item: Any, members: Mapping[str, bytes], limits: Limits, required: tuple[str, ...]) -> EntryFiles:
    if not isinstance(item, dict) or not isinstance(item.get("uuid"), str) or not _UUID.match(item["uuid"]):
        raise PackageRefused(_("The package is damaged: an entry of the manifest has no valid uuid."))
    folder = f"entries/{item['uuid']}/"
    files = {path.removeprefix(folder): data for path, data in members.items() if path.startswith(folder)}
    missing = [name for name in required if name not in files]
    if missing:
        raise PackageRefused(_("The package is incomplete: entry %(uuid)s has no %(name)s.", uuid=item["uuid"],
                               name=missing[0]))
    if required != ENTRY_FILES and set(files) != set(required):  # firearm records are their metadata alone
        raise PackageRefused(_("The package holds a file that does not belong to a firearm record: entry "
                               "%(uuid)s has %(name)s.", uuid=item["uuid"],
                               name=sorted(set(files) - set(required))[0][:40]))
    metadata_bytes = files.pop("metadata.json")
    if len(metadata_bytes) > limits.max_json_bytes:
        raise PackageRefused(_("The metadata of entry %(uuid)s is too large.", uuid=item["uuid"]))
    try:
        metadata = json.loads(metadata_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise PackageRefused(_("The metadata of entry %(uuid)s is not valid JSON (%(reason)s).", uuid=item["uuid"],
                               reason=error)) from error
    if not isinstance(metadata, dict):
        raise PackageRefused(_("The metadata of entry %(uuid)s is not a JSON object.", uuid=item["uuid"]))
    return EntryFiles(item["uuid"], metadata, files)
