"""Calibration and validation figures, checked against values worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ballistics.scoring import (
    Calibration,
    auc,
    cllr,
    cllr_min,
    eer,
    fit_calibration,
    log10_lr,
    performance,
    roc,
    verbal_scale,
)


def overlapping(seed: int = 0, n_same: int = 60, n_diff: int = 700, gap: float = 3.0):
    rng = np.random.default_rng(seed)
    scores = np.r_[rng.normal(gap, 1, n_same), rng.normal(0, 1, n_diff)]
    labels = np.r_[np.ones(n_same, bool), np.zeros(n_diff, bool)]
    return scores, labels


def test_auc_counts_ties_as_half():
    assert auc([1, 2, 3, 4], [0, 0, 1, 1]) == 1.0
    assert auc([1, 2, 3, 4], [1, 1, 0, 0]) == 0.0
    assert auc([1, 1], [1, 0]) == 0.5
    # 2 same-source x 2 different-source: 3 wins and one tie.
    assert auc([3, 2, 2, 1], [1, 1, 0, 0]) == pytest.approx(3.5 / 4)


def test_roc_runs_from_nothing_to_everything():
    fpr, tpr, thr = roc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(thr) < 0)


def test_eer_of_separated_and_of_interleaved_scores():
    assert eer([1, 2, 3, 4], [0, 0, 1, 1]) == (0.0, 2.5)
    rate, _ = eer([1, 2, 3, 4], [0, 1, 0, 1])
    assert rate == pytest.approx(0.5)


def test_cllr_reference_values():
    assert cllr([0.0, 0.0], [1, 0]) == pytest.approx(1.0)  # LR = 1 says nothing: 1 bit
    assert cllr([6.0, -6.0], [1, 0]) == pytest.approx(0.0, abs=1e-5)
    # One pair each way at LR 10 / 0.1: log2(1.1) bits.
    assert cllr([1.0, -1.0], [1, 0]) == pytest.approx(np.log2(1.1))
    # Confidently wrong is expensive.
    assert cllr([-3.0, 3.0], [1, 0]) > 9


def test_cllr_min_is_zero_for_separated_scores_and_below_cllr():
    assert cllr_min([1, 2, 3, 4], [0, 0, 1, 1]) == pytest.approx(0.0)
    scores, labels = overlapping()
    cal = fit_calibration(scores, labels)
    assert 0 < cllr_min(scores, labels) <= cllr(log10_lr(cal, scores), labels)


def test_calibration_is_monotone_and_centred():
    scores, labels = overlapping()
    cal = fit_calibration(scores, labels)
    grid = np.linspace(-5, 8, 200)
    values = log10_lr(cal, grid)
    assert np.all(np.diff(values) >= -1e-12)
    assert values[0] < 0 < values[-1]
    assert log10_lr(cal, [cal.threshold])[0] == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(n_same=st.integers(1, 40), n_diff=st.integers(1, 400), gap=st.floats(-2, 50))
def test_likelihood_ratios_are_bounded_by_the_data_size(n_same, n_diff, gap):
    """Never infinite, never beyond what n_s + n_d pairs can support (ELUB: log10(n + 1)); a score
    that does not rise with same-source pairs is refused rather than calibrated backwards."""
    scores, labels = overlapping(1, n_same, n_diff, gap)
    try:
        cal = fit_calibration(scores, labels)
    except ValueError as exc:
        assert "cannot be calibrated" in str(exc)
        assume(False)
    values = log10_lr(cal, [-1e9, *scores, 1e9])
    assert np.isfinite(values).all()
    assert values.max() <= np.log10(n_diff + 1) + 1e-9
    assert values.min() >= -np.log10(n_same + 1) - 1e-9


def test_calibration_json_round_trip_and_refusal():
    scores, labels = overlapping(2)
    cal = fit_calibration(scores, labels)
    again = Calibration.from_json(cal.to_json())
    assert again == cal
    np.testing.assert_array_equal(log10_lr(again, scores), log10_lr(cal, scores))
    with pytest.raises(ValueError, match="not a calibration"):
        Calibration.from_json('{"knots": [1]}')


def test_performance_counts_errors_at_the_threshold():
    scores = [0.1, 0.2, 0.3, 0.25, 0.8, 0.9]
    labels = [0, 0, 0, 1, 1, 1]
    cal = fit_calibration(scores, labels)
    p = performance(scores, labels, cal)
    called = np.array(scores) > p.threshold
    assert p.false_positives == int((called & ~np.array(labels, bool)).sum())
    assert p.false_negatives == int((~called & np.array(labels, bool)).sum())
    assert (p.n_same, p.n_different) == (3, 3)


@pytest.mark.parametrize("value, words", [
    (0.5, "weak support for same source"), (1.5, "moderate support for same source"),
    (2.5, "moderately strong support for same source"), (3.5, "strong support for same source"),
    (5.0, "very strong support for same source"), (7.0, "extremely strong support for same source"),
    (-1.5, "moderate support for different sources"), (0.0, "no support for either proposition"),
])
def test_enfsi_verbal_scale(value, words):
    assert verbal_scale(value) == words


@pytest.mark.parametrize("scores, labels, message", [
    ([1, 2], [1, 1], "at least one"), ([1, 2, 3], [1, 0], "equal length"), ([1, np.nan], [1, 0], "finite"),
])
def test_bad_input_is_refused(scores, labels, message):
    with pytest.raises(ValueError, match=message):
        fit_calibration(scores, labels)
    with pytest.raises(ValueError):
        verbal_scale(float("inf"))
