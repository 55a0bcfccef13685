"""The `ballistics` command line: happy paths and bad input (one clear line, non-zero exit, no traceback)."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from ballistics import cli
from ballistics.io import read_surface, write_x3p
from ballistics.synth import firearm_signature, shot

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scans(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("scans")
    gun = firearm_signature(11, shape=(128, 128))
    a, b = folder / "a.x3p", folder / "b.x3p"
    write_x3p(shot(gun, seed=1, noise=0.5), a)
    write_x3p(shot(gun, seed=2, noise=0.5, rotation_deg=60), b)
    return a, b


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_info_prints_the_description(scans, capsys):
    code, out, _ = run(["info", str(scans[0]), "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["shape"] == [128, 128] and info["processed"] is True


def test_compare_prints_json_and_writes_explanations(scans, tmp_path, capsys):
    code, out, _ = run(["compare", str(scans[0]), str(scans[1]), "--json", "--out", str(tmp_path)], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["high_cmc"] >= 1 and abs((doc["alignment"]["angle_deg"] + 60 + 180) % 360 - 180) <= 2
    for name in ("overlay.png", "cells_a.png", "cells_b.png", "rotation.png", "result.json"):
        assert (tmp_path / name).read_bytes()[:4] in (b"\x89PNG", b"{\n  ")
    assert json.loads((tmp_path / "result.json").read_text())["score"] == doc["score"]


def test_compare_with_a_calibration_reports_the_lr(scans, tmp_path, capsys):
    from ballistics.scoring import fit_calibration

    calibration = tmp_path / "calibration.json"
    calibration.write_text(fit_calibration([0.0, 0.1, 0.2, 0.8, 0.9, 1.0], [0, 0, 0, 1, 1, 1]).to_json())
    code, out, _ = run(["compare", str(scans[0]), str(scans[1]), "--calibration", str(calibration)], capsys)
    assert code == 0 and "log10 LR" in out and "support" in out


def test_compare_refuses_a_retired_step_calibration_in_one_line(scans, tmp_path, capsys):
    calibration = tmp_path / "old.json"
    calibration.write_text('{"knots": [0, 1], "log10_lrs": [-1.81, 2.85], "n_same": 63, "n_different": 717, '
                           '"threshold": 0.5, "method": "pav-laplace"}')
    code, _, err = run(["compare", str(scans[0]), str(scans[1]), "--calibration", str(calibration)], capsys)
    assert code == 1 and "retired method 'pav-laplace'" in err and "refit" in err and err.count("\n") == 1


def test_convert_round_trips_through_an_image(scans, tmp_path, capsys):
    png = tmp_path / "a.png"
    code, out, _ = run(["convert", str(scans[0]), str(png)], capsys)
    assert code == 0 and png.exists()
    back = tmp_path / "back.x3p"
    code, _, _ = run(["convert", str(png), str(back)], capsys)
    assert code == 0
    original, again = read_surface(scans[0]), read_surface(back)
    assert again.shape == (128, 128) and again.pixel_size == original.pixel_size
    assert again.processed == original.processed
    # Heights in metres again (they once came back as 0-1 m grey levels), to 1/65535 of the range.
    span = np.nanmax(original.heights) - np.nanmin(original.heights)
    np.testing.assert_allclose(again.heights, original.heights, atol=span / 65535, equal_nan=True)


def test_a_photograph_is_not_converted_into_a_topography(tmp_path, capsys):
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), np.full((16, 16), 120, np.uint8))
    code, _, err = run(["convert", str(photo), str(tmp_path / "photo.x3p"), "--pixel-size-um", "3"], capsys)
    assert code == 1 and "is an image (grey levels, no height scale), not a topography" in err
    assert not (tmp_path / "photo.x3p").exists()


def test_evaluate_writes_a_report(scans, tmp_path, capsys):
    manifest = tmp_path / "manifest.csv"
    gun = firearm_signature(12, shape=(128, 128))
    rows = [("a.x3p", "g1"), ("b.x3p", "g1")]
    write_x3p(shot(gun, seed=3, noise=0.5), tmp_path / "c.x3p")
    rows.append(("c.x3p", "g2"))
    for name in ("a.x3p", "b.x3p"):
        (tmp_path / name).write_bytes((scans[0].parent / name).read_bytes())
    with open(manifest, "w", newline="") as handle:
        csv.writer(handle).writerows([("file", "firearm"), *rows])
    code, out, _ = run(["evaluate", str(manifest), "--out", str(tmp_path / "r"), "--workers", "1",
                        "--rotate-random", "1", "--quiet"], capsys)
    assert code == 0 and "AUC" in out
    assert "no cross-validation: too few firearms" in out  # two firearms: none left to train on
    assert (tmp_path / "r" / "report.html").exists()


@pytest.mark.parametrize("content", [b"", b"garbage, not a scan", b"PK\x03\x04broken zip"])
def test_bad_files_give_one_clear_line(tmp_path, scans, capsys, content):
    bad = tmp_path / "bad.x3p"
    bad.write_bytes(content)
    for argv in (["info", str(bad)], ["compare", str(bad), str(scans[0])], ["convert", str(bad), str(tmp_path / "o.png")]):
        code, _, err = run(argv, capsys)
        assert code != 0
        assert "Traceback" not in err
        assert err.startswith(f"ballistics {argv[0]}: error:") and err.count("\n") == 1


def test_missing_file_and_bad_options(tmp_path, scans, capsys):
    code, _, err = run(["compare", str(tmp_path / "nope.x3p"), str(scans[0])], capsys)
    assert code == 1 and "nope.x3p" in err
    code, _, err = run(["convert", str(scans[0]), str(tmp_path / "out.bmp")], capsys)
    assert code == 1 and ".x3p, .png" in err
    code, _, err = run(["evaluate", str(tmp_path / "none.csv"), "--out", str(tmp_path)], capsys)
    assert code == 1 and "manifest not found" in err
    code, _, err = run(["frobnicate"], capsys)
    assert code == 2 and "invalid choice" in err


def test_different_pixel_sizes_through_the_cli(scans, tmp_path, capsys):
    """No refusal: both scans are brought to the working pixel size, which the output states."""
    coarse = read_surface(scans[1])
    other = tmp_path / "coarse.x3p"
    write_x3p(coarse.with_heights(coarse.heights, pixel_size=2 * coarse.pixel_size), other)
    code, out, _ = run(["compare", str(scans[0]), str(other), "--json"], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["pixel_size_um"] == pytest.approx(6.25)
    assert doc["preparation"] == ["as given", f"resampled from {2 * coarse.pixel_size_um:.4g} um"]
    code, out, _ = run(["compare", str(scans[0]), str(other), "--resample"], capsys)  # old flag still accepted
    assert code == 0 and "compared at 6.25 um per pixel" in out


def test_extra_subcommands_can_be_registered(capsys):
    def register(subparsers):
        parser = subparsers.add_parser("hello")
        parser.set_defaults(handler=lambda args: print("hi") or 0)

    cli.add_subcommand(register)
    try:
        code, out, _ = run(["hello"], capsys)
    finally:
        cli.SUBCOMMANDS.remove(register)
    assert code == 0 and out == "hi\n"


def test_console_entry_point_has_no_traceback_on_garbage(tmp_path):
    bad = tmp_path / "x.x3p"
    bad.write_bytes(b"\x00" * 10)
    done = subprocess.run([sys.executable, "-c", "import sys; from ballistics.cli import main; sys.exit(main())",
                           "info", str(bad)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and done.stderr.startswith("ballistics info: error:")
