"""Reading and writing surfaces: X3P (ISO 25178-72 / ISO 5436-2), PNG, TIFF and JPEG.

Every reader checks what a file *declares* before decoding anything: the file size, the magic
number, and the pixel count read from the header (PNG IHDR, TIFF IFD, JPEG SOF, X3P ``main.xml``
plus the zip member's declared size). A 20000 x 20000 image is refused from its header in
milliseconds, without allocating its pixels (see ``bench/bench_io_limits.py`` for the figures).
Bad input raises a :class:`SurfaceFormatError` (a ``ValueError``) naming the file; checks that
fail on size raise :class:`SurfaceTooLargeError`.

References
----------
ISO 25178-72:2017 (+Amd 1:2020), Geometrical product specifications -- Surface texture: Areal --
    Part 72: XML file format x3p. ISO 5436-2:2012, Software measurement standards (the X3P
    schema, ``iso5436_2.xsd``; openGPS reference library, github.com/OpenFMC/x3p).
OWASP ASVS 5.0, V5.2 "File upload" (pixel-flood and decompression-bomb limits).
W3C PNG Specification (2nd ed.), section 11.2.2 IHDR; TIFF Revision 6.0, section 2 (IFD);
    ITU-T T.81 (JPEG), annex B.2.2 (frame header SOFn).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import struct
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from xml.parsers import expat

import numpy as np

# OpenCV's own pixel limit (default 2**30 px) is far above what we accept; lower it as a second
# line of defence behind the header checks. It only takes effect if set before cv2 is imported.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(2**28))
import cv2

from ballistics.surface import Surface

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "PROCESSED_MARKER",
    "RAW_MARKER",
    "SurfaceChecksumError",
    "SurfaceFormatError",
    "SurfaceTooLargeError",
    "SurfaceWarning",
    "check_member_names",
    "decode_image",
    "describe",
    "looks_processed",
    "read_image",
    "read_surface",
    "read_surface_bytes",
    "read_x3p",
    "sniff_format",
    "write_image",
    "write_x3p",
]

DEFAULT_MAX_BYTES = 100_000_000
"""Default file-size limit (bytes): well above a 2k x 2k float64 X3P (~32 MB uncompressed)."""
DEFAULT_MAX_PIXELS = 50_000_000
"""Default pixel-count limit: 50 Mpx (400 MB as float64), far above a 2592 x 1944 photograph."""
MAX_XML_BYTES = 16_000_000
"""main.xml above this size is refused (binary point data is the norm; inline lists are for samples)."""
MAX_XML_ELEMENTS = 200_000
"""More XML elements than this are refused while parsing: each costs ~100 bytes as an Element and
a Python callback, so a 16 MB file of empty ``<Datum/>`` tags would otherwise cost ~200 MB and
seconds. Inline DataList surfaces above ~200,000 points are therefore refused (real scans use a
binary DataLink; inline lists are for conformance samples)."""
MAX_ZIP_MEMBERS = 1_000
PROCESSED_MARKER = "[ballistics: processed]"
"""Written into Record2/Comment by :func:`write_x3p` for processed surfaces, read back as processed."""
RAW_MARKER = "[ballistics: raw]"
"""Written for unprocessed surfaces, so that the flag survives a round trip whatever the heuristic says."""
_MARKER = re.compile(r"\s*\[ballistics: (processed|raw)\]")

HEIGHT_SCALE_KEY = "ballistics:height-scale"
"""Keyword of the PNG tEXt chunk in which :func:`write_image` keeps a topography's height scale."""

_X3P_NS = "http://www.opengps.eu/2008/ISO5436_2"
_X3P_DTYPES = {"I": "<i2", "L": "<i4", "F": "<f4", "D": "<f8"}
_MICROMETRE_INCREMENT = 0.1
_MAGIC = (
    (b"PK\x03\x04", "x3p"),
    (b"PK\x05\x06", "x3p"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"\xff\xd8\xff", "jpeg"),
)


class SurfaceFormatError(ValueError):
    """A file that is not a readable surface: wrong type, truncated, malformed, inconsistent."""


class SurfaceTooLargeError(SurfaceFormatError):
    """A file (or what its header declares) exceeds a size or pixel-count limit."""


class SurfaceChecksumError(SurfaceFormatError):
    """An X3P whose MD5 checksums do not match its content (ISO 5436-2 Record3/Record4)."""


class SurfaceWarning(UserWarning):
    """Something was read but deserves the examiner's attention (lossy JPEG, units converted...)."""


@dataclass(frozen=True)
class _Limits:
    max_bytes: int
    max_pixels: int

    def check_pixels(self, width: int, height: int, name: str) -> None:
        if width <= 0 or height <= 0:
            raise SurfaceFormatError(f"{name}: header declares an empty image ({width} x {height})")
        if width * height > self.max_pixels:
            raise SurfaceTooLargeError(
                f"{name}: header declares {width} x {height} = {width * height:,} pixels, "
                f"above the limit of {self.max_pixels:,} (max_pixels)"
            )


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def read_surface(
    path: str | os.PathLike[str],
    *,
    pixel_size: float | None = None,
    processed: bool | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    verify_checksums: bool = True,
) -> Surface:
    """Read a topography (X3P) or photograph (PNG, TIFF, JPEG), choosing the reader from content.

    Parameters
    ----------
    path : path-like
        The file. Its type is sniffed from the magic number, not the extension.
    pixel_size : float, optional
        Lateral pixel size in metres; for X3P it overrides the file's CX increment. Required for
        TIFF and JPEG, and for PNG unless its pHYs chunk states a microscopic pixel in metres
        (at most 100 µm; the NIST NBIDE photographs state 2.53 µm). Without it an image is refused
        with a ValueError rather than guessed: a wrong scale silently breaks every filter.
    processed : bool, optional
        Force the `processed` flag. Default rule for X3P: the marker written by
        :func:`write_x3p` in Record2/Comment (:data:`PROCESSED_MARKER` or :data:`RAW_MARKER`)
        decides when present; otherwise :func:`looks_processed` (recognises the shared Fadul
        scans, which carry no processing record). Images are marked unprocessed.
    max_bytes, max_pixels : int
        Limits checked before decoding (file size; pixel count declared in the header).
    verify_checksums : bool
        Check the X3P MD5 sums (point data, valid points, main.xml). Default True.

    Returns
    -------
    Surface

    Raises
    ------
    SurfaceFormatError
        Unknown type, empty, truncated or malformed file, checksum mismatch (ValueError subclass).
    SurfaceTooLargeError
        File or declared image above the limits.
    OSError
        The file cannot be opened (FileNotFoundError when it does not exist).

    Examples
    --------
    >>> surface = read_surface("Fadul 1-1.x3p")  # doctest: +SKIP
    >>> surface.shape, surface.pixel_size_um, surface.processed  # doctest: +SKIP
    ((545, 545), 6.25, True)
    """
    data, name, limits = _load_bytes(path, max_bytes=max_bytes, max_pixels=max_pixels)
    return _read_any(data, name, limits, pixel_size=pixel_size, processed=processed, verify=verify_checksums)


def read_surface_bytes(
    data: bytes,
    *,
    name: str = "<bytes>",
    pixel_size: float | None = None,
    processed: bool | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    verify_checksums: bool = True,
) -> Surface:
    """Read a surface from bytes already in memory (an upload); same rules as :func:`read_surface`.

    `name` is what error messages call the file: pass the name the user knows (the uploaded
    file's), so that no message shows where a server keeps its temporary files.

    Examples
    --------
    >>> read_surface_bytes(b"", name="scan.x3p")
    Traceback (most recent call last):
    ...
    ballistics.io.SurfaceFormatError: scan.x3p: file is empty
    """
    limits = _limits(max_bytes, max_pixels)
    if len(data) > max_bytes:
        raise SurfaceTooLargeError(f"{name}: file is {len(data):,} bytes, above the limit of {max_bytes:,} (max_bytes)")
    return _read_any(data, name, limits, pixel_size=pixel_size, processed=processed, verify=verify_checksums)


def decode_image(
    data: bytes, *, name: str = "<bytes>", max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Decode a PNG, TIFF or JPEG photograph under limits, as its 8- or 16-bit grey levels.

    The header is checked against `max_pixels` before anything is decoded, so a decompression
    bomb costs microseconds; the whole image is then decoded, so a truncated file, a PNG whose
    checksums fail or a PNG carrying data after its end (a polyglot) is refused too.

    Raises
    ------
    SurfaceFormatError
        Not a PNG, TIFF or JPEG, or damaged.
    SurfaceTooLargeError
        Above `max_bytes`, or declaring more than `max_pixels` pixels.

    Examples
    --------
    >>> decode_image(bytes.fromhex("89504e470d0a1a0a"), name="photo.png")
    Traceback (most recent call last):
    ...
    ballistics.io.SurfaceFormatError: photo.png: truncated PNG (no IHDR header)
    """
    limits = _limits(max_bytes, max_pixels)
    if len(data) > max_bytes:
        raise SurfaceTooLargeError(f"{name}: file is {len(data):,} bytes, above the limit of {max_bytes:,} (max_bytes)")
    kind = sniff_format(data, name=name)
    if kind == "x3p":
        raise SurfaceFormatError(f"{name}: is an X3P (zip) file, not an image")
    _HEADER_CHECKS[kind](data, name, limits)
    return _decode_grey(data, name, limits)[0]


def _read_any(data: bytes, name: str, limits: _Limits, *, pixel_size: float | None, processed: bool | None,
              verify: bool) -> Surface:
    kind = sniff_format(data, name=name)
    if kind == "x3p":
        return _read_x3p_bytes(data, name, limits, pixel_size=pixel_size, processed=processed, verify=verify)
    return _read_image_bytes(data, name, limits, kind, pixel_size=pixel_size, processed=processed)


def _limits(max_bytes: int, max_pixels: int) -> _Limits:
    if max_bytes <= 0 or max_pixels <= 0:
        raise ValueError(f"limits must be positive, got max_bytes={max_bytes}, max_pixels={max_pixels}")
    return _Limits(max_bytes, max_pixels)


def read_x3p(
    path: str | os.PathLike[str],
    *,
    pixel_size: float | None = None,
    processed: bool | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    verify_checksums: bool = True,
) -> Surface:
    """Read an X3P file; same options as :func:`read_surface`, refuses any other type."""
    data, name, limits = _load_bytes(path, max_bytes=max_bytes, max_pixels=max_pixels)
    if sniff_format(data, name=name) != "x3p":
        raise SurfaceFormatError(f"{name}: not an X3P file (no zip signature)")
    return _read_x3p_bytes(
        data, name, limits, pixel_size=pixel_size, processed=processed, verify=verify_checksums
    )


def read_image(
    path: str | os.PathLike[str],
    *,
    pixel_size: float | None = None,
    processed: bool | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Surface:
    """Read a PNG, TIFF or JPEG photograph; same options as :func:`read_surface`."""
    data, name, limits = _load_bytes(path, max_bytes=max_bytes, max_pixels=max_pixels)
    kind = sniff_format(data, name=name)
    if kind == "x3p":
        raise SurfaceFormatError(f"{name}: is an X3P (zip) file, not an image")
    return _read_image_bytes(data, name, limits, kind, pixel_size=pixel_size, processed=processed)


def sniff_format(data: bytes, *, name: str = "<bytes>") -> str:
    """Return ``"x3p"``, ``"png"``, ``"tiff"`` or ``"jpeg"`` from the magic number, or raise.

    Examples
    --------
    >>> sniff_format(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(20))
    'png'
    """
    if len(data) == 0:
        raise SurfaceFormatError(f"{name}: file is empty")
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] in (b"II+\x00", b"MM\x00+"):
        raise SurfaceFormatError(f"{name}: BigTIFF is not supported; save as classic TIFF or PNG")
    raise SurfaceFormatError(
        f"{name}: unrecognised file type (first bytes {data[:8]!r}); expected X3P, PNG, TIFF or JPEG"
    )


def _load_bytes(path: str | os.PathLike[str], *, max_bytes: int, max_pixels: int) -> tuple[bytes, str, _Limits]:
    limits = _limits(max_bytes, max_pixels)
    path = Path(path)
    name = str(path)
    size = path.stat().st_size  # a missing file is an OSError (FileNotFoundError), not a format error
    if not path.is_file():  # devices and pipes (/dev/zero would never end)
        raise SurfaceFormatError(f"{name}: not a regular file")
    if size > max_bytes:
        raise SurfaceTooLargeError(f"{name}: file is {size:,} bytes, above the limit of {max_bytes:,} (max_bytes)")
    with open(path, "rb") as handle:
        # One byte more than stat() said, to notice a file that grew meanwhile; not max_bytes + 1,
        # which would make Python allocate the whole limit for every small file.
        data = handle.read(size + 1)
    if len(data) > max_bytes:
        raise SurfaceTooLargeError(f"{name}: file is above the limit of {max_bytes:,} bytes (max_bytes)")
    return data, name, limits


# --------------------------------------------------------------------------------------------
# X3P reading
# --------------------------------------------------------------------------------------------


def _read_x3p_bytes(
    data: bytes, name: str, limits: _Limits, *, pixel_size: float | None, processed: bool | None, verify: bool
) -> Surface:
    _check_zip_directory(data, name)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS as error:
        raise SurfaceFormatError(f"{name}: not a valid X3P zip archive ({error})") from error
    with archive:
        members = {info.filename: info for info in archive.infolist()}
        check_member_names(members, name=name)
        if "main.xml" not in members:
            raise SurfaceFormatError(f"{name}: X3P archive has no main.xml (members: {sorted(members)[:5]})")
        xml_bytes = _read_member(archive, members["main.xml"], MAX_XML_BYTES, name)
        root = _parse_x3p_xml(xml_bytes, name)
        header = _x3p_header(root, name)
        limits.check_pixels(header.size_x, header.size_y, name)
        md5_main = _check_main_md5(archive, members, xml_bytes, name, verify)
        heights = _x3p_heights(archive, members, root, header, name, verify)
    if not np.any(~np.isnan(heights)):
        raise SurfaceFormatError(f"{name}: X3P contains no valid height (all points missing)")
    metadata = {"source": Path(name).name, "format": "x3p", "sha256": hashlib.sha256(data).hexdigest()}
    metadata.update(header.metadata)
    metadata["main_xml_md5_verified"] = md5_main
    size, heights = _resolve_units(header, heights, pixel_size, name, metadata)
    marker = _MARKER.search(str(metadata.get("comment", "")))
    if marker is not None:
        metadata["comment"] = _MARKER.sub("", str(metadata["comment"])).strip()
        if not metadata["comment"]:
            del metadata["comment"]
    if processed is None:
        processed = marker.group(1) == "processed" if marker is not None else looks_processed(heights)
    return Surface(heights, size, kind="topography", processed=bool(processed), metadata=metadata)


# What zipfile and zlib raise on damaged archives (found by mutation fuzzing, see the tests).
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
               NotImplementedError, RuntimeError, struct.error, UnicodeDecodeError, KeyError, IndexError)


def check_member_names(members: Iterable[str], *, name: str) -> None:
    """Refuse archive member names that climb out of a folder or name an absolute place (zip-slip).

    X3P files are read in memory and never extracted here, but they are kept and passed on
    (exchange packages, downloads), and whoever unpacks one later must not be led astray.
    """
    for member in members:
        parts = member.replace("\\", "/").split("/")
        if member.startswith(("/", "\\")) or ".." in parts or ":" in parts[0] or "\x00" in member:
            raise SurfaceFormatError(f"{name}: the archive has a member whose path leads outside its folder")


def _check_zip_directory(data: bytes, name: str) -> None:
    """Refuse zips whose end-of-central-directory record declares absurd member counts.

    zipfile builds one Python object per member before we could look at any of them, so a
    100 MB archive of empty members would cost gigabytes; the count is read here first.
    """
    tail = data[-(65_535 + 22):]
    position = tail.rfind(b"PK\x05\x06")
    if position < 0 or len(tail) - position < 22:
        raise SurfaceFormatError(f"{name}: not a valid X3P zip archive (truncated: no end-of-archive record)")
    (entries,) = struct.unpack_from("<H", tail, position + 10)
    if entries == 0xFFFF:
        raise SurfaceFormatError(f"{name}: ZIP64 archives are not supported for X3P")
    if entries > MAX_ZIP_MEMBERS:
        raise SurfaceTooLargeError(f"{name}: X3P archive declares {entries:,} members (limit {MAX_ZIP_MEMBERS})")


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, name: str) -> bytes:
    if info.file_size > limit:
        raise SurfaceTooLargeError(
            f"{name}: member {info.filename} declares {info.file_size:,} bytes uncompressed (limit {limit:,})"
        )
    try:
        with archive.open(info) as member:
            # zipfile stops at the declared size and checks the CRC, so a lying header cannot
            # make this read more than `limit` bytes.
            return member.read(limit + 1)
    except _ZIP_ERRORS as error:
        raise SurfaceFormatError(f"{name}: cannot decompress member {info.filename} ({error})") from error


def _parse_x3p_xml(xml_bytes: bytes, name: str) -> ET.Element:
    """Parse main.xml with expat into an ElementTree, refusing DTDs and entity declarations.

    Local names only (namespaces dropped): X3P files in the wild disagree on prefixes.
    Refusing DOCTYPE outright closes entity expansion ("billion laughs") and external entities,
    as defusedxml does.
    """
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")

    def refuse(*_: Any) -> None:
        raise SurfaceFormatError(f"{name}: main.xml contains a DOCTYPE or ENTITY declaration (refused)")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    count = 0

    def start(tag: str, attributes: dict[str, str]) -> None:
        nonlocal count
        count += 1
        if count > MAX_XML_ELEMENTS:
            raise SurfaceTooLargeError(f"{name}: main.xml has more than {MAX_XML_ELEMENTS:,} elements (refused)")
        builder.start(tag.rpartition("}")[2], attributes)

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda tag: builder.end(tag.rpartition("}")[2])
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(xml_bytes, True)
        root = builder.close()
    except expat.ExpatError as error:
        raise SurfaceFormatError(f"{name}: main.xml is not well-formed XML ({error})") from error
    except AssertionError as error:  # TreeBuilder.close() on an empty document
        raise SurfaceFormatError(f"{name}: main.xml is empty") from error
    if root.tag != "ISO5436_2":
        raise SurfaceFormatError(f"{name}: main.xml root element is {root.tag!r}, expected ISO5436_2")
    return root


@dataclass(frozen=True)
class _X3PHeader:
    size_x: int
    size_y: int
    dtype: str
    z_increment: float
    z_offset: float
    x_increment: float
    y_increment: float | None
    absolute_xy: tuple[str, ...]
    metadata: Mapping[str, Any]


def _text(root: ET.Element, path: str, default: str | None = None) -> str | None:
    element = root.find(path)
    if element is None or element.text is None or not element.text.strip():
        return default
    return element.text.strip()


def _number(root: ET.Element, path: str, name: str, default: float | None = None) -> float | None:
    text = _text(root, path)
    if text is None:
        return default
    try:
        return float(text)
    except ValueError as error:
        raise SurfaceFormatError(f"{name}: {path} is not a number ({text!r})") from error


def _x3p_header(root: ET.Element, name: str) -> _X3PHeader:
    feature = (_text(root, "Record1/FeatureType") or "").upper()
    if feature == "PCL" or (root.find("Record3/ListDimension") is not None
                            and root.find("Record3/MatrixDimension") is None):
        raise SurfaceFormatError(
            f"{name}: X3P point cloud (FeatureType {feature or '?'}, ListDimension) is not supported; "
            "only matrix surfaces (SUR) and profiles (PRF) can be compared"
        )
    if feature not in ("SUR", "PRF"):
        raise SurfaceFormatError(f"{name}: unsupported X3P FeatureType {feature!r} (expected SUR or PRF)")
    if root.find("Record3/MatrixDimension") is None:
        raise SurfaceFormatError(f"{name}: X3P Record3 has no MatrixDimension")
    size_x, size_y, size_z = (_integer(root, f"Record3/MatrixDimension/Size{axis}", name) for axis in "XYZ")
    if size_z != 1:
        raise SurfaceFormatError(f"{name}: X3P with SizeZ={size_z} layers is not supported (expected 1)")
    z_type = (_text(root, "Record1/Axes/CZ/DataType") or "D").upper()
    if z_type not in _X3P_DTYPES:
        raise SurfaceFormatError(f"{name}: unknown CZ DataType {z_type!r} (expected I, L, F or D)")
    absolute = tuple(a for a in ("CX", "CY") if (_text(root, f"Record1/Axes/{a}/AxisType") or "I").upper() == "A")
    x_increment = _number(root, "Record1/Axes/CX/Increment", name)
    y_increment = _number(root, "Record1/Axes/CY/Increment", name)
    if x_increment is None or not np.isfinite(x_increment) or x_increment <= 0:
        raise SurfaceFormatError(f"{name}: CX Increment (pixel size) missing or not positive: {x_increment}")
    return _X3PHeader(
        size_x=size_x,
        size_y=size_y,
        dtype=z_type,
        z_increment=_number(root, "Record1/Axes/CZ/Increment", name, 1.0) or 1.0,
        z_offset=_number(root, "Record1/Axes/CZ/Offset", name, 0.0) or 0.0,
        x_increment=float(x_increment),
        y_increment=y_increment,
        absolute_xy=absolute,
        metadata=_record2_metadata(root, feature, z_type),
    )


def _integer(root: ET.Element, path: str, name: str) -> int:
    text = _text(root, path)
    if text is None or not re.fullmatch(r"\+?\d{1,12}", text):
        raise SurfaceFormatError(f"{name}: {path} missing or not a non-negative integer ({text!r})")
    return int(text)


def _record2_metadata(root: ET.Element, feature: str, z_type: str) -> dict[str, Any]:
    """Provenance from Record2 (ISO 5436-2: Date, Creator, Instrument, CalibrationDate, Comment)."""
    fields = {
        "date": "Record2/Date",
        "creator": "Record2/Creator",
        "instrument_manufacturer": "Record2/Instrument/Manufacturer",
        "instrument_model": "Record2/Instrument/Model",
        "instrument_serial": "Record2/Instrument/Serial",
        "instrument_version": "Record2/Instrument/Version",
        "calibration_date": "Record2/CalibrationDate",
        "probing_system": "Record2/ProbingSystem/Type",
        "probing_identification": "Record2/ProbingSystem/Identification",
        "comment": "Record2/Comment",
        "revision": "Record1/Revision",
    }
    metadata: dict[str, Any] = {"feature_type": feature, "z_data_type": z_type}
    for key, path in fields.items():
        value = _text(root, path)
        if value is not None:
            metadata[key] = value
    # "unknown" is what writers (ours included) put in the mandatory fields they know nothing about.
    parts = [metadata.get(f"instrument_{k}") for k in ("manufacturer", "model", "version")]
    parts = [p for p in parts if p and p.strip().lower() != "unknown"]
    if any(parts):
        metadata["instrument"] = " ".join(p for p in parts if p)
    return metadata


def _check_main_md5(
    archive: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo], xml_bytes: bytes, name: str, verify: bool
) -> bool:
    """Compare md5(main.xml) with md5checksum.hex (Record4/ChecksumFile); False when absent."""
    if not verify or "md5checksum.hex" not in members:
        return False
    text = _read_member(archive, members["md5checksum.hex"], 4096, name).decode("ascii", "replace")
    found = re.search(r"[0-9a-fA-F]{32}", text)
    if found is None:
        raise SurfaceChecksumError(f"{name}: md5checksum.hex holds no MD5 sum")
    actual = hashlib.md5(xml_bytes).hexdigest()
    if found.group(0).lower() != actual:
        raise SurfaceChecksumError(
            f"{name}: MD5 mismatch for main.xml (md5checksum.hex says {found.group(0).lower()}, "
            f"content gives {actual}): the file was altered or damaged"
        )
    return True


def _x3p_heights(
    archive: zipfile.ZipFile,
    members: Mapping[str, zipfile.ZipInfo],
    root: ET.Element,
    header: _X3PHeader,
    name: str,
    verify: bool,
) -> np.ndarray:
    count = header.size_x * header.size_y
    link = _text(root, "Record3/DataLink/PointDataLink")
    if link is not None:
        raw = _linked_values(archive, members, link, header, count, name, verify, root)
    elif root.find("Record3/DataList") is not None:
        raw = _inline_values(root, header, count, name)
    else:
        raise SurfaceFormatError(f"{name}: X3P Record3 has neither DataLink nor DataList")
    heights = raw.astype(np.float64)
    if header.dtype in ("I", "L"):
        heights = header.z_offset + header.z_increment * heights
    heights[np.isnan(heights)] = np.nan  # R writes a signalling NaN; make every NaN the quiet one
    valid_link = _text(root, "Record3/DataLink/ValidPointsLink")
    if valid_link is not None:
        valid = _valid_points(archive, members, valid_link, count, name, verify, root)
        heights[~valid] = np.nan
    # X is the fastest index (ISO 5436-2, Record3): rows are Y lines.
    return heights.reshape(header.size_y, header.size_x)


def _linked_values(
    archive: zipfile.ZipFile,
    members: Mapping[str, zipfile.ZipInfo],
    link: str,
    header: _X3PHeader,
    count: int,
    name: str,
    verify: bool,
    root: ET.Element,
) -> np.ndarray:
    link = link.lstrip("/")
    if link not in members:
        raise SurfaceFormatError(f"{name}: point data {link!r} named in main.xml is missing from the archive")
    if header.absolute_xy:
        raise SurfaceFormatError(
            f"{name}: binary point data with absolute {'/'.join(header.absolute_xy)} axes is not supported"
        )
    dtype = np.dtype(_X3P_DTYPES[header.dtype])
    expected = count * dtype.itemsize
    info = members[link]
    if info.file_size != expected:
        raise SurfaceFormatError(
            f"{name}: {link} declares {info.file_size:,} bytes but SizeX*SizeY={count:,} "
            f"{header.dtype} values need {expected:,}"
        )
    blob = _read_member(archive, info, expected, name)
    _verify_md5(blob, _text(root, "Record3/DataLink/MD5ChecksumPointData"), f"point data {link}", name, verify)
    return np.frombuffer(blob, dtype=dtype, count=count)


def _verify_md5(blob: bytes, declared: str | None, what: str, name: str, verify: bool) -> None:
    if not verify or declared is None:
        return
    actual = hashlib.md5(blob).hexdigest()
    if declared.strip().lower() != actual:
        raise SurfaceChecksumError(
            f"{name}: MD5 mismatch for {what} (main.xml says {declared.strip().lower()}, content gives "
            f"{actual}): the file was altered or damaged"
        )


def _valid_points(
    archive: zipfile.ZipFile,
    members: Mapping[str, zipfile.ZipInfo],
    link: str,
    count: int,
    name: str,
    verify: bool,
    root: ET.Element,
) -> np.ndarray:
    """Unpack bindata/valid.bin: one bit per point, least significant bit first (ISO 5436-2)."""
    link = link.lstrip("/")
    if link not in members:
        raise SurfaceFormatError(f"{name}: valid-points file {link!r} is missing from the archive")
    needed = (count + 7) // 8
    blob = _read_member(archive, members[link], needed, name)
    if len(blob) < needed:
        raise SurfaceFormatError(f"{name}: {link} holds {len(blob)} bytes, {needed} needed for {count} points")
    _verify_md5(blob, _text(root, "Record3/DataLink/MD5ChecksumValidPoints"), f"valid points {link}", name, verify)
    bits = np.unpackbits(np.frombuffer(blob[:needed], dtype=np.uint8), bitorder="little")
    return bits[:count].astype(bool)


def _inline_values(root: ET.Element, header: _X3PHeader, count: int, name: str) -> np.ndarray:
    """Record3/DataList/Datum: one point per Datum, Z last (absolute X/Y come first); empty = missing."""
    data = root.findall("Record3/DataList/Datum")
    if len(data) != count:
        raise SurfaceFormatError(f"{name}: DataList holds {len(data)} points, SizeX*SizeY = {count}")
    values = np.full(count, np.nan)
    for index, datum in enumerate(data):
        text = (datum.text or "").strip()
        if text:
            try:
                values[index] = float(text.split(";")[-1])
            except ValueError as error:
                raise SurfaceFormatError(f"{name}: Datum {index} is not a number ({text!r})") from error
    if header.absolute_xy:
        warnings.warn(
            f"{name}: absolute {'/'.join(header.absolute_xy)} coordinates in the DataList are ignored; "
            "points are placed on the matrix grid with the CX increment",
            SurfaceWarning,
            stacklevel=4,
        )
    return values


def _resolve_units(
    header: _X3PHeader, heights: np.ndarray, pixel_size: float | None, name: str, metadata: dict[str, Any]
) -> tuple[float, np.ndarray]:
    """Pixel size in metres; converts files that wrote micrometres where ISO 25178-72 says metres.

    Rule: an increment of 0.1 or more (a 10 cm pixel, impossible for a surface-metrology
    instrument) is taken to be in micrometres and multiplied by 1e-6, with a `SurfaceWarning`.
    Heights of such files are converted too when their span exceeds 1 mm (again impossible for a
    cartridge-case topography in metres, ordinary in micrometres).
    """
    size, y_size = header.x_increment, header.y_increment
    if y_size is not None and "CY" not in header.absolute_xy and not np.isclose(size, y_size, rtol=1e-6):
        raise SurfaceFormatError(
            f"{name}: anisotropic pixels (CX {size:g}, CY {y_size:g}) are not supported; resample first"
        )
    if pixel_size is not None:
        metadata["pixel_size_from"] = "argument"
        return float(pixel_size), heights
    if size >= _MICROMETRE_INCREMENT:
        span = float(np.nanmax(heights) - np.nanmin(heights))
        convert_heights = span > 1e-3
        warnings.warn(
            f"{name}: pixel size {size:g} in the file is implausible in metres (ISO 25178-72 unit); "
            f"read as micrometres -> {size * 1e-6:g} m"
            + ("; heights converted from micrometres too" if convert_heights else ""),
            SurfaceWarning,
            stacklevel=4,
        )
        metadata["units_converted_from_um"] = "pixel size and heights" if convert_heights else "pixel size"
        if convert_heights:
            heights = heights * 1e-6
        return size * 1e-6, heights
    return size, heights


def looks_processed(heights: np.ndarray) -> bool:
    """Whether a topography looks already band-passed and cropped to a breech-face annulus.

    The shared Fadul scans (Zemmels et al. 2022, cmcR) carry no processing record in their X3P,
    so they are recognised by what processing leaves behind; all four must hold:

    1. missing points outside the region: all four corners NaN and the centre NaN (firing pin
       cut out), with 5-80 % of points valid;
    2. zero mean: ``|mean| <= 0.25 * std`` (band-pass removes the offset);
    3. no form left: a least-squares plane explains under 5 % of the variance;
    4. micro-scale relief: ``std < 20 µm`` (a raw case head has tens of µm of form).

    Parameters
    ----------
    heights : ndarray, shape (rows, cols)
        Heights in metres, NaN for missing.

    Returns
    -------
    bool

    References
    ----------
    Zemmels, VanderPlas, Hofmann (2022), "A Study in Reproducibility: The Congruent Matching
    Cells Algorithm and cmcR Package", R Journal 14(2):70-96, doi:10.32614/RJ-2022-035.
    """
    z = np.asarray(heights, dtype=np.float64)
    valid = ~np.isnan(z)
    rows, cols = z.shape
    if min(rows, cols) < 8 or not 0.05 <= valid.mean() <= 0.8:
        return False
    centre = valid[rows // 2 - 1: rows // 2 + 2, cols // 2 - 1: cols // 2 + 2]
    if valid[0, 0] or valid[0, -1] or valid[-1, 0] or valid[-1, -1] or centre.any():
        return False
    values = z[valid]
    std = float(values.std())
    if std == 0 or std >= 20e-6 or abs(float(values.mean())) > 0.25 * std:
        return False
    yy, xx = np.nonzero(valid)
    design = np.column_stack([np.ones_like(xx), xx, yy]).astype(np.float64)
    coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
    explained = 1.0 - np.var(values - design @ coefficients) / np.var(values)
    return bool(explained < 0.05)


# --------------------------------------------------------------------------------------------
# Image reading (PNG, TIFF, JPEG): header checks, then OpenCV decoding
# --------------------------------------------------------------------------------------------


def _read_image_bytes(
    data: bytes, name: str, limits: _Limits, kind: str, *, pixel_size: float | None, processed: bool | None
) -> Surface:
    _HEADER_CHECKS[kind](data, name, limits)
    scale = _png_height_scale(data, name) if kind == "png" else None
    if scale is not None:
        return _height_png(data, name, limits, scale, pixel_size=pixel_size, processed=processed)
    source = "argument"
    if pixel_size is None and kind == "png":
        pixel_size, source = _png_physical_pixel_size(data), "png pHYs"
    if pixel_size is None:
        raise ValueError(
            f"{name}: an image carries no reliable physical scale; pass pixel_size= in metres "
            "(e.g. 3.125e-6 for a 3.125 µm/pixel photograph)"
        )
    if kind == "jpeg":
        warnings.warn(
            f"{name}: JPEG is lossy; compression artefacts (8x8 blocks) can add or remove fine marks. "
            "Prefer PNG or TIFF for evidence images.",
            SurfaceWarning,
            stacklevel=3,
        )
    grey = _decode(data, name, limits)
    if np.isnan(grey).all():
        raise SurfaceFormatError(f"{name}: image has no valid pixel (fully transparent)")
    metadata = {"source": Path(name).name, "format": kind, "sha256": hashlib.sha256(data).hexdigest(),
                "pixel_size_from": source}
    return Surface(grey, float(pixel_size), kind="image", processed=bool(processed), metadata=metadata)


def _height_png(data: bytes, name: str, limits: _Limits, scale: dict[str, Any], *, pixel_size: float | None,
                processed: bool | None) -> Surface:
    """A PNG written by :func:`write_image` from a topography: heights in metres again."""
    unit = _decode(data, name, limits)
    if np.isnan(unit).all():
        raise SurfaceFormatError(f"{name}: image has no valid pixel (fully transparent)")
    heights = scale["zero_m"] + unit * scale["full_scale_m"]
    metadata = {"source": Path(name).name, "format": "png", "sha256": hashlib.sha256(data).hexdigest(),
                "pixel_size_from": "argument" if pixel_size is not None else "png height scale",
                "height_scale": {k: scale[k] for k in ("zero_m", "full_scale_m", "levels")}}
    size = pixel_size if pixel_size is not None else scale["pixel_size_m"]
    flag = scale["processed"] if processed is None else processed
    return Surface(heights, float(size), kind="topography", processed=bool(flag), metadata=metadata)


def _png_height_scale(data: bytes, name: str) -> dict[str, Any] | None:
    """The height scale of a PNG written by :func:`write_image` from a topography, if it has one."""
    position = 8
    for _ in range(64):  # written before IDAT; stop early on anything odd
        if position + 8 > len(data):
            return None
        length, kind = struct.unpack_from(">I4s", data, position)
        if kind in (b"IDAT", b"IEND"):
            return None
        body = data[position + 8: position + 8 + length]
        if kind == b"tEXt" and body.startswith(HEIGHT_SCALE_KEY.encode("latin-1") + b"\0"):
            return _parsed_height_scale(body.split(b"\0", 1)[1], name)
        position += 12 + length
    return None


def _parsed_height_scale(text: bytes, name: str) -> dict[str, Any]:
    try:
        scale = json.loads(text.decode("ascii"))
        numbers = [float(scale[k]) for k in ("zero_m", "full_scale_m", "pixel_size_m")]
        ok = scale.get("kind") == "topography" and scale.get("unit") == "m" and all(map(np.isfinite, numbers))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        ok = False
    if not ok or not numbers[1] > 0 or not numbers[2] > 0:
        raise SurfaceFormatError(f"{name}: its {HEIGHT_SCALE_KEY} text chunk is damaged; the heights "
                                 "cannot be restored (convert the original X3P again)")
    return {"zero_m": numbers[0], "full_scale_m": numbers[1], "pixel_size_m": numbers[2],
            "levels": 65535, "processed": bool(scale.get("processed", False))}


def _decode(data: bytes, name: str, limits: _Limits) -> np.ndarray:
    """Decode with OpenCV and scale to [0, 1]; alpha == 0 becomes NaN (the mask of `write_image`)."""
    grey, alpha = _decode_grey(data, name, limits)
    unit = grey.astype(np.float64) / float(np.iinfo(grey.dtype).max)
    if alpha is not None:
        unit[alpha == 0] = np.nan
    return unit


def _decode_grey(data: bytes, name: str, limits: _Limits) -> tuple[np.ndarray, np.ndarray | None]:
    """The image as 8- or 16-bit grey levels, and its alpha channel if it has one."""
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as error:
        raise SurfaceFormatError(f"{name}: image decoder failed ({str(error).strip().splitlines()[-1]})") from error
    if image is None:
        raise SurfaceFormatError(f"{name}: image could not be decoded (corrupt or truncated)")
    if image.shape[0] * image.shape[1] > limits.max_pixels:  # belt and braces: header parser vs decoder
        raise SurfaceTooLargeError(f"{name}: decoded image is larger than max_pixels={limits.max_pixels:,}")
    if image.dtype not in (np.uint8, np.uint16):
        raise SurfaceFormatError(
            f"{name}: {image.dtype} image samples are not supported (8 or 16-bit only; use X3P for heights)"
        )
    if image.ndim == 2:
        return image, None
    channels = image.shape[2]
    alpha = image[..., -1] if channels in (2, 4) else None
    grey = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2GRAY) if channels >= 3 else image[..., 0]
    return grey, alpha


def _check_png(data: bytes, name: str, limits: _Limits) -> None:
    """PNG: IHDR must be the first chunk (PNG spec 11.2.2); width and height are big-endian u32."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise SurfaceFormatError(f"{name}: truncated PNG (no IHDR header)")
    length, width, height = struct.unpack(">I4xII", data[8:24])
    crc = struct.unpack(">I", data[29:33])[0]
    if length != 13 or zlib.crc32(data[12:29]) != crc:
        raise SurfaceFormatError(f"{name}: corrupt PNG header (IHDR length or CRC wrong)")
    limits.check_pixels(width, height, name)
    if data.rfind(b"IEND") < 33:
        raise SurfaceFormatError(f"{name}: truncated PNG (no IEND chunk)")
    if not data.endswith(_PNG_IEND):
        raise SurfaceFormatError(f"{name}: PNG with data after its end (IEND): refused as a possible polyglot")


def _png_physical_pixel_size(data: bytes) -> float | None:
    """Pixel size from a PNG pHYs chunk in pixels per metre (PNG spec 11.3.5.3), if microscopic.

    Only a square pixel with unit "metre" and a size of at most 100 µm is believed: the common
    72 dpi default (353 µm) is a screen setting, not a measurement.
    """
    position = 8
    for _ in range(64):  # pHYs must precede IDAT; stop early on anything odd
        if position + 8 > len(data):
            return None
        length, kind = struct.unpack_from(">I4s", data, position)
        if kind == b"IDAT":
            return None
        if kind == b"pHYs" and length == 9 and position + 17 <= len(data):
            per_x, per_y, unit = struct.unpack_from(">IIB", data, position + 8)
            if unit == 1 and per_x == per_y and per_x >= 10_000:
                return 1.0 / per_x
            return None
        position += 12 + length
    return None


_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_TIFF_TYPES = {1: ("B", 1), 3: ("H", 2), 4: ("I", 4)}


def _check_tiff(data: bytes, name: str, limits: _Limits) -> None:
    """TIFF 6.0: first IFD -> ImageWidth (256), ImageLength (257), strip/tile extents in the file."""
    order = "<" if data[:2] == b"II" else ">"
    if len(data) < 8:
        raise SurfaceFormatError(f"{name}: truncated TIFF header")
    (offset,) = struct.unpack_from(order + "I", data, 4)
    if offset < 8 or offset + 2 > len(data):
        raise SurfaceFormatError(f"{name}: truncated or corrupt TIFF (first IFD at {offset} outside the file)")
    (entries,) = struct.unpack_from(order + "H", data, offset)
    if offset + 2 + 12 * entries > len(data):
        raise SurfaceFormatError(f"{name}: truncated TIFF (IFD of {entries} entries runs past the end)")
    tags = {}
    for index in range(entries):
        tag, kind, count, value = struct.unpack_from(order + "HHI4s", data, offset + 2 + 12 * index)
        if tag in (256, 257, 273, 279, 324, 325):
            tags[tag] = _tiff_values(data, order, kind, count, value, name)
    if 256 not in tags or 257 not in tags:
        raise SurfaceFormatError(f"{name}: TIFF without ImageWidth/ImageLength")
    limits.check_pixels(int(tags[256][0]), int(tags[257][0]), name)
    for offsets_tag, counts_tag in ((273, 279), (324, 325)):
        if offsets_tag in tags and counts_tag in tags:
            starts = np.asarray(tags[offsets_tag], dtype=np.int64)
            sizes = np.asarray(tags[counts_tag], dtype=np.int64)
            if starts.size != sizes.size or int((starts + sizes).max(initial=0)) > len(data):
                raise SurfaceFormatError(f"{name}: truncated TIFF (image data extends past the end of the file)")


def _tiff_values(data: bytes, order: str, kind: int, count: int, value: bytes, name: str) -> tuple[int, ...]:
    if kind not in _TIFF_TYPES:
        raise SurfaceFormatError(f"{name}: unexpected TIFF field type {kind}")
    code, size = _TIFF_TYPES[kind]
    if count * size <= 4:
        return struct.unpack_from(order + code * count, value)
    (where,) = struct.unpack(order + "I", value)
    if where + count * size > len(data):
        raise SurfaceFormatError(f"{name}: truncated TIFF (field values past the end of the file)")
    return struct.unpack_from(f"{order}{count}{code}", data, where)


_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _check_jpeg(data: bytes, name: str, limits: _Limits) -> None:
    """JPEG (T.81 B.2): walk marker segments to the first SOFn and read its height and width."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise SurfaceFormatError(f"{name}: corrupt JPEG (no marker at byte {position})")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        (length,) = struct.unpack_from(">H", data, position + 2)
        if marker in _JPEG_SOF:
            if position + 9 > len(data):
                break
            height, width = struct.unpack_from(">HH", data, position + 5)
            limits.check_pixels(width, height, name)
            if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
                raise SurfaceFormatError(f"{name}: truncated JPEG (no end-of-image marker)")
            return
        if marker == 0xDA or length < 2:
            break
        position += 2 + length
    raise SurfaceFormatError(f"{name}: truncated or corrupt JPEG (no frame header SOFn found)")


_HEADER_CHECKS: dict[str, Callable[[bytes, str, _Limits], None]] = {
    "png": _check_png, "tiff": _check_tiff, "jpeg": _check_jpeg}


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def write_x3p(surface: Surface, path: str | os.PathLike[str], *, dtype: str = "D") -> Path:
    """Write a surface as an X3P file (ISO 25178-72) that reads back to identical values.

    Parameters
    ----------
    surface : Surface
        Written as a SUR matrix; NaN marks missing points (IEEE NaN is the X3P convention for
        float data without a valid-points file). Images are written with their [0, 1] values.
    path : path-like
        Destination; written to a temporary file first, then renamed (no half-written files).
    dtype : {"D", "F"}
        CZ DataType: float64 (default, exact round trip) or float32.

    Returns
    -------
    Path
        The written path.

    Notes
    -----
    Record1 (CX, CY incremental with the pixel size in metres; CZ absolute), Record2 (date,
    creator, instrument, comment from `surface.metadata`; the comment ends with
    :data:`PROCESSED_MARKER` or :data:`RAW_MARKER` so the flag survives the round trip),
    Record3 (MatrixDimension, DataLink with the MD5 of ``bindata/data.bin``), Record4
    (``md5checksum.hex`` = MD5 of main.xml).

    Examples
    --------
    >>> import numpy as np
    >>> from ballistics.surface import Surface
    >>> write_x3p(Surface(np.zeros((4, 5)), 6.25e-6), "flat.x3p")  # doctest: +SKIP
    """
    if dtype not in ("D", "F"):
        raise ValueError(f"dtype must be 'D' (float64) or 'F' (float32), got {dtype!r}")
    if not np.any(surface.mask):
        raise ValueError("refusing to write a surface without any valid point (all NaN)")
    blob = np.ascontiguousarray(surface.heights, dtype=_X3P_DTYPES[dtype]).tobytes()
    xml_bytes = _x3p_xml(surface, dtype, hashlib.md5(blob).hexdigest())
    md5_line = f"{hashlib.md5(xml_bytes).hexdigest()} *main.xml\n".encode("ascii")
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=".x3p-", dir=path.parent or ".")
    try:
        with os.fdopen(handle, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("main.xml", xml_bytes)
            archive.writestr("bindata/data.bin", blob)
            archive.writestr("md5checksum.hex", md5_line)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _x3p_xml(surface: Surface, dtype: str, data_md5: str) -> bytes:
    ET.register_namespace("p", _X3P_NS)
    root = ET.Element(f"{{{_X3P_NS}}}ISO5436_2")
    record1 = ET.SubElement(root, "Record1")
    _leaf(record1, "Revision", "ISO5436 - 2000")
    _leaf(record1, "FeatureType", "SUR")
    axes = ET.SubElement(record1, "Axes")
    for axis, kind, data_type, increment in (
        ("CX", "I", "D", repr(float(surface.pixel_size))),
        ("CY", "I", "D", repr(float(surface.pixel_size))),
        ("CZ", "A", dtype, "1"),
    ):
        element = ET.SubElement(axes, axis)
        for tag, text in (("AxisType", kind), ("DataType", data_type), ("Increment", increment), ("Offset", "0")):
            _leaf(element, tag, text)
    _record2(root, surface)
    record3 = ET.SubElement(root, "Record3")
    matrix = ET.SubElement(record3, "MatrixDimension")
    for tag, size in (("SizeX", surface.shape[1]), ("SizeY", surface.shape[0]), ("SizeZ", 1)):
        _leaf(matrix, tag, str(size))
    link = ET.SubElement(record3, "DataLink")
    _leaf(link, "PointDataLink", "bindata/data.bin")
    _leaf(link, "MD5ChecksumPointData", data_md5)
    _leaf(ET.SubElement(root, "Record4"), "ChecksumFile", "md5checksum.hex")
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def _record2(root: ET.Element, surface: Surface) -> None:
    meta = surface.metadata
    record2 = ET.SubElement(root, "Record2")
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    _leaf(record2, "Date", str(meta.get("date", now)))
    _leaf(record2, "Creator", str(meta.get("creator", "ballistics (CSI-QMS)")))
    instrument = ET.SubElement(record2, "Instrument")
    for part in ("manufacturer", "model", "serial", "version"):
        _leaf(instrument, part.capitalize(), str(meta.get(f"instrument_{part}", "unknown")))
    _leaf(record2, "CalibrationDate", str(meta.get("calibration_date", meta.get("date", now))))
    probing = ET.SubElement(record2, "ProbingSystem")
    _leaf(probing, "Type", str(meta.get("probing_system", "Software")))
    _leaf(probing, "Identification", str(meta.get("probing_identification", "unknown")))
    comment = _MARKER.sub("", str(meta.get("comment", ""))).strip()
    marker = PROCESSED_MARKER if surface.processed else RAW_MARKER
    _leaf(record2, "Comment", f"{comment} {marker}".strip())


def _leaf(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


def write_image(
    surface: Surface, path: str | os.PathLike[str], *, value_range: tuple[float, float] | None = None
) -> Path:
    """Write a surface as a 16-bit PNG or TIFF (chosen by the extension), missing points as 0.

    Parameters
    ----------
    surface : Surface
        Any surface. Values are mapped linearly from `value_range` to 0..65535.
    path : path-like
        ``.png``, ``.tif`` or ``.tiff`` (topographies: ``.png`` only).
    value_range : (low, high), optional
        Values mapped to 0 and 65535. Default: (0, 1) for images (so grey levels survive a
        round trip to within 1/65535), the finite min and max for topographies.

    Returns
    -------
    Path

    Notes
    -----
    A topography can only be written as PNG: its height scale (metres at grey level 0 and per full
    scale), pixel size and processed flag go into a tEXt chunk keyed :data:`HEIGHT_SCALE_KEY` (PNG
    spec 11.3.4.3), so that :func:`read_surface` returns heights in metres again, to within
    1/65535 of the range. Any other PNG is read as a photograph (grey levels in [0, 1]).
    Missing points are written as 0 in the grey channel, and when there are any the image gets
    an alpha channel that is 0 there and 65535 elsewhere (the mask), so :func:`read_surface`
    restores them as NaN.
    """
    path = Path(path)
    if path.suffix.lower() not in (".png", ".tif", ".tiff"):
        raise ValueError(f"image extension must be .png, .tif or .tiff, got {path.suffix!r}")
    if surface.kind == "topography" and path.suffix.lower() != ".png":
        raise ValueError(f"cannot write a topography as {path.suffix}: a TIFF written here carries no height "
                         "scale; use .png (heights kept in a tEXt chunk) or .x3p")
    mask = surface.mask
    if not mask.any():
        raise ValueError("refusing to write a surface without any valid point (all NaN)")
    low, high = value_range or ((0.0, 1.0) if surface.kind == "image" else
                                (float(np.nanmin(surface.heights)), float(np.nanmax(surface.heights))))
    span = high - low if high > low else 1.0
    scaled = np.clip((np.nan_to_num(surface.heights, nan=low) - low) / span, 0.0, 1.0)
    grey = np.round(scaled * 65535).astype(np.uint16)
    grey[~mask] = 0
    if not mask.all():
        alpha = np.where(mask, 65535, 0).astype(np.uint16)
        grey = cv2.merge([grey, grey, grey, alpha])
    if surface.kind == "image":
        if not cv2.imwrite(str(path), grey):
            raise OSError(f"OpenCV could not write {path}")
        return path
    ok, encoded = cv2.imencode(".png", grey)
    if not ok:
        raise OSError(f"OpenCV could not encode {path.name}")
    path.write_bytes(_with_height_scale(encoded.tobytes(), surface, low, span))
    return path


def _with_height_scale(png: bytes, surface: Surface, low: float, span: float) -> bytes:
    """The PNG with its height scale and pixel size (tEXt, see :data:`HEIGHT_SCALE_KEY`) and a pHYs
    chunk, both right after IHDR, so that reading it back gives a topography in metres again."""
    scale = {"kind": "topography", "unit": "m", "zero_m": low, "full_scale_m": span, "levels": 65535,
             "pixel_size_m": surface.pixel_size, "processed": bool(surface.processed)}
    text = HEIGHT_SCALE_KEY.encode("latin-1") + b"\0" + json.dumps(scale).encode("ascii")
    per_metre = int(round(1.0 / surface.pixel_size))
    chunks = _png_chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)) + _png_chunk(b"tEXt", text)
    return png[:33] + chunks + png[33:]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


def describe(surface: Surface) -> dict[str, Any]:
    """A plain-dict summary of a surface for ``ballistics info`` and logs.

    Returns
    -------
    dict
        ``shape`` (rows, cols), ``pixel_size_um``, ``valid_fraction``, ``height_min``,
        ``height_max`` (in the surface's unit; None when nothing is valid), ``height_unit``
        ("m" or "grey level"), ``height_range_um`` (topographies), ``kind``, ``processed``,
        ``metadata`` (a plain dict copy).

    Examples
    --------
    >>> import numpy as np
    >>> from ballistics.surface import Surface
    >>> describe(Surface(np.array([[0.0, 1e-6], [np.nan, 2e-6]]), 6.25e-6))["valid_fraction"]
    0.75
    """
    valid = surface.heights[surface.mask]
    low = float(valid.min()) if valid.size else None
    high = float(valid.max()) if valid.size else None
    summary: dict[str, Any] = {
        "shape": tuple(int(n) for n in surface.shape),
        "pixel_size_um": float(surface.pixel_size_um),
        "valid_fraction": float(surface.valid_fraction),
        "height_min": low,
        "height_max": high,
        "height_unit": "m" if surface.kind == "topography" else "grey level",
        "kind": surface.kind,
        "processed": bool(surface.processed),
        "metadata": dict(surface.metadata),
    }
    if surface.kind == "topography":
        summary["height_range_um"] = None if low is None else (high - low) * 1e6
    return summary
