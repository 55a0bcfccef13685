"""Acceptance 2: a worker killed (SIGKILL) in the middle of a search leaves the job resumable.

A real `qms worker` process runs the job against a database of Fadul scans; the test kills its
whole process group while the job is searching, starts a new worker, and checks the job completes
with one set of candidates and the unit's index holds every entry exactly once.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ballistics.index import open_index
from qms.comparisons import jobs, services, unit_index
from qms.comparisons.models import Candidate, CorrelationJob
from qms.extensions import db
from tests.qms.comparisons.conftest import fadul

REDIS_URL = os.environ.get("QMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BULK = ["2-1", "3-1", "4-1", "5-1", "6-1", "7-1", "1-2"]


def _start_worker(app, log: Path) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    env = {**os.environ, "QMS_INSTANCE_PATH": app.config["INSTANCE_PATH"],
           "QMS_DATABASE_URL": app.config["DATABASE_URL"], "QMS_SECRET_KEY": "test-secret-key",
           "QMS_SEARCH_PROCESSES": "1"}
    if app.config.get("REDIS_URL"):
        env.update(QMS_REDIS_URL=app.config["REDIS_URL"], QMS_JOB_QUEUE_NAME=app.config["JOB_QUEUE_NAME"])
    return subprocess.Popen([sys.executable, "-c", "from qms.cli import main; main()", "worker"], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def _job_row(job_id: int) -> CorrelationJob:
    db.session.expire_all()
    job = db.session.get(CorrelationJob, job_id)
    db.session.commit()  # end the read transaction: the worker writes to the same database
    return job


def _wait_for(job_id: int, condition, timeout: float, worker: subprocess.Popen, log: Path):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = _job_row(job_id)
        if condition(job):
            return job
        assert worker.poll() is None, f"the worker exited: {log.read_text()[-2000:]}"
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not get there in {timeout} s: {job.state} {job.stage}; "
                         f"worker log: {log.read_text()[-2000:]}")


def _kill(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def _redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["sqlite", "redis"])
def queue_kind(request, app):  # type: ignore[no-untyped-def]
    if request.param == "redis":
        if not _redis_reachable():
            pytest.skip(f"no Redis at {REDIS_URL}")
        app.config.update(REDIS_URL=REDIS_URL, JOB_QUEUE_NAME=f"qms-test-{uuid.uuid4().hex[:8]}")
    app.extensions.pop("qms_huey", None)
    yield request.param
    if request.param == "redis":
        jobs.queue(app).storage.flush_all()
    app.extensions.pop("qms_huey", None)


def test_a_worker_killed_mid_search_leaves_the_job_resumable(app, bench, tmp_path, queue_kind) -> None:
    for name in BULK:  # the unit's database, indexed directly (no search needed for it)
        entry = services.add_entry(bench.casings[0], device_id=bench.device.id, actor=bench.examiner, data=fadul(name),
                                   filename=f"Fadul {name}.x3p")
        unit_index.index_entry(entry, unit_index.processed_surface(entry))
    db.session.query(CorrelationJob).delete()  # (their own jobs are not what this test is about)
    query = services.add_entry(bench.casings[1], device_id=bench.device.id, actor=bench.examiner, data=fadul("1-1"), filename="Fadul 1-1.x3p")
    db.session.commit()
    job_id = services.latest_job(query).id
    log = tmp_path / "worker.log"

    worker = _start_worker(app, log)
    try:
        _wait_for(job_id, lambda j: j.stage == "searching the index", 120, worker, log)
        time.sleep(0.2)  # inside the search (it re-ranks 7 Fadul scans on one process, over a second), not after it
        assert _job_row(job_id).state == "running"
        _kill(worker)
    finally:
        if worker.poll() is None:
            _kill(worker)
    killed = _job_row(job_id)
    assert killed.state == "running" and killed.attempts == 1
    assert db.session.query(Candidate).filter_by(job_id=job_id).count() == 0

    worker = _start_worker(app, log)
    try:
        done = _wait_for(job_id, lambda j: j.state in ("done", "failed"), 180, worker, log)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert done.state == "done", done.error
    assert done.attempts == 2
    candidates = db.session.query(Candidate).filter_by(job_id=job_id).order_by(Candidate.rank).all()
    assert len(candidates) == len(BULK) and {c.attempt for c in candidates} == {2}
    assert candidates[0].entry.original_name == "Fadul 1-2.x3p"  # the mate, first
    ids = [e.id for e in open_index(unit_index.unit_index_path(bench.unit.id)).entries()]
    assert len(ids) == len(set(ids)) == len(BULK) + 1
    assert set(ids) == {e.index_entry_id for e in services.entries()}


def _gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return True
    return "\nState:\tZ" in status.read_text()  # exited, not yet reaped by whoever adopted it


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
def test_a_worker_given_its_parent_pid_exits_when_its_parent_is_killed(app, tmp_path) -> None:
    env = {**os.environ, "QMS_INSTANCE_PATH": app.config["INSTANCE_PATH"],
           "QMS_DATABASE_URL": app.config["DATABASE_URL"], "QMS_SECRET_KEY": "test-secret-key"}
    parent_code = ("import os, subprocess, sys, time; w = subprocess.Popen([sys.executable, '-c', "
                   "'from qms.cli import main; main()', 'worker', '--parent-pid', str(os.getpid())]); "
                   "print(w.pid, flush=True); time.sleep(120)")
    parent = subprocess.Popen([sys.executable, "-c", parent_code], env=env, stdout=subprocess.PIPE,
                              start_new_session=True)
    worker_pid = int(parent.stdout.readline())
    try:
        time.sleep(1.0)  # (the worker may still be starting: it checks its parent once it is up)
        assert not _gone(worker_pid)
        parent.kill()  # like `kill -9` of `qms demo`: no cleanup runs in the parent
        parent.wait(timeout=10)
        deadline = time.monotonic() + 20
        while not _gone(worker_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _gone(worker_pid), "the orphaned worker kept running"
    finally:
        parent.stdout.close()
        if not _gone(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)
