"""Documents: "in force" is a query on effective dates; the SOP's cached state columns go.

`sop.current_revision_id`, `sop.status`, `sop.last_reviewed_on` and `sop.next_review_on` were
written when an effective date was applied (on reads, by `apply_due_revisions`). They are now
derived from the revision events when read (`qms.documents.models`), so they are dropped. The
"effective" and "superseded" events already recorded stay in the history.

Revision ID: 0009_documents
Revises: 0008
Create Date: 2026-12-05
"""
from datetime import date, datetime, timezone

import sqlalchemy as sa
from alembic import op
from dateutil.relativedelta import relativedelta

revision = "0009_documents"
down_revision = "0008"
branch_labels = None
depends_on = None

STATUS_CHECK = "status IN ('draft', 'in_review', 'approved', 'effective', 'retired')"
FK = "fk_sop_current_revision"


def _without_foreign_keys(dialect: str):  # type: ignore[no-untyped-def]
    """SQLite rebuilds the table to drop columns; its old copy must go without checking the rows
    of other tables that point to it (they point to the rebuilt one by the same name and ids)."""

    class Switch:
        def __enter__(self) -> None:
            if dialect == "sqlite":
                with op.get_context().autocommit_block():
                    op.execute("PRAGMA foreign_keys = OFF")

        def __exit__(self, *exc: object) -> None:
            if dialect == "sqlite":
                with op.get_context().autocommit_block():
                    op.execute("PRAGMA foreign_keys = ON")

    return Switch()


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with _without_foreign_keys(dialect):
        if dialect == "postgresql":
            op.drop_constraint(FK, "sop", type_="foreignkey")
        with op.batch_alter_table("sop", schema=None) as batch_op:
            batch_op.drop_index(batch_op.f("ix_sop_next_review_on"))
            if dialect != "postgresql":
                batch_op.drop_constraint(FK, type_="foreignkey")
            batch_op.drop_constraint(batch_op.f("ck_sop_status_known"), type_="check")
            batch_op.drop_column("next_review_on")
            batch_op.drop_column("last_reviewed_on")
            batch_op.drop_column("current_revision_id")
            batch_op.drop_column("status")


# What the dropped columns said, computed from the events on the day of the downgrade.
_IN_FORCE = """(SELECT a.revision_id FROM sop_revision_event a
                WHERE a.sop_id = sop.id AND a.kind = 'approved' AND a.effective_on <= :today
                ORDER BY a.effective_on DESC, a.id DESC LIMIT 1)"""
_BACKFILL = f"""UPDATE sop SET
    current_revision_id = CASE WHEN retired_at IS NULL THEN {_IN_FORCE} END,
    status = CASE
      WHEN retired_at IS NOT NULL THEN 'retired'
      WHEN EXISTS (SELECT 1 FROM sop_revision_event a WHERE a.sop_id = sop.id AND a.kind = 'approved'
                   AND a.effective_on <= :today) THEN 'effective'
      WHEN EXISTS (SELECT 1 FROM sop_revision_event a WHERE a.sop_id = sop.id AND a.kind = 'approved')
        THEN 'approved'
      WHEN EXISTS (SELECT 1 FROM sop_revision_event s WHERE s.sop_id = sop.id AND s.kind = 'submitted'
                   AND NOT EXISTS (SELECT 1 FROM sop_revision_event d WHERE d.revision_id = s.revision_id
                                   AND d.kind IN ('rejected', 'approved'))) THEN 'in_review'
      ELSE 'draft' END"""
_REVIEWED = """UPDATE sop SET last_reviewed_on = (
    SELECT MAX(CASE WHEN e.kind = 'approved' THEN e.effective_on ELSE DATE(e.at) END) FROM sop_revision_event e
    WHERE e.revision_id = sop.current_revision_id AND e.kind IN ('approved', 'reviewed'))
    WHERE current_revision_id IS NOT NULL"""


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    with _without_foreign_keys(dialect):
        with op.batch_alter_table("sop", schema=None) as batch_op:
            batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="draft"))
            batch_op.add_column(sa.Column("current_revision_id", sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column("last_reviewed_on", sa.Date(), nullable=True))
            batch_op.add_column(sa.Column("next_review_on", sa.Date(), nullable=True))
        bind = op.get_bind()
        today = datetime.now(timezone.utc).date()
        bind.execute(sa.text(_BACKFILL).bindparams(sa.bindparam("today", today, type_=sa.Date)))
        bind.execute(sa.text(_REVIEWED))
        for sop_id, last, months in bind.execute(sa.text(
                "SELECT id, last_reviewed_on, review_months FROM sop WHERE last_reviewed_on IS NOT NULL")).all():
            last = last if isinstance(last, date) else date.fromisoformat(str(last))
            bind.execute(sa.text("UPDATE sop SET next_review_on = :next WHERE id = :id").bindparams(
                sa.bindparam("next", last + relativedelta(months=months), type_=sa.Date), id=sop_id))
        with op.batch_alter_table("sop", schema=None) as batch_op:
            batch_op.alter_column("status", server_default=None)
            batch_op.create_check_constraint(batch_op.f("ck_sop_status_known"), STATUS_CHECK)
            batch_op.create_index(batch_op.f("ix_sop_next_review_on"), ["next_review_on"], unique=False)
            if dialect != "postgresql":
                batch_op.create_foreign_key(FK, "sop_revision", ["current_revision_id", "id"], ["id", "sop_id"])
        if dialect == "postgresql":
            op.create_foreign_key(FK, "sop", "sop_revision", ["current_revision_id", "id"], ["id", "sop_id"])
