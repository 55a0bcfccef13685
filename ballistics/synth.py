"""Synthetic breech-face surfaces with known ground truth, for tests and scale experiments.

A *firearm signature* is a band-limited random texture (isotropic "granular" marks plus
striations in one direction) that stands for the breech face of one firearm. A *shot* transfers
it, partially and with its own noise, to a cartridge case that lands rotated and shifted, and
crops it to a breech-face annulus (NaN outside and in the firing-pin hole), as the processed
Fadul scans are (Zemmels et al. 2022). Everything is deterministic from the seeds.

The texture is band-limited to the cmcR pass band (16-500 µm) so that synthetic surfaces look like
processed ones to the comparison code. This is a test device, not a physical model of how breech
faces mark primers.

References
----------
Zemmels, VanderPlas, Hofmann (2022), "A Study in Reproducibility: The Congruent Matching Cells
    Algorithm and cmcR Package", R Journal 14(2):70-96, doi:10.32614/RJ-2022-035.
Song (2013), "Proposed NIST ballistics identification system (NBIS) based on 3D topography
    measurements on correlation cells", AFTE Journal 45(2):184-194.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import cv2
import numpy as np
from scipy.special import ndtr

from ballistics.surface import Surface

__all__ = ["FirearmSignature", "firearm_signature", "shot", "synthetic_set"]

Seed = int | Sequence[int]


@dataclass(frozen=True, eq=False)
class FirearmSignature:
    """The breech-face texture of one synthetic firearm.

    Attributes
    ----------
    texture : ndarray of float64
        Square, zero-mean, unit-RMS texture, larger than `shape` so that any rotation and a
        shift of up to a quarter of the side stay inside it. Read-only.
    shape : (int, int)
        Size of the shots made from it.
    pixel_size : float
        Metres per pixel.
    striation_angle_deg : float
        Direction of the striations (degrees, counter-clockwise from the column axis).
    """

    texture: np.ndarray
    shape: tuple[int, int]
    pixel_size: float
    striation_angle_deg: float


def firearm_signature(
    seed: Seed,
    *,
    shape: tuple[int, int] = (256, 256),
    pixel_size: float = 6.25e-6,
    striation: float = 0.5,
    band_um: tuple[float, float] = (16.0, 500.0),
) -> FirearmSignature:
    """Make the breech-face texture of one synthetic firearm.

    Parameters
    ----------
    seed : int or sequence of int
        Seed for ``numpy.random.default_rng``; the same seed gives the same firearm.
    shape : (rows, cols)
        Size of the shots (at least 16 x 16).
    pixel_size : float
        Metres per pixel (default 6.25 µm, the processed Fadul scans).
    striation : float in [0, 1]
        Share of striated (directional) texture; the rest is isotropic granular texture.
    band_um : (short, long)
        Gaussian band-pass cut-offs in µm, default 16-500 µm as cmcR (ISO 16610-61 Gaussian).

    Returns
    -------
    FirearmSignature

    Examples
    --------
    >>> signature = firearm_signature(1, shape=(64, 64))
    >>> signature.texture.shape[0] > 64
    True
    """
    rows, cols = (int(n) for n in shape)
    if min(rows, cols) < 16:
        raise ValueError(f"shape must be at least 16 x 16, got {shape}")
    if not 0.0 <= striation <= 1.0:
        raise ValueError(f"striation must be in [0, 1], got {striation}")
    if not pixel_size > 0:
        raise ValueError(f"pixel_size must be positive metres, got {pixel_size}")
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.hypot(rows, cols) + 0.5 * max(rows, cols))) + 4
    angle = float(rng.uniform(0.0, 180.0))
    short_px, long_px = (b * 1e-6 / pixel_size for b in band_um)
    granular = _band_limited(rng.standard_normal((side, side)), short_px, long_px)
    striated = _striated(rng.standard_normal((side, side)), short_px, long_px, angle)
    texture = (1.0 - striation) * _unit(granular) + striation * _unit(striated)
    texture = _unit(texture)
    texture.setflags(write=False)
    return FirearmSignature(texture, (rows, cols), float(pixel_size), angle)


def _unit(values: np.ndarray) -> np.ndarray:
    centred = values - values.mean()
    return centred / (centred.std() or 1.0)


def _frequencies(side: int) -> tuple[np.ndarray, np.ndarray]:
    f = np.fft.fftfreq(side)
    return np.meshgrid(f, f, indexing="xy")


def _gaussian_transmission(frequency: np.ndarray, cutoff_px: float) -> np.ndarray:
    """ISO 16610-61 Gaussian low-pass: 50 % transmission at the cut-off wavelength."""
    alpha = np.sqrt(np.log(2.0) / np.pi)
    return np.exp(-np.pi * (alpha * cutoff_px * frequency) ** 2)


def _band_limited(noise: np.ndarray, short_px: float, long_px: float) -> np.ndarray:
    fx, fy = _frequencies(noise.shape[0])
    radius = np.hypot(fx, fy)
    transfer = _gaussian_transmission(radius, short_px) - _gaussian_transmission(radius, long_px)
    return np.fft.ifft2(np.fft.fft2(noise) * transfer).real


def _striated(noise: np.ndarray, short_px: float, long_px: float, angle_deg: float) -> np.ndarray:
    """Marks that are long along `angle_deg`: spectrum squeezed onto the perpendicular direction."""
    fx, fy = _frequencies(noise.shape[0])
    theta = np.deg2rad(angle_deg)
    along = fx * np.cos(theta) - fy * np.sin(theta)  # frequency along the marks (rows grow downwards)
    across = fx * np.sin(theta) + fy * np.cos(theta)
    transfer = (_gaussian_transmission(np.abs(across), short_px) - _gaussian_transmission(np.abs(across), long_px))
    transfer = transfer * _gaussian_transmission(np.abs(along), long_px / 4.0)
    return np.fft.ifft2(np.fft.fft2(noise) * transfer).real


@lru_cache(maxsize=32)
def _annulus(shape: tuple[int, int], inner: float, outer: float) -> np.ndarray:
    rows, cols = shape
    yy, xx = np.ogrid[:rows, :cols]
    radius = np.hypot(yy - (rows - 1) / 2, xx - (cols - 1) / 2) / min(rows, cols)
    mask = (radius >= inner) & (radius <= outer)
    mask.setflags(write=False)
    return mask


def shot(
    signature: FirearmSignature,
    *,
    seed: Seed,
    noise: float = 0.6,
    marking: float = 1.0,
    rotation_deg: float = 0.0,
    shift_px: tuple[float, float] = (0.0, 0.0),
    kind: Literal["topography", "image"] = "topography",
    lighting: float = 0.3,
    amplitude: float = 1e-6,
    annulus: tuple[float, float] = (0.17, 0.47),
) -> Surface:
    """Fire one synthetic cartridge case: the signature, transferred, moved, noised and cropped.

    Parameters
    ----------
    signature : FirearmSignature
    seed : int or sequence of int
        Seed of the shot's own randomness (noise, marking pattern, lighting direction).
    noise : float
        RMS of the shot's own band-limited noise, relative to the signature's RMS.
    marking : float in [0, 1]
        Share of the breech-face area that took the marks (smooth random patches); 1 = all.
    rotation_deg : float
        Rotation of the signature in the shot, degrees, counter-clockwise as displayed
        (row 0 at the top; OpenCV's ``getRotationMatrix2D`` convention) about the shot centre.
    shift_px : (d_row, d_col)
        Translation of the signature in pixels, applied after the rotation: the signature's
        centre lands at the shot centre plus this shift.
    kind : {"topography", "image"}
        "topography": heights in metres, zero mean and `amplitude` RMS in the annulus,
        ``processed=True``. "image": grey levels in [0, 1] around 0.5 with a linear lighting
        gradient of peak-to-peak `lighting` in a random direction, ``processed=False`` (it needs
        illumination normalisation, see `ballistics.preprocess`).
    lighting : float
        Peak-to-peak lighting gradient across the image (image kind only).
    amplitude : float
        RMS height in metres (topography kind only); Fadul scans have about 1.5 µm.
    annulus : (inner, outer)
        Radii of the breech-face annulus as fractions of the smaller side; NaN elsewhere.

    Returns
    -------
    Surface
        With ground truth in its metadata (firearm angle, rotation, shift, marking).

    Examples
    --------
    >>> s = shot(firearm_signature(1, shape=(64, 64)), seed=2, rotation_deg=10)
    >>> s.shape, s.processed
    ((64, 64), True)
    """
    if not 0.0 <= marking <= 1.0:
        raise ValueError(f"marking must be in [0, 1], got {marking}")
    if noise < 0 or lighting < 0 or amplitude <= 0:
        raise ValueError("noise and lighting must be >= 0 and amplitude > 0")
    if kind not in ("topography", "image"):
        raise ValueError(f"kind must be 'topography' or 'image', got {kind!r}")
    rng = np.random.default_rng(seed)
    transferred = _moved(signature, rotation_deg, shift_px)
    if marking < 1.0:
        transferred = transferred * _marking_weights(rng, signature.shape, marking)
    signal = transferred + noise * _shot_noise(rng, signature.shape)
    mask = _annulus(signature.shape, *annulus)
    signal = (signal - signal[mask].mean()) / (signal[mask].std() or 1.0)
    metadata = {
        "synthetic": True,
        "striation_angle_deg": signature.striation_angle_deg,
        "rotation_deg": float(rotation_deg),
        "shift_px": (float(shift_px[0]), float(shift_px[1])),
        "marking": float(marking),
        "noise": float(noise),
    }
    if kind == "topography":
        heights = np.where(mask, amplitude * signal, np.nan)
        return Surface(heights, signature.pixel_size, kind="topography", processed=True, metadata=metadata)
    grey = 0.5 + 0.1 * signal + lighting * _lighting(rng, signature.shape)
    grey = np.where(mask, np.clip(grey, 0.0, 1.0), np.nan)
    return Surface(grey, signature.pixel_size, kind="image", processed=False, metadata=metadata)


def _moved(signature: FirearmSignature, rotation_deg: float, shift_px: tuple[float, float]) -> np.ndarray:
    rows, cols = signature.shape
    side = signature.texture.shape[0]
    source_centre = ((side - 1) / 2.0, (side - 1) / 2.0)
    matrix = cv2.getRotationMatrix2D(source_centre, float(rotation_deg), 1.0)
    # Put the texture centre at the shot centre plus the shift (x = column, y = row).
    matrix[0, 2] += (cols - 1) / 2.0 + shift_px[1] - source_centre[0]
    matrix[1, 2] += (rows - 1) / 2.0 + shift_px[0] - source_centre[1]
    return cv2.warpAffine(signature.texture, matrix, (cols, rows), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)


def _marking_weights(rng: np.random.Generator, shape: tuple[int, int], marking: float) -> np.ndarray:
    """Smooth patches: weight 1 on about `marking` of the area, 0 elsewhere, soft edges."""
    coarse = rng.standard_normal((6, 6))
    field = cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    field = ndtr((field - field.mean()) / (field.std() or 1.0))  # ~uniform on (0, 1)
    return np.clip((marking - field) / 0.1 + 0.5, 0.0, 1.0)


def _shot_noise(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    noise = cv2.GaussianBlur(rng.standard_normal(shape), (0, 0), 1.0)
    return noise / (noise.std() or 1.0)


def _lighting(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    direction = rng.uniform(0.0, 2.0 * np.pi)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    ramp = np.cos(direction) * xx / shape[1] + np.sin(direction) * yy / shape[0]
    return ramp - ramp.mean()


def synthetic_set(
    n_firearms: int,
    shots_per_firearm: int,
    *,
    seed: int,
    shape: tuple[int, int] = (128, 128),
    pixel_size: float = 6.25e-6,
    rotation_range_deg: float = 30.0,
    max_shift_px: float | None = None,
    noise: float = 0.6,
    marking_range: tuple[float, float] = (0.6, 1.0),
    kind: Literal["topography", "image"] = "topography",
    lighting: float = 0.3,
) -> Iterator[tuple[str, str, Surface]]:
    """Yield ``(name, firearm, surface)`` for `n_firearms` x `shots_per_firearm` synthetic shots.

    Each shot draws a rotation uniformly in ±`rotation_range_deg` (the cmcR search range is
    ±30°), a shift up to `max_shift_px` (default 5 % of the smaller side) and a marking share
    in `marking_range`; all are recorded in the surface's metadata. Lazy: fine for 100,000 shots.

    Examples
    --------
    >>> names = [name for name, _, _ in synthetic_set(2, 3, seed=0, shape=(32, 32))]
    >>> names[:2]
    ['F0000-S00', 'F0000-S01']
    """
    if n_firearms < 1 or shots_per_firearm < 1:
        raise ValueError("n_firearms and shots_per_firearm must be at least 1")
    low, high = marking_range
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"marking_range must satisfy 0 <= low <= high <= 1, got {marking_range}")
    limit = 0.05 * min(shape) if max_shift_px is None else float(max_shift_px)
    for f in range(n_firearms):
        firearm = f"F{f:04d}"
        signature = firearm_signature((seed, f), shape=shape, pixel_size=pixel_size)
        draws = np.random.default_rng((seed, f, 1_000_003))
        for s in range(shots_per_firearm):
            surface = shot(
                signature,
                seed=(seed, f, s),
                noise=noise,
                marking=float(draws.uniform(low, high)),
                rotation_deg=float(draws.uniform(-rotation_range_deg, rotation_range_deg)),
                shift_px=(float(draws.uniform(-limit, limit)), float(draws.uniform(-limit, limit))),
                kind=kind,
                lighting=lighting,
            )
            name = f"{firearm}-S{s:02d}"
            yield name, firearm, surface.with_heights(
                surface.heights, metadata={**surface.metadata, "name": name, "firearm": firearm})
