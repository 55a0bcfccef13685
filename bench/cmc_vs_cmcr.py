"""Our CMC counts on Fadul beside cmcR's published ones (20 px / 0.5 / 6 degrees, detrended).

Usage: python bench/cmc_vs_cmcr.py PAIRS_CSV
  PAIRS_CSV: pairs.csv of a `ballistics evaluate` report on ../shared/data/fadul/ground_truth.csv
Reference: ../shared/data/fadul-cmcR-reference.csv (Zemmels, VanderPlas, Hofmann 2023).
"""
from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

from ballistics.scoring import auc

REFERENCE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fadul-cmcR-reference.csv"


def cmcr_counts() -> dict[tuple[str, str], list[int]]:
    counts: dict[tuple[str, str], list[int]] = defaultdict(list)
    with open(REFERENCE, newline="") as handle:
        for r in csv.DictReader(handle):
            if (float(r["transThresh"]), float(r["corThresh"]), float(r["thetaThresh"]), r["trendRemoved"]) \
                    == (20.0, 0.5, 6.0, "True"):
                rule = "High-CMC" if r["decisionRule"] == "highCMCs" else "original"
                counts[(rule, r["type"])] += [int(r["cmcCount"])] * int(r["n"])
    return counts


def our_counts(pairs_csv: Path) -> dict[tuple[str, str], list[int]]:
    counts: dict[tuple[str, str], list[int]] = defaultdict(list)
    with open(pairs_csv, newline="") as handle:
        for r in csv.DictReader(handle):
            if r["error"]:
                continue
            kind = "match" if r["same_source"] == "True" else "non-match"
            counts[("High-CMC", kind)].append(int(r["high_cmc"]))
            # cmcR reports one original-rule count per pair; we show the smaller of our two directions.
            counts[("original", kind)].append(min(int(r["cmc_original_ab"]), int(r["cmc_original_ba"])))
    return counts


def summary(values: list[int]) -> str:
    values = sorted(values)
    return f"{values[0]:>3}-{values[-1]:<3} median {values[len(values) // 2]:>3}  (n={len(values)})"


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ours, theirs = our_counts(Path(sys.argv[1])), cmcr_counts()
    print(f"{'rule':<9} {'pairs':<10} {'cmcR':<30} {'ours':<30}")
    for rule in ("original", "High-CMC"):
        for kind in ("match", "non-match"):
            print(f"{rule:<9} {kind:<10} {summary(theirs[(rule, kind)]):<30} {summary(ours[(rule, kind)]):<30}")
        a_ours = auc(ours[(rule, "match")] + ours[(rule, "non-match")],
                     [True] * len(ours[(rule, "match")]) + [False] * len(ours[(rule, "non-match")]))
        a_theirs = auc(theirs[(rule, "match")] + theirs[(rule, "non-match")],
                       [True] * len(theirs[(rule, "match")]) + [False] * len(theirs[(rule, "non-match")]))
        print(f"{rule:<9} {'AUC':<10} {a_theirs:<30.4f} {a_ours:<30.4f}")


if __name__ == "__main__":
    main()
