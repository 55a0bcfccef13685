"""Unit B's equipment for the access test: an instrument, a failed check with a certificate, its impact review."""
from __future__ import annotations

from datetime import date, timedelta

from qms.auth import services as auth_services
from qms.auth.models import Role
from qms.equipment import services as equipment

RECORD_PARAMS = {"equipment_id", "record_id", "review_id"}
PDF = b"%PDF-1.4\n% UNIT-B-MARKER certificate\n%%EOF\n"


def build(unit_b, user_b) -> dict[str, object]:  # type: ignore[no-untyped-def]
    auth_services.grant_role(user_b, unit_b, Role.QUALITY_MANAGER)
    found = equipment.add(unit_b.id, user_b, equipment.Details(identifier="B-SCAN", kind="3d_scanner",
                                                               name="UNIT-B-MARKER scanner",
                                                               location="UNIT-B-MARKER room"))
    equipment.add_record(found, user_b, equipment.RecordInput(kind="calibration", result="pass",
                                                              performed_on=date.today() - timedelta(days=5)))
    failed = equipment.add_record(found, user_b, equipment.RecordInput(
        kind="check", result="fail", performed_on=date.today(), notes="UNIT-B-MARKER failure",
        certificate=PDF, certificate_name="UNIT-B-MARKER.pdf"))
    [review] = equipment.reviews(unit_b.id)
    return {"equipment_id": found.id, "record_id": failed.id, "review_id": review.id}
