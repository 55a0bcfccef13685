"""Congruent Matching Cells (CMC) comparison of two breech-face surfaces, in both directions.

The reference surface is cut into a grid of cells; each cell is searched for in a larger region of the
other surface, over rotations and translations, by masked normalised cross-correlation. Cells that
agree on one rotation and translation ("congruent") are evidence of a common source. Two decision
rules are reported: the original rule of Song (2013) and the High-CMC rule of Tong et al. (2015),
combined over both comparison directions as in cmcR (Zemmels et al. 2023).

Speed-up over cmcR: the whole surfaces are first registered over the full circle
(`ballistics.registration.register`), and the per-cell search then runs over ``theta* +/- angle_span``
around the found rotation, relative to the found translation, with all cells of one rotation
correlated in one batch of FFTs. With the default span of 18 degrees in 3-degree steps that is 13
rotations per direction, against cmcR's 21 on a fixed -30..30 grid, and it works for any orientation.

References
----------
.. [1] J. Song, "Proposed NIST ballistics identification system (NBIS) based on 3D topography
   measurements on correlation cells", AFTE Journal 45(2):184-194, 2013.
.. [2] M. Tong, J. Song, W. Chu, "An improved algorithm of congruent matching cells (CMC) method for
   firearm evidence identifications", Journal of Research of NIST 120:102-112, 2015.
   doi:10.6028/jres.120.008
.. [3] J. Song, T. Vorburger, W. Chu et al., "Estimating error rates for firearm evidence
   identifications in forensic science", Forensic Science International 284:15-32, 2018.
   doi:10.1016/j.forsciint.2017.12.013 (thresholds 20 px, 0.5, 6 degrees)
.. [4] J. Zemmels, S. VanderPlas, H. Hofmann, "A study in reproducibility: the congruent matching
   cells algorithm and cmcR package", Journal of Data Science 21(2), 2023.
   doi:10.6339/22-JDS1066 (8x8 cells, maxMissingProp 0.85, region 2x cell side, tau = 1)
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import cv2
import numpy as np
import scipy.fft as sfft

from ballistics.preprocess import WorkingPair, working_pair
from ballistics.registration import Alignment, _affine, _filled, _standardise, register
from ballistics.surface import Surface

__all__ = ["CMCParams", "CellResult", "Comparison", "DirectionResult", "compare"]


@dataclass(frozen=True)
class CMCParams:
    """Parameters of a CMC comparison; defaults follow Song et al. (2018) and cmcR (Zemmels 2023).

    Attributes
    ----------
    grid : (rows, cols)
        Cells per side of the reference surface (cmcR: 8x8).
    max_missing : float
        Cells with a larger fraction of missing points are dropped (cmcR ``maxMissingProp`` 0.85).
    region_factor : float
        Side of the target region searched for each cell, in cell sides (cmcR: 2).
    translation_threshold : float
        T_x = T_y, pixels (Song 2018: 20).
    correlation_threshold : float
        T_CCF (Song 2018: 0.5).
    rotation_threshold : float
        T_theta, degrees (Song 2018: 6).
    angle_step, angle_span : float
        Cell rotations searched: ``theta* - span ... theta* + span`` in ``step`` degrees, where theta*
        is the whole-surface registration (cmcR: 3-degree steps over -30..30).
    tau : int
        High-CMC rule: rotations with at least ``max - tau`` CMC candidates are "high" (Tong 2015: 1).
    min_cell_overlap : float
        A cell correlation counts only at translations where at least this fraction of the cell's
        valid points lands on valid target points. Masked NCC over a partial overlap of band-passed
        surfaces reaches 0.5 by chance far too often: on Fadul with 0.5, known non-matches reached
        High-CMC counts of 26 (cmcR: at most 10); with 0.95 the whole cell is compared, much as in cmcR,
        whose FFT cross-correlation of zero-filled data favours full overlap.
    cell_peak : {"ccf", "ncc"}
        Where a cell is placed in its region. "ccf" (default, as cmcR): at the peak of the
        cross-correlation of the standardised, zero-filled data, reporting the masked Pearson
        correlation there. "ncc": at the maximum of the masked NCC itself. The maximum of the masked
        NCC over some 4,700 shifts of a 68-pixel cell reaches the 0.5 threshold by chance for about a
        third of known non-match cells on Fadul, which the thresholds of Song (2018) were not set for.
    """

    grid: tuple[int, int] = (8, 8)
    max_missing: float = 0.85
    region_factor: float = 2.0
    translation_threshold: float = 20.0
    correlation_threshold: float = 0.5
    rotation_threshold: float = 6.0
    angle_step: float = 3.0
    angle_span: float = 18.0
    tau: int = 1
    min_cell_overlap: float = 0.95
    cell_peak: str = "ccf"

    def __post_init__(self) -> None:
        if len(self.grid) != 2 or min(self.grid) < 1:
            raise ValueError(f"grid must be two positive integers, got {self.grid!r}")
        if not 0 <= self.max_missing < 1:
            raise ValueError(f"max_missing must be in [0, 1), got {self.max_missing}")
        if self.region_factor < 1:
            raise ValueError(f"region_factor must be at least 1, got {self.region_factor}")
        if self.angle_step <= 0 or self.angle_span < 0:
            raise ValueError("angle_step must be positive and angle_span non-negative")
        if not -1 <= self.correlation_threshold <= 1:
            raise ValueError(f"correlation_threshold must be in [-1, 1], got {self.correlation_threshold}")
        if self.translation_threshold < 0 or self.rotation_threshold < 0 or self.tau < 0:
            raise ValueError("thresholds and tau must be non-negative")
        if self.cell_peak not in ("ccf", "ncc"):
            raise ValueError(f"cell_peak must be 'ccf' or 'ncc', got {self.cell_peak!r}")
        if not 0 < self.min_cell_overlap <= 1:
            raise ValueError(f"min_cell_overlap must be in (0, 1], got {self.min_cell_overlap}")


@dataclass(frozen=True)
class CellResult:
    """One reference cell: where it matched best and whether it is congruent.

    ``dx, dy`` (pixels) are relative to where the whole-surface alignment puts the cell, ``angle_deg``
    is the absolute rotation of the target at the best match (cmcR's theta), ``ccf`` the masked
    Pearson correlation there.
    """

    direction: str
    row: int
    col: int
    top: int
    left: int
    height: int
    width: int
    dx: float
    dy: float
    angle_deg: float
    ccf: float
    cmc_original: bool
    cmc_high: bool


@dataclass(frozen=True)
class DirectionResult:
    """CMC outcome of one comparison direction (reference cells searched in the target)."""

    direction: str
    valid_cells: int
    cmc_original: int
    high_cmc_passed: bool
    high_cmc: int
    consensus_angle_deg: float
    consensus_dx: float
    consensus_dy: float
    angles_deg: tuple[float, ...]
    cmc_per_angle: tuple[int, ...]


@dataclass(frozen=True)
class Comparison:
    """Result of `compare`: scores, the whole-surface alignment and the per-cell table.

    Attributes
    ----------
    cmc_original : (int, int)
        Original-rule CMC counts for A->B and B->A (Song 2013).
    high_cmc : int
        Combined High-CMC count: distinct cell positions that are CMCs in either direction (cmcR),
        each direction using its High-CMC cells when it passes Tong's criterion (with cmcR's check
        that the high rotations agree with the original consensus) and its original-rule cells
        otherwise (cmcR ``compareInitialAndHighThetas = TRUE``, ``missingTheta_decision = "dismiss"``).
    possible_cells : int
        Distinct cell positions valid in either direction (the largest ``high_cmc`` could be).
    correlation : float
        Whole-surface masked correlation at the alignment.
    score : float
        Ranking and calibration score: ``high_cmc / possible_cells + 0.01 * max(correlation, 0)``. The
        fraction makes a surface compared with itself score highest (1.01); the small correlation
        term breaks ties between equal counts. Symmetric in A and B.
    alignment : Alignment
        Rotation and translation of B onto A.
    pixel_size_um : float
        The working pixel size both surfaces were compared at (`ballistics.preprocess.working_pair`).
    preparation : (str, str)
        What was done to A and to B to get there: ``"as given"``, ``"resampled from 7.38 um"`` or
        ``"preprocessed from raw at 3.5 um"``.
    """

    cmc_original: tuple[int, int]
    high_cmc: int
    possible_cells: int
    correlation: float
    score: float
    alignment: Alignment
    directions: tuple[DirectionResult, DirectionResult]
    cells: tuple[CellResult, ...]
    params: CMCParams
    shapes: tuple[tuple[int, int], tuple[int, int]] = field(default=((0, 0), (0, 0)))
    pixel_size_um: float = float("nan")
    preparation: tuple[str, str] = ("as given", "as given")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary (alignment curve included)."""
        return asdict(self)


# --------------------------------------------------------------------------------------------------
# Cells
# --------------------------------------------------------------------------------------------------

class _Target:
    """The searched surface, zero-filled and in float32 once, for its many rotations."""

    def __init__(self, surface: Surface) -> None:
        self.filled, self.weight = _filled(surface)

    def rotated(self, angle: float, out_shape: tuple[int, int], dx: float, dy: float) -> tuple[np.ndarray, np.ndarray]:
        """The surface as `ballistics.registration.rotate_masked` turns it, standardised over its valid
        points (zero elsewhere), and the validity mask."""
        matrix = _affine(angle, self.filled.shape, out_shape, dx, dy)
        size = (out_shape[1], out_shape[0])
        warped = cv2.warpAffine(self.filled, matrix, size, flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        weight = cv2.warpAffine(self.weight, matrix, size, flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        valid = weight > 0.999
        # `_standardise` reads the valid points only, so the warped values need no zero-filling first.
        return _standardise(warped, valid), valid


class _Cells:
    """Valid reference cells of one direction, with their FFT terms (each computed once, when first
    needed: the squares and masks serve only the rare cells whose overlap must be counted)."""

    def __init__(self, index: np.ndarray, origin: np.ndarray, size: tuple[int, int], region: tuple[int, int],
                 fft_shape: tuple[int, int], values: np.ndarray, masks: np.ndarray) -> None:
        self.index = index  # (n, 2) grid row, col
        self.origin = origin  # (n, 2) top, left pixel
        self.size = size
        self.region = region
        self.fft_shape = fft_shape
        self.values = values  # (n, ch, cw) float32, standardised per cell, zero where missing
        self.masks = masks  # (n, ch, cw) bool
        self.valid_counts = masks.reshape(len(masks), -1).sum(axis=1).astype(float)
        self._spectra: dict[str, list[np.ndarray]] = {}

    def spectra(self, term: str) -> list[np.ndarray]:
        """OpenCV CCS spectra of the cells' ``values``, their ``squares`` or their ``masks``."""
        if term not in self._spectra:
            stack = {"values": lambda: self.values, "squares": lambda: self.values * self.values,
                     "masks": lambda: self.masks.astype(np.float32)}[term]()
            self._spectra[term] = _dfts(stack, self.fft_shape)
        return self._spectra[term]


def _cells(surface: Surface, params: CMCParams) -> _Cells:
    """Cut the reference into the grid, drop sparse cells, standardise the rest."""
    rows, cols = params.grid
    ch, cw = surface.shape[0] // rows, surface.shape[1] // cols
    if ch < 4 or cw < 4:
        raise ValueError(f"surface of shape {surface.shape} is too small for a {rows}x{cols} cell grid")
    mask = surface.valid
    values = _standardise(surface.heights, mask)
    index, origin, blocks, masks = [], [], [], []
    for i in range(rows):
        for j in range(cols):
            m = mask[i * ch:(i + 1) * ch, j * cw:(j + 1) * cw]
            if m.mean() >= 1.0 - params.max_missing and m.sum() >= 4:
                index.append((i, j))
                origin.append((i * ch, j * cw))
                blocks.append(values[i * ch:(i + 1) * ch, j * cw:(j + 1) * cw])
                masks.append(m)
    region = (int(round(ch * params.region_factor)), int(round(cw * params.region_factor)))
    shape = (sfft.next_fast_len(region[0], real=True), sfft.next_fast_len(region[1], real=True))
    if not blocks:
        return _Cells(np.zeros((0, 2), int), np.zeros((0, 2), int), (ch, cw), region, shape,
                      np.zeros((0, ch, cw), np.float32), np.zeros((0, ch, cw), bool))
    # Each cell is restandardised on its own points: the correlation is scale-free, and this keeps the
    # variance terms of the FFT formula well conditioned in float32.
    blocks = [_standardise(b, m) for b, m in zip(blocks, masks, strict=True)]
    values = np.stack([np.where(m, b, 0) for b, m in zip(blocks, masks, strict=True)]).astype(np.float32)
    return _Cells(np.array(index), np.array(origin), (ch, cw), region, shape, values, np.stack(masks))


def _windows(array: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Read-only view of every ``shape`` window of a C-contiguous 2-D array, indexed by its top-left
    corner: `numpy.lib.stride_tricks.sliding_window_view` without its checks, which took longer than
    the gathers from the view (several views per rotation)."""
    array = np.ascontiguousarray(array)
    rows, cols = array.shape[0] - shape[0] + 1, array.shape[1] - shape[1] + 1
    view = np.ndarray((rows, cols) + tuple(shape), array.dtype, array, 0, array.strides * 2)
    view.flags.writeable = False
    return view


class _Regions:
    """The target rotated by one angle (translation from the alignment) and the cells' regions in it.

    The region of a cell is the window of the canvas at the cell's own top-left corner (the canvas has
    the margin on every side); regions are cut from the canvas only where needed, not all copied.
    """

    def __init__(self, target: _Target, cells: _Cells, alignment: Alignment, angle: float,
                 ref_shape: tuple[int, int]) -> None:
        (ch, cw), (rh, rw) = cells.size, cells.region
        my, mx = (rh - ch) // 2, (rw - cw) // 2
        # One pixel more than the margin on every side, so that the last cell's region fits even when
        # the grid fills the surface exactly and the margin was rounded down.
        canvas = (ref_shape[0] + 2 * my + 2, ref_shape[1] + 2 * mx + 2)
        self.values, self.mask = target.rotated(angle, canvas, alignment.dx, alignment.dy)
        # Region top-left in canvas coordinates = cell top-left + (margin + 1) - margin.
        self.tops, self.lefts = cells.origin[:, 0] + 1, cells.origin[:, 1] + 1
        self.cells = cells

    def cross(self, spectra: list[np.ndarray], cells: np.ndarray, crop: tuple[int, int]) -> np.ndarray:
        """Cross-correlation of the zero-filled ``cells`` (given by their CCS spectra) with their regions,
        for the shifts in ``crop``; -inf for the other cells.

        One cell at a time from region to correlation, in a single padding buffer: the region, its
        spectrum and the product stay in the cache (copying all regions first, then transforming all,
        then correlating all, went through memory three times).
        """
        rh, rw = self.cells.region
        buffer = np.zeros(self.cells.fft_shape, np.float32)
        out = np.full((len(self.tops),) + crop, -np.inf, np.float32)
        flags = cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE
        for k in cells:
            top, left = self.tops[k], self.lefts[k]
            buffer[:rh, :rw] = self.values[top:top + rh, left:left + rw]
            # corr(cell(p), region(p + s)) = IDFT(conj(F1) F2): mulSpectrums(F2, F1, conjB=True); only
            # the first crop[0] rows of the output are wanted, which spares most of the row pass.
            product = cv2.mulSpectrums(cv2.dft(buffer), spectra[k], 0, conjB=True)
            out[k] = cv2.idft(product, flags=flags, nonzeroRows=crop[0])[: crop[0], : crop[1]]
        return out

    def regions(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values and masks of the regions of cells ``k``."""
        rh, rw = self.cells.region
        win_v = _windows(self.values, (rh, rw))
        win_m = _windows(self.mask, (rh, rw))
        return win_v[self.tops[k], self.lefts[k]], win_m[self.tops[k], self.lefts[k]]

    def box(self, crop: tuple[int, int]) -> np.ndarray:
        """For every cell and shift in its region, the valid target points under the cell there."""
        ch, cw = self.cells.size
        integral = cv2.integral(self.mask.view(np.uint8))
        windows = _windows(integral, crop)
        t, left = self.tops, self.lefts
        return windows[t + ch, left + cw] - windows[t, left + cw] - windows[t + ch, left] + windows[t, left]

    def at(self, best: np.ndarray, crop: tuple[int, int],
           k: np.ndarray | slice | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per cell (of ``k``, default all): the points valid in both the cell and the window at flat
        shift ``best`` of its region, and the window's values."""
        k = slice(None) if k is None else k
        oy, ox = np.unravel_index(best[k], crop)
        ys, xs = self.tops[k] + oy, self.lefts[k] + ox
        win_v = _windows(self.values, self.cells.size)
        win_m = _windows(self.mask, self.cells.size)
        return self.cells.masks[k] & win_m[ys, xs], win_v[ys, xs]


def _search(reference: Surface, target: Surface, alignment: Alignment, params: CMCParams,
            cells: _Cells) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per cell and rotation: best masked NCC and its (dx, dy) relative to the aligned position."""
    offsets = np.arange(-params.angle_span, params.angle_span + 1e-9, params.angle_step)
    angles = alignment.angle_deg + offsets
    n = len(cells.index)
    ccf = np.full((n, len(angles)), -1.0)
    dx = np.zeros((n, len(angles)))
    dy = np.zeros((n, len(angles)))
    if n == 0:
        return angles, ccf, dx, dy
    (ch, cw), (rh, rw) = cells.size, cells.region
    crop = (rh - ch + 1, rw - cw + 1)
    min_n = (params.min_cell_overlap * cells.valid_counts)[:, None, None]
    prepared = _Target(target)
    for k, angle in enumerate(angles):
        regions = _Regions(prepared, cells, alignment, angle, reference.shape)
        if params.cell_peak == "ccf":
            # cmcR: the cell sits where the cross-correlation of the zero-filled data peaks; its
            # CCF is the correlation of the valid points there (Zemmels et al. 2023).
            best, ccf[:, k] = _ccf_peaks(cells, regions, crop, min_n[:, 0, 0])
        else:
            values, masks = regions.regions(np.arange(n))
            ncc, _ = _cell_ncc(cells, np.arange(n), values, masks, crop, min_n)
            flat = np.nan_to_num(ncc, nan=-1.0).reshape(n, -1)
            best = flat.argmax(axis=1)
            ccf[:, k] = flat[np.arange(n), best]
        oy, ox = np.unravel_index(best, crop)
        # Offset of the cell inside its region, minus the centred offset = displacement.
        dy[:, k] = oy - (rh - ch) // 2
        dx[:, k] = ox - (rw - cw) // 2
    return angles, ccf, dx, dy


def _dfts(stack: np.ndarray, shape: tuple[int, int]) -> list[np.ndarray]:
    """OpenCV real DFTs (packed CCS format) of zero-padded arrays.

    For the small (about 144 x 144) transforms of the cell search, OpenCV's DFT and ``mulSpectrums``
    are about 1.5 times faster than scipy's pocketfft (measured: 18 vs 27 ms CPU per rotation for the
    29 cells of a Fadul scan).
    """
    padded = np.zeros((len(stack),) + tuple(shape), np.float32)
    padded[:, : stack.shape[1], : stack.shape[2]] = stack
    return [cv2.dft(p) for p in padded]


def _ccf_peaks(cells: _Cells, regions: _Regions, crop: tuple[int, int],
               min_n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: the shift where the zero-filled cross-correlation peaks among the admissible shifts,
    and the masked Pearson correlation there (the "ccf" placement of `CMCParams.cell_peak`).

    A shift is admissible when at least ``min_n`` valid cell points land on valid region points and
    neither side is flat there, exactly as in `_cell_ncc`, but only the cross-correlation needs FFTs
    for every cell. The valid region points under the cell's window at each shift are an upper
    bound of the overlap, so the peak among the shifts it admits is the answer whenever its overlap,
    counted directly, is large enough. (The highest peak of all overlaps too little for most cells of
    a known non-match: it is no shortcut.) Otherwise (about one cell in ten) the overlap is counted by
    FFT at every shift for that cell; where the peak's correlation is flat (rare), the cell goes
    through `_cell_ncc`. That is 3 FFT operations per cell and rotation, sometimes 6, instead of 15, with the
    same placements.

    Returns the flat index of the peak in ``crop`` (0 when no shift is admissible) and the correlation
    there (-1 when none is).
    """
    n = len(cells.index)
    admissible = regions.box(crop) >= min_n[:, None, None]
    # Cells with no admissible shift at this rotation (about one in nine on Fadul) need no transforms.
    # The regions are zero where missing.
    cross = regions.cross(cells.spectra("values"), np.flatnonzero(admissible.any(axis=(1, 2))), crop)
    # In place: the overlap never exceeds its box bound, so no shift left out here counts below either.
    cross[~admissible] = -np.inf
    bounded = cross.reshape(n, -1)
    best = bounded.argmax(axis=1)
    none = ~np.isfinite(bounded[np.arange(n), best])
    both, windows = regions.at(best, crop)
    undecided = ~none & (_counts(both) < min_n)
    if undecided.any():
        # The box bound let through a shift that overlaps too few of this cell's points. (Counting the
        # next shifts by hand instead was no faster: the admissible peak can be far down the list.)
        k = np.flatnonzero(undecided)
        _, masks = regions.regions(k)
        overlap = np.rint(_correlate([cells.spectra("masks")[i] for i in k],
                                     _dfts(masks.astype(np.float32), cells.fft_shape), crop))
        exact = np.where(overlap >= min_n[k, None, None], cross[k], -np.inf).reshape(len(k), -1)
        best[k] = exact.argmax(axis=1)
        none[k] = ~np.isfinite(exact).any(axis=1)
        both[k], windows[k] = regions.at(best, crop, k)
    best[none] = 0
    ccf = _pearson(cells.values, both, windows, min_n)
    ccf[none] = -1.0
    flat = np.isnan(ccf)
    if flat.any():
        # A flat overlap at the peak (rare): the full masked NCC decides.
        k = np.flatnonzero(flat)
        values, masks = regions.regions(k)
        ncc, full_cross = _cell_ncc(cells, k, values, masks, crop, min_n[k, None, None])
        best[k] = np.where(np.isfinite(ncc), full_cross, -np.inf).reshape(len(k), -1).argmax(axis=1)
        ccf[k] = np.nan_to_num(ncc, nan=-1.0).reshape(len(k), -1)[np.arange(len(k)), best[k]]
    return best, ccf


def _correlate(fixed: list[np.ndarray], moving: list[np.ndarray], crop: tuple[int, int]) -> np.ndarray:
    """corr(fixed(p), moving(p + s)) for the shifts in ``crop``, from OpenCV CCS spectra, per cell."""
    flags = cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE
    out = np.empty((len(fixed),) + crop, np.float32)
    for k, (a, b) in enumerate(zip(fixed, moving, strict=True)):
        # IDFT(conj(F1) F2): mulSpectrums(F2, F1, conjB=True).
        # Only the first crop[0] rows of the output are wanted, which spares most of the row pass.
        out[k] = cv2.idft(cv2.mulSpectrums(b, a, 0, conjB=True), flags=flags,
                          nonzeroRows=crop[0])[: crop[0], : crop[1]]
    return out


def _counts(masks: np.ndarray) -> np.ndarray:
    """True points of each mask of a stack (a loop of whole-array counts: three times faster than
    counting along an axis, which casts every point to an integer first)."""
    return np.array([np.count_nonzero(m) for m in masks], dtype=np.int64)


def _pearson(cells: np.ndarray, both: np.ndarray, windows: np.ndarray, min_n: np.ndarray) -> np.ndarray:
    """Masked Pearson correlation of each cell with its window over ``both``; NaN where `_cell_ncc`
    would give NaN (overlap below ``min_n``, or a flat side)."""
    n = len(cells)
    both = both.reshape(n, -1)
    count = _counts(both).astype(np.float64)
    # Cell and window values over the overlap (zero elsewhere), in float64 where float32 products are
    # exact; their sums and their three dot products.
    xy = np.empty((n, 2, both.shape[1]), np.float64)
    np.multiply(cells.reshape(n, -1), both, out=xy[:, 0])
    np.multiply(windows.reshape(n, -1), both, out=xy[:, 1])
    sx, sy = xy.sum(axis=2).T
    # The three distinct dot products (the same sums as the full 2 x 2 einsum, bit for bit).
    x, y = xy[:, 0], xy[:, 1]
    xx, xy_, yy = (np.einsum("kp,kp->k", a, b) for a, b in ((x, x), (x, y), (y, y)))
    safe = np.maximum(count, 1.0)
    num = xy_ - sx * sy / safe
    v1 = xx - sx * sx / safe
    v2 = yy - sy * sy / safe
    ok = (count >= min_n) & (v1 > 1e-3 * safe) & (v2 > 1e-3 * safe)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, np.clip(num / np.sqrt(np.abs(v1 * v2)), -1.0, 1.0), np.nan)


def _cell_ncc(cells: _Cells, k: np.ndarray, values: np.ndarray, masks: np.ndarray, crop: tuple[int, int],
              min_n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masked NCC (Padfield 2012, eq. 11) of cells ``k`` with their regions, for the shifts in ``crop``.

    ``ncc[i, y, x]`` correlates cell k[i] with the region window whose top-left is (y, x); NaN where
    the overlap is below ``min_n[i]`` or flat. Also returns the plain cross-correlation of the
    standardised, zero-filled data (the numerator's first term), which cmcR uses to place the cell.
    """
    f1, f1sq, m1 = ([part[i] for i in k] for part in (cells.spectra("values"), cells.spectra("squares"),
                                                       cells.spectra("masks")))
    filled = np.where(masks, values, 0).astype(np.float32)
    f2, f2sq, m2 = (_dfts(filled, cells.fft_shape), _dfts(filled * filled, cells.fft_shape),
                    _dfts(masks.astype(np.float32), cells.fft_shape))
    flags = cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE
    terms = np.empty((6, len(f2)) + crop, np.float32)
    for i in range(len(f2)):
        # corr(fixed(p), moving(p + s)) = IDFT(conj(F1) F2): mulSpectrums(F2, F1, conjB=True).
        for t, (a, b) in enumerate(((m1[i], m2[i]), (f1[i], m2[i]), (m1[i], f2[i]), (f1[i], f2[i]),
                                    (f1sq[i], m2[i]), (m1[i], f2sq[i]))):
            terms[t, i] = cv2.idft(cv2.mulSpectrums(b, a, 0, conjB=True), flags=flags)[: crop[0], : crop[1]]
    n, s1, s2, cross, sq1, sq2 = terms
    n = np.rint(n)
    safe = np.maximum(n, 1.0)
    num = cross - s1 * s2 / safe
    v1 = sq1 - s1 * s1 / safe
    v2 = sq2 - s2 * s2 / safe
    # Standardised inputs: a variance below 1e-3 per point is round-off or a flat patch.
    ok = (n >= min_n) & (v1 > 1e-3 * safe) & (v2 > 1e-3 * safe)
    with np.errstate(invalid="ignore", divide="ignore"):
        ncc = np.clip(np.where(ok, num / np.sqrt(np.abs(v1 * v2)), np.nan), -1.0, 1.0)
    return ncc, cross


# --------------------------------------------------------------------------------------------------
# Decision rules
# --------------------------------------------------------------------------------------------------

def _original_rule(angles: np.ndarray, ccf: np.ndarray, dx: np.ndarray, dy: np.ndarray,
                   params: CMCParams) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """Song (2013): each cell's best rotation; CMC if close to the median (theta, x, y) and ccf high."""
    n = ccf.shape[0]
    best = ccf.argmax(axis=1)
    rows = np.arange(n)
    theta, x, y, c = angles[best], dx[rows, best], dy[rows, best], ccf[rows, best]
    med = (float(np.median(theta)), float(np.median(x)), float(np.median(y)))
    cmc = ((np.abs(theta - med[0]) <= params.rotation_threshold + 1e-9)
           & (np.abs(x - med[1]) <= params.translation_threshold)
           & (np.abs(y - med[2]) <= params.translation_threshold)
           & (c >= params.correlation_threshold))
    return best, cmc, med


def _high_rule(angles: np.ndarray, ccf: np.ndarray, dx: np.ndarray, dy: np.ndarray, params: CMCParams,
               consensus_angle: float) -> tuple[np.ndarray, bool, np.ndarray]:
    """Tong (2015): CMC candidates per rotation; pass if the high-count rotations span <= T_theta.

    As cmcR's ``compareInitialAndHighThetas`` option, the direction also fails when the high-count
    rotations (their median) lie more than T_theta from the original rule's consensus rotation:
    cmcR's documentation notes that non-matches passing the High-CMC criterion usually disagree
    there, and "tend to be assigned a lot of false positive CMCs" otherwise (seen on Fadul).

    Returns the candidate matrix (cells x rotations), whether the criterion passed, and for each
    cell whether it is a CMC at a high rotation (cmcR ``decision_highCMC_classifyCMCs``).
    """
    cand = ((np.abs(dx - np.median(dx, axis=0)) <= params.translation_threshold)
            & (np.abs(dy - np.median(dy, axis=0)) <= params.translation_threshold)
            & (ccf >= params.correlation_threshold))
    counts = cand.sum(axis=0)
    if counts.max(initial=0) == 0:
        return cand, False, np.zeros(ccf.shape[0], bool)
    high = counts >= counts.max() - params.tau
    spread = angles[high].max() - angles[high].min()
    agrees = abs(float(np.median(angles[high])) - consensus_angle) <= params.rotation_threshold + 1e-9
    passed = bool(spread <= params.rotation_threshold + 1e-9 and agrees)
    return cand, passed, (cand[:, high].any(axis=1) if passed else np.zeros(ccf.shape[0], bool))


def _direction(name: str, reference: Surface, target: Surface, alignment: Alignment,
               params: CMCParams) -> tuple[DirectionResult, list[CellResult]]:
    cells = reference.derived(("cmc cells", params.grid, params.max_missing, params.region_factor),
                              lambda: _cells(reference, params))
    angles, ccf, dx, dy = _search(reference, target, alignment, params, cells)
    n = len(cells.index)
    if n == 0:
        empty = DirectionResult(name, 0, 0, False, 0, float("nan"), float("nan"), float("nan"),
                                tuple(map(float, angles)), tuple(0 for _ in angles))
        return empty, []
    best, original, med = _original_rule(angles, ccf, dx, dy, params)
    cand, passed, high = _high_rule(angles, ccf, dx, dy, params, med[0])
    # Tong (2015): when the High-CMC criterion fails, the original-rule count stands. The final
    # choice is made for the pair in `_combined` (both directions must pass).
    final = high if passed else original
    table = []
    for k in range(n):
        b = best[k]
        table.append(CellResult(name, int(cells.index[k, 0]), int(cells.index[k, 1]),
                                int(cells.origin[k, 0]), int(cells.origin[k, 1]), cells.size[0],
                                cells.size[1], float(dx[k, b]), float(dy[k, b]), float(angles[b]),
                                float(ccf[k, b]), bool(original[k]), bool(final[k])))
    result = DirectionResult(name, n, int(original.sum()), passed, int(final.sum()), *med,
                             tuple(float(a) for a in angles), tuple(int(c) for c in cand.sum(axis=0)))
    return result, table


# --------------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------------

def compare(a: Surface, b: Surface, *, params: CMCParams = CMCParams(), resample: bool = True,
            allow_unprocessed: bool = False) -> Comparison:
    """Compare two surfaces by Congruent Matching Cells in both directions.

    Parameters
    ----------
    a, b : Surface
        Surfaces of the same kind, raw or processed, at any pixel size. They are brought to one
        working pixel size by `ballistics.preprocess.working_pair`: processed surfaces of exactly the
        same pixel size are compared as they are; otherwise raw ones are preprocessed and both are
        resampled to 6.25 µm. The result records the working size and what was done to each.
    params : CMCParams, keyword-only
        Cell grid, search ranges and decision thresholds.
    resample : bool, keyword-only
        Ignored (pixel sizes are always reconciled); kept so that older callers keep working.
    allow_unprocessed : bool, keyword-only
        Take surfaces not marked as preprocessed as processed elsewhere (no preprocessing here).

    Returns
    -------
    Comparison
        Symmetric: ``compare(b, a)`` gives the same scores with the directions swapped, because the
        work is always done in a canonical order of the two surfaces.

    Raises
    ------
    ValueError
        Different kinds, no valid points, or a raw surface whose preprocessing leaves nothing.

    References
    ----------
    .. [1] J. Song, AFTE Journal 45(2):184-194, 2013.
    .. [2] M. Tong, J. Song, W. Chu, J. Res. NIST 120:102-112, 2015. doi:10.6028/jres.120.008
    .. [3] J. Zemmels, S. VanderPlas, H. Hofmann, J. Data Science 21(2), 2023. doi:10.6339/22-JDS1066

    Examples
    --------
    >>> from scipy.ndimage import gaussian_filter
    >>> z = gaussian_filter(np.random.default_rng(2).normal(size=(160, 160)), 1.5)
    >>> s = Surface(z, 6.25e-6, processed=True)
    >>> result = compare(s, s)
    >>> result.high_cmc == result.possible_cells, round(result.correlation, 3)
    (True, 1.0)
    """
    pair = _checked(a, b, allow_unprocessed=allow_unprocessed)
    a, b = pair.a, pair.b
    swapped = _fingerprint(a) > _fingerprint(b)
    first, second = (b, a) if swapped else (a, b)
    result = _compare_ordered(first, second, params)
    result = _swap(result) if swapped else result
    return replace(result, pixel_size_um=pair.pixel_size_um, preparation=pair.steps)


def _compare_ordered(a: Surface, b: Surface, params: CMCParams) -> Comparison:
    span = (-180.0, 180.0)
    alignment = register(a, b, angle_range=span)
    forward, cells_ab = _direction("A->B", a, b, alignment, params)
    backward, cells_ba = _direction("B->A", b, a, alignment.inverse(), params)
    # Each direction falls back to its own original-rule CMCs when it fails (cmcR "dismiss"). Making
    # both fall back when either fails ("fail") was tried on the 780 rotated Fadul pairs: known-match
    # counts dropped to 15 while non-matches reached 19 (AUC 0.99988); per direction: 23-41 vs 0-19.
    high_cells = {(c.row, c.col) for c in cells_ab + cells_ba if c.cmc_high}
    possible = {(c.row, c.col) for c in cells_ab + cells_ba}
    high = len(high_cells)
    score = (high / len(possible) if possible else 0.0) + 0.01 * max(alignment.correlation, 0.0)
    return Comparison((forward.cmc_original, backward.cmc_original), high, len(possible),
                      float(alignment.correlation), float(score), alignment, (forward, backward),
                      tuple(cells_ab + cells_ba), params, (a.shape, b.shape))


def _swap(result: Comparison) -> Comparison:
    """The same comparison seen from the other side: directions and alignment swapped."""
    rename = {"A->B": "B->A", "B->A": "A->B"}
    forward, backward = result.directions
    cells = tuple(replace(c, direction=rename[c.direction]) for c in result.cells)
    cells = tuple(sorted(cells, key=lambda c: c.direction))
    return replace(result, cmc_original=result.cmc_original[::-1], alignment=result.alignment.inverse(),
                   directions=(replace(backward, direction="A->B"), replace(forward, direction="B->A")),
                   cells=cells, shapes=result.shapes[::-1])


def _fingerprint(surface: Surface) -> bytes:
    """Content digest giving the canonical order of a pair (NaN-safe: quiet NaNs are canonical)."""
    return surface.derived("fingerprint", lambda: _digest(surface))


def _digest(surface: Surface) -> bytes:
    digest = hashlib.sha1(np.asarray(surface.shape, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(surface.heights))  # hashed in place: the bytes of tobytes()
    digest.update(np.float64(surface.pixel_size).tobytes())
    return digest.digest()


def _checked(a: Surface, b: Surface, *, allow_unprocessed: bool) -> WorkingPair:
    """Refuse only what cannot be compared (no data, two kinds); reconcile the rest."""
    for name, s in (("A", a), ("B", b)):
        if not isinstance(s, Surface):
            raise TypeError(f"surface {name} must be a ballistics.Surface, got {type(s).__name__}")
        if not s.valid.any():
            raise ValueError(f"surface {name} has no valid points (all NaN): nothing to compare")
    if a.kind != b.kind:
        raise ValueError(f"cannot compare a {a.kind} with an {b.kind}")
    if allow_unprocessed:
        a, b = (s if s.processed else replace(s, processed=True) for s in (a, b))
    try:
        return working_pair(a, b)
    except ValueError as error:
        raise ValueError(f"cannot prepare the scans for comparison: {error}") from error
