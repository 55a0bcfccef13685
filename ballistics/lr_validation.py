"""Likelihood ratios as casework would meet them: cross-validated by firearm, with bootstrap intervals.

A calibration judged on the pairs it was fitted on looks better than it is. Here every pair gets
its log10 LR from a calibration that never saw its firearm(s): the fold of a pair holds out *every*
firearm the pair involves (one for a same-source pair, both for a different-source pair), and the
calibration is fitted on the pairs that touch none of them. For a same-source pair this is exactly
leave-one-firearm-out; for a different-source pair it is stricter, so that no held-out firearm takes
part in training.

From these cross-validated LRs come Cllr and Cllr-min (`ballistics.scoring`, computed by `lir`),
the rates of misleading evidence (an LR above 100 for a different-source pair, below 1/100 for a
same-source pair, and on the wrong side of 1), and 95 % percentile intervals from a seeded
bootstrap over *firearms* (pairs of one firearm are not independent, so resampling pairs would
understate the uncertainty): each resample draws as many firearms as the set has, with replacement,
and weighs each pair by how often its firearms were drawn. The intervals describe the test set's
sampling variation; the calibrations are not refitted per resample.

References
----------
.. [1] D. Meuwly, D. Ramos, R. Haraksim, "A guideline for the validation of likelihood ratio methods
   used for forensic evidence evaluation", Forensic Science International 276:142-153, 2017.
   doi:10.1016/j.forsciint.2016.03.048 (Cllr, Cllr-min, rates of misleading evidence)
.. [2] B. Efron, R. Tibshirani, "An introduction to the bootstrap", Chapman & Hall, 1993 (percentile
   intervals); resampling clusters rather than pairs: A. C. Davison, D. V. Hinkley, "Bootstrap methods
   and their application", Cambridge University Press, 1997, section 3.8.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from ballistics.scoring import cllr, cllr_min, fit_calibration, log10_lr

__all__ = ["CrossValidation", "cross_validate", "firearm_folds"]

BOOTSTRAP_SEED = 20261207
MISLEADING_LOG10 = 2.0  # LR 100 and 1/100


@dataclass(frozen=True)
class CrossValidation:
    """Cross-validated likelihood ratios of a known set and the figures taken from them.

    Attributes
    ----------
    log10_lrs : tuple of float
        One per pair, in the order given, each from a calibration that never saw the pair's firearms.
    cllr, cllr_min : float
        Of the cross-validated LRs, in bits.
    cllr_interval, cllr_min_interval : (float, float)
        95 % bootstrap percentile intervals.
    misleading_different, misleading_same : float
        Share of different-source pairs with LR > 100, of same-source pairs with LR < 1/100.
    misleading_different_count, misleading_same_count : int
        The same as counts of pairs.
    wrong_side_different, wrong_side_same : float
        Share of different-source pairs with LR > 1, of same-source pairs with LR < 1.
    folds : int
        Calibrations fitted (one per distinct set of held-out firearms).
    bootstrap_resamples, bootstrap_seed : int
        Resamples used (those holding both kinds of pair) and the seed that makes them reproducible.
    bootstrap_unit : str
        ``"firearm"``: what was resampled.
    """

    log10_lrs: tuple[float, ...]
    n_same: int
    n_different: int
    firearms: int
    folds: int
    cllr: float
    cllr_min: float
    cllr_interval: tuple[float, float]
    cllr_min_interval: tuple[float, float]
    misleading_different: float
    misleading_same: float
    misleading_different_count: int
    misleading_same_count: int
    wrong_side_different: float
    wrong_side_same: float
    bootstrap_resamples: int
    bootstrap_seed: int
    bootstrap_unit: str = "firearm"

    def summary(self) -> dict[str, Any]:
        """The figures as plain JSON values (everything but the per-pair LRs)."""
        data = asdict(self)
        del data["log10_lrs"]
        data.update(method="leave the pair's firearms out", confidence=0.95,
                    misleading_log10_lr=MISLEADING_LOG10)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def firearm_folds(firearm_a: Sequence[str], firearm_b: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Training and test pair indices: each fold tests the pairs of one set of firearms.

    The pairs of a fold involve exactly the held-out firearms (one for a same-source pair, two for
    a different-source pair); its training pairs involve none of them.

    Examples
    --------
    >>> folds = firearm_folds(["f1", "f1", "f2", "f1"], ["f1", "f2", "f3", "f3"])
    >>> [(train.tolist(), test.tolist()) for train, test in folds]
    [([2], [0]), ([], [1]), ([], [3]), ([0], [2])]
    """
    a, b = np.asarray(firearm_a, dtype=str), np.asarray(firearm_b, dtype=str)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("firearm_a and firearm_b must be 1-D of equal length")
    keys = [tuple(sorted({x, y})) for x, y in zip(a, b)]
    folds = []
    for key in sorted(set(keys)):
        test = np.array([i for i, k in enumerate(keys) if k == key], dtype=int)
        train = np.flatnonzero(~np.isin(a, key) & ~np.isin(b, key))
        folds.append((train, test))
    return folds


def cross_validate(scores: Sequence[float], labels: Sequence[bool], firearm_a: Sequence[str],
                   firearm_b: Sequence[str], *, resamples: int = 1000,
                   seed: int = BOOTSTRAP_SEED) -> CrossValidation:
    """Cross-validated LRs by firearm, their Cllr and Cllr-min with bootstrap intervals, misleading rates.

    Parameters
    ----------
    scores, labels : sequence
        One score and truth (True = same source) per pair.
    firearm_a, firearm_b : sequence of str
        The firearm (group) of each pair's two scans.
    resamples : int, keyword-only
        Bootstrap resamples over firearms.
    seed : int, keyword-only
        Seed of the bootstrap (the same seed gives the same intervals).

    Raises
    ------
    ValueError
        Too few firearms: some fold's training pairs lack known matches or known non-matches (at
        least four firearms, of which some fired two or more scans, are needed).
    """
    s, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    if s.shape != y.shape or len(firearm_a) != s.size or len(firearm_b) != s.size:
        raise ValueError("scores, labels and both firearm columns must have one value per pair")
    folds = firearm_folds(firearm_a, firearm_b)
    llrs = np.empty_like(s)
    for train, test in folds:
        llrs[test] = log10_lr(_fold_calibration(s, y, train, test, firearm_a, firearm_b), s[test])
    wrong = _bootstrap(llrs, y, np.asarray(firearm_a, dtype=str), np.asarray(firearm_b, dtype=str),
                       resamples, seed)
    firearms = len(set(firearm_a) | set(firearm_b))
    return CrossValidation(
        tuple(map(float, llrs)), int(y.sum()), int((~y).sum()), firearms, len(folds),
        cllr(llrs, y), cllr_min(llrs, y), wrong["cllr"], wrong["cllr_min"],
        float(np.mean(llrs[~y] > MISLEADING_LOG10)), float(np.mean(llrs[y] < -MISLEADING_LOG10)),
        int((llrs[~y] > MISLEADING_LOG10).sum()), int((llrs[y] < -MISLEADING_LOG10).sum()),
        float(np.mean(llrs[~y] > 0)), float(np.mean(llrs[y] < 0)), int(wrong["used"]), seed)


def _fold_calibration(s: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray,
                      firearm_a: Sequence[str], firearm_b: Sequence[str]) -> Any:
    held_out = sorted({firearm_a[test[0]], firearm_b[test[0]]})
    if not (y[train].any() and (~y[train]).any()):
        raise ValueError(f"too few firearms to cross-validate: without {', '.join(held_out)} the training "
                         "pairs lack known matches or known non-matches")
    try:
        return fit_calibration(s[train], y[train])
    except ValueError as exc:
        raise ValueError(f"cannot calibrate without {', '.join(held_out)}: {exc}") from exc


def _bootstrap(llrs: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray, resamples: int,
               seed: int) -> dict[str, Any]:
    """Percentile intervals of Cllr and Cllr-min over resamples of firearms (pairs weighted by draws)."""
    names = np.unique(np.concatenate([a, b]))
    ia, ib = np.searchsorted(names, a), np.searchsorted(names, b)
    rng = np.random.default_rng(seed)
    costs, minima = [], []
    for _ in range(resamples):
        drawn = np.bincount(rng.integers(0, names.size, names.size), minlength=names.size)
        weights = np.where(ia == ib, drawn[ia], drawn[ia] * drawn[ib])
        pick = np.repeat(np.arange(llrs.size), weights)
        if not (y[pick].any() and (~y[pick]).any()):
            continue
        costs.append(cllr(llrs[pick], y[pick]))
        minima.append(cllr_min(llrs[pick], y[pick]))
    if not costs:
        nan = (float("nan"), float("nan"))
        return {"cllr": nan, "cllr_min": nan, "used": 0}
    return {"cllr": _percentiles(costs), "cllr_min": _percentiles(minima), "used": len(costs)}


def _percentiles(values: list[float]) -> tuple[float, float]:
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)
