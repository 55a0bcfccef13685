"""Bad input on every form and API endpoint: a 4xx with a reason, never a 500."""
from __future__ import annotations

import pytest
from flask import Flask

from qms.auth import services
from qms.auth.models import Role
from tests.conftest import authorise_everything
from tests.qms.test_access import _domain_builders, _url

GARBAGE = [
    {},
    {"username": "x" * 5000, "password": "\x00\u202e", "full_name": "nul\x00byte",
     "name": "<script>alert(1)</script>" * 50,
     "roles": ["superuser"], "role": "god", "unit_id": "abc", "days": "-5", "code": "abcdef",
     "active": "maybe", "reason": "", "current": "", "new": "", "country": "Macedonia"},
    {"unit_id": "999999", "days": "100000", "role": "", "full_name": "", "email": "not-an-email"},
]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.QUALITY_MANAGER], ids=lambda r: r.value)
def test_garbage_posted_to_every_route_is_refused_cleanly(app: Flask, make_unit, make_user, login_as, role, db_session):
    unit = make_unit()
    user = make_user(unit, role)
    authorise_everything(unit, user)  # the builders below record technical work as this user
    target = make_user(unit, Role.VIEWER)
    _, clear = services.issue_token(user, unit_id=unit.id, role=role, name="fuzz")
    db_session.commit()
    params = {"user_id": target.id, "unit_id": unit.id, "token_id": 1, "role": "viewer", "filename": "x"}
    for build in _domain_builders():  # each domain's records, here in the caller's own unit
        params.update(build(unit, user))
        db_session.commit()
    client = login_as(user)
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "auth.logout":
            continue
        url = _url(rule, params)
        for method in rule.methods - {"GET", "HEAD", "OPTIONS"}:
            for payload in GARBAGE:
                if rule.rule.startswith("/api/"):
                    response = client.open(url, method=method, json=payload,
                                           headers={"Authorization": f"Bearer {clear}"})
                else:
                    response = client.open(url, method=method, data=payload)
                assert response.status_code < 500, f"{method} {rule.rule} with {str(payload)[:80]}"
                if response.status_code >= 400:
                    assert response.get_data(as_text=True).strip(), f"{method} {rule.rule}: no reason given"


def test_query_strings_with_garbage_are_refused_cleanly(make_unit, make_user, login_as):
    client = login_as(make_user(make_unit(), Role.QUALITY_MANAGER))
    for query in ("page=-1", "page=abc", "since=2026-13-45", "until=%00", "entity=" + "x" * 3000):
        assert client.get(f"/trail?{query}").status_code in (200, 400), query


@pytest.mark.parametrize("username", ["ab\x00cd", "x" * 64, "élan\u202e", " "])
def test_odd_user_names_at_login_are_refused_cleanly(client, username):
    response = client.post("/login", data={"username": username, "password": "irrelevant-password"})
    assert response.status_code in (400, 403)  # a malformed form, or a login that does not authenticate
    assert any(reason in response.data for reason in (b"Unknown user name or wrong password", b"field is required",
                                                       b"NUL character"))


@pytest.mark.parametrize("path", ["/admin/users/{id}", "/evidence/cases/{id}", "/api/v1/units/{id}"])
def test_an_id_beyond_the_integer_range_is_an_unknown_record(make_unit, make_user, login_as, path):
    user = make_user(make_unit(), Role.ADMIN, Role.CSI_OFFICER)
    client = login_as(user)
    for huge in ("99999999999999999999999", str(2**31)):
        response = client.get(path.format(id=huge))
        assert response.status_code == 404, f"{path} with {huge}: {response.status_code}"
        assert response.get_data(as_text=True).strip()
