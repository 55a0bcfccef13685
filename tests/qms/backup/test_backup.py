"""Backup and restore drill: demo data, `qms backup`, `qms restore --verify` into a new instance."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from qms import create_app
from qms.backup.cli import backup_command, restore_command
from tests.conftest import PG_URL, _base_config


@pytest.fixture()
def demo_archive(app: Flask, tmp_path: Path) -> Path:
    """The demo's records backed up with the command an operator runs from cron."""
    from qms.demo import seed_demo
    from qms.extensions import db

    seed_demo()
    db.session.commit()
    out = tmp_path / "backup.tar"
    result = app.test_cli_runner().invoke(backup_command, [str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Backup written" in result.output
    return out


@pytest.fixture()
def empty_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A new instance with an empty database of the same kind as the test database."""
    if PG_URL:
        name = f"qms_restore_{tmp_path.name[-20:].replace('-', '_').lower()}"
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = PG_URL.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    server = create_app(_base_config(tmp_path / "restored-instance", url))
    yield server
    with server.app_context():
        from qms.extensions import db

        db.engine.dispose()
    if PG_URL:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _counts(server: Flask) -> dict[str, int]:
    from qms.backup.database import record_counts
    from qms.extensions import db

    with server.app_context(), db.engine.connect() as connection:
        return record_counts(connection)


def _restore(server: Flask, *args: str):  # type: ignore[no-untyped-def]
    """`qms restore ...` on `server` (its own app context: the test's `app` context is pushed too)."""
    with server.app_context():
        return server.test_cli_runner().invoke(restore_command, [*args, "--quiet"])


def _objects(root: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in root.rglob("*") if path.is_file()}


def test_a_restored_demo_server_verifies_and_holds_the_same_records_and_files(app, demo_archive, empty_server):
    before = _counts(app)
    result = _restore(empty_server, str(demo_archive), "--verify")
    assert result.exit_code == 0, result.output
    assert "all as in the archive" in result.output
    assert _counts(empty_server) == before
    assert sum(before.values()) > 100  # the demo's units, users, SOPs, audits, custody
    assert _objects(Path(empty_server.config["OBJECT_STORE"])) == _objects(Path(app.config["OBJECT_STORE"]))
    keys = Path(empty_server.config["INSTANCE_PATH"]) / "keys"
    assert (keys / "checkpoint-ed25519.pem").read_bytes() == (
        Path(app.config["INSTANCE_PATH"]) / "keys" / "checkpoint-ed25519.pem").read_bytes()


def test_the_restored_server_answers_with_the_restored_records(app, demo_archive, empty_server):
    _restore(empty_server, str(demo_archive))
    from qms.auth.models import User
    from qms.extensions import db

    with app.app_context():
        names = set(db.session.scalars(sa.select(User.username)))
    with empty_server.app_context():
        assert set(db.session.scalars(sa.select(User.username))) == names


def _member_spans(archive: Path) -> dict[str, tuple[int, int, int]]:
    """name -> (header offset, data offset, size) of every member."""
    with tarfile.open(archive, "r:") as tar:
        return {m.name: (m.offset, m.offset_data, m.size) for m in tar.getmembers()}


def _flip(archive: Path, position: int) -> None:
    data = bytearray(archive.read_bytes())
    data[position] ^= 0x01
    archive.write_bytes(bytes(data))


def _assert_refused_and_nothing_written(server: Flask, archive: Path, expected: str) -> None:
    result = _restore(server, str(archive))
    assert result.exit_code != 0
    assert "nothing restored" in result.output and expected in result.output, result.output
    assert "Traceback" not in result.output and str(archive.parent) not in result.output
    assert _counts(server) == {}
    assert not _objects(Path(server.config["OBJECT_STORE"])) if Path(server.config["OBJECT_STORE"]).exists() else True


def _damage(archive: Path, where: str) -> str:
    """Change one byte of `archive` in the named place; the text the refusal must contain."""
    spans = _member_spans(archive)
    database = next(n for n in spans if n.startswith("database/"))
    some_object = next((n for n in spans if "/objects/" in f"/{n}"), None)
    if some_object is None and where == "object":
        pytest.skip("the demo stores objects (its scans) only when ../shared/data/fadul is present")
    named = {"database": database, "object": some_object, "manifest": "manifest.json"}
    if where in named:
        _, data, size = spans[named[where]]
        _flip(archive, data + size // 2)
        return named[where]
    if where == "header":
        _flip(archive, spans[some_object][0] + 10)  # inside the member's name field
        return "damaged"
    if where == "padding":
        name, (_, data, size) = next((n, s) for n, s in spans.items() if s[2] % 512)
        _flip(archive, data + size + 3)
        return f"padding after {name}"
    _flip(archive, archive.stat().st_size - 7)
    return "end of the archive"


def test_one_changed_byte_is_refused_naming_the_file_and_nothing_is_restored(demo_archive, empty_server, tmp_path):
    for where in ("database", "object", "header", "manifest", "padding", "end"):
        damaged = tmp_path / f"damaged-{where}.tar"
        damaged.write_bytes(demo_archive.read_bytes())
        expected = _damage(damaged, where)
        _assert_refused_and_nothing_written(empty_server, damaged, expected)


def test_many_single_byte_changes_are_all_refused(demo_archive, tmp_path):
    """A sweep over the archive: wherever one byte changes, the check refuses it."""
    from qms.backup.archive import ArchiveDamaged, check_archive

    original = demo_archive.read_bytes()
    size = len(original)
    positions = sorted({(i * 7919 + 13) % size for i in range(150)} | {0, 511, size - 1})
    copy = tmp_path / "copy.tar"
    for position in positions:
        damaged = bytearray(original)
        damaged[position] ^= 0x20
        copy.write_bytes(bytes(damaged))
        with pytest.raises(ArchiveDamaged):
            check_archive(copy)


@pytest.mark.parametrize("offset", [154, 155])  # the NUL and the space that end a header's checksum field
def test_a_change_in_a_checksum_fields_end_is_refused(demo_archive, tmp_path, offset):
    """tarfile's own check reads the checksum up to its NUL and strips spaces: those two bytes need ours."""
    from qms.backup.archive import ArchiveDamaged, check_archive

    damaged = bytearray(demo_archive.read_bytes())
    damaged[offset] ^= 0x20
    copy = tmp_path / "copy.tar"
    copy.write_bytes(bytes(damaged))
    with pytest.raises(ArchiveDamaged):
        check_archive(copy)


def test_a_restore_into_a_server_that_has_records_is_refused(app, demo_archive):
    result = _restore(app, str(demo_archive))
    assert result.exit_code != 0
    assert "not empty" in result.output


def test_an_archive_that_is_not_a_backup_is_refused(empty_server, tmp_path):
    plain = tmp_path / "notes.tar"
    with tarfile.open(plain, "w") as tar:
        body = json.dumps({"format": "something else"}).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    _assert_refused_and_nothing_written(empty_server, plain, "manifest")
    _assert_refused_and_nothing_written(empty_server, tmp_path / "missing.tar", "no archive file")


def test_check_only_reads_the_archive_and_writes_nothing(demo_archive, empty_server):
    result = _restore(empty_server, str(demo_archive), "--check-only")
    assert result.exit_code == 0, result.output
    assert "intact" in result.output
    assert _counts(empty_server) == {}
