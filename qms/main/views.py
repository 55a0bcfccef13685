from __future__ import annotations

from flask import abort, g, jsonify, redirect, render_template, request, session, url_for
from sqlalchemy import text

from qms.auth.permissions import ALL_ROLES, public, requires
from qms.extensions import db
from qms.main import bp
from qms.main.services import dashboard_for, language_states


@bp.get("/")
@requires(ALL_ROLES)
def dashboard():  # type: ignore[no-untyped-def]
    board = dashboard_for(g.qms_user, g.qms_unit_id, g.qms_roles)
    return render_template("main/dashboard.html", board=board)


@bp.get("/health")
@public
def health():  # type: ignore[no-untyped-def]
    db.session.execute(text("SELECT 1"))
    return jsonify(status="ok")


@bp.get("/favicon.ico")
@public
def favicon():  # type: ignore[no-untyped-def]
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.post("/unit")
@requires(ALL_ROLES)
def switch_unit():  # type: ignore[no-untyped-def]
    from qms.auth.services import memberships_of

    wanted = request.form.get("unit_id", type=int)
    if wanted not in {m.unit_id for m in memberships_of(g.qms_user)}:
        abort(400, description="You are not a member of that unit.")
    session["unit_id"] = wanted
    return redirect(url_for("main.dashboard"))


@bp.get("/about")
@public
def about():  # type: ignore[no-untyped-def]
    return render_template("main/about.html", languages=language_states())
