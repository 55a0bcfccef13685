"""Unit B's people records for the access test: a scope and a training record with a certificate."""
from __future__ import annotations

from datetime import date

RECORD_PARAMS = {"scope_id", "training_id"}


def build(unit_b, user_b) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from qms.auth import services as auth
    from qms.auth.models import Role
    from qms.people import services
    from tests.conftest import PASSWORD

    examiner = auth.create_user(username=f"{user_b.username}-examiner", full_name="MARKER-B-PERSON examiner",
                                password=PASSWORD, unit=unit_b, roles=(Role.EXAMINER,))
    # The records are kept by a quality manager of the unit (the caller may be an administrator only).
    keeper = auth.create_user(username=f"{user_b.username}-keeper", full_name="MARKER-B-PERSON keeper",
                              password=PASSWORD, unit=unit_b, roles=(Role.QUALITY_MANAGER,))
    scope = services.scopes(unit_b.id)[0]
    record = services.record_training(unit_b.id, keeper, user_id=examiner.id, training=services.TrainingInput(
        course="UNIT-B-MARKER course", started_on=date(2020, 1, 6), completed_on=date(2020, 1, 10),
        outcome="passed", hours=8, scope_id=scope.id, certificate=b"%PDF-1.4 UNIT-B-MARKER",
        certificate_name="b.pdf"))
    return {"scope_id": scope.id, "training_id": record.id, "change": "suspend"}
