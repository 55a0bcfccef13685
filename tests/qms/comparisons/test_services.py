"""Entries, correlation jobs and their candidates, through the services and the job runner."""
from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta

import pytest

from ballistics.index import open_index
from qms.comparisons import jobs, services, unit_index
from qms.comparisons.models import CorrelationJob, DerivedObject, JobState
from qms.comparisons.services import EntryError
from qms.db import utcnow
from qms.extensions import db


def _upload(bench, scans, casing: int, name: str):  # type: ignore[no-untyped-def]
    entry = services.add_entry(bench.casings[casing], actor=bench.examiner, data=scans[name], filename=f"{name}.x3p",
                               device_id=bench.device.id, settings={"objective": "20x"})
    db.session.commit()
    return entry


def test_an_upload_is_kept_unchanged_and_its_job_finds_the_mate_first(bench, scans) -> None:
    first = _upload(bench, scans, 0, "F0000-S00")
    _upload(bench, scans, 1, "F0001-S00")
    query = _upload(bench, scans, 2, "F0000-S01")
    assert jobs.run_queued() == 3
    db.session.expire_all()
    assert unit_index.original_bytes(query) == scans["F0000-S01"]
    job = services.latest_job(query)
    assert job.state == JobState.DONE.value and job.progress == 100 and job.attempts == 1
    ranked = services.candidates_of(job)
    assert [c.entry_id for c in ranked][:1] == [first.id]
    assert query.id not in [c.entry_id for c in ranked]
    processed = db.session.query(DerivedObject).filter_by(entry_id=query.id, kind="processed").one()
    assert processed.source_sha256 == query.original_sha256


def test_the_jobs_review_images_show_the_alignment_its_ranking_used(app, bench, scans) -> None:
    """The job draws its first candidates' images from the search's own comparisons; asked for later,
    the images come from a new comparison of the same two surfaces, which finds the same alignment."""
    from qms.comparisons import explain

    app.config["REVIEW_IMAGES_TOP"] = 1
    _upload(bench, scans, 0, "F0000-S00")
    _upload(bench, scans, 1, "F0001-S00")
    query = _upload(bench, scans, 2, "F0000-S01")
    assert jobs.run_queued() == 3
    db.session.expire_all()
    first, second = services.candidates_of(services.latest_job(query))[:2]
    made_by_job = explain.views_of(first)
    assert explain.complete(made_by_job) and explain.views_of(second) == {}
    overlay = made_by_job["overlay"].parameters
    assert overlay["score"] == pytest.approx(first.score) and overlay["angle_deg"] == pytest.approx(first.angle_deg)
    asked_for = explain.ensure_views(second, query)["overlay"].parameters
    assert asked_for["score"] == pytest.approx(second.score, abs=1e-6)
    assert asked_for["angle_deg"] == pytest.approx(second.angle_deg, abs=1e-3)  # float32 storage of the query


def test_running_a_job_twice_adds_nothing(bench, scans) -> None:
    entry = _upload(bench, scans, 0, "F0000-S00")
    job = services.latest_job(entry)
    jobs.run_queued()
    assert jobs.run_job(job.id) is None  # done: a duplicate message is ignored
    jobs.enqueue(job.id)
    jobs.run_queued()
    index = open_index(unit_index.unit_index_path(bench.unit.id))
    assert [e.id for e in index.entries()] == [entry.index_entry_id]
    assert db.session.query(CorrelationJob).count() == 1


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _as_left_by(job: CorrelationJob, worker: str) -> None:
    """The row as a worker leaves it when killed mid-search: claimed, leased, no candidates."""
    db.session.execute(db.update(CorrelationJob).where(CorrelationJob.id == job.id).values(
        state="running", worker=worker, attempts=1, progress=50, lease_until=utcnow() + timedelta(minutes=5)))
    db.session.commit()


def test_a_job_whose_worker_died_is_resumed_and_completes_once(bench, scans) -> None:
    _upload(bench, scans, 0, "F0000-S00")
    jobs.run_queued()
    entry = _upload(bench, scans, 1, "F0000-S01")
    jobs.queue().dequeue()  # the dead worker had taken the message
    job = services.latest_job(entry)
    _as_left_by(job, f"{socket.gethostname()}:{_dead_pid()}")
    assert jobs.recover() == [job.id]
    assert jobs.run_queued() == 1
    db.session.expire_all()
    assert job.state == "done" and job.attempts == 2
    assert len(services.candidates_of(job)) == 1
    index = open_index(unit_index.unit_index_path(bench.unit.id))
    ids = [e.id for e in index.entries()]
    assert sorted(ids) == sorted({e.index_entry_id for e in services.entries()}) and len(ids) == 2


def test_a_job_held_by_a_live_worker_elsewhere_waits_for_its_lease(bench, scans) -> None:
    entry = _upload(bench, scans, 0, "F0000-S00")
    jobs.queue().dequeue()
    job = services.latest_job(entry)
    _as_left_by(job, "another-host:123")
    assert jobs.recover() == []
    assert jobs.run_job(job.id) is None
    db.session.execute(db.update(CorrelationJob).where(CorrelationJob.id == job.id).values(
        lease_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert jobs.recover() == [job.id]


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty"),
    (b"GIF89a not a scan", "cannot be read as a scan"),
    (b"PK\x03\x04 truncated zip", "cannot be read as a scan"),
])
def test_bad_uploads_are_refused_with_the_reason_and_nothing_is_stored(bench, data, message) -> None:
    with pytest.raises(EntryError, match=message):
        services.add_entry(bench.casings[0], device_id=bench.device.id, actor=bench.examiner, data=data, filename="bad.x3p")
    db.session.rollback()
    assert services.entries() == []


def test_a_unit_searches_only_its_own_entries(bench, scans, make_unit, make_user) -> None:
    from datetime import date

    from qms.auth.models import Role
    from qms.evidence import custody
    from tests.qms.comparisons.conftest import calibrated_scanner

    other_unit = make_unit(code="OTHER")
    other = make_user(other_unit, Role.EXAMINER, username="other1")
    case = custody.register_case(unit_id=other_unit.id, actor=other, case_number="O/1", offence_type="Shooting",
                                 opened_on=date(2026, 11, 1))
    casing = custody.register_item(case, actor=other, exhibit_number="1", item_type="cartridge_case",
                                   description="casing")
    scanner = calibrated_scanner(other_unit, make_user(other_unit, Role.QUALITY_MANAGER))
    foreign = services.add_entry(casing, actor=other, device_id=scanner.id, data=scans["F0000-S00"],
                                 filename="mate-elsewhere.x3p")
    db.session.commit()
    query = _upload(bench, scans, 0, "F0000-S01")
    jobs.run_queued()
    db.session.expire_all()
    ranked = services.candidates_of(services.latest_job(query))
    assert ranked == []  # the mate exists, but in another unit's database
    assert foreign.index_entry_id not in {e.id for e in open_index(unit_index.unit_index_path(bench.unit.id)).entries()}


def test_linked_cases_follow_the_link_graph_and_name_the_firearms(bench, scans) -> None:
    from qms.comparisons.models import CaseLink, Decision
    from qms.evidence import custody

    pistol = custody.register_item(bench.cases[2], actor=bench.csi, exhibit_number="2", item_type="firearm",
                                   description="Pistol", make="Zastava", model="CZ 99")
    entries = [_upload(bench, scans, n, name) for n, name in enumerate(["F0000-S00", "F0000-S01", "F0001-S00"])]
    for low, high in ((entries[0], entries[1]), (entries[1], entries[2])):  # A-B and B-C: A reaches C
        decisions = [Decision(unit_id=bench.unit.id, entry_low_id=low.id, entry_high_id=high.id, role=role,
                              conclusion="identification_lead", examiner_id=examiner.id)
                     for role, examiner in (("first", bench.examiner), ("verification", bench.verifier))]
        db.session.add_all(decisions)
        db.session.flush()
        db.session.add(CaseLink(unit_id=bench.unit.id, entry_low_id=low.id, entry_high_id=high.id,
                                case_low_id=low.case.id, case_high_id=high.case.id,
                                first_decision_id=decisions[0].id, verification_id=decisions[1].id))
    db.session.commit()
    linked = services.linked_cases(bench.cases[0])
    assert [lc.case.id for lc in linked] == [bench.cases[1].id, bench.cases[2].id]
    assert linked[1].firearms == [pistol]
    assert [lc.case.id for lc in services.linked_cases(bench.cases[1])] == [bench.cases[0].id, bench.cases[2].id]


def test_the_heartbeat_renews_the_lease_while_a_long_step_runs(app, bench, scans) -> None:
    import time

    entry = _upload(bench, scans, 0, "F0000-S00")
    job = services.latest_job(entry)
    _as_left_by(job, jobs.worker_name())
    db.session.execute(db.update(CorrelationJob).where(CorrelationJob.id == job.id).values(
        lease_until=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    before = job.lease_until
    app.config["JOB_HEARTBEAT_SECONDS"] = 0.05
    with jobs.heartbeat(job.id, jobs.worker_name()):
        time.sleep(0.5)
    db.session.expire_all()
    assert job.lease_until > before
