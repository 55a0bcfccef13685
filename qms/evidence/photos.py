"""Photographs of packaging and seals: decoded under the upload limits, stored as immutable originals.

Every upload passes `qms.uploads.check_image` (the one check of uploaded images: pixel limit read
from the header, then a full decode), so a decompression bomb, a damaged image or a polyglot is
refused before anything is stored. The original bytes go to the content-addressed object store
(SHA-256), are never modified, enter the item's custody chain by their hash, and are re-checked
against it whenever served or exported.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from qms.auth.models import User
from qms.evidence.custody import record_photograph
from qms.evidence.models import Item, ItemPhoto
from qms.extensions import db
from qms.storage import ObjectCorrupted, ObjectMissing, object_store
from qms.uploads import check_image, display_name

MAX_PHOTO_BYTES = 25 * 1024 * 1024
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/tiff": "tif"}


def add_photo(item: Item, *, actor: User, data: bytes, filename: str, caption: str) -> ItemPhoto:
    """Store a photograph of the item and record it in its chain; anything but a sound image is refused."""
    media = check_image(data, filename=filename, max_bytes=MAX_PHOTO_BYTES)
    digest = object_store().put(data)
    photo = ItemPhoto(unit_id=item.unit_id, item_id=item.id, sha256=digest, size=len(data), media_type=media,
                      original_name=display_name(filename)[:200] if filename else "",
                      caption=(caption or "").strip()[:200], uploaded_by_id=actor.id)
    db.session.add(photo)
    record_photograph(item, actor=actor, sha256=digest, caption=photo.caption or f"photograph {digest[:12]}")
    return photo


def original(photo: ItemPhoto) -> bytes:
    """The stored bytes, after re-checking their SHA-256 (ObjectCorrupted / ObjectMissing otherwise)."""
    return object_store().get(photo.sha256)


@dataclass(frozen=True)
class PhotoCheck:
    photo: ItemPhoto
    ok: bool
    message: str


def check(photo: ItemPhoto) -> PhotoCheck:
    try:
        original(photo)
    except ObjectMissing:
        return PhotoCheck(photo, False, _("the original is missing from the store"))
    except ObjectCorrupted:
        return PhotoCheck(photo, False, _("the stored file no longer matches its SHA-256"))
    return PhotoCheck(photo, True, _("SHA-256 re-checked: unchanged"))
