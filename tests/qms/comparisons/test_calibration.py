"""A unit calibration fitted on a known set: later searches report a likelihood ratio and name the set."""
from __future__ import annotations

import csv
import itertools
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from ballistics.index import open_index
from qms.comparisons import jobs, services, unit_index
from ballistics.lr_validation import cross_validate
from ballistics.scoring import fit_calibration
from qms.comparisons.calibration import CalibrationSet, calibration_of, describe, fit_unit_calibration, install
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
    # Three firearms are too few to leave a pair's firearms out and still train: the set says so.
    assert fitted.cross_validation is None and "too few firearms" in fitted.cross_validation_refused
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


def _constructed_calibration(unit_id: int) -> None:
    """A calibration and its cross-validated figures from normal scores of 10 firearms x 4 shots."""
    scans = [(f"F{f}", k) for f in range(10) for k in range(4)]
    pairs = list(itertools.combinations(scans, 2))
    labels = np.array([p[0][0] == p[1][0] for p in pairs])
    scores = np.where(labels, np.random.default_rng(3).normal(3, 1, labels.size),
                      np.random.default_rng(4).normal(0, 1, labels.size))
    found = cross_validate(scores, labels, [p[0][0] for p in pairs], [p[1][0] for p in pairs], resamples=50)
    fitted = CalibrationSet(name="constructed scores", scans=40, same_source_pairs=int(labels.sum()),
                            different_source_pairs=int((~labels).sum()), cllr=0.2, fitted_at="2026-12-07T10:00:00",
                            cross_validation=found.summary())
    install(unit_index.open_unit_index(unit_id), fit_calibration(scores, labels), fitted)


def test_the_unit_calibration_page_shows_bounds_and_cross_validated_figures(bench, login_as) -> None:
    _constructed_calibration(bench.unit.id)
    page = login_as(bench.examiner).get("/comparisons/calibration")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "constructed scores" in text and 'id="cross-validation"' in text
    summary = describe(bench.unit.id, "topography").cross_validation
    assert f"{summary['cllr']:.4f}" in text and f"{summary['cllr_interval'][1]:.4f}" in text
    assert f"of {summary['n_different']} (" in text  # the misleading-evidence row names its base
    # The fitting time, stored as ISO text in the index, is shown as every other time: local, with its offset.
    assert '<time datetime="2026-12-07T10:00:00Z">' in text and "(UTC+01:00)" in text
    assert "2026-12-07 10:00" not in text


def test_the_page_says_when_there_is_no_index_and_reading_it_creates_none(bench, login_as) -> None:
    page = login_as(bench.examiner).get("/comparisons/calibration").get_data(as_text=True)
    assert 'id="no-index"' in page
    assert not unit_index.unit_index_path(bench.unit.id).exists()


def test_a_retired_step_calibration_is_set_aside_and_the_page_says_to_refit(bench, login_as) -> None:
    index = unit_index.open_unit_index(bench.unit.id)
    manifest = json.loads((index.path / "index.json").read_text())
    retired = {"knots": [0.0, 1.0], "log10_lrs": [-1.81, 2.85], "n_same": 63, "n_different": 717,
               "threshold": 0.5, "method": "pav-laplace"}
    (index.path / "index.json").write_text(json.dumps({**manifest, "calibration": retired}))
    assert calibration_of(bench.unit.id, "topography") == ("", None)  # searches give no LR, not a step
    page = login_as(bench.examiner).get("/comparisons/calibration").get_data(as_text=True)
    assert 'id="retired"' in page and "qms calibrate" in page
