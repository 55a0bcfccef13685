"""Ballistic entries, derived images, correlation jobs, ranked candidates, decisions and case links.

An entry is one imaged cartridge case: its original file is kept unchanged in the object store
(by SHA-256) and everything computed from it (the processed surface, overlays, cell maps) is a
`DerivedObject` that names its source. A `CorrelationJob` row is the source of truth for a search
in the background: the queue only carries its id. Candidates and decisions are history
(append-only); a `CaseLink` is written once, when a first decision and an independent blind
verification both say "identification lead".
"""
from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.auth.models import User
from qms.db import utcnow
from qms.evidence.models import Case, Item
from qms.extensions import db
from qms.scoping import UnitScoped
from qms.trail.audited import Audited
from qms.trail.models import append_only_model


class Origin(enum.StrEnum):
    LOCAL = "local"  # imaged in this unit from one of its custody items
    IMPORTED = "imported"  # received in an exchange package from another unit or server


ORIGIN_LABELS = {Origin.LOCAL: lazy_pgettext("entry origin", "Imaged here"),
                 Origin.IMPORTED: lazy_pgettext("entry origin", "Imported")}


class SurfaceKind(enum.StrEnum):
    TOPOGRAPHY = "topography"  # X3P height map
    IMAGE = "image"  # 2D photograph (ring light)


SURFACE_KIND_LABELS = {SurfaceKind.TOPOGRAPHY: _l("Topography (3D)"), SurfaceKind.IMAGE: _l("Image (2D)")}


class DerivedKind(enum.StrEnum):
    PROCESSED = "processed"  # the preprocessed surface (X3P) the index holds
    QUERY_VIEW = "query_view"  # the query's stored surface as a greyscale PNG
    ALIGNED_VIEW = "aligned_view"  # the candidate rotated and shifted onto the query, PNG
    OVERLAY = "overlay"  # three-panel colour overlay, PNG
    CELLMAP = "cellmap"  # CMC cell grid, PNG


DERIVED_KIND_LABELS = {DerivedKind.PROCESSED: _l("Processed surface"), DerivedKind.QUERY_VIEW: _l("Query surface"),
                       DerivedKind.ALIGNED_VIEW: _l("Candidate, aligned"), DerivedKind.OVERLAY: _l("Overlay"),
                       DerivedKind.CELLMAP: _l("CMC cell map")}


def label_of(labels: dict[Any, Any], code: str) -> str:
    """The translated label of a stored code; an unknown code (a newer version's) is shown as stored."""
    label = labels.get(code)
    return str(label) if label is not None else code


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return str(JOB_STATE_LABELS[self])


JOB_STATE_LABELS = {JobState.QUEUED: _l("Queued"), JobState.RUNNING: _l("Running"), JobState.DONE: _l("Done"),
                    JobState.FAILED: _l("Failed")}


# What an entry's settings say, by key; other keys (a partner's, a demo's) are shown as stored.
SETTING_LABELS = {"description": _l("Device settings"), "reader_notes": _l("Notes from reading the file")}


# The stage a job is at, as stored (the row keeps English words; the page shows the label).
STAGE_LABELS = {"waiting for a worker": _l("waiting for a worker"),
                "waiting for a worker (resumed)": _l("waiting for a worker (resumed)"),
                "processing the scan": _l("processing the scan"),
                "adding to the unit's index": _l("adding to the unit's index"),
                "searching the index": _l("searching the index"), "making review images": _l("making review images"),
                "done": _l("done")}


class DecisionRole(enum.StrEnum):
    FIRST = "first"  # the examiner who reviewed the candidate
    VERIFICATION = "verification"  # a second, independent examiner, blind to the first decision


class Conclusion(enum.StrEnum):
    IDENTIFICATION_LEAD = "identification_lead"
    INCONCLUSIVE = "inconclusive"
    EXCLUDED = "excluded"

    @property
    def label(self) -> str:
        return str(CONCLUSION_LABELS[self])


CONCLUSION_LABELS = {Conclusion.IDENTIFICATION_LEAD: _l("Identification lead"),
                     Conclusion.INCONCLUSIVE: _l("Inconclusive"), Conclusion.EXCLUDED: _l("Excluded")}


def _check(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")"


class BallisticEntry(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """One imaged cartridge case (scene find or test fire), tied to a custody item of the unit."""

    __tablename__ = "ballistic_entry"
    __table_args__ = (
        CheckConstraint(_check("origin", Origin), name="origin_known"),
        CheckConstraint(_check("kind", SurfaceKind), name="kind_known"),
        CheckConstraint("origin = 'imported' OR item_id IS NOT NULL", name="local_has_item"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_item.id"), index=True)
    calibre: Mapped[str] = mapped_column(String(40), default="")
    firearm_make: Mapped[str] = mapped_column(String(80), default="")
    firearm_model: Mapped[str] = mapped_column(String(80), default="")
    device: Mapped[str] = mapped_column(String(120), default="")  # the instrument's label when acquired
    # The instrument in the unit's equipment register, and its status when the scan was acquired.
    device_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"), index=True)
    device_status: Mapped[str] = mapped_column(String(32), default="")
    device_calibrated_until: Mapped[date | None]
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    acquired_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    acquired_by_name: Mapped[str] = mapped_column(String(120), default="")  # kept for imported entries
    acquired_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16), default=SurfaceKind.TOPOGRAPHY.value)
    pixel_size_um: Mapped[float] = mapped_column(Float)
    original_sha256: Mapped[str] = mapped_column(String(64))
    original_name: Mapped[str] = mapped_column(String(200), default="")
    original_type: Mapped[str] = mapped_column(String(16))  # x3p | png | tiff | jpeg
    original_size: Mapped[int]
    processed_sha256: Mapped[str | None] = mapped_column(String(64))
    index_entry_id: Mapped[str] = mapped_column(String(36), unique=True)  # uuid4 hex, the id in the unit's index
    indexed_at: Mapped[datetime | None]
    origin: Mapped[str] = mapped_column(String(16), default=Origin.LOCAL.value)
    source_unit: Mapped[str] = mapped_column(String(120), default="")
    source_server: Mapped[str] = mapped_column(String(200), default="")
    source_label: Mapped[str] = mapped_column(String(200), default="")  # case/exhibit as the source names it
    package_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    item: Mapped[Item | None] = relationship()
    acquired_by: Mapped[User | None] = relationship()

    @property
    def label(self) -> str:
        """How people name the entry: case and exhibit, or the source's name for an imported one."""
        if self.item is not None:
            return f"{self.item.case.case_number} / {self.item.exhibit_number}"
        return f"{self.source_label or _l('imported entry')} ({self.source_unit})"

    @property
    def origin_label(self) -> str:
        return label_of(ORIGIN_LABELS, self.origin)

    @property
    def kind_label(self) -> str:
        return label_of(SURFACE_KIND_LABELS, self.kind)

    @property
    def case(self) -> Case | None:
        return self.item.case if self.item is not None else None


@append_only_model
class DerivedObject(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A file computed from an entry (or a candidate pair): processed surface or explanation image."""

    __tablename__ = "ballistic_derived"
    __table_args__ = (
        CheckConstraint(_check("kind", DerivedKind), name="kind_known"),
        UniqueConstraint("entry_id", "candidate_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ballistic_entry.id"), index=True)
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("correlation_candidate.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(48))
    source_sha256: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def kind_label(self) -> str:
        return label_of(DERIVED_KIND_LABELS, self.kind)


class CorrelationJob(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """Process an entry, add it to the unit's index, search it; the row is the truth, not the queue.

    `version` makes every change a compare-and-set (SQLAlchemy version counter), so two workers
    cannot both claim a job; `lease_until` and `worker` let a restarted worker take back a job
    whose worker died.
    """

    __tablename__ = "correlation_job"
    __table_args__ = (
        CheckConstraint(_check("state", JobState), name="state_known"),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_range"),
        Index("ix_correlation_job_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ballistic_entry.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED.value)
    stage: Mapped[str] = mapped_column(String(32), default="waiting for a worker")
    progress: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    worker: Mapped[str] = mapped_column(String(120), default="")
    lease_until: Mapped[datetime | None]
    error: Mapped[str] = mapped_column(Text, default="")
    index_size: Mapped[int | None]
    timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    entry: Mapped[BallisticEntry] = relationship()

    __mapper_args__ = {"version_id_col": version}

    @property
    def state_label(self) -> str:
        return JobState(self.state).label

    @property
    def stage_label(self) -> str:
        return label_of(STAGE_LABELS, self.stage)


@append_only_model
class Candidate(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """One ranked result of a job, written once with all the others when the job completes."""

    __tablename__ = "correlation_candidate"
    __table_args__ = (UniqueConstraint("job_id", "rank"), UniqueConstraint("job_id", "index_entry_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("correlation_job.id"), index=True)
    attempt: Mapped[int]
    rank: Mapped[int]
    index_entry_id: Mapped[str] = mapped_column(String(36))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ballistic_entry.id"), index=True)
    first_pass_score: Mapped[float] = mapped_column(Float)
    first_pass_rank: Mapped[int]
    score: Mapped[float | None] = mapped_column(Float)
    high_cmc: Mapped[int | None]
    possible_cells: Mapped[int | None]
    cmc_original: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True))
    correlation: Mapped[float | None] = mapped_column(Float)
    angle_deg: Mapped[float | None] = mapped_column(Float)
    log10_lr: Mapped[float | None] = mapped_column(Float)
    calibration_name: Mapped[str] = mapped_column(String(200), default="")
    calibration_size: Mapped[int | None]  # known pairs the calibration was fitted on
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    job: Mapped[CorrelationJob] = relationship()
    entry: Mapped[BallisticEntry | None] = relationship()


@append_only_model
class Decision(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """An examiner's signed conclusion on a pair of entries; never changed (a pair has one of each role).

    The pair is stored in a fixed order (lower entry id first), so the conclusion holds whichever
    of the two was the query.
    """

    __tablename__ = "comparison_decision"
    __table_args__ = (
        UniqueConstraint("entry_low_id", "entry_high_id", "role"),
        CheckConstraint("entry_low_id < entry_high_id", name="pair_ordered"),
        CheckConstraint(_check("role", DecisionRole), name="role_known"),
        CheckConstraint(_check("conclusion", Conclusion), name="conclusion_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_low_id: Mapped[int] = mapped_column(ForeignKey("ballistic_entry.id"), index=True)
    entry_high_id: Mapped[int] = mapped_column(ForeignKey("ballistic_entry.id"), index=True)
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("correlation_candidate.id"))
    role: Mapped[str] = mapped_column(String(16))
    conclusion: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(Text, default="")
    examiner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)  # the examiner re-entered their password

    examiner: Mapped[User] = relationship()

    @property
    def conclusion_label(self) -> str:
        return Conclusion(self.conclusion).label


@append_only_model
class CaseLink(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """Two entries (and so their cases) linked by a verified identification lead; written once."""

    __tablename__ = "case_link"
    __table_args__ = (UniqueConstraint("entry_low_id", "entry_high_id"),
                      CheckConstraint("entry_low_id < entry_high_id", name="pair_ordered"))

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_low_id: Mapped[int] = mapped_column(ForeignKey("ballistic_entry.id"), index=True)
    entry_high_id: Mapped[int] = mapped_column(ForeignKey("ballistic_entry.id"), index=True)
    case_low_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_case.id"), index=True)
    case_high_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_case.id"), index=True)
    first_decision_id: Mapped[int] = mapped_column(ForeignKey("comparison_decision.id"))
    verification_id: Mapped[int] = mapped_column(ForeignKey("comparison_decision.id"))
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)

    entry_low: Mapped[BallisticEntry] = relationship(foreign_keys=[entry_low_id])
    entry_high: Mapped[BallisticEntry] = relationship(foreign_keys=[entry_high_id])
    first_decision: Mapped[Decision] = relationship(foreign_keys=[first_decision_id])
    verification: Mapped[Decision] = relationship(foreign_keys=[verification_id])
