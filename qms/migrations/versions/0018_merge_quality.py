"""Join the quality loop's branches: complaints and risks, proficiency and management review, the
digest preference, the quality manual's policy statements (each hangs off 0013_quality).

Revision ID: 0018_merge_quality
Revises: 0014_complaints, 0015_review, 0016_notify, 0017_manual
Create Date: 2026-12-07
"""
revision = "0018_merge_quality"
down_revision = ("0014_complaints", "0015_review", "0016_notify", "0017_manual")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
