"""Store the engine's results on all 780 Fadul pairs as a reference table for the regression test.

Usage: python bench/fadul_reference.py [--workers 2] [--out tests/ballistics/data]

Runs `ballistics.evaluate` exactly as the CI's Fadul validation does (same manifest, same random
rotations, seed 20261123) and writes two small files of derived numbers (no scan data):

``fadul_reference_results.csv``  one row per pair: files, truth, rotation applied, original-rule CMC
                                 counts A->B and B->A, the combined High-CMC count the score uses,
                                 possible cells, score, and the decision (score > threshold)
``fadul_reference_summary.json`` the decision threshold, seed, git revision and parameters

`tests/ballistics/test_evaluate.py` compares every later engine with this table: no pair may change
side of the stored threshold, and the counts must stay within +-2 for at least 95 % of pairs.
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import tempfile
from pathlib import Path

from ballistics.evaluate import evaluate

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "fadul"
SEED = 20261123  # the seed of the CI's Fadul validation (tests/ballistics/test_evaluate.py)
COLUMNS = ["file_a", "file_b", "same_source", "rotation_deg", "cmc_original_ab", "cmc_original_ba", "high_cmc",
           "possible_cells", "score", "called_same_source"]


def _revision() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "ballistics"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return out.stdout.strip() + (" (ballistics/ modified)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "ballistics" / "data")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as report:
        result = evaluate(args.data / "ground_truth.csv", report, workers=args.workers, rotate_random=SEED,
                          progress=True)
    failed = [p for p in result.pairs if p.error]
    if failed:
        raise SystemExit(f"{len(failed)} pairs failed, e.g. {failed[0].error}: not a usable reference")
    threshold = result.calibration.threshold
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "fadul_reference_results.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for p in result.pairs:
            # Full precision (repr): a rotation rounded to 1e-6 degrees can already move a non-match's
            # registration to another of its near-equal peaks.
            writer.writerow([p.file_a, p.file_b, p.same_source, repr(p.rotation_deg), p.cmc_original_ab,
                             p.cmc_original_ba, p.high_cmc, p.possible_cells, repr(p.score), p.score > threshold])
    summary = {
        "threshold": threshold, "rotate_random": SEED, "pairs": len(result.pairs),
        "auc": result.performance.auc, "high_cmc_auc": result.summary["high_cmc"]["auc"],
        "false_positives": result.performance.false_positives, "false_negatives": result.performance.false_negatives,
        "revision": _revision(), "median_seconds": result.summary["median_seconds"],
        "parameters": result.summary["parameters"]["cmc"],
    }
    (args.out / "fadul_reference_summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"{len(result.pairs)} pairs, threshold {threshold:.4f}, AUC {result.performance.auc:.4f}, "
          f"{result.performance.false_positives} FP, {result.performance.false_negatives} FN -> {args.out}")


if __name__ == "__main__":
    main()
