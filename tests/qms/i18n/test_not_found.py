"""A record another unit holds, or none holds, is "not found" in the reader's language, as a whole sentence."""
from __future__ import annotations

import ast
from pathlib import Path

from flask import Flask
from flask_babel import force_locale

import qms
from qms.auth import services
from qms.auth.models import Role
from qms.records import NOT_FOUND


def _kinds_named_by_callers() -> set[str]:
    kinds: set[str] = set()
    for path in Path(qms.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "record_or_404"
                    and len(node.args) == 3 and isinstance(node.args[2], ast.Constant)):
                kinds.add(node.args[2].value)
    return kinds


def test_every_kind_of_record_looked_up_has_its_own_sentence():
    kinds = _kinds_named_by_callers()
    assert kinds, "no call of record_or_404 found"
    assert kinds <= set(NOT_FOUND), f"add a sentence for: {sorted(kinds - set(NOT_FOUND))}"


def test_an_unknown_case_is_not_found_in_the_callers_language(app: Flask, make_unit, make_user, db_session):
    unit = make_unit()
    _, clear = services.issue_token(make_user(unit, Role.EXAMINER), unit_id=unit.id, role=Role.EXAMINER, name="t")
    db_session.commit()
    with app.test_request_context(), force_locale("mk"):
        macedonian = str(NOT_FOUND["case"])
    assert macedonian != "No such case in this unit."
    response = app.test_client().get("/api/v1/evidence/cases/999999",
                                     headers={"Authorization": f"Bearer {clear}", "Accept-Language": "mk"})
    assert response.status_code == 404
    assert response.get_json()["message"] == macedonian
