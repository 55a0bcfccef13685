"""SOPs, their revisions, the revision history (events with e-signatures) and acknowledgements.

A revision is editable while it is a draft; once submitted its row is frozen (ORM refusal and a
database trigger). What happens to it afterwards (rejected, approved, retired, reviewed) is an
append-only `RevisionEvent`.

"In force" is not stored: it is a query on the approvals' effective dates, compared with
`qms.db.today()` when the query runs. The revision in force of an SOP is its approved revision
with the latest effective date on or before today (the later approval on a tie), unless the SOP
is retired; so at most one is in force, and a revision whose date comes is in force from that
moment in every page, report and API answer, with nothing written. `Sop.current_revision_id`,
`Sop.status` and `Sop.last_reviewed_on` are that query (SQL expressions, usable in filters and
joins); `Revision.state` says the same for one revision. Older databases also hold "effective"
and "superseded" events, written when an effective date used to be applied by hand: they stay
in the history and no longer decide anything.
"""
from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from dateutil.relativedelta import relativedelta
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    case,
    event,
    exists,
    func,
    inspect,
    literal,
    select,
)
from sqlalchemy.orm import Mapped, aliased, column_property, mapped_column, relationship

from qms.auth import models as _auth_models  # noqa: F401 - the derived columns below configure the mappers,

# which needs every relationship target (User, Unit) defined first
from qms.db import today, utcnow
from qms.extensions import db
from qms.scoping import UnitScoped
from qms.trail.audited import Audited
from qms.trail.models import AppendOnlyError, append_only_model

DISCIPLINES = ("scene examination", "firearms and ballistics", "evidence handling", "quality management",
               "health and safety", "equipment")
# The stored disciplines are codes in English words; people read these labels.
DISCIPLINE_LABELS = {"scene examination": _l("Scene examination"),
                     "firearms and ballistics": _l("Firearms and ballistics"),
                     "evidence handling": _l("Evidence handling"), "quality management": _l("Quality management"),
                     "health and safety": _l("Health and safety"), "equipment": _l("Equipment")}


def discipline_label(code: str) -> str:
    label = DISCIPLINE_LABELS.get(code)
    return str(label) if label is not None else code


class SopStatus(enum.StrEnum):
    DRAFT = "draft"  # no revision has been approved yet
    IN_REVIEW = "in_review"
    APPROVED = "approved"  # approved, waiting for its effective date
    EFFECTIVE = "effective"
    RETIRED = "retired"

    @property
    def label(self) -> str:
        return str(SOP_STATUS_LABELS[self])


# Lower case, as the register's status badges show them.
SOP_STATUS_LABELS = {SopStatus.DRAFT: _l("draft"), SopStatus.IN_REVIEW: _l("in review"),
                     SopStatus.APPROVED: _l("approved"), SopStatus.EFFECTIVE: _l("effective"),
                     SopStatus.RETIRED: _l("retired")}


class RevisionState(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    REJECTED = "rejected"
    APPROVED = "approved"
    EFFECTIVE = "effective"
    SUPERSEDED = "superseded"
    RETIRED = "retired"

    @property
    def label(self) -> str:
        return str(REVISION_STATE_LABELS[self])


REVISION_STATE_LABELS = {RevisionState.DRAFT: _l("draft"), RevisionState.IN_REVIEW: _l("in review"),
                         RevisionState.REJECTED: _l("rejected"), RevisionState.APPROVED: _l("approved"),
                         RevisionState.EFFECTIVE: _l("effective"), RevisionState.SUPERSEDED: _l("superseded"),
                         RevisionState.RETIRED: _l("retired")}


class EventKind(enum.StrEnum):
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    APPROVED = "approved"
    EFFECTIVE = "effective"  # no longer written: the effective date decides (module docstring)
    SUPERSEDED = "superseded"  # no longer written either
    RETIRED = "retired"
    REVIEWED = "reviewed"  # periodic review, no change: restarts the review clock

    @property
    def label(self) -> str:
        return str(REVISION_EVENT_LABELS[self])


REVISION_EVENT_LABELS = {EventKind.SUBMITTED: _l("submitted"), EventKind.REJECTED: _l("rejected"),
                         EventKind.APPROVED: _l("approved"), EventKind.EFFECTIVE: _l("effective"),
                         EventKind.SUPERSEDED: _l("superseded"), EventKind.RETIRED: _l("retired"),
                         EventKind.REVIEWED: _l("reviewed")}


# The state each event leaves a revision in (REVIEWED, EFFECTIVE and SUPERSEDED leave it as it
# was: whether an approved revision is in force is read from the dates, see `Revision.state`).
STATE_AFTER = {EventKind.SUBMITTED: RevisionState.IN_REVIEW, EventKind.REJECTED: RevisionState.REJECTED,
               EventKind.APPROVED: RevisionState.APPROVED, EventKind.RETIRED: RevisionState.RETIRED}

_KIND_CHECK = "kind IN (" + ", ".join(f"'{k.value}'" for k in EventKind) + ")"


class Sop(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A controlled document of a unit; its content lives in its revisions."""

    __tablename__ = "sop"
    __table_args__ = (
        UniqueConstraint("unit_id", "code"),
        CheckConstraint("review_months BETWEEN 1 AND 60", name="review_months_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    discipline: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    review_months: Mapped[int] = mapped_column(default=12)
    applies_to: Mapped[list[str]] = mapped_column(JSON, default=list)  # role values that must acknowledge
    retired_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner = relationship("User", foreign_keys=[owner_id])
    revisions: Mapped[list[Revision]] = relationship(
        back_populates="sop", order_by="Revision.number", foreign_keys="Revision.sop_id")

    if TYPE_CHECKING:  # mapped below, once the revision events they query are mapped
        current_revision_id: Mapped[int | None]
        status: Mapped[str]
        last_reviewed_on: Mapped[date | None]

    @property
    def status_label(self) -> str:
        return SopStatus(self.status).label

    @property
    def discipline_label(self) -> str:
        return discipline_label(self.discipline)

    @property
    def next_review_on(self) -> date | None:
        """The periodic review is due `review_months` after the last review (or the effective date)."""
        if self.last_reviewed_on is None:
            return None
        return self.last_reviewed_on + relativedelta(months=self.review_months)


class Revision(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """One revision's content: Markdown, or an uploaded PDF/DOCX kept in the object store."""

    __tablename__ = "sop_revision"
    __table_args__ = (
        UniqueConstraint("sop_id", "number"),
        UniqueConstraint("id", "sop_id"),
        CheckConstraint("(content_markdown IS NULL) <> (file_sha256 IS NULL)", name="one_kind_of_content"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sop_id: Mapped[int] = mapped_column(ForeignKey("sop.id"), index=True)
    number: Mapped[int]
    content_markdown: Mapped[str | None] = mapped_column(Text)
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255), default="")
    media_type: Mapped[str] = mapped_column(String(100), default="")
    file_size: Mapped[int | None]
    change_summary: Mapped[str] = mapped_column(Text, default="")
    content_sha256: Mapped[str] = mapped_column(String(64))
    requirement_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("sop_revision.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]  # set once; from then on the row is frozen

    sop: Mapped[Sop] = relationship(back_populates="revisions", foreign_keys=[sop_id])
    author = relationship("User", foreign_keys=[author_id])
    events: Mapped[list[RevisionEvent]] = relationship(back_populates="revision", order_by="RevisionEvent.id")

    @property
    def is_file(self) -> bool:
        return self.file_sha256 is not None

    @property
    def effective_on(self) -> date | None:
        """The day the approval put (or puts) this revision in force; None before approval."""
        approved = self.event(EventKind.APPROVED)
        return approved.effective_on if approved is not None else None

    @property
    def state(self) -> RevisionState:
        """Derived from the revision's events (the last one that changes state) and, once approved,
        from its effective date: in force from that day until a later approval's date, or retirement."""
        state = RevisionState.DRAFT
        for ev in self.events:
            state = STATE_AFTER.get(EventKind(ev.kind), state)
        if state != RevisionState.APPROVED or self.effective_on is None:
            return state
        retired = self.sop.retired_at
        as_of = min(today(), retired.date()) if retired is not None else today()
        if self.effective_on > as_of:
            return RevisionState.APPROVED
        return RevisionState.EFFECTIVE if self.sop.current_revision_id == self.id else RevisionState.SUPERSEDED

    def event(self, kind: EventKind) -> RevisionEvent | None:
        return next((ev for ev in reversed(self.events) if ev.kind == kind.value), None)


class RevisionImmutable(AppendOnlyError):
    """A submitted revision was about to be changed."""


@event.listens_for(Revision, "before_update")
def _refuse_change_after_submission(mapper: Any, connection: Any, target: Revision) -> None:
    state = inspect(target)
    history = state.attrs.submitted_at.history
    was_submitted = (history.deleted or history.unchanged or [None])[0] is not None
    # before_update also fires when only a collection changed (a new event): look at the columns.
    changed = any(state.attrs[attr.key].history.has_changes() for attr in state.mapper.column_attrs)
    if was_submitted and changed:
        raise RevisionImmutable(f"revision {target.number} of this SOP was submitted: it can no longer be changed")


@event.listens_for(Revision, "before_delete")
def _refuse_delete_after_submission(mapper: Any, connection: Any, target: Revision) -> None:
    if target.submitted_at is not None:
        raise RevisionImmutable(f"revision {target.number} of this SOP was submitted: it can no longer be deleted")


@append_only_model
class RevisionEvent(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A state change of a revision; an approval is an electronic signature.

    The signature freezes who signed (id and name), when, what the signature means and the hash
    of the content approved.
    """

    __tablename__ = "sop_revision_event"
    __table_args__ = (
        CheckConstraint(_KIND_CHECK, name="kind_known"),
        # Each transition happens once per revision (a race cannot approve or enact it twice).
        Index("uq_sop_revision_event_once", "revision_id", "kind", unique=True,
              sqlite_where=db.text("kind <> 'reviewed'"), postgresql_where=db.text("kind <> 'reviewed'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sop_id: Mapped[int] = mapped_column(ForeignKey("sop.id"), index=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("sop_revision.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    content_sha256: Mapped[str] = mapped_column(String(64))
    signature_meaning: Mapped[str] = mapped_column(String(200), default="")
    effective_on: Mapped[date | None]

    revision: Mapped[Revision] = relationship(back_populates="events")

    @property
    def kind_label(self) -> str:
        return EventKind(self.kind).label


@append_only_model
class Acknowledgement(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A staff member has read and understood this exact revision."""

    __tablename__ = "sop_acknowledgement"
    __table_args__ = (UniqueConstraint("revision_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sop_id: Mapped[int] = mapped_column(ForeignKey("sop.id"), index=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("sop_revision.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- "in force", as a query (module docstring) ---------------------------------------------------

def _today_param():  # type: ignore[no-untyped-def]
    """Today's date, bound when each statement runs (not when the mapping is configured)."""
    return bindparam("documents_today", callable_=today, type_=Date)


def _in_force_revision_id():  # type: ignore[no-untyped-def]
    approval = aliased(RevisionEvent)
    latest = (select(approval.revision_id)
              .where(approval.sop_id == Sop.id, approval.kind == EventKind.APPROVED.value,
                     approval.effective_on <= _today_param())
              .order_by(approval.effective_on.desc(), approval.id.desc()).limit(1)
              .correlate_except(approval).scalar_subquery())
    return case((Sop.retired_at.is_(None), latest), else_=None)


def _status():  # type: ignore[no-untyped-def]
    approval, submitted, decided = aliased(RevisionEvent), aliased(RevisionEvent), aliased(RevisionEvent)
    approved = and_(approval.sop_id == Sop.id, approval.kind == EventKind.APPROVED.value)
    in_review = exists().where(
        submitted.sop_id == Sop.id, submitted.kind == EventKind.SUBMITTED.value,
        ~exists().where(decided.revision_id == submitted.revision_id,
                        decided.kind.in_((EventKind.REJECTED.value, EventKind.APPROVED.value))))
    return case(
        (Sop.retired_at.is_not(None), literal(SopStatus.RETIRED.value)),
        (exists().where(approved, approval.effective_on <= _today_param()), literal(SopStatus.EFFECTIVE.value)),
        (exists().where(approved), literal(SopStatus.APPROVED.value)),
        (in_review, literal(SopStatus.IN_REVIEW.value)),
        else_=literal(SopStatus.DRAFT.value))


def _last_reviewed_on():  # type: ignore[no-untyped-def]
    """The in-force revision's effective date, or the day of its latest periodic review if later."""
    ev = aliased(RevisionEvent)
    day = case((ev.kind == EventKind.APPROVED.value, ev.effective_on), else_=func.date(ev.at, type_=Date))
    return (select(func.max(day))
            .where(ev.revision_id == _in_force_revision_id(),
                   ev.kind.in_((EventKind.APPROVED.value, EventKind.REVIEWED.value)))
            .correlate_except(ev).scalar_subquery())


Sop.current_revision_id = column_property(_in_force_revision_id())
Sop.status = column_property(_status())
Sop.last_reviewed_on = column_property(_last_reviewed_on())
