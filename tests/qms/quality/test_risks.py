"""The impartiality risk register (ISO/IEC 17020 4.1.3, 4.1.4) and declared conflicts in the audit
independence rule."""
from __future__ import annotations

from datetime import timedelta

import pytest

from qms.audits import services as audits
from qms.auth.models import Role
from qms.db import today
from qms.errors import InvalidInput, NotPermitted
from qms.extensions import db
from qms.people import services as people
from qms.quality import risks
from qms.quality.risks_models import RiskReview
from qms.trail.models import AppendOnlyError, AuditEvent


def _identified(owner_id: int, **changes):  # type: ignore[no-untyped-def]
    fields = dict(title="Police commanders ask for results before the examination ends", source="chain_of_command",
                  likelihood=3, impact=4, owner_id=owner_id, review_on=today() + timedelta(days=90),
                  controls="Requests go through the quality manager; examiners report to the unit head only.")
    fields.update(changes)
    return risks.Identified(**fields)  # type: ignore[arg-type]


def test_a_risk_is_scored_reviewed_and_its_reviews_are_kept(staff) -> None:
    risk = risks.add_risk(staff.unit.id, staff.qm, _identified(staff.examiner.id))
    assert risk.score == 12 and risks.grade(risk.score) == "medium"
    review = risks.review(risk, staff.examiner, likelihood=4, impact=4, controls="Written requests only.",
                          note="Two verbal requests this quarter.", next_review_on=today() + timedelta(days=30))
    assert (risk.score, risks.grade(risk.score), risk.review_on) == (16, "high", today() + timedelta(days=30))
    assert [r.id for r in risks.reviews_of(risk)] == [review.id]
    reasons = [e.reason for e in db.session.query(AuditEvent).filter_by(entity="Risk", action="update")]
    assert any("Two verbal requests" in (reason or "") for reason in reasons)
    review.note = "rewritten"
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()


def test_only_the_owner_or_a_quality_manager_reviews_and_scores_stay_on_the_scale(staff) -> None:
    risk = risks.add_risk(staff.unit.id, staff.qm, _identified(staff.examiner.id))
    with pytest.raises(NotPermitted):
        risks.review(risk, staff.auditor, likelihood=2, impact=2, controls="", note="Not mine.",
                     next_review_on=today() + timedelta(days=30))
    with pytest.raises(NotPermitted):
        risks.add_risk(staff.unit.id, staff.examiner, _identified(staff.examiner.id))
    for wrong in ({"likelihood": 0}, {"impact": 6}):
        with pytest.raises(InvalidInput, match="from 1 to 5"):
            risks.add_risk(staff.unit.id, staff.qm, _identified(staff.examiner.id, **wrong))
    with pytest.raises(InvalidInput, match="after today"):
        risks.review(risk, staff.qm, likelihood=2, impact=2, controls="", note="Done.", next_review_on=today())
    assert db.session.query(RiskReview).count() == 0


def test_overdue_reviews_are_listed_and_the_register_is_ordered_by_score(staff, login_as) -> None:
    low = risks.add_risk(staff.unit.id, staff.qm, _identified(staff.qm.id, title="Shared canteen with police",
                                                              source="relationships", likelihood=1, impact=2))
    late = risks.add_risk(staff.unit.id, staff.qm, _identified(staff.qm.id, title="Fee paid per case",
                                                               source="commercial_pressure",
                                                               review_on=today() - timedelta(days=1)))
    assert [r.id for r in risks.register(staff.unit.id)] == [late.id, low.id]
    assert [r.id for r in risks.register(staff.unit.id, overdue=True)] == [late.id]
    db.session.commit()
    client = login_as(staff.examiner)
    page = client.get("/quality/risks?show=overdue").get_data(as_text=True)
    assert "Fee paid per case" in page and "Shared canteen" not in page and "overdue" in page


def test_the_register_pages_add_and_review_risks(staff, login_as) -> None:
    client = login_as(staff.qm)
    answer = client.post("/quality/risks", data={
        "title": "Pressure from the prosecutor", "source": "chain_of_command", "likelihood": "2", "impact": "5",
        "owner_id": str(staff.qm.id), "review_on": (today() + timedelta(days=60)).isoformat()})
    assert answer.status_code == 302
    url = answer.headers["Location"]
    assert client.post(f"{url}/reviews", data={
        "likelihood": "3", "impact": "5", "note": "A call about case 2026/7.",
        "next_review_on": (today() + timedelta(days=30)).isoformat()}).status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "Pressure from the prosecutor" in page and "A call about case 2026/7." in page and "15" in page
    refused = client.post("/quality/risks", data={"title": "x", "source": "other", "likelihood": "9", "impact": "1",
                                                  "owner_id": str(staff.qm.id), "review_on": today().isoformat()})
    assert refused.status_code == 400


def test_risks_are_seen_only_in_their_unit(staff, make_unit, make_user, login_as) -> None:
    risk = risks.add_risk(staff.unit.id, staff.qm, _identified(staff.qm.id, title="UNIT-A-MARKER risk"))
    other = make_user(make_unit(code="OTHER"), Role.QUALITY_MANAGER, username="qm-other")
    db.session.commit()
    outsider = login_as(other)
    assert "UNIT-A-MARKER" not in outsider.get("/quality/risks").get_data(as_text=True)
    assert outsider.get(f"/quality/risks/{risk.id}").status_code == 404
    assert outsider.post(f"/quality/risks/{risk.id}/reviews", data={
        "likelihood": "1", "impact": "1", "note": "x",
        "next_review_on": (today() + timedelta(days=9)).isoformat()}).status_code == 404
    with pytest.raises(InvalidInput, match="member of this unit"):
        risks.add_risk(staff.unit.id, staff.qm, _identified(other.id))


def _plan(staff, **changes):  # type: ignore[no-untyped-def]
    fields = dict(title="Scene work", planned_start=today(), planned_end=today(), lead_auditor_id=staff.lead.id,
                  clauses=("17020:7.1",), auditee="Crime scene unit", areas="Evidence store; vehicle bay")
    fields.update(changes)
    return audits.AuditPlan(**fields)  # type: ignore[arg-type]


def test_an_auditor_who_declared_an_interest_in_the_auditee_or_an_area_may_not_audit_it(staff) -> None:
    people.declare(staff.unit.id, staff.lead, kind="conflict_of_interest",
                   interests="My wife heads the CRIME SCENE UNIT.")
    people.declare(staff.unit.id, staff.auditor, kind="conflict_of_interest",
                   interests="I ran the vehicle bay until last year.")
    with pytest.raises(NotPermitted, match="declaration names Crime scene unit"):
        audits.create_audit(_plan(staff), unit_id=staff.unit.id, actor=staff.qm)
    with pytest.raises(NotPermitted, match="declaration names vehicle bay"):
        audits.create_audit(_plan(staff, lead_auditor_id=staff.qm.id, team=((staff.auditor.id, "auditor"),)),
                            unit_id=staff.unit.id, actor=staff.qm)
    audit = audits.create_audit(_plan(staff, lead_auditor_id=staff.qm.id), unit_id=staff.unit.id, actor=staff.qm)
    with pytest.raises(NotPermitted, match="declaration names vehicle bay"):
        audits.add_team_member(audit, staff.qm, user_id=staff.auditor.id)
    other = audits.create_audit(_plan(staff, auditee="Firearms laboratory", areas="Comparison microscopes"),
                                unit_id=staff.unit.id, actor=staff.qm)
    assert other.lead_auditor_id == staff.lead.id  # an unrelated audit is fine
