"""API tokens follow the MFA rule; refusals never name another unit's people."""
from __future__ import annotations

import pyotp
import pytest

from qms.auth import services
from qms.auth.models import Role
from qms.errors import AuthenticationFailed
from qms.evidence import custody
from tests.conftest import PASSWORD


def _bearer(db_session, user, unit, role):  # type: ignore[no-untyped-def]
    _, clear = services.issue_token(user, unit_id=unit.id, role=role, name="script")
    db_session.commit()
    return {"Authorization": f"Bearer {clear}"}


def test_a_token_of_a_quality_manager_without_mfa_is_refused_when_mfa_is_required(app, client, db_session,
                                                                                    make_unit, make_user):
    unit = make_unit()
    qm = make_user(unit, Role.QUALITY_MANAGER)
    headers = _bearer(db_session, qm, unit, Role.QUALITY_MANAGER)
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # MFA not required: works
    app.config["MFA_REQUIRED"] = True
    refused = client.get("/api/v1/me", headers=headers)
    assert refused.status_code == 403 and "multi-factor" in refused.json["message"]
    secret = pyotp.random_base32()
    services.enrol_mfa(qm, secret, pyotp.TOTP(secret).now())
    db_session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 200


def test_a_viewers_token_needs_no_mfa(app, client, db_session, make_unit, make_user):
    unit = make_unit()
    headers = _bearer(db_session, make_user(unit, Role.VIEWER), unit, Role.VIEWER)
    app.config["MFA_REQUIRED"] = True
    assert client.get("/api/v1/me", headers=headers).status_code == 200


def test_creating_a_user_does_not_reveal_another_units_user(make_unit, make_user, login_as, db_session):
    other_unit = make_unit(name="Other Agency Lab")
    make_user(other_unit, Role.EXAMINER, username="j.secret").full_name = "Jana Secretperson"
    db_session.commit()
    unit = make_unit()
    admin = make_user(unit, Role.ADMIN)
    response = login_as(admin).post("/admin/users/new", data={
        "username": "j.secret", "full_name": "New Person", "password": "a-good-long-passphrase-3", "roles": ["viewer"]})
    assert response.status_code == 400 and b"cannot be used" in response.data
    for secret in (b"taken", b"Jana Secretperson", b"Other Agency Lab"):
        assert secret not in response.data


def test_a_hand_over_does_not_confirm_another_units_person(make_unit, make_user, db_session):
    home, elsewhere = make_unit(), make_unit()
    outsider = make_user(elsewhere, Role.CSI_OFFICER, username="far.away")
    outsider.full_name = "Distinctive Fullname"
    db_session.commit()

    def refusal(username: str, password: str) -> str:
        with pytest.raises(AuthenticationFailed) as refused:
            custody.authenticate_party(username, password, unit_id=home.id, what="receiver")
        return str(refused.value)

    right_password = refusal("far.away", PASSWORD)
    assert right_password == refusal("nobody.at.all", PASSWORD) == refusal("far.away", "a-wrong-password")
    assert "Distinctive" not in right_password
