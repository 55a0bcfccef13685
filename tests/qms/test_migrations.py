"""The migrations build the schema the models describe, and can be undone."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from qms.extensions import db


def _differences() -> list[object]:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_models_and_migrations_agree(app):
    assert _differences() == []


def test_downgrade_to_base_and_upgrade_again(app):
    directory = app.root_path + "/migrations"
    downgrade(directory=directory, revision="base")
    with db.engine.connect() as connection:
        assert "audit_event" not in db.inspect(connection).get_table_names()
    upgrade(directory=directory, revision="heads")
    assert _differences() == []
