"""Unit B's quality records for the access test: a nonconformity with a corrective action."""
from __future__ import annotations

from datetime import timedelta

from qms.db import today

RECORD_PARAMS = {"nc_id"}


def build(unit_b, user_b) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from qms.auth import services as auth
    from qms.auth.models import Role
    from qms.quality import services

    if Role.QUALITY_MANAGER not in auth.roles_in(user_b, unit_b.id):  # the bad-input test builds as an admin
        auth.grant_role(user_b, unit_b, Role.QUALITY_MANAGER)

    found = services.record_nonconformity(unit_b.id, user_b, "other", services.Found(
        title="UNIT-B-MARKER nonconformity", location="UNIT-B-MARKER room"))
    services.raise_action(found, user_b, title="UNIT-B-MARKER nc action", owner_id=user_b.id,
                          due_on=today() + timedelta(days=5))
    return {"nc_id": found.id}
