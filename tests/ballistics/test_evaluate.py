"""Validation runs: a small synthetic set end to end, and the Fadul acceptance test (780 pairs)."""
from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytest

from ballistics.evaluate import evaluate, read_manifest
from ballistics.io import write_x3p
from ballistics.scoring import Calibration, auc, log10_lr
from ballistics.synth import synthetic_set

REPORT_FILES = ["summary.json", "pairs.csv", "errors.csv", "calibration.json", "parameters.json", "roc.png",
                "roc_high_cmc.png", "histogram_score.png", "histogram_high_cmc.png", "tippett.png",
                "calibration.png", "report.html"]


def write_set(folder: Path, n_firearms: int = 3, shots: int = 2, *, side: int = 128) -> Path:
    """Synthetic scans as X3P files plus a manifest with relative paths."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, firearm, surface in synthetic_set(n_firearms, shots, seed=5, shape=(side, side), noise=0.5):
        write_x3p(surface, folder / f"{name}.x3p")
        rows.append({"file": f"{name}.x3p", "firearm": firearm})
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["file", "firearm"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> tuple[Path, object]:
    folder = tmp_path_factory.mktemp("synthetic")
    manifest = write_set(folder, n_firearms=4)  # four firearms: the fewest that cross-validation by firearm needs
    return manifest, evaluate(manifest, folder / "report", workers=2, rotate_random=3, progress=False)


def test_report_folder_is_complete(small_run):
    _, result = small_run
    for name in REPORT_FILES:
        assert (result.out_dir / name).stat().st_size > 0, name
    summary = json.loads((result.out_dir / "summary.json").read_text())
    assert summary["pairs"] == 28 and summary["failed"] == 0
    assert summary["score"]["n_same"] == 4 and summary["score"]["n_different"] == 24
    for key in ("auc", "eer", "cllr", "cllr_min", "threshold", "false_positives", "false_negatives"):
        assert key in summary["score"]
    assert summary["parameters"]["software"]["numpy"] == np.__version__
    Calibration.from_json((result.out_dir / "calibration.json").read_text())


def test_pair_table_matches_the_summary(small_run):
    _, result = small_run
    with open(result.out_dir / "pairs.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 28
    scores = [float(r["score"]) for r in rows]
    labels = [r["same_source"] == "True" for r in rows]
    assert auc(scores, labels) == pytest.approx(result.performance.auc)
    # Every pair of the second scan was turned by a random angle, different from pair to pair.
    assert len({r["rotation_deg"] for r in rows}) == 28
    assert all(r["verbal_scale"] for r in rows)


def test_summary_and_report_give_the_cross_validated_cllr_with_its_interval(small_run):
    _, result = small_run
    cross = json.loads((result.out_dir / "summary.json").read_text())["cross_validation"]
    assert cross["available"] is True
    for key in ("cllr", "cllr_interval", "cllr_min", "cllr_min_interval", "misleading_different",
                "misleading_same", "misleading_different_count", "misleading_same_count", "bootstrap_resamples",
                "bootstrap_seed", "bootstrap_unit", "folds", "firearms", "method"):
        assert key in cross, key
    assert (cross["n_same"], cross["n_different"], cross["firearms"]) == (4, 24, 4)
    assert cross["cllr_interval"][0] <= cross["cllr"] <= cross["cllr_interval"][1]
    page = (result.out_dir / "report.html").read_text()
    assert "Likelihood ratios cross-validated by firearm" in page
    assert f"{cross['cllr']:.4f} (95 % interval {cross['cllr_interval'][0]:.4f}" in page


def test_too_small_a_set_says_why_it_is_not_cross_validated(tmp_path):
    manifest = write_set(tmp_path, n_firearms=3, shots=2, side=96)
    result = evaluate(manifest, tmp_path / "report", workers=1, progress=False)
    assert result.summary["cross_validation"]["available"] is False
    assert "too few firearms" in result.summary["cross_validation"]["reason"]
    assert "Not available: too few firearms" in (tmp_path / "report" / "report.html").read_text()


def test_html_report_is_self_contained(small_run):
    _, result = small_run
    page = (result.out_dir / "report.html").read_text()
    assert "<script" not in page.lower()
    assert "http://" not in page and "https://" not in page
    assert page.count("data:image/png;base64,") == 6


def test_the_same_seed_gives_the_same_report(small_run, tmp_path):
    manifest, first = small_run
    again = evaluate(manifest, tmp_path / "again", workers=1, rotate_random=3, progress=False)
    assert [p.score for p in again.pairs] == [p.score for p in first.pairs]


@pytest.mark.parametrize("content, message", [
    ("name,gun\na.x3p,1\n", "columns"), ("file,firearm\nmissing.x3p,1\nother.x3p,2\n", "missing"),
])
def test_bad_manifests_are_refused(tmp_path, content, message):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_manifest(manifest)


def test_a_set_without_known_matches_is_refused(tmp_path):
    manifest = write_set(tmp_path, n_firearms=2, shots=1)
    with pytest.raises(ValueError, match="no known matches"):
        read_manifest(manifest)


# --------------------------------------------------------------------------------------------------
# Fadul acceptance: 780 pairs, one scan of every pair turned by a random angle
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def fadul_run(fadul_dir, tmp_path_factory):
    """The full Fadul evaluation, run once per session on 2 workers and shared by the assertions."""
    started = time.perf_counter()
    result = evaluate(fadul_dir / "ground_truth.csv", tmp_path_factory.mktemp("fadul-report"), workers=2,
                      rotate_random=20261123, progress=False)
    print(f"\nFadul evaluation: 780 pairs on 2 workers in {time.perf_counter() - started:.0f} s")
    return result


@pytest.mark.slow
def test_fadul_all_pairs_were_compared(fadul_run):
    assert fadul_run.summary["pairs"] == 780 and fadul_run.summary["failed"] == 0
    assert (fadul_run.performance.n_same, fadul_run.performance.n_different) == (63, 717)


@pytest.mark.slow
def test_fadul_high_cmc_separates_perfectly(fadul_run):
    """AUC 1.0 on the High-CMC count, as cmcR reports at 20 px / 0.5 / 6 degrees (Zemmels et al.)."""
    assert fadul_run.summary["high_cmc"]["auc"] == 1.0
    assert fadul_run.performance.auc == 1.0


@pytest.mark.slow
def test_fadul_likelihood_ratios_are_graded_and_never_misleading_strongly(fadul_run):
    """No known non-match gets more than weak support for same source (LR < 10), the known matches
    get LR > 1; cross-validated by firearm, no LR above 100 for a non-match nor below 0.01 for a match."""
    ok = [p for p in fadul_run.pairs if not p.error]
    scores = np.array([p.score for p in ok])
    same = np.array([p.same_source for p in ok])
    lrs = log10_lr(fadul_run.calibration, scores)
    assert lrs[~same].max() < 1 and np.mean(lrs[same] > 0) >= 0.95
    assert len(np.unique(lrs[~same])) > 20  # graded, not the one step of the retired calibration
    cross = fadul_run.summary["cross_validation"]
    assert cross["available"] and cross["folds"] == 55 and cross["firearms"] == 10
    assert cross["misleading_different_count"] == 0 and cross["misleading_same_count"] == 0
    assert cross["cllr"] < 0.1 and cross["cllr_interval"][1] < 0.2


REFERENCE = Path(__file__).parent / "data" / "fadul_reference_results.csv"


@pytest.mark.slow
def test_fadul_results_stay_those_of_the_stored_reference(fadul_run):
    """The engine may get faster, not different: the same decisions on every pair as the stored run
    (bench/fadul_reference.py), and CMC counts within 2 of it for at least 95 % of the pairs."""
    threshold = json.loads((REFERENCE.parent / "fadul_reference_summary.json").read_text())["threshold"]
    with open(REFERENCE, newline="") as handle:
        reference = {(r["file_a"], r["file_b"]): r for r in csv.DictReader(handle)}
    pairs = [p for p in fadul_run.pairs if not p.error]
    assert {(p.file_a, p.file_b) for p in pairs} == set(reference)
    moved, far = [], []
    for p in pairs:
        ref = reference[(p.file_a, p.file_b)]
        assert p.rotation_deg == pytest.approx(float(ref["rotation_deg"]), abs=1e-9)  # the same task
        if (p.score > threshold) != (ref["called_same_source"] == "True"):
            moved.append(f"{p.file_a} vs {p.file_b}: {float(ref['score']):.3f} -> {p.score:.3f}")
        changes = (p.cmc_original_ab - int(ref["cmc_original_ab"]), p.cmc_original_ba - int(ref["cmc_original_ba"]),
                   p.high_cmc - int(ref["high_cmc"]))
        if max(map(abs, changes)) > 2:
            far.append(changes)
    assert not moved, f"pairs that changed side of the threshold {threshold:.4f}: {moved}"
    assert len(far) <= 0.05 * len(pairs), f"{len(far)} pairs with a count changed by more than 2: {far[:10]}"
