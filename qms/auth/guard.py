"""The per-request gate: who is asking, which unit they act in, and whether they may.

Runs before every request. It identifies the caller (API bearer token or session login),
sets the query scope to their active unit, and applies the endpoint's declared `Access`.
"""
from __future__ import annotations

import uuid

from flask import Flask, abort, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _, refresh
from flask_login import current_user
from werkzeug.wrappers import Response

from qms.auth import services, sessions
from qms.auth.models import Role, User, scope_criteria
from qms.auth.permissions import Access, access_of
from qms.extensions import csrf, db, login_manager
from qms.scoping import add_scope_criteria, set_scope

# Flask's static files are served by a bound method, which cannot carry a declaration.
PUBLIC_ENDPOINTS = {"static"}
# Pages a user who still has to enrol MFA may reach.
ENROLMENT_ENDPOINTS = {"auth.mfa_setup", "auth.mfa_enrol", "auth.logout", "static", "main.health"}


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The user of an open server-side session: the cookie alone (e.g. a copy kept after logout) is not enough."""
    clear = session.get("sid")
    if not user_id.isdigit() or not isinstance(clear, str):
        return None
    user = db.session.get(User, int(user_id), execution_options={"unscoped": True})
    if user is None or not user.active:
        return None
    row = sessions.open_session(clear, user.id)
    if row is None:
        return None  # ended (logout, password change, by its owner) or expired
    g.qms_session_id = row.id
    return user


def _identify_bearer() -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return False
    identity = services.token_identity(header.removeprefix("Bearer ").strip())
    if identity is None:
        abort(401, description=_("The API token is unknown, expired or revoked."))
    user, unit_id, role = identity
    services.require_mfa_for_token(user)
    _bind(user, unit_id, frozenset({role}))
    g.qms_via_token = True
    return True


def _identify_session() -> None:
    if not current_user.is_authenticated:
        set_scope(())
        return
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    memberships = services.memberships_of(user)
    units = [m.unit_id for m in memberships]
    unit_id = session.get("unit_id")
    if unit_id not in units:
        unit_id = units[0] if units else None
        session["unit_id"] = unit_id
    _bind(user, unit_id, frozenset(Role(m.role) for m in memberships if m.unit_id == unit_id))


def _bind(user: User, unit_id: int | None, roles: frozenset[Role]) -> None:
    g.qms_user = user
    g.qms_unit_id = unit_id
    g.qms_roles = roles
    set_scope(() if unit_id is None else (unit_id,))
    refresh()  # the language and time zone follow the person and unit now known


def _api_write_needs_csrf() -> bool:
    from flask import current_app

    return (request.path.startswith("/api/") and request.method not in ("GET", "HEAD", "OPTIONS")
            and current_app.config.get("WTF_CSRF_ENABLED", True))


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def gate() -> Response | None:
    # Under one long-lived app context (tests, CLI-driven requests) `g` outlives a request:
    # forget any user Flask-Login resolved, and the outcome of, an earlier one.
    g.pop("_login_user", None)
    g.pop("qms_session_id", None)
    g.request_id = str(uuid.uuid4())
    g.qms_user, g.qms_unit_id, g.qms_roles, g.qms_via_token = None, None, frozenset(), False
    set_scope(())
    if request.endpoint is None:
        return None  # 404/405 follow
    access = Access(public=True) if request.endpoint in PUBLIC_ENDPOINTS else access_of(_view_for(request.endpoint))
    if access is None:
        abort(403, description=_("This page has no access rule; it is closed until one is declared."))
    via_token = _identify_bearer()
    if not via_token:
        _identify_session()
    if g.qms_user is None and not access.public:
        # Who is asking comes first: a caller with no credentials is told to log in (401), not that
        # a CSRF token is missing (which only a signed-in browser session could send).
        if _wants_json():
            abort(401, description=_("Log in or send an API token."))
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
    if not via_token and _api_write_needs_csrf():
        csrf.protect()  # the API is CSRF-exempt only for bearer tokens
    if access.public:
        return None
    if session.get("must_enrol_mfa") and not g.qms_via_token and request.endpoint not in ENROLMENT_ENDPOINTS:
        flash(_("Your role requires multi-factor authentication: enrol an authenticator app first."), "warning")
        return redirect(url_for("auth.mfa_setup"))
    if not access.allows(request.method, g.qms_roles):
        abort(403, description=_("Your role in this unit does not allow this."))
    return None


def _view_for(endpoint: str):  # type: ignore[no-untyped-def]
    from flask import current_app

    return current_app.view_functions.get(endpoint)


def init_app(app: Flask) -> None:
    add_scope_criteria(scope_criteria)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
    app.before_request(gate)
