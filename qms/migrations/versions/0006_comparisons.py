# ruff: noqa: E501  (generated table definitions)
"""Comparisons: ballistic entries, derived objects, correlation jobs, candidates, decisions, case links.

Candidates, decisions, derived objects and case links are history: append-only, with triggers.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

import qms.db
from qms.db import append_only_ddl, drop_append_only_ddl

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

APPEND_ONLY = ("ballistic_derived", "correlation_candidate", "comparison_decision", "case_link")


def upgrade():
    op.create_table('ballistic_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('calibre', sa.String(length=40), nullable=False),
    sa.Column('firearm_make', sa.String(length=80), nullable=False),
    sa.Column('firearm_model', sa.String(length=80), nullable=False),
    sa.Column('device', sa.String(length=120), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('acquired_by_id', sa.Integer(), nullable=True),
    sa.Column('acquired_by_name', sa.String(length=120), nullable=False),
    sa.Column('acquired_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('pixel_size_um', sa.Float(), nullable=False),
    sa.Column('original_sha256', sa.String(length=64), nullable=False),
    sa.Column('original_name', sa.String(length=200), nullable=False),
    sa.Column('original_type', sa.String(length=16), nullable=False),
    sa.Column('original_size', sa.Integer(), nullable=False),
    sa.Column('processed_sha256', sa.String(length=64), nullable=True),
    sa.Column('index_entry_id', sa.String(length=36), nullable=False),
    sa.Column('indexed_at', qms.db.UTCDateTime(), nullable=True),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('source_unit', sa.String(length=120), nullable=False),
    sa.Column('source_server', sa.String(length=200), nullable=False),
    sa.Column('source_label', sa.String(length=200), nullable=False),
    sa.Column('package_sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('topography', 'image')", name=op.f('ck_ballistic_entry_kind_known')),
    sa.CheckConstraint("origin = 'imported' OR item_id IS NOT NULL", name=op.f('ck_ballistic_entry_local_has_item')),
    sa.CheckConstraint("origin IN ('local', 'imported')", name=op.f('ck_ballistic_entry_origin_known')),
    sa.ForeignKeyConstraint(['acquired_by_id'], ['user_account.id'], name=op.f('fk_ballistic_entry_acquired_by_id_user_account')),
    sa.ForeignKeyConstraint(['item_id'], ['evidence_item.id'], name=op.f('fk_ballistic_entry_item_id_evidence_item')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_ballistic_entry_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ballistic_entry')),
    sa.UniqueConstraint('index_entry_id', name=op.f('uq_ballistic_entry_index_entry_id'))
    )
    with op.batch_alter_table('ballistic_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballistic_entry_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ballistic_entry_unit_id'), ['unit_id'], unique=False)

    op.create_table('correlation_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=120), nullable=False),
    sa.Column('lease_until', qms.db.UTCDateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('index_size', sa.Integer(), nullable=True),
    sa.Column('timings', sa.JSON(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('started_at', qms.db.UTCDateTime(), nullable=True),
    sa.Column('finished_at', qms.db.UTCDateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_correlation_job_state_known')),
    sa.CheckConstraint('progress >= 0 AND progress <= 100', name=op.f('ck_correlation_job_progress_range')),
    sa.ForeignKeyConstraint(['entry_id'], ['ballistic_entry.id'], name=op.f('fk_correlation_job_entry_id_ballistic_entry')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_correlation_job_requested_by_id_user_account')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_correlation_job_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_correlation_job'))
    )
    with op.batch_alter_table('correlation_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_correlation_job_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index('ix_correlation_job_state', ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_correlation_job_unit_id'), ['unit_id'], unique=False)

    op.create_table('correlation_candidate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('index_entry_id', sa.String(length=36), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('first_pass_score', sa.Float(), nullable=False),
    sa.Column('first_pass_rank', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('high_cmc', sa.Integer(), nullable=True),
    sa.Column('possible_cells', sa.Integer(), nullable=True),
    sa.Column('cmc_original', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('correlation', sa.Float(), nullable=True),
    sa.Column('angle_deg', sa.Float(), nullable=True),
    sa.Column('log10_lr', sa.Float(), nullable=True),
    sa.Column('calibration_name', sa.String(length=200), nullable=False),
    sa.Column('calibration_size', sa.Integer(), nullable=True),
    sa.Column('created_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['ballistic_entry.id'], name=op.f('fk_correlation_candidate_entry_id_ballistic_entry')),
    sa.ForeignKeyConstraint(['job_id'], ['correlation_job.id'], name=op.f('fk_correlation_candidate_job_id_correlation_job')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_correlation_candidate_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_correlation_candidate')),
    sa.UniqueConstraint('job_id', 'index_entry_id', name=op.f('uq_correlation_candidate_job_id_index_entry_id')),
    sa.UniqueConstraint('job_id', 'rank', name=op.f('uq_correlation_candidate_job_id_rank'))
    )
    with op.batch_alter_table('correlation_candidate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_correlation_candidate_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_correlation_candidate_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_correlation_candidate_unit_id'), ['unit_id'], unique=False)

    op.create_table('ballistic_derived',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('media_type', sa.String(length=48), nullable=False),
    sa.Column('source_sha256', sa.String(length=64), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('created_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('processed', 'query_view', 'aligned_view', 'overlay', 'cellmap')", name=op.f('ck_ballistic_derived_kind_known')),
    sa.ForeignKeyConstraint(['candidate_id'], ['correlation_candidate.id'], name=op.f('fk_ballistic_derived_candidate_id_correlation_candidate')),
    sa.ForeignKeyConstraint(['entry_id'], ['ballistic_entry.id'], name=op.f('fk_ballistic_derived_entry_id_ballistic_entry')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_ballistic_derived_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ballistic_derived')),
    sa.UniqueConstraint('entry_id', 'candidate_id', 'kind', name=op.f('uq_ballistic_derived_entry_id_candidate_id_kind'))
    )
    with op.batch_alter_table('ballistic_derived', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballistic_derived_candidate_id'), ['candidate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ballistic_derived_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ballistic_derived_unit_id'), ['unit_id'], unique=False)

    op.create_table('comparison_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_low_id', sa.Integer(), nullable=False),
    sa.Column('entry_high_id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('conclusion', sa.String(length=24), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('examiner_id', sa.Integer(), nullable=False),
    sa.Column('signed_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("conclusion IN ('identification_lead', 'inconclusive', 'excluded')", name=op.f('ck_comparison_decision_conclusion_known')),
    sa.CheckConstraint("role IN ('first', 'verification')", name=op.f('ck_comparison_decision_role_known')),
    sa.CheckConstraint('entry_low_id < entry_high_id', name=op.f('ck_comparison_decision_pair_ordered')),
    sa.ForeignKeyConstraint(['candidate_id'], ['correlation_candidate.id'], name=op.f('fk_comparison_decision_candidate_id_correlation_candidate')),
    sa.ForeignKeyConstraint(['entry_high_id'], ['ballistic_entry.id'], name=op.f('fk_comparison_decision_entry_high_id_ballistic_entry')),
    sa.ForeignKeyConstraint(['entry_low_id'], ['ballistic_entry.id'], name=op.f('fk_comparison_decision_entry_low_id_ballistic_entry')),
    sa.ForeignKeyConstraint(['examiner_id'], ['user_account.id'], name=op.f('fk_comparison_decision_examiner_id_user_account')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_comparison_decision_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comparison_decision')),
    sa.UniqueConstraint('entry_low_id', 'entry_high_id', 'role', name=op.f('uq_comparison_decision_entry_low_id_entry_high_id_role'))
    )
    with op.batch_alter_table('comparison_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comparison_decision_entry_high_id'), ['entry_high_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_comparison_decision_entry_low_id'), ['entry_low_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_comparison_decision_unit_id'), ['unit_id'], unique=False)

    op.create_table('case_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_low_id', sa.Integer(), nullable=False),
    sa.Column('entry_high_id', sa.Integer(), nullable=False),
    sa.Column('case_low_id', sa.Integer(), nullable=True),
    sa.Column('case_high_id', sa.Integer(), nullable=True),
    sa.Column('first_decision_id', sa.Integer(), nullable=False),
    sa.Column('verification_id', sa.Integer(), nullable=False),
    sa.Column('confirmed_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('entry_low_id < entry_high_id', name=op.f('ck_case_link_pair_ordered')),
    sa.ForeignKeyConstraint(['case_high_id'], ['evidence_case.id'], name=op.f('fk_case_link_case_high_id_evidence_case')),
    sa.ForeignKeyConstraint(['case_low_id'], ['evidence_case.id'], name=op.f('fk_case_link_case_low_id_evidence_case')),
    sa.ForeignKeyConstraint(['entry_high_id'], ['ballistic_entry.id'], name=op.f('fk_case_link_entry_high_id_ballistic_entry')),
    sa.ForeignKeyConstraint(['entry_low_id'], ['ballistic_entry.id'], name=op.f('fk_case_link_entry_low_id_ballistic_entry')),
    sa.ForeignKeyConstraint(['first_decision_id'], ['comparison_decision.id'], name=op.f('fk_case_link_first_decision_id_comparison_decision')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_case_link_unit_id_unit')),
    sa.ForeignKeyConstraint(['verification_id'], ['comparison_decision.id'], name=op.f('fk_case_link_verification_id_comparison_decision')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_link')),
    sa.UniqueConstraint('entry_low_id', 'entry_high_id', name=op.f('uq_case_link_entry_low_id_entry_high_id'))
    )
    with op.batch_alter_table('case_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_link_case_high_id'), ['case_high_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_link_case_low_id'), ['case_low_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_link_entry_high_id'), ['entry_high_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_link_entry_low_id'), ['entry_low_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_link_unit_id'), ['unit_id'], unique=False)

    for table in APPEND_ONLY:
        for statement in append_only_ddl(table, op.get_bind().dialect.name):
            op.execute(statement)


def downgrade():
    for table in APPEND_ONLY:
        for statement in drop_append_only_ddl(table, op.get_bind().dialect.name):
            op.execute(statement)
    with op.batch_alter_table('case_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_link_unit_id'))
        batch_op.drop_index(batch_op.f('ix_case_link_entry_low_id'))
        batch_op.drop_index(batch_op.f('ix_case_link_entry_high_id'))
        batch_op.drop_index(batch_op.f('ix_case_link_case_low_id'))
        batch_op.drop_index(batch_op.f('ix_case_link_case_high_id'))

    op.drop_table('case_link')
    with op.batch_alter_table('comparison_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comparison_decision_unit_id'))
        batch_op.drop_index(batch_op.f('ix_comparison_decision_entry_low_id'))
        batch_op.drop_index(batch_op.f('ix_comparison_decision_entry_high_id'))

    op.drop_table('comparison_decision')
    with op.batch_alter_table('ballistic_derived', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ballistic_derived_unit_id'))
        batch_op.drop_index(batch_op.f('ix_ballistic_derived_entry_id'))
        batch_op.drop_index(batch_op.f('ix_ballistic_derived_candidate_id'))

    op.drop_table('ballistic_derived')
    with op.batch_alter_table('correlation_candidate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_correlation_candidate_unit_id'))
        batch_op.drop_index(batch_op.f('ix_correlation_candidate_job_id'))
        batch_op.drop_index(batch_op.f('ix_correlation_candidate_entry_id'))

    op.drop_table('correlation_candidate')
    with op.batch_alter_table('correlation_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_correlation_job_unit_id'))
        batch_op.drop_index('ix_correlation_job_state')
        batch_op.drop_index(batch_op.f('ix_correlation_job_entry_id'))

    op.drop_table('correlation_job')
    with op.batch_alter_table('ballistic_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ballistic_entry_unit_id'))
        batch_op.drop_index(batch_op.f('ix_ballistic_entry_item_id'))

    op.drop_table('ballistic_entry')
