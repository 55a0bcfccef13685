"""The API's answers to callers who send no credentials, an unlisted method, or a change that changes nothing.

- A write without a token or a session is 401 (log in), also when CSRF protection is on: who is
  asking comes before whether a browser session sent its CSRF token (a signed-in session still must).
- A method a path does not list is 405 with an `Allow` header naming the ones it does.
- A PATCH with no body, or an empty object, is refused (422) instead of answering as if it changed something.
"""
from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from qms.auth import services
from qms.auth.models import Role


def _operations(app: Flask) -> list[tuple[str, str]]:
    """(method, path with the placeholders filled by 1) of every operation of the document."""
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    return [(method.upper(), re.sub(r"{\w+}", "1", path)) for path, operations in document["paths"].items()
            for method in operations if method in ("get", "post", "patch", "put", "delete")]


@pytest.fixture()
def csrf_on(app: Flask) -> Flask:
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def test_every_api_operation_answers_401_without_credentials_even_with_csrf_on(csrf_on: Flask):
    client = csrf_on.test_client()
    operations = _operations(csrf_on)
    assert sum(method != "GET" for method, _ in operations) > 30
    for method, path in operations:
        response = client.open(path, method=method, json={})
        assert response.status_code == 401, f"{method} {path}: {response.status_code}"
        assert response.get_json()["message"] == "Log in or send an API token."


def test_a_signed_in_session_still_needs_its_csrf_token_and_a_token_caller_does_not(
        app: Flask, make_unit, make_user, login_as, db_session):
    unit = make_unit()
    admin = make_user(unit, Role.ADMIN)
    browser = login_as(admin)
    _, clear = services.issue_token(admin, unit_id=unit.id, role=Role.ADMIN, name="script")
    db_session.commit()
    app.config["WTF_CSRF_ENABLED"] = True
    refused = browser.patch(f"/api/v1/units/{unit.id}", json={"name": "Renamed"})
    assert refused.status_code == 400 and "form expired" in refused.get_json()["message"]
    done = app.test_client().patch(f"/api/v1/units/{unit.id}", json={"name": "Renamed"},
                                   headers={"Authorization": f"Bearer {clear}"})
    assert done.status_code == 200 and done.get_json()["name"] == "Renamed"


def test_an_unlisted_method_is_405_with_the_allowed_ones(app: Flask, make_unit, make_user, db_session):
    unit = make_unit()
    _, clear = services.issue_token(make_user(unit, Role.ADMIN), unit_id=unit.id, role=Role.ADMIN, name="t")
    db_session.commit()
    client = app.test_client()
    listed: dict[str, set[str]] = {}
    for method, path in _operations(app):
        listed.setdefault(path, set()).add(method)
    for path, methods in listed.items():
        response = client.delete(path, headers={"Authorization": f"Bearer {clear}"})
        assert response.status_code == 405, f"DELETE {path}: {response.status_code}"
        allowed = {m.strip() for m in response.headers["Allow"].split(",")}
        assert methods <= allowed and "DELETE" not in allowed, f"{path}: Allow {allowed}, documented {methods}"
        assert response.get_json()["message"]


@pytest.mark.parametrize("body", [None, {}], ids=["no body", "empty object"])
def test_a_patch_that_changes_nothing_is_refused(app: Flask, make_unit, make_user, db_session, body: Any):
    unit = make_unit(name="Before")
    user = make_user(unit, Role.ADMIN, Role.QUALITY_MANAGER)
    headers = {role: {"Authorization": "Bearer " + services.issue_token(user, unit_id=unit.id, role=role,
                                                                         name=role.value)[1]}
               for role in (Role.ADMIN, Role.QUALITY_MANAGER)}
    db_session.commit()
    client = app.test_client()
    sop = client.post("/api/v1/documents/sops", headers=headers[Role.QUALITY_MANAGER],
                      json={"code": "CSI-SOP-1", "title": "Scene", "discipline": "firearms and ballistics"})
    assert sop.status_code == 201, sop.get_json()
    revision_id = client.get(f"/api/v1/documents/sops/{sop.get_json()['id']}/revisions",
                             headers=headers[Role.QUALITY_MANAGER]).get_json()[0]["id"]
    for url, role in ((f"/api/v1/units/{unit.id}", Role.ADMIN),
                      (f"/api/v1/documents/revisions/{revision_id}", Role.QUALITY_MANAGER)):
        kwargs = {} if body is None else {"json": body}
        response = client.patch(url, headers=headers[role], **kwargs)
        assert response.status_code == 422, f"PATCH {url}: {response.status_code}"
        assert "at least one field" in str(response.get_json()["errors"])
    assert client.get(f"/api/v1/units/{unit.id}", headers=headers[Role.ADMIN]).get_json()["name"] == "Before"
