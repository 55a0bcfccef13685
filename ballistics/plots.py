"""Figures an examiner or a quality manager can read: alignment, cells, curves, validation plots.

Every function draws on its own `matplotlib.figure.Figure` with the Agg canvas (no pyplot, no
display, no global state, safe in worker processes), returns the PNG bytes and, when ``path`` is
given, also writes them there.

References
----------
.. [1] J. Song, AFTE Journal 45(2):184-194, 2013 (CMC cell display).
.. [2] C. Tippett et al., "The evidential value of the comparison of paint flakes from sources other
   than vehicles", Journal of the Forensic Science Society 8:61-65, 1968 (Tippett plot);
   D. Meuwly, D. Ramos, R. Haraksim, "A guideline for the validation of likelihood ratio methods
   used for forensic evidence evaluation", Forensic Science International 276:142-153, 2017.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from ballistics.cmc import Comparison
from ballistics.registration import Alignment, warp
from ballistics.scoring import Calibration, log10_lr, roc
from ballistics.surface import Surface

__all__ = [
    "calibration_plot",
    "cell_grid",
    "histograms",
    "overlay",
    "roc_plot",
    "rotation_curve",
    "tippett",
]

_KM, _KNM = "#1b7837", "#b2182b"


def _figure(width: float = 6.0, height: float = 4.5) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure, path: str | Path | None) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    data = buffer.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def _scaled(heights: np.ndarray) -> np.ndarray:
    """Heights mapped to [0, 1] by robust percentiles; NaN stays NaN."""
    valid = heights[np.isfinite(heights)]
    if valid.size == 0:
        return np.full(heights.shape, np.nan)
    lo, hi = np.percentile(valid, [1, 99])
    return np.clip((heights - lo) / (hi - lo if hi > lo else 1.0), 0, 1)


def overlay(a: Surface, b: Surface, alignment: Alignment, *, path: str | Path | None = None,
            labels: tuple[str, str] = ("A", "B")) -> bytes:
    """A in magenta, B (rotated and shifted onto A) in green: agreement shows grey, differences colour.

    Three panels: A, B aligned, and the colour overlay.
    """
    b_on_a = warp(b, alignment, a.shape)
    ra, rb = _scaled(a.heights), _scaled(b_on_a.heights)
    rgb = np.ones(a.shape + (3,))
    both = np.isfinite(ra) & np.isfinite(rb)
    rgb[..., 0] = np.where(both, ra, np.where(np.isfinite(ra), ra, 1.0))
    rgb[..., 2] = rgb[..., 0]
    rgb[..., 1] = np.where(np.isfinite(rb), rb, 1.0)
    fig = _figure(12, 4.4)
    axes = fig.subplots(1, 3)
    axes[0].imshow(ra, cmap="gray")
    axes[0].set_title(labels[0])
    axes[1].imshow(rb, cmap="gray")
    axes[1].set_title(f"{labels[1]} rotated {alignment.angle_deg:.1f}°, "
                      f"shifted ({alignment.dx:.0f}, {alignment.dy:.0f}) px")
    axes[2].imshow(rgb)
    axes[2].set_title(f"overlay (magenta {labels[0]}, green {labels[1]}), r = {alignment.correlation:.2f}")
    for ax in axes:
        ax.set_axis_off()
    return _png(fig, path)


def cell_grid(reference: Surface, comparison: Comparison, *, direction: str = "A->B",
              path: str | Path | None = None) -> bytes:
    """The reference surface with the cells of one direction: green High-CMC, orange original-rule CMC
    only, grey not, hatched not compared (no admissible placement). The score counts both directions
    (`ballistics.review_images.cell_map` draws them together)."""
    cells = [c for c in comparison.cells if c.direction == direction]
    fig = _figure(6, 6)
    ax = fig.subplots()
    ax.imshow(_scaled(reference.heights), cmap="gray")
    for c in cells:
        if c.ccf <= -1.0:  # the -1 placeholder: no placement overlapped the target enough, not a correlation
            ax.add_patch(Rectangle((c.left - 0.5, c.top - 0.5), c.width, c.height, fill=False, hatch="///",
                                   edgecolor="#555555", linewidth=1.0))
            continue
        colour = "#1a9850" if c.cmc_high else ("#fdae61" if c.cmc_original else "#9e9e9e")
        ax.add_patch(Rectangle((c.left - 0.5, c.top - 0.5), c.width, c.height, fill=True,
                               facecolor=colour, alpha=0.35, edgecolor=colour, linewidth=1.5))
        ax.text(c.left + c.width / 2, c.top + c.height / 2, f"{c.ccf:.2f}", ha="center", va="center",
                fontsize=7, color="black")
    result = next(d for d in comparison.directions if d.direction == direction)
    counted = "High-CMC" if any(c.cmc_high != c.cmc_original for c in cells) or result.high_cmc_passed \
        and all(d.high_cmc_passed for d in comparison.directions) else "original rule"
    ax.set_title(f"{direction}: {result.cmc_original} CMCs (original rule); {result.high_cmc} counted ({counted})")
    ax.legend(handles=[Patch(color="#1a9850", label="High-CMC"), Patch(color="#fdae61", label="CMC (original)"),
                       Patch(color="#9e9e9e", label="not congruent"),
                       Patch(fill=False, hatch="///", edgecolor="#555555", label="not compared")],
              loc="lower right", fontsize=7)
    ax.set_axis_off()
    return _png(fig, path)


def rotation_curve(comparison: Comparison, *, path: str | Path | None = None) -> bytes:
    """Whole-surface correlation against rotation (full circle) and CMC candidates per cell rotation."""
    al = comparison.alignment
    fig = _figure(9, 3.8)
    left, right = fig.subplots(1, 2)
    order = np.argsort(al.angles_deg)
    left.plot(np.asarray(al.angles_deg)[order], np.asarray(al.curve)[order], color="#2166ac")
    left.axvline(al.angle_deg, color="#b2182b", linestyle="--", label=f"best {al.angle_deg:.1f}°")
    left.set_xlabel("rotation of B (degrees)")
    left.set_ylabel("masked correlation (coarse grid)")
    left.legend()
    for d, colour in zip(comparison.directions, ("#1b7837", "#762a83")):
        right.plot(d.angles_deg, d.cmc_per_angle, marker="o", color=colour, label=d.direction)
    right.set_xlabel("cell rotation (degrees)")
    right.set_ylabel("CMC candidates")
    right.legend()
    return _png(fig, path)


def roc_plot(scores: Sequence[float], labels: Sequence[bool], *, path: str | Path | None = None,
             title: str = "ROC") -> bytes:
    """ROC curve with its AUC in the title."""
    from ballistics.scoring import auc

    fpr, tpr, _ = roc(scores, labels)
    fig = _figure(5, 5)
    ax = fig.subplots()
    ax.step(fpr, tpr, where="post", color="#2166ac")
    ax.plot([0, 1], [0, 1], color="#999999", linestyle=":")
    ax.set_xlabel("false positive rate (known non-matches called match)")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"{title}: AUC = {auc(scores, labels):.4f}")
    return _png(fig, path)


def histograms(scores: Sequence[float], labels: Sequence[bool], *, path: str | Path | None = None,
               threshold: float | None = None, xlabel: str = "score") -> bytes:
    """Score histograms of known matches and known non-matches, with the decision threshold."""
    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    fig = _figure(6.5, 4)
    ax = fig.subplots()
    bins = np.histogram_bin_edges(s, bins=40)
    ax.hist(s[~y], bins=bins, color=_KNM, alpha=0.6, label=f"known non-match (n={int((~y).sum())})")
    ax.hist(s[y], bins=bins, color=_KM, alpha=0.6, label=f"known match (n={int(y.sum())})")
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3g}")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("pairs (log scale)")
    ax.legend()
    return _png(fig, path)


def tippett(log10_lrs: Sequence[float], labels: Sequence[bool], *, path: str | Path | None = None) -> bytes:
    """Tippett plot: proportion of pairs with log10 LR greater than x, per kind of pair."""
    v, y = np.asarray(log10_lrs, float), np.asarray(labels, bool)
    fig = _figure(6, 4.2)
    ax = fig.subplots()
    grid = np.linspace(min(v.min(), -1) - 0.5, max(v.max(), 1) + 0.5, 400)
    for mask, colour, name in ((y, _KM, "known match"), (~y, _KNM, "known non-match")):
        share = (v[mask][:, None] > grid[None, :]).mean(axis=0)
        ax.plot(grid, share, color=colour, label=name)
    ax.axvline(0, color="#999999", linestyle=":")
    ax.set_xlabel("log10 likelihood ratio")
    ax.set_ylabel("proportion with log10 LR > x")
    ax.legend()
    return _png(fig, path)


def calibration_plot(calibration: Calibration, scores: Sequence[float], labels: Sequence[bool], *,
                     path: str | Path | None = None) -> bytes:
    """The fitted score-to-log10-LR map with the training pairs marked along the score axis."""
    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    fig = _figure(6.5, 4.2)
    ax = fig.subplots()
    grid = np.linspace(s.min(), s.max(), 400)
    ax.plot(grid, log10_lr(calibration, grid), color="#2166ac", label="logistic calibration within ELUB bounds")
    ax.plot(s[~y], np.full((~y).sum(), calibration.lower_bound - 0.3), "|", color=_KNM, label="known non-match")
    ax.plot(s[y], np.full(y.sum(), calibration.upper_bound + 0.3), "|", color=_KM, label="known match")
    for bound in (calibration.lower_bound, calibration.upper_bound):
        ax.axhline(bound, color="#999999", linestyle="--", linewidth=0.8)
    ax.axhline(0, color="#999999", linestyle=":")
    ax.axvline(calibration.threshold, color="black", linestyle="--", label="LR = 1")
    ax.set_xlabel("score")
    ax.set_ylabel("log10 LR")
    ax.legend(fontsize=8)
    return _png(fig, path)
