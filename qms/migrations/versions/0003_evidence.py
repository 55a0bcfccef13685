# ruff: noqa: E501  (generated table definitions)
"""Evidence: cases, items, storage locations, append-only hash-chained custody events, checkpoints, photos.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

import qms.db
from qms.db import append_only_ddl, drop_append_only_ddl

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = ("custody_event", "custody_checkpoint", "evidence_photo")


def upgrade():
    op.create_table('custody_checkpoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('tree_size', sa.Integer(), nullable=False),
    sa.Column('root_hash', sa.String(length=64), nullable=False),
    sa.Column('leaves', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_checkpoint'))
    )
    with op.batch_alter_table('custody_checkpoint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_custody_checkpoint_created_at'), ['created_at'], unique=False)

    op.create_table('evidence_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_number', sa.String(length=64), nullable=False),
    sa.Column('offence_type', sa.String(length=120), nullable=False),
    sa.Column('offence_date', sa.Date(), nullable=True),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_evidence_case_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_evidence_case_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_case')),
    sa.UniqueConstraint('unit_id', 'case_number', name=op.f('uq_evidence_case_unit_id_case_number'))
    )
    with op.batch_alter_table('evidence_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_case_unit_id'), ['unit_id'], unique=False)

    op.create_table('storage_location',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('created_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('building', 'room', 'cabinet', 'shelf', 'box')", name=op.f('ck_storage_location_kind_known')),
    sa.ForeignKeyConstraint(['parent_id'], ['storage_location.id'], name=op.f('fk_storage_location_parent_id_storage_location')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_storage_location_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_storage_location')),
    sa.UniqueConstraint('unit_id', 'parent_id', 'name', name=op.f('uq_storage_location_unit_id_parent_id_name'))
    )
    with op.batch_alter_table('storage_location', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_storage_location_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_storage_location_unit_id'), ['unit_id'], unique=False)

    op.create_table('evidence_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('parent_item_id', sa.Integer(), nullable=True),
    sa.Column('exhibit_number', sa.String(length=32), nullable=False),
    sa.Column('item_type', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('make', sa.String(length=80), nullable=False),
    sa.Column('model', sa.String(length=80), nullable=False),
    sa.Column('serial_number', sa.String(length=80), nullable=False),
    sa.Column('calibre', sa.String(length=40), nullable=False),
    sa.Column('packaging', sa.String(length=200), nullable=False),
    sa.Column('collected_by_id', sa.Integer(), nullable=False),
    sa.Column('collected_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('collected_place', sa.String(length=200), nullable=False),
    sa.Column('label_code', sa.String(length=16), nullable=False),
    sa.Column('created_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('head_seq', sa.Integer(), nullable=False),
    sa.Column('head_hash', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=True),
    sa.Column('pending_to_id', sa.Integer(), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('seal_number', sa.String(length=64), nullable=False),
    sa.Column('sealed', sa.Boolean(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("item_type IN ('firearm', 'cartridge_case', 'bullet', 'fragment', 'other')", name=op.f('ck_evidence_item_type_known')),
    sa.CheckConstraint("state IN ('in_custody', 'in_transit', 'in_storage', 'returned', 'destroyed')", name=op.f('ck_evidence_item_state_known')),
    sa.CheckConstraint('head_seq >= 0', name=op.f('ck_evidence_item_head_seq_positive')),
    sa.ForeignKeyConstraint(['case_id'], ['evidence_case.id'], name=op.f('fk_evidence_item_case_id_evidence_case')),
    sa.ForeignKeyConstraint(['collected_by_id'], ['user_account.id'], name=op.f('fk_evidence_item_collected_by_id_user_account')),
    sa.ForeignKeyConstraint(['holder_id'], ['user_account.id'], name=op.f('fk_evidence_item_holder_id_user_account')),
    sa.ForeignKeyConstraint(['location_id'], ['storage_location.id'], name=op.f('fk_evidence_item_location_id_storage_location')),
    sa.ForeignKeyConstraint(['parent_item_id'], ['evidence_item.id'], name=op.f('fk_evidence_item_parent_item_id_evidence_item')),
    sa.ForeignKeyConstraint(['pending_to_id'], ['user_account.id'], name=op.f('fk_evidence_item_pending_to_id_user_account')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_evidence_item_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_item')),
    sa.UniqueConstraint('case_id', 'exhibit_number', name=op.f('uq_evidence_item_case_id_exhibit_number')),
    sa.UniqueConstraint('label_code', name=op.f('uq_evidence_item_label_code'))
    )
    with op.batch_alter_table('evidence_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_item_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evidence_item_parent_item_id'), ['parent_item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evidence_item_unit_id'), ['unit_id'], unique=False)

    op.create_table('custody_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('occurred_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('utc_offset_minutes', sa.Integer(), nullable=False),
    sa.Column('recorded_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('from_user_id', sa.Integer(), nullable=True),
    sa.Column('to_user_id', sa.Integer(), nullable=True),
    sa.Column('witness_id', sa.Integer(), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('seal_number', sa.String(length=64), nullable=False),
    sa.Column('refers_to_seq', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('hash_version', sa.Integer(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('collected', 'sealed', 'transfer_offered', 'transfer_accepted', 'transfer_cancelled', 'stored', 'removed_from_storage', 'examined', 'seal_broken', 'resealed', 'sampled', 'photographed', 'returned_to_owner', 'destroyed', 'disposed', 'correction')", name=op.f('ck_custody_event_kind_known')),
    sa.CheckConstraint('seq >= 1', name=op.f('ck_custody_event_seq_positive')),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_custody_event_actor_id_user_account')),
    sa.ForeignKeyConstraint(['from_user_id'], ['user_account.id'], name=op.f('fk_custody_event_from_user_id_user_account')),
    sa.ForeignKeyConstraint(['item_id'], ['evidence_item.id'], name=op.f('fk_custody_event_item_id_evidence_item')),
    sa.ForeignKeyConstraint(['location_id'], ['storage_location.id'], name=op.f('fk_custody_event_location_id_storage_location')),
    sa.ForeignKeyConstraint(['to_user_id'], ['user_account.id'], name=op.f('fk_custody_event_to_user_id_user_account')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_custody_event_unit_id_unit')),
    sa.ForeignKeyConstraint(['witness_id'], ['user_account.id'], name=op.f('fk_custody_event_witness_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_event')),
    sa.UniqueConstraint('item_id', 'seq', name=op.f('uq_custody_event_item_id_seq'))
    )
    with op.batch_alter_table('custody_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_custody_event_unit_id'), ['unit_id'], unique=False)

    op.create_table('evidence_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('media_type', sa.String(length=32), nullable=False),
    sa.Column('original_name', sa.String(length=200), nullable=False),
    sa.Column('caption', sa.String(length=200), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['evidence_item.id'], name=op.f('fk_evidence_photo_item_id_evidence_item')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_evidence_photo_unit_id_unit')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_evidence_photo_uploaded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_photo'))
    )
    with op.batch_alter_table('evidence_photo', schema=None) as batch_op:
        batch_op.create_index('ix_evidence_photo_item', ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evidence_photo_unit_id'), ['unit_id'], unique=False)

    for table in APPEND_ONLY:
        for statement in append_only_ddl(table, op.get_bind().dialect.name):
            op.execute(statement)


def downgrade():
    for table in APPEND_ONLY:
        for statement in drop_append_only_ddl(table, op.get_bind().dialect.name):
            op.execute(statement)
    with op.batch_alter_table('evidence_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_photo_unit_id'))
        batch_op.drop_index('ix_evidence_photo_item')

    op.drop_table('evidence_photo')
    with op.batch_alter_table('custody_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_custody_event_unit_id'))

    op.drop_table('custody_event')
    with op.batch_alter_table('evidence_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_item_unit_id'))
        batch_op.drop_index(batch_op.f('ix_evidence_item_parent_item_id'))
        batch_op.drop_index(batch_op.f('ix_evidence_item_case_id'))

    op.drop_table('evidence_item')
    with op.batch_alter_table('storage_location', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_storage_location_unit_id'))
        batch_op.drop_index(batch_op.f('ix_storage_location_parent_id'))

    op.drop_table('storage_location')
    with op.batch_alter_table('evidence_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_case_unit_id'))

    op.drop_table('evidence_case')
    with op.batch_alter_table('custody_checkpoint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_custody_checkpoint_created_at'))

    op.drop_table('custody_checkpoint')
