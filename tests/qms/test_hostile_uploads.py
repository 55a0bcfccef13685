"""Every hostile file of `tests.hostile` sent to every upload route, through the pages and the API.

Acceptance of issue 13: each is refused with a 4xx and a reason naming the file, nothing is stored
(rows of every table and objects in the store counted before and after), no server path appears
in the answer, and the server's peak memory grows by less than 100 MiB (the test client runs in
this process: its VmHWM, reset before each upload, is the server's peak). How fast each refusal
comes is measured by bench/bench_hostile_uploads.py, not asserted here.

Routes: custody photographs (page); audit results (page, API: base64 in JSON) and
corrective-action implementation evidence (page); ballistic entries (page, API); SOP file
attachments (page); exchange packages (page, API), and a signed, trusted package whose entry's
original is the hostile file (API).
"""
from __future__ import annotations

import base64
import hashlib
import io
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from ballistics.io import sniff_format, write_x3p
from ballistics.surface import Surface
from qms.audits import services as audits
from qms.audits.models import Audit, ChecklistItem, CorrectiveAction
from qms.auth import services as accounts
from qms.auth.models import Role
from qms.comparisons import exchange
from qms.comparisons.exchange_format import EntryFiles, build_package
from qms.db import today
from qms.documents import services as documents
from qms.evidence import custody
from qms.evidence.models import Item
from qms.extensions import db
from tests.conftest import PASSWORD, authorise_everything, login
from tests.hostile import IMAGE_LABELS, SCAN_LABELS, hostile_scans
from tests.qms.audits.conftest import plan
from tests.qms.comparisons.conftest import calibrated_scanner
from tests.qms.conftest import Staff

MiB = 1024 * 1024
REPO = str(Path(__file__).resolve().parents[2])


# --- the server's memory (Linux) -----------------------------------------------------------------

def _status(field: str) -> int:
    """A VmRSS / VmHWM figure of this process, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def peak_growth(send: Callable[[], Any]) -> tuple[Any, int]:
    """What `send` returns, and how far it raised this process's peak resident memory (bytes)."""
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    before = _status("VmRSS")
    answer = send()
    return answer, _status("VmHWM") - before


needs_proc = pytest.mark.skipif(not sys.platform.startswith("linux") or not Path("/proc/self/clear_refs").exists(),
                                reason="peak memory is read from /proc (Linux)")


# --- one unit where every upload route is open to the right person ------------------------------------

@dataclass
class Routes:
    app: Flask
    csi: FlaskClient
    lead: FlaskClient
    owner: FlaskClient
    examiner: FlaskClient
    qm: FlaskClient
    lead_api: FlaskClient
    examiner_api: FlaskClient
    photographed: Item
    casing: Item
    device_id: int
    checklist_item: ChecklistItem
    action: CorrectiveAction
    draft_id: int


def _api(app: Flask, user: Any, unit_id: int, role: Role) -> FlaskClient:
    _, secret = accounts.issue_token(user, unit_id=unit_id, role=role, name="hostile uploads")
    db.session.commit()
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def _logged_in(app: Flask, user: Any) -> FlaskClient:
    client = app.test_client()
    assert login(client, user.username).status_code == 302
    return client


def open_routes(app: Flask) -> Routes:
    """One unit where every upload route is open to the right person (used by the benchmark too)."""
    unit = accounts.create_unit(code="HOST", name="Forensic Centre")
    people = {role: accounts.create_user(username=f"h{role.value}".replace("_", ""), full_name="Test User",
                                         password=PASSWORD, unit=unit, roles=(role,))
              for role in (Role.QUALITY_MANAGER, Role.AUDITOR, Role.EXAMINER, Role.CSI_OFFICER)}
    for person in people.values():
        authorise_everything(unit, person)
    qm, lead, examiner, csi = (people[r] for r in (Role.QUALITY_MANAGER, Role.AUDITOR, Role.EXAMINER,
                                                   Role.CSI_OFFICER))
    staff = Staff(unit, qm, lead, lead, examiner, csi)
    case = custody.register_case(unit_id=unit.id, actor=csi, case_number="2026/013", offence_type="Shooting",
                                 opened_on=date(2026, 11, 1))
    photographed = custody.register_item(case, actor=csi, exhibit_number="1", item_type="firearm",
                                         description="Pistol", seal_number="S-13")
    scanner_id = calibrated_scanner(unit, qm).id
    casing = custody.register_item(case, actor=csi, exhibit_number="2", item_type="cartridge_case",
                                   description="Casing", calibre="9x19 mm")
    db.session.commit()
    custody.transfer_custody(casing, actor=csi, receiver_username=examiner.username,
                             receiver_password=PASSWORD)  # only the holder images an item
    audit: Audit = audits.create_audit(plan(staff), unit_id=unit.id, actor=qm)
    audits.start_audit(audit, lead)
    checklist_item, found_wanting = audit.items[0], audit.items[1]
    audits.record_result(found_wanting, lead, result="non_conforming", evidence_note="No records.")
    finding = audits.raise_finding(found_wanting, lead, grade="minor", statement="Not recorded.")
    action = audits.raise_action(finding, lead, title="Record it", owner_id=examiner.id,
                                 due_on=today() + timedelta(days=10))
    for kind, text, method in (("root_cause", "No form.", "five_whys"), ("action_plan", "Add a form.", "")):
        audits.record_step(action, examiner, kind=kind, text=text, method=method)
    sop = documents.create_sop(unit_id=unit.id, code="CSI-SOP-913", title="Uploads", discipline="scene examination",
                               author=qm, owner_id=qm.id, applies_to=["csi_officer"],
                               content_markdown="# Uploads\n", change_summary="First.", requirement_ids=[])
    db.session.commit()
    in_examiner = _logged_in(app, examiner)
    return Routes(app, csi=_logged_in(app, csi), lead=_logged_in(app, lead), owner=in_examiner,
                  examiner=in_examiner, qm=_logged_in(app, qm), lead_api=_api(app, lead, unit.id, Role.AUDITOR),
                  examiner_api=_api(app, examiner, unit.id, Role.EXAMINER), photographed=photographed,
                  casing=casing, device_id=scanner_id, checklist_item=checklist_item, action=action, draft_id=sop.revisions[0].id)


@pytest.fixture()
def app_config(app_config):  # type: ignore[no-untyped-def]
    return {**app_config, "SEARCH_PROCESSES": 0}  # a sound scan queues a search: no process pool for it


@pytest.fixture()
def routes(app: Flask) -> Routes:
    return open_routes(app)


# --- the routes: each sends (file name, bytes) and returns the response -----------------------------------

def _multipart(client: FlaskClient, url: str, fields: dict[str, Any], field: str, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return client.post(url, content_type="multipart/form-data", data={**fields, field: (io.BytesIO(data), name)})


def photo_page(r: Routes, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return _multipart(r.csi, f"/evidence/items/{r.photographed.id}/photos", {"photo-caption": "Seal"},
                      "photo-photo", name, data)


def result_page(r: Routes, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return _multipart(r.lead, f"/audits/items/{r.checklist_item.id}/result", {"result": "conforming"},
                      "files", name, data)


def result_api(r: Routes, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return r.lead_api.post(f"/api/v1/audits/items/{r.checklist_item.id}/results", json={
        "result": "conforming", "files": [{"filename": name, "content_base64": base64.b64encode(data).decode()}]})


def action_step_page(r: Routes, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return _multipart(r.owner, f"/audits/actions/{r.action.id}/steps",
                      {"kind": "implementation", "text": "Form in use."}, "evidence", name, data)


def entry_page(r: Routes, name: str, data: bytes):  # type: ignore[no-untyped-def]
    # With a pixel size, images reach the decoder (without one they are refused before it).
    return _multipart(r.examiner, "/comparisons/entries/new",
                      {"item_id": str(r.casing.id), "device_id": str(r.device_id), "pixel_size_um": "3.125"}, "scan", name, data)


def entry_api(r: Routes, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return _multipart(r.examiner_api, "/api/v1/comparisons/entries",
                      {"item_id": str(r.casing.id), "device_id": str(r.device_id), "pixel_size_um": "3.125"}, "scan", name, data)


def sop_file_page(r: Routes, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return _multipart(r.qm, f"/documents/revisions/{r.draft_id}/edit", {"change_summary": "as a file"},
                      "upload", name, data)


def exchange_page(r: Routes, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return _multipart(r.examiner, "/comparisons/exchange/import", {}, "import-package", name, data)


def exchange_api(r: Routes, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return r.examiner_api.post("/api/v1/comparisons/exchange/import", data=data, content_type="application/zip")


def _processed_x3p() -> bytes:
    heights = np.random.default_rng(13).normal(0, 1e-6, (48, 48))
    with tempfile.TemporaryDirectory() as folder:
        return write_x3p(Surface(heights, 6.25e-6, processed=True), Path(folder) / "s.x3p").read_bytes()


def signed_package_with_original(name: str, data: bytes) -> bytes:
    """A package signed by this server's own (trusted) key, whose one entry's original is `data`."""
    try:
        kind = sniff_format(data)
    except ValueError:
        kind = "png"  # what its name claims
    surface = _processed_x3p()
    uuid = hashlib.md5(name.encode()).hexdigest()
    metadata = {"uuid": uuid, "calibre": "9x19 mm", "firearm_make": "", "firearm_model": "", "device": "confocal",
                "settings": {}, "acquired_by": "Partner", "acquired_at": "2026-11-30T10:00:00+00:00",
                "kind": "topography", "pixel_size_um": 6.25, "processed_sha256": hashlib.sha256(surface).hexdigest(),
                "original": {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                             "type": kind},
                "custody_reference": "P-2026/13 / 1"}
    source = {"unit": {"code": "PARTNER", "name": "Partner lab"}, "server_id": "partner",
              "created_at": "2026-11-30T12:00:00.000000Z", "exporter": {"username": "p", "full_name": "Partner"}}
    entry = EntryFiles(uuid, metadata, {"surface.x3p": surface, f"original.{kind}": data})
    return build_package([entry], source=source, key=exchange.signing_key())


def in_a_signed_package(name: str, data: bytes) -> tuple[str, bytes]:
    return "package.zip", signed_package_with_original(name, data)


def _as_is(name: str, data: bytes) -> tuple[str, bytes]:
    return name, data


@dataclass(frozen=True)
class Route:
    send: Callable[..., Any]
    labels: tuple[str, ...]
    names_the_file: Callable[[str], tuple[str, ...]]  # what the reason must contain, given the file name
    prepare: Callable[[str, bytes], tuple[str, bytes]] = _as_is  # the upload made of a hostile file


def _the_name(name: str) -> tuple[str, ...]:
    return (name,)


def _the_original(name: str) -> tuple[str, ...]:
    return ("original.",)


def _the_package(name: str) -> tuple[str, ...]:
    # The package is refused as a whole; its refusal says so (the API body carries no file name).
    return ("Package refused",)


ROUTES = {
    "photo page": Route(photo_page, IMAGE_LABELS, _the_name),
    "audit result page": Route(result_page, IMAGE_LABELS, _the_name),
    "audit result API": Route(result_api, IMAGE_LABELS, _the_name),
    "action evidence page": Route(action_step_page, IMAGE_LABELS, _the_name),
    "ballistic entry page": Route(entry_page, SCAN_LABELS, _the_name),
    "ballistic entry API": Route(entry_api, SCAN_LABELS, _the_name),
    "SOP file page": Route(sop_file_page, SCAN_LABELS, _the_name),
    "exchange import page": Route(exchange_page, SCAN_LABELS, _the_package),
    "exchange import API": Route(exchange_api, SCAN_LABELS, _the_package),
    "exchange original API": Route(exchange_api, SCAN_LABELS, _the_original, in_a_signed_package),
}


# --- what "nothing stored" and "no server path" mean ---------------------------------------------------

def stored(app: Flask) -> dict[str, int]:
    """Rows of every table and objects in the store."""
    db.session.expire_all()
    counts = {table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
              for table in db.metadata.sorted_tables}
    db.session.rollback()
    store = Path(app.config["OBJECT_STORE"])
    counts["objects in the store"] = sum(1 for p in store.rglob("*") if p.is_file()) if store.exists() else 0
    return counts


def server_paths(app: Flask) -> list[str]:
    return [app.config["INSTANCE_PATH"], str(app.config["OBJECT_STORE"]), tempfile.gettempdir() + "/", REPO,
            sys.prefix, "site-packages", "Traceback"]


def answer_text(response: Any) -> str:
    if response.is_json:
        body = response.get_json()
        return f"{body.get('message', '')} {body.get('errors', '')}"
    return response.get_data(as_text=True)


# --- the acceptance test --------------------------------------------------------------------------------

@needs_proc
@pytest.mark.parametrize("route", list(ROUTES))
def test_every_hostile_file_is_refused_on_every_upload_route(routes: Routes, route: str) -> None:
    spec, files = ROUTES[route], hostile_scans()  # built before anything is measured
    forbidden = server_paths(routes.app)
    before = stored(routes.app)
    growth: dict[str, int] = {}
    for label in spec.labels:
        name, data = spec.prepare(*files[label])
        response, growth[label] = peak_growth(lambda: spec.send(routes, name, data))  # noqa: B023
        text = answer_text(response)
        assert 400 <= response.status_code < 500, f"{route}, {label}: {response.status_code} {text[:500]}"
        expected = spec.names_the_file(files[label][0])
        assert all(part in text for part in expected), f"{route}, {label}: no {expected} in {text[:2000]}"
        leaked = [path for path in forbidden if path in text]
        assert not leaked, f"{route}, {label}: the answer shows {leaked}"
        assert stored(routes.app) == before, f"{route}, {label}: something was stored"
    worst = max(growth, key=growth.__getitem__)
    assert growth[worst] < 100 * MiB, f"{route}: {worst} grew the peak memory by {growth[worst] / MiB:.0f} MiB"


def test_a_sound_file_passes_every_route_that_takes_it(routes: Routes) -> None:
    """The check refuses what is hostile, not what is ordinary: a small real PNG is stored everywhere images go."""
    from tests.hostile import good_png, good_x3p

    png = good_png()
    for send in (photo_page, result_page, action_step_page):
        response = send(routes, "seal.png", png)
        assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    assert result_api(routes, "seal.png", png).status_code == 201
    assert entry_api(routes, "scan.x3p", good_x3p()).status_code == 201


def test_a_zip_slip_word_document_is_refused(routes: Routes) -> None:
    buffer = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
        archive.writestr("../../evil.sh", "#!/bin/sh\n")
    before = stored(routes.app)
    response = sop_file_page(routes, "sop.docx", buffer.getvalue())
    assert response.status_code == 400 and "sop.docx holds a file whose path leads outside" in answer_text(response)
    assert stored(routes.app) == before


def test_an_exchange_package_with_a_climbing_name_is_refused(routes: Routes) -> None:
    package = signed_package_with_original("scan.x3p", _processed_x3p())
    import zipfile

    buffer = io.BytesIO(package)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("../../../tmp/evil.sh", b"#!/bin/sh\n")
    before = stored(routes.app)
    response = exchange_api(routes, "package.zip", buffer.getvalue())
    assert response.status_code == 400
    assert "does not belong in an exchange package" in answer_text(response)
    assert stored(routes.app) == before
