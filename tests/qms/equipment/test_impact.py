"""Acceptance 2 of issue 14: a lapsed scanner refuses uploads; a failed check opens an impact review that
lists exactly the work done with the scanner since its last passing record and closes only when each
piece of work is assessed. The clock is moved with time_machine so the custody chain stays in order."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import pytest
from babel.dates import format_date
import sqlalchemy as sa
import time_machine

from qms.auth.models import Role, Unit, User
from qms.comparisons import services as comparisons
from qms.equipment import services as equipment
from qms.equipment.models import Equipment
from qms.errors import StateConflict
from qms.evidence import custody
from qms.evidence.models import Item
from qms.extensions import db
from qms.trail.models import AuditEvent
from tests.conftest import PASSWORD

START = date.today() - timedelta(days=200)  # well in the past, so every later day is too


def _at(day: date) -> datetime:
    return datetime.combine(day, time(10), tzinfo=timezone.utc)


@dataclass
class Lab:
    unit: Unit
    qm: User
    examiner: User
    casings: list[Item]
    clock: time_machine.Coordinates

    def move(self, days: int) -> date:
        """Move the frozen clock to START + days and return that day."""
        self.clock.move_to(_at(START + timedelta(days=days)))
        return date.today()


@pytest.fixture()
def lab(app, make_unit, make_user):  # type: ignore[no-untyped-def]
    with time_machine.travel(_at(START), tick=False) as clock:
        unit = make_unit(code="FIRE")
        qm = make_user(unit, Role.QUALITY_MANAGER, username="qm1")
        examiner = make_user(unit, Role.EXAMINER, username="exam1")
        csi = make_user(unit, Role.CSI_OFFICER, username="csi1")
        casings = []
        for n in range(6):
            case = custody.register_case(unit_id=unit.id, actor=csi, case_number=f"2026/20{n}",
                                         offence_type="Shooting", opened_on=START)
            casing = custody.register_item(case, actor=csi, exhibit_number="1", item_type="cartridge_case",
                                           description=f"Casing {n}", calibre="9x19 mm")
            custody.transfer_custody(casing, actor=csi, receiver_username="exam1", receiver_password=PASSWORD)
            casings.append(casing)
        db.session.commit()
        yield Lab(unit, qm, examiner, casings, clock)


def _scanner(lab: Lab, identifier: str) -> Equipment:
    found = equipment.add(lab.unit.id, lab.qm, equipment.Details(identifier=identifier, kind="3d_scanner",
                                                                 make="NanoFocus", model="muSurf",
                                                                 calibration_interval_months=12))
    equipment.add_record(found, lab.qm, equipment.RecordInput(kind="calibration", result="pass",
                                                              performed_on=date.today()))
    return found


def _check(lab: Lab, found: Equipment, result: str) -> None:
    equipment.add_record(found, lab.qm, equipment.RecordInput(kind="check", result=result, performed_on=date.today()))
    db.session.commit()


def _image(lab: Lab, casing: int, device: Equipment, scans: dict[str, bytes]):  # type: ignore[no-untyped-def]
    entry = comparisons.add_entry(lab.casings[casing], actor=lab.examiner, data=scans["F0000-S00"], filename="a.x3p",
                                  device_id=device.id, acquired_at=datetime.now(timezone.utc), search=False)
    db.session.commit()
    return entry


def test_an_upload_naming_a_scanner_whose_calibration_lapsed_is_refused(lab, scans, login_as):
    lapsed = _scanner(lab, "SCAN-OLD")  # calibrated on START, every 12 months
    db.session.commit()
    lab.move(400)  # 13 months later: lapsed
    state = equipment.status_of(lapsed)
    assert not state.status.usable and equipment.status_label(state) == "Out of service (calibration lapsed)"
    with pytest.raises(StateConflict, match="SCAN-OLD is out of service \\(calibration lapsed\\)"):
        comparisons.add_entry(lab.casings[0], actor=lab.examiner, data=scans["F0000-S00"], filename="a.x3p",
                              device_id=lapsed.id, search=False)
    db.session.rollback()
    page = login_as(lab.examiner).post("/comparisons/entries/new", data={
        "item_id": str(lab.casings[0].id), "device_id": str(lapsed.id),
        "scan": (io.BytesIO(scans["F0000-S00"]), "a.x3p")}, content_type="multipart/form-data")
    assert page.status_code == 409
    assert "SCAN-OLD is out of service (calibration lapsed)" in page.get_data(as_text=True)
    assert comparisons.entries() == []


def test_the_impact_review_lists_exactly_the_work_since_the_last_passing_record(lab, scans, login_as):
    scanner, other = _scanner(lab, "SCAN-01"), _scanner(lab, "SCAN-02")
    db.session.commit()
    lab.move(10)
    before_check = _image(lab, 0, scanner, scans)  # before the last good check: not listed
    lab.move(20)
    _check(lab, scanner, "pass")  # the last passing record
    lab.move(30)
    after_1 = _image(lab, 1, scanner, scans)
    _image(lab, 2, other, scans)  # another scanner: not listed
    lab.move(40)
    examined = custody.record(lab.casings[3], actor=lab.examiner, kind="examined", notes="breech face under SCAN-01",
                              equipment_ids=[scanner.id])
    after_2 = _image(lab, 4, scanner, scans)
    lab.move(50)
    _check(lab, scanner, "fail")

    assert not equipment.status_of(scanner).status.usable
    [review] = equipment.reviews(lab.unit.id, open_only=True)
    assert review.equipment_id == scanner.id and review.since == START + timedelta(days=20)
    listed = [(line.work.kind, line.work.id) for line in equipment.review_lines(review)]
    assert sorted(listed) == [("ballistic_entry", after_1.id), ("ballistic_entry", after_2.id),
                              ("custody_event", examined.id)]
    assert ("ballistic_entry", before_check.id) not in listed

    qm = login_as(lab.qm)
    page = qm.get(f"/equipment/reviews/{review.id}").get_data(as_text=True)
    assert page.count('class="work-line"') == 3 and f"/comparisons/entries/{after_1.id}" in page
    assert f"/comparisons/entries/{before_check.id}\"" not in page

    refused = qm.post(f"/equipment/reviews/{review.id}/close", data={"close-conclusion": "All fine"})
    assert refused.status_code == 409
    assert "3 piece(s) of work still need an assessment" in refused.get_data(as_text=True)
    for kind, work_id in listed[:2]:
        answer = qm.post(f"/equipment/reviews/{review.id}/assess", data={
            "assess-work_kind": kind, "assess-work_id": str(work_id), "assess-assessment": "re_examine",
            "assess-note": "scan again on SCAN-02"})
        assert answer.status_code == 302
    still = qm.post(f"/equipment/reviews/{review.id}/close", data={"close-conclusion": "All fine"})
    assert still.status_code == 409 and "1 piece(s) of work" in still.get_data(as_text=True)
    kind, work_id = listed[2]
    assert qm.post(f"/equipment/reviews/{review.id}/assess", data={
        "assess-work_kind": kind, "assess-work_id": str(work_id), "assess-assessment": "no_effect"}).status_code == 302
    closed = qm.post(f"/equipment/reviews/{review.id}/close", data={"close-conclusion": "Two scans repeated"})
    assert closed.status_code == 302
    db.session.expire_all()
    assert equipment.review(review.id, lab.unit.id).closed_at is not None
    assert equipment.reviews(lab.unit.id, open_only=True) == []
    trail = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.entity.in_(("ImpactAssessment",
                                                                                   "ImpactReview")))).all()
    assert sum(e.entity == "ImpactAssessment" and e.action == "insert" for e in trail) == 3
    assert any(e.entity == "ImpactReview" and e.action == "update" and e.username == "qm1" for e in trail)


def test_an_assessment_of_work_outside_the_review_is_refused(lab, scans, login_as):
    scanner = _scanner(lab, "SCAN-01")
    db.session.commit()
    lab.move(5)
    entry = _image(lab, 0, scanner, scans)
    lab.move(6)
    _check(lab, scanner, "fail")
    [review] = equipment.reviews(lab.unit.id)
    answer = login_as(lab.qm).post(f"/equipment/reviews/{review.id}/assess", data={
        "assess-work_kind": "ballistic_entry", "assess-work_id": str(entry.id + 1000),
        "assess-assessment": "no_effect"})
    assert answer.status_code == 404


def test_custody_examinations_name_only_instruments_in_service(lab):
    scanner = _scanner(lab, "SCAN-01")
    db.session.commit()
    lab.move(3)
    _check(lab, scanner, "fail")
    with pytest.raises(StateConflict, match="SCAN-01 is out of service"):
        custody.record(lab.casings[0], actor=lab.examiner, kind="examined", notes="looked", equipment_ids=[scanner.id])
    db.session.rollback()
    lab.move(4)
    _check(lab, scanner, "pass")  # a passing check puts it back in service
    event = custody.record(lab.casings[0], actor=lab.examiner, kind="examined", notes="looked",
                           equipment_ids=[scanner.id])
    assert event.details["equipment_ids"] == [scanner.id]


def test_the_examination_form_offers_instruments_in_service_and_names_them(lab, login_as):
    scanner, broken = _scanner(lab, "SCAN-01"), _scanner(lab, "SCAN-02")
    db.session.commit()
    lab.move(2)
    _check(lab, broken, "fail")
    client = login_as(lab.examiner)
    item = lab.casings[0]
    page = client.get(f"/evidence/items/{item.id}").get_data(as_text=True)
    assert f'value="{scanner.id}"' in page and "SCAN-01" in page and "SCAN-02" not in page
    refused = client.post(f"/evidence/items/{item.id}/events", data={
        "event-kind": "examined", "event-notes": "breech face", "event-equipment_ids": [str(broken.id)]})
    assert refused.status_code == 409 and "SCAN-02 is out of service" in refused.get_data(as_text=True)
    answer = client.post(f"/evidence/items/{item.id}/events", data={
        "event-kind": "examined", "event-notes": "breech face", "event-equipment_ids": [str(scanner.id)]})
    assert answer.status_code == 302
    lab.move(3)
    _check(lab, scanner, "fail")
    [review] = [r for r in equipment.reviews(lab.unit.id, open_only=True) if r.equipment_id == scanner.id]
    assert [line.work.kind for line in equipment.review_lines(review)] == ["custody_event"]


def test_the_entry_page_links_the_instrument_and_its_status_at_acquisition(lab, scans, login_as):
    scanner = _scanner(lab, "SCAN-01")
    db.session.commit()
    lab.move(1)
    entry = _image(lab, 0, scanner, scans)
    page = login_as(lab.examiner).get(f"/comparisons/entries/{entry.id}").get_data(as_text=True)
    assert f'href="/equipment/{scanner.id}"' in page
    until = equipment.status_of(scanner).calibrated_until
    shown = format_date(until, "medium", locale="en")
    assert f'calibrated until <time datetime="{until.isoformat()}">{shown}</time>' in page  # the reader's format
