"""Scans as other instruments would deliver them, built from a processed scan (issue 17 tests).

A "processed" variant at another pixel size is the scan resampled (area average going coarser, linear
going finer); a "raw" variant is that plus a tilted plane, an offset and a little measurement noise,
marked raw, so that it goes through the documented preprocessing (segmentation, plane removal,
band-pass, edge erosion). Heights stay NaN wherever the source was not measured.
"""
from __future__ import annotations

import cv2
import numpy as np

from ballistics.surface import Surface

CADRE = {"instrument_manufacturer": "Cadre Forensics", "instrument_model": "TopMatch-3D HD",
         "instrument_serial": "TM-0042", "comment": "cropped to the primer; not filtered"}


def resized(surface: Surface, pixel_size: float) -> np.ndarray:
    """Heights at another pixel size; a new pixel is valid only where all it covers was measured."""
    factor = surface.pixel_size / pixel_size
    size = (round(surface.shape[1] * factor), round(surface.shape[0] * factor))
    mode = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    mask = surface.mask
    summed = cv2.resize(np.where(mask, surface.heights, 0.0), size, interpolation=mode)
    share = cv2.resize(mask.astype(np.float64), size, interpolation=mode)
    return np.where(share > 0.999, summed / np.maximum(share, 1e-12), np.nan)


def variant(scan: Surface, *, processed: bool, pixel_size_um: float, seed: int) -> Surface:
    """The scan as another instrument's raw or processed output at `pixel_size_um`."""
    pixel_size = pixel_size_um * 1e-6
    if processed and pixel_size == scan.pixel_size:
        return scan
    heights = resized(scan, pixel_size)
    if not processed:  # form and offset of an unlevelled scan, and instrument noise
        rows, cols = np.indices(heights.shape) * pixel_size
        noise = np.random.default_rng(seed).normal(scale=0.05e-6, size=heights.shape)
        heights = heights + 40e-6 + 6e-4 * rows - 4e-4 * cols + noise
    return Surface(heights, pixel_size, processed=processed, metadata=CADRE)
