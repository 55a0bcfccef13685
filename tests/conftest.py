"""Fixtures for the web application: a migrated database per test, factories, logged-in clients.

The schema is built by running the Alembic migrations (never `create_all`), once per session;
each test then starts from that empty migrated database: a copy of the SQLite file, or, on
PostgreSQL (QMS_TEST_DATABASE_URL), the same database with every table emptied.
"""
from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from qms import create_app
from qms.auth.models import Role, Unit, User

PASSWORD = "correct-horse-battery-staple-42"
PG_URL = os.environ.get("QMS_TEST_DATABASE_URL", "")


# Set by `make test-postgres`, the second run of tests/qms: a test that uses no database gives the same
# answer on PostgreSQL as it gave on SQLite, so that run leaves it out instead of repeating it.
DATABASE_TESTS_ONLY = bool(PG_URL) and os.environ.get("QMS_TEST_DATABASE_ONLY") == "1"


def pytest_report_header() -> str:
    where = "PostgreSQL " + PG_URL.split("@")[-1] if PG_URL else "SQLite (set QMS_TEST_DATABASE_URL for PostgreSQL)"
    only = "; only the tests that use the database (QMS_TEST_DATABASE_ONLY)" if DATABASE_TESTS_ONLY else ""
    return f"qms database: {where}{only}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not DATABASE_TESTS_ONLY:
        return
    without = [item for item in items if "database_url" not in getattr(item, "fixturenames", ())]
    if without:
        config.hook.pytest_deselected(items=without)
        items[:] = [item for item in items if "database_url" in getattr(item, "fixturenames", ())]


def _base_config(instance: Path, database_url: str) -> dict[str, object]:
    return {"TESTING": True, "INSTANCE_PATH": str(instance), "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key", "WTF_CSRF_ENABLED": False, "MFA_REQUIRED": False,
            "PASSWORD_HASH_FAST_FOR_TESTS": True}


def _migrate(config: dict[str, object]) -> None:
    from qms.cli import upgrade_database

    app = create_app(config)
    with app.app_context():
        upgrade_database()
        from qms.extensions import db

        db.engine.dispose()


def second_server(migrated_database: dict[str, str], instance: Path, **settings: object) -> Iterator[Flask]:
    """Another server beside the test's app: its own SQLite database (even when the suite runs on
    PostgreSQL; copied from the migrated template when there is one) and instance folder. A generator
    for a fixture to yield from."""
    from qms.extensions import db

    instance.mkdir()
    config = {**_base_config(instance, f"sqlite:///{instance / 'qms.sqlite3'}"), **settings}
    template = Path(migrated_database["template"])
    if template.exists():
        shutil.copyfile(template, instance / "qms.sqlite3")
    else:
        _migrate(config)
    second = create_app(config)
    yield second
    with second.app_context():
        db.session.remove()
        db.engine.dispose()


def _pg_database_url() -> str:
    """A database of our own on the PostgreSQL server, created fresh for this test run.

    Named after the process, so several runs on one server never drop each other's database.
    """
    name = f"qms_test_{os.getpid()}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_URL.rsplit("/", 1)[0] + "/" + name


def _drop_pg_database(url: str) -> None:
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    instance = tmp_path_factory.mktemp("template")
    url = _pg_database_url() if PG_URL else f"sqlite:///{instance / 'template.sqlite3'}"
    _migrate(_base_config(instance, url))
    yield {"url": url, "template": str(instance / "template.sqlite3")}
    if PG_URL:
        _drop_pg_database(url)


def _empty_postgres(url: str) -> None:
    """Every table emptied and every sequence restarted, as a freshly migrated database.

    TRUNCATE of all ~60 tables costs about 2 s a test (new files for each table); deleting the rows
    of the few tables a test filled costs milliseconds. Append-only triggers and foreign keys are
    left out of it as on a replica: only the test harness may do this.
    """
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")).scalars()
        filled = conn.execute(sa.text(" UNION ALL ".join(
            f"SELECT '{table}' WHERE EXISTS (SELECT 1 FROM \"{table}\")" for table in tables))).scalars().all()
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for table in filled:
            conn.execute(sa.text(f'DELETE FROM "{table}"'))
        conn.execute(sa.text("SELECT setval(format('%I.%I', schemaname, sequencename), 1, false) "
                             "FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL"))
    engine.dispose()


@pytest.fixture()
def database_url(migrated_database: dict[str, str], tmp_path: Path) -> str:
    if PG_URL:
        _empty_postgres(migrated_database["url"])
        return migrated_database["url"]
    target = tmp_path / "qms.sqlite3"
    shutil.copyfile(migrated_database["template"], target)
    return f"sqlite:///{target}"


@pytest.fixture()
def app_config(database_url: str, tmp_path: Path) -> dict[str, object]:
    return _base_config(tmp_path / "instance", database_url)


@pytest.fixture()
def app(app_config: dict[str, object]) -> Iterator[Flask]:
    application = create_app(app_config)
    with application.app_context():
        yield application
        from qms.extensions import db

        db.session.remove()
        db.engine.dispose()


@pytest.fixture()
def db_session(app: Flask):  # type: ignore[no-untyped-def]
    from qms.extensions import db

    return db.session


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# --- factories ---------------------------------------------------------------------------------

@pytest.fixture()
def make_unit(app: Flask) -> Callable[..., Unit]:
    from qms.auth import services
    from qms.extensions import db

    def make(code: str | None = None, name: str = "Forensic Centre") -> Unit:
        unit = services.create_unit(code=code or f"U{uuid.uuid4().hex[:6]}", name=name)
        db.session.commit()
        return unit

    return make


@pytest.fixture()
def make_user(app: Flask) -> Callable[..., User]:
    from qms.auth import services
    from qms.extensions import db

    def make(unit: Unit | None = None, *roles: Role, username: str | None = None, password: str = PASSWORD,
             mfa_secret: str | None = None, authorised: bool = True) -> User:
        """A user with roles in the unit; by default authorised for every gated scope (tests of the gates say not)."""
        user = services.create_user(username=username or f"user{uuid.uuid4().hex[:8]}", full_name="Test User",
                                    password=password, unit=unit, roles=roles)
        if authorised and unit is not None and set(roles) - {Role.ADMIN, Role.VIEWER}:
            authorise_everything(unit, user)
        if mfa_secret:
            import pyotp

            services.enrol_mfa(user, mfa_secret, pyotp.TOTP(mfa_secret).now())
        db.session.commit()
        return user

    return make


def authorise_everything(unit: Unit, user: User) -> None:
    """Every gated scope, granted by the operator's set-up command (so tests of other domains pass the gates)."""
    from qms.people import services as people
    from qms.people.models import Gate

    people.authorise_by_operator(unit.id, user, [gate.value for gate in Gate], reason="test set-up")


def login(client: FlaskClient, username: str, password: str = PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"username": username, "password": password, **extra})


@pytest.fixture()
def login_as(app: Flask) -> Callable[[User], FlaskClient]:
    """A fresh test client logged in as the given user."""

    def as_user(user: User, password: str = PASSWORD) -> FlaskClient:
        fresh = app.test_client()
        response = login(fresh, user.username, password)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return fresh

    return as_user
