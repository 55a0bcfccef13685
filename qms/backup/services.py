"""Backing up the whole server into one archive, restoring it into an empty instance, proving it."""
from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from qms.backup import archive, database
from qms.backup.archive import ArchiveDamaged, Manifest
from qms.db import utcnow
from qms.errors import StateConflict
from qms.extensions import db

Progress = Callable[[int], None]
LIVE_SUFFIXES = ("", "-wal", "-shm", "-journal")  # a live SQLite file and its companions: never copied raw


# --- where the server keeps its files ------------------------------------------------------------

def areas(config: Mapping[str, Any]) -> dict[str, Path]:
    """Each folder or file the server keeps, by its name in the archive.

    Everything under the instance folder is one area; a folder or key configured outside it
    (QMS_OBJECT_STORE, QMS_CHECKPOINT_KEY, ...) is an area of its own, restored to wherever the
    restoring server's configuration puts it.
    """
    instance = Path(config["INSTANCE_PATH"]).resolve()
    found = {"instance": instance}
    for name, key in (("objects", "OBJECT_STORE"), ("checkpoints", "CHECKPOINT_DIR"),
                      ("ballistic-index", "BALLISTIC_INDEX_ROOT"), ("ledger", "LEDGER_DIR"),
                      ("keys/checkpoint.pem", "CHECKPOINT_KEY"),
                      ("keys/exchange.pem", "EXCHANGE_KEY")):
        configured = config.get(key)
        if configured and not Path(configured).resolve().is_relative_to(instance):
            found[name] = Path(configured).resolve()
    return found


def _skipped(config: Mapping[str, Any]) -> set[Path]:
    """Files copied otherwise (the database snapshot) or not at all (the job queue: jobs are requeued)."""
    instance = Path(config["INSTANCE_PATH"]).resolve()
    live = [Path(config.get("JOB_QUEUE_PATH") or instance / "jobs.sqlite3").resolve()]
    url = str(config["DATABASE_URL"])
    if url.startswith("sqlite:///"):
        live.append(Path(url.removeprefix("sqlite:///")).resolve())
    return {Path(str(path) + suffix) for path in live for suffix in LIVE_SUFFIXES}


def _files(area: Path, skipped: set[Path], nested: list[Path]) -> Iterator[tuple[str, Path]]:
    if area.is_file():
        yield "", area
        return
    for path in sorted(area.rglob("*")):
        if (path.is_file() and not path.is_symlink() and path.resolve() not in skipped
                and not path.name.startswith(".incoming-") and not any(path.is_relative_to(n) for n in nested)):
            yield path.relative_to(area).as_posix(), path


def server_files(config: Mapping[str, Any]) -> list[tuple[str, Path]]:
    """(archive name, path) of every file to back up besides the database."""
    found, skipped = areas(config), _skipped(config)
    listed = []
    for name, area in found.items():
        nested = [other for other in found.values() if other != area and other.is_relative_to(area)]
        for relative, path in _files(area, skipped, nested):
            listed.append((f"{name}/{relative}".rstrip("/"), path))
    return listed


# --- backup ------------------------------------------------------------------------------------

def backup(out: Path, *, progress: Progress = lambda n: None,
           sized: Callable[[int], None] = lambda n: None) -> Manifest:
    """Write one archive of the whole server: database snapshot first, then every file, then the manifest."""
    config = current_app.config
    with tempfile.TemporaryDirectory(prefix="qms-backup-") as scratch:
        snapshot = database.take_snapshot(db.engine, Path(scratch))
        # Files after the snapshot: objects are stored before the rows that name them are committed,
        # so every object the snapshot refers to is already on disk.
        files = server_files(config)
        sized(snapshot.path.stat().st_size + sum(path.stat().st_size for _, path in files))
        partial = out.with_name(out.name + ".partial")
        with partial.open("wb") as handle:
            writer = archive.ArchiveWriter(handle, progress)
            writer.add_file(snapshot.member, snapshot.path)
            for name, path in files:
                writer.add_file(name, path)
            manifest = Manifest(created_at=utcnow().isoformat(), database_kind=snapshot.kind,
                                schema_revision=snapshot.schema_revision, record_counts=snapshot.record_counts)
            writer.close(manifest)
        partial.chmod(0o600)  # it holds password hashes and the signing keys
        partial.replace(out)
    return manifest


# --- restore -----------------------------------------------------------------------------------

def check(path: Path, *, progress: Progress = lambda n: None) -> Manifest:
    """The archive's manifest, once every byte has been checked (nothing is written)."""
    if not path.is_file():
        raise ArchiveDamaged(_("There is no archive file named %(name)s.", name=path.name))
    return archive.check_archive(path, progress)


def restore(path: Path, *, progress: Progress = lambda n: None) -> Manifest:
    """Check the archive, then put it into this (empty) server: database, files, keys."""
    manifest = check(path, progress=progress)
    config = current_app.config
    _require_empty(config)
    targets = areas(config)
    db_member = next((name for name in manifest.files if name.startswith("database/")), None)
    if db_member is None:
        raise ArchiveDamaged(_("The archive holds no database snapshot."))
    with tempfile.TemporaryDirectory(prefix="qms-restore-") as scratch:
        snapshot = Path(scratch) / "snapshot"
        archive.extract(path, lambda name: snapshot if name == db_member else _place(name, targets))
        database.restore_snapshot(db.engine, manifest.database_kind, snapshot)
    return manifest


def _place(name: str, targets: Mapping[str, Path]) -> Path | None:
    for area in sorted(targets, key=len, reverse=True):  # the longest area name that prefixes the member
        if name == area:
            return targets[area]
        if name.startswith(area + "/"):
            return targets[area] / name.removeprefix(area + "/")
    if name.startswith(("objects/", "checkpoints/", "ballistic-index/", "ledger/", "keys/")):
        # Written from a server that kept this outside its instance; here it lives in the default place.
        return _default_place(name)
    return None


def _default_place(name: str) -> Path:
    instance = Path(current_app.config["INSTANCE_PATH"])
    area, _, rest = name.partition("/")
    if area == "keys":
        return instance / "keys" / {"checkpoint.pem": "checkpoint-ed25519.pem",
                                    "exchange.pem": "exchange-ed25519.pem"}.get(rest, rest)
    return instance / area / rest


def _require_empty(config: Mapping[str, Any]) -> None:
    import sqlalchemy as sa

    with db.engine.connect() as connection:
        if sa.inspect(connection).get_table_names():
            raise StateConflict(_("This server's database is not empty: restore only into a new, empty instance."))
    objects = Path(config["OBJECT_STORE"])
    if objects.exists() and any(path.is_file() for path in objects.rglob("*")):
        raise StateConflict(_("This server's object store is not empty: restore only into a new, empty instance."))


# --- proof -------------------------------------------------------------------------------------

@dataclass
class Proof:
    """What `restore --verify` found: each check with its outcome."""

    problems: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def prove(manifest: Manifest) -> Proof:
    """Record counts against the manifest, every object's hash, every custody chain and checkpoint."""
    proof = Proof()
    with db.engine.connect() as connection:
        counts = database.record_counts(connection)
    for table, expected in sorted(manifest.record_counts.items()):
        if counts.get(table) != expected:
            proof.problems.append(_("table %(table)s has %(found)s records, the archive had %(expected)s",
                                    table=table, found=counts.get(table, 0), expected=expected))
    proof.checked["tables"] = len(manifest.record_counts)
    proof.checked["objects"] = _check_objects(Path(current_app.config["OBJECT_STORE"]), proof)
    _check_custody(proof)
    return proof


def _check_objects(root: Path, proof: Proof) -> int:
    count = 0
    for path in sorted(root.rglob("*")) if root.exists() else []:
        if not path.is_file() or path.name.startswith(".incoming-"):
            continue
        count += 1
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(archive.CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != path.name:
            proof.problems.append(_("object %(name)s does not match its hash", name=path.name))
    return count


def _check_custody(proof: Proof) -> None:
    from qms.evidence.checkpoints import verify_all
    from qms.ledger import verify_instance

    with db.engine.connect() as connection:
        report = verify_all(connection)
        ledger = verify_instance(connection)
    proof.problems.extend(report.lines())
    proof.problems.extend(ledger.lines())
    proof.checked["ledger leaves"] = ledger.leaves_checked
    proof.checked["custody items"] = report.chains.items_checked
    proof.checked["custody events"] = report.chains.events_checked
    proof.checked["checkpoints"] = report.checkpoints_checked
