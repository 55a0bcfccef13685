"""Custody events may be "imaged" (an item scanned or photographed for ballistic comparison).

Only the CHECK constraint on custody_event.kind changes. SQLite cannot alter a constraint, so the
table is rebuilt; its append-only triggers go with the old table and are put back afterwards.

Revision ID: 0011_evidence
Revises: 0010_auth
Create Date: 2026-12-08
"""
from alembic import op

from qms.db import append_only_ddl, drop_append_only_ddl

revision = "0011_evidence"
down_revision = "0010_auth"
branch_labels = None
depends_on = None

KINDS_BEFORE = ("collected", "sealed", "transfer_offered", "transfer_accepted", "transfer_cancelled", "stored",
                "removed_from_storage", "examined", "seal_broken", "resealed", "sampled", "photographed",
                "returned_to_owner", "destroyed", "disposed", "correction")
KINDS_AFTER = KINDS_BEFORE[:12] + ("imaged",) + KINDS_BEFORE[12:]


def _check(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"


def _replace_check(kinds: tuple[str, ...]) -> None:
    dialect = op.get_bind().dialect.name
    for statement in drop_append_only_ddl("custody_event", dialect):
        op.execute(statement)
    with op.batch_alter_table("custody_event", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_custody_event_kind_known"), type_="check")
        batch_op.create_check_constraint("kind_known", _check(kinds))
    for statement in append_only_ddl("custody_event", dialect):
        op.execute(statement)


def upgrade():
    _replace_check(KINDS_AFTER)


def downgrade():
    # Refuses (the constraint fails) while any "imaged" event exists: history is not deleted to go back.
    _replace_check(KINDS_BEFORE)
