"""Search latency against index size, index size on disk, memory per entry, build throughput.

Synthetic entries: small shots from `ballistics.synth` (64 x 64 pixels at 6.25 µm, 4 shots per
firearm, stored at full resolution, shards of 1,000). One index grows through the sizes asked for
(default 1,000, 10,000, 100,000); at each size a few queries (new shots of indexed firearms, rotated
at random) are timed on a persistent local process pool (default 2 workers), after one warm-up
query that starts the pool. The real Fadul scans (40 entries, stored at 12.5 µm, as the tests) are
timed the same way when ../shared/data/fadul is present. Figures are medians: the machine may be
shared. Writes bench/out/search.json and bench/out/search_latency.png.

    python bench/bench_search.py                          # 1k, 10k, 100k + Fadul (~15 min on 2 cores)
    python bench/bench_search.py --sizes 1000 10000 --queries 3
    python bench/bench_search.py --sizes 100000 --queries 3 --work /tmp/bs --no-fadul   # keeps the index for reuse

Each row also gives the CPU seconds of a query summed over this process and the pool's workers, and
the load average: on a shared machine the CPU time compares runs better than the wall time.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ballistics import index as ix  # noqa: E402
from ballistics.registration import Alignment, warp  # noqa: E402
from ballistics.search import DEFAULT_SHORTLIST, local_executor, search  # noqa: E402
from ballistics.synth import firearm_signature, shot  # noqa: E402
from benchdata import pool_cpu_seconds, synthetic_shots  # noqa: E402

PIXEL = 6.25e-6
SHAPE = (64, 64)
SHOTS = 4
FADUL = ROOT / ".." / "shared" / "data" / "fadul"


def _entries(start: int, stop: int, seed: int, timer: dict[str, float]) -> Iterator[ix.NewEntry]:
    """Entries ``start..stop``: shot ``s`` of firearm ``f`` for entry ``4 f + s``; synthesis time in ``timer``."""
    shots = synthetic_shots(start, stop, seed=seed, shape=SHAPE, pixel_size=PIXEL, shots_per_firearm=SHOTS,
                            jitter_px=2.0)
    while True:
        t = time.perf_counter()
        made = next(shots, None)
        timer["synth"] += time.perf_counter() - t
        if made is None:
            return
        _, firearm, s, surface = made
        name = f"F{firearm:06d}-S{s}"
        yield ix.NewEntry(surface, file=name, metadata={"firearm": f"F{firearm:06d}"}, id=name)


def _grow(index: ix.Index, size: int, seed: int) -> tuple[ix.Index, dict[str, float]]:
    timer = {"synth": 0.0}
    start, t = len(index), time.perf_counter()
    if start > size:
        raise SystemExit(f"the index at {index.path} holds {start:,} entries, more than {size:,}: use another --work")
    if size > start:
        index = ix.add(index, _entries(start, size, seed, timer))
    timer["total"] = time.perf_counter() - t
    timer["add"] = timer["total"] - timer["synth"]
    timer["entries"] = max(size - start, 1)
    return index, timer


def _synthetic_queries(count: int, size: int, seed: int) -> list:
    """New shots (shot seeds never used in the index) of indexed firearms, at random rotations."""
    rng = np.random.default_rng(seed + 1)
    queries = []
    for f in rng.choice(size // SHOTS, count, replace=False):
        block = int(f)
        signature = firearm_signature((seed, block), shape=SHAPE, pixel_size=PIXEL)
        queries.append(shot(signature, seed=(seed, block, 99), rotation_deg=float(rng.uniform(-180, 180))))
    return queries


def _time_queries(index: ix.Index, queries: list, pool, shortlist: int) -> dict[str, float]:
    search(index, queries[0], top=20, shortlist=shortlist, executor=pool)  # warm-up: workers start, pages load
    runs, cpu = [], []
    for q in queries[1:]:
        before = pool_cpu_seconds(pool)
        runs.append(search(index, q, top=20, shortlist=shortlist, executor=pool).timings)
        cpu.append(pool_cpu_seconds(pool) - before)
    return {"median_total_s": statistics.median(t.total_s for t in runs), "median_cpu_s": statistics.median(cpu),
            "load_average": os.getloadavg()[0],
            "median_first_pass_s": statistics.median(t.first_pass_s for t in runs),
            "median_rerank_s": statistics.median(t.rerank_s for t in runs),
            "max_total_s": max(t.total_s for t in runs), "queries": len(runs)}


def _disk(index: ix.Index) -> dict[str, float]:
    sizes = {"descriptors": 0, "entry_lists": 0, "surfaces": 0, "manifest": 0}
    for file in index.path.rglob("*"):
        if not file.is_file():
            continue
        n = file.stat().st_size
        key = ("descriptors" if file.name.endswith(".desc.npy") else "entry_lists" if file.name.endswith(".json")
               and file.parent.name == "shards" else "surfaces" if file.suffix == ".npy" else "manifest")
        sizes[key] += n
    blocks = sum(f.stat().st_blocks * 512 for f in index.path.rglob("*") if f.is_file())
    entries = max(len(index), 1)
    return {**{f"{k}_bytes_per_entry": v / entries for k, v in sizes.items()},
            "apparent_mb": sum(sizes.values()) / 1e6, "allocated_mb": blocks / 1e6}


def _worker_rss(pool) -> float:
    """Resident memory of the pool's workers (sum), MB; file-backed pages of the memory maps count."""
    total = 0
    for process in getattr(pool, "_processes", {}).values():
        try:
            total += psutil.Process(process.pid).memory_info().rss
        except psutil.Error:
            pass
    return total / 1e6


def _fadul(work: Path, pool, shortlist: int, queries: int) -> dict[str, float] | None:
    if not FADUL.is_dir():
        print(f"Fadul scans not found at {FADUL}: skipped")
        return None
    from ballistics.io import read_surface

    with open(FADUL / "ground_truth.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    surfaces = [read_surface(FADUL / r["file"]) for r in rows]
    t = time.perf_counter()
    index = ix.create_index(work / "fadul", pixel_size=PIXEL)
    index = ix.add(index, [ix.NewEntry(s, file=r["file"], metadata={"firearm": r["firearm"]})
                           for s, r in zip(surfaces, rows, strict=True)])
    build = time.perf_counter() - t
    rng = np.random.default_rng(5)
    chosen = [surfaces[i] for i in rng.choice(len(surfaces), queries + 1, replace=False)]
    turned = [warp(s, Alignment(float(rng.uniform(-180, 180)), 0, 0, 0, 0), s.shape) for s in chosen]
    return {"entries": len(index), "build_s": build, **_time_queries(index, turned, pool, shortlist),
            **_disk(index)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=5, help="timed queries per size (5)")
    parser.add_argument("--shortlist", type=int, default=DEFAULT_SHORTLIST)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="where the indexes are built (default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--no-fadul", action="store_true")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-search-"))
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "load_average_at_start": os.getloadavg()},
               "settings": {"workers": args.workers, "shortlist": args.shortlist, "shape": SHAPE,
                            "queries": args.queries}, "synthetic": [], "fadul": None}
    try:
        with local_executor(args.workers) as pool:
            # An index kept from an earlier run (--work) is reused: it only grows to the sizes asked for.
            index = (ix.open_index(work / "synthetic") if (work / "synthetic" / ix.MANIFEST).exists() else
                     ix.create_index(work / "synthetic", pixel_size=PIXEL, store_factor=1, shard_size=1000))
            base_rss = None
            for size in sorted(args.sizes):
                index, build = _grow(index, size, args.seed)
                queries = _synthetic_queries(args.queries + 1, size, args.seed)
                if base_rss is None:
                    search(index, queries[0], top=1, shortlist=0, executor=pool)
                    base_rss = _worker_rss(pool)
                timing = _time_queries(index, queries, pool, args.shortlist)
                row = {"entries": size, "build": build, "build_entries_per_s": build["entries"] / build["total"],
                       "add_entries_per_s": build["entries"] / max(build["add"], 1e-9), **timing,
                       **_disk(index), "worker_rss_mb": _worker_rss(pool), "worker_rss_base_mb": base_rss}
                results["synthetic"].append(row)
                _print_row(row)
            if not args.no_fadul:
                results["fadul"] = _fadul(work, pool, args.shortlist, args.queries)
                if results["fadul"]:
                    _print_fadul(results["fadul"])
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    results["machine"]["load_average_at_end"] = os.getloadavg()
    (args.out / "search.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    _plot(results, args.out / "search_latency.png")
    print(f"wrote {args.out / 'search.json'} and {args.out / 'search_latency.png'}")
    return 0


def _print_row(row: dict) -> None:
    b = row["build"]
    print(f"{row['entries']:>7,} entries: query median {row['median_total_s']:.2f} s (first pass "
          f"{row['median_first_pass_s']:.3f} s, re-rank {row['median_rerank_s']:.2f} s, "
          f"max {row['max_total_s']:.2f} s; CPU {row['median_cpu_s']:.2f} s; load {row['load_average']:.1f}); "
          f"built {b['entries']:,} in {b['total']:.0f} s ({row['build_entries_per_s']:.0f}/s, add alone "
          f"{row['add_entries_per_s']:.0f}/s); disk {row['apparent_mb']:.1f} MB ({row['allocated_mb']:.1f} MB "
          f"allocated), descriptors {row['descriptors_bytes_per_entry']:.0f} B/entry, surfaces "
          f"{row['surfaces_bytes_per_entry']:.0f} B/entry; worker RSS {row['worker_rss_mb']:.0f} MB "
          f"(base {row['worker_rss_base_mb']:.0f} MB)", flush=True)


def _print_fadul(row: dict) -> None:
    print(f"Fadul {row['entries']} entries (12.5 um stored): query median {row['median_total_s']:.2f} s "
          f"(first pass {row['median_first_pass_s']:.3f} s, re-rank {row['median_rerank_s']:.2f} s); built in "
          f"{row['build_s']:.1f} s; surfaces {row['surfaces_bytes_per_entry'] / 1e3:.0f} kB/entry", flush=True)


def _plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["synthetic"]
    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = [r["entries"] for r in rows]
    ax.plot(sizes, [r["median_total_s"] for r in rows], "o-", label="total (median)")
    ax.plot(sizes, [r["median_first_pass_s"] for r in rows], "s--", label="first pass")
    ax.plot(sizes, [r["median_rerank_s"] for r in rows], "^:", label=f"re-rank of {results['settings']['shortlist']}")
    if results.get("fadul"):
        f = results["fadul"]
        ax.plot([f["entries"]], [f["median_total_s"]], "k*", markersize=12, label="Fadul scans (total)")
    ax.axhline(2.0, color="grey", linewidth=0.8, linestyle="-.", label="target 2 s")
    ax.set_xscale("log")
    ax.set_xlabel("entries in the index")
    ax.set_ylabel("seconds per query")
    ax.set_title(f"Search latency, {results['settings']['workers']} workers (medians)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
