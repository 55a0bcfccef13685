"""Merge the documents (0002) and evidence (0003) branches of the foundation.

Revision ID: 0004
Revises: 0002, 0003
Create Date: 2026-11-23
"""
revision = "0004"
down_revision = ("0002", "0003")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
