"""The typed declarative base, constraint naming convention and UTC time helpers."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import DateTime, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, registry

# Stable constraint names, so Alembic migrations can name what they alter or drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


def today() -> date:
    """Today's date in UTC: the day effective dates, due dates and review dates are compared with."""
    return utcnow().date()


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone; storing naive UTC and re-attaching the zone on read gives the same
    values on SQLite and PostgreSQL.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: pass a timezone-aware UTC time")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    """The one declarative base of every model."""

    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


def append_only_ddl(table: str, dialect: str) -> list[str]:
    """Database triggers that refuse UPDATE and DELETE (and, on PostgreSQL, TRUNCATE) of a table.

    The ORM refuses these too; the triggers also stop raw SQL, so history stays append-only
    for anyone below the application as well.
    """
    message = f"{table} is append-only: history is never changed or deleted"
    if dialect == "postgresql":
        return [
            f"""CREATE OR REPLACE FUNCTION {table}_refuse_change() RETURNS trigger AS $$
                BEGIN RAISE EXCEPTION '{message}' USING ERRCODE = 'insufficient_privilege'; END;
                $$ LANGUAGE plpgsql""",
            f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION {table}_refuse_change()""",
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION {table}_refuse_change()""",
        ]
    if dialect == "sqlite":
        return [
            f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
                BEGIN SELECT RAISE(ABORT, '{message}'); END""",
            f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
                BEGIN SELECT RAISE(ABORT, '{message}'); END""",
        ]
    return []


def drop_append_only_ddl(table: str, dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
                f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
                f"DROP FUNCTION IF EXISTS {table}_refuse_change()"]
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_no_update", f"DROP TRIGGER IF EXISTS {table}_no_delete"]
    return []


def configure_sqlite(dbapi_connection: object, connection_record: object) -> None:
    """Per SQLite connection: check foreign keys, and commit through a write-ahead log, durably.

    SQLite checks foreign keys only when asked, per connection; the records need them checked.

    journal_mode=WAL: a commit appends its pages to the -wal file and, with synchronous=FULL, fsyncs
    that one file: one fsync per commit instead of the rollback journal's two or three (journal,
    database, journal deletion), and readers no longer wait for a writer. Checkpoints copy the WAL
    back into the database file in the background of later commits and when the last connection
    closes, so a closed database is one complete file again.

    synchronous stays FULL, not NORMAL, although the transparency log fsyncs its own line at every
    commit: with NORMAL a commit is safe against a killed process but the last commits can roll back
    at a power cut or an OS crash. The log's fsync covers the leaves (hashes), not the events, and
    the outcome line that says "committed" reaches the disk only with the next transaction's fsync;
    after such a cut the database could lack acknowledged events that the log holds: reported as
    missing if their outcome line survived (a court record lost), settled as never committed if not
    (lost unnoticed). FULL makes every acknowledged commit survive both.
    """
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")  # persistent in the file; an in-memory database stays "memory"
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.close()
