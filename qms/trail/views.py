"""The audit trail page and its CSV export, both limited to what the reader may see."""
from __future__ import annotations

from flask import Response, current_app, g, render_template, request, stream_with_context

from qms.auth.permissions import requires
from qms.trail import bp, services


@bp.get("/trail")
@requires(services.READERS)
def index():  # type: ignore[no-untyped-def]
    trail = services.read_page(request.args, roles=g.qms_roles, page=request.args.get("page", 1, type=int),
                               per_page=current_app.config["PAGE_SIZE"])
    filter_args = {key: value for key, value in request.args.items() if key != "page" and value}
    return render_template("trail/index.html", trail=trail, actions=services.ACTION_LABELS,
                           filter_args=filter_args), 400 if trail.problems else 200


@bp.get("/trail/export.csv")
@requires(services.READERS)
def export():  # type: ignore[no-untyped-def]
    body = stream_with_context(services.read_csv(request.args, roles=g.qms_roles))
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=audit-trail.csv"})
