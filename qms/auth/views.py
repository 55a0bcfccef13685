from __future__ import annotations


from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user
from sqlalchemy import select

from qms.auth import bp, services
from qms.auth.forms import (ActiveForm, LoginForm, MfaCodeForm, PasswordChangeForm, ReasonForm, RoleForm,
                            TokenForm, UnitForm, UserForm)
from qms.auth.models import ApiToken, Role, Unit, User
from qms.auth.passwords import PasswordPolicyError
from qms.auth.permissions import public, requires, signed_in
from qms.db import utcnow
from qms.extensions import db
from qms.trail.audited import audit_reason

ADMIN = {Role.ADMIN}
MFA_PENDING_SECONDS = 300


def _client_ip() -> str:
    return request.remote_addr or ""


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("main.dashboard")


def _start_session(user: User, *, must_enrol: bool) -> None:
    next_url = session.get("login_next")
    session.clear()  # a fresh session at every login: no fixation
    login_user(user)
    session["must_enrol_mfa"] = must_enrol
    session["login_next"] = next_url


@bp.route("/login", methods=["GET", "POST"])
@public
def login():  # type: ignore[no-untyped-def]
    form = LoginForm()
    if request.method == "GET":
        session["login_next"] = _safe_next(request.args.get("next"))
    if form.validate_on_submit():
        try:
            result = services.authenticate(form.username.data, form.password.data, "", ip=_client_ip())
        except services.AuthError as error:
            flash(str(error), "error")
            return render_template("auth/login.html", form=form), error.status
        if result.needs_mfa_code:
            session["mfa_pending"] = {"user": result.user.id, "at": utcnow().timestamp()}
            return redirect(url_for("auth.login_mfa"))
        return _finish_login(result)
    return render_template("auth/login.html", form=form), 400 if form.errors else 200


def _finish_login(result: services.LoginResult):  # type: ignore[no-untyped-def]
    _start_session(result.user, must_enrol=result.must_enrol_mfa)
    if result.must_enrol_mfa:
        return redirect(url_for("auth.mfa_setup"))
    return redirect(_safe_next(session.pop("login_next", None)))


@bp.route("/login/mfa", methods=["GET", "POST"])
@public
def login_mfa():  # type: ignore[no-untyped-def]
    pending = session.get("mfa_pending")
    if not pending or utcnow().timestamp() - pending["at"] > MFA_PENDING_SECONDS:
        flash("Log in with your password first.", "warning")
        return redirect(url_for("auth.login"))
    form = MfaCodeForm()
    if form.validate_on_submit():
        user = db.session.get(User, pending["user"], execution_options={"unscoped": True})
        try:
            result = services.check_second_factor(user, form.code.data, ip=_client_ip())
        except services.AuthError as error:
            flash(str(error), "error")
            return render_template("auth/login_mfa.html", form=form), error.status
        session.pop("mfa_pending", None)
        return _finish_login(result)
    return render_template("auth/login_mfa.html", form=form), 400 if form.errors else 200


@bp.post("/logout")
@signed_in
def logout():  # type: ignore[no-untyped-def]
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/account")
@signed_in
def account():  # type: ignore[no-untyped-def]
    return render_template("auth/account.html", password_form=PasswordChangeForm(),
                           memberships=services.memberships_of(g.qms_user))


@bp.post("/account/password")
@signed_in
def change_password():  # type: ignore[no-untyped-def]
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            services.change_password(g.qms_user, form.current.data, form.new.data)
        except (services.AccountError, PasswordPolicyError) as error:
            form.new.errors = [str(error)]
        else:
            _start_session(g.qms_user, must_enrol=session.get("must_enrol_mfa", False))
            flash("Your password is changed; other sessions are logged out.", "success")
            return redirect(url_for("auth.account"))
    return render_template("auth/account.html", password_form=form,
                           memberships=services.memberships_of(g.qms_user)), 400


@bp.route("/account/mfa", methods=["GET", "POST"])
@signed_in
def mfa_setup():  # type: ignore[no-untyped-def]
    secret = session.get("mfa_secret_pending") or services.new_mfa_secret()
    session["mfa_secret_pending"] = secret
    form = MfaCodeForm()
    if form.validate_on_submit():
        try:
            services.enrol_mfa(g.qms_user, secret, form.code.data)
        except services.AccountError as error:
            form.code.errors = [str(error)]
        else:
            session.pop("mfa_secret_pending", None)
            session["must_enrol_mfa"] = False
            flash("Multi-factor authentication is on for your account.", "success")
            return redirect(url_for("main.dashboard"))
    status = 400 if form.errors else 200
    return render_template("auth/mfa_setup.html", form=form, secret=secret,
                           qr_svg=services.enrolment_qr_svg(g.qms_user, secret)), status


# --- API tokens -------------------------------------------------------------------------------

@bp.route("/account/tokens", methods=["GET", "POST"])
@signed_in
def tokens():  # type: ignore[no-untyped-def]
    form = TokenForm()
    clear = None
    if form.validate_on_submit():
        try:
            _, clear = services.issue_token(g.qms_user, unit_id=g.qms_unit_id, role=Role(form.role.data),
                                            name=form.name.data, days=form.days.data)
        except services.AccountError as error:
            form.role.errors = [str(error)]
    mine = db.session.scalars(select(ApiToken).where(ApiToken.user_id == g.qms_user.id).order_by(ApiToken.id.desc()))
    status = 400 if form.errors else 200
    return render_template("auth/tokens.html", form=form, tokens=list(mine), clear=clear, now=utcnow()), status


@bp.post("/account/tokens/<int:token_id>/revoke")
@signed_in
def revoke_token(token_id: int):  # type: ignore[no-untyped-def]
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != g.qms_user.id:
        abort(404, description="No such token.")
    services.revoke_token(token)
    flash(f"Token {token.prefix}… is revoked.", "success")
    return redirect(url_for("auth.tokens"))


# --- Administration of the unit's users -------------------------------------------------------

@bp.get("/admin/users")
@requires(ADMIN)
def users():  # type: ignore[no-untyped-def]
    rows = db.session.scalars(select(User).order_by(User.username))
    return render_template("auth/users.html", users=list(rows))


@bp.route("/admin/users/new", methods=["GET", "POST"])
@requires(ADMIN)
def user_new():  # type: ignore[no-untyped-def]
    form = UserForm()
    if form.validate_on_submit():
        unit = db.session.get(Unit, g.qms_unit_id)
        try:
            user = services.create_user(username=form.username.data, full_name=form.full_name.data,
                                        email=form.email.data or "", password=form.password.data, unit=unit,
                                        roles=tuple(Role(r) for r in form.roles.data))
        except (services.AccountError, PasswordPolicyError) as error:
            form.username.errors = [str(error)] if isinstance(error, services.AccountError) else []
            form.password.errors = [str(error)] if isinstance(error, PasswordPolicyError) else []
        else:
            flash(f"User {user.username} is created.", "success")
            return redirect(url_for("auth.user_detail", user_id=user.id))
    return render_template("auth/user_new.html", form=form), 400 if form.errors else 200


def _unit_user(user_id: int) -> User:
    user = db.session.get(User, user_id)  # scoped: users of other units are not found
    if user is None:
        abort(404, description="No such user in this unit.")
    return user


@bp.get("/admin/users/<int:user_id>")
@requires(ADMIN)
def user_detail(user_id: int):  # type: ignore[no-untyped-def]
    user = _unit_user(user_id)
    roles = sorted(services.roles_in(user, g.qms_unit_id))
    return render_template("auth/user_detail.html", user=user, roles=roles, role_form=RoleForm(),
                           revoke_form=ReasonForm(), active_form=ActiveForm(active=user.active))


@bp.post("/admin/users/<int:user_id>/roles")
@requires(ADMIN)
def user_grant_role(user_id: int):  # type: ignore[no-untyped-def]
    user = _unit_user(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400, description="Choose a known role.")
    services.grant_role(user, db.session.get(Unit, g.qms_unit_id), Role(form.role.data))
    flash(f"{user.username} now holds the role {Role(form.role.data).label}.", "success")
    return redirect(url_for("auth.user_detail", user_id=user.id))


@bp.post("/admin/users/<int:user_id>/roles/<role>/revoke")
@requires(ADMIN)
def user_revoke_role(user_id: int, role: str):  # type: ignore[no-untyped-def]
    user = _unit_user(user_id)
    form = ReasonForm()
    if role not in {r.value for r in Role}:
        abort(404, description="No such role.")
    if not form.validate_on_submit():
        abort(400, description="Give a reason (at least 3 characters) for taking a role away.")
    with audit_reason(db.session, form.reason.data):
        services.revoke_role(user, g.qms_unit_id, Role(role))
    flash(f"{user.username} no longer holds the role {Role(role).label}.", "success")
    return redirect(url_for("auth.user_detail", user_id=user.id))


@bp.post("/admin/users/<int:user_id>/active")
@requires(ADMIN)
def user_set_active(user_id: int):  # type: ignore[no-untyped-def]
    user = _unit_user(user_id)
    form = ActiveForm()
    if not form.validate_on_submit():
        abort(400, description="Give a reason (at least 3 characters) for this change.")
    if user.id == g.qms_user.id and not form.active.data:
        abort(400, description="You cannot disable your own account.")
    with audit_reason(db.session, form.reason.data):
        services.set_active(user, bool(form.active.data))
    flash(f"{user.username} is {'active' if user.active else 'disabled'}.", "success")
    return redirect(url_for("auth.user_detail", user_id=user.id))


@bp.route("/admin/unit", methods=["GET", "POST"])
@requires(ADMIN)
def unit_settings():  # type: ignore[no-untyped-def]
    unit = db.session.get(Unit, g.qms_unit_id)
    if unit is None:
        abort(404, description="You are not a member of any unit.")
    form = UnitForm(obj=unit)
    if form.validate_on_submit():
        unit.name = form.name.data.strip()
        unit.country = (form.country.data or "").upper()
        db.session.flush()
        flash("The unit is updated.", "success")
        return redirect(url_for("auth.unit_settings"))
    return render_template("auth/unit.html", form=form, unit=unit), 400 if form.errors else 200
