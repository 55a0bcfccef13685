"""The review images an examiner trusts: full resolution, the overlay registered, the cell map counting
what the score counts, cells that were not compared shown as such."""
from __future__ import annotations

import io
import re
from dataclasses import replace

import cv2
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from ballistics.cmc import compare
from ballistics.registration import Alignment, warp
from ballistics.review_images import HATCH, NOT_COMPARED, cell_map, cell_states, overlay_rgba
from ballistics.surface import Surface
from qms.comparisons import explain, jobs, services
from qms.extensions import db


def _disc_surface(shape: tuple[int, int] = (192, 192), seed: int = 3) -> Surface:
    """Band-limited texture on an off-centre disc, so that a rotation moves its rim."""
    z = gaussian_filter(np.random.default_rng(seed).normal(size=shape), 1.5)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    disc = (yy - shape[0] * 0.45) ** 2 + (xx - shape[1] * 0.55) ** 2 <= (shape[0] * 0.42) ** 2
    return Surface(np.where(disc, z, np.nan), 6.25e-6, processed=True)


def _decode(data: bytes) -> np.ndarray:
    bgra = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA)


def _rim_agreement(rgba: np.ndarray) -> tuple[float, float]:
    """Correlation of the magenta (query) and green (candidate) channels where both were measured, and
    the share of the covered area that only one of them covers (the coloured fringe)."""
    red, green, alpha = rgba[..., 0].astype(float), rgba[..., 1].astype(float), rgba[..., 3] > 0
    both = alpha & (red > 0) & (green > 0)
    one = alpha & ((red > 0) != (green > 0))
    return float(np.corrcoef(red[both], green[both])[0, 1]), float(one.sum() / alpha.sum())


def test_the_overlay_of_a_surface_with_itself_turned_shows_one_surface_with_coincident_rims() -> None:
    a = _disc_surface()
    turned = warp(a, Alignment(35.0, 9.0, -6.0, 1.0, 0), a.shape)
    result = compare(a, turned)
    registered = overlay_rgba(a, turned, result.alignment)
    assert registered.shape == a.shape + (4,)  # the scan's own pixel grid, not a reduced figure
    correlation, fringe = _rim_agreement(registered)
    assert correlation > 0.9 and fringe < 0.08
    # Without the registration the same two surfaces disagree: the check can fail.
    unregistered, unregistered_fringe = _rim_agreement(overlay_rgba(a, turned, Alignment(0, 0, 0, 0, 0)))
    assert unregistered < 0.3 and unregistered_fringe > 0.15


def test_the_cell_map_colours_exactly_the_score_s_high_cmc_cells_of_both_directions() -> None:
    a = _disc_surface(seed=5)
    b = warp(a, Alignment(-20.0, 4.0, 3.0, 1.0, 0), a.shape)
    result = compare(a, b)
    png, states = cell_map(a, result)
    assert len(states.high) == result.high_cmc and len(states.possible) == result.possible_cells
    one_direction = sum(c.cmc_high for c in result.cells if c.direction == "A->B")
    assert len(states.high) >= one_direction  # the old map counted A->B only
    assert _decode(png).shape[:2] == a.shape


def test_cells_without_data_or_without_overlap_are_not_compared_never_minus_one() -> None:
    a = _disc_surface(seed=8)
    result = compare(a, warp(a, Alignment(10.0, 0, 0, 1.0, 0), a.shape))
    first = result.cells[0]
    position = (first.row, first.col)
    # A cell that found no admissible placement carries the -1 placeholder: it was not compared.
    unplaced = replace(first, ccf=-1.0, cmc_high=False, cmc_original=False)
    others = tuple(c for c in result.cells if (c.row, c.col) != position)
    placeholder = replace(result, cells=(unplaced,) + others)
    states = cell_states(placeholder)
    assert position in states.no_overlap and position not in states.best_ccf
    assert all(value > -1.0 for value in states.best_ccf.values())
    # The disc leaves the grid's corners without data: they are not compared, and drawn hatched.
    assert (0, 0) in states.not_compared
    png, _ = cell_map(a, placeholder)
    image = _decode(png)
    rows, cols = placeholder.params.grid
    ch, cw = a.shape[0] // rows, a.shape[1] // cols
    corner = image[1:ch - 1, 1:cw - 1, :3].reshape(-1, 3)
    assert (corner == HATCH).all(axis=1).mean() > 0.1  # the stripes
    assert (corner == NOT_COMPARED).all(axis=1).mean() > 0.5  # on light grey: not a dark, low correlation


def _reviewed(client, bench, scans):  # type: ignore[no-untyped-def]
    for casing, name in ((0, "F0000-S00"), (1, "F0001-S00"), (2, "F0000-S01")):
        assert client.post("/comparisons/entries/new", data={
            "item_id": str(bench.casings[casing].id), "device_id": str(bench.device.id), "settings": "20x",
            "scan": (io.BytesIO(scans[name]), f"{name}.x3p")}, content_type="multipart/form-data").status_code == 302
    jobs.run_queued()
    db.session.expire_all()
    query = services.entries()[0]
    return services.candidates_of(services.latest_job(query))[0]


def test_the_review_page_states_the_cell_map_count_equal_to_the_score_and_serves_full_size_images(
        bench, scans, login_as) -> None:
    examiner = login_as(bench.examiner)
    mate = _reviewed(examiner, bench, scans)
    page = examiner.get(f"/comparisons/candidates/{mate.id}").get_data(as_text=True)
    shown = re.search(r'id="cellmap-high">(\d+)<', page)
    assert shown is not None and int(shown.group(1)) == mate.high_cmc
    assert re.search(rf'id="score-high-cmc">{mate.high_cmc}\b', page)
    assert "Not compared" in page and "-1.00" not in page
    assert "vendor/panzoom/panzoom.min.js" in page and 'id="zoom-overlay"' in page
    for kind in ("query_view", "aligned_view", "overlay", "cellmap"):
        image = _decode(examiner.get(f"/comparisons/candidates/{mate.id}/{kind}.png").data)
        assert image.shape[:2] == (128, 128), kind  # the synthetic scans' grid: no figure, no reduction


@pytest.mark.parametrize("path", ["vendor/panzoom/panzoom.min.js", "vendor/panzoom/MIT-License.txt"])
def test_the_zoom_viewer_is_served_from_the_app_itself(client, path) -> None:
    assert client.get(f"/static/{path}").status_code == 200


def test_images_made_before_full_resolution_are_shown_as_they_were_with_a_notice(app, bench, scans, login_as) -> None:
    app.config["REVIEW_IMAGES_TOP"] = 0  # the job makes no images: this test records them as version 1 did
    examiner = login_as(bench.examiner)
    mate = _reviewed(examiner, bench, scans)
    query = mate.job.entry
    made = explain.render(query, mate.index_entry_id)
    old_parameters = {key: made.parameters[key] for key in ("angle_deg", "dx", "dy", "score", "pixel_size_um")}
    explain.record(mate, query, explain.Rendered(made.digests, old_parameters), {})
    db.session.commit()
    page = examiner.get(f"/comparisons/candidates/{mate.id}").get_data(as_text=True)
    assert 'id="images-old"' in page and 'id="zoom-views"' not in page and 'id="cellmap-high"' not in page
    assert 'id="overlay-slider"' in page
    for kind in ("query_view", "aligned_view", "overlay", "cellmap"):
        assert examiner.get(f"/comparisons/candidates/{mate.id}/{kind}.png").status_code == 200
