"""The trail shows each reader only what their role may see, and shows it in words people read.

An administrator keeps the unit's accounts and settings but has no rights over its work: the
history of evidence, ballistic and audit records, whose values would show that work, is not
theirs to read, in the page, the CSV export or the API. Quality managers and auditors read it all.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone

import pytest
from flask.testing import FlaskClient

from qms.audits.models import Audit, ChecklistItem, Finding, Grade
from qms.auth import services as accounts
from qms.auth.models import Role, Unit, User
from qms.comparisons.models import BallisticEntry, Conclusion, Decision, DecisionRole
from qms.documents.models import Sop
from qms.evidence.models import Case, Item, ItemType
from qms.trail.audited import set_actor
from tests.conftest import PASSWORD, authorise_everything

MARKERS = {
    "case": "CASE-SUMMARY-MARKER-7Q2",
    "place": "SCENE-ADDRESS-MARKER-7Q2",
    "item": "ITEM-DESCRIPTION-MARKER-7Q2",
    "decision": "DECISION-NOTE-MARKER-7Q2",
    "finding": "FINDING-TEXT-MARKER-7Q2",
    "sop": "SOP-TITLE-MARKER-7Q2",
}
QM_NAME = "Vesna Quality-Manager"
ADMIN_NAME = "Goran Administrator"


@dataclass
class Unit_:
    unit: Unit
    admin: User
    quality_manager: User
    auditor: User


def _person(unit: Unit, role: Role, full_name: str) -> User:
    person = accounts.create_user(username=f"u{uuid.uuid4().hex[:8]}", full_name=full_name, password=PASSWORD,
                                  unit=unit, roles=(role,))
    if role not in (Role.ADMIN, Role.VIEWER):
        authorise_everything(unit, person)
    return person


def _entry(db_session, unit: Unit, item: Item, by: User) -> BallisticEntry:
    entry = BallisticEntry(unit_id=unit.id, item_id=item.id, acquired_by_id=by.id,
                           acquired_at=datetime.now(timezone.utc), pixel_size_um=1.5, original_sha256="0" * 64,
                           original_type="x3p", original_size=1, index_entry_id=uuid.uuid4().hex)
    db_session.add(entry)
    db_session.flush()
    return entry


def _evidence_ballistic_and_quality_records(db_session, unit: Unit, qm: User) -> None:
    """One record of each kind, each holding a marker, written as the quality manager."""
    set_actor(db_session, user_id=qm.id, username=qm.username, unit_id=unit.id)
    now = datetime.now(timezone.utc)
    case = Case(unit_id=unit.id, case_number="K-1/26", offence_type="robbery", opened_on=date(2026, 1, 5),
                summary=MARKERS["case"], created_by_id=qm.id)
    db_session.add(case)
    db_session.flush()
    items = [Item(unit_id=unit.id, case_id=case.id, exhibit_number=f"E{n}", item_type=ItemType.CARTRIDGE_CASE.value,
                  description=MARKERS["item"], collected_by_id=qm.id, collected_at=now,
                  collected_place=MARKERS["place"], label_code=uuid.uuid4().hex[:12], holder_id=qm.id)
             for n in (1, 2)]
    db_session.add_all(items)
    db_session.flush()
    low, high = (_entry(db_session, unit, item, qm) for item in items)
    db_session.add(Decision(unit_id=unit.id, entry_low_id=low.id, entry_high_id=high.id,
                            role=DecisionRole.FIRST.value, conclusion=Conclusion.INCONCLUSIVE.value,
                            note=MARKERS["decision"], examiner_id=qm.id))
    audit = Audit(unit_id=unit.id, title="Internal audit 2026", planned_start=date(2026, 3, 1),
                  planned_end=date(2026, 3, 2), lead_auditor_id=qm.id)
    db_session.add(audit)
    db_session.flush()
    checklist_item = ChecklistItem(unit_id=unit.id, audit_id=audit.id, position=1, catalogue_id="iso17020-2012",
                                   requirement_id="17020:6.1.3", clause="6.1.3", section_id="17020:6",
                                   title="Personnel competence")
    db_session.add(checklist_item)
    db_session.flush()
    db_session.add(Finding(unit_id=unit.id, audit_id=audit.id, item_id=checklist_item.id, number=1,
                           grade=Grade.MINOR.value, statement=MARKERS["finding"], raised_by_id=qm.id))
    db_session.add(Sop(unit_id=unit.id, code="SOP-FA-01", title=MARKERS["sop"], discipline="firearms",
                       owner_id=qm.id))
    db_session.commit()
    db_session.info.pop("audit_actor")


@pytest.fixture()
def world(db_session, make_unit) -> Unit_:
    unit = make_unit(code="FC-TRAIL")
    # The unit's first administrator is set up from the command line; they create the others.
    set_actor(db_session, user_id=None, username="system", unit_id=unit.id)
    admin = _person(unit, Role.ADMIN, ADMIN_NAME)
    db_session.flush()
    set_actor(db_session, user_id=admin.id, username=admin.username, unit_id=unit.id)
    people = Unit_(unit=unit, admin=admin, quality_manager=_person(unit, Role.QUALITY_MANAGER, QM_NAME),
                   auditor=_person(unit, Role.AUDITOR, "Ilir Auditor"))
    db_session.commit()
    _evidence_ballistic_and_quality_records(db_session, unit, people.quality_manager)
    return people


def _everything_read_by(client: FlaskClient, **args: str) -> dict[str, str]:
    query = "&".join(f"{key}={value}" for key, value in args.items())
    answers = {"page": client.get(f"/trail?{query}"), "csv": client.get(f"/trail/export.csv?{query}"),
               "api": client.get(f"/api/v1/trail?{query}")}
    for where, response in answers.items():
        assert response.status_code == 200, (where, response.get_data(as_text=True)[:300])
    return {where: response.get_data(as_text=True) for where, response in answers.items()}


def _markers_in(text: str) -> set[str]:
    return {marker for marker in MARKERS.values() if marker in text}


def test_an_administrator_reads_no_evidence_ballistic_or_audit_values_of_their_unit(world, login_as):
    client = login_as(world.admin)
    for filters in ({}, {"entity": "Case"}, {"entity": "Decision"}, {"entity": "Finding"}, {"entity": "Sop"}):
        for where, body in _everything_read_by(client, **filters).items():
            assert _markers_in(body) == set(), (where, filters)
    # Not a blank trail: the accounts of the unit are theirs to follow.
    api = client.get("/api/v1/trail").get_json()
    assert {item["entity"] for item in api["items"]} >= {"User", "Membership"}
    assert {item["entity"] for item in api["items"]} <= {"Unit", "User", "Membership", "ApiToken"}


@pytest.mark.parametrize("role", ["quality_manager", "auditor"])
def test_quality_managers_and_auditors_read_every_record_of_their_unit(world, login_as, role):
    bodies = _everything_read_by(login_as(getattr(world, role)))
    for where, body in bodies.items():
        assert _markers_in(body) == set(MARKERS.values()), where


def test_the_page_names_people_and_fields_instead_of_ids_and_columns(world, login_as):
    admin_client = login_as(world.admin)
    target = world.auditor
    response = admin_client.post(f"/admin/users/{target.id}/active", data={"active": "", "reason": "left the unit"})
    assert response.status_code == 302
    page = admin_client.get("/trail?entity=User").get_data(as_text=True)
    assert ADMIN_NAME in page  # the actor of the change, by name
    assert "Full name" in page and "full_name" not in page  # a label, not the column
    assert "password_hash" not in page and "argon2" not in page
    assert "<details" in page and f'href="/admin/users/{target.id}"' in page
    memberships = admin_client.get("/trail?entity=Membership").get_data(as_text=True)
    assert "Ilir Auditor" in memberships and "Forensic Centre" in memberships  # user and unit by name


def test_references_are_shown_by_name_and_number(world, login_as):
    page = login_as(world.quality_manager).get("/trail?entity=Item").get_data(as_text=True)
    assert QM_NAME in page  # the actor, and the holder and collector of the items
    assert "K-1/26" in page  # the case the item belongs to, by its number
    assert "Exhibit number" in page and "exhibit_number" not in page
    assert 'href="/evidence/items/' in page


def test_the_api_answers_in_readable_form(world, login_as):
    body = login_as(world.quality_manager).get("/api/v1/trail?entity=Case").get_json()
    (case,) = body["items"]
    assert case["actor"] == QM_NAME and case["record"].startswith("Case")
    assert {"field": "summary", "label": "Summary", "before": None, "after": MARKERS["case"]} in case["changes"]


@pytest.mark.parametrize("url", ["/trail?since=yesterday", "/api/v1/trail?until=soon", "/api/v1/trail?action=drop"])
def test_a_filter_that_cannot_be_understood_is_a_400_with_its_reason(world, login_as, url):
    response = login_as(world.quality_manager).get(url)
    assert response.status_code == (422 if url.startswith("/api/") else 400)  # the API's field-by-field refusal
    assert MARKERS["case"] not in response.get_data(as_text=True)
    if url.startswith("/api/"):
        assert response.get_json()["errors"]
    else:
        assert "2026-11-23" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.EXAMINER, Role.CSI_OFFICER, Role.VIEWER])
def test_other_roles_do_not_read_the_trail(world, make_user, login_as, role):
    client = login_as(make_user(world.unit, role))
    assert {client.get(url).status_code for url in ("/trail", "/trail/export.csv", "/api/v1/trail")} == {403}

