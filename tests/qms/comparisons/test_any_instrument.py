"""Issue 17 through the web: a raw scan from another instrument (7.38 µm, Cadre-like) is uploaded,
preprocessed to the comparison resolution, searched, and its own record is shown on the entry page."""
from __future__ import annotations

import io
import tempfile
from pathlib import Path

from ballistics.io import read_surface_bytes, write_x3p
from qms.comparisons import jobs, services
from qms.comparisons.models import DerivedObject
from qms.extensions import db
from tests.instruments import variant
from tests.qms.comparisons.conftest import fadul


def _raw_x3p(name: str, pixel_size_um: float) -> bytes:
    scan = read_surface_bytes(fadul(name), name=f"Fadul {name}.x3p")
    with tempfile.TemporaryDirectory() as folder:
        raw = variant(scan, processed=False, pixel_size_um=pixel_size_um, seed=1)
        return write_x3p(raw, Path(folder) / "raw.x3p").read_bytes()


def _upload(client, bench, casing: int, data: bytes, name: str):  # type: ignore[no-untyped-def]
    return client.post("/comparisons/entries/new", data={
        "item_id": str(bench.casings[casing].id), "device_id": str(bench.device.id),
        "scan": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_a_raw_scan_at_7_38_um_is_taken_searched_and_described(bench, login_as) -> None:
    examiner = login_as(bench.examiner)
    for casing, data, name in ((0, fadul("1-2"), "Fadul 1-2.x3p"), (2, fadul("2-1"), "Fadul 2-1.x3p"),
                               (1, _raw_x3p("1-1", 7.38), "TopMatch 1-1 raw.x3p")):
        response = _upload(examiner, bench, casing, data, name)
        assert response.status_code == 302, response.get_data(as_text=True)[:400]
    assert jobs.run_queued() == 3
    db.session.expire_all()
    raw = next(e for e in services.entries() if e.original_name == "TopMatch 1-1 raw.x3p")
    assert raw.pixel_size_um == 7.38
    assert raw.settings["scan"]["instrument"] == "Cadre Forensics TopMatch-3D HD"
    assert raw.settings["scan"]["processed"] is False

    job = services.latest_job(raw)
    assert job.state == "done", job.error
    ranked = services.candidates_of(job)
    assert ranked[0].entry.original_name == "Fadul 1-2.x3p"  # its mate, ahead of the other firearm
    processed = db.session.query(DerivedObject).filter_by(entry_id=raw.id, kind="processed").one()
    assert processed.parameters["working_pixel_size_um"] == 6.25
    assert processed.parameters["step"] == "preprocessed from raw at 7.38 um"

    page = examiner.get(f"/comparisons/entries/{raw.id}").get_data(as_text=True)
    record = page[page.index('id="scan-record"'):]
    record = record[:record.index("</dd>")]
    for text in ("Instrument: Cadre Forensics TopMatch-3D HD", "serial TM-0042", "Stated pixel size: 7.38 µm",
                 "Received raw: preprocessed here", "Compared at 6.25 µm per pixel",
                 "Processing notes in the file: cropped to the primer; not filtered"):
        assert text in record, text
