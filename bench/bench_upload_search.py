"""Upload to ranked candidates at 10,000 entries: the correlation job's path up to its ranking.

`bench/bench_correlation.py` times the same thing through the web application and `qms worker`;
this bench times the job's own steps without the database, HTTP or job queue (a few tens of ms),
so that the search can be measured alone and before/after on the same index:

1. process: the uploaded X3P read and brought to the index's pixel size
   (`qms.comparisons.unit_index.read_scan` and `prepared_for_index`, as the job does);
2. index: the idempotence check and `ballistics.index.add` of the one entry (the unit's index
   settings: 6.25 µm, stored at 12.5 µm, shards of 1,000);
3. search: `ballistics.search.search` of the new entry against the index with itself excluded,
   shortlist 10, top 20, on a persistent local process pool (as `qms worker` keeps one).

The review images follow the ranking (the job makes them from the comparisons the search returns)
and are not timed here. Index: the 40 Fadul scans plus synthetic shots from `ballistics.synth`
(256 x 256 px at 6.25 µm, so 128 x 128 stored), as in bench_correlation. Uploads: Fadul scans
under new ids, one after the other, after one warm-up upload. Figures are medians; the load average
is printed with them (the machine is shared).

    python bench/bench_upload_search.py --work /tmp/upload-index          # builds once, then reuses
    python bench/bench_upload_search.py --work /tmp/upload-index --uploads 3
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from ballistics import index as ix  # noqa: E402
from ballistics.search import DEFAULT_SHORTLIST, local_executor, search  # noqa: E402
from benchdata import pool_cpu_seconds, synthetic_shots  # noqa: E402
from qms.comparisons.unit_index import INDEX_PIXEL_SIZE, entry_in_index, prepared_for_index, read_scan  # noqa: E402

FADUL = Path(os.environ.get("QMS_SHARED_DATA", ROOT.parent / "shared" / "data")) / "fadul"


def _synthetic(count: int, shape: tuple[int, int], seed: int) -> Iterator[ix.NewEntry]:
    for number, firearm, _, surface in synthetic_shots(0, count, seed=seed, shape=shape, pixel_size=INDEX_PIXEL_SIZE):
        yield ix.NewEntry(surface, file=f"synthetic-{number}", metadata={"firearm": f"S{firearm}"},
                          id=uuid.uuid4().hex)


def build(path: Path, size: int, shape: int) -> ix.Index:
    """The unit-like index: 40 Fadul scans, then synthetic shots up to ``size`` entries (kept for reuse)."""
    if (path / "index.json").exists():
        index = ix.open_index(path)
        print(f"index: reusing {len(index):,} entries at {path}")
        return index
    t = time.perf_counter()
    index = ix.create_index(path, pixel_size=INDEX_PIXEL_SIZE)
    scans = sorted(FADUL.glob("Fadul *.x3p"))
    index = ix.add(index, [ix.NewEntry(prepared_for_index(read_scan(p.read_bytes()))[0], file=p.name,
                                       metadata={"firearm": p.name.split()[1].split("-")[0]}, id=uuid.uuid4().hex)
                           for p in scans])
    index = ix.add(index, _synthetic(size - len(scans), (shape, shape), seed=11))
    print(f"index: {len(scans)} Fadul + {size - len(scans):,} synthetic {shape}x{shape} entries built in "
          f"{time.perf_counter() - t:.0f} s")
    return index


def upload(path: Path, scan: Path, pool) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """One upload's steps as the job runs them; seconds per step (wall, and CPU over all processes)."""
    cpu = pool_cpu_seconds(pool)
    start = time.perf_counter()
    surface, _ = prepared_for_index(read_scan(scan.read_bytes()))
    processed = time.perf_counter()
    entry_id = uuid.uuid4().hex
    index = ix.open_index(path)
    if not entry_in_index(index, entry_id):
        index = ix.add(index, [ix.NewEntry(surface, file=scan.name, metadata={}, id=entry_id)])
    indexed = time.perf_counter()
    result = search(index, surface, top=20, shortlist=DEFAULT_SHORTLIST, executor=pool, exclude={entry_id})
    done = time.perf_counter()
    return {"cpu_s": pool_cpu_seconds(pool) - cpu, "process_s": processed - start, "index_s": indexed - processed,
            "search_s": done - indexed,
            "first_pass_s": result.timings.first_pass_s, "rerank_s": result.timings.rerank_s,
            "total_s": done - start, "top_file": result.candidates[0].file,  # type: ignore[dict-item]
            "entry_id": entry_id}  # type: ignore[dict-item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="index folder (built when absent, else reused)")
    parser.add_argument("--size", type=int, default=10_000, help="entries in the index")
    parser.add_argument("--shape", type=int, default=256, help="side of the synthetic shots, pixels")
    parser.add_argument("--uploads", type=int, default=3, help="uploads timed")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if not FADUL.is_dir():
        sys.exit(f"the Fadul scans are needed: not found at {FADUL}")
    print(f"{os.cpu_count()} cores; code from {ROOT}; load average {os.getloadavg()}")
    build(args.work, args.size, args.shape)
    scans = [FADUL / f"Fadul {n}-{k}.x3p" for n in range(1, 11) for k in (1, 2)]
    with local_executor(args.workers) as pool:
        warm = upload(args.work, scans[-1], pool)
        print(f"warm-up upload (starts the pool): {warm['total_s']:.2f} s")
        runs = [upload(args.work, scans[n % len(scans)], pool) for n in range(args.uploads)]
    # The uploads leave the index as they found it, so that runs (before/after a change) compare alike.
    ix.remove(args.work, [str(r.pop("entry_id")) for r in [warm, *runs]])
    for run in runs:
        print("  " + ", ".join(f"{k[:-2]} {v:.2f} s" if k.endswith("_s") else f"{k} {v}" for k, v in run.items()))
    print(f"upload to ranked candidates ({len(ix.open_index(args.work)):,} entries, {args.workers} workers): "
          f"median {statistics.median(r['total_s'] for r in runs):.2f} s over {len(runs)} uploads; "
          + ", ".join(f"{k[:-2]} {statistics.median(r[k] for r in runs):.2f} s"
                      for k in ("process_s", "index_s", "search_s", "first_pass_s", "rerank_s", "cpu_s"))
          + f"; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
