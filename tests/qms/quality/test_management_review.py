"""Management review: the minutes' figures equal direct queries of the database, decisions open what they say,
the signed minutes are kept as signed."""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from qms.audits import services as audits
from qms.audits.models import ActionStep, Audit, CorrectiveAction, Finding
from qms.db import today
from qms.documents.models import Sop
from qms.equipment.models import Equipment, ImpactReview
from qms.errors import AuthenticationFailed, InvalidInput, NotPermitted, StateConflict
from qms.evidence.custody import register_case
from qms.evidence.models import Case, Item
from qms.people import services as people
from qms.people.services import Signature
from qms.quality import complaints, proficiency, review
from qms.quality import services as quality
from qms.quality.complaints_models import Complaint, ComplaintEvent
from qms.quality.models import Nonconformity, Source
from qms.quality.proficiency_models import ProficiencyTest
from qms.quality.review_models import ReviewDecision
from qms.trail.models import AppendOnlyError
from tests.conftest import PASSWORD
from tests.qms.audits.conftest import plan
from tests.qms.conftest import Staff

needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                     reason="pdftotext (Debian package poppler-utils) is not installed")

START = today() - timedelta(days=90)
END = today()
LONG_AGO = today() - timedelta(days=400)


def text_of(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "minutes.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, check=True, text=True).stdout
    return " ".join(text.split())


def section(text: str, start: str, end: str) -> str:
    return text[text.index(start):text.index(end, text.index(start))]


def number(text: str, label: str) -> int:
    found = re.search(r"(?:^| )" + re.escape(label) + r" (\d+)(?: |$)", text)
    assert found is not None, f"{label!r} not found in {text[:400]!r}"
    return int(found.group(1))


def pt(staff: Staff, scope_id: int, **changes: object) -> proficiency.Result:
    fields: dict[str, object] = dict(provider="Forensic PT Ltd", scheme="Firearms ID", round="R1",
                                     participant_id=staff.examiner.id, scope_id=scope_id,
                                     performed_on=today() - timedelta(days=5), reported_result="Identification")
    fields.update(changes)
    return proficiency.Result(**fields)  # type: ignore[arg-type]


@pytest.fixture()
def records(staff: Staff, db_session) -> None:
    """A period's worth of records: an audit with two findings and an effective action, nonconformities
    from three sources, proficiency results of three outcomes, a case; and some from before the period."""
    audit = audits.create_audit(plan(staff), unit_id=staff.unit.id, actor=staff.qm)
    audits.start_audit(audit, staff.lead)
    first, second = audit.items[0], audit.items[1]
    audits.record_result(first, staff.lead, result="non_conforming", evidence_note="Two records unsigned.")
    finding = audits.raise_finding(first, staff.lead, grade="major", statement="Records unsigned.")
    audits.raise_finding(second, staff.lead, grade="observation", statement="Could be clearer.")
    action = audits.raise_action(finding, staff.qm, title="Sign records", owner_id=staff.examiner.id,
                                 due_on=today() + timedelta(days=30))
    for kind, extra in (("root_cause", {"method": "five_whys"}), ("action_plan", {}), ("implementation", {})):
        audits.record_step(action, staff.examiner, kind=kind, text=f"The {kind}.", **extra)
    audits.review_effectiveness(action, staff.auditor, effective=True, text="No unsigned records since.")
    quality.record_nonconformity(staff.unit.id, staff.csi, "other", quality.Found(title="Label missing"))
    quality.record_nonconformity(staff.unit.id, staff.csi, "custody_discrepancy", quality.Found(title="Seal"))
    quality.record_nonconformity(staff.unit.id, staff.csi, "other", quality.Found(title="Old", found_on=LONG_AGO))
    scope_id = people.scopes(staff.unit.id)[0].id
    proficiency.record_result(staff.unit.id, staff.qm, pt(staff, scope_id, z_score=3.2))
    proficiency.record_result(staff.unit.id, staff.qm, pt(staff, scope_id, z_score=1.0, round="R2"))
    proficiency.record_result(staff.unit.id, staff.qm, pt(staff, scope_id, outcome="questionable", round="R3"))
    proficiency.record_result(staff.unit.id, staff.qm, pt(staff, scope_id, z_score=0.1, round="R0",
                                                          performed_on=LONG_AGO))
    register_case(unit_id=staff.unit.id, actor=staff.csi, case_number="C-1", offence_type="Robbery",
                  opened_on=today())
    register_case(unit_id=staff.unit.id, actor=staff.csi, case_number="C-0", offence_type="Theft",
                  opened_on=LONG_AGO)
    for n, received_on in enumerate((today(), today() - timedelta(days=10), LONG_AGO)):
        came = complaints.receive(staff.unit.id, staff.qm, complaints.Received(
            complainant=f"Prosecutor {n}", channel="letter", description="Late report.", received_on=received_on))
        if n:
            complaints.acknowledge(came, staff.qm, "Acknowledged.")
    db_session.commit()


def direct(db_session, unit_id: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """The figures of the period asked straight from the tables (not through the review's code)."""
    low, high = datetime.combine(START, time.min, tzinfo=UTC), datetime.combine(END + timedelta(days=1), time.min,
                                                                                 tzinfo=UTC)

    def grouped(column, model, *where):  # type: ignore[no-untyped-def]
        return dict(db_session.execute(select(column, func.count()).where(model.unit_id == unit_id, *where)
                                       .group_by(column)).all())

    def count(model, *where) -> int:  # type: ignore[no-untyped-def]
        return db_session.scalar(select(func.count()).select_from(model).where(model.unit_id == unit_id, *where))

    in_period = (Finding.raised_at >= low, Finding.raised_at < high)
    return {
        "audits": count(Audit, Audit.started_at >= low, Audit.started_at < high),
        "grades": grouped(Finding.grade, Finding, *in_period),
        "sources": grouped(Nonconformity.source, Nonconformity, Nonconformity.found_on >= START,
                           Nonconformity.found_on <= END),
        "nc_findings": count(Finding, Finding.grade.in_(("major", "minor")), *in_period),
        "actions": grouped(CorrectiveAction.status, CorrectiveAction, CorrectiveAction.created_at >= low,
                           CorrectiveAction.created_at < high),
        "effective": count(ActionStep, ActionStep.kind == "effectiveness_review", ActionStep.effective.is_(True),
                           ActionStep.at >= low, ActionStep.at < high),
        "outcomes": grouped(ProficiencyTest.outcome, ProficiencyTest, ProficiencyTest.performed_on >= START,
                            ProficiencyTest.performed_on <= END),
        "instruments": count(Equipment),
        "impact_open": count(ImpactReview, ImpactReview.closed_at.is_(None)),
        "sops_overdue": sum(1 for sop in db_session.scalars(select(Sop).where(  # next_review_on is computed
            Sop.unit_id == unit_id, Sop.current_revision_id.is_not(None)))
            if sop.next_review_on is not None and sop.next_review_on < today()),
        "items": count(Item),
        "cases": count(Case, Case.opened_on >= START, Case.opened_on <= END),
        "items_received": count(Item, Item.created_at >= low, Item.created_at < high),
        "complaints": count(Complaint, Complaint.received_on >= START, Complaint.received_on <= END),
        "acknowledged": db_session.scalar(select(func.count(func.distinct(ComplaintEvent.complaint_id))).join(
            Complaint, Complaint.id == ComplaintEvent.complaint_id).where(
            Complaint.unit_id == unit_id, Complaint.received_on >= START, ComplaintEvent.step == "acknowledged")),
    }


@needs_pdftotext
def test_the_signed_minutes_give_the_figures_of_the_database(staff: Staff, records: None, db_session,
                                                             tmp_path: Path) -> None:
    found = review.create_review(staff.unit.id, staff.qm, title="Review 2026", period_start=START, period_end=END,
                                 attendees="QM, lead auditor")
    review.decide(found, staff.qm, kind="decision", text_="Keep the audit programme.")
    review.decide(found, staff.qm, kind="nonconformity", text_="Training records are late.")
    review.decide(found, staff.qm, kind="corrective_action", text_="Witnessing overdue for two people.",
                  action=review.ActionPlan("Plan the witnessing", staff.qm.id, today() + timedelta(days=60)))
    review.sign(found, staff.qm, Signature(password=PASSWORD, meaning=review.SIGNATURE_MEANING))
    db_session.commit()
    text = text_of(review.minutes_pdf(found), tmp_path)
    expected = direct(db_session, staff.unit.id)

    audits_part = section(text, "1 Audits", "2 Nonconformities")
    assert number(audits_part, "Audits held") == expected["audits"] == 1
    grades = expected["grades"]
    assert number(audits_part, "Major nonconformity") == grades.get("major", 0) == 1
    assert number(audits_part, "Minor nonconformity") == grades.get("minor", 0) == 0
    assert number(audits_part, "Observation") == grades.get("observation", 0) == 1
    assert number(audits_part, "Findings raised") == sum(grades.values())

    nc_part = section(text, "2 Nonconformities", "3 Complaints")
    sources = expected["sources"]
    assert number(nc_part, "Other") == sources.get("other", 0) == 1  # the one from before the period is left out
    assert number(nc_part, "Custody discrepancy") == sources.get("custody_discrepancy", 0) == 1
    assert number(nc_part, "Proficiency test") == sources.get("proficiency_test", 0) == 2
    assert number(nc_part, "Management review") == sources.get("management_review", 0) == 2
    assert number(nc_part, "Audit finding") == expected["nc_findings"] == 1
    assert number(nc_part, "Nonconformities in total") == sum(sources.values()) + expected["nc_findings"]
    actions = expected["actions"]
    for status, label in (("open", "Open"), ("implemented", "Implemented"), ("effective", "Effective"),
                          ("closed", "Closed")):
        assert number(nc_part, label) == actions.get(status, 0)
    assert actions == {"effective": 1, "open": 1}
    assert number(nc_part, "Reviewed effective") == expected["effective"] == 1

    complaints_part = section(text, "3 Complaints", "4 Proficiency")
    assert number(complaints_part, "Received in total") == expected["complaints"] == 2  # not the one of last year
    assert number(complaints_part, "Acknowledged") == expected["acknowledged"] == 1
    assert number(complaints_part, "Decided") == 0

    pt_part = section(text, "4 Proficiency", "5 Competence")
    outcomes = expected["outcomes"]
    for outcome in ("satisfactory", "questionable", "unsatisfactory"):
        assert number(pt_part, outcome.capitalize()) == outcomes.get(outcome, 0) == 1
    assert number(pt_part, "Results in total") == 3

    competence = people.matrix(staff.unit.id).counts()  # derived standings: the people domain's own count
    competence_part = section(text, "5 Competence", "6 Equipment")
    assert number(competence_part, "Authorised") == competence.get(people.Standing.AUTHORISED, 0) > 0

    equipment_part = section(text, "6 Equipment", "7 Documents")
    statuses = ("In service", "Calibration due soon", "Out of service", "Retired")  # the equipment domain's labels
    shown = sum(number(equipment_part, label) for label in statuses)
    assert shown == expected["instruments"]
    assert number(equipment_part, "Impact reviews open") == expected["impact_open"]
    assert number(section(text, "7 Documents", "8 Risks"), "SOP reviews overdue") == expected["sops_overdue"]
    assert number(section(text, "9 Custody", "10 Workload"), "Items checked") == expected["items"]

    workload = section(text, "10 Workload", "11 Decisions")
    assert number(workload, "Cases opened") == expected["cases"] == 1
    assert number(workload, "Items received") == expected["items_received"]
    decisions = section(text, "11 Decisions", "Signature")
    assert "Keep the audit programme." in decisions and "Opens a corrective action" in decisions
    assert "Signed electronically by" in text and "DRAFT" not in text


def test_decisions_open_what_they_say_and_are_append_only(staff: Staff, db_session) -> None:
    found = review.create_review(staff.unit.id, staff.qm, title="Review", period_start=START, period_end=END)
    plain = review.decide(found, staff.qm, kind="decision", text_="Buy a second comparison microscope.")
    opened = review.decide(found, staff.qm, kind="nonconformity", text_="Complaints answered late.")
    acted = review.decide(found, staff.qm, kind="corrective_action", text_="Two SOP reviews overdue.",
                          action=review.ActionPlan("Review the SOPs", staff.examiner.id, today() + timedelta(days=9)))
    assert (plain.number, opened.number, acted.number) == (1, 2, 3)
    assert plain.nonconformity_id is None and plain.action_id is None
    nonconformity = db_session.get(Nonconformity, opened.nonconformity_id)
    assert nonconformity.source == Source.MANAGEMENT_REVIEW.value
    assert nonconformity.source_key == f"management_review:{found.id}:2"
    action = db_session.get(CorrectiveAction, acted.action_id)
    assert action.nonconformity_id == acted.nonconformity_id and action.owner_id == staff.examiner.id
    with pytest.raises(InvalidInput):
        review.decide(found, staff.qm, kind="corrective_action", text_="No owner.",
                      action=review.ActionPlan("", None, None))
    with pytest.raises(NotPermitted):
        review.decide(found, staff.lead, kind="decision", text_="Not theirs.")
    db_session.commit()
    plain.text = "Changed."
    with pytest.raises(AppendOnlyError):
        db_session.flush()
    db_session.rollback()
    assert db_session.get(ReviewDecision, plain.id).text == "Buy a second comparison microscope."


def test_signing_needs_the_password_and_freezes_the_minutes(staff: Staff, db_session) -> None:
    found = review.create_review(staff.unit.id, staff.qm, title="Review", period_start=START, period_end=END)
    with pytest.raises(AuthenticationFailed):
        review.sign(found, staff.qm, Signature(password="wrong password", meaning="Approved"))
    assert not found.signed
    review.sign(found, staff.qm, Signature(password=PASSWORD, meaning="Approved"))
    db_session.commit()
    pdf = review.minutes_pdf(found)
    assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == found.minutes_sha256
    with pytest.raises(StateConflict):
        review.sign(found, staff.qm, Signature(password=PASSWORD, meaning="Approved"))
    with pytest.raises(StateConflict):
        review.decide(found, staff.qm, kind="decision", text_="Too late.")


@pytest.mark.parametrize(("start", "end"), [(END, START), (None, END), (START - timedelta(days=4000), END)])
def test_a_period_must_be_a_period(staff: Staff, start, end) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput):
        review.create_review(staff.unit.id, staff.qm, title="Review", period_start=start, period_end=end)


def test_the_pages_gather_decide_sign_and_download(staff: Staff, records: None, login_as) -> None:
    client = login_as(staff.qm)
    made = client.post("/quality/reviews", data={"title": "Review 2026", "period_start": START.isoformat(),
                                                 "period_end": END.isoformat(), "attendees": "QM"})
    assert made.status_code == 302, made.get_data(as_text=True)[:800]
    url = made.headers["Location"]
    page = client.get(url).get_data(as_text=True)
    assert "Audits held" in page and "data:image/svg+xml;base64," in page
    decided = client.post(f"{url}/decisions", data={"kind": "nonconformity", "text": "Late training records."})
    assert decided.status_code == 302, decided.get_data(as_text=True)[:800]
    assert client.post(f"{url}/sign", data={"meaning": "Approved", "password": "wrong"}).status_code == 403
    signed = client.post(f"{url}/sign", data={"meaning": "Approved", "password": PASSWORD})
    assert signed.status_code == 302
    minutes = client.get(f"{url}/minutes.pdf")
    assert minutes.status_code == 200 and minutes.data.startswith(b"%PDF")
    assert "Late training records." in client.get(url).get_data(as_text=True)
    examiner = login_as(staff.examiner)
    assert examiner.get(url).status_code == 200
    assert examiner.post(f"{url}/decisions", data={"kind": "decision", "text": "x"}).status_code == 403
