"""Issue 17, "Any instrument": raw or processed scans at any pixel size are compared.

Acceptance 2: scans at three pixel sizes (6.25, 7.38 and 3.5 µm, plus 7.391 µm, 0.15 % off 7.38 as
between two Cadre TopMatch scans) in raw and processed forms, built from the Fadul scans; every pair
compares, through the library and `ballistics evaluate`, and the known matches still score above
the decision threshold of the stored Fadul reference run. The only refusals left are for data that
cannot be read or used.

The Fadul scans are processed (band-passed, 6.25 µm); `tests.instruments.variant` makes the raw and
processed forms at other pixel sizes.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from ballistics import cli
from ballistics.cmc import compare
from ballistics.io import read_surface, write_x3p
from ballistics.registration import Alignment, warp
from ballistics.surface import Surface
from tests.instruments import variant

REFERENCE = Path(__file__).parent / "data" / "fadul_reference_summary.json"

# One form per scan: (processed?, pixel size in µm). Chosen before looking at any score.
FORMS = {
    "Fadul 1-1.x3p": (True, 6.25),   # the stored scan itself
    "Fadul 1-2.x3p": (False, 7.38),
    "Fadul 2-1.x3p": (False, 3.5),
    "Fadul 2-2.x3p": (True, 7.38),
    "Fadul 3-1.x3p": (False, 7.38),
    "Fadul 3-2.x3p": (False, 7.391),  # 0.15 % off 7.38
}


@pytest.fixture(scope="module")
def mixed_set(fadul_dir: Path, fadul_truth: dict[str, str], tmp_path_factory) -> Path:
    """The six variants as X3P files (written by `ballistics.io.write_x3p`) and their manifest."""
    folder = tmp_path_factory.mktemp("any-instrument")
    rows = [("file", "firearm")]
    for seed, (name, (processed, size)) in enumerate(FORMS.items()):
        target = folder / f"{Path(name).stem} {'processed' if processed else 'raw'} {size} um.x3p"
        write_x3p(variant(read_surface(fadul_dir / name), processed=processed, pixel_size_um=size, seed=seed), target)
        rows.append((target.name, fadul_truth[name]))
    with open(folder / "manifest.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return folder / "manifest.csv"


def _threshold() -> float:
    return float(json.loads(REFERENCE.read_text())["threshold"])


def test_every_pair_compares_and_known_matches_pass_the_threshold(mixed_set, tmp_path, capsys):
    """Acceptance 2, through `ballistics evaluate` (which once refused 27 of 36 such pairs)."""
    out = tmp_path / "report"
    code = cli.main(["evaluate", str(mixed_set), "--out", str(out), "--workers", "1", "--quiet"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    with open(out / "pairs.csv", newline="") as handle:
        pairs = list(csv.DictReader(handle))
    assert len(pairs) == 15 and not [p["error"] for p in pairs if p["error"]]
    assert {float(p["pixel_size_um"]) for p in pairs} == {6.25}
    matches = [p for p in pairs if p["same_source"] == "True"]
    non_matches = [p for p in pairs if p["same_source"] == "False"]
    assert len(matches) == 3
    print("\nknown matches:", [(p["file_a"], p["file_b"], round(float(p["score"]), 3)) for p in matches])
    print("highest known non-match:", max(float(p["score"]) for p in non_matches))
    assert min(float(p["score"]) for p in matches) > _threshold()
    assert max(float(p["score"]) for p in non_matches) < _threshold()
    raw_3_5 = next(p for p in matches if "2-1 raw 3.5" in p["file_a"] + p["file_b"])
    assert "preprocessed from raw at 3.5 um" in raw_3_5["preparation"]
    assert "resampled from 7.38 um" in raw_3_5["preparation"]


def test_the_comparison_records_its_working_pixel_size(mixed_set):
    a, b = (read_surface(mixed_set.parent / f"Fadul 3-{n} raw {s} um.x3p") for n, s in ((1, 7.38), (2, 7.391)))
    assert not a.processed and not b.processed and a.metadata["instrument"] == "Cadre Forensics TopMatch-3D HD"
    result = compare(a, b)
    assert result.pixel_size_um == pytest.approx(6.25)
    assert result.preparation == ("preprocessed from raw at 7.38 um", "preprocessed from raw at 7.391 um")
    assert result.score > _threshold()


@pytest.mark.parametrize("file_a, file_b", [("Fadul 1-1.x3p", "Fadul 1-2.x3p"), ("Fadul 1-1.x3p", "Fadul 10-1.x3p"),
                                            ("Fadul 2-1.x3p", "Fadul 3-2.x3p")])
def test_same_size_processed_pairs_keep_their_stored_results(fadul_dir, file_a, file_b):
    """The new path is a no-op for processed scans of one pixel size: three pairs of the stored Fadul
    table (same rotation as stored) give the same decision and counts within 2, as the full run must."""
    with open(Path(__file__).parent / "data" / "fadul_reference_results.csv", newline="") as handle:
        stored = next(r for r in csv.DictReader(handle) if (r["file_a"], r["file_b"]) == (file_a, file_b))
    turned = Alignment(float(stored["rotation_deg"]), 0.0, 0.0, 0.0, 0)
    b = read_surface(fadul_dir / file_b)
    result = compare(read_surface(fadul_dir / file_a), warp(b, turned, b.shape))
    assert result.preparation == ("as given", "as given") and result.pixel_size_um == pytest.approx(6.25)
    assert (result.score > _threshold()) == (stored["called_same_source"] == "True")
    counts = (*result.cmc_original, result.high_cmc, result.possible_cells)
    expected = tuple(int(stored[k]) for k in ("cmc_original_ab", "cmc_original_ba", "high_cmc", "possible_cells"))
    assert max(abs(x - y) for x, y in zip(counts, expected, strict=True)) <= 2, (counts, expected)


def test_cli_compare_states_the_working_size(mixed_set, capsys):
    files = [str(mixed_set.parent / name) for name in ("Fadul 2-1 raw 3.5 um.x3p", "Fadul 2-2 processed 7.38 um.x3p")]
    assert cli.main(["compare", *files, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["pixel_size_um"] == pytest.approx(6.25)
    assert doc["preparation"] == ["preprocessed from raw at 3.5 um", "resampled from 7.38 um"]


# --------------------------------------------------------------------------------------------------
# The refusals left: unreadable or unusable data
# --------------------------------------------------------------------------------------------------

def test_a_garbage_file_is_refused_with_exit_code_1(mixed_set, tmp_path, capsys):
    garbage = tmp_path / "garbage.x3p"
    garbage.write_bytes(b"this is not a scan at all")
    good = str(mixed_set.parent / "Fadul 1-2 raw 7.38 um.x3p")
    assert cli.main(["compare", str(garbage), good]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ballistics compare: error:") and "garbage.x3p: unrecognised file type" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_an_all_nan_surface_is_refused_as_unusable(mixed_set):
    good = read_surface(mixed_set.parent / "Fadul 1-2 raw 7.38 um.x3p")
    empty = Surface(np.full((64, 64), np.nan), 3.5e-6)
    with pytest.raises(ValueError, match=r"surface B has no valid points \(all NaN\): nothing to compare"):
        compare(good, empty)


def test_a_raw_scan_with_nothing_usable_is_refused_with_the_reason(mixed_set):
    good = read_surface(mixed_set.parent / "Fadul 1-2 raw 7.38 um.x3p")
    speck = np.full((64, 64), np.nan)
    speck[30:32, 30:32] = 1e-6  # four measured points: nothing survives the edge erosion
    with pytest.raises(ValueError, match="cannot prepare the scans for comparison: .*empty"):
        compare(good, Surface(speck, 7.38e-6))


def test_an_unusable_scan_exits_1_with_one_line(tmp_path, capsys):
    path = tmp_path / "diagonal.x3p"
    write_x3p(Surface(np.where(np.eye(8, dtype=bool), 1e-6, np.nan), 7.38e-6), path)  # eight points
    assert cli.main(["compare", str(path), str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ballistics compare: error:") and err.count("\n") == 1 and "Traceback" not in err
