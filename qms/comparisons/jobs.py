"""Correlation jobs in the background: a huey queue carries job ids, the database row is the truth.

The queue is SqliteHuey in the instance folder by default, RedisHuey when `QMS_REDIS_URL` is set;
`qms worker` consumes it. Huey removes a message before running it, so a worker killed mid-job
would lose the message: the job row therefore keeps its state, attempt number, worker and lease,
and every step is idempotent (processing reuses the stored surface, indexing skips an entry whose
uuid is present, candidates are written once, all in one transaction). A job has two stages: the
ranking (process, index, search, candidates committed, so the examiner sees them at once), then the
review images of the first candidates, each committed when made; the job is done after both. A
retry of a job whose ranking is saved only makes the images that are missing. A
starting worker, and a periodic task, put back jobs whose worker died or whose lease expired;
a duplicate message is harmless because claiming a job is a compare-and-set on its version.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context
from huey import Huey, RedisHuey, SqliteHuey, crontab
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ballistics.cmc import Comparison
from qms.comparisons import explain, unit_index
from qms.comparisons.calibration import calibration_of
from qms.comparisons.cluster import ClusterExecutor
from qms.comparisons.models import BallisticEntry, Candidate, CorrelationJob, JobState
from qms.comparisons.unit_index import Ranked
from qms.db import utcnow
from qms.extensions import db
from qms.trail.audited import audit_reason, set_actor

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=120)  # a job whose worker has not renewed this long is taken back
HEARTBEAT_SECONDS = 20.0
REVIEW_IMAGES_TOP = 3  # candidates whose review images the job makes (each costs one full comparison)
_PENDING = "qms_enqueue_jobs"


# --- the queue --------------------------------------------------------------------------------------

def queue(app: Flask | None = None) -> Huey:
    """The app's huey instance (created on first use) with the correlation task registered."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    existing = app.extensions.get("qms_huey")
    if existing is None:
        existing = app.extensions["qms_huey"] = _make_queue(app)
    return existing


def _make_queue(app: Flask) -> Huey:
    url, name = app.config.get("REDIS_URL"), app.config.get("JOB_QUEUE_NAME", "qms-jobs")
    if url:
        huey: Huey = RedisHuey(name, url=url)
    else:
        path = Path(app.config.get("JOB_QUEUE_PATH") or Path(app.config["INSTANCE_PATH"]) / "jobs.sqlite3")
        huey = SqliteHuey(name, filename=str(path))

    @huey.task(name="qms.correlate")
    def correlate(job_id: int) -> None:
        with _app_context(app):
            run_job(job_id)

    @huey.periodic_task(crontab(minute="*"), name="qms.recover")
    def recover_periodically() -> None:
        with _app_context(app):
            recover()

    huey.qms_correlate = correlate  # type: ignore[attr-defined]
    return huey


@contextmanager
def _app_context(app: Flask) -> Iterator[None]:
    """The app's context; reused when already active (jobs run in-process by tests and commands)."""
    active = has_app_context() and current_app._get_current_object() is app  # type: ignore[attr-defined]
    with nullcontext() if active else app.app_context():
        yield


def enqueue(job_id: int) -> None:
    queue().qms_correlate(job_id)  # type: ignore[attr-defined]


def enqueue_after_commit(session: Session, job_id: int) -> None:
    """Hand the job to the queue when (and only if) the transaction that created it commits."""
    session.info.setdefault(_PENDING, []).append(job_id)


@event.listens_for(Session, "after_commit")
def _send_committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending or not has_app_context():
        return
    for job_id in pending:
        try:
            enqueue(job_id)
        except Exception:  # the row stays queued; a starting worker or the periodic task sends it again
            log.exception("could not hand job %s to the queue; it stays queued", job_id)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


def run_queued(app: Flask | None = None, *, limit: int = 100) -> int:
    """Run the queued messages in this process, one after the other; how many ran (for tests and the bench)."""
    huey = queue(app)
    ran = 0
    while ran < limit:
        task = huey.dequeue()
        if task is None:
            break
        huey.execute(task)
        ran += 1
    return ran


# --- who runs a job -------------------------------------------------------------------------------------

def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive_here(worker: str) -> bool | None:
    """Whether a worker of this host is alive; None for another host's worker (trust its lease)."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _as_worker() -> Iterator[None]:
    """Trail rows written meanwhile name the worker; the session's previous actor is restored after."""
    previous = db.session.info.get("audit_actor")
    set_actor(db.session, user_id=None, username="qms-worker", unit_id=None)
    try:
        yield
    finally:
        if previous is None:
            db.session.info.pop("audit_actor", None)
        else:
            db.session.info["audit_actor"] = previous


def recover() -> list[int]:
    """Put back every job left queued, or running under a dead worker or an expired lease; their ids."""
    with _as_worker():
        back = _put_back()
    for job_id in back:
        enqueue(job_id)
    return back


def _put_back() -> list[int]:
    now = utcnow()
    stmt = select(CorrelationJob).where(CorrelationJob.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]))
    back = []
    for job in db.session.scalars(stmt):
        if job.state == JobState.RUNNING.value:
            alive = _alive_here(job.worker)
            if alive or (alive is None and job.lease_until is not None and job.lease_until > now):
                continue
            with audit_reason(db.session, f"worker {job.worker} stopped during attempt {job.attempts}; resumed"):
                job.state, job.stage, job.lease_until = JobState.QUEUED.value, "waiting for a worker (resumed)", None
        back.append(job.id)
    db.session.commit()
    return back


# --- one job ----------------------------------------------------------------------------------------

def claim(job_id: int) -> CorrelationJob | None:
    """Take the job for this worker, or None if it is done, failed or held by a live worker."""
    job = db.session.get(CorrelationJob, job_id)
    if job is None or job.state in (JobState.DONE.value, JobState.FAILED.value):
        return None
    if job.state == JobState.RUNNING.value and job.lease_until is not None and job.lease_until > utcnow() \
            and _alive_here(job.worker) is not False:
        return None
    job.state, job.worker, job.attempts = JobState.RUNNING.value, worker_name(), job.attempts + 1
    job.lease_until, job.started_at, job.error = utcnow() + LEASE, job.started_at or utcnow(), ""
    try:
        db.session.commit()  # the version check makes this a compare-and-set
    except StaleDataError:
        db.session.rollback()
        return None
    return job


def _stage(job: CorrelationJob, stage: str, progress: int) -> None:
    job.stage, job.progress, job.lease_until = stage, progress, utcnow() + LEASE
    db.session.commit()


@contextmanager
def heartbeat(job_id: int, worker: str) -> Iterator[None]:
    """Renew the lease while a long step runs (a plain UPDATE: the lease is bookkeeping, not a record)."""
    stop = threading.Event()
    engine, every = db.engine, float(current_app.config.get("JOB_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS))

    def beat() -> None:
        while not stop.wait(every):
            table = CorrelationJob.__table__
            with engine.begin() as connection:
                connection.execute(update(table).where(table.c.id == job_id, table.c.worker == worker)
                                   .values(lease_until=utcnow() + LEASE))

    thread = threading.Thread(target=beat, name=f"lease-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def run_job(job_id: int) -> CorrelationJob | None:
    """Process, index and search one job's entry, then make its review images, if this worker can claim it."""
    with _as_worker():
        return _run(job_id)


def _run(job_id: int) -> CorrelationJob | None:
    job = claim(job_id)
    if job is None:
        return None
    return _correlate(job)


def _correlate(job: CorrelationJob) -> CorrelationJob | None:
    """The ranking first (committed, so the examiner sees the candidates), then the review images."""
    job_id = job.id
    try:
        # A retry after the ranking was saved makes only the images (comparing the pairs again).
        comparisons = {} if ranking_saved(job) else rank(job)
        make_review_images(job, comparisons)
    except StaleDataError:
        db.session.rollback()  # another worker took the job back meanwhile: its attempt counts
        return None
    except Exception as error:  # a job fails with its reason instead of retrying forever
        db.session.rollback()
        log.exception("correlation job %s failed", job_id)
        job = db.session.get(CorrelationJob, job_id)
        if job is not None:
            job_failed(job, f"{type(error).__name__}: {error}")
            db.session.commit()
    return job


def ranking_saved(job: CorrelationJob) -> bool:
    return db.session.scalar(select(Candidate.id).where(Candidate.job_id == job.id).limit(1)) is not None


def rank(job: CorrelationJob) -> dict[str, Comparison]:
    """The first stage of a claimed job: process, index, search, and commit the ranked candidates.

    Returns the search's comparisons of the first candidates, by index entry id, from which the
    images stage draws their review images without comparing again.
    """
    started, timings = time.perf_counter(), {}
    _stage(job, "processing the scan", 10)
    surface = unit_index.processed_surface(job.entry)
    timings["process_s"] = time.perf_counter() - started
    _stage(job, "adding to the unit's index", 35)
    if unit_index.index_entry(job.entry, surface):
        job.entry.indexed_at = utcnow()
    timings["index_s"] = time.perf_counter() - started - timings["process_s"]
    _stage(job, "searching the index", 50)
    with heartbeat(job.id, job.worker):
        ranked = unit_index.search_entry(job.entry, surface=surface, executor=search_executor())
    timings["search_s"] = time.perf_counter() - started - timings["process_s"] - timings["index_s"]
    record_candidates(job, ranked)
    job.index_size = len(unit_index.open_unit_index(job.unit_id, job.entry.kind))
    job.timings = {**timings, "ranked_s": time.perf_counter() - started}
    # The ranking commits with the next stage: the examiner sees the candidates while images are made.
    _stage(job, "making review images", 85)  # (stage holds 32 characters)
    return {r.hit.entry_id: r.hit.comparison for r in ranked[:images_top()] if r.hit.comparison is not None}


def images_top() -> int:
    """How many of a job's first candidates get their review images from the job."""
    return int(current_app.config.get("REVIEW_IMAGES_TOP", REVIEW_IMAGES_TOP))


def make_review_images(job: CorrelationJob, comparisons: dict[str, Comparison] | None = None) -> None:
    """The second stage: the first candidates' review images, each committed when made; then the job is done.

    From the search's `comparisons` when this attempt ranked, else by comparing the pair again. An image
    that cannot be made leaves its candidate without one (an examiner asks for it on the review page).
    """
    started, comparisons = time.perf_counter(), comparisons or {}
    first = list(db.session.scalars(select(Candidate).where(Candidate.job_id == job.id)
                                    .order_by(Candidate.rank).limit(images_top())))
    for done, candidate in enumerate(first, start=1):
        with heartbeat(job.id, job.worker):
            _images_of(job, candidate, comparisons.get(candidate.index_entry_id))
        _stage(job, "making review images", 85 + 15 * done // (len(first) + 1))
    job.state, job.stage, job.progress, job.finished_at = JobState.DONE.value, "done", 100, utcnow()
    images_s = time.perf_counter() - started
    job.lease_until, job.timings = None, {**(job.timings or {}), "images_s": images_s,
                                          "total_s": (job.timings or {}).get("ranked_s", 0.0) + images_s}
    db.session.commit()


def _images_of(job: CorrelationJob, candidate: Candidate, comparison: Comparison | None) -> None:
    try:
        explain.ensure_views(candidate, job.entry, comparison)
    except Exception:  # a ranking is never lost for an image: the examiner can ask for it again
        log.exception("review images of candidate %s of job %s could not be made", candidate.id, job.id)


_EXECUTOR: Executor | ClusterExecutor | None = None
_EXECUTOR_LOCK = threading.Lock()


def search_executor() -> Executor | ClusterExecutor:
    """Where this worker process runs its searches, made once and reused.

    The Dask cluster at `DASK_SCHEDULER` when set (a scheduler that cannot be reached raises
    `ClusterUnavailable`: the job fails with that reason); otherwise a local pool of
    `SEARCH_PROCESSES` (0 = threads, default all cores).
    """
    global _EXECUTOR
    address = str(current_app.config.get("DASK_SCHEDULER") or "")
    with _EXECUTOR_LOCK:
        if _EXECUTOR is not None and not _still_fits(_EXECUTOR, address):
            _close(_EXECUTOR)
            _EXECUTOR = None
        if _EXECUTOR is None:
            _EXECUTOR = _cluster_executor(address) if address else _local_executor()
        return _EXECUTOR


def _still_fits(executor: Executor | ClusterExecutor, address: str) -> bool:
    """Whether the executor made earlier is the one the configuration asks for now (and still connected)."""
    if isinstance(executor, ClusterExecutor):
        return executor.address == address and executor.usable
    return not address


def _cluster_executor(address: str) -> ClusterExecutor:
    config = current_app.config
    return ClusterExecutor(address, connect_timeout=float(config["DASK_CONNECT_TIMEOUT"]),
                           stage_timeout=float(config["DASK_STAGE_TIMEOUT"]))


def _local_executor() -> Executor:
    processes = int(current_app.config.get("SEARCH_PROCESSES", os.cpu_count() or 1))
    if processes <= 0:
        return ThreadPoolExecutor(max(1, os.cpu_count() or 1))
    from ballistics.search import local_executor

    return local_executor(processes)


def _close(executor: Executor | ClusterExecutor) -> None:
    if isinstance(executor, ClusterExecutor):
        executor.close()
    else:
        executor.shutdown(wait=False, cancel_futures=True)


def shutdown_executor() -> None:
    """Stop the local pool, or close the connection to the Dask cluster (`qms worker` on its way out)."""
    global _EXECUTOR
    with _EXECUTOR_LOCK:
        if _EXECUTOR is not None:
            _close(_EXECUTOR)
            _EXECUTOR = None


def state_of(job: CorrelationJob) -> dict[str, Any]:
    """What the page polls: state, stage, progress and how many candidates are saved (labels translated).

    The candidates are saved before the job is done (its review images follow): the page reloads
    to show them as soon as their count is no longer zero.
    """
    count = db.session.scalar(select(func.count(Candidate.id)).where(Candidate.job_id == job.id)) or 0
    return {"id": job.id, "state": job.state, "stage": job.stage, "progress": job.progress,
            "attempts": job.attempts, "error": job.error, "done": job.state == JobState.DONE.value,
            "candidates": count, "state_label": job.state_label, "stage_label": job.stage_label}


# --- results of a job ----------------------------------------------------------------------------------

def record_candidates(job: CorrelationJob, ranked: list[Ranked]) -> list[Candidate]:
    """Write a job's candidates (all at once, with its attempt number)."""
    ids = [r.hit.entry_id for r in ranked]
    entries = {e.index_entry_id: e.id for e in db.session.scalars(
        select(BallisticEntry).where(BallisticEntry.index_entry_id.in_(ids)))} if ids else {}
    name, size = calibration_of(job.unit_id, job.entry.kind)
    rows = [Candidate(unit_id=job.unit_id, job_id=job.id, attempt=job.attempts, rank=r.rank,
                      index_entry_id=r.hit.entry_id, entry_id=entries.get(r.hit.entry_id),
                      first_pass_score=float(r.hit.first_pass_score), first_pass_rank=r.hit.first_pass_rank,
                      score=r.hit.score, high_cmc=r.hit.high_cmc, possible_cells=r.hit.possible_cells,
                      cmc_original=list(r.hit.cmc_original) if r.hit.cmc_original else None,
                      correlation=r.hit.correlation, angle_deg=r.hit.angle_deg, log10_lr=r.hit.log10_lr,
                      calibration_name=name if r.hit.log10_lr is not None else "",
                      calibration_size=size if r.hit.log10_lr is not None else None) for r in ranked]
    db.session.add_all(rows)
    db.session.flush()
    return rows


def job_failed(job: CorrelationJob, message: str) -> None:
    job.state, job.error, job.finished_at, job.lease_until = JobState.FAILED.value, message[:2000], utcnow(), None
