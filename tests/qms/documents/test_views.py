"""The web pages: the whole workflow through forms, the audit trail of every step, hostile input."""
from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from babel import dates as babel_dates
import sqlalchemy as sa

from qms.documents.models import Acknowledgement, Revision, RevisionState, Sop
from qms.trail.models import AuditEvent
from tests.conftest import PASSWORD
from tests.qms.documents.conftest import CONTENT

HOSTILE = """# Hostile

<script>alert('x')</script>
[click](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)
<a href="https://example.org" onclick="alert(1)">on</a> <img src=x onerror="alert(1)">
![pixel](data:image/png;base64,iVBORw0KGgo=)
<iframe src="https://example.org"></iframe>
"""


def _create(client, code="CSI-SOP-900"):  # type: ignore[no-untyped-def]
    response = client.post("/documents/new", data={"code": code, "title": "Test procedure",
                                                   "discipline": "scene examination", "owner_id": "",
                                                   "review_months": "12", "applies_to": ["csi_officer"]})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response.headers["Location"]


def _draft_id(db_session, code="CSI-SOP-900") -> int:
    db_session.expire_all()
    sop = db_session.scalar(sa.select(Sop).where(Sop.code == code))
    return sop.revisions[-1].id


def test_quality_manager_drafts_examiner_signs_csi_acknowledges(staff, login_as, db_session):
    qm = login_as(staff.qm)
    _create(qm)
    rev_id = _draft_id(db_session)
    saved = qm.post(f"/documents/revisions/{rev_id}/edit", data={
        "content_markdown": CONTENT, "change_summary": "First issue.", "requirement_ids": "17020:8.3.1, g19:M2.1"})
    assert saved.status_code == 302
    assert qm.post(f"/documents/revisions/{rev_id}/submit").status_code == 302
    # A submitted revision is a state conflict (409), as in the API (the form used to answer 400).
    assert qm.post(f"/documents/revisions/{rev_id}/edit", data={"content_markdown": "x"}).status_code == 409

    own = qm.post(f"/documents/revisions/{rev_id}/approve", data={"password": PASSWORD, "meaning": "Approved"})
    assert own.status_code == 403 and "cannot approve a revision you wrote" in own.get_data(as_text=True)
    examiner = login_as(staff.examiner)
    wrong = examiner.post(f"/documents/revisions/{rev_id}/approve", data={"password": "nope", "meaning": "Approved"})
    assert wrong.status_code == 403 and "password is not correct" in wrong.get_data(as_text=True)
    signed = examiner.post(f"/documents/revisions/{rev_id}/approve", data={"password": PASSWORD, "meaning": "Approved"})
    assert signed.status_code == 302
    db_session.expire_all()
    assert db_session.get(Revision, rev_id).state == RevisionState.EFFECTIVE

    csi = login_as(staff.csi)
    page = csi.get(f"/documents/{db_session.get(Revision, rev_id).sop_id}").get_data(as_text=True)
    assert "I have read and understood revision 1" in page
    assert csi.post(f"/documents/revisions/{rev_id}/acknowledge").status_code == 302
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Acknowledgement)) == 1
    assert "Everyone is up to date" in qm.get("/documents/acknowledgements").get_data(as_text=True)

    # Acceptance 3: every step is on the audit trail, with who did it.
    db_session.expire_all()
    rows = db_session.scalars(sa.select(AuditEvent).where(AuditEvent.entity.in_(
        ["Sop", "Revision", "RevisionEvent", "Acknowledgement"])).order_by(AuditEvent.id)).all()
    steps = [(e.username, e.entity, e.action, (e.after or {}).get("kind") or (e.after or {}).get("status"))
             for e in rows]
    assert ("qm", "Sop", "insert", "draft") in steps
    assert ("qm", "Revision", "insert", None) in steps
    assert any(s[:3] == ("qm", "Revision", "update") for s in steps)  # the draft edit
    assert ("qm", "RevisionEvent", "insert", "submitted") in steps
    assert ("examiner", "RevisionEvent", "insert", "approved") in steps
    # In force from its effective date: derived, so neither an "effective" event nor an SOP update is written.
    assert not any(s[2] == "update" and s[1] == "Sop" for s in steps)
    assert ("csi", "Acknowledgement", "insert", None) in steps
    approved = next(e for e in rows if (e.after or {}).get("kind") == "approved")
    assert approved.reason.startswith("electronic signature") and approved.after["signature_meaning"] == "Approved"


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_controlled_copy_pdf_has_header_footer_watermark_and_cyrillic(staff, draft, login_as, tmp_path: Path,
                                                                     db_session):
    from qms.db import today
    from qms.documents import services
    from tests.qms.documents.conftest import make_effective

    services.edit_draft(draft, staff.qm, content_markdown=CONTENT + "\nПостапка за обезбедување на оружје.\n")
    client = login_as(staff.csi)
    text = _pdftotext(client.get(f"/documents/revisions/{draft.id}/controlled-copy.pdf"), tmp_path)
    assert "CSI-SOP-900" in text and "Revision 1" in text and "Status: DRAFT" in text
    assert "Controlled copy, printed" in text and "by Test User (csi)" in text
    assert _watermark(text) == "DRAFT"
    assert "Постапка за обезбедување на оружје" in text

    make_effective(staff, draft)
    second = services.new_draft(draft.sop, staff.qm)
    services.edit_draft(second, staff.qm, content_markdown="v2", change_summary="v2")
    make_effective(staff, second)
    db_session.commit()
    text = _pdftotext(client.get(f"/documents/revisions/{second.id}/controlled-copy.pdf"), tmp_path)
    effective_on = babel_dates.format_date(today(), "medium", locale="en")  # the reader's format
    assert "Revision 2 · Status: EFFECTIVE · Effective: " + effective_on in text
    assert _watermark(text) is None
    text = _pdftotext(client.get(f"/documents/revisions/{draft.id}/controlled-copy.pdf"), tmp_path)
    assert "Status: SUPERSEDED" in text and _watermark(text) == "SUPERSEDED"


def _watermark(text: str) -> str | None:
    """The rotated watermark comes out of pdftotext one letter per line, in either order."""
    letters = "".join(line.strip() for line in text.splitlines() if len(line.strip()) == 1)
    for word in ("DRAFT", "SUPERSEDED", "RETIRED"):
        if word in letters or word[::-1] in letters:
            return word
    return None


def _pdftotext(response, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    path = tmp_path / "copy.pdf"
    path.write_bytes(response.data)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_hostile_markdown_renders_inert_in_pages_and_pdf(staff, draft, login_as, tmp_path: Path):
    client = login_as(staff.qm)
    assert client.post(f"/documents/revisions/{draft.id}/edit", data={"content_markdown": HOSTILE}).status_code == 302
    html = client.get(f"/documents/revisions/{draft.id}").get_data(as_text=True)
    body = html.split('class="sop-body">', 1)[1].split("</article>", 1)[0]
    tags = _tags(body)
    assert not {name for name, _ in tags} & {"script", "img", "iframe", "object", "embed", "style"}
    for name, attrs in tags:
        assert not any(key.startswith("on") for key, _ in attrs), (name, attrs)
        for key, value in attrs:
            assert not (value or "").strip().lower().startswith(("javascript:", "data:", "vbscript:")), (name, key)
    assert "&lt;script&gt;" in body  # shown as text, never run
    assert client.get(f"/documents/revisions/{draft.id}/controlled-copy.pdf").status_code == 200


def _tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    from html.parser import HTMLParser

    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
            found.append((tag, attrs))

    Collect().feed(html)
    return found


def _objects(app) -> list[Path]:  # type: ignore[no-untyped-def]
    root = Path(app.config["OBJECT_STORE"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    return buffer.getvalue()


@pytest.mark.parametrize(("payload", "name", "message"), [
    (b"MZ\x90\x00 an executable", "procedure.pdf", "neither a PDF nor a Word"),
    (b"PK\x03\x04 not really a zip", "procedure.docx", "neither a PDF nor a Word"),
    (b"<html><script>alert(1)</script></html>", "procedure.html", "neither a PDF nor a Word"),
    (b"%PDF-1.7\n" + b"0" * 2048, "big.pdf", "the limit is"),
])
def test_wrong_type_or_oversized_upload_is_refused_and_nothing_is_stored(
        app, staff, draft, login_as, db_session, payload, name, message):
    app.config["DOCUMENT_MAX_BYTES"] = 1024 * 1024 if name != "big.pdf" else 1024
    client = login_as(staff.qm)
    before = db_session.scalar(sa.select(sa.func.count()).select_from(Revision))
    response = client.post(f"/documents/revisions/{draft.id}/edit", content_type="multipart/form-data",
                           data={"upload": (io.BytesIO(payload), name), "change_summary": "upload"})
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Revision)) == before
    assert db_session.get(Revision, draft.id).file_sha256 is None
    assert _objects(app) == []


def test_pdf_and_docx_uploads_are_kept_and_downloadable(app, staff, draft, login_as, db_session):
    client = login_as(staff.qm)
    for payload, name, media_type in ((b"%PDF-1.4\n%%EOF\n", "sop.pdf", "application/pdf"),
                                      (_docx(), "sop.docx", "application/vnd.openxmlformats-officedocument"
                                                            ".wordprocessingml.document")):
        response = client.post(f"/documents/revisions/{draft.id}/edit", content_type="multipart/form-data",
                               data={"upload": (io.BytesIO(payload), name), "change_summary": "as a file"})
        assert response.status_code == 302
        db_session.expire_all()
        rev = db_session.get(Revision, draft.id)
        assert (rev.media_type, rev.filename, rev.content_markdown) == (media_type, name, None)
        download = client.get(f"/documents/revisions/{draft.id}/file")
        assert download.status_code == 200 and download.data == payload
    # The upload path goes through review and approval like Markdown does.
    assert client.post(f"/documents/revisions/{draft.id}/submit").status_code == 302
    signed = login_as(staff.examiner).post(f"/documents/revisions/{draft.id}/approve",
                                           data={"password": PASSWORD, "meaning": "Approved"})
    assert signed.status_code == 302
    db_session.expire_all()
    assert db_session.get(Revision, draft.id).state == RevisionState.EFFECTIVE


def test_register_search_filters_export_diff_and_dashboard(staff, draft, login_as, db_session):
    from tests.qms.documents.conftest import make_effective

    from qms.documents import services

    make_effective(staff, draft)
    second = services.new_draft(draft.sop, staff.qm)
    services.edit_draft(second, staff.qm, content_markdown=CONTENT.replace("To test.", "To test well."))
    db_session.commit()
    client = login_as(staff.qm)
    assert "CSI-SOP-900" in client.get("/documents?q=test&status=effective").get_data(as_text=True)
    assert "CSI-SOP-900" not in client.get("/documents?discipline=equipment").get_data(as_text=True)
    assert client.get("/documents?status=bogus").status_code == 400
    csv_text = client.get("/documents/export.csv").get_data(as_text=True)
    assert csv_text.splitlines()[1].startswith("CSI-SOP-900,Test procedure,scene examination,effective,1")
    side = client.get(f"/documents/{draft.sop_id}/diff?from=1&to=2").get_data(as_text=True)
    assert "diff-replace" in side and "To test well." in side
    inline = client.get(f"/documents/{draft.sop_id}/diff?from=1&to=2&mode=inline").get_data(as_text=True)
    assert "diff-delete" in inline and "diff-insert" in inline
    dashboard = client.get("/").get_data(as_text=True)
    assert "SOP reviews" in dashboard and "SOPs to read" in dashboard
    assert "CSI-SOP-900" in login_as(staff.csi).get("/").get_data(as_text=True)


def test_roles_that_may_not_write_are_refused(staff, draft, login_as, make_user):
    from qms.auth.models import Role

    csi = login_as(staff.csi)
    assert csi.get("/documents/new").status_code == 403
    assert csi.post(f"/documents/revisions/{draft.id}/submit").status_code == 403
    admin = login_as(make_user(staff.unit, Role.ADMIN))
    assert admin.get("/documents").status_code == 403  # administrators hold no rights over quality records


def test_every_page_renders_for_every_reader(staff, draft, login_as, make_user, db_session):
    from qms.auth.models import Role
    from qms.documents import services
    from tests.qms.documents.conftest import make_effective

    make_effective(staff, draft)
    second = services.new_draft(draft.sop, staff.qm)
    services.edit_draft(second, staff.qm, content_markdown="v2", change_summary="v2")
    services.submit(second, staff.qm)
    db_session.commit()
    pages = ["/documents", "/documents/acknowledgements", f"/documents/{draft.sop_id}",
             f"/documents/{draft.sop_id}/diff", f"/documents/revisions/{draft.id}", f"/documents/revisions/{second.id}",
             "/"]
    for role in (Role.QUALITY_MANAGER, Role.AUDITOR, Role.EXAMINER, Role.CSI_OFFICER, Role.VIEWER):
        client = login_as(make_user(staff.unit, role))
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, (role, url)
        signing = client.get(f"/documents/revisions/{second.id}").get_data(as_text=True)
        assert ("Sign and approve" in signing) == (role in (Role.QUALITY_MANAGER, Role.EXAMINER)), role


def test_review_and_retire_through_the_pages(staff, draft, login_as, db_session):
    from tests.qms.documents.conftest import make_effective

    make_effective(staff, draft)
    db_session.commit()
    client = login_as(staff.qm)
    assert client.post(f"/documents/{draft.sop_id}/review", data={"comment": ""}).status_code == 400
    assert client.post(f"/documents/{draft.sop_id}/review", data={"comment": "No change needed."}).status_code == 302
    assert login_as(staff.examiner).post(f"/documents/{draft.sop_id}/retire", data={"comment": "x"}).status_code == 403
    assert client.post(f"/documents/{draft.sop_id}/retire", data={"comment": "Replaced by 901."}).status_code == 302
    db_session.expire_all()
    sop = db_session.get(Sop, draft.sop_id)
    assert sop.status == "retired" and sop.current_revision_id is None
    retired = db_session.scalars(sa.select(AuditEvent).where(AuditEvent.entity == "Sop", AuditEvent.action == "update")
                                 .order_by(AuditEvent.id.desc())).first()
    assert retired.reason == "Replaced by 901." and retired.after["retired_at"]
    kinds = [e.kind for e in db_session.get(Revision, draft.id).events]
    assert kinds == ["submitted", "approved", "reviewed", "retired"]
