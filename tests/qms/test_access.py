"""Walks every URL rule of the app as each role of unit A against records of unit B.

New routes are covered automatically: the test enumerates `app.url_map`. A route whose
parameters it cannot fill fails here, so whoever adds it must say which record it names.
"""
from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from qms.auth import services
from qms.auth.guard import PUBLIC_ENDPOINTS
from qms.auth.models import Role
from qms.auth.permissions import access_of
from qms.trail.models import AuditEvent
from tests.conftest import PASSWORD

MARKERS = ("UNIT-B-MARKER", "markerb", "MARKER-B-PERSON")
# URL parameters that name a record of unit B: such a URL must answer 400, 403 or 404.
B_RECORD_PARAMS = {"user_id", "unit_id", "token_id"}
SKIPPED_METHODS = {"HEAD", "OPTIONS"}


@dataclass
class World:
    unit_a_id: int
    unit_b_id: int
    params: dict[str, object]
    users_a: dict[Role, str]
    tokens_a: dict[Role, str]


@pytest.fixture()
def world(app: Flask, db_session, make_unit, make_user) -> World:
    unit_a = make_unit(code="UNIT-A", name="Unit A")
    unit_b = make_unit(code="UNIT-B", name="UNIT-B-MARKER")
    user_b = make_user(unit_b, Role.ADMIN, Role.QUALITY_MANAGER, username="markerb")
    user_b.full_name = "MARKER-B-PERSON"
    token_b, _ = services.issue_token(user_b, unit_id=unit_b.id, role=Role.QUALITY_MANAGER, name="b token")
    users_a, tokens_a = {}, {}
    for role in Role:
        user = make_user(unit_a, role, username=f"a-{role.value}")
        users_a[role] = user.username
        tokens_a[role] = services.issue_token(user, unit_id=unit_a.id, role=role, name="a token")[1]
    db_session.commit()
    params = {"user_id": user_b.id, "unit_id": unit_b.id, "token_id": token_b.id, "role": "viewer",
              "filename": "css/app.css"}
    for build in _domain_builders():
        params.update(build(unit_b, user_b))
        db_session.commit()
    return World(unit_a.id, unit_b.id, params, users_a, tokens_a)


def _domain_builders() -> list[Callable[..., dict[str, object]]]:
    """`build(unit_b, user_b) -> {url parameter: value}` from every tests/qms/<domain>/access_records.py.

    Each domain creates records of unit B there (with "UNIT-B-MARKER" in a visible text field)
    and names the URL parameters that point at them; B_RECORD_PARAMS lists those parameters.
    """
    builders = []
    for path in sorted(Path(__file__).parent.glob("*/access_records.py")):
        module = importlib.import_module(f"tests.qms.{path.parent.name}.access_records")
        builders.append(module.build)
        B_RECORD_PARAMS.update(getattr(module, "RECORD_PARAMS", ()))
    return builders


def _rules(app: Flask):  # type: ignore[no-untyped-def]
    return sorted(app.url_map.iter_rules(), key=lambda r: r.rule)


def _url(rule, params: dict[str, object]) -> str:  # type: ignore[no-untyped-def]
    missing = set(rule.arguments) - set(params)
    assert not missing, f"{rule.rule}: the access test does not know which record {missing} names; add it to params"
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(params[m.group(1)]), rule.rule)


def _b_trail_rows(db_session, unit_b_id: int) -> int:
    db_session.expire_all()
    stmt = sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.unit_id == unit_b_id)
    return db_session.scalar(stmt.execution_options(unscoped=True))


def test_every_endpoint_declares_who_may_use_it(app: Flask):
    undeclared = [rule.endpoint for rule in _rules(app)
                  if rule.endpoint not in PUBLIC_ENDPOINTS and access_of(app.view_functions[rule.endpoint]) is None]
    assert undeclared == []


def test_anonymous_requests_reach_only_public_pages(app: Flask, world: World):
    client = app.test_client()
    for rule in _rules(app):
        access = access_of(app.view_functions.get(rule.endpoint))
        if rule.endpoint in PUBLIC_ENDPOINTS or (access and access.public):
            continue
        for method in rule.methods - SKIPPED_METHODS:
            response = client.open(_url(rule, world.params), method=method)
            expected = 401 if rule.rule.startswith("/api/") else 302
            assert response.status_code == expected, f"{method} {rule.rule} answered {response.status_code}"
            if expected == 302:
                assert "/login" in response.headers["Location"]


Caller = Callable[[str, str], object]


def _session_caller(app: Flask, username: str) -> Caller:
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302

    def call(method: str, url: str):  # type: ignore[no-untyped-def]
        return client.open(url, method=method, json={} if url.startswith("/api/") and method != "GET" else None)

    return call


def _token_caller(app: Flask, token: str) -> Caller:
    client = app.test_client()

    def call(method: str, url: str):  # type: ignore[no-untyped-def]
        return client.open(url, method=method, headers={"Authorization": f"Bearer {token}"},
                           json={} if method != "GET" else None)

    return call


def _walk(app: Flask, world: World, role: Role, call: Caller, *, api_only: bool) -> None:
    before = _b_trail_rows(__import__("qms.extensions", fromlist=["db"]).db.session, world.unit_b_id)
    for rule in _rules(app):
        if api_only and not rule.rule.startswith("/api/"):
            continue
        if rule.endpoint == "auth.logout":
            continue  # would end the walk's own session; covered by the login tests
        access = access_of(app.view_functions.get(rule.endpoint))
        for method in sorted(rule.methods - SKIPPED_METHODS):
            response = call(method, _url(rule, world.params))
            where = f"{role.value}: {method} {rule.rule} -> {response.status_code}"
            assert response.status_code < 500, where
            body = response.get_data().decode("utf-8", "replace")  # downloads (PDF, XLSX) are not UTF-8
            assert not any(marker in body for marker in MARKERS), f"{where} shows a record of unit B"
            allowed = rule.endpoint in PUBLIC_ENDPOINTS or access is None or access.public or access.allows(
                method, frozenset({role}))
            if not allowed:
                assert response.status_code == 403, f"{where}: the role may not do this"
            elif rule.arguments & B_RECORD_PARAMS:
                # 422: the (empty) body was refused before any record was looked up, whoever's it is
                assert response.status_code in (400, 403, 404, 422), f"{where}: reached a record of unit B"
    from qms.extensions import db

    assert _b_trail_rows(db.session, world.unit_b_id) == before, f"{role.value} changed something in unit B"


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_each_role_of_unit_a_sees_and_changes_nothing_of_unit_b(app: Flask, world: World, role: Role):
    _walk(app, world, role, _session_caller(app, world.users_a[role]), api_only=False)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_api_tokens_of_unit_a_see_and_change_nothing_of_unit_b(app: Flask, world: World, role: Role):
    _walk(app, world, role, _token_caller(app, world.tokens_a[role]), api_only=True)


def test_a_token_acts_only_with_its_own_role(app: Flask, world: World, db_session, make_user):
    from qms.auth.models import Unit

    unit_a = db_session.get(Unit, world.unit_a_id)
    both = make_user(unit_a, Role.ADMIN, Role.VIEWER)
    _, viewer_token = services.issue_token(both, unit_id=unit_a.id, role=Role.VIEWER, name="read only")
    db_session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {viewer_token}"}
    assert client.get(f"/api/v1/units/{unit_a.id}", headers=headers).status_code == 200
    refused = client.patch(f"/api/v1/units/{unit_a.id}", headers=headers, json={"name": "Renamed"})
    assert refused.status_code == 403


def test_scope_holds_for_records_already_in_the_session(app: Flask, world: World, db_session):
    from qms.auth.models import Unit
    from qms.scoping import set_scope

    assert db_session.get(Unit, world.unit_b_id) is not None  # loaded outside a request: no scope
    with app.test_request_context():
        set_scope((world.unit_a_id,))
        assert db_session.get(Unit, world.unit_b_id) is None
        assert db_session.get(Unit, world.unit_a_id) is not None
