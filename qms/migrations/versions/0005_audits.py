# ruff: noqa: E501  (generated table definitions)
"""Audits: programme, audits, team, checklist items, append-only results and action steps, findings, actions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

import qms.db
from qms.db import append_only_ddl, drop_append_only_ddl

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

APPEND_ONLY = ("audit_checklist_item", "audit_result", "audit_result_sop", "audit_result_file", "audit_action_step")


def upgrade():
    op.create_table('audit_programme',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('risk_notes', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('year BETWEEN 2000 AND 2200', name=op.f('ck_audit_programme_year_range')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_audit_programme_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_audit_programme_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_programme')),
    sa.UniqueConstraint('unit_id', 'year', name=op.f('uq_audit_programme_unit_id_year'))
    )
    with op.batch_alter_table('audit_programme', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_programme_unit_id'), ['unit_id'], unique=False)

    op.create_table('audit_programme_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('process', sa.String(length=200), nullable=False),
    sa.Column('clauses', sa.JSON(), nullable=False),
    sa.Column('planned_month', sa.Integer(), nullable=False),
    sa.Column('risk_level', sa.String(length=8), nullable=False),
    sa.Column('rationale', sa.Text(), nullable=False),
    sa.Column('created_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("risk_level IN ('low', 'medium', 'high')", name=op.f('ck_audit_programme_entry_risk_known')),
    sa.CheckConstraint('planned_month BETWEEN 1 AND 12', name=op.f('ck_audit_programme_entry_month_range')),
    sa.ForeignKeyConstraint(['programme_id'], ['audit_programme.id'], name=op.f('fk_audit_programme_entry_programme_id_audit_programme')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_audit_programme_entry_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_programme_entry'))
    )
    with op.batch_alter_table('audit_programme_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_programme_entry_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_programme_entry_unit_id'), ['unit_id'], unique=False)

    op.create_table('audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_entry_id', sa.Integer(), nullable=True),
    sa.Column('previous_audit_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('body_type', sa.String(length=1), nullable=False),
    sa.Column('scope', sa.JSON(), nullable=False),
    sa.Column('checklist_template', sa.String(length=64), nullable=False),
    sa.Column('catalogue_versions', sa.JSON(), nullable=False),
    sa.Column('planned_start', sa.Date(), nullable=False),
    sa.Column('planned_end', sa.Date(), nullable=False),
    sa.Column('lead_auditor_id', sa.Integer(), nullable=False),
    sa.Column('auditee', sa.String(length=200), nullable=False),
    sa.Column('areas', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('conclusion', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('started_at', qms.db.UTCDateTime(), nullable=True),
    sa.Column('reported_at', qms.db.UTCDateTime(), nullable=True),
    sa.Column('closed_at', qms.db.UTCDateTime(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("body_type IN ('A', 'B', 'C')", name=op.f('ck_audit_body_type_known')),
    sa.CheckConstraint("kind <> 're_audit' OR previous_audit_id IS NOT NULL", name=op.f('ck_audit_re_audit_has_previous')),
    sa.CheckConstraint("kind IN ('internal', 'technical', 're_audit')", name=op.f('ck_audit_kind_known')),
    sa.CheckConstraint("status IN ('planned', 'in_progress', 'reported', 'closed')", name=op.f('ck_audit_status_known')),
    sa.CheckConstraint('planned_end >= planned_start', name=op.f('ck_audit_dates_ordered')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_audit_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['lead_auditor_id'], ['user_account.id'], name=op.f('fk_audit_lead_auditor_id_user_account')),
    sa.ForeignKeyConstraint(['previous_audit_id'], ['audit.id'], name=op.f('fk_audit_previous_audit_id_audit')),
    sa.ForeignKeyConstraint(['programme_entry_id'], ['audit_programme_entry.id'], name=op.f('fk_audit_programme_entry_id_audit_programme_entry')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_audit_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit'))
    )
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_lead_auditor_id'), ['lead_auditor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_previous_audit_id'), ['previous_audit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_programme_entry_id'), ['programme_entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_unit_id'), ['unit_id'], unique=False)

    op.create_table('audit_checklist_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audit_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('catalogue_id', sa.String(length=64), nullable=False),
    sa.Column('requirement_id', sa.String(length=100), nullable=False),
    sa.Column('clause', sa.String(length=32), nullable=False),
    sa.Column('section_id', sa.String(length=100), nullable=False),
    sa.Column('section_title', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('topic', sa.Text(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['audit_id'], ['audit.id'], name=op.f('fk_audit_checklist_item_audit_id_audit')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_audit_checklist_item_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checklist_item')),
    sa.UniqueConstraint('audit_id', 'position', name=op.f('uq_audit_checklist_item_audit_id_position')),
    sa.UniqueConstraint('audit_id', 'requirement_id', name=op.f('uq_audit_checklist_item_audit_id_requirement_id'))
    )
    with op.batch_alter_table('audit_checklist_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_checklist_item_audit_id'), ['audit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_checklist_item_unit_id'), ['unit_id'], unique=False)

    op.create_table('audit_team_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audit_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('created_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("role IN ('auditor', 'technical_expert', 'observer')", name=op.f('ck_audit_team_member_role_known')),
    sa.ForeignKeyConstraint(['audit_id'], ['audit.id'], name=op.f('fk_audit_team_member_audit_id_audit')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_audit_team_member_unit_id_unit')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_audit_team_member_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_team_member')),
    sa.UniqueConstraint('audit_id', 'user_id', name=op.f('uq_audit_team_member_audit_id_user_id'))
    )
    with op.batch_alter_table('audit_team_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_team_member_audit_id'), ['audit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_team_member_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_team_member_user_id'), ['user_id'], unique=False)

    op.create_table('audit_finding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audit_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('grade', sa.String(length=16), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('raised_by_id', sa.Integer(), nullable=True),
    sa.Column('raised_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("grade IN ('major', 'minor', 'observation', 'opportunity')", name=op.f('ck_audit_finding_grade_known')),
    sa.ForeignKeyConstraint(['audit_id'], ['audit.id'], name=op.f('fk_audit_finding_audit_id_audit')),
    sa.ForeignKeyConstraint(['item_id'], ['audit_checklist_item.id'], name=op.f('fk_audit_finding_item_id_audit_checklist_item')),
    sa.ForeignKeyConstraint(['raised_by_id'], ['user_account.id'], name=op.f('fk_audit_finding_raised_by_id_user_account')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_audit_finding_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_finding')),
    sa.UniqueConstraint('audit_id', 'number', name=op.f('uq_audit_finding_audit_id_number'))
    )
    with op.batch_alter_table('audit_finding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_finding_audit_id'), ['audit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_finding_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_finding_unit_id'), ['unit_id'], unique=False)

    op.create_table('audit_result',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audit_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('result', sa.String(length=24), nullable=False),
    sa.Column('evidence_note', sa.Text(), nullable=False),
    sa.Column('justification', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("result <> 'not_applicable' OR length(trim(justification)) > 0", name=op.f('ck_audit_result_not_applicable_justified')),
    sa.CheckConstraint("result IN ('conforming', 'partially_conforming', 'non_conforming', 'not_applicable', 'not_assessed')", name=op.f('ck_audit_result_result_known')),
    sa.ForeignKeyConstraint(['audit_id'], ['audit.id'], name=op.f('fk_audit_result_audit_id_audit')),
    sa.ForeignKeyConstraint(['item_id'], ['audit_checklist_item.id'], name=op.f('fk_audit_result_item_id_audit_checklist_item')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_audit_result_recorded_by_id_user_account')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_audit_result_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_result'))
    )
    with op.batch_alter_table('audit_result', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_result_audit_id'), ['audit_id'], unique=False)
        batch_op.create_index('ix_audit_result_item_id_id', ['item_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_result_unit_id'), ['unit_id'], unique=False)

    op.create_table('audit_corrective_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('audit_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('raised_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('closed_at', qms.db.UTCDateTime(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('open', 'implemented', 'effective', 'closed')", name=op.f('ck_audit_corrective_action_status_known')),
    sa.ForeignKeyConstraint(['audit_id'], ['audit.id'], name=op.f('fk_audit_corrective_action_audit_id_audit')),
    sa.ForeignKeyConstraint(['finding_id'], ['audit_finding.id'], name=op.f('fk_audit_corrective_action_finding_id_audit_finding')),
    sa.ForeignKeyConstraint(['owner_id'], ['user_account.id'], name=op.f('fk_audit_corrective_action_owner_id_user_account')),
    sa.ForeignKeyConstraint(['raised_by_id'], ['user_account.id'], name=op.f('fk_audit_corrective_action_raised_by_id_user_account')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_audit_corrective_action_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_corrective_action'))
    )
    with op.batch_alter_table('audit_corrective_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_corrective_action_audit_id'), ['audit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_corrective_action_finding_id'), ['finding_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_corrective_action_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_audit_corrective_action_status_due_on', ['status', 'due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_corrective_action_unit_id'), ['unit_id'], unique=False)

    op.create_table('audit_result_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('result_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['result_id'], ['audit_result.id'], name=op.f('fk_audit_result_file_result_id_audit_result')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_audit_result_file_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_result_file'))
    )
    with op.batch_alter_table('audit_result_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_result_file_result_id'), ['result_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_result_file_unit_id'), ['unit_id'], unique=False)

    op.create_table('audit_result_sop',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('result_id', sa.Integer(), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['result_id'], ['audit_result.id'], name=op.f('fk_audit_result_sop_result_id_audit_result')),
    sa.ForeignKeyConstraint(['revision_id'], ['sop_revision.id'], name=op.f('fk_audit_result_sop_revision_id_sop_revision')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_audit_result_sop_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_result_sop')),
    sa.UniqueConstraint('result_id', 'revision_id', name=op.f('uq_audit_result_sop_result_id_revision_id'))
    )
    with op.batch_alter_table('audit_result_sop', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_result_sop_result_id'), ['result_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_result_sop_revision_id'), ['revision_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_result_sop_unit_id'), ['unit_id'], unique=False)

    op.create_table('audit_action_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=True),
    sa.Column('effective', sa.Boolean(), nullable=True),
    sa.Column('planned_due_on', sa.Date(), nullable=True),
    sa.Column('file_sha256', sa.String(length=64), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=200), nullable=False),
    sa.Column('at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("(method IS NULL OR method IN ('five_whys', 'fishbone', 'fault_tree', 'other'))", name=op.f('ck_audit_action_step_method_known')),
    sa.CheckConstraint("kind <> 'effectiveness_review' OR effective IS NOT NULL", name=op.f('ck_audit_action_step_review_has_verdict')),
    sa.CheckConstraint("kind <> 'root_cause' OR method IS NOT NULL", name=op.f('ck_audit_action_step_root_cause_has_method')),
    sa.CheckConstraint("kind IN ('correction', 'root_cause', 'action_plan', 'implementation', 'effectiveness_review', 'closure')", name=op.f('ck_audit_action_step_kind_known')),
    sa.CheckConstraint('length(trim(text)) > 0', name=op.f('ck_audit_action_step_text_present')),
    sa.ForeignKeyConstraint(['action_id'], ['audit_corrective_action.id'], name=op.f('fk_audit_action_step_action_id_audit_corrective_action')),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_audit_action_step_actor_id_user_account')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_audit_action_step_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_action_step'))
    )
    with op.batch_alter_table('audit_action_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_action_step_action_id'), ['action_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_action_step_unit_id'), ['unit_id'], unique=False)

    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        for statement in append_only_ddl(table, dialect):
            op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        for statement in drop_append_only_ddl(table, dialect):
            op.execute(statement)
    with op.batch_alter_table('audit_action_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_action_step_unit_id'))
        batch_op.drop_index(batch_op.f('ix_audit_action_step_action_id'))

    op.drop_table('audit_action_step')
    with op.batch_alter_table('audit_result_sop', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_result_sop_unit_id'))
        batch_op.drop_index(batch_op.f('ix_audit_result_sop_revision_id'))
        batch_op.drop_index(batch_op.f('ix_audit_result_sop_result_id'))

    op.drop_table('audit_result_sop')
    with op.batch_alter_table('audit_result_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_result_file_unit_id'))
        batch_op.drop_index(batch_op.f('ix_audit_result_file_result_id'))

    op.drop_table('audit_result_file')
    with op.batch_alter_table('audit_corrective_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_corrective_action_unit_id'))
        batch_op.drop_index('ix_audit_corrective_action_status_due_on')
        batch_op.drop_index(batch_op.f('ix_audit_corrective_action_owner_id'))
        batch_op.drop_index(batch_op.f('ix_audit_corrective_action_finding_id'))
        batch_op.drop_index(batch_op.f('ix_audit_corrective_action_audit_id'))

    op.drop_table('audit_corrective_action')
    with op.batch_alter_table('audit_result', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_result_unit_id'))
        batch_op.drop_index('ix_audit_result_item_id_id')
        batch_op.drop_index(batch_op.f('ix_audit_result_audit_id'))

    op.drop_table('audit_result')
    with op.batch_alter_table('audit_finding', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_finding_unit_id'))
        batch_op.drop_index(batch_op.f('ix_audit_finding_item_id'))
        batch_op.drop_index(batch_op.f('ix_audit_finding_audit_id'))

    op.drop_table('audit_finding')
    with op.batch_alter_table('audit_team_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_team_member_user_id'))
        batch_op.drop_index(batch_op.f('ix_audit_team_member_unit_id'))
        batch_op.drop_index(batch_op.f('ix_audit_team_member_audit_id'))

    op.drop_table('audit_team_member')
    with op.batch_alter_table('audit_checklist_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_checklist_item_unit_id'))
        batch_op.drop_index(batch_op.f('ix_audit_checklist_item_audit_id'))

    op.drop_table('audit_checklist_item')
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_unit_id'))
        batch_op.drop_index(batch_op.f('ix_audit_status'))
        batch_op.drop_index(batch_op.f('ix_audit_programme_entry_id'))
        batch_op.drop_index(batch_op.f('ix_audit_previous_audit_id'))
        batch_op.drop_index(batch_op.f('ix_audit_lead_auditor_id'))

    op.drop_table('audit')
    with op.batch_alter_table('audit_programme_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_programme_entry_unit_id'))
        batch_op.drop_index(batch_op.f('ix_audit_programme_entry_programme_id'))

    op.drop_table('audit_programme_entry')
    with op.batch_alter_table('audit_programme', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_programme_unit_id'))

    op.drop_table('audit_programme')
