"""The audit checklist as CSV and XLSX, one row per requirement in catalogue (checklist) order.

Both keep the catalogue structure as columns (section, clause, sub-clause), carry the current
result, every auditor note, the SOP references, the findings and their actions, exactly as the
PDF report shows them (both are built from `report.build_gap_report`). Spreadsheet formula
injection is neutralised: in CSV a text starting with =, +, -, @, tab or carriage return gets a
leading apostrophe (as the trail and SOP master-list exports do); in XLSX every text cell is
written as a string cell, which a spreadsheet never evaluates, with the same apostrophe so a
copy-paste into another sheet stays inert.

XLSX is written with openpyxl (well kept, pure Python, reads as well as writes, so the tests
read the file back with the same library) in write-only mode, which streams rows instead of
holding the workbook in memory.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence

from flask_babel import gettext as _

from qms.audits.models import Audit
from qms.audits.report import ChecklistRow, FindingLine, GapReport, build_gap_report, grade_label, result_label

COLUMNS = ("position", "catalogue", "section", "section title", "clause", "clause title", "sub-clause",
           "requirement id", "requirement", "topic", "catalogue check", "result", "not-applicable justification",
           "objective evidence", "QMS documents", "findings", "corrective actions")
FINDING_COLUMNS = ("finding", "clause", "requirement id", "grade", "statement", "evidence", "raised by",
                   "action", "owner", "due on", "status", "overdue", "correction", "root cause method",
                   "root cause", "action plan", "implementation", "effectiveness review")
_RISKY_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    """Text safe to open in a spreadsheet: a leading formula character is escaped with an apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_RISKY_START) else text


def _notes(row: ChecklistRow) -> str:
    return "\n".join(f"{note.text} ({note.author}, {note.at:%Y-%m-%d})" for note in row.notes)


def _finding_text(finding: FindingLine) -> str:
    return f"{finding.reference} {grade_label(finding.grade)}: {finding.statement}"


def verification_label(row: ChecklistRow) -> str:
    """Whether a recorded source confirms the catalogue item; unconfirmed items are flagged."""
    if row.verified:
        return _("verified")
    return _("UNVERIFIED: no public source confirms this item; check it against the licensed standard")


def checklist_rows(report: GapReport) -> Iterator[list[str]]:
    """The checklist as rows of text, in checklist order (the header is `COLUMNS`)."""
    for row in report.rows:
        section_number, section_title = row.section_id.partition(":")[2], row.section_title
        clause_number, _, clause_title = row.clause_label.partition(" ")
        yield [str(row.position), row.catalogue_id, section_number, section_title, clause_number, clause_title,
               row.clause, row.requirement_id, row.title, row.topic, verification_label(row), result_label(row.result),
               row.justification,
               _notes(row), "\n".join(row.documents), "\n".join(_finding_text(f) for f in row.findings),
               "\n".join(f"{a.title} ({a.owner}, due {a.due_on:%Y-%m-%d}, {a.status})" for a in row.actions)]


def finding_rows(report: GapReport) -> Iterator[list[str]]:
    """One row per corrective action (one per finding without any): the action plan."""
    for finding in report.findings:
        head = [finding.reference, finding.clause, finding.requirement_id, grade_label(finding.grade),
                finding.statement, finding.evidence, finding.raised_by]
        if not finding.actions:
            yield head + [""] * (len(FINDING_COLUMNS) - len(head))
        for a in finding.actions:
            yield head + [a.title, a.owner, f"{a.due_on:%Y-%m-%d}", a.status, "yes" if a.overdue else "no",
                          a.correction, a.root_cause_method, a.root_cause, a.plan, a.implementation, a.review]


def checklist_csv(audit: Audit) -> bytes:
    """The checklist as CSV (UTF-8 with a byte-order mark, so spreadsheets read Cyrillic correctly)."""
    return report_csv(build_gap_report(audit))


def report_csv(report: GapReport) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for values in checklist_rows(report):
        writer.writerow([neutralise(v) for v in values])
    return buffer.getvalue().encode("utf-8-sig")


def checklist_xlsx(audit: Audit) -> bytes:
    """The checklist (and the action plan on a second sheet) as an XLSX workbook."""
    return report_xlsx(build_gap_report(audit))


def report_xlsx(report: GapReport) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    _sheet(workbook, "Checklist", COLUMNS, checklist_rows(report),
           widths=(6, 14, 8, 30, 8, 30, 9, 16, 32, 50, 24, 18, 30, 60, 24, 40, 40))
    _sheet(workbook, "Action plan", FINDING_COLUMNS, finding_rows(report),
           widths=(8, 8, 16, 24, 50, 40, 18, 36, 18, 11, 12, 8, 36, 14, 40, 40, 40, 40))
    _sheet(workbook, "Audit", ("field", "value"), _audit_rows(report), widths=(24, 80))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _audit_rows(report: GapReport) -> Iterator[list[str]]:
    yield from ([k, v] for k, v in (
        ("reference", report.reference), ("title", report.title), ("unit", f"{report.unit_name} ({report.unit_code})"),
        ("kind", report.kind_label), ("body type", report.body_type), ("status", report.status),
        ("scope", "\n".join(report.scope)), ("planned", f"{report.planned_start} to {report.planned_end}"),
        ("lead auditor", report.lead_auditor), ("team", ", ".join(f"{p.name} ({p.role})" for p in report.team)),
        ("requirements", str(report.summary.items))))
    for value, count in report.summary.by_result.items():
        yield [result_label(value), str(count)]
    for grade, count in report.summary.findings_by_grade.items():
        yield [grade_label(grade), str(count)]


def _sheet(workbook, title: str, header: Sequence[str], rows: Iterator[list[str]],  # type: ignore[no-untyped-def]
           widths: Sequence[int]) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(title)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")

    def cell(value: str, font=None):  # type: ignore[no-untyped-def]
        c = WriteOnlyCell(sheet, value=_xlsx_text(value))
        c.data_type = "s"  # never a formula, whatever the text starts with
        c.alignment = wrap
        if font is not None:
            c.font = font
        return c

    sheet.append([cell(h, bold) for h in header])
    count = 0
    for values in rows:
        sheet.append([cell(v) for v in values])
        count += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{count + 1}"


def _xlsx_text(value: str) -> str:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    # XML cannot carry most control characters; openpyxl refuses them rather than writing a broken file.
    return neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))
