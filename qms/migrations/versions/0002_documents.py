"""Documents: SOP register, revisions (frozen once submitted), revision events, acknowledgements.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

import qms.db
from qms.db import append_only_ddl, drop_append_only_ddl

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATUS_CHECK = "status IN ('draft', 'in_review', 'approved', 'effective', 'retired')"
KIND_CHECK = "kind IN ('submitted', 'rejected', 'approved', 'effective', 'superseded', 'retired', 'reviewed')"
HISTORY = ("sop_revision_event", "sop_acknowledgement")
FROZEN = "sop_revision rows are frozen once submitted"


def _frozen_revision_ddl(dialect):
    """A submitted revision (submitted_at set) can be neither updated nor deleted, even in raw SQL."""
    if dialect == "postgresql":
        return [
            f"""CREATE OR REPLACE FUNCTION sop_revision_refuse_change() RETURNS trigger AS $$
                BEGIN
                  IF OLD.submitted_at IS NOT NULL THEN
                    RAISE EXCEPTION '{FROZEN}' USING ERRCODE = 'insufficient_privilege';
                  END IF;
                  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                  RETURN NEW;
                END; $$ LANGUAGE plpgsql""",
            """CREATE TRIGGER sop_revision_frozen BEFORE UPDATE OR DELETE ON sop_revision
               FOR EACH ROW EXECUTE FUNCTION sop_revision_refuse_change()""",
        ]
    if dialect == "sqlite":
        return [
            f"""CREATE TRIGGER sop_revision_frozen_update BEFORE UPDATE ON sop_revision
                WHEN OLD.submitted_at IS NOT NULL BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END""",
            f"""CREATE TRIGGER sop_revision_frozen_delete BEFORE DELETE ON sop_revision
                WHEN OLD.submitted_at IS NOT NULL BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END""",
        ]
    return []


def _drop_frozen_revision_ddl(dialect):
    if dialect == "postgresql":
        return ["DROP TRIGGER IF EXISTS sop_revision_frozen ON sop_revision",
                "DROP FUNCTION IF EXISTS sop_revision_refuse_change()"]
    if dialect == "sqlite":
        return ["DROP TRIGGER IF EXISTS sop_revision_frozen_update",
                "DROP TRIGGER IF EXISTS sop_revision_frozen_delete"]
    return []


def upgrade():
    dialect = op.get_bind().dialect.name
    current_fk = [] if dialect == "postgresql" else [sa.ForeignKeyConstraint(
        ["current_revision_id", "id"], ["sop_revision.id", "sop_revision.sop_id"], name="fk_sop_current_revision")]
    op.create_table("sop",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("code", sa.String(length=32), nullable=False),
    sa.Column("title", sa.String(length=200), nullable=False),
    sa.Column("discipline", sa.String(length=64), nullable=False),
    sa.Column("owner_id", sa.Integer(), nullable=True),
    sa.Column("review_months", sa.Integer(), nullable=False),
    sa.Column("applies_to", sa.JSON(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("current_revision_id", sa.Integer(), nullable=True),
    sa.Column("last_reviewed_on", sa.Date(), nullable=True),
    sa.Column("next_review_on", sa.Date(), nullable=True),
    sa.Column("retired_at", qms.db.UTCDateTime(), nullable=True),
    sa.Column("created_at", qms.db.UTCDateTime(), nullable=False),
    sa.Column("unit_id", sa.Integer(), nullable=False),
    sa.CheckConstraint("review_months BETWEEN 1 AND 60", name=op.f("ck_sop_review_months_range")),
    sa.CheckConstraint(STATUS_CHECK, name=op.f("ck_sop_status_known")),
    sa.ForeignKeyConstraint(["owner_id"], ["user_account.id"], name=op.f("fk_sop_owner_id_user_account")),
    sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_sop_unit_id_unit")),
    *current_fk,
    sa.PrimaryKeyConstraint("id", name=op.f("pk_sop")),
    sa.UniqueConstraint("unit_id", "code", name=op.f("uq_sop_unit_id_code"))
    )
    with op.batch_alter_table("sop", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sop_next_review_on"), ["next_review_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_sop_unit_id"), ["unit_id"], unique=False)

    op.create_table("sop_revision",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("sop_id", sa.Integer(), nullable=False),
    sa.Column("number", sa.Integer(), nullable=False),
    sa.Column("content_markdown", sa.Text(), nullable=True),
    sa.Column("file_sha256", sa.String(length=64), nullable=True),
    sa.Column("filename", sa.String(length=255), nullable=False),
    sa.Column("media_type", sa.String(length=100), nullable=False),
    sa.Column("file_size", sa.Integer(), nullable=True),
    sa.Column("change_summary", sa.Text(), nullable=False),
    sa.Column("content_sha256", sa.String(length=64), nullable=False),
    sa.Column("requirement_ids", sa.JSON(), nullable=False),
    sa.Column("author_id", sa.Integer(), nullable=True),
    sa.Column("editor_id", sa.Integer(), nullable=True),
    sa.Column("based_on_id", sa.Integer(), nullable=True),
    sa.Column("created_at", qms.db.UTCDateTime(), nullable=False),
    sa.Column("submitted_at", qms.db.UTCDateTime(), nullable=True),
    sa.Column("unit_id", sa.Integer(), nullable=False),
    sa.CheckConstraint("(content_markdown IS NULL) <> (file_sha256 IS NULL)",
                       name=op.f("ck_sop_revision_one_kind_of_content")),
    sa.ForeignKeyConstraint(["author_id"], ["user_account.id"], name=op.f("fk_sop_revision_author_id_user_account")),
    sa.ForeignKeyConstraint(["based_on_id"], ["sop_revision.id"],
                            name=op.f("fk_sop_revision_based_on_id_sop_revision")),
    sa.ForeignKeyConstraint(["editor_id"], ["user_account.id"], name=op.f("fk_sop_revision_editor_id_user_account")),
    sa.ForeignKeyConstraint(["sop_id"], ["sop.id"], name=op.f("fk_sop_revision_sop_id_sop")),
    sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_sop_revision_unit_id_unit")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_sop_revision")),
    sa.UniqueConstraint("id", "sop_id", name=op.f("uq_sop_revision_id_sop_id")),
    sa.UniqueConstraint("sop_id", "number", name=op.f("uq_sop_revision_sop_id_number"))
    )
    with op.batch_alter_table("sop_revision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sop_revision_sop_id"), ["sop_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sop_revision_unit_id"), ["unit_id"], unique=False)
    if dialect == "postgresql":
        op.create_foreign_key("fk_sop_current_revision", "sop", "sop_revision",
                              ["current_revision_id", "id"], ["id", "sop_id"])

    op.create_table("sop_revision_event",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("sop_id", sa.Integer(), nullable=False),
    sa.Column("revision_id", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("at", qms.db.UTCDateTime(), nullable=False),
    sa.Column("actor_id", sa.Integer(), nullable=True),
    sa.Column("actor_name", sa.String(length=200), nullable=False),
    sa.Column("comment", sa.Text(), nullable=False),
    sa.Column("content_sha256", sa.String(length=64), nullable=False),
    sa.Column("signature_meaning", sa.String(length=200), nullable=False),
    sa.Column("effective_on", sa.Date(), nullable=True),
    sa.Column("unit_id", sa.Integer(), nullable=False),
    sa.CheckConstraint(KIND_CHECK, name=op.f("ck_sop_revision_event_kind_known")),
    sa.ForeignKeyConstraint(["actor_id"], ["user_account.id"],
                            name=op.f("fk_sop_revision_event_actor_id_user_account")),
    sa.ForeignKeyConstraint(["revision_id"], ["sop_revision.id"],
                            name=op.f("fk_sop_revision_event_revision_id_sop_revision")),
    sa.ForeignKeyConstraint(["sop_id"], ["sop.id"], name=op.f("fk_sop_revision_event_sop_id_sop")),
    sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_sop_revision_event_unit_id_unit")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_sop_revision_event"))
    )
    with op.batch_alter_table("sop_revision_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sop_revision_event_revision_id"), ["revision_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sop_revision_event_sop_id"), ["sop_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sop_revision_event_unit_id"), ["unit_id"], unique=False)
        batch_op.create_index("uq_sop_revision_event_once", ["revision_id", "kind"], unique=True,
                              sqlite_where=sa.text("kind <> 'reviewed'"),
                              postgresql_where=sa.text("kind <> 'reviewed'"))

    op.create_table("sop_acknowledgement",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("sop_id", sa.Integer(), nullable=False),
    sa.Column("revision_id", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=False),
    sa.Column("content_sha256", sa.String(length=64), nullable=False),
    sa.Column("acknowledged_at", qms.db.UTCDateTime(), nullable=False),
    sa.Column("unit_id", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["revision_id"], ["sop_revision.id"],
                            name=op.f("fk_sop_acknowledgement_revision_id_sop_revision")),
    sa.ForeignKeyConstraint(["sop_id"], ["sop.id"], name=op.f("fk_sop_acknowledgement_sop_id_sop")),
    sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_sop_acknowledgement_unit_id_unit")),
    sa.ForeignKeyConstraint(["user_id"], ["user_account.id"],
                            name=op.f("fk_sop_acknowledgement_user_id_user_account")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_sop_acknowledgement")),
    sa.UniqueConstraint("revision_id", "user_id", name=op.f("uq_sop_acknowledgement_revision_id_user_id"))
    )
    with op.batch_alter_table("sop_acknowledgement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sop_acknowledgement_revision_id"), ["revision_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sop_acknowledgement_sop_id"), ["sop_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sop_acknowledgement_unit_id"), ["unit_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sop_acknowledgement_user_id"), ["user_id"], unique=False)

    for table in HISTORY:
        for statement in append_only_ddl(table, dialect):
            op.execute(statement)
    for statement in _frozen_revision_ddl(dialect):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in _drop_frozen_revision_ddl(dialect):
        op.execute(statement)
    for table in HISTORY:
        for statement in drop_append_only_ddl(table, dialect):
            op.execute(statement)
    op.drop_table("sop_acknowledgement")
    op.drop_table("sop_revision_event")
    if dialect == "postgresql":
        op.drop_constraint("fk_sop_current_revision", "sop", type_="foreignkey")
    op.drop_table("sop_revision")
    op.drop_table("sop")
