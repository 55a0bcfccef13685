"""Search at 1,000,000 entries on a local Dask cluster: time per query and memory per worker.

The index holds two kinds of entries:

* full entries (default 10,000): shots from `ballistics.synth` (64 x 64 pixels at 6.25 µm, 4 per
  firearm, stored at full resolution), added with `ballistics.index.add` like any scan: stored
  surface, descriptor, entry record. Queries are new shots of these firearms, so the re-rank
  compares real surfaces;
* the synthetic bulk (the rest, up to 1,000,000): only what the first pass needs per entry, a
  descriptor row in the shard's memory-mapped matrix and an entry record. Synthesising and
  describing a million surfaces would take about half an hour on 2 cores, and their surfaces
  8 GB; the bulk stands for the first pass's cost, which does not depend on what the rows hold.
  Each bulk row is the descriptor of one of ``--pool`` extra shots (other firearms, added as full
  entries), turned by a random angle (a phase ramp ``exp(-i k phi)`` on harmonic ``k``: exactly
  what a rotation does to a ring spectrum) plus noise, then normalised; its record points at that
  shot's stored surface, so a bulk entry that reaches the shortlist is re-ranked like any other.

The bulk is written as ordinary shards (files and manifest as `ballistics.index.add` writes them),
so `verify` passes; it uses the index module's private shard writer, which this bench is allowed to.

The cluster is a `dask.distributed.LocalCluster` of ``--workers`` processes with one thread each
(dashboard on a free port). The first query is timed apart (each worker hashes the shards it reads
once: cold); then the median of ``--queries`` warm queries; then the memory of each worker (RSS,
which counts the pages of the memory-mapped shards it has touched, and USS, its private memory).
With ``--local`` the same queries run on a local process pool too, and the rankings are compared.

    python bench/bench_search_dask.py --work /tmp/index-1m                  # builds once (~2 min), then reuses
    python bench/bench_search_dask.py --work /tmp/index-1m --queries 3 --local
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from ballistics import index as ix  # noqa: E402
from ballistics.search import DEFAULT_SHORTLIST, local_executor, search  # noqa: E402
from ballistics.synth import firearm_signature, shot  # noqa: E402
from benchdata import synthetic_shots  # noqa: E402

PIXEL = 6.25e-6
SHAPE = (64, 64)
SHOTS = 4


def _shots(start: int, stop: int, seed: int, prefix: str) -> Iterator[ix.NewEntry]:
    """Entries ``start..stop``: shot ``s`` of firearm ``f`` for entry ``4 f + s``."""
    for _, firearm, s, surface in synthetic_shots(start, stop, seed=seed, shape=SHAPE, pixel_size=PIXEL,
                                                  shots_per_firearm=SHOTS, jitter_px=2.0):
        name = f"{prefix}{firearm:06d}-S{s}"
        yield ix.NewEntry(surface, file=name, metadata={"firearm": f"{prefix}{firearm:06d}"}, id=name)


def _turned(base: np.ndarray, angles: np.ndarray, rings: int, harmonics: int) -> np.ndarray:
    """Descriptors ``base`` (n, size) as of surfaces turned by ``angles`` (radians): a phase ramp per harmonic."""
    coeffs = base[:, :rings * harmonics] + 1j * base[:, rings * harmonics:]
    ramp = np.exp(-1j * np.outer(angles, np.arange(1, harmonics + 1)))
    turned = (coeffs.reshape(-1, rings, harmonics) * ramp[:, None, :]).reshape(len(base), -1)
    return np.concatenate([turned.real, turned.imag], axis=1).astype(np.float32)


def build(path: Path, entries: int, full: int, pool: int, seed: int) -> ix.Index:
    """Full entries (queries' firearms, then the pool), then the descriptor-only bulk up to ``entries``."""
    if (path / "index.json").exists():
        index = ix.open_index(path)
        print(f"index: reusing {len(index):,} entries at {path}")
        return index
    t = time.perf_counter()
    index = ix.create_index(path, pixel_size=PIXEL, store_factor=1, shard_size=1000)
    index = ix.add(index, _shots(0, full, seed, "F"))
    index = ix.add(index, _shots(0, pool, seed + 1, "P"))
    added = time.perf_counter() - t
    pool_entries = [e for e in index.entries() if e.id.startswith("P")]
    pool_desc = np.concatenate([np.asarray(ix.read_descriptors(index, s), dtype=np.float32)
                                for s in index.shards])[full:full + pool]
    index = _bulk(index, entries - len(index), pool_entries, pool_desc, seed)
    print(f"index: {full:,} full entries + {pool:,} pool shots in {added:.0f} s, {entries - full - pool:,} "
          f"descriptor-only entries; {len(index):,} in all, built in {time.perf_counter() - t:.0f} s", flush=True)
    return index


def _bulk(index: ix.Index, count: int, pool_entries: list[ix.Entry], pool_desc: np.ndarray, seed: int) -> ix.Index:
    """Descriptor-only entries in whole shards, committed once (private writer of ballistics.index)."""
    rng = np.random.default_rng((seed, 2))
    params, generation = index.descriptor, index.generation + 1
    shards, seq = list(index.shards), len(index.shards)
    for start in range(0, count, index.shard_size):
        n = min(index.shard_size, count - start)
        base = rng.integers(0, len(pool_entries), n)
        rows = _turned(pool_desc[base], rng.uniform(0, 2 * np.pi, n), params.rings, params.harmonics)
        rows += rng.normal(0, 1 / np.sqrt(params.size), rows.shape).astype(np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        records = [replace(pool_entries[b], id=f"B{start + i:07d}", file=f"bulk-{start + i:07d}",
                           metadata={"firearm": pool_entries[b].metadata["firearm"], "bulk": True})
                   for i, b in enumerate(base)]
        shards.append(ix._write_shard(index, seq, generation, records, rows))
        seq += 1
    updated = replace(index, shards=tuple(shards), generation=generation)
    ix._commit(updated)
    return updated


def _queries(count: int, full: int, seed: int) -> list:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed + 7)
    out = []
    for f in rng.choice(full // SHOTS, count, replace=False):
        signature = firearm_signature((seed, int(f)), shape=SHAPE, pixel_size=PIXEL)
        out.append((f"F{int(f):06d}", shot(signature, seed=(seed, int(f), 99),
                                           rotation_deg=float(rng.uniform(-180, 180)))))
    return out


def _memory() -> dict[str, float]:
    import psutil

    info = psutil.Process().memory_full_info()
    return {"rss_mb": info.rss / 1e6, "uss_mb": info.uss / 1e6}


def _cpu() -> float:
    import psutil

    times = psutil.Process().cpu_times()
    return times.user + times.system


def _workers_cpu(executor) -> float:  # type: ignore[no-untyped-def]
    """CPU seconds used so far by the executor's workers and this process (a Dask client or a process pool)."""
    import psutil

    if hasattr(executor, "run"):
        return sum(executor.run(_cpu).values()) + time.process_time()
    return sum(_cpu_of(psutil.Process(p.pid)) for p in executor._processes.values()) + time.process_time()


def _cpu_of(process) -> float:  # type: ignore[no-untyped-def]
    times = process.cpu_times()
    return times.user + times.system


def _timed(index: ix.Index, queries: list, executor) -> tuple[float, list[float], list, list[float]]:  # type: ignore[no-untyped-def,type-arg]
    results = []
    for firearm, query in queries:
        cpu, t = _workers_cpu(executor), time.perf_counter()
        result = search(index, query, top=20, shortlist=DEFAULT_SHORTLIST, executor=executor)
        results.append((time.perf_counter() - t, result, firearm, _workers_cpu(executor) - cpu))
    for seconds, result, firearm, cpu in results:
        top = result.candidates[0]
        print(f"    {seconds:.2f} s (first pass {result.timings.first_pass_s:.2f} s, re-rank "
              f"{result.timings.rerank_s:.2f} s; CPU {cpu:.2f} s in all processes); query {firearm}: "
              f"first candidate {top.metadata['firearm']}", flush=True)
    return results[0][0], [r[0] for r in results[1:]], [r[1] for r in results], [r[3] for r in results[1:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="index folder (built when absent, else reused)")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--full", type=int, default=10_000, help="entries with stored surfaces (query firearms)")
    parser.add_argument("--pool", type=int, default=2_000, help="extra shots the bulk rows are made from")
    parser.add_argument("--queries", type=int, default=3, help="warm queries timed (after one cold query)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--local", action="store_true", help="also on a local process pool; compare rankings")
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    print(f"{os.cpu_count()} cores; load average {os.getloadavg()}", flush=True)
    index = build(args.work, args.entries, args.full, args.pool, args.seed)
    queries = _queries(args.queries + 1, args.full, args.seed)
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    with cluster, Client(cluster) as client:
        base = client.run(_memory)
        print(f"Dask LocalCluster, {args.workers} workers x 1 thread, {len(index):,} entries:", flush=True)
        cold, warm, on_dask, cpu = _timed(index, queries, client)
        memory = client.run(_memory)
    print(f"  Dask: cold query {cold:.2f} s, warm median {statistics.median(warm):.2f} s over {len(warm)} "
          f"(max {max(warm):.2f}), CPU median {statistics.median(cpu):.2f} s; load average {os.getloadavg()}")
    for worker, mem in memory.items():
        print(f"  worker {worker}: RSS {mem['rss_mb']:.0f} MB (at start {base[worker]['rss_mb']:.0f}), "
              f"USS {mem['uss_mb']:.0f} MB (at start {base[worker]['uss_mb']:.0f})")
    if args.local:
        with local_executor(args.workers) as pool:
            print(f"local process pool, {args.workers} workers:", flush=True)
            cold, warm, local, cpu = _timed(index, queries, pool)
        print(f"  local: cold query {cold:.2f} s, warm median {statistics.median(warm):.2f} s, CPU median "
              f"{statistics.median(cpu):.2f} s; load average {os.getloadavg()}")
        same = all([c.entry_id for c in a.candidates] == [c.entry_id for c in b.candidates]
                   for a, b in zip(on_dask, local, strict=True))
        print(f"  rankings on Dask and on the local pool identical: {same}")


if __name__ == "__main__":
    main()
