"""Complaints and appeals (ISO/IEC 17020 7.5, 7.6): the steps, the due dates, the independence of
the decision from the work complained about, the close-out notice, and who may see what."""
from __future__ import annotations

import shutil
import subprocess
from datetime import date, timedelta

import pytest

from qms.audits import services as audits
from qms.comparisons import jobs
from qms.comparisons import services as comparisons
from qms.db import today
from qms.errors import InvalidInput, NotPermitted, StateConflict
from qms.extensions import db
from qms.people import services as people
from qms.quality import complaints
from qms.quality.complaints_models import ComplaintEvent
from qms.quality.models import Nonconformity, Source
from qms.trail.models import AppendOnlyError
from tests.conftest import PASSWORD
from tests.qms.comparisons.conftest import app_config, bench, scans, scene_bench

# The comparison tests' unit, people, cases and scans (pytest finds fixtures imported into the module).
SHARED_FIXTURES = (app_config, bench, scans, scene_bench)


def pdf_text(data: bytes) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    assert data.startswith(b"%PDF")
    return " ".join(subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True,
                                   check=True).stdout.decode().split())


def _about(unit_id: int, actor, case_number: str = "", **fields):  # type: ignore[no-untyped-def]
    received = complaints.Received(complainant=fields.pop("complainant", "Defence counsel A. Berisha"),
                                   channel="letter", description="The report on the casing came late and wrong.",
                                   case_number=case_number, **fields)
    return complaints.receive(unit_id, actor, received)


def _investigated(record, qm):  # type: ignore[no-untyped-def]
    complaints.acknowledge(record, qm, "Letter of acknowledgement sent.")
    complaints.validate(record, qm, "About our examination of the casing: a complaint.")
    complaints.investigate(record, qm, "The report went out 12 days after the request; the SLA is 10.")
    return record


@pytest.fixture()
def worked_case(bench, scans):  # type: ignore[no-untyped-def]
    """Case 2 of the bench: the CSI officer registered and handed over its casing, the examiner imaged it
    and compared it (first decision), the verifier verified that decision blind."""
    comparisons.add_entry(bench.casings[0], actor=bench.examiner, data=scans["F0000-S00"], filename="a.x3p",
                          device_id=bench.device.id)
    query = comparisons.add_entry(bench.casings[2], actor=bench.examiner, data=scans["F0000-S01"], filename="c.x3p",
                                  device_id=bench.device.id)
    db.session.commit()
    jobs.run_queued()
    db.session.expire_all()
    candidate = comparisons.candidates_of(comparisons.latest_job(query))[0]
    for examiner in (bench.examiner, bench.verifier):
        comparisons.record_decision(candidate, examiner=examiner, unit_id=bench.unit.id,
                                    conclusion="identification_lead", note="", password=PASSWORD)
    db.session.commit()
    return bench


@pytest.mark.parametrize(("who", "reason"), [
    ("csi", "they recorded or received custody of its evidence"),
    ("examiner", "they acquired a ballistic entry of its evidence"),
    ("verifier", "they recorded a comparison decision on its evidence"),
])
def test_who_worked_on_the_case_may_not_decide_a_complaint_about_it(worked_case, who: str, reason: str) -> None:
    bench = worked_case
    record = _investigated(_about(bench.unit.id, bench.qm, bench.cases[2].case_number), bench.qm)
    person = getattr(bench, who)
    with pytest.raises(NotPermitted) as refused:
        complaints.decide(record, person, "Upheld: the report was late.")
    message = str(refused.value)
    assert person.full_name in message and record.number in message and reason in message
    assert complaints.state_of(record) == "investigated"
    complaints.decide(record, bench.qm, "Upheld: the report was late.")  # the QM never touched the case
    assert complaints.state_of(record) == "decided"


def test_a_case_nobody_worked_on_leaves_everyone_independent(worked_case) -> None:
    """Case 1's casing was handed over but never imaged or compared: the verifier is independent of it."""
    record = _investigated(_about(worked_case.unit.id, worked_case.qm, worked_case.cases[1].case_number),
                           worked_case.qm)
    assert complaints.involvement(record, worked_case.verifier) == []
    assert complaints.involvement(record, worked_case.csi)  # who registered it is not


def test_an_independent_person_decides_and_the_notice_names_the_complaint_and_the_decision(bench, login_as) -> None:
    client = login_as(bench.qm)
    answer = client.post("/quality/complaints", data={
        "kind": "complaint", "complainant": "Defence counsel A. Berisha", "contact": "berisha@example.org",
        "channel": "email", "case_number": bench.cases[0].case_number, "description": "The casing report is wrong."})
    assert answer.status_code == 302
    url = answer.headers["Location"]
    number = f"CMP-{today().year}-0001"
    assert number in client.get(url).get_data(as_text=True)
    for step, text in [("acknowledged", "Acknowledged by e-mail."), ("validated", "A complaint about our work."),
                       ("investigated", "The casing was re-examined by a second examiner."),
                       ("decided", "DECISION-TEXT: not upheld, the report stands."),
                       ("closed", "We wrote to the complainant with the decision.")]:
        assert client.post(f"{url}/steps", data={"step": step, "text": text}).status_code == 302, step
    page = client.get(url).get_data(as_text=True)
    assert "Closed" in page and "DECISION-TEXT" in page
    notice = client.get(f"{url}/notice.pdf")
    assert notice.status_code == 200 and notice.mimetype == "application/pdf"
    text = pdf_text(notice.get_data())
    assert number in text and "DECISION-TEXT: not upheld, the report stands." in text
    assert bench.cases[0].case_number in text


def test_the_refusal_of_an_involved_decider_is_shown_on_the_page(scene_bench, login_as, make_user) -> None:
    """An auditor who received custody of the case's casing is refused with the reason, not a bare 403."""
    from qms.auth.models import Role
    from qms.evidence import custody

    bench = scene_bench
    auditor = make_user(bench.unit, Role.AUDITOR, Role.EXAMINER, username="aud-exam")
    custody.transfer_custody(bench.casings[0], actor=bench.csi, receiver_username=auditor.username,
                             receiver_password=PASSWORD)
    record = _investigated(_about(bench.unit.id, bench.qm, bench.cases[0].case_number), bench.qm)
    db.session.commit()
    refused = login_as(auditor).post(f"/quality/complaints/{record.id}/steps",
                                     data={"step": "decided", "text": "Not upheld."})
    assert refused.status_code == 403
    assert "they recorded or received custody of its evidence" in refused.get_data(as_text=True)


@pytest.mark.parametrize("who", ["csi", "examiner"])
def test_a_csi_officer_or_examiner_who_worked_on_the_case_is_refused_for_that_on_the_page(bench, login_as,
                                                                                          who: str) -> None:
    """Not the bare role refusal: the reason is their part in the work (the CSI officer handed the casing over,
    the examiner received it), as for a decider who declared an interest."""
    record = _investigated(_about(bench.unit.id, bench.qm, bench.cases[0].case_number), bench.qm)
    db.session.commit()
    person = getattr(bench, who)
    refused = login_as(person).post(f"/quality/complaints/{record.id}/steps",
                                    data={"step": "decided", "text": "Not upheld."})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 403
    assert "they recorded or received custody of its evidence" in page and record.number in page
    assert "Your role in this unit does not allow this" not in page
    db.session.expire_all()
    assert complaints.state_of(record) == "investigated"


def test_who_has_no_part_in_the_case_and_no_deciding_role_gets_the_role_refusal(bench, login_as,
                                                                                make_user) -> None:
    """The verifier (an examiner) never touched case 0: told that examiners do not decide; a viewer may not act."""
    from qms.auth.models import Role

    record = _investigated(_about(bench.unit.id, bench.qm, bench.cases[0].case_number), bench.qm)
    viewer = make_user(bench.unit, Role.VIEWER, username="viewer")
    db.session.commit()
    step = {"step": "decided", "text": "Not upheld."}
    examiner = login_as(bench.verifier).post(f"/quality/complaints/{record.id}/steps", data=step)
    assert examiner.status_code == 403
    assert "Only a quality manager or an auditor decides complaints." in examiner.get_data(as_text=True)
    reader = login_as(viewer).post(f"/quality/complaints/{record.id}/steps", data=step)
    assert reader.status_code == 403
    assert "Your role in this unit does not allow this." in reader.get_data(as_text=True)
    assert login_as(bench.csi).post(f"/quality/complaints/{record.id}/steps", data={
        "step": "investigated", "text": "More findings."}).status_code == 403  # the other steps: the QM's
    db.session.expire_all()
    assert complaints.state_of(record) == "investigated"
    with pytest.raises(NotPermitted, match="Only a quality manager or an auditor decides"):
        complaints.decide(record, viewer, "Not upheld.")  # no role to act: the role first, in the service too


def test_a_declared_interest_in_the_complainant_or_the_case_refuses_the_decider(staff) -> None:
    record = _investigated(_about(staff.unit.id, staff.qm, complainant="Driton Krasniqi"), staff.qm)
    people.declare(staff.unit.id, staff.lead, kind="conflict_of_interest", interests="my cousin DRITON KRASNIQI")
    with pytest.raises(NotPermitted, match="declaration names Driton Krasniqi"):
        complaints.decide(record, staff.lead, "Not upheld.")
    complaints.decide(record, staff.auditor, "Not upheld.")


def test_the_team_of_an_audit_complained_about_may_not_decide(staff) -> None:
    audit = audits.create_audit(audits.AuditPlan(
        title="Scene audit", planned_start=today(), planned_end=today(), lead_auditor_id=staff.lead.id,
        clauses=("17020:7.1",), team=((staff.auditor.id, "auditor"),)), unit_id=staff.unit.id, actor=staff.qm)
    record = _investigated(_about(staff.unit.id, staff.qm, kind="appeal", audit_id=audit.id), staff.qm)
    assert record.number == f"APL-{today().year}-0001"
    for member in (staff.lead, staff.auditor):
        with pytest.raises(NotPermitted, match="on the team of audit Scene audit"):
            complaints.decide(record, member, "Appeal refused.")
    complaints.decide(record, staff.qm, "Appeal refused.")


def test_steps_come_in_order_and_each_is_an_unchangeable_event(staff) -> None:
    record = _about(staff.unit.id, staff.examiner)  # any staff member records what came in
    with pytest.raises(StateConflict):
        complaints.decide(record, staff.qm, "Too early.")
    with pytest.raises(NotPermitted):
        complaints.acknowledge(record, staff.examiner, "Only the QM handles it.")
    with pytest.raises(InvalidInput):
        complaints.reject(record, staff.qm, "   ")  # a rejection needs its reason
    with pytest.raises(StateConflict):
        complaints.notice_pdf(record)
    complaints.reject(record, staff.qm, "A question about opening hours, not about our inspection work.")
    complaints.close(record, staff.qm, "Answered by phone.")
    assert [e.step for e in complaints.events_of(record)] == ["rejected", "closed"]
    assert complaints.state_of(record) == "closed"
    with pytest.raises(StateConflict):
        complaints.acknowledge(record, staff.qm, "Too late.")
    event = db.session.query(ComplaintEvent).first()
    event.text = "rewritten"
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()


def test_due_dates_count_working_days_and_show_when_overdue(staff, login_as) -> None:
    friday = date(2026, 11, 6)
    assert complaints.add_working_days(friday, 5) == date(2026, 11, 13)
    record = _about(staff.unit.id, staff.qm, received_on=friday)
    assert (record.acknowledge_by, record.decide_by) == (date(2026, 11, 13), date(2026, 12, 6))
    late = complaints.progress(record, on=date(2026, 11, 16))
    assert late.acknowledge_overdue and not late.decide_overdue and late.done == 0
    complaints.acknowledge(record, staff.qm, "Sorry for the delay.")
    found = complaints.progress(record, on=date(2026, 12, 7))
    assert not found.acknowledge_overdue and found.decide_overdue and found.done == 1
    fresh = _about(staff.unit.id, staff.qm, received_on=today() - timedelta(days=1))
    db.session.commit()
    page = login_as(staff.qm).get("/quality/complaints").get_data(as_text=True)
    assert record.number in page and fresh.number in page and "overdue" in page
    with pytest.raises(InvalidInput):
        _about(staff.unit.id, staff.qm, received_on=today() + timedelta(days=1))
    with pytest.raises(InvalidInput, match="No case 2099/1"):
        _about(staff.unit.id, staff.qm, case_number="2099/1")


def test_the_quality_managers_dashboard_shows_complaints_awaiting_a_decision_overdue_first(staff, login_as) -> None:
    fresh = _about(staff.unit.id, staff.qm, received_on=today() - timedelta(days=1))
    late = _about(staff.unit.id, staff.qm, received_on=today() - timedelta(days=40))  # neither acknowledged nor decided
    investigated = _investigated(_about(staff.unit.id, staff.qm, received_on=today() - timedelta(days=2)), staff.qm)
    decided = _investigated(_about(staff.unit.id, staff.qm), staff.qm)
    complaints.decide(decided, staff.auditor, "Upheld.")
    rejected = _about(staff.unit.id, staff.qm)
    complaints.reject(rejected, staff.qm, "Not about our work.")
    db.session.commit()
    assert [record.number for record, _found in complaints.awaiting_decision(staff.unit.id)] == [
        late.number, investigated.number, fresh.number]  # the overdue one, then by the date to decide by
    page = login_as(staff.qm).get("/").get_data(as_text=True)
    assert "Complaints awaiting a decision" in page
    panel = page[page.index('id="panel-complaints"'):]
    panel = panel[:panel.index("</div>")]
    assert "3 awaiting a decision" in panel and "1 overdue" in panel
    assert panel.index(late.number) < panel.index(investigated.number) < panel.index(fresh.number)
    assert "acknowledgement overdue" in panel and "decision overdue" in panel and "Investigated" in panel
    assert decided.number not in panel and rejected.number not in panel
    assert 'id="panel-complaints"' not in login_as(staff.examiner).get("/").get_data(as_text=True)


def test_the_complaints_panel_says_when_none_awaits(staff, login_as) -> None:
    page = login_as(staff.qm).get("/").get_data(as_text=True)
    assert "No complaint is awaiting a decision." in page


def test_a_complaint_opens_one_nonconformity(staff) -> None:
    record = _about(staff.unit.id, staff.qm)
    first = complaints.open_nonconformity(record, staff.qm, title="Report sent after its due date")
    again = complaints.open_nonconformity(record, staff.qm, title="The same, clicked twice")
    assert first.id == again.id == record.nonconformity_id and first.source == Source.COMPLAINT.value
    assert db.session.query(Nonconformity).count() == 1


def test_complaints_are_seen_only_in_their_unit(staff, make_unit, make_user, login_as) -> None:
    from qms.auth.models import Role

    record = _about(staff.unit.id, staff.qm, complainant="UNIT-A-MARKER")
    other = make_user(make_unit(code="OTHER"), Role.QUALITY_MANAGER, username="qm-other")
    viewer = make_user(staff.unit, Role.VIEWER, username="viewer")
    db.session.commit()
    outsider = login_as(other)
    assert "UNIT-A-MARKER" not in outsider.get("/quality/complaints").get_data(as_text=True)
    for url in (f"/quality/complaints/{record.id}", f"/quality/complaints/{record.id}/notice.pdf"):
        assert outsider.get(url).status_code == 404
    assert outsider.post(f"/quality/complaints/{record.id}/steps",
                         data={"step": "acknowledged", "text": "x"}).status_code == 404
    reader = login_as(viewer)
    page = reader.get(f"/quality/complaints/{record.id}")
    assert page.status_code == 200 and "UNIT-A-MARKER" in page.get_data(as_text=True)
    # A reader sees the history, not the forms the service would refuse them.
    assert "/steps" not in page.get_data(as_text=True) and "/nonconformity" not in page.get_data(as_text=True)
    assert f"/quality/complaints/{record.id}/steps" in login_as(staff.qm).get(
        f"/quality/complaints/{record.id}").get_data(as_text=True)
    assert reader.post("/quality/complaints", data={"complainant": "x", "channel": "letter",
                                                    "description": "y"}).status_code == 403


def _api(app, db_session, user, unit, role):  # type: ignore[no-untyped-def]
    from qms.auth import services as auth

    _, clear = auth.issue_token(user, unit_id=unit.id, role=role, name="test")
    db_session.commit()
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {clear}"
    return client


def test_the_api_records_the_steps_and_refuses_an_involved_decider(app, db_session, scene_bench,
                                                                   make_user) -> None:
    from qms.auth.models import Role

    bench = scene_bench
    qm = _api(app, db_session, bench.qm, bench.unit, Role.QUALITY_MANAGER)
    both = make_user(bench.unit, Role.QUALITY_MANAGER, Role.CSI_OFFICER, username="qm-csi")
    from qms.evidence import custody

    custody.register_item(bench.cases[1], actor=both, exhibit_number="2", item_type="cartridge_case",
                          description="Second casing")
    involved = _api(app, db_session, both, bench.unit, Role.QUALITY_MANAGER)
    made = qm.post("/api/v1/quality/complaints", json={"complainant": "Prosecutor's office", "channel": "phone",
                                                       "description": "Exhibit 2 was mislabelled.",
                                                       "case_number": bench.cases[1].case_number})
    assert made.status_code == 201 and made.json["state"] == "received"
    url = f"/api/v1/quality/complaints/{made.json['id']}"
    for step in ("acknowledged", "validated", "investigated"):
        assert qm.post(f"{url}/steps", json={"step": step, "text": f"{step} note"}).status_code == 201
    refused = involved.post(f"{url}/steps", json={"step": "decided", "text": "Not upheld."})
    assert refused.status_code == 403 and "custody of its evidence" in refused.json["message"]
    officer = _api(app, db_session, bench.csi, bench.unit, Role.CSI_OFFICER)  # registered the case's items
    refused = officer.post(f"{url}/steps", json={"step": "decided", "text": "Not upheld."})
    assert refused.status_code == 403 and "custody of its evidence" in refused.json["message"]
    assert qm.post(f"{url}/steps", json={"step": "decided", "text": "Upheld."}).status_code == 201
    answer = qm.get(url).json
    assert answer["state"] == "decided" and [e["step"] for e in answer["events"]][-1] == "decided"
    assert qm.post(f"{url}/steps", json={"step": "decided", "text": "Again."}).status_code == 409
