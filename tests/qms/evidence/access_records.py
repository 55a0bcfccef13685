"""Unit B's evidence records for the access test: a case, an item with a custody event, a photograph."""
from __future__ import annotations

import hashlib
from datetime import date

from qms.auth import services as auth_services
from qms.auth.models import Role
from qms.evidence import custody
from qms.evidence.models import ItemPhoto
from qms.extensions import db

RECORD_PARAMS = {"case_id", "item_id", "photo_id"}


def build(unit_b, user_b) -> dict[str, object]:  # type: ignore[no-untyped-def]
    auth_services.grant_role(user_b, unit_b, Role.CSI_OFFICER)
    case = custody.register_case(unit_id=unit_b.id, actor=user_b, case_number="UNIT-B-MARKER-1",
                                 offence_type="UNIT-B-MARKER offence", opened_on=date(2026, 1, 1))
    item = custody.register_item(case, actor=user_b, exhibit_number="B1", item_type="bullet",
                                 description="UNIT-B-MARKER bullet", seal_number="UNIT-B-MARKER-SEAL")
    photo = ItemPhoto(unit_id=unit_b.id, item_id=item.id, sha256=hashlib.sha256(b"b").hexdigest(), size=1,
                      media_type="image/png", original_name="UNIT-B-MARKER.png", caption="UNIT-B-MARKER",
                      uploaded_by_id=user_b.id)
    db.session.add(photo)
    db.session.flush()
    return {"case_id": case.id, "item_id": item.id, "photo_id": photo.id}
