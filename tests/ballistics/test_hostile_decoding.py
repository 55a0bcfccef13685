"""Every hostile file of the generator is refused by the library's decoders, quickly and small."""
from __future__ import annotations

import pytest

from ballistics.io import SurfaceFormatError, decode_image, read_surface_bytes
from tests import hostile

@pytest.mark.parametrize("label", hostile.IMAGE_LABELS)
def test_decode_image_refuses_every_hostile_image_naming_the_upload(label):
    filename, data = hostile.hostile_images()[label]
    with pytest.raises(SurfaceFormatError) as refused:  # SurfaceTooLargeError is one too
        decode_image(data, name=filename)
    assert str(refused.value).startswith(filename)


@pytest.mark.parametrize("label", hostile.SCAN_LABELS)
def test_read_surface_bytes_refuses_every_hostile_scan(label):
    filename, data = hostile.hostile_scans()[label]
    with pytest.raises(SurfaceFormatError) as refused:
        read_surface_bytes(data, name=filename, pixel_size=1e-6)
    assert str(refused.value).startswith(filename) and "/tmp" not in str(refused.value)


def test_the_labels_name_every_generated_file():
    assert set(hostile.SCAN_LABELS) == set(hostile.hostile_scans())


def test_the_good_originals_of_the_damaged_files_decode():
    """The damage, not the crafting, is what is refused."""
    for data in (hostile.good_png(), hostile.good_jpeg(), hostile.good_tiff()):
        assert decode_image(data, name="fine").shape == (64, 64)
    assert read_surface_bytes(hostile.good_x3p(), name="fine.x3p").shape == (32, 32)


def test_a_zip_slip_member_is_named_in_the_refusal():
    with pytest.raises(SurfaceFormatError, match="outside its folder"):
        read_surface_bytes(hostile.zip_slip_x3p(), name="slip.x3p")
