from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _, refresh
from flask_login import login_user, logout_user
from sqlalchemy import select

from qms.auth import bp, services, sessions
from qms.auth.forms import (ActiveForm, DigestForm, LanguageForm, LoginForm, MfaCodeForm, MfaLoginForm,
                            PasswordChangeForm, PasswordResetForm, ReasonForm, ResetIssueForm, RoleForm, TokenForm,
                            UnitForm, UserForm)
from qms.auth.models import ApiToken, LoginSession, Role, Unit, User
from qms.auth.permissions import public, requires, signed_in
from qms.db import utcnow
from qms.errors import Refused, check_form, page_again
from qms.extensions import db
from qms.trail.audited import audit_reason

ADMIN = {Role.ADMIN}
MFA_PENDING_SECONDS = 300


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("main.dashboard")


def _start_session(user: User, *, must_enrol: bool) -> None:
    next_url = session.get("login_next")
    session.clear()  # a fresh session at every login: no fixation
    _, clear = sessions.start_session(user, ip=services.client_address(),
                                      user_agent=request.headers.get("User-Agent", ""))
    session["sid"] = clear
    login_user(user)
    session["must_enrol_mfa"] = must_enrol
    session["login_next"] = next_url


# --- login and logout ---------------------------------------------------------------------------

@bp.get("/login")
@public
def login():  # type: ignore[no-untyped-def]
    if request.method == "GET":  # not when shown again after a refused POST: keep where the login leads
        session["login_next"] = _safe_next(request.args.get("next"))
    return render_template("auth/login.html", form=LoginForm())


@bp.post("/login")
@public
def login_post():  # type: ignore[no-untyped-def]
    form = LoginForm()
    check_form(form)
    result = services.authenticate(form.username.data, form.password.data)
    if result.needs_mfa_code:
        session["mfa_pending"] = {"user": result.user.id, "at": utcnow().timestamp()}
        return redirect(url_for("auth.login_mfa"))
    return _finish_login(result)


def _finish_login(result: services.LoginResult):  # type: ignore[no-untyped-def]
    _start_session(result.user, must_enrol=result.must_enrol_mfa)
    if result.must_enrol_mfa:
        return redirect(url_for("auth.mfa_setup"))
    return redirect(_safe_next(session.pop("login_next", None)))


def _pending_user() -> User | None:
    pending = session.get("mfa_pending")
    if not pending or utcnow().timestamp() - pending["at"] > MFA_PENDING_SECONDS:
        return None
    return db.session.get(User, pending["user"], execution_options={"unscoped": True})


@bp.get("/login/mfa")
@public
def login_mfa():  # type: ignore[no-untyped-def]
    if _pending_user() is None:
        flash(_("Log in with your password first."), "warning")
        return redirect(url_for("auth.login"))
    return render_template("auth/login_mfa.html", form=MfaLoginForm())


@bp.post("/login/mfa")
@public
def login_mfa_post():  # type: ignore[no-untyped-def]
    user = _pending_user()
    if user is None:
        flash(_("Log in with your password first."), "warning")
        return redirect(url_for("auth.login"))
    form = MfaLoginForm()
    check_form(form)
    result = services.check_second_factor(user, form.code.data)
    session.pop("mfa_pending", None)
    return _finish_login(result)


@bp.post("/logout")
@signed_in
def logout():  # type: ignore[no-untyped-def]
    current = _current_session()
    if current is not None:
        sessions.end_session(current, reason="logout")
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


def _current_session() -> LoginSession | None:
    session_id = g.get("qms_session_id")
    return db.session.get(LoginSession, session_id) if session_id else None


# --- password reset with a code from an administrator --------------------------------------------

@bp.get("/reset-password")
@public
def password_reset():  # type: ignore[no-untyped-def]
    form = PasswordResetForm(code=request.args.get("code", ""), username=request.args.get("user", ""))
    return render_template("auth/password_reset.html", form=form)


@bp.post("/reset-password")
@public
def password_reset_post():  # type: ignore[no-untyped-def]
    form = PasswordResetForm()
    check_form(form)
    services.use_password_reset(form.username.data, form.code.data, form.new.data)
    flash(_("Your password is set. Log in with it."), "success")
    return redirect(url_for("auth.login"))


# --- the person's own account --------------------------------------------------------------------

@bp.get("/account")
@signed_in
def account():  # type: ignore[no-untyped-def]
    from qms.notify.digest import digest_wanted

    return render_template("auth/account.html", password_form=PasswordChangeForm(),
                           digest_form=DigestForm(digest=digest_wanted(g.qms_user.id)),
                           language_form=LanguageForm(language=g.qms_user.language),
                           memberships=services.memberships_of(g.qms_user),
                           sessions=sessions.open_sessions_of(g.qms_user), current_session_id=g.get("qms_session_id"),
                           recovery_codes_left=services.recovery_codes_left(g.qms_user))


@bp.post("/account/password")
@signed_in
@page_again("auth.account")
def change_password():  # type: ignore[no-untyped-def]
    form = PasswordChangeForm()
    check_form(form)
    services.change_password(g.qms_user, form.current.data, form.new.data, keep_session_id=g.get("qms_session_id"))
    flash(_("Your password is changed; your other sessions are logged out."), "success")
    return redirect(url_for("auth.account"))


@bp.post("/account/language")
@signed_in
@page_again("auth.account")
def change_language():  # type: ignore[no-untyped-def]
    form = LanguageForm()
    check_form(form)
    services.set_language(g.qms_user, form.language.data or "")
    refresh()  # the confirmation, and the page after, in the language just chosen
    flash(_("Your language is saved."), "success")
    return redirect(_safe_next(form.next.data) if form.next.data else url_for("auth.account"))


@bp.post("/account/digest")
@signed_in
@page_again("auth.account")
def change_digest():  # type: ignore[no-untyped-def]
    from qms.notify.digest import set_digest

    form = DigestForm()
    check_form(form)
    set_digest(g.qms_user, bool(form.digest.data))
    flash(_("You will receive the daily e-mail digest.") if form.digest.data
          else _("The daily e-mail digest is off; your dashboard still shows what waits for you."), "success")
    return redirect(url_for("auth.account"))


@bp.post("/account/sessions/<int:session_id>/end")
@signed_in
@page_again("auth.account")
def end_session(session_id: int):  # type: ignore[no-untyped-def]
    sessions.end_own_session(g.qms_user, session_id)
    flash(_("The session is ended."), "success")
    return redirect(url_for("auth.account"))


@bp.post("/account/sessions/end-others")
@signed_in
@page_again("auth.account")
def end_other_sessions():  # type: ignore[no-untyped-def]
    sessions.end_sessions_of(g.qms_user, reason="ended by its owner", except_id=g.get("qms_session_id"))
    flash(_("Your other sessions are ended."), "success")
    return redirect(url_for("auth.account"))


@bp.get("/account/mfa")
@signed_in
def mfa_setup():  # type: ignore[no-untyped-def]
    secret = session.get("mfa_secret_pending") or services.new_mfa_secret()
    session["mfa_secret_pending"] = secret
    return render_template("auth/mfa_setup.html", form=MfaCodeForm(), secret=secret,
                           qr_svg=services.enrolment_qr_svg(g.qms_user, secret))


@bp.post("/account/mfa")
@signed_in
def mfa_enrol():  # type: ignore[no-untyped-def]
    form = MfaCodeForm()
    check_form(form)
    secret = session.get("mfa_secret_pending")
    if not secret:
        return redirect(url_for("auth.mfa_setup"))
    codes = services.enrol_mfa(g.qms_user, secret, form.code.data)
    session.pop("mfa_secret_pending", None)
    session["must_enrol_mfa"] = False
    flash(_("Multi-factor authentication is on for your account."), "success")
    return render_template("auth/recovery_codes.html", codes=codes)


# --- API tokens -------------------------------------------------------------------------------

def _tokens_page(form: TokenForm, clear: str | None = None):  # type: ignore[no-untyped-def]
    mine = db.session.scalars(select(ApiToken).where(ApiToken.user_id == g.qms_user.id).order_by(ApiToken.id.desc()))
    return render_template("auth/tokens.html", form=form, tokens=list(mine), clear=clear, now=utcnow())


@bp.get("/account/tokens")
@signed_in
def tokens():  # type: ignore[no-untyped-def]
    return _tokens_page(TokenForm())


@bp.post("/account/tokens")
@signed_in
def token_issue():  # type: ignore[no-untyped-def]
    form = TokenForm()
    check_form(form)
    _, clear = services.issue_token(g.qms_user, unit_id=g.qms_unit_id, role=Role(form.role.data),
                                    name=form.name.data, days=form.days.data)
    return _tokens_page(TokenForm(formdata=None), clear)


@bp.post("/account/tokens/<int:token_id>/revoke")
@signed_in
def revoke_token(token_id: int):  # type: ignore[no-untyped-def]
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != g.qms_user.id:
        abort(404, description=_("No such token."))
    services.revoke_token(token)
    flash(_("Token %(prefix)s… is revoked.", prefix=token.prefix), "success")
    return redirect(url_for("auth.tokens"))


# --- Administration of the unit's users -------------------------------------------------------

@bp.get("/admin/users")
@requires(ADMIN)
def users():  # type: ignore[no-untyped-def]
    rows = db.session.scalars(select(User).order_by(User.username))
    return render_template("auth/users.html", users=list(rows))


@bp.get("/admin/users/new")
@requires(ADMIN)
def user_new():  # type: ignore[no-untyped-def]
    return render_template("auth/user_new.html", form=UserForm())


@bp.post("/admin/users/new")
@requires(ADMIN)
def user_create():  # type: ignore[no-untyped-def]
    form = UserForm()
    check_form(form)
    user = services.create_user(username=form.username.data, full_name=form.full_name.data,
                                email=form.email.data or "", password=form.password.data,
                                unit=db.session.get(Unit, g.qms_unit_id),
                                roles=tuple(Role(r) for r in form.roles.data))
    flash(_("User %(name)s is created.", name=user.username), "success")
    return redirect(url_for("auth.user_detail", user_id=user.id))


def _unit_user(user_id: int) -> User:
    user = db.session.get(User, user_id)  # scoped: users of other units are not found
    if user is None:  # (abort, not a refusal: the user's page cannot be shown again either)
        abort(404, description=_("No such user in this unit."))
    return user


@bp.get("/admin/users/<int:user_id>")
@requires(ADMIN)
def user_detail(user_id: int):  # type: ignore[no-untyped-def]
    user = _unit_user(user_id)
    roles = sorted(services.roles_in(user, g.qms_unit_id))
    return render_template("auth/user_detail.html", user=user, roles=roles, role_form=RoleForm(),
                           revoke_form=ReasonForm(), active_form=ActiveForm(active=user.active),
                           reset_form=ResetIssueForm())


@bp.post("/admin/users/<int:user_id>/roles")
@requires(ADMIN)
@page_again("auth.user_detail")
def user_grant_role(user_id: int):  # type: ignore[no-untyped-def]
    user = _unit_user(user_id)
    form = RoleForm()
    check_form(form)
    services.grant_role(user, db.session.get(Unit, g.qms_unit_id), Role(form.role.data))
    flash(_("%(name)s now holds the role %(role)s.", name=user.username, role=Role(form.role.data).label), "success")
    return redirect(url_for("auth.user_detail", user_id=user.id))


@bp.post("/admin/users/<int:user_id>/roles/<role>/revoke")
@requires(ADMIN)
@page_again("auth.user_detail")
def user_revoke_role(user_id: int, role: str):  # type: ignore[no-untyped-def]
    user = _unit_user(user_id)
    form = ReasonForm()
    if role not in {r.value for r in Role}:
        abort(404, description=_("No such role."))
    check_form(form)
    with audit_reason(db.session, form.reason.data):
        services.revoke_role(user, g.qms_unit_id, Role(role))
    flash(_("%(name)s no longer holds the role %(role)s.", name=user.username, role=Role(role).label), "success")
    return redirect(url_for("auth.user_detail", user_id=user.id))


@bp.post("/admin/users/<int:user_id>/active")
@requires(ADMIN)
@page_again("auth.user_detail")
def user_set_active(user_id: int):  # type: ignore[no-untyped-def]
    user = _unit_user(user_id)
    form = ActiveForm()
    check_form(form)
    if user.id == g.qms_user.id and not form.active.data:
        raise Refused(_("You cannot disable your own account."))
    with audit_reason(db.session, form.reason.data):
        services.set_active(user, bool(form.active.data))
    flash(_("%(name)s is active.", name=user.username) if user.active
          else _("%(name)s is disabled.", name=user.username), "success")
    return redirect(url_for("auth.user_detail", user_id=user.id))


@bp.post("/admin/users/<int:user_id>/password-reset")
@requires(ADMIN)
@page_again("auth.user_detail")
def user_password_reset(user_id: int):  # type: ignore[no-untyped-def]
    user = _unit_user(user_id)
    form = ResetIssueForm()
    check_form(form)
    with audit_reason(db.session, form.reason.data):
        reset, clear = services.issue_password_reset(user, issued_by=g.qms_user, reset_mfa=bool(form.reset_mfa.data))
    link = url_for("auth.password_reset", user=user.username, code=clear, _external=True)
    return render_template("auth/reset_issued.html", user=user, reset=reset, code=clear, link=link)


@bp.get("/admin/unit")
@requires(ADMIN)
def unit_settings():  # type: ignore[no-untyped-def]
    unit = _own_unit()
    return render_template("auth/unit.html", form=UnitForm(obj=unit), unit=unit)


@bp.post("/admin/unit")
@requires(ADMIN)
def unit_update():  # type: ignore[no-untyped-def]
    unit = _own_unit()
    form = UnitForm()
    check_form(form)
    services.update_unit(unit, name=form.name.data, country=form.country.data or "",
                         language=form.language.data or "", timezone=form.timezone.data or "")
    refresh()  # its language may have changed
    flash(_("The unit is updated."), "success")
    return redirect(url_for("auth.unit_settings"))


def _own_unit() -> Unit:
    unit = db.session.get(Unit, g.qms_unit_id)
    if unit is None:
        abort(404, description=_("You are not a member of any unit."))
    return unit
