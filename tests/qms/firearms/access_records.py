"""Unit B's firearm register for the access test: a stolen report, the seized firearm it matches, their lead, and
a trace request about it that unit B sent to a unit of the same server."""
from __future__ import annotations

from datetime import date, timedelta

from qms.auth import services as auth_services
from qms.auth.models import Role
from qms.firearms import leads, trace
from qms.firearms import services as firearms

RECORD_PARAMS = {"firearm_id", "lead_id", "trace_id"}


def build(unit_b, user_b) -> dict[str, object]:  # type: ignore[no-untyped-def]
    auth_services.grant_role(user_b, unit_b, Role.EXAMINER)
    stolen = firearms.add(unit_b.id, user_b, firearms.Details(
        firearm_type="pistol", make="Zastava", model="M57", serial_number="UNIT-B-MARKER-1234",
        description="UNIT-B-MARKER stolen pistol"), firearms.EventInput(
        kind="reported_stolen", occurred_on=date.today() - timedelta(days=30), place="UNIT-B-MARKER street",
        reporter="UNIT-B-MARKER owner", police_reference="UNIT-B-MARKER 1/2026"))
    firearms.add(unit_b.id, user_b, firearms.Details(
        firearm_type="pistol", make="Zastava", model="M57", serial_number="UNIT-B-MARKER-12?4",
        description="UNIT-B-MARKER seized pistol"), firearms.EventInput(kind="seized", occurred_on=date.today()))
    [row] = leads.leads_of(stolen)
    request, _ = trace.create_request(unit_b, user_b, trace.Query(
        serial_number="1234-UNIT-B", make="Zastava", reason="UNIT-B-MARKER seized at a checkpoint",
        reference="UNIT-B-MARKER 2/2026"), partner=trace.OWN_SERVER)
    return {"firearm_id": stolen.id, "lead_id": row.lead.id, "trace_id": request.id}
