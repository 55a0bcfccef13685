"""The examiner's pages: upload, job progress, ranked candidates, review, blind verification, links."""
from __future__ import annotations

import io

from qms.auth.models import LoginAttempt
from qms.comparisons import jobs, services
from qms.comparisons.models import CaseLink, Decision
from qms.extensions import db
from qms.trail.models import AuditEvent
from tests.conftest import PASSWORD

NOTE = "FIRST-EXAMINER-NOTE breech-face striae agree in the three-o-clock sector"


def _upload(client, bench, scans, casing: int, name: str):  # type: ignore[no-untyped-def]
    return client.post("/comparisons/entries/new", data={
        "item_id": str(bench.casings[casing].id), "device_id": str(bench.device.id), "settings": "20x objective",
        "scan": (io.BytesIO(scans[name]), f"{name}.x3p")}, content_type="multipart/form-data")


def _uploaded(client, bench, scans):  # type: ignore[no-untyped-def]
    for casing, name in ((0, "F0000-S00"), (1, "F0001-S00"), (2, "F0000-S01")):
        assert _upload(client, bench, scans, casing, name).status_code == 302
    jobs.run_queued()
    db.session.expire_all()
    query = services.entries()[0]
    return query, services.candidates_of(services.latest_job(query))


def test_upload_search_review_and_blind_verification_link_the_cases(bench, scans, login_as) -> None:
    examiner, verifier = login_as(bench.examiner), login_as(bench.verifier)
    query, candidates = _uploaded(examiner, bench, scans)
    page = examiner.get(f"/comparisons/entries/{query.id}").get_data(as_text=True)
    assert "Ranked candidates" in page and "2026/100 / 1" in page
    mate = candidates[0]
    assert mate.entry.case.id == bench.cases[0].id

    review = examiner.get(f"/comparisons/candidates/{mate.id}")
    assert review.status_code == 200 and 'type="range"' in review.get_data(as_text=True)
    assert "No calibration" in review.get_data(as_text=True)
    for kind in ("query_view", "aligned_view", "cellmap", "overlay"):
        image = examiner.get(f"/comparisons/candidates/{mate.id}/{kind}.png")
        assert image.status_code == 200 and image.data.startswith(b"\x89PNG")

    decided = examiner.post(f"/comparisons/candidates/{mate.id}/decision", data={
        "conclusion": "identification_lead", "note": NOTE, "password": PASSWORD})
    assert decided.status_code == 302
    blind = verifier.get(f"/comparisons/candidates/{mate.id}").get_data(as_text=True)
    assert NOTE not in blind and "Identification lead</strong> by" not in blind and "blind-notice" in blind
    api_blind = verifier.get(f"/api/v1/comparisons/candidates/{mate.id}/decisions").get_data(as_text=True)
    assert NOTE not in api_blind and "identification_lead" not in api_blind
    assert "Pair #" in verifier.get("/comparisons/verification").get_data(as_text=True)
    assert "waiting for your blind verification" in verifier.get("/").get_data(as_text=True)

    verified = verifier.post(f"/comparisons/candidates/{mate.id}/decision", data={
        "conclusion": "identification_lead", "note": "agree", "password": PASSWORD})
    assert verified.status_code == 302
    after = verifier.get(f"/comparisons/candidates/{mate.id}").get_data(as_text=True)
    assert NOTE in after and "link-confirmed" in after
    assert db.session.query(CaseLink).count() == 1
    trail = {(e.entity, e.username) for e in db.session.query(AuditEvent).filter_by(action="insert")}
    assert {("Decision", "exam1"), ("Decision", "exam2"), ("CaseLink", "exam2"), ("BallisticEntry", "exam1")} <= trail
    item_page = examiner.get(f"/evidence/items/{bench.casings[2].id}").get_data(as_text=True)
    assert f"Entry #{query.id}" in item_page
    for case, other in ((bench.cases[0], bench.cases[2]), (bench.cases[2], bench.cases[0])):
        case_page = examiner.get(f"/evidence/cases/{case.id}").get_data(as_text=True)
        assert f"Case {other.case_number}</a>" in case_page


def test_the_same_examiner_cannot_verify_their_own_decision(bench, scans, login_as) -> None:
    examiner = login_as(bench.examiner)
    _query, candidates = _uploaded(examiner, bench, scans)
    url = f"/comparisons/candidates/{candidates[0].id}/decision"
    assert examiner.post(url, data={"conclusion": "identification_lead", "password": PASSWORD}).status_code == 302
    again = examiner.post(url, data={"conclusion": "identification_lead", "password": PASSWORD})
    assert again.status_code == 400 and "already recorded your decision" in again.get_data(as_text=True)
    assert db.session.query(Decision).count() == 1 and db.session.query(CaseLink).count() == 0


def test_a_disagreeing_verification_links_nothing(bench, scans, login_as) -> None:
    examiner, verifier = login_as(bench.examiner), login_as(bench.verifier)
    _query, candidates = _uploaded(examiner, bench, scans)
    url = f"/comparisons/candidates/{candidates[0].id}/decision"
    examiner.post(url, data={"conclusion": "identification_lead", "password": PASSWORD})
    assert verifier.post(url, data={"conclusion": "inconclusive", "password": PASSWORD}).status_code == 302
    assert db.session.query(Decision).count() == 2 and db.session.query(CaseLink).count() == 0


def _failed_signatures(username: str) -> int:
    db.session.expire_all()
    return db.session.query(LoginAttempt).filter_by(username=username, succeeded=False).count()


def test_a_wrong_password_records_no_decision_but_its_attempt_counts_for_the_throttle(app, bench, scans,
                                                                                      login_as) -> None:
    examiner = login_as(bench.examiner)
    _query, candidates = _uploaded(examiner, bench, scans)
    url = f"/comparisons/candidates/{candidates[0].id}/decision"
    refused = examiner.post(url, data={"conclusion": "excluded", "note": "KEPT-IN-THE-FORM",
                                       "password": "wrong password here"})
    assert refused.status_code == 403
    page = refused.get_data(as_text=True)
    assert "nothing was signed or recorded" in page and 'id="decision-form"' in page and "KEPT-IN-THE-FORM" in page
    assert db.session.query(Decision).count() == 0
    assert _failed_signatures(bench.examiner.username) == 1  # committed although the request was refused
    app.config["THROTTLE_BASE_DELAY_SECONDS"] = 60  # the delay must not run out on a slow machine
    for _attempt in range(app.config["THROTTLE_FREE_FAILURES"] - 1):
        examiner.post(url, data={"conclusion": "excluded", "password": "wrong password here"})
    throttled = examiner.post(url, data={"conclusion": "excluded", "password": PASSWORD})
    assert throttled.status_code == 429 and "Too many failed attempts" in throttled.get_data(as_text=True)
    assert db.session.query(Decision).count() == 0
    assert _failed_signatures(bench.examiner.username) == app.config["THROTTLE_FREE_FAILURES"] + 1  # throttled too


def test_a_bad_file_is_refused_with_its_reason(bench, login_as) -> None:
    examiner = login_as(bench.examiner)
    response = examiner.post("/comparisons/entries/new", data={
        "item_id": str(bench.casings[0].id), "device_id": str(bench.device.id),
        "scan": (io.BytesIO(b"PK\x03\x04 not really a zip"), "broken.x3p")}, content_type="multipart/form-data")
    assert response.status_code == 400 and "cannot be read as a scan" in response.get_data(as_text=True)
    assert services.entries() == []


def test_a_job_page_reports_progress_as_json(bench, scans, login_as) -> None:
    examiner = login_as(bench.examiner)
    _upload(examiner, bench, scans, 0, "F0000-S00")
    job = services.latest_job(services.entries()[0])
    assert examiner.get(f"/comparisons/jobs/{job.id}").get_json()["state"] == "queued"
    jobs.run_queued()
    assert examiner.get(f"/comparisons/jobs/{job.id}").get_json()["state"] == "done"


def test_an_upload_above_the_limit_is_refused_before_it_is_read(app, bench, scans, login_as) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    examiner = login_as(bench.examiner)
    response = _upload(examiner, bench, scans, 0, "F0000-S00")
    page = response.get_data(as_text=True)
    assert response.status_code == 413 and "larger than the 0.00954 MB this server accepts" in page
    package = examiner.post("/comparisons/exchange/import", content_type="multipart/form-data",
                            data={"import-package": (io.BytesIO(b"\0" * 20_000), "big.zip")})
    assert package.status_code == 413 and "split an exchange export" in package.get_data(as_text=True)
    api = examiner.post("/api/v1/comparisons/entries", content_type="multipart/form-data",
                        data={"scan": (io.BytesIO(b"\0" * 20_000), "big.x3p")})
    assert api.status_code == 413 and "this server accepts" in api.get_json()["message"]
    assert services.entries() == []


def test_reading_a_review_writes_nothing_and_an_examiner_asks_for_missing_images(app, bench, scans,
                                                                                  login_as) -> None:
    from qms.comparisons.models import DerivedObject

    app.config["REVIEW_IMAGES_TOP"] = 1  # the job makes the first candidate's images only
    examiner, qm = login_as(bench.examiner), login_as(bench.qm)
    _query, candidates = _uploaded(examiner, bench, scans)
    first, second = candidates[0], candidates[1]
    assert examiner.get(f"/comparisons/candidates/{first.id}/overlay.png").data.startswith(b"\x89PNG")
    before = db.session.query(DerivedObject).count()
    page = qm.get(f"/comparisons/candidates/{second.id}").get_data(as_text=True)
    assert "not made yet" in page and "An examiner can make them" in page and "No decision on this pair yet" in page
    assert "Device settings: 20x objective" in qm.get(f"/comparisons/entries/{_query.id}").get_data(as_text=True)
    assert examiner.get(f"/comparisons/candidates/{second.id}/overlay.png").status_code == 404
    assert qm.post(f"/comparisons/candidates/{second.id}/images").status_code == 403
    assert db.session.query(DerivedObject).count() == before
    assert examiner.post(f"/comparisons/candidates/{second.id}/images").status_code == 302
    assert examiner.get(f"/comparisons/candidates/{second.id}/cellmap.png").data.startswith(b"\x89PNG")
    assert "images-missing" not in examiner.get(f"/comparisons/candidates/{second.id}").get_data(as_text=True)


def test_an_uploaded_name_is_kept_printable_and_served_as_a_safe_attachment(bench, scans, login_as) -> None:
    examiner = login_as(bench.examiner)
    response = examiner.post("/comparisons/entries/new", data={
        "item_id": str(bench.casings[0].id), "device_id": str(bench.device.id),
        "scan": (io.BytesIO(scans["F0000-S00"]), 'case 7\x00.x3p')}, content_type="multipart/form-data")
    assert response.status_code == 302
    entry = services.entries()[0]
    assert entry.original_name == "case 7.x3p"
    original = examiner.get(f"/comparisons/entries/{entry.id}/original")
    assert original.headers["Content-Disposition"] == "attachment; filename=case_7.x3p"
    assert original.headers["Content-Type"] == "application/x-iso5436-2" and original.data == scans["F0000-S00"]
