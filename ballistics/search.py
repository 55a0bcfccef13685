"""Search an index: a rotation-invariant first pass over every entry, then CMC on a shortlist.

Stage 1 (first pass): each shard's memory-mapped descriptor matrix is scored against the query's
ring spectrum (`ballistics.descriptor.rotation_scores`) by `score_shard`, which returns the shard's
best ``k`` rows. Shards are scored in groups of consecutive shards, about four tasks per worker
(`score_shards`, which keeps the group's best ``k``): at 100,000 entries one task per shard spent
more time in round trips than in scoring. The caller merges the groups' rows (ties by shard and
row, so every executor gives the same order). Stage 2 (re-rank): `compare_entry` runs the full
Congruent Matching Cells comparison (`ballistics.cmc.compare`) of the query with each shortlisted
entry's stored surface. Both stages are mapped over an executor: a local process pool by default,
any `concurrent.futures.Executor`, or a `dask.distributed.Client` (the same two functions run
there, so a cluster returns exactly the local ranking).

References
----------
.. [1] B. S. Reddy, B. N. Chatterji, IEEE TIP 5(8):1266-1271, 1996. doi:10.1109/83.506761
.. [2] J. Song, AFTE Journal 45(2):184-194, 2013; M. Tong, J. Song, W. Chu, J. Res. NIST 120:102-112,
   2015. doi:10.6028/jres.120.008
.. [3] M. Rocklin, "Dask: parallel computation with blocked algorithms and task scheduling",
   Proceedings of the 14th Python in Science Conference, 2015. doi:10.25080/Majora-7b98e3ed-013
"""
from __future__ import annotations

import os
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, fields, replace
from functools import partial
from multiprocessing import get_context
from typing import Any, Callable, Collection, Literal, Mapping, Sequence

import numpy as np

from ballistics.cmc import Comparison, compare
from ballistics.descriptor import describe, rotation_scores
from ballistics.index import (
    Entry,
    Index,
    IndexCorruptError,
    ShardInfo,
    load_surface,
    open_index,
    read_descriptors,
    read_entries,
    stored_form,
)
from ballistics.scoring import Calibration, log10_lr
from ballistics.surface import Surface

__all__ = ["Candidate", "SearchResult", "Timings", "compare_entry", "score_shard", "score_shards", "search",
           "DEFAULT_SHORTLIST"]

DEFAULT_SHORTLIST = 10
"""Entries re-ranked by CMC. On the 40 Fadul scans (each randomly rotated, against the other 39) the
first pass put the first same-firearm scan within its top 10 for 38 to 40 of the 40 queries,
depending on the random rotations (three sets of rotations; at rank 1 for 34 to 36; the worst
first-pass rank seen was 20), and CMC then ranked it first whenever it was shortlisted: 39 of 40
queries ranked a same-firearm scan first in the acceptance test (mean reciprocal rank 0.976).
Each re-ranked entry costs one CMC comparison (about 0.4-1 s for a Fadul scan at 12.5 µm on one
core), so this is the main cost of a search."""

OnCorrupt = Literal["raise", "skip"]


@dataclass(frozen=True)
class Candidate:
    """One ranked entry.

    Attributes
    ----------
    rank : int
        1 = most similar. Re-ranked entries come first, ordered by CMC score; the rest follow by
        first-pass score.
    first_pass_score : float
        Best correlation of the ring spectra over all rotations, in [-1, 1].
    score : float or None
        CMC score (`ballistics.cmc.Comparison.score`); None when not re-ranked.
    log10_lr : float or None
        From the calibration, when there is one and the entry was re-ranked.
    comparison : Comparison or None
        The whole CMC result of the re-ranking (alignment and cell table), so that the examiner's
        images of a candidate need not compare the two surfaces again. Not part of `to_dict`.
    """

    rank: int
    entry_id: str
    file: str
    metadata: Mapping[str, Any]
    first_pass_score: float
    first_pass_rank: int
    score: float | None = None
    high_cmc: int | None = None
    possible_cells: int | None = None
    cmc_original: tuple[int, int] | None = None
    correlation: float | None = None
    angle_deg: float | None = None
    log10_lr: float | None = None
    comparison: Comparison | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies, and the read-only metadata mapping does not copy.
        doc = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "comparison"}
        doc["metadata"] = dict(self.metadata)
        return doc


@dataclass(frozen=True)
class Timings:
    """Wall-clock seconds per stage (``prepare``: query checks, downsampling and descriptor)."""

    prepare_s: float
    first_pass_s: float
    rerank_s: float
    total_s: float


@dataclass(frozen=True)
class SearchResult:
    """Ranked candidates of a search, the stage timings, and what was skipped as corrupt."""

    candidates: tuple[Candidate, ...]
    index_size: int
    shortlist: int
    timings: Timings
    skipped: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"index_size": self.index_size, "shortlist": self.shortlist,
                "timings": asdict(self.timings), "skipped": list(self.skipped),
                "candidates": [c.to_dict() for c in self.candidates]}


# --------------------------------------------------------------------------------------------------
# Worker functions: the same ones run in a process pool and on Dask workers
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShardHits:
    """Best rows of one shard, or the reason it could not be read."""

    shard: str
    rows: np.ndarray
    scores: np.ndarray
    error: str | None = None


@dataclass(frozen=True)
class GroupHits:
    """Best rows of a group of shards: shard positions, rows and scores, plus the unreadable shards."""

    positions: np.ndarray
    rows: np.ndarray
    scores: np.ndarray
    errors: tuple[str, ...] = ()


_VERIFIED: dict[tuple[Any, ...], bool] = {}


def _verified_descriptors(index: Index, shard: ShardInfo) -> np.ndarray:
    """Descriptors of a shard, hash-checked once per file version in this process.

    Writers never change a file in place (they write a new name and rename), so the inode, size and
    modification time identify a version; a long-lived worker then hashes each shard only once.
    """
    path = index.shard_path(shard, "desc.npy")
    stat = path.stat()
    key = (str(path), shard.descriptors_sha256, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    matrix = read_descriptors(index, shard, check=key not in _VERIFIED)
    _VERIFIED[key] = True
    return matrix


def _best(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` best scores, best first, ties by position (the same order on any executor)."""
    if k < len(scores):
        # argpartition narrows to the k-th score; every row tied with it stays a contender.
        cut = np.partition(-scores, k - 1)[k - 1]
        contenders = np.flatnonzero(-scores <= cut)
    else:
        contenders = np.arange(len(scores))
    return contenders[np.lexsort((contenders, -scores[contenders]))][:k]


def score_shard(shard: ShardInfo, *, index: Index, query: np.ndarray, k: int) -> ShardHits:
    """First pass over one shard: the ``k`` best rows by rotation-invariant correlation.

    Never raises for a corrupt or missing shard: the error travels back in the result, so that the
    caller decides (``on_corrupt``) whatever the executor.
    """
    try:
        descriptors = _verified_descriptors(index, shard)
        if descriptors.shape != (shard.count, index.descriptor.size):
            raise IndexCorruptError(f"shard {shard.name}: descriptor matrix of shape {descriptors.shape}, "
                                    f"expected ({shard.count}, {index.descriptor.size})")
    except (IndexCorruptError, OSError, ValueError) as exc:
        return ShardHits(shard.name, np.zeros(0, int), np.zeros(0, np.float32), str(exc))
    scores = rotation_scores(descriptors, query, params=index.descriptor)
    rows = _best(scores, k)
    return ShardHits(shard.name, rows, scores[rows])


def score_shards(group: tuple[int, Sequence[ShardInfo]], *, index: Index, query: np.ndarray, k: int) -> GroupHits:
    """First pass over consecutive shards (``group`` = position of the first one, the shards): the ``k`` best rows.

    One task per group rather than per shard: a task costs a round trip to the executor (and a
    scheduler decision on Dask), which cost more than scoring a shard of 1,000 entries.
    """
    start, shards = group
    hits = [score_shard(shard, index=index, query=query, k=k) for shard in shards]
    errors = tuple(h.error for h in hits if h.error is not None)
    positions = np.concatenate([np.full(len(h.rows), start + i, dtype=np.int64) for i, h in enumerate(hits)] or
                               [np.zeros(0, np.int64)])
    rows = np.concatenate([np.asarray(h.rows, dtype=np.int64) for h in hits] or [np.zeros(0, np.int64)])
    scores = np.concatenate([np.asarray(h.scores, dtype=np.float32) for h in hits] or [np.zeros(0, np.float32)])
    best = _ranked_rows(positions, rows, scores, k)
    return GroupHits(positions[best], rows[best], scores[best], errors)


def _ranked_rows(positions: np.ndarray, rows: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best (score descending, then shard position, then row)."""
    return np.lexsort((rows, positions, -scores))[:k]


def compare_entry(record: dict[str, Any], *, index: Index, query: tuple[np.ndarray, float]) -> dict[str, Any]:
    """Re-rank one entry: CMC comparison of the query with the entry's stored surface.

    ``record`` is `Entry.to_record()` and ``query`` the stored-form heights and pixel size (plain
    values, because the read-only mappings of `Surface` and `Entry` do not pickle).
    """
    entry = Entry.from_record(record)
    try:
        stored = load_surface(index, entry)
    except (IndexCorruptError, OSError, ValueError) as exc:
        return {"id": entry.id, "error": str(exc)}
    heights, pixel_size = query
    surface = Surface(heights, pixel_size, kind=index.kind, processed=True)  # type: ignore[arg-type]
    result = compare(surface, stored, params=index.cmc)
    return {"id": entry.id, "score": result.score, "high_cmc": result.high_cmc,
            "possible_cells": result.possible_cells, "cmc_original": tuple(result.cmc_original),
            "correlation": result.correlation, "angle_deg": result.alignment.angle_deg, "comparison": result}


# --------------------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------------------

def _is_dask(executor: Any) -> bool:
    return hasattr(executor, "scatter") and hasattr(executor, "gather") and hasattr(executor, "map")


def _run(executor: Any, fn: Callable[..., Any], items: Sequence[Any], **common: Any) -> list[Any]:
    """``[fn(item, **common) for item in items]`` on the executor, in the order of ``items``."""
    if not items:
        return []
    if _is_dask(executor):
        # Scatter the shared arguments once instead of embedding them in every task.
        shared = {key: executor.scatter(value, broadcast=True, hash=False) for key, value in common.items()}
        return executor.gather(executor.map(fn, list(items), pure=False, **shared))
    return list(executor.map(partial(fn, **common), items))


def _worker_init() -> None:
    # One OpenCV thread per process: the pool already uses every core, more threads only contend.
    import cv2

    cv2.setNumThreads(1)


def local_executor(workers: int | None = None) -> ProcessPoolExecutor:
    """A process pool of ``workers`` (default: all cores) started with "spawn" (no inherited locks)."""
    return ProcessPoolExecutor(workers or os.cpu_count() or 1, mp_context=get_context("spawn"),
                               initializer=_worker_init)


# --------------------------------------------------------------------------------------------------
# search
# --------------------------------------------------------------------------------------------------

def search(index: Index | str | os.PathLike[str], query: Surface, *, top: int = 20,
           shortlist: int = DEFAULT_SHORTLIST, executor: Executor | Any | None = None,
           calibration: Calibration | None = None, on_corrupt: OnCorrupt = "raise",
           exclude: Collection[str] = ()) -> SearchResult:
    """Rank the entries of an index by similarity to a query surface.

    Parameters
    ----------
    index : Index or path-like
    query : Surface
        Processed, of the index's kind and pixel size; any orientation.
    top : int, keyword-only
        Candidates returned.
    shortlist : int, keyword-only
        Best first-pass candidates re-ranked by the full CMC comparison (0: first pass only).
    executor : concurrent.futures.Executor or dask.distributed.Client, keyword-only
        Where shards are scored and comparisons run. Default: a local process pool for this call.
    calibration : Calibration, keyword-only
        Score-to-LR map; default: the one stored with the index, if any.
    on_corrupt : {"raise", "skip"}, keyword-only
        A shard or entry whose file does not match its SHA-256: raise `IndexCorruptError` naming it,
        or leave it out and name it in `SearchResult.skipped`.
    exclude : collection of str, keyword-only
        Entry ids left out before the shortlist (the query's own entry, when it is in the index):
        they are neither compared nor returned, and first-pass ranks count the others only.

    Returns
    -------
    SearchResult

    Raises
    ------
    ValueError
        Empty index, a query of another kind or pixel size, or bad options.
    IndexCorruptError
        A corrupt shard or entry, with ``on_corrupt="raise"``.

    Examples
    --------
    >>> from ballistics.io import read_surface
    >>> result = search("fadul-index", read_surface("Fadul 1-1.x3p"), top=5)  # doctest: +SKIP
    >>> best = result.candidates[0]  # doctest: +SKIP
    >>> best.file, best.metadata["firearm"], best.score, best.first_pass_rank  # doctest: +SKIP
    """
    start = time.perf_counter()
    index = index if isinstance(index, Index) else open_index(index)
    _check_options(index, top, shortlist, on_corrupt)
    stored = stored_form(index, query)
    descriptor = describe(stored, params=index.descriptor)
    if executor is None:
        with local_executor(min(os.cpu_count() or 1, max(len(index.shards), shortlist, 1))) as pool:
            return _fresh(index, stored, descriptor, top, shortlist, pool, calibration, on_corrupt, frozenset(exclude),
                          start)
    return _fresh(index, stored, descriptor, top, shortlist, executor, calibration, on_corrupt, frozenset(exclude),
                  start)


def _fresh(index: Index, *args: Any) -> SearchResult:
    """`_search`, once more on the new manifest if a writer committed meanwhile.

    A writer deletes the shard files it replaced right after its commit, so a search that started on
    the previous manifest can find a file gone; that is a stale snapshot, not corruption.
    """
    try:
        result = _search(index, *args)
    except IndexCorruptError:
        if not _replaced(index):
            raise
        return _search(open_index(index.path), *args)
    if result.skipped and _replaced(index):
        return _search(open_index(index.path), *args)
    return result


def _replaced(index: Index) -> bool:
    try:
        return open_index(index.path).generation != index.generation
    except (OSError, ValueError):
        return False


def _check_options(index: Index, top: int, shortlist: int, on_corrupt: str) -> None:
    if len(index) == 0:
        raise ValueError(f"the index at {index.path} is empty: add entries before searching")
    if top < 1 or shortlist < 0:
        raise ValueError(f"top must be at least 1 and shortlist at least 0, got {top} and {shortlist}")
    if on_corrupt not in ("raise", "skip"):
        raise ValueError(f"on_corrupt must be 'raise' or 'skip', got {on_corrupt!r}")


def _search(index: Index, stored: Surface, descriptor: np.ndarray, top: int, shortlist: int, executor: Any,
            calibration: Calibration | None, on_corrupt: str, exclude: frozenset[str], start: float) -> SearchResult:
    prepared = time.perf_counter()
    skipped: list[str] = []
    wanted = max(top, shortlist) + len(exclude)
    # Tasks get the index without its shard list: a million entries make a long list to pickle per task.
    bare = replace(index, shards=())
    hits = _run(executor, score_shards, _groups(index.shards, _slots(executor)), index=bare, query=descriptor,
                k=wanted)
    best = _merge(hits, wanted, on_corrupt, skipped)
    first_pass = time.perf_counter()
    listed = _entries(index, best, on_corrupt, skipped)
    found = [(e, s) for e, (_, _, s) in zip(listed, best, strict=True) if e is not None and e.id not in exclude]
    chosen = [entry for entry, _ in found]
    first = {entry.id: (score, rank) for rank, (entry, score) in enumerate(found, start=1)}
    payload = (np.asarray(stored.heights), stored.pixel_size)
    compared = _run(executor, compare_entry, [e.to_record() for e in chosen[:shortlist]], index=bare,
                    query=payload)
    reranked = _reranked(compared, on_corrupt, skipped)
    candidates = _ranked(chosen, first, reranked, shortlist, top, calibration or index.calibration)
    done = time.perf_counter()
    timings = Timings(prepared - start, first_pass - prepared, done - first_pass, done - start)
    return SearchResult(tuple(candidates), len(index), min(shortlist, len(chosen)), timings, tuple(skipped))


def _slots(executor: Any) -> int:
    """How many tasks the executor runs at once (Dask: its workers' threads; a pool: its processes)."""
    client = getattr(executor, "client", executor)
    if _is_dask(executor) and hasattr(client, "nthreads"):
        return max(1, sum(client.nthreads().values()))
    return max(1, int(getattr(executor, "_max_workers", 0) or os.cpu_count() or 1))


def _groups(shards: Sequence[ShardInfo], slots: int) -> list[tuple[int, tuple[ShardInfo, ...]]]:
    """Consecutive shards in about four tasks per slot (a slow task then delays the stage little)."""
    size = max(1, -(-len(shards) // (4 * slots)))
    return [(start, tuple(shards[start:start + size])) for start in range(0, len(shards), size)]


def _merge(hits: list[GroupHits], k: int, on_corrupt: str,
           skipped: list[str]) -> list[tuple[int, int, float]]:
    """(shard position, row, score) of the ``k`` best rows over all shards; ties by position."""
    for hit in hits:
        for error in hit.errors:
            _corrupt(error, on_corrupt, skipped)
    if not hits:
        return []
    positions = np.concatenate([h.positions for h in hits])
    rows = np.concatenate([h.rows for h in hits])
    scores = np.concatenate([h.scores for h in hits])
    best = _ranked_rows(positions, rows, scores, k)
    return [(int(positions[i]), int(rows[i]), float(scores[i])) for i in best]


def _corrupt(message: str, on_corrupt: str, skipped: list[str]) -> None:
    if on_corrupt == "raise":
        raise IndexCorruptError(message)
    skipped.append(message)


def _entries(index: Index, best: list[tuple[int, int, float]], on_corrupt: str,
             skipped: list[str]) -> list[Entry | None]:
    """The Entry of each merged row (None where the shard's entry list is corrupt and skipped)."""
    lists: dict[int, dict[int, Entry] | None] = {}
    for position in sorted({p for p, _, _ in best}):
        rows = sorted({r for p, r, _ in best if p == position})
        try:
            lists[position] = dict(zip(rows, read_entries(index, index.shards[position], rows=rows), strict=True))
        except (IndexCorruptError, OSError, ValueError) as exc:
            _corrupt(str(exc), on_corrupt, skipped)
            lists[position] = None
    return [lists[p][r] if lists[p] is not None else None for p, r, _ in best]  # type: ignore[index]


def _reranked(compared: list[dict[str, Any]], on_corrupt: str, skipped: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for result in compared:
        if "error" in result:
            _corrupt(result["error"], on_corrupt, skipped)
        else:
            out[result["id"]] = result
    return out


def _ranked(chosen: list[Entry], first: dict[str, tuple[float, int]], reranked: dict[str, dict[str, Any]],
            shortlist: int, top: int, calibration: Calibration | None) -> list[Candidate]:
    # Compared entries first (by CMC score, then first-pass score), then the rest by first pass. A
    # shortlisted entry whose surface was skipped as corrupt is left out, not ranked on partial evidence.
    compared = sorted((e for e in chosen[:shortlist] if e.id in reranked),
                      key=lambda e: (-reranked[e.id]["score"], first[e.id][1]))
    ordered = compared + chosen[shortlist:]
    return [_candidate(rank, entry, first[entry.id], reranked.get(entry.id), calibration)
            for rank, entry in enumerate(ordered[:top], start=1)]


def _candidate(rank: int, entry: Entry, first: tuple[float, int], result: dict[str, Any] | None,
               calibration: Calibration | None) -> Candidate:
    base = Candidate(rank, entry.id, entry.file, entry.metadata, first[0], first[1])
    if result is None:
        return base
    lr = float(log10_lr(calibration, [result["score"]])[0]) if calibration is not None else None
    return Candidate(rank, entry.id, entry.file, entry.metadata, first[0], first[1], float(result["score"]),
                     int(result["high_cmc"]), int(result["possible_cells"]),
                     (int(result["cmc_original"][0]), int(result["cmc_original"][1])),
                     float(result["correlation"]), float(result["angle_deg"]), lr, result.get("comparison"))

