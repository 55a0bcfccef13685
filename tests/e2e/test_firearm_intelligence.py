"""Issue 18, acceptance 2, in a browser on the real `qms demo` (its worker runs the correlation jobs).

An examiner registers a found pistol as a custody item and takes a test fire from it; entered in the
firearm register as found, it meets the demo's theft report of the same pistol (its serial written
with a space: read alike) as a lead, which the examiner confirms with their password. The test fire's
scan (Fadul C, slide 2) finds the demo's homicide casing (Fadul 2-1) among the two top ranks (the other:
the test fire of the homicide's pistol, Fadul 2-2, the same slide). The link
chart joins case to firearm to case (the demo's converted Zoraki, linked by its test fire to the
casings of two shootings), its "fired by" line shows on a shooting's case page, and the GraphML
download reads back with networkx with the nodes and edges the page drew.
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import networkx as nx
import pytest
from tests.e2e.steps import expect as _expect, log_in as _log_in

pytestmark = pytest.mark.e2e
FADUL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fadul"
CASE = "E2E-FOUND/1"
HOMICIDE = "FC-2026/0147"  # the demo's case whose casing 2 is Fadul 2-1
RENDERED = '#link-chart[data-state="rendered"]'


def _found_pistol_with_test_fire(page) -> None:  # type: ignore[no-untyped-def]
    expect = _expect()
    page.goto("evidence/cases/new")
    page.get_by_label("Case number").fill(CASE)
    page.get_by_label("Offence type").fill("Found firearm")
    page.get_by_role("button", name="Register case").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {CASE}")
    page.get_by_role("button", name="Register item", exact=True).click()
    page.get_by_label("Exhibit number").fill("1")
    page.get_by_label("Type").select_option(label="Firearm")
    page.get_by_label("Description").fill("Zastava M57 pistol found in a park")
    page.get_by_label("Make (firearms)").fill("Zastava")
    page.get_by_label("Model (firearms)").fill("M57")
    page.get_by_label("Serial number (firearms)").fill("A 123458")
    page.get_by_label("Calibre").fill("7.62x25")
    page.get_by_role("button", name="Register item").click()
    page.locator("table.items").get_by_role("link", name="1", exact=True).click()
    sample = page.locator("#action-sample")
    sample.locator("summary").click()
    sample.get_by_label("Exhibit number of the sub-item").fill("1-TF1")
    sample.get_by_label("Type").select_option(label="Cartridge case")
    sample.get_by_label("Description (e.g. test-fire, swab)").fill("Test fire 1 of the found Zastava")
    sample.get_by_role("button", name="Register sub-item").click()
    expect(page.get_by_role("status").first).to_be_visible()


def _register_as_found(page) -> None:  # type: ignore[no-untyped-def]
    expect = _expect()
    page.goto("firearms")
    page.locator("#add-firearm summary").click()
    form = page.locator("#firearm-form")
    form.get_by_label("Type", exact=True).select_option("pistol")
    form.get_by_label("Make", exact=True).fill("Zastava")
    form.get_by_label("Model", exact=True).fill("M57")
    form.get_by_label("Calibre").fill("7.62x25")
    form.get_by_label("Serial number").fill("A 123458")
    item = f"{CASE} / 1: Zastava M57 pistol found in a park"
    form.get_by_label("Custody item (when seized)").select_option(label=item)
    form.get_by_label("What happened").select_option("found")
    form.get_by_label("On", exact=True).fill(date.today().isoformat())
    form.get_by_label("Where").fill("City park, Skopje")
    form.get_by_role("button", name="Add to the register").click()
    expect(page.get_by_role("alert").first).to_contain_text("It matches")


def _confirm_lead_with_the_theft_report(page, password: str) -> None:  # type: ignore[no-untyped-def]
    expect = _expect()
    page.locator("#leads").get_by_role("link", name="Zastava M57 A-123458").click()
    expect(page.locator("#sides")).to_contain_text("Reported stolen")
    form = page.locator("#decision-form")
    form.get_by_label("Decision", exact=True).select_option("confirmed")
    form.get_by_label("Your password (signs the decision)").fill(password)
    form.get_by_role("button", name="Sign the decision").click()
    expect(page.locator("#decision")).to_contain_text("Confirmed")


def _test_fire_finds_the_homicide_casing(page) -> None:  # type: ignore[no-untyped-def]
    expect = _expect()
    page.goto("comparisons/entries/new")
    page.get_by_label("Custody item").select_option(label=f"{CASE} / exhibit 1-TF1: Test fire 1 of the found Zastava")
    page.get_by_label("Scan").set_input_files(str(FADUL / "Fadul C.x3p"))
    page.get_by_label("Imaging instrument").select_option(label="SCAN-01 Confocal 3D scanner (In service)")
    page.get_by_role("button", name="Upload and search").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Entry #")
    page.locator("#candidates").wait_for(timeout=240_000)
    expect(page.locator("#job-state")).to_have_text("Done", timeout=180_000)  # the review images follow the ranking
    # Slide 2 fired both the homicide's casing 2 and the test fire of the homicide's pistol: the two top ranks.
    top = [row.inner_text() for row in page.locator("#candidates tbody tr").all()[:2]]
    assert any(re.search(rf"{re.escape(HOMICIDE)} / 2\s", row) for row in top), top
    assert all(HOMICIDE in row for row in top), top


def _chart_joins_case_firearm_case(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("firearms")
    page.get_by_role("link", name="Link chart").click()
    page.wait_for_selector(RENDERED)
    # A firearm whose test fires are linked to casings of two other cases: case - item - firearm ... case.
    joined = page.evaluate("""(() => {
        const cy = window.qmsLinkChart;
        for (const firearm of cy.nodes('[type = "firearm"]')) {
            const network = firearm.component();
            const cases = network.nodes('[type = "case"]');
            if (cases.length >= 3 && network.edges('[type = "ballistic"]').length >= 2) {
                return {firearm: firearm.id(), cases: cases.map((c) => c.data('label'))};
            }
        }
        return null; })()""")
    assert joined is not None, "no firearm on the chart joins cases through ballistic links"
    assert len(set(joined["cases"])) >= 3  # where it was seized and the two shootings


@pytest.mark.skipif(not FADUL.is_dir(), reason=f"the Fadul scans are not at {FADUL}")
def test_found_firearm_lead_test_fire_search_and_link_chart(browser_session) -> None:  # type: ignore
    expect = _expect()
    page, accounts = browser_session.page, browser_session.server.accounts
    _log_in(page, "examiner", accounts["examiner"])
    _found_pistol_with_test_fire(page)
    _register_as_found(page)
    _confirm_lead_with_the_theft_report(page, accounts["examiner"])
    _test_fire_finds_the_homicide_casing(page)
    browser_session.shot("candidates")
    _chart_joins_case_firearm_case(page)
    browser_session.shot("chart")

    drawn = page.evaluate("window.qmsLinkChart.nodes().map((node) => node.id())")
    edges = page.evaluate("window.qmsLinkChart.edges().map((edge) => edge.id())")
    with page.expect_download() as graphml:
        page.locator("#export-graphml").click()
    graph = nx.read_graphml(graphml.value.path(), force_multigraph=True)
    assert set(graph.nodes) == set(drawn)
    assert {key for _u, _v, key in graph.edges(keys=True)} == set(edges)
    types = nx.get_node_attributes(graph, "type")
    assert any(types.get(u) == "firearm" or types.get(v) == "firearm" for u, v in graph.edges())

    page.goto("evidence")
    page.get_by_role("link", name="FC-2026/0061").click()
    expect(page.locator("#fired-by")).to_contain_text("Zoraki")
    browser_session.assert_clean()
