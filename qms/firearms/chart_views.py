"""The link chart's pages: the interactive chart, its data (JSON), and its exports (GraphML, i2 CSV, PDF).

Who may open it: the readers of the firearm register. What each sees is narrowed by their other roles
(`qms.firearms.chart.Sight`): cases, items and ballistic links only for those who may read them elsewhere.
Bad filters are refused by the service with the reason (400); no view catches a refusal.
"""
from __future__ import annotations

from flask import Response, g, jsonify, render_template, request

from qms.auth.permissions import requires
from qms.firearms import bp, chart, chart_export
from qms.firearms.roles import READERS


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={filename}"})


@bp.get("/firearms/chart")
@requires(READERS)
def chart_page():  # type: ignore[no-untyped-def]
    page = chart.chart_page(g.qms_roles, request.args)
    return render_template("firearms/chart.html", page=page, node_types=chart.NODE_TYPES,
                           link_types=chart.LINK_TYPES, lead_states=chart.LEAD_STATES)


@bp.get("/firearms/chart.json")
@requires(READERS)
def chart_data():  # type: ignore[no-untyped-def]
    return jsonify(chart.chart_json(g.qms_unit_id, g.qms_roles, request.args))


@bp.get("/firearms/chart.graphml")
@requires(READERS)
def chart_graphml():  # type: ignore[no-untyped-def]
    body = chart_export.graphml(g.qms_unit_id, g.qms_roles, request.args, base_url=request.host_url)
    return _download(body, "application/graphml+xml", "link-chart.graphml")


@bp.get("/firearms/chart-i2.zip")
@requires(READERS)
def chart_i2():  # type: ignore[no-untyped-def]
    body = chart_export.i2_zip(g.qms_unit_id, g.qms_roles, request.args, base_url=request.host_url)
    return _download(body, "application/zip", "link-chart-i2.zip")


@bp.get("/firearms/chart.pdf")
@requires(READERS)
def chart_pdf():  # type: ignore[no-untyped-def]
    body = chart_export.chart_pdf(g.qms_unit_id, g.qms_roles, request.args, printed_by=g.qms_user)
    return _download(body, "application/pdf", "link-chart.pdf")
