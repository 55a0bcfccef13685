"""A variant of the comparison method on all 780 Fadul pairs, against the stored reference table.

Usage: python bench/fadul_variant.py [--span 12] [--coarse-step 6] [--candidates 2] [--workers 2]

What it answers: how much faster a coarser search would be, and what it would do to the results that
`tests/ballistics/test_evaluate.py` holds the engine to (the same decisions at the stored threshold,
and CMC counts within 2 of the stored table for at least 95 % of the pairs).

The variant is this checkout's ``ballistics/`` copied to a scratch folder with other defaults:
``--span`` is `CMCParams.angle_span` (cell rotations ``theta* +/- span`` in 3-degree steps; 18 today),
``--coarse-step`` and ``--candidates`` are the coarse grid of `ballistics.registration.register` (4
degrees and 3 peaks today). The evaluation runs in a child process on that copy, as the CI's does
(2 workers, the same random rotations). Prints one line: time per pair (median over the pairs, each
timed in its worker), pairs whose counts changed, pairs beyond +-2, decisions moved, AUC.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "ballistics" / "data"
DEFAULT_MANIFEST = ROOT / ".." / "shared" / "data" / "fadul" / "ground_truth.csv"


def _variant(scratch: Path, coarse_step: float, candidates: int) -> Path:
    target = scratch / "ballistics"
    shutil.copytree(ROOT / "ballistics", target, ignore=shutil.ignore_patterns("__pycache__"))
    source = target / "registration.py"
    text = source.read_text()
    for pattern, value in ((r"coarse_step_deg: float = [0-9.]+", f"coarse_step_deg: float = {coarse_step}"),
                           (r"candidates: int = \d+", f"candidates: int = {candidates}")):
        text, count = re.subn(pattern, value, text)
        if count != 1:
            sys.exit(f"cannot set {value!r}: ballistics/registration.py has changed its signature")
    source.write_text(text)
    return scratch


def _evaluate(source: Path, manifest: Path, span: float, workers: int, out: Path) -> None:
    """`evaluate` on the variant, in a child process whose imports resolve to it."""
    code = ("import sys; from ballistics.cmc import CMCParams; from ballistics.evaluate import evaluate; "
            f"evaluate({str(manifest)!r}, {str(out)!r}, workers={workers}, rotate_random=20261123, "
            f"params=CMCParams(angle_span={span}), progress=True)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=source, env=dict(os.environ, PYTHONPATH=str(source)))


def _read(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(path, newline="") as handle:
        return {(row["file_a"], row["file_b"]): row for row in csv.DictReader(handle)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--span", type=float, default=18.0)
    parser.add_argument("--coarse-step", type=float, default=4.0)
    parser.add_argument("--candidates", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    args = parser.parse_args()
    if not args.manifest.exists():
        sys.exit(f"no Fadul manifest at {args.manifest}: the shared data folder is needed")
    threshold = json.loads((DATA / "fadul_reference_summary.json").read_text())["threshold"]
    reference = _read(DATA / "fadul_reference_results.csv")
    with tempfile.TemporaryDirectory() as scratch:
        source = _variant(Path(scratch) / "src", args.coarse_step, args.candidates)
        out = Path(scratch) / "report"
        _evaluate(source, args.manifest.resolve(), args.span, args.workers, out)
        pairs = _read(out / "pairs.csv")
        summary = json.loads((out / "summary.json").read_text())
    changed = beyond = 0
    moved = []
    for key, ref in reference.items():
        row = pairs[key]
        deltas = [int(row[name]) - int(ref[name]) for name in ("cmc_original_ab", "cmc_original_ba", "high_cmc")]
        changed += any(deltas)
        beyond += max(map(abs, deltas)) > 2
        if (float(row["score"]) > threshold) != (ref["called_same_source"] == "True"):
            moved.append(f"{key[0]} vs {key[1]}")
    seconds = statistics.median(float(row["seconds"]) for row in pairs.values())
    print(f"span +-{args.span:g} deg, coarse grid {args.coarse_step:g} deg, {args.candidates} candidates: "
          f"median {seconds:.3f} s per pair ({args.workers} workers); counts changed on {changed} of {len(reference)} "
          f"pairs, by more than 2 on {beyond} ({beyond / len(reference):.1%}; the test allows 5 %); decisions moved: "
          f"{len(moved)} {moved[:5]}; AUC {summary['score']['auc']:.4f}, High-CMC AUC {summary['high_cmc']['auc']:.4f}")


if __name__ == "__main__":
    main()
