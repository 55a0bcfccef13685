"""Where the time of a full comparison goes: cProfile over a few Fadul pairs, on one core.

Usage: python bench/profile_compare.py [--pairs 4] [--top 25] [--sort tottime]

Pairs: known matches and non-matches alternately, the second scan of each turned by a random angle
(seed 1) as in bench/bench_compare.py.
"""
from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import cProfile  # noqa: E402
import csv  # noqa: E402
import itertools  # noqa: E402
import pstats  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

# Profile this checkout's engine, not the installed one (a script's own folder, bench/, comes first on
# sys.path, so without this a worktree would profile the editable install's ballistics).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from ballistics.cmc import compare  # noqa: E402
from ballistics.io import read_surface  # noqa: E402
from ballistics.registration import Alignment, warp  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fadul"


def _pairs(data: Path, count: int) -> list[tuple[Path, Path]]:
    with open(data / "ground_truth.csv", newline="") as handle:
        firearm = {row["file"]: row["firearm"] for row in csv.DictReader(handle)}
    pairs = list(itertools.combinations(sorted(firearm), 2))
    same = [p for p in pairs if firearm[p[0]] == firearm[p[1]]]
    different = [p for p in pairs if firearm[p[0]] != firearm[p[1]]]
    mixed = [p for pair in zip(same, different, strict=False) for p in pair][:count]  # fewer matches
    return [(data / a, data / b) for a, b in mixed]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    rng = np.random.default_rng(1)
    work = []
    for fa, fb in _pairs(args.data, args.pairs):
        b = read_surface(fb)
        work.append((read_surface(fa), warp(b, Alignment(float(rng.uniform(-180, 180)), 0, 0, 0, 0), b.shape)))
    compare(*work[0])  # warm-up: imports, FFT plans
    profiler = cProfile.Profile()
    profiler.enable()
    for a, b in work:
        compare(a, b)
    profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs().sort_stats(args.sort)
    print(f"{len(work)} comparisons")
    stats.print_stats(args.top)
    _print_floor(stats, len(work))


# The library calls that do the method's arithmetic: the transforms of the masked correlations, the
# rotations and the downsampling. Their own time is what any implementation of the same method (the
# same rotations, cells, shifts and resolutions) spends at least, with these libraries on this machine.
TRANSFORMS = ("dft", "idft", "mulSpectrums", "warpAffine", "resize", "integral", "pypocketfft")


def _is_transform(name: str) -> bool:
    """OpenCV's calls appear as ``<dft>``, scipy's as ``<built-in method scipy.fft._pocketfft.pypocketfft.c2c>``."""
    return name.strip("<>") in TRANSFORMS or ".pypocketfft." in name


def _print_floor(stats: pstats.Stats, count: int) -> None:
    entries = stats.stats.items()  # type: ignore[attr-defined]
    total = sum(entry[2] for _, entry in entries)
    floor = sum(entry[2] for (_, _, name), entry in entries if _is_transform(name))
    print(f"per comparison: {total / count:.3f} s profiled, of which {floor / count:.3f} s ({floor / total:.0%}) "
          f"in the transforms, rotations and resampling themselves ({', '.join(TRANSFORMS)})")


if __name__ == "__main__":
    main()
