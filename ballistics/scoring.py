"""From comparison scores to calibrated likelihood ratios, and the figures of a validation.

The calibration is logistic regression of the same-source posterior on the score, followed by the
empirical lower and upper bounds (ELUB) of the likelihood ratio, both fitted with NFI's `lir`
library. The log10 LR is a straight line in the score, so LRs are *graded* (every score its own
value) and *monotone*, and it is held within bounds that the number of training pairs supports, so
perfectly separated training data (Fadul: AUC 1.0) never yield an LR beyond what they can show.

Why not the alternatives: PAV (isotonic) calibration, used before, gives LRs in a few steps (every
non-match of the demo had log10 LR -1.81); a kernel-density ratio is not monotone in the tails
when the two classes get different bandwidths. The logistic slope is kept finite on separated data
by L2 regularisation on standardised scores, which can only pull LRs towards 1; ELUB then caps them.

Only the fitted line and bounds are stored (JSON), so reading a calibration needs neither `lir`
nor scikit-learn, and a stored file cannot run code. Persisted calibrations of the retired PAV
method are refused with `RetiredCalibrationError` (refit them).

References
----------
.. [1] N. Brümmer, J. du Preez, "Application-independent evaluation of speaker detection", Computer
   Speech and Language 20(2-3):230-275, 2006. doi:10.1016/j.csl.2005.08.001 (Cllr, Cllr-min via PAV)
.. [2] G. S. Morrison, "Tutorial on logistic-regression calibration and fusion: converting a score to
   a likelihood ratio", Australian Journal of Forensic Sciences 45(2):173-197, 2013.
   doi:10.1080/00450618.2012.733025
.. [3] ENFSI, "Guideline for evaluative reporting in forensic science", 2015 (verbal scale).
.. [4] T. Fawcett, "An introduction to ROC analysis", Pattern Recognition Letters 27:861-874, 2006.
.. [5] P. Vergeer et al., Science and Justice 56(6):482-491, 2016. doi:10.1016/j.scijus.2016.06.003 (ELUB)
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

__all__ = [
    "Calibration",
    "Performance",
    "RetiredCalibrationError",
    "auc",
    "cllr",
    "cllr_min",
    "eer",
    "fit_calibration",
    "log10_lr",
    "performance",
    "roc",
    "verbal_scale",
]


def _checked(scores: Sequence[float], labels: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels)
    if s.ndim != 1 or s.shape != y.shape:
        raise ValueError(f"scores and labels must be 1-D of equal length, got {s.shape} and {y.shape}")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite numbers")
    y = y.astype(bool)
    if y.all() or not y.any():
        raise ValueError("need at least one same-source (True) and one different-source (False) pair")
    return s, y


# --------------------------------------------------------------------------------------------------
# Discrimination: ROC, AUC, EER
# --------------------------------------------------------------------------------------------------

def roc(scores: Sequence[float], labels: Sequence[bool]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve: false and true positive rates when deciding "same source" at ``score >= threshold``.

    Returns
    -------
    fpr, tpr, thresholds : ndarray
        Thresholds in decreasing order, starting at +inf (nothing called a match).

    Examples
    --------
    >>> fpr, tpr, thr = roc([0.1, 0.4, 0.35, 0.8], [False, False, True, True])
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    s, y = _checked(scores, labels)
    thresholds = np.concatenate([[np.inf], np.unique(s)[::-1]])
    tp = np.array([(s[y] >= t).sum() for t in thresholds])
    fp = np.array([(s[~y] >= t).sum() for t in thresholds])
    return fp / (~y).sum(), tp / y.sum(), thresholds


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve: probability that a same-source pair outscores a different-source one.

    Ties count one half (Mann-Whitney U / (n_s n_d)).

    Examples
    --------
    >>> auc([1, 2, 3, 4], [False, False, True, True])
    1.0
    """
    s, y = _checked(scores, labels)
    pos, neg = s[y], s[~y]
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (pos.size * neg.size))


def eer(scores: Sequence[float], labels: Sequence[bool]) -> tuple[float, float]:
    """Equal error rate and the threshold where false-positive and false-negative rates meet.

    Taken on the ROC convex hull's crossing with ``fpr = 1 - tpr`` is the textbook definition; here the
    empirical ROC point nearest to the crossing is used and the two rates are averaged there. With
    separated classes the EER is 0 and the threshold is midway between the classes.

    Examples
    --------
    >>> eer([1, 2, 3, 4], [False, False, True, True])
    (0.0, 2.5)
    """
    s, y = _checked(scores, labels)
    if s[y].min() > s[~y].max():
        return 0.0, float((s[y].min() + s[~y].max()) / 2)
    fpr, tpr, thr = roc(s, y)
    fnr = 1 - tpr
    k = int(np.argmin(np.abs(fpr - fnr)))
    return float((fpr[k] + fnr[k]) / 2), float(thr[k])


# --------------------------------------------------------------------------------------------------
# Calibration: logistic regression with empirical lower and upper bounds (lir)
# --------------------------------------------------------------------------------------------------

METHOD = "logit-elub"
RETIRED_METHODS = frozenset({"pav-laplace"})


class RetiredCalibrationError(ValueError):
    """A persisted calibration of a method this version no longer applies (refit it)."""


@dataclass(frozen=True)
class Calibration:
    """Score-to-likelihood-ratio map fitted on known pairs; serialisable to JSON.

    ``log10 LR = clip(intercept + slope * score, lower_bound, upper_bound)``: a straight line in the
    score (graded, strictly increasing while inside the bounds) held within the empirical lower and
    upper bounds (ELUB) that the training set supports.

    Attributes
    ----------
    intercept, slope : float
        Logistic-regression line in log10 LR per score unit (``slope > 0``).
    lower_bound, upper_bound : float
        ELUB bounds of the log10 LR (``lower_bound <= 0 <= upper_bound``).
    n_same, n_different : int
        Training pairs of each kind (the bounds never exceed ``log10(n_different + 1)`` nor fall below
        ``-log10(n_same + 1)``).
    threshold : float
        Score where the line crosses log10 LR = 0 (the evidence favours neither proposition).
    method : str
        ``"logit-elub"``.
    library : str
        The library and version that fitted it (provenance).
    """

    intercept: float
    slope: float
    lower_bound: float
    upper_bound: float
    n_same: int
    n_different: int
    threshold: float
    method: str = METHOD
    library: str = ""

    def to_json(self) -> str:
        """JSON text of the calibration."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "Calibration":
        """Calibration from the JSON written by `to_json`; refuses malformed or retired documents.

        Raises
        ------
        RetiredCalibrationError
            A calibration of a retired method (the step-wise PAV of earlier versions): refit it.
        ValueError
            Not a calibration document, or values that break the model's guarantees.
        """
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a calibration document: expected a JSON object")
        method = str(data.get("method", ""))
        if method in RETIRED_METHODS:
            raise RetiredCalibrationError(
                f"this calibration uses the retired method {method!r}, whose likelihood ratios came in a few "
                "steps; refit it on the known set (`ballistics evaluate` or `qms calibrate`)")
        if method != METHOD:
            raise ValueError(f"not a calibration document: unknown method {method!r}")
        try:
            cal = cls(float(data["intercept"]), float(data["slope"]), float(data["lower_bound"]),
                      float(data["upper_bound"]), int(data["n_same"]), int(data["n_different"]),
                      float(data["threshold"]), method, str(data.get("library", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a calibration document: {exc}") from exc
        _check_model(cal)
        return cal


def _check_model(cal: Calibration) -> None:
    values = (cal.intercept, cal.slope, cal.lower_bound, cal.upper_bound, cal.threshold)
    if not all(np.isfinite(values)):
        raise ValueError("calibration values must be finite numbers")
    if not cal.slope > 0:
        raise ValueError("calibration slope must be positive (higher scores, stronger support for same source)")
    if not cal.lower_bound <= 0 <= cal.upper_bound:
        raise ValueError("calibration bounds must enclose log10 LR 0")


def fit_calibration(scores: Sequence[float], labels: Sequence[bool]) -> Calibration:
    """Fit a bounded, monotone score-to-LR map: logistic regression, then ELUB bounds (NFI's `lir`).

    The scores are standardised before the regression, so its L2 regularisation (scikit-learn's
    default ``C = 1``, classes weighted equally) does not depend on the score's unit; it keeps the
    slope finite when the training classes are perfectly separated (Fadul), and shrinks towards
    LR = 1, never away from it. The ELUB bounds (Vergeer et al. 2016) are then taken from the
    training LRs: no LR is reported beyond what the number of training pairs supports.

    Parameters
    ----------
    scores : sequence of float
        Comparison scores (higher = more similar).
    labels : sequence of bool
        True for same-source (known match) pairs.

    Returns
    -------
    Calibration

    Raises
    ------
    ValueError
        Bad input, all scores equal, or a fitted slope that is not positive (on this set higher
        scores do not go with same-source pairs, so the score cannot be calibrated).

    References
    ----------
    .. [1] G. S. Morrison, Australian Journal of Forensic Sciences 45(2):173-197, 2013.
       doi:10.1080/00450618.2012.733025 (logistic-regression calibration)
    .. [2] P. Vergeer, A. van Es, A. de Jongh, I. Alberink, R. Stoel, "Numerical likelihood ratios
       outputted by LR systems are often based on extrapolation: when to stop extrapolating?",
       Science and Justice 56(6):482-491, 2016. doi:10.1016/j.scijus.2016.06.003 (ELUB)

    Examples
    --------
    >>> cal = fit_calibration([0.1, 0.2, 0.3, 0.7, 0.8, 0.9], [0, 0, 0, 1, 1, 1])
    >>> bool(log10_lr(cal, [0.9])[0] > 0 > log10_lr(cal, [0.1])[0])
    True
    >>> bool(abs(log10_lr(cal, [1e9])[0]) <= np.log10(3 + 1))  # bounded: 3 + 3 pairs cannot prove more
    True
    """
    from lir.algorithms.bayeserror import elub
    from lir.algorithms.logistic_regression import LogitCalibrator

    s, y = _checked(scores, labels)
    centre, spread = float(s.mean()), float(s.std())
    if spread == 0:
        raise ValueError("all scores are equal: nothing to calibrate")
    # Newton's method: exact for one feature, and 5x faster than the default L-BFGS when the cores are busy.
    logit = LogitCalibrator(solver="newton-cholesky").fit((s - centre) / spread, y.astype(int))
    ln_slope, ln_intercept = float(logit._logit.coef_[0, 0]), float(logit._logit.intercept_[0])
    if not ln_slope > 0:
        raise ValueError("on this set higher scores do not go with known matches (fitted slope "
                         f"{ln_slope:.3g} <= 0): the score cannot be calibrated")
    slope = ln_slope / spread / np.log(10)
    intercept = (ln_intercept - ln_slope * centre / spread) / np.log(10)
    lower, upper = elub(intercept + slope * s, y.astype(int))
    return Calibration(float(intercept), float(slope), float(lower), float(upper), int(y.sum()),
                       int((~y).sum()), float(-intercept / slope), METHOD, f"lir {_lir_version()}")


def _lir_version() -> str:
    from importlib.metadata import version

    return version("lir")


def log10_lr(calibration: Calibration, scores: Sequence[float]) -> np.ndarray:
    """log10 likelihood ratio of each score under a calibration (within its ELUB bounds)."""
    s = np.asarray(scores, dtype=float)
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite numbers")
    line = calibration.intercept + calibration.slope * s
    return np.clip(line, calibration.lower_bound, calibration.upper_bound)


# --------------------------------------------------------------------------------------------------
# Cllr
# --------------------------------------------------------------------------------------------------

def cllr(log10_lrs: Sequence[float], labels: Sequence[bool]) -> float:
    """Log-likelihood-ratio cost (Brümmer & du Preez 2006), in bits; 0 is perfect, 1 is uninformative.

    Computed by `lir.metrics.cllr`.

    Examples
    --------
    >>> cllr([0.0, 0.0], [True, False])
    1.0
    """
    from lir.data.models import LLRData
    from lir.metrics import cllr as lir_cllr

    lr, y = _checked(log10_lrs, labels)
    return float(lir_cllr(LLRData(features=lr, labels=y.astype(int))))


def cllr_min(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Discrimination part of Cllr: Cllr after the optimal monotone (PAV) calibration on the same data.

    Computed by `lir.metrics.cllr_min` (isotonic regression; infinite LRs of perfectly separated
    pairs cost nothing on their own side).

    Examples
    --------
    >>> cllr_min([1, 2, 3, 4], [0, 0, 1, 1])
    0.0
    """
    from lir.data.models import LLRData
    from lir.metrics import cllr_min as lir_cllr_min

    s, y = _checked(scores, labels)
    with np.errstate(divide="ignore"):  # posteriors of 0 and 1 are correct: LR 0 and infinity
        return float(lir_cllr_min(LLRData(features=s, labels=y.astype(int))))


# --------------------------------------------------------------------------------------------------
# Summary and verbal scale
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Performance:
    """Validation figures of a score on known pairs."""

    n_same: int
    n_different: int
    auc: float
    eer: float
    eer_threshold: float
    cllr: float
    cllr_min: float
    threshold: float
    false_positives: int
    false_negatives: int


def performance(scores: Sequence[float], labels: Sequence[bool], calibration: Calibration) -> Performance:
    """AUC, EER, Cllr (under ``calibration``), Cllr-min and the errors at its LR = 1 threshold.

    A pair is called "same source" when its score is strictly above the threshold.
    """
    s, y = _checked(scores, labels)
    rate, at = eer(s, y)
    lrs = log10_lr(calibration, s)
    called = s > calibration.threshold
    return Performance(int(y.sum()), int((~y).sum()), auc(s, y), rate, at, cllr(lrs, y),
                       cllr_min(s, y), calibration.threshold, int((called & ~y).sum()),
                       int((~called & y).sum()))


_VERBAL = [
    (6.0, "extremely strong support"),
    (4.0, "very strong support"),
    (3.0, "strong support"),
    (2.0, "moderately strong support"),
    (1.0, "moderate support"),
    (0.0, "weak support"),
]


def verbal_scale(log10_lr_value: float) -> str:
    """ENFSI (2015) verbal equivalent of a likelihood ratio, with the proposition it supports.

    Examples
    --------
    >>> verbal_scale(2.5)
    'moderately strong support for same source'
    >>> verbal_scale(-4.2)
    'very strong support for different sources'
    >>> verbal_scale(0.0)
    'no support for either proposition'
    """
    v = float(log10_lr_value)
    if not np.isfinite(v):
        raise ValueError(f"log10 LR must be finite, got {log10_lr_value!r}")
    if v == 0:
        return "no support for either proposition"
    side = "same source" if v > 0 else "different sources"
    for bound, words in _VERBAL:
        if abs(v) > bound or (bound == 0.0):
            return f"{words} for {side}"
    raise AssertionError("unreachable")
