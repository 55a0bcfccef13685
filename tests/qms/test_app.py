"""The application shell: configuration, security headers, error pages, health."""
from __future__ import annotations

import logging

import pytest
from flask import Flask

from qms import create_app
from qms.auth.models import Role
from qms.auth.permissions import ALL_ROLES, requires
from qms.config import ConfigError


def test_production_refuses_to_start_without_a_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("QMS_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="QMS_SECRET_KEY"):
        create_app({"ENV": "production", "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": None})


def test_production_on_sqlite_recommends_postgresql(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="qms.config"):
        app = create_app({"ENV": "production", "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k" * 40})
    assert "PostgreSQL" in caplog.text
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_configuration_comes_from_qms_environment_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("QMS_PAGE_SIZE", "25")
    monkeypatch.setenv("QMS_INSTANCE_PATH", str(tmp_path))
    app = create_app()
    assert app.config["PAGE_SIZE"] == 25
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'qms.sqlite3'}"


def test_real_password_hashes_are_argon2id_with_production_cost(tmp_path):
    from qms.auth.passwords import hash_password

    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    with app.app_context():
        digest = hash_password("a-long-enough-passphrase")
    assert digest.startswith("$argon2id$") and "m=65536" in digest


def test_health_is_public_and_checks_the_database(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_security_headers_on_every_page(client):
    for path in ("/login", "/health", "/nope", "/static/css/app.css"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_pages_carry_no_inline_script(client, make_unit, make_user, login_as):
    body = login_as(make_user(make_unit(), Role.ADMIN)).get("/").get_data(as_text=True)
    assert "<script>" not in body and " on" + "click=" not in body
    assert "cdn" not in body.lower() and "https://" not in body


def test_error_pages_explain_without_a_stack_trace(app: Flask, client, make_unit, make_user, login_as):
    @requires(ALL_ROLES)
    def explode():  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals")

    app.add_url_rule("/explode", "explode", explode)
    user_client = login_as(make_user(make_unit(), Role.VIEWER))
    broken = user_client.get("/explode")
    assert broken.status_code == 500
    text = broken.get_data(as_text=True)
    assert "Something went wrong" in text and "secret internals" not in text and "Traceback" not in text
    missing = user_client.get("/no-such-page")
    assert missing.status_code == 404 and "Not found" in missing.get_data(as_text=True)
    forbidden = user_client.get("/admin/users")
    assert forbidden.status_code == 403 and "does not allow" in forbidden.get_data(as_text=True)


def test_a_route_without_an_access_rule_is_closed(app: Flask, make_unit, make_user, login_as):
    app.add_url_rule("/undeclared", "undeclared", lambda: "open?")
    response = login_as(make_user(make_unit(), Role.ADMIN)).get("/undeclared")
    assert response.status_code == 403


def test_forms_refuse_a_missing_csrf_token(app: Flask, make_unit, make_user):
    user = make_user(make_unit(), Role.VIEWER)
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    response = client.post("/login", data={"username": user.username, "password": "whatever-it-is"})
    assert response.status_code == 400 and b"form expired" in response.data


def test_unit_switch_only_to_own_units(make_unit, make_user, login_as, db_session):
    from qms.auth import services

    unit_a, unit_b, unit_c = make_unit(), make_unit(), make_unit()
    user = make_user(unit_a, Role.VIEWER)
    services.grant_role(user, unit_b, Role.EXAMINER)
    db_session.commit()
    client = login_as(user)
    assert client.post("/unit", data={"unit_id": unit_b.id}).status_code == 302
    assert b"Examiner" in client.get("/").data
    refused = client.post("/unit", data={"unit_id": unit_c.id})
    assert refused.status_code == 400 and b"not a member" in refused.data


def test_a_conflict_at_commit_is_a_409_page_and_changes_nothing(app: Flask, make_unit, make_user, login_as, db_session):
    from qms.auth.models import Unit

    unit = make_unit(code="DUP")
    unit_count = db_session.query(Unit).count()

    @requires(ALL_ROLES)
    def duplicate():  # type: ignore[no-untyped-def]
        from qms.extensions import db

        db.session.add(Unit(code="DUP", name="Second with the same code"))
        return "saved?"

    app.add_url_rule("/duplicate", "duplicate", duplicate)
    response = login_as(make_user(unit, Role.VIEWER)).get("/duplicate")
    assert response.status_code == 409
    assert "Someone else changed this record" in response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    db_session.rollback()
    assert db_session.query(Unit).count() == unit_count
