"""Codes and library wording shown to people go through translated labels."""
from __future__ import annotations

import numpy as np

from ballistics.scoring import verbal_scale
from qms.comparisons.calibration import VERBAL_LABELS, verbal_label


def test_every_step_of_the_verbal_scale_has_a_translated_label(app) -> None:  # type: ignore[no-untyped-def]
    wording = {verbal_scale(value) for value in np.linspace(-8.0, 8.0, 1601)}
    assert wording <= set(VERBAL_LABELS), sorted(wording - set(VERBAL_LABELS))
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert verbal_label(2.5) == "moderately strong support for same source"
