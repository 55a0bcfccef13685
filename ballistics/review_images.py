"""Review images at the scan's own pixel grid: the registered colour overlay and the CMC cell map.

Unlike the figures of `ballistics.plots` (matplotlib, a few hundred pixels wide), these are one image
pixel per surface point, in the frame of the reference surface A, so that a viewer can zoom into
them down to single measurements, and they carry no text but the cells' correlations: titles and
legends belong to the page that shows them (translated there).

The cell map colours exactly the cell set the score counts (`ballistics.cmc.Comparison.high_cmc`):
a cell position is High-CMC when it is a CMC in either direction (cmcR's combination), so the count
on the map always equals the score's.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ballistics.cmc import Comparison
from ballistics.registration import Alignment, warp
from ballistics.surface import Surface

__all__ = ["CellStates", "cell_map", "cell_states", "registered_overlay"]

Position = tuple[int, int]
# Colours (RGB): the page's legend uses the same ones (qms/static/css, .cellmap-legend).
HIGH, ORIGINAL, NOT_CONGRUENT = (26, 152, 80), (253, 174, 97), (158, 158, 158)
# Not compared: light grey with dark stripes, whatever lies below (often no data at all).
NOT_COMPARED, HATCH = (215, 215, 215), (70, 70, 70)


def _scaled8(heights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heights as 0-255 by robust percentiles (1st-99th), and where they were measured."""
    valid = np.isfinite(heights)
    if not valid.any():
        return np.zeros(heights.shape, np.uint8), valid
    lo, hi = np.percentile(heights[valid], [1, 99])
    grey = np.clip((np.nan_to_num(heights, nan=lo) - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    return (grey * 255).astype(np.uint8), valid


def _png(rgba: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return data.tobytes()


def overlay_rgba(a: Surface, b: Surface, alignment: Alignment) -> np.ndarray:
    """A in magenta, B rotated and shifted onto A in green, at A's pixel grid (rows, cols, RGBA).

    Where both agree the pixel is grey; a part of one surface that the other does not cover keeps
    its colour alone, so rims that do not coincide show as coloured fringes. Transparent where
    neither surface was measured.
    """
    ga, va = _scaled8(a.heights)
    gb, vb = _scaled8(warp(b, alignment, a.shape).heights)
    ga, gb = np.where(va, ga, 0).astype(np.uint8), np.where(vb, gb, 0).astype(np.uint8)
    alpha = np.where(va | vb, 255, 0).astype(np.uint8)
    return np.dstack([ga, gb, ga, alpha])


def registered_overlay(a: Surface, b: Surface, alignment: Alignment) -> bytes:
    """`overlay_rgba` as a PNG of A's size."""
    return _png(overlay_rgba(a, b, alignment))


@dataclass(frozen=True)
class CellStates:
    """What the cell map shows at each position of the grid (row, col), both directions combined.

    ``high`` is the set the score counts; ``compared`` the positions with a correlation in at least
    one direction; ``no_overlap`` the valid cells that found no admissible placement at any rotation
    (their correlation is the -1 placeholder, not a measurement); the rest of the grid had too few
    measured points to be compared.
    """

    grid: tuple[int, int]
    high: frozenset[Position]
    original: frozenset[Position]
    possible: frozenset[Position]
    no_overlap: frozenset[Position]
    best_ccf: dict[Position, float]

    @property
    def not_compared(self) -> frozenset[Position]:
        rows, cols = self.grid
        every = {(r, c) for r in range(rows) for c in range(cols)}
        return frozenset(every - set(self.best_ccf))


def cell_states(comparison: Comparison) -> CellStates:
    """The High-CMC, CMC and uncompared positions of a comparison, as `compare` counts them."""
    high = {(c.row, c.col) for c in comparison.cells if c.cmc_high}
    original = {(c.row, c.col) for c in comparison.cells if c.cmc_original}
    possible = {(c.row, c.col) for c in comparison.cells}
    best: dict[Position, float] = {}
    for c in comparison.cells:
        if c.ccf > -1.0:  # -1 marks "no admissible placement" (see ballistics.cmc._ccf_peaks)
            best[(c.row, c.col)] = max(best.get((c.row, c.col), -1.0), c.ccf)
    return CellStates(tuple(comparison.params.grid), frozenset(high), frozenset(original), frozenset(possible),
                      frozenset(possible - set(best)), best)


def cell_map(reference: Surface, comparison: Comparison) -> tuple[bytes, CellStates]:
    """The reference surface at its own grid with each cell tinted by its state, as a PNG.

    ``reference`` is surface A of the comparison, at the grid it was compared at or a finer one (the
    cells are scaled onto it).

    Green: High-CMC (counted by the score); orange: CMC by the original rule only; grey: compared,
    not congruent; hatched dark grey: not compared (too few measured points, or no placement of the
    cell overlapped the other surface enough). Compared cells carry their best correlation.
    """
    states = cell_states(comparison)
    grey, _ = _scaled8(reference.heights)
    image = np.dstack([grey, grey, grey]).astype(np.float32)
    rows, cols = states.grid
    ys, xs = _cell_edges(reference.shape, comparison.shapes[0], states.grid)
    for r in range(rows):
        for c in range(cols):
            box = (slice(ys[r], ys[r + 1]), slice(xs[c], xs[c + 1]))
            if (r, c) in states.best_ccf:
                _tint(image, box, _colour(states, (r, c)))
            else:
                _hatch(image, box, spacing=max(6, (xs[c + 1] - xs[c]) // 8))
    out = np.clip(image, 0, 255).astype(np.uint8)
    for (r, c), value in states.best_ccf.items():
        _label(out, f"{value:.2f}", ys[r], xs[c], ys[r + 1] - ys[r], xs[c + 1] - xs[c])
    for y in ys:  # the grid lines, one pixel wide
        out[min(y, out.shape[0] - 1), : xs[-1]] = (255, 255, 255)
    for x in xs:
        out[: ys[-1], min(x, out.shape[1] - 1)] = (255, 255, 255)
    rgba = np.dstack([out, np.full(out.shape[:2], 255, np.uint8)])
    return _png(rgba), states


def _cell_edges(shape: tuple[int, int], compared_shape: tuple[int, int],
                grid: tuple[int, int]) -> tuple[list[int], list[int]]:
    """Cell boundaries on ``shape`` of the grid `ballistics.cmc` cut from the compared surface of
    ``compared_shape`` (the same surface, maybe at a coarser grid): whole cells only, as there."""
    compared = compared_shape if min(compared_shape) > 0 else shape
    ch, cw = compared[0] // grid[0], compared[1] // grid[1]
    sy, sx = shape[0] / compared[0], shape[1] / compared[1]
    rows = [int(round(r * ch * sy)) for r in range(grid[0] + 1)]
    cols = [int(round(c * cw * sx)) for c in range(grid[1] + 1)]
    return rows, cols


def _colour(states: CellStates, position: Position) -> tuple[int, int, int]:
    if position in states.high:
        return HIGH
    return ORIGINAL if position in states.original else NOT_CONGRUENT


def _tint(image: np.ndarray, box: tuple[slice, slice], colour: tuple[int, int, int], share: float = 0.45) -> None:
    image[box] = (1 - share) * image[box] + share * np.asarray(colour, np.float32)


def _hatch(image: np.ndarray, box: tuple[slice, slice], spacing: int) -> None:
    """Diagonal stripes over a cell: "not compared" must not look like a low correlation."""
    h = box[0].stop - box[0].start
    w = box[1].stop - box[1].start
    yy, xx = np.mgrid[0:h, 0:w]
    stripes = ((xx + yy) % spacing) < max(1, spacing // 4)
    block = image[box]
    block[...] = NOT_COMPARED
    block[stripes] = HATCH


def _label(image: np.ndarray, text: str, top: int, left: int, ch: int, cw: int) -> None:
    """The cell's correlation, centred, in black on a white halo so it reads on any tint."""
    scale = max(0.3, cw / 110)
    thickness = max(1, int(round(scale * 1.5)))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    origin = (left + (cw - tw) // 2, top + (ch + th) // 2)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness + 2, cv2.LINE_AA)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness, cv2.LINE_AA)
