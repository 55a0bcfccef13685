"""Tests for ballistics.io: X3P and image reading/writing, limits checked before decoding."""
from __future__ import annotations

import csv
import hashlib
import struct
import subprocess
import sys
import time
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ballistics.io import (
    PROCESSED_MARKER,
    SurfaceChecksumError,
    SurfaceFormatError,
    SurfaceTooLargeError,
    SurfaceWarning,
    describe,
    looks_processed,
    read_surface,
    write_image,
    write_x3p,
)
from ballistics.surface import Surface
from tests.hostile import HUGE, huge_jpeg, huge_png, huge_tiff, png_chunk



# ---------------------------------------------------------------- crafted files (no pixel arrays)


def x3p_bytes(xml: str | bytes, members: dict[str, bytes] | None = None, *, md5: bool = True) -> bytes:
    xml_bytes = xml.encode() if isinstance(xml, str) else xml
    buffer = __import__("io").BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("main.xml", xml_bytes)
        if md5:
            archive.writestr("md5checksum.hex", hashlib.md5(xml_bytes).hexdigest() + " *main.xml\n")
        for name, blob in (members or {}).items():
            archive.writestr(name, blob)
    return buffer.getvalue()


def main_xml(size_x: int, size_y: int, *, data: str = "", feature: str = "SUR", increment: str = "6.25e-06",
             z_type: str = "D") -> str:
    link = data or ("<DataLink><PointDataLink>bindata/data.bin</PointDataLink></DataLink>")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<p:ISO5436_2 xmlns:p="http://www.opengps.eu/2008/ISO5436_2">
 <Record1><Revision>ISO5436 - 2000</Revision><FeatureType>{feature}</FeatureType><Axes>
  <CX><AxisType>I</AxisType><DataType>D</DataType><Increment>{increment}</Increment><Offset>0</Offset></CX>
  <CY><AxisType>I</AxisType><DataType>D</DataType><Increment>{increment}</Increment><Offset>0</Offset></CY>
  <CZ><AxisType>A</AxisType><DataType>{z_type}</DataType></CZ></Axes></Record1>
 <Record3><MatrixDimension><SizeX>{size_x}</SizeX><SizeY>{size_y}</SizeY><SizeZ>1</SizeZ></MatrixDimension>
  {link}</Record3>
 <Record4><ChecksumFile>md5checksum.hex</ChecksumFile></Record4>
</p:ISO5436_2>"""


def write_bytes(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def replace_member(source: Path, target: Path, name: str, change) -> None:
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for info in original.infolist():
            blob = original.read(info)
            copy.writestr(info.filename, change(blob) if info.filename == name else blob)


@pytest.fixture
def surface() -> Surface:
    rng = np.random.default_rng(7)
    heights = rng.normal(scale=1e-6, size=(40, 50))
    heights[:3, :] = np.nan
    return Surface(heights, 3.125e-6, metadata={"creator": "Tester", "comment": "unit test"})


# ---------------------------------------------------------------- X3P conformance and real scans


SAMPLES = ["ISO5436-sample1.x3p", "ISO5436-sample1_bin.x3p", "ISO5436-sample3.x3p",
           "ISO5436-sample4.x3p", "ISO5436-sample4_bin.x3p"]
SAMPLE_VALUES = np.array([[0.486219120804151, 0.00346341436648013, -0.80836857168283, -0.579793099037002],
                          [0.85762202739331, 1.04759602566142, 1.01879225277798, np.nan],
                          [0.823683772970184, 0.797872489327661, -0.557459388341694, -0.23324785884922],
                          [0.675397146760858, 0.420737549074718, 0.64206924811095, -0.215696638464903]])


@pytest.mark.parametrize("name", SAMPLES)
def test_opengps_samples_read_in_x_fastest_order_with_missing_point(x3p_samples_dir, name):
    if name == "ISO5436-sample3.x3p":  # absolute Y coordinates in the list: read, with a warning
        with pytest.warns(SurfaceWarning, match="absolute CY"):
            surface = read_surface(x3p_samples_dir / name)
    else:
        surface = read_surface(x3p_samples_dir / name)
    # sample4*: int16 heights, Increment 0.001, Offset -0.5 -> three decimals of the same surface
    tolerance = 6e-4 if "sample4" in name else 1e-15
    np.testing.assert_allclose(surface.heights, SAMPLE_VALUES, atol=tolerance)
    assert surface.pixel_size == pytest.approx(1.6016e-2)
    assert surface.metadata["creator"] == "Name of measuring person"
    assert surface.metadata["instrument_manufacturer"] == "NanoFocus AG"
    assert surface.metadata["main_xml_md5_verified"] is True
    assert not surface.processed


def test_every_sample_file_is_read_or_refused_clearly(x3p_samples_dir):
    outcomes = {}
    for path in sorted(x3p_samples_dir.glob("*.x3p")):
        try:
            with pytest.warns(SurfaceWarning) if path.name == "ISO5436-sample3.x3p" else _nothing():
                outcomes[path.name] = read_surface(path).shape
        except SurfaceFormatError as error:
            assert path.name in str(error)
            outcomes[path.name] = str(error)
    assert len(outcomes) == 6
    assert "point cloud" in outcomes["ISO5436-sample2.x3p"]


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _ground_truth(fadul_dir: Path) -> list[dict[str, str]]:
    with open(fadul_dir / "ground_truth.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_fadul_scans_match_ground_truth_and_are_marked_processed(fadul_dir):
    rows = _ground_truth(fadul_dir)
    assert len(rows) == 40
    for row in rows:
        surface = read_surface(fadul_dir / row["file"])
        assert surface.shape == (int(row["rows"]), int(row["cols"])), row["file"]
        assert surface.pixel_size == pytest.approx(float(row["pixel_size_m"]), rel=1e-12)
        assert surface.processed, row["file"]
        assert 0.2 < surface.valid_fraction < 0.4
        # R's signalling NaN is normalised: nan-aware reductions work
        assert np.isfinite(np.nanmin(surface.heights))
    assert surface.metadata["creator"] == "Xiaoyu Zheng"
    assert surface.metadata["date"].startswith("2011-01-24")


def test_processed_flag_can_be_overridden(fadul_dir):
    surface = read_surface(fadul_dir / "Fadul 1-1.x3p", processed=False)
    assert not surface.processed


def test_heuristic_does_not_call_a_raw_tilted_scan_processed():
    yy, xx = np.mgrid[:200, :200]
    raw = 1e-6 * (0.5 * xx + 0.2 * yy) + 2e-4
    annulus = np.hypot(yy - 100, xx - 100)
    raw[(annulus > 90) | (annulus < 30)] = np.nan
    assert not looks_processed(raw)
    rng = np.random.default_rng(0)
    band_passed = np.where(np.isnan(raw), np.nan, rng.normal(scale=1e-6, size=raw.shape))
    assert looks_processed(band_passed)


# ---------------------------------------------------------------- X3P round trip


def test_write_then_read_keeps_values_metadata_and_flag(tmp_path, surface):
    path = write_x3p(surface.with_heights(surface.heights, processed=True), tmp_path / "s.x3p")
    back = read_surface(path)
    np.testing.assert_array_equal(back.heights, surface.heights)
    assert back.pixel_size == surface.pixel_size
    assert back.processed
    assert back.metadata["creator"] == "Tester"
    assert back.metadata["comment"] == "unit test"
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        xml = archive.read("main.xml")
        assert archive.read("md5checksum.hex").decode().startswith(hashlib.md5(xml).hexdigest())
    assert {"main.xml", "md5checksum.hex", "bindata/data.bin"} <= names
    for record in (b"Record1", b"Record2", b"Record3", b"Record4", PROCESSED_MARKER.encode()):
        assert record in xml


def test_raw_flag_survives_round_trip_even_when_heuristic_would_say_processed(tmp_path, fadul_dir):
    raw = read_surface(fadul_dir / "Fadul 1-1.x3p", processed=False)
    assert not read_surface(write_x3p(raw, tmp_path / "raw.x3p")).processed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    heights=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 12), st.integers(1, 12)),
        elements=st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=64), st.just(np.nan)),
    ),
    pixel_size=st.floats(1e-9, 1e-2, allow_nan=False),
)
def test_round_trip_is_exact_for_random_arrays_with_nans(tmp_path, heights, pixel_size):
    heights.flat[0] = 0.5  # at least one valid point (NaN-only surfaces are refused)
    surface = Surface(heights, pixel_size)
    back = read_surface(write_x3p(surface, tmp_path / "h.x3p"), processed=False)
    np.testing.assert_array_equal(back.heights, surface.heights)
    assert back.pixel_size == pixel_size
    assert np.array_equal(np.signbit(back.heights), np.signbit(surface.heights))  # -0.0 kept


def test_float32_writing_rounds_to_float32(tmp_path, surface):
    back = read_surface(write_x3p(surface, tmp_path / "f.x3p", dtype="F"))
    np.testing.assert_array_equal(back.heights, surface.heights.astype(np.float32).astype(np.float64))


def test_nan_only_surface_is_refused_on_write_and_read(tmp_path):
    with pytest.raises(ValueError, match="valid point"):
        write_x3p(Surface(np.full((3, 3), np.nan), 1e-6), tmp_path / "n.x3p")
    blob = np.full(9, np.nan).astype("<f8").tobytes()
    path = write_bytes(tmp_path, "nan.x3p", x3p_bytes(main_xml(3, 3), {"bindata/data.bin": blob}))
    with pytest.raises(SurfaceFormatError, match="no valid height.*|.*nan.x3p"):
        read_surface(path)


def test_changed_byte_in_point_data_is_an_md5_mismatch(tmp_path, surface):
    path = write_x3p(surface, tmp_path / "good.x3p")
    bad = tmp_path / "tampered.x3p"
    replace_member(path, bad, "bindata/data.bin", lambda blob: blob[:100] + bytes([blob[100] ^ 1]) + blob[101:])
    with pytest.raises(SurfaceChecksumError, match=r"tampered\.x3p.*MD5 mismatch for point data"):
        read_surface(bad)
    assert read_surface(bad, verify_checksums=False).shape == surface.shape


def test_changed_main_xml_is_an_md5_mismatch(tmp_path, surface):
    path = write_x3p(surface, tmp_path / "good.x3p")
    bad = tmp_path / "edited.x3p"
    replace_member(path, bad, "main.xml", lambda xml: xml.replace(b"Tester", b"Forger"))
    with pytest.raises(SurfaceChecksumError, match=r"edited\.x3p.*main\.xml"):
        read_surface(bad)


def test_valid_points_bits_are_least_significant_first(tmp_path):
    values = np.arange(10, dtype="<f8")
    valid = np.packbits(np.array([1, 1, 1, 0, 1, 1, 1, 1, 1, 0], bool), bitorder="little").tobytes()
    link = ("<DataLink><PointDataLink>bindata/data.bin</PointDataLink>"
            "<ValidPointsLink>bindata/valid.bin</ValidPointsLink></DataLink>")
    path = write_bytes(tmp_path, "v.x3p", x3p_bytes(main_xml(5, 2, data=link),
                                                     {"bindata/data.bin": values.tobytes(),
                                                      "bindata/valid.bin": valid}))
    heights = read_surface(path).heights
    assert np.isnan(heights[0, 3]) and np.isnan(heights[1, 4])
    assert heights[1, 0] == 5.0 and heights.shape == (2, 5)


def test_integer_heights_use_increment_and_offset(tmp_path):
    xml = main_xml(3, 1, z_type="L").replace(
        "<DataType>L</DataType>", "<DataType>L</DataType><Increment>1e-9</Increment><Offset>2e-6</Offset>")
    blob = np.array([0, 1000, -1000], "<i4").tobytes()
    path = write_bytes(tmp_path, "int.x3p", x3p_bytes(xml, {"bindata/data.bin": blob}))
    np.testing.assert_allclose(read_surface(path).heights, [[2e-6, 3e-6, 1e-6]], rtol=1e-12)


def test_profile_reads_as_one_row_surface(tmp_path):
    blob = np.linspace(0, 1e-6, 7).astype("<f8").tobytes()
    path = write_bytes(tmp_path, "p.x3p", x3p_bytes(main_xml(7, 1, feature="PRF"), {"bindata/data.bin": blob}))
    assert read_surface(path).shape == (1, 7)


def test_micrometre_pixel_size_is_converted_with_warning(tmp_path):
    heights = np.random.default_rng(1).normal(scale=3.0, size=(20, 20))  # micrometres, as written
    path = write_x3p(Surface(heights, 6.25), tmp_path / "um.x3p")  # "6.25" where 6.25e-6 was meant
    with pytest.warns(SurfaceWarning, match="micrometres"):
        surface = read_surface(path)
    assert surface.pixel_size == pytest.approx(6.25e-6)
    np.testing.assert_allclose(surface.heights, heights * 1e-6)


# ---------------------------------------------------------------- malformed X3P


def test_truncated_x3p_is_refused(tmp_path, surface):
    data = write_x3p(surface, tmp_path / "full.x3p").read_bytes()
    path = write_bytes(tmp_path, "cut.x3p", data[: len(data) // 2])
    with pytest.raises(SurfaceFormatError, match=r"cut\.x3p.*truncated"):
        read_surface(path)


def test_non_zip_x3p_is_refused(tmp_path):
    path = write_bytes(tmp_path, "text.x3p", b"this is not a zip archive\n")
    with pytest.raises(SurfaceFormatError, match=r"text\.x3p.*unrecognised file type"):
        read_surface(path)


def test_zip_without_main_xml_is_refused(tmp_path):
    buffer = __import__("io").BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    path = write_bytes(tmp_path, "nomain.x3p", buffer.getvalue())
    with pytest.raises(SurfaceFormatError, match=r"nomain\.x3p.*no main\.xml"):
        read_surface(path)


@pytest.mark.parametrize("xml, message", [
    (b"<p:ISO5436_2 xmlns:p='x'><Record1>", "not well-formed"),
    (b"", "not well-formed|empty"),
    (b"<html><body/></html>", "root element"),
    ((b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
     b"<ISO5436_2>&lol2;</ISO5436_2>"), "DOCTYPE"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY ext SYSTEM "file:///etc/passwd">]><ISO5436_2>&ext;</ISO5436_2>',
     "DOCTYPE"),
])
def test_malformed_or_hostile_main_xml_is_refused(tmp_path, xml, message):
    path = write_bytes(tmp_path, "bad.x3p", x3p_bytes(xml))
    with pytest.raises(SurfaceFormatError, match=rf"bad\.x3p.*({message})"):
        read_surface(path)


def test_inline_list_of_too_many_elements_is_refused_while_parsing(tmp_path):
    xml = main_xml(1000, 1000, data="<DataList>" + "<Datum/>" * 1_000_000 + "</DataList>")
    path = write_bytes(tmp_path, "elements.x3p", x3p_bytes(xml))
    assert path.stat().st_size < 100_000
    started = time.perf_counter()
    with pytest.raises(SurfaceTooLargeError, match="elements"):
        read_surface(path)
    assert time.perf_counter() - started < 5.0  # no hang (about 0.3 s here)


def test_point_cloud_is_refused(tmp_path):
    xml = main_xml(4, 1, feature="PCL").replace(
        "<MatrixDimension><SizeX>4</SizeX><SizeY>1</SizeY><SizeZ>1</SizeZ></MatrixDimension>",
        "<ListDimension>4</ListDimension>")
    with pytest.raises(SurfaceFormatError, match="point cloud"):
        read_surface(write_bytes(tmp_path, "cloud.x3p", x3p_bytes(xml)))


def test_point_data_of_wrong_declared_size_is_refused_before_reading(tmp_path):
    path = write_bytes(tmp_path, "liar.x3p", x3p_bytes(main_xml(4, 4), {"bindata/data.bin": bytes(200_000)}))
    with pytest.raises(SurfaceFormatError, match="declares 200,000 bytes"):
        read_surface(path)


# ---------------------------------------------------------------- images


@pytest.mark.parametrize("extension, dtype", [(".png", np.uint8), (".png", np.uint16),
                                              (".tif", np.uint8), (".tiff", np.uint16)])
def test_png_and_tiff_scale_to_unit_interval(tmp_path, extension, dtype):
    top = np.iinfo(dtype).max
    pixels = np.random.default_rng(3).integers(0, top, size=(30, 40), endpoint=True).astype(dtype)
    path = tmp_path / f"img{extension}"
    assert cv2.imwrite(str(path), pixels)
    surface = read_surface(path, pixel_size=3e-6)
    assert surface.kind == "image" and not surface.processed
    np.testing.assert_array_equal(surface.heights, pixels / top)
    assert surface.metadata["format"] == ("png" if extension == ".png" else "tiff")


def test_colour_image_becomes_grey(tmp_path):
    colour = np.zeros((10, 10, 3), np.uint8)
    colour[..., 1] = 255  # pure green -> luma 0.587
    path = tmp_path / "green.png"
    cv2.imwrite(str(path), colour)
    np.testing.assert_allclose(read_surface(path, pixel_size=1e-6).heights, 150 / 255)


def test_jpeg_reads_with_lossy_warning(tmp_path):
    path = tmp_path / "photo.jpg"
    cv2.imwrite(str(path), np.full((32, 32), 100, np.uint8))
    with pytest.warns(SurfaceWarning, match="lossy"):
        surface = read_surface(path, pixel_size=3e-6)
    assert abs(float(np.mean(surface.heights)) - 100 / 255) < 0.01


def test_image_needs_a_pixel_size(tmp_path):
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="pixel_size"):
        read_surface(path)


def with_phys(png: bytes, per_metre: int, unit: int = 1) -> bytes:
    """Insert a pHYs chunk (PNG spec 11.3.5.3) right after IHDR."""
    return png[:33] + png_chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, unit)) + png[33:]


def test_png_physical_pixel_size_is_used_when_microscopic(tmp_path):
    _, encoded = cv2.imencode(".png", np.zeros((4, 4), np.uint8))
    path = write_bytes(tmp_path, "scaled.png", with_phys(encoded.tobytes(), 400_000))
    surface = read_surface(path)
    assert surface.pixel_size == pytest.approx(2.5e-6)
    assert surface.metadata["pixel_size_from"] == "png pHYs"
    assert read_surface(path, pixel_size=1e-6).pixel_size == 1e-6  # the argument wins
    screen = write_bytes(tmp_path, "screen.png", with_phys(encoded.tobytes(), 2835))  # 72 dpi
    with pytest.raises(ValueError, match="pixel_size"):
        read_surface(screen)


def test_type_is_sniffed_from_content_not_extension(tmp_path):
    path = tmp_path / "actually_png.x3p"
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((4, 4), np.uint8))
    path.write_bytes((tmp_path / "a.png").read_bytes())
    assert read_surface(path, pixel_size=1e-6).kind == "image"


@pytest.mark.parametrize("extension", [".png", ".tif"])
def test_write_image_round_trip_keeps_mask(tmp_path, extension):
    grey = np.random.default_rng(5).random((20, 30))
    grey[0, :5] = np.nan
    path = write_image(Surface(grey, 2e-6, kind="image"), tmp_path / f"out{extension}")
    back = read_surface(path, pixel_size=2e-6)
    assert np.array_equal(np.isnan(back.heights), np.isnan(grey))
    np.testing.assert_allclose(back.heights, grey, atol=1 / 65535)
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw[0, 0, 0] == 0


def test_fully_transparent_image_is_refused(tmp_path):
    path = tmp_path / "clear.png"
    cv2.imwrite(str(path), np.zeros((8, 8, 4), np.uint16))
    with pytest.raises(SurfaceFormatError, match="no valid pixel"):
        read_surface(path, pixel_size=1e-6)


def test_write_image_of_topography_spans_16_bits(tmp_path, surface):
    path = write_image(surface, tmp_path / "topo.png")
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    valid = raw[..., 3] > 0
    assert raw[..., 0][valid].min() == 0 and raw[..., 0][valid].max() == 65535


def test_topography_png_round_trip_keeps_heights_in_metres(tmp_path, surface):
    """Issue 17: a topography written as PNG reads back as heights in metres, not as 0-1 grey levels."""
    back = read_surface(write_image(surface, tmp_path / "topo.png"))
    assert back.kind == "topography" and back.pixel_size == surface.pixel_size
    assert back.processed == surface.processed
    np.testing.assert_array_equal(np.isnan(back.heights), np.isnan(surface.heights))
    step = np.nanmax(surface.heights) - np.nanmin(surface.heights)
    np.testing.assert_allclose(back.heights, surface.heights, atol=step / 65535, equal_nan=True)
    assert describe(back)["height_range_um"] == pytest.approx(describe(surface)["height_range_um"], rel=1e-4)


def test_topography_png_then_x3p_keeps_the_height_scale(tmp_path, surface):
    processed = surface.with_heights(surface.heights, processed=True)
    x3p = write_x3p(read_surface(write_image(processed, tmp_path / "t.png")), tmp_path / "t.x3p")
    back = read_surface(x3p)
    assert back.processed and back.pixel_size == surface.pixel_size
    assert np.nanmax(np.abs(back.heights - surface.heights)) < 1e-9  # metres: the scale survived


def test_plain_png_is_an_image_and_a_topography_cannot_become_a_tiff(tmp_path, surface):
    cv2.imwrite(str(tmp_path / "photo.png"), np.full((8, 8), 200, np.uint8))
    photo = read_surface(tmp_path / "photo.png", pixel_size=2e-6)
    assert photo.kind == "image" and np.nanmax(photo.heights) <= 1.0
    with pytest.raises(ValueError, match="carries no height scale"):
        write_image(surface, tmp_path / "topo.tif")


def test_damaged_height_scale_is_refused(tmp_path, surface):
    data = write_image(surface, tmp_path / "topo.png").read_bytes()
    start = data.index(b"ballistics:height-scale")
    chunk_start = start - 8
    length = struct.unpack(">I", data[chunk_start:start - 4])[0]
    damaged = data[:chunk_start] + png_chunk(b"tEXt", b"ballistics:height-scale\0{not json") + \
        data[start + length + 4:]
    with pytest.raises(SurfaceFormatError, match="height-scale text chunk is damaged"):
        read_surface(write_bytes(tmp_path, "damaged.png", damaged))


@pytest.mark.parametrize("name, data, message", [
    ("empty.png", b"", "empty"),
    ("wrong.png", b"GIF89a" + bytes(100), "unrecognised file type"),
    ("doc.tif", b"%PDF-1.7\n" + bytes(100), "unrecognised file type"),
])
def test_empty_and_wrong_type_files_are_refused(tmp_path, name, data, message):
    with pytest.raises(SurfaceFormatError, match=rf"{name}.*{message}"):
        read_surface(write_bytes(tmp_path, name, data), pixel_size=1e-6)


@pytest.mark.parametrize("extension", [".png", ".tif", ".jpg"])
def test_truncated_images_are_refused(tmp_path, extension):
    pixels = np.random.default_rng(2).integers(0, 255, size=(64, 64)).astype(np.uint8)
    _ok, encoded = cv2.imencode(extension, pixels)
    data = encoded.tobytes()
    path = write_bytes(tmp_path, f"cut{extension}", data[: len(data) * 2 // 3])
    with pytest.raises(SurfaceFormatError, match="cut"):
        read_surface(path, pixel_size=1e-6)


def test_tiff_whose_strip_runs_past_the_end_is_refused(tmp_path):
    data = huge_tiff(300)
    with pytest.raises(SurfaceFormatError, match="past the end"):
        read_surface(write_bytes(tmp_path, "short.tif", data[:-50]), pixel_size=1e-6)


def test_missing_file_and_device_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_surface(tmp_path / "absent.x3p")
    with pytest.raises(SurfaceFormatError, match="not a regular file"):
        read_surface("/dev/zero")
    with pytest.raises(SurfaceFormatError, match="not a regular file"):
        read_surface(tmp_path)


def mutations(seed_files: dict[str, bytes], count: int, seed: int):
    """Deterministic damaged copies: flipped bytes, truncations, magic integers, cut-outs."""
    rng = np.random.default_rng(seed)
    names = sorted(seed_files)
    for _ in range(count):
        data = bytearray(seed_files[names[rng.integers(len(names))]])
        kind = rng.integers(4)
        if kind == 0:
            for _ in range(rng.integers(1, 9)):
                data[rng.integers(len(data))] = rng.integers(256)
        elif kind == 1:
            data = data[: rng.integers(len(data))]
        elif kind == 2:
            at = rng.integers(len(data) - 4)
            data[at: at + 4] = [b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x00\x00N "][rng.integers(3)]
        else:
            at = rng.integers(len(data))
            del data[at: at + rng.integers(1, 50)]
        yield bytes(data)


def test_damaged_files_are_read_or_refused_never_crash(tmp_path, x3p_samples_dir):
    """Mutation fuzzing: every damaged file either reads or raises SurfaceFormatError.

    Found on first run: zlib.error escaping from damaged deflate streams inside X3P archives.
    """
    pixels = np.random.default_rng(0).integers(0, 256, size=(32, 32)).astype(np.uint8)
    seed_files = {ext: cv2.imencode(ext, pixels)[1].tobytes() for ext in (".png", ".tif", ".jpg")}
    heights = np.random.default_rng(1).normal(size=(20, 20))
    seed_files[".x3p"] = write_x3p(Surface(heights, 1e-6), tmp_path / "seed.x3p").read_bytes()
    for path in x3p_samples_dir.glob("*.x3p"):
        seed_files[path.name] = path.read_bytes()
    outcomes = {"read": 0, "refused": 0}
    for index, data in enumerate(mutations(seed_files, 600, seed=2)):
        path = write_bytes(tmp_path, f"damaged{index % 10}", data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SurfaceWarning)  # lossy JPEG, ignored CY axis
                read_surface(path, pixel_size=1e-6)
            outcomes["read"] += 1
        except SurfaceFormatError as error:
            assert str(path) in str(error)
            outcomes["refused"] += 1
    assert outcomes["refused"] > 300 and outcomes["read"] > 10


def test_file_size_limit_is_checked_first(tmp_path):
    path = write_bytes(tmp_path, "big.png", bytes(2_000))
    with pytest.raises(SurfaceTooLargeError, match="max_bytes"):
        read_surface(path, max_bytes=1_000)


# ---------------------------------------------------------------- pixel floods


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bombs")
    blob = np.zeros(16, "<f8").tobytes()
    files = {
        "png": huge_png(), "tiff": huge_tiff(), "jpeg": huge_jpeg(),
        "x3p": x3p_bytes(main_xml(HUGE, HUGE), {"bindata/data.bin": blob}),
    }
    return {kind: write_bytes(folder, f"bomb.{kind}", data) for kind, data in files.items()}


@pytest.mark.parametrize("kind", ["png", "tiff", "jpeg", "x3p"])
def test_huge_declared_image_is_refused_fast_and_small(bombs, kind):
    path = bombs[kind]
    assert path.stat().st_size < 2_000_000  # the bomb is small on disk
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(SurfaceTooLargeError, match=r"20000 x 20000"):
        read_surface(path, pixel_size=1e-6)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 0.5
    assert peak < 16 * 2**20  # requirement: under 100 MiB; no buffer the size of the limit either


def test_crafted_bombs_are_genuine_images_below_the_limit(tmp_path):
    """The crafting code makes decodable files: a small 'bomb' decodes to the declared shape."""
    for name, data in (("s.png", huge_png(300)), ("s.tif", huge_tiff(300))):
        surface = read_surface(write_bytes(tmp_path, name, data), pixel_size=1e-6)
        assert surface.shape == (300, 300) and float(np.nanmax(surface.heights)) == 0.0


# ---------------------------------------------------------------- describe and purity


def test_describe_summarises(surface):
    summary = describe(surface)
    assert summary["shape"] == (40, 50)
    assert summary["pixel_size_um"] == pytest.approx(3.125)
    assert summary["valid_fraction"] == pytest.approx(37 / 40)
    assert summary["height_min"] == pytest.approx(np.nanmin(surface.heights))
    assert summary["height_range_um"] == pytest.approx(
        (np.nanmax(surface.heights) - np.nanmin(surface.heights)) * 1e6)
    assert summary["kind"] == "topography" and summary["processed"] is False
    assert summary["metadata"]["creator"] == "Tester"


def test_library_modules_do_not_import_web_stack():
    code = ("import sys, ballistics.io, ballistics.preprocess, ballistics.synth; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy', 'qms')]; "
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False, cwd=Path(__file__).parents[2]).returncode == 0
