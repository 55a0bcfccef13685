"""An instrument's status as of a day, derived from its records alone. Pure: no database."""
from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

DUE_SOON_DAYS = 30


class Status(enum.StrEnum):
    IN_SERVICE = "in_service"
    DUE_SOON = "due_soon"
    OUT_OF_SERVICE = "out_of_service"
    RETIRED = "retired"

    @property
    def usable(self) -> bool:
        return self in (Status.IN_SERVICE, Status.DUE_SOON)


class Why(enum.StrEnum):
    """Why an instrument is out of service or due soon (shown to people through their labels)."""

    OK = "ok"
    NEVER_CALIBRATED = "never_calibrated"
    CALIBRATION_LAPSED = "calibration_lapsed"
    FAILED = "failed"  # the last calibration or check failed, or a fault was reported
    CALIBRATION_DUE = "calibration_due"
    RETIRED = "retired"


class Record(Protocol):
    kind: str
    performed_on: date
    result: str
    next_due: date | None
    id: int


class Programme(Protocol):
    affects_results: bool
    calibration_interval_months: int | None


@dataclass(frozen=True)
class Derived:
    status: Status
    why: Why
    calibrated_until: date | None  # the current calibration's next due date
    last_good: date | None  # the last passing calibration or check


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def _ordered(records: Sequence[Record], on: date) -> list[Record]:
    return sorted((r for r in records if r.performed_on <= on), key=lambda r: (r.performed_on, r.id))


def calibration_due(record: Record, equipment: Programme) -> date | None:
    if record.next_due is not None:
        return record.next_due
    if equipment.calibration_interval_months:
        return add_months(record.performed_on, equipment.calibration_interval_months)
    return None


def derive(equipment: Programme, records: Sequence[Record], on: date) -> Derived:
    """Status on a day: out of service after a failure until a passing record, or once calibration lapses."""
    history = _ordered(records, on)
    last_good = next((r.performed_on for r in reversed(history) if _passed(r)), None)
    if any(r.kind == "retired" for r in history):
        return Derived(Status.RETIRED, Why.RETIRED, None, last_good)
    verdicts = [r for r in history if _passed(r) or _failed(r)]
    if verdicts and _failed(verdicts[-1]):
        return Derived(Status.OUT_OF_SERVICE, Why.FAILED, None, last_good)
    calibrations = [r for r in history if r.kind == "calibration" and _passed(r)]
    calibrated_until = calibration_due(calibrations[-1], equipment) if calibrations else None
    if not equipment.calibration_interval_months:
        return Derived(Status.IN_SERVICE, Why.OK, calibrated_until, last_good)
    if not calibrations:
        return Derived(Status.OUT_OF_SERVICE, Why.NEVER_CALIBRATED, None, last_good)
    if calibrated_until is not None and on > calibrated_until:
        return Derived(Status.OUT_OF_SERVICE, Why.CALIBRATION_LAPSED, calibrated_until, last_good)
    if calibrated_until is not None and calibrated_until - on <= timedelta(days=DUE_SOON_DAYS):
        return Derived(Status.DUE_SOON, Why.CALIBRATION_DUE, calibrated_until, last_good)
    return Derived(Status.IN_SERVICE, Why.OK, calibrated_until, last_good)


def _passed(record: Record) -> bool:
    return record.kind in ("calibration", "check") and record.result == "pass"


def _failed(record: Record) -> bool:
    return record.kind == "fault" or record.result == "fail"
