"""Charts of the audit report as SVG text, drawn with matplotlib for embedding in the PDF's HTML.

Each function draws on its own `matplotlib.figure.Figure` (no pyplot, no global state, safe in
threads) and returns an `<svg>` element without the XML prolog, so it can sit inline in a page.
Text is drawn as paths: the PDF looks the same whatever fonts the server has, and the numbers
a reader must be able to copy are also printed in the report's tables. The output is
deterministic (fixed hash salt, no date), so the same audit gives the same bytes.
"""
from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

# Result and grade colours, chosen to stay distinguishable when printed in grey.
RESULT_COLOURS = {"conforming": "#2e7d32", "partially_conforming": "#f9a825", "non_conforming": "#c62828",
                  "not_applicable": "#9e9e9e", "not_assessed": "#e0e0e0"}
GRADE_COLOURS = {"major": "#b71c1c", "minor": "#ef6c00", "observation": "#1565c0", "opportunity": "#00838f"}
_FALLBACK = "#607d8b"
_SVG_RC: dict[str, Any] = {"svg.hashsalt": "csi-qms-audit-report", "svg.fonttype": "path", "font.family": "DejaVu Sans",
           "font.size": 8.0}


def _rc():  # type: ignore[no-untyped-def]
    """The chart settings, applied only inside a `with` block (matplotlib's global defaults stay untouched)."""
    import matplotlib  # imported on first use: it is slow to import and most requests draw no chart

    return matplotlib.rc_context(_SVG_RC)  # type: ignore[arg-type]


def _label(value: str) -> str:
    """A result or grade code in the reader's words."""
    from qms.audits.models import word

    return str(word(value))


def _(text: str) -> str:
    """A chart's label in the reader's language (gettext formats nothing without variables: `%%` is a per cent)."""
    from flask_babel import gettext

    return gettext(text).replace("%%", "%")


def _svg(fig) -> str:  # type: ignore[no-untyped-def]
    buffer = io.StringIO()
    with _rc():
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _figure(width_mm: float, height_mm: float):  # type: ignore[no-untyped-def]
    from matplotlib.figure import Figure

    with _rc():
        return Figure(figsize=(width_mm / 25.4, height_mm / 25.4))


def results_by_section_svg(sections: Sequence[tuple[str, Mapping[str, int]]],
                           results: Sequence[str] = tuple(RESULT_COLOURS)) -> str:
    """Stacked horizontal bars: for each section (label, counts by result), how many items had each result."""
    with _rc():
        fig = _figure(170, 12 + 7 * max(len(sections), 1))
        ax = fig.add_subplot()
        labels = [label for label, _ in sections]
        left = [0] * len(sections)
        for result in results:
            widths = [counts.get(result, 0) for _, counts in sections]
            ax.barh(labels, widths, left=left, color=RESULT_COLOURS.get(result, _FALLBACK), label=_label(result),
                    edgecolor="white", linewidth=0.5)
            left = [a + b for a, b in zip(left, widths, strict=True)]
        ax.invert_yaxis()  # first section on top, as in the checklist
        ax.set_xlabel(_("requirements"))
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(ncols=len(results), loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False, fontsize=7)
        _tidy(ax)
        return _svg(fig)


def findings_by_grade_svg(counts: Mapping[str, int]) -> str:
    """Vertical bars: the number of findings of each grade (every grade shown, zero included)."""
    with _rc():
        fig = _figure(80, 55)
        ax = fig.add_subplot()
        grades = list(counts)
        values = [counts[g] for g in grades]
        bars = ax.bar([_label(g) for g in grades], values, color=[GRADE_COLOURS.get(g, _FALLBACK) for g in grades])
        ax.bar_label(bars, fontsize=7)
        ax.set_ylabel(_("findings"))
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_ylim(0, max(values + [1]) * 1.2)
        ax.tick_params(axis="x", labelrotation=20, labelsize=7)
        _tidy(ax)
        return _svg(fig)


def progress_svg(sections: Sequence[str], previous: Sequence[float | None], current: Sequence[float | None],
                 *, previous_label: str = "previous audit", current_label: str = "this audit") -> str:
    """Paired bars per section: conformity score (0 to 100 %) of the previous audit and of this one."""
    if not len(sections) == len(previous) == len(current):
        raise ValueError("sections, previous and current must have the same length")
    with _rc():
        fig = _figure(170, 12 + 9 * max(len(sections), 1))
        ax = fig.add_subplot()
        rows = range(len(sections))
        ax.barh([r - 0.2 for r in rows], [100 * (p or 0) for p in previous], height=0.4, color="#90a4ae",
                label=previous_label)
        ax.barh([r + 0.2 for r in rows], [100 * (c or 0) for c in current], height=0.4, color="#1565c0",
                label=current_label)
        ax.set_yticks(list(rows), list(sections))
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel(_("conformity score (%%)"))
        ax.legend(ncols=2, loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False, fontsize=7)
        _tidy(ax)
        return _svg(fig)


def _tidy(ax) -> None:  # type: ignore[no-untyped-def]
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=7)
