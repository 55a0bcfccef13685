"""The Surface value: read-only, validated, picklable for worker processes."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from ballistics.surface import Surface


def test_surface_pickles_with_its_metadata_and_stays_read_only():
    surface = Surface(np.array([[1.0, np.nan], [2.0, 3.0]]), 6.25e-6, metadata={"file": "a.x3p"})
    copy = pickle.loads(pickle.dumps(surface))
    np.testing.assert_array_equal(copy.heights, surface.heights)
    assert copy.metadata == {"file": "a.x3p"} and copy.pixel_size == surface.pixel_size
    with pytest.raises(ValueError):
        copy.heights[0, 0] = 5.0


def test_input_array_is_copied_not_shared():
    heights = np.zeros((3, 3))
    surface = Surface(heights, 1e-6)
    heights[0, 0] = 9.0
    assert surface.heights[0, 0] == 0.0


def test_the_validity_mask_is_computed_once_and_cannot_be_changed_through_the_surface():
    surface = Surface(np.array([[1.0, np.nan], [2.0, 3.0]]), 1e-6)
    assert surface.valid is surface.valid
    with pytest.raises(ValueError):
        surface.valid[0, 0] = False
    mask = surface.mask  # a copy, free to change
    mask[0, 0] = False
    np.testing.assert_array_equal(surface.mask, [[True, False], [True, True]])


def test_derived_values_are_computed_once_per_surface_and_key():
    surface = Surface(np.arange(4.0).reshape(2, 2), 1e-6)
    calls = []
    for key in ("sum", "sum", "max"):
        surface.derived(key, lambda: calls.append(key) or len(calls))
    assert calls == ["sum", "max"] and surface.derived("sum", lambda: -1) == 1
    assert surface.with_heights(surface.heights + 1).derived("sum", lambda: -1) == -1
    assert pickle.loads(pickle.dumps(surface)).derived("sum", lambda: -1) == -1


@pytest.mark.parametrize(("heights", "pixel_size", "message"), [
    (np.zeros((0, 4)), 1e-6, "non-empty 2-D"),
    (np.zeros(4), 1e-6, "non-empty 2-D"),
    (np.zeros((2, 2)), 0.0, "positive"),
    (np.zeros((2, 2)), float("nan"), "positive"),
])
def test_bad_surfaces_are_refused_with_a_reason(heights, pixel_size, message):
    with pytest.raises(ValueError, match=message):
        Surface(heights, pixel_size)
