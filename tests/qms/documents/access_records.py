"""Unit B's SOP records for the access test: an effective SOP with a draft next revision."""
from __future__ import annotations

from qms.auth.models import Role, Unit, User

RECORD_PARAMS = {"sop_id", "revision_id"}


def build(unit_b: Unit, user_b: User) -> dict[str, object]:
    from qms.documents import services
    from tests.conftest import PASSWORD, authorise_everything

    # A second signer: nobody approves their own revision, not even in a fixture.
    signer = user_b
    from qms.auth import services as auth

    approver = auth.create_user(username="markerb-approver", full_name="MARKER-B-PERSON approver",
                                password=PASSWORD, unit=unit_b, roles=(Role.QUALITY_MANAGER,))
    authorise_everything(unit_b, approver)
    sop = services.create_sop(unit_id=unit_b.id, code="B-SOP-001", title="UNIT-B-MARKER procedure",
                              discipline="equipment", author=signer, applies_to=["csi_officer"],
                              content_markdown="UNIT-B-MARKER content", change_summary="UNIT-B-MARKER first")
    first = sop.revisions[0]
    services.submit(first, signer)
    services.approve(first, approver, password=PASSWORD)
    draft = services.new_draft(sop, signer)
    services.edit_draft(draft, signer, change_summary="UNIT-B-MARKER draft")
    return {"sop_id": sop.id, "revision_id": first.id}
