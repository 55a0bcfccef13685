"""Evidence pages, PDFs, photographs, the API and the `qms custody` commands."""
from __future__ import annotations

import io
import re
import shutil
import subprocess

import pytest
import sqlalchemy as sa

from qms.auth import services as auth_services
from qms.auth.models import Role
from qms.evidence import custody
from qms.evidence.models import Case, CustodyEvent, Item, ItemPhoto
from qms.extensions import db
from tests.conftest import PASSWORD
from tests.hostile import good_png

PNG = good_png()  # a real image: photographs are decoded before they are stored


def pdf_text(data: bytes) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    assert data.startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()
    return " ".join(text.split())


def _count(item_id: int) -> int:
    db.session.expire_all()
    stmt = sa.select(sa.func.count()).select_from(CustodyEvent).where(CustodyEvent.item_id == item_id)
    return db.session.scalar(stmt)


def test_the_custody_workflow_through_the_pages(lab, login_as, db_session):
    csi, keeper, examiner = login_as(lab.csi), login_as(lab.custodian), login_as(lab.examiner)
    response = csi.post("/evidence/cases/new", data={"case_number": "2026/077", "offence_type": "Robbery",
                                                     "opened_on": "2026-11-20"})
    assert response.status_code == 302
    case = db_session.scalar(sa.select(Case).where(Case.case_number == "2026/077"))
    response = csi.post(f"/evidence/cases/{case.id}/items/new", data={
        "exhibit_number": "7", "item_type": "cartridge_case", "description": "9 mm Luger case", "seal_number": "S-77",
        "utc_offset": "60"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    item = db_session.scalar(sa.select(Item).where(Item.case_id == case.id))

    labels = csi.get(f"/evidence/cases/{case.id}/labels.pdf")
    assert labels.status_code == 200 and labels.mimetype == "application/pdf"
    text = pdf_text(labels.data)
    assert "2026/077" in text and item.label_code in text
    assert "Label verified" in csi.get(f"/evidence/items/{item.id}?v={item.label_code}").get_data(as_text=True)
    assert "does not match" in csi.get(f"/evidence/items/{item.id}?v=AAAA-BBBB").get_data(as_text=True)

    offered = csi.post(f"/evidence/items/{item.id}/offer", data={"offer-receiver": str(lab.custodian.id)})
    assert offered.status_code == 302
    before = _count(item.id)
    refused = keeper.post(f"/evidence/items/{item.id}/accept", data={"accept-username": "keeper",
                                                                    "accept-password": "wrong-password-42"})
    assert refused.status_code == 403 and "wrong password" in refused.get_data(as_text=True)
    assert _count(item.id) == before
    assert keeper.post(f"/evidence/items/{item.id}/accept", data={"accept-username": "keeper",
                                                                 "accept-password": PASSWORD}).status_code == 302
    assert keeper.post(f"/evidence/items/{item.id}/events", data={
        "event-kind": "stored", "event-location_id": str(lab.shelf.id)}).status_code == 302
    out_of_order = examiner.post(f"/evidence/items/{item.id}/events", data={
        "event-kind": "examined", "event-notes": "x"})
    assert out_of_order.status_code == 400 and "in storage" in out_of_order.get_data(as_text=True)
    taken_out = examiner.post(f"/evidence/items/{item.id}/events", data={"event-kind": "removed_from_storage"})
    assert taken_out.status_code == 302
    examined = examiner.post(f"/evidence/items/{item.id}/events", data={
        "event-kind": "examined", "event-notes": "Breech face marks imaged"})
    assert examined.status_code == 302, re.findall(r'flash[^"]*"[^>]*>([^<]*)', examined.get_data(as_text=True))

    report = examiner.get(f"/evidence/items/{item.id}/custody.pdf")
    assert report.status_code == 200
    text = pdf_text(report.data)
    for kind in ("Collected", "Sealed", "Transfer offered", "Transfer accepted", "Stored", "Removed from storage",
                 "Examined"):
        assert kind in text, kind
    assert "VERIFIED" in text and "NOT VERIFIED" not in text
    assert "receiver: password re" in text, text
    page = examiner.get("/evidence/verify").get_data(as_text=True)
    assert "All intact" in page


def test_unknown_items_and_other_units_answer_404_with_a_reason(lab, login_as, pistol, make_unit, make_user):
    client = login_as(lab.csi)
    response = client.get("/evidence/items/999999")
    assert response.status_code == 404 and "No such item" in response.get_data(as_text=True)
    other = make_user(make_unit(code="ELSE"), Role.CSI_OFFICER)
    item_id = pistol.id
    # Requests get a fresh session in production; here they share the test's, so drop the item it
    # holds (an object already in the identity map is refreshed without the unit scope).
    db.session.expunge(pistol)
    assert login_as(other).get(f"/evidence/items/{item_id}").status_code == 404
    assert login_as(other).post(f"/evidence/items/{item_id}/events", data={"event-kind": "examined"}).status_code == 404


def test_admin_has_no_evidence_rights_and_quality_managers_only_read(lab, login_as, pistol, make_user):
    admin = login_as(make_user(lab.unit, Role.ADMIN))
    for url in ("/evidence", f"/evidence/items/{pistol.id}", "/evidence/verify"):
        assert admin.get(url).status_code == 403
    qm = login_as(lab.qm)
    assert qm.get(f"/evidence/items/{pistol.id}").status_code == 200
    assert qm.post(f"/evidence/items/{pistol.id}/events", data={"event-kind": "examined"}).status_code == 403


def test_garbage_to_every_evidence_form_is_refused_cleanly(app, lab, login_as, pistol, db_session):
    """tests/qms/test_bad_input.py cannot fill our URL parameters yet; the same walk over our routes."""
    photo = ItemPhoto(unit_id=lab.unit.id, item_id=pistol.id, sha256="a" * 64, size=1, media_type="image/png",
                      uploaded_by_id=lab.csi.id)
    db_session.add(photo)
    db_session.commit()
    params = {"case_id": lab.case.id, "item_id": pistol.id, "photo_id": photo.id}
    garbage = [{}, {"event-kind": "destroyed", "offer-receiver": "abc", "accept-username": "x" * 5000,
                    "event-occurred_at": "yesterday", "event-utc_offset": "99999", "event-wrong_seq": "-3",
                    "case_number": "\u202e" * 100, "opened_on": "2026-13-45", "item_type": "rocket"},
               {"event-kind": "stored", "event-location_id": "99999", "sample-item_type": "firearm",
                "destroy-disposal": "eaten", "parent_id": "x", "kind": "planet"}]
    client = login_as(lab.csi)
    before = _count(pistol.id)
    for rule in app.url_map.iter_rules():
        if "evidence" not in rule.rule:
            continue
        url = re.sub(r"<(?:int:)?([a-z_]+)>", lambda m: str(params[m.group(1)]), rule.rule)
        for method in rule.methods - {"GET", "HEAD", "OPTIONS"}:
            for payload in garbage:
                if rule.rule.startswith("/api/"):
                    response = client.open(url, method=method, json=payload)
                else:
                    response = client.open(url, method=method, data=payload)
                assert response.status_code < 500, f"{method} {rule.rule} {str(payload)[:60]}"
                if response.status_code >= 400:
                    assert response.get_data(as_text=True).strip()
    assert _count(pistol.id) == before


def test_a_concurrent_writer_gets_409_with_a_message(lab, login_as, pistol, db_session, monkeypatch):
    with db.engine.begin() as other:
        row = other.execute(sa.select(CustodyEvent.__table__).where(CustodyEvent.item_id == pistol.id,
                                                                     CustodyEvent.seq == 2)).mappings().one()
        copy = {k: v for k, v in row.items() if k != "id"}
        other.execute(sa.insert(CustodyEvent.__table__).values({**copy, "seq": 3}))
    monkeypatch.setattr(custody, "_lock", lambda item: item)  # the item page's stale head: seq 2
    response = login_as(lab.csi).post(f"/evidence/items/{pistol.id}/events", data={
        "event-kind": "examined", "event-notes": "x"})
    assert response.status_code == 409 and "same moment" in response.get_data(as_text=True)


# --- photographs -------------------------------------------------------------------------------------

def test_photographs_are_hashed_chained_and_served_as_attachments(lab, login_as, pistol, app, db_session):
    client = login_as(lab.csi)
    response = client.post(f"/evidence/items/{pistol.id}/photos", data={
        "photo-photo": (io.BytesIO(PNG), "seal.png"), "photo-caption": "Seal S-0001"},
        content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    photo = db_session.scalar(sa.select(ItemPhoto))
    event = db_session.scalar(sa.select(CustodyEvent).where(CustodyEvent.kind == "photographed"))
    assert event.details["photo_sha256"] == photo.sha256
    served = client.get(f"/evidence/photos/{photo.id}")
    assert served.status_code == 200 and served.data == PNG
    assert served.headers["Content-Disposition"].startswith("attachment;")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    from qms.storage import object_store

    path = object_store().path_for(photo.sha256)
    path.chmod(0o640)
    path.write_bytes(PNG + b"tampered")
    assert client.get(f"/evidence/photos/{photo.id}").status_code == 409
    assert "no longer matches its SHA-256" in pdf_text(client.get(f"/evidence/items/{pistol.id}/custody.pdf").data)


@pytest.mark.parametrize("data, name", [(b"<html><script>alert(1)</script></html>", "seal.png"),
                                        (b"GIF89a" + b"\x00" * 20, "seal.gif"), (b"", "empty.jpg")])
def test_anything_but_a_photograph_is_refused(lab, login_as, pistol, data, name):
    before = _count(pistol.id)
    response = login_as(lab.csi).post(f"/evidence/items/{pistol.id}/photos", data={
        "photo-photo": (io.BytesIO(data), name)}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert re.search("not a PNG, JPEG or TIFF|empty|required", response.get_data(as_text=True))
    assert _count(pistol.id) == before


# --- API ---------------------------------------------------------------------------------------------------

def _token(db_session, user, unit, role):  # type: ignore[no-untyped-def]
    _, clear = auth_services.issue_token(user, unit_id=unit.id, role=role, name="api test")
    db_session.commit()
    return {"Authorization": f"Bearer {clear}"}


def test_the_api_registers_transfers_records_and_verifies(client, lab, db_session):
    csi = _token(db_session, lab.csi, lab.unit, Role.CSI_OFFICER)
    keeper = _token(db_session, lab.custodian, lab.unit, Role.CSI_OFFICER)
    case = client.post("/api/v1/evidence/cases", headers=csi, json={"case_number": "API-1", "offence_type": "Theft"})
    assert case.status_code == 201, case.json
    item = client.post(f"/api/v1/evidence/cases/{case.json['id']}/items", headers=csi, json={
        "exhibit_number": "A", "item_type": "firearm", "description": "Rifle", "serial_number": "X1"})
    assert item.status_code == 201 and item.json["head_seq"] == 1, item.json
    item_id = item.json["id"]
    offer = client.post(f"/api/v1/evidence/items/{item_id}/transfer-offer", headers=csi,
                        json={"receiver_username": "keeper"})
    assert offer.status_code == 201 and offer.json["kind"] == "transfer_offered"
    wrong = client.post(f"/api/v1/evidence/items/{item_id}/transfer-accept", headers=keeper,
                        json={"username": "keeper", "password": "not-the-password"})
    assert wrong.status_code == 403 and "wrong password" in wrong.json["message"]
    accepted = client.post(f"/api/v1/evidence/items/{item_id}/transfer-accept", headers=keeper,
                           json={"username": "keeper", "password": PASSWORD})
    assert accepted.status_code == 201 and "password" not in accepted.json
    refused = client.post(f"/api/v1/evidence/items/{item_id}/events", headers=csi,
                          json={"kind": "examined", "notes": "x"})
    assert refused.status_code == 400 and "you do not hold" in refused.json["message"]
    stored = client.post(f"/api/v1/evidence/items/{item_id}/events", headers=keeper,
                         json={"kind": "stored", "location_id": lab.shelf.id})
    assert stored.status_code == 201 and stored.json["seq"] == 4
    events = client.get(f"/api/v1/evidence/items/{item_id}/events", headers=csi).json
    assert [e["seq"] for e in events] == [1, 2, 3, 4] and all(len(e["hash"]) == 64 for e in events)
    assert client.get(f"/api/v1/evidence/items/{item_id}", headers=csi).json["state"] == "in_storage"
    verify = client.get("/api/v1/evidence/verify", headers=csi).json
    assert verify["ok"] and verify["events_checked"] == 4
    assert client.get("/api/v1/evidence/items/424242", headers=csi).status_code == 404
    bad = client.post(f"/api/v1/evidence/items/{item_id}/events", headers=keeper, json={"kind": "teleported"})
    assert bad.status_code == 422 and "kind" in bad.json["message"]


def test_the_openapi_document_lists_the_evidence_endpoints(client):
    from openapi_spec_validator import validate

    spec = client.get("/api/v1/openapi.json").json
    validate(spec)
    assert {"/api/v1/evidence/cases", "/api/v1/evidence/items/{item_id}/transfer-accept",
            "/api/v1/evidence/items/{item_id}/events", "/api/v1/evidence/verify"} <= set(spec["paths"])


# --- commands ------------------------------------------------------------------------------------------

def test_custody_commands_checkpoint_and_verify(app, lab, pistol, db_session):
    from qms.db import append_only_ddl, drop_append_only_ddl
    from qms.evidence.cli import custody as group

    runner, item_id = app.test_cli_runner(), pistol.id
    result = runner.invoke(group, ["checkpoint"])
    assert result.exit_code == 0 and "Checkpoint 1: 1 chains" in result.output
    result = runner.invoke(group, ["verify"])
    assert result.exit_code == 0 and "all intact" in result.output
    assert "PUBLIC KEY" in runner.invoke(group, ["public-key"]).output
    db_session.commit()
    db_session.close()
    with db.engine.begin() as connection:  # a DBA drops the trigger and edits an event
        dialect = connection.dialect.name
        for statement in drop_append_only_ddl("custody_event", dialect):
            connection.execute(sa.text(statement))
        connection.execute(sa.text("UPDATE custody_event SET notes = 'edited' WHERE seq = 2"))
        for statement in append_only_ddl("custody_event", dialect):
            connection.execute(sa.text(statement))
    result = runner.invoke(group, ["verify"])
    assert result.exit_code == 1
    assert f"item {item_id}, event #2: its content does not match its hash" in result.output


def test_the_demo_evidence_is_seeded_once_and_verifies(app, db_session):
    from qms.demo import seed_demo
    from qms.evidence.checkpoints import verify_all
    from qms.evidence.demo import seed_evidence

    accounts = seed_demo()
    seed_evidence(accounts)
    seed_evidence(accounts)  # a second `qms demo` changes nothing
    items = db_session.scalars(sa.select(Item).order_by(Item.id)).all()
    assert [(i.case.case_number, i.exhibit_number) for i in items] == [
        *(("FC-2026/0147", n) for n in ("1", "2", "3", "4", "1-TF1")),  # the homicide
        ("FC-2026/0061", "1"), ("FC-2026/0083", "1"),  # two shootings' casings
        ("FC-2026/0098", "1"), ("FC-2026/0098", "1-TF1")]  # the converted pistol seized in a raid, its test fire
    assert items[0].holder.username == "examiner" and items[3].state == "in_storage"
    assert items[1].holder.username == "examiner"  # taken out of storage to be imaged
    assert items[-1].parent_item_id == items[-2].id and {i.holder.username for i in items[-4:]} == {"examiner"}
    report = verify_all(db_session.connection())
    assert report.ok and report.checkpoints_checked == 1, report.lines()


def test_wrong_passwords_through_the_pages_and_the_api_are_kept_and_throttled(client, app, lab, pistol, login_as,
                                                                             db_session):
    from qms.auth.models import LoginAttempt

    csi = login_as(lab.csi)
    assert csi.post(f"/evidence/items/{pistol.id}/offer", data={"offer-receiver": str(lab.custodian.id)}).status_code == 302
    keeper = _token(db_session, lab.custodian, lab.unit, Role.CSI_OFFICER)
    before = _count(pistol.id)
    app.config["THROTTLE_BASE_DELAY_SECONDS"] = 60  # the delay must not run out on a slow machine
    for n in range(app.config["THROTTLE_FREE_FAILURES"]):
        if n % 2:
            response = csi.post(f"/evidence/items/{pistol.id}/accept", data={"accept-username": "keeper",
                                                                            "accept-password": "guess-guess-1"})
            assert response.status_code == 403 and "wrong password" in response.get_data(as_text=True)
        else:
            response = client.post(f"/api/v1/evidence/items/{pistol.id}/transfer-accept", headers=keeper,
                                   json={"username": "keeper", "password": "guess-guess-1"})
            assert response.status_code == 403 and response.json["code"] == 403
    db_session.expire_all()
    failures = db_session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == "keeper", LoginAttempt.succeeded.is_(False)))
    assert failures == app.config["THROTTLE_FREE_FAILURES"]  # each refused attempt was committed by the handler
    throttled = client.post(f"/api/v1/evidence/items/{pistol.id}/transfer-accept", headers=keeper,
                            json={"username": "keeper", "password": PASSWORD})
    assert throttled.status_code == 429 and "Too many failed attempts" in throttled.json["message"]
    page = csi.post(f"/evidence/items/{pistol.id}/accept", data={"accept-username": "keeper",
                                                                "accept-password": PASSWORD})
    assert page.status_code == 429 and 'id="custody-state"' in page.get_data(as_text=True)  # the item page again
    assert _count(pistol.id) == before
