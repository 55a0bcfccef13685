"""The quality manual: generated from the records, every 17020 clause cross-referenced, gaps marked,
and issued as a controlled document that is approved like any SOP."""
from __future__ import annotations

import shutil
import subprocess

import pytest

import audits as content
from qms.documents import services as documents
from qms.documents.models import Sop
from qms.extensions import db
from qms.quality import manual
from tests.conftest import PASSWORD
from tests.qms.conftest import make_effective

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                reason="pdftotext (Debian package poppler-utils) is not installed")


def _text(pdf: bytes, tmp_path) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path / "manual.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_every_clause_is_listed_with_its_sops_and_a_clause_without_either_is_a_gap(staff, tmp_path):
    sop = documents.create_sop(unit_id=staff.unit.id, code="FA-SOP-001", title="Comparison of cartridge cases",
                               discipline="firearms and ballistics", author=staff.examiner,
                               requirement_ids=["17020:7.1.1"], content_markdown="# Method")
    make_effective(staff, sop.revisions[0])
    manual.write_policy(staff.unit.id, staff.qm, requirement_id="17020:4.1.1",
                        statement="Inspection activities are undertaken impartially (policy of the unit).")
    db.session.commit()
    built = manual.build(staff.unit)
    by_id = {entry.id: entry for entry in built.clauses}
    items = content.load_all()["iso17020-2012"].assessable()
    assert {item.id for item in items} <= set(by_id)
    assert by_id["17020:7.1.1"].sops == [("FA-SOP-001", "Comparison of cartridge cases", 1)]
    assert not by_id["17020:7.1.1"].gap
    untouched = next(item.id for item in items if item.clause.startswith("7.5"))
    assert by_id[untouched].gap
    text = _text(manual.manual_pdf(staff.unit), tmp_path)
    assert "FA-SOP-001 rev. 1" in text and "GAP" in text
    assert "Inspection activities are undertaken impartially" in text


def test_the_manual_becomes_a_controlled_revision_approved_like_any_sop(staff):
    revision = manual.issue_revision(staff.unit, staff.qm, change_summary="First issue of the generated manual.")
    documents.submit(revision, staff.qm)
    documents.approve(revision, staff.examiner, password=PASSWORD)
    db.session.commit()
    sop = db.session.scalar(db.select(Sop).where(Sop.code == manual.MANUAL_CODE))
    assert sop.current_revision_id == revision.id and sop.status == "effective"
    assert documents.revision_file(revision).startswith(b"%PDF-")


def test_the_manual_pages_write_a_policy_download_and_issue(staff, login_as):
    client = login_as(staff.qm)
    page = client.get("/quality/manual")
    assert page.status_code == 200 and "GAP" in page.get_data(as_text=True)
    saved = client.post("/quality/manual/policies", data={"clause": "17020:4.1.1",
                                                          "statement": "Impartial by policy."})
    assert saved.status_code == 302
    assert manual.policies(staff.unit.id)["17020:4.1.1"].text == "Impartial by policy."
    unknown = client.post("/quality/manual/policies", data={"clause": "17020:99.9", "statement": "x"})
    assert unknown.status_code == 400
    assert client.get("/quality/manual.pdf").data.startswith(b"%PDF-")
    issued = client.post("/quality/manual/issue", data={"change_summary": "First issue"})
    assert issued.status_code == 302 and "/documents/revisions/" in issued.headers["Location"]
    viewer_client = login_as(staff.examiner)
    assert viewer_client.post("/quality/manual/policies", data={"clause": "17020:4.1.1",
                                                                "statement": "x"}).status_code == 403
