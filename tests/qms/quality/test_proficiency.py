"""Proficiency tests: the outcome from the z-score, the nonconformity a poor result opens, the coverage plan."""
from __future__ import annotations

from datetime import timedelta

import pytest

from qms.db import today
from qms.errors import InvalidInput, NotFound, NotPermitted
from qms.people import services as people
from qms.quality import proficiency
from qms.quality.models import Nonconformity, Source
from qms.quality.proficiency_models import Outcome
from tests.qms.conftest import Staff


def result(staff: Staff, **changes: object) -> proficiency.Result:
    scope = people.scopes(staff.unit.id)[0]
    fields: dict[str, object] = dict(provider="Forensic PT Ltd", scheme="Firearms ID", round="2026-1",
                                     participant_id=staff.examiner.id, scope_id=scope.id,
                                     performed_on=today() - timedelta(days=3), reported_result="Identification",
                                     reference_value="Identification", items="Two cartridge cases")
    fields.update(changes)
    return proficiency.Result(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("z", "outcome"), [(0.0, Outcome.SATISFACTORY), (2.0, Outcome.SATISFACTORY),
                                            (-2.0, Outcome.SATISFACTORY), (2.01, Outcome.QUESTIONABLE),
                                            (-2.99, Outcome.QUESTIONABLE), (3.0, Outcome.UNSATISFACTORY),
                                            (-4.5, Outcome.UNSATISFACTORY)])
def test_the_outcome_follows_the_z_score(z: float, outcome: Outcome) -> None:
    assert proficiency.outcome_of_z(z) is outcome


def test_an_unsatisfactory_result_opens_a_nonconformity_linked_to_it(staff: Staff, db_session) -> None:
    record = proficiency.record_result(staff.unit.id, staff.qm, result(staff, z_score=3.4))
    db_session.commit()
    assert record.outcome == Outcome.UNSATISFACTORY.value
    opened = db_session.get(Nonconformity, record.nonconformity_id)
    assert opened.source == Source.PROFICIENCY_TEST.value
    assert opened.source_key == f"proficiency:{record.id}"
    assert opened.source_url == f"/quality/proficiency/{record.id}"
    assert opened.risk_grade == "high" and "Firearms ID" in opened.title and "z = 3.4" in opened.description


def test_a_questionable_result_opens_one_and_a_satisfactory_none(staff: Staff, db_session) -> None:
    questionable = proficiency.record_result(staff.unit.id, staff.qm, result(staff, outcome="questionable"))
    satisfactory = proficiency.record_result(staff.unit.id, staff.qm, result(staff, z_score=-1.2, round="2026-2"))
    assert questionable.nonconformity_id is not None and satisfactory.nonconformity_id is None
    assert satisfactory.outcome == Outcome.SATISFACTORY.value
    assert db_session.query(Nonconformity).filter_by(source=Source.PROFICIENCY_TEST.value).count() == 1


@pytest.mark.parametrize("changes", [dict(z_score=3.5, outcome="satisfactory"), dict(outcome=""),
                                     dict(outcome="excellent"), dict(z_score=float("nan")),
                                     dict(performed_on=today() + timedelta(days=1)), dict(provider=" "),
                                     dict(reference_kind="guess")])
def test_contradictory_or_incomplete_results_are_refused(staff: Staff, changes: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        proficiency.record_result(staff.unit.id, staff.qm, result(staff, **changes))


def test_only_a_quality_manager_records_and_only_for_the_units_people(staff: Staff, make_unit, make_user) -> None:
    with pytest.raises(NotPermitted):
        proficiency.record_result(staff.unit.id, staff.examiner, result(staff, z_score=0.1))
    from qms.auth.models import Role

    stranger = make_user(make_unit(code="XX"), Role.EXAMINER, username="stranger")
    with pytest.raises((NotFound, InvalidInput)):
        proficiency.record_result(staff.unit.id, staff.qm, result(staff, z_score=0.1, participant_id=stranger.id))


def test_the_plan_shows_each_scope_covered_within_the_cycle_and_the_gaps(staff: Staff, db_session) -> None:
    first, second = people.scopes(staff.unit.id)[:2]
    proficiency.record_result(staff.unit.id, staff.qm, result(staff, scope_id=first.id, z_score=0.3))
    old = today().replace(year=today().year - 5)
    proficiency.record_result(staff.unit.id, staff.qm, result(staff, scope_id=second.id, z_score=0.3,
                                                              performed_on=old))
    rows = {row.scope.id: row for row in proficiency.plan(staff.unit.id)}
    assert not rows[first.id].gap and rows[first.id].tests == 1
    assert rows[second.id].gap and rows[second.id].last_on == old
    assert not {row.scope.id: row for row in proficiency.plan(staff.unit.id, cycle_years=6)}[second.id].gap
    with pytest.raises(InvalidInput):
        proficiency.plan(staff.unit.id, cycle_years=0)


def test_the_pages_record_a_result_and_show_the_plan(staff: Staff, login_as) -> None:
    scope = people.scopes(staff.unit.id)[0]
    client = login_as(staff.qm)
    form = client.get("/quality/proficiency")
    assert form.status_code == 200
    answer = client.post("/quality/proficiency", data={
        "provider": "Forensic PT Ltd", "scheme": "Firearms ID", "round": "2026-3", "participant_id": staff.examiner.id,
        "scope_id": scope.id, "performed_on": (today() - timedelta(days=1)).isoformat(),
        "reported_result": "Exclusion", "reference_kind": "consensus", "reference_value": "Identification",
        "z_score": "", "outcome": "unsatisfactory", "items": "", "notes": ""})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:800]
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Firearms ID" in page and "NC-" in page
    plan = client.get("/quality/proficiency/plan?cycle=4").get_data(as_text=True)
    assert scope.code in plan and "gap" in plan
    refused = client.post("/quality/proficiency", data={"provider": "X", "scheme": "Y", "round": "1",
                                                        "participant_id": staff.examiner.id, "scope_id": scope.id,
                                                        "performed_on": today().isoformat(),
                                                        "reported_result": "R", "z_score": "3.5",
                                                        "outcome": "satisfactory", "reference_kind": "assigned"})
    assert refused.status_code == 400
    examiner = login_as(staff.examiner)
    assert examiner.get("/quality/proficiency").status_code == 200
    assert examiner.post("/quality/proficiency", data={}).status_code == 403


def test_the_api_lists_results(staff: Staff, login_as, db_session) -> None:
    proficiency.record_result(staff.unit.id, staff.qm, result(staff, z_score=2.5))
    db_session.commit()
    answer = login_as(staff.examiner).get("/api/v1/proficiency")
    assert answer.status_code == 200
    [row] = answer.get_json()
    assert row["outcome"] == "questionable" and row["z_score"] == 2.5 and row["nonconformity_id"]
