"""Unit B's equipment for the access test: an instrument with a passing calibration, a failed check and the
impact review the failure opened, each with the marker in a visible text field."""
from __future__ import annotations

from datetime import date

from qms.equipment.models import Equipment, EquipmentRecord, ImpactReview
from qms.extensions import db

RECORD_PARAMS = {"equipment_id", "review_id"}


def build(unit_b, user_b) -> dict[str, object]:  # type: ignore[no-untyped-def]
    found = Equipment(unit_id=unit_b.id, identifier="UNIT-B-MARKER-EQ", kind="3d_scanner",
                      name="UNIT-B-MARKER scanner", location="UNIT-B-MARKER room", responsible_id=user_b.id,
                      calibration_interval_months=12)
    db.session.add(found)
    db.session.flush()
    good = EquipmentRecord(unit_id=unit_b.id, equipment_id=found.id, kind="calibration", result="pass",
                           performed_on=date(2026, 1, 5), performed_by="UNIT-B-MARKER provider",
                           recorded_by_id=user_b.id)
    failed = EquipmentRecord(unit_id=unit_b.id, equipment_id=found.id, kind="check", result="fail",
                             performed_on=date(2026, 2, 5), notes="UNIT-B-MARKER failure", recorded_by_id=user_b.id)
    db.session.add_all([good, failed])
    db.session.flush()
    review = ImpactReview(unit_id=unit_b.id, equipment_id=found.id, failed_record_id=failed.id,
                          since=good.performed_on, until=failed.performed_on, conclusion="UNIT-B-MARKER conclusion")
    db.session.add(review)
    db.session.flush()
    return {"equipment_id": found.id, "review_id": review.id}
