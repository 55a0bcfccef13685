"""Median time of one full comparison (both directions, full-circle rotation search) on one core.

Usage: python bench/bench_compare.py [--pairs N] [--data ../shared/data/fadul]

Pairs: the first N pairs of the Fadul set in file order, one scan of each turned by a random angle
(seed 1), so that the full-circle search is exercised. Prints per-pair times and their median.
"""
from __future__ import annotations

import os

# One core: no hidden thread pools in numpy's BLAS, OpenMP or OpenCV.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import itertools  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from ballistics.cmc import compare  # noqa: E402
from ballistics.io import read_surface  # noqa: E402
from ballistics.registration import Alignment, register, warp  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fadul"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    files = sorted(args.data.glob("*.x3p"))
    scans = {f: read_surface(f) for f in files}
    rng = np.random.default_rng(1)
    pairs = list(itertools.combinations(files, 2))[: args.pairs]
    compare(scans[pairs[0][0]], scans[pairs[0][1]])  # warm-up: imports, FFT plans
    totals, cpu, registrations = [], [], []
    for fa, fb in pairs:
        b = warp(scans[fb], Alignment(float(rng.uniform(-180, 180)), 0, 0, 0, 0), scans[fb].shape)
        start = time.perf_counter()
        register(scans[fa], b)
        registrations.append(time.perf_counter() - start)
        start, start_cpu = time.perf_counter(), time.process_time()
        result = compare(scans[fa], b)
        totals.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        print(f"{fa.stem} vs {fb.stem}: {totals[-1]:.3f} s (High-CMC {result.high_cmc})")
    print(f"pairs: {len(totals)}; one core; full-circle search; both directions")
    print(f"median full comparison: {statistics.median(totals):.3f} s "
          f"(min {min(totals):.3f}, max {max(totals):.3f})")
    # CPU time of this process is less disturbed than wall time on a machine shared with other work.
    print(f"median CPU time per comparison: {statistics.median(cpu):.3f} s")
    print(f"median registration alone: {statistics.median(registrations):.3f} s")
    print(f"speed-up over cmcR's ~32 s per pair: {32 / statistics.median(totals):.0f}x")


if __name__ == "__main__":
    main()
