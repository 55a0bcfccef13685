"""The ranking is committed before the review images: the examiner sees the candidates while they are made."""
from __future__ import annotations

import socket
import subprocess
import sys

from qms.comparisons import explain, jobs, services
from qms.comparisons.models import CorrelationJob, JobState
from qms.extensions import db


def _upload(bench, scans, casing: int, name: str):  # type: ignore[no-untyped-def]
    entry = services.add_entry(bench.casings[casing], actor=bench.examiner, data=scans[name], filename=f"{name}.x3p",
                               device_id=bench.device.id)
    db.session.commit()
    return entry


def _ranked_only(bench, scans):  # type: ignore[no-untyped-def]
    """Two entries searched to the end, then a third whose job has run its ranking stage only."""
    _upload(bench, scans, 0, "F0000-S00")
    _upload(bench, scans, 1, "F0001-S00")
    assert jobs.run_queued() == 2
    query = _upload(bench, scans, 2, "F0000-S01")
    jobs.queue().dequeue()  # this test runs the job's stages itself
    job = jobs.claim(services.latest_job(query).id)
    jobs.rank(job)
    db.session.expire_all()
    return query, job


def test_the_ranked_candidates_are_shown_before_their_review_images_exist(app, bench, scans, login_as) -> None:
    app.config["REVIEW_IMAGES_TOP"] = 1
    query, job = _ranked_only(bench, scans)
    candidates = services.candidates_of(job)
    assert [c.entry.item_id for c in candidates] == [bench.casings[0].id, bench.casings[1].id]
    assert all(explain.views_of(c) == {} for c in candidates)
    assert (job.state, job.stage) == (JobState.RUNNING.value, "making review images")
    examiner = login_as(bench.examiner)
    state = examiner.get(f"/comparisons/jobs/{job.id}").get_json()
    assert state["candidates"] == 2 and not state["done"] and state["stage_label"] == "making review images"

    page = examiner.get(f"/comparisons/entries/{query.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="candidates"' in html and "2026/100 / 1" in html
    assert html.count('data-images-state="preparing"') == 1 and 'data-images-state="on_request"' in html
    assert "review images are being prepared" in html and 'id="job-ranked"' in html
    review = examiner.get(f"/comparisons/candidates/{candidates[0].id}")
    assert review.status_code == 200 and 'id="images-preparing"' in review.get_data(as_text=True)
    assert examiner.get(f"/comparisons/candidates/{candidates[0].id}/overlay.png").status_code == 404

    jobs.make_review_images(job)
    db.session.expire_all()
    assert job.state == JobState.DONE.value and job.progress == 100
    assert explain.complete(explain.views_of(candidates[0])) and explain.views_of(candidates[1]) == {}
    html = examiner.get(f"/comparisons/entries/{query.id}").get_data(as_text=True)
    assert 'data-images-state="ready"' in html and 'data-images-state="preparing"' not in html
    review = examiner.get(f"/comparisons/candidates/{candidates[0].id}").get_data(as_text=True)
    assert 'id="zoom-views"' in review and "images-preparing" not in review
    assert examiner.get(f"/comparisons/candidates/{candidates[0].id}/overlay.png").data.startswith(b"\x89PNG")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_worker_dead_after_the_ranking_leaves_the_images_to_the_retry(app, bench, scans) -> None:
    """The retried job keeps the saved ranking (same candidates, no new search) and makes the images."""
    app.config["REVIEW_IMAGES_TOP"] = 2
    _query, job = _ranked_only(bench, scans)
    ranked = [(c.id, c.rank, c.score) for c in services.candidates_of(job)]
    db.session.execute(db.update(CorrelationJob).where(CorrelationJob.id == job.id)
                       .values(worker=f"{socket.gethostname()}:{_dead_pid()}"))
    db.session.commit()
    assert jobs.recover() == [job.id]
    assert jobs.run_queued() == 1
    db.session.expire_all()
    assert job.state == JobState.DONE.value and job.attempts == 2
    candidates = services.candidates_of(job)
    assert [(c.id, c.rank, c.score) for c in candidates] == ranked
    assert all(explain.complete(explain.views_of(c)) for c in candidates)
    assert "ranked_s" in job.timings and "images_s" in job.timings
