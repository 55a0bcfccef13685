"""Sessions end on the server: at logout, at expiry, when their owner ends them."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from qms.auth.models import LoginSession, Role
from qms.db import utcnow


def _copy_of(app, client):  # type: ignore[no-untyped-def]
    """Another browser holding a copy of the client's session cookie (as a thief would)."""
    cookie = client.get_cookie("session")
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def _sessions(db_session, user) -> list[LoginSession]:  # type: ignore[no-untyped-def]
    db_session.expire_all()
    return list(db_session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)
                                   .order_by(LoginSession.id)))


def test_a_copied_cookie_is_refused_after_logout(app, make_unit, make_user, login_as, db_session):
    user = make_user(make_unit(), Role.VIEWER)
    browser = login_as(user)
    thief = _copy_of(app, browser)
    assert thief.get("/").status_code == 200  # the copy works while the session is open...
    assert browser.post("/logout").status_code == 302
    assert thief.get("/").status_code == 302  # ...and not after logout
    assert thief.get("/api/v1/me").status_code == 401
    [row] = _sessions(db_session, user)
    assert row.ended_at is not None and row.end_reason == "logout"


def test_the_session_row_records_who_where_and_with_what(make_unit, make_user, app, db_session):
    user = make_user(make_unit(), Role.VIEWER)
    client = app.test_client()
    client.post("/login", data={"username": user.username, "password": "correct-horse-battery-staple-42"},
                headers={"User-Agent": "Firefox/128 test"}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    [row] = _sessions(db_session, user)
    assert (row.ip, row.user_agent, row.ended_at) == ("10.1.2.3", "Firefox/128 test", None)
    assert row.expires_at - row.created_at == timedelta(hours=app.config["SESSION_HOURS"])
    with client.session_transaction() as cookie:
        assert cookie["sid"] and row.token_hash != cookie["sid"]  # only the hash is stored


def test_an_expired_or_idle_session_is_refused(make_unit, make_user, login_as, db_session):
    user = make_user(make_unit(), Role.VIEWER)
    expired, idle = login_as(user), login_as(user)
    first, second = _sessions(db_session, user)
    first.expires_at = utcnow() - timedelta(seconds=1)
    second.last_seen_at = utcnow() - timedelta(days=1)
    db_session.commit()
    assert expired.get("/").status_code == 302
    assert idle.get("/").status_code == 302


def test_a_person_sees_their_sessions_and_ends_another(make_unit, make_user, login_as, db_session):
    user = make_user(make_unit(), Role.VIEWER)
    laptop, phone = login_as(user), login_as(user)
    page = laptop.get("/account")
    assert page.status_code == 200 and page.data.count(b"/end\"") == 1 and b"this session" in page.data
    _, phone_row = _sessions(db_session, user)
    assert laptop.post(f"/account/sessions/{phone_row.id}/end").status_code == 302
    assert phone.get("/").status_code == 302
    assert laptop.get("/").status_code == 200
    assert _sessions(db_session, user)[1].end_reason == "ended by its owner"


def test_end_all_other_sessions_keeps_this_one(make_unit, make_user, login_as):
    user = make_user(make_unit(), Role.VIEWER)
    here, there, elsewhere = login_as(user), login_as(user), login_as(user)
    assert here.post("/account/sessions/end-others").status_code == 302
    assert [c.get("/").status_code for c in (here, there, elsewhere)] == [200, 302, 302]


def test_nobody_ends_someone_elses_session(make_unit, make_user, login_as, db_session):
    unit = make_unit()
    owner, other = make_user(unit, Role.VIEWER), make_user(unit, Role.VIEWER)
    owners_browser = login_as(owner)
    [row] = _sessions(db_session, owner)
    assert login_as(other).post(f"/account/sessions/{row.id}/end").status_code == 404
    assert owners_browser.get("/").status_code == 200


def test_disabling_an_account_ends_its_sessions(make_unit, make_user, login_as, db_session):
    from qms.auth import services

    user = make_user(make_unit(), Role.VIEWER)
    browser = login_as(user)
    services.set_active(user, False)
    db_session.commit()
    assert browser.get("/").status_code == 302
    assert {row.end_reason for row in _sessions(db_session, user)} == {"account disabled"}
