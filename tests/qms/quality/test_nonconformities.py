"""Nonconformities from any source: each source opens one linked to its record, and a corrective action
on it runs the same steps and independence checks as one from an audit; the register, its pages, its
API and its dashboard panel, confined to the unit."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from qms.audits import services as audits
from qms.audits.models import ActionStep, CorrectiveAction
from qms.auth import services as auth
from qms.auth.models import Role
from qms.db import append_only_ddl, drop_append_only_ddl, today
from qms.equipment import services as equipment
from qms.evidence import custody
from qms.extensions import db
from qms.quality import services as quality
from qms.quality.models import Nonconformity, Source
from tests.qms.audits.conftest import item, plan
from tests.qms.conftest import Staff

TODAY = today()


def _count(db_session, model) -> int:  # type: ignore[no-untyped-def]
    return db_session.scalar(sa.select(sa.func.count()).select_from(model))


# --- the sources ----------------------------------------------------------------------------------

def _failed_custody_verification(app, staff: Staff, db_session, login_as) -> Nonconformity:  # type: ignore[no-untyped-def]
    """A DBA edits a custody event; the verification page only reads, `qms custody verify` opens one."""
    from qms.evidence.cli import custody as group

    case = custody.register_case(unit_id=staff.unit.id, actor=staff.csi, case_number="2026/015",
                                 offence_type="Robbery", opened_on=date(2026, 11, 1))
    pistol = custody.register_item(case, actor=staff.csi, exhibit_number="7", item_type="firearm",
                                   description="Pistol", seal_number="S-15")
    db_session.commit()
    item_id = pistol.id
    with db.engine.begin() as connection:
        dialect = connection.dialect.name
        for statement in drop_append_only_ddl("custody_event", dialect):
            connection.execute(sa.text(statement))
        connection.execute(sa.text(f"UPDATE custody_event SET notes = 'edited' WHERE item_id = {item_id} AND seq = 2"))
        for statement in append_only_ddl("custody_event", dialect):
            connection.execute(sa.text(statement))
    page = login_as(staff.qm).get("/evidence/verify")
    assert page.status_code == 200 and "Problems found" in page.get_data(as_text=True)
    assert _count(db_session, Nonconformity) == 0  # reading the check records nothing
    result = app.test_cli_runner().invoke(group, ["verify"])
    assert result.exit_code == 1 and "Nonconformity NC-" in result.output
    again = app.test_cli_runner().invoke(group, ["verify"])  # the same day: the same nonconformity
    assert again.exit_code == 1
    found = db_session.scalars(sa.select(Nonconformity)).one()
    assert found.source_key == f"custody_verification:{staff.unit.id}:{TODAY.isoformat()}"
    assert f"Case 2026/015, exhibit 7 (item {item_id}): event #2" in found.description
    assert found.source_url == "/evidence/verify" and found.risk_grade == "high"
    return found


def _failed_equipment_check(app, staff: Staff, db_session, login_as) -> Nonconformity:  # type: ignore[no-untyped-def]
    """A failing check of an instrument that affects results opens an impact review and its nonconformity."""
    scope = equipment.add(staff.unit.id, staff.qm, equipment.Details(identifier="MIC-15", kind="microscope",
                                                                     location="Lab 2"))
    equipment.add_record(scope, staff.examiner, equipment.RecordInput(kind="check", result="fail",
                                                                      performed_on=TODAY, notes="Reticle drift"))
    db_session.commit()
    review = equipment.reviews(staff.unit.id)[0]
    found = db_session.scalars(sa.select(Nonconformity)).one()
    assert found.source_key == f"impact_review:{review.id}" and found.source_url == f"/equipment/reviews/{review.id}"
    return found


def _unsatisfactory_proficiency_result(app, staff: Staff, db_session, login_as) -> Nonconformity:  # type: ignore[no-untyped-def]
    """An unsatisfactory proficiency-test result (|z| >= 3) opens a nonconformity linked to the result."""
    from qms.quality import proficiency
    from tests.qms.quality.test_proficiency import result

    record = proficiency.record_result(staff.unit.id, staff.qm, result(staff, z_score=3.4))
    db_session.commit()
    found = db_session.scalars(sa.select(Nonconformity)).one()
    assert found.source_key == f"proficiency:{record.id}"
    return found


SOURCES: dict[str, Callable[..., Nonconformity]] = {
    Source.CUSTODY_DISCREPANCY.value: _failed_custody_verification,
    Source.EQUIPMENT_IMPACT.value: _failed_equipment_check,
    Source.PROFICIENCY_TEST.value: _unsatisfactory_proficiency_result,
}


@pytest.mark.parametrize("source", list(SOURCES))
def test_each_source_opens_a_nonconformity_whose_action_runs_the_audit_steps(
        source, app, staff, db_session, login_as) -> None:
    found = SOURCES[source](app, staff, db_session, login_as)
    assert found.source == source and found.unit_id == staff.unit.id
    qm = login_as(staff.qm)
    page = qm.get(f"/quality/nonconformities/{found.id}").get_data(as_text=True)
    assert found.number in page and f'href="{found.source_url}"' in page and 'id="nc-action-form"' in page
    assert found.number in qm.get(f"/quality/nonconformities?source={source}").get_data(as_text=True)

    # Only a quality manager raises the action.
    due = (TODAY + timedelta(days=20)).isoformat()
    refused = login_as(staff.lead).post(f"/quality/nonconformities/{found.id}/actions",
                                        data={"title": "Fix it", "owner_id": staff.examiner.id, "due_on": due})
    assert refused.status_code == 403 and _count(db_session, CorrectiveAction) == 0
    response = qm.post(f"/quality/nonconformities/{found.id}/actions",
                       data={"title": "Find and fix the cause", "owner_id": staff.examiner.id, "due_on": due})
    assert response.status_code == 302
    action = db_session.scalars(sa.select(CorrectiveAction)).one()
    assert action.nonconformity_id == found.id and action.finding_id is None
    assert response.headers["Location"].endswith(f"/audits/actions/{action.id}")

    # The same steps and pages as an audit's action, linking back to the nonconformity.
    owner = login_as(staff.examiner)
    action_page = owner.get(f"/audits/actions/{action.id}").get_data(as_text=True)
    assert f'href="/quality/nonconformities/{found.id}"' in action_page and found.number in action_page
    assert found.number in owner.get("/audits/actions").get_data(as_text=True)
    for data in ({"kind": "correction", "text": "Contained."},
                 {"kind": "root_cause", "method": "five_whys", "text": "No second check."},
                 {"kind": "action_plan", "text": "Add a second check."},
                 {"kind": "implementation", "text": "Second check in use."}):
        assert owner.post(f"/audits/actions/{action.id}/steps", data=data).status_code == 302
    # Independence: the owner never reviews; nobody closes before an effective review by someone else.
    before = _count(db_session, ActionStep)
    assert owner.post(f"/audits/actions/{action.id}/review", data={"effective": "y", "text": "Mine."}).status_code \
        == 403
    refused = qm.post(f"/audits/actions/{action.id}/close", data={"text": "Close."})
    assert refused.status_code == 409 and "effectiveness review" in refused.get_data(as_text=True)
    assert _count(db_session, ActionStep) == before
    assert login_as(staff.auditor).post(f"/audits/actions/{action.id}/review",
                                        data={"effective": "y", "text": "Sampled."}).status_code == 302
    assert qm.post(f"/audits/actions/{action.id}/close", data={"text": "Done."}).status_code == 302
    db_session.expire_all()
    assert db_session.get(CorrectiveAction, action.id).status == "closed"
    assert quality.open_counts(staff.unit.id).get(Source(source), 0) == 0


# --- the register and its pages ---------------------------------------------------------------------

def _major_finding(staff: Staff, db_session):  # type: ignore[no-untyped-def]
    audit = audits.create_audit(plan(staff), unit_id=staff.unit.id, actor=staff.qm)
    audits.start_audit(audit, staff.lead)
    target = item(audit, "17020:6.1.5")
    audits.record_result(target, staff.lead, result="non_conforming", evidence_note="No training record.")
    finding = audits.raise_finding(target, staff.lead, grade="major", statement="Training not recorded.")
    db_session.commit()
    return finding


def test_staff_record_nonconformities_and_the_register_filters_them(staff, db_session, login_as, make_user) -> None:
    finding = _major_finding(staff, db_session)
    examiner = login_as(staff.examiner)
    page = examiner.get("/quality/nonconformities").get_data(as_text=True)
    assert 'id="nc-form"' in page and f"/audits/findings/{finding.id}" in page  # major findings are listed
    response = examiner.post("/quality/nonconformities", data={
        "source": "other", "title": "Wrong form version used", "description": "Form v2 in the scene kit.",
        "location": "Scene kit 3", "found_on": TODAY.isoformat(), "risk_grade": "low",
        "immediate_correction": "Replaced the forms."})
    assert response.status_code == 302
    made = db_session.scalars(sa.select(Nonconformity)).one()
    assert made.found_by_id == staff.examiner.id and made.number == f"NC-{TODAY.year}-0001"
    shown = examiner.get(response.headers["Location"]).get_data(as_text=True)
    assert "Scene kit 3" in shown and "Replaced the forms." in shown and 'id="nc-action-form"' not in shown

    everything = examiner.get("/quality/nonconformities").get_data(as_text=True)
    assert made.number in everything and "Training not recorded." in everything
    low = examiner.get("/quality/nonconformities?grade=low").get_data(as_text=True)
    assert made.number in low and "Training not recorded." not in low
    audit_only = examiner.get("/quality/nonconformities?source=audit_finding").get_data(as_text=True)
    assert made.number not in audit_only and "Training not recorded." in audit_only
    high = examiner.get("/quality/nonconformities?grade=high").get_data(as_text=True)
    assert "Training not recorded." in high and made.number not in high
    assert examiner.get("/quality/nonconformities?grade=grave").status_code == 400
    assert examiner.get("/quality/nonconformities?source=rumour").status_code == 400


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block."""
    seen: list[str] = []

    def count(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


def _grown_register(staff: Staff, db_session, nonconformities: int) -> dict[str, tuple[int, bool]]:  # type: ignore[no-untyped-def]
    """Nonconformities whose actions cycle through none, one open, one closed, one closed and one implemented,
    and an audit with a fifth as many findings (major, minor, observation; every other one with an action).
    Returns what the register must say of each: (open actions, open)."""
    due = TODAY + timedelta(days=30)
    expected: dict[str, tuple[int, bool]] = {}
    for n in range(nonconformities):
        made = quality.open_nonconformity(staff.unit.id, Source.OTHER, quality.Found(title=f"NC {n}"))
        statuses = ([], ["open"], ["closed"], ["closed", "implemented"])[n % 4]
        for status in statuses:
            action = quality.raise_action(made, staff.qm, title=f"Action on {n}", owner_id=staff.examiner.id,
                                          due_on=due)
            action.status = status  # the register reads the status only (its steps are tested elsewhere)
        open_actions = sum(status != "closed" for status in statuses)
        expected[made.number] = (open_actions, not statuses or open_actions > 0)
    audit = audits.create_audit(plan(staff, title=f"Audit of {nonconformities}"), unit_id=staff.unit.id,
                                actor=staff.qm)
    audits.start_audit(audit, staff.lead)
    target = item(audit, "17020:6.1.5")
    audits.record_result(target, staff.lead, result="non_conforming", evidence_note="Seen.")
    for n in range(nonconformities // 5):
        grade = ("major", "minor", "observation")[n % 3]
        finding = audits.raise_finding(target, staff.lead, grade=grade, statement=f"Finding {n}.")
        if n % 2:
            audits.raise_action(finding, staff.lead, title=f"Answer finding {n}", owner_id=staff.examiner.id,
                                due_on=due)
        if grade != "observation":
            expected[f"{audit.title} #{finding.number}"] = (n % 2, True)
    db_session.commit()
    return expected


def test_the_register_reads_a_fixed_number_of_statements_whatever_its_length(staff, db_session) -> None:
    """Each row's open actions and openness come from grouped joins, not from a query per row."""
    counted = []
    expected: dict[str, tuple[int, bool]] = {}
    unit_id = staff.unit.id
    for added in (10, 40):  # 10 records, then 50
        expected |= _grown_register(staff, db_session, added)
        db_session.expire_all()  # nothing already loaded hides a lazy load
        with statements() as seen:
            rows = quality.register(unit_id)
        counted.append(len(seen))
        assert {row.number: (row.open_actions, row.is_open) for row in rows} == expected
    assert len(expected) > 50 and counted[1] == counted[0] <= 2, counted
    with statements() as seen:
        assert quality.register(unit_id, source="audit_finding", grade="medium")
    assert len(seen) == 1


@pytest.mark.parametrize("data, reason", [
    ({"source": "other", "title": "Late", "found_on": (TODAY + timedelta(days=1)).isoformat(), "risk_grade": "low"},
     "in the future"),
    ({"source": "audit_finding", "title": "Sneaky", "risk_grade": "low"}, "Source"),
    ({"source": "other", "title": "", "risk_grade": "low"}, "What went wrong"),
    ({"source": "other", "title": "Bad grade", "risk_grade": "grave"}, "Risk grade"),
])
def test_a_refused_record_says_why_and_saves_nothing(staff, db_session, login_as, data, reason) -> None:
    response = login_as(staff.examiner).post("/quality/nonconformities", data=data)
    assert response.status_code == 400 and reason in response.get_data(as_text=True)
    assert _count(db_session, Nonconformity) == 0


def test_viewers_read_and_other_units_see_nothing(staff, db_session, login_as, make_unit, make_user) -> None:
    viewer = make_user(staff.unit, Role.VIEWER, username="viewer")
    made = quality.record_nonconformity(staff.unit.id, staff.examiner, "other", quality.Found(title="Unit A only"))
    db_session.commit()
    reader = login_as(viewer)
    assert reader.get(f"/quality/nonconformities/{made.id}").status_code == 200
    assert 'id="nc-form"' not in reader.get("/quality/nonconformities").get_data(as_text=True)
    assert reader.post("/quality/nonconformities", data={"title": "x", "source": "other"}).status_code == 403

    other_unit = make_unit(code="OTHER")
    outsider = login_as(make_user(other_unit, Role.QUALITY_MANAGER, username="qm_b"))
    assert outsider.get(f"/quality/nonconformities/{made.id}").status_code == 404
    assert "Unit A only" not in outsider.get("/quality/nonconformities").get_data(as_text=True)
    due = (TODAY + timedelta(days=5)).isoformat()
    assert outsider.post(f"/quality/nonconformities/{made.id}/actions",
                         data={"title": "x", "owner_id": staff.examiner.id, "due_on": due}).status_code == 404
    assert _count(db_session, CorrectiveAction) == 0


def test_the_dashboard_counts_open_nonconformities_and_overdue_actions_of_every_origin(
        staff, db_session, login_as) -> None:
    finding = _major_finding(staff, db_session)
    made = quality.record_nonconformity(staff.unit.id, staff.csi, "complaint", quality.Found(title="Late report"))
    from_nc = quality.raise_action(made, staff.qm, title="Answer sooner", owner_id=staff.examiner.id,
                                   due_on=TODAY + timedelta(days=3))
    from_audit = audits.raise_action(finding, staff.lead, title="Record training", owner_id=staff.examiner.id,
                                     due_on=TODAY + timedelta(days=3))
    for action in (from_nc, from_audit):
        action.due_on = TODAY - timedelta(days=1)  # time passes
    db_session.commit()
    assert quality.open_counts(staff.unit.id) == {Source.COMPLAINT: 1, Source.AUDIT_FINDING: 1}
    page = login_as(staff.examiner).get("/").get_data(as_text=True)
    panel = page[page.index('id="panel-nonconformities"'):]
    assert "Complaint" in panel and "Audit finding" in panel
    overdue = panel[panel.index('id="panel-nc-overdue"'):]
    assert "Answer sooner" in overdue and "Record training" in overdue and made.number in overdue


# --- the API -------------------------------------------------------------------------------------------

def _api(app, db_session, user, unit, role):  # type: ignore[no-untyped-def]
    _, clear = auth.issue_token(user, unit_id=unit.id, role=role, name="test")
    db_session.commit()
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {clear}"
    return client


def test_the_api_lists_records_and_raises_actions(app, staff, db_session, make_unit, make_user) -> None:
    examiner = _api(app, db_session, staff.examiner, staff.unit, Role.EXAMINER)
    made = examiner.post("/api/v1/nonconformities", json={"source": "complaint", "title": "Lost report",
                                                          "risk_grade": "high"})
    assert made.status_code == 201 and made.json["found_by_id"] == staff.examiner.id
    nc_id = made.json["id"]
    assert examiner.post("/api/v1/nonconformities", json={"source": "audit_finding", "title": "x"}).status_code == 422
    assert examiner.post("/api/v1/nonconformities", json={"title": "  "}).status_code == 400
    listed = examiner.get("/api/v1/nonconformities?source=complaint").json
    assert [row["number"] for row in listed] == [made.json["number"]]
    assert examiner.get("/api/v1/nonconformities?grade=low").json == []
    due = (TODAY + timedelta(days=9)).isoformat()
    body = {"title": "Track reports", "owner_id": staff.examiner.id, "due_on": due}
    assert examiner.post(f"/api/v1/nonconformities/{nc_id}/actions", json=body).status_code == 403
    qm = _api(app, db_session, staff.qm, staff.unit, Role.QUALITY_MANAGER)
    raised = qm.post(f"/api/v1/nonconformities/{nc_id}/actions", json=body)
    assert raised.status_code == 201 and raised.json["nonconformity_id"] == nc_id
    assert qm.post(f"/api/v1/nonconformities/{nc_id}/actions", json={"title": "x"}).status_code == 400
    one = examiner.get(f"/api/v1/nonconformities/{nc_id}").json
    assert [a["id"] for a in one["actions"]] == [raised.json["id"]] and one["source"] == "complaint"
    step = examiner.post(f"/api/v1/audits/actions/{raised.json['id']}/steps",
                         json={"kind": "correction", "text": "Found the report."})
    assert step.status_code == 201

    other = make_unit(code="OTHER")
    outsider = _api(app, db_session, make_user(other, Role.QUALITY_MANAGER, username="qm_b"), other,
                    Role.QUALITY_MANAGER)
    assert outsider.get(f"/api/v1/nonconformities/{nc_id}").status_code == 404
    assert outsider.get("/api/v1/nonconformities").json == []


def test_openapi_documents_the_nonconformity_endpoints(client) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"/api/v1/nonconformities", "/api/v1/nonconformities/{nc_id}",
            "/api/v1/nonconformities/{nc_id}/actions"} <= set(paths)
