"""Accounts: login, throttling, MFA, users, memberships and API tokens."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
from flask import current_app
from sqlalchemy import func, select

from qms.auth.models import ApiToken, LoginAttempt, Membership, Role, Unit, User
from qms.auth.passwords import DUMMY_HASH, check_policy, hash_password, verify_password
from qms.db import utcnow
from qms.extensions import db

MFA_ROLES = frozenset({Role.ADMIN, Role.QUALITY_MANAGER})
TOKEN_PREFIX = "qms_"


class AuthError(Exception):
    """A refused login or account action; the message is safe to show."""

    status = 400


class LoginThrottled(AuthError):
    status = 429


class AccountError(ValueError):
    """Bad input for an account action; the message is safe to show."""


@dataclass(frozen=True)
class LoginResult:
    user: User
    needs_mfa_code: bool
    must_enrol_mfa: bool


def _unscoped(stmt):  # type: ignore[no-untyped-def]
    return stmt.execution_options(unscoped=True)


def find_user(username: str) -> User | None:
    return db.session.scalar(_unscoped(select(User).where(User.username == username.strip())))


def recent_failures(username: str, now: datetime) -> int:
    window = timedelta(minutes=current_app.config["LOGIN_WINDOW_MINUTES"])
    stmt = select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == username, LoginAttempt.succeeded.is_(False), LoginAttempt.at > now - window
    )
    return db.session.scalar(_unscoped(stmt)) or 0


def _record_attempt(username: str, user: User | None, *, ok: bool, reason: str, ip: str) -> None:
    db.session.add(LoginAttempt(username=username[:64], user_id=user.id if user else None,
                                succeeded=ok, reason=reason, ip=ip[:64]))
    db.session.flush()


def memberships_of(user: User) -> list[Membership]:
    """All of a user's memberships, in every unit (the request scope does not apply)."""
    stmt = select(Membership).where(Membership.user_id == user.id).order_by(Membership.id)
    return list(db.session.scalars(_unscoped(stmt)))


def roles_in(user: User, unit_id: int | None) -> frozenset[Role]:
    return frozenset(Role(m.role) for m in memberships_of(user) if m.unit_id == unit_id)


def mfa_required_for(user: User) -> bool:
    if not current_app.config["MFA_REQUIRED"]:
        return False
    return any(Role(m.role) in MFA_ROLES for m in memberships_of(user))


def authenticate(username: str, password: str, otp: str, *, ip: str) -> LoginResult:
    """Check a login; every attempt is recorded, the 11th failure in the window is throttled."""
    username = username.strip()
    now = utcnow()
    if recent_failures(username, now) >= current_app.config["LOGIN_MAX_FAILURES"]:
        _record_attempt(username, None, ok=False, reason="throttled", ip=ip)
        raise LoginThrottled("Too many failed attempts for this account. Try again in 15 minutes.")
    user = find_user(username)
    if user is None:
        verify_password(DUMMY_HASH, password)
        return _fail(username, None, "unknown user", ip)
    if not verify_password(user.password_hash, password):
        return _fail(username, user, "bad password", ip)
    if not user.active:
        return _fail(username, user, "disabled", ip)
    if user.mfa_enrolled:
        if not otp:
            return LoginResult(user, needs_mfa_code=True, must_enrol_mfa=False)
        if not verify_totp(user, otp):
            return _fail(username, user, "bad MFA code", ip, message="The MFA code is not valid.")
    _record_attempt(username, user, ok=True, reason="ok", ip=ip)
    return LoginResult(user, needs_mfa_code=False, must_enrol_mfa=mfa_required_for(user) and not user.mfa_enrolled)


def _fail(username: str, user: User | None, reason: str, ip: str, *, message: str = "") -> LoginResult:
    _record_attempt(username, user, ok=False, reason=reason, ip=ip)
    raise AuthError(message or "Unknown user name or wrong password.")


# --- MFA --------------------------------------------------------------------------------------

def verify_totp(user: User, code: str) -> bool:
    if not user.mfa_secret:
        return False
    return pyotp.TOTP(user.mfa_secret).verify(code.strip().replace(" ", ""), valid_window=1)


def new_mfa_secret() -> str:
    return pyotp.random_base32()


def enrolment_qr_svg(user: User, secret: str) -> str:
    """The otpauth:// URI as an inline SVG QR code (no script, no external request)."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="CSI-QMS")
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#111", light="#fff")


def enrol_mfa(user: User, secret: str, code: str) -> None:
    if not pyotp.TOTP(secret).verify(code.strip().replace(" ", ""), valid_window=1):
        raise AccountError("The code does not match: check the clock of your device and try again.")
    user.mfa_secret = secret
    user.mfa_enrolled_at = utcnow()
    db.session.flush()


# --- Users and memberships --------------------------------------------------------------------

def create_user(*, username: str, full_name: str, password: str, email: str = "",
                unit: Unit | None = None, roles: tuple[Role, ...] = ()) -> User:
    username = username.strip()
    if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise AccountError("A user name uses letters, digits, '.', '-' and '_' only.")
    if find_user(username) is not None:
        raise AccountError(f"The user name {username!r} is taken.")
    check_policy(password, username=username, min_length=current_app.config["PASSWORD_MIN_LENGTH"])
    user = User(username=username, full_name=full_name.strip(), email=email.strip(),
                password_hash=hash_password(password))
    db.session.add(user)
    db.session.flush()
    if unit is not None:
        for role in roles:
            grant_role(user, unit, role)
    return user


def grant_role(user: User, unit: Unit, role: Role) -> Membership:
    existing = next((m for m in memberships_of(user) if m.unit_id == unit.id and m.role == role), None)
    if existing:
        return existing
    membership = Membership(user_id=user.id, unit_id=unit.id, role=role.value)
    db.session.add(membership)
    db.session.flush()
    return membership


def revoke_role(user: User, unit_id: int, role: Role) -> None:
    for membership in memberships_of(user):
        if membership.unit_id == unit_id and membership.role == role:
            db.session.delete(membership)
    db.session.flush()


def change_password(user: User, current: str, new: str) -> None:
    if not verify_password(user.password_hash, current):
        raise AccountError("The current password is wrong.")
    check_policy(new, username=user.username, min_length=current_app.config["PASSWORD_MIN_LENGTH"])
    user.password_hash = hash_password(new)
    user.auth_epoch += 1
    db.session.flush()


def set_active(user: User, active: bool) -> None:
    user.active = active
    if not active:
        user.auth_epoch += 1
    db.session.flush()


def create_unit(*, code: str, name: str, country: str = "") -> Unit:
    code = code.strip().upper()
    if not code or not name.strip():
        raise AccountError("A unit needs a code and a name.")
    if db.session.scalar(_unscoped(select(Unit).where(Unit.code == code))):
        raise AccountError(f"The unit code {code!r} is taken.")
    unit = Unit(code=code, name=name.strip(), country=country.strip().upper()[:2])
    db.session.add(unit)
    db.session.flush()
    return unit


def units_of(user: User) -> list[Unit]:
    """Every unit the user belongs to (for the unit switcher), regardless of the active one."""
    stmt = select(Unit).join(Membership, Membership.unit_id == Unit.id).where(
        Membership.user_id == user.id).distinct().order_by(Unit.name)
    return list(db.session.scalars(_unscoped(stmt)))


# --- API tokens -------------------------------------------------------------------------------

def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, *, unit_id: int, role: Role, name: str, days: int | None = 90) -> tuple[ApiToken, str]:
    """A new token; the clear text is returned once and never stored."""
    if role not in roles_in(user, unit_id):
        raise AccountError("A token can only carry a role you hold in that unit.")
    if not name.strip():
        raise AccountError("Give the token a name, so you can recognise it later.")
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, unit_id=unit_id, role=role.value, name=name.strip()[:100],
                     prefix=clear[:12], token_hash=_token_digest(clear),
                     expires_at=utcnow() + timedelta(days=days) if days else None)
    db.session.add(token)
    db.session.flush()
    return token, clear


def token_identity(clear: str) -> tuple[User, int, Role] | None:
    """The user, unit and role a bearer token stands for, or None if it is not usable."""
    token = db.session.scalar(_unscoped(select(ApiToken).where(ApiToken.token_hash == _token_digest(clear))))
    if token is None or not token.usable(utcnow()):
        return None
    user = db.session.get(User, token.user_id, execution_options={"unscoped": True})
    role = Role(token.role)
    if user is None or not user.active or role not in roles_in(user, token.unit_id):
        return None
    return user, token.unit_id, role


def revoke_token(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()


def check_second_factor(user: User | None, code: str, *, ip: str) -> LoginResult:
    """The second step of a login for a user with MFA: the TOTP code, throttled like passwords."""
    if user is None or not user.active:
        raise AuthError("Log in with your password first.")
    if recent_failures(user.username, utcnow()) >= current_app.config["LOGIN_MAX_FAILURES"]:
        _record_attempt(user.username, user, ok=False, reason="throttled", ip=ip)
        raise LoginThrottled("Too many failed attempts for this account. Try again in 15 minutes.")
    if not verify_totp(user, code):
        return _fail(user.username, user, "bad MFA code", ip, message="The MFA code is not valid.")
    _record_attempt(user.username, user, ok=True, reason="ok", ip=ip)
    return LoginResult(user, needs_mfa_code=False, must_enrol_mfa=False)
