"""Finding the records of a unit's register that may be the same firearm as a given one.

Each search is an indexed candidate query followed by the exact check in Python (`serials.keys_match`):

- a full serial key: the records with the same key (equality on ``ix_firearm_serial_key``), and the
  partial records whose anchor is one of the key's prefixes or reversed suffixes (equality on
  ``ix_firearm_serial_anchor``: a partial record stores its longer known end as its anchor);
- a partial serial key: the full records of the same length in the range of its longer known end
  (a range scan of ``ix_firearm_serial_key`` or ``ix_firearm_serial_reversed``), narrowed by a LIKE
  pattern, and the other partial records of the same length (few: they are checked one by one);
- no serial: the records of the same make, model and calibre (``ix_firearm_profile``).

Keys hold only ASCII capitals, digits and ``?``, so the range of a prefix is the same in every
collation the databases use.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, or_, select

from qms.extensions import db
from qms.firearms import serials
from qms.firearms.models import Firearm

# A partial serial with fewer readable characters would match too much of the register to be a lead:
# such a record is matched by make, model and calibre instead, as one without a serial.
MIN_KNOWN_CHARACTERS = 4


@dataclass(frozen=True)
class Keys:
    """The matching columns of a record, derived from its marking, make, model and calibre."""

    serial_key: str
    serial_key_reversed: str
    serial_length: int
    serial_anchor: str | None
    make_key: str
    model_key: str
    calibre_key: str


def keys_of(*, serial_number: str, make: str, model: str, calibre: str) -> Keys:
    """The keys to store (ValueError when the serial holds characters no serial has)."""
    key = serials.serial_key(serial_number)
    anchor = None
    if serials.is_partial(key):
        end = serials.anchor(key)
        anchor = ("P:" if end.column == "key" else "S:") + end.text
    return Keys(key, key[::-1], len(key), anchor, serials.text_key(make), serials.text_key(model),
                serials.calibre_key(calibre))


def matchable_serial(key: str) -> bool:
    return bool(key) and len(key) - key.count(serials.UNKNOWN) >= MIN_KNOWN_CHARACTERS


def makes_compatible(a: str, b: str) -> bool:
    """The same make, or one side does not know it (a serial is unique only within a manufacturer)."""
    return not a or not b or a == b


def serial_matches(unit_id: int, key: str, *, make_key: str = "", exclude_id: int | None = None) -> list[Firearm]:
    """The unit's records whose serial matches the key (look-alikes read alike, unknown positions match any)."""
    if not matchable_serial(key):
        return []
    found = _partial_candidates(unit_id, key) if serials.is_partial(key) else _full_candidates(unit_id, key)
    kept = {f.id: f for f in found if f.id != exclude_id and matchable_serial(f.serial_key)
            and serials.keys_match(key, f.serial_key) and makes_compatible(make_key, f.make_key)}
    return [kept[firearm_id] for firearm_id in sorted(kept)]


def _full_candidates(unit_id: int, key: str) -> Iterable[Firearm]:
    n = len(key)
    anchors = [f"P:{key[:i]}" for i in range(n)] + [f"S:{key[::-1][:i]}" for i in range(n)]
    same = Firearm.serial_key == key
    partial = Firearm.serial_anchor.in_(anchors)
    stmt = select(Firearm).where(Firearm.unit_id == unit_id, Firearm.serial_length == n, or_(same, partial))
    return db.session.scalars(stmt)


def _partial_candidates(unit_id: int, key: str) -> Iterable[Firearm]:
    n, end = len(key), serials.anchor(key)
    column = Firearm.serial_key if end.column == "key" else Firearm.serial_key_reversed
    in_range = and_(column >= end.text, column < serials.prefix_upper_bound(end.text)) if end.text else True
    full = and_(Firearm.serial_anchor.is_(None), in_range, Firearm.serial_key.like(serials.like_pattern(key)))
    partial = Firearm.serial_anchor.is_not(None)
    stmt = select(Firearm).where(Firearm.unit_id == unit_id, Firearm.serial_length == n, or_(full, partial))
    return db.session.scalars(stmt)


def profile_matches(unit_id: int, keys: Keys, *, exclude_id: int | None = None) -> list[Firearm]:
    """Records of the same make, model and calibre where one side has no usable serial."""
    if not (keys.make_key and keys.model_key and keys.calibre_key):
        return []
    stmt = select(Firearm).where(Firearm.unit_id == unit_id, Firearm.make_key == keys.make_key,
                                 Firearm.model_key == keys.model_key, Firearm.calibre_key == keys.calibre_key)
    if exclude_id is not None:
        stmt = stmt.where(Firearm.id != exclude_id)
    found = db.session.scalars(stmt)
    mine = matchable_serial(keys.serial_key)
    return [f for f in found if not (mine and matchable_serial(f.serial_key))]
