"""Issue 17 acceptance 5 in a browser, on `qms demo`: the review page zooms into the overlay at the scan's
full resolution (query, candidate and overlay together), and the cell map's count equals the score's."""
from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.steps import expect as _expect, log_in as _log_in

pytestmark = pytest.mark.e2e

FADUL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fadul"  # the demo's scans
TEST_FIRE_SCAN = "2-2"  # the demo's searched test fire, exhibit 1-TF1 (qms/comparisons/demo.py)


def _scan_columns() -> int:
    """Columns of the test fire's processed surface, computed here as the app processes an upload."""
    from ballistics.io import read_surface
    from qms.comparisons.unit_index import prepared_for_index

    surface, _ = prepared_for_index(read_surface(FADUL / f"Fadul {TEST_FIRE_SCAN}.x3p"))
    return int(surface.shape[1])


def _scale(image) -> float:  # type: ignore[no-untyped-def]
    """How much larger the image shows than its frame (Panzoom zooms with a CSS transform)."""
    return float(image.evaluate("e => e.getBoundingClientRect().width / e.parentElement.clientWidth"))


def test_the_review_zooms_into_the_full_resolution_overlay_and_the_cell_map_counts_as_the_score(
        browser_session) -> None:  # type: ignore[no-untyped-def]
    if not FADUL.is_dir():
        pytest.skip(f"the demo's searched test fire comes from the Fadul scans, not at {FADUL}")
    expect = _expect()
    page, accounts = browser_session.page, browser_session.server.accounts
    _log_in(page, "examiner", accounts["examiner"])
    page.goto("comparisons")
    page.locator("#entries tr", has_text="1-TF1").filter(has_text="FC-2026/0147").get_by_role("link").click()
    page.locator("#candidates").wait_for(timeout=240_000)  # the demo's worker runs the job
    expect(page.locator("#candidates tbody tr").first).to_contain_text("FC-2026/0147 / 2")  # casing 2 first
    page.locator("#candidates a[data-candidate-link]").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Rank 1")
    page.wait_for_load_state("load")

    overlay, query = page.locator("#zoom-overlay"), page.locator("#zoom-query")
    columns = _scan_columns()
    for image in (overlay, query, page.locator("#zoom-candidate"), page.locator("#zoom-cellmap")):
        assert image.evaluate("e => e.complete && e.naturalWidth") == columns  # full resolution, not a figure
    assert _scale(overlay) == pytest.approx(1.0, abs=0.02)

    box = overlay.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] / 2)  # on the breech face
    for _ in range(6):
        page.mouse.wheel(0, -200)
    page.wait_for_timeout(300)
    zoomed = _scale(overlay)
    assert zoomed > 2.0, zoomed
    transform = overlay.evaluate("e => e.style.transform")
    for other in (query, page.locator("#zoom-candidate")):  # the same spot of the same grid, in step
        assert other.evaluate("e => e.style.transform") == transform
    browser_session.shot("review-zoomed")
    page.locator("#zoom-in").click()
    page.wait_for_timeout(300)
    assert _scale(overlay) > zoomed and _scale(query) == pytest.approx(_scale(overlay), rel=0.02)
    page.locator("#zoom-reset").click()
    page.wait_for_timeout(300)
    assert _scale(overlay) == pytest.approx(1.0, abs=0.02)

    score_high = page.locator("#score-high-cmc").inner_text().split()[0]
    expect(page.locator("#cellmap-high")).to_have_text(score_high)
    expect(page.locator(".cellmap-legend")).to_contain_text("Not compared")
    browser_session.assert_clean()
