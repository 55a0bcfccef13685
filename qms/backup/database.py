"""A consistent snapshot of the database, its record counts, and putting it back.

SQLite: the online backup API (a consistent copy while the server runs). PostgreSQL: `pg_dump`
in the custom format, from a snapshot exported by our own repeatable-read transaction, so the
record counts in the manifest are those of the very same instant.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.engine import Connection, Engine, make_url

from qms.errors import InvalidInput, StateConflict


@dataclass(frozen=True)
class Snapshot:
    member: str  # the archive member name: database/qms.sqlite3 or database/qms.pgdump
    path: Path
    kind: str
    record_counts: dict[str, int]
    schema_revision: str


def database_kind(engine: Engine) -> str:
    return engine.dialect.name


def record_counts(connection: Connection) -> dict[str, int]:
    """Rows per table, every table of the schema (Alembic's own included)."""
    names = sorted(sa.inspect(connection).get_table_names())
    return {name: connection.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()
            for name in names}


def schema_revision(connection: Connection) -> str:
    rows = connection.execute(sa.text("SELECT version_num FROM alembic_version ORDER BY version_num")).scalars()
    return ",".join(rows)


def take_snapshot(engine: Engine, folder: Path) -> Snapshot:
    """Copy the database into `folder` and count its records, both at one instant."""
    if database_kind(engine) == "sqlite":
        return _sqlite_snapshot(engine, folder)
    if database_kind(engine) == "postgresql":
        return _postgres_snapshot(engine, folder)
    raise InvalidInput(_("Backups support SQLite and PostgreSQL, not %(kind)s.", kind=database_kind(engine)))


def _sqlite_snapshot(engine: Engine, folder: Path) -> Snapshot:
    target = folder / "qms.sqlite3"
    source = sqlite3.connect(str(make_url(engine.url).database))
    try:
        copy = sqlite3.connect(str(target))
        with copy:
            source.backup(copy)
        copy.close()
    finally:
        source.close()
    snapshot_engine = sa.create_engine(f"sqlite:///{target}")
    with snapshot_engine.connect() as connection:
        counts, revision = record_counts(connection), schema_revision(connection)
    snapshot_engine.dispose()
    return Snapshot("database/qms.sqlite3", target, "sqlite", counts, revision)


def _postgres_snapshot(engine: Engine, folder: Path) -> Snapshot:
    target = folder / "qms.pgdump"
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
        with connection.begin():
            snapshot_id = connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
            counts, revision = record_counts(connection), schema_revision(connection)
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot_id}",
                  f"--file={target}", _libpq_url(engine)])
    return Snapshot("database/qms.pgdump", target, "postgresql", counts, revision)


def restore_snapshot(engine: Engine, kind: str, path: Path) -> None:
    """Put a snapshot into the configured database, which must be empty and of the same kind."""
    if kind != database_kind(engine):
        raise InvalidInput(_("This archive holds a %(kind)s database; the configured database is %(target)s. "
                             "Restore into a database of the same kind.", kind=kind, target=database_kind(engine)))
    with engine.connect() as connection:
        if sa.inspect(connection).get_table_names():
            raise StateConflict(_("The configured database already has tables: restore only into an empty one."))
    engine.dispose()
    if kind == "sqlite":
        target = Path(str(make_url(engine.url).database))
        with sqlite3.connect(str(path)) as source, sqlite3.connect(str(target)) as copy:
            source.backup(copy)
        target.chmod(0o600)
    else:
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={_libpq_url(engine)}",
              str(path)])


def _libpq_url(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _run(command: list[str]) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, text=True,
                       env={**os.environ, "PGCONNECT_TIMEOUT": "10"})
    except FileNotFoundError:
        raise InvalidInput(_("%(tool)s is not installed: install the PostgreSQL client tools.",
                             tool=command[0])) from None
    except subprocess.CalledProcessError as error:
        last = (error.stderr or "").strip().splitlines()[-1:] or [""]
        raise StateConflict(_("%(tool)s failed: %(reason)s", tool=command[0], reason=last[0][:200])) from None
