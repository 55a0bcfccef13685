"""Languages and time zones: each person's language, each unit's language and time zone.

An empty value means "not chosen": a person follows the unit's language (then the browser's),
a unit without a time zone uses QMS_DEFAULT_TIMEZONE.

Revision ID: 0019_languages
Revises: 0018_merge_quality
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

revision = "0019_languages"
down_revision = "0018_merge_quality"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_account") as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=False, server_default=""))
    with op.batch_alter_table("unit") as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("unit") as batch_op:
        batch_op.drop_column("timezone")
        batch_op.drop_column("language")
    with op.batch_alter_table("user_account") as batch_op:
        batch_op.drop_column("language")
