"""Rotation and translation that best align two surfaces, by masked normalised cross-correlation.

Missing points (NaN) do not count: the correlation at every shift is the Pearson correlation over the
points valid in *both* surfaces, computed for all shifts at once with FFTs (Padfield 2012). The
orientation of a cartridge case under the microscope is arbitrary, so the default search covers the
full circle: a coarse grid on downsampled surfaces, a fine grid around the best coarse angles at half
resolution, a parabolic sub-degree refinement, and a last translation check at full resolution.

Conventions
-----------
Arrays are indexed ``[row, col]``; ``x`` is the column and ``y`` the row. An `Alignment` maps a point
``p`` of the *moving* surface to the *fixed* surface as ``R(angle) (p - c_moving) + c_fixed + (dx, dy)``
where ``c`` is the centre of each array (``((cols - 1) / 2, (rows - 1) / 2)``) and ``R(angle)`` turns
counter-clockwise on the displayed image (rows pointing down) for a positive angle.

References
----------
.. [1] D. Padfield, "Masked object registration in the Fourier domain", IEEE Transactions on Image
   Processing 21(5):2706-2718, 2012. doi:10.1109/TIP.2011.2181402
.. [2] J. Song, "Proposed NIST ballistics identification system (NBIS) based on 3D topography
   measurements on correlation cells", AFTE Journal 45(2):184-194, 2013.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np
import scipy.fft as sfft

from ballistics.surface import Surface

__all__ = [
    "Alignment",
    "masked_ncc",
    "register",
    "rotate_masked",
    "warp",
]

# Shifts whose overlap is a small fraction of the smaller valid area give spuriously high correlations
# from a handful of points (Padfield 2012, section IV.C "overlap ratio").
DEFAULT_MIN_OVERLAP = 0.3


@dataclass(frozen=True)
class Alignment:
    """Where the moving surface lies on the fixed one.

    Attributes
    ----------
    angle_deg : float
        Rotation of the moving surface about its centre, degrees in (-180, 180], counter-clockwise on
        the displayed image.
    dx, dy : float
        Translation in pixels (columns, rows) applied after the rotation, centre to centre.
    correlation : float
        Masked normalised cross-correlation at this alignment (Pearson r over the overlap).
    overlap : int
        Number of points valid in both surfaces at this alignment.
    angles_deg, curve : tuple of float
        The correlation-versus-rotation curve of the coarse full-circle search (best over translations
        at each angle), for plots and for judging how distinct the peak is.
    """

    angle_deg: float
    dx: float
    dy: float
    correlation: float
    overlap: int
    angles_deg: tuple[float, ...] = ()
    curve: tuple[float, ...] = ()

    def inverse(self) -> "Alignment":
        """The alignment of the fixed surface onto the moving one (same correlation)."""
        theta = np.deg2rad(self.angle_deg)
        cos, sin = np.cos(theta), np.sin(theta)
        # p_f = R p_m + d  =>  p_m = R^T p_f - R^T d, with R = [[cos, sin], [-sin, cos]] (see _affine).
        dx = -(cos * self.dx - sin * self.dy)
        dy = -(sin * self.dx + cos * self.dy)
        return Alignment(_wrap_angle(-self.angle_deg), float(dx), float(dy), self.correlation,
                         self.overlap, tuple(_wrap_angle(-a) for a in self.angles_deg), self.curve)


# --------------------------------------------------------------------------------------------------
# Masked NCC (Padfield 2012)
# --------------------------------------------------------------------------------------------------

def _spectra(values: np.ndarray, mask: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """Real FFTs of the zero-filled values, their squares and the mask (the three terms of eq. 11)."""
    m = mask.astype(np.float32)
    v = np.where(mask, values, 0).astype(np.float32)
    spec = _rfft2(np.stack([v, v * v, m], axis=-3), shape)
    return spec[..., 0, :, :], spec[..., 1, :, :], spec[..., 2, :, :]


def _rfft2(stack: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """`scipy.fft.rfft2` with zero padding to ``shape``, in its two passes: the first then skips the
    padding rows, about half of them (bit for bit the same result)."""
    return sfft.fft(sfft.rfft(stack, n=shape[1], axis=-1, workers=1), n=shape[0], axis=-2, workers=1)


def _ncc_from_spectra(fixed: tuple[np.ndarray, ...], moving: tuple[np.ndarray, ...],
                      shape: tuple[int, int], *, min_overlap: float,
                      crop: tuple[int, int] | None = None,
                      conjugated: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Masked NCC for every circular shift ``s``: corr over p of fixed(p) and moving(p + s).

    Returns the correlation map (NaN where the overlap is too small or flat) and the overlap counts.
    ``crop`` keeps only the first rows/columns of shifts, which saves part of the inverse transforms.
    ``conjugated``: the fixed spectra are already complex conjugates (a search reuses them).
    """
    f1, f1sq, m1 = fixed
    f2, f2sq, m2 = moving

    def cc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        prod = a * b if conjugated else np.conj(a) * b
        if crop is None:
            return sfft.irfft2(prod, s=shape, workers=1)
        # Inverse over rows first, drop the rows we do not need, then over columns.
        rows = sfft.ifft(prod, axis=-2, workers=1)[..., : crop[0], :]
        return sfft.irfft(rows, n=shape[1], axis=-1, workers=1)[..., : crop[1]]

    n = np.rint(cc(m1, m2))
    safe_n = np.maximum(n, 1.0)
    s1 = cc(f1, m2)
    s2 = cc(m1, f2)
    num = cc(f1, f2) - s1 * s2 / safe_n
    v1 = cc(f1sq, m2) - s1 * s1 / safe_n
    v2 = cc(m1, f2sq) - s2 * s2 / safe_n
    # Inputs are standardised (unit variance), so a variance below 1e-3 per point is round-off or a
    # flat patch, where the correlation means nothing.
    ok = (n >= min_overlap) & (v1 > 1e-3 * safe_n) & (v2 > 1e-3 * safe_n)
    with np.errstate(invalid="ignore", divide="ignore"):
        ncc = np.where(ok, num / np.sqrt(np.abs(v1 * v2)), np.nan)
    return np.clip(ncc, -1.0, 1.0), n


def masked_ncc(fixed: np.ndarray, moving: np.ndarray, *, fixed_mask: np.ndarray | None = None,
               moving_mask: np.ndarray | None = None,
               min_overlap: float = DEFAULT_MIN_OVERLAP) -> np.ndarray:
    """Masked normalised cross-correlation of two arrays for every translation (Padfield 2012).

    Parameters
    ----------
    fixed, moving : ndarray, 2-D
        Values; NaN marks missing points (in addition to the optional masks).
    fixed_mask, moving_mask : ndarray of bool, optional
        True where a value counts.
    min_overlap : float, keyword-only
        Smallest overlap, as a fraction of the smaller number of valid points, for which a correlation
        is reported; smaller overlaps are NaN.

    Returns
    -------
    ncc : ndarray, shape (fixed.rows + moving.rows - 1, fixed.cols + moving.cols - 1)
        ``ncc[i, j]`` is the Pearson correlation of the overlapping valid points when the moving array
        is translated by ``(dy, dx) = (i - moving.rows + 1, j - moving.cols + 1)`` over the fixed one.

    References
    ----------
    .. [1] D. Padfield, "Masked object registration in the Fourier domain", IEEE TIP 21(5), 2012.
       doi:10.1109/TIP.2011.2181402

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(40, 50))
    >>> b = np.roll(a, (3, -5), axis=(0, 1))
    >>> c = masked_ncc(a, b)
    >>> i, j = np.unravel_index(np.nanargmax(c), c.shape)
    >>> (int(i - 40 + 1), int(j - 50 + 1))
    (-3, 5)
    """
    fv, fm = _values_and_mask(fixed, fixed_mask, "fixed")
    mv, mm = _values_and_mask(moving, moving_mask, "moving")
    fv, mv = _standardise(fv, fm), _standardise(mv, mm)
    (h1, w1), (h2, w2) = fv.shape, mv.shape
    shape = (sfft.next_fast_len(h1 + h2 - 1, real=True), sfft.next_fast_len(w1 + w2 - 1, real=True))
    min_n = min_overlap * min(fm.sum(), mm.sum())
    # corr(fixed(p), moving(p + s)) peaks at s = -t when moving is fixed translated by t.
    ncc, _ = _ncc_from_spectra(_spectra(fv, fm, shape), _spectra(mv, mm, shape), shape,
                               min_overlap=max(min_n, 2.0))
    # Reorder circular shifts so that index (i, j) is translation (i - h2 + 1, j - w2 + 1).
    rows = (-(np.arange(h1 + h2 - 1) - h2 + 1)) % shape[0]
    cols = (-(np.arange(w1 + w2 - 1) - w2 + 1)) % shape[1]
    return ncc[np.ix_(rows, cols)]


def _values_and_mask(values: np.ndarray, mask: np.ndarray | None, name: str) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or min(v.shape) == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {v.shape}")
    m = np.isfinite(v)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != v.shape:
            raise ValueError(f"{name} mask shape {mask.shape} differs from its values {v.shape}")
        m &= mask
    if m.sum() < 2:
        raise ValueError(f"{name} has fewer than two valid points")
    return v, m


def _standardise(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Zero mean, unit standard deviation over the valid points, zero elsewhere (a new array).

    Working at unit scale keeps the variance terms of the masked NCC well away from float32 round-off
    (Fadul heights are about 1e-6 m).
    """
    out = np.zeros(values.shape, dtype=np.float32)
    valid = values[mask]
    if not valid.size:  # e.g. a region rotated out of the frame: nothing to correlate
        return out
    # valid.std() and valid.mean() bit for bit, with the mean and the deviations computed once (numpy's
    # _var: a pairwise sum of the squared deviations, divided by the count in the values' precision).
    mean = valid.mean()
    deviations = valid - mean
    squares = np.add.reduce(deviations * deviations)
    std = squares.dtype.type(np.sqrt(squares.dtype.type(squares / valid.size)))
    out[mask] = deviations / (std if std > 0 else 1.0)
    return out


# --------------------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------------------

def _wrap_angle(angle: float) -> float:
    """Angle in degrees mapped to (-180, 180]."""
    a = -((-angle + 180.0) % 360.0 - 180.0)
    return float(a)


def _affine(angle_deg: float, src_shape: tuple[int, int], dst_shape: tuple[int, int],
            dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """2x3 matrix taking source (x, y) to destination: rotate about the source centre, then shift."""
    theta = np.deg2rad(angle_deg)
    # Rows point down on screen, so a counter-clockwise turn on screen is (x, y) -> (x c + y s, -x s + y c).
    rot = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
    c_src = np.array([(src_shape[1] - 1) / 2, (src_shape[0] - 1) / 2])
    c_dst = np.array([(dst_shape[1] - 1) / 2, (dst_shape[0] - 1) / 2])
    offset = c_dst + np.array([dx, dy]) - rot @ c_src
    return np.hstack([rot, offset[:, None]])


def rotate_masked(values: np.ndarray, mask: np.ndarray, angle_deg: float, *,
                  out_shape: tuple[int, int] | None = None, dx: float = 0.0,
                  dy: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Rotate (about the centre) and shift an array with missing points, bilinearly.

    A destination point is valid only when all four source neighbours are valid, so missing data
    never leaks into measured values.

    Parameters
    ----------
    values : ndarray, 2-D
        Values (anything at invalid points).
    mask : ndarray of bool
        True where a value was measured.
    angle_deg : float
        Counter-clockwise rotation on the displayed image.
    out_shape : (rows, cols), keyword-only
        Destination shape; the source centre lands on its centre (plus ``dx, dy``). Default: same.
    dx, dy : float, keyword-only
        Translation in pixels after the rotation.

    Returns
    -------
    values, mask : ndarray (float32), ndarray (bool)
    """
    filled = np.where(mask, values, 0).astype(np.float32)
    return _rotate_filled(filled, mask.astype(np.float32), angle_deg, tuple(out_shape or values.shape), dx, dy)


def _filled(surface: Surface) -> tuple[np.ndarray, np.ndarray]:
    """The heights zero-filled and the mask, both in float32, as `_rotate_filled` takes them (kept
    with the surface: each comparison turns it many times)."""
    def compute() -> tuple[np.ndarray, np.ndarray]:
        mask = surface.valid
        return np.where(mask, surface.heights, 0).astype(np.float32), mask.astype(np.float32)

    return surface.derived("float32 filled", compute)


def _rotate_filled(filled: np.ndarray, weight: np.ndarray, angle_deg: float, out_shape: tuple[int, int],
                   dx: float = 0.0, dy: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """`rotate_masked` of values already zero-filled and of their mask, both in float32."""
    matrix = _affine(angle_deg, filled.shape, out_shape, dx, dy)
    size = (out_shape[1], out_shape[0])
    warped = cv2.warpAffine(filled, matrix, size, flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    weight = cv2.warpAffine(weight, matrix, size, flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    valid = weight > 0.999
    return np.where(valid, warped, np.float32(0)).astype(np.float32, copy=False), valid


def warp(moving: Surface, alignment: Alignment, shape: tuple[int, int]) -> Surface:
    """The moving surface resampled into the frame of a fixed surface of the given shape.

    Examples
    --------
    >>> s = Surface(np.arange(36.0).reshape(6, 6), 1e-6)
    >>> same = warp(s, Alignment(0.0, 0.0, 0.0, 1.0, 36), (6, 6))
    >>> bool(np.allclose(same.heights, s.heights))
    True
    """
    values, valid = _rotate_filled(*_filled(moving), alignment.angle_deg, tuple(shape), alignment.dx, alignment.dy)
    heights = np.where(valid, values.astype(np.float64), np.nan)
    return moving.with_heights(heights)


# --------------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------------

def _downsample(filled: np.ndarray, weight: np.ndarray, mask: np.ndarray,
                factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Area-average the valid points only (normalised convolution), keep cells at least half valid.

    ``filled`` and ``weight`` are the values zero-filled and the mask, in float32 (`_filled`).
    """
    if factor == 1:
        return filled.copy(), mask.copy()
    size = (max(1, filled.shape[1] // factor), max(1, filled.shape[0] // factor))
    num = cv2.resize(filled, size, interpolation=cv2.INTER_AREA)
    den = cv2.resize(weight, size, interpolation=cv2.INTER_AREA)
    valid = den >= 0.5
    return np.where(valid, num / np.maximum(den, 1e-6), np.float32(0)).astype(np.float32, copy=False), valid


def _crop_to_circle(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canvas centred on the array centre, just large enough to hold the valid points at any rotation.

    Cartridge-case data fill a disc, so this is about the array itself; a generic rectangle gets room
    for its corners, and a small blob in a large frame is cropped, which keeps the FFTs small.
    """
    rows, cols = np.nonzero(mask)
    cy, cx = (mask.shape[0] - 1) / 2, (mask.shape[1] - 1) / 2
    radius = float(np.hypot(rows - cy, cols - cx).max()) if rows.size else 0.0
    side = int(2 * np.ceil(radius) + 3)
    # Same parity as the source in each axis, so that the centres coincide exactly.
    shape = (side + (side - mask.shape[0]) % 2, side + (side - mask.shape[1]) % 2)
    return rotate_masked(values, mask, 0.0, out_shape=shape)


@dataclass(frozen=True)
class _Level:
    """One resolution of the search: the standardised fixed surface and the moving canvas."""

    factor: int
    fixed: np.ndarray
    fixed_mask: np.ndarray
    moving: np.ndarray
    moving_mask: np.ndarray
    fft_shape: tuple[int, int]  # the largest transform needed: every shift with some overlap
    min_n: float
    spectra: dict[tuple[int, int], tuple[np.ndarray, ...]] = field(default_factory=dict)

    @property
    def fixed_shape(self) -> tuple[int, int]:
        return self.fixed.shape  # type: ignore[return-value]

    @property
    def moving_shape(self) -> tuple[int, int]:
        return self.moving.shape  # type: ignore[return-value]

    def fixed_spectra(self, shape: tuple[int, int]) -> tuple[np.ndarray, ...]:
        """Complex conjugates of the fixed spectra at one transform shape, computed once."""
        if shape not in self.spectra:
            self.spectra[shape] = tuple(np.conj(part) for part in _spectra(self.fixed, self.fixed_mask, shape))
        return self.spectra[shape]


def _level(fixed: Surface, moving: Surface, factor: int, min_overlap: float) -> _Level:
    fv, fm = fixed.derived(("registration fixed", factor), lambda: _reduced(fixed, factor))
    mv, mm = moving.derived(("registration moving", factor), lambda: _crop_to_circle(*_reduced(moving, factor)))
    (h1, w1), (h2, w2) = fv.shape, mv.shape
    shape = (sfft.next_fast_len(h1 + h2 - 1, real=True), sfft.next_fast_len(w1 + w2 - 1, real=True))
    min_n = max(min_overlap * min(fm.sum(), mm.sum()), 4.0)
    return _Level(factor, fv, fm, mv, mm, shape, min_n)


def _reduced(surface: Surface, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """The surface downsampled by ``factor`` and standardised, and its mask."""
    # From the float32 zero-filled form kept with the surface (the cell search and warp use it too).
    values, mask = _downsample(*_filled(surface), surface.valid, factor)
    return _standardise(values, mask), mask


def _reach(fixed_counts: np.ndarray, moving_counts: np.ndarray, min_n: float) -> tuple[int, int] | None:
    """The shifts along one axis (moving index minus fixed index) at which two masks with these line
    counts (per angle for the moving one) may overlap in ``min_n`` points or more.

    Each line of the fixed mask overlaps its shifted moving line in at most the smaller of their
    counts, so the overlap at shift s is at most sum_y min(fixed[y], moving[y + s]), with the largest
    count of each moving line over the angles: a bound that never leaves out a shift that counts.
    """
    moving = np.concatenate([np.zeros(len(fixed_counts) - 1, moving_counts.dtype), moving_counts.max(axis=0),
                             np.zeros(len(fixed_counts) - 1, moving_counts.dtype)])
    h1, h2 = len(fixed_counts), moving_counts.shape[-1]
    # lines[s + h1 - 1, y] = moving count of line y + s (zero beyond the moving canvas).
    lines = np.lib.stride_tricks.sliding_window_view(moving, h1)[: h1 + h2 - 1]
    bound = np.minimum(fixed_counts, lines).sum(axis=-1)
    reached = np.flatnonzero(bound >= min_n) - (h1 - 1)
    return (int(reached[0]), int(reached[-1])) if reached.size else None


# Angles correlated in one batch of transforms (16 or 32 were no faster: larger arrays, fewer cache hits).
_CHUNK = 8


def _transform_shape(level: _Level, rows: tuple[int, int], cols: tuple[int, int]) -> tuple[int, int]:
    """The smallest fast transform shape whose circular correlation is the linear one at every shift
    in ``rows`` x ``cols``: no other shift s + kN may have any overlap, so N >= hi + h1 and
    N >= h2 - lo along each axis."""
    (h1, w1), (h2, w2) = level.fixed_shape, level.moving_shape
    return (min(sfft.next_fast_len(max(rows[1] + h1, h2 - rows[0]), real=True), level.fft_shape[0]),
            min(sfft.next_fast_len(max(cols[1] + w1, w2 - cols[0]), real=True), level.fft_shape[1]))


def _shifts(size: int, reach: tuple[int, int]) -> np.ndarray:
    """The shift (within ``reach`` when it can be) of every circular index of a transform of ``size``."""
    return (np.arange(size) - reach[0]) % size + reach[0]


def _scores(level: _Level, angles: Sequence[float]) -> list[tuple[float, float, float, float, int]]:
    """Best (ncc, angle, dx, dy, overlap) over translations for each angle, at the level's resolution.

    dx, dy are centre-to-centre shifts of the rotated moving canvas in level pixels.

    The numbers of `_ncc_from_spectra` over all shifts (up to round-off), for much less work. Only the
    shifts where the overlap reaches ``min_n`` count, and on cartridge-case scans they are a sixth of
    the rows and columns. So the overlap is computed first, with transforms as large as a bound of
    those shifts requires (`_reach`), then the other five terms with transforms as large as the
    shifts found require (about 0.4 of the area of the transforms for all shifts), and at those
    shifts only: their inverse transforms run over the columns in full, then over the kept rows.
    """
    angles = [float(a) for a in angles]
    # The moving canvas is standardised, hence zero where missing already.
    weight = level.moving_mask.astype(np.float32)
    rotated = [_rotate_filled(level.moving, weight, a, level.moving_shape) for a in angles]
    masks = np.stack([r[1] for r in rotated])
    none = [(-1.0, a, 0.0, 0.0, 0) for a in angles]
    rows_reach = _reach(level.fixed_mask.sum(axis=1), masks.sum(axis=2), level.min_n)
    cols_reach = _reach(level.fixed_mask.sum(axis=0), masks.sum(axis=1), level.min_n)
    if rows_reach is None or cols_reach is None:
        return none
    # The overlap at every shift within reach.
    shape = _transform_shape(level, rows_reach, cols_reach)
    shift_y, shift_x = _shifts(shape[0], rows_reach), _shifts(shape[1], cols_reach)
    m1 = level.fixed_spectra(shape)[2]
    n = np.concatenate([np.rint(sfft.irfft2(m1 * _rfft2(masks[k:k + _CHUNK].astype(np.float32), shape), s=shape,
                                            workers=1)) for k in range(0, len(angles), _CHUNK)])
    counted = (n >= level.min_n) & (shift_y <= rows_reach[1])[:, None] & (shift_x <= cols_reach[1])[None, :]
    rows_counted, cols_counted = counted.any(axis=(0, 2)), counted.any(axis=(0, 1))
    if not rows_counted.any():
        return none
    # The other terms, at the shifts that count only.
    found_y, found_x = shift_y[rows_counted], shift_x[cols_counted]
    shape = _transform_shape(level, (found_y.min(), found_y.max()), (found_x.min(), found_x.max()))
    f1, f1sq, m1 = level.fixed_spectra(shape)
    out = []
    for first in range(0, len(angles), _CHUNK):
        chunk = slice(first, first + _CHUNK)
        kept = counted[chunk]
        rows, cols = np.flatnonzero(kept.any(axis=(0, 2))), np.flatnonzero(kept.any(axis=(0, 1)))
        if not rows.size:
            out.extend(none[chunk])
            continue
        sy, sx = shift_y[rows], shift_x[cols]
        # The same shifts at the smaller transform, still in circular order.
        rows2, cols2 = sy % shape[0], sx % shape[1]
        values = np.stack([r[0] for r in rotated[chunk]])
        f2, f2sq, m2 = _spectra(values, masks[chunk], shape)

        def cc(a: np.ndarray, b: np.ndarray, rows2: np.ndarray = rows2, cols2: np.ndarray = cols2) -> np.ndarray:
            inner = sfft.ifft(a * b, axis=-2, workers=1)[:, rows2, :]
            return sfft.irfft(inner, n=shape[1], axis=-1, workers=1)[:, :, cols2]

        counts = n[chunk][:, rows][:, :, cols]
        safe_n = np.maximum(counts, 1.0)
        s1 = cc(f1, m2)
        s2 = cc(m1, f2)
        num = cc(f1, f2) - s1 * s2 / safe_n
        v1 = cc(f1sq, m2) - s1 * s1 / safe_n
        v2 = cc(m1, f2sq) - s2 * s2 / safe_n
        ok = kept[:, rows][:, :, cols] & (v1 > 1e-3 * safe_n) & (v2 > 1e-3 * safe_n)
        with np.errstate(invalid="ignore", divide="ignore"):
            ncc = np.clip(np.where(ok, num / np.sqrt(np.abs(v1 * v2)), np.nan), -1.0, 1.0)
        # The peak of every angle of the chunk at once (as nanargmax: NaN never wins, first of ties).
        flat = ncc.reshape(len(values), -1)
        best = np.where(np.isnan(flat), -np.inf, flat).argmax(axis=1)
        for angle, c, count, index in zip(angles[chunk], flat, counts.reshape(len(values), -1), best, strict=True):
            i, j = divmod(int(index), len(cols))
            if not np.isfinite(c[index]):
                out.append((-1.0, angle, 0.0, 0.0, 0))
            else:
                out.append(_peak(float(c[index]), int(count[index]), angle, level, int(sy[i]), int(sx[j])))
    return out


def _peak(value: float, count: int, angle: float, level: _Level, sy: int,
          sx: int) -> tuple[float, float, float, float, int]:
    """The score tuple of the correlation ``value`` at shift (sy, sx)."""
    # Shift s: corr(fixed(p), moving(p + s)); the moving canvas origin sits at -s on fixed.
    (h1, w1), (h2, w2) = level.fixed_shape, level.moving_shape
    dy = -sy + (h2 - 1) / 2 - (h1 - 1) / 2
    dx = -sx + (w2 - 1) / 2 - (w1 - 1) / 2
    return (value, angle, float(dx), float(dy), count)


def _chunks(items: list, size: int) -> list[list]:
    return [items[k: k + size] for k in range(0, len(items), size)]


def _local_peaks(angles: np.ndarray, curve: np.ndarray, count: int) -> list[float]:
    """Angles of the highest local maxima of a circular curve."""
    order = np.argsort(-np.nan_to_num(curve, nan=-2.0))
    picked: list[int] = []
    step = len(angles)
    for k in order:
        if all(min(abs(k - p), step - abs(k - p)) > 2 for p in picked):
            picked.append(int(k))
        if len(picked) == count:
            break
    return [float(angles[k]) for k in picked]


def _parabolic(angles: list[float], values: list[float]) -> float:
    """Vertex of the parabola through the best point and its neighbours (sub-step angle)."""
    k = int(np.argmax(values))
    if k == 0 or k == len(values) - 1:
        return angles[k]
    y0, y1, y2 = values[k - 1], values[k], values[k + 1]
    denom = y0 - 2 * y1 + y2
    if denom >= 0:
        return angles[k]
    step = angles[k + 1] - angles[k]
    return angles[k] + 0.5 * step * (y0 - y2) / denom


def _full_resolution_shift(fixed: Surface, moving: Surface, angle: float, dx: float, dy: float,
                           radius: int, min_overlap: float) -> tuple[float, float, float, int]:
    """Best integer-pixel shift within ``radius`` of (dx, dy), by direct masked Pearson correlation.

    A window of a few pixels costs far less than one full-resolution FFT correlation. The moving
    surface is padded by ``radius`` and flattened, so that every shift is one offset of the flat
    indices of the fixed surface's valid points: each shift reads those points only (a third of a
    Fadul frame), in the same order and with the same arithmetic as a direct computation.
    """
    fv, flat = fixed.derived(("registration valid points", radius), lambda: _valid_points(fixed, radius))
    mv, mm = _rotate_filled(*_filled(moving), angle, fixed.shape, dx, dy)
    (h, w), r = fixed.shape, radius
    values = np.zeros((h + 2 * r, w + 2 * r), np.float32)
    valid = np.zeros(values.shape, bool)
    values[r:r + h, r:r + w], valid[r:r + h, r:r + w] = mv, mm
    values, valid = values.ravel(), valid.ravel()
    min_n = min_overlap * min(fixed.valid.sum(), moving.valid.sum())
    best = (-2.0, dx, dy, 0)
    for oy in range(-radius, radius + 1):
        for ox in range(-radius, radius + 1):
            # Fixed point (y, x) meets moving point (y - oy, x - ox), as in `_pearson_shifted`.
            index = flat - (oy * (w + 2 * r) + ox)
            both = valid[index]
            n = int(np.count_nonzero(both))
            if n < 3 or n < min_n:
                continue
            x, y = fv[both], values[index[both]].astype(np.float64)
            x, y = x - x.mean(), y - y.mean()
            den = np.sqrt((x * x).sum() * (y * y).sum())
            value = float((x * y).sum() / den) if den > 0 else -2.0
            if value > best[0]:
                best = (value, dx + ox, dy + oy, n)
    return best


def _valid_points(surface: Surface, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """The standardised values (float64) at the valid points, row by row, and their flat indices in
    the frame padded by ``radius`` on every side."""
    rows, cols = np.nonzero(surface.valid)
    values = _standardise(surface.heights, surface.valid)[rows, cols].astype(np.float64)
    return values, (rows + radius) * (surface.shape[1] + 2 * radius) + cols + radius


def register(fixed: Surface, moving: Surface, *, angle_range: tuple[float, float] = (-180.0, 180.0),
             coarse_step_deg: float = 4.0, coarse_factor: int | None = None, fine_step_deg: float = 1.0,
             fine_span_deg: float = 3.0, fine_factor: int | None = None, candidates: int = 3,
             min_overlap: float = DEFAULT_MIN_OVERLAP) -> Alignment:
    """Rotation and translation of ``moving`` that maximise its masked NCC with ``fixed``.

    Parameters
    ----------
    fixed, moving : Surface
        Same pixel size; NaN marks missing points, which do not count.
    angle_range : (float, float), keyword-only
        Rotation search range in degrees; the default is the full circle, because the orientation of
        a cartridge case under the microscope is arbitrary.
    coarse_step_deg, coarse_factor : keyword-only
        Angle step of the coarse grid and the downsampling factor it runs at. The default factor
        keeps the coarse surface at least about 64 pixels across (8 for a 545-pixel Fadul scan).
    fine_step_deg, fine_span_deg, fine_factor : keyword-only
        The fine grid (default 1 degree, +-3): ``fine_span_deg`` either side of each coarse candidate,
        at ``fine_factor`` downsampling (default: half the coarse factor); the best fine angle is then
        refined by a parabola through its neighbours.
    candidates : int, keyword-only
        How many coarse peaks get a fine search (guards against a coarse grid that misses the peak).
    min_overlap : float, keyword-only
        Smallest overlap, as a fraction of the smaller valid area, for a correlation to count.

    Returns
    -------
    Alignment
        The last translation is checked at full resolution within 2 pixels of the fine estimate.

    Raises
    ------
    ValueError
        Different pixel sizes, or a surface with too few valid points.

    References
    ----------
    .. [1] D. Padfield, "Masked object registration in the Fourier domain", IEEE TIP 21(5), 2012.
       doi:10.1109/TIP.2011.2181402
    .. [2] J. Zemmels, S. VanderPlas, H. Hofmann, "A study in reproducibility: the congruent matching
       cells algorithm and cmcR package", Journal of Data Science 21(2), 2023 (coarse 3-degree grid).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> from scipy.ndimage import gaussian_filter
    >>> z = gaussian_filter(rng.normal(size=(120, 120)), 2)
    >>> a = Surface(z, 1e-6)
    >>> b = warp(a, Alignment(25.0, 3.0, -2.0, 1.0, 0), a.shape)
    >>> found = register(b, a)
    >>> round(found.angle_deg), round(found.dx), round(found.dy)
    (25, 3, -2)
    """
    _check_pair(fixed, moving)
    if coarse_factor is None:
        # Finer than this and the search is slow; coarser and the marks are averaged away.
        coarse_factor = int(np.clip(min(*fixed.shape, *moving.shape) // 64, 1, 8))
    if fine_factor is None:
        fine_factor = max(1, coarse_factor // 2)
    if coarse_factor < 1 or fine_factor < 1:
        raise ValueError("downsampling factors must be at least 1")
    if not angle_range[0] < angle_range[1]:
        raise ValueError(f"angle_range must be (low, high) with low < high, got {angle_range}")
    coarse = _level(fixed, moving, coarse_factor, min_overlap)
    lo, hi = angle_range
    span = hi - lo
    count = max(int(np.ceil(span / coarse_step_deg - 1e-9)) + (0 if span >= 360 else 1), 1)
    angles = lo + np.arange(count) * (span / count if span >= 360 else coarse_step_deg)
    angles = angles[angles <= hi + 1e-9]
    coarse_scores = _scores(coarse, angles)
    curve = np.array([s[0] for s in coarse_scores])
    fine = _level(fixed, moving, fine_factor, min_overlap)
    best: tuple[list, tuple] | None = None
    for centre in _local_peaks(angles, curve, candidates):
        grid = centre + np.arange(-fine_span_deg, fine_span_deg + 1e-9, fine_step_deg)
        scores = _scores(fine, grid)
        top = max(scores)
        if best is None or top[0] > best[1][0]:
            best = (scores, top)
    scores, _ = best
    angle = _parabolic([s[1] for s in scores], [s[0] for s in scores])
    # Translation at the refined angle: half resolution, then a 3x3 check at full resolution.
    half = _level(fixed, moving, 2, min_overlap) if fine_factor > 2 else fine
    _, _, dx, dy, _ = _scores(half, [angle])[0]
    r, dx, dy, n = _full_resolution_shift(fixed, moving, angle, dx * half.factor, dy * half.factor,
                                          half.factor // 2 + 1, min_overlap)
    return Alignment(_wrap_angle(angle), float(dx), float(dy), float(r), int(n),
                     tuple(float(a) for a in angles), tuple(float(c) for c in curve))


def _check_pair(fixed: Surface, moving: Surface) -> None:
    for name, s in (("fixed", fixed), ("moving", moving)):
        if not isinstance(s, Surface):
            raise TypeError(f"{name} must be a ballistics.Surface, got {type(s).__name__}")
        if s.mask.sum() < 16:
            raise ValueError(f"{name} surface has {int(s.mask.sum())} valid points; at least 16 needed "
                             "(is it all NaN?)")
    if not np.isclose(fixed.pixel_size, moving.pixel_size, rtol=1e-3, atol=0):
        raise ValueError(f"pixel sizes differ: {fixed.pixel_size * 1e6:.4g} um vs "
                         f"{moving.pixel_size * 1e6:.4g} um; resample both to a common pixel size first "
                         "(ballistics.preprocess)")
