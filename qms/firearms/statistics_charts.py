"""The statistics page's charts, drawn with matplotlib as SVG (data: URIs the page shows as images).

The numbers are in the tables beside them; the charts are there so a month that stands out, or a
category that grows, is seen at a glance. Each chart is drawn on its own Figure (no pyplot state).
"""
from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import gettext as _

from qms.firearms import statistics
from qms.firearms.services import CATEGORY_LABELS, EVENT_LABELS
from qms.firearms.statistics import RECOVERIES, Figures

# One colour per event kind, distinguishable in grey print: reports warm, recoveries cool, ends grey.
EVENT_COLOURS = {"reported_stolen": "#c62828", "reported_lost": "#ef6c00", "found": "#2e7d32", "seized": "#1565c0",
                 "surrendered": "#00838f", "destroyed": "#616161", "returned": "#9e9e9e"}
_RC: dict[str, Any] = {"svg.hashsalt": "csi-qms-firearm-statistics", "svg.fonttype": "path",
                       "font.family": "DejaVu Sans", "font.size": 8.0}


def page(unit_id: int) -> tuple[Figures, dict[str, str]]:
    """The unit's figures and their charts, as the statistics page shows them."""
    figures = statistics.figures(unit_id)
    return figures, charts(figures)


def charts(figures: Figures) -> dict[str, str]:
    """{"by_month": data URI, "recoveries_by_category": data URI}; empty strings when nothing was counted."""
    if not figures.total:
        return {"by_month": "", "recoveries_by_category": ""}
    labels = {kind.value: str(label) for kind, label in EVENT_LABELS.items()}
    return {"by_month": _uri(_by_month(figures.months, figures.by_month, labels)),
            "recoveries_by_category": _uri(_by_category(figures.by_category, CATEGORY_LABELS))}


def _by_month(months: Sequence[str], by_month: Mapping[str, Mapping[str, int]], labels: Mapping[str, str]) -> str:
    import matplotlib

    with matplotlib.rc_context(_RC):
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7.2, 2.6))
        ax = fig.add_subplot()
        bottom = [0] * len(months)
        for kind, label in labels.items():
            heights = [by_month[m].get(kind, 0) for m in months]
            if any(heights):
                ax.bar(months, heights, bottom=bottom, label=label, color=EVENT_COLOURS.get(kind, "#607d8b"))
                bottom = [a + b for a, b in zip(bottom, heights, strict=True)]
        ax.set_ylabel(_("firearms"))
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        ax.legend(fontsize=7, frameon=False, ncols=4, loc="lower left", bbox_to_anchor=(0, 1.0))
        _tidy(ax)
        return _svg(fig)


def _by_category(by_category: Mapping[str, Mapping[str, int]], labels: Mapping[str, Any]) -> str:
    import matplotlib

    with matplotlib.rc_context(_RC):
        from matplotlib.figure import Figure

        names = [str(labels.get(category, category)) for category in by_category]
        counts = [sum(n for kind, n in counts.items() if kind in RECOVERIES) for counts in by_category.values()]
        fig = Figure(figsize=(7.2, 0.6 + 0.35 * max(len(names), 1)))
        ax = fig.add_subplot()
        bars = ax.barh(names, counts, color="#1565c0")
        ax.bar_label(bars, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(_("firearms found, seized or surrendered"))
        ax.xaxis.get_major_locator().set_params(integer=True)
        _tidy(ax)
        return _svg(fig)


def _tidy(ax) -> None:  # type: ignore[no-untyped-def]
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _svg(fig) -> str:  # type: ignore[no-untyped-def]
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    return buffer.getvalue()


def _uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
