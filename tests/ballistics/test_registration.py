"""Registration: masked NCC and the full-circle rotation/translation search, with built ground truth."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy.ndimage import gaussian_filter

from ballistics.registration import Alignment, masked_ncc, register, rotate_masked, warp
from ballistics.surface import Surface


def textured(seed: int, side: int = 128, *, sigma: float = 2.0, radius: float = 0.42,
             hole: float = 0.0, pixel_size: float = 6.25e-6) -> Surface:
    """A smooth random texture on a disc (optionally an annulus), NaN elsewhere, like a breech face."""
    z = gaussian_filter(np.random.default_rng(seed).normal(size=(side, side)), sigma) * 1e-6
    yy, xx = np.mgrid[:side, :side]
    r = np.hypot(yy - (side - 1) / 2, xx - (side - 1) / 2) / side
    z[(r > radius) | (r < hole)] = np.nan
    return Surface(z, pixel_size, processed=True)


def moved(surface: Surface, angle: float, dx: float, dy: float) -> Surface:
    """The surface rotated and shifted by a known alignment: the ground truth of every test here."""
    return warp(surface, Alignment(angle, dx, dy, 1.0, 0), surface.shape)


# --------------------------------------------------------------------------------------------------
# masked_ncc
# --------------------------------------------------------------------------------------------------

def test_masked_ncc_finds_a_known_shift():
    a = gaussian_filter(np.random.default_rng(0).normal(size=(60, 70)), 1.5)
    b = np.roll(a, (4, -6), axis=(0, 1))
    c = masked_ncc(a, b)
    i, j = np.unravel_index(np.nanargmax(c), c.shape)
    # Index (i, j) is the translation (i - rows + 1, j - cols + 1) of b over a: b must move back.
    assert (i - 60 + 1, j - 70 + 1) == (-4, 6)
    assert c[i, j] == pytest.approx(1.0, abs=0.05)


def test_masked_points_do_not_count():
    """Whatever sits under the mask, the correlation is the same (Padfield 2012)."""
    rng = np.random.default_rng(1)
    a = gaussian_filter(rng.normal(size=(50, 50)), 1.5)
    mask = np.ones(a.shape, bool)
    mask[10:30, 5:25] = False
    garbage = a.copy()
    garbage[~mask] = rng.normal(size=(~mask).sum()) * 1e6
    zeros = a.copy()
    zeros[~mask] = 0.0
    with_garbage = masked_ncc(a, garbage, moving_mask=mask)
    with_zeros = masked_ncc(a, zeros, moving_mask=mask)
    assert_allclose(np.nan_to_num(with_garbage), np.nan_to_num(with_zeros), atol=1e-4)
    centre = (49, 49)  # zero translation
    assert with_garbage[centre] == pytest.approx(1.0, abs=1e-3)


def test_nan_is_missing_like_the_mask():
    a = gaussian_filter(np.random.default_rng(2).normal(size=(40, 40)), 1.5)
    b = a.copy()
    b[:15, :15] = np.nan
    c = masked_ncc(a, b)
    assert c[39, 39] == pytest.approx(1.0, abs=1e-3)


def test_masked_ncc_refuses_empty_input():
    with pytest.raises(ValueError, match="valid points"):
        masked_ncc(np.ones((5, 5)), np.full((5, 5), np.nan))
    with pytest.raises(ValueError, match="2-D"):
        masked_ncc(np.ones(5), np.ones((5, 5)))


# --------------------------------------------------------------------------------------------------
# rotate_masked and warp
# --------------------------------------------------------------------------------------------------

def test_rotation_never_leaks_missing_data_into_values():
    values = np.arange(100.0).reshape(10, 10)
    mask = np.ones((10, 10), bool)
    mask[4, 4] = False
    out, valid = rotate_masked(values, mask, 0.0)
    assert not valid[4, 4] and valid[0, 0]
    _, valid = rotate_masked(values, mask, 0.0, dx=0.5)
    # Half a pixel to the right: both destination points next to the hole read it.
    assert not valid[4, 4] and not valid[4, 5]


def test_quarter_turn_is_exact():
    z = np.random.default_rng(3).normal(size=(9, 9))
    out, valid = rotate_masked(z, np.ones(z.shape, bool), 90.0)
    # Counter-clockwise as displayed (rows down) is numpy's rot90.
    assert valid.all()
    assert_allclose(out, np.rot90(z), atol=1e-5)


def test_warp_leaves_its_input_alone():
    s = textured(4, 64)
    before = s.heights.copy()
    warp(s, Alignment(33.0, 2.0, -1.0, 1.0, 0), s.shape)
    assert_allclose(s.heights, before, equal_nan=True)


def test_inverse_alignment_undoes_the_alignment():
    s = textured(5, 96, radius=0.3)
    al = Alignment(40.0, 5.0, -3.0, 1.0, 0)
    back = warp(warp(s, al, s.shape), al.inverse(), s.shape)
    both = s.mask & back.mask
    # Each bilinear warp loses about a pixel along the rim of the disc.
    assert both.sum() > 0.7 * s.mask.sum()
    assert np.corrcoef(s.heights[both], back.heights[both])[0, 1] > 0.99


# --------------------------------------------------------------------------------------------------
# register
# --------------------------------------------------------------------------------------------------

@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), angle=st.floats(-180, 180), dx=st.floats(-8, 8), dy=st.floats(-8, 8))
def test_known_rotation_and_translation_are_recovered(seed, angle, dx, dy):
    """Property: any rotation of the full circle and a shift are recovered within 1 degree and 1 px."""
    s = textured(seed, 128, hole=0.15)
    target = moved(s, angle, dx, dy)
    found = register(target, s)
    assert abs((found.angle_deg - angle + 180) % 360 - 180) <= 1.0
    assert abs(found.dx - dx) <= 1.0 and abs(found.dy - dy) <= 1.0
    assert found.correlation > 0.9


@pytest.mark.parametrize(("dx", "dy"), [(30.0, 0.0), (-24.0, 22.0), (0.0, -33.0)])
def test_large_shifts_near_the_overlap_limit_are_recovered(dx, dy):
    """The search only transforms the shifts where the overlap can reach its minimum: a shift of a
    quarter of the disc still lies among them."""
    s = textured(11, 128)
    found = register(moved(s, 35.0, dx, dy), s)
    assert abs(found.angle_deg - 35.0) <= 1.0
    assert abs(found.dx - dx) <= 1.0 and abs(found.dy - dy) <= 1.0


def test_alignment_reports_the_full_circle_curve():
    s = textured(6, 96)
    found = register(moved(s, -120.0, 0, 0), s)
    assert len(found.angles_deg) == len(found.curve) == 90
    assert min(found.angles_deg) == -180 and max(found.angles_deg) == 176
    best = found.angles_deg[int(np.nanargmax(found.curve))]
    assert abs(best + 120) <= 4


def test_restricted_angle_range_is_honoured():
    s = textured(7, 96)
    found = register(moved(s, 10.0, 0, 0), s, angle_range=(-30, 30))
    assert all(-30 <= a <= 30 for a in found.angles_deg)
    assert abs(found.angle_deg - 10) <= 1


def test_different_pixel_sizes_are_refused():
    a = textured(8, 64)
    b = textured(8, 64, pixel_size=3.125e-6)
    with pytest.raises(ValueError, match="pixel sizes differ"):
        register(a, b)


def test_all_missing_surface_is_refused():
    a = textured(9, 64)
    empty = Surface(np.full((64, 64), np.nan), a.pixel_size, processed=True)
    with pytest.raises(ValueError, match="all NaN"):
        register(a, empty)


@pytest.mark.slow
def test_fadul_known_match_aligns(fadul_dir):
    from ballistics.io import read_surface

    a = read_surface(fadul_dir / "Fadul 1-1.x3p")
    b = read_surface(fadul_dir / "Fadul 1-2.x3p")
    found = register(a, b)
    turned = register(a, moved(b, 100.0, 0, 0))
    # Same pair, B turned by a further 100 degrees: the found angle moves by 100.
    assert found.correlation > 0.6
    assert abs((turned.angle_deg - found.angle_deg + 100 + 180) % 360 - 180) <= 1.0
