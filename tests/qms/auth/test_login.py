"""Login, logout, throttling, MFA and the password policy."""
from __future__ import annotations

import pyotp
import pytest

from qms.auth.models import LoginAttempt, Role
from tests.conftest import PASSWORD, login


def test_login_page_is_public_and_dashboard_is_not(client):
    assert client.get("/login").status_code == 200
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_login_then_dashboard_then_logout(client, make_unit, make_user):
    user = make_user(make_unit(), Role.QUALITY_MANAGER)
    response = login(client, user.username)
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200 and b"Dashboard" in page.data and b"Quality manager" in page.data
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_with_a_message(client, make_unit, make_user):
    user = make_user(make_unit(), Role.VIEWER)
    response = login(client, user.username, "not-the-password-at-all")
    assert response.status_code == 403
    assert b"Unknown user name or wrong password" in response.data
    assert client.get("/").status_code == 302


def test_failures_from_one_address_make_it_wait_and_every_attempt_is_recorded(app, client, make_unit, make_user,
                                                                            db_session):
    app.config["THROTTLE_BASE_DELAY_SECONDS"] = 60  # no delay runs out by itself on a slow machine
    user = make_user(make_unit(), Role.VIEWER)
    free = app.config["THROTTLE_FREE_FAILURES"]
    for _ in range(free):
        assert login(client, user.username, "wrong-password-guess!").status_code == 403
    throttled = login(client, user.username, "wrong-password-guess!")
    assert throttled.status_code == 429
    assert b"Too many failed attempts" in throttled.data and b"Wait 60 seconds" in throttled.data
    # The right password from the same address waits too: it was not even checked.
    assert login(client, user.username, PASSWORD).status_code == 429
    attempts = db_session.query(LoginAttempt).filter_by(username=user.username).all()
    assert [a.reason for a in attempts] == ["bad password"] * free + ["throttled"] * 2
    assert {(a.purpose, a.ip, a.succeeded) for a in attempts} == {("login", "127.0.0.1", False)}


def test_throttle_is_per_account(client, make_unit, make_user):
    unit = make_unit()
    victim, other = make_user(unit, Role.VIEWER), make_user(unit, Role.VIEWER)
    for _ in range(11):
        login(client, victim.username, "wrong-password-guess!")
    assert login(client, other.username).status_code == 302


def test_mfa_user_without_valid_code_cannot_log_in(client, make_unit, make_user):
    secret = pyotp.random_base32()
    user = make_user(make_unit(), Role.QUALITY_MANAGER, mfa_secret=secret)
    first = login(client, user.username)
    assert first.status_code == 302 and first.headers["Location"].endswith("/login/mfa")
    assert client.get("/").status_code == 302  # not logged in yet
    wrong = client.post("/login/mfa", data={"code": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"})
    assert wrong.status_code == 403 and b"MFA code is not valid" in wrong.data
    assert client.get("/").status_code == 302
    right = client.post("/login/mfa", data={"code": pyotp.TOTP(secret).now()})
    assert right.status_code == 302
    assert client.get("/").status_code == 200


def test_mfa_step_cannot_be_skipped_by_posting_the_code_alone(client):
    response = client.post("/login/mfa", data={"code": "123456"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")


def test_quality_manager_must_enrol_mfa_when_required(app, client, make_unit, make_user):
    user = make_user(make_unit(), Role.QUALITY_MANAGER)
    app.config["MFA_REQUIRED"] = True
    response = login(client, user.username)
    assert response.headers["Location"].endswith("/account/mfa")
    assert client.get("/").status_code == 302  # every page leads back to enrolment
    page = client.get("/account/mfa")
    assert page.status_code == 200 and b"<svg" in page.data
    with client.session_transaction() as session:
        secret = session["mfa_secret_pending"]
    enrolled = client.post("/account/mfa", data={"code": pyotp.TOTP(secret).now()})
    assert enrolled.status_code == 200 and b"recovery codes" in enrolled.data
    assert client.get("/").status_code == 200


def test_viewer_needs_no_mfa_even_when_required(app, client, make_unit, make_user):
    user = make_user(make_unit(), Role.VIEWER)
    app.config["MFA_REQUIRED"] = True
    login(client, user.username)
    assert client.get("/").status_code == 200


def test_session_cookie_is_renewed_at_login(client, make_unit, make_user):
    user = make_user(make_unit(), Role.VIEWER)
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by-an-attacker"
    login(client, user.username)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert "_user_id" in session


def test_password_change_logs_out_other_sessions(app, make_unit, make_user, login_as):
    user = make_user(make_unit(), Role.VIEWER)
    first, second = login_as(user), login_as(user)
    response = first.post("/account/password", data={"current": PASSWORD, "new": "a-brand-new-passphrase-77"})
    assert response.status_code == 302
    assert first.get("/").status_code == 200
    assert second.get("/").status_code == 302


@pytest.mark.parametrize(("password", "reason"), [
    ("short-one", b"at least 12 characters"),
    ("password1234", b"list of common passwords"),
    ("qwertyuiop123", b"list of common passwords"),
])
def test_weak_or_common_password_is_refused_with_a_clear_message(make_unit, make_user, login_as, password, reason):
    user = make_user(make_unit(), Role.VIEWER)
    response = login_as(user).post("/account/password", data={"current": PASSWORD, "new": password})
    assert response.status_code == 400
    assert reason in response.data


def test_disabled_account_cannot_log_in(client, make_unit, make_user, db_session):
    from qms.auth import services

    user = make_user(make_unit(), Role.VIEWER)
    services.set_active(user, False)
    db_session.commit()
    assert login(client, user.username).status_code == 403
