"""Preprocessing of breech-face topographies and photographs before comparison.

One entry point, :func:`preprocess`, runs the steps every published cartridge-case pipeline uses
(Song et al. 2014; Tai & Eddy 2018; Zemmels et al. 2022):

1. find the breech-face region: primer outline and firing-pin impression (:func:`segment_breech_face`);
2. remove form from topographies with a robust low-order polynomial (:func:`remove_form`), or
   normalise the illumination of photographs (:func:`normalise_illumination`);
3. Gaussian band-pass, NaN-aware (:func:`band_pass`; default 16-500 µm as cmcR);
4. resample to a common pixel size (:func:`resample`; default 6.25 µm);
5. erode the region edge, where filters roll off (Zemmels et al. 2023: 12 px at 3.125 µm).

Each step is also a public function on arrays, so that tests can check it by construction.

References
----------
Song, Chu, Tong, Soons (2014), "3D topography measurements on correlation cells -- a new approach
    to forensic ballistics identifications", Meas. Sci. Technol. 25:064005,
    doi:10.1088/0957-0233/25/6/064005 (band-pass 40-400 µm, robust Gaussian filter).
Tai, Eddy (2018), "A fully automatic method for comparing cartridge case images",
    J. Forensic Sci. 63(2):440-448, doi:10.1111/1556-4029.13577 (primer and firing-pin finding on
    NBIDE ring-light photographs, levelling, Gaussian filtering).
Zemmels, VanderPlas, Hofmann (2022), "A Study in Reproducibility: The Congruent Matching Cells
    Algorithm and cmcR Package", R Journal 14(2):70-96, doi:10.32614/RJ-2022-035 (16-500 µm).
Zemmels, VanderPlas, Hofmann (2023), "Automatic Cartridge Evidence Scoring (ACES)", J. Data
    Science, Statistics, and Visualisation 3(2), doi:10.52933/jdssv.v3i2.76 (edge erosion).
ISO 16610-61:2015, Filtration -- Linear areal filters: Gaussian filters (weighting function,
    50 % transmission at the cut-off). ISO 16610-71:2014, Robust areal filters (Gaussian
    regression). Knutsson, Westin (1993), "Normalized and differential convolution", CVPR,
    doi:10.1109/CVPR.1993.341081 (convolution that ignores missing data).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import cv2
import numpy as np

from ballistics.surface import Surface

__all__ = [
    "AlreadyProcessedError",
    "BreechFaceMasks",
    "WORKING_PIXEL_SIZE",
    "WorkingPair",
    "band_pass",
    "gaussian_sigma_px",
    "normalise_illumination",
    "preprocess",
    "remove_form",
    "resample",
    "segment_breech_face",
    "to_working_size",
    "working_pair",
]

DEFAULT_BAND_UM = (16.0, 500.0)
"""cmcR default band (Zemmels et al. 2022); Song et al. (2014) used 40-400 µm."""
DEFAULT_PIXEL_SIZE = 6.25e-6
"""Common lateral resolution: the processed Fadul scans (3.125 µm downsampled 2x)."""
WORKING_PIXEL_SIZE = DEFAULT_PIXEL_SIZE
"""Pixel size at which two scans are compared unless both are processed at one identical size: the
size the CMC thresholds (translation in pixels) and the Fadul calibration were set at."""
DEFAULT_EROSION_UM = 37.5
"""ACES erodes 12 px at 3.125 µm (Zemmels et al. 2023): 37.5 µm."""
PRIMER_RADIUS_MM = (1.4, 2.9)
"""Visible primer-face radius: small pistol primers are 4.45 mm across, large rifle 5.33 mm
(SAAMI); the flat face seen in a photograph is smaller than the cup."""
_ISO_ALPHA = np.sqrt(np.log(2.0) / np.pi)


class AlreadyProcessedError(ValueError):
    """`preprocess` was asked to process a surface that is already processed."""


# --------------------------------------------------------------------------------------------
# Segmentation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BreechFaceMasks:
    """Where the breech-face marks are, in the pixels of the segmented surface.

    Attributes
    ----------
    primer, firing_pin, breech_face : ndarray of bool
        Inside the primer outline; inside the firing-pin impression; primer minus firing pin,
        minus missing points, eroded at its edges. Read-only.
    primer_centre, firing_pin_centre : (row, col)
        Circle centres in pixels.
    primer_radius, firing_pin_radius : float
        Circle radii in pixels.
    method : str
        "valid-region" (primer = measured region of a cropped scan) or "radial-edge".
    scores : mapping
        Edge contrast of the primer and firing-pin circles (robust standard deviations of the
        working copy); low values (below ~0.5) mean the circle is a guess.
    """

    primer: np.ndarray
    firing_pin: np.ndarray
    breech_face: np.ndarray
    primer_centre: tuple[float, float]
    primer_radius: float
    firing_pin_centre: tuple[float, float]
    firing_pin_radius: float
    method: str = "radial-edge"
    scores: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scores", MappingProxyType(dict(self.scores)))
        for name in ("primer", "firing_pin", "breech_face"):
            mask = np.array(getattr(self, name), dtype=bool, copy=True)
            mask.setflags(write=False)
            object.__setattr__(self, name, mask)

    def as_image(self) -> np.ndarray:
        """uint8 label image for saving: 0 outside, 85 firing pin, 170 primer, 255 breech face."""
        image = np.zeros(self.primer.shape, np.uint8)
        image[self.primer] = 170
        image[self.firing_pin] = 85
        image[self.breech_face] = 255
        return image


def segment_breech_face(
    surface: Surface,
    *,
    primer_radius_mm: tuple[float, float] = PRIMER_RADIUS_MM,
    firing_pin_ratio: tuple[float, float] = (0.3, 0.8),
    working_size: int = 400,
    edge_margin: float = 0.03,
) -> BreechFaceMasks:
    """Find the primer outline and the firing-pin impression as two circles.

    Method: on a copy reduced to `working_size` pixels, a circle's score is the contrast between
    the mean value just inside and just outside it, averaged over all angles (a radial profile
    from a polar warp, in the spirit of the polar segmentation of Leloglu et al., US 8755588 B2).
    Only a concentric edge scores high; texture averages out. The primer is centred on the best
    circle whose radius is physically plausible (`primer_radius_mm`, clipped to the image), and its
    radius is the innermost edge at least half as strong (the pocket and case head lie outside);
    the firing pin is the best circle inside it, with radius in `firing_pin_ratio` of the primer's,
    taken at its outermost strong edge (the rim of the impression). If all four
    corners are missing (a scan already cropped to the primer), the primer is the measured region
    and the firing pin its central hole, if it has one (centroids and equal-area radii).

    Parameters
    ----------
    surface : Surface
        A photograph or a topography (raw or processed).
    primer_radius_mm : (low, high)
        Plausible primer-face radius in millimetres; ignored when the image is too small for it.
    firing_pin_ratio : (low, high)
        Firing-pin radius as a fraction of the primer radius (9 mm Luger: about 0.3-0.7).
    working_size : int
        Longest side of the reduced copy searched (speed/precision trade-off).
    edge_margin : float
        Fraction of the primer radius removed from both edges of the breech-face annulus.

    Returns
    -------
    BreechFaceMasks

    References
    ----------
    Tai, Eddy (2018), J. Forensic Sci. 63(2):440-448, doi:10.1111/1556-4029.13577.
    """
    if working_size < 64:
        raise ValueError(f"working_size must be at least 64, got {working_size}")
    low, high = firing_pin_ratio
    if not 0 < low < high < 1:
        raise ValueError(f"firing_pin_ratio must satisfy 0 < low < high < 1, got {firing_pin_ratio}")
    values, weights, scale = _working_copy(surface, working_size)
    if _cropped_to_primer(surface.mask):
        centre, radius, hole = _valid_region_circles(weights > 0.5)
        method, primer_score = "valid-region", 1.0
        if hole is not None:  # the firing-pin impression was already cut out: it is the hole
            return _masks(surface, centre, radius, hole[0], hole[1], scale, edge_margin, method,
                          {"primer": primer_score, "firing_pin": 1.0})
    else:
        centre, radius, primer_score = _find_primer(values, weights, surface.pixel_size / scale, primer_radius_mm)
        method = "radial-edge"
    search = 0.3 * radius
    pin_radii = (low * radius, high * radius)
    pin_centre, pin_radius, pin_score = _best_circle(values, weights, centre, search, pin_radii)
    # The impression's rim shows as a pair of edges (lit wall, dark lip); the mark ends at the
    # outer one, so take the outermost edge at least half as strong as the best.
    pin_radius = _strong_edge(values, weights, pin_centre, (pin_radius, pin_radii[1]), pin_score, outermost=True)
    return _masks(surface, centre, radius, pin_centre, pin_radius, scale, edge_margin, method,
                  {"primer": primer_score, "firing_pin": pin_score})


def _working_copy(surface: Surface, working_size: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Reduced, robustly standardised values (0 where missing) and the fraction measured per pixel."""
    valid = surface.mask
    z = surface.heights
    centre = np.median(z[valid])
    spread = np.median(np.abs(z[valid] - centre)) * 1.4826 or 1.0
    standard = np.where(valid, np.clip((z - centre) / spread, -5, 5), 0.0).astype(np.float32)
    scale = min(1.0, working_size / max(surface.shape))
    size = (max(1, round(surface.shape[1] * scale)), max(1, round(surface.shape[0] * scale)))
    weights = cv2.resize(valid.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    summed = cv2.resize(standard, size, interpolation=cv2.INTER_AREA)
    values = np.where(weights > 0, summed / np.maximum(weights, 1e-6), 0.0).astype(np.float32)
    return values, weights, scale


def _cropped_to_primer(valid: np.ndarray) -> bool:
    return not (valid[0, 0] or valid[0, -1] or valid[-1, 0] or valid[-1, -1]) and valid.mean() < 0.95


def _valid_region_circles(
    valid: np.ndarray,
) -> tuple[tuple[float, float], float, tuple[tuple[float, float], float] | None]:
    """Primer = largest measured region with its holes filled; firing pin = its largest hole.

    Each as (centroid, equal-area radius). The hole counts only if it is at least a tenth of
    the primer radius and its centre lies within half the primer radius of the primer centre.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(valid.astype(np.uint8), connectivity=8)
    if count < 2:
        raise ValueError("cannot segment: the surface has no measured region")
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    region = (labels == largest).astype(np.uint8)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(region)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    centre, radius = _equal_area_circle(filled.astype(bool))
    holes = (filled > 0) & (region == 0)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(holes.astype(np.uint8), connectivity=8)
    if count < 2:
        return centre, radius, None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    hole_centre, hole_radius = _equal_area_circle(labels == biggest)
    offset = np.hypot(hole_centre[0] - centre[0], hole_centre[1] - centre[1])
    if hole_radius < 0.1 * radius or offset > 0.5 * radius:
        return centre, radius, None
    return centre, radius, (hole_centre, hole_radius)


def _equal_area_circle(region: np.ndarray) -> tuple[tuple[float, float], float]:
    rows, cols = np.nonzero(region)
    return (float(rows.mean()), float(cols.mean())), float(np.sqrt(rows.size / np.pi))


def _find_primer(
    values: np.ndarray, weights: np.ndarray, pixel_size: float, radius_mm: tuple[float, float]
) -> tuple[tuple[float, float], float, float]:
    side = min(values.shape)
    low, high = (r * 1e-3 / pixel_size for r in radius_mm)
    low, high = max(low, 0.1 * side), min(high, 0.75 * side)
    if low >= high:  # physical range does not fit the picture: assume the primer fills much of it
        low, high = 0.2 * side, 0.5 * side
    centre = ((values.shape[0] - 1) / 2.0, (values.shape[1] - 1) / 2.0)
    centre, radius, score = _best_circle(values, weights, centre, 0.2 * side, (low, high))
    # The primer pocket and the case head make a second circle just outside the primer, at times
    # a stronger one (a deep gap in a topography): the primer is the innermost strong edge.
    return centre, _strong_edge(values, weights, centre, (low, radius), score, outermost=False), score


def _best_circle(
    values: np.ndarray,
    weights: np.ndarray,
    around: tuple[float, float],
    search: float,
    radii: tuple[float, float],
) -> tuple[tuple[float, float], float, float]:
    """Coarse grid of centres, then a one-pixel refinement, maximising the radial step contrast."""
    step = max(1.0, search / 12.0)
    best = (-1.0, around, radii[0])
    for spacing, reach, anchor in ((step, search, around), (1.0, step, None)):
        anchor = anchor or best[1]
        offsets = np.arange(-reach, reach + 1e-9, spacing)
        for dr in offsets:
            for dc in offsets:
                centre = (anchor[0] + dr, anchor[1] + dc)
                score, radius = _circle_score(values, weights, centre, radii)
                if score > best[0]:
                    best = (score, centre, radius)
    score, centre, radius = best
    return centre, radius, score


def _circle_score(
    values: np.ndarray, weights: np.ndarray, centre: tuple[float, float], radii: tuple[float, float]
) -> tuple[float, float]:
    contrast, radius = _radial_contrast(values, weights, centre, radii)
    inside = (radius >= radii[0]) & (radius <= radii[1])
    if not inside.any():
        return -1.0, radii[0]
    index = int(np.argmax(np.abs(contrast) * inside))
    return float(abs(contrast[index])), float(radius[index])


def _radial_contrast(
    values: np.ndarray, weights: np.ndarray, centre: tuple[float, float], radii: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Inside-minus-outside contrast of the angular mean profile, for every integer radius."""
    outer = int(np.ceil(radii[1] * 1.15)) + 2
    # WARP_FILL_OUTLIERS: without it, points outside the picture are left uninitialised.
    flags = cv2.INTER_LINEAR | cv2.WARP_POLAR_LINEAR | cv2.WARP_FILL_OUTLIERS
    point = (float(centre[1]), float(centre[0]))
    polar_values = cv2.warpPolar(values * weights, (outer, 180), point, outer, flags)
    polar_weights = cv2.warpPolar(weights, (outer, 180), point, outer, flags)
    profile = polar_values.sum(axis=0) / np.maximum(polar_weights.sum(axis=0), 1e-6)
    coverage = polar_weights.mean(axis=0)  # circles running off the picture score less
    width = max(2, round(0.05 * radii[0]))
    contrast = _step_contrast(profile, width) * np.minimum(coverage, 1.0)
    return contrast, np.arange(outer, dtype=np.float64)  # column j of the warp is radius j


def _strong_edge(
    values: np.ndarray,
    weights: np.ndarray,
    centre: tuple[float, float],
    radii: tuple[float, float],
    best: float,
    *,
    outermost: bool,
) -> float:
    """Radius of the outermost (or innermost) local contrast peak at least half as strong as `best`."""
    contrast, radius = _radial_contrast(values, weights, centre, radii)
    strength = np.abs(contrast)
    strong = (strength >= 0.5 * best) & (radius >= radii[0]) & (radius <= radii[1])
    peaks = strong & (strength >= np.roll(strength, 1)) & (strength >= np.roll(strength, -1))
    if not peaks.any():
        return radii[0]
    return float(radius[peaks].max() if outermost else radius[peaks].min())


def _step_contrast(profile: np.ndarray, width: int) -> np.ndarray:
    """Mean over the `width` radii inside minus mean over the `width` radii outside, per radius."""
    cumulative = np.concatenate([[0.0], np.cumsum(profile, dtype=np.float64)])
    contrast = np.zeros(profile.size)
    r = np.arange(width, profile.size - width + 1)
    contrast[r] = (cumulative[r] - cumulative[r - width] - (cumulative[r + width] - cumulative[r])) / width
    return contrast


def _masks(
    surface: Surface,
    centre: tuple[float, float],
    radius: float,
    pin_centre: tuple[float, float],
    pin_radius: float,
    scale: float,
    edge_margin: float,
    method: str,
    scores: dict[str, float],
) -> BreechFaceMasks:
    # Working-copy pixel (i, j) covers input pixels around ((i + 0.5) / scale - 0.5).
    def to_input(point: tuple[float, float]) -> tuple[float, float]:
        return ((point[0] + 0.5) / scale - 0.5, (point[1] + 0.5) / scale - 0.5)

    centre, pin_centre = to_input(centre), to_input(pin_centre)
    radius, pin_radius = radius / scale, pin_radius / scale
    rows, cols = np.ogrid[: surface.shape[0], : surface.shape[1]]
    primer = np.hypot(rows - centre[0], cols - centre[1]) <= radius
    pin = np.hypot(rows - pin_centre[0], cols - pin_centre[1]) <= pin_radius
    margin = edge_margin * radius
    breech = (
        (np.hypot(rows - centre[0], cols - centre[1]) <= radius - margin)
        & (np.hypot(rows - pin_centre[0], cols - pin_centre[1]) > pin_radius + margin)
        & surface.mask
    )
    return BreechFaceMasks(primer, pin, breech, centre, radius, pin_centre, pin_radius, method, scores)


# --------------------------------------------------------------------------------------------
# Form, illumination, filtering, resampling
# --------------------------------------------------------------------------------------------


def remove_form(heights: np.ndarray, *, order: int = 1, iterations: int = 10, max_points: int = 200_000) -> np.ndarray:
    """Subtract a robust polynomial surface (plane for ``order=1``) fitted to the valid points.

    Iteratively reweighted least squares with Tukey's biweight (c = 4.685 robust standard
    deviations, scale from the median absolute deviation), so that deep marks, dust or the
    firing-pin rim do not tilt the fit -- in the spirit of the conditional-median / RANSAC
    levelling of cmcR (Zemmels et al. 2022), which found de-trending the critical step.

    Parameters
    ----------
    heights : ndarray, shape (rows, cols)
        NaN for missing. Not modified.
    order : int
        Total polynomial degree, 0 (offset) to 3.
    iterations : int
        Reweighting rounds.
    max_points : int
        Fit on a regular subsample of at most this many valid points (speed).

    Returns
    -------
    ndarray
        Residual heights, NaN where the input was NaN.

    References
    ----------
    Beaton, Tukey (1974), Technometrics 16(2):147-185, doi:10.1080/00401706.1974.10489171.
    """
    z = np.asarray(heights, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"heights must be 2-D, got shape {z.shape}")
    if not 0 <= order <= 3:
        raise ValueError(f"order must be between 0 and 3, got {order}")
    rows, cols = np.nonzero(~np.isnan(z))
    if rows.size < (order + 1) * (order + 2) // 2:
        raise ValueError("too few valid points to fit the form")
    stride = max(1, rows.size // max_points)
    design = _polynomial_design(rows[::stride], cols[::stride], z.shape, order)
    target = z[rows[::stride], cols[::stride]]
    weights = np.ones_like(target)
    for _ in range(iterations):
        root = np.sqrt(weights)
        coefficients, *_ = np.linalg.lstsq(design * root[:, None], target * root, rcond=None)
        residual = target - design @ coefficients
        scale = 1.4826 * np.median(np.abs(residual - np.median(residual)))
        if scale == 0:
            break
        u = residual / (4.685 * scale)
        weights = np.where(np.abs(u) < 1, (1 - u**2) ** 2, 0.0)
    all_rows, all_cols = np.indices(z.shape)
    form = _polynomial_design(all_rows.ravel(), all_cols.ravel(), z.shape, order) @ coefficients
    return z - form.reshape(z.shape)


def _polynomial_design(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, ...], order: int) -> np.ndarray:
    # Coordinates scaled to [-1, 1] keep the normal equations well conditioned.
    y = 2.0 * rows / max(shape[0] - 1, 1) - 1.0
    x = 2.0 * cols / max(shape[1] - 1, 1) - 1.0
    return np.column_stack([x**i * y**j for i in range(order + 1) for j in range(order + 1 - i)])


def gaussian_sigma_px(cutoff_um: float, pixel_size: float) -> float:
    """Standard deviation (pixels) of the ISO 16610-61 Gaussian with cut-off `cutoff_um`.

    The weighting function ``exp(-pi (r / (alpha lambda_c))^2)`` with ``alpha = sqrt(ln 2 / pi)``
    transmits 50 % at the cut-off wavelength; as a Gaussian, ``sigma = alpha lambda_c / sqrt(2 pi)``
    (about 0.187 lambda_c).

    Examples
    --------
    >>> round(gaussian_sigma_px(16.0, 1e-6), 3)
    2.998
    """
    return float(_ISO_ALPHA * cutoff_um * 1e-6 / pixel_size / np.sqrt(2.0 * np.pi))


def _nan_gaussian(values: np.ndarray, sigma: float) -> np.ndarray:
    """Normalised convolution: Gaussian of the valid values divided by Gaussian of the mask."""
    valid = ~np.isnan(values)
    filled = np.where(valid, values, 0.0)
    numerator = cv2.GaussianBlur(filled, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    denominator = cv2.GaussianBlur(valid.astype(np.float64), (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    with np.errstate(invalid="ignore", divide="ignore"):
        smooth = numerator / denominator
    smooth[~valid | (denominator < 1e-3)] = np.nan
    return smooth


def band_pass(
    heights: np.ndarray,
    *,
    pixel_size: float,
    short_um: float | None = DEFAULT_BAND_UM[0],
    long_um: float | None = DEFAULT_BAND_UM[1],
) -> np.ndarray:
    """Gaussian band-pass that ignores missing points (ISO 16610-61 weighting, normalised convolution).

    Output = low-pass(`short_um`) - low-pass(`long_um`): wavelengths shorter than `short_um`
    (noise) and longer than `long_um` (form, waviness) are attenuated; each cut-off transmits
    50 %. Missing points stay missing and do not leak into their neighbours.

    Parameters
    ----------
    heights : ndarray
        NaN for missing. Not modified.
    pixel_size : float
        Metres per pixel.
    short_um, long_um : float or None
        Cut-off wavelengths in µm; None skips that side (low-pass or high-pass only).
        Default 16-500 µm (cmcR, Zemmels et al. 2022); Song et al. (2014) used 40-400 µm.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> x = np.arange(400) * 1e-6
    >>> wave = np.tile(np.sin(2 * np.pi * x / 100e-6), (8, 1))
    >>> out = band_pass(wave, pixel_size=1e-6, short_um=16, long_um=500)
    >>> bool(0.95 < out[:, 150:250].std() / wave[:, 150:250].std() < 1.0)
    True
    """
    z = np.asarray(heights, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"heights must be 2-D, got shape {z.shape}")
    if not pixel_size > 0:
        raise ValueError(f"pixel_size must be positive metres, got {pixel_size}")
    if short_um is not None and long_um is not None and not 0 < short_um < long_um:
        raise ValueError(f"need 0 < short_um < long_um, got {short_um}, {long_um}")
    low = z if short_um is None else _nan_gaussian(z, gaussian_sigma_px(short_um, pixel_size))
    if long_um is None:
        return low
    return low - _nan_gaussian(z, gaussian_sigma_px(long_um, pixel_size))


def normalise_illumination(grey: np.ndarray, *, pixel_size: float, background_um: float = 500.0) -> np.ndarray:
    """Divide a photograph by its smooth background (flat-field correction), giving contrast.

    Ring-light and oblique illumination fall off across the field; dividing by a NaN-aware
    Gaussian low-pass (cut-off `background_um`, the band-pass long cut-off by default) removes
    the multiplicative shading, leaving relative contrast ``grey / background - 1``.

    Parameters
    ----------
    grey : ndarray
        Grey levels (NaN for missing). Not modified.
    pixel_size : float
        Metres per pixel.
    background_um : float
        Cut-off wavelength of the background estimate, µm.

    Returns
    -------
    ndarray

    References
    ----------
    Tai, Eddy (2018), J. Forensic Sci. 63(2):440-448, doi:10.1111/1556-4029.13577.
    """
    g = np.asarray(grey, dtype=np.float64)
    background = _nan_gaussian(g, gaussian_sigma_px(background_um, pixel_size))
    floor = max(1e-3, 0.01 * float(np.nanmax(background))) if np.any(~np.isnan(background)) else 1e-3
    return g / np.maximum(background, floor) - 1.0


def resample(surface: Surface, *, pixel_size: float) -> Surface:
    """Resample to another pixel size with area averaging; missing points do not bias neighbours.

    A target pixel is valid when at least half of the area it covers was measured; its value is
    the mean over the measured part (normalised area interpolation).
    """
    if not pixel_size > 0:
        raise ValueError(f"pixel_size must be positive metres, got {pixel_size}")
    factor = surface.pixel_size / pixel_size
    if np.isclose(factor, 1.0, rtol=1e-9):
        return surface
    size = (max(1, round(surface.shape[1] * factor)), max(1, round(surface.shape[0] * factor)))
    method = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    valid = surface.mask.astype(np.float64)
    filled = np.where(surface.mask, surface.heights, 0.0)
    summed = cv2.resize(filled, size, interpolation=method)
    share = cv2.resize(valid, size, interpolation=method)
    with np.errstate(invalid="ignore", divide="ignore"):
        heights = np.where(share >= 0.5, summed / share, np.nan)
    return surface.with_heights(heights, pixel_size=float(pixel_size))


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def preprocess(
    surface: Surface,
    *,
    force: bool = False,
    segment: bool = True,
    masks: BreechFaceMasks | None = None,
    form_order: int = 1,
    band_um: tuple[float | None, float | None] | None = DEFAULT_BAND_UM,
    pixel_size: float | None = DEFAULT_PIXEL_SIZE,
    erosion_um: float = DEFAULT_EROSION_UM,
) -> Surface:
    """Prepare a raw topography or photograph for comparison; returns a processed surface.

    Parameters
    ----------
    surface : Surface
        Raw input (``processed=False``). Not modified.
    force : bool
        Process even if `surface.processed` is already True (otherwise
        :class:`AlreadyProcessedError`): a second band-pass would silently change the marks.
    segment : bool
        Find the breech face (:func:`segment_breech_face`) and keep only it. False keeps every
        measured point (e.g. a scan already trimmed by hand).
    masks : BreechFaceMasks, optional
        Use this segmentation (e.g. corrected by an examiner) instead of finding one.
    form_order : int
        Degree of the robust polynomial removed from topographies (1 = plane).
    band_um : (short, long) or None
        Gaussian band-pass cut-offs in µm (default 16-500, cmcR); None skips filtering.
    pixel_size : float or None
        Output pixel size in metres (default 6.25 µm); None keeps the input's.
    erosion_um : float
        Width eroded from the edge of the region after filtering (filters roll off there).

    Returns
    -------
    Surface
        ``processed=True``; topographies stay in metres, photographs become zero-mean,
        unit-variance contrast inside the region. NaN outside the breech face, cropped to the
        region's bounding box. The metadata gain a ``preprocessing`` record of every parameter,
        the segmentation found and ``crop_offset_px`` (row, col of the crop in the input pixels).

    Examples
    --------
    >>> from ballistics.synth import firearm_signature, shot
    >>> raw = shot(firearm_signature(0, shape=(64, 64)), seed=1, kind="image")
    >>> preprocess(raw, segment=False).processed
    True
    """
    if surface.processed and not force:
        raise AlreadyProcessedError(
            "surface is already processed (band-passed); processing it again would change its marks. "
            "Pass force=True if this is really intended."
        )
    if erosion_um < 0:
        raise ValueError(f"erosion_um must be >= 0, got {erosion_um}")
    record: dict[str, Any] = {"source_pixel_size_um": surface.pixel_size_um, "kind": surface.kind}
    short_um, long_um = band_um if band_um is not None else (None, None)
    region = _region(surface, segment, masks, record)
    work, offset = _crop(np.where(region, surface.heights, np.nan))
    record["crop_offset_px"] = offset
    # The band-pass is split around the resampling: the short cut-off (noise, and the
    # anti-aliasing filter) at the input resolution, the long one at the output resolution where
    # its kernel is small. Low-pass and subtraction commute, so this equals band_pass() up to
    # interpolation; it keeps a 5 Mpx photograph to about a second.
    if short_um is not None:
        work = _nan_gaussian(work, gaussian_sigma_px(short_um, surface.pixel_size))
    staged = Surface(work, surface.pixel_size, kind=surface.kind)
    if pixel_size is not None:
        staged = resample(staged, pixel_size=pixel_size)
    values = _remove_trend(staged, form_order=form_order, long_um=long_um, record=record)
    if long_um is not None:
        values = values - _nan_gaussian(values, gaussian_sigma_px(long_um, staged.pixel_size))
    values = _erode(values, erosion_um * 1e-6 / staged.pixel_size)
    if surface.kind == "image":
        values = _standardise(values)
    if not np.any(~np.isnan(values)):
        raise ValueError("nothing left after preprocessing: the region is empty (check the segmentation)")
    record.update({"band_um": (short_um, long_um), "pixel_size_um": staged.pixel_size_um,
                   "erosion_um": erosion_um})
    return Surface(values, staged.pixel_size, kind=surface.kind, processed=True,
                   metadata={**surface.metadata, "preprocessing": record})


def _remove_trend(staged: Surface, *, form_order: int, long_um: float | None, record: dict[str, Any]) -> np.ndarray:
    """Robust polynomial form for topographies; flat-field division for photographs."""
    if staged.kind == "topography":
        record["form_order"] = form_order
        return remove_form(staged.heights, order=form_order)
    record["illumination"] = "divided by Gaussian background"
    return normalise_illumination(staged.heights, pixel_size=staged.pixel_size, background_um=long_um or 500.0)


def _region(surface: Surface, segment: bool, masks: BreechFaceMasks | None, record: dict[str, Any]) -> np.ndarray:
    if masks is None and not segment:
        return surface.mask
    if masks is None:
        masks = segment_breech_face(surface)
    if masks.breech_face.shape != surface.shape:
        raise ValueError(f"masks of shape {masks.breech_face.shape} do not fit surface {surface.shape}")
    record["segmentation"] = {
        "method": masks.method,
        "primer_centre_px": masks.primer_centre,
        "primer_radius_px": masks.primer_radius,
        "firing_pin_centre_px": masks.firing_pin_centre,
        "firing_pin_radius_px": masks.firing_pin_radius,
    }
    return masks.breech_face & surface.mask


def _crop(values: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Smallest rectangle holding every valid point, and its (row, col) offset in the input."""
    rows = np.flatnonzero(np.any(~np.isnan(values), axis=1))
    cols = np.flatnonzero(np.any(~np.isnan(values), axis=0))
    if rows.size == 0:
        raise ValueError("the breech-face region is empty: nothing to preprocess")
    return values[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1], (int(rows[0]), int(cols[0]))


def _erode(values: np.ndarray, radius_px: float) -> np.ndarray:
    radius = round(radius_px)
    if radius < 1:
        return values
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    # Pad with "missing" so the picture border counts as an edge too.
    valid = cv2.erode((~np.isnan(values)).astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT,
                      borderValue=0).astype(bool)
    return np.where(valid, values, np.nan)


def _standardise(values: np.ndarray) -> np.ndarray:
    valid = values[~np.isnan(values)]
    if valid.size == 0:
        return values
    spread = valid.std() or 1.0
    return (values - valid.mean()) / spread


# --------------------------------------------------------------------------------------------
# Working pixel size: any instrument, raw or processed
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class WorkingPair:
    """Two surfaces ready to be compared at one pixel size, and what was done to each.

    Attributes
    ----------
    a, b : Surface
        Processed, same pixel size.
    pixel_size : float
        The working pixel size in metres.
    steps : (str, str)
        For A and B: ``"as given"``, ``"resampled from 7.38 um"`` or ``"preprocessed from raw at 3.5 um"``.
    """

    a: Surface
    b: Surface
    pixel_size: float
    steps: tuple[str, str]

    @property
    def pixel_size_um(self) -> float:
        """In micrometres, rounded to the picometre so that 6.25e-6 m reads 6.25 (not 6.249999999999999)."""
        return round(self.pixel_size * 1e6, 6)


def to_working_size(surface: Surface, *, pixel_size: float = WORKING_PIXEL_SIZE) -> tuple[Surface, str]:
    """A surface ready for comparison at `pixel_size`, and what was done to it.

    A raw surface goes through :func:`preprocess` with its defaults (which resample to `pixel_size`);
    a processed one is resampled (:func:`resample`) unless its pixel size is exactly `pixel_size`, in
    which case it is returned unchanged. There is no tolerance: scans of one instrument whose stated
    pixel sizes differ by 0.15 % are each brought to the working size.

    Examples
    --------
    >>> s = Surface(np.ones((64, 64)), 7.38e-6, processed=True)
    >>> working, step = to_working_size(s)
    >>> working.shape, step
    ((76, 76), 'resampled from 7.38 um')
    """
    if surface.processed and _same_pixel_size(surface.pixel_size, pixel_size):
        return surface, _history(surface)
    # Kept with the surface: a scan compared with many others (an evaluation) is prepared once.
    return surface.derived(("working size", float(pixel_size)), lambda: _working_form(surface, pixel_size))


def _working_form(surface: Surface, pixel_size: float) -> tuple[Surface, str]:
    if not surface.processed:
        done = preprocess(surface, pixel_size=pixel_size)
        return done, f"preprocessed from raw at {surface.pixel_size_um:.4g} um"
    done = resample(surface, pixel_size=pixel_size)
    if not np.any(done.valid):
        raise ValueError(f"nothing left after resampling from {surface.pixel_size_um:.4g} um to "
                         f"{pixel_size * 1e6:.4g} um: the measured region is too small or too sparse")
    step = f"resampled from {surface.pixel_size_um:.4g} um"
    return replace(done, metadata={**done.metadata, "working_size": step}), step


def _history(surface: Surface) -> str:
    """What was done to a surface already at the working size ("as given" when nothing here)."""
    record = surface.metadata.get("preprocessing")
    if isinstance(record, Mapping) and "source_pixel_size_um" in record:
        return f"preprocessed from raw at {float(record['source_pixel_size_um']):.4g} um"
    return str(surface.metadata.get("working_size", "as given"))


def working_pair(a: Surface, b: Surface, *, pixel_size: float = WORKING_PIXEL_SIZE) -> WorkingPair:
    """Bring two surfaces to one working pixel size, preprocessing raw ones.

    Policy: two processed surfaces of exactly the same pixel size are compared as they are (so
    results on such data never change); otherwise both go to `pixel_size` (default 6.25 µm, the
    size the CMC thresholds and the calibration were set at) through :func:`to_working_size`.

    Raises
    ------
    ValueError
        A raw surface that preprocessing leaves empty (nothing measured in the breech face).
    """
    if a.processed and b.processed and _same_pixel_size(a.pixel_size, b.pixel_size):
        return WorkingPair(a, b, a.pixel_size, (_history(a), _history(b)))
    (wa, step_a), (wb, step_b) = to_working_size(a, pixel_size=pixel_size), to_working_size(b, pixel_size=pixel_size)
    return WorkingPair(wa, wb, float(pixel_size), (step_a, step_b))


def _same_pixel_size(first: float, second: float) -> bool:
    """Equal up to floating-point noise (1e-9), as :func:`resample` judges; 0.15 % is a difference."""
    return bool(np.isclose(first, second, rtol=1e-9, atol=0))
