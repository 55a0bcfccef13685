"""Unit B's quality records for the access test: a nonconformity with a corrective action, a proficiency
result (which opened a nonconformity) and a management review with a decision."""
from __future__ import annotations

from datetime import timedelta

from qms.db import today
from tests.qms.quality import access_complaints

RECORD_PARAMS = {"nc_id", "test_id", "review_id"} | set(access_complaints.RECORD_PARAMS)


def build(unit_b, user_b) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from qms.auth import services as auth
    from qms.auth.models import Role
    from qms.people import services as people
    from qms.quality import proficiency, review, services

    if Role.QUALITY_MANAGER not in auth.roles_in(user_b, unit_b.id):  # the bad-input test builds as an admin
        auth.grant_role(user_b, unit_b, Role.QUALITY_MANAGER)

    found = services.record_nonconformity(unit_b.id, user_b, "other", services.Found(
        title="UNIT-B-MARKER nonconformity", location="UNIT-B-MARKER room"))
    services.raise_action(found, user_b, title="UNIT-B-MARKER nc action", owner_id=user_b.id,
                          due_on=today() + timedelta(days=5))
    result = proficiency.record_result(unit_b.id, user_b, proficiency.Result(
        provider="UNIT-B-MARKER provider", scheme="UNIT-B-MARKER scheme", round="1", participant_id=user_b.id,
        scope_id=people.scopes(unit_b.id)[0].id, performed_on=today(), reported_result="UNIT-B-MARKER result",
        z_score=3.5))
    meeting = review.create_review(unit_b.id, user_b, title="UNIT-B-MARKER review",
                                   period_start=today() - timedelta(days=30), period_end=today())
    review.decide(meeting, user_b, kind="decision", text_="UNIT-B-MARKER decision")
    return {"nc_id": found.id, "test_id": result.id, "review_id": meeting.id, **access_complaints.build(unit_b, user_b)}
