"""The competence matrix reads the whole unit in a few set-based queries: it must show, for every person and
scope, what the person's own authorisation (the fold of all its events) and records show."""
from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from qms.auth.models import Role
from qms.db import today
from qms.people import services
from qms.people.models import Gate
from qms.people.state import Standing
from tests.conftest import PASSWORD

SIGNED = services.Signature(PASSWORD)


def _scope(staff, gate: Gate):  # type: ignore[no-untyped-def]
    return services.scope_by_code(staff.unit.id, gate.value)


def _grant(staff, person, found, **dates) -> None:  # type: ignore[no-untyped-def]
    services.grant(staff.unit.id, staff.qm, user_id=person.id, scope_id=found.id, signature=SIGNED,
                   justification="Experienced", **dates)


def _change(staff, person, found, *changes: str) -> None:  # type: ignore[no-untyped-def]
    for change in changes:
        getattr(services, change)(staff.unit.id, staff.qm, user_id=person.id, scope_id=found.id, reason="Review",
                                  signature=SIGNED)


def test_each_cell_is_the_fold_of_all_the_pairs_events(staff, make_user, db_session) -> None:
    person = make_user(staff.unit, Role.EXAMINER, username="folded", authorised=False)
    past, later = today() - timedelta(days=400), today() + timedelta(days=200)
    expected = {}
    for gate, until, steps, standing in (
            (Gate.SCENE_EXAMINATION, later, ("suspend",), Standing.SUSPENDED),
            (Gate.EVIDENCE_CUSTODY, later, ("suspend", "reinstate"), Standing.AUTHORISED),
            (Gate.IMAGING, later, ("withdraw",), Standing.WITHDRAWN),
            (Gate.COMPARISON, later, ("suspend", "withdraw", "grant"), Standing.EXPIRING),
            (Gate.VERIFICATION, past + timedelta(days=100), ("grant",), Standing.EXPIRING)):
        found = _scope(staff, gate)
        _grant(staff, person, found, valid_from=past, valid_until=until)
        for step in steps:
            if step == "grant":  # a renewal (or a grant after a withdrawal) replaces what came before
                _grant(staff, person, found, valid_until=today() + timedelta(days=20))
            else:
                _change(staff, person, found, step)
        expected[found.id] = standing
    expired = _scope(staff, Gate.SOP_APPROVAL)
    _grant(staff, person, expired, valid_from=past, valid_until=past + timedelta(days=100))
    expected[expired.id] = Standing.EXPIRED
    training = _scope(staff, Gate.CALIBRATION)
    services.record_supervised(staff.unit.id, staff.qm, user_id=person.id, scope_id=training.id,
                               supervisor_id=staff.qm.id, performed_on=today(), reference="Check 1")
    expected[training.id] = Standing.IN_TRAINING
    db_session.commit()

    grid = services.matrix(staff.unit.id)
    for found in grid.scopes:
        state = services.authorisation(person.id, found.id)
        assert grid.cells[(person.id, found.id)] is services.standing(person.id, found), found.code
        assert grid.until[(person.id, found.id)] == state.valid_until, found.code
        assert grid.cells[(person.id, found.id)] is expected.get(found.id, Standing.NONE), found.code


def test_witnessing_due_is_the_same_in_the_matrix_and_the_personnel_file(staff, make_user, db_session) -> None:
    person = make_user(staff.unit, Role.EXAMINER, username="witnessed", authorised=False)
    long_ago, lately = today() - timedelta(days=800), today() - timedelta(days=30)
    for gate, observed in ((Gate.SCENE_EXAMINATION, (long_ago,)), (Gate.IMAGING, (long_ago, lately)),
                           (Gate.COMPARISON, ())):
        found = _scope(staff, gate)
        for n, day in enumerate(observed):
            services.record_witnessing(staff.unit.id, staff.qm, user_id=person.id, scope_id=found.id,
                                       observer_id=staff.qm.id, observed_on=day, reference=f"Exercise {n}",
                                       outcome="satisfactory")
        _grant(staff, person, found)
    db_session.commit()

    due = services.matrix(staff.unit.id).witnessing_due[person.id]
    assert [s.code for s in due] == [Gate.SCENE_EXAMINATION.value, Gate.COMPARISON.value]
    assert due == services.person_file(person.id, staff.unit.id).witnessing_due


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_a_unit_with_more_scopes_than_fit_across_a_page_gets_them_in_blocks(staff, make_user, login_as, db_session,
                                                                           tmp_path) -> None:
    person = make_user(staff.unit, Role.EXAMINER, username="blocks", authorised=False)
    person.full_name = "Drita Krasniqi"
    for n in range(7):  # nine seeded scopes and seven more: two blocks of eight
        found = services.add_scope(staff.unit.id, staff.qm, code=f"lab_{n}", name=f"Lab{n}")
        _grant(staff, person, found, valid_until=today() + timedelta(days=10 + n))
    db_session.commit()
    response = login_as(staff.qm).get("/people/matrix.pdf")
    path = Path(tmp_path) / "matrix.pdf"
    path.write_bytes(response.data)
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, check=True, text=True).stdout
    words = " ".join(text.split())
    assert all(f"Lab{n}" in words for n in range(7))
    assert words.count("Drita Krasniqi") == 2  # the name column is repeated beside each block
    for n in range(7):
        assert f"⚠ {(today() + timedelta(days=10 + n)).isoformat()}" in words
