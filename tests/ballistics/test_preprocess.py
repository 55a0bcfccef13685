"""Tests for ballistics.preprocess, with expected answers built by construction."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from ballistics.io import read_surface
from ballistics.preprocess import (
    AlreadyProcessedError,
    band_pass,
    gaussian_sigma_px,
    normalise_illumination,
    preprocess,
    remove_form,
    resample,
    segment_breech_face,
)
from ballistics.surface import Surface
from ballistics.synth import firearm_signature, shot

ALPHA = np.sqrt(np.log(2) / np.pi)


def gaussian_transmission(wavelength: float, cutoff: float) -> float:
    """ISO 16610-61 low-pass amplitude transmission: exp(-pi (alpha cutoff / wavelength)^2)."""
    return float(np.exp(-np.pi * (ALPHA * cutoff / wavelength) ** 2))


def plane_slope(values: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(~np.isnan(values))
    design = np.column_stack([np.ones(rows.size), cols, rows])
    coefficients, *_ = np.linalg.lstsq(design, values[rows, cols], rcond=None)
    return coefficients[1:]


def disc(shape, centre, radius):
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return np.hypot(rows - centre[0], cols - centre[1]) <= radius


# ---------------------------------------------------------------- filters by construction


def test_sigma_gives_half_transmission_at_cutoff():
    assert gaussian_sigma_px(500.0, 6.25e-6) == pytest.approx(0.18739 * 80, rel=1e-4)
    assert gaussian_transmission(100.0, 100.0) == pytest.approx(0.5)


def test_band_pass_keeps_the_band_and_attenuates_outside():
    """Sum of sines along x (2 µm pixels); fitted amplitudes match the ISO Gaussian transmission."""
    pixel = 2e-6
    x = np.arange(2048) * pixel * 1e6  # µm
    wavelengths = [8.0, 128.0, 1024.0, 4096.0]
    row = sum(np.sin(2 * np.pi * x / w + k) for k, w in enumerate(wavelengths))
    surface = np.tile(row, (48, 1))
    out = band_pass(surface, pixel_size=pixel, short_um=16.0, long_um=500.0)
    centre = slice(400, 1648)  # away from the ends, where the 500 µm kernel runs off the data
    columns = [f(2 * np.pi * x[centre] / w) for w in wavelengths for f in (np.sin, np.cos)]
    fit, *_ = np.linalg.lstsq(np.column_stack(columns), out[24, centre], rcond=None)
    amplitudes = np.hypot(fit[0::2], fit[1::2])
    expected = [gaussian_transmission(w, 16.0) - gaussian_transmission(w, 500.0) for w in wavelengths]
    np.testing.assert_allclose(amplitudes, expected, atol=0.03)
    assert amplitudes[1] > 0.95 and amplitudes[0] < 0.1 and amplitudes[3] < 0.05


def test_band_pass_ignores_missing_points():
    """A constant surface with holes band-passes to exactly zero: no leakage at hole edges."""
    surface = np.full((120, 140), 3e-6)
    surface[40:70, 50:90] = np.nan
    surface[:, :10] = np.nan
    out = band_pass(surface, pixel_size=6.25e-6)
    assert np.array_equal(np.isnan(out), np.isnan(surface))
    np.testing.assert_allclose(out[~np.isnan(out)], 0.0, atol=1e-18)


def test_band_pass_does_not_modify_input_and_checks_arguments():
    surface = np.random.default_rng(0).normal(size=(30, 30))
    copy = surface.copy()
    band_pass(surface, pixel_size=1e-6)
    np.testing.assert_array_equal(surface, copy)
    with pytest.raises(ValueError, match="short_um < long_um"):
        band_pass(surface, pixel_size=1e-6, short_um=500, long_um=16)


def test_remove_form_removes_tilt_despite_outliers():
    rng = np.random.default_rng(4)
    rows, cols = np.mgrid[:200, :220]
    texture = rng.normal(scale=0.2e-6, size=rows.shape)
    tilted = 5e-5 + 2e-7 * cols - 1.5e-7 * rows + texture
    tilted[rng.random(rows.shape) < 0.05] += 4e-5  # dust: 5 % spikes far above the surface
    tilted[:20, :20] = np.nan
    flat = remove_form(tilted, order=1)
    clean = np.where(np.abs(flat) < 5e-6, flat, np.nan)  # the fit, not the spikes, is judged
    np.testing.assert_allclose(plane_slope(clean), 0.0, atol=2e-10)  # vs 2e-7 m/px before
    assert abs(np.nanmedian(flat)) < 2e-8
    assert np.isnan(flat[0, 0])


def test_remove_form_quadratic_removes_curvature():
    rows, cols = np.mgrid[:100, :100].astype(float)
    bowl = 1e-6 * ((rows - 50) ** 2 + (cols - 40) ** 2) / 100
    np.testing.assert_allclose(remove_form(bowl, order=2), 0.0, atol=1e-15)


def test_illumination_gradient_is_divided_out():
    _rows, cols = np.mgrid[:200, :200]
    texture = 1 + 0.1 * np.sin(2 * np.pi * cols / 10)
    shading = 0.3 + 0.5 * cols / 200  # light falls off to the left
    out = normalise_illumination(texture * shading, pixel_size=5e-6, background_um=500)
    # what is left is the texture's own contrast, 0.1 sin, without the shading (0.3 -> 0.8)
    np.testing.assert_allclose(out[:, 60:140], (texture - 1)[:, 60:140], atol=0.01)


def test_resample_halves_and_keeps_missing_regions():
    heights = np.ones((100, 80))
    heights[:50] = np.nan
    surface = Surface(heights, 3.125e-6)
    half = resample(surface, pixel_size=6.25e-6)
    assert half.shape == (50, 40) and half.pixel_size == 6.25e-6
    assert np.isnan(half.heights[:25]).all() and (half.heights[25:] == 1.0).all()


# ---------------------------------------------------------------- segmentation


def synthetic_case(shape=(300, 360), primer=(150, 170, 110), pin=(158, 176, 45)):
    """Ring-light-like picture: bright textured primer face, dark surround, dark firing-pin crater."""
    rng = np.random.default_rng(3)
    image = 0.25 + 0.05 * rng.random(shape)
    face = disc(shape, primer[:2], primer[2])
    image[face] = 0.7 + 0.1 * rng.random(face.sum())
    image[disc(shape, pin[:2], pin[2])] = 0.15
    return Surface(image, 2.5e-6, kind="image")


def test_segmentation_finds_constructed_circles():
    masks = segment_breech_face(synthetic_case())
    assert masks.method == "radial-edge"
    np.testing.assert_allclose(masks.primer_centre, (150, 170), atol=3)
    assert masks.primer_radius == pytest.approx(110, abs=4)
    np.testing.assert_allclose(masks.firing_pin_centre, (158, 176), atol=3)
    assert masks.firing_pin_radius == pytest.approx(45, abs=4)
    assert not (masks.breech_face & masks.firing_pin).any()
    assert (masks.breech_face <= masks.primer).all()


def synthetic_case_head(pixel_size=7e-6):
    """Raw topography: case head +50 µm, primer-pocket gap -100 µm, tilted textured primer face
    (radius 270 px = 1.9 mm), firing-pin crater (radius 100 px) off centre."""
    shape, rng = (700, 760), np.random.default_rng(1)
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    heights = np.full(shape, 50e-6) + rng.normal(scale=1e-6, size=shape)
    heights[disc(shape, (340, 390), 300)] = -100e-6
    face = disc(shape, (340, 390), 270)
    heights[face] = (rng.normal(scale=1e-6, size=shape) + 2e-8 * np.broadcast_to(cols, shape))[face]
    depth = np.hypot(rows - 350, cols - 380)
    pin = depth < 100
    heights[pin] = -150e-6 + (depth[pin] / 100) ** 2 * 100e-6
    return Surface(heights, pixel_size)


def test_segmentation_of_raw_topography_takes_primer_inside_the_pocket_gap():
    masks = segment_breech_face(synthetic_case_head())
    np.testing.assert_allclose(masks.primer_centre, (340, 390), atol=3)
    assert masks.primer_radius == pytest.approx(270, abs=5)  # not the stronger pocket edge at 300
    np.testing.assert_allclose(masks.firing_pin_centre, (350, 380), atol=3)
    assert masks.firing_pin_radius == pytest.approx(100, abs=5)


def test_segmentation_of_cropped_scan_uses_the_measured_region():
    surface = shot(firearm_signature(2, shape=(128, 128)), seed=1)  # NaN outside an annulus
    masks = segment_breech_face(surface)
    assert masks.method == "valid-region"
    np.testing.assert_allclose(masks.primer_centre, (63.5, 63.5), atol=1.5)
    assert masks.primer_radius == pytest.approx(0.47 * 128, rel=0.05)
    np.testing.assert_allclose(masks.firing_pin_centre, (63.5, 63.5), atol=1.5)
    assert masks.firing_pin_radius == pytest.approx(0.17 * 128, rel=0.05)  # the cut-out hole
    assert masks.breech_face.sum() < surface.mask.sum()  # margins trimmed at both edges


@pytest.fixture(scope="module")
def nbide_masks(nbide_dir):
    surfaces = {path.name: read_surface(path) for path in sorted(nbide_dir.glob("*.png"))}
    return {name: (surface, segment_breech_face(surface)) for name, surface in surfaces.items()}


def test_nbide_primer_and_firing_pin_are_found(nbide_masks, tmp_path):
    assert len(nbide_masks) == 2
    radii_mm = []
    for name, (surface, masks) in nbide_masks.items():
        assert surface.shape == (1944, 2592) and surface.pixel_size == pytest.approx(2.53e-6, rel=1e-3)
        saved = {}
        for part in ("primer", "firing_pin", "breech_face"):
            path = tmp_path / f"{name[:-4]}-{part}.png"
            assert cv2.imwrite(str(path), getattr(masks, part).astype(np.uint8) * 255)
            saved[part] = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) > 0
        cv2.imwrite(str(tmp_path / f"{name[:-4]}-labels.png"), masks.as_image())
        primer_mm = masks.primer_radius * surface.pixel_size * 1e3
        radii_mm.append(primer_mm)
        # primer face of a 9 mm Luger case: 4.45 mm primer cup, flat face about 3.5-4 mm across
        assert 1.5 < primer_mm < 2.3, name
        offset = np.hypot(*np.subtract(masks.firing_pin_centre, masks.primer_centre))
        assert offset + masks.firing_pin_radius < masks.primer_radius, "firing pin must lie inside the primer"
        assert 0.35 < masks.firing_pin_radius / masks.primer_radius < 0.8
        # the primer is roughly centred in NIST's framing
        assert abs(masks.primer_centre[0] - 972) < 200 and abs(masks.primer_centre[1] - 1296) < 200
        fraction = saved["breech_face"].mean()
        assert 0.08 < fraction < 0.3, (name, fraction)
        assert (saved["breech_face"] <= saved["primer"]).all()
        assert not (saved["breech_face"] & saved["firing_pin"]).any()
        assert (tmp_path / f"{name[:-4]}-breech_face.png").stat().st_size > 0
    # same ammunition, same microscope: the primer faces agree within 3 %
    assert abs(radii_mm[0] - radii_mm[1]) / radii_mm[0] < 0.03


def test_nbide_photograph_preprocesses_to_standardised_annulus(nbide_masks):
    surface, masks = next(iter(nbide_masks.values()))
    processed = preprocess(surface, masks=masks)
    assert processed.processed and processed.kind == "image"
    assert processed.pixel_size == pytest.approx(6.25e-6)
    values = processed.heights[processed.mask]
    assert abs(values.mean()) < 1e-9 and values.std() == pytest.approx(1.0)
    side = 2 * masks.primer_radius * surface.pixel_size / 6.25e-6
    assert max(processed.shape) == pytest.approx(side, rel=0.05)
    assert 0.2 < processed.valid_fraction < 0.6
    assert processed.metadata["preprocessing"]["segmentation"]["method"] == "radial-edge"


# ---------------------------------------------------------------- the entry point


def raw_topography(seed: int = 0) -> tuple[Surface, np.ndarray]:
    """A tilted, offset synthetic breech face at 3.125 µm, and its texture."""
    textured = shot(firearm_signature(seed, shape=(256, 256), pixel_size=3.125e-6), seed=seed + 1)
    rows, cols = np.mgrid[:256, :256]
    tilt = 2e-4 + 3e-8 * cols + 2e-8 * rows  # 30 nm per pixel: 8 µm across, far above the marks
    return Surface(textured.heights + tilt, 3.125e-6), textured.heights


def test_preprocess_removes_form_and_keeps_marks():
    raw, texture = raw_topography()
    assert abs(plane_slope(raw.heights)[0]) > 2e-8
    processed = preprocess(raw, segment=False, pixel_size=None)
    untilted = preprocess(Surface(texture, raw.pixel_size), segment=False, pixel_size=None)
    assert processed.processed and processed.pixel_size == raw.pixel_size
    # the added plane leaves no trace: same result as without it (texture RMS is 1 µm)
    np.testing.assert_allclose(processed.heights, untilted.heights, atol=2e-9)  # 0.2 % of RMS; plane was 8 µm
    assert np.abs(plane_slope(processed.heights)).max() < 0.02 * 3e-8
    # the band-passed marks still match the texture that was put in
    row, col = processed.metadata["preprocessing"]["crop_offset_px"]
    texture = texture[row: row + processed.shape[0], col: col + processed.shape[1]]
    both = ~np.isnan(processed.heights)
    assert np.corrcoef(processed.heights[both], texture[both])[0, 1] > 0.8
    # edges eroded: 37.5 µm = 12 px at 3.125 µm
    assert processed.valid_fraction < np.mean(~np.isnan(texture))


def test_preprocess_resamples_to_common_pixel_size():
    raw, _ = raw_topography(5)
    processed = preprocess(raw)
    assert processed.pixel_size == pytest.approx(6.25e-6)
    assert processed.shape[0] <= 128
    record = processed.metadata["preprocessing"]
    assert record["band_um"] == (16.0, 500.0) and record["source_pixel_size_um"] == pytest.approx(3.125)


def test_preprocess_refuses_processed_input_unless_forced(fadul_dir):
    processed = read_surface(fadul_dir / "Fadul 1-1.x3p")
    with pytest.raises(AlreadyProcessedError, match="already processed"):
        preprocess(processed)
    assert isinstance(AlreadyProcessedError("x"), ValueError)
    again = preprocess(processed, force=True)
    assert again.processed


def test_preprocess_refuses_synthetic_processed_shot():
    surface = shot(firearm_signature(1, shape=(64, 64)), seed=0)
    with pytest.raises(AlreadyProcessedError):
        preprocess(surface)


def test_preprocess_does_not_change_its_input():
    raw, _ = raw_topography(7)
    before = raw.heights.copy()
    preprocess(raw, segment=False)
    np.testing.assert_array_equal(raw.heights, before)
    assert not raw.processed


def test_synthetic_photograph_with_lighting_becomes_flat():
    image = shot(firearm_signature(3, shape=(160, 160), pixel_size=3e-6), seed=4, kind="image", lighting=0.5)
    processed = preprocess(image, segment=False, pixel_size=None)
    values = processed.heights
    assert abs(plane_slope(values)[0]) < 2e-3 and abs(plane_slope(values)[1]) < 2e-3
    assert np.nanstd(values) == pytest.approx(1.0)
