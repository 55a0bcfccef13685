"""A forgotten password or a lost authenticator never needs a database edit."""
from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from qms.auth import services
from qms.auth.models import PasswordReset, Role
from qms.db import utcnow
from qms.errors import AuthenticationFailed
from qms.trail.models import AuditEvent
from tests.conftest import PASSWORD, login

NEW = "a-fresh-start-passphrase-91"


def _use(client, username: str, code: str, new: str = NEW):  # type: ignore[no-untyped-def]
    return client.post("/reset-password", data={"username": username, "code": code, "new": new})


def test_an_administrator_issues_a_reset_code_that_works_once(app, make_unit, make_user, login_as, db_session):
    unit = make_unit()
    admin, person = make_user(unit, Role.ADMIN), make_user(unit, Role.EXAMINER)
    old_browser = login_as(person)
    page = login_as(admin).post(f"/admin/users/{person.id}/password-reset", data={"reason": "forgot it on holiday"})
    assert page.status_code == 200
    code = re.search(rb'id="reset-code">([a-z0-9-]+)<', page.data).group(1).decode()
    client = app.test_client()
    assert client.get(f"/reset-password?user={person.username}&code={code}").status_code == 200
    assert _use(client, person.username, code).status_code == 302
    assert login(client, person.username, NEW).status_code == 302
    assert login(app.test_client(), person.username, PASSWORD).status_code == 403
    assert old_browser.get("/").status_code == 302  # the sessions from before the reset are over
    again = _use(app.test_client(), person.username, code, "yet-another-passphrase-55")
    assert again.status_code == 403 and b"not valid" in again.data
    reset = db_session.scalars(select(PasswordReset)).one()
    assert reset.code_hash != code and reset.issued_by_id == admin.id and reset.used_at is not None
    trail = db_session.scalars(select(AuditEvent).where(AuditEvent.entity == "PasswordReset")).all()
    assert [e.action for e in trail] == ["insert", "update"] and trail[0].reason == "forgot it on holiday"


def test_a_reset_code_expires(app, make_unit, make_user, db_session):
    person = make_user(make_unit(), Role.VIEWER)
    reset, code = services.issue_password_reset(person, issued_by=None)
    reset.expires_at = utcnow() - timedelta(seconds=1)
    db_session.commit()
    assert _use(app.test_client(), person.username, code).status_code == 403
    assert login(app.test_client(), person.username, PASSWORD).status_code == 302


def test_an_administrator_of_another_unit_cannot_reset(make_unit, make_user, login_as):
    person = make_user(make_unit(), Role.VIEWER)
    stranger = make_user(make_unit(), Role.ADMIN)
    response = login_as(stranger).post(f"/admin/users/{person.id}/password-reset", data={"reason": "take over"})
    assert response.status_code == 404


def test_the_operator_resets_from_the_command_line(app, make_unit, make_user):
    person = make_user(make_unit(), Role.ADMIN)
    from qms.commands import reset_password_command

    result = app.test_cli_runner().invoke(reset_password_command, ["--user", person.username, "--reset-mfa"])
    assert result.exit_code == 0, result.output
    code = re.search(r"for \S+: (\S+)", result.output).group(1)
    assert _use(app.test_client(), person.username, code).status_code == 302
    unknown = app.test_cli_runner().invoke(reset_password_command, ["--user", "nobody-here"])
    assert unknown.exit_code != 0 and "No user named" in unknown.output


def test_a_recovery_code_logs_in_once_instead_of_the_authenticator(app, make_unit, make_user, db_session):
    user = make_user(make_unit(), Role.QUALITY_MANAGER)
    codes = services.enrol_mfa(user, secret := pyotp.random_base32(), pyotp.TOTP(secret).now())
    db_session.commit()
    assert len(codes) == app.config["MFA_RECOVERY_CODES"] == len(set(codes))

    def log_in_with(code: str) -> int:
        client = app.test_client()
        assert login(client, user.username).headers["Location"].endswith("/login/mfa")
        return client.post("/login/mfa", data={"code": code}).status_code

    assert log_in_with(codes[0].upper()) == 302  # as read aloud or typed in capitals
    assert log_in_with(codes[0]) == 403  # single use
    assert log_in_with(codes[1]) == 302
    assert services.recovery_codes_left(user) == len(codes) - 2


def test_recovery_codes_are_stored_hashed_and_a_new_enrolment_replaces_them(make_unit, make_user, db_session):
    from qms.auth.models import RecoveryCode

    user = make_user(make_unit(), Role.QUALITY_MANAGER)
    first = services.enrol_mfa(user, secret := pyotp.random_base32(), pyotp.TOTP(secret).now())
    stored = {row.code_hash for row in db_session.scalars(select(RecoveryCode))}
    assert not stored & set(first)
    services.enrol_mfa(user, secret, pyotp.TOTP(secret).now())
    with pytest.raises(AuthenticationFailed):
        services.check_mfa_code(user, first[0], purpose="login MFA", ip="192.0.2.1")
