"""The link chart in the formats analysts' tools read, and as a PDF for a report.

GraphML (`chart.graphml`): networkx's writer; Gephi, yEd, Cytoscape desktop and networkx read it. Node
and link ids are those of `qms.firearms.chart` ("firearm:12", "register_lead:3"); every attribute of
the chart is a GraphML key (strings, and ``entries`` as an integer); the graph's own keys say which
unit and period it shows and when it was exported. Links are undirected; parallel links keep their ids.

i2 Analyst's Notebook (`chart-i2.zip`): two UTF-8 CSV files (with a byte-order mark, so Excel and
i2's import wizard detect the encoding), one row per entity and one row per link. In the import
wizard, a specification with one entity reads `entities.csv`; a specification "entity - link - entity"
reads `links.csv` alone (each row names both ends, so the entities are made and merged by Identity).
Dates are YYYY-MM-DD. Text that a spreadsheet would take for a formula starts with an apostrophe.

entities.csv: ``Identity`` (the node id, unique), ``Entity Type`` (Case, Item, Firearm, Entry from another
unit; in the reader's language), ``Label``, ``Date``, ``Description``, ``Status`` (a firearm's current status),
``URL``.

links.csv: ``Link ID``, ``From Identity``, ``From Type``, ``From Label``, ``To Identity``, ``To Type``,
``To Label``, ``Link Type`` (Item of the case, Firearm in custody as this item, Test fire of the firearm,
Confirmed ballistic link, Register lead), ``Label``, ``Date``, ``State`` (open, confirmed or dismissed for a
register lead), ``Direction`` (``none``: every link of the chart is symmetric for analysis), ``URL``.

PDF (`chart.pdf`): drawn on the server with matplotlib as inline SVG, at the positions the page shows
(`chart.layout`), and rendered by `qms.pdf.render_pdf`. A server drawing rather than the browser's PNG:
it is vector (sharp when printed or zoomed), needs no browser, prints the same picture for the same
records, and comes with the filters, the counts and a table of the links, which a picture alone lacks.
The PNG for a slide is the graph library's own export in the page.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable
from typing import Any

import networkx as nx
from werkzeug.datastructures import MultiDict

from qms.audits.exports import neutralise
from qms.auth.models import Role, User
from qms.db import utcnow
from qms.firearms import chart

ENTITY_COLUMNS = ("Identity", "Entity Type", "Label", "Date", "Description", "Status", "URL")
LINK_COLUMNS = ("Link ID", "From Identity", "From Type", "From Label", "To Identity", "To Type", "To Label",
                "Link Type", "Label", "Date", "State", "Direction", "URL")
COLOURS = {"case": "#1565c0", "item": "#6d4c41", "firearm": "#c62828", "external": "#6a1b9a"}
MARKERS = {"case": "s", "item": "o", "firearm": "D", "external": "^"}
LINK_COLOURS = {"contains": "#9e9e9e", "custody": "#c62828", "test_fire": "#ef6c00", "ballistic": "#2e7d32",
                "register_lead": "#6a1b9a"}
PDF_LABELS_UP_TO = 150  # more node labels than this make the drawing unreadable: the table names them
PDF_LINK_ROWS = 400
# Text as paths (the same on every server), a fixed hash salt: the same records give the same drawing.
_SVG_RC: dict[str, Any] = {"svg.hashsalt": "csi-qms-link-chart", "svg.fonttype": "path",
                           "font.family": "DejaVu Sans", "font.size": 6.0}


def _absolute(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path if path.startswith("/") else path


# --- GraphML --------------------------------------------------------------------------------------------

def graphml(unit_id: int, roles: Iterable[Role], args: MultiDict[str, str], *, base_url: str) -> bytes:
    """The filtered chart as GraphML (all of it: exports are not limited to what a browser draws well)."""
    filters = chart.parse_filters(args)
    graph = chart.build(unit_id, roles, filters)
    for _node, data in graph.nodes(data=True):
        data["url"] = _absolute(base_url, data["url"])
    for _u, _v, data in graph.edges(data=True):
        data["url"] = _absolute(base_url, data["url"])
    graph.graph.update(_graph_keys(unit_id, filters))
    buffer = io.BytesIO()
    nx.write_graphml(graph, buffer, encoding="utf-8", prettyprint=False)
    return buffer.getvalue()


def _graph_keys(unit_id: int, filters: chart.Filters) -> dict[str, Any]:
    return {"unit_id": unit_id, "exported_at": utcnow().isoformat(timespec="seconds"),
            "period_from": filters.start.isoformat() if filters.start else "",
            "period_to": filters.end.isoformat() if filters.end else "", "focus": filters.focus}


# --- i2 Analyst's Notebook ------------------------------------------------------------------------------

def i2_zip(unit_id: int, roles: Iterable[Role], args: MultiDict[str, str], *, base_url: str) -> bytes:
    """entities.csv and links.csv in one zip (the columns are in the module's docstring)."""
    graph = chart.build(unit_id, roles, chart.parse_filters(args))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("entities.csv", _csv(ENTITY_COLUMNS, _entity_rows(graph, base_url)))
        archive.writestr("links.csv", _csv(LINK_COLUMNS, _link_rows(graph, base_url)))
    return buffer.getvalue()


def _csv(columns: tuple[str, ...], rows: Iterable[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([neutralise(value) for value in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def _entity_rows(graph: nx.MultiGraph, base_url: str) -> Iterable[list[str]]:
    types, statuses = _labels(chart.NODE_TYPES), chart.status_labels()
    for node, data in graph.nodes(data=True):
        yield [node, types.get(data["type"], data["type"]), data["label"], data["date"], data.get("detail", ""),
               statuses.get(data.get("status", ""), ""), _absolute(base_url, data["url"])]


def _link_rows(graph: nx.MultiGraph, base_url: str) -> Iterable[list[str]]:
    nodes, types, links = graph.nodes, _labels(chart.NODE_TYPES), _labels(chart.LINK_TYPES)
    for u, v, key, data in graph.edges(keys=True, data=True):
        yield [key, u, types[nodes[u]["type"]], nodes[u]["label"], v, types[nodes[v]["type"]], nodes[v]["label"],
               links[data["type"]], data["label"], data["date"], data["state"], "none",
               _absolute(base_url, data["url"])]


def _labels(names: dict[str, Any]) -> dict[str, str]:
    return {key: str(label) for key, label in names.items()}  # translated once per export, not once per row


# --- PDF ------------------------------------------------------------------------------------------------

def chart_pdf(unit_id: int, roles: Iterable[Role], args: MultiDict[str, str], *, printed_by: User) -> bytes:
    """The chart drawn for a report: the picture, the filters, the counts and the links."""
    from qms.pdf import render_pdf

    filters = chart.parse_filters(args)
    graph = chart.drawable(unit_id, roles, args)
    rows = sorted(_link_rows(graph, ""), key=lambda row: (row[9], row[0]))
    return render_pdf("firearms/chart_pdf.html", drawing=drawing_svg(graph, chart.layout(graph)), filters=filters,
                      counts=chart.counts(graph), node_types=chart.NODE_TYPES, link_types=chart.LINK_TYPES,
                      colours=COLOURS, link_colours=LINK_COLOURS, links=rows[:PDF_LINK_ROWS],
                      more_links=max(len(rows) - PDF_LINK_ROWS, 0), printed_by=printed_by, printed_at=utcnow())


def drawing_svg(graph: nx.MultiGraph, positions: dict[str, tuple[float, float]]) -> str:
    """The chart as an inline `<svg>`: links as lines coloured by type, nodes as markers by type."""
    import matplotlib  # imported on first use: slow to import, and most requests draw nothing
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_SVG_RC):  # type: ignore[arg-type]
        fig = Figure(figsize=(180 / 25.4, 150 / 25.4))  # no pyplot: no global state, safe in threads
        ax = fig.add_subplot()
        for kind, colour in LINK_COLOURS.items():
            segments = [(positions[u], positions[v]) for u, v, t in graph.edges(data="type") if t == kind]
            dashed = "dashed" if kind == "register_lead" else "solid"
            ax.add_collection(LineCollection(segments, colors=colour, linewidths=0.6, linestyles=dashed, zorder=1))
        for kind, colour in COLOURS.items():
            points = [positions[n] for n, t in graph.nodes(data="type") if t == kind]
            if points:
                ax.scatter([x for x, _ in points], [y for _, y in points], c=colour, marker=MARKERS[kind],
                           s=14 if len(positions) < 500 else 3, zorder=2, linewidths=0)
        if graph.number_of_nodes() <= PDF_LABELS_UP_TO:
            for node, label in graph.nodes(data="label"):
                ax.annotate(label, positions[node], fontsize=4.5, xytext=(0, 4), textcoords="offset points",
                            ha="center", zorder=3)
        ax.invert_yaxis()  # screen coordinates: y grows downwards, as on the page
        ax.set_aspect("equal", adjustable="datalim")
        ax.autoscale()
        ax.axis("off")
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    text = buffer.getvalue()
    # The RDF metadata block (format, type) is text a reader never sees; left inline it would print.
    return re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg"):], count=1, flags=re.S)
