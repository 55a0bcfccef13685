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


@pytest.mark.parametrize(("heights", "pixel_size", "message"), [
    (np.zeros((0, 4)), 1e-6, "non-empty 2-D"),
    (np.zeros(4), 1e-6, "non-empty 2-D"),
    (np.zeros((2, 2)), 0.0, "positive"),
    (np.zeros((2, 2)), float("nan"), "positive"),
])
def test_bad_surfaces_are_refused_with_a_reason(heights, pixel_size, message):
    with pytest.raises(ValueError, match=message):
        Surface(heights, pixel_size)
