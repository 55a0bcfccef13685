"""Uploaded files: each image is decoded under the same limits, each archive's names checked, before anything is stored.

Photographs of packaging, audit evidence images and ballistic scans all pass through
`ballistics.io` (header checked against the pixel limit before decoding, then a full decode), so a
decompression bomb, a truncated or damaged image, or a PNG carrying a second file after its end is
refused in milliseconds. Archives kept as uploaded (Word documents, X3P scans, exchange packages)
may not hold a member whose name climbs out of the folder it would be unpacked in (zip-slip).
Every message names the uploaded file as its sender named it, never a server path.
"""
from __future__ import annotations

from collections.abc import Iterable

from ballistics import io as surfaces
from ballistics.io import SurfaceFormatError, SurfaceTooLargeError, decode_image, sniff_format
from flask_babel import gettext as _

from qms.errors import InvalidInput, TooLarge

MAX_IMAGE_PIXELS = 50_000_000  # 50 Mpx: above any camera or scanner image a unit files, far below a bomb
IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "tiff": "image/tiff"}


def image_kind(data: bytes) -> str | None:
    """"png", "jpeg" or "tiff" judged by the first bytes, or None for anything else."""
    try:
        kind = sniff_format(data)  # the library's one table of magic numbers
    except SurfaceFormatError:
        return None
    return kind if kind in IMAGE_TYPES else None


def check_image(data: bytes, *, filename: str, max_bytes: int) -> str:
    """Refuse an image that is empty, too large or does not decode cleanly; its media type otherwise."""
    name = display_name(filename)
    if not data:
        raise InvalidInput(_("%(name)s is empty; nothing was stored.", name=name))
    kind = image_kind(data)
    if kind is None:
        raise InvalidInput(_("%(name)s is not a PNG, JPEG or TIFF image (judged by its content); nothing was "
                             "stored.", name=name))
    try:
        decode_image(data, name=name, max_bytes=max_bytes, max_pixels=MAX_IMAGE_PIXELS)
    except SurfaceTooLargeError as error:
        raise TooLarge(_("The image is too large: %(reason)s. Nothing was stored.", reason=str(error))) from None
    except SurfaceFormatError as error:
        raise InvalidInput(_("The image cannot be read: %(reason)s. Nothing was stored.",
                             reason=str(error))) from None
    return IMAGE_TYPES[kind]


def check_member_names(names: Iterable[str], *, filename: str) -> None:
    """Refuse an archive holding a member named to land outside its folder (absolute, "..", a drive, a NUL).

    The archive is kept and handed out as uploaded, so whoever unpacks it later must not be led astray.
    """
    try:
        surfaces.check_member_names(names, name=display_name(filename))  # the one zip-slip rule
    except SurfaceFormatError:
        raise InvalidInput(_("%(name)s holds a file whose path leads outside its folder; nothing was stored.",
                             name=display_name(filename))) from None


def display_name(filename: str) -> str:
    """The uploaded file's own name, without any folder a browser or client sent with it."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    printable = "".join(ch for ch in name if ch.isprintable())
    return printable[:120] or _("the uploaded file")
