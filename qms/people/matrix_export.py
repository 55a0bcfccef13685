"""The competence matrix as the page shows it, as PDF (WeasyPrint, DejaVu fonts so Cyrillic names stay intact)
and as XLSX.

The PDF prints each person's standings as one line of short symbols (with the end date where one is
shown) over one painted background, instead of a table cell per scope: WeasyPrint spends about half a
millisecond on every box it lays out, so 200 people x 14 cells took 2.6 s, and one line per person
about a third of that (bench/bench_competence_matrix.py). The symbols are explained on every page.

XLSX is written with openpyxl in write-only mode, like the audit exports; every text cell is a
string cell with a formula-starting character escaped (`qms.audits.exports.neutralise`).
"""
from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from flask_babel import gettext as _

from qms.auth.models import Unit, User
from qms.db import utcnow
from qms.extensions import db
from qms.people.models import Scope
from qms.people.services import Matrix, matrix
from qms.people.state import STANDING_LABELS, Standing

DATED = frozenset({Standing.EXPIRING, Standing.EXPIRED})  # the cells that show their end date

# The PDF's symbols (DejaVu Sans and Sans Mono have each of them) and the page's cell colours.
SYMBOLS = {Standing.AUTHORISED: "✓", Standing.EXPIRING: "⚠", Standing.NOT_YET: "→", Standing.EXPIRED: "✗",
           Standing.SUSPENDED: "‖", Standing.WITHDRAWN: "⊘", Standing.IN_TRAINING: "○", Standing.NONE: ""}
COLOURS = {Standing.AUTHORISED: "#d7f0d9", Standing.EXPIRING: "#fff1c2", Standing.NOT_YET: "#dde7f5",
           Standing.EXPIRED: "#f6d1d1", Standing.SUSPENDED: "#f3c7a5", Standing.WITHDRAWN: "#f6d1d1",
           Standing.IN_TRAINING: "#dde7f5"}
CELL_CHARS = 13  # a symbol, a space, an ISO date, and one character between columns
SCOPES_PER_TABLE = 12  # what fits across A4 landscape at 6.5 pt beside the name and witnessing columns


class Cell(NamedTuple):
    """One person's standing for one scope, as shown."""

    state: str  # the standing's value, also the cell's CSS class
    label: str  # the standing in words ("" for none)
    until: str  # the end date (ISO) of an expiring or expired authorisation, else ""


@dataclass(frozen=True)
class Row:
    person: User
    cells: list[Cell]
    witnessing_due: list[str]  # the names of the scopes whose witnessed examination is due


def cell_text(grid: Matrix, person_id: int, scope_id: int) -> str:
    """The cell as words: the standing, and the end date when it is expiring or expired."""
    value = grid.cells[(person_id, scope_id)]
    until = grid.until.get((person_id, scope_id))
    if value is Standing.NONE:
        return ""
    if until is not None and value in DATED:
        return f"{STANDING_LABELS[value]} {until.isoformat()}"
    return str(STANDING_LABELS[value])


def rows_shown(grid: Matrix) -> list[Row]:
    """Every person's cells in scope order, with the words translated once rather than once per cell."""
    labels = {value: str(label) for value, label in STANDING_LABELS.items()} | {Standing.NONE: ""}
    names = {found.id: _(found.name) for found in grid.scopes}
    shown = []
    for person in grid.people:
        cells = []
        for found in grid.scopes:
            value, until = grid.cells[(person.id, found.id)], grid.until[(person.id, found.id)]
            cells.append(Cell(value.value, labels[value], until.isoformat() if until and value in DATED else ""))
        shown.append(Row(person, cells, [names[s.id] for s in grid.witnessing_due[person.id]]))
    return shown


# --- PDF ---------------------------------------------------------------------------------------------

class PdfRow(NamedTuple):
    person: User
    line: str  # the symbols (and end dates), CELL_CHARS characters per scope, for a monospaced font
    background: str  # a CSS background painting each cell's colour behind its characters ("" for none)
    witnessing_due: str  # one scope a line, so a name breaks only if it is wider than the column


@dataclass(frozen=True)
class PdfTable:
    """The people against a block of scopes (a unit with more scopes than fit across a page gets several)."""

    scopes: Sequence[Scope]
    rows: list[PdfRow]


def pdf_tables(grid: Matrix) -> list[PdfTable]:
    shown = rows_shown(grid)
    tables = []
    for start, end in _blocks(len(grid.scopes)):
        rows = [PdfRow(row.person, _line(row.cells[start:end]), _background(row.cells[start:end]),
                       "\n".join(row.witnessing_due)) for row in shown]
        tables.append(PdfTable(grid.scopes[start:end], rows))
    return tables


def _blocks(count: int) -> list[tuple[int, int]]:
    """Even blocks of at most SCOPES_PER_TABLE scopes (13 scopes: 7 and 6, not 12 and 1)."""
    size = math.ceil(count / max(1, math.ceil(count / SCOPES_PER_TABLE))) if count else 1
    return [(start, min(start + size, count)) for start in range(0, count, size)] or [(0, 0)]


def _line(cells: Sequence[Cell]) -> str:
    return "".join(f"{SYMBOLS[Standing(cell.state)]} {cell.until}".rstrip().ljust(CELL_CHARS) for cell in cells)


def _background(cells: Sequence[Cell]) -> str:
    """One gradient with hard stops painting each coloured cell: from half a character before its symbol
    (the cell's left padding) to just before the next column, in the line's own character widths (ch)."""
    stops = []
    for index, cell in enumerate(cells):
        colour = COLOURS.get(Standing(cell.state))
        if colour:
            start, end = index * CELL_CHARS, index * CELL_CHARS + CELL_CHARS - 0.3
            stops.append(f"transparent {start}ch, {colour} {start}ch, {colour} {end:g}ch, transparent {end:g}ch")
    return f"linear-gradient(to right, {', '.join(stops)})" if stops else ""


def matrix_pdf(unit_id: int, user: User) -> bytes:
    from qms.pdf import render_pdf

    unit = db.session.get(Unit, unit_id)
    grid = matrix(unit_id)
    legend = [(SYMBOLS[value], label) for value, label in STANDING_LABELS.items() if value is not Standing.NONE]
    return render_pdf("people/matrix_pdf.html", grid=grid, tables=pdf_tables(grid), unit=unit,
                      generated_by=user.full_name, generated_at=utcnow(), legend=legend, cell_chars=CELL_CHARS)


# --- XLSX --------------------------------------------------------------------------------------------

def rows(grid: Matrix) -> Iterator[list[str]]:
    for person in grid.people:
        due = ", ".join(_(s.name) for s in grid.witnessing_due[person.id])
        yield [person.full_name, person.username,
               *(cell_text(grid, person.id, s.id) for s in grid.scopes), due]


def matrix_xlsx(grid: Matrix) -> bytes:
    from openpyxl import Workbook

    from qms.audits.exports import neutralise

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Competence matrix")[:31])
    sheet.append([_("Person"), _("Username"), *(_(s.name) for s in grid.scopes), _("Witnessing due")])
    for row in rows(grid):
        sheet.append([neutralise(value) for value in row])
    sheet.append([])
    sheet.append([_("As of"), grid.on.isoformat()])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
