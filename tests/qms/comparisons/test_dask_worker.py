"""Issue 17, acceptance 4: the web worker's searches on a Dask cluster (`DASK_SCHEDULER`).

The same job runs once on the local pool and once on a LocalCluster on 127.0.0.1 (TCP on loopback,
so tasks and results really are serialised); both rankings must be identical, score for score. A
scheduler that cannot be reached, or a cluster without workers, fails the job with its reason
within the configured time limits instead of holding it forever.
"""
from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from qms.comparisons import explain, jobs, services
from qms.comparisons.cluster import ClusterExecutor
from qms.comparisons.models import Candidate, JobState
from qms.extensions import db

distributed = pytest.importorskip("distributed")

INDEXED = ["F0000-S00", "F0001-S00", "F0002-S00", "F0001-S01", "F0002-S01"]


def _cluster(n_workers: int) -> distributed.LocalCluster:
    return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=False, protocol="tcp://",
                                    host="127.0.0.1", dashboard_address=":0")  # any free port: runs may overlap


@pytest.fixture()
def cluster() -> Iterator[distributed.LocalCluster]:
    with _cluster(2) as running:
        yield running
        jobs.shutdown_executor()  # the worker's client goes before its scheduler


@pytest.fixture(autouse=True)
def _no_executor_left_behind() -> Iterator[None]:
    yield
    jobs.shutdown_executor()


def _upload(bench, scans, casing: int, name: str):  # type: ignore[no-untyped-def]
    entry = services.add_entry(bench.casings[casing], actor=bench.examiner, data=scans[name], filename=f"{name}.x3p",
                               device_id=bench.device.id, settings={"objective": "20x"})
    db.session.commit()
    return entry


def _ranking(candidates: list[Candidate]) -> list[tuple[object, ...]]:
    return [(c.rank, c.index_entry_id, c.entry_id, c.first_pass_score, c.first_pass_rank, c.score, c.high_cmc,
             c.possible_cells, c.cmc_original, c.correlation, c.angle_deg, c.log10_lr) for c in candidates]


def _search_again(query):  # type: ignore[no-untyped-def]
    services.enqueue_correlation(query)
    db.session.commit()
    assert jobs.run_queued() == 1
    db.session.expire_all()
    return services.latest_job(query)


def test_a_job_on_the_cluster_ranks_exactly_as_on_the_local_pool(app, bench, scans, cluster) -> None:
    for n, name in enumerate(INDEXED):
        _upload(bench, scans, n % 3, name)
    query = _upload(bench, scans, 2, "F0000-S01")
    assert jobs.run_queued() == len(INDEXED) + 1
    db.session.expire_all()
    local = services.latest_job(query)
    assert not isinstance(jobs.search_executor(), ClusterExecutor)

    app.config["DASK_SCHEDULER"] = cluster.scheduler_address
    on_dask = _search_again(query)

    assert isinstance(jobs.search_executor(), ClusterExecutor)
    # Both stages ran on the cluster: its scheduler saw the first pass and the CMC re-ranking.
    assert {"score_shards", "compare_entry"} <= set(cluster.scheduler.task_prefixes)
    assert local.state == on_dask.state == JobState.DONE.value and on_dask.id != local.id
    local_ranking, dask_ranking = _ranking(services.candidates_of(local)), _ranking(services.candidates_of(on_dask))
    assert len(dask_ranking) == len(INDEXED) and all(row[5] is not None for row in dask_ranking)  # all CMC-scored
    assert dask_ranking == local_ranking
    assert services.candidates_of(on_dask)[0].index_entry_id == services.candidates_of(local)[0].index_entry_id
    # The review images come from the comparisons the cluster sent back.
    assert explain.complete(explain.views_of(services.candidates_of(on_dask)[0]))


def test_the_worker_keeps_one_client_for_its_jobs(app, bench, scans, cluster) -> None:
    app.config["DASK_SCHEDULER"] = cluster.scheduler_address
    _upload(bench, scans, 0, "F0000-S00")
    query = _upload(bench, scans, 1, "F0000-S01")
    assert jobs.run_queued() == 2
    client = jobs.search_executor()
    again = _search_again(query)
    assert again.state == JobState.DONE.value and jobs.search_executor() is client
    assert len(cluster.scheduler.clients) == 2  # this worker's client and the scheduler's own


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_scheduler_fails_the_job_with_its_reason(app, bench, scans) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    app.config.update(DASK_SCHEDULER=address, DASK_CONNECT_TIMEOUT=1)
    _upload(bench, scans, 0, "F0000-S00")
    started = time.monotonic()
    assert jobs.run_queued() == 1
    assert time.monotonic() - started < 30
    db.session.expire_all()
    job = services.latest_job(services.entries()[0])
    assert job.state == JobState.FAILED.value and job.lease_until is None
    assert job.error.startswith(f"ClusterUnavailable: cannot reach the Dask scheduler at {address} within 1 s")
    assert services.candidates_of(job) == []


def test_a_cluster_without_workers_fails_the_job_once_its_stage_time_is_up(app, bench, scans) -> None:
    with _cluster(0) as empty:
        app.config.update(DASK_SCHEDULER=empty.scheduler_address, DASK_STAGE_TIMEOUT=1)
        _upload(bench, scans, 0, "F0000-S00")
        started = time.monotonic()
        assert jobs.run_queued() == 1
        jobs.shutdown_executor()
    assert time.monotonic() - started < 30
    db.session.expire_all()
    job = services.latest_job(services.entries()[0])
    assert job.state == JobState.FAILED.value
    assert job.error.startswith(f"ClusterUnavailable: the Dask cluster at {empty.scheduler_address} ")
    assert "within 1 s (are its scheduler and workers running?)" in job.error
