"""The audit (gap) report as PDF: a plain `GapReport` built from the database, rendered by WeasyPrint.

`build_gap_report(audit)` gathers everything the report shows into frozen dataclasses, so the
template only loops and prints, and the benchmark can render a synthetic report of full size.
Every count in it comes from `services.audit_summary` (the same counting as the pages), every
result is the *current result* defined there, and every auditor note of every result row is
kept as objective evidence. `gap_report_pdf(audit)` renders it through `qms.pdf.render_pdf`
(sandboxed: the renderer may read only the application's own static files).
"""
from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

import audits as content
from qms.audits import charts, services
from qms.audits.gap import POINTS, SopRef, covering_sops, effective_sops, section_and_clause
from qms.audits.models import (
    ActionStep,
    Audit,
    AuditKind,
    ChecklistItem,
    CorrectiveAction,
    Finding,
    Grade,
    RequirementResult,
    Result,
    ResultSopLink,
    StepKind,
    TeamRole,
    word,
)
from qms.auth.models import Unit
from qms.db import utcnow
from qms.documents.models import Revision
from qms.extensions import db
from qms.i18n.requirements import catalogues as localized_catalogues

KIND_LABELS = {AuditKind.INTERNAL.value: _l("Internal audit"), AuditKind.TECHNICAL.value: _l("Technical audit"),
               AuditKind.RE_AUDIT.value: _l("Re-audit")}
TEAM_LABELS = {TeamRole.AUDITOR.value: _l("Auditor"), TeamRole.TECHNICAL_EXPERT.value: _l("Technical expert"),
               TeamRole.OBSERVER.value: _l("Observer")}
RESULT_ORDER = tuple(r.value for r in Result)
# Column heads of the results table: abbreviations of the result labels, in the reader's language too.
SHORT_LABELS = {Result.CONFORMING.value: lazy_pgettext("result abbreviation", "C"),
                Result.PARTIALLY_CONFORMING.value: lazy_pgettext("result abbreviation", "PC"),
                Result.NON_CONFORMING.value: lazy_pgettext("result abbreviation", "NC"),
                Result.NOT_APPLICABLE.value: lazy_pgettext("result abbreviation", "N/A"),
                Result.NOT_ASSESSED.value: _l("Not assessed")}


def result_label(value: str) -> str:
    return Result(value).label


def grade_label(value: str) -> str:
    return Grade(value).label


def score_from_counts(counts: dict[str, int]) -> float | None:
    """Conformity score of result counts: conforming 1, partially 0.5, non-conforming 0; others left out."""
    scored = sum(counts.get(result, 0) for result in POINTS)
    if not scored:
        return None
    return sum(points * counts.get(result, 0) for result, points in POINTS.items()) / scored


# --- the report's data ------------------------------------------------------------------------

@dataclass(frozen=True)
class Note:
    """One auditor note (objective evidence) with who wrote it and when."""

    text: str
    author: str
    at: datetime
    result: str = ""


@dataclass(frozen=True)
class FileLine:
    """An evidence file attached to a result, as the report lists it (name, size, start of its SHA-256)."""

    filename: str
    size: int
    sha256: str

    @property
    def label(self) -> str:
        return f"{self.filename} ({_size(self.size)}, SHA-256 {self.sha256[:12]})"


def _size(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.0f} KB" if size < 1024 * 1024 else \
        f"{size / (1024 * 1024):.1f} MB"


@dataclass(frozen=True)
class ActionLine:
    """A corrective action as the action plan shows it."""

    id: int
    title: str
    owner: str
    due_on: date
    status: str
    overdue: bool = False
    correction: str = ""
    root_cause: str = ""
    root_cause_method: str = ""
    plan: str = ""
    implementation: str = ""
    review: str = ""


@dataclass(frozen=True)
class FindingLine:
    number: int
    grade: str
    clause: str
    requirement_id: str
    requirement_title: str
    statement: str
    evidence: str
    raised_by: str
    actions: tuple[ActionLine, ...] = ()
    catalogue: str = ""  # the catalogue's short name, printed with the requirement id
    verified: bool = True

    @property
    def grade_label(self) -> str:
        return grade_label(self.grade)

    @property
    def reference(self) -> str:
        return f"F{self.number}"


@dataclass(frozen=True)
class ChecklistRow:
    """One requirement of the checklist with its current result, evidence, documents and findings."""

    position: int
    requirement_id: str
    catalogue_id: str
    section_id: str
    section_title: str
    section_label: str
    clause_id: str
    clause_label: str
    clause: str
    title: str
    topic: str
    result: str
    documents: tuple[str, ...] = ()
    notes: tuple[Note, ...] = ()
    justification: str = ""
    justified_by: str = ""
    justified_at: datetime | None = None
    findings: tuple[FindingLine, ...] = ()
    verified: bool = True  # a recorded public source confirms the catalogue item (number, title, topic)
    catalogue: str = ""  # the catalogue's short name, printed with the requirement id
    files: tuple[FileLine, ...] = ()  # evidence files attached to any of the item's results

    @property
    def result_label(self) -> str:
        return result_label(self.result)

    @property
    def actions(self) -> tuple[ActionLine, ...]:
        return tuple(action for finding in self.findings for action in finding.actions)


@dataclass(frozen=True)
class SectionLine:
    id: str
    label: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def number(self) -> str:
        """The section's number ("6"), which labels it in the charts (the tables give the titles)."""
        return chart_label(self.id)

    @property
    def score(self) -> float | None:
        return score_from_counts(self.counts)


def chart_label(section_id: str) -> str:
    """§6 for 17020:6; the catalogue prefix is kept for other catalogues (bpm-scene:6)."""
    prefix, _, number = section_id.partition(":")
    return f"§{number}" if prefix == "17020" else section_id


@dataclass(frozen=True)
class ProgressLine:
    section_id: str
    section_label: str
    previous_score: float | None
    current_score: float | None


@dataclass(frozen=True)
class ChangedRow:
    clause: str
    title: str
    before: str
    after: str
    change: str


@dataclass(frozen=True)
class ProgressReport:
    """This re-audit against the audit it follows."""

    previous_reference: str
    previous_title: str
    previous_dates: str
    counts: dict[str, int]  # improved, same, worse, unranked
    sections: tuple[ProgressLine, ...]
    changed: tuple[ChangedRow, ...]


@dataclass(frozen=True)
class Person:
    name: str
    role: str


@dataclass(frozen=True)
class GapReport:
    """Everything the PDF shows, as plain data (no database object)."""

    reference: str
    title: str
    unit_code: str
    unit_name: str
    kind: str
    body_type: str
    status: str
    scope: tuple[str, ...]
    planned_start: date
    planned_end: date
    started_at: datetime | None
    reported_at: datetime | None
    closed_at: datetime | None
    lead_auditor: str
    team: tuple[Person, ...]
    auditee: str
    areas: str
    conclusion: str
    summary: services.AuditSummary
    sections: tuple[SectionLine, ...]
    rows: tuple[ChecklistRow, ...]
    findings: tuple[FindingLine, ...]
    progress: ProgressReport | None = None
    generated_at: datetime = field(default_factory=utcnow)
    generated_by: str = ""
    timezone: str = "UTC"  # the unit's time zone: the generation time is printed in it

    @property
    def draft(self) -> bool:
        """Not reported yet: every page says DRAFT."""
        return self.reported_at is None

    @property
    def generated_local(self) -> datetime:
        return local_time(self.generated_at, self.timezone)

    @property
    def team_or_lead(self) -> tuple[Person, ...]:
        """The audit team as printed: the lead auditor alone when nobody else was named."""
        if self.team or not self.lead_auditor:
            return self.team
        return (Person(self.lead_auditor, _("Lead auditor")),)

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS.get(self.kind, self.kind))

    @property
    def unverified(self) -> tuple[ChecklistRow, ...]:
        """Rows whose catalogue item no recorded source confirms (flagged in the report)."""
        return tuple(row for row in self.rows if not row.verified)

    @property
    def not_applicable(self) -> tuple[ChecklistRow, ...]:
        return tuple(row for row in self.rows if row.result == Result.NOT_APPLICABLE.value)

    @property
    def score(self) -> float | None:
        return score_from_counts(self.summary.by_result)

    def grouped_rows(self) -> list[tuple[str, list[ChecklistRow]]]:
        """Checklist rows by section, in checklist order."""
        groups: dict[str, tuple[str, list[ChecklistRow]]] = {}
        for row in self.rows:
            groups.setdefault(row.section_id, (row.section_label, []))[1].append(row)
        return list(groups.values())


# --- building it from the database ------------------------------------------------------------

def build_gap_report(audit: Audit, *, generated_by: str = "") -> GapReport:
    """The report's data for one audit (counts from `services.audit_summary`)."""
    summary = services.audit_summary(audit)
    unit = db.session.get(Unit, audit.unit_id)
    labels = section_labels(summary.section_titles)
    findings = _findings(audit)
    return GapReport(
        reference=audit_reference(audit), title=audit.title, unit_code=unit.code if unit else "",
        unit_name=unit.name if unit else "", kind=audit.kind, body_type=audit.body_type, status=audit.status,
        scope=tuple(scope_lines(audit.scope, audit.catalogue_versions)), planned_start=audit.planned_start,
        planned_end=audit.planned_end, started_at=audit.started_at, reported_at=audit.reported_at,
        closed_at=audit.closed_at, lead_auditor=audit.lead_auditor.full_name if audit.lead_auditor else "",
        team=tuple(Person(m.user.full_name, str(TEAM_LABELS.get(m.role, m.role))) for m in audit.team),
        auditee=audit.auditee, areas=audit.areas, conclusion=audit.conclusion, summary=summary,
        sections=tuple(SectionLine(sid, labels[sid], dict(counts)) for sid, counts in summary.by_section.items()),
        rows=tuple(_rows(audit, labels, findings)), findings=tuple(findings),
        progress=_progress(audit, summary) if audit.previous_audit_id else None, generated_by=generated_by,
        timezone=unit_timezone(unit))


def audit_reference(audit: Audit) -> str:
    return f"AUD-{audit.planned_start.year}-{audit.id:04d}"


def unit_timezone(unit: Unit | None) -> str:
    """The unit's time zone name; units have none of their own yet, so the configured default
    (`QMS_DEFAULT_TIMEZONE`, Europe/Skopje unless set)."""
    from flask import current_app, has_app_context

    configured = getattr(unit, "timezone", None) or (
        current_app.config.get("DEFAULT_TIMEZONE") if has_app_context() else None)
    return str(configured or "Europe/Skopje")


def local_time(moment: datetime, timezone: str) -> datetime:
    """A stored (naive UTC) time in a time zone; UTC when the name is unknown."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone)


def report_file_name(audit: Audit, *, at: datetime | None = None) -> str:
    """The PDF's file name: the audit's reference and the date of generation in the unit's time zone."""
    unit = db.session.get(Unit, audit.unit_id)
    generated = local_time(at or utcnow(), unit_timezone(unit))
    return f"{audit_reference(audit)}-report-{generated:%Y-%m-%d}.pdf"


def catalogue_label(catalogue_id: str) -> str:
    """A short name for a catalogue: "ISO/IEC 17020:2012", "ILAC G19"; other catalogues by their id
    ("bpm-scene"), so a best-practice item never reads as an ISO clause."""
    catalogue = content.load_all().get(catalogue_id)
    if catalogue is None:
        return catalogue_id
    words = catalogue.title.split()
    if words and words[0] in ("ISO/IEC", "ILAC") and len(words) > 1:
        return " ".join(words[:2])
    return catalogue_id


def section_labels(titles: dict[str, str]) -> dict[str, str]:
    """A label per section id, such as "6 Resource requirements" ("17020 6 Resource requirements" when
    several catalogues are audited together)."""
    prefixes = {sid.partition(":")[0] for sid in titles}
    labels = {}
    for sid, title in titles.items():
        prefix, _, clause = sid.partition(":")
        labels[sid] = f"{prefix} {clause} {title}" if len(prefixes) > 1 else f"{clause} {title}"
    return labels


def scope_lines(scope: Sequence[dict[str, object]], versions: dict[str, str]) -> list[str]:
    """One readable line per scope entry: catalogue, version, included and excluded clauses."""
    catalogues = localized_catalogues()
    lines = []
    for entry in scope:
        cat_id = str(entry.get("catalogue", ""))
        title = catalogues[cat_id].title if cat_id in catalogues else cat_id
        included = entry.get("include") or []
        include = ", ".join(str(c) for c in included) or _("all clauses")  # type: ignore[attr-defined]
        exclude = ", ".join(str(c) for c in entry.get("exclude") or [])  # type: ignore[attr-defined]
        version = " " + _("(version %(version)s)", version=versions[cat_id]) if cat_id in versions else ""
        department = f"{entry['department']}: " if entry.get("department") else ""
        body_type = (" " + _("(inspection body type %(type)s)", type=entry["body_type"])
                     if entry.get("body_type") else "")
        lines.append(f"{department}{title}{version}{body_type}: {include}"
                     + ("; " + _("excluding %(clauses)s", clauses=exclude) if exclude else ""))
    return lines


def _items(audit: Audit) -> list[ChecklistItem]:
    """The checklist with every result row, its author and its SOP links, in a few queries."""
    stmt = (select(ChecklistItem).where(ChecklistItem.audit_id == audit.id).order_by(ChecklistItem.position)
            .options(selectinload(ChecklistItem.results).options(
                joinedload(RequirementResult.recorded_by), selectinload(RequirementResult.files),
                selectinload(RequirementResult.sop_links).joinedload(ResultSopLink.revision)
                .joinedload(Revision.sop))))
    return list(db.session.scalars(stmt))


def _clause_of(item: ChecklistItem, catalogues: dict[str, content.Catalogue]) -> tuple[str, str]:
    """(clause group id, label) of an item; the section when the catalogue no longer has the item."""
    catalogue = catalogues.get(item.catalogue_id)
    if catalogue is None or item.requirement_id not in catalogue:
        return item.section_id, item.section_title
    _, clause = section_and_clause(catalogue.get(item.requirement_id), catalogue)
    return clause.id, f"{clause.clause} {clause.title}"


def _documents(item: ChecklistItem, catalogues: dict[str, content.Catalogue],
               in_force: dict[str, list[SopRef]]) -> tuple[str, ...]:
    """SOP revisions the auditors examined for this item, then SOPs in force that claim to cover it."""
    examined = [f"{link.revision.sop.code} rev. {link.revision.number}"
                for result in item.results for link in result.sop_links]
    catalogue = catalogues.get(item.catalogue_id)
    covering: list[str] = []
    if catalogue is not None and item.requirement_id in catalogue:
        covering = [ref.label for ref in covering_sops(catalogue.get(item.requirement_id), catalogue, in_force)]
    return tuple(dict.fromkeys(examined + covering))


def _notes(results: Iterable[RequirementResult]) -> tuple[Note, ...]:
    return tuple(Note(r.evidence_note, r.recorded_by.full_name if r.recorded_by else "", r.recorded_at, r.result)
                 for r in results if r.evidence_note.strip())


def _files(results: Iterable[RequirementResult]) -> tuple[FileLine, ...]:
    return tuple(FileLine(f.filename, f.size, f.sha256) for r in results for f in r.files)


def _rows(audit: Audit, labels: dict[str, str], findings: list[FindingLine]) -> list[ChecklistRow]:
    catalogues = localized_catalogues()
    current = services.current_results(audit)
    in_force = effective_sops(audit.unit_id)
    by_requirement: dict[str, list[FindingLine]] = {}
    for finding in findings:
        by_requirement.setdefault(finding.requirement_id, []).append(finding)
    rows = []
    for item in _items(audit):
        now = current.get(item.id)
        clause_id, clause_label = _clause_of(item, catalogues)
        na = now if now is not None and now.result == Result.NOT_APPLICABLE.value else None
        rows.append(ChecklistRow(
            position=item.position, requirement_id=item.requirement_id, catalogue_id=item.catalogue_id,
            section_id=item.section_id, section_title=item.section_title,
            section_label=labels.get(item.section_id, item.section_title),
            clause_id=clause_id, clause_label=clause_label, clause=item.clause, title=item.title, topic=item.topic,
            result=services.result_of(item.id, current), documents=_documents(item, catalogues, in_force),
            notes=_notes(item.results), justification=now.justification if now else "",
            justified_by=na.recorded_by.full_name if na and na.recorded_by else "",
            justified_at=na.recorded_at if na else None,
            findings=tuple(by_requirement.get(item.requirement_id, ())),
            verified=item.verified, catalogue=catalogue_label(item.catalogue_id), files=_files(item.results)))
    return rows


def _findings(audit: Audit) -> list[FindingLine]:
    stmt = (select(Finding).where(Finding.audit_id == audit.id).order_by(Finding.number)
            .options(joinedload(Finding.item), joinedload(Finding.raised_by),
                     selectinload(Finding.actions).options(joinedload(CorrectiveAction.owner),
                                                           selectinload(CorrectiveAction.steps))))
    return [FindingLine(f.number, f.grade, f.item.clause, f.item.requirement_id, f.item.title, f.statement,
                        f.evidence, f.raised_by.full_name if f.raised_by else "",
                        tuple(_action_line(a) for a in f.actions), catalogue=catalogue_label(f.item.catalogue_id),
                        verified=f.item.verified)
            for f in db.session.scalars(stmt)]


def _action_line(action: CorrectiveAction) -> ActionLine:
    def text(kind: StepKind) -> str:
        step: ActionStep | None = action.latest(kind)
        return step.text if step else ""

    root = action.latest(StepKind.ROOT_CAUSE)
    review = action.latest(StepKind.EFFECTIVENESS_REVIEW)
    verdict = ""
    if review is not None:
        verdict = _("%(verdict)s (%(who)s, %(when)s): %(text)s",
                    verdict=_("Effective") if review.effective else _("Not effective"), who=review.actor_name,
                    when=format_date(review.at), text=review.text)
    return ActionLine(action.id, action.title, action.owner.full_name if action.owner else "", action.due_on,
                      action.status, services.is_overdue(action), correction=text(StepKind.CORRECTION),
                      root_cause=root.text if root else "",
                      root_cause_method=str(word(root.method)) if root and root.method else "",
                      plan=text(StepKind.ACTION_PLAN), implementation=text(StepKind.IMPLEMENTATION), review=verdict)


def _progress(audit: Audit, summary: services.AuditSummary) -> ProgressReport:
    comparison = services.progress(audit)
    previous = comparison.previous
    before = services.audit_summary(previous)
    labels = section_labels(summary.section_titles)
    sections = tuple(ProgressLine(sid, labels[sid], score_from_counts(before.by_section.get(sid, {})),
                                  score_from_counts(counts)) for sid, counts in summary.by_section.items())
    changed = tuple(ChangedRow(row.item.clause, row.item.title, row.before, row.after, str(word(row.change)))
                    for row in comparison.rows if row.before != row.after)
    return ProgressReport(audit_reference(previous), previous.title,
                          _("%(start)s to %(end)s", start=format_date(previous.planned_start),
                            end=format_date(previous.planned_end)),
                          comparison.counts, sections, changed)


# --- rendering --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReportCharts:
    """The charts as data: URIs of SVG images (an <img> keeps the chart out of the page's style cascade,
    which renders much faster than inline <svg> and is all the sandboxed renderer accepts besides our files)."""

    results_by_section: str
    findings_by_grade: str
    progress: str = ""


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii") if svg else ""


def report_charts(report: GapReport) -> ReportCharts:
    """The summary charts of a report, as SVG data: URIs."""
    # Short labels: glyphs are most of a chart's drawing time, and the tables beside it name the sections.
    by_section = charts.results_by_section_svg([(s.number, s.counts) for s in report.sections], RESULT_ORDER)
    by_grade = charts.findings_by_grade_svg(report.summary.findings_by_grade)
    progress = ""
    if report.progress is not None:
        lines = report.progress.sections
        progress = charts.progress_svg([chart_label(line.section_id) for line in lines],
                                       [line.previous_score for line in lines],
                                       [line.current_score for line in lines],
                                       previous_label=report.progress.previous_reference,
                                       current_label=report.reference)
    return ReportCharts(_data_uri(by_section), _data_uri(by_grade), _data_uri(progress))


def render_gap_report(report: GapReport) -> bytes:
    """PDF bytes of a report (needs an application context for the templates)."""
    from qms.pdf import render_pdf

    return render_pdf("audits/report_pdf.html", report=report, charts=report_charts(report),
                      result_label=result_label, grade_label=grade_label, results=RESULT_ORDER,
                      short_labels=SHORT_LABELS, word=word)


def gap_report_pdf(audit: Audit, *, generated_by: str | None = None) -> bytes:
    """The audit's report as PDF; the signed-in user is named as the one who generated it."""
    return render_gap_report(build_gap_report(audit, generated_by=generated_by or _signed_in_name()))


def _signed_in_name() -> str:
    from flask import has_request_context
    from flask_login import current_user

    if has_request_context() and current_user.is_authenticated:
        return str(current_user.full_name)
    return ""
