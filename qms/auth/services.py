"""Accounts: login, the one password check and its throttle, MFA, users, memberships, resets and API tokens."""
from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
from flask import current_app, has_request_context, request
from flask_babel import gettext as _, ngettext
from sqlalchemy import func, select, update

from qms.auth import sessions, throttle
from qms.auth.models import ApiToken, LoginAttempt, Membership, PasswordReset, RecoveryCode, Role, Unit, User
from qms.auth.passwords import DUMMY_HASH, check_policy, hash_password, verify_password
from qms.db import utcnow
from qms.errors import AuthenticationFailed, InvalidInput, NotPermitted, Throttled
from qms.extensions import db
from qms.i18n.languages import is_shipped

MFA_ROLES = frozenset({Role.ADMIN, Role.QUALITY_MANAGER})
TOKEN_PREFIX = "qms_"


class AccountError(InvalidInput):
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


def client_address() -> str:
    """The address the request came from ("" outside a request, e.g. a CLI command)."""
    return (request.remote_addr or "") if has_request_context() else ""


def recent_failures(username: str, now: datetime) -> int:
    """Failed checks of an account's password or codes within the throttle's window (for reports)."""
    window = timedelta(minutes=current_app.config["LOGIN_WINDOW_MINUTES"])
    stmt = select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == username, LoginAttempt.succeeded.is_(False), LoginAttempt.at > now - window)
    return db.session.scalar(_unscoped(stmt)) or 0


def _record_attempt(username: str, user: User | None, *, ok: bool, reason: str, purpose: str, ip: str) -> None:
    db.session.add(LoginAttempt(username=username[:64], user_id=user.id if user else None, succeeded=ok,
                                reason=reason[:64], purpose=purpose[:32], ip=ip[:64]))
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


# --- the one password check -------------------------------------------------------------------

def check_password(user_or_username: User | str, password: str, *, purpose: str, ip: str | None = None,
                   otp: str | None = None, unit_id: int | None = None) -> User:
    """Check a password (and, when `otp` is given, the MFA code of an enrolled user), throttled and recorded.

    Every check of a password anywhere (login, password change, signatures, custody parties)
    comes here: the attempt is recorded with its purpose and address whatever the outcome,
    and a refusal never says whether the user name exists. With `unit_id`, a person who is not
    a member of that unit is refused exactly like an unknown name (a hand-over form of one unit
    does not confirm the passwords of another's people). Raises `AuthenticationFailed` or
    `Throttled`, both of which keep the recorded attempt.
    """
    given = user_or_username if isinstance(user_or_username, User) else None
    username = given.username if given else (user_or_username or "").strip()[:64]
    ip = client_address() if ip is None else ip
    _throttle(username, given, purpose=purpose, ip=ip)
    user = given or find_user(username)
    wrong = _("The password is not correct: nothing was signed or recorded.") if given else \
        _("Unknown user name or wrong password.")
    outsider = user is not None and unit_id is not None and unit_id not in {m.unit_id for m in memberships_of(user)}
    if user is None or not user.active or outsider:
        verify_password(DUMMY_HASH, password or "")  # the same time whether the name exists or not
        reason = "unknown user" if user is None else "disabled" if not user.active else "not in unit"
        _refuse(username, user, reason, purpose, ip, wrong)
    assert user is not None
    if not verify_password(user.password_hash, password or ""):
        _refuse(username, user, "bad password", purpose, ip, wrong)
    if otp is not None and user.mfa_enrolled and not _second_factor_ok(user, otp):
        _refuse(username, user, "bad MFA code", purpose, ip, _("The MFA code is not valid."))
    _record_attempt(username, user, ok=True, reason="ok", purpose=purpose, ip=ip)
    return user


def check_mfa_code(user: User, code: str, *, purpose: str, ip: str | None = None) -> User:
    """The second step of a login: a TOTP or recovery code, through the same throttle and record."""
    ip = client_address() if ip is None else ip
    _throttle(user.username, user, purpose=purpose, ip=ip)
    if not user.active or not _second_factor_ok(user, code):
        _refuse(user.username, user, "bad MFA code", purpose, ip, _("The MFA code is not valid."))
    _record_attempt(user.username, user, ok=True, reason="ok", purpose=purpose, ip=ip)
    return user


def _throttle(username: str, user: User | None, *, purpose: str, ip: str) -> None:
    wait = throttle.seconds_to_wait(username, ip, utcnow())
    if wait > 0:
        _record_attempt(username, user, ok=False, reason=throttle.THROTTLED, purpose=purpose, ip=ip)
        raise Throttled(ngettext("Too many failed attempts. Wait %(num)d second, then try again.",
                                 "Too many failed attempts. Wait %(num)d seconds, then try again.", math.ceil(wait)))


def _refuse(username: str, user: User | None, reason: str, purpose: str, ip: str, message: str) -> None:
    _record_attempt(username, user, ok=False, reason=reason, purpose=purpose, ip=ip)
    raise AuthenticationFailed(message)


def authenticate(username: str, password: str, *, ip: str | None = None) -> LoginResult:
    """The first step of a login: the password; then the MFA code, or MFA enrolment, may follow."""
    user = check_password(username, password, purpose="login", ip=ip)
    if user.mfa_enrolled:
        return LoginResult(user, needs_mfa_code=True, must_enrol_mfa=False)
    return LoginResult(user, needs_mfa_code=False, must_enrol_mfa=mfa_required_for(user))


def check_second_factor(user: User | None, code: str, *, ip: str | None = None) -> LoginResult:
    """The second step of a login for a user with MFA: a TOTP code or a recovery code."""
    if user is None or not user.active:
        raise AuthenticationFailed(_("Log in with your password first."))
    check_mfa_code(user, code, purpose="login MFA", ip=ip)
    return LoginResult(user, needs_mfa_code=False, must_enrol_mfa=False)


# --- MFA --------------------------------------------------------------------------------------

def verify_totp(user: User, code: str) -> bool:
    if not user.mfa_secret:
        return False
    return pyotp.TOTP(user.mfa_secret).verify(code.strip().replace(" ", ""), valid_window=1)


def _second_factor_ok(user: User, code: str) -> bool:
    code = (code or "").strip()
    if code.replace(" ", "").isdigit():
        return verify_totp(user, code)
    return use_recovery_code(user, code)


def _code_digest(code: str) -> str:
    normalised = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(normalised.encode()).hexdigest()


def _new_code(groups: int) -> str:
    """A random code in groups of four letters and digits (no 0/O, 1/l to misread), e.g. k7dq-9xmr-..."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(groups))


def new_recovery_codes(user: User) -> list[str]:
    """Fresh recovery codes (shown once, stored hashed); the unused earlier ones stop working."""
    now = utcnow()
    db.session.execute(update(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
                       .values(used_at=now))
    codes = [_new_code(3) for _ in range(current_app.config["MFA_RECOVERY_CODES"])]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_code_digest(code)) for code in codes)
    db.session.flush()
    return codes


def use_recovery_code(user: User, code: str) -> bool:
    """Spend one of the user's recovery codes; a used or unknown code is refused."""
    stmt = select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _code_digest(code),
                                      RecoveryCode.used_at.is_(None)).with_for_update()
    row = db.session.scalar(_unscoped(stmt))
    if row is None:
        return False
    row.used_at = utcnow()
    db.session.flush()
    return True


def recovery_codes_left(user: User) -> int:
    stmt = select(func.count()).select_from(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                                RecoveryCode.used_at.is_(None))
    return db.session.scalar(_unscoped(stmt)) or 0


def new_mfa_secret() -> str:
    return pyotp.random_base32()


def enrolment_qr_svg(user: User, secret: str) -> str:
    """The otpauth:// URI as an inline SVG QR code (no script, no external request)."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="CSI-QMS")
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#111", light="#fff")


def enrol_mfa(user: User, secret: str, code: str) -> list[str]:
    """Turn MFA on with the authenticator's first code; returns the recovery codes, to show once."""
    if not pyotp.TOTP(secret).verify(code.strip().replace(" ", ""), valid_window=1):
        raise AccountError(_("The code does not match: check the clock of your device and try again."))
    user.mfa_secret = secret
    user.mfa_enrolled_at = utcnow()
    db.session.flush()
    return new_recovery_codes(user)


# --- Users and memberships --------------------------------------------------------------------

def create_user(*, username: str, full_name: str, password: str, email: str = "",
                unit: Unit | None = None, roles: tuple[Role, ...] = ()) -> User:
    username = username.strip()
    if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise AccountError(_("A user name uses letters, digits, '.', '-' and '_' only."))
    if find_user(username) is not None:
        # User names are unique on the server: say neither whose it is nor in which unit.
        raise AccountError(_("This user name cannot be used: choose another."), errors={"username": [
            _("This user name cannot be used: choose another.")]})
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


def change_password(user: User, current: str, new: str, *, keep_session_id: int | None = None) -> None:
    """A new password, after the current one is checked; every other session of the person ends."""
    check_password(user, current, purpose="password change")
    _set_password(user, new)
    sessions.end_sessions_of(user, reason="password changed", except_id=keep_session_id)


def _set_password(user: User, new: str) -> None:
    check_policy(new, username=user.username, min_length=current_app.config["PASSWORD_MIN_LENGTH"])
    user.password_hash = hash_password(new)
    db.session.flush()


def set_active(user: User, active: bool) -> None:
    user.active = active
    if not active:
        sessions.end_sessions_of(user, reason="account disabled")
    db.session.flush()


def set_language(user: User, code: str) -> None:
    """The person's language ("": follow the unit's, then the browser's); on the audit trail like any account change."""
    if code and not is_shipped(code):
        raise AccountError(_("This language is not available: choose one from the list."),
                           errors={"language": [_("Choose a language from the list.")]})
    user.language = code
    db.session.flush()


# --- Password reset by an administrator of the unit -------------------------------------------

def issue_password_reset(user: User, *, issued_by: User | None, reset_mfa: bool = False) -> tuple[PasswordReset, str]:
    """A one-time reset code for `user` (clear text returned once; the hash is kept, on the trail)."""
    if not user.active:
        raise AccountError(_("The account is disabled: enable it before resetting its password."))
    clear = _new_code(4)
    hours = current_app.config["PASSWORD_RESET_HOURS"]
    reset = PasswordReset(user_id=user.id, code_hash=_code_digest(clear), reset_mfa=reset_mfa,
                          issued_by_id=issued_by.id if issued_by else None,
                          expires_at=utcnow() + timedelta(hours=hours))
    db.session.add(reset)
    db.session.flush()
    return reset, clear


def use_password_reset(username: str, code: str, new_password: str, *, ip: str | None = None) -> User:
    """Set a new password with a reset code: once, before it expires, throttled like a password."""
    username = (username or "").strip()[:64]
    ip = client_address() if ip is None else ip
    purpose = "password reset"
    _throttle(username, None, purpose=purpose, ip=ip)
    user = find_user(username)
    now = utcnow()
    reset = None if user is None else db.session.scalar(_unscoped(select(PasswordReset).where(
        PasswordReset.user_id == user.id, PasswordReset.code_hash == _code_digest(code or ""),
        PasswordReset.used_at.is_(None)).with_for_update()))
    if user is None or reset is None or reset.expires_at <= now or not user.active:
        _refuse(username, user, "bad reset code", purpose, ip,
                _("The user name or the reset code is not valid, or the code has expired or been used."))
    assert user is not None and reset is not None
    _set_password(user, new_password)
    reset.used_at = now
    if reset.reset_mfa:
        user.mfa_secret, user.mfa_enrolled_at = None, None
        new_recovery_codes(user)  # only to spend the old ones; the new set is never shown
    sessions.end_sessions_of(user, reason="password reset")
    _record_attempt(username, user, ok=True, reason="ok", purpose=purpose, ip=ip)
    return user


def create_unit(*, code: str, name: str, country: str = "") -> Unit:
    code = code.strip().upper()
    if not code or not name.strip():
        raise AccountError(_("A unit needs a code and a name."))
    if db.session.scalar(_unscoped(select(Unit).where(Unit.code == code))):
        raise AccountError(_("The unit code %(code)s is taken.", code=code))
    unit = Unit(code=code, name=name.strip(), country=country.strip().upper()[:2])
    db.session.add(unit)
    db.session.flush()
    for listener in UNIT_CREATED:
        listener(unit)
    return unit


def update_unit(unit: Unit, *, name: str, country: str, language: str, timezone: str) -> None:
    """A unit's name, country, language and time zone (an IANA name such as Europe/Chisinau; "" = the server's)."""
    if language and not is_shipped(language):
        raise AccountError(_("This language is not available: choose one from the list."),
                           errors={"language": [_("Choose a language from the list.")]})
    if timezone and not known_timezone(timezone):
        raise AccountError(_("%(zone)s is not a time zone: use a name such as Europe/Skopje.", zone=timezone),
                           errors={"timezone": [_("Use a time zone name such as Europe/Skopje.")]})
    unit.name, unit.country = name.strip(), country.strip().upper()[:2]
    unit.language, unit.timezone = language, timezone.strip()
    db.session.flush()


def known_timezone(name: str) -> bool:
    from zoneinfo import available_timezones

    return name.strip() in available_timezones()


UNIT_CREATED: list[Callable[[Unit], None]] = []
"""Called with every new unit in its transaction (the people domain seeds its scopes of authorisation)."""


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
        raise AccountError(_("A token can only carry a role you hold in that unit."))
    if not name.strip():
        raise AccountError(_("Give the token a name, so you can recognise it later."))
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


def require_mfa_for_token(user: User) -> None:
    """API tokens follow the browser's rule: a role that needs MFA needs it enrolled first."""
    if mfa_required_for(user) and not user.mfa_enrolled:
        raise NotPermitted(_("Your role requires multi-factor authentication: log in with a browser and enrol an "
                             "authenticator app; your API tokens work again once it is on."))
