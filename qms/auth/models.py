"""Units, users, their per-unit roles, API tokens and the login log."""
from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship, with_loader_criteria

from qms.db import utcnow
from qms.extensions import db
from qms.scoping import UnitScoped
from qms.trail.audited import Audited


class Role(enum.StrEnum):
    ADMIN = "admin"
    QUALITY_MANAGER = "quality_manager"
    AUDITOR = "auditor"
    EXAMINER = "examiner"
    CSI_OFFICER = "csi_officer"
    VIEWER = "viewer"

    @property
    def label(self) -> str:
        """The role's name in the reader's language."""
        return str(ROLE_LABELS[self])


ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.QUALITY_MANAGER: _l("Quality manager"),
    Role.AUDITOR: _l("Auditor"),
    Role.EXAMINER: _l("Examiner"),
    Role.CSI_OFFICER: _l("CSI officer"),
    Role.VIEWER: _l("Viewer"),
}
ROLE_VALUES = tuple(role.value for role in Role)
_ROLE_CHECK = "role IN (" + ", ".join(f"'{r}'" for r in ROLE_VALUES) + ")"


class Unit(Audited, db.Model):  # type: ignore[name-defined]
    """An agency or jurisdiction, e.g. "Forensic Centre, Ministry of Interior"."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2), default="")
    # "" = not chosen: the language of the unit's pages for people who chose none (qms.i18n.languages).
    language: Mapped[str] = mapped_column(String(16), default="")
    # IANA name; "" = QMS_DEFAULT_TIMEZONE. Times are stored in UTC and shown in this zone.
    timezone: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Audited, UserMixin, db.Model):  # type: ignore[name-defined]
    __tablename__ = "user_account"
    __audit_redact__ = frozenset({"password_hash", "mfa_secret"})

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    mfa_secret: Mapped[str | None] = mapped_column(String(64))
    mfa_enrolled_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    language: Mapped[str] = mapped_column(String(16), default="")  # "" = the unit's, then the browser's
    # No longer used: sessions end on the server (LoginSession); kept until a migration drops it.
    auth_epoch: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Membership.id"
    )

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_active(self) -> bool:  # Flask-Login asks this
        return self.active

    @property
    def mfa_enrolled(self) -> bool:
        return self.mfa_enrolled_at is not None



class Membership(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A role a user holds in a unit; a user may hold several roles in several units."""

    __tablename__ = "membership"
    __table_args__ = (
        UniqueConstraint("user_id", "unit_id", "role"),
        CheckConstraint(_ROLE_CHECK, name="role_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    unit: Mapped[Unit] = relationship()


class ApiToken(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A personal API token, stored as a SHA-256 hash, limited to one unit and one role."""

    __tablename__ = "api_token"
    __audit_redact__ = frozenset({"token_hash"})
    __table_args__ = (CheckConstraint(_ROLE_CHECK, name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


def scope_criteria(units: tuple[int, ...]) -> list[object]:
    """A request sees its own units and the people who are members of them (given to `qms.scoping`)."""
    members = select(Membership.user_id).where(Membership.unit_id.in_(units))
    return [with_loader_criteria(Unit, Unit.id.in_(units), include_aliases=True),
            with_loader_criteria(User, User.id.in_(members), include_aliases=True)]


class LoginAttempt(db.Model):  # type: ignore[name-defined]
    """Every password or code check (login, MFA, signature, hand-over...): the security log and the throttle's memory."""

    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    succeeded: Mapped[bool]
    reason: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(32), default="login")
    ip: Mapped[str] = mapped_column(String(64), default="", index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class LoginSession(db.Model):  # type: ignore[name-defined]
    """A browser session on the server: the cookie carries its id, its end is kept here.

    Only the SHA-256 of the id is stored, so a reader of the database cannot take over a session.
    Not on the audit trail: `last_seen_at` moves with use; the start and end are in the security log.
    """

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str] = mapped_column(String(64), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")

    def open_at(self, now: datetime) -> bool:
        return self.ended_at is None and self.expires_at > now


class RecoveryCode(db.Model):  # type: ignore[name-defined]
    """A single-use MFA recovery code, stored as a SHA-256 hash (the codes are random, not chosen)."""

    __tablename__ = "mfa_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class PasswordReset(Audited, db.Model):  # type: ignore[name-defined]
    """A one-time password reset code an administrator of the unit issued; hashed, expiring, single use."""

    __tablename__ = "password_reset"
    __audit_redact__ = frozenset({"code_hash"})

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reset_mfa: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


# The digest preference belongs to a user; its package is no domain, so its model is registered here.
from qms.notify import models as _notify_models  # noqa: E402,F401
