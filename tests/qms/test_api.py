"""The REST API: OpenAPI document, tokens, and clear 4xx answers to bad input."""
from __future__ import annotations

from openapi_spec_validator import validate

from qms.auth import services
from qms.auth.models import ApiToken, Role


def test_openapi_document_is_valid_and_lists_the_endpoints(client):
    spec = client.get("/api/v1/openapi.json").json
    validate(spec)
    assert {"/api/v1/me", "/api/v1/units", "/api/v1/units/{unit_id}"} <= set(spec["paths"])


def _token(db_session, user, unit, role):  # type: ignore[no-untyped-def]
    _, clear = services.issue_token(user, unit_id=unit.id, role=role, name="test")
    db_session.commit()
    return {"Authorization": f"Bearer {clear}"}


def test_me_with_a_token(client, db_session, make_unit, make_user):
    unit = make_unit()
    user = make_user(unit, Role.EXAMINER)
    response = client.get("/api/v1/me", headers=_token(db_session, user, unit, Role.EXAMINER))
    assert response.status_code == 200
    assert response.json["username"] == user.username and response.json["roles"] == ["examiner"]
    assert response.json["via_token"] is True


def test_tokens_are_stored_hashed_and_can_be_revoked(client, db_session, make_unit, make_user):
    unit = make_unit()
    user = make_user(unit, Role.VIEWER)
    headers = _token(db_session, user, unit, Role.VIEWER)
    clear = headers["Authorization"].split()[1]
    stored = db_session.query(ApiToken).one()
    assert clear not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64
    services.revoke_token(stored)
    db_session.commit()
    refused = client.get("/api/v1/me", headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.json["message"]


def test_a_token_cannot_carry_a_role_its_owner_does_not_hold(db_session, make_unit, make_user):
    unit = make_unit()
    user = make_user(unit, Role.VIEWER)
    try:
        services.issue_token(user, unit_id=unit.id, role=Role.ADMIN, name="escalate")
    except services.AccountError as error:
        assert "role you hold" in str(error)
    else:
        raise AssertionError("a viewer got an admin token")


def test_a_token_stops_working_when_its_role_is_taken_away(client, db_session, make_unit, make_user):
    unit = make_unit()
    user = make_user(unit, Role.EXAMINER, Role.VIEWER)
    headers = _token(db_session, user, unit, Role.EXAMINER)
    services.revoke_role(user, unit.id, Role.EXAMINER)
    db_session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_unknown_token_and_missing_auth_are_401_with_a_reason(client):
    assert client.get("/api/v1/me").json["message"] == "Log in or send an API token."
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer qms_forged"})
    assert bad.status_code == 401 and "unknown" in bad.json["message"]


def test_bad_input_gets_422_with_field_reasons(client, db_session, make_unit, make_user):
    unit = make_unit()
    admin = make_user(unit, Role.ADMIN)
    headers = _token(db_session, admin, unit, Role.ADMIN)
    for body in ({"country": "Macedonia"}, {"name": ""}, {"name": 12}):
        response = client.patch(f"/api/v1/units/{unit.id}", headers=headers, json=body)
        assert response.status_code == 422, body
        assert response.json["errors"]
    not_json = client.patch(f"/api/v1/units/{unit.id}", headers=headers, data="{{{",
                            content_type="application/json")
    assert 400 <= not_json.status_code < 500
    changed = client.patch(f"/api/v1/units/{unit.id}", headers=headers, json={"name": "Renamed", "country": "mk"})
    assert changed.status_code == 200 and changed.json["country"] == "MK"


def test_session_callers_need_csrf_for_api_writes(app, make_unit, make_user, login_as):
    unit = make_unit()
    client = login_as(make_user(unit, Role.ADMIN))
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.patch(f"/api/v1/units/{unit.id}", json={"name": "Via session"})
    assert response.status_code == 400 and "form expired" in response.json["message"]
