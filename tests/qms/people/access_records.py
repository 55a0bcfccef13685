"""Unit B's people records for the access test: a personnel file, training, supervised work, witnessing,
a declaration and a signed authorisation event, each with the marker in a visible text field."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from qms.extensions import db
from qms.people.models import (AuthorisationEvent, Declaration, PersonnelFile, Scope, SupervisedWork, TrainingRecord,
                               Witnessing)

RECORD_PARAMS = {"scope_id"}  # user_id (a person of unit B) is listed by the access test itself


def build(unit_b, user_b) -> dict[str, object]:  # type: ignore[no-untyped-def]
    scope = db.session.scalar(select(Scope).where(Scope.unit_id == unit_b.id).order_by(Scope.id).limit(1))
    scope.requirements = "UNIT-B-MARKER requirements"
    day = date(2026, 1, 5)
    db.session.add_all([
        PersonnelFile(unit_id=unit_b.id, user_id=user_b.id, job_title="UNIT-B-MARKER title"),
        TrainingRecord(unit_id=unit_b.id, user_id=user_b.id, scope_id=scope.id, course="UNIT-B-MARKER course",
                       started_on=day, completed_on=day, hours=8, outcome="passed", recorded_by_id=user_b.id),
        SupervisedWork(unit_id=unit_b.id, user_id=user_b.id, scope_id=scope.id, supervisor_id=user_b.id,
                       performed_on=day, reference="UNIT-B-MARKER case"),
        Witnessing(unit_id=unit_b.id, user_id=user_b.id, scope_id=scope.id, observer_id=user_b.id, observed_on=day,
                   reference="UNIT-B-MARKER exercise", outcome="satisfactory"),
        Declaration(unit_id=unit_b.id, user_id=user_b.id, year=2026, kind="conflict_of_interest",
                    interests="UNIT-B-MARKER interests"),
        AuthorisationEvent(unit_id=unit_b.id, user_id=user_b.id, scope_id=scope.id, kind="granted",
                           valid_from=day, valid_until=None, reason="UNIT-B-MARKER reason",
                           signed_by_name="MARKER-B-PERSON"),
    ])
    db.session.flush()
    return {"scope_id": scope.id}
