"""Benchmark: cost of refusing pixel-flood files, and of reading a real X3P.

Run from the project root::

    python bench/bench_io_limits.py            # all figures
    python bench/bench_io_limits.py --repeat 50

For each of PNG, TIFF, JPEG and X3P it crafts a small file declaring 20000 x 20000 pixels (PNG
and TIFF hold a genuine deflate stream of 400 MB of zeros, the X3P a genuine 3.2 GB float64
zero stream; no pixel array is ever allocated to make them), then refuses it with
`ballistics.io.read_surface` in a fresh subprocess and prints the wall time, the tracemalloc peak
and the growth of the process's peak RSS (ru_maxrss) during the call. Then it prints the median
read time of a Fadul X3P from ../shared/data (when present).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIDE = 20_000
CHUNK = bytes(1 << 20)


def _zero_stream(total: int, level: int = 9) -> bytes:
    compressor = zlib.compressobj(level)
    parts = [compressor.compress(CHUNK[: min(len(CHUNK), total - start)]) for start in range(0, total, len(CHUNK))]
    return b"".join(parts) + compressor.flush()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def craft_png() -> bytes:
    header = struct.pack(">IIBBBBB", SIDE, SIDE, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", _zero_stream(SIDE * (SIDE + 1))) + _png_chunk(b"IEND", b""))


def craft_tiff() -> bytes:
    strip = _zero_stream(SIDE * SIDE)
    entries = [(256, 4, SIDE), (257, 4, SIDE), (258, 3, 8), (259, 3, 8), (262, 3, 1),
               (273, 4, 0), (277, 3, 1), (278, 4, SIDE), (279, 4, len(strip))]
    offset = 8 + 2 + 12 * len(entries) + 4
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        value = offset if tag == 273 else value
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, 1) + packed
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + strip


def craft_jpeg() -> bytes:
    import cv2
    import numpy as np

    _, encoded = cv2.imencode(".jpg", np.full((16, 16), 128, np.uint8))
    data = bytearray(encoded.tobytes())
    struct.pack_into(">HH", data, data.find(b"\xff\xc0") + 5, SIDE, SIDE)
    return bytes(data)


def craft_x3p() -> bytes:
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<p:ISO5436_2 xmlns:p="http://www.opengps.eu/2008/ISO5436_2"><Record1><Revision>ISO5436 - 2000</Revision>
<FeatureType>SUR</FeatureType><Axes><CX><AxisType>I</AxisType><DataType>D</DataType><Increment>6.25e-06</Increment>
<Offset>0</Offset></CX><CY><AxisType>I</AxisType><DataType>D</DataType><Increment>6.25e-06</Increment>
<Offset>0</Offset></CY><CZ><AxisType>A</AxisType><DataType>D</DataType></CZ></Axes></Record1>
<Record3><MatrixDimension><SizeX>{SIDE}</SizeX><SizeY>{SIDE}</SizeY><SizeZ>1</SizeZ></MatrixDimension>
<DataLink><PointDataLink>bindata/data.bin</PointDataLink></DataLink></Record3>
<Record4><ChecksumFile>md5checksum.hex</ChecksumFile></Record4></p:ISO5436_2>""".encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("main.xml", xml)
        with archive.open("bindata/data.bin", "w", force_zip64=True) as member:
            for _ in range(SIDE * SIDE * 8 // len(CHUNK)):
                member.write(CHUNK)
    return buffer.getvalue()


def refuse_in_this_process(path: str) -> dict[str, float | str]:
    from ballistics.io import SurfaceTooLargeError, read_surface

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.perf_counter()
    try:
        read_surface(path, pixel_size=1e-6)
        outcome = "ACCEPTED (limit not enforced!)"
    except SurfaceTooLargeError as error:
        outcome = f"refused: {str(error).split(': ', 1)[1][:60]}"
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": elapsed, "tracemalloc_peak_mib": peak / 2**20,
            "maxrss_growth_mib": (after - before) / 1024, "outcome": outcome}


def bench_refusals(folder: Path) -> None:
    print(f"Refusing {SIDE} x {SIDE} files (limit 50 Mpx), each in a fresh process:")
    print(f"{'type':5} {'file size':>12} {'craft s':>8} {'refuse ms':>10} {'tracemalloc':>12} "
          f"{'RSS growth':>11}  outcome")
    for kind, craft in (("png", craft_png), ("tiff", craft_tiff), ("jpeg", craft_jpeg), ("x3p", craft_x3p)):
        started = time.perf_counter()
        data = craft()
        crafted = time.perf_counter() - started
        path = folder / f"bomb.{kind}"
        path.write_bytes(data)
        result = subprocess.run([sys.executable, __file__, "--refuse", str(path)], capture_output=True,
                                text=True, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"{kind:5} {len(data):>12,} {crafted:>8.1f} {figures['seconds'] * 1e3:>10.2f} "
              f"{figures['tracemalloc_peak_mib']:>9.2f} MiB {figures['maxrss_growth_mib']:>7.1f} MiB  "
              f"{figures['outcome']}")


def bench_fadul(repeat: int) -> None:
    sys.path.insert(0, str(ROOT))
    from ballistics.io import read_surface

    data = Path(os.environ.get("QMS_SHARED_DATA", ROOT.parent / "shared" / "data")) / "fadul" / "Fadul 1-1.x3p"
    if not data.exists():
        print(f"Fadul read: skipped, {data} not found")
        return
    read_surface(data)  # warm-up (imports, page cache)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        surface = read_surface(data)
        times.append(time.perf_counter() - started)
    print(f"Fadul read: {data.name} {surface.shape} float64, {data.stat().st_size:,} bytes: median "
          f"{statistics.median(times) * 1e3:.1f} ms over {repeat} reads (min {min(times) * 1e3:.1f}, "
          f"max {max(times) * 1e3:.1f}); MD5 of point data and main.xml verified each time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20, help="reads of the Fadul file (median reported)")
    parser.add_argument("--refuse", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.refuse:
        print(json.dumps(refuse_in_this_process(arguments.refuse)))
        return
    with tempfile.TemporaryDirectory() as folder:
        bench_refusals(Path(folder))
    bench_fadul(arguments.repeat)


if __name__ == "__main__":
    main()
