"""Acceptance 1: every gated act is refused without a current authorisation (naming the scope), allowed once
granted, and refused again on the day after the authorisation ends (clock frozen with time_machine)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

import pytest
import time_machine

from qms.audits import services as audits
from qms.auth.models import Role, User
from qms.comparisons import jobs
from qms.comparisons import services as comparisons
from qms.db import today
from qms.documents import services as documents
from qms.errors import NotPermitted
from qms.evidence import custody
from qms.extensions import db
from qms.people import services as people
from qms.people.models import Gate
from tests.conftest import PASSWORD

Act = Callable[[], object]


def _custody(bench, subject: User, scans) -> list[Act]:  # type: ignore[no-untyped-def]
    return [lambda n=n: custody.register_item(bench.cases[0], actor=subject, exhibit_number=f"G{n}",
                                              item_type="cartridge_case", description="Casing", calibre="9x19 mm")
            for n in range(3)]


def _imaging(bench, subject: User, scans) -> list[Act]:  # type: ignore[no-untyped-def]
    # Receiving the casings is a custody event: the imaging examiner is authorised for custody, not imaging.
    people.authorise_by_operator(bench.unit.id, subject, [Gate.EVIDENCE_CUSTODY.value], reason="test set-up")
    for casing in bench.casings:  # only the holder of an item images it
        custody.transfer_custody(casing, actor=bench.examiner, receiver_username=subject.username,
                                 receiver_password=PASSWORD)
    db.session.commit()
    names = ("F0000-S00", "F0001-S00", "F0000-S01")
    return [lambda n=n: comparisons.add_entry(bench.casings[n], actor=subject, data=scans[names[n]],
                                              filename=f"{names[n]}.x3p", device_id=bench.device.id, search=False)
            for n in range(3)]


def _sop_approval(bench, subject: User, scans) -> list[Act]:  # type: ignore[no-untyped-def]
    revisions = []
    for n in range(3):
        sop = documents.create_sop(unit_id=bench.unit.id, code=f"G-SOP-{n}", title="Gate", discipline="equipment",
                                   author=bench.qm, content_markdown="Steps.")
        documents.submit(sop.revisions[0], bench.qm)
        revisions.append(sop.revisions[0])
    db.session.commit()
    return [lambda rev=rev: documents.approve(rev, subject, password=PASSWORD) for rev in revisions]


def _audit_lead(bench, subject: User, scans) -> list[Act]:  # type: ignore[no-untyped-def]
    def plan(n: int) -> audits.AuditPlan:
        return audits.AuditPlan(title=f"Gate {n}", planned_start=today(), planned_end=today() + timedelta(days=1),
                                lead_auditor_id=subject.id, clauses=("17020:6.1",), auditee="Scene unit")

    return [lambda n=n: audits.create_audit(plan(n), unit_id=bench.unit.id, actor=bench.qm) for n in range(3)]


def _three_pairs(bench, scans):  # type: ignore[no-untyped-def]
    """Three entries imaged by the bench's examiner, searched: one candidate per distinct pair."""
    entries = [comparisons.add_entry(bench.casings[n], actor=bench.examiner, data=scans[name],
                                     filename=f"{name}.x3p", device_id=bench.device.id)
               for n, name in enumerate(("F0000-S00", "F0001-S00", "F0000-S01"))]
    db.session.commit()
    jobs.run_queued()
    db.session.expire_all()
    pairs = {}
    for entry in entries:
        for candidate in comparisons.candidates_of(comparisons.latest_job(entry)):
            pairs.setdefault(frozenset((entry.id, candidate.entry_id)), candidate)
    assert len(pairs) == 3
    return list(pairs.values())


def _decide(candidate, examiner: User, unit_id: int):  # type: ignore[no-untyped-def]
    return comparisons.record_decision(candidate, examiner=examiner, unit_id=unit_id, conclusion="inconclusive",
                                       note="", password=PASSWORD)


def _comparison(bench, subject: User, scans) -> list[Act]:  # type: ignore[no-untyped-def]
    return [lambda c=c: _decide(c, subject, bench.unit.id) for c in _three_pairs(bench, scans)]


def _verification(bench, subject: User, scans) -> list[Act]:  # type: ignore[no-untyped-def]
    candidates = _three_pairs(bench, scans)
    for candidate in candidates:  # the first decisions, by an authorised examiner
        _decide(candidate, bench.examiner, bench.unit.id)
    db.session.commit()
    return [lambda c=c: _decide(c, subject, bench.unit.id) for c in candidates]


@dataclass(frozen=True)
class GateCase:
    gate: Gate
    role: Role
    scope_name: str
    acts: Callable[..., list[Act]]


CASES = [
    GateCase(Gate.COMPARISON, Role.EXAMINER, "Cartridge-case comparison", _comparison),
    GateCase(Gate.VERIFICATION, Role.EXAMINER, "Verification of comparisons", _verification),
    GateCase(Gate.IMAGING, Role.EXAMINER, "Cartridge-case imaging", _imaging),
    GateCase(Gate.SOP_APPROVAL, Role.QUALITY_MANAGER, "SOP approval", _sop_approval),
    GateCase(Gate.AUDIT_LEAD, Role.AUDITOR, "Audit lead", _audit_lead),
    GateCase(Gate.EVIDENCE_CUSTODY, Role.CSI_OFFICER, "Evidence custody", _custody),
]


def _refused(act: Act, scope_name: str) -> None:
    with pytest.raises(NotPermitted) as refusal:
        act()
    db.session.rollback()
    assert scope_name in str(refusal.value.description if hasattr(refusal.value, "description") else refusal.value)


@pytest.mark.parametrize("case", CASES, ids=[c.gate.value for c in CASES])
def test_each_gate_needs_a_current_authorisation(case: GateCase, bench, scans, make_user) -> None:
    subject = make_user(bench.unit, case.role, username="subject", authorised=False)
    first, second, third = case.acts(bench, subject, scans)

    _refused(first, case.scope_name)

    scope = people.scope_by_code(bench.unit.id, case.gate.value)
    ends = today() + timedelta(days=5)
    people.grant(bench.unit.id, bench.qm, user_id=subject.id, scope_id=scope.id,
                 signature=people.Signature(PASSWORD), valid_until=ends, justification="Transferred from a lab")
    db.session.commit()
    second()
    db.session.commit()

    day_after = datetime.combine(ends + timedelta(days=1), time(9), tzinfo=timezone.utc)
    with time_machine.travel(day_after, tick=False):
        assert today() == ends + timedelta(days=1)
        _refused(third, case.scope_name)


def test_a_page_refusal_is_403_and_names_the_scope(staff, make_user, login_as) -> None:
    approver = make_user(staff.unit, Role.QUALITY_MANAGER, username="approver", authorised=False)
    sop = documents.create_sop(unit_id=staff.unit.id, code="G-SOP-9", title="Gate", discipline="equipment",
                               author=staff.qm, content_markdown="Steps.")
    documents.submit(sop.revisions[0], staff.qm)
    db.session.commit()
    response = login_as(approver).post(f"/documents/revisions/{sop.revisions[0].id}/approve",
                                       data={"password": PASSWORD, "meaning": "Approved"})
    assert response.status_code == 403
    assert "SOP approval" in response.get_data(as_text=True)


def test_in_warn_mode_the_act_goes_ahead_and_is_logged(staff, make_user, db_session) -> None:
    from qms.people.models import GateWarning

    people.set_gate_mode(staff.unit.id, staff.qm, mode="warn", reason="Transition")
    csi = make_user(staff.unit, Role.CSI_OFFICER, username="newcsi", authorised=False)
    case = custody.register_case(unit_id=staff.unit.id, actor=staff.csi, case_number="2026/900",
                                 offence_type="Shooting", opened_on=today())
    item = custody.register_item(case, actor=csi, exhibit_number="1", item_type="cartridge_case",
                                 description="Casing", calibre="9x19 mm")
    db_session.commit()
    assert item.id is not None
    warning = db_session.query(GateWarning).filter_by(username="newcsi").one()
    assert warning.scope_code == Gate.EVIDENCE_CUSTODY.value
