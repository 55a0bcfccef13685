"""CMC comparison: decision rules, symmetry, self-comparison, bad input, and the Fadul reference pairs."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ballistics.cmc import CMCParams, Comparison, compare
from ballistics.registration import Alignment, warp
from ballistics.surface import Surface
from ballistics.synth import firearm_signature, shot


def same_gun_pair(seed: int, *, angle: float = 0.0, side: int = 160) -> tuple[Surface, Surface, Surface]:
    """Two shots of one synthetic firearm (the second turned by ``angle``) and one of another."""
    gun = firearm_signature(seed, shape=(side, side))
    other = firearm_signature(seed + 10_000, shape=(side, side))
    a = shot(gun, seed=1, noise=0.5)
    b = shot(gun, seed=2, noise=0.5, rotation_deg=angle, shift_px=(3.0, -4.0))
    c = shot(other, seed=3, noise=0.5, rotation_deg=angle)
    return a, b, c


@pytest.fixture(scope="module")
def trio() -> tuple[Surface, Surface, Surface]:
    return same_gun_pair(7, angle=140.0)


def test_same_firearm_beats_different_firearm(trio):
    a, b, c = trio
    match, non_match = compare(a, b), compare(a, c)
    assert match.high_cmc > non_match.high_cmc
    assert match.score > non_match.score
    # The registration found the 140-degree turn of the second shot (B onto A: -140 + the shot's own).
    assert abs((match.alignment.angle_deg + 140 + 180) % 360 - 180) <= 2.0


def test_result_is_a_frozen_record_with_a_cell_table(trio):
    a, b, _ = trio
    r = compare(a, b)
    assert isinstance(r, Comparison)
    with pytest.raises(AttributeError):
        r.score = 0  # type: ignore[misc]
    forward, backward = r.directions
    assert forward.direction == "A->B" and backward.direction == "B->A"
    assert sum(c.direction == "A->B" for c in r.cells) == forward.valid_cells
    assert sum(c.cmc_original for c in r.cells if c.direction == "A->B") == r.cmc_original[0]
    assert r.params == CMCParams()
    assert r.to_dict()["high_cmc"] == r.high_cmc


def test_decision_rules_follow_their_definitions(trio):
    """Recount the original-rule CMCs from the cell table (Song 2013) and bound the High-CMC union."""
    a, b, _ = trio
    r = compare(a, b)
    p = r.params
    for d in r.directions:
        cells = [c for c in r.cells if c.direction == d.direction]
        med = (np.median([c.angle_deg for c in cells]), np.median([c.dx for c in cells]),
               np.median([c.dy for c in cells]))
        recount = sum(abs(c.angle_deg - med[0]) <= p.rotation_threshold
                      and abs(c.dx - med[1]) <= p.translation_threshold
                      and abs(c.dy - med[2]) <= p.translation_threshold and c.ccf >= p.correlation_threshold
                      for c in cells)
        assert recount == d.cmc_original
    assert max(d.high_cmc for d in r.directions) <= r.high_cmc <= r.possible_cells


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 1000), angle=st.floats(-180, 180))
def test_combined_score_is_symmetric(seed, angle):
    a, b, _ = same_gun_pair(seed, angle=angle, side=128)
    ab, ba = compare(a, b), compare(b, a)
    assert ab.score == ba.score
    assert ab.high_cmc == ba.high_cmc
    assert ab.cmc_original == ba.cmc_original[::-1]
    assert abs((ab.alignment.angle_deg + ba.alignment.angle_deg + 180) % 360 - 180) < 1e-6


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 1000))
def test_a_surface_compared_with_itself_scores_highest(seed):
    a, b, c = same_gun_pair(seed, angle=30.0, side=128)
    own = compare(a, a)
    assert own.high_cmc == own.possible_cells
    assert own.correlation == pytest.approx(1.0, abs=1e-4)  # float32 FFTs
    assert own.score > compare(a, b).score
    assert own.score > compare(a, c).score


def test_inputs_are_not_modified(trio):
    a, b, _ = trio
    before = a.heights.copy(), b.heights.copy()
    compare(a, b)
    np.testing.assert_array_equal(a.heights, before[0])
    np.testing.assert_array_equal(b.heights, before[1])


def test_what_a_comparison_keeps_with_a_scan_does_not_change_the_next_result(trio):
    """Cells, spectra and registration levels are kept with each surface for its next comparisons:
    the results are those of surfaces seen for the first time."""
    a, b, c = trio
    compare(a, c)
    compare(c, b)
    again = compare(a, b)
    fresh = compare(Surface(a.heights, a.pixel_size, processed=True), Surface(b.heights, b.pixel_size, processed=True))
    assert again.to_dict() == fresh.to_dict()


# --------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------

def test_different_pixel_sizes_are_compared_at_the_working_size(trio):
    a, b, _ = trio
    finer = Surface(np.kron(b.heights, np.ones((2, 2))), b.pixel_size / 2, processed=True)
    resampled = compare(a, finer)
    assert resampled.pixel_size_um == pytest.approx(6.25)
    assert resampled.preparation == ("as given", f"resampled from {finer.pixel_size_um:.4g} um")
    assert resampled.high_cmc >= compare(a, b).high_cmc - 3
    assert compare(finer, a).preparation == resampled.preparation[::-1]


def test_same_pixel_size_processed_pairs_are_compared_as_given(trio):
    a, b, _ = trio
    result = compare(a, b)
    assert result.preparation == ("as given", "as given")
    assert result.pixel_size_um == pytest.approx(a.pixel_size_um)


def test_nan_only_surface_is_refused(trio):
    a, _, _ = trio
    empty = Surface(np.full(a.shape, np.nan), a.pixel_size, processed=True)
    with pytest.raises(ValueError, match="no valid points"):
        compare(a, empty)


def test_unprocessed_surface_is_preprocessed_and_says_so(trio):
    a, b, _ = trio
    raw = Surface(b.heights, b.pixel_size, processed=False)
    result = compare(a, raw)
    assert result.preparation[1] == f"preprocessed from raw at {b.pixel_size_um:.4g} um"
    assert result.to_dict()["preparation"] == result.preparation
    assert compare(a, raw, allow_unprocessed=True).high_cmc == compare(a, b).high_cmc


def test_different_kinds_are_refused(trio):
    a, b, _ = trio
    image = Surface(np.nan_to_num(b.heights), b.pixel_size, kind="image", processed=True)
    with pytest.raises(ValueError, match="cannot compare"):
        compare(a, image)


@pytest.mark.parametrize("changes, message", [
    ({"grid": (0, 8)}, "grid"), ({"max_missing": 1.0}, "max_missing"), ({"region_factor": 0.5}, "region"),
    ({"angle_step": 0.0}, "angle_step"), ({"correlation_threshold": 2.0}, "correlation"),
    ({"min_cell_overlap": 0.0}, "min_cell_overlap"),
])
def test_parameters_are_checked(changes, message):
    with pytest.raises(ValueError, match=message):
        CMCParams(**changes)


# --------------------------------------------------------------------------------------------------
# Real scans: Fadul 1-1 against 1-2 (same slide) and 2-1 (another), cmcR reference ranges
# --------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_fadul_pairs_fall_in_the_cmcr_ranges(fadul_dir):
    """cmcR at 20 px / 0.5 / 6 deg: KM High-CMC 20-31 and KNM 0-10 (Zemmels et al. 2023)."""
    from ballistics.io import read_surface

    a, b, c = (read_surface(fadul_dir / f"Fadul {n}.x3p") for n in ("1-1", "1-2", "2-1"))
    match = compare(a, warp(b, Alignment(-75.0, 0.0, 0.0, 1.0, 0), b.shape))
    non_match = compare(a, c)
    assert match.high_cmc >= 20
    assert min(match.cmc_original) >= 6  # the classic identification criterion C >= 6
    assert non_match.high_cmc <= 10
    assert match.score > non_match.score
