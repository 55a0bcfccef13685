"""Demo quality records of unit FC-MOI: nonconformities recorded by staff (one with its corrective
action under way), a prosecutor's complaint about the demo case awaiting a decision, impartiality
risks, two proficiency results (the questionable one opens a nonconformity), a management review of
the last twelve months with one decision (not signed) and two policy statements of the quality manual.

Everything goes through the services, so the demo records pass the same checks as the pages."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from qms.audits import services as audits
from qms.auth.models import Unit, User
from qms.db import today
from qms.evidence.demo import CASE_NUMBER
from qms.extensions import db
from qms.people import services as people
from qms.people.models import Gate
from qms.quality import complaints, manual, proficiency, review, risks, services
from qms.quality.review_models import ManagementReview
from qms.trail.audited import set_actor

USERNAMES = ("quality", "auditor", "examiner", "verifier", "csi", "trainee", "viewer")
POLICIES = {
    "17020:4.1.1": "The Forensic Centre performs its inspection activities impartially. Its management does not "
                   "allow commercial, financial or hierarchical pressure, from within the Ministry or outside "
                   "it, to compromise the impartiality of its examiners and crime-scene officers.",
    "17020:6.1.1": "The Forensic Centre defines the competence required for each scope of authorisation and "
                   "authorises staff only on recorded training, supervised work and witnessing; authorisations "
                   "are monitored and renewed as the personnel files show.",
}


def seed_quality(accounts: list[Any]) -> None:
    """Once per database: the quality records of unit FC-MOI."""
    unit = db.session.scalar(select(Unit).where(Unit.code == "FC-MOI"))
    users = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(USERNAMES)))}
    if unit is None or set(USERNAMES) - set(users):
        return
    if db.session.scalar(select(ManagementReview.id).where(ManagementReview.unit_id == unit.id).limit(1)) is not None:
        return
    quality = users["quality"]
    set_actor(db.session, user_id=quality.id, username=quality.username, unit_id=unit.id)
    _nonconformities(unit, users)
    _complaint(unit, users)
    _risks(unit, users)
    _proficiency(unit, users)
    _review(unit, quality)
    for requirement_id, statement in POLICIES.items():
        manual.write_policy(unit.id, quality, requirement_id=requirement_id, statement=statement)
    db.session.flush()


def _nonconformities(unit: Unit, users: dict[str, User]) -> None:
    """One found by the CSI officer and left for the quality manager; one by the examiner, its action under way."""
    services.record_nonconformity(unit.id, users["csi"], "other", services.Found(
        title="Evidence store temperature log not filled in for four days",
        description="The daily temperature and humidity log of evidence store B has no entries from the 2nd to "
                    "the 5th of the month.",
        location="Evidence store B", found_on=today() - timedelta(days=40), risk_grade="low",
        immediate_correction="Readings taken and recorded; the data logger's memory checked for the gap."))
    found = services.record_nonconformity(unit.id, users["examiner"], "other", services.Found(
        title="Expired reference ammunition used for a test firing",
        description="Test firing for a comparison used a lot of reference cartridges past its expiry date.",
        location="Firearms laboratory, firing range", found_on=today() - timedelta(days=25), risk_grade="medium",
        immediate_correction="The lot withdrawn and the test firing repeated with a valid lot."))
    action = services.raise_action(found, users["quality"], title="Control of reference ammunition stock",
                                   owner_id=users["examiner"].id, due_on=today() + timedelta(days=60))
    audits.record_step(action, users["examiner"], kind="root_cause", method="five_whys",
                       text="Reference lots are not in the consumables register, so nobody is warned of expiry.")
    audits.record_step(action, users["examiner"], kind="action_plan", planned_due_on=today() + timedelta(days=45),
                       text="Enter every reference lot in the consumables register with its expiry date; "
                            "monthly check by the senior examiner.")


def _complaint(unit: Unit, users: dict[str, User]) -> None:
    """A prosecutor asks why the report of the demo case came late; acknowledged, awaiting a decision."""
    record = complaints.receive(unit.id, users["quality"], complaints.Received(
        complainant="Public Prosecutor's Office, Skopje (prosecutor M. Petrovska)", channel="letter",
        contact="Basic Public Prosecutor's Office, Skopje", received_on=today() - timedelta(days=3),
        case_number=CASE_NUMBER, report_ref=f"Examination report {CASE_NUMBER}",
        description="The examination report was delivered after the hearing date that had been communicated; "
                    "the prosecutor asks why and whether the conclusions were rushed."))
    complaints.acknowledge(record, users["quality"], "Acknowledged by letter; the complaint will be decided by "
                                                     "someone not involved in the case.")


def _risks(unit: Unit, users: dict[str, User]) -> None:
    review_on = today() + timedelta(days=180)
    risks.add_risk(unit.id, users["quality"], risks.Identified(
        title="Investigating officers contact examiners directly about expected results",
        source="chain_of_command", likelihood=3, impact=4, owner_id=users["quality"].id, review_on=review_on,
        description="Police investigators of the same Ministry call examiners to ask for, or suggest, results.",
        controls="Requests only through the case intake; contacts recorded in the case file."))
    risks.add_risk(unit.id, users["quality"], risks.Identified(
        title="Crime-scene officer also acts as evidence custodian for the cases they attended",
        source="shared_resources", likelihood=2, impact=3, owner_id=users["csi"].id, review_on=review_on,
        description="With a small team the officer who collected the evidence also keeps it.",
        controls="Seals verified by a second person at each transfer; custody verification monthly."))


def _proficiency(unit: Unit, users: dict[str, User]) -> None:
    comparison = next(found for found in people.scopes(unit.id) if found.code == Gate.COMPARISON.value)
    common = {"provider": "Forensic Assurance Ltd", "scheme": "Firearms: cartridge-case comparison",
              "scope_id": comparison.id, "items": "Three questioned and two reference cartridge cases (9 mm Luger)",
              "reference_value": "Q1 and Q3 fired in the reference firearm; Q2 not"}
    proficiency.record_result(unit.id, users["quality"], proficiency.Result(
        round="FA-2026-1", participant_id=users["examiner"].id, performed_on=today() - timedelta(days=90),
        reported_result="Q1 and Q3 identified, Q2 eliminated", outcome="satisfactory", **common))
    proficiency.record_result(unit.id, users["quality"], proficiency.Result(
        round="FA-2026-1", participant_id=users["verifier"].id, performed_on=today() - timedelta(days=90),
        reported_result="Q1 identified, Q2 eliminated, Q3 inconclusive", outcome="questionable",
        notes="The provider asks for the reasons of the inconclusive result on Q3.", **common))


def _review(unit: Unit, quality: User) -> None:
    held = review.create_review(unit.id, quality, title="Management review of the last twelve months",
                                period_start=today() - timedelta(days=365), period_end=today(),
                                attendees="Head of the Forensic Centre; quality manager; senior examiner")
    review.decide(held, quality, kind="decision",
                  text_="Add a second verifier for cartridge-case comparisons before the next proficiency round.")
