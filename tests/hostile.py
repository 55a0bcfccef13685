"""A generator of hostile uploads, built without ever holding the pixels they declare.

Decompression bombs (PNG, TIFF, JPEG, X3P), truncated and bit-flipped images, polyglots (a PNG
or JPEG followed by a zip or an HTML page) and a zip-slip X3P. Each comes with a file name; the
tests send every one of them to every upload route.
"""
from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from functools import cache

import cv2
import numpy as np

HUGE = 20_000  # side of the "pixel flood" images: 400 Mpx declared


def zero_stream(total: int, *, chunk: bytes = bytes(1 << 20)) -> bytes:
    """zlib stream of `total` zero bytes, compressed chunk by chunk (never holds `total` bytes)."""
    compressor = zlib.compressobj(9)
    parts = []
    for start in range(0, total, len(chunk)):
        parts.append(compressor.compress(chunk[: min(len(chunk), total - start)]))
    parts.append(compressor.flush())
    return b"".join(parts)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


@cache
def huge_png(side: int = HUGE) -> bytes:
    """A valid 8-bit grey PNG of side x side zeros (filter byte 0 per row): a pixel-flood bomb."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zero_stream(side * (side + 1))) + png_chunk(b"IEND", b""))


@cache
def huge_tiff(side: int = HUGE) -> bytes:
    """A little-endian deflate TIFF, one strip of side x side zero bytes."""
    strip = zero_stream(side * side)
    entries = [(256, 4, 1, side), (257, 4, 1, side), (258, 3, 1, 8), (259, 3, 1, 8), (262, 3, 1, 1),
               (273, 4, 1, 0), (277, 3, 1, 1), (278, 4, 1, side), (279, 4, 1, len(strip))]
    ifd_size = 2 + 12 * len(entries) + 4
    strip_offset = 8 + ifd_size
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        value = strip_offset if tag == 273 else value
        packed = struct.pack("<HI", value, 0)[:4] if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + strip


def huge_jpeg(side: int = HUGE) -> bytes:
    """A real 16 x 16 JPEG whose frame header (SOF0) is patched to declare side x side."""
    data = bytearray(good_jpeg(16))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, side, side)
    return bytes(data)


def good_png(side: int = 64) -> bytes:
    """A small, genuine grey PNG with texture (so that damage to its data shows)."""
    rng = np.random.default_rng(7)
    _ok, encoded = cv2.imencode(".png", rng.integers(0, 255, (side, side), dtype=np.uint8))
    return encoded.tobytes()


def good_jpeg(side: int = 64) -> bytes:
    rng = np.random.default_rng(8)
    _ok, encoded = cv2.imencode(".jpg", rng.integers(0, 255, (side, side), dtype=np.uint8))
    return encoded.tobytes()


def good_tiff(side: int = 64) -> bytes:
    rng = np.random.default_rng(9)
    _ok, encoded = cv2.imencode(".tif", rng.integers(0, 255, (side, side), dtype=np.uint8))
    return encoded.tobytes()


def flipped_png() -> bytes:
    """A PNG with one bit changed inside its compressed image data (its CRC no longer matches)."""
    data = bytearray(good_png())
    idat = data.find(b"IDAT")
    data[idat + 4 + 20] ^= 0x10
    return bytes(data)


def x3p(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)
    return buffer.getvalue()


def x3p_main_xml(size_x: int, size_y: int) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<p:ISO5436_2 xmlns:p="http://www.opengps.eu/2008/ISO5436_2">
 <Record1><Revision>ISO5436 - 2000</Revision><FeatureType>SUR</FeatureType><Axes>
  <CX><AxisType>I</AxisType><DataType>D</DataType><Increment>6.25e-06</Increment><Offset>0</Offset></CX>
  <CY><AxisType>I</AxisType><DataType>D</DataType><Increment>6.25e-06</Increment><Offset>0</Offset></CY>
  <CZ><AxisType>A</AxisType><DataType>D</DataType></CZ></Axes></Record1>
 <Record3><MatrixDimension><SizeX>{size_x}</SizeX><SizeY>{size_y}</SizeY><SizeZ>1</SizeZ></MatrixDimension>
  <DataLink><PointDataLink>bindata/data.bin</PointDataLink></DataLink></Record3>
 <Record4><ChecksumFile>md5checksum.hex</ChecksumFile></Record4>
</p:ISO5436_2>""".encode()


def good_x3p(side: int = 32) -> bytes:
    xml = x3p_main_xml(side, side)
    heights = np.random.default_rng(3).normal(0, 1e-6, side * side).astype("<f8").tobytes()
    return x3p({"main.xml": xml, "md5checksum.hex": hashlib.md5(xml).hexdigest().encode() + b" *main.xml\n",
                "bindata/data.bin": heights})


def zip_slip_x3p() -> bytes:
    """A readable X3P that also carries a member meant to land outside the folder it is unpacked in."""
    buffer = io.BytesIO(good_x3p())
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("../../../../tmp/evil.sh", b"#!/bin/sh\necho owned\n")
    return buffer.getvalue()


def bomb_x3p() -> bytes:
    """An X3P whose point data inflates to 3.2 GB (a 20,000 x 20,000 float64 grid of zeros)."""
    xml = x3p_main_xml(HUGE, HUGE)
    return x3p({"main.xml": xml, "md5checksum.hex": hashlib.md5(xml).hexdigest().encode() + b" *main.xml\n",
                "bindata/data.bin": np.zeros(16, "<f8").tobytes()})


IMAGE_LABELS = ("png bomb", "tiff bomb", "jpeg bomb", "truncated png", "truncated jpeg", "truncated tiff",
                "bit-flipped png", "png + zip polyglot", "png + html polyglot", "not an image")
SCAN_LABELS = (*IMAGE_LABELS, "zip-slip x3p", "x3p bomb")


@cache
def hostile_images() -> dict[str, tuple[str, bytes]]:
    """Every hostile image, by a short label: (file name, bytes)."""
    png, jpeg, tiff = good_png(), good_jpeg(), good_tiff()
    return {
        "png bomb": ("bomb.png", huge_png()),
        "tiff bomb": ("bomb.tif", huge_tiff()),
        "jpeg bomb": ("bomb.jpg", huge_jpeg()),
        "truncated png": ("cut.png", png[: len(png) // 2]),
        "truncated jpeg": ("cut.jpg", jpeg[: len(jpeg) // 2]),
        "truncated tiff": ("cut.tif", tiff[: len(tiff) // 2]),
        "bit-flipped png": ("flipped.png", flipped_png()),
        "png + zip polyglot": ("poly.png", png + x3p({"payload.txt": b"hidden"})),
        "png + html polyglot": ("poly2.png", png + b"<html><script>alert(1)</script></html>"),
        "not an image": ("notes.png", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"),
    }


@cache
def hostile_scans() -> dict[str, tuple[str, bytes]]:
    """Every hostile ballistic scan: the images above plus hostile X3P archives."""
    return {**hostile_images(), "zip-slip x3p": ("slip.x3p", zip_slip_x3p()), "x3p bomb": ("bomb.x3p", bomb_x3p())}
