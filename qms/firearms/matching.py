"""Finding the records of a unit's register that may be the same firearm as a given one.

Each search is an indexed candidate query followed by the exact check in Python (`serials.keys_match`):

- a full serial key: the records with the same key (equality on ``ix_firearm_serial_key``), and the
  partial records whose anchor is one of the key's prefixes or reversed suffixes (equality on
  ``ix_firearm_serial_anchor``: a partial record stores its longer known end as its anchor);
- a partial serial key: the full records of the same length in the range of its narrowest known run
  (`serials.search_anchor`: a range scan of ``ix_firearm_serial_key`` or ``ix_firearm_serial_reversed``,
  or one per key character when the first or last character is unknown), narrowed by a LIKE pattern,
  and the other partial records of the same length (a minority: they are checked one by one);
- no usable serial on one side: the records of the same make, model and calibre (``ix_firearm_profile``)
  with a report or recovery in the period (the events' index by firearm).

Full keys hold only ASCII capitals and digits, so the range of a prefix holds the same keys in every
collation the databases use; partial keys (with ``?``) are found by equality or by their own query.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Row, and_, or_, select, union_all

from qms.extensions import db
from qms.firearms import serials
from qms.firearms.models import EventKind, Firearm, FirearmEvent

# A partial serial with fewer readable characters would match too much of the register to be a lead:
# such a record is matched by make, model and calibre instead, as one without a serial.
MIN_KNOWN_CHARACTERS = 4
# Make, model and calibre alone are common: a report and a recovery further apart than two years are not
# paired, and when more than five records qualify none is (the register's search lists them instead).
PROFILE_PERIOD_DAYS = 730
PROFILE_MAX_CANDIDATES = 5
REPORTS = [kind.value for kind in EventKind if kind.is_report]
RECOVERIES = [kind.value for kind in EventKind if kind.is_recovery]


@dataclass(frozen=True)
class Keys:
    """The matching columns of a record, derived from its marking, make, model and calibre."""

    serial_key: str
    serial_key_reversed: str
    serial_length: int
    serial_known: int
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
    return Keys(key, key[::-1], len(key), len(key) - key.count(serials.UNKNOWN), anchor, serials.text_key(make),
                serials.text_key(model), serials.calibre_key(calibre))


def matchable_serial(key: str) -> bool:
    """Whether a serial has enough readable characters to pair records by (`MIN_KNOWN_CHARACTERS`)."""
    return len(key) - key.count(serials.UNKNOWN) >= MIN_KNOWN_CHARACTERS


def makes_compatible(a: str, b: str) -> bool:
    """The same make, or one side does not know it (a serial is unique only within a manufacturer)."""
    return not a or not b or a == b


def serial_matches(unit_id: int, key: str, *, make_key: str = "", exclude_id: int | None = None) -> list[Firearm]:
    """The unit's records whose serial matches the key (look-alikes read alike, unknown positions match any)."""
    if not matchable_serial(key):
        return []
    found = _partial_candidates(unit_id, key) if serials.is_partial(key) else _full_candidates(unit_id, key)
    ids = sorted({firearm_id for firearm_id, other, make in found
                  if firearm_id != exclude_id and matchable_serial(other) and serials.keys_match(key, other)
                  and makes_compatible(make_key, make)})
    return list(db.session.scalars(select(Firearm).where(Firearm.id.in_(ids)).order_by(Firearm.id))) if ids else []


# Candidates are read as (id, serial key, make key) rows, not as records: thousands of them cost little,
# and only the few that match are loaded.
_CANDIDATE = (Firearm.id, Firearm.serial_key, Firearm.make_key)


def _full_candidates(unit_id: int, key: str) -> list[Row[tuple[int, str, str]]]:
    # Two statements, not one OR: each is served by its own index on SQLite and PostgreSQL alike.
    n = len(key)
    anchors = [f"P:{key[:i]}" for i in range(n)] + [f"S:{key[::-1][:i]}" for i in range(n)]
    mine = select(*_CANDIDATE).where(Firearm.unit_id == unit_id, Firearm.serial_length == n)
    return [*db.session.execute(mine.where(Firearm.serial_key == key)),
            *db.session.execute(mine.where(Firearm.serial_anchor.in_(anchors)))]


def _partial_candidates(unit_id: int, key: str) -> list[Row[tuple[int, str, str]]]:
    # The range of the longer known end, then the LIKE pattern; partial records in the range pass the
    # pattern too (their "?" is any character to LIKE) and are checked with the others. No condition on
    # the anchor here: SQLite would take "anchor IS NULL" for a selective index and scan a whole length.
    n, end = len(key), serials.search_anchor(key)
    column = Firearm.serial_key if end.column == "key" else Firearm.serial_key_reversed
    mine = select(*_CANDIDATE).where(Firearm.unit_id == unit_id, Firearm.serial_length == n)
    full = mine.where(Firearm.serial_key.like(serials.like_pattern(key)))
    prefixes = [c + end.text for c in serials.KEY_ALPHABET] if end.expanded else [end.text] if end.text else []
    ranges = [full.where(column >= p, column < serials.prefix_upper_bound(p)) for p in prefixes] or [full]
    found = db.session.execute(union_all(*ranges)) if len(ranges) > 1 else db.session.execute(ranges[0])
    return [*found, *db.session.execute(mine.where(Firearm.serial_anchor.is_not(None)))]


def profile_matches(unit_id: int, keys: Keys, *, reported_on: date | None, recovered_on: date | None,
                    exclude_id: int | None = None) -> list[Firearm]:
    """Records of the same make, model and calibre, one side without a usable serial, reported and recovered
    within `PROFILE_PERIOD_DAYS` of each other; none when more than `PROFILE_MAX_CANDIDATES` qualify."""
    if not (keys.make_key and keys.model_key and keys.calibre_key):
        return []
    period = timedelta(days=PROFILE_PERIOD_DAYS)
    windows = []
    if reported_on is not None:  # recovered after my report
        windows.append(and_(FirearmEvent.kind.in_(RECOVERIES), FirearmEvent.occurred_on >= reported_on,
                            FirearmEvent.occurred_on <= reported_on + period))
    if recovered_on is not None:  # reported before my recovery
        windows.append(and_(FirearmEvent.kind.in_(REPORTS), FirearmEvent.occurred_on >= recovered_on - period,
                            FirearmEvent.occurred_on <= recovered_on))
    if not windows:
        return []
    stmt = (select(Firearm).join(FirearmEvent, FirearmEvent.firearm_id == Firearm.id)
            .where(Firearm.unit_id == unit_id, Firearm.make_key == keys.make_key, Firearm.model_key == keys.model_key,
                   Firearm.calibre_key == keys.calibre_key, Firearm.id != (exclude_id or 0), or_(*windows))
            .distinct())
    if matchable_serial(keys.serial_key):  # with my serial, only records without one are led by profile
        stmt = stmt.where(Firearm.serial_known < MIN_KNOWN_CHARACTERS)
    found = list(db.session.scalars(stmt.limit(PROFILE_MAX_CANDIDATES + 1)))
    return found if len(found) <= PROFILE_MAX_CANDIDATES else []
