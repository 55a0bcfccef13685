from __future__ import annotations

from flask import render_template

from qms.audits import bp
from qms.auth.permissions import STAFF, requires


@bp.get("/audits")
@requires(STAFF)
def audit_list():  # type: ignore[no-untyped-def]
    return render_template("audits/list.html")


@bp.get("/audits/actions")
@requires(STAFF)
def action_list():  # type: ignore[no-untyped-def]
    return render_template("audits/list.html")
