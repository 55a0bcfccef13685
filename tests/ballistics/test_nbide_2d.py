"""The 2D path end to end on the two NBIDE ring-light photographs of one Ruger pistol."""
from __future__ import annotations

import numpy as np

from ballistics.io import read_surface
from ballistics.preprocess import preprocess
from ballistics.registration import register


def test_nbide_known_match_registers_near_the_published_rotation(nbide_dir):
    first, second = (preprocess(read_surface(path)) for path in sorted(nbide_dir.glob("*.png")))
    alignment = register(first, second)
    print(f"NBIDE 2D: rotation {alignment.angle_deg:.2f} deg, shift ({alignment.dx:.1f}, {alignment.dy:.1f}) px, "
          f"correlation {alignment.correlation:.3f} (published: about 0.36 at -15 deg, opposite sign convention)")
    # Published magnitude 15 degrees (Tai & Eddy 2018); the sign depends on which image is rotated onto which.
    assert 13.0 <= abs(alignment.angle_deg) <= 17.0
    angles, curve = np.asarray(alignment.angles_deg), np.asarray(alignment.curve)
    away = np.abs((angles - alignment.angle_deg + 180.0) % 360.0 - 180.0) > 10.0
    assert alignment.correlation > 0.2
    assert np.nanmax(curve[away]) < 0.75 * alignment.correlation  # a distinct peak (measured: 0.18 vs 0.28)
    reverse = register(second, first)
    assert abs(reverse.angle_deg + alignment.angle_deg) < 1.5
