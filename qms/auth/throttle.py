"""How long a password check must wait, from the recorded attempts: growing delays, never a hard lock.

Three keys, each with a number of free failures and then a delay that doubles with every further
failure (1 s, 2 s, 4 s ... at most `THROTTLE_MAX_DELAY_SECONDS`):

- the account from this address: a guesser at one address slows down quickly;
- this address, whatever the account: 25 user names tried from one address are slowed too;
- the account from every address, except addresses where its owner logged in recently: a guesser
  spread over many addresses slows down, while the owner at a known address still gets in.

A failure from one address never delays the right password from another address (unless the
account as a whole is under a spread attack and the address is new), so knowing a user name is
not enough to lock its owner out. Throttled attempts are recorded but do not count as failures:
they never reached the password, and counting them would let a waiting attacker extend the delay.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, func, select

from qms.auth.models import LoginAttempt
from qms.extensions import db

THROTTLED = "throttled"


def _failures_since(where: list[ColumnElement[bool]], since: datetime) -> tuple[int, datetime | None]:
    stmt = select(func.count(), func.max(LoginAttempt.at)).where(
        LoginAttempt.succeeded.is_(False), LoginAttempt.reason != THROTTLED, LoginAttempt.at > since, *where)
    count, last = db.session.execute(stmt.execution_options(unscoped=True)).one()
    return int(count or 0), last


def _last_success(where: list[ColumnElement[bool]]) -> datetime | None:
    stmt = select(func.max(LoginAttempt.at)).where(LoginAttempt.succeeded.is_(True), *where)
    return db.session.scalar(stmt.execution_options(unscoped=True))


def _delay(failures: int, free: int) -> float:
    if failures < free:
        return 0.0
    config = current_app.config
    return float(min(config["THROTTLE_BASE_DELAY_SECONDS"] * 2 ** min(failures - free, 30),
                     config["THROTTLE_MAX_DELAY_SECONDS"]))


def _wait(where: list[ColumnElement[bool]], free: int, now: datetime, *, since_success: bool) -> float:
    """Seconds still to wait for one key (0: the attempt may go ahead)."""
    since = now - timedelta(minutes=current_app.config["LOGIN_WINDOW_MINUTES"])
    if since_success:
        success = _last_success(where)
        if success is not None and success > since:
            since = success
    failures, last = _failures_since(where, since)
    delay = _delay(failures, free)
    if not delay or last is None:
        return 0.0
    return max(0.0, delay - (now - last).total_seconds())


def _known_address(username: str, ip: str, now: datetime) -> bool:
    days = current_app.config["THROTTLE_KNOWN_ADDRESS_DAYS"]
    stmt = select(LoginAttempt.id).where(LoginAttempt.username == username, LoginAttempt.ip == ip,
                                         LoginAttempt.succeeded.is_(True),
                                         LoginAttempt.at > now - timedelta(days=days)).limit(1)
    return db.session.scalar(stmt.execution_options(unscoped=True)) is not None


def seconds_to_wait(username: str, ip: str, now: datetime) -> float:
    """How long the next password check for `username` from `ip` must wait; 0 when it may go ahead."""
    config = current_app.config
    account = [LoginAttempt.username == username]
    address = [LoginAttempt.ip == ip]
    waits = [
        _wait(account + address, config["THROTTLE_FREE_FAILURES"], now, since_success=True),
        _wait(address, config["THROTTLE_ADDRESS_FREE_FAILURES"], now, since_success=False),
    ]
    if not _known_address(username, ip, now):
        waits.append(_wait(account, config["THROTTLE_ACCOUNT_FREE_FAILURES"], now, since_success=True))
    return max(waits)
