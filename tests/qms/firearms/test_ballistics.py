"""Ballistics joined in (issue 18): a registered firearm lists the cases its test fires are linked to by confirmed
comparisons, and a case page says which registered firearm fired its casings; never across units.

The world is built through the real services: custody items, a test fire sampled from the pistol, scans of
synthetic shots (ballistics.synth, 128 x 128 px) uploaded as entries, the test fire's correlation job run in
process, and each link signed by a first examiner and verified blind by a second one.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from ballistics.io import write_x3p
from ballistics.synth import synthetic_set
from qms.auth import services as auth
from qms.auth.models import Role, Unit, User
from qms.comparisons import jobs, unit_index
from qms.comparisons import services as comparisons
from qms.comparisons.models import BallisticEntry, CaseLink
from qms.evidence import custody
from qms.evidence.models import Case, Item
from qms.extensions import db
from qms.firearms import ballistics
from qms.firearms import services as firearms
from qms.firearms.models import Firearm
from tests.conftest import PASSWORD
from tests.qms.comparisons.conftest import FADUL, calibrated_scanner


@pytest.fixture()
def app_config(app_config):  # type: ignore[no-untyped-def]
    # Searches in threads (a process pool costs seconds to start), and no review images (seconds each, unused here).
    return {**app_config, "SEARCH_PROCESSES": 0, "REVIEW_IMAGES_TOP": 0}


@pytest.fixture(scope="session")
def shots() -> dict[str, bytes]:
    """X3P bytes of synthetic shots: F0000-S00, -S01 and -S02 fired by one firearm, F0001-S00 by another."""
    with tempfile.TemporaryDirectory() as folder:
        return {name: write_x3p(surface, Path(folder) / f"{name}.x3p").read_bytes()
                for name, _firearm, surface in synthetic_set(2, 3, seed=11, shape=(128, 128))}


@dataclass
class Shootings:
    firearm: Firearm
    raid: Case
    test_fire: Item
    cases: list[Case]  # the shootings: each with one casing, both linked to the test fire
    unlinked: Case  # a third shooting, whose casing the examiners excluded
    links: list[CaseLink]


def _casing(unit: Unit, examiner: User, number: str) -> Item:
    case = custody.register_case(unit_id=unit.id, actor=examiner, case_number=number, offence_type="Shooting",
                                 opened_on=date(2026, 10, 1))
    return custody.register_item(case, actor=examiner, exhibit_number="C1", item_type="cartridge_case",
                                 description=f"Fired cartridge case of {number}", calibre="9 mm Kurz")


def _decide(candidate, conclusion: str, *examiners: User) -> None:  # type: ignore[no-untyped-def]
    """The first examiner's signed conclusion, then the second's blind verification."""
    for examiner in examiners:
        comparisons.record_decision(candidate, examiner=examiner, unit_id=candidate.unit_id, conclusion=conclusion,
                                    note="", password=PASSWORD)


def shootings(unit: Unit, make_user, shots: dict[str, bytes], *, prefix: str) -> Shootings:  # type: ignore[no-untyped-def]
    """A converted pistol seized in a raid and test-fired; three shootings' casings imaged with the test fire;
    two confirmed as fired by it (identification lead, verified), the third excluded."""
    examiner = make_user(unit, Role.EXAMINER, username=f"{prefix}-exam1")
    verifier = make_user(unit, Role.EXAMINER, username=f"{prefix}-exam2")
    scanner = calibrated_scanner(unit, make_user(unit, Role.QUALITY_MANAGER, username=f"{prefix}-qm"))
    raid = custody.register_case(unit_id=unit.id, actor=examiner, case_number=f"{prefix}-RAID",
                                 offence_type="Illegal possession", opened_on=date(2026, 11, 1))
    pistol = custody.register_item(raid, actor=examiner, exhibit_number="1", item_type="firearm",
                                   description="Converted alarm pistol", make="Zoraki", model="914",
                                   serial_number="2212-00871", calibre="9 mm Kurz")
    test_fire = custody.sample(pistol, actor=examiner, exhibit_number="1-TF1", item_type="cartridge_case",
                               description="Test-fire cartridge case from exhibit 1")
    casings = [_casing(unit, examiner, f"{prefix}-SHOT-{n}") for n in (1, 2, 3)]
    scans = dict(zip(casings, ("F0000-S01", "F0000-S02", "F0001-S00"), strict=True))
    for casing, scan in scans.items():
        comparisons.add_entry(casing, actor=examiner, data=shots[scan], filename=f"{scan}.x3p",
                              device_id=scanner.id, search=False)
    query = comparisons.add_entry(test_fire, actor=examiner, data=shots["F0000-S00"], filename="tf.x3p",
                                  device_id=scanner.id, search=False)
    for entry in db.session.scalars(sa.select(BallisticEntry).where(BallisticEntry.unit_id == unit.id)):
        unit_index.index_entry(entry, unit_index.processed_surface(entry))
    job = comparisons.enqueue_correlation(query, requested_by=examiner)
    found = firearms.add(unit.id, examiner, firearms.Details(firearm_type="pistol", make="Zoraki", model="914",
                                                             serial_number="2212-00871", conversion="alarm_blank",
                                                             item_id=pistol.id))
    db.session.commit()
    jobs.run_job(job.id)
    ranked = {c.entry.item_id: c for c in comparisons.candidates_of(comparisons.latest_job(query))}
    for casing in casings[:2]:
        _decide(ranked[casing.id], "identification_lead", examiner, verifier)
    _decide(ranked[casings[2].id], "excluded", examiner, verifier)
    db.session.commit()
    links = list(db.session.scalars(sa.select(CaseLink).where(CaseLink.unit_id == unit.id).order_by(CaseLink.id)))
    return Shootings(found, raid, test_fire, [c.case for c in casings[:2]], casings[2].case, links)


@pytest.fixture()
def linked(unit, make_user, shots) -> Shootings:  # type: ignore[no-untyped-def]
    return shootings(unit, make_user, shots, prefix="A")


def test_the_firearm_page_lists_the_cases_its_test_fire_is_linked_to(linked, examiner, login_as) -> None:
    assert len(linked.links) == 2  # the excluded casing made no link
    page = login_as(examiner).get(f"/firearms/{linked.firearm.id}").get_data(as_text=True)
    section = page[page.index('id="linked-cases"'):]
    section = section[:section.index("</table>")]
    for case in linked.cases:
        assert f"/evidence/cases/{case.id}\">{case.case_number}</a>" in section
    assert linked.unlinked.case_number not in section
    assert section.count(">C1</a>") == 2 and section.count(">1-TF1</a>") == 2
    assert section.count("Test User") == 4  # who recorded the lead and who verified it, for each link
    for link in linked.links:
        assert link.confirmed_at.strftime("%Y-%m-%d") in section


def test_the_service_answers_both_directions_of_the_stored_pair(linked) -> None:
    rows = ballistics.linked_cases(linked.firearm)
    assert [row.case.case_number for row in rows] == [case.case_number for case in linked.cases]
    assert {row.test_fire.item_id for row in rows} == {linked.test_fire.id}
    # The test fire's entry is the newest, so it is the "high" side of both stored pairs; the answer hides it.
    assert all(row.link.entry_high_id == row.test_fire.id for row in rows)
    assert {(row.first_examiner.username, row.verifier.username) for row in rows} == {("A-exam1", "A-exam2")}


def test_a_case_page_says_which_registered_firearm_fired_its_casing(linked, examiner, login_as) -> None:
    client = login_as(examiner)
    shooting = client.get(f"/evidence/cases/{linked.cases[0].id}").get_data(as_text=True)
    start = shooting.index('id="fired-by"')
    fired = " ".join(shooting[start:shooting.index("</section>", start)].split())
    assert f'href="/firearms/{linked.firearm.id}">Zoraki 914 2212-00871</a>' in fired
    assert f'(seized in case <a href="/evidence/cases/{linked.raid.id}">{linked.raid.case_number}</a>)' in fired
    assert "Exhibit C1</a>: fired by firearm" in fired and "test fire 1-TF1" in fired
    for page in (f"/evidence/cases/{linked.unlinked.id}", f"/evidence/cases/{linked.raid.id}"):
        assert 'id="fired-by"' not in client.get(page).get_data(as_text=True)  # excluded; the firearm's own case


def test_the_firearm_without_custody_item_or_links_says_so(record, examiner, login_as) -> None:
    found = record("B-1")
    page = login_as(examiner).get(f"/firearms/{found.id}").get_data(as_text=True)
    assert ballistics.linked_cases(found) == [] and 'id="linked-cases"' not in page
    assert "Not in custody: the register knows no test fire of this firearm." in page


def test_another_units_links_never_appear(linked, unit, examiner, make_unit, make_user, shots, login_as) -> None:
    other = shootings(make_unit(code="NORTH"), make_user, shots, prefix="UNIT-B-MARKER")
    client = login_as(examiner)
    for page in (f"/firearms/{linked.firearm.id}", f"/evidence/cases/{linked.cases[0].id}",
                 f"/evidence/cases/{linked.cases[1].id}"):
        body = client.get(page).get_data(as_text=True)
        assert "UNIT-B-MARKER" not in body and f"/firearms/{other.firearm.id}\"" not in body
    assert client.get(f"/firearms/{other.firearm.id}").status_code == 404
    assert client.get(f"/evidence/cases/{other.cases[0].id}").status_code == 404
    assert [row.case.id for row in ballistics.linked_cases(other.firearm)] == [case.id for case in other.cases]
    assert [row.firearm.id for row in ballistics.fired_by(other.cases[0])] == [other.firearm.id]


def test_the_api_record_carries_its_linked_cases(linked, unit, examiner, client, db_session) -> None:
    _, clear = auth.issue_token(examiner, unit_id=unit.id, role=Role.EXAMINER, name="api")
    db_session.commit()
    answer = client.get(f"/api/v1/firearms/{linked.firearm.id}", headers={"Authorization": f"Bearer {clear}"})
    assert answer.status_code == 200
    rows = answer.get_json()["linked_cases"]
    assert [(r["case_number"], r["casing_exhibit_number"], r["test_fire_exhibit_number"]) for r in rows] == [
        (case.case_number, "C1", "1-TF1") for case in linked.cases]
    assert {r["link_id"] for r in rows} == {link.id for link in linked.links}
    assert all(r["first_examiner_id"] != r["verifier_id"] for r in rows)


def test_the_demo_links_the_converted_pistol_to_two_shootings(app, db_session, login_as) -> None:
    """Issue 18: "a converted alarm pistol linked by test-fire comparison to two casings of two cases"."""
    if not FADUL.is_dir():
        pytest.skip(f"the demo's linked scans come from the Fadul scans, not at {FADUL}")
    from qms.demo import seed_demo

    passwords = {account.username: account.password for account in seed_demo()}
    seed_demo()  # a second `qms demo` changes nothing
    zoraki = db_session.scalar(sa.select(Firearm).where(Firearm.make == "Zoraki"))
    rows = ballistics.linked_cases(zoraki)
    assert zoraki.conversion == "alarm_blank" and zoraki.item.case.case_number == "FC-2026/0098"
    assert sorted(row.case.case_number for row in rows) == ["FC-2026/0061", "FC-2026/0083"]
    assert {(row.first_examiner.username, row.verifier.username) for row in rows} == {("examiner", "verifier")}
    assert db_session.scalar(sa.select(sa.func.count()).select_from(CaseLink)) == 2
    client = app.test_client()
    assert client.post("/login", data={"username": "examiner", "password": passwords["examiner"]}).status_code == 302
    shooting = client.get(f"/evidence/cases/{rows[0].case.id}").get_data(as_text=True)
    assert "Zoraki 914 2212-00871</a>" in shooting and "FC-2026/0098</a>)" in shooting
