"""One throttle for every password check: keyed by account and by address, growing delays, all recorded."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from qms.auth import services
from qms.auth.models import LoginAttempt, Role
from qms.db import utcnow
from qms.errors import AuthenticationFailed, Throttled
from tests.conftest import PASSWORD, login


def _from(client, address: str, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def _attempts(db_session, **where) -> list[LoginAttempt]:  # type: ignore[no-untyped-def]
    db_session.expire_all()
    return list(db_session.scalars(select(LoginAttempt).filter_by(**where).order_by(LoginAttempt.id)))


@pytest.fixture(autouse=True)
def _slow_clock_for_guessers(app):  # type: ignore[no-untyped-def]
    """A first delay of a minute: however slow the test machine, a delay never runs out mid-test by itself."""
    app.config["THROTTLE_BASE_DELAY_SECONDS"] = 60


def _pass_time(db_session, seconds: float) -> None:
    """As if `seconds` went by: every recorded attempt moves back in time."""
    for attempt in db_session.scalars(select(LoginAttempt)):
        attempt.at -= timedelta(seconds=seconds)
    db_session.commit()


def _refusal_of(action) -> type | None:  # type: ignore[no-untyped-def]
    try:
        action()
    except (AuthenticationFailed, Throttled) as refusal:
        return type(refusal)
    return None


def test_fifty_wrong_signing_passwords_are_throttled_and_all_recorded(app, make_unit, make_user, db_session):
    from qms.documents import services as documents
    from qms.documents.models import RevisionState

    unit = make_unit()
    qm, approver = make_user(unit, Role.QUALITY_MANAGER), make_user(unit, Role.QUALITY_MANAGER)
    sop = documents.create_sop(unit_id=unit.id, code="CSI-SOP-901", title="Throttle test", discipline="scene examination",
                               author=qm, owner_id=qm.id, applies_to=["csi_officer"], content_markdown="# T\n",
                               change_summary="First.", requirement_ids=[])
    revision = sop.revisions[0]
    documents.submit(revision, qm)
    db_session.commit()
    refusals = []
    for i in range(50):
        refusals.append(_refusal_of(lambda: documents.approve(revision, approver, password=f"guess-{i}-wrong")))
        db_session.commit()  # as the refusal handler does: the attempt is kept
    free = app.config["THROTTLE_FREE_FAILURES"]
    assert refusals == [AuthenticationFailed] * free + [Throttled] * (50 - free)
    signing = _attempts(db_session, username=approver.username, purpose="SOP approval")
    assert len(signing) == 50 and not any(a.succeeded for a in signing)
    assert [a.reason for a in signing].count("throttled") == 50 - free
    assert db_session.get(type(revision), revision.id).state == RevisionState.IN_REVIEW.value
    # Even the right password waits while the delay runs: guessing is slowed, not just counted.
    assert _refusal_of(lambda: documents.approve(revision, approver, password=PASSWORD)) is Throttled


def test_a_wrong_decision_signature_is_refused_and_recorded(make_unit, make_user, db_session):
    from qms.comparisons.services import _confirm_password

    unit = make_unit()
    examiner = make_user(unit, Role.EXAMINER)
    assert _refusal_of(lambda: _confirm_password(examiner, "not-my-password", unit.id)) is AuthenticationFailed
    _confirm_password(examiner, PASSWORD, unit.id)
    assert [(a.purpose, a.succeeded) for a in _attempts(db_session, username=examiner.username)] == [
        ("decision signature", False), ("decision signature", True)]


def test_the_right_password_from_another_address_still_logs_in(client, make_unit, make_user):
    user = make_user(make_unit(), Role.VIEWER)
    answers = {_from(client, "203.0.113.66", user.username, f"guess-{i}-guess").status_code for i in range(30)}
    assert answers == {403, 429}
    assert _from(client, "198.51.100.7", user.username).status_code == 302
    assert client.get("/").status_code == 200


def test_twenty_five_user_names_from_one_address_are_throttled(app, client, make_unit, make_user, db_session):
    names = [f"someone{i}" for i in range(25)]
    statuses = [_from(client, "203.0.113.9", name, "a-guessed-password").status_code for name in names]
    free = app.config["THROTTLE_ADDRESS_FREE_FAILURES"]
    assert statuses == [403] * free + [429] * (25 - free)
    assert len(_attempts(db_session, ip="203.0.113.9", purpose="login")) == 25
    # A person at another address is not slowed by it.
    user = make_user(make_unit(), Role.VIEWER)
    assert _from(client, "198.51.100.20", user.username).status_code == 302


def test_delays_grow_and_pass(app, make_unit, make_user, db_session):
    app.config["THROTTLE_BASE_DELAY_SECONDS"] = 1
    user = make_user(make_unit(), Role.VIEWER)
    for _ in range(app.config["THROTTLE_FREE_FAILURES"]):
        with pytest.raises(AuthenticationFailed):
            services.check_password(user.username, "wrong-wrong-wrong", purpose="login", ip="192.0.2.1")
    with pytest.raises(Throttled, match="Wait 1 second,"):
        services.check_password(user.username, PASSWORD, purpose="login", ip="192.0.2.1")
    _pass_time(db_session, 1.5)
    with pytest.raises(AuthenticationFailed):  # checked again after the wait; one more failure...
        services.check_password(user.username, "wrong-wrong-wrong", purpose="login", ip="192.0.2.1")
    with pytest.raises(Throttled, match="Wait 2 seconds"):  # ...doubles the next wait
        services.check_password(user.username, PASSWORD, purpose="login", ip="192.0.2.1")
    _pass_time(db_session, 2.5)
    assert services.check_password(user.username, PASSWORD, purpose="login", ip="192.0.2.1").id == user.id
    # A success starts the account's count from this address afresh.
    with pytest.raises(AuthenticationFailed):
        services.check_password(user.username, "wrong-wrong-wrong", purpose="login", ip="192.0.2.1")


def test_a_guesser_spread_over_many_addresses_slows_down_but_the_owner_at_home_gets_in(app, client, make_unit,
                                                                                      make_user):
    app.config["THROTTLE_ACCOUNT_FREE_FAILURES"] = 20
    user = make_user(make_unit(), Role.VIEWER)
    assert _from(client, "192.0.2.50", user.username).status_code == 302  # the owner's usual address
    client.post("/logout")
    for i in range(20):
        assert _from(client, f"203.0.113.{i + 1}", user.username, "guess-guess-guess").status_code == 403
    assert _from(client, "203.0.113.200", user.username, "guess-guess-guess").status_code == 429
    assert _from(client, "198.51.100.99", user.username).status_code == 429  # a new address waits too
    assert _from(client, "192.0.2.50", user.username).status_code == 302  # the known one does not


def test_every_kind_of_check_is_recorded_with_its_purpose(make_unit, make_user, login_as, db_session):
    user = make_user(make_unit(), Role.VIEWER)
    browser = login_as(user)
    assert browser.post("/account/password", data={"current": "not-my-password", "new": "x" * 20}).status_code == 403
    assert login(browser.application.test_client(), "no-such-user", "whatever-password").status_code == 403
    rows = _attempts(db_session)
    assert [(a.purpose, a.reason, a.succeeded) for a in rows] == [
        ("login", "ok", True), ("password change", "bad password", False), ("login", "unknown user", False)]
    assert rows[2].user_id is None and rows[0].at <= utcnow()
