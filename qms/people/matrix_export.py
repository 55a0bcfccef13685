"""The competence matrix as PDF (WeasyPrint, DejaVu fonts so Cyrillic names stay intact) and XLSX.

XLSX is written with openpyxl in write-only mode, like the audit exports; every text cell is a
string cell with a formula-starting character escaped (`qms.audits.exports.neutralise`).
"""
from __future__ import annotations

import io
from collections.abc import Iterator

from flask_babel import gettext as _

from qms.auth.models import Unit, User
from qms.db import utcnow
from qms.extensions import db
from qms.people.services import Matrix, matrix
from qms.people.state import STANDING_LABELS, Standing



def cell_text(grid: Matrix, person_id: int, scope_id: int) -> str:
    """The cell as words: the standing, and the end date when it is expiring or expired."""
    value = grid.cells[(person_id, scope_id)]
    until = grid.until.get((person_id, scope_id))
    if value is Standing.NONE:
        return ""
    if until is not None and value in (Standing.EXPIRING, Standing.EXPIRED):
        return f"{STANDING_LABELS[value]} {until.isoformat()}"
    return str(STANDING_LABELS[value])


def matrix_pdf(unit_id: int, user: User) -> bytes:
    from qms.pdf import render_pdf

    unit = db.session.get(Unit, unit_id)
    return render_pdf("people/matrix_pdf.html", grid=matrix(unit_id), unit=unit, generated_by=user.full_name,
                      generated_at=utcnow(), cell_text=cell_text, labels=STANDING_LABELS)


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
