"""Unit B's people records for the access test: a scope, a training record with a certificate, a personnel
file, supervised work, witnessing, a declaration and a signed authorisation event, each with the marker."""
from __future__ import annotations

from datetime import date

RECORD_PARAMS = {"scope_id", "training_id"}  # user_id (a person of unit B) is listed by the access test itself


def build(unit_b, user_b) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from qms.auth import services as auth
    from qms.auth.models import Role
    from qms.extensions import db
    from qms.people import services
    from qms.people.models import AuthorisationEvent, Declaration, PersonnelFile, SupervisedWork, Witnessing
    from tests.conftest import PASSWORD

    examiner = auth.create_user(username=f"{user_b.username}-examiner", full_name="MARKER-B-PERSON examiner",
                                password=PASSWORD, unit=unit_b, roles=(Role.EXAMINER,))
    # The records are kept by a quality manager of the unit (the caller may be an administrator only).
    keeper = auth.create_user(username=f"{user_b.username}-keeper", full_name="MARKER-B-PERSON keeper",
                              password=PASSWORD, unit=unit_b, roles=(Role.QUALITY_MANAGER,))
    scope = services.scopes(unit_b.id)[0]
    scope.requirements = "UNIT-B-MARKER requirements"
    record = services.record_training(unit_b.id, keeper, user_id=examiner.id, training=services.TrainingInput(
        course="UNIT-B-MARKER course", started_on=date(2020, 1, 6), completed_on=date(2020, 1, 10),
        outcome="passed", hours=8, scope_id=scope.id, certificate=b"%PDF-1.4 UNIT-B-MARKER",
        certificate_name="b.pdf"))
    day = date(2026, 1, 5)
    db.session.add_all([
        PersonnelFile(unit_id=unit_b.id, user_id=user_b.id, job_title="UNIT-B-MARKER title"),
        SupervisedWork(unit_id=unit_b.id, user_id=user_b.id, scope_id=scope.id, supervisor_id=keeper.id,
                       performed_on=day, reference="UNIT-B-MARKER case"),
        Witnessing(unit_id=unit_b.id, user_id=user_b.id, scope_id=scope.id, observer_id=keeper.id, observed_on=day,
                   reference="UNIT-B-MARKER exercise", outcome="satisfactory"),
        Declaration(unit_id=unit_b.id, user_id=user_b.id, year=2026, kind="conflict_of_interest",
                    interests="UNIT-B-MARKER interests"),
        AuthorisationEvent(unit_id=unit_b.id, user_id=user_b.id, scope_id=scope.id, kind="granted",
                           valid_from=day, valid_until=None, reason="UNIT-B-MARKER reason",
                           signed_by_name="MARKER-B-PERSON"),
    ])
    db.session.flush()
    return {"scope_id": scope.id, "training_id": record.id, "change": "suspend"}
