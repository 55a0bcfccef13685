"""Wall time and peak memory of `ballistics.evaluate` over all 780 Fadul pairs on 2 workers.

Usage: python bench/bench_evaluate.py [--workers 2] [--out /tmp/fadul-report] [--seed 20261123]

Peak memory: the largest resident set of this process and of any one worker (ru_maxrss).
"""
from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from ballistics.evaluate import evaluate

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fadul"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("/tmp/fadul-report"))
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    start = time.perf_counter()
    result = evaluate(args.data / "ground_truth.csv", args.out, workers=args.workers, rotate_random=args.seed)
    wall = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    s, p = result.summary, result.performance
    print(f"pairs {s['pairs']} (failed {s['failed']}), workers {args.workers}, wall {wall:.0f} s, "
          f"median {s['median_seconds']:.3f} s per pair in a worker")
    print(f"peak memory: main {own:.0f} MiB, largest worker {child:.0f} MiB")
    print(f"AUC score {p.auc:.4f}, AUC High-CMC {s['high_cmc']['auc']:.4f}, EER {p.eer:.4f}, "
          f"Cllr {p.cllr:.4f}, Cllr-min {p.cllr_min:.4f}")
    print(f"threshold {p.threshold:.4f}: {p.false_positives} false positives, {p.false_negatives} false negatives")
    print(f"High-CMC ranges: KM {s['ranges']['high_cmc_km']}, KNM {s['ranges']['high_cmc_knm']}")
    print(f"report: {args.out / 'report.html'}")


if __name__ == "__main__":
    main()
