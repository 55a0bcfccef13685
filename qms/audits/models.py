"""Audit programmes, audits, checklists, results (append-only), findings and corrective actions.

An audit's checklist is generated once from its scope and is then history: items are never
changed. A requirement's result is an append-only `RequirementResult`; its *current* result is
the latest row for its checklist item. A corrective action's story (correction, root cause,
action plan, implementation, effectiveness review, closure) is an append-only `ActionStep`;
`CorrectiveAction.status` is a cache derived from its steps.
"""
from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.db import utcnow
from qms.extensions import db

# Imported, not named: mappers may be configured before the quality package is (e.g. from a CLI command).
from qms.quality.models import Nonconformity
from qms.scoping import UnitScoped
from qms.trail.audited import Audited
from qms.trail.models import append_only_model


# The codes the audit pages show as words (lower case, as in a sentence), in the reader's language.
WORDS = {"internal": _l("internal"), "technical": _l("technical"), "re_audit": _l("re-audit"),
         "planned": _l("planned"), "in_progress": _l("in progress"), "reported": _l("reported"),
         "closed": _l("closed"), "auditor": _l("auditor"), "technical_expert": _l("technical expert"),
         "observer": _l("observer"), "major": _l("major"), "minor": _l("minor"), "observation": _l("observation"),
         "opportunity": _l("opportunity"), "open": _l("open"), "implemented": _l("implemented"),
         "effective": _l("effective"), "low": _l("low"), "medium": _l("medium"), "high": _l("high"),
         "conforming": _l("conforming"), "partially_conforming": _l("partially conforming"),
         "non_conforming": _l("non conforming"), "not_applicable": _l("not applicable"),
         "not_assessed": _l("not assessed"), "improved": _l("improved"), "same": _l("same"), "worse": _l("worse"),
         "unranked": _l("unranked"), "correction": _l("correction"), "root_cause": _l("root cause"),
         "action_plan": _l("action plan"), "implementation": _l("implementation"),
         "effectiveness_review": _l("effectiveness review"), "closure": _l("closure"), "five_whys": _l("five whys"),
         "fishbone": _l("fishbone"), "fault_tree": _l("fault tree"), "other": _l("other")}


def word(code: str) -> str:
    """An audit code (status, kind, grade, role...) as a word; an unknown code as it is."""
    label = WORDS.get(code)
    return str(label) if label is not None else code.replace("_", " ")


class RiskLevel(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class AuditKind(enum.StrEnum):
    INTERNAL = "internal"  # management-system audit
    TECHNICAL = "technical"  # vertical audit of a discipline's work
    RE_AUDIT = "re_audit"  # started from a previous audit, results reset


class AuditStatus(enum.StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    REPORTED = "reported"
    CLOSED = "closed"


class TeamRole(enum.StrEnum):
    AUDITOR = "auditor"
    TECHNICAL_EXPERT = "technical_expert"
    OBSERVER = "observer"


class Result(enum.StrEnum):
    CONFORMING = "conforming"
    PARTIALLY_CONFORMING = "partially_conforming"
    NON_CONFORMING = "non_conforming"
    NOT_APPLICABLE = "not_applicable"  # needs a justification
    NOT_ASSESSED = "not_assessed"

    @property
    def label(self) -> str:
        return str(RESULT_LABELS[self])


RESULT_LABELS = {Result.CONFORMING: _l("Conforming"), Result.PARTIALLY_CONFORMING: _l("Partially conforming"),
                 Result.NON_CONFORMING: _l("Non conforming"), Result.NOT_APPLICABLE: _l("Not applicable"),
                 Result.NOT_ASSESSED: _l("Not assessed")}


class Grade(enum.StrEnum):
    MAJOR = "major"
    MINOR = "minor"
    OBSERVATION = "observation"
    OPPORTUNITY = "opportunity"  # opportunity for improvement

    @property
    def label(self) -> str:
        return str(GRADE_LABELS[self])


GRADE_LABELS = {Grade.MAJOR: _l("Major nonconformity"), Grade.MINOR: _l("Minor nonconformity"),
                Grade.OBSERVATION: _l("Observation"), Grade.OPPORTUNITY: _l("Opportunity for improvement")}


class ActionStatus(enum.StrEnum):
    OPEN = "open"  # raised; correction, root cause and plan being recorded
    IMPLEMENTED = "implemented"  # evidence of implementation recorded, waiting for review
    EFFECTIVE = "effective"  # reviewed effective by someone other than the owner
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return str(ACTION_STATUS_LABELS[self])


ACTION_STATUS_LABELS = {ActionStatus.OPEN: _l("Open"), ActionStatus.IMPLEMENTED: _l("Implemented"),
                        ActionStatus.EFFECTIVE: _l("Effective"), ActionStatus.CLOSED: _l("Closed")}


class StepKind(enum.StrEnum):
    CORRECTION = "correction"  # the immediate fix of the nonconformity itself
    ROOT_CAUSE = "root_cause"
    ACTION_PLAN = "action_plan"
    IMPLEMENTATION = "implementation"
    EFFECTIVENESS_REVIEW = "effectiveness_review"
    CLOSURE = "closure"

    @property
    def label(self) -> str:
        return str(STEP_LABELS[self])


STEP_LABELS = {StepKind.CORRECTION: _l("Correction"), StepKind.ROOT_CAUSE: _l("Root cause"),
               StepKind.ACTION_PLAN: _l("Action plan"), StepKind.IMPLEMENTATION: _l("Implementation"),
               StepKind.EFFECTIVENESS_REVIEW: _l("Effectiveness review"), StepKind.CLOSURE: _l("Closure")}


class RootCauseMethod(enum.StrEnum):
    FIVE_WHYS = "five_whys"
    FISHBONE = "fishbone"
    FAULT_TREE = "fault_tree"
    OTHER = "other"


def _check(column: str, values: type[enum.StrEnum], *, nullable: bool = False) -> str:
    listed = f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")"
    return f"({column} IS NULL OR {listed})" if nullable else listed


class AuditProgramme(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A unit's yearly, risk-based plan of audits."""

    __tablename__ = "audit_programme"
    __table_args__ = (UniqueConstraint("unit_id", "year"),
                      CheckConstraint("year BETWEEN 2000 AND 2200", name="year_range"))

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    risk_notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    entries: Mapped[list[ProgrammeEntry]] = relationship(
        back_populates="programme", order_by="(ProgrammeEntry.planned_month, ProgrammeEntry.id)")


class ProgrammeEntry(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """One planned audit of a process against clauses, with the risk that sets its priority."""

    __tablename__ = "audit_programme_entry"
    __table_args__ = (CheckConstraint("planned_month BETWEEN 1 AND 12", name="month_range"),
                      CheckConstraint(_check("risk_level", RiskLevel), name="risk_known"))

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("audit_programme.id"), index=True)
    process: Mapped[str] = mapped_column(String(200))
    clauses: Mapped[list[str]] = mapped_column(JSON, default=list)  # clause prefixes, e.g. ["17020:7.1"]
    planned_month: Mapped[int]
    risk_level: Mapped[str] = mapped_column(String(8), default=RiskLevel.MEDIUM.value)
    rationale: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    programme: Mapped[AuditProgramme] = relationship(back_populates="entries")
    audits: Mapped[list[Audit]] = relationship(back_populates="programme_entry", order_by="Audit.id")


class Audit(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """One audit: scope, dates, lead auditor and team, and its status."""

    __tablename__ = "audit"
    __table_args__ = (
        CheckConstraint(_check("kind", AuditKind), name="kind_known"),
        CheckConstraint(_check("status", AuditStatus), name="status_known"),
        CheckConstraint("body_type IN ('A', 'B', 'C')", name="body_type_known"),
        CheckConstraint("planned_end >= planned_start", name="dates_ordered"),
        CheckConstraint("kind <> 're_audit' OR previous_audit_id IS NOT NULL", name="re_audit_has_previous"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_entry_id: Mapped[int | None] = mapped_column(ForeignKey("audit_programme_entry.id"), index=True)
    previous_audit_id: Mapped[int | None] = mapped_column(ForeignKey("audit.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default=AuditKind.INTERNAL.value)
    body_type: Mapped[str] = mapped_column(String(1), default="A")
    # [{"catalogue": "iso17020-2012", "include": ["6.1"], "exclude": []}, ...] (audits.checklist.Scope)
    scope: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    checklist_template: Mapped[str] = mapped_column(String(64), default="")  # audits/checklists/<id>.yaml
    catalogue_versions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # audited against
    planned_start: Mapped[date]
    planned_end: Mapped[date]
    lead_auditor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    auditee: Mapped[str] = mapped_column(String(200), default="")
    areas: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=AuditStatus.PLANNED.value, index=True)
    conclusion: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    reported_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    programme_entry: Mapped[ProgrammeEntry | None] = relationship(back_populates="audits")
    previous_audit: Mapped[Audit | None] = relationship(remote_side=[id])
    lead_auditor = relationship("User", foreign_keys=[lead_auditor_id])
    team: Mapped[list[TeamMember]] = relationship(back_populates="audit", order_by="TeamMember.id")
    items: Mapped[list[ChecklistItem]] = relationship(back_populates="audit", order_by="ChecklistItem.position")
    findings: Mapped[list[Finding]] = relationship(back_populates="audit", order_by="Finding.number")


class TeamMember(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A member of an audit team besides the lead auditor."""

    __tablename__ = "audit_team_member"
    __table_args__ = (UniqueConstraint("audit_id", "user_id"),
                      CheckConstraint(_check("role", TeamRole), name="role_known"))

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    role: Mapped[str] = mapped_column(String(20), default=TeamRole.AUDITOR.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    audit: Mapped[Audit] = relationship(back_populates="team")
    user = relationship("User")


@append_only_model
class ChecklistItem(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """One requirement on an audit's checklist, with a snapshot of its catalogue text."""

    __tablename__ = "audit_checklist_item"
    __table_args__ = (UniqueConstraint("audit_id", "requirement_id"), UniqueConstraint("audit_id", "position"))

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id"), index=True)
    position: Mapped[int]
    catalogue_id: Mapped[str] = mapped_column(String(64))
    requirement_id: Mapped[str] = mapped_column(String(100))  # e.g. "17020:6.1.3"
    clause: Mapped[str] = mapped_column(String(32))  # e.g. "6.1.3"
    section_id: Mapped[str] = mapped_column(String(100))  # the top-level clause, e.g. "17020:6"
    section_title: Mapped[str] = mapped_column(String(200), default="")
    title: Mapped[str] = mapped_column(String(300))
    topic: Mapped[str] = mapped_column(Text, default="")

    audit: Mapped[Audit] = relationship(back_populates="items")

    @property
    def verified(self) -> bool:
        """Whether a recorded public source confirms this catalogue item; one no longer in its catalogue does not."""
        import audits

        catalogue = audits.load_all().get(self.catalogue_id)
        if catalogue is None or self.requirement_id not in catalogue:
            return False
        return catalogue.get(self.requirement_id).verified

    # View-only: appending a result must not mark the (append-only) item as changed.
    results: Mapped[list[RequirementResult]] = relationship(order_by="RequirementResult.id", viewonly=True)


@append_only_model
class RequirementResult(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A result recorded for a checklist item; the latest row per item is its current result."""

    __tablename__ = "audit_result"
    __table_args__ = (
        CheckConstraint(_check("result", Result), name="result_known"),
        # A requirement judged not applicable must say why, even when written below the application.
        CheckConstraint("result <> 'not_applicable' OR length(trim(justification)) > 0",
                        name="not_applicable_justified"),
        Index("ix_audit_result_item_id_id", "item_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("audit_checklist_item.id"))
    result: Mapped[str] = mapped_column(String(24))
    evidence_note: Mapped[str] = mapped_column(Text, default="")  # the objective evidence seen
    justification: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    item: Mapped[ChecklistItem] = relationship()
    recorded_by = relationship("User")
    # View-only, as above: links and files are added beside the result, never changing its row.
    sop_links: Mapped[list[ResultSopLink]] = relationship(order_by="ResultSopLink.id", viewonly=True)
    files: Mapped[list[ResultFile]] = relationship(order_by="ResultFile.id", viewonly=True)


@append_only_model
class ResultSopLink(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """An SOP revision the auditor examined as evidence for a result."""

    __tablename__ = "audit_result_sop"
    __table_args__ = (UniqueConstraint("result_id", "revision_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("audit_result.id"), index=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("sop_revision.id"), index=True)

    result: Mapped[RequirementResult] = relationship()
    revision = relationship("Revision")


@append_only_model
class ResultFile(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A file of objective evidence for a result, kept in the object store."""

    __tablename__ = "audit_result_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("audit_result.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]

    result: Mapped[RequirementResult] = relationship()


class Finding(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A graded finding against one requirement of an audit's checklist."""

    __tablename__ = "audit_finding"
    __table_args__ = (UniqueConstraint("audit_id", "number"),
                      CheckConstraint(_check("grade", Grade), name="grade_known"))

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("audit_checklist_item.id"), index=True)
    number: Mapped[int]  # 1, 2, ... within the audit
    grade: Mapped[str] = mapped_column(String(16))
    statement: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text, default="")
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)

    audit: Mapped[Audit] = relationship(back_populates="findings")
    item: Mapped[ChecklistItem] = relationship()
    raised_by = relationship("User")
    actions: Mapped[list[CorrectiveAction]] = relationship(back_populates="finding", order_by="CorrectiveAction.id")


class CorrectiveAction(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """The response to a finding, owned by one person, due by a date; its story is its steps."""

    __tablename__ = "audit_corrective_action"
    __table_args__ = (CheckConstraint(_check("status", ActionStatus), name="status_known"),
                      CheckConstraint("(finding_id IS NULL) <> (nonconformity_id IS NULL)", name="one_origin"),
                      Index("ix_audit_corrective_action_status_due_on", "status", "due_on"))

    id: Mapped[int] = mapped_column(primary_key=True)
    # An action answers an audit finding or a nonconformity from another source (qms.quality).
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("audit_finding.id"), index=True)
    audit_id: Mapped[int | None] = mapped_column(ForeignKey("audit.id"), index=True)
    nonconformity_id: Mapped[int | None] = mapped_column(ForeignKey("nonconformity.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    due_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default=ActionStatus.OPEN.value)
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    finding: Mapped[Finding | None] = relationship(back_populates="actions")
    nonconformity: Mapped[Nonconformity | None] = relationship()
    owner = relationship("User", foreign_keys=[owner_id])
    steps: Mapped[list[ActionStep]] = relationship(back_populates="action", order_by="ActionStep.id")

    @property
    def status_label(self) -> str:
        return ActionStatus(self.status).label

    def latest(self, kind: StepKind) -> ActionStep | None:
        return next((step for step in reversed(self.steps) if step.kind == kind.value), None)


@append_only_model
class ActionStep(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """One recorded step of a corrective action: who did or decided what, and when."""

    __tablename__ = "audit_action_step"
    __table_args__ = (
        CheckConstraint(_check("kind", StepKind), name="kind_known"),
        CheckConstraint(_check("method", RootCauseMethod, nullable=True), name="method_known"),
        CheckConstraint("kind <> 'root_cause' OR method IS NOT NULL", name="root_cause_has_method"),
        CheckConstraint("kind <> 'effectiveness_review' OR effective IS NOT NULL", name="review_has_verdict"),
        CheckConstraint("length(trim(text)) > 0", name="text_present"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("audit_corrective_action.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text)
    method: Mapped[str | None] = mapped_column(String(16))  # root cause method
    effective: Mapped[bool | None]  # effectiveness review verdict
    planned_due_on: Mapped[date | None]  # action plan: the date the plan commits to
    file_sha256: Mapped[str | None] = mapped_column(String(64))  # implementation evidence
    filename: Mapped[str] = mapped_column(String(255), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)

    action: Mapped[CorrectiveAction] = relationship(back_populates="steps")


APPEND_ONLY = ("audit_checklist_item", "audit_result", "audit_result_sop", "audit_result_file", "audit_action_step")
