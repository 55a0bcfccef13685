"""Browser sessions kept on the server: a login ends at logout, at expiry, or when its owner ends it.

The cookie (signed by Flask) carries a random session id; the database keeps its SHA-256, who it
belongs to and when it ends. A copy of the cookie is worth nothing once the session has ended.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update

from qms.auth.models import LoginSession, User
from qms.db import utcnow
from qms.errors import NotFound
from qms.extensions import db

# `last_seen_at` is written at most this often, so reading pages does not write on every request.
SEEN_RESOLUTION = timedelta(minutes=1)


def _digest(clear: str) -> str:
    return hashlib.sha256(clear.encode()).hexdigest()


def _unscoped(stmt):  # type: ignore[no-untyped-def]
    return stmt.execution_options(unscoped=True)


def start_session(user: User, *, ip: str, user_agent: str) -> tuple[LoginSession, str]:
    """A new session for `user`; the clear id goes into the cookie and is not stored."""
    clear = secrets.token_urlsafe(32)
    now = utcnow()
    row = LoginSession(user_id=user.id, token_hash=_digest(clear), created_at=now, last_seen_at=now,
                       expires_at=now + timedelta(hours=current_app.config["SESSION_HOURS"]),
                       ip=ip[:64], user_agent=user_agent[:300])
    db.session.add(row)
    db.session.flush()
    return row, clear


def _idle_limit(row: LoginSession) -> datetime:
    return row.last_seen_at + timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])


def open_session(clear: str, user_id: int) -> LoginSession | None:
    """The open session the cookie names for this user, or None if it ended, expired or was idle too long."""
    row = db.session.scalar(_unscoped(select(LoginSession).where(LoginSession.token_hash == _digest(clear))))
    now = utcnow()
    if row is None or row.user_id != user_id or not row.open_at(now) or _idle_limit(row) <= now:
        return None
    if now - row.last_seen_at >= SEEN_RESOLUTION:
        row.last_seen_at = now
        db.session.flush()
    return row


def end_session(row: LoginSession, *, reason: str) -> None:
    if row.ended_at is None:
        row.ended_at, row.end_reason = utcnow(), reason[:64]
        db.session.flush()


def end_own_session(user: User, session_id: int) -> LoginSession:
    """End one of the person's own sessions (another browser or device)."""
    row = db.session.get(LoginSession, session_id, execution_options={"unscoped": True})
    if row is None or row.user_id != user.id:
        raise NotFound(_("No such session of yours."))
    end_session(row, reason="ended by its owner")
    return row


def end_sessions_of(user: User, *, reason: str, except_id: int | None = None) -> None:
    """End every open session of `user` (but `except_id`, the one the person is using)."""
    stmt = update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
    if except_id is not None:
        stmt = stmt.where(LoginSession.id != except_id)
    db.session.execute(stmt.values(ended_at=utcnow(), end_reason=reason[:64]),
                       execution_options={"synchronize_session": "fetch"})
    db.session.flush()


def open_sessions_of(user: User) -> list[LoginSession]:
    """The person's sessions that are still open, newest first (for the account page)."""
    now = utcnow()
    stmt = select(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None),
                                      LoginSession.expires_at > now).order_by(LoginSession.last_seen_at.desc())
    rows = db.session.scalars(_unscoped(stmt))
    return [row for row in rows if _idle_limit(row) > now]
