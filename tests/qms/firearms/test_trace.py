"""Trace requests: a unit asks a partner about a firearm, the partner answers, both sides log each step.

Server A is the test's application (unit FIRE, its examiner); server B is a second application with its
own SQLite database, instance folder and exchange key, as in the exchange test. Refusals and isolation
are shown between units of one server, whose units trust the server's own key.
"""
from __future__ import annotations

import re

import io
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from qms.auth import services as auth_services
from qms.auth.models import Role, Unit, User
from qms.comparisons import exchange
from qms.comparisons.exchange_format import TRACE_ANSWER, EntryFiles, build_package, public_key_pem
from qms.comparisons.exchange_format import fingerprint as exchange_fingerprint
from qms.extensions import db
from qms.firearms import services as firearms
from qms.firearms import trace
from qms.firearms.trace_models import TraceLogEntry, TracePartnerRecord, TraceRequest
from qms.trail.models import AuditEvent
from tests.conftest import PASSWORD, login, second_server

ZIP = "application/zip"


@pytest.fixture()
def server_b(migrated_database, tmp_path: Path, app: Flask) -> Iterator[Flask]:
    """A second server: its own SQLite database, instance folder and exchange key."""
    yield from second_server(migrated_database, tmp_path / "server-b", EXCHANGE_SERVER_ID="server-b")


def _unit_with_examiner(code: str) -> tuple[Unit, User]:
    unit = auth_services.create_unit(code=code, name=f"Unit {code}")
    user = auth_services.create_user(username=f"exam-{code.lower()}", full_name=f"Examiner {code}", password=PASSWORD,
                                     unit=unit, roles=[Role.EXAMINER, Role.QUALITY_MANAGER])
    db.session.commit()
    return unit, user


def _add(unit: Unit, user: User, serial: str, *, make: str = "Zastava", event: str = "seized") -> int:
    found = firearms.add(unit.id, user, firearms.Details(firearm_type="pistol", make=make, model="M57",
                                                         calibre="7.62x25", serial_number=serial),
                         firearms.EventInput(kind=event, occurred_on=date.today() - timedelta(days=3),
                                             place="Skopje", reporter="Owner", police_reference="SVR 1/2026"))
    db.session.commit()
    return found.id


def _client(server: Flask, username: str) -> FlaskClient:
    client = server.test_client()
    assert login(client, username).status_code == 302
    return client


def _post_package(client: FlaskClient, data: bytes):  # type: ignore[no-untyped-def]
    return client.post("/firearms/trace/import", data={"import-package": (io.BytesIO(data), "trace.zip")},
                       content_type="multipart/form-data")


def _ask(client: FlaskClient, partner: str, serial: str, make: str = "Zastava") -> bytes:
    response = client.post("/firearms/trace", data={
        "trace-partner": partner, "trace-serial_number": serial, "trace-make": make, "trace-model": "M57",
        "trace-calibre": "", "trace-reason": "Pistol seized at a checkpoint, serial partly ground off",
        "trace-reference": "KU 12/2026"})
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    assert response.mimetype == ZIP
    return response.get_data()


def _steps(unit_id: int) -> list[str]:
    return list(db.session.scalars(select(TraceLogEntry.step).where(TraceLogEntry.unit_id == unit_id)
                                   .order_by(TraceLogEntry.id)))


def _trail(unit_id: int, entity: str) -> int:
    stmt = select(func.count()).select_from(AuditEvent).where(AuditEvent.unit_id == unit_id,
                                                              AuditEvent.entity == entity)
    return db.session.scalar(stmt.execution_options(unscoped=True)) or 0


def _stored(unit_id: int) -> tuple[int, int, int]:
    def count(model: type) -> int:
        return db.session.scalar(select(func.count()).select_from(model).where(model.unit_id == unit_id)) or 0

    return count(TraceRequest), count(TraceLogEntry), count(TracePartnerRecord)


def _flipped(data: bytes, position: int) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 0x01
    return bytes(changed)


def _member_offset(data: bytes, name: str) -> int:
    """The position of a byte inside a member's content (the zip stores members uncompressed)."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    return info.header_offset + 30 + len(info.filename) + len(info.extra) + info.file_size // 2


# --- acceptance 4: two servers ------------------------------------------------------------------------

def test_a_request_from_one_server_is_answered_by_a_second_and_the_answer_is_kept(app, unit, examiner,
                                                                                 server_b) -> None:
    """"12?45B" finds B's "I2345B" (I reads as 1, the unknown position matches) and not "12345C"."""
    ours = _add(unit, examiner, "12345B")  # our own record: the partner's record must meet it
    key_a = exchange.own_public_key()
    unit_id = unit.id
    with server_b.app_context():
        unit_b, examiner_b = _unit_with_examiner("SRV-B")
        unit_b_id = unit_b.id
        wanted = _add(unit_b, examiner_b, "I2345B", event="reported_stolen")
        _add(unit_b, examiner_b, "12345C")
        exchange.add_partner_key(unit_id=unit_b.id, name="Unit FIRE on server A", key_text=key_a["pem"],
                                 actor=examiner_b)
        db.session.commit()
        key_b = exchange.own_public_key()
    exchange.add_partner_key(unit_id=unit_id, name="Unit SRV-B on server B", key_text=key_b["pem"], actor=examiner)
    db.session.commit()

    request_package = _ask(_client(app, examiner.username), key_b["fingerprint"], "12?45B")

    with server_b.app_context():
        client_b = _client(server_b, "exam-srv-b")
        received = _post_package(client_b, request_package)
        assert received.status_code == 302
        page = client_b.get(received.headers["Location"]).get_data(as_text=True)
        assert "I2345B" in page and "12345C" not in page  # the reviewer sees what the answer will list
        trace_id = db.session.scalar(select(TraceRequest.id))
        answered = client_b.post(f"/firearms/trace/{trace_id}/answer")
        assert answered.status_code == 200 and answered.mimetype == ZIP
        answer_package = answered.get_data()
        assert client_b.post(f"/firearms/trace/{trace_id}/answer").status_code == 409  # once
        again = client_b.get(f"/firearms/trace/{trace_id}/package.zip")
        assert again.get_data() == answer_package  # the answer can be sent again, byte for byte
        assert _steps(unit_b_id) == ["request_received", "answer_sent"]
        assert _trail(unit_b_id, "TraceLogEntry") == 2
        assert _trail(unit_b_id, "TraceRequest") == 1

    client_a = _client(app, examiner.username)
    imported = _post_package(client_a, answer_package)
    assert imported.status_code == 302
    page = client_a.get(imported.headers["Location"]).get_data(as_text=True)
    [record] = db.session.scalars(select(TracePartnerRecord)).all()
    assert (record.serial_number, record.status, record.basis) == ("I2345B", "reported_stolen", "partial_serial")
    assert record.holder_unit == "Unit SRV-B (SRV-B)" and record.holder_reference == f"SRV-B firearm {wanted}"
    assert "I2345B" in page and f"/firearms/{ours}" in page  # shown, and matched against our register
    assert [f.id for f in trace.register_matches(record)] == [ours]
    assert _steps(unit_id) == ["request_sent", "answer_received"]
    assert _trail(unit_id, "TraceLogEntry") == 2 and _trail(unit_id, "TracePartnerRecord") == 1
    assert _post_package(client_a, answer_package).status_code == 409  # an answer is taken once


def test_a_no_record_answer_says_so_on_the_request(unit, examiner, make_unit, make_user, login_as) -> None:
    partner_unit = make_unit(code="PART")
    partner = make_user(partner_unit, Role.EXAMINER)
    _add(partner_unit, partner, "12345C")
    package = _ask(login_as(examiner), trace.OWN_SERVER, "12?45B")
    client_b = login_as(partner)
    assert _post_package(client_b, package).status_code == 302
    incoming = db.session.scalar(select(TraceRequest).where(TraceRequest.unit_id == partner_unit.id))
    assert trace.matches(incoming) == []
    answer = client_b.post(f"/firearms/trace/{incoming.id}/answer").get_data()
    client_a = login_as(examiner)
    imported = _post_package(client_a, answer)
    page = client_a.get(imported.headers["Location"]).get_data(as_text=True)
    assert 'id="no-record"' in page
    assert _stored(unit.id) == (1, 2, 0)


def test_a_register_record_added_after_the_answer_meets_the_partner_record(unit, examiner, make_unit, make_user,
                                                                         login_as) -> None:
    """Partner records are matched when read: a record entered later finds the answer's record too."""
    partner_unit = make_unit(code="PART")
    partner = make_user(partner_unit, Role.EXAMINER)
    _add(partner_unit, partner, "I2345B", event="reported_stolen")
    client_b = login_as(partner)
    _post_package(client_b, _ask(login_as(examiner), trace.OWN_SERVER, "12?45B"))
    incoming = db.session.scalar(select(TraceRequest).where(TraceRequest.unit_id == partner_unit.id))
    client_a = login_as(examiner)
    imported = _post_package(client_a, client_b.post(f"/firearms/trace/{incoming.id}/answer").get_data())
    [record] = db.session.scalars(select(TracePartnerRecord).where(TracePartnerRecord.unit_id == unit.id)).all()
    assert trace.register_matches(record) == []
    _add(unit, examiner, "12345C")  # the C is no B: still no match
    seized = _add(unit, examiner, "1-2345-B")
    assert [f.id for f in trace.register_matches(record)] == [seized]
    assert f"/firearms/{seized}" in client_a.get(imported.headers["Location"]).get_data(as_text=True)


# --- refusals -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["manifest.json", "signature", "zip header"])
def test_a_changed_byte_in_a_request_or_an_answer_is_refused_and_nothing_is_stored(
        where, unit, examiner, make_unit, make_user, login_as) -> None:
    partner_unit = make_unit(code="PART")
    partner = make_user(partner_unit, Role.EXAMINER)
    _add(partner_unit, partner, "I2345B")
    request_package = _ask(login_as(examiner), trace.OWN_SERVER, "12?45B")
    client_b = login_as(partner)

    def changed(data: bytes) -> bytes:
        return _flipped(data, 7 if where == "zip header" else _member_offset(data, where))

    refused = _post_package(client_b, changed(request_package))
    assert refused.status_code == 400
    assert "Package refused, nothing was stored" in refused.get_data(as_text=True)
    assert _stored(partner_unit.id) == (0, 0, 0)

    assert _post_package(client_b, request_package).status_code == 302  # the untouched one is taken
    incoming = db.session.scalar(select(TraceRequest).where(TraceRequest.unit_id == partner_unit.id))
    answer = client_b.post(f"/firearms/trace/{incoming.id}/answer").get_data()
    client_a = login_as(examiner)
    before = _stored(unit.id)
    refused = _post_package(client_a, changed(answer))
    assert refused.status_code == 400
    assert "Package refused, nothing was stored" in refused.get_data(as_text=True)
    assert _stored(unit.id) == before
    assert _post_package(client_a, answer).status_code == 302


def test_an_answer_to_a_request_the_unit_did_not_send_is_refused(unit, examiner, make_unit, make_user,
                                                                  login_as) -> None:
    partner_unit, other_unit = make_unit(code="PART"), make_unit(code="OTHER")
    partner, other = make_user(partner_unit, Role.EXAMINER), make_user(other_unit, Role.EXAMINER)
    package = _ask(login_as(examiner), trace.OWN_SERVER, "I2345B")
    client_b = login_as(partner)
    _post_package(client_b, package)
    incoming = db.session.scalar(select(TraceRequest).where(TraceRequest.unit_id == partner_unit.id))
    answer = client_b.post(f"/firearms/trace/{incoming.id}/answer").get_data()
    refused = _post_package(login_as(other), answer)
    assert refused.status_code == 400
    assert "did not send" in refused.get_data(as_text=True)
    assert _stored(other_unit.id) == (0, 0, 0)
    # A request package is not an answer for its own sender either.
    assert "this unit sent" in _post_package(login_as(examiner), package).get_data(as_text=True)


def test_an_answer_signed_by_another_partner_than_the_one_asked_is_refused(unit, examiner, login_as) -> None:
    stranger = Ed25519PrivateKey.generate()
    exchange.add_partner_key(unit_id=unit.id, name="Another partner", key_text=public_key_pem(stranger.public_key()),
                             actor=examiner)
    db.session.commit()
    _ask(login_as(examiner), trace.OWN_SERVER, "I2345B")
    sent = db.session.scalar(select(TraceRequest))
    forged = build_package([], source={"unit": {"code": "X", "name": "X"}, "server_id": "x", "created_at": "",
                                       "exporter": {}}, key=stranger, kind=TRACE_ANSWER,
                           message={"request_uuid": sent.request_uuid, "request_sha256": sent.request_sha256,
                                    "outcome": "no_record"})
    refused = _post_package(login_as(examiner), forged)
    assert refused.status_code == 400
    assert "another key" in refused.get_data(as_text=True)
    assert _stored(unit.id) == (1, 1, 0)


def test_trace_and_ballistic_packages_are_refused_on_each_others_pages(unit, examiner, make_unit, make_user,
                                                                       login_as) -> None:
    partner = make_user(make_unit(code="PART"), Role.EXAMINER)
    package = _ask(login_as(examiner), trace.OWN_SERVER, "I2345B")
    response = login_as(partner).post("/comparisons/exchange/import", data={
        "import-package": (io.BytesIO(package), "trace.zip")}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "firearm trace request, not a ballistic exchange package" in response.get_data(as_text=True)
    ballistic = build_package([EntryFiles("ab" * 16, {"uuid": "ab" * 16}, {"surface.x3p": b"not read"})],
                              source={"unit": {}}, key=exchange.signing_key())
    refused = _post_package(login_as(partner), ballistic)
    assert refused.status_code == 400
    assert "This is a ballistic exchange package: import it on the exchange page." in refused.get_data(as_text=True)


def test_a_request_addressed_to_another_server_is_refused(unit, examiner, make_unit, make_user, login_as) -> None:
    elsewhere = Ed25519PrivateKey.generate()
    exchange.add_partner_key(unit_id=unit.id, name="Server C", key_text=public_key_pem(elsewhere.public_key()),
                             actor=examiner)
    db.session.commit()
    package = _ask(login_as(examiner), exchange_fingerprint(elsewhere.public_key()), "I2345B")
    partner_unit = make_unit(code="PART")
    refused = _post_package(login_as(make_user(partner_unit, Role.EXAMINER)), package)
    assert refused.status_code == 400 and "addressed to another server" in refused.get_data(as_text=True)
    assert _stored(partner_unit.id) == (0, 0, 0)


def test_a_request_is_refused_without_enough_readable_characters_or_a_reason(unit, examiner, login_as) -> None:
    client = login_as(examiner)
    vague = client.post("/firearms/trace", data={"trace-partner": trace.OWN_SERVER, "trace-serial_number": "1??4?",
                                                 "trace-reason": "Seized"})
    assert vague.status_code == 400 and "at least 4 readable characters" in vague.get_data(as_text=True)
    silent = client.post("/firearms/trace", data={"trace-partner": trace.OWN_SERVER, "trace-serial_number": "I2345B"})
    assert silent.status_code == 400
    unknown = client.post("/firearms/trace", data={"trace-partner": "f" * 64, "trace-serial_number": "I2345B",
                                                   "trace-reason": "Seized"})
    assert unknown.status_code == 400 and "partner keys" in unknown.get_data(as_text=True)
    assert _stored(unit.id) == (0, 0, 0)


def test_a_request_imported_twice_is_refused_the_second_time(unit, examiner, make_unit, make_user, login_as) -> None:
    partner_unit = make_unit(code="PART")
    client_b = login_as(make_user(partner_unit, Role.EXAMINER))
    package = _ask(login_as(examiner), trace.OWN_SERVER, "I2345B")
    assert _post_package(client_b, package).status_code == 302
    again = _post_package(client_b, package)
    assert again.status_code == 400 and "already imported" in again.get_data(as_text=True)
    assert re.search(r"already imported on .+ \(UTC[+-]\d\d:\d\d\);", again.get_data(as_text=True))
    assert _stored(partner_unit.id) == (1, 1, 0)


# --- isolation and roles --------------------------------------------------------------------------------

def test_a_units_trace_requests_are_invisible_to_another_unit(unit, examiner, make_unit, make_user,
                                                              login_as) -> None:
    _ask(login_as(examiner), trace.OWN_SERVER, "I2345B")
    sent = db.session.scalar(select(TraceRequest))
    other = login_as(make_user(make_unit(code="OTHER"), Role.EXAMINER))
    assert other.get(f"/firearms/trace/{sent.id}").status_code == 404
    assert other.get(f"/firearms/trace/{sent.id}/package.zip").status_code == 404
    assert other.post(f"/firearms/trace/{sent.id}/answer").status_code == 404
    assert "I2345B" not in other.get("/firearms/trace").get_data(as_text=True)
    assert "I2345B" in login_as(examiner).get("/firearms/trace").get_data(as_text=True)


def test_a_viewer_reads_trace_requests_but_neither_asks_nor_answers(unit, examiner, make_user, login_as) -> None:
    viewer = login_as(make_user(unit, Role.VIEWER))
    assert viewer.get("/firearms/trace").status_code == 200
    assert viewer.post("/firearms/trace", data={"trace-serial_number": "I2345B"}).status_code == 403


# --- the API --------------------------------------------------------------------------------------------

def _token(user: User, unit: Unit, role: Role = Role.EXAMINER) -> dict[str, str]:
    _, clear = auth_services.issue_token(user, unit_id=unit.id, role=role, name="trace")
    db.session.commit()
    return {"Authorization": f"Bearer {clear}"}


def test_request_answer_and_import_through_the_api(unit, examiner, make_unit, make_user, client) -> None:
    partner_unit = make_unit(code="PART")
    partner = make_user(partner_unit, Role.EXAMINER)
    wanted = _add(partner_unit, partner, "I2345B")
    a, b = _token(examiner, unit), _token(partner, partner_unit)
    asked = client.post("/api/v1/firearms/trace/requests", headers=a, json={
        "partner": trace.OWN_SERVER, "serial_number": "12?45B", "make": "Zastava", "reason": "Seized"})
    assert asked.status_code == 200 and asked.mimetype == ZIP
    received = client.post("/api/v1/firearms/trace/import", headers={**b, "Content-Type": ZIP}, data=asked.data)
    assert received.status_code == 201 and received.json["step"] == "request_received"
    trace_id = received.json["request"]["id"]
    assert client.post(f"/api/v1/firearms/trace/requests/{trace_id}/answer", headers=a).status_code == 404
    answer = client.post(f"/api/v1/firearms/trace/requests/{trace_id}/answer", headers=b)
    assert answer.status_code == 200
    imported = client.post("/api/v1/firearms/trace/import", headers={**a, "Content-Type": ZIP}, data=answer.data)
    assert imported.status_code == 201
    [record] = imported.json["partner_records"]
    assert record["holder_reference"] == f"PART firearm {wanted}" and record["serial_number"] == "I2345B"
    detail = client.get(f"/api/v1/firearms/trace/requests/{imported.json['request']['id']}", headers=a).json
    assert [entry["step"] for entry in detail["log"]] == ["request_sent", "answer_received"]
    assert client.post("/api/v1/firearms/trace/import", headers={**a, "Content-Type": ZIP},
                       data=_flipped(answer.data, 40)).status_code == 400
