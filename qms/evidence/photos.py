"""Photographs of packaging and seals: checked by their magic bytes, stored as immutable originals.

The original bytes go to the content-addressed object store (SHA-256), are never modified, enter
the item's custody chain by their hash, and are re-checked against it whenever served or exported.
"""
from __future__ import annotations

from dataclasses import dataclass

from qms.auth.models import User
from qms.evidence.custody import CustodyError, record_photograph
from qms.evidence.models import Item, ItemPhoto
from qms.extensions import db
from qms.storage import ObjectCorrupted, ObjectMissing, object_store

MAX_PHOTO_BYTES = 25 * 1024 * 1024
MAGIC = [  # (prefix, media type, extension)
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"II*\x00", "image/tiff", "tif"),
    (b"MM\x00*", "image/tiff", "tif"),
]
EXTENSIONS = {media: ext for _, media, ext in MAGIC}


def sniff(data: bytes) -> str:
    """The media type the bytes really are (by their first bytes), or CustodyError."""
    for prefix, media, _ext in MAGIC:
        if data.startswith(prefix):
            return media
    raise CustodyError("This file is not a JPEG, PNG or TIFF photograph (judged by its content, not its name); "
                       "nothing was stored.")


def add_photo(item: Item, *, actor: User, data: bytes, filename: str, caption: str) -> ItemPhoto:
    if not data:
        raise CustodyError("The file is empty.")
    if len(data) > MAX_PHOTO_BYTES:
        raise CustodyError(f"The photograph is larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MB.")
    media = sniff(data)
    digest = object_store().put(data)
    photo = ItemPhoto(unit_id=item.unit_id, item_id=item.id, sha256=digest, size=len(data), media_type=media,
                      original_name=(filename or "")[:200], caption=(caption or "").strip()[:200],
                      uploaded_by_id=actor.id)
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
        return PhotoCheck(photo, False, "the original is missing from the store")
    except ObjectCorrupted:
        return PhotoCheck(photo, False, "the stored file no longer matches its SHA-256")
    return PhotoCheck(photo, True, "SHA-256 re-checked: unchanged")
