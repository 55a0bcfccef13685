"""Merge the audits (0005) and comparisons with exchange (0006, 0007) branches.

Revision ID: 0008
Revises: 0005, 0007
Create Date: 2026-12-01
"""
revision = "0008"
down_revision = ("0005", "0007")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
