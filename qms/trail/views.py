from __future__ import annotations

from flask import Response, abort, current_app, render_template, request, stream_with_context

from qms.auth.models import Role
from qms.auth.permissions import requires
from qms.trail import bp, services

READERS = {Role.ADMIN, Role.QUALITY_MANAGER, Role.AUDITOR}


def _filter() -> services.TrailFilter:
    try:
        return services.TrailFilter.from_args(request.args)
    except services.TrailFilterError as error:
        abort(400, description=str(error))


@bp.get("/trail")
@requires(READERS)
def index():  # type: ignore[no-untyped-def]
    flt = _filter()
    page = services.list_events(flt, page=request.args.get("page", 1, type=int),
                                per_page=current_app.config["PAGE_SIZE"])
    filter_args = {key: value for key, value in request.args.items() if key != "page" and value}
    return render_template("trail/index.html", page=page, flt=flt, actions=services.ACTIONS, filter_args=filter_args,
                           entities=services.entities())


@bp.get("/trail/export.csv")
@requires(READERS)
def export():  # type: ignore[no-untyped-def]
    flt = _filter()
    body = stream_with_context(services.export_csv(flt))
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=audit-trail.csv"})
