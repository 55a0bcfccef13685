"""The comparison API: upload, job and candidates, blind decisions, links; refusals answer 4xx."""
from __future__ import annotations

import io

from qms.auth import services as accounts
from qms.auth.models import LoginAttempt, Role
from qms.comparisons import jobs
from qms.extensions import db
from tests.conftest import PASSWORD


def _token(user, unit) -> dict[str, str]:  # type: ignore[no-untyped-def]
    _, secret = accounts.issue_token(user, unit_id=unit.id, role=Role.EXAMINER, name="api")
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def _post_scan(client, headers, item_id: int, data: bytes, name: str):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/comparisons/entries", headers=headers, content_type="multipart/form-data",
                       data={"item_id": str(item_id), "device_id": str(_scanner_id()),
                             "scan": (io.BytesIO(data), name)})


def _scanner_id() -> int:
    """The bench's one calibrated scanner."""
    from qms.equipment.models import Equipment

    return db.session.scalar(db.select(Equipment.id).where(Equipment.identifier == "SCAN-01"))


def test_the_api_runs_the_whole_workflow_blind(app, bench, scans) -> None:
    client = app.test_client()
    first, second = _token(bench.examiner, bench.unit), _token(bench.verifier, bench.unit)
    for casing, name in ((0, "F0000-S00"), (1, "F0001-S00")):
        assert _post_scan(client, first, bench.casings[casing].id, scans[name], name).status_code == 201
    created = _post_scan(client, first, bench.casings[2].id, scans["F0000-S01"], "q.x3p")
    assert created.status_code == 201
    entry = created.get_json()
    job = client.get(f"/api/v1/comparisons/entries/{entry['id']}/jobs", headers=first).get_json()[0]
    assert job["state"] == "queued"
    jobs.run_queued()
    assert client.get(f"/api/v1/comparisons/jobs/{job['id']}", headers=first).get_json()["state"] == "done"
    ranked = client.get(f"/api/v1/comparisons/jobs/{job['id']}/candidates", headers=first).get_json()
    mate = ranked[0]
    assert mate["rank"] == 1 and mate["log10_lr"] is None

    url = f"/api/v1/comparisons/candidates/{mate['id']}/decisions"
    decided = client.post(url, headers=first, json={"conclusion": "identification_lead", "note": "API-NOTE",
                                                     "password": PASSWORD})
    assert decided.status_code == 201 and decided.get_json()["first"]["note"] == "API-NOTE"
    blind = client.get(url, headers=second).get_json()
    assert blind["blind"] is True and blind["first"] is None and blind["my_role"] == "verification"
    verified = client.post(url, headers=second, json={"conclusion": "identification_lead", "password": PASSWORD})
    assert verified.status_code == 201 and verified.get_json()["link_id"] is not None
    assert verified.get_json()["first"]["note"] == "API-NOTE"
    assert len(client.get("/api/v1/comparisons/links", headers=first).get_json()) == 1


def test_the_api_refuses_bad_scans_and_bad_decisions(app, bench, scans) -> None:
    client, headers = app.test_client(), _token(bench.examiner, bench.unit)
    refused = _post_scan(client, headers, bench.casings[0].id, b"not a scan at all", "x.x3p")
    assert refused.status_code == 400 and "cannot be read" in refused.get_json()["message"]
    assert client.post("/api/v1/comparisons/entries", headers=headers, data={"item_id": "999"}).status_code == 404
    _post_scan(client, headers, bench.casings[0].id, scans["F0000-S00"], "a.x3p")
    _post_scan(client, headers, bench.casings[1].id, scans["F0000-S01"], "b.x3p")
    jobs.run_queued()
    job = client.get("/api/v1/comparisons/entries/2/jobs", headers=headers).get_json()[0]
    candidate = client.get(f"/api/v1/comparisons/jobs/{job['id']}/candidates", headers=headers).get_json()[0]
    url = f"/api/v1/comparisons/candidates/{candidate['id']}/decisions"
    assert client.post(url, headers=headers, json={"conclusion": "maybe", "password": PASSWORD}).status_code == 422
    wrong = client.post(url, headers=headers, json={"conclusion": "excluded", "password": "wrong password!"})
    assert wrong.status_code == 403 and client.get(url, headers=headers).get_json()["first"] is None
    assert "nothing was signed or recorded" in wrong.get_json()["message"]
    db.session.expire_all()
    failed = db.session.query(LoginAttempt).filter_by(username=bench.examiner.username, succeeded=False)
    assert failed.count() == 1  # the refused request's attempt is committed, for the throttle
    app.config["THROTTLE_BASE_DELAY_SECONDS"] = 60  # the delay must not run out on a slow machine
    for _attempt in range(app.config["THROTTLE_FREE_FAILURES"] - 1):
        client.post(url, headers=headers, json={"conclusion": "excluded", "password": "wrong password!"})
    throttled = client.post(url, headers=headers, json={"conclusion": "excluded", "password": PASSWORD})
    assert throttled.status_code == 429 and client.get(url, headers=headers).get_json()["first"] is None
