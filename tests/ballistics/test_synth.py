"""Tests for ballistics.synth: deterministic synthetic breech faces with known ground truth."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from ballistics.synth import firearm_signature, shot, synthetic_set


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    both = ~np.isnan(a) & ~np.isnan(b)
    x, y = a[both] - a[both].mean(), b[both] - b[both].mean()
    return float((x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum()))


@pytest.fixture(scope="module")
def signature():
    return firearm_signature(11, shape=(96, 96))


def test_same_seed_same_surface_other_seed_other_surface(signature):
    first = shot(signature, seed=3, rotation_deg=7.0, marking=0.7)
    again = shot(firearm_signature(11, shape=(96, 96)), seed=3, rotation_deg=7.0, marking=0.7)
    other = shot(signature, seed=4, rotation_deg=7.0, marking=0.7)
    np.testing.assert_array_equal(first.heights, again.heights)
    assert not np.array_equal(first.heights, other.heights, equal_nan=True)


def test_topography_shot_is_processed_like(signature):
    surface = shot(signature, seed=1, amplitude=2e-6)
    assert surface.shape == (96, 96) and surface.pixel_size == 6.25e-6
    assert surface.processed and surface.kind == "topography"
    valid = surface.heights[surface.mask]
    assert abs(valid.mean()) < 1e-12 and valid.std() == pytest.approx(2e-6)
    # NaN outside the annulus and in the firing-pin hole, like the processed Fadul scans
    assert np.isnan(surface.heights[0, 0]) and np.isnan(surface.heights[48, 48])
    assert 0.4 < surface.valid_fraction < 0.7


def test_same_firearm_correlates_and_different_firearms_do_not(signature):
    other = firearm_signature(12, shape=(96, 96))
    a, b = shot(signature, seed=1), shot(signature, seed=2)
    c = shot(other, seed=3)
    assert correlation(a.heights, b.heights) > 0.5
    assert abs(correlation(a.heights, c.heights)) < 0.15


def test_noise_and_partial_marking_lower_the_similarity(signature):
    reference = shot(signature, seed=1, noise=0.0)
    clean = correlation(reference.heights, shot(signature, seed=2, noise=0.2).heights)
    noisy = correlation(reference.heights, shot(signature, seed=2, noise=1.5).heights)
    partial = correlation(reference.heights, shot(signature, seed=2, noise=0.2, marking=0.3).heights)
    assert clean > noisy and clean > partial


def test_rotation_and_shift_are_the_ground_truth(signature):
    """Undoing the stated rotation and shift with OpenCV brings the shot back onto the unmoved one."""
    still = shot(signature, seed=5, noise=0.0)
    moved = shot(signature, seed=5, noise=0.0, rotation_deg=12.0, shift_px=(3.0, -4.0))
    centre = (47.5 + -4.0, 47.5 + 3.0)  # (x, y) of the moved signature centre
    undo = cv2.getRotationMatrix2D(centre, -12.0, 1.0)
    undo[0, 2] += 4.0
    undo[1, 2] -= 3.0
    restored = cv2.warpAffine(np.nan_to_num(moved.heights), undo, (96, 96), flags=cv2.INTER_LINEAR)
    restored[cv2.warpAffine(moved.mask.astype(np.uint8), undo, (96, 96)) == 0] = np.nan
    assert correlation(restored, still.heights) > 0.9
    assert correlation(moved.heights, still.heights) < 0.5
    assert moved.metadata["rotation_deg"] == 12.0 and moved.metadata["shift_px"] == (3.0, -4.0)


def test_image_kind_has_lighting_gradient_in_unit_range(signature):
    flat = shot(signature, seed=2, kind="image", lighting=0.0)
    lit = shot(signature, seed=2, kind="image", lighting=0.4)
    assert lit.kind == "image" and not lit.processed
    assert np.nanmin(lit.heights) >= 0.0 and np.nanmax(lit.heights) <= 1.0
    yy, xx = np.nonzero(lit.mask)
    design = np.column_stack([np.ones_like(xx), xx / 96, yy / 96])

    def slope(surface):
        coefficients, *_ = np.linalg.lstsq(design, surface.heights[lit.mask], rcond=None)
        return float(np.hypot(*coefficients[1:]))

    assert slope(flat) < 0.05
    assert slope(lit) == pytest.approx(0.4, rel=0.15)


def test_synthetic_set_names_firearms_and_ground_truth():
    items = list(synthetic_set(3, 4, seed=9, shape=(48, 48), rotation_range_deg=20))
    assert len(items) == 12
    names = [name for name, _, _ in items]
    assert len(set(names)) == 12 and names[0] == "F0000-S00"
    assert [firearm for _, firearm, _ in items].count("F0002") == 4
    for name, firearm, surface in items:
        assert surface.metadata["firearm"] == firearm and surface.metadata["name"] == name
        assert abs(surface.metadata["rotation_deg"]) <= 20
        assert surface.shape == (48, 48)
    again = list(synthetic_set(3, 4, seed=9, shape=(48, 48), rotation_range_deg=20))
    np.testing.assert_array_equal(items[5][2].heights, again[5][2].heights)


def test_synthetic_set_is_lazy():
    generator = synthetic_set(100_000, 10, seed=0, shape=(32, 32))
    name, _, surface = next(generator)  # one million shots promised, one made
    assert name == "F0000-S00" and surface.shape == (32, 32)


@pytest.mark.parametrize("options", [{"marking": 1.5}, {"noise": -1.0}, {"kind": "hologram"}])
def test_shot_refuses_bad_options(signature, options):
    with pytest.raises(ValueError):
        shot(signature, seed=0, **options)


def test_signature_refuses_tiny_shape():
    with pytest.raises(ValueError, match="16 x 16"):
        firearm_signature(0, shape=(8, 8))
