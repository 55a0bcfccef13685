"""From comparison scores to calibrated likelihood ratios, and the figures of a validation.

The calibration is pool-adjacent-violators (PAV, isotonic regression) of the same-source posterior on
the score, with Laplace's rule of succession: one pseudo same-source and one pseudo different-source
pair are added at each end of the score range (as in the BOSARIS toolkit). The result is monotone in
the score and *bounded by the data size*: with ``n_s`` same-source and ``n_d`` different-source pairs no
likelihood ratio exceeds about ``(n_d + 2)`` nor falls below about ``1 / (n_s + 2)``, so perfectly
separated training data never yield an infinite LR. Between the pooled score ranges the log10 LR is
interpolated linearly, so the LR changes smoothly across the gap between the two classes.

Logistic regression was not chosen: on perfectly separated data (Fadul gives AUC 1.0) its slope
diverges, and any regularisation constant would be arbitrary.

References
----------
.. [1] N. Brümmer, J. du Preez, "Application-independent evaluation of speaker detection", Computer
   Speech and Language 20(2-3):230-275, 2006. doi:10.1016/j.csl.2005.08.001 (Cllr, Cllr-min via PAV)
.. [2] G. S. Morrison, "Tutorial on logistic-regression calibration and fusion: converting a score to
   a likelihood ratio", Australian Journal of Forensic Sciences 45(2):173-197, 2013.
   doi:10.1080/00450618.2012.733025
.. [3] ENFSI, "Guideline for evaluative reporting in forensic science", 2015 (verbal scale).
.. [4] T. Fawcett, "An introduction to ROC analysis", Pattern Recognition Letters 27:861-874, 2006.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

__all__ = [
    "Calibration",
    "Performance",
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
# Calibration: PAV with Laplace smoothing
# --------------------------------------------------------------------------------------------------

def _pav(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool adjacent violators: non-decreasing fit; returns block means and block sizes (in order)."""
    means: list[float] = []
    sizes: list[float] = []
    counts: list[int] = []
    for v, w in zip(values, weights):
        means.append(float(v))
        sizes.append(float(w))
        counts.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            m2, w2, c2 = means.pop(), sizes.pop(), counts.pop()
            total = sizes[-1] + w2
            means[-1] = (means[-1] * sizes[-1] + m2 * w2) / total
            sizes[-1] = total
            counts[-1] += c2
    return np.array(means), np.array(counts)


def _pav_posteriors(s: np.ndarray, y: np.ndarray, *, laplace: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior P(same | score) by isotonic regression; returns sorted scores, labels, posteriors.

    Equal scores are pooled first, so tied pairs always get the same posterior.
    """
    order = np.lexsort((~y, s))  # within equal scores, same-source first: ties pool anyway
    s, y = s[order], y[order].astype(float)
    if laplace:
        s = np.concatenate([[-np.inf, -np.inf], s, [np.inf, np.inf]])
        y = np.concatenate([[1.0, 0.0], y, [1.0, 0.0]])
    uniq, start, count = np.unique(s, return_index=True, return_counts=True)
    tie_means = np.add.reduceat(y, start) / count
    means, blocks = _pav(tie_means, count.astype(float))
    post_unique = np.repeat(means, blocks)
    return s, y, np.repeat(post_unique, count)


@dataclass(frozen=True)
class Calibration:
    """Score-to-likelihood-ratio map fitted on known pairs; serialisable to JSON.

    Attributes
    ----------
    knots : tuple of float
        Scores at the ends of each pooled block, increasing (pseudo points at +-inf left out).
    log10_lrs : tuple of float
        log10 LR at each knot; linear in between, constant beyond the ends.
    n_same, n_different : int
        Training pairs of each kind (they bound the largest and smallest LR).
    threshold : float
        Score where the log10 LR crosses 0 (the evidence favours neither proposition).
    method : str
        ``"pav-laplace"``.
    """

    knots: tuple[float, ...]
    log10_lrs: tuple[float, ...]
    n_same: int
    n_different: int
    threshold: float
    method: str = "pav-laplace"

    def to_json(self) -> str:
        """JSON text of the calibration."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "Calibration":
        """Calibration from the JSON written by `to_json`; refuses malformed input."""
        data = json.loads(text)
        try:
            cal = cls(tuple(map(float, data["knots"])), tuple(map(float, data["log10_lrs"])),
                      int(data["n_same"]), int(data["n_different"]), float(data["threshold"]),
                      str(data.get("method", "pav-laplace")))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a calibration document: {exc}") from exc
        if len(cal.knots) != len(cal.log10_lrs) or not cal.knots:
            raise ValueError("calibration knots and log10 LRs must be non-empty and of equal length")
        return cal


def fit_calibration(scores: Sequence[float], labels: Sequence[bool]) -> Calibration:
    """Fit a monotone score-to-LR map by PAV with Laplace smoothing.

    Parameters
    ----------
    scores : sequence of float
        Comparison scores (higher = more similar).
    labels : sequence of bool
        True for same-source (known match) pairs.

    Returns
    -------
    Calibration

    References
    ----------
    .. [1] N. Brümmer, J. du Preez, Computer Speech and Language 20:230-275, 2006.
    .. [2] ENFSI Guideline for evaluative reporting in forensic science, 2015.

    Examples
    --------
    >>> cal = fit_calibration([0.1, 0.2, 0.3, 0.7, 0.8, 0.9], [0, 0, 0, 1, 1, 1])
    >>> bool(log10_lr(cal, [0.9])[0] > 0 > log10_lr(cal, [0.1])[0])
    True
    >>> float(abs(log10_lr(cal, [1e9])[0])) < 1  # bounded: 3 + 3 pairs cannot prove more
    True
    """
    s, y = _checked(scores, labels)
    ss, yy, post = _pav_posteriors(s, y, laplace=True)
    n_s, n_d = yy.sum(), (1 - yy).sum()
    prior_log_odds = np.log10(n_s / n_d)
    llr = np.log10(post) - np.log10(1 - post) - prior_log_odds
    finite = np.isfinite(ss)
    ss, llr = ss[finite], llr[finite]
    # Knots: first and last score of every block of equal log LR.
    change = np.flatnonzero(np.diff(llr) != 0)
    ends = np.unique(np.concatenate([[0], change, change + 1, [len(ss) - 1]]))
    knots, values = ss[ends], llr[ends]
    # Equal scores can appear twice (a block of one score); keep the first of each.
    knots, keep = np.unique(knots, return_index=True)
    values = values[keep]
    return Calibration(tuple(map(float, knots)), tuple(map(float, values)), int(y.sum()),
                       int((~y).sum()), _zero_crossing(knots, values))


def _zero_crossing(knots: np.ndarray, values: np.ndarray) -> float:
    above = np.flatnonzero(values > 0)
    if above.size == 0:
        return float(knots[-1])
    k = int(above[0])
    if k == 0:
        return float(knots[0])
    x0, x1, v0, v1 = knots[k - 1], knots[k], values[k - 1], values[k]
    return float(x0 + (x1 - x0) * (0 - v0) / (v1 - v0)) if v1 != v0 else float(x1)


def log10_lr(calibration: Calibration, scores: Sequence[float]) -> np.ndarray:
    """log10 likelihood ratio of each score under a calibration (bounded, never infinite)."""
    s = np.asarray(scores, dtype=float)
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite numbers")
    return np.interp(s, calibration.knots, calibration.log10_lrs)


# --------------------------------------------------------------------------------------------------
# Cllr
# --------------------------------------------------------------------------------------------------

def cllr(log10_lrs: Sequence[float], labels: Sequence[bool]) -> float:
    """Log-likelihood-ratio cost (Brümmer & du Preez 2006), in bits; 0 is perfect, 1 is uninformative.

    Examples
    --------
    >>> cllr([0.0, 0.0], [True, False])
    1.0
    """
    lr, y = _checked(log10_lrs, labels)
    ln10 = np.log(10.0)
    # log2(1 + 10^-x) computed stably through logaddexp.
    same = np.logaddexp(0, -lr[y] * ln10) / np.log(2)
    diff = np.logaddexp(0, lr[~y] * ln10) / np.log(2)
    return float(0.5 * (same.mean() + diff.mean()))


def cllr_min(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Discrimination part of Cllr: Cllr after the optimal monotone (PAV) calibration on the same data."""
    s, y = _checked(scores, labels)
    _, yy, post = _pav_posteriors(s, y, laplace=False)
    n_s, n_d = yy.sum(), (1 - yy).sum()
    with np.errstate(divide="ignore"):
        llr = np.log10(post) - np.log10(1 - post) - np.log10(n_s / n_d)
    # Infinite LRs here are correct (perfect separation) and cost nothing on their own side.
    cost_same = np.where(np.isinf(llr) & (llr > 0), 0.0, np.logaddexp(0, -np.clip(llr, -300, 300) * np.log(10)))
    cost_diff = np.where(np.isinf(llr) & (llr < 0), 0.0, np.logaddexp(0, np.clip(llr, -300, 300) * np.log(10)))
    yy = yy.astype(bool)
    return float(0.5 * (cost_same[yy].mean() + cost_diff[~yy].mean()) / np.log(2))


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
