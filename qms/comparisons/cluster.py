"""The web worker's searches on a Dask cluster (`QMS_DASK_SCHEDULER`), bounded in time.

`ballistics.search` maps both stages (the first pass over the shards, the CMC re-ranking) over a
`distributed.Client` exactly as over a local pool, so a cluster ranks as the local pool does. A
background job needs one thing more than the `ballistics search --dask` command: it must never wait
forever. Connecting and every stage therefore have a time limit; past it the search raises
`ClusterUnavailable`, and the job fails with that reason (stored on the job, shown on its page,
"search again" once the cluster is back). There is deliberately no fallback to the local pool: an
operator who names a cluster does so because the worker's machine should not carry the searches
(or cannot read a large index quickly), and a silent fallback would hide the outage.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import CancelledError
from typing import Any

CONNECT_TIMEOUT_S = 10.0  # defaults; `qms worker` takes QMS_DASK_CONNECT_TIMEOUT and QMS_DASK_STAGE_TIMEOUT
STAGE_TIMEOUT_S = 900.0  # one stage of one search: the first pass, or the CMC re-ranking of the shortlist


class ClusterUnavailable(RuntimeError):
    """The Dask scheduler cannot be reached, or its cluster did not finish a stage in time."""


class ClusterExecutor:
    """A `distributed.Client` as `ballistics.search` uses it (scatter, map, gather), with time limits.

    One per worker process: the client keeps its connection to the scheduler between jobs.
    """

    def __init__(self, address: str, *, connect_timeout: float = CONNECT_TIMEOUT_S,
                 stage_timeout: float = STAGE_TIMEOUT_S) -> None:
        from distributed import Client

        self.address, self.stage_timeout = address, stage_timeout
        try:
            self.client = Client(address, timeout=f"{connect_timeout}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            raise ClusterUnavailable(f"cannot reach the Dask scheduler at {address} within {connect_timeout:g} s "
                                     f"(QMS_DASK_SCHEDULER): {error}") from error

    @property
    def usable(self) -> bool:
        """False once the client gave up on the scheduler (it reconnects by itself for a while first)."""
        return self.client.status == "running"

    def scatter(self, value: Any, **options: Any) -> Any:
        try:  # with no worker in the cluster, scatter would wait for one forever
            return self.client.scatter(value, timeout=self.stage_timeout, **options)
        except (OSError, TimeoutError, CancelledError) as error:
            raise self._unfinished("could not send the search to its workers", error) from error

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], **options: Any) -> Any:
        return self.client.map(fn, *iterables, **options)

    def gather(self, futures: list[Any]) -> list[Any]:
        from distributed import wait

        try:
            with self.client.as_current():  # `wait` asks for the current client; this one is not the default
                wait(futures, timeout=self.stage_timeout)
            return self.client.gather(futures)  # an error raised by a task itself comes through unchanged
        except (OSError, TimeoutError, CancelledError) as error:
            self.client.cancel(futures)
            raise self._unfinished("did not finish a search stage", error) from error

    def close(self) -> None:
        self.client.close(timeout=5)

    def _unfinished(self, what: str, error: BaseException) -> ClusterUnavailable:
        reason = str(error) or type(error).__name__
        return ClusterUnavailable(f"the Dask cluster at {self.address} {what} within {self.stage_timeout:g} s "
                                  f"(are its scheduler and workers running?): {reason}")
