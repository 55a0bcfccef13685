"""Median time of one full comparison (both directions, full-circle rotation search) on one core.

Usage: python bench/bench_compare.py [--pairs N] [--data ../shared/data/fadul] [--rev REV ...]

Pairs: N pairs of the Fadul set spread over the whole list of 780 (every 780 // N-th, so known
non-matches dominate as they do in the set and in a database search), one scan of each turned by a
random angle (seed 1), so that the full-circle search is exercised. Prints per-pair times and their
median, in wall time and in CPU time of the process (less disturbed on a machine shared with other
work).

``--rev`` (repeatable) also times the engine of other git revisions (``ballistics/`` of that
revision, extracted with ``git archive``), each in its own single-threaded process. All engines
are timed on the same pairs, taking turns pair by pair, so that load from other work on the
machine falls on all of them alike; ``WORKTREE`` stands for the checkout's current files.
"""
from __future__ import annotations

import os

# One core: no hidden thread pools in numpy's BLAS, OpenMP or OpenCV.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "fadul"


def _pairs(data: Path, count: int) -> list[tuple[str, str, float]]:
    import numpy as np

    files = sorted(str(f) for f in data.glob("*.x3p"))
    pairs = list(itertools.combinations(files, 2))
    rng = np.random.default_rng(1)
    angles = rng.uniform(-180, 180, len(pairs))
    step = max(1, len(pairs) // count)
    return [(a, b, float(angle)) for (a, b), angle in list(zip(pairs, angles, strict=True))[::step][:count]]


def serve() -> None:
    """Worker: read pair tasks as JSON lines on stdin, answer with timings on stdout."""
    import cv2

    from ballistics.cmc import compare
    from ballistics.io import read_surface
    from ballistics.registration import Alignment, warp

    cv2.setNumThreads(1)
    scans: dict[str, object] = {}
    for line in sys.stdin:
        path_a, path_b, angle = json.loads(line)
        for path in (path_a, path_b):
            if path not in scans:
                scans[path] = read_surface(path)
        b = warp(scans[path_b], Alignment(angle, 0, 0, 0, 0), scans[path_b].shape)
        start, start_cpu = time.perf_counter(), time.process_time()
        result = compare(scans[path_a], b)
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        print(json.dumps([wall, cpu, result.high_cmc, list(result.cmc_original)]), flush=True)


class _Engine:
    """One revision's engine in its own process."""

    def __init__(self, name: str, source: Path) -> None:
        self.name = name
        env = dict(os.environ, PYTHONPATH=str(source))
        self.process = subprocess.Popen([sys.executable, __file__, "--serve"], env=env, cwd=source,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def time(self, task: tuple[str, str, float]) -> tuple[float, float, int, list[int]]:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(task) + "\n")
        self.process.stdin.flush()
        return tuple(json.loads(self.process.stdout.readline()))  # type: ignore[return-value]

    def close(self) -> None:
        assert self.process.stdin
        self.process.stdin.close()
        self.process.wait()


def _source(rev: str, scratch: Path) -> Path:
    if rev == "WORKTREE":
        return ROOT
    folder = scratch / rev.replace("/", "_")
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "ballistics"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rev", action="append", default=[],
                        help="git revision whose engine is timed too (repeatable; WORKTREE = current files)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    tasks = _pairs(args.data, args.pairs)
    with tempfile.TemporaryDirectory() as scratch:
        engines = [_Engine(rev, _source(rev, Path(scratch))) for rev in args.rev or ["WORKTREE"]]
        for engine in engines:
            engine.time(tasks[0])  # warm-up: imports, FFT plans
        for task in tasks:
            line = []
            for engine in engines:
                wall, cpu, high, _ = engine.time(task)
                engine.wall.append(wall)
                engine.cpu.append(cpu)
                line.append(f"{engine.name}: {wall:.3f} s (High-CMC {high})")
            print(f"{Path(task[0]).stem} vs {Path(task[1]).stem}: " + "; ".join(line), flush=True)
        for engine in engines:
            engine.close()
    print(f"pairs: {len(tasks)}; one core; full-circle search; both directions")
    for engine in engines:
        median = statistics.median(engine.wall)
        print(f"{engine.name}: median full comparison {median:.3f} s (min {min(engine.wall):.3f}, "
              f"max {max(engine.wall):.3f}); median CPU time {statistics.median(engine.cpu):.3f} s; "
              f"{32 / median:.0f}x faster than cmcR's ~32 s per pair")


if __name__ == "__main__":
    main()
