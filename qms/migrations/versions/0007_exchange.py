# ruff: noqa: E501  (generated table definitions)
"""Exchange: partner keys, exported and imported packages, and the entries that travelled in them.

Packages and their entries are history: append-only, with triggers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

import qms.db
from qms.db import append_only_ddl, drop_append_only_ddl

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

APPEND_ONLY = ("exchange_package", "exchange_entry")


def upgrade():
    op.create_table('exchange_package',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('signer_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('source_unit_code', sa.String(length=32), nullable=False),
    sa.Column('source_unit_name', sa.String(length=200), nullable=False),
    sa.Column('source_server', sa.String(length=200), nullable=False),
    sa.Column('packaged_at', sa.String(length=40), nullable=False),
    sa.Column('entry_count', sa.Integer(), nullable=False),
    sa.Column('skipped_count', sa.Integer(), nullable=False),
    sa.Column('manifest', sa.JSON(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("direction IN ('export', 'import')", name=op.f('ck_exchange_package_direction_known')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_exchange_package_recorded_by_id_user_account')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_exchange_package_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_package')),
    sa.UniqueConstraint('unit_id', 'direction', 'sha256', name=op.f('uq_exchange_package_unit_id_direction_sha256'))
    )
    with op.batch_alter_table('exchange_package', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exchange_package_unit_id'), ['unit_id'], unique=False)

    op.create_table('exchange_partner_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('public_key', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=False),
    sa.Column('added_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('revoked_at', qms.db.UTCDateTime(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['user_account.id'], name=op.f('fk_exchange_partner_key_added_by_id_user_account')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['user_account.id'], name=op.f('fk_exchange_partner_key_revoked_by_id_user_account')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_exchange_partner_key_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_partner_key')),
    sa.UniqueConstraint('unit_id', 'fingerprint', name=op.f('uq_exchange_partner_key_unit_id_fingerprint'))
    )
    with op.batch_alter_table('exchange_partner_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exchange_partner_key_unit_id'), ['unit_id'], unique=False)

    op.create_table('exchange_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('package_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('source_uuid', sa.String(length=36), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['ballistic_entry.id'], name=op.f('fk_exchange_entry_entry_id_ballistic_entry')),
    sa.ForeignKeyConstraint(['package_id'], ['exchange_package.id'], name=op.f('fk_exchange_entry_package_id_exchange_package')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_exchange_entry_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_entry')),
    sa.UniqueConstraint('package_id', 'source_uuid', name=op.f('uq_exchange_entry_package_id_source_uuid'))
    )
    with op.batch_alter_table('exchange_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exchange_entry_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_exchange_entry_package_id'), ['package_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_exchange_entry_source_uuid'), ['source_uuid'], unique=False)
        batch_op.create_index(batch_op.f('ix_exchange_entry_unit_id'), ['unit_id'], unique=False)

    for table in APPEND_ONLY:
        for statement in append_only_ddl(table, op.get_bind().dialect.name):
            op.execute(statement)


def downgrade():
    for table in APPEND_ONLY:
        for statement in drop_append_only_ddl(table, op.get_bind().dialect.name):
            op.execute(statement)
    with op.batch_alter_table('exchange_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exchange_entry_unit_id'))
        batch_op.drop_index(batch_op.f('ix_exchange_entry_source_uuid'))
        batch_op.drop_index(batch_op.f('ix_exchange_entry_package_id'))
        batch_op.drop_index(batch_op.f('ix_exchange_entry_entry_id'))

    op.drop_table('exchange_entry')
    with op.batch_alter_table('exchange_partner_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exchange_partner_key_unit_id'))

    op.drop_table('exchange_partner_key')
    with op.batch_alter_table('exchange_package', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exchange_package_unit_id'))

    op.drop_table('exchange_package')
