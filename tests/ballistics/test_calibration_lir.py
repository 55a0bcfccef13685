"""The lir calibration (logistic regression within ELUB bounds) and its cross-validation by firearm,
checked on score distributions built by construction."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from ballistics import index as bindex
from ballistics.lr_validation import cross_validate, firearm_folds
from ballistics.scoring import (
    Calibration,
    RetiredCalibrationError,
    cllr,
    cllr_min,
    fit_calibration,
    log10_lr,
)

# The step calibration the demo held before: every non-match scored log10 LR -1.81.
RETIRED = {"knots": [0.0015, 0.4547, 0.5660, 0.9807], "log10_lrs": [-1.81, -1.81, 2.85, 2.85],
           "n_same": 63, "n_different": 717, "threshold": 0.498, "method": "pav-laplace"}


def normal_scores(seed: int = 0, n_same: int = 60, n_diff: int = 700, gap: float = 3.0):
    """Same-source scores ~ N(gap, 1), different-source ~ N(0, 1)."""
    rng = np.random.default_rng(seed)
    scores = np.r_[rng.normal(gap, 1, n_same), rng.normal(0, 1, n_diff)]
    return scores, np.r_[np.ones(n_same, bool), np.zeros(n_diff, bool)]


def firearm_pairs(seed: int = 0, firearms: int = 10, shots: int = 4, gap: float = 3.0):
    """All pairs of ``firearms * shots`` scans with normal scores; returns scores, labels, firearms a and b."""
    scans = [(f"F{f:02d}", k) for f in range(firearms) for k in range(shots)]
    pairs = list(itertools.combinations(scans, 2))
    a = [p[0][0] for p in pairs]
    b = [p[1][0] for p in pairs]
    labels = np.array([x == y for x, y in zip(a, b)])
    rng = np.random.default_rng(seed)
    scores = np.where(labels, rng.normal(gap, 1, labels.size), rng.normal(0, 1, labels.size))
    return scores, labels, a, b


# --------------------------------------------------------------------------------------------------
# The calibration
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gap", [1.0, 3.0, 30.0])
def test_no_lr_goes_beyond_the_elub_bounds(gap):
    scores, labels = normal_scores(gap=gap)
    cal = fit_calibration(scores, labels)
    values = log10_lr(cal, np.linspace(-1e6, 1e6, 20001))
    assert values.min() == pytest.approx(cal.lower_bound) and values.max() == pytest.approx(cal.upper_bound)
    # ELUB never goes past what the pair counts support (Vergeer et al. 2016).
    assert cal.upper_bound <= np.log10(700 + 1) and cal.lower_bound >= -np.log10(60 + 1)
    assert cal.lower_bound < 0 < cal.upper_bound


def test_perfectly_separated_pairs_give_finite_graded_lrs():
    """The Fadul situation (AUC 1): no infinite slope, LRs still graded across the gap."""
    scores, labels = normal_scores(gap=30.0)
    cal = fit_calibration(scores, labels)
    gap = np.linspace(scores[~labels].max(), scores[labels].min(), 50)
    inside = log10_lr(cal, gap)
    assert np.isfinite(inside).all()
    assert len(np.unique(inside)) > 10


def test_calibration_is_monotone_in_the_score():
    scores, labels = normal_scores(1)
    cal = fit_calibration(scores, labels)
    values = log10_lr(cal, np.linspace(-6, 9, 3000))
    assert np.all(np.diff(values) >= 0)
    between = (values > cal.lower_bound) & (values < cal.upper_bound)
    assert between.sum() > 100 and np.all(np.diff(values[between]) > 0)  # strictly, inside the bounds
    assert log10_lr(cal, [cal.threshold])[0] == pytest.approx(0.0, abs=1e-9)


def test_lrs_are_graded_not_steps():
    """Overlapping classes: the non-matches get many different LRs, not one shared value (only those
    below the lower ELUB bound share it)."""
    scores, labels = normal_scores(2)
    cal = fit_calibration(scores, labels)
    values = log10_lr(cal, scores)
    assert len(np.unique(values[~labels])) > 200
    assert len(np.unique(values[labels])) > 30
    assert np.mean(values[~labels] == cal.lower_bound) < 0.7


def test_a_score_that_goes_the_wrong_way_is_refused():
    scores, labels = normal_scores(3, gap=-3.0)
    with pytest.raises(ValueError, match="cannot be calibrated"):
        fit_calibration(scores, labels)


def test_cllr_of_a_perfect_and_of_a_useless_system():
    labels = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    assert cllr(np.where(labels, 12.0, -12.0), labels) == pytest.approx(0.0, abs=1e-9)
    assert cllr(np.zeros(100), labels) == pytest.approx(1.0)
    assert cllr_min(np.where(labels, 1.0, 0.0), labels) == pytest.approx(0.0)
    # The same scores for both kinds of pair: nothing to discriminate, Cllr-min is 1 bit.
    same = np.tile(np.linspace(0, 1, 50), 2)
    assert cllr_min(same, labels) == pytest.approx(1.0)


def test_persisted_calibration_round_trips_and_needs_no_pickle():
    scores, labels = normal_scores(4)
    cal = fit_calibration(scores, labels)
    text = cal.to_json()
    assert set(json.loads(text)) == {"intercept", "slope", "lower_bound", "upper_bound", "n_same",
                                     "n_different", "threshold", "method", "library"}
    again = Calibration.from_json(text)
    assert again == cal and again.library.startswith("lir ")
    np.testing.assert_array_equal(log10_lr(again, scores), log10_lr(cal, scores))


@pytest.mark.parametrize("change, message", [
    ({"slope": -1.0}, "slope must be positive"), ({"lower_bound": 0.5}, "enclose"),
    ({"upper_bound": float("nan")}, "finite"), ({"method": "kde"}, "unknown method"),
])
def test_tampered_calibrations_are_refused(change, message):
    doc = json.loads(fit_calibration(*normal_scores(5)).to_json())
    with pytest.raises(ValueError, match=message):
        Calibration.from_json(json.dumps({**doc, **change}))


def test_a_retired_step_calibration_is_refused_with_what_to_do():
    with pytest.raises(RetiredCalibrationError, match="retired method 'pav-laplace'.*refit"):
        Calibration.from_json(json.dumps(RETIRED))


def test_an_index_holding_a_retired_calibration_still_opens_without_lrs(tmp_path):
    index = bindex.create_index(tmp_path / "idx", pixel_size=6.25e-6)
    manifest = json.loads((index.path / "index.json").read_text())
    (index.path / "index.json").write_text(json.dumps({**manifest, "calibration": RETIRED}))
    opened = bindex.open_index(index.path)
    assert opened.calibration is None and "refit" in opened.retired_calibration
    refitted = bindex.set_calibration(opened, fit_calibration(*normal_scores(6)))
    assert bindex.open_index(refitted.path).calibration is not None
    assert bindex.open_index(refitted.path).retired_calibration == ""


# --------------------------------------------------------------------------------------------------
# Cross-validation by firearm
# --------------------------------------------------------------------------------------------------

def test_no_fold_trains_on_a_held_out_firearm():
    _, _, a, b = firearm_pairs()
    folds = firearm_folds(a, b)
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(a)))  # every pair tested exactly once
    for train, test in folds:
        held_out = {a[i] for i in test} | {b[i] for i in test}
        assert len(held_out) <= 2
        assert not held_out & ({a[i] for i in train} | {b[i] for i in train})
        # Everything else trains: only pairs touching a held-out firearm are left out.
        assert len(train) == sum(1 for x, y in zip(a, b) if x not in held_out and y not in held_out)


def test_cross_validation_figures_on_constructed_pairs():
    scores, labels, a, b = firearm_pairs(7)
    cv = cross_validate(scores, labels, a, b, resamples=200)
    assert (cv.n_same, cv.n_different, cv.firearms, cv.folds) == (60, 720, 10, 55)
    assert cv.cllr_interval[0] <= cv.cllr <= cv.cllr_interval[1]
    assert cv.cllr_min_interval[0] <= cv.cllr_min <= cv.cllr_min_interval[1]
    assert 0 < cv.cllr_min < cv.cllr < 1
    # Cross-validated Cllr is not better than in-sample Cllr by more than noise.
    in_sample = cllr(log10_lr(fit_calibration(scores, labels), scores), labels)
    assert cv.cllr > in_sample - 0.02
    assert cv.bootstrap_resamples == 200 and cv.bootstrap_unit == "firearm"


def test_a_planted_high_scoring_non_match_counts_as_misleading():
    scores, labels, a, b = firearm_pairs(8)
    planted = int(np.flatnonzero(~labels)[0])
    scores[planted] = 50.0
    cv = cross_validate(scores, labels, a, b, resamples=50)
    assert cv.log10_lrs[planted] > 2
    lrs = np.array(cv.log10_lrs)
    assert cv.misleading_different_count == int((lrs[~labels] > 2).sum()) >= 1
    assert cv.misleading_different == pytest.approx(cv.misleading_different_count / 720)
    assert cv.misleading_same == pytest.approx(np.mean(lrs[labels] < -2))


def test_the_bootstrap_is_reproducible_from_its_seed():
    scores, labels, a, b = firearm_pairs(9)
    first = cross_validate(scores, labels, a, b, resamples=100, seed=1)
    assert cross_validate(scores, labels, a, b, resamples=100, seed=1) == first
    assert cross_validate(scores, labels, a, b, resamples=100, seed=2).cllr_interval != first.cllr_interval


def test_too_few_firearms_are_refused_with_the_reason():
    scores, labels, a, b = firearm_pairs(firearms=3, shots=2)
    with pytest.raises(ValueError, match="too few firearms"):
        cross_validate(scores, labels, a, b)
