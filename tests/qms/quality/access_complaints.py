"""Unit B's complaint and impartiality risk for the access test (through access_records.py)."""
from __future__ import annotations

from datetime import timedelta

from qms.auth import services as auth_services
from qms.auth.models import Role
from qms.db import today

RECORD_PARAMS = {"complaint_id", "risk_id"}


def build(unit_b, user_b) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from qms.quality import complaints, risks

    auth_services.grant_role(user_b, unit_b, Role.QUALITY_MANAGER)
    record = complaints.receive(unit_b.id, user_b, complaints.Received(
        complainant="UNIT-B-MARKER complainant", channel="letter", description="UNIT-B-MARKER complaint"))
    for step, text in (("acknowledged", "UNIT-B-MARKER ack"), ("rejected", "UNIT-B-MARKER reason"),
                       ("closed", "UNIT-B-MARKER notice")):
        complaints.record_step(record, user_b, step, text)
    risk = risks.add_risk(unit_b.id, user_b, risks.Identified(
        title="UNIT-B-MARKER risk", source="relationships", likelihood=2, impact=3, owner_id=user_b.id,
        review_on=today() + timedelta(days=30)))
    return {"complaint_id": record.id, "risk_id": risk.id}
