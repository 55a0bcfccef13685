"""A unit calibration fitted on a known set: later searches report a likelihood ratio and name the set."""
from __future__ import annotations

import csv
from concurrent.futures import ThreadPoolExecutor

import pytest

from ballistics.index import open_index
from qms.comparisons import jobs, services, unit_index
from qms.comparisons.calibration import describe, fit_unit_calibration
from qms.extensions import db


@pytest.fixture()
def known_set(tmp_path, scans):  # type: ignore[no-untyped-def]
    manifest = tmp_path / "known.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "firearm"])
        for name, data in scans.items():
            (tmp_path / f"{name}.x3p").write_bytes(data)
            writer.writerow([f"{name}.x3p", name.split("-")[0]])
    return manifest


def test_a_fitted_calibration_gives_every_later_candidate_its_lr(bench, scans, known_set) -> None:
    with ThreadPoolExecutor(2) as pool:
        fitted = fit_unit_calibration(bench.unit.id, known_set, name="synthetic known set", executor=pool)
    assert (fitted.scans, fitted.same_source_pairs, fitted.different_source_pairs) == (6, 3, 12)
    assert describe(bench.unit.id, "topography") == fitted
    assert open_index(unit_index.unit_index_path(bench.unit.id)).calibration is not None
    services.add_entry(bench.casings[0], device_id=bench.device.id, actor=bench.examiner, data=scans["F0000-S00"], filename="a.x3p")
    query = services.add_entry(bench.casings[1], device_id=bench.device.id, actor=bench.examiner, data=scans["F0000-S01"], filename="b.x3p")
    db.session.commit()
    jobs.run_queued()
    mate = services.candidates_of(services.latest_job(query))[0]
    assert mate.log10_lr is not None and mate.log10_lr > 0
    assert mate.calibration_name.startswith("synthetic known set") and mate.calibration_size == 15


def test_the_calibrate_command_shows_its_progress_and_fits_the_unit(app, bench, known_set) -> None:
    result = app.test_cli_runner().invoke(args=["calibrate", str(known_set), "--unit", bench.unit.code.lower(),
                                                "--name", "synthetic known set", "--processes", "1"])
    assert result.exit_code == 0, result.output
    assert "comparing known pairs" in result.stderr and "15/15" in result.stderr  # the progress bar, finished
    assert "Calibration of FIRE fitted on synthetic known set: 3 known matches, 12 known non-matches" in result.stdout
    assert describe(bench.unit.id, "topography").same_source_pairs == 3


def test_a_manifest_without_known_matches_is_refused(bench, scans, tmp_path) -> None:
    manifest = tmp_path / "bad.csv"
    (tmp_path / "a.x3p").write_bytes(scans["F0000-S00"])
    (tmp_path / "b.x3p").write_bytes(scans["F0001-S00"])
    manifest.write_text("file,firearm\na.x3p,A\nb.x3p,B\n")
    with pytest.raises(ValueError, match="no two scans share a firearm"):
        fit_unit_calibration(bench.unit.id, manifest, name="x", executor=ThreadPoolExecutor(1))


def test_the_calibrate_command_refuses_with_a_message(app, bench, scans, tmp_path) -> None:
    manifest = tmp_path / "one.csv"
    (tmp_path / "a.x3p").write_bytes(scans["F0000-S00"])
    manifest.write_text("file,firearm\na.x3p,A\n")
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["calibrate", str(manifest), "--unit", "NOPE", "--name", "x"])
    assert unknown.exit_code != 0 and "No unit with the code" in unknown.output
    refused = runner.invoke(args=["calibrate", str(manifest), "--unit", bench.unit.code, "--name", "x"])
    assert refused.exit_code != 0 and "fewer than two scans" in refused.output
    assert not unit_index.unit_index_path(bench.unit.id).exists()  # refused before anything was made
