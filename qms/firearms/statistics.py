"""Counts of the firearm register by month, event, type and category; the pooled CSV; the early warning.

The CSV layout (one header row, then one row per group, sorted by the columns in order; UTF-8, comma
separated) is the same on every server, so units can add their files together:

==============  ===============================================================================
unit            the unit's code
month           YYYY-MM of the event's date
event           reported_stolen, reported_lost, found, seized, surrendered, destroyed, returned
firearm_type    pistol, revolver, rifle, shotgun, machine_gun, other
make            the make as compared (upper case, no accents, spaces or punctuation; "" unknown)
calibre         the calibre designation as compared ("9X19" for 9 mm Luger...; "" unknown)
printed         "" (not 3D-printed), partly, fully
converted       "" (not converted), alarm_blank, deactivated, gas
home_made       1 or 0
modified        1 or 0
count           the number of events of the group
==============  ===============================================================================

These are the EU firearms directive's register fields that can be counted (type, make, calibre; the
model and serial number identify single firearms and stay out of pooled counts) plus the category
flags. Each status event counts once, in the month it happened.

The early warning (`unusual`) compares a category's count of recoveries (found, seized, surrendered)
this month with the twelve months before: it warns when the count is above the median of those
months by more than three times their spread (the median absolute deviation scaled by 1.4826 to be
comparable to a standard deviation, and at least one firearm, so a quiet history does not warn at
the first seizure). It needs six months of history. The rule is robust to one exceptional month
in the history, which a mean and standard deviation are not.
"""
from __future__ import annotations

import csv
import io
import statistics as stats
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import extract, func, select

from qms.auth.models import Unit
from qms.db import today
from qms.extensions import db
from qms.firearms.models import EventKind, Firearm, FirearmEvent

CSV_COLUMNS = ("unit", "month", "event", "firearm_type", "make", "calibre", "printed", "converted", "home_made",
               "modified", "count")
WINDOW_MONTHS = 12
MIN_HISTORY_MONTHS = 6
SPREAD_FACTOR = 3.0
MAD_TO_SD = 1.4826
RECOVERIES = frozenset(kind.value for kind in EventKind if kind.is_recovery)
WARNING_CATEGORIES = {"all": _l("All firearms"), "printed": _l("3D-printed (fully or partly)"),
                      "converted": _l("Converted"), "home_made": _l("Home-made"), "modified": _l("Modified")}


@dataclass(frozen=True)
class Group:
    month: str
    event: str
    firearm_type: str
    make: str
    calibre: str
    printed: str
    converted: str
    home_made: bool
    modified: bool
    count: int

    def in_category(self, category: str) -> bool:
        return {"all": True, "printed": bool(self.printed), "converted": bool(self.converted),
                "home_made": self.home_made, "modified": self.modified}[category]


def groups(unit_id: int) -> list[Group]:
    """The unit's events counted by month and by the CSV's columns (one query)."""
    year, month = extract("year", FirearmEvent.occurred_on), extract("month", FirearmEvent.occurred_on)
    keys = (year, month, FirearmEvent.kind, Firearm.firearm_type, Firearm.make_key, Firearm.calibre_key,
            Firearm.printed, Firearm.conversion, Firearm.home_made, Firearm.modified)
    stmt = (select(*keys, func.count(FirearmEvent.id)).join(Firearm, Firearm.id == FirearmEvent.firearm_id)
            .where(FirearmEvent.unit_id == unit_id).group_by(*keys))
    rows = [Group(f"{int(y):04d}-{int(m):02d}", kind, kind_of_firearm, make, calibre, printed, conversion,
                  bool(home_made), bool(modified), count)
            for y, m, kind, kind_of_firearm, make, calibre, printed, conversion, home_made, modified, count
            in db.session.execute(stmt)]
    return sorted(rows, key=_order)


def _order(group: Group) -> tuple:  # type: ignore[type-arg]
    return (group.month, group.event, group.firearm_type, group.make, group.calibre, group.printed, group.converted,
            group.home_made, group.modified)


def csv_export(unit_id: int) -> str:
    """The pooled counts in the documented layout."""
    unit = db.session.get(Unit, unit_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for g in groups(unit_id):
        writer.writerow((unit.code if unit else "", g.month, g.event, g.firearm_type, g.make, g.calibre, g.printed,
                         g.converted, int(g.home_made), int(g.modified), g.count))
    return out.getvalue()


# --- the early warning ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rise:
    """A month whose count is above its usual range."""

    count: int
    median: float
    spread: float
    threshold: float


def unusual(series: Sequence[int], *, window: int = WINDOW_MONTHS, min_history: int = MIN_HISTORY_MONTHS,
            factor: float = SPREAD_FACTOR) -> Rise | None:
    """Whether the last count of a monthly series leaves the usual range of the `window` months before it."""
    if len(series) < min_history + 1:
        return None
    history, count = list(series[-window - 1:-1]), series[-1]
    median = stats.median(history)
    spread = max(MAD_TO_SD * stats.median(abs(x - median) for x in history), 1.0)
    threshold = median + factor * spread
    return Rise(count, median, spread, threshold) if count > threshold else None


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_back(until: date, count: int) -> list[str]:
    """The `count` months up to and including `until`'s, oldest first."""
    year, month, months = until.year, until.month, []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def recovery_series(rows: Sequence[Group], category: str, months: Sequence[str]) -> list[int]:
    counts: Counter[str] = Counter()
    for g in rows:
        if g.event in RECOVERIES and g.in_category(category):
            counts[g.month] += g.count
    return [counts[m] for m in months]


# --- the page -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Figures:
    months: list[str]
    by_month: dict[str, Counter[str]]  # month -> event -> count (the last twelve months)
    by_type: dict[str, Counter[str]]  # firearm type -> event -> count (all time)
    by_category: dict[str, Counter[str]]  # category -> event -> count (all time)
    by_calibre: list[tuple[str, int]]  # calibre -> recoveries, most first
    warnings: dict[str, Rise]  # category -> this month's rise
    total: int


def figures(unit_id: int, *, on: date | None = None) -> Figures:
    rows = groups(unit_id)
    months = months_back(on or today(), WINDOW_MONTHS + 1)
    by_month = {m: Counter[str]() for m in months[1:]}
    by_type: dict[str, Counter[str]] = {}
    by_category: dict[str, Counter[str]] = {c: Counter() for c in WARNING_CATEGORIES if c != "all"}
    calibres: Counter[str] = Counter()
    for g in rows:
        if g.month in by_month:
            by_month[g.month][g.event] += g.count
        by_type.setdefault(g.firearm_type, Counter())[g.event] += g.count
        for category, counts in by_category.items():
            if g.in_category(category):
                counts[g.event] += g.count
        if g.event in RECOVERIES:
            calibres[g.calibre] += g.count
    first = min((g.month for g in rows), default=months[-1])
    history = [m for m in months if m >= first]  # months before the unit's first record are not history
    warnings = {}
    for category in WARNING_CATEGORIES:
        rise = unusual(recovery_series(rows, category, history))
        if rise is not None:
            warnings[category] = rise
    return Figures(months[1:], by_month, by_type, by_category, calibres.most_common(15), warnings,
                   sum(g.count for g in rows))
