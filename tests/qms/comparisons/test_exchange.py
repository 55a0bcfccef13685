"""Exchange packages: a round trip to a second server (its own database), tampering, trust, limits.

Unit A is the `bench` unit (three synthetic scans, two from one firearm); server B is a second
application with its own SQLite database, instance folder, object store, index and key.
"""
from __future__ import annotations

import re

import hashlib
import io
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, current_app
from sqlalchemy import select

from qms.auth import services as auth_services
from qms.auth.models import Role, Unit, User
from qms.comparisons import exchange, jobs, services, unit_index
from qms.comparisons.exchange import ExchangeError, PackageRefused
from qms.comparisons.exchange_format import EntryFiles, build_package, public_key_pem
from qms.comparisons.exchange_format import fingerprint as exchange_fingerprint
from qms.comparisons.exchange_models import ExchangedEntry, ExchangePackage
from qms.comparisons.models import BallisticEntry, CorrelationJob, DerivedObject
from qms.extensions import db
from tests.conftest import PASSWORD, authorise_everything, second_server

SCANS = [(0, "F0000-S00"), (1, "F0001-S00"), (2, "F0000-S01")]


@pytest.fixture(scope="session")
def server_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ed25519PrivateKey, Path]:
    """One exchange key for the session's servers, so packages built once are this server's own."""
    key = Ed25519PrivateKey.generate()
    path = tmp_path_factory.mktemp("keys") / "exchange-ed25519.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return key, path


@pytest.fixture()
def app_config(app_config, server_key):  # type: ignore[no-untyped-def]
    return {**app_config, "EXCHANGE_KEY": str(server_key[1])}


def _crafted_entries(scans: dict[str, bytes]) -> list[EntryFiles]:
    """Three entries as another unit would package them: the synthetic scans are processed already."""
    entries = []
    for casing, name in SCANS:
        data = scans[name]
        digest = hashlib.sha256(data).hexdigest()
        metadata = {"uuid": uuid.uuid5(uuid.NAMESPACE_URL, name).hex, "calibre": "9x19 mm", "firearm_make": "",
                    "firearm_model": "", "device": "synthetic", "settings": {}, "acquired_by": "Partner Examiner",
                    "acquired_at": "2026-11-30T10:00:00+00:00", "kind": "topography", "pixel_size_um": 6.25,
                    "original": {"name": f"{name}.x3p", "sha256": digest, "size": len(data), "type": "x3p"},
                    "processed_sha256": digest, "custody_reference": f"P-2026/{casing} / 1"}
        entries.append(EntryFiles(metadata["uuid"], metadata, {"surface.x3p": data, "original.x3p": data}))
    return entries


def _signed(entries: list[EntryFiles], key: Ed25519PrivateKey) -> bytes:
    source = {"unit": {"code": "PARTNER", "name": "Partner lab"}, "server_id": "partner-server",
              "created_at": "2026-11-30T12:00:00.000000Z", "exporter": {"username": "p", "full_name": "Partner"}}
    return build_package(entries, source=source, key=key)


@pytest.fixture(scope="session")
def crafted(scans, server_key) -> bytes:  # type: ignore[no-untyped-def]
    """A package of three entries signed with this server's key, built once for the session."""
    return _signed(_crafted_entries(scans), server_key[0])


@dataclass
class Uploaded:
    entries: list[BallisticEntry]
    package: bytes


def _upload_all(bench, scans) -> list[BallisticEntry]:  # type: ignore[no-untyped-def]
    entries = [services.add_entry(bench.casings[casing], actor=bench.examiner, data=scans[name],
                                  filename=f"{name}.x3p", device_id=bench.device.id, settings={"objective": "20x"})
               for casing, name in SCANS]
    db.session.commit()
    assert jobs.run_queued() == len(SCANS)
    db.session.expire_all()
    return entries


@pytest.fixture()
def exported(bench, scans) -> Uploaded:  # type: ignore[no-untyped-def]
    entries = _upload_all(bench, scans)
    _, data = exchange.export_entries(entries, unit=bench.unit, actor=bench.examiner)
    db.session.commit()
    return Uploaded(entries, data)


def _ranking(entry: BallisticEntry) -> list[tuple[int, str, float | None, int | None, float]]:
    return [(r.rank, r.hit.entry_id, r.hit.score, r.hit.high_cmc, round(float(r.hit.first_pass_score), 6))
            for r in unit_index.search_entry(entry, executor=jobs.search_executor())]


@pytest.fixture()
def server_b(migrated_database, tmp_path: Path, app: Flask) -> Iterator[Flask]:
    """A second server: its own SQLite database (even when the suite runs on PostgreSQL) and instance."""
    yield from second_server(migrated_database, tmp_path / "server-b", SEARCH_PROCESSES=0,
                             EXCHANGE_SERVER_ID="server-b")


def _unit_and_examiner(code: str) -> tuple[Unit, User]:
    unit = auth_services.create_unit(code=code, name=f"Unit {code}")
    user = auth_services.create_user(username=f"exam-{code.lower()}", full_name=f"Examiner {code}",
                                     password=PASSWORD, unit=unit, roles=[Role.EXAMINER, Role.QUALITY_MANAGER])
    authorise_everything(unit, user)
    db.session.commit()
    return unit, user


def _stored_counts(unit_id: int) -> dict[str, int]:
    """Rows of every table an import writes, objects in the store, entries in the unit's index."""
    def count(model: type) -> int:
        return db.session.query(model).filter(model.unit_id == unit_id).count()

    store = Path(current_app.config["OBJECT_STORE"])
    objects = sum(1 for path in store.rglob("*") if path.is_file()) if store.exists() else 0
    index = unit_index.unit_index_path(unit_id)
    indexed = len(unit_index.open_unit_index(unit_id)) if (index / "index.json").exists() else 0
    return {"entries": count(BallisticEntry), "derived": count(DerivedObject), "jobs": count(CorrelationJob),
            "packages": count(ExchangePackage), "exchanged": count(ExchangedEntry), "objects": objects,
            "indexed": indexed}


# --- acceptance 3: the round trip ---------------------------------------------------------------------

def test_a_package_imported_on_a_second_server_gives_identical_search_results(bench, exported, server_b) -> None:
    a_rankings = {e.index_entry_id: _ranking(e) for e in exported.entries}
    assert a_rankings[exported.entries[2].index_entry_id][0][1] == exported.entries[0].index_entry_id  # mate first
    a_fingerprint = exchange.own_public_key()
    # Read on server A now: inside server B's context these objects would reload from B's database.
    code_a, label_a = bench.unit.code, exported.entries[0].label
    original_a = unit_index.original_bytes(exported.entries[0])
    mate_uuid = exported.entries[0].index_entry_id
    with server_b.app_context():
        unit_b, examiner_b = _unit_and_examiner("SRV-B")
        with pytest.raises(PackageRefused, match="unknown key"):
            exchange.import_package(exported.package, unit=unit_b, actor=examiner_b)
        exchange.add_partner_key(unit_id=unit_b.id, name="Unit FIRE on server A", key_text=a_fingerprint["pem"],
                                 actor=examiner_b)
        db.session.commit()
        outcome = exchange.import_package(exported.package, unit=unit_b, actor=examiner_b)
        db.session.commit()
        imported = {e.index_entry_id: e for e in outcome.imported}
        assert sorted(imported) == sorted(a_rankings)
        b_rankings = {uuid: _ranking(entry) for uuid, entry in imported.items()}
        origin = exchange.origin_of(imported[mate_uuid])
        assert origin.package.signer_fingerprint == a_fingerprint["fingerprint"]
        assert origin.package.source_unit_code == code_a
        entry_b = imported[mate_uuid]
        assert (entry_b.origin, entry_b.item_id, entry_b.package_sha256) == ("imported", None, outcome.package.sha256)
        assert entry_b.source_label == label_a  # case and exhibit in words
        assert unit_index.original_bytes(entry_b) == original_a
    assert b_rankings == a_rankings
    assert all(len(ranking) == 2 for ranking in b_rankings.values())


def test_importing_the_same_package_twice_is_refused_and_stores_nothing_more(bench, exported, make_unit,
                                                                             make_user) -> None:
    receiver = make_unit(code="RECV")
    qm = make_user(receiver, Role.QUALITY_MANAGER)
    first = exchange.import_package(exported.package, unit=receiver, actor=qm)
    db.session.commit()
    assert len(first.imported) == 3
    # Same server: the uuids are taken by unit A, so the copies get new index ids and keep the source's.
    assert {e.index_entry_id for e in first.imported}.isdisjoint({e.index_entry_id for e in exported.entries})
    before = _stored_counts(receiver.id)
    with pytest.raises(ExchangeError, match="already imported"):
        exchange.import_package(exported.package, unit=receiver, actor=qm)
    db.session.rollback()
    # A new package with the same entries: each is recognised by its source uuid and skipped.
    _, again = exchange.export_entries(exported.entries, unit=bench.unit, actor=bench.examiner)
    db.session.commit()
    with pytest.raises(ExchangeError, match="already in this unit"):
        exchange.import_package(again, unit=receiver, actor=qm)
    db.session.rollback()
    assert _stored_counts(receiver.id) == before


def test_an_imported_entry_is_searchable_in_the_receiving_unit_and_its_search_is_queued(bench, exported, make_unit,
                                                                                        make_user) -> None:
    receiver = make_unit(code="RECV")
    qm = make_user(receiver, Role.QUALITY_MANAGER)
    outcome = exchange.import_package(exported.package, unit=receiver, actor=qm)
    db.session.commit()
    assert len(unit_index.open_unit_index(receiver.id)) == 3
    assert jobs.run_queued() == 3
    db.session.expire_all()
    query = next(e for e in outcome.imported if e.source_label == exported.entries[2].label)
    mate = next(e for e in outcome.imported if e.source_label == exported.entries[0].label)
    job = services.latest_job(query)
    assert job.state == "done"
    assert [c.entry_id for c in services.candidates_of(job)][:1] == [mate.id]
    assert len(unit_index.open_unit_index(receiver.id)) == 3  # the job found them indexed already


# --- tampering: one byte changed anywhere ---------------------------------------------------------------

def _rewritten(package: bytes, member: str, offset: int) -> bytes:
    """The package with one byte of `member` changed and the zip rebuilt with the same headers (valid CRCs)."""
    source = zipfile.ZipFile(io.BytesIO(package))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            data = bytearray(source.read(info))
            if info.filename == member == "signature":
                data = bytearray(_flipped_signature(bytes(data), offset))
            elif info.filename == member:
                data[offset % len(data)] ^= 0x01
            target.writestr(info, bytes(data))
    return buffer.getvalue()


def _flipped_signature(text: bytes, offset: int) -> bytes:
    """The hex signature with one bit of its decoded bytes changed: still readable hex, so only the check can refuse
    it (flipping a bit of the hex text itself turns 'a' or 'f' into a non-hex character, a different refusal)."""
    raw = bytearray(bytes.fromhex(text.decode("ascii").strip()))
    raw[offset % len(raw)] ^= 0x01
    return raw.hex().encode("ascii") + b"\n"


def _member(package: bytes, suffix: str) -> str:
    return next(n for n in zipfile.ZipFile(io.BytesIO(package)).namelist() if n.endswith(suffix))


def test_rewriting_an_unchanged_package_gives_the_same_bytes(crafted) -> None:
    """The guard for the tests below: they change content only, never the zip layout."""
    source = zipfile.ZipFile(io.BytesIO(crafted))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
    assert buffer.getvalue() == crafted


@pytest.mark.parametrize(("suffix", "offset", "reason"), [
    ("manifest.json", 200, "signature does not match its manifest"),
    ("surface.x3p", 5000, "SHA-256 of entries/.*/surface.x3p does not match"),
    ("original.x3p", 7, "SHA-256 of entries/.*/original.x3p does not match"),
    ("metadata.json", 40, "SHA-256 of entries/.*/metadata.json does not match"),
    ("signature", 3, "signature does not match its manifest"),
], ids=["manifest", "surface", "original", "metadata", "signature"])
def test_a_changed_byte_in_any_file_is_refused_and_nothing_is_stored(crafted, make_unit, make_user, suffix, offset,
                                                                     reason) -> None:
    receiver = make_unit(code="RECV")
    qm = make_user(receiver, Role.QUALITY_MANAGER)
    assert len(exchange.import_package(crafted, unit=make_unit(code="CONTROL"), actor=qm).imported) == 3
    db.session.commit()  # the untouched package is accepted: only the changed byte makes the difference
    tampered = _rewritten(crafted, _member(crafted, suffix), offset)
    before = _stored_counts(receiver.id)
    with pytest.raises(PackageRefused, match=reason):
        exchange.import_package(tampered, unit=receiver, actor=qm)
    db.session.rollback()
    assert _stored_counts(receiver.id) == before


def test_a_signature_that_is_not_hex_is_refused_as_unreadable(crafted, make_unit, make_user) -> None:
    receiver = make_unit(code="RECV")
    qm = make_user(receiver, Role.QUALITY_MANAGER)
    source = zipfile.ZipFile(io.BytesIO(crafted))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info, b"zz" + data[2:] if info.filename == "signature" else data)
    before = _stored_counts(receiver.id)
    with pytest.raises(PackageRefused, match="signature or signer key cannot be read"):
        exchange.import_package(buffer.getvalue(), unit=receiver, actor=qm)
    db.session.rollback()
    assert _stored_counts(receiver.id) == before


def test_a_flipped_byte_anywhere_in_the_zip_is_refused_through_the_page(crafted, make_unit, make_user,
                                                                        login_as) -> None:
    receiver = make_unit(code="RECV")
    client = login_as(make_user(receiver, Role.EXAMINER))
    before = _stored_counts(receiver.id)
    size = len(crafted)
    # Headers at the start and the end (central directory), and bytes spread over the content.
    for position in [0, 7, 14, 26, 30, 40, *range(97, size, size // 25), size - 60, size - 22, size - 12, size - 1]:
        tampered = bytearray(crafted)
        tampered[position] ^= 0x01
        response = client.post("/comparisons/exchange/import", data={
            "import-package": (io.BytesIO(bytes(tampered)), "package.zip")}, content_type="multipart/form-data")
        assert response.status_code == 400, position
        assert "Package refused, nothing was stored" in response.get_data(as_text=True), position
    assert _stored_counts(receiver.id) == before


# --- trust ------------------------------------------------------------------------------------------------

def test_an_unknown_signer_is_refused_until_a_partner_key_is_added_and_again_once_revoked(scans, make_unit,
                                                                                         make_user) -> None:
    receiver = make_unit(code="RECV")
    qm = make_user(receiver, Role.QUALITY_MANAGER)
    stranger = Ed25519PrivateKey.generate()
    foreign = _signed(_crafted_entries(scans), stranger)
    before = _stored_counts(receiver.id)
    with pytest.raises(PackageRefused, match="unknown key") as refusal:
        exchange.import_package(foreign, unit=receiver, actor=qm)
    db.session.rollback()
    assert _stored_counts(receiver.id) == before
    key = exchange.add_partner_key(unit_id=receiver.id, name="Partner lab",
                                   key_text=public_key_pem(stranger.public_key()), actor=qm)
    assert key.fingerprint in str(refusal.value)
    db.session.commit()
    exchange.revoke_partner_key(key, actor=qm)
    db.session.commit()
    with pytest.raises(PackageRefused, match="unknown key"):
        exchange.import_package(foreign, unit=receiver, actor=qm)
    db.session.rollback()
    other_key = exchange.add_partner_key(unit_id=receiver.id, name="Partner lab, new key",
                                         key_text=public_key_pem(Ed25519PrivateKey.generate().public_key()), actor=qm)
    db.session.commit()
    assert other_key.active
    with pytest.raises(ExchangeError, match="already listed"):
        exchange.add_partner_key(unit_id=receiver.id, name="again", key_text=key.public_key, actor=qm)


def test_a_partner_key_trusted_by_one_unit_is_not_trusted_by_another(scans, make_unit, make_user) -> None:
    trusting, other = make_unit(code="TRUST"), make_unit(code="OTHER")
    qm_trusting, qm_other = make_user(trusting, Role.QUALITY_MANAGER), make_user(other, Role.QUALITY_MANAGER)
    stranger = Ed25519PrivateKey.generate()
    exchange.add_partner_key(unit_id=trusting.id, name="Partner", key_text=public_key_pem(stranger.public_key()),
                             actor=qm_trusting)
    db.session.commit()
    foreign = _signed(_crafted_entries(scans), stranger)
    assert len(exchange.import_package(foreign, unit=trusting, actor=qm_trusting).imported) == 3
    db.session.commit()
    with pytest.raises(PackageRefused, match="unknown key"):
        exchange.import_package(foreign, unit=other, actor=qm_other)


# --- bad uploads through the web route and the API --------------------------------------------------------

def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", b"{}")
        archive.writestr("entries/" + "0" * 32 + "/surface.x3p", b"\x00" * (50 * 1024 * 1024))
        archive.writestr("signature", b"00")
    return buffer.getvalue()


@pytest.mark.parametrize(("payload", "reason"), [
    (b"this is a text file, not a package", "not a zip archive"),
    (b"", "Package refused"),
    (b"PK\x03\x04" + b"\x00" * 100, "truncated"),
    (_bomb(), "decompression bomb"),
], ids=["not-a-zip", "empty", "truncated-zip", "zip-bomb"])
def test_bad_files_are_refused_cleanly_through_the_page(bench, login_as, payload, reason) -> None:
    client = login_as(bench.examiner)
    before = _stored_counts(bench.unit.id)
    response = client.post("/comparisons/exchange/import", data={
        "import-package": (io.BytesIO(payload), "package.zip")}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True)
    assert _stored_counts(bench.unit.id) == before


def test_an_oversized_package_is_refused_before_it_is_read(bench, app, login_as) -> None:
    app.config["EXCHANGE_MAX_BYTES"] = 1000
    client = login_as(bench.examiner)
    response = client.post("/comparisons/exchange/import", data={
        "import-package": (io.BytesIO(b"PK\x03\x04" + b"\x00" * 5000), "package.zip")},
        content_type="multipart/form-data")
    assert response.status_code == 400
    assert "above the limit of 1,000" in response.get_data(as_text=True)


def test_export_and_import_through_the_api(bench, exported, make_unit, make_user, app) -> None:
    receiver = make_unit(code="RECV")
    qm = make_user(receiver, Role.QUALITY_MANAGER)
    _, token_a = auth_services.issue_token(bench.examiner, unit_id=bench.unit.id, role=Role.EXAMINER, name="a")
    _, token_b = auth_services.issue_token(qm, unit_id=receiver.id, role=Role.QUALITY_MANAGER, name="b")
    db.session.commit()
    client = app.test_client()
    ids = [e.id for e in exported.entries[:2]]
    response = client.post("/api/v1/comparisons/exchange/export", json={"entry_ids": ids},
                           headers={"Authorization": f"Bearer {token_a}"})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    package = response.get_data()
    wrong = client.post("/api/v1/comparisons/exchange/import", json={},
                        headers={"Authorization": f"Bearer {token_b}"})
    assert wrong.status_code == 415
    response = client.post("/api/v1/comparisons/exchange/import", data=package, content_type="application/zip",
                           headers={"Authorization": f"Bearer {token_b}"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert len(body["imported"]) == 2 and body["package"]["source_unit_code"] == bench.unit.code
    again = client.post("/api/v1/comparisons/exchange/import", data=package, content_type="application/zip",
                        headers={"Authorization": f"Bearer {token_b}"})
    assert again.status_code == 400 and "already imported" in again.get_json()["message"]
    # The earlier import's time as pages show it: the reader's format, the unit's zone, its offset.
    assert re.search(r"already imported on .+ \(UTC[+-]\d\d:\d\d\) by ", again.get_json()["message"])
    # Unit B's token cannot export unit A's entries: they do not exist for it.
    refused = client.post("/api/v1/comparisons/exchange/export", json={"entry_ids": ids},
                          headers={"Authorization": f"Bearer {token_b}"})
    assert refused.status_code == 400 and "do not exist in this unit" in refused.get_json()["message"]


def test_partner_keys_through_the_api(bench, app) -> None:
    _, token = auth_services.issue_token(bench.qm, unit_id=bench.unit.id, role=Role.QUALITY_MANAGER, name="k")
    _, examiner_token = auth_services.issue_token(bench.examiner, unit_id=bench.unit.id, role=Role.EXAMINER, name="e")
    db.session.commit()
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    stranger = Ed25519PrivateKey.generate().public_key()
    added = client.post("/api/v1/comparisons/exchange/keys", json={"name": "Partner", "public_key":
                                                                   public_key_pem(stranger)}, headers=headers)
    assert added.status_code == 201 and added.get_json()["fingerprint"] == exchange_fingerprint(stranger)
    assert client.post("/api/v1/comparisons/exchange/keys", json={"name": "x", "public_key": "junk"},
                       headers=headers).status_code == 400
    assert client.post("/api/v1/comparisons/exchange/keys", json={"name": "y", "public_key": "00" * 32},
                       headers={"Authorization": f"Bearer {examiner_token}"}).status_code == 403
    key_id = added.get_json()["id"]
    revoked = client.post("/api/v1/comparisons/exchange/keys/revoke", json={"key_id": key_id}, headers=headers)
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
    again = client.post("/api/v1/comparisons/exchange/keys/revoke", json={"key_id": key_id}, headers=headers)
    assert again.status_code == 409 and "already revoked" in again.get_json()["message"]


def test_the_export_page_records_the_export_in_the_trail(bench, scans, login_as) -> None:
    from qms.trail.models import AuditEvent

    entries = _upload_all(bench, scans)
    client = login_as(bench.examiner)
    page = client.get("/comparisons/exchange")
    assert page.status_code == 200 and entries[0].label in page.get_data(as_text=True)
    response = client.post("/comparisons/exchange/export", data={"export-entry_ids": [str(entries[0].id)]})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    db.session.expire_all()
    package = db.session.query(ExchangePackage).filter_by(direction="export").one()
    assert package.sha256 == response.headers["X-Content-SHA256"]
    trail = db.session.query(AuditEvent).filter(AuditEvent.entity == "ExchangePackage").all()
    assert [t.action for t in trail] == ["insert"]
    empty = client.post("/comparisons/exchange/export", data={})
    assert empty.status_code == 400 and "Choose at least one entry" in empty.get_data(as_text=True)


def test_partner_keys_page_adds_a_key_with_its_fingerprint_and_refuses_garbage(bench, login_as) -> None:
    client = login_as(bench.qm)
    stranger = Ed25519PrivateKey.generate().public_key()
    response = client.post("/comparisons/exchange/keys", data={"key-name": "Partner lab",
                                                               "key-public_key": public_key_pem(stranger)})
    assert response.status_code == 302
    page = client.get("/comparisons/exchange/keys").get_data(as_text=True)
    from qms.comparisons.exchange_format import fingerprint

    assert fingerprint(stranger) in page and exchange.own_public_key()["fingerprint"] in page
    bad = client.post("/comparisons/exchange/keys", data={"key-name": "x", "key-public_key": "not a key"})
    assert bad.status_code == 400 and "Not a public key" in bad.get_data(as_text=True)
    examiner = login_as(bench.examiner)
    assert examiner.post("/comparisons/exchange/keys", data={"key-name": "y", "key-public_key": "00" * 32}
                         ).status_code == 403


def test_an_export_larger_than_a_server_accepts_is_refused(bench, exported, app) -> None:
    app.config["EXCHANGE_MAX_BYTES"] = len(exported.package) - 1
    with pytest.raises(ExchangeError, match="export the entries in several packages"):
        exchange.export_entries(exported.entries, unit=bench.unit, actor=bench.examiner)


def test_a_package_imported_through_the_page_lists_its_entries_and_origin(bench, crafted, login_as) -> None:
    client = login_as(bench.examiner)
    response = client.post("/comparisons/exchange/import", data={
        "import-package": (io.BytesIO(crafted), "package.zip")}, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Imported 3 entries from Partner lab" in page
    assert "P-2026/0 / 1" in page and hashlib.sha256(crafted).hexdigest() in page
    assert len(unit_index.open_unit_index(bench.unit.id)) == 3
    imported = db.session.scalars(select(ExchangedEntry).order_by(ExchangedEntry.id)).first()
    entry_page = client.get(f"/comparisons/entries/{imported.entry_id}").get_data(as_text=True)
    assert hashlib.sha256(crafted).hexdigest() in entry_page and imported.source_uuid in entry_page
    assert imported.package.signer_fingerprint in entry_page


def _with(entries: list[EntryFiles], **changes: object) -> list[EntryFiles]:
    first = entries[0]
    files = dict(first.files)
    if "surface" in changes:
        files["surface.x3p"] = changes.pop("surface")  # type: ignore[assignment]
    return [EntryFiles(first.uuid, {**first.metadata, **changes}, files), *entries[1:]]


@pytest.mark.parametrize(("change", "reason"), [
    ({"calibre": "9" * 41}, "calibre is not a text of at most 40"),
    ({"acquired_at": "yesterday"}, "acquired_at is not an ISO 8601 time"),
    ({"settings": {"x": "y" * 20_000}}, "settings must be a JSON object"),
    ({"processed_sha256": "0" * 64}, "does not match the processed SHA-256"),
    ({"uuid": "another"}, "its metadata names another entry"),
    ({"original": {"type": "exe"}}, "is not one of x3p"),
], ids=["calibre", "time", "settings", "processed-hash", "uuid", "original-type"])
def test_a_signed_package_with_bad_content_is_refused_whole(scans, server_key, make_unit, make_user, change,
                                                             reason) -> None:
    receiver = make_unit(code="RECV")
    qm = make_user(receiver, Role.QUALITY_MANAGER)
    package = _signed(_with(_crafted_entries(scans), **change), server_key[0])
    before = _stored_counts(receiver.id)
    with pytest.raises(ExchangeError, match=reason):
        exchange.import_package(package, unit=receiver, actor=qm)
    db.session.rollback()
    assert _stored_counts(receiver.id) == before


def test_a_surface_that_is_not_an_x3p_is_refused(scans, server_key, make_unit, make_user) -> None:
    receiver = make_unit(code="RECV")
    qm = make_user(receiver, Role.QUALITY_MANAGER)
    junk = b"PK\x03\x04 not really a zip"
    package = _signed(_with(_crafted_entries(scans), surface=junk, processed_sha256=hashlib.sha256(junk).hexdigest()),
                      server_key[0])
    with pytest.raises(ExchangeError, match="the surface is not a readable X3P file"):
        exchange.import_package(package, unit=receiver, actor=qm)
